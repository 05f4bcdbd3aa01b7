use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct Greet;

#[derive(Deserialize)]
struct Input {
    name: String,
}

impl Step for Greet {
    type Config = Value;
    type Input = Input;
    type Checkpoint = (); // it never pauses

    fn info() -> Info {
        Info::new("greet", "0.1.0", "Greets someone by name.").input_schema(json!({
            "type": "object",
            "required": ["name"],
            "properties": { "name": { "type": "string" } }
        }))
    }

    fn run(ctx: &Context, _config: Value, input: Input) -> Result<Outcome, Error> {
        ctx.progress(50, "composing a greeting");
        if input.name.trim().is_empty() {
            return Err(Error::fatal("name is empty"));
        }
        Outcome::complete(json!({ "greeting": format!("Hello, {}!", input.name) }))
    }
}

export_step!(Greet);
