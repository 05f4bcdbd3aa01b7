//! `validate`: checks its input against the JSON Schema in its config. A valid input
//! passes through unchanged; an invalid one fails the step (not retryable) with every
//! violation listed with its JSON Pointer path.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct Validate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    schema: Value,
}

impl Step for Validate {
    type Config = Config;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "validate",
            env!("CARGO_PKG_VERSION"),
            "Checks the input against a JSON Schema; fails listing every violation with its path.",
        )
        .config_schema(json!({
            "type": "object",
            "required": ["schema"],
            "additionalProperties": false,
            "properties": {
                "schema": { "type": ["object", "boolean"], "description": "The JSON Schema (draft 2020-12 unless it says otherwise) the input must satisfy." }
            }
        }))
    }

    fn run(_ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let validator = jsonschema::validator_for(&config.schema)
            .map_err(|e| Error::fatal(format!("invalid schema in config: {e}")))?;
        let violations: Vec<String> = validator
            .iter_errors(&input)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                };
                format!("{path}: {error}")
            })
            .collect();
        if violations.is_empty() {
            Ok(Outcome::Complete(input))
        } else {
            Err(Error::fatal(format!(
                "input does not match the schema ({} violation{}): {}",
                violations.len(),
                if violations.len() == 1 { "" } else { "s" },
                violations.join("; ")
            )))
        }
    }
}

export_step!(Validate);
