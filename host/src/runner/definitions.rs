//! Workflow definitions by (workflow, version), read once and kept: versions
//! never change. The one cache of them: the driver, decisions, cancels and
//! the outbox rows a transition calls for all read through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::run::Layout;
use crate::store::{Store, StoreError};
use crate::workflow::WorkflowDefinition;

/// A version's definition, and its layout of step sites.
type Known = (Arc<WorkflowDefinition>, Arc<Layout>);

/// At most this many versions are kept; past it the cache starts over.
const CAPACITY: usize = 10_000;

pub(super) struct Definitions {
    store: Arc<Store>,
    known: Mutex<HashMap<(String, i64), Known>>,
}

impl Definitions {
    pub(super) fn new(store: Arc<Store>) -> Definitions {
        Definitions {
            store,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// A version's definition; corrupt when the stored one cannot be read.
    pub(super) fn get(
        &self,
        workflow_id: &str,
        version: i64,
    ) -> Result<Arc<WorkflowDefinition>, StoreError> {
        Ok(self.version(workflow_id, version)?.0)
    }

    /// A version's layout of step sites.
    pub(super) fn layout(
        &self,
        workflow_id: &str,
        version: i64,
    ) -> Result<Arc<Layout>, StoreError> {
        Ok(self.version(workflow_id, version)?.1)
    }

    fn version(&self, workflow_id: &str, version: i64) -> Result<Known, StoreError> {
        let key = (workflow_id.to_owned(), version);
        if let Some(found) = self.known.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(found);
        }
        let value = self.store.definition(workflow_id, version)?;
        let definition = Arc::new(
            WorkflowDefinition::from_value(value)
                .map_err(|p| StoreError::Corrupt(format!("stored definition: {}", p.message)))?,
        );
        let found = (Arc::clone(&definition), Arc::new(Layout::of(&definition)));
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= CAPACITY {
                known.clear();
            }
            known.insert(key, found.clone());
        }
        Ok(found)
    }
}
