//! Whether a decision answers what a paused run waits for: one of its
//! options (with a note), or a value its input schema accepts.

use serde_json::Value;

use super::PendingAction;

/// A decision among the pending action's options: the option and the note.
pub type Choice = Option<(String, Option<String>)>;

/// Checks a decision against what the run waits for.
pub fn check_decision(pending: Option<&PendingAction>, decision: &Value) -> Result<Choice, String> {
    let options: Vec<&str> = pending
        .map(|p| p.options.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if !options.is_empty() {
        let (option, note) = match decision {
            Value::String(option) => (option.clone(), None),
            Value::Object(fields) => match (fields.get("decision"), fields.get("note")) {
                (Some(Value::String(option)), None | Some(Value::Null)) => (option.clone(), None),
                (Some(Value::String(option)), Some(Value::String(note))) => {
                    (option.clone(), Some(note.clone()))
                }
                _ => {
                    return Err(
                        "a decision is an option, or {\"decision\": option, \"note\": text}"
                            .to_owned(),
                    );
                }
            },
            _ => {
                return Err(
                    "a decision is an option, or {\"decision\": option, \"note\": text}".to_owned(),
                );
            }
        };
        if !options.contains(&option.as_str()) {
            return Err(format!(
                "'{option}' is not one of the options: {}",
                options.join(", ")
            ));
        }
        return Ok(Some((option, note)));
    }
    if let Some(schema) = pending
        .and_then(|p| p.input_schema.as_ref())
        .filter(|s| !s.is_null())
    {
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| format!("the pending action's input schema is invalid: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(decision)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "the decision does not match the input schema: {}",
                errors.join("; ")
            ));
        }
    }
    Ok(None)
}
