//! `transform`: renders a minijinja template from its config against its input.
//!
//! The template is any JSON value: every string in it is rendered, so
//! `{"title": "{{ topic | title }}", "tags": ["{{ lang }}"]}` yields an object of the
//! same shape, and a string that is one `{{ expression }}` keeps the expression's
//! JSON type. With `"format": "json"`, a string template's rendering is parsed as
//! JSON instead, for templates that build a whole document. Undefined variables are
//! errors, so that a typo fails the step rather than publishing an empty field.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use minijinja::{Environment, UndefinedBehavior};
use serde::Deserialize;

struct Transform;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    template: Value,
    #[serde(default)]
    format: Format,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Format {
    #[default]
    Text,
    Json,
}

impl Step for Transform {
    type Config = Config;
    type Input = Value;

    fn info() -> Info {
        Info::new(
            "transform",
            env!("CARGO_PKG_VERSION"),
            "Renders a minijinja template (any JSON value whose strings are templates) against the input.",
        )
        .config_schema(json!({
            "type": "object",
            "required": ["template"],
            "additionalProperties": false,
            "properties": {
                "template": { "description": "A JSON value; every string in it is a minijinja template rendered against the input (its fields, and `input` itself)." },
                "format": { "enum": ["text", "json"], "default": "text", "description": "`json` parses each rendered string as JSON." }
            }
        }))
    }

    fn run(_ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let context = minijinja::Value::from(minijinja::value::Serde(template_context(input)));
        let output = render(&env, &config.template, &context, &config.format, "")?;
        Ok(Outcome::Complete(output))
    }
}

/// The input's fields at the top level, and the whole input as `input`.
fn template_context(input: Value) -> Value {
    let mut context = match &input {
        Value::Object(fields) => fields.clone(),
        _ => Default::default(),
    };
    context.insert("input".to_owned(), input);
    Value::Object(context)
}

fn render(
    env: &Environment,
    template: &Value,
    context: &minijinja::Value,
    format: &Format,
    path: &str,
) -> Result<Value, Error> {
    match template {
        Value::String(source) => {
            let at = || display_path(path);
            if *format == Format::Text
                && let Some(expression) = single_expression(source)
            {
                let value = env
                    .compile_expression(expression)
                    .and_then(|compiled| compiled.eval(context.clone()))
                    .map_err(|e| Error::fatal(format!("template at '{}': {e:#}", at())))?;
                if value.is_undefined() {
                    return Err(Error::fatal(format!(
                        "template at '{}': undefined value: '{expression}'",
                        at()
                    )));
                }
                return serde_json::to_value(&value).map_err(|e| Error::fatal(e.to_string()));
            }
            let text = env
                .render_str(source, context.clone())
                .map_err(|e| Error::fatal(format!("template at '{}': {e:#}", at())))?;
            if *format == Format::Json {
                serde_json::from_str(&text).map_err(|e| {
                    Error::fatal(format!(
                        "template at '{}' did not render valid JSON: {e}",
                        at()
                    ))
                })
            } else {
                Ok(Value::String(text))
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| render(env, item, context, format, &format!("{path}/{i}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(fields) => fields
            .iter()
            .map(|(key, item)| {
                Ok((
                    key.clone(),
                    render(env, item, context, format, &format!("{path}/{key}"))?,
                ))
            })
            .collect::<Result<serde_json::Map<_, _>, Error>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// `{{ expr }}` alone (surrounding spaces allowed): the expression inside. Such
/// a template keeps the expression's JSON type, as host input templates do.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let nested = ["{{", "}}", "{%", "%}", "{#"]
        .iter()
        .any(|marker| inner.contains(marker));
    (!nested).then(|| inner.trim_matches(|c: char| c.is_whitespace() || c == '-'))
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

export_step!(Transform);
