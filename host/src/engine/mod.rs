//! The WebAssembly engine: loads `cairn:step` plugins and runs step attempts, each
//! in a fresh sandbox under memory, time, stack, CPU and output limits.
//!
//! One shared wasmtime `Engine` (pooling allocator, epoch interruption) and one
//! `Linker`; every plugin is compiled once (cached on disk), checked against the
//! world and pre-instantiated; every attempt gets a new `Store`. Knows nothing of
//! SQL or HTTP.

mod bindings;
mod bundled;
mod cache;
mod fault;
mod limits;
mod outbound;
mod sandbox;
mod templates;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use bindings::cairn::step::types as wit;
use bindings::{Plugin as PluginBindings, PluginPre};
use cache::CompileCache;
use fault::Evidence;
use sandbox::StepState;

pub use bundled::BUNDLED;
pub use fault::StepFault;
pub use limits::SandboxLimits;
pub use outbound::OutboundHttp;
pub use sandbox::ProgressSink;
pub use templates::{Evaluation, TemplateFailure};
pub use types::{
    Call, FaultKind, Invocation, LogLevel, LogLine, LogSource, PendingAction, StepError, StepInfo,
    StepOutcome, StepProgress,
};

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";
const STEP_EXPORT_PREFIX: &str = "cairn:step/step@";

/// How often the epoch advances; the granularity of wall-time limits and of the
/// points at which a running plugin yields to other tasks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Extra time the outer timeout allows past the wall-time limit, for a guest
/// blocked in a host call, where epoch interruption cannot reach it.
const TIMEOUT_GRACE: Duration = Duration::from_millis(100);

/// Memory of a pooled sandbox slot kept resident between uses.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Operator-level engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Limits no tenant or step setting may exceed.
    pub caps: SandboxLimits,
    /// Sandboxes that may exist at once (pooling allocator slots).
    pub max_instances: u32,
    /// Meter fuel so that `SandboxLimits::fuel` is enforced (costs ~40% speed).
    pub fuel: bool,
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            caps: SandboxLimits::default(),
            max_instances: 1000,
            fuel: false,
            cache_dir: None,
        }
    }
}

/// Failure to set up the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Config(String),
    #[error("cannot create the compiled-code cache directory {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a component was refused as a step plugin.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly binary: it does not start with the \\0asm magic number")]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build the plugin for the \
         wasm32-wasip2 target (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "this component does not export cairn:step/step@{WIT_VERSION}, so it is not a step plugin \
         (it exports: {exports}){hint}"
    )]
    NotAStepPlugin { exports: String, hint: &'static str },
    #[error(
        "this plugin was built against cairn:step@{found}, which this host does not run; \
         it runs plugins built against cairn:step@{WIT_VERSION}"
    )]
    IncompatibleVersion { found: String },
    #[error("this plugin imports something the host does not provide: {0}")]
    UnsupportedImport(String),
    #[error("describe() failed: {0}")]
    Describe(String),
    #[error("describe() returned an invalid step description: {0}")]
    InvalidInfo(String),
}

/// A loaded, checked step plugin, ready to instantiate.
pub struct Plugin {
    pub info: StepInfo,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    pub size_bytes: usize,
    pre: PluginPre<StepState>,
}

impl Plugin {
    /// What clients and operators see of a plugin: its description, schemas,
    /// digest and size.
    pub fn summary(&self) -> PluginSummary {
        PluginSummary {
            name: self.info.name.clone(),
            version: self.info.version.clone(),
            description: self.info.description.clone(),
            config_schema: self.info.config_schema.clone(),
            input_schema: self.info.input_schema.clone(),
            output_schema: self.info.output_schema.clone(),
            digest: self.digest.clone(),
            size_bytes: self.size_bytes,
        }
    }
}

/// What a plugin declares, and which bytes it is.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub description: String,
    /// JSON Schema of the step's `config`.
    pub config_schema: Option<serde_json::Value>,
    /// JSON Schema of the step's input.
    pub input_schema: Option<serde_json::Value>,
    /// JSON Schema of the step's output.
    pub output_schema: Option<serde_json::Value>,
    /// SHA-256 of the component, hex.
    pub digest: String,
    pub size_bytes: usize,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.info)
            .field("digest", &self.digest)
            .finish()
    }
}

