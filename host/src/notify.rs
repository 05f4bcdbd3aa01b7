//! Notifications: when a run pauses or ends, its workflow's webhooks and
//! emails are written to the outbox in the same transaction as the event, then
//! delivered from there with retries and backoff, so a restart loses none.
//! Webhooks are signed the Standard Webhooks way (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`); a redelivery keeps its id, so
//! receivers can deduplicate. Emails go over SMTP (lettre); a gate's reviewers
//! get their approval links.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::approvals::{LinkSigner, PlanDecision};
use crate::clock::{now_ms, timestamp};
use crate::egress::{Rules, Target, client};
use crate::secrets::Secrets;
use crate::store::{
    EventRecord, Notification, NotificationData, OutboxRecord, PlanNotice, Recipient, RunNotice,
    RunRecord, Store, Subject,
};
use crate::workflow::{Notifications, NotifyEvent, PlanRecord};

/// Attempts before a notification is given up.
const MAX_ATTEMPTS: i64 = 12;
/// Notifications delivered per pass.
const BATCH: usize = 32;

/// Notifications claimed at once when hosts share the database: one, so
/// that a host that dies mid-delivery leaves only that one claimed, and
/// for one claim window (a claim of several made a restarted host wait out
/// all of theirs).
const SHARED_BATCH: usize = 1;
/// How long each notification of a claimed batch gives its host to deliver
/// it (an attempt times out well within this): a host that dies meanwhile
/// leaves the batch to be tried again by another after that.
const CLAIM_EACH: Duration = Duration::from_secs(20);

/// The SMTP server emails go through.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    #[serde(default = "default_tls")]
    pub tls: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, e.g. `Cairn <cairn@example.com>`.
    pub from: String,
}

fn default_port() -> u16 {
    587
}

fn default_tls() -> String {
    "starttls".to_owned()
}

/// The outbox rows `events` call for under a workflow version's notification
/// settings: committed with the events, so none is lost or sent for an event
/// that was not saved.
pub fn outbox_rows(
    run: &RunRecord,
    events: &[EventRecord],
    notifications: &Notifications,
) -> Vec<OutboxRecord> {
    let mut rows = Vec::new();
    let notifiable = events
        .iter()
        .filter_map(|e| Some((e.event.notification()?, e)));
    for (kind, event) in notifiable {
        // A step that waits is named by its own event (several may wait).
        let pending_action = match &event.event {
            crate::run::RunEvent::Paused { pending_action, .. } => Some(pending_action.clone()),
            _ => run.pending_action.clone(),
        };
        let body = Notification {
            kind: format!("run.{}", kind.as_str()),
            timestamp: timestamp(event.at),
            data: NotificationData::Run(Box::new(RunNotice {
                run_id: run.id.clone(),
                workflow_id: run.workflow_id.clone(),
                status: run.status,
                event_seq: event.seq,
                pending_action: pending_action.clone(),
                result: run.result.clone(),
                error: run.error.clone(),
            })),
        };
        let mut add = |recipient: Recipient| {
            rows.push(OutboxRecord {
                id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
                tenant: run.tenant.clone(),
                subject: Subject::Run(run.id.clone()),
                recipient,
                notification: body.clone(),
                attempts: 0,
                next_attempt: Some(event.at),
                delivered_at: None,
                last_error: None,
                created_at: event.at,
            })
        };
        for hook in notifications
            .webhooks
            .iter()
            .filter(|h| h.events.contains(&kind))
        {
            // The outbox names the signing secret; its value stays sealed.
            add(Recipient::Webhook {
                url: hook.url.clone(),
                secret_name: hook.secret_name().unwrap_or_default().to_owned(),
            });
        }
        let Some(email) = &notifications.email else {
            continue;
        };
        if email.events.contains(&kind) {
            for to in &email.to {
                add(Recipient::Email {
                    to: to.clone(),
                    reviewer: false,
                });
            }
        }
        let reviewers = pending_action
            .as_ref()
            .and_then(|a| a.gate.as_ref())
            .map(|g| g.reviewers.as_slice())
            .filter(|_| kind == NotifyEvent::Paused && email.reviewers)
            .unwrap_or_default();
        for reviewer in reviewers {
            if reviewer.parse::<lettre::Address>().is_ok() {
                add(Recipient::Email {
                    to: reviewer.clone(),
                    reviewer: true,
                });
            }
        }
    }
    rows
}

