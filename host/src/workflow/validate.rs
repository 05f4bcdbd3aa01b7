//! Validation of a workflow definition: every problem, each with its JSON pointer,
//! in one answer.

use serde::Serialize;
use serde_json::Value;

use super::template::Templates;
use super::{Schedule, WorkflowDefinition, parse_duration};

/// One thing wrong with a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// JSON pointer into the definition, e.g. `/steps/2/config/schema`.
    pub path: String,
    pub message: String,
}

/// The step types a workflow may use.
pub trait StepCatalog {
    /// The config schema of the plugin `step_type` (`name` or `name@version`)
    /// resolves to, or why it does not resolve.
    fn config_schema(&self, step_type: &str) -> Result<Option<Value>, String>;

    /// Who sees what a step of `step_type` does, if it reaches an audience.
    fn audience(&self, _step_type: &str) -> Option<String> {
        None
    }
}

/// What a valid definition should still change, without being refused: each
/// step that reaches an audience with nothing before it that stops for a
/// person (an `approval` on the step before).
pub fn warnings(definition: &WorkflowDefinition, catalog: &dyn StepCatalog) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for (index, step) in definition.steps.iter().enumerate() {
        let Some(audience) = catalog.audience(&step.step_type) else {
            continue;
        };
        let reviewed = index > 0 && definition.steps[index - 1].approval.is_some();
        if !reviewed {
            warnings.push(Problem {
                path: format!("/steps/{index}"),
                message: format!(
                    "'{}' ({}) sends to {audience}, and no person approves what it sends: \
                     put an `approval` on the step before it (a `noop` step with the same \
                     input will do)",
                    step.name, step.step_type
                ),
            });
        }
    }
    warnings
}

const TEMPLATE_ROOTS: &[&str] = &["input", "steps", "run", "step"];