/// Everything one step attempt produced.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub outcome: StepOutcome,
    pub logs: Vec<LogLine>,
    /// Log lines dropped past the per-attempt budget.
    pub logs_dropped: usize,
    pub stdout: String,
    pub stderr: String,
    /// The last progress the plugin reported.
    pub progress: Option<StepProgress>,
    pub duration: Duration,
}

impl StepReport {
    pub fn fault(&self) -> Option<FaultKind> {
        match &self.outcome {
            StepOutcome::Fail { error } => error.fault,
            _ => None,
        }
    }
}

/// The shared WebAssembly engine.
pub struct Engine {
    engine: wasmtime::Engine,
    linker: Linker<StepState>,
    cache: Arc<CompileCache>,
    caps: SandboxLimits,
    fuel: bool,
    /// The sandbox for tenants' templates, loaded on first use.
    templates: tokio::sync::OnceCell<Plugin>,
    _ticker: EpochTicker,
}

/// One call into a guest, before its result is checked.
enum GuestCall {
    Describe,
    Run(wit::Invocation),
    Resume(wit::Invocation, String, String),
}

enum GuestReturn {
    Info(wit::StepInfo),
    Outcome(wit::Outcome),
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let caps = config.caps;
        let mut pool = PoolingAllocationConfig::new();
        let instances = config.max_instances.max(1);
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(8))
            .total_memories(instances)
            .total_tables(instances.saturating_mul(4))
            .total_stacks(instances)
            .max_core_instances_per_component(32)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_memory_size(usize::try_from(caps.memory_bytes).unwrap_or(usize::MAX))
            // Resetting a reused slot with madvise makes every core flush its
            // TLB, which halved throughput on two cores. Keeping the low pages
            // resident, and (Linux 6.7+) scanning for the dirty ones, resets a
            // small plugin's memory with memset instead.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10)
            .pagemap_scan(Enabled::Auto)
            // What lies past the resident pages is handed back as soon as its
            // sandbox ends: a batch kept a plugin's (or a template's) tens of
            // megabytes resident, and its slot unusable, until fifteen more
            // had piled up. Small plugins never reach this path.
            .decommit_batch_size(1);

        let mut wasm = Config::new();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .epoch_interruption(true)
            .consume_fuel(config.fuel)
            .max_wasm_stack(512 << 10)
            .async_stack_size(2 << 20);
        let engine =
            wasmtime::Engine::new(&wasm).map_err(|e| EngineError::Config(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| {
                PluginBindings::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            })
            .map_err(|e| EngineError::Config(format!("{e:#}")))?;

        let cache =
            CompileCache::new(config.cache_dir.clone(), wasm.clone()).map_err(|source| {
                EngineError::Cache {
                    path: config.cache_dir.clone().unwrap_or_default(),
                    source,
                }
            })?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Engine {
            engine,
            linker,
            cache: Arc::new(cache),
            caps,
            fuel: config.fuel,
            templates: tokio::sync::OnceCell::new(),
            _ticker: ticker,
        })
    }

    /// The operator's caps.
    pub fn caps(&self) -> &SandboxLimits {
        &self.caps
    }

    /// Checks that `wasm` is a `cairn:step` component, compiles it (or loads its
    /// cached compiled form), and asks it to describe itself.
    pub async fn load(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        check_header(wasm)?;
        let digest = hex::encode(Sha256::digest(wasm));
        let component = {
            let engine = self.engine.clone();
            let cache = Arc::clone(&self.cache);
            let wasm = wasm.to_vec();
            let digest = digest.clone();
            // Compiling takes from milliseconds to seconds: keep it off the
            // async workers.
            tokio::task::spawn_blocking(move || cache.component(&engine, &digest, &wasm))
                .await
                .map_err(|e| LoadError::Invalid(format!("compilation did not finish: {e}")))?
                .map_err(|e| LoadError::Invalid(format!("{e:#}")))?
        };

        let component_type = component.component_type();
        let exports: Vec<String> = component_type
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        check_exports(&exports)?;

        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport(format!("{e:#}")))?;
        let pre = PluginPre::new(instance_pre).map_err(|e| LoadError::NotAStepPlugin {
            exports: format!("{} ({e:#})", exports.join(", ")),
            hint: "",
        })?;

        let limits = SandboxLimits::default().clamped_to(&self.caps);
        let (result, _state, _) = self
            .execute(&pre, &limits, None, None, GuestCall::Describe)
            .await;
        let info = match result {
            Ok(GuestReturn::Info(info)) => parse_info(info)?,
            Ok(GuestReturn::Outcome(_)) => {
                return Err(LoadError::Describe(
                    "describe returned an outcome".to_owned(),
                ));
            }
            Err(fault) => return Err(LoadError::Describe(fault.to_string())),
        };
        Ok(Plugin {
            info,
            digest: format!("sha256:{digest}"),
            size_bytes: wasm.len(),
            pre,
        })
    }

    /// Loads every `*.wasm` file in `dir`, in name order, each with its result.
    pub async fn load_dir(
        &self,
        dir: &Path,
    ) -> std::io::Result<Vec<(PathBuf, Result<Plugin, LoadError>)>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        paths.sort();
        let mut loaded = Vec::with_capacity(paths.len());
        for path in paths {
            let result = match std::fs::read(&path) {
                Ok(bytes) => self.load(&bytes).await,
                Err(e) => Err(LoadError::Invalid(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))),
            };
            loaded.push((path, result));
        }
        Ok(loaded)
    }

    /// Runs one step attempt in a fresh sandbox. Never fails: every fault of the
    /// plugin becomes a failed outcome with a readable reason.
    pub async fn run(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
    ) -> StepReport {
        self.run_with_http(plugin, invocation, call, limits, on_progress, None)
            .await
    }

    /// [`Engine::run`] for a step that may send HTTP requests under `outbound`.
    /// Whatever the attempt produced is scrubbed of the secrets it could use.
    pub async fn run_with_http(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
    ) -> StepReport {
        let limits = limits.clamped_to(&self.caps);
        self.run_within(plugin, invocation, call, &limits, on_progress, outbound)
            .await
    }

    /// [`Engine::run_with_http`] under `limits` as they are: the caller keeps
    /// them within the operator's caps.
    async fn run_within(
        &self,
        plugin: &Plugin,
        invocation: &Invocation,
        call: &Call,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
    ) -> StepReport {
        let limits = *limits;
        let wit_invocation = wit::Invocation {
            run_id: invocation.run_id.clone(),
            step: invocation.step.clone(),
            attempt: invocation.attempt,
            idempotency_key: invocation.idempotency_key.clone(),
            config: invocation.config.to_string(),
            input: invocation.input.to_string(),
        };
        let guest_call = match call {
            Call::Run => GuestCall::Run(wit_invocation),
            Call::Resume {
                checkpoint,
                decision,
            } => GuestCall::Resume(wit_invocation, checkpoint.to_string(), decision.to_string()),
        };
        let (result, state, duration) = self
            .execute(&plugin.pre, &limits, on_progress, outbound, guest_call)
            .await;
        let outcome = match result {
            Ok(GuestReturn::Outcome(outcome)) => check_outcome(outcome, &limits),
            Ok(GuestReturn::Info(_)) => Err(StepFault::Trap {
                message: "unexpected describe result".to_owned(),
            }),
            Err(fault) => Err(fault),
        };
        let mut outcome = outcome.unwrap_or_else(|fault| StepOutcome::Fail {
            error: fault.into_step_error(),
        });
        let notes = state.outbound.take_notes();
        if let (StepOutcome::Fail { error }, Some(last)) = (&mut outcome, notes.last()) {
            // The plugin saw only a typed error code: say what the host refused.
            error.message = format!("{} ({last})", error.message);
        }
        let mut logs = state.logs;
        logs.extend(notes.into_iter().map(|message| LogLine {
            level: LogLevel::Warn,
            message,
            source: LogSource::Host,
        }));
        let mut report = StepReport {
            outcome,
            logs,
            logs_dropped: state.logs_dropped,
            stdout: String::from_utf8_lossy(&state.stdout.contents()).into_owned(),
            stderr: String::from_utf8_lossy(&state.stderr.contents()).into_owned(),
            progress: state.progress,
            duration,
        };
        if let Some(access) = state.outbound.access() {
            scrub_report(access, &mut report);
        }
        report
    }

    /// Instantiates `pre` in a new store under `limits` and makes one call.
    async fn execute(
        &self,
        pre: &PluginPre<StepState>,
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
        call: GuestCall,
    ) -> (Result<GuestReturn, StepFault>, StepState, Duration) {
        let started = Instant::now();
        let mut store = Store::new(&self.engine, StepState::new(limits, on_progress, outbound));
        store.limiter(|state| &mut state.limits);
        if self.fuel {
            // Fuel is only metered when the engine was built for it; the error
            // case cannot happen then.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        let deadline = started + limits.wall_time();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Yield(1)
            })
        });

        let outcome = tokio::time::timeout(limits.wall_time() + TIMEOUT_GRACE, async {
            let plugin = pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| (e, true))?;
            let step = plugin.cairn_step_step();
            match &call {
                GuestCall::Describe => step.call_describe(&mut store).await.map(GuestReturn::Info),
                GuestCall::Run(invocation) => step
                    .call_run(&mut store, invocation)
                    .await
                    .map(GuestReturn::Outcome),
                GuestCall::Resume(invocation, checkpoint, decision) => step
                    .call_resume(&mut store, invocation, checkpoint, decision)
                    .await
                    .map(GuestReturn::Outcome),
            }
            .map_err(|e| (e, false))
        })
        .await;
        let duration = started.elapsed();
        let state = store.into_data();
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((error, instantiating))) => {
                let evidence = Evidence {
                    stdout_len: state.stdout.contents().len(),
                    stderr: &state.stderr.contents(),
                };
                let fault = fault::classify(&error, limits, &evidence);
                Err(match fault {
                    StepFault::Trap { message } if instantiating => {
                        StepFault::Capacity { detail: message }
                    }
                    other => other,
                })
            }
            Err(_elapsed) => Err(StepFault::Timeout {
                limit_ms: limits.wall_time_ms,
            }),
        };
        (result, state, duration)
    }
}

