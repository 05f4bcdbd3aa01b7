//! Validation of a workflow definition: every problem, each with its JSON pointer,
//! in one answer.

use serde::Serialize;
use serde_json::Value;

use super::template::Templates;
use super::{
    DEFAULT_CASE, Schedule, StepDefinition, StepKind, Wait, WorkflowDefinition, empty_object,
    parse_duration,
};

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
    unreviewed(&definition.steps, "/steps", catalog, &mut warnings);
    warnings
}

/// The warnings of one list of steps, and of the lists inside its constructs.
fn unreviewed(
    steps: &[StepDefinition],
    pointer: &str,
    catalog: &dyn StepCatalog,
    warnings: &mut Vec<Problem>,
) {
    for (index, step) in steps.iter().enumerate() {
        for (_, inner, list) in step.scopes() {
            unreviewed(
                list,
                &format!("{pointer}/{index}{inner}"),
                catalog,
                warnings,
            );
        }
        if step.step_type.is_empty() {
            continue;
        }
        let Some(audience) = catalog.audience(&step.step_type) else {
            continue;
        };
        let reviewed = index > 0 && steps[index - 1].approval.is_some();
        if !reviewed {
            warnings.push(Problem {
                path: format!("{pointer}/{index}"),
                message: format!(
                    "'{}' ({}) sends to {audience}, and no person approves what it sends: \
                     put an `approval` on the step before it (a `noop` step with the same \
                     input will do)",
                    step.name, step.step_type
                ),
            });
        }
    }
}

/// The most items of one map that may run at once.
const MAX_CONCURRENCY: u32 = 1_000;

const TEMPLATE_ROOTS: &[&str] = &["input", "steps", "run", "step"];

/// Checks a definition against itself, the catalog and the operator's limits
/// of the language; empty when it is valid.
pub fn validate(
    definition: &WorkflowDefinition,
    catalog: &dyn StepCatalog,
    limits: &LanguageLimits,
) -> Vec<Problem> {
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

    let mut checker = Checker {
        catalog,
        limits,
        templates: &templates,
        problems: Vec::new(),
        entries: 0,
    };
    checker.steps(&definition.steps, "/steps", &Scope::default());
    if checker.entries > limits.max_steps_per_run {
        checker.problems.push(Problem {
            path: "/steps".into(),
            message: format!(
                "{} step entries, above this host's limit of {} steps per run",
                checker.entries, limits.max_steps_per_run
            ),
        });
    }
    problems.extend(checker.problems);
    problems
}

/// The operator's bounds on the language: checked when a definition is saved
/// (a 422 with a pointer) and again as a run grows (the step fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LanguageLimits {
    /// Constructs inside constructs, the outermost being depth 1.
    pub max_depth: usize,
    /// Branches of one `parallel`, and cases of one `switch`.
    pub max_branches: usize,
    /// Items one `map` may run; past it, the step fails.
    pub max_items: usize,
    /// Steps (every entry and item instance) one run may hold; past it, the
    /// step that would grow the run fails.
    pub max_steps_per_run: usize,
    /// Child runs inside child runs.
    pub max_workflow_depth: usize,
}

impl Default for LanguageLimits {
    fn default() -> Self {
        LanguageLimits {
            max_depth: 8,
            max_branches: 32,
            max_items: 10_000,
            max_steps_per_run: 50_000,
            max_workflow_depth: 5,
        }
    }
}

/// What the step entries of one list see around them.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// Steps of the enclosing lists that finished before this list starts,
    /// with their pointers: templates may use their output.
    earlier: Vec<(String, String)>,
    /// The constructs this list is inside, outermost first (with pointers).
    enclosing: Vec<(String, String)>,
    /// Whether `item` and `index` are in scope (inside a `map`).
    in_map: bool,
}

struct Checker<'a> {
    catalog: &'a dyn StepCatalog,
    limits: &'a LanguageLimits,
    templates: &'a Templates,
    problems: Vec<Problem>,
    /// Step entries seen, at every depth.
    entries: usize,
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

