//! Outbound HTTP for plugins, through `wasi:http/outgoing-handler`.
//!
//! Every request a plugin sends is checked against its step's [`EgressPolicy`]
//! before it leaves: a refused request fails inside the plugin with the typed
//! `wasi:http` error `HTTP-request-denied` (or `connection-limit-reached` past the
//! per-attempt request budget), never with a trap, and the host notes why in the
//! step's log. `${secret:NAME}` placeholders in the URL and header values are
//! replaced by the tenant's secret only after the request was allowed, and only
//! for secrets granted to the step. Response bodies and waits are capped.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::egress::{self, EgressPolicy, Target, Unfilled};

use super::limits::SandboxLimits;

/// What one step may reach, and the secret values it may use there.
#[derive(Debug, Clone)]
pub struct OutboundHttp {
    pub policy: EgressPolicy,
    /// The step's granted secrets that the tenant has, by name.
    pub secrets: HashMap<String, String>,
    /// Every secret name the step was granted, whether the tenant has it or not.
    pub granted: Vec<String>,
}

impl OutboundHttp {
    /// Replaces every granted secret's value in `text` by `[secret:NAME]`.
    pub fn scrub(&self, text: &mut String) {
        for (name, value) in &self.secrets {
            if !value.is_empty() && text.contains(value.as_str()) {
                *text = text.replace(value.as_str(), &format!("[secret:{name}]"));
            }
        }
    }

    /// [`OutboundHttp::scrub`] on every string, and every key, of a JSON value.
    pub fn scrub_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => self.scrub(text),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => {
                let leaks = map.keys().any(|key| {
                    self.secrets
                        .values()
                        .any(|v| !v.is_empty() && key.contains(v))
                });
                if leaks {
                    let entries = std::mem::take(map);
                    for (mut key, value) in entries {
                        self.scrub(&mut key);
                        map.insert(key, value);
                    }
                }
                map.values_mut().for_each(|v| self.scrub_json(v));
            }
            _ => {}
        }
    }
}

/// The per-attempt `wasi:http` hooks: the policy, the budget, and what happened.
pub(super) struct Outbound {
    access: Option<std::sync::Arc<OutboundHttp>>,
    requests_sent: u32,
    requests_allowed: u32,
    response_bytes: u64,
    timeout: Duration,
    /// Why requests were refused, for the step's log.
    pub(super) notes: Vec<String>,
}

impl Outbound {
    pub(super) fn new(
        access: Option<std::sync::Arc<OutboundHttp>>,
        limits: &SandboxLimits,
    ) -> Outbound {
        Outbound {
            access,
            requests_sent: 0,
            requests_allowed: limits.http_requests,
            response_bytes: limits.http_response_bytes,
            timeout: Duration::from_millis(limits.http_timeout_ms.max(1)),
            notes: Vec::new(),
        }
    }

    pub(super) fn access(&self) -> Option<&OutboundHttp> {
        self.access.as_deref()
    }

