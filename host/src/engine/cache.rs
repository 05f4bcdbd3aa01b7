//! The compiled-code cache: components compiled to native code once, kept on disk
//! keyed by the component's digest and the engine's compatibility hash.
//!
//! A cached file is native code that is mapped and run, so the cache lives in a
//! directory only the host writes to, files appear atomically (temp file, then
//! rename), and nothing a tenant sends is ever loaded as a `.cwasm`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;

pub(super) struct CompileCache {
    dir: Option<PathBuf>,
    /// The engine's configuration, for the short-lived engines that compile.
    config: wasmtime::Config,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl CompileCache {
    pub fn new(dir: Option<PathBuf>, config: wasmtime::Config) -> std::io::Result<Self> {
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(CompileCache { dir, config })
    }

    /// Returns the compiled component for `wasm`, whose sha256 is `digest`,
    /// compiling it only when no usable cached copy exists.
    pub fn component(
        &self,
        engine: &wasmtime::Engine,
        digest: &str,
        wasm: &[u8],
    ) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, wasm);
        };
        let path = dir.join(format!("{digest}-{:016x}.cwasm", compatibility_key(engine)));
        if path.exists() {
            // SAFETY: the file was written by `store` below from
            // `Component::serialize` of this very engine configuration (the key
            // includes the engine's compatibility hash), in a directory only the
            // host writes; it never holds bytes received from a tenant.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %path.display(), "discarding unusable compiled component: {error:#}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = self.compile_apart(wasm)?;
        let component = match store(&path, &compiled) {
            // Mapped from the file, the code is clean file-backed memory
            // (shared, and dropped first under pressure) instead of a private
            // copy on the heap.
            // SAFETY: as above: `store` just wrote this file, compiled by an
            // engine of this very configuration.
            Ok(()) => unsafe { Component::deserialize_file(engine, &path) },
            Err(error) => {
                tracing::warn!(path = %path.display(), "could not cache a compiled component: {error:#}");
                // SAFETY: the bytes were compiled a moment ago, in this
                // process, by an engine of this very configuration.
                unsafe { Component::deserialize(engine, &compiled) }
            }
        };
        release_freed_heap();
        component
    }

    /// Compiles `wasm` on an engine of its own, dropped right after: an
    /// engine's compiler keeps its per-thread compilation contexts (tens of
    /// megabytes) for as long as it lives, which the host's engine does.
    fn compile_apart(&self, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
        let compiler = wasmtime::Engine::new(&self.config)?;
        compiler.precompile_component(wasm)
    }
}

/// Hands the memory that compiling used back to the system. Cranelift
/// allocates tens of megabytes per component, from several threads; glibc
/// keeps what they free in per-thread arenas, which made an idle server that
/// had just compiled its plugins hold ~100 MB it no longer used.
fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only returns free pages of
    // the allocator's own arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn store(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = path.with_extension(format!(
        "tmp.{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

fn compatibility_key(engine: &wasmtime::Engine) -> u64 {
    // DefaultHasher::new() uses fixed keys, so the key is stable across runs of
    // the same build.
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}
