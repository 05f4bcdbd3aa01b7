//! Workflow definitions: the model, validation, input templates and conditions.
//! Knows nothing of wasmtime, SQL or HTTP.

mod plan;
mod schedule;
mod template;
mod validate;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use serde_json::Value;

pub use plan::{PlanChannel, PlanDecision, PlanRecord, PlanReview, readable_steps};
pub use schedule::{CatchUp, Missed, Overlap, Plan, Schedule, ScheduleSpec};
pub use template::{Templates, template_context};
pub use validate::{LanguageLimits, Problem, StepCatalog, validate, warnings};

/// A workflow as its author writes it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub steps: Vec<StepDefinition>,
    /// Whether a second run may start while one is active.
    #[serde(default)]
    pub concurrency: ConcurrencyPolicy,
    /// How long a run may stay paused before it times out, e.g. `"72h"`;
    /// a gate's own `timeout` takes precedence. Unset: paused runs wait forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_lifetime: Option<String>,
    /// Runs started on a cron schedule, besides those started on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// Who hears about the runs, and of what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

/// Webhooks and emails sent when runs pause or end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailTarget>,
}

/// A webhook, signed the Standard Webhooks way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    pub url: String,
    /// The tenant secret that signs the deliveries, as `${secret:NAME}`; its
    /// value is `whsec_` and the base64 of the key, as Standard Webhooks has
    /// it, and never appears in the definition.
    pub secret: String,
    #[serde(default = "paused_only")]
    pub events: Vec<NotifyEvent>,
}

impl WebhookTarget {
    /// The name in `secret` when it is one `${secret:NAME}` placeholder.
    pub fn secret_name(&self) -> Option<&str> {
        let name = self.secret.strip_prefix("${secret:")?.strip_suffix('}')?;
        crate::egress::check_secret_name(name).ok().map(|()| name)
    }
}

/// Emails: a paused gate's reviewers get their approval links, and `to` gets
/// word of the events it asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTarget {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(default = "paused_only")]
    pub events: Vec<NotifyEvent>,
    /// Whether a gate's reviewers (those that are email addresses) are sent
    /// their approval links when the run pauses there.
    #[serde(default = "yes")]
    pub reviewers: bool,
}

fn paused_only() -> Vec<NotifyEvent> {
    vec![NotifyEvent::Paused]
}

fn yes() -> bool {
    true
}

/// A run event notifications can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    Paused,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl NotifyEvent {
    /// The name in a workflow's settings and, after `run.`, in a
    /// notification's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Paused => "paused",
            NotifyEvent::Completed => "completed",
            NotifyEvent::Failed => "failed",
            NotifyEvent::Cancelled => "cancelled",
            NotifyEvent::TimedOut => "timed_out",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyPolicy {
    #[default]
    Allow,
    Forbid,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Unique within the workflow; templates refer to it as `steps.<name>`.
    pub name: String,
    /// A plugin name, optionally with a version requirement: `transform`,
    /// `transform@0.1`, `transform@=0.1.2`. Empty for a construct of the
    /// language (`parallel`, `map`, `switch`, `wait`, `workflow`), whose
    /// semantics are the host's.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub step_type: String,
    /// Named branches, each a list of steps, run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Parallel>,
    /// Steps run for each item of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapOver>,
    /// The steps of the first case whose condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<Switch>,
    /// A durable timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// Another workflow of the tenant, run as a child run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<SubWorkflow>,
    #[serde(default = "empty_object")]
    pub config: Value,
    /// The step's input: a JSON value whose strings are minijinja templates over
    /// `input` (the run's input), `steps.<name>.output` and `run.id`. A string that
    /// is one `{{ expression }}` keeps the expression's JSON type. Unset: the
    /// previous step's output, or the run input for the first step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// A minijinja expression; when false the step is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Pause after the step completed, for a person to review its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalGate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Wall-time limit of one attempt, e.g. `"10s"`; never above the operator's cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Where the step may send HTTP requests, and which of the tenant's
    /// secrets it may use there. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<crate::egress::HttpGrant>,
}