/// The outbox rows that send a plan's version to its reviewers (an email
/// each) and webhooks (a signed POST each), with approve and reject links
/// made at delivery for each recipient.
pub fn plan_outbox_rows(
    notice: &PlanNotice,
    tenant: &str,
    plan: &PlanRecord,
    now: i64,
) -> Vec<OutboxRecord> {
    let emails = plan.reviewers.iter().map(|to| Recipient::Email {
        to: to.clone(),
        reviewer: true,
    });
    let hooks = plan.webhooks.iter().map(|hook| Recipient::Webhook {
        url: hook.url.clone(),
        secret_name: hook.secret_name().unwrap_or_default().to_owned(),
    });
    emails
        .chain(hooks)
        .map(|recipient| OutboxRecord {
            id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            tenant: tenant.to_owned(),
            subject: Subject::Workflow(notice.workflow_id.clone()),
            recipient,
            notification: Notification {
                kind: "workflow.plan_review".to_owned(),
                timestamp: timestamp(now),
                data: NotificationData::Plan(notice.clone()),
            },
            attempts: 0,
            next_attempt: Some(now),
            delivered_at: None,
            last_error: None,
            created_at: now,
        })
        .collect()
}

/// Moves webhook signing secrets that older builds kept in clear, in
/// definitions and outbox rows, into the tenants' sealed secrets (named
/// `webhook-` and a digest of the value, so equal secrets share one) and
/// leaves a `${secret:NAME}` reference in their place. Returns how many
/// definitions and outbox rows changed. Safe to run again after a crash.
pub async fn migrate_webhook_secrets(store: &Store, secrets: &Secrets) -> anyhow::Result<usize> {
    let name_of = |value: &str| {
        use sha2::Digest as _;
        format!(
            "webhook-{}",
            &hex::encode(Sha256::digest(value.as_bytes()))[..16]
        )
    };
    let holding = store.holding("whsec_")?;
    let mut definitions_changed = Vec::new();
    for (tenant, workflow_id, version, mut definition) in holding.definitions {
        let hooks = definition
            .pointer_mut("/notifications/webhooks")
            .and_then(Value::as_array_mut);
        let mut changed = false;
        for hook in hooks.into_iter().flatten() {
            let Some(value) = hook["secret"].as_str().filter(|s| s.starts_with("whsec_")) else {
                continue;
            };
            let (value, name) = (value.to_owned(), name_of(value));
            secrets.put(&tenant, &name, &value).await?;
            hook["secret"] = json!(crate::egress::placeholder(&name));
            changed = true;
        }
        if changed {
            definitions_changed.push((workflow_id, version, definition));
        }
    }
    let mut outbox_changed = Vec::new();
    for (id, tenant, target) in holding.outbox {
        let Some(value) = target["secret"].as_str() else {
            continue;
        };
        let name = name_of(value);
        secrets.put(&tenant, &name, value).await?;
        outbox_changed.push((id, json!({ "url": target["url"], "secret_name": name })));
    }
    let changed = definitions_changed.len() + outbox_changed.len();
    if changed > 0 {
        store.rewrite(definitions_changed, outbox_changed).await?;
        tracing::info!(
            changed,
            "moved webhook signing secrets into the tenants' sealed secrets"
        );
    }
    Ok(changed)
}

/// The key of a Standard Webhooks signing secret: `whsec_` and the base64 of
/// at least 16 bytes.
fn signing_key(secret: &str) -> Option<Vec<u8>> {
    secret
        .strip_prefix("whsec_")
        .and_then(|key| STANDARD.decode(key).ok())
        .filter(|key| key.len() >= 16)
}

/// Whether `secret` is a Standard Webhooks signing secret (checked when a
/// workflow names it).
pub fn is_signing_key(secret: &str) -> bool {
    signing_key(secret).is_some()
}

/// The `webhook-signature` header of `body`: `v1,` and the base64 of
/// HMAC-SHA256 over `id.timestamp.body` with the secret's key.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = signing_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// What delivering needs: the outbox, the tenants' secrets (webhook keys),
/// the egress rules, and the signer of reviewers' links.
pub struct Outbox {
    pub store: Arc<Store>,
    pub secrets: Arc<Secrets>,
    pub egress: Arc<Rules>,
    pub links: Arc<LinkSigner>,
}

