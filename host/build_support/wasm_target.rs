//! Whether a Rust toolchain can build for `wasm32-wasip2`, and how to make it so.
//!
//! Shared by `host/build.rs`, which needs the target to build the plugins, and by
//! the crate's unit tests (`#[path]`-included), which check the detection over
//! fake sysroots. rustup installs the targets that `rust-toolchain.toml` lists only
//! when it downloads a toolchain; where the named toolchain is a link to one that
//! is already there, nothing installs them, so the build script does.

use std::path::{Path, PathBuf};

/// The target the plugins are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Where a toolchain keeps a target's standard library.
pub fn target_lib_dir(sysroot: &Path, target: &str) -> PathBuf {
    sysroot.join("lib").join("rustlib").join(target).join("lib")
}

/// Whether the toolchain at `sysroot` has `target`'s standard library: a
/// `libcore-*.rlib` in its library directory.
pub fn has_target(sysroot: &Path, target: &str) -> bool {
    std::fs::read_dir(target_lib_dir(sysroot, target)).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

/// The rustup toolchain to add the target to: the one rustup says is active
/// (`RUSTUP_TOOLCHAIN`), else the sysroot's directory name when it sits in a
/// rustup `toolchains/` directory. `None` for a toolchain rustup does not manage.
pub fn rustup_toolchain(sysroot: &Path, rustup_toolchain_env: Option<&str>) -> Option<String> {
    if let Some(name) = rustup_toolchain_env.filter(|name| !name.is_empty()) {
        return Some(name.to_owned());
    }
    let parent = sysroot.parent()?;
    (parent.file_name()? == "toolchains")
        .then(|| sysroot.file_name())
        .flatten()
        .map(|name| name.to_string_lossy().into_owned())
}

/// The one line a person reads when the target is missing and could not be added.
pub fn missing_target_message(toolchain: Option<&str>) -> String {
    match toolchain {
        Some(toolchain) => format!(
            "the {WASM_TARGET} target is not installed for toolchain {toolchain}; run: rustup target add {WASM_TARGET} --toolchain {toolchain}"
        ),
        None => format!(
            "the {WASM_TARGET} target is not installed for this Rust toolchain; run: rustup target add {WASM_TARGET}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysroot under a temporary directory, with the given files.
    fn sysroot(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temporary directory");
        for file in files {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().expect("files have a parent")).expect("mkdir");
            std::fs::write(path, b"").expect("write");
        }
        root
    }

    #[test]
    fn a_target_counts_as_installed_only_with_its_core_library() {
        let wasm = "lib/rustlib/wasm32-wasip2/lib";
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (
                &["lib/rustlib/x86_64-unknown-linux-gnu/lib/libcore-1a2b.rlib"],
                false,
            ),
            (&["lib/rustlib/wasm32-wasip2/lib/README"], false),
            (&["lib/rustlib/wasm32-wasip2/lib/libstd-9f.rlib"], false),
            (&["lib/rustlib/wasm32-wasip2/lib/libcore-9f.rlib"], true),
        ];
        for (files, expected) in cases {
            let root = sysroot(files);
            assert_eq!(
                has_target(root.path(), WASM_TARGET),
                *expected,
                "{files:?} under {wasm}"
            );
        }
    }

    #[test]
    fn the_toolchain_comes_from_rustup_or_the_toolchains_directory() {
        let managed = Path::new("/root/.rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu");
        assert_eq!(
            rustup_toolchain(managed, Some("1.95.0")).as_deref(),
            Some("1.95.0")
        );
        assert_eq!(
            rustup_toolchain(managed, None).as_deref(),
            Some("1.95.0-x86_64-unknown-linux-gnu")
        );
        assert_eq!(
            rustup_toolchain(managed, Some("")).as_deref(),
            Some("1.95.0-x86_64-unknown-linux-gnu")
        );
        assert_eq!(rustup_toolchain(Path::new("/usr"), None), None);
    }

    #[test]
    fn the_message_names_the_command_to_run() {
        let message = missing_target_message(Some("1.95.0"));
        assert!(
            message.ends_with("run: rustup target add wasm32-wasip2 --toolchain 1.95.0"),
            "{message}"
        );
        assert!(!message.contains('\n'));
        assert!(missing_target_message(None).ends_with("run: rustup target add wasm32-wasip2"));
    }
}
