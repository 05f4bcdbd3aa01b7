//! The typed state of a run: the run and its steps as stored, what a paused
//! run waits for, decisions, who decided, what started a run and how it
//! ended. User data (inputs, outputs, checkpoints, what a pause shows) stays
//! JSON; everything the host reasons about is a type.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ErrorReason, RunStatus, StepStatus};

/// A run as stored: one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub tenant: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub status: RunStatus,
    /// Shared: a transition copies the run, not its input (a map's items
    /// may be in it).
    pub input: std::sync::Arc<Value>,
    pub result: Option<Value>,
    pub error: Option<RunFailure>,
    /// The first of what the run's steps wait for (each waiting step holds
    /// its own: `StepRecord::pending`).
    pub pending_action: Option<PendingAction>,
    pub paused_step: Option<i64>,
    pub pause_deadline: Option<i64>,
    pub wake_at: Option<i64>,
    pub current_action: Option<String>,
    pub steps_total: i64,
    pub steps_done: i64,
    /// The plugins its steps are pinned to. Shared: a transition copies the
    /// run, not the pins.
    pub plugins: std::sync::Arc<Pins>,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub trigger: Option<Trigger>,
    /// The run's place among its workflow's runs (1, 2, ...), given by the
    /// store when it is saved first.
    pub number: i64,
}

#[cfg(test)]
impl RunRecord {
    /// A run of workflow `w` version 1 for tests: nothing done, no events.
    pub(crate) fn fixture(id: &str, tenant: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            tenant: tenant.to_owned(),
            workflow_id: "w".to_owned(),
            workflow_version: 1,
            status,
            input: Value::Null.into(),
            result: None,
            error: None,
            pending_action: None,
            paused_step: None,
            pause_deadline: None,
            wake_at: None,
            current_action: None,
            steps_total: 0,
            steps_done: 0,
            plugins: Default::default(),
            last_seq: 0,
            created_at: 0,
            updated_at: 0,
            trigger: None,
            number: 0,
        }
    }
}

/// One step instance of a run as stored: a step of the top list, or of a
/// branch, a case or a map's item (see `tree`).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub run_id: String,
    pub index: i64,
    /// The instance's path: `draft`, `research.web.fetch`, `per_article[2].review`.
    pub name: String,
    pub status: StepStatus,
    pub attempts: i64,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<StepFailure>,
    pub checkpoint: Option<Value>,
    /// The decision a plugin's pause was resumed with, until the resumed
    /// attempt ends.
    pub decision: Option<Value>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A gate's decisions so far.
    pub decisions: Vec<Decision>,
    /// What the step's attempts logged, the latest lines kept.
    pub logs: Vec<StepLog>,
    /// What the step waits for, while it awaits input.
    pub pending: Option<PendingAction>,
    /// When its wait for a decision times out.
    pub deadline: Option<i64>,
    /// When a retry of it is due.
    pub wake_at: Option<i64>,
    /// Where a construct is (none for a plugin step).
    pub construct: Option<super::ConstructState>,
}

impl StepRecord {
    /// A step instance that has not started.
    pub fn pending(run_id: &str, index: usize, name: String) -> StepRecord {
        StepRecord {
            run_id: run_id.to_owned(),
            index: index as i64,
            name,
            status: StepStatus::Pending,
            attempts: 0,
            input: None,
            output: None,
            error: None,
            checkpoint: None,
            decision: None,
            started_at: None,
            finished_at: None,
            decisions: Vec::new(),
            logs: Vec::new(),
            pending: None,
            deadline: None,
            wake_at: None,
            construct: None,
        }
    }
}

/// The plugin (digest) each step of a run is pinned to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pins {
    /// By step type as the definition writes it (`noop`, `validate@0.1`):
    /// one entry however many steps use a type.
    ByType(std::collections::BTreeMap<String, String>),
    /// By site (`tree::Layout::sites`), as runs started by older builds
    /// have them.
    BySite(Vec<String>),
}

impl Default for Pins {
    fn default() -> Self {
        Pins::ByType(Default::default())
    }
}

impl Pins {
    /// The digest the step at `site`, of `step_type`, is pinned to.
    pub fn digest(&self, site: usize, step_type: &str) -> Option<&str> {
        match self {
            Pins::ByType(by_type) => by_type.get(step_type),
            Pins::BySite(by_site) => by_site.get(site),
        }
        .map(String::as_str)
    }
}