/// Delivers the outbox until the host stops; a change that may have queued
/// notifications wakes it early.
pub async fn deliver_loop(
    host: Outbox,
    queued: Arc<tokio::sync::Notify>,
    smtp: Option<SmtpSettings>,
) {
    let mailer = smtp.as_ref().and_then(|s| match mailer(s) {
        Ok(mailer) => Some(mailer),
        Err(e) => {
            tracing::error!("SMTP settings: {e}; emails will not be sent");
            None
        }
    });
    loop {
        let now = now_ms();
        let batch = if host.store.is_shared() {
            SHARED_BATCH
        } else {
            BATCH
        };
        let until = now + (CLAIM_EACH * batch as u32).as_millis() as i64;
        let due = host
            .store
            .transaction(move |tx| tx.claim_outbox(now, batch, until))
            .await
            .unwrap_or_default();
        for record in &due {
            let outcome = match &record.recipient {
                Recipient::Webhook { url, secret_name } => {
                    webhook(&host, record, url, secret_name).await
                }
                Recipient::Email { to, reviewer } => match (&mailer, &smtp) {
                    (Some(mailer), Some(smtp)) => {
                        email(&host, mailer, smtp, record, to, *reviewer).await
                    }
                    _ => Err("no SMTP server is configured".to_owned()),
                },
            };
            let attempts = record.attempts + 1;
            let now = now_ms();
            let (next, delivered, error) = match &outcome {
                Ok(()) => (None, Some(now), None),
                Err(e) if attempts >= MAX_ATTEMPTS => (None, None, Some(e.as_str())),
                Err(e) => (
                    Some(now + backoff(attempts).as_millis() as i64),
                    None,
                    Some(e.as_str()),
                ),
            };
            if let Err(e) = &outcome {
                tracing::warn!(id = %record.id, attempts, "notification not delivered: {e}");
            }
            let id = record.id.clone();
            let error = error.map(str::to_owned);
            let saved = host
                .store
                .transaction(move |tx| {
                    tx.outbox_attempted(&id, attempts, next, delivered, error.as_deref())
                })
                .await;
            if let Err(e) = saved {
                tracing::error!("cannot record a delivery: {e}");
            }
        }
        if due.len() == batch {
            continue;
        }
        let next = host
            .store
            .reading(|c| c.next_outbox_attempt())
            .ok()
            .flatten();
        let wait = next.map_or(5000, |at| (at - now_ms()).clamp(0, 5000)) as u64;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait)) => {}
            () = queued.notified() => {}
        }
    }
}

/// 1 s, 2 s, 4 s, ... at most an hour.
fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 12) as u32).min(Duration::from_secs(3600))
}

/// Longest wait for a webhook receiver: to connect, and then to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts a webhook, signed with the tenant's secret, if the egress policy
/// (as it is now, not as it was when the workflow was saved) allows its URL.
async fn webhook(
    host: &Outbox,
    record: &OutboxRecord,
    url: &str,
    name: &str,
) -> Result<(), String> {
    let secrets = host
        .secrets
        .values(&record.tenant)
        .map_err(|e| e.to_string())?;
    let secret = secrets
        .get(name)
        .ok_or_else(|| format!("the tenant has no secret named '{name}' to sign webhooks with"))?;
    let body = match &record.notification.data {
        // A plan's webhook carries the links a person follows to decide,
        // made for this webhook as the reviewer.
        NotificationData::Plan(plan) => {
            let mut body = serde_json::to_value(&record.notification).map_err(|e| e.to_string())?;
            let link = |decision| host.links.plan_link(&record.tenant, plan, url, decision);
            body["data"]["links"] = json!({
                "approve": link(PlanDecision::Approve),
                "reject": link(PlanDecision::Reject),
            });
            body.to_string()
        }
        NotificationData::Run(_) => {
            serde_json::to_string(&record.notification).map_err(|e| e.to_string())?
        }
    };
    let now = now_ms() / 1000;
    let signature = sign(secret, &record.id, now, &body)
        .ok_or_else(|| format!("secret '{name}' is not a whsec_ signing key"))?;
    let target = Target::parse("POST", url)?;
    let policy = host.egress.policy(&record.tenant, None);
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &record.id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| format!("POST {url}: {e}"))?;
    let timeouts = client::Timeouts {
        connect: WEBHOOK_TIMEOUT,
        first_byte: WEBHOOK_TIMEOUT,
    };
    let (response, _connection) = client::send(&policy, &target, request, timeouts)
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("POST {url}: {}", response.status()))
    }
}

