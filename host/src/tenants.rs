//! Tenants and their API keys. A key is shown once when it is made; only its
//! SHA-256 hash is stored.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::runner::now_ms;
use crate::store::{self, Store, StoreError};

/// The tenant made on the first start with an empty data directory.
pub const DEFAULT_TENANT: &str = "default";

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a key: {e}")))?;
    Ok(format!("cairn_{}", hex::encode(bytes)))
}

/// Creates a tenant and returns its first API key.
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
    let key = new_key()?;
    let (name, hash) = (name.to_owned(), hash_key(&key));
    store
        .write(move |tx| {
            let now = now_ms();
            store::insert_tenant(tx, &name, now)?;
            store::insert_api_key(tx, &hash, &name, now)
        })
        .await?;
    Ok(key)
}

/// Keys seen valid, by hash, so that a request needs no database read to
/// authenticate. Keys are never revoked, so a remembered key stays valid;
/// unknown keys are not remembered, so a key created by another process works
/// at once.
#[derive(Default)]
pub struct KeyCache {
    known: std::sync::RwLock<std::collections::HashMap<String, String>>,
}

impl KeyCache {
    /// At most this many keys are remembered; past it the cache starts over.
    const CAPACITY: usize = 100_000;

    /// The tenant an API key belongs to.
    pub fn authenticate(&self, store: &Store, key: &str) -> Result<Option<String>, StoreError> {
        let hash = hash_key(key);
        if let Some(tenant) = self
            .known
            .read()
            .ok()
            .and_then(|known| known.get(&hash).cloned())
        {
            return Ok(Some(tenant));
        }
        let tenant = store.read(|c| store::tenant_for_key(c, &hash))?;
        if let (Some(tenant), Ok(mut known)) = (&tenant, self.known.write()) {
            if known.len() >= Self::CAPACITY {
                known.clear();
            }
            known.insert(hash, tenant.clone());
        }
        Ok(tenant)
    }
}

/// On a database without tenants, creates the default tenant and writes its key
/// to a file only the owner can read; returns that file's path.
pub async fn ensure_default(store: &Store, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    if store.read(store::count_tenants)? > 0 {
        return Ok(None);
    }
    let key = create_tenant(store, DEFAULT_TENANT).await?;
    let path = data_dir.join("default-api-key");
    write_private(&path, &key)?;
    Ok(Some(path))
}

/// Writes `text` and a newline to a new file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")
}