impl Checker<'_> {
    fn problem(&mut self, path: String, message: String) {
        self.problems.push(Problem { path, message });
    }

    /// Checks one list of steps at `pointer`, in `scope`.
    fn steps(&mut self, steps: &[StepDefinition], pointer: &str, scope: &Scope) {
        self.entries += steps.len();
        for (index, step) in steps.iter().enumerate() {
            let at = format!("{pointer}/{index}");
            self.step(steps, index, step, &at, scope);
        }
    }

    fn step(
        &mut self,
        siblings: &[StepDefinition],
        index: usize,
        step: &StepDefinition,
        at_step: &str,
        scope: &Scope,
    ) {
        let at = |field: &str| format!("{at_step}{field}");
        if !valid_name(&step.name) {
            self.problem(
                at("/name"),
                format!(
                    "'{}' is not a valid step name: use letters, digits and '_', starting with a letter (templates refer to it as steps.<name>)",
                    step.name
                ),
            );
        }
        if let Some(first) = siblings[..index]
            .iter()
            .position(|other| other.name == step.name)
        {
            let sibling = at_step.rsplit_once('/').map_or("", |(list, _)| list);
            self.problem(
                at("/name"),
                format!(
                    "duplicate step name '{}' (also {sibling}/{first})",
                    step.name
                ),
            );
        } else if let Some((_, pointer)) = scope
            .earlier
            .iter()
            .chain(&scope.enclosing)
            .find(|(name, _)| *name == step.name)
        {
            self.problem(
                at("/name"),
                format!(
                    "'{}' is the name of a step around this one ({pointer}); a name inside a \
                     construct must differ from those its templates can see",
                    step.name
                ),
            );
        }
        let given = step.kinds_given();
        if given.len() > 1 {
            self.problem(
                at(""),
                format!(
                    "a step is one thing: a plugin `type` or one construct, and this one has {}",
                    given.join(" and ")
                ),
            );
            return;
        }
        let kind = step.kind();
        if let StepKind::Plugin("") = kind {
            self.problem(
                at(""),
                "a step needs a plugin `type`, or one of parallel, map, switch, wait, workflow"
                    .into(),
            );
            return;
        }
        let list = at_step.rsplit_once('/').map_or("", |(list, _)| list);
        let mut inner = scope.clone();
        inner.earlier.extend(
            siblings[..index]
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), format!("{list}/{i}"))),
        );
        let references = References {
            siblings,
            index,
            list,
            scope: &inner,
        };
        let mut used = Vec::new();
        if let Some(input) = &step.input {
            self.templates
                .variables_of_template(input, &at("/input"), &mut used);
        }
        if let Some(when) = &step.when {
            used.push((at("/when"), self.templates.variables_of_expression(when)));
        }
        match kind {
            StepKind::Map(map) => {
                self.templates
                    .variables_of_template(&map.items, &at("/map/items"), &mut used)
            }
            StepKind::Wait(Wait {
                until: Some(until), ..
            }) => self.templates.variables_of_template(
                &Value::String(until.clone()),
                &at("/wait/until"),
                &mut used,
            ),
            StepKind::Switch(switch) => {
                for (case_index, case) in switch.cases.iter().enumerate() {
                    used.push((
                        at(&format!("/switch/cases/{case_index}/when")),
                        self.templates.variables_of_expression(&case.when),
                    ));
                }
            }
            _ => {}
        }
        for (path, variables) in used {
            match variables {
                Err(e) => self.problem(path, format!("template syntax error: {e}")),
                Ok(variables) => {
                    let mut variables: Vec<String> = variables.into_iter().collect();
                    variables.sort();
                    for variable in variables {
                        if let Some(message) = references.check(&variable) {
                            self.problem(path.clone(), message);
                        }
                    }
                }
            }
        }
        let StepKind::Plugin(_) = kind else {
            for (field, present) in [
                ("config", step.config != empty_object()),
                ("approval", step.approval.is_some()),
                ("retry", step.retry.is_some()),
                ("timeout", step.timeout.is_some()),
                ("http", step.http.is_some()),
                (
                    "input",
                    step.input.is_some() && !matches!(kind, StepKind::Workflow(_)),
                ),
            ] {
                if present {
                    self.problem(
                        at(&format!("/{field}")),
                        format!(
                            "`{field}` belongs to a plugin step, not a `{}`: put it on a step inside",
                            kind.keyword()
                        ),
                    );
                }
            }
            inner
                .enclosing
                .push((step.name.clone(), at_step.to_owned()));
            inner.in_map |= matches!(kind, StepKind::Map(_));
            self.construct(step, kind, at_step, &inner);
            return;
        };
        let step_problems = self.plugin_step(step, at_step);
        self.problems.extend(step_problems);
    }

    /// Checks a construct's own fields, then the lists inside it, which see
    /// `inner` around them.
    fn construct(
        &mut self,
        step: &StepDefinition,
        kind: StepKind<'_>,
        at_step: &str,
        inner: &Scope,
    ) {
        let at = |field: &str| format!("{at_step}{field}");
        let depth = inner.enclosing.len();
        if depth > self.limits.max_depth {
            self.problem(
                at(""),
                format!(
                    "constructs nest {depth} deep here, above this host's limit of {}",
                    self.limits.max_depth
                ),
            );
            return;
        }
        match kind {
            StepKind::Parallel(parallel) => {
                if parallel.branches.is_empty() {
                    self.problem(at("/parallel/branches"), "needs at least one branch".into());
                }
                if parallel.branches.len() > self.limits.max_branches {
                    self.problem(
                        at("/parallel/branches"),
                        format!(
                            "{} branches, above this host's limit of {}",
                            parallel.branches.len(),
                            self.limits.max_branches
                        ),
                    );
                }
                for name in parallel.branches.keys() {
                    if !valid_name(name) {
                        self.problem(
                            at(&format!("/parallel/branches/{name}")),
                            format!(
                                "'{name}' is not a valid branch name: use letters, digits and '_'"
                            ),
                        );
                    }
                }
            }
            StepKind::Map(map) => {
                if !(1..=MAX_CONCURRENCY).contains(&map.concurrency) {
                    let message = format!("must be from 1 to {MAX_CONCURRENCY}");
                    self.problem(at("/map/concurrency"), message);
                }
                if let Value::Array(items) = &map.items
                    && items.len() > self.limits.max_items
                {
                    self.problem(
                        at("/map/items"),
                        format!(
                            "{} items, above this host's limit of {}",
                            items.len(),
                            self.limits.max_items
                        ),
                    );
                } else if !matches!(map.items, Value::Array(_) | Value::String(_)) {
                    self.problem(
                        at("/map/items"),
                        "must be an array, or a template that gives one".into(),
                    );
                }
            }
            StepKind::Switch(switch) => {
                if switch.cases.is_empty() {
                    self.problem(at("/switch/cases"), "needs at least one case".into());
                }
                if switch.cases.len() > self.limits.max_branches {
                    self.problem(
                        at("/switch/cases"),
                        format!(
                            "{} cases, above this host's limit of {}",
                            switch.cases.len(),
                            self.limits.max_branches
                        ),
                    );
                }
                for (index, case) in switch.cases.iter().enumerate() {
                    let named_twice = switch.cases[..index].iter().any(|c| c.name == case.name);
                    if !valid_name(&case.name) || case.name == DEFAULT_CASE || named_twice {
                        self.problem(
                            at(&format!("/switch/cases/{index}/name")),
                            format!(
                                "'{}' cannot name a case: use letters, digits and '_', once, and not '{DEFAULT_CASE}'",
                                case.name
                            ),
                        );
                    }
                }
            }
            StepKind::Wait(wait) => match (&wait.duration, &wait.until) {
                (Some(duration), None) => {
                    if let Err(e) = parse_duration(duration) {
                        self.problem(at("/wait/for"), e);
                    }
                }
                (None, Some(_)) => {}
                _ => self.problem(
                    at("/wait"),
                    "give one of `for` (a duration) and `until` (a time)".into(),
                ),
            },
            StepKind::Workflow(workflow) => {
                if workflow.id.trim().is_empty() {
                    self.problem(at("/workflow/id"), "must name a workflow".into());
                }
            }
            StepKind::Plugin(_) => {}
        }
        for (_, pointer, steps) in step.scopes() {
            if steps.is_empty() {
                self.problem(at(&pointer), "needs at least one step".into());
                continue;
            }
            self.steps(steps, &at(&pointer), inner);
        }
    }

    /// Checks a plugin step's own fields.
    fn plugin_step(&mut self, step: &StepDefinition, at_step: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| problems.push(Problem { path, message });
        let at = |field: &str| format!("{at_step}{field}");
        let catalog = self.catalog;
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
        problems
    }
}

