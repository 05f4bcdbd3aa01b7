//! Approval links: tokens that let one reviewer decide one gate, or one plan,
//! from an email, without an API key. A token is its claims (for a gate:
//! tenant, run, step, reviewer, expiry; for a plan: tenant, workflow, version,
//! reviewer, decision, expiry) in base64url, a dot, and their HMAC-SHA256
//! under the host's secret. The same claims always make the same token. A
//! gate's token works once because its use is recorded; a plan's, because a
//! version of a plan is decided once.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::workflow::PlanDecision;

type HmacSha256 = Hmac<Sha256>;

/// What a gate's token allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// What a plan's token allows: one reviewer's one decision on one version of
/// a planned workflow. Its fields differ from a gate's, and both refuse
/// unknown fields, so neither kind of token passes for the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanClaims {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "w")]
    pub workflow: String,
    #[serde(rename = "n")]
    pub version: i64,
    #[serde(rename = "v")]
    pub reviewer: String,
    #[serde(rename = "o")]
    pub decision: PlanDecision,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
}

/// Claims that expire.
pub trait Expiring {
    /// Unix seconds.
    fn expires(&self) -> i64;
}

impl Expiring for Claims {
    fn expires(&self) -> i64 {
        self.expires
    }
}

impl Expiring for PlanClaims {
    fn expires(&self) -> i64 {
        self.expires
    }
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

    pub fn token(&self, claims: &impl Serialize) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// Whether the server is reached over HTTPS (its public URL says so):
    /// the dashboard's cookies are then `Secure`.
    pub fn served_over_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn url(&self, token: &str) -> String {
        format!("{}/v1/approvals/{token}", self.public_url)
    }

    /// The claims of an untampered token that has not expired at `now` (Unix s).
    pub fn verify<C: DeserializeOwned + Expiring>(
        &self,
        token: &str,
        now: i64,
    ) -> Result<C, LinkError> {
        let (payload, signature) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        let claims: C = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(LinkError::Invalid)?;
        if claims.expires() <= now {
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

impl LinkSigner {
    /// The link that lets `reviewer` take `decision` on the plan `plan`
    /// tells of, until the plan's links expire.
    pub fn plan_link(
        &self,
        tenant: &str,
        plan: &crate::store::PlanNotice,
        reviewer: &str,
        decision: PlanDecision,
    ) -> String {
        let token = self.token(&PlanClaims {
            tenant: tenant.to_owned(),
            workflow: plan.workflow_id.clone(),
            version: plan.version,
            reviewer: reviewer.to_owned(),
            decision,
            expires: plan.links_expire,
        });
        format!("{}/v1/plans/{token}", self.public_url)
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
        assert_eq!(signer.verify::<Claims>(&token, 999), Ok(claims()));
        assert_eq!(
            signer.verify::<Claims>(&token, 1_000),
            Err(LinkError::Expired)
        );
        for index in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ascii");
            if changed != token {
                assert_eq!(
                    signer.verify::<Claims>(&changed, 0),
                    Err(LinkError::Invalid),
                    "{index}"
                );
            }
        }
        let other = super::tests::signer("another secret, other server");
        assert_eq!(other.verify::<Claims>(&token, 0), Err(LinkError::Invalid));
        assert_eq!(signer.url("abc"), "http://x/v1/approvals/abc");
    }

    #[test]
    fn a_gate_token_is_no_plan_token_and_a_plan_token_no_gate_token() {
        let signer = signer("0123456789abcdef0123");
        let plan = PlanClaims {
            tenant: "acme".into(),
            workflow: "w1".into(),
            version: 1,
            reviewer: "ana@example.com".into(),
            decision: PlanDecision::Approve,
            expires: 1_000,
        };
        let plan_token = signer.token(&plan);
        assert_eq!(signer.verify::<PlanClaims>(&plan_token, 0), Ok(plan));
        assert_eq!(
            signer.verify::<Claims>(&plan_token, 0),
            Err(LinkError::Invalid)
        );
        let gate_token = signer.token(&claims());
        assert_eq!(
            signer.verify::<PlanClaims>(&gate_token, 0),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn the_secret_is_generated_once_into_the_data_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let make = || {
            LinkSigner::load_or_create(dir.path(), None, Duration::from_secs(60), "http://x")
                .expect("signer")
        };
        let token = make().token(&claims());
        assert_eq!(make().verify::<Claims>(&token, 0), Ok(claims()));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("approval-secret"))
            .expect("secret file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
