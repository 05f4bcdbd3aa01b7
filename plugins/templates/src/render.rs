//! Rendering workflow templates: step `input` templates and `when` conditions
//! over `input`, `steps.<name>.output` and `run.id`. Undefined values are
//! errors, so that a typo fails the step instead of passing an empty value on.
//!
//! This file is the whole language: the `cairn-templates` component runs it in
//! a sandbox for the host, and the host includes it (`#[path]`) to check
//! templates when a workflow is saved and to test it without a sandbox.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// A strict environment, with `fuel` instructions per render when given.
pub fn environment(fuel: Option<u64>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(fuel);
    env
}

/// Why a template could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The template is wrong for this context: a syntax error, an undefined
    /// value, a type error.
    Error(String),
    /// The template went past a bound: its fuel, or the size of a value.
    Limit(String),
}

impl Failure {
    fn of(error: &minijinja::Error, path: &str) -> Failure {
        let message = at(path, one_line(error));
        if is_limit(error) {
            Failure::Limit(message)
        } else {
            Failure::Error(message)
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Error(message) | Failure::Limit(message) => message,
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

/// Renders every string in `template`, keeping the JSON shape: a string that is
/// one `{{ expression }}` becomes the expression's JSON value.
pub fn render(
    env: &Environment<'static>,
    template: &Value,
    context: &minijinja::Value,
) -> Result<Value, Failure> {
    render_at(env, template, context, "")
}

fn render_at(
    env: &Environment<'static>,
    template: &Value,
    context: &minijinja::Value,
    path: &str,
) -> Result<Value, Failure> {
    match template {
        Value::String(source) => render_string(env, source, context).map_err(|e| match e {
            Rendered::Engine(e) => Failure::of(&e, path),
            Rendered::Undefined(expression) => {
                Failure::Error(at(path, format!("undefined value: '{expression}'")))
            }
            Rendered::Json(e) => Failure::Error(at(path, e)),
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| render_at(env, item, context, &format!("{path}/{i}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, item)| {
                let path = format!("{path}/{}", escape_pointer(key));
                Ok((key.clone(), render_at(env, item, context, &path)?))
            })
            .collect::<Result<serde_json::Map<_, _>, Failure>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

enum Rendered {
    Engine(minijinja::Error),
    Undefined(String),
    Json(String),
}

fn render_string(
    env: &Environment<'static>,
    source: &str,
    context: &minijinja::Value,
) -> Result<Value, Rendered> {
    if let Some(expression) = single_expression(source) {
        let value = env
            .compile_expression(expression)
            .and_then(|compiled| compiled.eval(context.clone()))
            .map_err(Rendered::Engine)?;
        if value.is_undefined() {
            return Err(Rendered::Undefined(expression.to_owned()));
        }
        return serde_json::to_value(&value).map_err(|e| Rendered::Json(e.to_string()));
    }
    env.render_str(source, context.clone())
        .map(Value::String)
        .map_err(Rendered::Engine)
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
        Err(Failure::Error(format!("undefined value: '{expression}'")))
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

fn at(path: &str, error: String) -> String {
    if path.is_empty() {
        error
    } else {
        format!("template at '{path}': {error}")
    }
}

/// A JSON object key as a JSON Pointer segment.
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
