//! One call of the chat-completions endpoint: the conversation so far, the
//! response schema, and the answer's text.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};

use super::Planner;
use crate::egress::client::{self, SendError, Timeouts};

/// The largest response body read from the model server.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why a call brought no answer.
#[derive(Debug)]
pub enum CallError {
    /// No answer within the planner's timeout.
    TimedOut(String),
    /// Worth another try: a rate limit, a server error, a refused connection.
    Retryable {
        message: String,
        after: Option<Duration>,
    },
    /// Another try would fare no better: a bad key, a bad request, an
    /// answer that is not a chat completion.
    Refused(String),
}

/// Sends the conversation and returns the text of the model's reply.
pub async fn complete(
    planner: &Planner,
    messages: &[Value],
    schema: &Value,
    api_key: Option<&str>,
) -> Result<String, CallError> {
    let body = json!({
        "model": planner.settings.model,
        "messages": messages,
        "temperature": 0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "cairn_workflow", "strict": false, "schema": schema},
        },
    });
    let mut request = http::Request::post(&planner.url)
        .header("content-type", "application/json")
        .header("accept", "application/json");
    if let Some(key) = api_key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| CallError::Refused(format!("cannot build the model request: {e}")))?;
    let timeout = planner.timeout;
    let timed_out = || {
        CallError::TimedOut(format!(
            "the model server at {} did not answer within {}",
            planner.url,
            humantime::format_duration(timeout)
        ))
    };
    let call = async {
        let timeouts = Timeouts {
            connect: timeout.min(Duration::from_secs(10)),
            first_byte: timeout,
        };
        let (response, connection) =
            client::send(&planner.policy, &planner.target, request, timeouts)
                .await
                .map_err(|e| match e {
                    SendError::ConnectTimeout(_) | SendError::ResponseTimeout(_) => timed_out(),
                    other => CallError::Retryable {
                        message: format!(
                            "cannot reach the model server at {}: {other}",
                            planner.url
                        ),
                        after: None,
                    },
                })?;
        if let Some(connection) = connection {
            tokio::spawn(connection);
        }
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| CallError::Retryable {
                message: format!("reading the model server's answer: {e}"),
                after: None,
            })?
            .to_bytes();
        Ok::<_, CallError>((status, retry_after, body))
    };
    let (status, retry_after, body) = tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| timed_out())??;
    let excerpt = || {
        let text = String::from_utf8_lossy(&body);
        text.chars().take(300).collect::<String>()
    };
    if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        return Err(CallError::Retryable {
            message: format!("the model server answered {status}: {}", excerpt()),
            after: retry_after,
        });
    }
    if !status.is_success() {
        return Err(CallError::Refused(format!(
            "the model server refused the request with {status}: {}",
            excerpt()
        )));
    }
    let completion: Value = serde_json::from_slice(&body).map_err(|e| {
        CallError::Refused(format!(
            "the model server's answer is not a chat completion ({e}): {}",
            excerpt()
        ))
    })?;
    completion
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            CallError::Refused(format!(
                "the model server's answer has no choices[0].message.content: {}",
                excerpt()
            ))
        })
}
