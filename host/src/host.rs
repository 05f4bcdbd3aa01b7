//! Wires the parts into a running host: the engine, the plugin catalog (bundled
//! plugins plus a plugins directory), the database and the runner.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use crate::approvals::LinkSigner;
use crate::catalog::Catalog;
use crate::engine::{BUNDLED, Engine, EngineConfig, Plugin};
use crate::planner::{Goal, PlanError, Planner, PlannerSettings, StepType};
use crate::plugins::{PluginError, Uploads};
use crate::runner::{NewPlan, RunError, Runner, RunnerConfig, WorkflowRecord};
use crate::secrets::Secrets;
use crate::store::{Database, Store, Synchronous};
use crate::tenants::Keys;
use crate::workflow::PlanRecord;

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub data_dir: PathBuf,
    /// Extra plugins (`*.wasm`), loaded at start; a bad one is skipped with a warning.
    pub plugins_dir: Option<PathBuf>,
    pub synchronous: Synchronous,
    /// A PostgreSQL URL; unset, SQLite in the data directory.
    pub database: Option<String>,
    pub engine: EngineConfig,
    pub runner: RunnerConfig,
    /// The largest plugin a tenant may upload.
    pub max_plugin_bytes: usize,
    /// The key approval links are signed with; unset, one is generated into
    /// the data directory.
    pub approval_secret: Option<String>,
    /// How long an approval link works after the pause that made it.
    pub approval_link_ttl: std::time::Duration,
    /// The server's address as reviewers reach it, for approval links.
    pub public_url: String,
    /// The model that writes workflows from goals; unset, there is no planner.
    pub planner: Option<PlannerSettings>,
}

/// The default for [`HostConfig::max_plugin_bytes`].
pub const MAX_PLUGIN_BYTES: usize = 32 << 20;

impl HostConfig {
    /// Where the runs are stored.
    pub fn database(&self) -> Database {
        crate::runner::database(&self.data_dir, self.database.clone(), self.synchronous)
    }

    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        HostConfig {
            engine: EngineConfig {
                cache_dir: Some(data_dir.join("compiled")),
                ..EngineConfig::default()
            },
            data_dir,
            plugins_dir: None,
            synchronous: Synchronous::Full,
            database: None,
            runner: RunnerConfig::default(),
            max_plugin_bytes: MAX_PLUGIN_BYTES,
            approval_secret: None,
            approval_link_ttl: std::time::Duration::from_secs(24 * 3600),
            public_url: "http://127.0.0.1:8080".to_owned(),
            planner: None,
        }
    }
}

/// Files of the data directory that only the host's user may read: the
/// database (with its WAL and shared-memory files) and the key files.
const PRIVATE_FILES: &[&str] = &[
    "cairn.db",
    "cairn.db-wal",
    "cairn.db-shm",
    "default-api-key",
    "approval-secret",
    "secrets-key",
];

/// Makes the data directory `0700` and its private files `0600`, whatever the
/// umask they were created under, and tightens what an older build left.
pub fn owner_only(data_dir: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &std::path::Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot restrict {} to its owner", path.display()))
        };
        set(data_dir, 0o700)?;
        for name in PRIVATE_FILES {
            let path = data_dir.join(name);
            if path.exists() {
                set(&path, 0o600)?;
            }
        }
    }
    Ok(())
}

