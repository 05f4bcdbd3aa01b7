//! The step types available to workflows: loaded plugins by name and version,
//! and by digest for runs pinned to the exact plugin they started with.

use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::engine::Plugin;
use crate::workflow::StepCatalog;

#[derive(Default)]
pub struct Catalog {
    plugins: RwLock<Vec<Arc<Plugin>>>,
}

impl Catalog {
    /// Adds a plugin; the same digest twice is kept once.
    pub fn add(&self, plugin: Arc<Plugin>) {
        if let Ok(mut plugins) = self.plugins.write()
            && !plugins.iter().any(|known| known.digest == plugin.digest)
        {
            plugins.push(plugin);
        }
    }

    pub fn all(&self) -> Vec<Arc<Plugin>> {
        self.plugins
            .read()
            .map(|plugins| plugins.clone())
            .unwrap_or_default()
    }

    /// Resolves `name` or `name@requirement` (semver: `@0.1` means `^0.1`,
    /// `@=0.1.2` exactly) to the highest matching version.
    pub fn resolve(&self, step_type: &str) -> Result<Arc<Plugin>, String> {
        let (name, requirement) = match step_type.split_once('@') {
            Some((name, requirement)) => {
                let requirement = semver::VersionReq::parse(requirement).map_err(|e| {
                    format!("'{step_type}': '{requirement}' is not a version requirement ({e})")
                })?;
                (name, Some(requirement))
            }
            None => (step_type, None),
        };
        let plugins = self
            .plugins
            .read()
            .map_err(|_| "plugin catalog unavailable".to_owned())?;
        let mut candidates: Vec<(semver::Version, &Arc<Plugin>)> = plugins
            .iter()
            .filter(|plugin| plugin.info.name == name)
            .filter_map(|plugin| {
                semver::Version::parse(&plugin.info.version)
                    .ok()
                    .map(|v| (v, plugin))
            })
            .collect();
        if candidates.is_empty() {
            let mut names: Vec<&str> = plugins.iter().map(|p| p.info.name.as_str()).collect();
            names.sort();
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

    pub fn by_digest(&self, digest: &str) -> Option<Arc<Plugin>> {
        self.plugins
            .read()
            .ok()?
            .iter()
            .find(|plugin| plugin.digest == digest)
            .cloned()
    }
}

impl StepCatalog for Catalog {
    fn config_schema(&self, step_type: &str) -> Result<Option<Value>, String> {
        self.resolve(step_type)
            .map(|plugin| plugin.info.config_schema.clone())
    }
}
