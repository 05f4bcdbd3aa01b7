//! The step types available to workflows: the shared plugins (bundled, or from
//! the operator's plugins directory) plus each tenant's private uploads, by
//! name and version, and by digest for runs pinned to the exact plugin they
//! started with.

use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::engine::Plugin;
use crate::workflow::StepCatalog;

/// One plugin as the catalog holds it.
#[derive(Clone)]
pub struct Entry {
    pub plugin: Arc<Plugin>,
    /// The tenant that uploaded it; `None` for shared plugins.
    pub owner: Option<String>,
    /// Deleted by its owner: new workflows cannot use it, but runs pinned to
    /// it still can.
    pub retired: bool,
}

impl Entry {
    fn visible_to(&self, tenant: &str) -> bool {
        !self.retired && self.owner.as_deref().is_none_or(|owner| owner == tenant)
    }
}

#[derive(Default)]
pub struct Catalog {
    entries: RwLock<Vec<Entry>>,
}

impl Catalog {
    /// Adds a plugin shared by every tenant; the same digest twice is kept once.
    pub fn add(&self, plugin: Arc<Plugin>) {
        self.insert(Entry {
            plugin,
            owner: None,
            retired: false,
        });
    }

    /// Adds `owner`'s private plugin, or brings back one it had retired.
    pub fn add_private(&self, owner: &str, plugin: Arc<Plugin>, retired: bool) {
        self.insert(Entry {
            plugin,
            owner: Some(owner.to_owned()),
            retired,
        });
    }

    fn insert(&self, entry: Entry) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        match entries
            .iter_mut()
            .find(|known| known.plugin.digest == entry.plugin.digest && known.owner == entry.owner)
        {
            Some(known) => known.retired = entry.retired,
            None => entries.push(entry),
        }
    }

    /// Whether `owner`'s private plugin `digest` is here (retired or not).
    pub fn has_private(&self, owner: &str, digest: &str) -> bool {
        self.entries.read().is_ok_and(|entries| {
            entries
                .iter()
                .any(|e| e.plugin.digest == digest && e.owner.as_deref() == Some(owner))
        })
    }

    /// Retires (or, with `false`, restores) `owner`'s private plugin `digest`.
    pub fn set_retired(&self, owner: &str, digest: &str, retired: bool) {
        if let Ok(mut entries) = self.entries.write() {
            for entry in entries
                .iter_mut()
                .filter(|e| e.plugin.digest == digest && e.owner.as_deref() == Some(owner))
            {
                entry.retired = retired;
            }
        }
    }

    /// Everything `tenant` can use, sorted by name and version.
    pub fn visible(&self, tenant: &str) -> Vec<Entry> {
        let mut visible: Vec<Entry> = self
            .entries
            .read()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.visible_to(tenant))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        visible.sort_by_cached_key(|e| (e.plugin.info.name.clone(), version_of(&e.plugin)));
        visible
    }

    /// Resolves `name` or `name@requirement` (semver: `@0.1` means `^0.1`,
    /// `@=0.1.2` exactly) to the highest matching version `tenant` can use.
    pub fn resolve(&self, tenant: &str, step_type: &str) -> Result<Arc<Plugin>, String> {
        let (name, requirement) = match step_type.split_once('@') {
            Some((name, requirement)) => {
                let requirement = semver::VersionReq::parse(requirement).map_err(|e| {
                    format!("'{step_type}': '{requirement}' is not a version requirement ({e})")
                })?;
                (name, Some(requirement))
            }
            None => (step_type, None),
        };
        // Every run start resolves each of its steps: read in place, no copies.
        let entries = self
            .entries
            .read()
            .map_err(|_| "plugin catalog unavailable".to_owned())?;
        let visible = || entries.iter().filter(|e| e.visible_to(tenant));
        let mut candidates: Vec<(semver::Version, &Arc<Plugin>)> = visible()
            .filter(|e| e.plugin.info.name == name)
            .filter_map(|e| version_of(&e.plugin).map(|v| (v, &e.plugin)))
            .collect();
        if candidates.is_empty() {
            let mut names: Vec<&str> = visible().map(|e| e.plugin.info.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            return Err(format!(
                "unknown step type '{name}' (available: {})",
                names.join(", ")
            ));
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        let versions: Vec<String> = candidates.iter().map(|(v, _)| v.to_string()).collect();
        candidates
            .into_iter()
            .find(|(version, _)| requirement.as_ref().is_none_or(|r| r.matches(version)))
            .map(|(_, plugin)| Arc::clone(plugin))
            .ok_or_else(|| {
                format!(
                    "no version of '{name}' matches '{step_type}' (available: {})",
                    versions.join(", ")
                )
            })
    }

    /// The plugin a run was pinned to. Runs keep their plugins even after the
    /// tenant deletes them, so this does not look at owners.
    pub fn by_digest(&self, digest: &str) -> Option<Arc<Plugin>> {
        self.entries
            .read()
            .ok()?
            .iter()
            .find(|e| e.plugin.digest == digest)
            .map(|e| Arc::clone(&e.plugin))
    }

    /// The catalog as `tenant` sees it, for validating its workflows.
    pub fn for_tenant<'a>(&'a self, tenant: &'a str) -> TenantCatalog<'a> {
        TenantCatalog {
            catalog: self,
            tenant,
        }
    }
}

fn version_of(plugin: &Plugin) -> Option<semver::Version> {
    semver::Version::parse(&plugin.info.version).ok()
}

/// One tenant's view of the catalog.
pub struct TenantCatalog<'a> {
    catalog: &'a Catalog,
    tenant: &'a str,
}

impl StepCatalog for TenantCatalog<'_> {
    fn config_schema(&self, step_type: &str) -> Result<Option<Value>, String> {
        self.catalog
            .resolve(self.tenant, step_type)
            .map(|plugin| plugin.info.config_schema.clone())
    }

    fn audience(&self, step_type: &str) -> Option<String> {
        self.catalog
            .resolve(self.tenant, step_type)
            .ok()?
            .info
            .audience
            .clone()
    }
}
