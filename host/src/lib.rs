//! Cairn, a workflow host whose step types are sandboxed WebAssembly components.
//!
//! Modules, one owner per concern:
//!
//! - [`engine`]: wasmtime engine and linker, plugin loading and checking, the
//!   compiled-code cache, sandbox limits, running one step attempt. Knows nothing
//!   of SQL or HTTP.
//! - [`workflow`]: definitions, validation, input templates and conditions.
//! - [`model`]: the run and step state machines (pure).
//! - [`store`]: SQLite schema and migrations, the group-committing writer.
//! - [`runner`]: runs in motion: dispatch, retries, pauses, cancels, timeouts,
//!   recovery. Knows nothing of HTTP.
//! - [`approvals`]: signed, single-use approval links.
//! - [`notify`]: the notification outbox, webhooks and email.
//! - [`plugins`]: tenants' uploaded plugins, stored by digest.
//! - [`egress`]: the allow-lists and grants outbound HTTP must pass, and the
//!   `${secret:NAME}` placeholders.
//! - [`secrets`]: tenants' write-only secrets, sealed at rest.
//! - [`host`]: wires engine, plugins, store and runner together.
//! - [`bench`]: the figures behind `cairn bench`.
//!
//! Architecture invariant: a plugin fault never escapes [`engine::Engine::run`] as
//! an error or a panic; it becomes a failed [`engine::StepOutcome`] with a reason.

pub mod api;
pub mod approvals;
pub mod bench;
pub mod egress;
pub mod engine;
pub mod host;
pub mod model;
pub mod notify;
pub mod plugins;
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
