//! A run's log: the typed events every transition appends. Their JSON (the
//! API's `{seq, at, kind, data}` and the database's `kind` and `data`
//! columns) is the contract; the types only make it impossible to write an
//! event of the wrong shape, and notifications follow from the variants.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Channel, ErrorReason, PendingAction, StepFailure, Trigger};
use crate::workflow::NotifyEvent;

/// The kinds of event in a run's log. The log's JSON (and the database) has
/// them as snake_case text; notifications are derived from them
/// (`RunEvent::notification`), never from text.
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

/// One entry of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub seq: i64,
    /// Unix milliseconds.
    pub at: i64,
    #[serde(flatten)]
    pub event: RunEvent,
}

impl EventRecord {
    pub fn kind(&self) -> EventKind {
        self.event.kind()
    }

    /// The event's `data` object, as stored and shown.
    pub fn data(&self) -> Value {
        self.event.data()
    }
}

/// What happened to a run. On the wire: `{"kind": ..., "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum RunEvent {
    Created {
        workflow_version: i64,
        input: Value,
        trigger: Trigger,
    },
    StepStarted {
        step: String,
        attempt: i64,
        /// The attempt before was interrupted by a restart.
        recovered: bool,
    },
    StepCompleted {
        step: String,
        attempt: i64,
        output: Value,
    },
    StepFailed {
        step: String,
        attempt: i64,
        error: StepFailure,
    },
    StepSkipped {
        step: String,
        when: Option<String>,
    },
    RetryScheduled {
        step: String,
        attempt: i64,
        error: StepFailure,
        /// Unix milliseconds.
        retry_at: i64,
    },
    Paused {
        step: String,
        pending_action: PendingAction,
        /// Paused at an approval gate (not by the plugin).
        gate: bool,
    },
    ApprovalRecorded {
        step: String,
        reviewer: String,
        option: String,
        note: Option<String>,
        channel: Channel,
        approvals: usize,
        required: u32,
    },
    Resumed {
        step: String,
        decision: Value,
        option: Option<String>,
        note: Option<String>,
        actor: String,
        channel: Channel,
    },
    Completed {
        result: Value,
    },
    Failed {
        reason: ErrorReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        message: String,
    },
    Cancelled(Cancellation),
    TimedOut {
        reason: ErrorReason,
        step: String,
    },
}

/// Who ended a run as cancelled: a reviewer's rejection at a gate, or a
/// cancel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cancellation {
    Rejected {
        reason: ErrorReason,
        step: String,
        note: Option<String>,
        actor: String,
    },
    ByActor {
        actor: String,
        channel: Channel,
    },
}

impl RunEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            RunEvent::Created { .. } => EventKind::Created,
            RunEvent::StepStarted { .. } => EventKind::StepStarted,
            RunEvent::StepCompleted { .. } => EventKind::StepCompleted,
            RunEvent::StepFailed { .. } => EventKind::StepFailed,
            RunEvent::StepSkipped { .. } => EventKind::StepSkipped,
            RunEvent::RetryScheduled { .. } => EventKind::RetryScheduled,
            RunEvent::Paused { .. } => EventKind::Paused,
            RunEvent::ApprovalRecorded { .. } => EventKind::ApprovalRecorded,
            RunEvent::Resumed { .. } => EventKind::Resumed,
            RunEvent::Completed { .. } => EventKind::Completed,
            RunEvent::Failed { .. } => EventKind::Failed,
            RunEvent::Cancelled(_) => EventKind::Cancelled,
            RunEvent::TimedOut { .. } => EventKind::TimedOut,
        }
    }

    /// The notification this event is, if it is one. Every kind is named, so
    /// a new kind of event does not compile until it is decided here.
    pub fn notification(&self) -> Option<NotifyEvent> {
        match self.kind() {
            EventKind::Paused => Some(NotifyEvent::Paused),
            EventKind::Completed => Some(NotifyEvent::Completed),
            EventKind::Failed => Some(NotifyEvent::Failed),
            EventKind::Cancelled => Some(NotifyEvent::Cancelled),
            EventKind::TimedOut => Some(NotifyEvent::TimedOut),
            EventKind::Created
            | EventKind::StepStarted
            | EventKind::StepCompleted
            | EventKind::StepFailed
            | EventKind::StepSkipped
            | EventKind::RetryScheduled
            | EventKind::ApprovalRecorded
            | EventKind::Resumed => None,
        }
    }

    /// The event's `data` object, as stored and shown.
    pub fn data(&self) -> Value {
        match serde_json::to_value(self) {
            Ok(Value::Object(mut fields)) => fields.remove("data").unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// The event's `data` as JSON text, as stored: serialized once, without
    /// an intermediate JSON value.
    pub fn data_text(&self) -> String {
        // serde_json writes an adjacently tagged enum as
        // `{"kind":"<kind>","data":<data>}`, compactly and in that order.
        let whole = serde_json::to_string(self).unwrap_or_default();
        let prefix = format!("{{\"kind\":\"{}\",\"data\":", self.kind().as_str());
        match whole
            .strip_prefix(&prefix)
            .and_then(|d| d.strip_suffix('}'))
        {
            Some(data) => data.to_owned(),
            None => self.data().to_string(),
        }
    }

    /// The event read back from its kind and `data`.
    pub fn from_parts(kind: EventKind, data: Value) -> Result<RunEvent, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data }))
    }
}
