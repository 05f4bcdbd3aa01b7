//! `cairn serve`: settings (defaults, then a TOML file, then `CAIRN_*` environment
//! variables, then flags), the host, the HTTP API, and graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::api::{AppState, app};
use crate::egress::{HostPattern, TenantPolicy};
use crate::engine::SandboxLimits;
use crate::host::{Host, HostConfig, MAX_PLUGIN_BYTES};
use crate::notify::{self, SmtpSettings};
use crate::planner::PlannerSettings;
use crate::store::Synchronous;
use crate::tenants;
use crate::workflow::parse_duration;

/// Operator settings of a server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
    pub data_dir: PathBuf,
    /// Extra plugins (`*.wasm`) loaded at start, available to every tenant.
    pub plugins_dir: PathBuf,
    /// Where compiled plugins are cached (default: `compiled/` in the data
    /// directory). Native code: keep it where only the host can write.
    pub cache_dir: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://user:password@host:port/database`) for
    /// the runs, shared by every server pointed at it; unset, an SQLite file
    /// in the data directory.
    pub database: Option<String>,
    /// How durable an SQLite commit is.
    pub synchronous: Synchronous,
    /// With hosts sharing a PostgreSQL database: how long a host's lease on
    /// its runs lasts unrenewed, so how soon the others take the runs of a
    /// host that died (it renews every quarter of this).
    pub lease: String,
    /// Steps executing at once.
    pub max_running_steps: usize,
    /// Threads that serve the API, apart from the ones that drive runs and run
    /// their steps.
    pub api_threads: usize,
    /// How long a shutdown waits for running steps to finish.
    pub shutdown_grace: String,
    /// Caps on every step's sandbox (memory, time, output).
    pub limits: SandboxLimits,
    /// Unfinished runs a tenant may have at once; more answer 429.
    pub max_active_runs_per_tenant: usize,
    /// The largest component a tenant may upload, in bytes; larger answer 413.
    pub max_plugin_bytes: usize,
    /// The address reviewers reach the server at, for approval links
    /// (default: `http://` and the listening address).
    pub public_url: Option<String>,
    /// The key approval links are signed with (at least 16 bytes); unset, one
    /// is generated into the data directory on first start.
    pub approval_secret: Option<String>,
    /// How long an approval link works after its pause.
    pub approval_link_ttl: String,
    /// The SMTP server notification emails go through; unset, none are sent.
    pub smtp: Option<SmtpSettings>,
    /// The model that writes workflows from goals (`POST /v1/workflows`
    /// with a `goal`); unset, there is no planner.
    pub planner: Option<PlannerSettings>,
    /// How long the approve and reject links sent with a plan work.
    pub plan_link_ttl: String,
    /// Hosts plugins may send HTTP requests to, as `[scheme://]host[:port]`
    /// (`*.domain`, `:*` for any port); a step also needs its own grant. Empty:
    /// no outbound HTTP at all.
    pub http_allow: Vec<HostPattern>,
    /// Per-tenant policies, by tenant name: `http_allow` narrows the list above.
    pub tenants: HashMap<String, TenantPolicy>,
    /// How long finished runs are kept, with their steps, events and outbox
    /// rows (e.g. `30d`); unset, forever.
    pub retention: Option<String>,
    /// Bounds on the workflow language: `max_depth` (constructs inside
    /// constructs), `max_branches` (of a parallel, cases of a switch),
    /// `max_items` (of a map), `max_steps_per_run`, `max_workflow_depth`.
    pub language: crate::workflow::LanguageLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("cairn-data"),
            plugins_dir: PathBuf::from("plugins.d"),
            cache_dir: None,
            database: None,
            synchronous: Synchronous::Full,
            lease: "10s".to_owned(),
            max_running_steps: 64,
            api_threads: 2,
            shutdown_grace: "30s".to_owned(),
            limits: SandboxLimits::default(),
            max_active_runs_per_tenant: 100_000,
            max_plugin_bytes: MAX_PLUGIN_BYTES,
            public_url: None,
            approval_secret: None,
            approval_link_ttl: "24h".to_owned(),
            smtp: None,
            planner: None,
            plan_link_ttl: "24h".to_owned(),
            http_allow: Vec::new(),
            tenants: HashMap::new(),
            retention: None,
            language: crate::workflow::LanguageLimits::default(),
        }
    }
}