    /// Checks a request and fills in its secrets; the error is what the plugin sees.
    fn admit(
        &mut self,
        mut request: http::Request<WasiBody>,
    ) -> Result<http::Request<WasiBody>, Error> {
        let target = target_of(&request);
        let Some(access) = self.access.clone() else {
            return Err(self.deny(format!(
                "{target}: this step has no http grant, so it may not send requests"
            )));
        };
        if let Err(denial) = access.policy.check(&target) {
            return Err(self.deny(denial.to_string()));
        }
        if self.requests_sent >= self.requests_allowed {
            self.notes.push(format!(
                "http request refused: {target}: this attempt already sent {} requests \
                 (limits.http_requests)",
                self.requests_allowed
            ));
            return Err(Error::ConnectionLimitReached);
        }
        self.requests_sent += 1;

        let lookup = |name: &str| -> Option<String> {
            if !access.granted.iter().any(|g| g == name) {
                return None;
            }
            access.secrets.get(name).cloned()
        };
        let refused = |unfilled: Unfilled| -> String {
            match unfilled {
                Unfilled::Unterminated => {
                    format!("{target}: a ${{secret:...}} placeholder is not closed")
                }
                Unfilled::Refused(name) if !access.granted.contains(&name) => {
                    format!("{target}: secret '{name}' is not granted to this step (http.secrets)")
                }
                Unfilled::Refused(name) => {
                    format!("{target}: the tenant has no secret named '{name}'")
                }
            }
        };
        // The URL: path and query only; a secret never names the host.
        if let Some(path) = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
        {
            match egress::substitute(&path, lookup) {
                Ok(None) => {}
                Ok(Some(filled)) => {
                    let mut parts = request.uri().clone().into_parts();
                    parts.path_and_query = Some(filled.parse().map_err(|_| {
                        self.deny(format!(
                            "{target}: a secret's value is not allowed in a URL; use a header"
                        ))
                    })?);
                    *request.uri_mut() =
                        http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)?;
                }
                Err(name) => return Err(self.deny(refused(name))),
            }
        }
        for value in request.headers_mut().values_mut() {
            let Ok(text) = value.to_str() else { continue };
            match egress::substitute(text, lookup) {
                Ok(None) => {}
                Ok(Some(filled)) => {
                    let mut filled = http::HeaderValue::from_str(&filled).map_err(|_| {
                        self.deny(format!(
                            "{target}: a secret's value is not a valid header value"
                        ))
                    })?;
                    filled.set_sensitive(true);
                    *value = filled;
                }
                Err(name) => return Err(self.deny(refused(name))),
            }
        }
        Ok(request)
    }

    fn deny(&mut self, reason: String) -> Error {
        tracing::info!(%reason, "outbound request denied");
        self.notes.push(format!("http request denied: {reason}"));
        Error::HttpRequestDenied
    }

    fn options(&self, asked: Option<RequestOptions>) -> RequestOptions {
        let cap =
            |asked: Option<Duration>| Some(asked.map_or(self.timeout, |t| t.min(self.timeout)));
        let asked = asked.unwrap_or_default();
        RequestOptions {
            connect_timeout: cap(asked.connect_timeout),
            first_byte_timeout: cap(asked.first_byte_timeout),
            between_bytes_timeout: cap(asked.between_bytes_timeout),
        }
    }
}

type BoxedFuture<T> = Box<dyn Future<Output = T> + Send>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: BoxedFuture<Result<(), Error>>,
    ) -> BoxedFuture<Result<(http::Response<WasiBody>, BoxedFuture<Result<(), Error>>), Error>>
    {
        drop(fut);
        let options = self.options(options);
        let limit = self.response_bytes;
        match self.admit(request) {
            Err(error) => Box::new(async move { Err(error) }),
            Ok(request) => Box::new(async move {
                let (response, io) =
                    wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
                let declared = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if declared.is_some_and(|len| len > limit) {
                    return Err(Error::HttpResponseBodySize(declared));
                }
                let response = response.map(|body| {
                    CappedBody {
                        inner: body.boxed_unsync(),
                        left: limit,
                        limit,
                    }
                    .boxed_unsync()
                });
                Ok((response, Box::new(io) as BoxedFuture<Result<(), Error>>))
            }),
        }
    }
}

/// Where a request goes, for the policy: scheme, host, port, path and method.
fn target_of(request: &http::Request<WasiBody>) -> Target {
    let uri = request.uri();
    let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
    Target {
        method: request.method().as_str().to_owned(),
        host: uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port: uri
            .port_u16()
            .unwrap_or_else(|| egress::default_port(&scheme)),
        path: uri.path().to_owned(),
        scheme,
    }
}

/// A response body that fails once it has yielded more than `limit` bytes.
struct CappedBody {
    inner: WasiBody,
    left: u64,
    limit: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            if len > self.left {
                self.left = 0;
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(self.limit)))));
            }
            self.left -= len;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
