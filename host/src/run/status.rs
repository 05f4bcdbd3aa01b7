//! The run and step state machines: which status may follow which. Every
//! transition of the core checks its changes here.

use std::fmt;
use std::str::FromStr;

use super::EventKind;

use serde::{Deserialize, Serialize};

/// `pending → running → (paused ⇄ running) → completed | failed | cancelled`
/// (a decision that finishes the last step completes a paused run)
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

/// Why a run ended without completing: the `reason` of its error (and of its
/// failed step's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
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
    /// Someone cancelled the run.
    Cancelled,
    /// A reviewer rejected it at a gate.
    Rejected,
    /// A pause's deadline passed without a decision.
    TimedOut,
    /// The run grew past one of the operator's limits of the language
    /// (items of a map, steps of a run).
    LimitExceeded,
}

impl ErrorReason {
    pub const ALL: [ErrorReason; 9] = [
        ErrorReason::StepFailed,
        ErrorReason::TemplateError,
        ErrorReason::TemplateLimit,
        ErrorReason::PluginUnavailable,
        ErrorReason::HostError,
        ErrorReason::Cancelled,
        ErrorReason::Rejected,
        ErrorReason::TimedOut,
        ErrorReason::LimitExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::StepFailed => "step_failed",
            ErrorReason::TemplateError => "template_error",
            ErrorReason::TemplateLimit => "template_limit",
            ErrorReason::PluginUnavailable => "plugin_unavailable",
            ErrorReason::HostError => "host_error",
            ErrorReason::Cancelled => "cancelled",
            ErrorReason::Rejected => "rejected",
            ErrorReason::TimedOut => "timed_out",
            ErrorReason::LimitExceeded => "limit_exceeded",
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

    /// Finished, or paused with nothing else to do until someone decides.
    pub fn is_settled(self) -> bool {
        self.is_terminal() || self == RunStatus::Paused
    }

    pub fn can_become(self, next: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, next),
            (Pending, Running | Cancelled | Failed)
                | (Running, Running | Paused | Completed | Failed | Cancelled)
                // Paused → Completed: a decision finished the last step.
                | (Paused, Running | Completed | Failed | Cancelled)
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

text_names!(
    RunStatus: "run status",
    StepStatus: "step status",
    EventKind: "event kind",
    ErrorReason: "error reason",
);

/// A change of a run (or of a workflow's plan), as the runner tells its
/// subscribers (`Runner::subscribe`).
#[derive(Debug, Clone)]
pub struct Change {
    /// The run (or workflow) that changed.
    pub run: String,
    /// The run's status and last event after it, when this host made the
    /// change; otherwise read the run.
    pub state: Option<(RunStatus, i64)>,
    /// Whether it may have queued notifications (the outbox listens).
    pub queued: bool,
}

impl Change {
    /// A change whose outcome is not known here.
    pub fn of(run: String) -> Change {
        Change {
            run,
            state: None,
            queued: true,
        }
    }
}