/// Top-level setting names, as `CAIRN_*` variables may set them.
const SETTING_NAMES: &[&str] = &[
    "listen",
    "data_dir",
    "plugins_dir",
    "cache_dir",
    "database",
    "synchronous",
    "lease",
    "max_running_steps",
    "api_threads",
    "shutdown_grace",
    "limits",
    "max_active_runs_per_tenant",
    "max_plugin_bytes",
    "public_url",
    "approval_secret",
    "approval_link_ttl",
    "smtp",
    "planner",
    "plan_link_ttl",
    "http_allow",
    "tenants",
    "retention",
    "language",
];

impl Settings {
    /// Defaults, overridden by `file` (TOML) if given, then by `CAIRN_*`
    /// environment variables (`CAIRN_LISTEN`, `CAIRN_LIMITS__MEMORY_BYTES`, ...).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        Self::load_with(file, &[])
    }

    /// [`Settings::load`], then `overrides`: `(CAIRN_* name, value)` pairs
    /// read as the environment's are (for a server in a test's process).
    pub fn load_with(file: Option<&Path>, overrides: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "settings file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("CAIRN_").split("__").filter(|key| {
                // Only variables that name a setting: others (CAIRN_DATA_DIR is
                // one) may be meant for something else.
                let top = key.as_str().split('.').next().unwrap_or_default();
                SETTING_NAMES
                    .iter()
                    .any(|name| name.eq_ignore_ascii_case(top))
            }))
            .merge(overrides_provider(overrides)?)
            .extract()
            .context("invalid settings")?;
        parse_duration(&settings.shutdown_grace)
            .map_err(|e| anyhow::anyhow!("shutdown_grace: {e}"))?;
        settings.lease()?;
        parse_duration(&settings.approval_link_ttl)
            .map_err(|e| anyhow::anyhow!("approval_link_ttl: {e}"))?;
        parse_duration(&settings.plan_link_ttl)
            .map_err(|e| anyhow::anyhow!("plan_link_ttl: {e}"))?;
        if let Some(planner) = &settings.planner {
            crate::planner::Planner::new(planner.clone()).map_err(anyhow::Error::msg)?;
        }
        settings.retention()?;
        Ok(settings)
    }

    /// The `lease` setting as a duration (at least 1 s).
    pub fn lease(&self) -> anyhow::Result<std::time::Duration> {
        let lease = parse_duration(&self.lease).map_err(|e| anyhow::anyhow!("lease: {e}"))?;
        anyhow::ensure!(
            lease >= std::time::Duration::from_secs(1),
            "lease: {} is too short (at least 1s)",
            self.lease
        );
        Ok(lease)
    }

    /// The `retention` setting as a duration.
    pub fn retention(&self) -> anyhow::Result<Option<std::time::Duration>> {
        self.retention
            .as_deref()
            .map(|text| parse_duration(text).map_err(|e| anyhow::anyhow!("retention: {e}")))
            .transpose()
    }
}

/// `(CAIRN_* name, value)` pairs as settings, nested at `__` and parsed as
/// environment variables are.
fn overrides_provider(overrides: &[(&str, &str)]) -> anyhow::Result<Figment> {
    let mut figment = Figment::new();
    for (name, value) in overrides {
        let key = name
            .strip_prefix("CAIRN_")
            .with_context(|| format!("setting {name} does not start with CAIRN_"))?
            .to_ascii_lowercase()
            .replace("__", ".");
        let value: figment::value::Value = value
            .parse()
            .map_err(|e| anyhow::anyhow!("setting {name}: {e:?}"))?;
        figment = figment.merge(Serialized::default(&key, value));
    }
    Ok(figment)
}

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully: stops
/// accepting, lets running steps finish within the grace period, and exits; the
/// next start continues every unfinished run.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let running = start(settings, shutdown_signal()?).await?;
    println!("cairn listening on {}", running.url);
    running.finish().await
}

/// A server running in this process.
pub struct Running {
    /// `http://address:port`.
    pub url: String,
    pub host: Arc<Host>,
    api: ApiRuntime,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    grace: std::time::Duration,
}

