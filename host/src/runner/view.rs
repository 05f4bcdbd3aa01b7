//! A run as clients see it: status, progress, steps, what it waits for, and how
//! it ended. Built from the stored rows plus the live in-step progress.

use crate::clock::timestamp;

use serde::Serialize;
use serde_json::Value;

use crate::engine::StepProgress;
use crate::run::{
    Decision, PendingAction, RunFailure, RunStatus, StepFailure, StepLog, StepStatus, Trigger,
};
use crate::store::{RunRecord, StepRecord};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RunView {
    pub id: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub status: RunStatus,
    pub progress: Progress,
    pub steps: Vec<StepView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_deadline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RunFailure>,
    pub input: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Sequence number of the run's latest event.
    pub last_event: i64,
    /// What started the run: `{"kind": "api"}`, `{"kind": "batch", "batch_id"}`
    /// or `{"kind": "schedule", "slot"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Progress {
    pub percent: u8,
    pub current_action: Option<String>,
    pub steps_completed: i64,
    pub steps_total: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StepView {
    pub name: String,
    pub status: StepStatus,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StepFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// A gate's decisions: who decided what, with which note, when and
    /// through which channel (`api`, `link` or `timer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<Vec<Decision>>,
    /// What the step's attempts logged, latest lines kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<StepLog>>,
}

impl RunView {
    pub fn new(run: &RunRecord, steps: &[StepRecord], live: Option<&StepProgress>) -> Self {
        let total = run.steps_total.max(1);
        let running = run.status == RunStatus::Running;
        let in_step = live
            .filter(|_| running)
            .map_or(0, |p| i64::from(p.percent.min(100)));
        let percent = match run.status {
            RunStatus::Completed => 100,
            _ => ((run.steps_done * 100 + in_step) / total).clamp(0, 100) as u8,
        };
        let current_action = match live.filter(|_| running) {
            Some(p) if !p.action.is_empty() => Some(p.action.clone()),
            _ => run.current_action.clone(),
        };
        RunView {
            id: run.id.clone(),
            workflow_id: run.workflow_id.clone(),
            workflow_version: run.workflow_version,
            status: run.status,
            progress: Progress {
                percent,
                current_action,
                steps_completed: run.steps_done,
                steps_total: run.steps_total,
            },
            steps: steps
                .iter()
                .map(|step| StepView {
                    name: step.name.clone(),
                    status: step.status,
                    attempts: step.attempts,
                    output: step.output.clone(),
                    error: step.error.clone(),
                    started_at: step.started_at.map(timestamp),
                    finished_at: step.finished_at.map(timestamp),
                    decisions: (!step.decisions.is_empty()).then(|| step.decisions.clone()),
                    logs: (!step.logs.is_empty()).then(|| step.logs.clone()),
                })
                .collect(),
            pending_action: run.pending_action.clone(),
            pause_deadline: run.pause_deadline.map(timestamp),
            result: run.result.clone(),
            error: run.error.clone(),
            input: run.input.clone(),
            created_at: timestamp(run.created_at),
            updated_at: timestamp(run.updated_at),
            last_event: run.last_seq,
            trigger: run.trigger.clone(),
        }
    }

    /// Finished, or waiting for a person.
    pub fn is_settled(&self) -> bool {
        self.status.is_terminal() || self.status == RunStatus::Paused
    }
}
