//! Cairn, a workflow host whose step types are sandboxed WebAssembly components.
//!
//! Modules, one owner per concern:
//!
//! - [`engine`]: wasmtime engine and linker, plugin loading and checking, the
//!   compiled-code cache, sandbox limits, running one step attempt. Knows nothing
//!   of SQL or HTTP.
//! - [`bench`]: the figures behind `cairn bench`.
//!
//! Architecture invariant: a plugin fault never escapes [`engine::Engine::run`] as
//! an error or a panic; it becomes a failed [`engine::StepOutcome`] with a reason.

pub mod bench;
pub mod engine;