/// How often a host sharing its database looks for other hosts' uploads
/// besides when they say so (their hint may be lost).
const UPLOADS_LOOK_AGAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Keeps `catalog` up to the uploads and deletes of the other hosts sharing
/// the database, until `stop`.
async fn follow_uploads(
    uploads: Arc<Uploads>,
    engine: Arc<Engine>,
    store: Arc<Store>,
    catalog: Arc<Catalog>,
    stop: tokio_util::sync::CancellationToken,
) {
    let Some(mut hints) = store.hints() else {
        return;
    };
    loop {
        tokio::select! {
            hint = hints.recv() => match hint {
                Ok(crate::store::Hint::Plugins | crate::store::Hint::Missed)
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            () = tokio::time::sleep(UPLOADS_LOOK_AGAIN) => {}
            () = stop.cancelled() => return,
        }
        if let Err(e) = uploads.refresh(&engine, &store, &catalog).await {
            tracing::warn!("cannot take in the other hosts' uploads: {e:#}");
        }
    }
}

/// A started host.
pub struct Host {
    pub engine: Arc<Engine>,
    pub store: Arc<Store>,
    pub runner: Runner,
    pub uploads: Arc<Uploads>,
    pub max_plugin_bytes: usize,
    pub keys: Keys,
    pub links: Arc<LinkSigner>,
    pub secrets: Arc<Secrets>,
    pub planner: Option<Planner>,
}

/// Why a workflow was not planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanFailure {
    #[error("no planner is configured on this server")]
    NotConfigured,
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl Host {
    pub async fn start(config: HostConfig) -> anyhow::Result<Host> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        let planner = config
            .planner
            .clone()
            .map(Planner::new)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        // The database first: a bad one is refused before anything else starts.
        let store = Arc::new(Store::connect(&config.database())?);
        let engine = Arc::new(Engine::new(config.engine.clone())?);
        let catalog = Arc::new(Catalog::default());
        for bundled in BUNDLED {
            let plugin = engine
                .load_bundled(bundled)
                .await
                .with_context(|| format!("bundled plugin {}", bundled.name))?;
            catalog.add(Arc::new(plugin));
        }
        if let Some(dir) = config.plugins_dir.as_ref().filter(|dir| dir.is_dir()) {
            let loaded = engine
                .load_dir(dir)
                .await
                .with_context(|| format!("cannot read {}", dir.display()))?;
            for (path, result) in loaded {
                match result {
                    Ok(plugin) => catalog.add(Arc::new(plugin)),
                    Err(e) => tracing::warn!(path = %path.display(), "skipping plugin: {e}"),
                }
            }
        }
        let links = Arc::new(LinkSigner::load_or_create(
            &config.data_dir,
            config.approval_secret.as_deref(),
            config.approval_link_ttl,
            &config.public_url,
        )?);
        let secrets = Arc::new(Secrets::open(Arc::clone(&store), &config.data_dir)?);
        owner_only(&config.data_dir)?;
        crate::notify::migrate_webhook_secrets(&store, &secrets)
            .await
            .context("cannot move webhook secrets into sealed storage")?;
        let uploads = Arc::new(Uploads::new(&config.data_dir));
        uploads.load(&engine, &store, &catalog).await?;
        let runner = Runner::start(
            Arc::clone(&engine),
            Arc::clone(&store),
            Arc::clone(&catalog),
            Arc::clone(&secrets),
            config.runner.clone(),
        )
        .await?;
        if store.is_shared() {
            tokio::spawn(follow_uploads(
                Arc::clone(&uploads),
                Arc::clone(&engine),
                Arc::clone(&store),
                catalog,
                runner.stopping(),
            ));
        }
        Ok(Host {
            engine,
            keys: Keys::new(Arc::clone(&store)),
            store,
            runner,
            uploads,
            max_plugin_bytes: config.max_plugin_bytes,
            links,
            secrets,
            planner,
        })
    }

    /// Has the planner write a workflow for `goal` from the step types
    /// `tenant` can use, and stores it as a draft sent to its reviewers.
    pub async fn plan_workflow(
        &self,
        tenant: &str,
        goal: Goal,
        webhooks: Vec<crate::workflow::WebhookTarget>,
    ) -> Result<(WorkflowRecord, PlanRecord, serde_json::Value), PlanFailure> {
        let planner = self.planner.as_ref().ok_or(PlanFailure::NotConfigured)?;
        let types: Vec<StepType> = self
            .runner
            .catalog()
            .visible(tenant)
            .into_iter()
            .map(|entry| {
                let info = &entry.plugin.info;
                StepType {
                    name: info.name.clone(),
                    description: info.description.clone(),
                    config_schema: info.config_schema.clone(),
                    input_schema: info.input_schema.clone(),
                    audience: info.audience.clone(),
                }
            })
            .collect();
        let tenant_key = match planner.api_key_secret() {
            Some(name) => self
                .secrets
                .values(tenant)
                .map_err(|e| RunError::Store(crate::store::StoreError::Corrupt(e.to_string())))?
                .get(name)
                .cloned(),
            None => None,
        };
        let api_key = tenant_key.as_deref().or(planner.api_key());
        let plan = planner
            .plan(&goal, &types, api_key, |definition| {
                self.runner.definition_problems(tenant, definition)
            })
            .await?;
        let (workflow, record) = self
            .runner
            .create_planned(
                tenant,
                plan.definition.clone(),
                NewPlan {
                    goal: goal.text,
                    model: planner.model().to_owned(),
                    attempts: plan.attempts,
                    reviewers: goal.reviewers,
                    webhooks,
                },
            )
            .await?;
        Ok((workflow, record, plan.definition))
    }

    /// Adds `tenant`'s private plugin; see [`Uploads::upload`].
    pub async fn upload_plugin(
        &self,
        tenant: &str,
        wasm: &[u8],
    ) -> Result<(Arc<Plugin>, bool), PluginError> {
        self.uploads
            .upload(
                &self.engine,
                &self.store,
                self.runner.catalog(),
                tenant,
                wasm,
            )
            .await
    }

    /// Deletes `tenant`'s private plugin; see [`Uploads::delete`].
    pub async fn delete_plugin(
        &self,
        tenant: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<String>, PluginError> {
        self.uploads
            .delete(&self.store, self.runner.catalog(), tenant, name, version)
            .await
    }

    /// Stops the drivers; unfinished runs continue at the next start.
    pub fn stop(&self) {
        self.runner.shutdown();
    }
}