/// What a step entry is: a plugin call or one of the language's constructs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepKind<'d> {
    Plugin(&'d str),
    Parallel(&'d Parallel),
    Map(&'d MapOver),
    Switch(&'d Switch),
    Wait(&'d Wait),
    Workflow(&'d SubWorkflow),
}

impl StepKind<'_> {
    /// The construct's key in a step entry; `type` for a plugin call.
    pub fn keyword(self) -> &'static str {
        match self {
            StepKind::Plugin(_) => "type",
            StepKind::Parallel(_) => "parallel",
            StepKind::Map(_) => "map",
            StepKind::Switch(_) => "switch",
            StepKind::Wait(_) => "wait",
            StepKind::Workflow(_) => "workflow",
        }
    }
}

impl StepDefinition {
    /// What the entry is; validation makes sure that it is exactly one thing
    /// (a plugin call when nothing else is given).
    pub fn kind(&self) -> StepKind<'_> {
        if let Some(parallel) = &self.parallel {
            StepKind::Parallel(parallel)
        } else if let Some(map) = &self.map {
            StepKind::Map(map)
        } else if let Some(switch) = &self.switch {
            StepKind::Switch(switch)
        } else if let Some(wait) = &self.wait {
            StepKind::Wait(wait)
        } else if let Some(workflow) = &self.workflow {
            StepKind::Workflow(workflow)
        } else {
            StepKind::Plugin(&self.step_type)
        }
    }

    /// The keys of the entry that say what it is (`type` and the constructs'),
    /// to tell an entry that says two things apart.
    pub fn kinds_given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if !self.step_type.is_empty() {
            given.push("type");
        }
        for (present, key) in [
            (self.parallel.is_some(), "parallel"),
            (self.map.is_some(), "map"),
            (self.switch.is_some(), "switch"),
            (self.wait.is_some(), "wait"),
            (self.workflow.is_some(), "workflow"),
        ] {
            if present {
                given.push(key);
            }
        }
        given
    }

    /// The step lists inside the entry, each with its scope's name in paths
    /// and its JSON pointer under the entry: a branch, the map's item steps
    /// (named `[]`), a case, the default.
    pub fn scopes(&self) -> Vec<(String, String, &[StepDefinition])> {
        match self.kind() {
            StepKind::Parallel(parallel) => parallel
                .branches
                .iter()
                .map(|(name, steps)| {
                    let pointer = format!("/parallel/branches/{name}");
                    (name.clone(), pointer, steps.as_slice())
                })
                .collect(),
            StepKind::Map(map) => vec![("[]".to_owned(), "/map/steps".to_owned(), &map.steps[..])],
            StepKind::Switch(switch) => {
                let mut scopes: Vec<(String, String, &[StepDefinition])> = switch
                    .cases
                    .iter()
                    .enumerate()
                    .map(|(index, case)| {
                        let pointer = format!("/switch/cases/{index}/steps");
                        (case.name.clone(), pointer, case.steps.as_slice())
                    })
                    .collect();
                if let Some(default) = &switch.default {
                    let pointer = "/switch/default".to_owned();
                    scopes.push((DEFAULT_CASE.to_owned(), pointer, default.as_slice()));
                }
                scopes
            }
            StepKind::Plugin(_) | StepKind::Wait(_) | StepKind::Workflow(_) => Vec::new(),
        }
    }
}

/// The name of a switch's default case, in paths and in its output.
pub const DEFAULT_CASE: &str = "default";

/// `parallel`: named branches run at once; the output is an object keyed by
/// branch (each branch's last output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Parallel {
    /// Each branch's steps, by branch name.
    #[schema(no_recursion)]
    pub branches: std::collections::BTreeMap<String, Vec<StepDefinition>>,
    #[serde(default)]
    pub fail: FailMode,
}

/// What a `parallel` does when a branch fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// The other branches are cancelled, and the step fails.
    #[default]
    Fast,
    /// The other branches run to their end; the step fails with every reason.
    All,
}

/// `map`: `steps` run for each item of the array `items` renders to, with
/// `item` and `index` in their templates' scope, `concurrency` items at
/// once; the output is the array of the items' outputs, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapOver {
    /// A template giving a JSON array (or an array literal).
    pub items: Value,
    /// What runs for each item.
    #[schema(no_recursion)]
    pub steps: Vec<StepDefinition>,
    /// Items run at once (at most 1,000).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
}

fn default_concurrency() -> u32 {
    10
}

/// `switch`: the first case whose `when` holds runs; else the `default`, if
/// any. The output is `{"case": name, "output": that case's last output}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub cases: Vec<Case>,
    /// What runs when no case holds; without it, that fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub default: Option<Vec<StepDefinition>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// How paths and the switch's output name the case.
    pub name: String,
    /// A condition, as a step's `when`.
    pub when: String,
    #[schema(no_recursion)]
    pub steps: Vec<StepDefinition>,
}

/// `wait`: a durable timer, `for` a duration or `until` a time (a template
/// giving RFC 3339). Its output is its input, passed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// `workflow`: another workflow of the same tenant, started as a child run
/// (on its active version) with the step's `input`, and waited for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubWorkflow {
    /// The child workflow's id.
    pub id: String,
    /// Whether the child's failure fails the step (else it is the output).
    #[serde(default = "yes")]
    pub fail_on_error: bool,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A gate that pauses the run after its step, showing the step's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalGate {
    #[serde(default = "default_gate_message")]
    pub message: String,
    #[serde(default = "default_gate_options")]
    pub options: Vec<String>,
    /// Options that reject: the run ends as cancelled with the reviewer's note.
    #[serde(default = "default_gate_reject")]
    pub reject: Vec<String>,
    /// How long the gate waits, e.g. `"24h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default)]
    pub on_timeout: TimeoutAction,
    /// Who decides (emails or names): each gets an approval link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<String>,
    /// Approvals by different reviewers needed before the run goes on; one
    /// rejection ends it.
    #[serde(default = "one")]
    pub required: u32,
}

