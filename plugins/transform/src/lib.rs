//! `transform`: renders a minijinja template from its config against its input.
//!
//! The template is any JSON value: every string in it is rendered, so
//! `{"title": "{{ topic | title }}", "tags": ["{{ lang }}"]}` yields an object of the
//! same shape, and a string that is one `{{ expression }}` keeps the expression's
//! JSON type. With `"format": "json"`, a string template's rendering is parsed as
//! JSON instead, for templates that build a whole document. Undefined variables are
//! errors, so that a typo fails the step rather than publishing an empty field.
//! The language and its variables are Cairn's template dialect
//! (`cairn-template`); `transform` adds the input's fields at the top level.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use cairn_template::{Format, Scope};
use serde::Deserialize;

struct Transform;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    template: Value,
    #[serde(default)]
    format: TextOrJson,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum TextOrJson {
    #[default]
    Text,
    Json,
}

impl Step for Transform {
    type Config = Config;
    type Input = Value;
    type Checkpoint = ();

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
                "template": { "description": "A JSON value; every string in it is a minijinja template rendered against the input (its fields, and `input` itself, `run.id` and `step.name`)." },
                "format": { "enum": ["text", "json"], "default": "text", "description": "`json` parses each rendered string as JSON." }
            }
        }))
    }

    fn run(ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let env = cairn_template::environment(None);
        let context = Scope::new(input, &ctx.run_id, &ctx.step)
            .with_input_fields()
            .context();
        let format = match config.format {
            TextOrJson::Text => Format::Text,
            TextOrJson::Json => Format::Json,
        };
        let output = cairn_template::render_as(&env, &config.template, &context, format).map_err(
            |failure| {
                let path = if failure.path.is_empty() {
                    "/"
                } else {
                    &failure.path
                };
                Error::fatal(format!("template at '{path}': {}", failure.reason))
            },
        )?;
        Ok(Outcome::Complete(output))
    }
}

export_step!(Transform);
