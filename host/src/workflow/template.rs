//! Step input templates and `when` conditions, in Cairn's template dialect
//! (the `cairn-template` crate).
//!
//! At run time they are evaluated in a sandbox (`engine::templates`, running
//! the `cairn-templates` component); here they are checked when a workflow is
//! saved (syntax, and which variables they use).

use std::collections::{BTreeMap, HashSet};

use cairn_template::minijinja::Environment;
use cairn_template::{Scope, escape_pointer, one_line, single_expression};
use serde_json::Value;

/// What a step's templates see: `input` (the run's input), `run.id`,
/// `step.name`, `steps.<name>.output` for every step that completed before
/// it where it can see, and inside a map `item` and `index`.
pub fn template_context(
    run_id: &str,
    step: &str,
    input: &Value,
    outputs: &BTreeMap<String, Value>,
    item: Option<&(Value, usize)>,
) -> Value {
    let mut context = Scope::new(input.clone(), run_id, step)
        .with_outputs(outputs.iter().map(|(name, output)| (name.as_str(), output)))
        .to_json();
    if let (Some((value, index)), Value::Object(variables)) = (item, &mut context) {
        variables.insert("item".to_owned(), value.clone());
        variables.insert("index".to_owned(), Value::from(*index));
    }
    context
}

/// Checks templates when a workflow is saved.
pub struct Templates {
    env: Environment<'static>,
    /// The language's own globals (`range`, `dict`, `namespace`, ...): a
    /// template that uses one does not refer to a variable.
    globals: HashSet<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let env = cairn_template::environment(None);
        let globals = env.globals().map(|(name, _)| name.to_owned()).collect();
        Templates { env, globals }
    }

    /// `variables` without the language's globals.
    fn without_globals(&self, variables: HashSet<String>) -> HashSet<String> {
        variables
            .into_iter()
            .filter(|variable| {
                let root = variable.split('.').next().unwrap_or_default();
                !self.globals.contains(root)
            })
            .collect()
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
                        .map(|compiled| self.without_globals(compiled.undeclared_variables(true)))
                        .map_err(|e| one_line(&e)),
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
            .map(|compiled| self.without_globals(compiled.undeclared_variables(true)))
            .map_err(|e| one_line(&e))
    }
}

#[cfg(test)]
mod tests {
    use cairn_template::minijinja;
    use cairn_template::{FailureKind, condition, environment, render};
    use serde_json::json;

    use super::*;

    fn context() -> minijinja::Value {
        let outputs = BTreeMap::from([("draft".to_owned(), json!({"title": "Hi", "words": 120}))]);
        let context = template_context(
            "run-7",
            "publish",
            &json!({"topic": "wasm", "tags": ["a", "b"]}),
            &outputs,
            None,
        );
        minijinja::Value::from(minijinja::value::Serde(&context))
    }

    fn check(template: Value, expected: Result<Value, &str>) {
        let got = render(&environment(Some(100_000)), &template, &context());
        match expected {
            Ok(value) => assert_eq!(got, Ok(value), "{template}"),
            Err(words) => {
                let error = got.expect_err("should fail");
                assert_eq!(error.kind, FailureKind::Error, "{template}: {error:?}");
                assert!(error.message().contains(words), "{template}: {error:?}");
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
            json!("About {{ input.topic }} in {{ run.id }} at {{ step.name }}"),
            Ok(json!("About wasm in run-7 at publish")),
        );
        check(
            json!({"t": "{{ steps.draft.output.title | upper }}", "n": [1, "{{ input.tags | length }}"]}),
            Ok(json!({"t": "HI", "n": [1, 2]})),
        );
        check(json!(42), Ok(json!(42)));
        check(json!({"x": "{{ input.nope }}"}), Err("template at '/x'"));
        check(json!("{{ steps.later.output }}"), Err("undefined"));
        check(json!({"a/b": "{{ 1 / 0 }}"}), Err("template at '/a~1b'"));
    }

    #[test]
    fn bounds_are_limits_and_mistakes_are_errors() {
        let env = environment(Some(10_000));
        let limited = [
            "{% for i in range(100000) %}{{ i }}{% endfor %}",
            "{{ range(10**9) | length }}",
            "{{ 'x' * 1000000000 }}",
        ];
        for source in limited {
            let got = render(&env, &json!(source), &context());
            assert!(
                matches!(&got, Err(f) if f.kind == FailureKind::Limit),
                "{source}: {got:?}"
            );
        }
        let got = render(&env, &json!("{{ input.topic + 1 }}"), &context());
        assert!(
            matches!(&got, Err(f) if f.kind == FailureKind::Error),
            "{got:?}"
        );
    }

    #[test]
    fn conditions_are_truthy_expressions() {
        let context = minijinja::Value::from(minijinja::value::Serde(template_context(
            "r",
            "s",
            &json!({"score": 0.7, "skip": false}),
            &BTreeMap::new(),
            None,
        )));
        let env = environment(None);
        let check = |expression: &str| condition(&env, expression, &context);
        assert_eq!(check("input.score > 0.5"), Ok(true));
        assert_eq!(check("input.skip"), Ok(false));
        assert_eq!(check("not input.skip and input.score < 0.5"), Ok(false));
        assert!(check("input.missing > 1").is_err());
        assert!(check("input.missing").is_err());
        assert_eq!(
            check("input.missing is defined and input.missing"),
            Ok(false)
        );
    }

    #[test]
    fn the_languages_globals_are_not_variables() {
        let templates = Templates::new();
        let used = templates
            .variables_of_expression("range(3) | map('string') | join(input.sep)")
            .expect("compiles");
        assert_eq!(used, HashSet::from(["input.sep".to_owned()]));
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let templates = Templates::new();
        let mut found = Vec::new();
        templates.variables_of_template(
            &json!({"x": "{{ input.a +  }}\n{% if %}"}),
            "",
            &mut found,
        );
        let (path, result) = &found[0];
        assert_eq!(path, "/x");
        let error = result.as_ref().expect_err("a syntax error");
        assert!(!error.contains('\n'), "{error}");
        assert!(error.contains("syntax error"), "{error}");
    }
}
