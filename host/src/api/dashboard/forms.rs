//! Forms built from a JSON Schema, and the JSON value a posted form makes.
//! An object's properties of the common types (strings, with `enum` as a
//! choice, numbers, integers, booleans) become fields with the schema's
//! limits as the browser's own checks; anything else is written as JSON.
//! The server checks the value against the schema all the same.

use serde::Serialize;
use serde_json::{Map, Value};

/// A posted form's fields, in order (names may repeat).
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One field of a schema's form.
#[derive(Debug, Serialize)]
pub struct Field {
    /// The property, and the form field's name (`f.<name>`).
    pub name: String,
    pub label: String,
    /// `text`, `textarea`, `number`, `integer`, `checkbox`, `select` or `json`.
    pub kind: &'static str,
    pub required: bool,
    pub description: Option<String>,
    /// A `select`'s choices.
    pub choices: Vec<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    /// What the field shows: the value sent, or the schema's default.
    pub value: String,
    pub error: Option<String>,
}

/// The form for `schema`; None when it is not an object with properties
/// (the form is then one JSON field).
pub fn fields(schema: &Value) -> Option<Vec<Field>> {
    let properties = schema.get("properties")?.as_object()?;
    if properties.is_empty() {
        return None;
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The required first; then by name (the schema's own order is not kept).
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, property)| field(name, property, required.contains(&name.as_str())))
        .collect();
    fields.sort_by_key(|field| !field.required);
    Some(fields)
}

fn field(name: &str, property: &Value, required: bool) -> Field {
    let text = |key: &str| property.get(key).and_then(Value::as_str).map(str::to_owned);
    let number = |key: &str| property.get(key).and_then(Value::as_f64);
    let count = |key: &str| property.get(key).and_then(Value::as_u64);
    let choices: Vec<String> = property
        .get("enum")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let kind = match property.get("type").and_then(Value::as_str) {
        _ if !choices.is_empty() => "select",
        Some("string")
            if count("maxLength").is_none_or(|n| n > 200) && text("format").is_none() =>
        {
            "textarea"
        }
        Some("string") => "text",
        Some("integer") => "integer",
        Some("number") => "number",
        Some("boolean") => "checkbox",
        _ => "json",
    };
    let value = match property.get("default") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) if kind == "json" => serde_json::to_string_pretty(other).unwrap_or_default(),
        Some(other) => other.to_string(),
    };
    Field {
        name: name.to_owned(),
        label: text("title").unwrap_or_else(|| name.replace('_', " ")),
        kind,
        required,
        description: text("description"),
        choices,
        minimum: number("minimum"),
        maximum: number("maximum"),
        min_length: count("minLength"),
        max_length: count("maxLength"),
        pattern: text("pattern"),
        value,
        error: None,
    }
}

/// The value `form` makes of `fields`, which keep what was sent (to be
/// shown again) and, where it cannot be read, why; `Err` then.
pub fn read(fields: &mut [Field], form: &Fields) -> Result<Value, ()> {
    let mut object = Map::new();
    let mut failed = false;
    for field in fields.iter_mut() {
        let sent = form.get(&format!("f.{}", field.name));
        field.value = sent.unwrap_or_default().to_owned();
        if field.kind == "checkbox" {
            field.value = sent.is_some().to_string();
            object.insert(field.name.clone(), Value::Bool(sent.is_some()));
            continue;
        }
        let text = field.value.trim();
        if text.is_empty() {
            // Left out: the schema says whether it may be.
            continue;
        }
        let parsed = match field.kind {
            "integer" => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "must be a whole number".to_owned()),
            "number" => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| "must be a number".to_owned()),
            "json" => serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}")),
            _ => Ok(Value::String(field.value.clone())),
        };
        match parsed {
            Ok(value) => {
                object.insert(field.name.clone(), value);
            }
            Err(error) => {
                field.error = Some(format!("{} {error}", field.label));
                failed = true;
            }
        }
    }
    if failed {
        Err(())
    } else {
        Ok(Value::Object(object))
    }
}

/// Puts the server's verdict on each field it names (a JSON pointer such as
/// `/rating`); the rest stay as they are.
pub fn mark(fields: &mut [Field], problems: &[crate::workflow::Problem]) -> Vec<String> {
    let mut unplaced = Vec::new();
    for problem in problems {
        let name = problem.path.trim_start_matches('/');
        match fields.iter_mut().find(|f| f.name == name) {
            Some(field) => field.error = Some(problem.message.clone()),
            None => unplaced.push(if problem.path.is_empty() {
                problem.message.clone()
            } else {
                format!("{}: {}", problem.path, problem.message)
            }),
        }
    }
    unplaced
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn an_object_schema_makes_typed_fields_and_reads_them_back() {
        let schema = json!({
            "type": "object",
            "required": ["rating"],
            "properties": {
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "tone": {"type": "string", "enum": ["warm", "dry"]},
                "urgent": {"type": "boolean"},
                "comment": {"type": "string"},
                "tags": {"type": "array"}
            }
        });
        let mut made = fields(&schema).expect("fields");
        let kinds: Vec<_> = made.iter().map(|f| (f.name.as_str(), f.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("rating", "integer"),
                ("comment", "textarea"),
                ("tags", "json"),
                ("tone", "select"),
                ("urgent", "checkbox")
            ]
        );
        assert!(made[0].required && made[0].maximum == Some(5.0));
        let value = read(
            &mut made,
            &form(&[
                ("f.rating", "4"),
                ("f.tone", "dry"),
                ("f.urgent", "on"),
                ("f.tags", "[\"a\"]"),
            ]),
        )
        .expect("read");
        assert_eq!(
            value,
            json!({"rating": 4, "tone": "dry", "urgent": true, "tags": ["a"]})
        );
    }

    #[test]
    fn a_field_that_cannot_be_read_is_shown_again_with_its_error() {
        let schema = json!({"properties": {"rating": {"type": "integer"}}});
        let mut shown = fields(&schema).expect("fields");
        read(&mut shown, &form(&[("f.rating", "four")])).expect_err("not a number");
        assert_eq!(shown[0].value, "four");
        assert_eq!(
            shown[0].error.as_deref(),
            Some("rating must be a whole number")
        );
        assert!(fields(&json!({"type": "string"})).is_none());
    }
}
