//! The one `bindgen!` call site: host-side bindings of the `cairn:step` world.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    exports: { default: async },
});