/// Takes every secret the step could use out of what it produced, whichever
/// way a value got there (an echoing server, say).
fn scrub_report(access: &OutboundHttp, report: &mut StepReport) {
    let access = &access.scrubber;
    match &mut report.outcome {
        StepOutcome::Complete { output } => access.scrub_json(output),
        StepOutcome::Pause {
            pending_action,
            checkpoint,
        } => {
            access.scrub(&mut pending_action.kind);
            access.scrub(&mut pending_action.message);
            pending_action
                .options
                .iter_mut()
                .for_each(|o| access.scrub(o));
            if let Some(schema) = &mut pending_action.input_schema {
                access.scrub_json(schema);
            }
            access.scrub_json(&mut pending_action.data);
            access.scrub_json(checkpoint);
        }
        StepOutcome::Fail { error } => access.scrub(&mut error.message),
    }
    for line in &mut report.logs {
        access.scrub(&mut line.message);
    }
    access.scrub(&mut report.stdout);
    access.scrub(&mut report.stderr);
    if let Some(progress) = &mut report.progress {
        access.scrub(&mut progress.action);
    }
}

fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_VERSION: &[u8] = &[1, 0, 0, 0];
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    if &wasm[4..8] == CORE_VERSION {
        return Err(LoadError::CoreModule);
    }
    Ok(())
}