/// Checks a definition against itself and the catalog; empty when it is valid.
pub fn validate(definition: &WorkflowDefinition, catalog: &dyn StepCatalog) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, message: String| problems.push(Problem { path, message });
    let templates = Templates::new();

    if definition.name.trim().is_empty() {
        problem("/name".into(), "must not be empty".into());
    }
    if definition.steps.is_empty() {
        problem("/steps".into(), "a workflow needs at least one step".into());
    }
    if let Some(spec) = &definition.schedule
        && let Err(schedule_problems) = Schedule::parse(spec)
    {
        for p in schedule_problems {
            problem(p.path, p.message);
        }
    }
    // Webhooks are checked by the runner, with the egress policy and the
    // tenant's secrets.
    if let Some(email) = definition
        .notifications
        .as_ref()
        .and_then(|n| n.email.as_ref())
    {
        for (index, address) in email.to.iter().enumerate() {
            if address.parse::<lettre::Address>().is_err() {
                problem(
                    format!("/notifications/email/to/{index}"),
                    format!("'{address}' is not an email address"),
                );
            }
        }
    }
    if let Some(lifetime) = &definition.paused_lifetime
        && let Err(e) = parse_duration(lifetime)
    {
        problem("/paused_lifetime".into(), e);
    }

    for (index, step) in definition.steps.iter().enumerate() {
        let at = |field: &str| format!("/steps/{index}{field}");
        let valid_name = step
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && step
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && step.name.len() <= 64;
        if !valid_name {
            problem(
                at("/name"),
                format!(
                    "'{}' is not a valid step name: use letters, digits and '_', starting with a letter (templates refer to it as steps.<name>)",
                    step.name
                ),
            );
        }
        if let Some(first) = definition.steps[..index]
            .iter()
            .position(|other| other.name == step.name)
        {
            problem(
                at("/name"),
                format!("duplicate step name '{}' (also /steps/{first})", step.name),
            );
        }

        match catalog.config_schema(&step.step_type) {
            Err(e) => problem(at("/type"), e),
            Ok(Some(schema)) => match jsonschema::validator_for(&schema) {
                Ok(validator) => {
                    for error in validator.iter_errors(&step.config) {
                        problem(
                            format!("{}{}", at("/config"), error.instance_path()),
                            error.to_string(),
                        );
                    }
                }
                Err(e) => problem(
                    at("/type"),
                    format!("the plugin's config schema is invalid: {e}"),
                ),
            },
            Ok(None) => {}
        }

        let mut used = Vec::new();
        if let Some(input) = &step.input {
            templates.variables_of_template(input, &at("/input"), &mut used);
        }
        if let Some(when) = &step.when {
            used.push((at("/when"), templates.variables_of_expression(when)));
        }
        for (path, variables) in used {
            match variables {
                Err(e) => problem(path, format!("template syntax error: {e}")),
                Ok(variables) => {
                    let mut variables: Vec<String> = variables.into_iter().collect();
                    variables.sort();
                    for variable in variables {
                        if let Some(message) = check_reference(definition, index, &variable) {
                            problem(path.clone(), message);
                        }
                    }
                }
            }
        }

        if let Some(gate) = &step.approval {
            if gate.options.is_empty() {
                problem(
                    at("/approval/options"),
                    "a gate needs at least one option".into(),
                );
            }
            for reject in &gate.reject {
                if !gate.options.contains(reject) {
                    problem(
                        at("/approval/reject"),
                        format!("'{reject}' is not one of the options"),
                    );
                }
            }
            if !gate.options.is_empty()
                && gate
                    .options
                    .iter()
                    .all(|option| gate.reject.contains(option))
            {
                problem(
                    at("/approval/options"),
                    "every option rejects: nothing lets the run go on".into(),
                );
            }
            if let Some(timeout) = &gate.timeout
                && let Err(e) = parse_duration(timeout)
            {
                problem(at("/approval/timeout"), e);
            }
            if gate.required == 0 {
                problem(at("/approval/required"), "must be at least 1".into());
            } else if gate.required > 1 && (gate.required as usize) > gate.reviewers.len() {
                problem(
                    at("/approval/required"),
                    format!(
                        "{} approvals need at least {} reviewers, and {} are named",
                        gate.required,
                        gate.required,
                        gate.reviewers.len()
                    ),
                );
            }
            let mut seen = std::collections::HashSet::new();
            for reviewer in &gate.reviewers {
                if reviewer.trim().is_empty() || !seen.insert(reviewer) {
                    problem(
                        at("/approval/reviewers"),
                        format!("'{reviewer}' is empty or named twice"),
                    );
                }
            }
        }
        if let Some(retry) = &step.retry {
            if !(1..=100).contains(&retry.max_attempts) {
                problem(at("/retry/max_attempts"), "must be from 1 to 100".into());
            }
            if !(retry.multiplier.is_finite() && retry.multiplier >= 1.0) {
                problem(
                    at("/retry/multiplier"),
                    "must be a number of at least 1".into(),
                );
            }
            for (field, text) in [
                ("/retry/initial_backoff", &retry.initial_backoff),
                ("/retry/max_backoff", &retry.max_backoff),
            ] {
                if let Err(e) = parse_duration(text) {
                    problem(at(field), e);
                }
            }
        }
        if let Some(timeout) = &step.timeout {
            match parse_duration(timeout) {
                Ok(duration) if duration.is_zero() => {
                    problem(at("/timeout"), "must be more than zero".into())
                }
                Ok(_) => {}
                Err(e) => problem(at("/timeout"), e),
            }
        }
        if let Some(grant) = &step.http {
            for (path, message) in grant.problems() {
                problem(at(&format!("/http{path}")), message);
            }
        }
    }
    problems
}

