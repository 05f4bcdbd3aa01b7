//! The run and step state machines, shared by the store, the runner and the API.
//! Pure: no I/O. The runner checks every transition here before it commits it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `pending → running → (paused ⇄ running) → completed | failed | cancelled`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

/// `pending → running → (awaiting_input) → completed | failed | skipped | cancelled`
// (a pending step that cannot be prepared fails without running)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    AwaitingInput,
    Completed,
    Failed,
    Skipped,
    Cancelled,
}

/// Why a run failed: the `reason` of its error and of its failed step's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The plugin failed the step (or its sandbox stopped it).
    StepFailed,
    /// The step's input template or `when` condition could not be evaluated.
    TemplateError,
    /// Evaluating the step's templates went past a fuel, memory or size limit.
    TemplateLimit,
    /// The plugin the run is pinned to cannot be run on this host.
    PluginUnavailable,
    /// The host could not go on with the run (its store or definition failed).
    HostError,
}

impl FailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::StepFailed => "step_failed",
            FailReason::TemplateError => "template_error",
            FailReason::TemplateLimit => "template_limit",
            FailReason::PluginUnavailable => "plugin_unavailable",
            FailReason::HostError => "host_error",
        }
    }
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition of a {what} from {from} to {to}")]
pub struct IllegalTransition {
    pub what: &'static str,
    pub from: String,
    pub to: String,
}

impl RunStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }

    pub fn can_become(self, next: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, next),
            (Pending, Running | Cancelled | Failed)
                | (Running, Running | Paused | Completed | Failed | Cancelled)
                | (Paused, Running | Failed | Cancelled)
        )
    }

    pub fn check(self, next: RunStatus) -> Result<(), IllegalTransition> {
        if self.can_become(next) {
            Ok(())
        } else {
            Err(IllegalTransition {
                what: "run",
                from: self.to_string(),
                to: next.to_string(),
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub const ALL: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];
}

impl StepStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            StepStatus::Completed
                | StepStatus::Failed
                | StepStatus::Skipped
                | StepStatus::Cancelled
        )
    }

    pub fn can_become(self, next: StepStatus) -> bool {
        use StepStatus::*;
        matches!(
            (self, next),
            // Pending → Failed: a step that cannot be prepared (its input or `when`
            // does not render, its plugin is gone) fails without starting.
            (Pending, Running | Skipped | Failed | Cancelled)
                // Running → Running: an attempt interrupted by a crash runs again;
                // Running → Pending: a retry is scheduled.
                | (Running, Running | Pending | Completed | Failed | AwaitingInput | Cancelled)
                | (AwaitingInput, Running | Completed | Failed | Cancelled)
        )
    }

    pub fn check(self, next: StepStatus) -> Result<(), IllegalTransition> {
        if self.can_become(next) {
            Ok(())
        } else {
            Err(IllegalTransition {
                what: "step",
                from: self.to_string(),
                to: next.to_string(),
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::AwaitingInput => "awaiting_input",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    pub const ALL: [StepStatus; 7] = [
        StepStatus::Pending,
        StepStatus::Running,
        StepStatus::AwaitingInput,
        StepStatus::Completed,
        StepStatus::Failed,
        StepStatus::Skipped,
        StepStatus::Cancelled,
    ];
}

/// A name that none of a type's values has, read from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{name}'")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
}

/// `Display` and `FromStr` for enums whose values have one text name each
/// (`as_str`) and are all listed in `ALL`: the names the database and the
/// JSON use.
macro_rules! text_names {
    ($($type:ident: $what:literal),* $(,)?) => {$(
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $type::ALL
                    .into_iter()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| UnknownName { what: $what, name: text.to_owned() })
            }
        }
    )*};
}

text_names!(RunStatus: "run status", StepStatus: "step status", EventKind: "event kind");

/// The kinds of event in a run's log. The log's JSON (and the database) has
/// them as snake_case text; notifications are derived from them
/// (`workflow::NotifyEvent::of`), never from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    StepStarted,
    StepCompleted,
    StepFailed,
    StepSkipped,
    RetryScheduled,
    Paused,
    ApprovalRecorded,
    Resumed,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::Created,
        EventKind::StepStarted,
        EventKind::StepCompleted,
        EventKind::StepFailed,
        EventKind::StepSkipped,
        EventKind::RetryScheduled,
        EventKind::Paused,
        EventKind::ApprovalRecorded,
        EventKind::Resumed,
        EventKind::Completed,
        EventKind::Failed,
        EventKind::Cancelled,
        EventKind::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::StepStarted => "step_started",
            EventKind::StepCompleted => "step_completed",
            EventKind::StepFailed => "step_failed",
            EventKind::StepSkipped => "step_skipped",
            EventKind::RetryScheduled => "retry_scheduled",
            EventKind::Paused => "paused",
            EventKind::ApprovalRecorded => "approval_recorded",
            EventKind::Resumed => "resumed",
            EventKind::Completed => "completed",
            EventKind::Failed => "failed",
            EventKind::Cancelled => "cancelled",
            EventKind::TimedOut => "timed_out",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_actions_keep_their_json_shape() {
        let gate = serde_json::json!({
            "step": "review", "kind": "approval", "message": "Ship it?", "options": ["approve", "reject"],
            "input_schema": null, "data": {"title": "x"}, "reviewers": ["ana@example.com"],
            "required": 2, "approvals": 1, "paused_at": "2026-12-02T10:00:00.000Z"
        });
        let typed: PendingAction = serde_json::from_value(gate.clone()).expect("a gate's action");
        assert_eq!(typed.gate.as_ref().map(|g| g.approvals), Some(1));
        assert_eq!(serde_json::to_value(&typed).ok(), Some(gate));
        let plugin = serde_json::json!({
            "step": "pick", "kind": "choice", "message": "Which?", "options": [],
            "input_schema": {"type": "string"}, "data": null
        });
        let typed: PendingAction = serde_json::from_value(plugin.clone()).expect("a plugin's");
        assert_eq!(typed.gate, None);
        assert_eq!(serde_json::to_value(&typed).ok(), Some(plugin));
    }

    #[test]
    fn a_quorum_counts_identities_once_whatever_their_case() {
        let decision = |who: &str, approving| Decision {
            reviewer: who.to_owned(),
            option: "approve".to_owned(),
            note: None,
            approving,
            at: String::new(),
            channel: Channel::Api,
            label: None,
        };
        let decisions = [
            decision("ana@example.com", true),
            decision("ANA@example.com", true),
            decision("bo", false),
            decision("cy", true),
        ];
        assert_eq!(distinct_approvers(&decisions), 2);
    }

    #[test]
    fn event_kinds_read_back_as_written() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::json!(kind.as_str()))
            );
        }
        assert!("exploded".parse::<EventKind>().is_err());
    }

    #[test]
    fn terminal_states_are_final() {
        for from in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(
                RunStatus::ALL.into_iter().all(|to| !from.can_become(to)),
                "{from}"
            );
        }
        for from in StepStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(
                StepStatus::ALL.into_iter().all(|to| !from.can_become(to)),
                "{from}"
            );
        }
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        for status in StepStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert!("done".parse::<RunStatus>().is_err());
    }
}
