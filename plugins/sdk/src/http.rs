//! Outgoing HTTP requests through `wasi:http`, blocking and simple.
//!
//! The host sends a request only to targets its operator, the tenant's policy and
//! the step's `http` grant all allow; anything else fails with
//! [`HttpError::denied`]. Secrets never pass through the plugin: put
//! [`secret`]`("NAME")` where the value belongs (a header or the URL) and the host
//! fills it in on the way out.
//!
//! ```ignore
//! let response = cairn_sdk::http::Request::post("https://api.example.com/v1/things")
//!     .header("authorization", &format!("Bearer {}", cairn_sdk::http::secret("example")))
//!     .json(&serde_json::json!({"name": "x"}))?
//!     .send()?;
//! let body: serde_json::Value = response.json()?;
//! ```

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// The placeholder the host replaces with the tenant's secret `name`, in a
/// header value or the URL, for requests the step's grant allows.
pub fn secret(name: &str) -> String {
    format!("${{secret:{name}}}")
}

/// An HTTP request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response, with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The `wasi:http` error code, e.g. `HttpRequestDenied`, or what went wrong
    /// before the request was sent.
    pub code: String,
    pub message: String,
}

impl Request {
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, value: &impl Serialize) -> Result<Request, HttpError> {
        let body = serde_json::to_vec(value).map_err(|e| HttpError {
            code: "InvalidBody".to_owned(),
            message: format!("cannot serialise the request body: {e}"),
        })?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        let target = format!("{} {}", self.method, redact(&self.url));
        send(self).map_err(|mut error| {
            error.message = format!("{target}: {}", error.message);
            error
        })
    }
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Ok` for a 2xx answer; otherwise a step error that quotes the start of
    /// the body, retryable for 408, 429 and 5xx (with `Retry-After` if sent).
    pub fn error_for_status(&self, what: &str) -> Result<(), crate::Error> {
        if self.is_success() {
            return Ok(());
        }
        let mut body = self.text();
        if body.len() > 300 {
            let mut end = 300;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push('…');
        }
        let retry_after = self
            .header("retry-after")
            .map(|v| format!(" (retry after {v})"))
            .unwrap_or_default();
        let message = format!(
            "{what} answered {}{retry_after}: {}",
            self.status,
            body.trim()
        );
        let retryable = self.status == 408 || self.status == 429 || self.status >= 500;
        Err(crate::Error { message, retryable })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| HttpError {
            code: "InvalidBody".to_owned(),
            message: format!("the response is not the JSON expected: {e}"),
        })
    }
}

impl HttpError {
    /// The host refused the request: its target is not allowed for this step,
    /// or it names a secret the step may not use.
    pub fn denied(&self) -> bool {
        self.code == "HttpRequestDenied"
    }

    /// Trying again later may work: a timeout or a connection problem.
    pub fn retryable(&self) -> bool {
        self.code.starts_with("Connection")
            || self.code.starts_with("Dns")
            || self.code == "HttpResponseTimeout"
            || self.code == "DestinationUnavailable"
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl From<HttpError> for crate::Error {
    fn from(error: HttpError) -> Self {
        let retryable = error.retryable();
        crate::Error {
            message: error.to_string(),
            retryable,
        }
    }
}

/// The URL without its query and fragment, which may hold secrets'
/// placeholders or tokens: what to show in messages.
pub fn redact(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn invalid(message: impl Into<String>) -> HttpError {
    HttpError {
        code: "InvalidRequest".to_owned(),
        message: message.into(),
    }
}

fn failed(code: ErrorCode) -> HttpError {
    let message = match &code {
        ErrorCode::HttpRequestDenied => {
            "denied by the host: the target is not allowed for this step (see the step's log)"
                .to_owned()
        }
        ErrorCode::ConnectionLimitReached => {
            "refused by the host: this attempt sent as many requests as it may".to_owned()
        }
        ErrorCode::HttpResponseBodySize(_) => {
            "the response body is larger than the host allows".to_owned()
        }
        ErrorCode::ConnectionRefused => "the connection was refused".to_owned(),
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => {
            "the server did not answer in time".to_owned()
        }
        other => format!("the request failed: {other:?}"),
    };
    let code = format!("{code:?}");
    let code = code
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned();
    HttpError { code, message }
}

fn send(request: Request) -> Result<Response, HttpError> {
    let (scheme, rest) = request
        .url
        .split_once("://")
        .ok_or_else(|| invalid(format!("'{}' is not an absolute URL", redact(&request.url))))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(invalid(format!(
                "the scheme must be http or https, not {other}"
            )));
        }
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let path = path.split('#').next().unwrap_or_default();

    let mut entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        .collect();
    // A declared length rather than a chunked body: not every server takes one.
    if !request.body.is_empty() && !entries.iter().any(|(name, _)| name == "content-length") {
        entries.push((
            "content-length".to_owned(),
            request.body.len().to_string().into_bytes(),
        ));
    }
    let headers = Fields::from_list(&entries)
        .map_err(|e| invalid(format!("a header is not allowed: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    outgoing
        .set_method(&method)
        .map_err(|()| invalid(format!("'{}' is not a method", request.method)))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("bad scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid(format!("'{authority}' is not a host")))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| invalid("the URL's path is not valid"))?;
    let body = outgoing
        .body()
        .map_err(|()| invalid("the request body was taken"))?;

    // Sent first, then the body streamed: a refused request answers at once.
    let future = outgoing_handler::handle(outgoing, None).map_err(failed)?;
    let mut write_error = None;
    if !request.body.is_empty() {
        match body.write() {
            Ok(stream) => {
                for chunk in request.body.chunks(4096) {
                    if let Err(e) = stream.blocking_write_and_flush(chunk) {
                        write_error = Some(format!("{e:?}"));
                        break;
                    }
                }
            }
            Err(()) => write_error = Some("the body stream was taken".to_owned()),
        }
    }
    let finished = OutgoingBody::finish(body, None);

    future.subscribe().block();
    let incoming = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(failed(code)),
        Some(Err(())) | None => return Err(invalid("the response was taken")),
    };
    if let Some(error) = write_error {
        return Err(invalid(format!("cannot send the request body: {error}")));
    }
    finished.map_err(failed)?;

    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let body = incoming
        .consume()
        .map_err(|()| invalid("the response body was taken"))?;
    let mut bytes = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| invalid("the response body stream was taken"))?;
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(match wasip2::http::types::http_error_code(&error) {
                        Some(code) => failed(code),
                        None => invalid(format!(
                            "reading the response failed: {}",
                            error.to_debug_string()
                        )),
                    });
                }
            }
        }
    }
    drop(IncomingBody::finish(body));
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}
