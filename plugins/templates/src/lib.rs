//! `cairn-templates`: the sandbox in which the host evaluates a step's `when`
//! condition and `input` template. Templates are written by tenants and run
//! before any plugin does, so they get what plugins get: a memory cap, a wall
//! time and an output cap from the host, and here a budget of template
//! instructions (minijinja's fuel). Not a step type: the host never lists it.
//!
//! Input: `{"context": {...}, "when": "expr"?, "input": template?}`; config:
//! `{"fuel": n}`. Output: `{"run": false}` when the condition is false, else
//! `{"run": true, "input": value?}`. A failure's message starts with
//! `template_limit: ` when a bound stopped it.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use cairn_template as render;
use serde::Deserialize;

/// What the host prefixes a limit's message with, and looks for.
const LIMIT_PREFIX: &str = "template_limit: ";

struct Templates;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    fuel: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    context: Value,
    when: Option<String>,
    input: Option<Value>,
}

/// The failure of the step's `part` (`condition` or `input`) as a step error.
fn failed(ctx: &Context, part: &str, failure: render::Failure) -> Error {
    let message = format!("{part} of step '{}': {}", ctx.step, failure.message());
    match failure.kind {
        render::FailureKind::Error => Error::fatal(message),
        render::FailureKind::Limit => Error::fatal(format!("{LIMIT_PREFIX}{message}")),
    }
}

impl Step for Templates {
    type Config = Config;
    type Input = Request;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "cairn-templates",
            env!("CARGO_PKG_VERSION"),
            "Evaluates a step's condition and input template for the host.",
        )
    }

    fn run(ctx: &Context, config: Config, request: Request) -> Result<Outcome, Error> {
        let env = render::environment(config.fuel);
        let context =
            render::minijinja::Value::from(render::minijinja::value::Serde(&request.context));
        if let Some(when) = &request.when
            && !render::condition(&env, when, &context).map_err(|f| failed(ctx, "condition", f))?
        {
            return Outcome::complete(json!({ "run": false }));
        }
        let input = match &request.input {
            Some(template) => Some(
                render::render(&env, template, &context).map_err(|f| failed(ctx, "input", f))?,
            ),
            None => None,
        };
        Outcome::complete(json!({ "run": true, "input": input }))
    }
}

export_step!(Templates);