fn one() -> u32 {
    1
}

fn default_gate_message() -> String {
    "Please review".to_owned()
}
fn default_gate_options() -> Vec<String> {
    vec!["approve".to_owned(), "reject".to_owned()]
}
fn default_gate_reject() -> Vec<String> {
    vec!["reject".to_owned()]
}

/// What happens when a paused step's time is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutAction {
    /// The run fails with reason `timed_out`.
    #[default]
    Fail,
    /// The gate is approved (with its first non-rejecting option).
    Approve,
    /// The gate is rejected: the run ends as cancelled.
    Reject,
}

/// Retries of retryable failures, with exponential backoff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: String,
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff: String,
}

fn default_max_attempts() -> u32 {
    3
}
fn default_initial_backoff() -> String {
    "1s".to_owned()
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_max_backoff() -> String {
    "5m".to_owned()
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after attempt `attempt` failed.
    /// Durations were checked by validation; a bad one counts as zero.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let initial = parse_duration(&self.initial_backoff).unwrap_or_default();
        let max = parse_duration(&self.max_backoff).unwrap_or_default();
        let factor = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let wait = initial.as_secs_f64() * factor;
        Duration::from_secs_f64(wait.min(max.as_secs_f64()))
    }
}

/// Parses `"30s"`, `"5m"`, `"1h 30m"`, `"250ms"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| {
        format!("'{text}' is not a duration ({e}); write e.g. \"30s\", \"5m\", \"24h\"")
    })
}

impl WorkflowDefinition {
    /// Parses JSON text, reporting a structural error with its path.
    pub fn from_json(text: &str) -> Result<WorkflowDefinition, Problem> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(deserializer).map_err(|e| Problem {
            path: json_pointer(&e.path().to_string()),
            message: e.inner().to_string(),
        })
    }

    pub fn from_value(value: Value) -> Result<WorkflowDefinition, Problem> {
        serde_path_to_error::deserialize(value).map_err(|e| Problem {
            path: json_pointer(&e.path().to_string()),
            message: e.inner().to_string(),
        })
    }

    /// Every step entry at any depth, in pre-order (constructs and the
    /// steps inside them).
    pub fn all_steps(&self) -> Vec<&StepDefinition> {
        fn walk<'d>(steps: &'d [StepDefinition], found: &mut Vec<&'d StepDefinition>) {
            for step in steps {
                found.push(step);
                for (_, _, list) in step.scopes() {
                    walk(list, found);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.steps, &mut found);
        found
    }

    /// The workflows its `workflow` steps start, at any depth, with the
    /// pointers of their ids.
    pub fn children(&self) -> Vec<(String, String)> {
        fn walk(steps: &[StepDefinition], pointer: &str, found: &mut Vec<(String, String)>) {
            for (index, step) in steps.iter().enumerate() {
                let at = format!("{pointer}/{index}");
                if let Some(workflow) = &step.workflow {
                    found.push((format!("{at}/workflow/id"), workflow.id.clone()));
                }
                for (_, inner, list) in step.scopes() {
                    walk(list, &format!("{at}{inner}"), found);
                }
            }
        }
        let mut found = Vec::new();
        walk(&self.steps, "/steps", &mut found);
        found
    }

    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|step| step.name == name)
    }
}

/// Turns serde_path_to_error's `steps[1].type` into a JSON pointer `/steps/1/type`.
fn json_pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    let mut pointer = String::new();
    for part in path.split('.') {
        for piece in part.split('[') {
            let piece = piece.trim_end_matches(']');
            if !piece.is_empty() {
                pointer.push('/');
                pointer.push_str(piece);
            }
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_errors_name_their_path() {
        let error = WorkflowDefinition::from_json(
            r#"{"name": "w", "steps": [{"name": "a", "type": "noop"}, {"name": "b", "type": 3}]}"#,
        )
        .expect_err("type must be a string");
        assert_eq!(error.path, "/steps/1/type");
        assert!(
            error.message.contains("expected a string"),
            "{}",
            error.message
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let retry = RetryPolicy {
            max_attempts: 5,
            initial_backoff: "100ms".into(),
            multiplier: 3.0,
            max_backoff: "1s".into(),
        };
        let waits: Vec<u128> = (1..=4)
            .map(|attempt| retry.backoff(attempt).as_millis())
            .collect();
        assert_eq!(waits, [100, 300, 900, 1000]);
    }
}
