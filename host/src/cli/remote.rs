//! Talking to a running server: `--server` (or `CAIRN_SERVER`) and
//! `--api-key` (or `CAIRN_API_KEY`, or the default tenant's key file in the
//! data directory, for a server on this machine). JSON in and out through the
//! host's one outbound client, allowed to reach that server only.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use cairn::egress::client::{self, Timeouts};
use cairn::egress::{EgressPolicy, Target};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Where the server is, and the key to use there.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The server's address.
    #[arg(long, env = "CAIRN_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// An API key [default: the default tenant's key in the data directory].
    #[arg(long, env = "CAIRN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

/// A server and a key.
pub struct Remote {
    base: String,
    key: String,
}

/// An answer: the status and the JSON body (`Null` when empty).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Remote {
    pub fn new(connection: Connection, data_dir: &Path) -> anyhow::Result<Remote> {
        let key = match connection.api_key {
            Some(key) => key,
            None => {
                let file = data_dir.join("default-api-key");
                std::fs::read_to_string(&file)
                    .with_context(|| {
                        format!(
                            "no --api-key (or CAIRN_API_KEY), and no key file {}",
                            file.display()
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Remote {
            base: connection.server.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// `method path` with a JSON body; an answer of any status.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let target = Target::parse(method, &url).map_err(anyhow::Error::msg)?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.key))
            .header("accept", "application/json");
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(bytes))?;
        // Planning can take minutes: the model may be asked several times.
        let timeouts = Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(600),
        };
        let (response, connection) =
            client::send(&EgressPolicy::only(&target), &target, request, timeouts)
                .await
                .with_context(|| format!("{method} {url}"))?;
        if let Some(connection) = connection {
            tokio::spawn(connection);
        }
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer to {method} {url}: {e}"))?
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .with_context(|| format!("the answer to {method} {url} is not JSON"))?
        };
        Ok(Answer { status, body })
    }

    /// [`Remote::call`], with an error answer turned into an error that says
    /// what the problem+json body says.
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let answer = self.call(method, path, body).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        bail!("{}", problem_text(&answer));
    }
}

/// A problem+json answer as lines a person reads.
pub fn problem_text(answer: &Answer) -> String {
    let body = &answer.body;
    let mut text = format!(
        "{} ({})",
        body["title"].as_str().unwrap_or("the server refused"),
        answer.status
    );
    if let Some(detail) = body["detail"].as_str() {
        text.push_str(&format!(": {detail}"));
    }
    for problem in body["errors"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  {}: {}",
            problem["path"]
                .as_str()
                .filter(|p| !p.is_empty())
                .unwrap_or("(whole)"),
            problem["message"].as_str().unwrap_or_default()
        ));
    }
    text
}
