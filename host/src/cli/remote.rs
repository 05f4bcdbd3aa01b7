//! Talking to a running server. Where it is and the key to use come from
//! `--server` / `--api-key` (or `CAIRN_SERVER` / `CAIRN_API_KEY`), else from
//! the file `cairn login` wrote, else `http://127.0.0.1:8080` with the default
//! tenant's key file in the data directory (a server on this machine).
//! Requests go through the host's one outbound client, allowed to reach that
//! server only; an error answer becomes one readable line and an exit class.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use cairn::egress::client::{self, Timeouts};
use cairn::egress::{EgressPolicy, Target};
use futures_util::{Stream, StreamExt as _};
use http_body_util::{BodyDataStream, BodyExt, Full, Limited};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exit::{Class, failure};

/// The largest answer read.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// The server when nothing names one: `cairn serve`'s default address.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Where the server is, and the key to use there.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// The server's address for the remote commands [default: the one `cairn
    /// login` saved, else http://127.0.0.1:8080].
    #[arg(long, global = true, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// An API key [default: the one `cairn login` saved, else the default
    /// tenant's key in the data directory].
    #[arg(long, global = true, env = "CAIRN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

/// What `cairn login` saves.
#[derive(Serialize, Deserialize)]
struct Saved {
    server: String,
    api_key: String,
}

/// The file `cairn login` writes: `$XDG_CONFIG_HOME/cairn/login.toml`, or
/// under `~/.config`.
fn login_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(config.join("cairn").join("login.toml"))
}