/// Explains a component whose exports do not include a compatible step interface.
fn check_exports(exports: &[String]) -> Result<(), LoadError> {
    let ours = exports
        .iter()
        .find_map(|name| name.strip_prefix(STEP_EXPORT_PREFIX));
    match ours {
        Some(version) if same_release_line(version, WIT_VERSION) => Ok(()),
        Some(version) => Err(LoadError::IncompatibleVersion {
            found: version.to_owned(),
        }),
        None => {
            let hint = if exports.iter().any(|name| name.starts_with("wasi:cli/run@")) {
                "; this is a wasi:cli command, not a step plugin"
            } else {
                ""
            };
            let exports = if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            };
            Err(LoadError::NotAStepPlugin { exports, hint })
        }
    }
}

/// Semver compatibility: same major, and for 0.x the same minor as well.
fn same_release_line(found: &str, ours: &str) -> bool {
    match (semver::Version::parse(found), semver::Version::parse(ours)) {
        (Ok(found), Ok(ours)) if ours.major == 0 => found.major == 0 && found.minor == ours.minor,
        (Ok(found), Ok(ours)) => found.major == ours.major,
        _ => false,
    }
}

fn parse_info(info: wit::StepInfo) -> Result<StepInfo, LoadError> {
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(LoadError::InvalidInfo(format!(
            "name {:?} must be 1 to 64 lowercase ASCII letters, digits and '-'",
            info.name
        )));
    }
    if let Err(e) = semver::Version::parse(&info.version) {
        return Err(LoadError::InvalidInfo(format!(
            "version {:?} is not a semantic version: {e}",
            info.version
        )));
    }
    let schema =
        |what: &str, text: Option<String>| -> Result<Option<serde_json::Value>, LoadError> {
            let Some(text) = text else { return Ok(None) };
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| LoadError::InvalidInfo(format!("{what} is not valid JSON: {e}")))?;
            jsonschema::meta::validate(&value).map_err(|e| {
                LoadError::InvalidInfo(format!("{what} is not a valid JSON Schema: {e}"))
            })?;
            Ok(Some(value))
        };
    Ok(StepInfo {
        config_schema: schema("config-schema", info.config_schema)?,
        input_schema: schema("input-schema", info.input_schema)?,
        output_schema: schema("output-schema", info.output_schema)?,
        name: info.name,
        version: info.version,
        description: info.description,
    })
}

