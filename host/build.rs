//! Builds the plugins workspace (`plugins/`: bundled step plugins and test fixtures)
//! to WebAssembly components, so that one `cargo build` or `cargo test` makes
//! everything. The components land in `<target>/plugins/wasm32-wasip2/release/`,
//! which the crate sees as `CAIRN_PLUGIN_DIR`: the bundled ones are embedded in the
//! binary, the fixtures are read by tests.
//!
//! The nested cargo runs with a clean environment of its own so that the host's
//! flags and profile never reach the wasm build.

use std::env;
use std::path::PathBuf;
use std::process::Command;

#[path = "build_support/wasm_target.rs"]
mod wasm_target;

use wasm_target::{WASM_TARGET, has_target, missing_target_message, rustup_toolchain};

/// Makes sure the active toolchain can build for `wasm32-wasip2`: installs the
/// target with rustup when it is missing, or stops with the command to run.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let Some(sysroot) = sysroot else {
        // Without a sysroot to look at, let the plugin build say what is wrong.
        return;
    };
    if has_target(&sysroot, WASM_TARGET) {
        return;
    }
    let toolchain = rustup_toolchain(&sysroot, env::var("RUSTUP_TOOLCHAIN").ok().as_deref());
    if let Some(toolchain) = &toolchain
        && add_target(toolchain)
        && has_target(&sysroot, WASM_TARGET)
    {
        println!(
            "cargo:warning=installed the {WASM_TARGET} target for toolchain {toolchain} (rustup target add), needed to build the plugins"
        );
        return;
    }
    eprintln!("error: {}", missing_target_message(toolchain.as_deref()));
    std::process::exit(1);
}

/// `rustup target add` for `toolchain`; false when rustup is absent or failed.
fn add_target(toolchain: &str) -> bool {
    Command::new("rustup")
        .args(["target", "add", WASM_TARGET, "--toolchain", toolchain])
        .env_remove("RUSTUP_TOOLCHAIN")
        .status()
        .is_ok_and(|status| status.success())
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits inside the workspace")
        .to_path_buf();
    let plugins = root.join("plugins");
    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target_dir = target_root.join("plugins");

    println!("cargo:rerun-if-changed={}", plugins.display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    println!("cargo:rerun-if-changed=build_support");
    ensure_wasm_target();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            WASM_TARGET,
            "--workspace",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // Everything cargo tells a build script about the host build stays out of the
    // wasm build; the jobserver (CARGO_MAKEFLAGS) is kept so the two share cores.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        let host_only = key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("DEP_")
            || matches!(
                key.as_ref(),
                "CARGO_ENCODED_RUSTFLAGS"
                    | "RUSTFLAGS"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_TARGET"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_LLVM_COV"
            );
        if host_only {
            command.env_remove(key.as_ref());
        }
    }
    let status = command
        .status()
        .expect("failed to run cargo for the plugins workspace");
    assert!(
        status.success(),
        "building the plugins workspace (plugins/) failed"
    );

    let out = target_dir.join(WASM_TARGET).join("release");
    write_digests(&out);
    println!("cargo:rustc-env=CAIRN_PLUGIN_DIR={}", out.display());
}

/// Writes each component's sha256 beside it (`<name>.wasm.sha256`), for the
/// crate to embed with it: a host that finds a bundled plugin in its
/// compiled-code cache then never reads the plugin's bytes. A file is
/// rewritten only when its digest changed, so that an unchanged plugin does
/// not make the crate build again.
fn write_digests(dir: &std::path::Path) {
    use sha2::{Digest as _, Sha256};
    let entries = std::fs::read_dir(dir).expect("the plugins' output directory");
    for path in entries.flatten().map(|entry| entry.path()) {
        if path.extension().is_none_or(|ext| ext != "wasm") {
            continue;
        }
        let wasm = std::fs::read(&path).expect("a built component");
        let digest: String = Sha256::digest(&wasm)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let file = path.with_extension("wasm.sha256");
        if std::fs::read_to_string(&file).ok().as_deref() != Some(digest.as_str()) {
            std::fs::write(&file, digest).expect("the digest file");
        }
    }
}
