//! Approval links: tokens that let one reviewer decide one gate from an email,
//! without an API key. A token is its claims (tenant, run, step, reviewer,
//! expiry) in base64url, a dot, and their HMAC-SHA256 under the host's secret.
//! The same claims always make the same token; using one is recorded, so a
//! token works once.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "r")]
    pub run: String,
    #[serde(rename = "s")]
    pub step: String,
    #[serde(rename = "v")]
    pub reviewer: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this approval link is not valid: it was changed, or not made by this server")]
    Invalid,
    #[error("this approval link expired")]
    Expired,
}

/// Signs and checks approval links.
pub struct LinkSigner {
    key: Vec<u8>,
    ttl: Duration,
    public_url: String,
}

impl LinkSigner {
    /// With `secret` if the operator configured one, else the secret in
    /// `data_dir/approval-secret`, generated (owner-only) on first start.
    pub fn load_or_create(
        data_dir: &Path,
        secret: Option<&str>,
        ttl: Duration,
        public_url: &str,
    ) -> anyhow::Result<LinkSigner> {
        let key = match secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => crate::keyfile::stored_secret(&data_dir.join("approval-secret"))?,
        };
        anyhow::ensure!(
            key.len() >= 16,
            "the approval secret must be at least 16 bytes"
        );
        Ok(LinkSigner {
            key,
            ttl,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// How long a link is valid from the pause that made it.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub fn token(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn url(&self, token: &str) -> String {
        format!("{}/v1/approvals/{token}", self.public_url)
    }

    /// The claims of an untampered token that has not expired at `now` (Unix s).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, LinkError> {
        let (payload, signature) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(LinkError::Invalid)?;
        if claims.expires <= now {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

impl LinkSigner {
    /// The link, and when it expires (Unix s), for `reviewer` to decide the
    /// run paused at `step` since `paused_at` (RFC 3339); the link works for
    /// [`LinkSigner::ttl`] from the pause.
    pub fn link_for(
        &self,
        tenant: &str,
        run: &str,
        step: &str,
        paused_at: &str,
        reviewer: &str,
    ) -> Option<(String, i64)> {
        let paused_at = humantime::parse_rfc3339(paused_at).ok()?;
        let expires = (paused_at + self.ttl)
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs() as i64;
        let token = self.token(&Claims {
            tenant: tenant.to_owned(),
            run: run.to_owned(),
            step: step.to_owned(),
            reviewer: reviewer.to_owned(),
            expires,
        });
        Some((self.url(&token), expires))
    }
}

/// A token's id for the single-use record: not the token itself, so the
/// database holds nothing that works as a link.
pub fn token_id(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secret: &str) -> LinkSigner {
        let dir = tempfile::tempdir().expect("dir");
        LinkSigner::load_or_create(
            dir.path(),
            Some(secret),
            Duration::from_secs(60),
            "http://x/",
        )
        .expect("signer")
    }

    fn claims() -> Claims {
        Claims {
            tenant: "acme".into(),
            run: "r1".into(),
            step: "review".into(),
            reviewer: "ana@example.com".into(),
            expires: 1_000,
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires_and_not_after_any_change() {
        let signer = signer("0123456789abcdef0123");
        let token = signer.token(&claims());
        assert_eq!(signer.token(&claims()), token, "deterministic");
        assert_eq!(signer.verify(&token, 999), Ok(claims()));
        assert_eq!(signer.verify(&token, 1_000), Err(LinkError::Expired));
        for index in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            if changed != token {
                assert_eq!(
                    signer.verify(&changed, 0),
                    Err(LinkError::Invalid),
                    "{index}"
                );
            }
        }
        let other = super::tests::signer("another secret, other server");
        assert_eq!(other.verify(&token, 0), Err(LinkError::Invalid));
        assert_eq!(signer.url("abc"), "http://x/v1/approvals/abc");
    }

    #[test]
    fn the_secret_is_generated_once_into_the_data_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let make = || {
            LinkSigner::load_or_create(dir.path(), None, Duration::from_secs(60), "http://x")
                .expect("signer")
        };
        let token = make().token(&claims());
        assert_eq!(make().verify(&token, 0), Ok(claims()));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("approval-secret"))
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
