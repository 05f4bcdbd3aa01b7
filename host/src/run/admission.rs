//! Whether more runs of a workflow may start: the tenant's quota of
//! unfinished runs, and the workflow's concurrency policy.

use super::Refusal;
use crate::workflow::{ConcurrencyPolicy, WorkflowDefinition};

/// How many runs are unfinished, as the store counted them in the
/// transaction that would start more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// The tenant's unfinished runs.
    pub tenant: i64,
    /// The workflow's unfinished runs (counted only when its policy needs
    /// them: see [`counts_workflow_runs`]).
    pub workflow: i64,
}

/// Whether admitting runs of `definition` needs the workflow's own count.
pub fn counts_workflow_runs(definition: &WorkflowDefinition) -> bool {
    definition.concurrency == ConcurrencyPolicy::Forbid
}

/// Whether `count` more runs of the workflow `name` may start under `load`,
/// with the tenant's `quota` of unfinished runs.
pub fn admit(
    definition: &WorkflowDefinition,
    name: &str,
    load: Load,
    count: i64,
    quota: i64,
) -> Result<(), Refusal> {
    if load.tenant + count > quota {
        return Err(Refusal::Quota(if count == 1 {
            format!(
                "the tenant has {quota} unfinished runs, its quota; finish or cancel some first"
            )
        } else {
            format!(
                "{count} more runs would exceed the tenant's quota of {quota} unfinished runs ({} now)",
                load.tenant
            )
        }));
    }
    if counts_workflow_runs(definition) && (count > 1 || load.workflow > 0) {
        return Err(Refusal::Conflict(format!(
            "workflow '{name}' allows one active run at a time{}",
            if count > 1 { "" } else { ", and one is active" }
        )));
    }
    Ok(())
}
