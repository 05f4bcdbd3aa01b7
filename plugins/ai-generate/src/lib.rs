//! `ai-generate`: asks an OpenAI-compatible chat completions endpoint
//! (`{base_url}/chat/completions`) for text and outputs it with the token usage.
//! The prompt and system prompt are templates over the step's input; the API key
//! is a tenant secret, named in the config and filled in by the host. A rate limit
//! (429) or a server error (5xx) fails the attempt as retryable, so the step's
//! `retry` policy tries again with backoff.

use cairn_sdk::http::{Request, secret};
use cairn_sdk::template::render;
use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct AiGenerate;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// E.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    base_url: String,
    model: String,
    #[serde(default)]
    system: Option<String>,
    prompt: String,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
    /// The tenant secret holding the API key (sent as a Bearer token).
    #[serde(default)]
    api_key_secret: Option<String>,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

impl Step for AiGenerate {
    type Config = Config;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "ai-generate",
            env!("CARGO_PKG_VERSION"),
            "Generates text with an OpenAI-compatible chat completions API; outputs the text \
             and token usage. Retryable on 429 and 5xx.",
        )
        .config_schema(json!({
            "type": "object",
            "required": ["base_url", "model", "prompt"],
            "additionalProperties": false,
            "properties": {
                "base_url": {"type": "string", "pattern": "^https?://", "description": "The API's base URL, e.g. https://api.openai.com/v1"},
                "model": {"type": "string", "minLength": 1},
                "system": {"type": "string", "description": "System prompt (template)"},
                "prompt": {"type": "string", "description": "User prompt (template over the input)"},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "max_tokens": {"type": "integer", "minimum": 1},
                "api_key_secret": {"type": "string", "description": "Name of the tenant secret with the API key; grant it in the step's http.secrets"}
            }
        }))
        .output_schema(json!({
            "type": "object",
            "required": ["text", "usage"],
            "properties": {
                "text": {"type": "string"},
                "model": {"type": "string"},
                "finish_reason": {"type": ["string", "null"]},
                "usage": {
                    "type": "object",
                    "properties": {
                        "prompt_tokens": {"type": "integer"},
                        "completion_tokens": {"type": "integer"},
                        "total_tokens": {"type": "integer"}
                    }
                }
            }
        }))
    }

    fn run(ctx: &Context, config: Config, input: Value) -> Result<Outcome, Error> {
        let mut messages = Vec::new();
        if let Some(system) = &config.system {
            messages
                .push(json!({"role": "system", "content": render(ctx, "system", system, &input)?}));
        }
        messages.push(
            json!({"role": "user", "content": render(ctx, "prompt", &config.prompt, &input)?}),
        );
        let mut body = json!({ "model": config.model, "messages": messages });
        if let Some(temperature) = config.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(max_tokens) = config.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let mut request = Request::post(&url).json(&body)?;
        if let Some(name) = &config.api_key_secret {
            request = request.header("authorization", &format!("Bearer {}", secret(name)));
        }
        ctx.progress(
            10,
            &format!("asking {} (attempt {})", config.model, ctx.attempt),
        );
        let response = request.send()?;
        response.error_for_status(&format!("the model server ({url})"))?;
        let completion: Completion = response.json()?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::fatal("the model server answered without a choice"))?;
        let text = choice.message.content.unwrap_or_default();
        let usage = completion.usage.unwrap_or_else(|| json!({}));
        ctx.progress(100, "generated");
        Outcome::complete(json!({
            "text": text,
            "model": completion.model.unwrap_or(config.model),
            "finish_reason": choice.finish_reason,
            "usage": {
                "prompt_tokens": usage["prompt_tokens"].as_u64().unwrap_or(0),
                "completion_tokens": usage["completion_tokens"].as_u64().unwrap_or(0),
                "total_tokens": usage["total_tokens"].as_u64().unwrap_or(0),
            }
        }))
    }
}

export_step!(AiGenerate);
