//! `http-request`: sends one HTTP request and outputs the answer. The URL, header
//! values and body are templates over the step's input (`{{ input.topic | urlencode }}`);
//! secrets go in as `${secret:NAME}`, filled in by the host. The step needs an
//! `http` grant for the target in its workflow.

use std::collections::BTreeMap;

use cairn_sdk::http::{Request, redact};
use cairn_sdk::template::{render, render_json};
use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct HttpRequest;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A text body (a template).
    #[serde(default)]
    body: Option<String>,
    /// A JSON body whose strings are templates; sent as `application/json`.
    #[serde(default)]
    json: Option<Value>,
    /// Fail the step on a 4xx or 5xx answer (retryable for 408, 429 and 5xx).
    #[serde(default = "yes")]
    fail_on_status: bool,
    /// How to read the body: `auto` (JSON when it parses), `json` or `text`.
    #[serde(default = "auto")]
    response: String,
}

fn get() -> String {
    "GET".to_owned()
}
fn yes() -> bool {
    true
}
fn auto() -> String {
    "auto".to_owned()
}

impl Step for HttpRequest {
    type Config = Config;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "http-request",
            env!("CARGO_PKG_VERSION"),
            "Sends an HTTP request (URL, headers and body are templates over the input) and \
             outputs its status, headers and body.",
        )
        .config_schema(json!({
            "type": "object",
            "required": ["url"],
            "additionalProperties": false,
            "properties": {
                "method": {"type": "string", "pattern": "^[A-Za-z]+$", "default": "GET"},
                "url": {"type": "string", "description": "A template, e.g. https://api.example.com/search?q={{ input.topic | urlencode }}"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {"type": "string", "description": "A text body (template)"},
                "json": {"description": "A JSON body whose strings are templates"},
                "fail_on_status": {"type": "boolean", "default": true},
                "response": {"enum": ["auto", "json", "text"], "default": "auto"}
            },
            "not": {"required": ["body", "json"]}
        }))
        .output_schema(json!({
            "type": "object",
            "required": ["status", "headers", "body"],
            "properties": {
                "status": {"type": "integer"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {}
            }
        }))
    }

    fn run(ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let url = render(ctx, "url", &config.url, &input)?;
        let mut request = Request::new(&config.method, &url);
        for (name, value) in &config.headers {
            request = request.header(name, &render(ctx, name, value, &input)?);
        }
        if let Some(body) = &config.body {
            request = request.body(render(ctx, "body", body, &input)?);
        } else if let Some(body) = &config.json {
            request = request.json(&render_json(ctx, "json", body, &input)?)?;
        }
        ctx.progress(10, &format!("{} {}", request.method, redact(&url)));
        let response = request.send()?;
        if config.fail_on_status {
            response.error_for_status(&format!("{} {}", config.method, redact(&url)))?;
        }
        let body = match config.response.as_str() {
            "text" => Value::String(response.text()),
            "json" => response.json()?,
            _ => serde_json::from_slice(&response.body)
                .unwrap_or_else(|_| Value::String(response.text())),
        };
        let headers: BTreeMap<String, String> = response
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        Outcome::complete(json!({ "status": response.status, "headers": headers, "body": body }))
    }
}

export_step!(HttpRequest);
