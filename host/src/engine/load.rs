//! Loading a component: its header, its exports against the `cairn:step`
//! world (and the release line of its WIT package), compiling or mapping it
//! from the cache, and reading what it says of itself (`describe`).

use std::borrow::Cow;

use super::bundled::Bundled;
use super::*;

impl Engine {
    /// Checks that `wasm` is a `cairn:step` component, compiles it (or loads its
    /// cached compiled form), and asks it to describe itself.
    pub async fn load(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        check_header(wasm)?;
        let digest = hex::encode(Sha256::digest(wasm));
        self.load_digested(Cow::Owned(wasm.to_vec()), digest).await
    }

    /// [`Engine::load`] of a component shipped in the binary, whose digest
    /// the build computed: from the cache, its bytes are not read at all.
    pub async fn load_bundled(&self, bundled: &Bundled) -> Result<Plugin, LoadError> {
        check_header(bundled.wasm)?;
        self.load_digested(Cow::Borrowed(bundled.wasm), bundled.digest.to_owned())
            .await
    }

    /// Loads `wasm`, whose header was checked and whose sha256 is `digest`.
    async fn load_digested(
        &self,
        wasm: Cow<'static, [u8]>,
        digest: String,
    ) -> Result<Plugin, LoadError> {
        let size_bytes = wasm.len();
        let component = {
            let engine = self.engine.clone();
            let cache = Arc::clone(&self.cache);
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
        let version = check_exports(&exports)?;

        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            LoadError::UnsupportedImport(missing_import(&format!("{e:#}"), version))
        })?;
        let pre = StepPre::new(version, instance_pre).map_err(|e| LoadError::NotAStepPlugin {
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
            Err(StepFault::FuelExhausted) => {
                return Err(LoadError::Describe(format!(
                    "it used up its CPU budget ({} fuel units) before it answered: the budget \
                     is too small for this plugin, not the plugin broken (a language runtime, \
                     such as Python's or JavaScript's, needs far more than a Rust plugin to \
                     start); raise the fuel limit",
                    limits.fuel.unwrap_or_default()
                )));
            }
            Err(fault) => return Err(LoadError::Describe(fault.to_string())),
        };
        Ok(Plugin {
            schemas: super::checks::CallSchemas::new(
                info.config_schema.as_ref(),
                info.input_schema.as_ref(),
            ),
            info,
            wit_version: version,
            digest: format!("sha256:{digest}"),
            size_bytes,
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
        "this component does not export cairn:step/step@{}, so it is not a step plugin \
         (it exports: {exports}){hint}",
        supported()
    )]
    NotAStepPlugin { exports: String, hint: &'static str },
    #[error(
        "this plugin was built against cairn:step@{found}, which this host does not run; \
         it runs plugins built against cairn:step@{}",
        supported()
    )]
    IncompatibleVersion { found: String },
    #[error("{0}")]
    UnsupportedImport(String),
    #[error("describe() failed: {0}")]
    Describe(String),
    #[error("describe() returned an invalid step description: {0}")]
    InvalidInfo(String),
}

/// What a plugin imports that the host does not provide, said in the terms of
/// the contract rather than the linker's: which import, and which world the
/// plugin's imports must come from. `chain` is wasmtime's error (`component
/// imports instance `X`, ...: instance export `f` has the wrong type: ...`).
fn missing_import(chain: &str, version: &str) -> String {
    let quoted = |after: &str| {
        let rest = &chain[chain.find(after)? + after.len()..];
        rest.split('`').next().map(str::to_owned)
    };
    let world = format!("cairn:step/plugin@{version}");
    let interface = quoted("imports instance `");
    let function = quoted("instance export `");
    match (interface, function) {
        (Some(interface), Some(function)) if interface.starts_with("cairn:step/") => format!(
            "this plugin imports `{function}` from `{interface}`, which the `{world}` world this \
             host runs does not have: it was built against another cairn:step contract than \
             the ones this host runs ({})",
            supported()
        ),
        (Some(interface), function) => format!(
            "this plugin imports `{interface}`{}, which no Cairn host provides: a step plugin \
             may import only what the `{world}` world imports (cairn:step/host, \
             cairn:step/http and the WASI 0.2 interfaces it names); was it built against a \
             world of its own?",
            function
                .map(|f| format!(" (its function `{f}`)"))
                .unwrap_or_default()
        ),
        (None, _) => format!("this plugin imports something the host does not provide: {chain}"),
    }
}

