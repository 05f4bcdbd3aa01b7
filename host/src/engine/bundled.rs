//! The step plugins shipped inside the `cairn` binary, built from `plugins/` by the
//! build script, so that one binary is all an operator installs.

macro_rules! bundled {
    ($($name:literal => $file:literal),* $(,)?) => {
        /// `(name, component bytes)` of every bundled plugin.
        pub const BUNDLED: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!(env!("CAIRN_PLUGIN_DIR"), "/", $file)))),*
        ];
    };
}

bundled! {
    "noop" => "cairn_plugin_noop.wasm",
    "transform" => "cairn_plugin_transform.wasm",
    "validate" => "cairn_plugin_validate.wasm",
    "review" => "cairn_plugin_review.wasm",
    "http-request" => "cairn_plugin_http_request.wasm",
    "ai-generate" => "cairn_plugin_ai_generate.wasm",
    "notify" => "cairn_plugin_notify.wasm",
    "markdown" => "cairn_plugin_markdown.wasm",
    "publish" => "cairn_plugin_publish.wasm",
}
