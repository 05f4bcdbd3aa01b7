//! Tenants' secrets: written through the API, never read back by it. Values are
//! sealed with ChaCha20-Poly1305 under a host key kept in the data directory (a
//! copy of the database alone reveals nothing), bound to their tenant and name,
//! and opened only to fill `${secret:NAME}` placeholders in allowed requests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::clock::now_ms;
use crate::egress::check_secret_name;
use crate::store::{Store, StoreError};

const NONCE_BYTES: usize = 12;
/// The largest secret value, in bytes.
pub const MAX_SECRET_BYTES: usize = 16 << 10;
/// Secrets one tenant may keep.
pub const MAX_SECRETS_PER_TENANT: usize = 1000;

/// A secret's name and dates; never its value.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SecretInfo {
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{0}")]
    Invalid(String),
    #[error("no such secret")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sealed storage of secrets, with the opened values of recently used tenants.
pub struct Secrets {
    store: Arc<Store>,
    cipher: ChaCha20Poly1305,
    opened: Mutex<HashMap<String, Arc<HashMap<String, String>>>>,
}

impl Secrets {
    /// With the key in `data_dir/secrets-key`, made (owner-only) on first start.
    pub fn open(store: Arc<Store>, data_dir: &Path) -> anyhow::Result<Secrets> {
        let key = crate::keyfile::stored_secret(&data_dir.join("secrets-key"))?;
        anyhow::ensure!(
            key.len() == 32,
            "{} must hold a 32-byte key in hex",
            data_dir.join("secrets-key").display()
        );
        Ok(Secrets {
            store,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            opened: Mutex::new(HashMap::new()),
        })
    }

    /// Stores (or replaces) a secret; true when it is new.
    pub async fn put(&self, tenant: &str, name: &str, value: &str) -> Result<bool, SecretError> {
        check_secret_name(name).map_err(SecretError::Invalid)?;
        if value.is_empty() || value.len() > MAX_SECRET_BYTES {
            return Err(SecretError::Invalid(format!(
                "a secret's value must be 1 to {MAX_SECRET_BYTES} bytes"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(SecretError::Invalid(
                "a secret's value may not contain control characters (it goes into headers)"
                    .to_owned(),
            ));
        }
        let sealed = self.seal(tenant, name, value)?;
        let created = self
            .store
            .put_secret(
                tenant.to_owned(),
                name.to_owned(),
                sealed,
                now_ms(),
                MAX_SECRETS_PER_TENANT,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(message) => SecretError::Invalid(message),
                other => SecretError::Store(other),
            })?;
        self.forget(tenant);
        Ok(created)
    }

    pub async fn delete(&self, tenant: &str, name: &str) -> Result<(), SecretError> {
        let deleted = self
            .store
            .delete_secret(tenant.to_owned(), name.to_owned())
            .await?;
        self.forget(tenant);
        if deleted {
            Ok(())
        } else {
            Err(SecretError::NotFound)
        }
    }

    pub fn list(&self, tenant: &str) -> Result<Vec<SecretInfo>, SecretError> {
        let records = self.store.secrets(tenant)?;
        Ok(records
            .into_iter()
            .map(|record| SecretInfo {
                name: record.name,
                created_at: crate::clock::timestamp(record.created_at),
                updated_at: crate::clock::timestamp(record.updated_at),
            })
            .collect())
    }

    /// The tenant's secret values by name, opened.
    pub fn values(&self, tenant: &str) -> Result<Arc<HashMap<String, String>>, SecretError> {
        if let Some(values) = self.opened.lock().ok().and_then(|o| o.get(tenant).cloned()) {
            return Ok(values);
        }
        let records = self.store.secrets(tenant)?;
        let mut values = HashMap::with_capacity(records.len());
        for record in records {
            match self.unseal(tenant, &record.name, &record.sealed) {
                Some(value) => {
                    values.insert(record.name, value);
                }
                None => tracing::error!(
                    tenant,
                    secret = %record.name,
                    "cannot open a stored secret: was the data directory's secrets-key replaced?"
                ),
            }
        }
        let values = Arc::new(values);
        if let Ok(mut opened) = self.opened.lock() {
            opened.insert(tenant.to_owned(), Arc::clone(&values));
        }
        Ok(values)
    }

    fn forget(&self, tenant: &str) {
        if let Ok(mut opened) = self.opened.lock() {
            opened.remove(tenant);
        }
    }

    /// `nonce || ciphertext`, authenticated with the tenant and name, so a
    /// sealed value copied to another row does not open.
    fn seal(&self, tenant: &str, name: &str, value: &str) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| SecretError::Invalid(format!("no randomness for a nonce: {e}")))?;
        let aad = format!("{tenant}\0{name}");
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Invalid("cannot seal the secret".to_owned()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn unseal(&self, tenant: &str, name: &str, sealed: &[u8]) -> Option<String> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let aad = format!("{tenant}\0{name}");
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_are_sealed_at_rest_and_bound_to_their_row() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(
            Store::open(&dir.path().join("db"), crate::store::Synchronous::Normal).expect("store"),
        );
        crate::tenants::create_tenant(&store, "acme")
            .await
            .expect("tenant");
        let secrets = Secrets::open(Arc::clone(&store), dir.path()).expect("secrets");
        assert!(
            secrets
                .put("acme", "api", "hunter2-hunter2")
                .await
                .expect("put")
        );
        assert!(
            !secrets
                .put("acme", "api", "hunter3-hunter3")
                .await
                .expect("replace")
        );
        assert_eq!(
            secrets
                .values("acme")
                .expect("values")
                .get("api")
                .map(String::as_str),
            Some("hunter3-hunter3")
        );
        let sealed = store.secrets("acme").expect("rows").remove(0).sealed;
        assert!(!String::from_utf8_lossy(&sealed).contains("hunter3"));
        assert_eq!(secrets.unseal("acme", "other", &sealed), None);
        assert_eq!(secrets.unseal("other", "api", &sealed), None);
        assert!(matches!(
            secrets.put("acme", "bad name", "x").await,
            Err(SecretError::Invalid(_))
        ));
        secrets.delete("acme", "api").await.expect("delete");
        assert!(secrets.values("acme").expect("values").is_empty());
        assert!(matches!(
            secrets.delete("acme", "api").await,
            Err(SecretError::NotFound)
        ));
    }
}