/// Why a variable a template of step `index` uses cannot work, if it cannot.
fn check_reference(
    definition: &WorkflowDefinition,
    index: usize,
    variable: &str,
) -> Option<String> {
    let mut parts = variable.split('.');
    let root = parts.next().unwrap_or_default();
    if !TEMPLATE_ROOTS.contains(&root) {
        return Some(format!(
            "unknown variable '{root}': templates see input, steps.<name>.output, run.id and step.name"
        ));
    }
    if root != "steps" {
        return None;
    }
    let name = parts.next()?;
    match definition.step_index(name) {
        None => Some(format!("refers to unknown step '{name}'")),
        Some(other) if other == index => Some(format!(
            "refers to its own step '{name}', whose output does not exist yet"
        )),
        Some(other) if other > index => Some(format!(
            "refers to step '{name}', which runs later (/steps/{other})"
        )),
        Some(_) => match parts.next() {
            None | Some("output") => None,
            Some(field) => Some(format!(
                "steps.{name}.{field} does not exist: a step offers steps.{name}.output"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Catalog;

    impl StepCatalog for Catalog {
        fn config_schema(&self, step_type: &str) -> Result<Option<Value>, String> {
            match step_type {
                "noop" => Ok(None),
                "transform" => Ok(Some(json!({"type": "object", "required": ["template"]}))),
                other => Err(format!("unknown step type '{other}'")),
            }
        }
    }

    fn check(definition: Value, expected: &[(&str, &str)]) {
        let definition = WorkflowDefinition::from_value(definition).expect("structurally valid");
        let problems = validate(&definition, &Catalog);
        let got: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for ((path, message), (want_path, want_words)) in got.iter().zip(expected) {
            assert_eq!(path, want_path, "{got:#?}");
            assert!(
                message.contains(want_words),
                "{path}: {message} should contain {want_words}"
            );
        }
    }

    #[test]
    fn a_valid_workflow_has_no_problems() {
        check(
            json!({"name": "w", "steps": [
                {"name": "draft", "type": "transform", "config": {"template": "x"}, "input": {"t": "{{ input.topic }}"}},
                {"name": "check", "type": "noop", "input": "{{ steps.draft.output }}", "when": "steps.draft.output.t != ''",
                 "approval": {"timeout": "1h", "on_timeout": "approve"}, "retry": {"max_attempts": 3}, "timeout": "5s"}
            ]}),
            &[],
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        check(
            json!({"name": "", "paused_lifetime": "soon", "steps": [
                {"name": "a", "type": "nope"},
                {"name": "a", "type": "transform", "config": {}},
                {"name": "b-c", "type": "noop", "input": "{{ steps.later.output }} {{ steps.zzz.output }}", "when": "input.x >"},
                {"name": "later", "type": "noop", "input": {"x": "{% if %}"}, "timeout": "0s",
                 "approval": {"options": ["reject"], "reject": ["reject", "nah"]}, "retry": {"max_attempts": 0, "multiplier": 0.5}},
                {"name": "e", "type": "noop", "input": "{{ secrets }} {{ steps.a.status }}"}
            ]}),
            &[
                ("/name", "must not be empty"),
                ("/paused_lifetime", "'soon' is not a duration"),
                ("/steps/0/type", "unknown step type 'nope'"),
                ("/steps/1/name", "duplicate step name 'a' (also /steps/0)"),
                ("/steps/1/config", "\"template\" is a required property"),
                ("/steps/2/name", "'b-c' is not a valid step name"),
                (
                    "/steps/2/input",
                    "refers to step 'later', which runs later (/steps/3)",
                ),
                ("/steps/2/input", "refers to unknown step 'zzz'"),
                ("/steps/2/when", "template syntax error"),
                ("/steps/3/input/x", "template syntax error"),
                (
                    "/steps/3/approval/reject",
                    "'nah' is not one of the options",
                ),
                ("/steps/3/approval/options", "every option rejects"),
                ("/steps/3/retry/max_attempts", "must be from 1 to 100"),
                ("/steps/3/retry/multiplier", "at least 1"),
                ("/steps/3/timeout", "must be more than zero"),
                ("/steps/4/input", "unknown variable 'secrets'"),
                ("/steps/4/input", "steps.a.status does not exist"),
            ],
        );
    }

    #[test]
    fn a_workflow_needs_steps() {
        check(
            json!({"name": "w", "steps": []}),
            &[("/steps", "at least one step")],
        );
    }
}