/// Starts the host and serves the API until `shutdown` resolves; then
/// [`Running::finish`] stops it.
pub async fn start(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let mut config = HostConfig::new(&settings.data_dir);
    config.plugins_dir = Some(settings.plugins_dir.clone());
    if let Some(dir) = &settings.cache_dir {
        config.engine.cache_dir = Some(dir.clone());
    }
    config.synchronous = settings.synchronous;
    config.database = settings.database.clone();
    config.engine.caps = settings.limits;
    config.runner.max_running_steps = settings.max_running_steps;
    config.runner.step_limits = settings.limits;
    config.runner.max_active_runs_per_tenant = settings.max_active_runs_per_tenant;
    config.runner.language = settings.language;
    config.runner.egress = std::sync::Arc::new(crate::egress::Rules {
        operator: settings.http_allow.clone(),
        tenants: settings.tenants.clone(),
    });
    config.runner.retention = settings.retention()?;
    config.runner.lease = settings.lease()?;
    config.runner.plan_link_ttl =
        parse_duration(&settings.plan_link_ttl).map_err(anyhow::Error::msg)?;
    config.planner = settings.planner.clone();
    config.max_plugin_bytes = settings.max_plugin_bytes;
    let address: SocketAddr = settings
        .listen
        .parse()
        .with_context(|| format!("listen address '{}'", settings.listen))?;
    let listener = std::net::TcpListener::bind(address)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .with_context(|| format!("cannot listen on {address}"))?;
    let local = listener.local_addr()?;
    config.public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    config.approval_secret = settings.approval_secret.clone();
    config.approval_link_ttl =
        parse_duration(&settings.approval_link_ttl).map_err(anyhow::Error::msg)?;
    let host = Arc::new(Host::start(config).await?);
    if let Some(path) = tenants::ensure_default(&host.store, &settings.data_dir).await? {
        eprintln!(
            "created tenant '{}'; its API key is in {}",
            tenants::DEFAULT_TENANT,
            path.display()
        );
    }
    tokio::spawn(notify::deliver_loop(
        notify::Outbox {
            store: Arc::clone(&host.store),
            secrets: Arc::clone(&host.secrets),
            egress: Arc::clone(host.runner.egress()),
            links: Arc::clone(&host.links),
        },
        host.runner.outbox_wake(),
        settings.smtp.clone(),
    ));
    let closing = tokio_util::sync::CancellationToken::new();
    let state = AppState {
        host: Arc::clone(&host),
        metrics: crate::api::metrics::install(),
        closing: closing.clone(),
    };
    let shutdown = async move {
        shutdown.await;
        closing.cancel();
    };
    // The API has threads of its own. Runs are driven, and their steps run, on
    // the runtime this function runs on; when tenants' steps keep those
    // threads busy, requests are still answered at once.
    let api = ApiRuntime::start(settings.api_threads)?;
    let served = api.serve(listener, app(state), shutdown);
    Ok(Running {
        url: format!("http://{local}"),
        host,
        api,
        served,
        grace: parse_duration(&settings.shutdown_grace).unwrap_or_default(),
    })
}

impl Running {
    /// Waits until the API stops (its `shutdown` resolved), lets running
    /// steps finish within the grace period, and closes the store.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.served.await.context("the API server stopped")??;
        drop(self.api);
        eprintln!(
            "shutting down: waiting up to {:?} for running steps",
            self.grace
        );
        self.host.runner.drain(self.grace).await;
        self.host.store.close();
        Ok(())
    }
}

/// The threads that serve the API, apart from the runtime that drives runs
/// and runs their steps. Shut down without blocking when dropped (it is
/// dropped on an async thread).
pub struct ApiRuntime(Option<tokio::runtime::Runtime>);

impl ApiRuntime {
    pub fn start(threads: usize) -> anyhow::Result<ApiRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("cairn-api")
            .enable_all()
            .build()
            .context("cannot start the API threads")?;
        Ok(ApiRuntime(Some(runtime)))
    }

    /// Serves `router` on `listener` (non-blocking) from the API threads
    /// until `shutdown` completes.
    pub fn serve(
        &self,
        listener: std::net::TcpListener,
        router: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<std::io::Result<()>> {
        // Taken out only by `drop`.
        let runtime = self.0.as_ref().expect("the API runtime runs until dropped");
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        })
    }
}

impl Drop for ApiRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed before this
/// returns, so that a signal sent as soon as the address is printed is not
/// taken by the default action (which would kill the process mid-write).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
