//! Tenant-private plugins: uploads are checked and compiled like any plugin,
//! stored by digest in the data directory, recorded per tenant, and reloaded at
//! start. Deleting one retires it: new workflows cannot use it, but a run pinned
//! to it keeps it until the run ends.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::engine::{Engine, LoadError, Plugin};
use crate::store::{PluginRecord, Store, StoreError};
use crate::workflow::WorkflowDefinition;

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{0}")]
    Invalid(#[from] LoadError),
    #[error("{0}")]
    Conflict(String),
    #[error("no such plugin")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for PluginError {
    fn from(error: StoreError) -> Self {
        PluginError::Internal(error.into())
    }
}

/// Where uploaded components live: `<data_dir>/plugins/<digest>.wasm`.
pub struct Uploads {
    dir: PathBuf,
    /// Uploads and deletes one at a time, so that checking names and use and
    /// then saving cannot interleave.
    lock: tokio::sync::Mutex<()>,
}

impl Uploads {
    pub fn new(data_dir: &Path) -> Self {
        Uploads {
            dir: data_dir.join("plugins"),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}.wasm"))
    }

    /// Loads every tenant's uploads into `catalog`. Deleted uploads that no
    /// unfinished run is pinned to are purged; one that cannot be loaded is
    /// skipped with a warning (runs pinned to it then fail with a reason).
    pub async fn load(
        &self,
        engine: &Engine,
        store: &Store,
        catalog: &Catalog,
    ) -> anyhow::Result<()> {
        self.sync(engine, store, catalog, true).await
    }

    /// Brings `catalog` up to the uploads other hosts sharing the database
    /// made or deleted since: new ones are loaded (their bytes are in the
    /// data directory the hosts share), deleted ones retired.
    pub async fn refresh(
        &self,
        engine: &Engine,
        store: &Store,
        catalog: &Catalog,
    ) -> anyhow::Result<()> {
        self.sync(engine, store, catalog, false).await
    }

    async fn sync(
        &self,
        engine: &Engine,
        store: &Store,
        catalog: &Catalog,
        purge: bool,
    ) -> anyhow::Result<()> {
        for record in store.plugins()? {
            let retired = record.deleted_at.is_some();
            if catalog.has_private(&record.tenant, &record.digest) {
                catalog.set_retired(&record.tenant, &record.digest, retired);
                continue;
            }
            // Only a deleted upload needs the (full-scan) count of runs pinned to it.
            let unneeded =
                purge && retired && store.runs_pinned_to(&record.tenant, &record.digest)? == 0;
            if unneeded {
                store
                    .purge_plugin(record.tenant.clone(), record.digest.clone())
                    .await?;
                self.remove_unreferenced(store, &record.digest)?;
                continue;
            }
            let loaded = match std::fs::read(self.path(&record.digest)) {
                Ok(wasm) => engine.load(&wasm).await.map_err(anyhow::Error::from),
                Err(e) => Err(e.into()),
            };
            match loaded {
                Ok(plugin) => catalog.add_private(
                    &record.tenant,
                    Arc::new(plugin),
                    record.deleted_at.is_some(),
                ),
                Err(e) => tracing::warn!(
                    tenant = %record.tenant,
                    plugin = %format!("{}@{}", record.name, record.version),
                    "skipping uploaded plugin: {e:#}"
                ),
            }
        }
        Ok(())
    }

    /// Checks, compiles and saves `tenant`'s upload. Returns the plugin and
    /// whether it is new to the tenant (the same bytes again are accepted).
    pub async fn upload(
        &self,
        engine: &Engine,
        store: &Store,
        catalog: &Catalog,
        tenant: &str,
        wasm: &[u8],
    ) -> Result<(Arc<Plugin>, bool), PluginError> {
        let plugin = Arc::new(engine.load(wasm).await?);
        let (name, version) = (&plugin.info.name, &plugin.info.version);
        let _guard = self.lock.lock().await;
        for known in catalog
            .visible(tenant)
            .iter()
            .filter(|e| &e.plugin.info.name == name)
        {
            if known.owner.is_none() {
                return Err(PluginError::Conflict(format!(
                    "'{name}' is the name of a plugin every tenant shares; give yours another name"
                )));
            }
            if known.plugin.digest == plugin.digest {
                return Ok((Arc::clone(&known.plugin), false));
            }
            if &known.plugin.info.version == version {
                return Err(PluginError::Conflict(format!(
                    "{name}@{version} exists with other contents (digest {}); versions cannot change, \
                     so upload this one with a new version",
                    known.plugin.digest
                )));
            }
        }
        self.save_bytes(&plugin.digest, wasm)?;
        let record = PluginRecord {
            tenant: tenant.to_owned(),
            digest: plugin.digest.clone(),
            name: name.clone(),
            version: version.clone(),
            size_bytes: wasm.len() as i64,
            created_at: now_ms(),
            deleted_at: None,
        };
        store.save_plugin(record).await?;
        catalog.add_private(tenant, Arc::clone(&plugin), false);
        hint_plugins(store);
        Ok((plugin, true))
    }

