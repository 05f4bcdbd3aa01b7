//! Templates in step configuration (`"url": "https://x/search?q={{ input.topic | urlencode }}"`),
//! in Cairn's template dialect (`cairn-template`): `input` (the step's input),
//! `run.id` and `step.name`. A variable that is not there is an error, not an
//! empty string. Enable with the `templates` feature.

use serde_json::Value;

use crate::{Context, Error};

fn scope(ctx: &Context, input: &Value) -> cairn_template::Scope {
    cairn_template::Scope::new(input.clone(), &ctx.run_id, &ctx.step)
}

/// Renders the string template `template` to text.
pub fn render(ctx: &Context, what: &str, template: &str, input: &Value) -> Result<String, Error> {
    let env = cairn_template::environment(None);
    cairn_template::render_text(&env, template, &scope(ctx, input).context()).map_err(|failure| {
        Error::fatal(format!(
            "{what}: the template cannot be rendered: {}",
            failure.message()
        ))
    })
}

/// Renders every string of a JSON value, keeping its shape (a string that is
/// one `{{ expression }}` keeps the expression's JSON type); keys are kept as
/// they are.
pub fn render_json(
    ctx: &Context,
    what: &str,
    value: &Value,
    input: &Value,
) -> Result<Value, Error> {
    let env = cairn_template::environment(None);
    cairn_template::render(&env, value, &scope(ctx, input).context()).map_err(|failure| {
        Error::fatal(format!(
            "{what}: the template cannot be rendered: {}",
            failure.message()
        ))
    })
}
