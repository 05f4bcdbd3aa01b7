//! The components shipped inside the `cairn` binary (the step plugins and the
//! template sandbox), built from `plugins/` by the build script, so that one
//! binary is all an operator installs.

/// A component shipped inside the binary.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// The sha256 of `wasm`, in hex, computed by the build script: a host
    /// whose compiled-code cache holds the component never reads its bytes,
    /// so they stay out of its memory (about 7 MiB of them).
    pub digest: &'static str,
}

macro_rules! bundled {
    ($name:literal => $file:literal) => {
        Bundled {
            name: $name,
            wasm: include_bytes!(concat!(env!("CAIRN_PLUGIN_DIR"), "/", $file)),
            digest: include_str!(concat!(env!("CAIRN_PLUGIN_DIR"), "/", $file, ".sha256")),
        }
    };
}

/// Every bundled step plugin.
pub const BUNDLED: &[Bundled] = &[
    bundled!("noop" => "cairn_plugin_noop.wasm"),
    bundled!("transform" => "cairn_plugin_transform.wasm"),
    bundled!("validate" => "cairn_plugin_validate.wasm"),
    bundled!("review" => "cairn_plugin_review.wasm"),
    bundled!("http-request" => "cairn_plugin_http_request.wasm"),
    bundled!("ai-generate" => "cairn_plugin_ai_generate.wasm"),
    bundled!("notify" => "cairn_plugin_notify.wasm"),
    bundled!("markdown" => "cairn_plugin_markdown.wasm"),
    bundled!("publish" => "cairn_plugin_publish.wasm"),
];

/// The `cairn-templates` component, built from `plugins/templates`: the
/// sandbox a step's `when` and `input` templates run in.
pub(super) const TEMPLATES: Bundled = bundled!("cairn-templates" => "cairn_templates.wasm");

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    #[test]
    fn each_digest_is_the_sha256_of_its_component() {
        for bundled in BUNDLED.iter().chain([&TEMPLATES]) {
            assert_eq!(
                bundled.digest,
                hex::encode(Sha256::digest(bundled.wasm)),
                "{}",
                bundled.name
            );
        }
    }
}
