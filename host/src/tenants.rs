//! Tenants and their API keys. A key is shown once when it is made; only its
//! SHA-256 hash is stored. Every key has a name, unique in its tenant, which
//! is the identity of whoever holds it: approvals through the API count for
//! that name. Keys are made by the operator (`cairn tenant create`, `cairn
//! key create`), so that no API caller can mint a second identity; admin keys
//! may list and revoke their tenant's keys through the API.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::store::Store;
pub use crate::store::{KeyHolder, KeyRecord, SessionRecord, StoreError};

/// The tenant made on the first start with an empty data directory.
pub const DEFAULT_TENANT: &str = "default";

/// The name of a tenant's first key.
pub const FIRST_KEY: &str = "admin";

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// 256 random bits, as API keys and dashboard session and form tokens are.
pub fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a key: {e}")))?;
    Ok(format!("cairn_{}", hex::encode(bytes)))
}

/// A key's name, lowercased: 1 to 254 letters, digits and `.`, `_`, `-`, `+`,
/// `@`, so that a person's email address can name their key (and then their
/// link approvals and API approvals are one identity).
pub fn key_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 254
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@_+-".contains(&b));
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{name}' is not a valid key name: use 1 to 254 letters, digits, '.', '@', '_', '+' and '-'"
        ))
    }
}

/// Creates a tenant and returns its first API key, an admin key named `admin`.
pub async fn create_tenant(store: &Store, name: &str) -> Result<String, StoreError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(StoreError::Conflict(format!(
            "'{name}' is not a valid tenant name: use 1 to 64 lowercase letters, digits, '-' and '_'"
        )));
    }
    let key = random_token()?;
    let holder = KeyHolder {
        tenant: name.to_owned(),
        name: FIRST_KEY.to_owned(),
        admin: true,
    };
    let hash = hash_key(&key);
    store.create_tenant(holder, hash, now_ms()).await?;
    Ok(key)
}

/// The API keys: who holds a key, listing and revoking. Keys seen valid are
/// remembered by hash, so that most requests need no database read to
/// authenticate. A key is remembered for [`Keys::TTL`]: a key revoked through
/// this process stops working at once, one revoked elsewhere (the command
/// line, another server) within that time.
pub struct Keys {
    store: Arc<Store>,
    known: RwLock<HashMap<String, (KeyHolder, Instant)>>,
}

impl Keys {
    pub fn new(store: Arc<Store>) -> Keys {
        Keys {
            store,
            known: RwLock::default(),
        }
    }

    /// At most this many keys are remembered; past it the cache starts over.
    const CAPACITY: usize = 100_000;
    const TTL: Duration = Duration::from_secs(10);

    /// Creates a named key for an existing tenant and returns it (the only
    /// time it is shown).
    pub async fn create(
        &self,
        tenant: &str,
        name: &str,
        admin: bool,
    ) -> Result<String, StoreError> {
        let name = key_name(name).map_err(StoreError::Conflict)?;
        let key = random_token()?;
        let holder = KeyHolder {
            tenant: tenant.to_owned(),
            name,
            admin,
        };
        let hash = hash_key(&key);
        self.store.add_api_key(holder, hash, now_ms()).await?;
        Ok(key)
    }

    /// Who holds an API key.
    pub fn authenticate(&self, key: &str) -> Result<Option<KeyHolder>, StoreError> {
        let hash = hash_key(key);
        if let Some(holder) = self.known.read().ok().and_then(|known| {
            known
                .get(&hash)
                .filter(|(_, seen)| seen.elapsed() < Self::TTL)
                .map(|(holder, _)| holder.clone())
        }) {
            return Ok(Some(holder));
        }
        let holder = self.store.key_holder(&hash)?;
        if let Ok(mut known) = self.known.write() {
            match &holder {
                Some(holder) => {
                    if known.len() >= Self::CAPACITY {
                        known.clear();
                    }
                    known.insert(hash, (holder.clone(), Instant::now()));
                }
                None => {
                    known.remove(&hash);
                }
            }
        }
        Ok(holder)
    }

    /// Exchanges an API key for a dashboard session that lasts `ttl`: its
    /// token (the cookie's value, shown only here) and its form token. None
    /// for an unknown key.
    pub async fn open_session(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Session>, StoreError> {
        if self.authenticate(key)?.is_none() {
            return Ok(None);
        }
        let (token, csrf) = (random_token()?, random_token()?);
        let now = now_ms();
        let until = now.saturating_add(ttl.as_millis() as i64);
        match self
            .store
            .open_session(hash_key(&token), hash_key(key), csrf.clone(), now, until)
            .await
        {
            Ok(()) => Ok(Some(Session { token, csrf })),
            // Revoked between the two.
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Who a dashboard session's token signs in, and its form token; None
    /// once it expired, was closed, or its key was revoked.
    pub fn session(&self, token: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.store.session(&hash_key(token), now_ms())
    }

    /// Ends a dashboard session (signing out).
    pub async fn close_session(&self, token: &str) -> Result<(), StoreError> {
        self.store.close_session(hash_key(token)).await
    }

    /// The tenant's keys: names, never hashes.
    pub fn list(&self, tenant: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.store.api_keys(tenant)
    }

    /// Revokes a key by name; it stops working at once in this process. With
    /// [`LastAdmin::Keep`], the tenant's last admin key is refused (a conflict),
    /// decided in the transaction that deletes, so two admins revoking each
    /// other cannot both succeed.
    pub async fn revoke(
        &self,
        tenant: &str,
        name: &str,
        last_admin: LastAdmin,
    ) -> Result<(), StoreError> {
        let name = name.to_ascii_lowercase();
        let named = name.clone();
        let refuse = move |keys: &[KeyRecord]| {
            let target = keys.iter().find(|k| k.name == named);
            let last =
                target.is_some_and(|k| k.admin) && keys.iter().filter(|k| k.admin).count() == 1;
            (last_admin == LastAdmin::Keep && last).then(|| {
                format!(
                    "'{named}' is the tenant's last admin key; make another with \
                     `cairn key create --admin` first"
                )
            })
        };
        let hash = self
            .store
            .delete_api_key(tenant.to_owned(), name, refuse)
            .await?;
        if let Ok(mut known) = self.known.write() {
            known.remove(&hash);
        }
        Ok(())
    }
}

/// A new dashboard session: the cookie's token and the form token.
pub struct Session {
    pub token: String,
    pub csrf: String,
}

/// Whether [`Keys::revoke`] may take a tenant's last admin key: the API keeps
/// it, the operator's command line may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastAdmin {
    Keep,
    Allow,
}

/// On a database without tenants, creates the default tenant and writes its key
/// to a file only the owner can read; returns that file's path.
pub async fn ensure_default(store: &Store, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if store.tenant_count()? > 0 {
        return Ok(None);
    }
    let key = match create_tenant(store, DEFAULT_TENANT).await {
        Ok(key) => key,
        // Another host sharing the database made it first.
        Err(_) if store.tenant_count()? > 0 => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let path = data_dir.join("default-api-key");
    crate::keyfile::write_private(&path, &key)?;
    Ok(Some(path))
}
