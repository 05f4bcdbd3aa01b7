//! The planner: from a goal in words to a workflow definition. A model behind
//! an OpenAI-compatible chat-completions endpoint, which the operator
//! configured, writes the plan as structured output under a JSON Schema made
//! from the tenant's step catalog. Its answer is data, never trusted: it is
//! capped, parsed, checked exactly as a hand-written definition is, and sent
//! back with its problems until it passes or the attempts run out. The host
//! then puts a review gate before every step that reaches an audience.
//!
//! Knows nothing of SQL or HTTP serving; it speaks to the model through the
//! one outbound client, under a policy that allows only the configured
//! endpoint.

mod gates;
mod model;
mod schema;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::egress::{EgressPolicy, Target};
use crate::workflow::{Problem, ScheduleSpec, parse_duration};

pub use gates::add_review_gates;

/// The longest goal, in bytes.
pub const MAX_GOAL_BYTES: usize = 4000;
/// The most steps a plan may have.
pub const MAX_PLAN_STEPS: usize = 50;
/// The largest answer read from the model, in bytes.
const MAX_ANSWER_BYTES: usize = 64 << 10;

/// The operator's planner: which model writes plans, and how patiently.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlannerSettings {
    /// The OpenAI-compatible API, e.g. `https://api.openai.com/v1` or
    /// `http://localhost:11434/v1` (Ollama); `/chat/completions` is added.
    pub base_url: String,
    pub model: String,
    /// The API key, sent as a bearer token (set it through
    /// `CAIRN_PLANNER__API_KEY` rather than in a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The tenant secret that holds the API key, so that each tenant plans
    /// on its own account; when the tenant has no such secret, `api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// How long one model call may take.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// Model calls per plan, retries of rate limits and corrections included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_timeout() -> String {
    "60s".to_owned()
}

fn default_max_attempts() -> u32 {
    3
}

/// A step type as the planner shows it to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct StepType {
    pub name: String,
    pub description: String,
    pub config_schema: Option<Value>,
    pub input_schema: Option<Value>,
    /// Who sees what the step does, when it publishes or sends something to
    /// an audience: such steps get a review gate before them.
    pub audience: Option<String>,
}

/// What the owner asked for.
#[derive(Debug, Clone)]
pub struct Goal {
    pub text: String,
    /// A schedule the owner set; the model may not change it.
    pub schedule: Option<ScheduleSpec>,
    /// Who reviews the plan and the gates the host adds.
    pub reviewers: Vec<String>,
    /// Today's date, for the prompt (`YYYY-MM-DD`).
    pub today: String,
}

/// A plan that passed the checks.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The definition, review gates included.
    pub definition: Value,
    /// Model calls it took.
    pub attempts: u32,
}

/// Why no plan came out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    /// The model's last answer still had these problems.
    #[error("the model's plan still had {} problem(s) after {attempts} attempt(s)", problems.len())]
    Invalid {
        problems: Vec<Problem>,
        attempts: u32,
    },
    /// The model server could not be reached or refused.
    #[error("{0}")]
    Unavailable(String),
    /// The model server did not answer in time.
    #[error("{0}")]
    TimedOut(String),
}

/// A configured planner.
#[derive(Debug, Clone)]
pub struct Planner {
    settings: PlannerSettings,
    url: String,
    target: Target,
    policy: EgressPolicy,
    timeout: Duration,
}

impl Planner {
    pub fn new(settings: PlannerSettings) -> Result<Planner, String> {
        let url = format!(
            "{}/chat/completions",
            settings.base_url.trim_end_matches('/')
        );
        let target = Target::parse("POST", &url).map_err(|e| format!("planner.base_url: {e}"))?;
        let timeout =
            parse_duration(&settings.timeout).map_err(|e| format!("planner.timeout: {e}"))?;
        if settings.max_attempts == 0 {
            return Err("planner.max_attempts must be at least 1".to_owned());
        }
        if settings.model.trim().is_empty() {
            return Err("planner.model must name a model".to_owned());
        }
        Ok(Planner {
            policy: EgressPolicy::only(&target),
            settings,
            url,
            target,
            timeout,
        })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    /// The tenant secret that may hold the API key.
    pub fn api_key_secret(&self) -> Option<&str> {
        self.settings.api_key_secret.as_deref()
    }

    /// The operator's API key.
    pub fn api_key(&self) -> Option<&str> {
        self.settings.api_key.as_deref()
    }

    /// Asks the model for a plan for `goal` from `types`, and has `check`
    /// judge each answer as the host judges any definition (empty: valid).
    /// Problems go back to the model until an answer passes or
    /// `max_attempts` calls were made.
    pub async fn plan(
        &self,
        goal: &Goal,
        types: &[StepType],
        api_key: Option<&str>,
        check: impl Fn(&Value) -> Vec<Problem>,
    ) -> Result<Plan, PlanError> {
        let schema = schema::response_schema(types);
        let mut messages = vec![
            json!({"role": "system", "content": schema::prompt(types, &goal.today)}),
            json!({"role": "user", "content": user_message(goal)}),
        ];
        let mut failure = PlanError::Unavailable("the planner made no attempt".to_owned());
        let mut wait = Duration::ZERO;
        for attempt in 1..=self.settings.max_attempts {
            tokio::time::sleep(wait).await;
            let content = match model::complete(self, &messages, &schema, api_key).await {
                Ok(content) => content,
                Err(model::CallError::TimedOut(message)) => {
                    return Err(PlanError::TimedOut(message));
                }
                Err(model::CallError::Refused(message)) => {
                    return Err(PlanError::Unavailable(message));
                }
                Err(model::CallError::Retryable { message, after }) => {
                    wait = after.unwrap_or_else(|| backoff(attempt));
                    failure = PlanError::Unavailable(message);
                    continue;
                }
            };
            wait = Duration::ZERO;
            let problems = match answer(&content, goal) {
                Ok(definition) => {
                    let problems = check(&definition);
                    if problems.is_empty() {
                        // The review gates are the host's own: the runner
                        // checks the definition with them when it stores it.
                        return Ok(Plan {
                            definition: add_review_gates(definition, types, &goal.reviewers),
                            attempts: attempt,
                        });
                    }
                    problems
                }
                Err(problems) => problems,
            };
            messages.push(json!({"role": "assistant", "content": content}));
            messages.push(json!({"role": "user", "content": correction(&problems)}));
            failure = PlanError::Invalid {
                problems,
                attempts: attempt,
            };
        }
        Err(failure)
    }
}

/// 0.5 s, 1 s, 2 s, ... at most 8 s between retries of a model call.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500 << attempt.saturating_sub(1).min(4))
}

