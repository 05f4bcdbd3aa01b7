//! Cairn's template dialect, the one place that renders templates: a JSON
//! value whose strings are minijinja templates renders to a JSON value of the
//! same shape, and a string that is one `{{ expression }}` keeps the
//! expression's JSON type. Undefined values are errors, so that a typo fails
//! the step instead of passing an empty value on.
//!
//! The variables are the same everywhere ([`Scope`]): `input`, `run.id`,
//! `step.name`, and where earlier steps' outputs are known (a step's `input`
//! template and `when` condition in a workflow), `steps.<name>.output`. The
//! `transform` step adds its input's fields at the top level.
//!
//! Used by the host (to check templates when a workflow is saved), by the
//! template sandbox (`cairn-templates`, which evaluates them for the host),
//! and by the guest SDK's configuration templates and the bundled steps.

pub use minijinja;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value, json};

/// The variables a template sees.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    input: Value,
    run_id: String,
    step: String,
    steps: Option<Map<String, Value>>,
    top_level_fields: bool,
}

impl Scope {
    /// `input`, `run.id` and `step.name`.
    pub fn new(input: Value, run_id: &str, step: &str) -> Scope {
        Scope {
            input,
            run_id: run_id.to_owned(),
            step: step.to_owned(),
            steps: None,
            top_level_fields: false,
        }
    }

    /// Adds `steps.<name>.output` for each `(name, output)`.
    pub fn with_outputs<'a>(
        mut self,
        outputs: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Scope {
        let steps = outputs
            .into_iter()
            .map(|(name, output)| (name.to_owned(), json!({ "output": output })))
            .collect();
        self.steps = Some(steps);
        self
    }

    /// Adds the input's own fields at the top level (`transform`'s way), under
    /// the dialect's variables: `input`, `run` and `step` keep their meaning.
    pub fn with_input_fields(mut self) -> Scope {
        self.top_level_fields = true;
        self
    }

    /// The variables as one JSON object.
    pub fn to_json(&self) -> Value {
        let mut variables = match (&self.input, self.top_level_fields) {
            (Value::Object(fields), true) => fields.clone(),
            _ => Map::new(),
        };
        variables.insert("input".to_owned(), self.input.clone());
        variables.insert("run".to_owned(), json!({ "id": self.run_id }));
        variables.insert("step".to_owned(), json!({ "name": self.step }));
        if let Some(steps) = &self.steps {
            variables.insert("steps".to_owned(), Value::Object(steps.clone()));
        }
        Value::Object(variables)
    }

    /// The variables as minijinja's context.
    pub fn context(&self) -> minijinja::Value {
        minijinja::Value::from(minijinja::value::Serde(self.to_json()))
    }
}

/// A strict environment, with `fuel` instructions per render when given.
pub fn environment(fuel: Option<u64>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(fuel);
    env
}

/// What a template's strings render to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// Text; a string that is one `{{ expression }}` keeps its JSON type.
    #[default]
    Text,
    /// Each rendered string is parsed as JSON (templates that build a whole
    /// document).
    Json,
}

/// Why a template could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// Where in the template, as a JSON Pointer (`""`: the template itself).
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The template is wrong for this context: a syntax error, an undefined
    /// value, a type error, a rendering that is not the JSON asked for.
    Error,
    /// The template went past a bound: its fuel, or the size of a value.
    Limit,
}

impl Failure {
    fn of(error: &minijinja::Error, path: &str) -> Failure {
        let kind = if is_limit(error) {
            FailureKind::Limit
        } else {
            FailureKind::Error
        };
        Failure::new(kind, path, one_line(error))
    }

    fn new(kind: FailureKind, path: &str, reason: String) -> Failure {
        Failure {
            kind,
            path: path.to_owned(),
            reason,
        }
    }

    /// `template at '/x': reason`, or the reason alone for the template itself.
    pub fn message(&self) -> String {
        if self.path.is_empty() {
            self.reason.clone()
        } else {
            format!("template at '{}': {}", self.path, self.reason)
        }
    }
}

