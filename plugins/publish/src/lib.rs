//! `publish`: delivers the final HTML, title and meta description. In `cms` mode
//! it posts them as JSON to a CMS endpoint (with the step's idempotency key, so a
//! retried attempt does not publish twice) and outputs what the CMS answered; in
//! `draft` mode it keeps them as the step's output, for a person to publish.

use std::collections::BTreeMap;

use cairn_sdk::http::Request;
use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step, json};
use serde::Deserialize;

struct Publish;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "draft")]
    mode: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Extra fields sent to the CMS with the article, e.g. `{"status": "publish"}`.
    #[serde(default)]
    fields: serde_json::Map<String, Value>,
}

fn draft() -> String {
    "draft".to_owned()
}

#[derive(Deserialize)]
struct Article {
    html: String,
    title: String,
    #[serde(default)]
    description: String,
}

impl Step for Publish {
    type Config = Config;
    type Input = Article;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "publish",
            env!("CARGO_PKG_VERSION"),
            "Sends the final HTML, title and meta description to a CMS endpoint (mode `cms`), \
             or keeps them as a draft (mode `draft`).",
        )
        .audience("the readers of the site it publishes to")
        .config_schema(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "mode": {"enum": ["draft", "cms"], "default": "draft"},
                "url": {"type": "string", "pattern": "^https?://"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "fields": {"type": "object"}
            },
            "if": {"properties": {"mode": {"const": "cms"}}, "required": ["mode"]},
            "then": {"required": ["url"]}
        }))
        .input_schema(json!({
            "type": "object",
            "required": ["html", "title"],
            "properties": {
                "html": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"}
            }
        }))
        .output_schema(json!({
            "type": "object",
            "required": ["mode", "title"],
            "properties": {
                "mode": {"enum": ["draft", "cms"]},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "id": {},
                "url": {"type": "string"},
                "response": {}
            }
        }))
    }

    fn run(ctx: &Context, config: Config, article: Article) -> Result<Outcome, Error> {
        if config.mode != "cms" {
            return Outcome::complete(json!({
                "mode": "draft",
                "title": article.title,
                "description": article.description,
                "html": article.html,
            }));
        }
        let url = config
            .url
            .ok_or_else(|| Error::fatal("mode `cms` needs a `url`"))?;
        let mut document = config.fields;
        document.insert("title".into(), json!(article.title));
        document.insert("html".into(), json!(article.html));
        document.insert("description".into(), json!(article.description));
        let mut request = Request::post(&url)
            .header("idempotency-key", &ctx.idempotency_key)
            .json(&document)?;
        for (name, value) in &config.headers {
            request = request.header(name, value);
        }
        ctx.progress(20, "sending to the CMS");
        let response = request.send()?;
        response.error_for_status("the CMS")?;
        let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        let mut output = json!({
            "mode": "cms",
            "title": article.title,
            "status": response.status,
            "response": answer,
        });
        if let Some(id) = answer.get("id") {
            output["id"] = id.clone();
        }
        if let Some(link) = answer
            .get("url")
            .or_else(|| answer.get("link"))
            .and_then(Value::as_str)
        {
            output["url"] = json!(link);
        }
        Outcome::complete(output)
    }
}

export_step!(Publish);