fn user_message(goal: &Goal) -> String {
    let mut text = format!("Goal: {}", goal.text.trim());
    if let Some(schedule) = &goal.schedule {
        text.push_str(&format!(
            "\n\nThe workflow runs on the cron schedule `{}` in {}; the host sets that \
             schedule itself.",
            schedule.cron, schedule.timezone
        ));
    }
    text
}

fn correction(problems: &[Problem]) -> String {
    let mut text = String::from("Your answer has these problems:\n");
    for problem in problems {
        let at = if problem.path.is_empty() {
            "(the whole answer)"
        } else {
            &problem.path
        };
        text.push_str(&format!("- {at}: {}\n", problem.message));
    }
    text.push_str("Answer again with the whole corrected workflow as one JSON object.");
    text
}

/// The model's answer as a definition: parsed, capped, with only the fields a
/// plan may have, and the owner's schedule in place of any the model wrote.
fn answer(content: &str, goal: &Goal) -> Result<Value, Vec<Problem>> {
    let whole = |message: String| {
        vec![Problem {
            path: String::new(),
            message,
        }]
    };
    if content.len() > MAX_ANSWER_BYTES {
        return Err(whole(format!(
            "the answer is {} bytes; a plan is at most {MAX_ANSWER_BYTES}",
            content.len()
        )));
    }
    let text = content.trim();
    let text = text
        .strip_prefix("```json")
        .or_else(|| text.strip_prefix("```"))
        .and_then(|t| t.trim_end().strip_suffix("```"))
        .unwrap_or(text);
    let mut value: Value = serde_json::from_str(text)
        .map_err(|e| whole(format!("the answer is not a JSON object: {e}")))?;
    let Some(object) = value.as_object_mut() else {
        return Err(whole("the answer must be one JSON object".to_owned()));
    };
    let mut problems = Vec::new();
    for key in object.keys() {
        if !["name", "description", "steps", "schedule"].contains(&key.as_str()) {
            problems.push(Problem {
                path: format!("/{key}"),
                message: "not part of a plan: write only name, description, steps and schedule"
                    .to_owned(),
            });
        }
    }
    if let Some(steps) = object.get("steps").and_then(Value::as_array)
        && steps.len() > MAX_PLAN_STEPS
    {
        problems.push(Problem {
            path: "/steps".to_owned(),
            message: format!("{} steps; a plan has at most {MAX_PLAN_STEPS}", steps.len()),
        });
    }
    if let Some(schedule) = &goal.schedule {
        object.insert(
            "schedule".to_owned(),
            serde_json::to_value(schedule).unwrap_or_default(),
        );
    }
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal() -> Goal {
        Goal {
            text: "news".into(),
            schedule: None,
            reviewers: vec![],
            today: "2026-12-02".into(),
        }
    }

    #[test]
    fn an_answer_is_parsed_capped_and_kept_to_the_fields_of_a_plan() {
        let ok = answer("```json\n{\"name\": \"n\", \"steps\": []}\n```", &goal());
        assert_eq!(ok, Ok(json!({"name": "n", "steps": []})));
        let not_json = answer("here is your plan: {", &goal()).expect_err("not JSON");
        assert!(
            not_json[0].message.contains("not a JSON object"),
            "{not_json:?}"
        );
        let extra = answer(
            r#"{"name": "n", "steps": [], "notifications": {}}"#,
            &goal(),
        )
        .expect_err("extra field");
        assert_eq!(extra[0].path, "/notifications");
        let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
        assert!(answer(&huge, &goal()).is_err());
    }

    #[test]
    fn the_owners_schedule_replaces_the_models() {
        let mut with = goal();
        with.schedule = Some(
            serde_json::from_value(json!({"cron": "0 9 * * 1", "timezone": "Europe/Paris"}))
                .expect("spec"),
        );
        let plan = answer(
            r#"{"name": "n", "steps": [], "schedule": {"cron": "* * * * *"}}"#,
            &with,
        )
        .expect("valid");
        assert_eq!(plan["schedule"]["cron"], "0 9 * * 1");
        assert_eq!(plan["schedule"]["timezone"], "Europe/Paris");
    }
}
