//! Cairn, a workflow host whose step types are sandboxed WebAssembly components.
//!
//! The code map, with what each module may and may not know, is
//! `ARCHITECTURE.md` at the root of the repository; `tests/architecture.rs`
//! checks its invariants.

pub mod api;
pub mod approvals;
pub mod bench;
pub mod catalog;
pub mod clock;
pub mod egress;
pub mod engine;
pub mod host;
pub mod keyfile;
pub mod notify;
pub mod planner;
pub mod plugins;
pub mod run;
pub mod runner;
pub mod secrets;
pub mod server;
pub mod store;
pub mod tenants;
pub mod workflow;

// The build script's check for the wasm target, included here for its tests.
#[cfg(test)]
#[path = "../build_support/wasm_target.rs"]
mod wasm_target;
