//! Plans: workflows a planner wrote from a goal, and the decisions people
//! take on them. A plan is reviewed per version: an approval activates the
//! workflow; a rejection leaves it a draft, with the reviewer's note; an edit
//! makes a new version, which is reviewed afresh.

use serde::{Deserialize, Serialize};

use super::{StepDefinition, WebhookTarget, WorkflowDefinition};

/// Where a planned workflow came from, and who reviews it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    pub workflow_id: String,
    /// The goal as the owner wrote it.
    pub goal: String,
    /// The model that wrote the plan.
    pub model: String,
    /// Model calls it took.
    pub attempts: u32,
    /// Email addresses that review the plan.
    pub reviewers: Vec<String>,
    /// Webhooks told of the plan, with its links (their `events` unused).
    pub webhooks: Vec<WebhookTarget>,
    pub created_at: i64,
}

/// What a plan's reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanDecision {
    /// The workflow becomes active (and its schedule starts).
    Approve,
    /// The workflow stays a draft, with the reviewer's note.
    Reject,
}

impl PlanDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanDecision::Approve => "approve",
            PlanDecision::Reject => "reject",
        }
    }

    pub fn parse(text: &str) -> Option<PlanDecision> {
        match text {
            "approve" => Some(PlanDecision::Approve),
            "reject" => Some(PlanDecision::Reject),
            _ => None,
        }
    }
}

/// How a decision on a plan arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlanChannel {
    /// `POST /v1/workflows/{id}/activate` or `.../plan/reject`, by an API key
    /// (or the dashboard, signed in with it).
    Api,
    /// A link from the plan's email.
    Link,
}

impl PlanChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanChannel::Api => "api",
            PlanChannel::Link => "link",
        }
    }

    pub fn parse(text: &str) -> Option<PlanChannel> {
        match text {
            "api" => Some(PlanChannel::Api),
            "link" => Some(PlanChannel::Link),
            _ => None,
        }
    }
}

/// One decision on one version of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanReview {
    pub version: i64,
    pub decision: PlanDecision,
    /// A key's name, or the email address a link was sent to.
    pub reviewer: String,
    pub channel: PlanChannel,
    pub note: Option<String>,
    pub at: i64,
}

/// The steps of a definition as lines a person reads in an email or a
/// terminal: what each step is, and what stops before it; the steps inside
/// a construct (branches, a map's steps, a switch's cases) are indented
/// under it.
pub fn readable_steps(definition: &WorkflowDefinition) -> Vec<String> {
    let mut lines = Vec::new();
    outline(&definition.steps, "", &mut lines);
    lines
}

fn outline(steps: &[StepDefinition], indent: &str, lines: &mut Vec<String>) {
    let inner = format!("{indent}   ");
    for (index, step) in steps.iter().enumerate() {
        let kind = if !step.step_type.is_empty() {
            step.step_type.clone()
        } else if let Some(parallel) = &step.parallel {
            format!("parallel, {} branches", parallel.branches.len())
        } else if step.map.is_some() {
            "for each item".to_owned()
        } else if step.switch.is_some() {
            "switch".to_owned()
        } else if let Some(wait) = &step.wait {
            match (&wait.duration, &wait.until) {
                (Some(duration), _) => format!("waits {duration}"),
                (None, Some(until)) => format!("waits until {until}"),
                (None, None) => "waits".to_owned(),
            }
        } else if let Some(child) = &step.workflow {
            format!("runs workflow {}", child.id)
        } else {
            "step".to_owned()
        };
        let mut line = format!("{indent}{}. {} ({kind})", index + 1, step.name);
        if let Some(when) = &step.when {
            line.push_str(&format!(", only when {when}"));
        }
        if let Some(gate) = &step.approval {
            let who = if gate.reviewers.is_empty() {
                String::new()
            } else {
                format!(" by {}", gate.reviewers.join(", "))
            };
            line.push_str(&format!("; then waits for approval{who}: {}", gate.message));
        }
        lines.push(line);
        if let Some(parallel) = &step.parallel {
            for (branch, steps) in &parallel.branches {
                lines.push(format!("{inner}branch {branch}:"));
                outline(steps, &format!("{inner}   "), lines);
            }
        }
        if let Some(map) = &step.map {
            outline(&map.steps, &inner, lines);
        }
        if let Some(switch) = &step.switch {
            for case in &switch.cases {
                lines.push(format!("{inner}case {} (when {}):", case.name, case.when));
                outline(&case.steps, &format!("{inner}   "), lines);
            }
            if let Some(steps) = &switch.default {
                lines.push(format!("{inner}otherwise:"));
                outline(steps, &format!("{inner}   "), lines);
            }
        }
    }
}
