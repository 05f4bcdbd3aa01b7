//! `cairn bench http`: the real API server on 127.0.0.1:0, driven by
//! keep-alive HTTP/1.1 clients in the same process (so on a 2-core machine the
//! clients take CPU from the server too). Figures: run-status reads per second
//! and their latency, runs started per second, and the latency from a resume
//! to the run's next pause (the resume, then one `until=settled` long-poll).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::api::{AppState, app};
use crate::host::Host;
use crate::server::ApiRuntime;

#[derive(Debug, Clone, serde::Serialize)]
pub struct HttpFigures {
    /// Finished runs in the store before the measurements.
    pub history: usize,
    pub clients: usize,
    pub seconds: f64,
    pub reads: usize,
    pub reads_per_second: f64,
    pub read_p50_us: f64,
    pub read_p99_us: f64,
    pub starts: usize,
    pub starts_per_second: f64,
    pub start_p50_us: f64,
    pub start_p99_us: f64,
    pub resumes: usize,
    pub resume_to_pause_p50_us: f64,
    pub resume_to_pause_p99_us: f64,
}

/// One keep-alive connection to the server.
pub(super) struct Client {
    sender: SendRequest<Full<Bytes>>,
    key: String,
}

impl Client {
    pub(super) async fn connect(address: SocketAddr, key: &str) -> anyhow::Result<Client> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Client {
            sender,
            key: key.to_owned(),
        })
    }

    pub(super) async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1")
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(body.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.sender.send_request(request.body(body)?).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// A JSON answer with the `expected` status.
    pub(super) async fn json(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        anyhow::ensure!(
            status == expected,
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(serde_json::from_slice(&bytes)?)
    }
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

/// `clients` clients send `request` back to back for `duration`; returns every
/// latency, sorted, and what the checks collected.
pub(super) async fn hammer<F, Fut>(
    address: SocketAddr,
    key: &str,
    clients: usize,
    duration: Duration,
    request: F,
) -> anyhow::Result<(Vec<Duration>, Vec<String>)>
where
    F: Fn(Client) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<(Client, Option<String>)>> + Send,
{
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut client = Client::connect(address, key).await?;
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut collected = Vec::new();
            while Instant::now() < deadline {
                let began = Instant::now();
                let (back, item) = request(client).await?;
                latencies.push(began.elapsed());
                client = back;
                collected.extend(item);
            }
            anyhow::Ok((latencies, collected))
        }));
    }
    let mut latencies = Vec::new();
    let mut collected = Vec::new();
    for task in tasks {
        let (l, c) = task.await??;
        latencies.extend(l);
        collected.extend(c);
    }
    latencies.sort();
    Ok((latencies, collected))
}

/// `clients` clients GET `path` back to back for `duration`; every latency,
/// sorted.
pub(super) async fn read_back_to_back(
    address: SocketAddr,
    key: &str,
    clients: usize,
    duration: Duration,
    path: &str,
) -> anyhow::Result<Vec<Duration>> {
    let path: Arc<str> = path.into();
    let (reads, _) = hammer(address, key, clients, duration, move |mut client| {
        let path = Arc::clone(&path);
        async move {
            let (status, _) = client.call(Method::GET, &path, None).await?;
            anyhow::ensure!(status == StatusCode::OK, "read answered {status}");
            Ok((client, None))
        }
    })
    .await?;
    Ok(reads)
}

/// Runs the three measurements against a server over `host`.
/// `history` finished runs are put in the store first.
pub async fn http(
    host: Arc<Host>,
    clients: usize,
    duration: Duration,
    resumes: usize,
    history: usize,
) -> anyhow::Result<HttpFigures> {
    let server = serve(&host).await?;
    let (address, key) = (server.address, server.key.clone());
    let mut setup = Client::connect(address, &key).await?;
    if history > 0 {
        let old = create(
            &mut setup,
            json!({"name": "history", "steps": [{"name": "s", "type": "noop"}]}),
        )
        .await?;
        super::finished_history(&host.store, "bench", &old, history).await?;
    }

    // Reads: one paused run, polled by every client.
    let gated = json!({"name": "gated", "steps": [
        {"name": "review", "type": "noop", "approval": {"message": "Go on?"}}
    ]});
    let gated = create(&mut setup, gated).await?;
    let run_id = start(&mut setup, &gated).await?;
    wait_for(&mut setup, &run_id, |r| r["status"] == "paused").await?;
    let reads = read_back_to_back(
        address,
        &key,
        clients,
        duration,
        &format!("/v1/runs/{run_id}"),
    )
    .await?;

    // Starts: one-step runs, started as fast as the clients can.
    let single = create(
        &mut setup,
        json!({"name": "single", "steps": [{"name": "s", "type": "noop"}]}),
    )
    .await?;
    let path: Arc<str> = format!("/v1/workflows/{single}/runs").into();
    let (starts, started) = hammer(address, &key, clients, duration, move |mut client| {
        let path = Arc::clone(&path);
        async move {
            let run = client
                .json(
                    Method::POST,
                    &path,
                    Some(&json!({"input": {}})),
                    StatusCode::CREATED,
                )
                .await?;
            let id = run["id"].as_str().context("run id")?.to_owned();
            Ok((client, Some(id)))
        }
    })
    .await?;
    for id in &started {
        host.runner
            .wait_until_state(Some("bench"), id, Duration::from_secs(600), |status, _| {
                status.is_terminal()
            })
            .await?;
    }

    // Resume to next pause: a chain of gates, one resume at a time.
    let gaps = approval_chain(&mut setup, resumes, Follow::Read).await?;

    let seconds = duration.as_secs_f64();
    Ok(HttpFigures {
        history,
        clients,
        seconds,
        reads: reads.len(),
        reads_per_second: reads.len() as f64 / seconds,
        read_p50_us: percentile(&reads, 0.5),
        read_p99_us: percentile(&reads, 0.99),
        starts: starts.len(),
        starts_per_second: starts.len() as f64 / seconds,
        start_p50_us: percentile(&starts, 0.5),
        start_p99_us: percentile(&starts, 0.99),
        resumes: gaps.len(),
        resume_to_pause_p50_us: percentile(&gaps, 0.5),
        resume_to_pause_p99_us: percentile(&gaps, 0.99),
    })
}

