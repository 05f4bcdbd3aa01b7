//! What the model is told: the prompt (`prompt.md`, with the catalog filled
//! in) and the JSON Schema of its answer, made from the tenant's step types:
//! each step entry is one of them, with that type's config schema.

use serde_json::{Value, json};

use super::{MAX_PLAN_STEPS, StepType};

const PROMPT: &str = include_str!("prompt.md");

/// The system prompt, with today's date and the step types.
pub fn prompt(types: &[StepType], today: &str) -> String {
    let mut catalog = String::new();
    for step in types {
        catalog.push_str(&format!("## {}\n\n{}\n", step.name, step.description));
        if let Some(audience) = &step.audience {
            catalog.push_str(&format!(
                "It reaches an audience ({audience}): the host reviews its input first.\n"
            ));
        }
        let schema = |value: &Option<Value>| {
            value
                .as_ref()
                .map_or_else(|| "any JSON".to_owned(), Value::to_string)
        };
        catalog.push_str(&format!(
            "\nconfig schema: {}\ninput schema: {}\n\n",
            schema(&step.config_schema),
            schema(&step.input_schema)
        ));
    }
    PROMPT
        .replace("{{today}}", today)
        .replace("{{step_types}}", catalog.trim_end())
}

/// The JSON Schema of a plan: name, description, steps (each one of
/// `types`), and an optional schedule.
pub fn response_schema(types: &[StepType]) -> Value {
    let steps: Vec<Value> = types.iter().map(step_schema).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "description", "steps"],
        "properties": {
            "name": {"type": "string", "description": "A short title of the workflow."},
            "description": {"type": "string"},
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_PLAN_STEPS, "items": {"anyOf": steps}},
            "schedule": {
                "type": "object",
                "additionalProperties": false,
                "required": ["cron"],
                "properties": {
                    "cron": {"type": "string", "description": "min hour day month weekday"},
                    "timezone": {"type": "string", "description": "IANA zone, e.g. Europe/Paris"},
                    "input": {"type": "object", "description": "The input of every scheduled run."},
                },
            },
        },
    })
}

fn step_schema(step: &StepType) -> Value {
    let config = step
        .config_schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    json!({
        "type": "object",
        "description": step.description,
        "additionalProperties": false,
        "required": ["name", "type", "config"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "maxLength": 64},
            "type": {"const": step.name},
            "config": config,
            "input": {"description": "JSON whose strings are templates over input, steps.<name>.output and run.id"},
            "when": {"type": "string", "description": "An expression; the step is skipped when false."},
            "approval": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"message": {"type": "string"}},
            },
            "retry": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"max_attempts": {"type": "integer", "minimum": 1, "maximum": 10}},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<StepType> {
        vec![
            StepType {
                name: "transform".into(),
                description: "Reshapes JSON.".into(),
                config_schema: Some(json!({"type": "object", "required": ["template"]})),
                input_schema: None,
                audience: None,
            },
            StepType {
                name: "notify".into(),
                description: "Posts a message.".into(),
                config_schema: None,
                input_schema: None,
                audience: Some("the channel's readers".into()),
            },
        ]
    }

    #[test]
    fn the_schema_offers_each_step_type_with_its_config_schema() {
        let schema = response_schema(&types());
        let choices = schema["properties"]["steps"]["items"]["anyOf"]
            .as_array()
            .expect("choices");
        assert_eq!(choices.len(), 2);
        assert_eq!(choices[0]["properties"]["type"]["const"], "transform");
        assert_eq!(
            choices[0]["properties"]["config"]["required"],
            json!(["template"])
        );
        assert_eq!(
            choices[1]["properties"]["config"],
            json!({"type": "object"})
        );
    }

    #[test]
    fn the_prompt_lists_the_catalog_and_the_date() {
        let prompt = prompt(&types(), "2026-12-02");
        assert!(prompt.contains("Today is 2026-12-02."));
        assert!(prompt.contains("## transform\n\nReshapes JSON."));
        assert!(prompt.contains("It reaches an audience (the channel's readers)"));
        assert!(!prompt.contains("{{today}}") && !prompt.contains("{{step_types}}"));
    }
}