fn saved() -> anyhow::Result<Option<Saved>> {
    let Some(file) = login_file() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => Ok(Some(toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a login file: run `cairn login` again",
                file.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// Read the API key from standard input (one line) instead of --api-key.
    #[arg(long)]
    key_stdin: bool,
}

/// `cairn login`: checks the key against the server, then saves both in an
/// owner-only file.
pub async fn login(connection: Connection, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let server = connection
        .server
        .ok_or_else(|| failure(Class::Usage, "cairn login needs --server (or CAIRN_SERVER)"))?;
    let api_key = if args.key_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the key from standard input")?;
        line.trim().to_owned()
    } else {
        connection.api_key.ok_or_else(|| {
            failure(
                Class::Usage,
                "cairn login needs --api-key (or CAIRN_API_KEY, or --key-stdin)",
            )
        })?
    };
    let remote = Remote {
        base: server.trim_end_matches('/').to_owned(),
        key: api_key.clone(),
    };
    // Any tenant key may list its workflows: a 200 says the key works here.
    remote.get("/v1/workflows").await?;
    let file = login_file()
        .ok_or_else(|| failure(Class::Usage, "neither XDG_CONFIG_HOME nor HOME is set"))?;
    let dir = file.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string(&Saved {
        server: remote.base.clone(),
        api_key,
    })?;
    cairn::keyfile::write_private(&file, &text)
        .with_context(|| format!("cannot write {}", file.display()))?;
    say!(
        "Logged in to {}; saved in {} (readable by you only).",
        remote.base,
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cairn logout`: forgets what `cairn login` saved.
pub fn logout() -> anyhow::Result<ExitCode> {
    let Some(file) = login_file() else {
        return Ok(ExitCode::SUCCESS);
    };
    match std::fs::remove_file(&file) {
        Ok(()) => say!("Removed {}.", file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => say!("Not logged in."),
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", file.display())),
    }
    Ok(ExitCode::SUCCESS)
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

/// A request's body.
pub enum Body<'a> {
    Empty,
    Json(&'a Value),
    /// Bytes with their content type.
    Bytes(Vec<u8>, &'static str),
}

impl Remote {
    pub fn new(connection: Connection, data_dir: &Path) -> anyhow::Result<Remote> {
        let saved = match (&connection.server, &connection.api_key) {
            (Some(_), Some(_)) => None,
            _ => saved()?,
        };
        // A saved key belongs to the saved server: with another --server it
        // is not sent there.
        let saved = saved.filter(|saved| {
            connection
                .server
                .as_deref()
                .is_none_or(|server| server.trim_end_matches('/') == saved.server)
        });
        let server = connection
            .server
            .or_else(|| saved.as_ref().map(|s| s.server.clone()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let key = match connection.api_key.or(saved.map(|s| s.api_key)) {
            Some(key) => key,
            None => {
                let file = data_dir.join("default-api-key");
                std::fs::read_to_string(&file)
                    .map_err(|e| {
                        failure(
                            Class::Usage,
                            format!(
                                "no API key: give --api-key (or CAIRN_API_KEY), run `cairn login`, \
                                 or point --data-dir at the server's data directory ({}: {e})",
                                file.display()
                            ),
                        )
                    })?
                    .trim()
                    .to_owned()
            }
        };
        Ok(Remote {
            base: server.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// Sends `method path` with `headers`; the response, its body unread.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let url = format!("{}{path}", self.base);
        let target = Target::parse(method, &url)
            .map_err(|e| failure(Class::Usage, format!("the server address: {e}")))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.key));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let bytes = match body {
            Body::Empty => Bytes::new(),
            Body::Json(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            Body::Bytes(bytes, content_type) => {
                request = request.header("content-type", content_type);
                Bytes::from(bytes)
            }
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
                .map_err(|e| failure(Class::Server, format!("cannot reach {url}: {e}")))?;
        if let Some(connection) = connection {
            tokio::spawn(connection);
        }
        Ok(response)
    }

    /// `method path` with a body and more headers; an answer of any status.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Answer> {
        let mut all = vec![("accept", "application/json".to_owned())];
        all.extend_from_slice(headers);
        let response = self.send(method, path, body, &all).await?;
        answer(response, method, path).await
    }

    /// [`Remote::call`], with an error answer turned into a failure of its
    /// class that says what the problem+json body says.
    pub async fn ok(&self, method: &str, path: &str, body: Body<'_>) -> anyhow::Result<Value> {
        self.ok_with(method, path, body, &[]).await
    }

    /// [`Remote::ok`] with more headers.
    pub async fn ok_with(
        &self,
        method: &str,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let answer = self.call(method, path, body, headers).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        let mut text = problem_text(&answer);
        if answer.body["detail"].is_null() {
            text = format!("{method} {path}: {text}");
        }
        Err(failure(Class::of_status(answer.status), text))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.ok("GET", path, Body::Empty).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.ok("POST", path, Body::Json(body)).await
    }

    /// The run's events after `after` as server-sent events, following the
    /// run until it ends (or the connection does).
    pub async fn events(
        &self,
        run: &str,
        after: i64,
    ) -> anyhow::Result<impl Stream<Item = anyhow::Result<Event>> + use<>> {
        let path = format!("/v1/runs/{}/events", segment(run));
        let headers = [
            ("accept", "text/event-stream".to_owned()),
            ("last-event-id", after.to_string()),
        ];
        let response = self.send("GET", &path, Body::Empty, &headers).await?;
        let status = response.status().as_u16();
        if status != 200 {
            let answer = answer(response, "GET", &path).await?;
            return Err(failure(Class::of_status(status), problem_text(&answer)));
        }
        use eventsource_stream::Eventsource as _;
        Ok(BodyDataStream::new(response.into_body())
            .eventsource()
            .map(|event| {
                let event = event.map_err(|e| anyhow::anyhow!("the event stream broke: {e}"))?;
                serde_json::from_str(&event.data)
                    .with_context(|| format!("an event that is not JSON: {}", event.data))
            }))
    }
}

/// A response read whole, as JSON.
async fn answer(
    response: http::Response<hyper::body::Incoming>,
    method: &str,
    path: &str,
) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| {
            failure(
                Class::Server,
                format!("reading the answer to {method} {path}: {e}"),
            )
        })?
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            failure(
                Class::Server,
                format!("the answer to {method} {path} ({status}) is not JSON: {e}"),
            )
        })?
    };
    Ok(Answer { status, body })
}

/// One event of a run's log, as the API sends it.
#[derive(Deserialize, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub data: Value,
}

/// `value` as one path segment of a URL.
pub fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `pairs` as a URL's query (`?a=1&b=2`, each value encoded), or nothing.
pub fn query(pairs: &[(&str, String)]) -> String {
    let pairs: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", segment(value)))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
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