fn parse_json(
    what: &'static str,
    text: &str,
    limit: usize,
) -> Result<serde_json::Value, StepFault> {
    if text.len() > limit {
        return Err(StepFault::OutputTooLarge {
            what,
            size: text.len(),
            limit,
        });
    }
    serde_json::from_str(text).map_err(|e| StepFault::InvalidOutput {
        what,
        detail: e.to_string(),
    })
}

/// Checks sizes and JSON of what the plugin returned.
fn check_outcome(outcome: wit::Outcome, limits: &SandboxLimits) -> Result<StepOutcome, StepFault> {
    match outcome {
        wit::Outcome::Complete(output) => Ok(StepOutcome::Complete {
            output: parse_json("output", &output, limits.output_bytes)?,
        }),
        wit::Outcome::Pause(pause) => {
            let action = pause.action;
            let size = action.kind.len()
                + action.message.len()
                + action.options.iter().map(String::len).sum::<usize>()
                + action.input_schema.as_ref().map_or(0, String::len)
                + action.data.len();
            if size > limits.output_bytes {
                return Err(StepFault::OutputTooLarge {
                    what: "pending action",
                    size,
                    limit: limits.output_bytes,
                });
            }
            let input_schema = match &action.input_schema {
                Some(text) => Some(parse_json(
                    "pending action input schema",
                    text,
                    limits.output_bytes,
                )?),
                None => None,
            };
            Ok(StepOutcome::Pause {
                pending_action: PendingAction {
                    kind: action.kind,
                    message: action.message,
                    options: action.options,
                    input_schema,
                    data: parse_json("pending action data", &action.data, limits.output_bytes)?,
                },
                checkpoint: parse_json("checkpoint", &pause.checkpoint, limits.checkpoint_bytes)?,
            })
        }
        wit::Outcome::Fail(error) => {
            let mut message = error.message;
            sandbox::truncate_utf8(&mut message, 4096);
            Ok(StepOutcome::Fail {
                error: StepError {
                    message,
                    retryable: error.retryable,
                    fault: None,
                },
            })
        }
    }
}

/// Advances the engine's epoch every `EPOCH_TICK` until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("cairn-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert_eq!(check_header(b"hello world"), Err(LoadError::NotWasm));
        assert_eq!(check_header(b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule));
        assert_eq!(check_header(b"\0asm\x0d\0\x01\0"), Ok(()));
    }

    #[test]
    fn release_lines_follow_semver() {
        assert!(same_release_line("0.1.0", "0.1.0"));
        assert!(same_release_line("0.1.3", "0.1.0"));
        assert!(!same_release_line("0.2.0", "0.1.0"));
        assert!(!same_release_line("1.0.0", "0.1.0"));
        assert!(same_release_line("1.4.0", "1.0.0"));
        assert!(!same_release_line("garbage", "0.1.0"));
    }
}