fn mailer(smtp: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = |required: bool| {
        TlsParameters::new(smtp.host.clone())
            .map(|p| {
                if required {
                    Tls::Required(p)
                } else {
                    Tls::Wrapper(p)
                }
            })
            .map_err(|e| e.to_string())
    };
    let tls = match smtp.tls.as_str() {
        "none" => Tls::None,
        "starttls" => tls(true)?,
        "tls" => tls(false)?,
        other => return Err(format!("smtp.tls is none, starttls or tls, not '{other}'")),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials((user.clone(), password.clone()).into());
    }
    Ok(builder.build())
}

async fn email(
    host: &Outbox,
    mailer: &AsyncSmtpTransport<Tokio1Executor>,
    smtp: &SmtpSettings,
    record: &OutboxRecord,
    to: &str,
    reviewer: bool,
) -> Result<(), String> {
    let (subject, text) = match &record.notification.data {
        NotificationData::Run(notice) => run_email(
            host,
            record,
            &record.notification.kind,
            notice,
            to,
            reviewer,
        ),
        NotificationData::Plan(notice) => plan_email(host, record, notice, to),
    };
    let parse = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| format!("'{address}': {e}"))
    };
    let message = Message::builder()
        .from(parse(&smtp.from)?)
        .to(parse(to)?)
        .subject(subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| e.to_string())?;
    mailer
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}

/// The subject and text of an email about a run; a gate's reviewer gets
/// their approval link.
fn run_email(
    host: &Outbox,
    record: &OutboxRecord,
    kind: &str,
    data: &RunNotice,
    to: &str,
    reviewer: bool,
) -> (String, String) {
    let run = &data.run_id;
    let action = data.pending_action.as_ref();
    let (subject, mut text) = match action {
        Some(action) if kind == "run.paused" => (
            format!("Waiting for you: {}", action.message),
            format!(
                "Run {run} is paused at step '{}' and asks:\n\n  {}\n\nTo review:\n\n{}\n",
                action.step,
                action.message,
                serde_json::to_string_pretty(&action.data).unwrap_or_default(),
            ),
        ),
        _ => (
            format!("Run {run}: {}", kind.trim_start_matches("run.")),
            format!(
                "Run {run} is {}.\n\n{}\n",
                data.status,
                serde_json::to_string_pretty(
                    &json!({ "result": data.result, "error": data.error })
                )
                .unwrap_or_default()
            ),
        ),
    };
    let gate = action.and_then(|a| Some((a, a.gate.as_ref()?)));
    if reviewer
        && let Some((action, gate)) = gate
        && let Some((link, _)) =
            host.links
                .link_for(&record.tenant, run, &action.step, &gate.paused_at, to)
    {
        let options = action.options.join(" or ");
        text.push_str(&format!(
            "\nDecide ({options}) here; the link works once:\n\n  {link}\n"
        ));
    }
    (subject, text)
}

/// The subject and text of a plan's review: the goal, the steps, and the
/// reviewer's two links.
fn plan_email(
    host: &Outbox,
    record: &OutboxRecord,
    plan: &PlanNotice,
    to: &str,
) -> (String, String) {
    let link = |decision| host.links.plan_link(&record.tenant, plan, to, decision);
    let steps: String = plan
        .steps
        .iter()
        .map(|line| format!("  {line}\n"))
        .collect();
    let expires = crate::clock::timestamp(plan.links_expire * 1000);
    let text = format!(
        "A planner wrote this workflow for the goal:\n\n  {}\n\n\
         \"{}\", version {}, in {} step(s):\n\n{steps}\n\
         {}Approve it to activate the workflow:\n\n  {}\n\n\
         Reject it, with a note if you like:\n\n  {}\n\n\
         Each link shows the plan first and changes nothing until you press its \
         button. They work once, until {expires}.\n",
        plan.goal,
        plan.title,
        plan.version,
        plan.steps.len(),
        plan.schedule
            .as_ref()
            .map(|s| format!("Once approved, it runs on the schedule {s}.\n\n"))
            .unwrap_or_default(),
        link(PlanDecision::Approve),
        link(PlanDecision::Reject),
    );
    (format!("Plan to review: {}", plan.title), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "id", 1, "{}"), None);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