/// What started a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// `POST /v1/workflows/{id}/runs` or the command line.
    Api,
    /// One input of a batch.
    Batch { batch_id: String },
    /// A `workflow` step of another run (its parent): `depth` counts the
    /// runs above this one.
    Parent {
        run_id: String,
        step: String,
        depth: u32,
    },
    /// A slot of the workflow's cron schedule, in its time zone.
    Schedule {
        slot: String,
        /// Started late, for a slot missed while the host was down.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        catch_up: bool,
        /// Started when an earlier run ended (overlap `queue`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        queued: bool,
    },
}

/// How a run ended without completing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunFailure {
    pub reason: ErrorReason,
    pub message: String,
    /// The step the run ended at, when it ended at one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// When the host stopped the plugin: which limit or fault (`timeout`,
    /// `memory_limit`, `fuel_exhausted`, `trap`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Who rejected the run at a gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Why a step attempt failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepFailure {
    /// Set when the host failed the step (not the plugin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorReason>,
    pub message: String,
    /// Whether the plugin said another attempt could succeed.
    pub retryable: bool,
    /// When the host stopped the plugin: which limit or fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// One line a step's attempt logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepLog {
    pub attempt: i64,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `plugin`, `host`, `stdout` or `stderr`.
    pub source: String,
    pub message: String,
}

/// Who decided, and through which channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// A verified identity: an API key's name, the reviewer a link was made
    /// for, or `timeout`. A gate's quorum counts distinct identities, compared
    /// without regard to case.
    pub name: String,
    pub channel: Channel,
    /// What the caller said about itself (the API's free-text `reviewer`):
    /// recorded for the audit trail, never counted.
    pub label: Option<String>,
}

impl Actor {
    pub fn api(name: &str) -> Self {
        Actor {
            name: name.to_owned(),
            channel: Channel::Api,
            label: None,
        }
    }

    /// A paused run's deadline.
    pub fn timer() -> Self {
        Actor {
            name: "timeout".to_owned(),
            channel: Channel::Timer,
            label: None,
        }
    }
}

/// How a decision reached a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `POST /v1/runs/{id}/resume` or `cancel`, or the command line.
    Api,
    /// An approval link.
    Link,
    /// A gate's or a pause's timeout.
    Timer,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Link => "link",
            Channel::Timer => "timer",
        }
    }
}

/// What a paused run waits for: shown to people (API, pages, emails) and
/// checked against their decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingAction {
    /// The step that waits.
    pub step: String,
    /// `approval` at a gate; otherwise what the plugin called it.
    pub kind: String,
    pub message: String,
    /// The options a decision must be one of; empty: a value `input_schema`
    /// accepts.
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub input_schema: Option<serde_json::Value>,
    /// What to review.
    #[serde(default)]
    pub data: serde_json::Value,
    /// At a gate: its reviewers and how far its quorum got.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateProgress>,
}

/// A gate's reviewers and quorum, while the run waits there. Its fields sit
/// in the pending action's object; a plugin's pause has none of them (so the
/// schema marks none required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GateProgress {
    /// Who gets an approval link.
    #[schema(required = false)]
    pub reviewers: Vec<String>,
    /// Approvals by distinct identities the run needs to go on.
    #[schema(required = false)]
    pub required: u32,
    /// Distinct identities that approved so far.
    #[schema(required = false)]
    pub approvals: usize,
    /// When the run paused here (RFC 3339); approval links expire from it.
    #[schema(required = false)]
    pub paused_at: String,
}

/// One decision recorded on a gate's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// The verified identity that decided: an API key's name, the reviewer a
    /// link was made for, or `timeout`.
    pub reviewer: String,
    pub option: String,
    pub note: Option<String>,
    /// Whether the option approves (it is not one of the gate's `reject`).
    pub approving: bool,
    /// RFC 3339.
    pub at: String,
    pub channel: Channel,
    /// What an API caller said about itself; never counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// How many distinct identities (compared without regard to case) approved.
pub fn distinct_approvers(decisions: &[Decision]) -> usize {
    let mut who: Vec<String> = decisions
        .iter()
        .filter(|d| d.approving)
        .map(|d| d.reviewer.to_ascii_lowercase())
        .collect();
    who.sort();
    who.dedup();
    who.len()
}