    /// Deletes `tenant`'s plugin `name` (one `version`, or all of its versions).
    /// Refused while a draft or active workflow resolves a step to it, or an
    /// unfinished run is pinned to it. Returns the versions deleted.
    pub async fn delete(
        &self,
        store: &Store,
        catalog: &Catalog,
        tenant: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<String>, PluginError> {
        let _guard = self.lock.lock().await;
        let matching: Vec<_> = catalog
            .visible(tenant)
            .into_iter()
            .filter(|e| e.plugin.info.name == name)
            .filter(|e| version.is_none_or(|v| e.plugin.info.version == v))
            .collect();
        if matching.is_empty() {
            return Err(PluginError::NotFound);
        }
        if matching.iter().any(|e| e.owner.is_none()) {
            return Err(PluginError::Conflict(format!(
                "'{name}' is shared by every tenant (bundled or installed by the operator); \
                 only a tenant's own uploads can be deleted"
            )));
        }
        let definitions = store.live_definitions(tenant)?;
        let mut users = Vec::new();
        for entry in &matching {
            let digest = &entry.plugin.digest;
            for (workflow, definition) in &definitions {
                let uses = WorkflowDefinition::from_value(definition.clone())
                    .map(|parsed| {
                        parsed.all_steps().iter().any(|step| {
                            !step.step_type.is_empty()
                                && catalog
                                    .resolve(tenant, &step.step_type)
                                    .is_ok_and(|p| &p.digest == digest)
                        })
                    })
                    .unwrap_or(false);
                if uses {
                    users.push(format!("workflow '{workflow}'"));
                }
            }
            let runs = store.runs_pinned_to(tenant, digest)?;
            if runs > 0 {
                users.push(format!("{runs} unfinished run(s)"));
            }
            if !users.is_empty() {
                return Err(PluginError::Conflict(format!(
                    "{name}@{} is in use by {}; archive those workflows and let the runs end first",
                    entry.plugin.info.version,
                    users.join(", ")
                )));
            }
        }
        let digests: Vec<String> = matching.iter().map(|e| e.plugin.digest.clone()).collect();
        store
            .retire_plugins(tenant.to_owned(), digests.clone(), now_ms())
            .await?;
        for digest in &digests {
            catalog.set_retired(tenant, digest, true);
        }
        hint_plugins(store);
        Ok(matching
            .iter()
            .map(|e| e.plugin.info.version.clone())
            .collect())
    }

    fn save_bytes(&self, digest: &str, wasm: &[u8]) -> anyhow::Result<()> {
        let path = self.path(digest);
        if path.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        std::io::Write::write_all(&mut file, wasm)?;
        file.as_file().sync_all()?;
        file.persist(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Removes the bytes of `digest` once no tenant's record refers to them.
    fn remove_unreferenced(&self, store: &Store, digest: &str) -> anyhow::Result<()> {
        let referenced = store
            .plugins()?
            .iter()
            .any(|record| record.digest == digest);
        if !referenced {
            let path = self.path(digest);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), "cannot remove a deleted plugin: {e}");
            }
        }
        Ok(())
    }
}

/// Tells the other hosts sharing the database that plugins changed (they
/// also look on a timer: a lost hint only delays them).
fn hint_plugins(store: &Store) {
    if let Err(e) = store.hint_plugins() {
        tracing::debug!("cannot tell the other hosts about the plugins: {e}");
    }
}
