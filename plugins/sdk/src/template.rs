//! Templates in step configuration (`"url": "https://x/search?q={{ input.topic | urlencode }}"`),
//! rendered with minijinja over the step's input. Enable with the `templates` feature.

use serde_json::Value;

use crate::{Context, Error};

/// Renders `template` with `input` (the step's input), `run_id` and `step` in
/// scope. A variable that is not there is an error, not an empty string.
pub fn render(ctx: &Context, what: &str, template: &str, input: &Value) -> Result<String, Error> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let context = serde_json::json!({ "input": input, "run_id": ctx.run_id, "step": ctx.step });
    env.render_str(
        template,
        minijinja::Value::from(minijinja::value::Serde(&context)),
    )
    .map_err(|e| Error::fatal(format!("{what}: the template cannot be rendered: {e}")))
}

/// [`render`] on every string of a JSON value; keys are kept as they are.
pub fn render_json(
    ctx: &Context,
    what: &str,
    value: &Value,
    input: &Value,
) -> Result<Value, Error> {
    Ok(match value {
        Value::String(text) => Value::String(render(ctx, what, text, input)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_json(ctx, what, item, input))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), render_json(ctx, what, item, input)?)))
                .collect::<Result<_, Error>>()?,
        ),
        other => other.clone(),
    })
}