/// A loaded, checked step plugin, ready to instantiate.
pub struct Plugin {
    pub info: StepInfo,
    /// The `cairn:step` version it was built against (its release line).
    pub wit_version: &'static str,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    pub size_bytes: usize,
    pub(super) pre: StepPre,
    pub(super) schemas: super::checks::CallSchemas,
}

impl Plugin {
    /// Every way `config` and `input` break the schemas the plugin declares
    /// (what [`Engine::run`] refuses to call it with).
    pub fn call_problems(
        &self,
        config: &serde_json::Value,
        input: &serde_json::Value,
    ) -> Vec<super::CallProblem> {
        self.schemas.problems(config, input)
    }

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
            audience: self.info.audience.clone(),
            wit: format!("cairn:step@{}", self.wit_version),
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
    /// Who sees what the step does, when it publishes or sends something to
    /// an audience; planned workflows review such a step's input first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The WIT package it was built against, e.g. `cairn:step@0.2.0`.
    pub wit: String,
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

pub(super) fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
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

/// The versions this host runs, for messages: `0.2.0 or 0.1.0`.
fn supported() -> String {
    WIT_VERSIONS.join(" or ")
}

/// The version of `cairn:step` whose bindings fit a component with these
/// exports (one of [`WIT_VERSIONS`]), or why none does.
pub(super) fn check_exports(exports: &[String]) -> Result<&'static str, LoadError> {
    let ours = exports
        .iter()
        .find_map(|name| name.strip_prefix(STEP_EXPORT_PREFIX));
    let known = |found: &str| {
        WIT_VERSIONS
            .iter()
            .copied()
            .find(|ours| same_release_line(found, ours))
    };
    match ours {
        Some(version) if known(version).is_some() => Ok(known(version).unwrap_or(WIT_VERSION)),
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
pub(super) fn same_release_line(found: &str, ours: &str) -> bool {
    match (semver::Version::parse(found), semver::Version::parse(ours)) {
        (Ok(found), Ok(ours)) if ours.major == 0 => found.major == 0 && found.minor == ours.minor,
        (Ok(found), Ok(ours)) => found.major == ours.major,
        _ => false,
    }
}

pub(super) fn parse_info(info: wit::StepInfo) -> Result<StepInfo, LoadError> {
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
        audience: info.audience.filter(|a| !a.trim().is_empty()),
    })
}

pub(super) fn parse_json(
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
        let exports = |v: &str| vec![format!("cairn:step/step@{v}")];
        assert_eq!(check_exports(&exports("0.1.0")), Ok("0.1.0"));
        assert_eq!(check_exports(&exports("0.2.1")), Ok("0.2.0"));
        assert!(check_exports(&exports("0.3.0")).is_err());
        assert!(!same_release_line("0.2.0", "0.1.0"));
        assert!(!same_release_line("1.0.0", "0.1.0"));
        assert!(same_release_line("1.4.0", "1.0.0"));
        assert!(!same_release_line("garbage", "0.1.0"));
    }

    #[test]
    fn a_missing_import_is_named_with_the_world_it_should_come_from() {
        let foreign = missing_import(
            "component imports instance `acme:vault/keys@1.0.0`, but a matching implementation \
             was not found in the linker: instance export `get` has the wrong type: function \
             implementation is missing",
            "0.2.0",
        );
        assert!(
            foreign.starts_with(
                "this plugin imports `acme:vault/keys@1.0.0` (its function `get`), which no Cairn \
                 host provides: a step plugin may import only what the `cairn:step/plugin@0.2.0` \
                 world imports"
            ),
            "{foreign}"
        );
        let newer = missing_import(
            "component imports instance `cairn:step/host@0.2.0`, but a matching implementation \
             was not found in the linker: instance export `secret-key` has the wrong type: \
             function implementation is missing",
            "0.2.0",
        );
        assert!(
            newer.starts_with(
                "this plugin imports `secret-key` from `cairn:step/host@0.2.0`, which the \
                 `cairn:step/plugin@0.2.0` world this host runs does not have"
            ),
            "{newer}"
        );
    }
}