/// minijinja's own bounds (out of fuel, `range` or a repetition too large)
/// are limits, not mistakes in the template.
fn is_limit(error: &minijinja::Error) -> bool {
    let text = error.to_string();
    text.contains("out of fuel") || text.contains("too many elements") || text.contains("too large")
}

/// The error on one line, without minijinja's multi-line debug dump.
pub fn one_line(error: &minijinja::Error) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders every string in `template`, keeping the JSON shape.
pub fn render(
    env: &Environment<'static>,
    template: &Value,
    context: &minijinja::Value,
) -> Result<Value, Failure> {
    render_as(env, template, context, Format::Text)
}

/// [`render`], each string rendered as `format` says.
pub fn render_as(
    env: &Environment<'static>,
    template: &Value,
    context: &minijinja::Value,
    format: Format,
) -> Result<Value, Failure> {
    render_at(env, template, context, format, "")
}

fn render_at(
    env: &Environment<'static>,
    template: &Value,
    context: &minijinja::Value,
    format: Format,
    path: &str,
) -> Result<Value, Failure> {
    match template {
        Value::String(source) => render_string(env, source, context, format, path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| render_at(env, item, context, format, &format!("{path}/{i}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, item)| {
                let path = format!("{path}/{}", escape_pointer(key));
                Ok((key.clone(), render_at(env, item, context, format, &path)?))
            })
            .collect::<Result<Map<_, _>, Failure>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn render_string(
    env: &Environment<'static>,
    source: &str,
    context: &minijinja::Value,
    format: Format,
    path: &str,
) -> Result<Value, Failure> {
    if format == Format::Text
        && let Some(expression) = single_expression(source)
    {
        let value = env
            .compile_expression(expression)
            .and_then(|compiled| compiled.eval(context.clone()))
            .map_err(|e| Failure::of(&e, path))?;
        if value.is_undefined() {
            let reason = format!("undefined value: '{expression}'");
            return Err(Failure::new(FailureKind::Error, path, reason));
        }
        return serde_json::to_value(&value)
            .map_err(|e| Failure::new(FailureKind::Error, path, e.to_string()));
    }
    let text = env
        .render_str(source, context.clone())
        .map_err(|e| Failure::of(&e, path))?;
    match format {
        Format::Text => Ok(Value::String(text)),
        Format::Json => serde_json::from_str(&text).map_err(|e| {
            let reason = format!("did not render valid JSON: {e}");
            Failure::new(FailureKind::Error, path, reason)
        }),
    }
}

/// Renders one string template to text (a template in step configuration:
/// a URL, a prompt).
pub fn render_text(
    env: &Environment<'static>,
    source: &str,
    context: &minijinja::Value,
) -> Result<String, Failure> {
    env.render_str(source, context.clone())
        .map_err(|e| Failure::of(&e, ""))
}

/// Evaluates a `when` condition: true, false, or why it cannot be told.
pub fn condition(
    env: &Environment<'static>,
    expression: &str,
    context: &minijinja::Value,
) -> Result<bool, Failure> {
    let value = env
        .compile_expression(expression)
        .and_then(|compiled| compiled.eval(context.clone()))
        .map_err(|e| Failure::of(&e, ""))?;
    // Strict, as in templates: write `x is defined and x` for an optional flag.
    if value.is_undefined() {
        let reason = format!("undefined value: '{expression}'");
        Err(Failure::new(FailureKind::Error, "", reason))
    } else {
        Ok(value.is_true())
    }
}

/// `{{ expr }}` alone (surrounding spaces allowed): the expression inside.
pub fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let nested = ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|marker| inner.contains(marker));
    (!nested).then(|| inner.trim_matches(|c: char| c.is_whitespace() || c == '-'))
}

/// A JSON object key as a JSON Pointer segment.
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
