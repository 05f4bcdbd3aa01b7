//! Step input templates and `when` conditions, on minijinja.
//!
//! Templates see `input` (the run's input), `steps.<name>.output` for every step
//! that completed before, and `run.id`. Undefined values are errors: a typo in a
//! template fails the step instead of passing an empty value along.

use std::collections::{BTreeMap, HashSet};

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Value, json};

/// The compiled-template environment, shared by all runs.
pub struct Templates {
    env: Environment<'static>,
}

/// What templates of one step can see.
pub struct TemplateContext {
    value: minijinja::Value,
}

impl TemplateContext {
    pub fn new(run_id: &str, input: &Value, outputs: &BTreeMap<String, Value>) -> Self {
        let steps: serde_json::Map<String, Value> = outputs
            .iter()
            .map(|(name, output)| (name.clone(), json!({ "output": output })))
            .collect();
        let context = json!({ "input": input, "steps": steps, "run": { "id": run_id } });
        TemplateContext {
            value: minijinja::Value::from(minijinja::value::Serde(context)),
        }
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        Templates { env }
    }

    /// Renders every string in `template`, keeping the JSON shape.
    pub fn render(&self, template: &Value, context: &TemplateContext) -> Result<Value, String> {
        self.render_at(template, context, "")
    }

    fn render_at(
        &self,
        template: &Value,
        context: &TemplateContext,
        path: &str,
    ) -> Result<Value, String> {
        match template {
            Value::String(source) => self.render_string(source, context).map_err(|e| at(path, e)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.render_at(item, context, &format!("{path}/{i}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(fields) => fields
                .iter()
                .map(|(key, item)| {
                    Ok((
                        key.clone(),
                        self.render_at(item, context, &format!("{path}/{key}"))?,
                    ))
                })
                .collect::<Result<serde_json::Map<_, _>, String>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn render_string(&self, source: &str, context: &TemplateContext) -> Result<Value, String> {
        if let Some(expression) = single_expression(source) {
            let value = self
                .env
                .compile_expression(expression)
                .and_then(|compiled| compiled.eval(context.value.clone()))
                .map_err(|e| format!("{e:#}"))?;
            if value.is_undefined() {
                return Err(format!("undefined value: '{expression}'"));
            }
            return serde_json::to_value(&value).map_err(|e| e.to_string());
        }
        self.env
            .render_str(source, context.value.clone())
            .map(Value::String)
            .map_err(|e| format!("{e:#}"))
    }

    /// Evaluates a `when` condition.
    pub fn condition(&self, expression: &str, context: &TemplateContext) -> Result<bool, String> {
        self.env
            .compile_expression(expression)
            .and_then(|compiled| compiled.eval(context.value.clone()))
            .map_err(|e| format!("{e:#}"))
            .and_then(|value| {
                // Strict, as in templates: write `x is defined and x` for an optional flag.
                if value.is_undefined() {
                    Err(format!("undefined value: '{expression}'"))
                } else {
                    Ok(value.is_true())
                }
            })
    }

    /// Checks the syntax of every template string in `template` and returns the
    /// variables they use (dotted, e.g. `steps.draft.output`), or errors with paths.
    pub(super) fn variables_of_template(
        &self,
        template: &Value,
        path: &str,
        found: &mut Vec<(String, Result<HashSet<String>, String>)>,
    ) {
        match template {
            Value::String(source) => {
                let result = match single_expression(source) {
                    Some(expression) => self.variables_of_expression(expression),
                    None => self
                        .env
                        .template_from_str(source)
                        .map(|compiled| compiled.undeclared_variables(true))
                        .map_err(|e| format!("{e:#}")),
                };
                found.push((path.to_owned(), result));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.variables_of_template(item, &format!("{path}/{i}"), found);
                }
            }
            Value::Object(fields) => {
                for (key, item) in fields {
                    self.variables_of_template(
                        item,
                        &format!("{path}/{}", escape_pointer(key)),
                        found,
                    );
                }
            }
            _ => {}
        }
    }

    pub(super) fn variables_of_expression(
        &self,
        expression: &str,
    ) -> Result<HashSet<String>, String> {
        self.env
            .compile_expression(expression)
            .map(|compiled| compiled.undeclared_variables(true))
            .map_err(|e| format!("{e:#}"))
    }
}

/// `{{ expr }}` alone (surrounding spaces allowed): the expression inside.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let nested = ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|marker| inner.contains(marker));
    (!nested).then(|| inner.trim_matches(|c: char| c.is_whitespace() || c == '-'))
}

fn at(path: &str, error: String) -> String {
    format!(
        "template at '{}': {error}",
        if path.is_empty() { "/" } else { path }
    )
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: Value, expected: Result<Value, &str>) {
        let outputs = BTreeMap::from([("draft".to_owned(), json!({"title": "Hi", "words": 120}))]);
        let context = TemplateContext::new(
            "run-7",
            &json!({"topic": "wasm", "tags": ["a", "b"]}),
            &outputs,
        );
        let got = Templates::new().render(&template, &context);
        match expected {
            Ok(value) => assert_eq!(got, Ok(value), "{template}"),
            Err(words) => {
                let error = got.expect_err("should fail");
                assert!(error.contains(words), "{template}: {error}");
            }
        }
    }

    #[test]
    fn templates_render_and_keep_json_types() {
        check(json!("{{ input.topic }}"), Ok(json!("wasm")));
        check(json!("{{ input.tags }}"), Ok(json!(["a", "b"])));
        check(
            json!("{{ steps.draft.output }}"),
            Ok(json!({"title": "Hi", "words": 120})),
        );
        check(
            json!(" {{ steps.draft.output.words * 2 }} "),
            Ok(json!(240)),
        );
        check(
            json!("About {{ input.topic }} in {{ run.id }}"),
            Ok(json!("About wasm in run-7")),
        );
        check(
            json!({"t": "{{ steps.draft.output.title | upper }}", "n": [1, "{{ input.tags | length }}"]}),
            Ok(json!({"t": "HI", "n": [1, 2]})),
        );
        check(json!(42), Ok(json!(42)));
        check(json!({"x": "{{ input.nope }}"}), Err("template at '/x'"));
        check(json!("{{ steps.later.output }}"), Err("undefined"));
    }

    #[test]
    fn conditions_are_truthy_expressions() {
        let context =
            TemplateContext::new("r", &json!({"score": 0.7, "skip": false}), &BTreeMap::new());
        let templates = Templates::new();
        assert_eq!(templates.condition("input.score > 0.5", &context), Ok(true));
        assert_eq!(templates.condition("input.skip", &context), Ok(false));
        assert_eq!(
            templates.condition("not input.skip and input.score < 0.5", &context),
            Ok(false)
        );
        assert!(templates.condition("input.missing > 1", &context).is_err());
        assert!(templates.condition("input.missing", &context).is_err());
        assert_eq!(
            templates.condition("input.missing is defined and input.missing", &context),
            Ok(false)
        );
    }
}
