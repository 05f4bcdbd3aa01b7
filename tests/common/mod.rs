//! Helpers shared by the black-box tests: the compiled plugins and fixtures, one
//! engine per test binary, and polling with a deadline.

#![allow(dead_code)]

pub mod api;
pub mod db;
pub mod receivers;
pub mod server;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use cairn::engine::{Engine, EngineConfig, Plugin};

/// Where the build script put the components built from `plugins/`.
pub fn component_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CAIRN_PLUGIN_DIR")).join(file)
}

pub fn component_bytes(file: &str) -> Vec<u8> {
    let path = component_path(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub const HOSTILE: &str = "cairn_fixture_hostile.wasm";
pub const CLI_COMMAND: &str = "cairn-fixture-cli-command.wasm";
pub const FUTURE_MAJOR: &str = "cairn_fixture_future_major.wasm";
/// Built against the frozen `cairn:step@0.1.0` WIT.
pub const WIT_0_1: &str = "cairn_fixture_wit_0_1.wasm";
pub const GREET: &str = "greet.wasm";
pub const UNKNOWN_IMPORT: &str = "cairn_fixture_unknown_import.wasm";

/// One engine for the whole test binary: engines reserve a lot of address space,
/// and sharing one is what the host does too.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineConfig {
            max_instances: 400,
            ..Default::default()
        })
        .expect("engine starts")
    })
}

/// Loads a component once per test binary.
pub async fn plugin(file: &str) -> Arc<Plugin> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<Plugin>>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(plugin) = loaded.lock().expect("not poisoned").get(file) {
        return Arc::clone(plugin);
    }
    let plugin = Arc::new(
        engine()
            .load(&component_bytes(file))
            .await
            .expect("component loads"),
    );
    loaded
        .lock()
        .expect("not poisoned")
        .insert(file.to_owned(), Arc::clone(&plugin));
    plugin
}

pub async fn bundled(name: &str) -> Arc<Plugin> {
    plugin(&format!("cairn_plugin_{name}.wasm")).await
}

/// A host over `dir/data` with the hostile fixture in `dir/plugins`, sharing
/// compiled code with the other tests; `max_instances` keeps each engine's
/// address-space reservation small.
pub async fn start_host(dir: &std::path::Path, max_instances: u32) -> cairn::host::Host {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(component_path(HOSTILE), plugins.join("hostile.wasm")).expect("copy fixture");
    let mut config = cairn::host::HostConfig::new(dir.join("data"));
    config.database = db::database_url(&dir.join("data"));
    config.plugins_dir = Some(plugins);
    config.engine = EngineConfig {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("compiled")),
        max_instances,
        ..EngineConfig::default()
    };
    cairn::host::Host::start(config).await.expect("host starts")
}

/// Polls `check` every 100 ms until it holds (at most a minute).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
