//! `notify`: posts a JSON message to a webhook: Slack-style (`{"text"}`) or
//! generic (`{"text", "run_id", "step", "data"}`, `data` being the step's input).
//! The text is a template over the input. A webhook URL that is itself a secret
//! can be written as `https://hooks.slack.com/services/${secret:slack}`.

use std::collections::BTreeMap;

use cairn_sdk::http::Request;
use cairn_sdk::template::render;
use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct Notify;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    url: String,
    #[serde(default = "generic")]
    format: String,
    text: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn generic() -> String {
    "generic".to_owned()
}

impl Step for Notify {
    type Config = Config;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "notify",
            env!("CARGO_PKG_VERSION"),
            "Posts a JSON message to a webhook, Slack-style or generic.",
        )
        .audience("the people who read the webhook's channel")
        .config_schema(json!({
            "type": "object",
            "required": ["url", "text"],
            "additionalProperties": false,
            "properties": {
                "url": {"type": "string", "pattern": "^https?://"},
                "format": {"enum": ["slack", "generic"], "default": "generic"},
                "text": {"type": "string", "description": "The message (template over the input)"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }))
        .output_schema(json!({
            "type": "object",
            "required": ["delivered", "status"],
            "properties": {"delivered": {"type": "boolean"}, "status": {"type": "integer"}}
        }))
    }

    fn run(ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let text = render(ctx, "text", &config.text, &input)?;
        let message = if config.format == "slack" {
            json!({ "text": text })
        } else {
            json!({ "text": text, "run_id": ctx.run_id, "step": ctx.step, "data": input })
        };
        let mut request = Request::post(&config.url)
            .header("idempotency-key", &ctx.idempotency_key)
            .json(&message)?;
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        let response = request.send()?;
        response.error_for_status("the webhook")?;
        Outcome::complete(json!({ "delivered": true, "status": response.status }))
    }
}

export_step!(Notify);
