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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::egress::client::{self, SendError, Timeouts};
use crate::egress::{self, EgressPolicy, Scrubber, Target, Unfilled};

use super::limits::SandboxLimits;

/// What one step may reach, and the secret values it may use there.
#[derive(Debug, Clone)]
pub struct OutboundHttp {
    pub policy: EgressPolicy,
    /// The step's granted secrets that the tenant has, by name.
    secrets: HashMap<String, String>,
    /// Every secret name the step was granted, whether the tenant has it or not.
    granted: Vec<String>,
    /// Finds those values in what the step produces.
    pub scrubber: Scrubber,
}

impl OutboundHttp {
    pub fn new(
        policy: EgressPolicy,
        secrets: HashMap<String, String>,
        granted: Vec<String>,
    ) -> OutboundHttp {
        let scrubber = Scrubber::new(secrets.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        OutboundHttp {
            policy,
            secrets,
            granted,
            scrubber,
        }
    }
}

/// The per-attempt `wasi:http` hooks: the policy, the budget, and what happened.
pub(super) struct Outbound {
    access: Option<Arc<OutboundHttp>>,
    requests_sent: u32,
    requests_allowed: u32,
    response_bytes: u64,
    timeout: Duration,
    /// Why requests were refused, for the step's log (some are refused
    /// after DNS, inside a send that outlives the call that began it).
    notes: Arc<Mutex<Vec<String>>>,
}

impl Outbound {
    pub(super) fn new(access: Option<Arc<OutboundHttp>>, limits: &SandboxLimits) -> Outbound {
        Outbound {
            access,
            requests_sent: 0,
            requests_allowed: limits.http_requests,
            response_bytes: limits.http_response_bytes,
            timeout: Duration::from_millis(limits.http_timeout_ms.max(1)),
            notes: Arc::default(),
        }
    }

    /// The notes taken so far, leaving none.
    pub(super) fn take_notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|mut notes| std::mem::take(&mut *notes))
            .unwrap_or_default()
    }

    fn note(&self, note: String) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note);
        }
    }

    pub(super) fn access(&self) -> Option<&OutboundHttp> {
        self.access.as_deref()
    }

    /// Checks a request and fills in its secrets; the error is what the plugin sees.
    fn admit(
        &mut self,
        mut request: http::Request<WasiBody>,
    ) -> Result<(Target, Arc<OutboundHttp>, http::Request<WasiBody>), Error> {
        let target = match Target::of(request.method().as_str(), request.uri()) {
            Ok(target) => target,
            Err(reason) => {
                self.note(format!("http request refused: {reason}"));
                return Err(Error::HttpRequestUriInvalid);
            }
        };
        let Some(access) = self.access.clone() else {
            return Err(self.deny(format!(
                "{target}: this step has no http grant, so it may not send requests"
            )));
        };
        if let Err(denial) = access.policy.check(&target) {
            return Err(self.deny(denial.to_string()));
        }
        if self.requests_sent >= self.requests_allowed {
            self.note(format!(
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
        Ok((target, access, request))
    }

    fn deny(&mut self, reason: String) -> Error {
        note_denial(&self.notes, &reason);
        Error::HttpRequestDenied
    }

    /// The plugin's timeouts, never above the step's `http_timeout_ms`.
    fn timeouts(&self, asked: Option<RequestOptions>) -> (Timeouts, Duration) {
        let asked = asked.unwrap_or_default();
        let cap = |asked: Option<Duration>| asked.map_or(self.timeout, |t| t.min(self.timeout));
        (
            Timeouts {
                connect: cap(asked.connect_timeout),
                first_byte: cap(asked.first_byte_timeout),
            },
            cap(asked.between_bytes_timeout),
        )
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
        let (timeouts, between_bytes) = self.timeouts(options);
        let limit = self.response_bytes;
        let (target, access, request) = match self.admit(request) {
            Ok(admitted) => admitted,
            Err(error) => return Box::new(async move { Err(error) }),
        };
        let notes = Arc::clone(&self.notes);
        Box::new(async move {
            let (response, connection) =
                match client::send(&access.policy, &target, request, timeouts).await {
                    Ok(sent) => sent,
                    Err(error) => {
                        // Refusals after DNS are the step's business too.
                        if let SendError::Denied(denial) = &error {
                            note_denial(&notes, denial);
                        }
                        return Err(wasi_error(error));
                    }
                };
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > limit) {
                return Err(Error::HttpResponseBodySize(declared));
            }
            let response = response.map(|body| {
                GuardedBody {
                    inner: body,
                    left: limit,
                    limit,
                    between_bytes,
                    idle: Box::pin(tokio::time::sleep(between_bytes)),
                }
                .boxed_unsync()
            });
            let io: BoxedFuture<Result<(), Error>> = Box::new(async move {
                match connection {
                    Some(connection) => connection.await.map_err(Error::from),
                    None => Ok(()),
                }
            });
            Ok((response, io))
        })
    }
}

/// Logs a refused request and notes it for the step's log.
fn note_denial(notes: &Mutex<Vec<String>>, reason: &dyn std::fmt::Display) {
    tracing::info!(%reason, "outbound request denied");
    if let Ok(mut notes) = notes.lock() {
        notes.push(format!("http request denied: {reason}"));
    }
}

/// The `wasi:http` error code a plugin sees for a failed send.
fn wasi_error(error: SendError) -> Error {
    match error {
        SendError::Denied(_) => Error::HttpRequestDenied,
        SendError::Dns { reason, .. } => Error::DnsError {
            rcode: Some(reason),
            info_code: None,
        },
        SendError::Connect { error, .. }
            if error.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            Error::ConnectionRefused
        }
        SendError::Connect { error, .. } => Error::Connect(error),
        SendError::ConnectTimeout(_) => Error::ConnectionTimeout,
        SendError::Tls { error, .. } => Error::Tls(error),
        SendError::TlsName(_) => Error::TlsProtocolError,
        SendError::ResponseTimeout(_) => Error::ConnectionReadTimeout,
        SendError::Http(error) => Error::from(error),
    }
}

/// A response body that fails once it has yielded more than `limit` bytes,
/// or when no data came for `between_bytes`.
struct GuardedBody {
    inner: Incoming,
    left: u64,
    limit: u64,
    between_bytes: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => {
                if self.idle.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::from(error)))),
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + self.between_bytes;
                self.idle.as_mut().reset(deadline);
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > self.left {
                        self.left = 0;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            self.limit,
                        )))));
                    }
                    self.left -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