/// A server over a host, as `cairn serve` runs it: the API on threads of its
/// own, 127.0.0.1:0, a tenant `bench`. Serves until dropped.
pub(super) struct BenchServer {
    pub address: SocketAddr,
    pub key: String,
    _api: ApiRuntime,
}

pub(super) async fn serve(host: &Arc<Host>) -> anyhow::Result<BenchServer> {
    let key = crate::tenants::create_tenant(&host.store, "bench").await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let state = AppState {
        host: Arc::clone(host),
        metrics: crate::api::metrics::install(),
        closing: Default::default(),
    };
    let api = ApiRuntime::start(2)?;
    // Ends when the runtime is dropped with the server.
    drop(api.serve(listener, app(state), std::future::pending()));
    Ok(BenchServer {
        address,
        key,
        _api: api,
    })
}

/// How a client learns that a decision's run paused again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Follow {
    /// The decision (`POST /resume`), then one `until=settled` read.
    Read,
    /// The decision alone, asked to answer once the run settled
    /// (`POST /resume?wait=5s&until=settled`).
    Wait,
}

/// Runs through chains of 50 gates, `resumes` decisions in all, one at a
/// time: each decision, to the run seen paused at the next gate, as
/// `follow` says. The gaps, sorted.
pub(super) async fn approval_chain(
    client: &mut Client,
    resumes: usize,
    follow: Follow,
) -> anyhow::Result<Vec<Duration>> {
    const CHAIN: usize = 50;
    let steps: Vec<Value> = (0..CHAIN)
        .map(|i| json!({"name": format!("g{i}"), "type": "noop", "approval": {"message": "Next?"}}))
        .collect();
    let id = crate::clock::new_id();
    let name = format!("chain-{}", &id[id.len() - 8..]);
    let chain = create(client, json!({"name": name, "steps": steps})).await?;
    let mut gaps = Vec::with_capacity(resumes);
    while gaps.len() < resumes {
        let id = start(client, &chain).await?;
        wait_for(client, &id, |r| r["status"] == "paused").await?;
        for i in 0..CHAIN - 1 {
            if gaps.len() == resumes {
                break;
            }
            let began = Instant::now();
            let query = match follow {
                Follow::Read => "",
                Follow::Wait => "?wait=5s&until=settled",
            };
            let resumed = client
                .json(
                    Method::POST,
                    &format!("/v1/runs/{id}/resume{query}"),
                    Some(&json!({"step": format!("g{i}"), "input": "approve"})),
                    StatusCode::OK,
                )
                .await?;
            let settled = match follow {
                Follow::Wait => resumed,
                Follow::Read => {
                    let after = &resumed["last_event"];
                    let path = format!("/v1/runs/{id}?wait=5s&until=settled&after={after}");
                    client
                        .json(Method::GET, &path, None, StatusCode::OK)
                        .await?
                }
            };
            let next = format!("g{}", i + 1);
            anyhow::ensure!(
                settled["status"] == "paused" && settled["pending_action"]["step"] == next.as_str(),
                "not paused at {next}: {settled}"
            );
            gaps.push(began.elapsed());
        }
    }
    gaps.sort();
    Ok(gaps)
}

/// Creates an active workflow; returns its id.
pub(super) async fn create(client: &mut Client, definition: Value) -> anyhow::Result<String> {
    let workflow = client
        .json(
            Method::POST,
            "/v1/workflows",
            Some(&json!({"definition": definition, "status": "active"})),
            StatusCode::CREATED,
        )
        .await?;
    Ok(workflow["id"].as_str().context("workflow id")?.to_owned())
}

/// Starts a run of `workflow` with an empty input; returns its id.
pub(super) async fn start(client: &mut Client, workflow: &str) -> anyhow::Result<String> {
    let run = client
        .json(
            Method::POST,
            &format!("/v1/workflows/{workflow}/runs"),
            Some(&json!({"input": {}})),
            StatusCode::CREATED,
        )
        .await?;
    Ok(run["id"].as_str().context("run id")?.to_owned())
}

/// Long-polls the run until `done` holds.
pub(super) async fn wait_for(
    client: &mut Client,
    run: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut path = format!("/v1/runs/{run}");
    loop {
        let view = client
            .json(Method::GET, &path, None, StatusCode::OK)
            .await?;
        if done(&view) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "run {run} never got there: {view}"
        );
        path = format!("/v1/runs/{run}?wait=5s&after={}", view["last_event"]);
    }
}
