//! The `{{name}}` step type: counts the words in a text. Change it to do
//! what your step should; `cairn plugins inspect` shows what it declares.

use cairn_sdk::{Context, Error, Info, Level, Outcome, Step, export_step, json};
use serde::Deserialize;

struct {{type}};

/// The step's configuration in a workflow definition (`config:`).
#[derive(Deserialize)]
struct Config {
    /// Only words at least this long are counted.
    #[serde(default = "one")]
    min_length: usize,
}

fn one() -> usize {
    1
}

/// The step's input, rendered from the run's input and earlier outputs.
#[derive(Deserialize)]
struct Input {
    text: String,
}

impl Step for {{type}} {
    type Config = Config;
    type Input = Input;
    // What a pause keeps for its resume; this step never pauses.
    type Checkpoint = ();

    fn info() -> Info {
        // The host checks every call's config and input against these
        // schemas before the step runs.
        Info::new("{{name}}", "0.1.0", "Counts the words in a text.")
            .config_schema(json!({
                "type": "object",
                "properties": { "min_length": { "type": "integer", "minimum": 1 } },
                "additionalProperties": false
            }))
            .input_schema(json!({
                "type": "object",
                "required": ["text"],
                "properties": { "text": { "type": "string" } }
            }))
            .output_schema(json!({
                "type": "object",
                "required": ["words"],
                "properties": { "words": { "type": "integer" } }
            }))
    }

    fn run(ctx: &Context, config: Config, input: Input) -> Result<Outcome, Error> {
        ctx.progress(10, "counting words");
        if input.text.len() > 1_000_000 {
            // Error::retryable(...) is for failures that may pass later.
            return Err(Error::fatal("the text is over 1 MB"));
        }
        let words = input
            .text
            .split_whitespace()
            .filter(|word| word.chars().count() >= config.min_length)
            .count();
        ctx.log(Level::Info, &format!("{words} words"));
        Outcome::complete(json!({ "words": words }))
    }
}

export_step!({{type}});