/// Where a step's templates stand: the list it is in, its place there, and
/// what is around the list.
struct References<'a> {
    siblings: &'a [StepDefinition],
    index: usize,
    /// The list's JSON pointer.
    list: &'a str,
    /// Around the step: earlier steps of this and the enclosing lists, the
    /// constructs it is in.
    scope: &'a Scope,
}

impl References<'_> {
    /// Why a variable the step's templates use cannot work, if it cannot.
    fn check(&self, variable: &str) -> Option<String> {
        let mut parts = variable.split('.');
        let root = parts.next().unwrap_or_default();
        if matches!(root, "item" | "index") {
            return (!self.scope.in_map)
                .then(|| format!("'{root}' exists only inside a map's steps"));
        }
        if !TEMPLATE_ROOTS.contains(&root) {
            return Some(format!(
                "unknown variable '{root}': templates see input, steps.<name>.output, run.id and step.name \
                 (and item and index inside a map)"
            ));
        }
        if root != "steps" {
            return None;
        }
        let name = parts.next()?;
        if let Some((_, pointer)) = self.scope.enclosing.iter().find(|(n, _)| n == name) {
            return Some(format!(
                "refers to '{name}' ({pointer}), which this step is inside: its output does not exist yet"
            ));
        }
        let visible = self.scope.earlier.iter().any(|(n, _)| n == name);
        if !visible {
            return match self.siblings.iter().position(|s| s.name == name) {
                None => Some(format!(
                    "refers to unknown step '{name}' (a step inside another branch, case or map is not visible here)"
                )),
                Some(other) if other == self.index => Some(format!(
                    "refers to its own step '{name}', whose output does not exist yet"
                )),
                Some(other) => Some(format!(
                    "refers to step '{name}', which runs later ({}/{other})",
                    self.list
                )),
            };
        }
        match parts.next() {
            None | Some("output") => None,
            Some(field) => Some(format!(
                "steps.{name}.{field} does not exist: a step offers steps.{name}.output"
            )),
        }
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
        let problems = validate(&definition, &Catalog, &LanguageLimits::default());
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
