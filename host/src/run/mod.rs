//! The run core: a run's typed state, its log of typed events, and its
//! transitions, as pure functions. No I/O: no database, no clock, no tasks,
//! no sandboxes. The runner reads a run, asks a transition of this module,
//! commits what it returns through the store, and acts on its effects.

mod admission;
mod decision;
mod event;
mod state;
mod status;
mod transition;
pub mod tree;

pub use admission::{Load, admit, counts_workflow_runs};
pub use decision::{Choice, check_decision};
pub use event::{Cancellation, EventKind, EventRecord, RunEvent};
pub use state::{
    Actor, Channel, Decision, GateProgress, PendingAction, Pins, RunFailure, RunRecord,
    StepFailure, StepLog, StepRecord, Trigger, distinct_approvers,
};
pub use status::{Change, ErrorReason, IllegalTransition, RunStatus, StepStatus, UnknownName};
pub use transition::{
    Attempt, ChildEnd, Effect, Entry, Refusal, STEP_LOG_BYTES, Transition, Version, abandon,
    cancel, create, decide, enter, expire, fail_step, finish_attempt, finish_child, skip_step,
    start_step, tick,
};
pub use tree::{ConstructState, Frontier, Layout, RunSteps};

#[cfg(test)]
mod tests;
