//! `review`: pauses the run for a decision. The pending action's kind, message and
//! options come from the config, and the step's input is the data to review. On
//! resume it completes with the decision, or fails (not retryable) when the decision
//! is one of the rejecting options.
//!
//! A decision is either an option as a JSON string (`"approve"`) or an object
//! `{"decision": "approve", "note": "..."}`.

use cairn_sdk::{Context, Error, Info, Outcome, PendingAction, Step, Value, export_step, json};
use serde::{Deserialize, Serialize};

struct Review;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default = "default_message")]
    message: String,
    #[serde(default = "default_options")]
    options: Vec<String>,
    #[serde(default = "default_reject")]
    reject: Vec<String>,
    /// Ask for free-form input instead of an option: the host checks decisions
    /// against this JSON Schema, and the step completes with `{"input": decision}`.
    #[serde(default)]
    input_schema: Option<Value>,
}

fn default_kind() -> String {
    "approval".to_owned()
}
fn default_message() -> String {
    "Please review".to_owned()
}
fn default_options() -> Vec<String> {
    vec!["approve".to_owned(), "reject".to_owned()]
}
fn default_reject() -> Vec<String> {
    vec!["reject".to_owned()]
}

/// Kept with the paused run: the options that were offered and which reject, so
/// that a resume is judged by what the reviewer saw even if the workflow changed.
#[derive(Serialize, Deserialize)]
struct Checkpoint {
    options: Vec<String>,
    reject: Vec<String>,
    #[serde(default)]
    free_form: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Decision {
    Option(String),
    Detailed {
        decision: String,
        #[serde(default)]
        note: Option<String>,
    },
}

impl Step for Review {
    type Config = Config;
    type Input = Value;
    type Checkpoint = Checkpoint;

    fn info() -> Info {
        Info::new(
            "review",
            env!("CARGO_PKG_VERSION"),
            "Pauses for a decision on its input; completes with the decision or fails on a rejection.",
        )
        .config_schema(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "kind": { "type": "string", "default": "approval" },
                "message": { "type": "string", "default": "Please review" },
                "options": { "type": "array", "items": { "type": "string" }, "minItems": 1, "default": ["approve", "reject"] },
                "reject": { "type": "array", "items": { "type": "string" }, "default": ["reject"], "description": "Options that reject: the step fails with the reviewer's note." },
                "input_schema": { "type": "object", "description": "Ask for free-form input checked against this JSON Schema instead of an option." }
            }
        }))
        .output_schema(json!({
            "type": "object",
            "description": "{decision, note} for an option, or {input} for free-form input.",
            "properties": {
                "decision": { "type": "string" },
                "note": { "type": ["string", "null"] },
                "input": {}
            }
        }))
    }

    fn run(ctx: &Context, config: Config, input: Value) -> Result<Outcome<Checkpoint>, Error> {
        ctx.progress(0, "waiting for a decision");
        let free_form = config.input_schema.is_some();
        let options = if free_form {
            Vec::new()
        } else {
            config.options
        };
        let action = PendingAction {
            kind: config.kind,
            message: config.message,
            options: options.clone(),
            input_schema: config.input_schema,
            data: input,
        };
        let checkpoint = Checkpoint {
            options,
            reject: config.reject,
            free_form,
        };
        Outcome::pause(action, checkpoint)
    }

    fn resume(
        _ctx: &Context,
        _config: Config,
        _input: Value,
        checkpoint: Checkpoint,
        decision: Value,
    ) -> Result<Outcome<Checkpoint>, Error> {
        if checkpoint.free_form {
            return Outcome::complete(json!({ "input": decision }));
        }
        let (decision, note) = match serde_json::from_value(decision) {
            Ok(Decision::Option(decision)) => (decision, None),
            Ok(Decision::Detailed { decision, note }) => (decision, note),
            Err(_) => {
                return Err(Error::fatal(
                    "a decision is an option string or {\"decision\": option, \"note\": text}",
                ));
            }
        };
        if !checkpoint.options.contains(&decision) {
            return Err(Error::fatal(format!(
                "decision '{decision}' is not one of the options offered: {}",
                checkpoint.options.join(", ")
            )));
        }
        if checkpoint.reject.contains(&decision) {
            let reason = match &note {
                Some(note) => format!("rejected: {note}"),
                None => "rejected".to_owned(),
            };
            return Err(Error::fatal(reason));
        }
        Outcome::complete(json!({ "decision": decision, "note": note }))
    }
}

export_step!(Review);
