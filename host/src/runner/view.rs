//! A run as clients see it: status, progress, steps, what it waits for, and how
//! it ended. Built from the stored rows plus the live in-step progress.

use crate::clock::timestamp;

use serde::Serialize;
use serde_json::Value;

use crate::engine::StepProgress;
use crate::run::{
    ConstructState, Decision, PendingAction, RunFailure, RunStatus, StepFailure, StepLog,
    StepStatus, Trigger,
};
use crate::store::{RunRecord, StepRecord};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RunView {
    pub id: String,
    /// Its place among the workflow's runs: #1, #2, ...
    pub number: i64,
    pub workflow_id: String,
    pub workflow_version: i64,
    pub status: RunStatus,
    pub progress: Progress,
    /// The steps of the top list, and of branches and cases, in the order
    /// they were entered; the steps of a map's items are summarised on the
    /// map's step (`items`) and paged by `GET /v1/runs/{id}/steps/{path}`.
    pub steps: Vec<StepView>,
    /// The first of `pending_actions` (for clients written before there
    /// could be several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
    /// What the run's steps wait for, one per waiting step (at most
    /// 100; `waiting_steps` counts them all). Resume names the step.
    pub pending_actions: Vec<PendingAction>,
    /// How many steps wait for a decision.
    pub waiting_steps: usize,
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
    /// The run whose `workflow` step started this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// What started the run: `{"kind": "api"}`, `{"kind": "batch", "batch_id"}`,
    /// `{"kind": "schedule", "slot"}` or `{"kind": "parent", "run_id", "step", "depth"}`.
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
    /// When its wait for a decision times out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// A map's items, counted by how they stand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemsSummary>,
    /// The case a switch runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// Until when a wait waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<String>,
    /// The child run a `workflow` step started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_run: Option<String>,
}

/// A map's items by how they stand.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemsSummary {
    pub total: usize,
    /// Items whose steps started.
    pub started: usize,
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Items with a step waiting for a decision.
    pub waiting: usize,
}

/// One item of a map, with its steps.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ItemView {
    pub index: usize,
    /// `pending` until it starts; then as its steps stand.
    pub status: StepStatus,
    pub steps: Vec<StepView>,
}

/// One step of a run, with a page of a map's items.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StepDetail {
    pub step: StepView,
    /// A map's items from `offset`, with their steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemView>>,
}

/// Pending actions a run view lists at most.
const PENDING_SHOWN: usize = 100;

impl StepView {
    fn new(step: &StepRecord, all: &[StepRecord]) -> StepView {
        let (mut items, mut case, mut wait_until, mut child_run) = (None, None, None, None);
        match &step.construct {
            Some(ConstructState::Map { items: total, .. }) => {
                items = Some(summarise(&step.name, *total, all));
            }
            Some(ConstructState::Switch { case: name }) => case = Some(name.clone()),
            Some(ConstructState::Wait { until }) => wait_until = Some(timestamp(*until)),
            Some(ConstructState::Workflow { run }) => child_run = Some(run.clone()),
            Some(ConstructState::Parallel) | None => {}
        }
        StepView {
            name: step.name.clone(),
            status: step.status,
            attempts: step.attempts,
            output: step.output.clone(),
            error: step.error.clone(),
            started_at: step.started_at.map(timestamp),
            finished_at: step.finished_at.map(timestamp),
            decisions: (!step.decisions.is_empty()).then(|| step.decisions.clone()),
            logs: (!step.logs.is_empty()).then(|| step.logs.clone()),
            deadline: step.deadline.map(timestamp),
            items,
            case,
            wait_until,
            child_run,
        }
    }
}

/// Whether a record belongs to an item of a map (shown on the map's page).
fn in_an_item(path: &str) -> bool {
    path.contains('[')
}

