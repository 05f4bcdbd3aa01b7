//! The store's side of the services around runs: tenants and their API
//! keys, sealed secrets, uploaded plugins, and the one-off move of webhook
//! secrets out of definitions. Typed methods only, as for runs (`runs.rs`):
//! the services never see SQL or a connection, and the rules they keep (the
//! last admin key, a tenant's secret quota) reach the transaction as plain
//! arguments or a pure check.

use serde_json::Value;

use super::records::*;
use super::{Store, StoreError};

impl Store {
    /// Creates tenant `holder.tenant` with its first key (hashed as
    /// `key_hash`); a conflict if the tenant exists.
    pub async fn create_tenant(
        &self,
        holder: KeyHolder,
        key_hash: String,
        at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            insert_tenant(tx, &holder.tenant, at)?;
            insert_api_key(tx, &key_hash, &holder, at)
        })
        .await
    }

    /// Adds a key (hashed as `key_hash`) to an existing tenant; a conflict if
    /// there is no such tenant or it has a key of that name.
    pub async fn add_api_key(
        &self,
        holder: KeyHolder,
        key_hash: String,
        at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            if !tenant_exists(tx, &holder.tenant)? {
                return Err(StoreError::Conflict(format!(
                    "there is no tenant '{}'",
                    holder.tenant
                )));
            }
            insert_api_key(tx, &key_hash, &holder, at)
        })
        .await
    }

    /// Who holds the key hashed as `key_hash`.
    pub fn key_holder(&self, key_hash: &str) -> Result<Option<KeyHolder>, StoreError> {
        self.read(|c| key_holder(c, key_hash))
    }

    /// A tenant's keys: names, never hashes.
    pub fn api_keys(&self, tenant: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.read(|c| list_api_keys(c, tenant))
    }

    /// Deletes a tenant's key by name unless `refuse`, shown the tenant's
    /// keys in the same transaction, gives a reason not to (a conflict).
    /// Returns the deleted key's hash; not found if there was none.
    pub async fn delete_api_key(
        &self,
        tenant: String,
        name: String,
        refuse: impl FnOnce(&[KeyRecord]) -> Option<String> + Send + 'static,
    ) -> Result<String, StoreError> {
        self.write(move |tx| {
            if let Some(reason) = refuse(&list_api_keys(tx, &tenant)?) {
                return Err(StoreError::Conflict(reason));
            }
            let hash = delete_api_key(tx, &tenant, &name)?.ok_or(StoreError::NotFound)?;
            delete_sessions(tx, &hash, true)?;
            Ok(hash)
        })
        .await
    }

    /// Stores a dashboard session for the key hashed as `key_hash`.
    pub async fn open_session(
        &self,
        token_hash: String,
        key_hash: String,
        csrf: String,
        at: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |tx| insert_session(tx, &token_hash, &key_hash, &csrf, at, expires_at))
            .await
    }

    /// The live session whose token hashes to `token_hash`.
    pub fn session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|c| session(c, token_hash, now))
    }

    /// Ends the session whose token hashes to `token_hash`.
    pub async fn close_session(&self, token_hash: String) -> Result<(), StoreError> {
        self.write(move |tx| delete_sessions(tx, &token_hash, false))
            .await
    }

    /// How many tenants there are.
    pub fn tenant_count(&self) -> Result<i64, StoreError> {
        self.read(count_tenants)
    }

    /// Stores a sealed secret (true when it is new); a new one past `limit`
    /// secrets of the tenant is a conflict.
    pub async fn put_secret(
        &self,
        tenant: String,
        name: String,
        sealed: Vec<u8>,
        at: i64,
        limit: usize,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let count = count_secrets(tx, &tenant)?;
            let created = put_secret(tx, &tenant, &name, &sealed, at)?;
            if created && count >= limit {
                return Err(StoreError::Conflict(format!(
                    "a tenant may keep at most {limit} secrets"
                )));
            }
            Ok(created)
        })
        .await
    }

    /// Deletes a secret; false when there was none.
    pub async fn delete_secret(&self, tenant: String, name: String) -> Result<bool, StoreError> {
        self.write(move |tx| delete_secret(tx, &tenant, &name))
            .await
    }

    /// A tenant's secrets, sealed.
    pub fn secrets(&self, tenant: &str) -> Result<Vec<SecretRecord>, StoreError> {
        self.read(|c| list_secrets(c, tenant))
    }

    /// Every uploaded plugin, deleted ones included, oldest first.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        self.read(all_plugins)
    }

    /// Records an uploaded plugin (again, if it was deleted).
    pub async fn save_plugin(&self, record: PluginRecord) -> Result<(), StoreError> {
        self.write(move |tx| upsert_plugin(tx, &record)).await
    }

    /// Marks `owner`'s plugins `digests` deleted at `at`.
    pub async fn retire_plugins(
        &self,
        owner: String,
        digests: Vec<String>,
        at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            digests
                .iter()
                .try_for_each(|digest| retire_plugin(tx, &owner, digest, at))
        })
        .await
    }

    /// Forgets a deleted plugin's record.
    pub async fn purge_plugin(&self, tenant: String, digest: String) -> Result<(), StoreError> {
        self.write(move |tx| purge_plugin(tx, &tenant, &digest))
            .await
    }

    /// How many of `tenant`'s unfinished runs are pinned to plugin `digest`.
    pub fn runs_pinned_to(&self, tenant: &str, digest: &str) -> Result<i64, StoreError> {
        self.read(|c| unfinished_runs_pinned_to(c, tenant, digest))
    }

    /// The latest definition of each of `tenant`'s draft and active
    /// workflows, by workflow name.
    pub fn live_definitions(&self, tenant: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.read(|c| live_definitions(c, tenant))
    }

    /// Definitions (tenant, workflow, version, definition) and outbox
    /// targets (id, tenant, target) whose text holds `needle`.
    pub fn holding(&self, needle: &str) -> Result<Holding, StoreError> {
        self.read(|c| {
            Ok(Holding {
                definitions: definitions_containing(c, needle)?,
                outbox: outbox_targets_containing(c, needle)?,
            })
        })
    }

    /// Replaces stored definitions (workflow, version, definition) and
    /// outbox targets (id, target) in one transaction.
    pub async fn rewrite(
        &self,
        definitions: Vec<(String, i64, Value)>,
        outbox: Vec<(String, Value)>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            for (workflow_id, version, definition) in &definitions {
                replace_definition(tx, workflow_id, *version, definition)?;
            }
            for (id, target) in &outbox {
                set_outbox_target(tx, id, target)?;
            }
            Ok(())
        })
        .await
    }
}

/// What [`Store::holding`] found.
pub struct Holding {
    /// (tenant, workflow id, version, definition).
    pub definitions: Vec<(String, String, i64, Value)>,
    /// (id, tenant, target).
    pub outbox: Vec<(String, String, Value)>,
}
