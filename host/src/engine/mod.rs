//! The WebAssembly engine: loads `cairn:step` plugins and runs step attempts, each
//! in a fresh sandbox under memory, time, stack, CPU and output limits.
//!
//! One shared wasmtime `Engine` (pooling allocator, epoch interruption) and one
//! `Linker`; every plugin is compiled once (cached on disk), checked against the
//! world and pre-instantiated; every attempt gets a new `Store`. Knows nothing of
//! SQL or HTTP.

mod attempt;
mod bindings;
mod bundled;
mod cache;
mod checks;
mod fault;
mod limits;
mod load;
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
use wasmtime::component::Linker;
use wasmtime::{
    Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use bindings::latest as wit;
use bindings::{GuestCall, GuestReturn, StepPre};
use cache::CompileCache;
use fault::Evidence;
use sandbox::StepState;

pub use attempt::StepReport;
pub use bundled::{BUNDLED, Bundled};
pub use checks::CallProblem;
pub use fault::StepFault;
pub use limits::SandboxLimits;
use load::parse_json;
pub use load::{LoadError, Plugin, PluginSummary};
pub use outbound::OutboundHttp;
pub use sandbox::ProgressSink;
pub use templates::{Evaluation, TemplateFailure};
pub use types::{
    Call, FaultKind, Invocation, LogLevel, LogLine, LogSource, PendingAction, StepError, StepInfo,
    StepOutcome, StepProgress,
};

/// The latest WIT package version this host implements; it runs plugins
/// built against every version in `bindings::VERSIONS`.
pub const WIT_VERSION: &str = bindings::VERSIONS[0];
pub use bindings::VERSIONS as WIT_VERSIONS;
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
            .and_then(|()| bindings::add_to_linker(&mut linker))
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