/// The records directly in item `item` of the map at `map` (not those of
/// maps inside it).
fn item_records<'a>(map: &str, item: usize, all: &'a [StepRecord]) -> Vec<&'a StepRecord> {
    let prefix = format!("{map}[{item}].");
    all.iter()
        .filter(|s| {
            s.name
                .strip_prefix(&prefix)
                .is_some_and(|rest| !in_an_item(rest))
        })
        .collect()
}

/// How an item stands, from its records.
fn item_status(records: &[&StepRecord]) -> StepStatus {
    let any = |status| records.iter().any(|s| s.status == status);
    if records.is_empty() {
        StepStatus::Pending
    } else if any(StepStatus::Failed) {
        StepStatus::Failed
    } else if any(StepStatus::Cancelled) {
        StepStatus::Cancelled
    } else if any(StepStatus::AwaitingInput) {
        StepStatus::AwaitingInput
    } else if records.iter().all(|s| s.status.is_terminal()) {
        StepStatus::Completed
    } else {
        StepStatus::Running
    }
}

fn summarise(map: &str, items: usize, all: &[StepRecord]) -> ItemsSummary {
    let mut by_item: std::collections::BTreeMap<usize, Vec<&StepRecord>> = Default::default();
    let prefix = format!("{map}[");
    for step in all {
        let Some(rest) = step.name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((index, tail)) = rest.split_once(']') else {
            continue;
        };
        if in_an_item(tail) {
            continue;
        }
        if let Ok(index) = index.parse() {
            by_item.entry(index).or_default().push(step);
        }
    }
    let mut summary = ItemsSummary {
        total: items,
        started: by_item.len(),
        ..ItemsSummary::default()
    };
    for records in by_item.values() {
        match item_status(records) {
            StepStatus::Completed => summary.completed += 1,
            StepStatus::Failed => summary.failed += 1,
            StepStatus::Cancelled => summary.cancelled += 1,
            StepStatus::AwaitingInput => summary.waiting += 1,
            _ => {}
        }
    }
    summary
}

impl StepDetail {
    /// Step `path` of a run; a map's items from `offset`, `limit` of them.
    pub fn new(path: &str, all: &[StepRecord], offset: usize, limit: usize) -> Option<StepDetail> {
        let step = all.iter().find(|s| s.name == path)?;
        let items = match &step.construct {
            Some(ConstructState::Map { items, .. }) => Some(
                (offset..(*items).min(offset.saturating_add(limit)))
                    .map(|index| {
                        let records = item_records(path, index, all);
                        ItemView {
                            index,
                            status: item_status(&records),
                            steps: records.iter().map(|s| StepView::new(s, all)).collect(),
                        }
                    })
                    .collect(),
            ),
            _ => None,
        };
        Some(StepDetail {
            step: StepView::new(step, all),
            items,
        })
    }
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
        let waiting: Vec<&StepRecord> = steps
            .iter()
            .filter(|s| s.status == StepStatus::AwaitingInput)
            .collect();
        RunView {
            id: run.id.clone(),
            number: run.number,
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
                .filter(|step| !in_an_item(&step.name))
                .map(|step| StepView::new(step, steps))
                .collect(),
            pending_action: run.pending_action.clone(),
            pending_actions: waiting
                .iter()
                .take(PENDING_SHOWN)
                .filter_map(|s| s.pending.clone())
                .collect(),
            waiting_steps: waiting.len(),
            pause_deadline: run.pause_deadline.map(timestamp),
            result: run.result.clone(),
            error: run.error.clone(),
            input: (*run.input).clone(),
            created_at: timestamp(run.created_at),
            updated_at: timestamp(run.updated_at),
            last_event: run.last_seq,
            parent: match &run.trigger {
                Some(Trigger::Parent { run_id, .. }) => Some(run_id.clone()),
                _ => None,
            },
            trigger: run.trigger.clone(),
        }
    }

    /// Finished, or waiting for a person.
    pub fn is_settled(&self) -> bool {
        self.status.is_settled()
    }
}
