//! The cluster seam: hosts that share one database (PostgreSQL) and the
//! leases by which they share its runs. Each host joins with a lease it
//! renews; a run being driven names its host (`runs.owner`), and only that
//! host's driver may write it (`Fence::Driver`); a host takes the runs of
//! hosts whose lease ran out. Hints (PostgreSQL's `NOTIFY`) tell the other
//! hosts at once which runs changed, or that a run wants driving; they may
//! be lost, so the runner also looks for itself, on a timer.
//!
//! On SQLite the processes sharing a file (a server, a local `cairn run`)
//! are on one machine: a starting host ends the lease of hosts whose process
//! is gone, so a restart after a crash takes their runs at once. There are
//! no hints: the lease loop looks for changes on its timer.

use super::records::*;
use super::{Backend, Store, StoreError};
use crate::run::RunStatus;

/// What a host learns as it renews its lease ([`Store::renew`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Renewal {
    /// The lease still held when renewed.
    pub held: bool,
    /// Some other host's lease ran out: there may be runs to take.
    pub orphans: bool,
    /// This host's unfinished, unpaused runs that changed since then.
    pub changed: Vec<String>,
}

/// What a host hears from the others.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// These runs changed.
    Changed(Vec<String>),
    /// This run should be driven by its owner (a decision came in elsewhere).
    Drive(String),
    /// A tenant uploaded or deleted a plugin.
    Plugins,
    /// The listener reconnected, or this host fell behind: hints may have
    /// been lost meanwhile.
    Missed,
}

impl Store {
    /// Joins as host `id` (called `name` for operators), with a lease until
    /// `until`. On SQLite, whose processes share one machine, the lease of a
    /// host whose process is gone ends now, so that its runs are taken at
    /// once rather than when its lease runs out.
    pub async fn join(&self, id: &str, name: &str, now: i64, until: i64) -> Result<(), StoreError> {
        let _ = self.host.set(id.to_owned());
        let one_machine = match &self.backend {
            Backend::Sqlite { .. } => true,
            Backend::Postgres { server, .. } => {
                server.set_host(id);
                false
            }
        };
        let (id, name) = (id.to_owned(), name.to_owned());
        self.write(move |tx| {
            renew_host(tx, &id, &name, std::process::id(), now, until)?;
            if one_machine {
                expire_ended_hosts(tx, &id, process_runs)?;
            }
            Ok(())
        })
        .await
    }

    /// The host this process drives runs as (empty before it joined).
    pub fn host(&self) -> &str {
        self.host.get().map_or("", String::as_str)
    }

    /// Whether other processes may share this database.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. })
    }

    /// Renews this host's lease until `until`, and looks around, in one
    /// transaction: whether the lease still held at `now` (false: it ran
    /// out, and other hosts may have taken runs), whether some host's lease
    /// ran out (whose runs to take), and which of this host's unfinished,
    /// unpaused runs changed since `since` (someone else may have moved
    /// them).
    pub async fn renew(
        &self,
        name: &str,
        now: i64,
        until: i64,
        since: i64,
    ) -> Result<Renewal, StoreError> {
        let (id, name) = (self.host().to_owned(), name.to_owned());
        self.write(move |tx| {
            Ok(Renewal {
                held: renew_host(tx, &id, &name, std::process::id(), now, until)?,
                orphans: gone_hosts(tx, now)?.iter().any(|host| *host != id),
                changed: runs_changed_since(tx, &id, since)?,
            })
        })
        .await
    }

    /// Ends this host's lease at once: it is stopping, and its runs are free
    /// to take.
    pub async fn leave(&self) -> Result<(), StoreError> {
        let id = self.host().to_owned();
        self.write(move |tx| expire_host(tx, &id)).await
    }

    /// Takes up to `limit` runs that no live host drives: those of hosts
    /// whose lease ran out before `now` (forgetting a host once none is left
    /// to it), and with `unowned`, those that have no owner at all (runs of
    /// a database from before hosts had leases). Returns their ids.
    pub async fn take_orphans(
        &self,
        now: i64,
        limit: usize,
        unowned: bool,
    ) -> Result<Vec<String>, StoreError> {
        let me = self.host().to_owned();
        let gone = self.read(|c| gone_hosts(c, now))?;
        if gone.is_empty() && !unowned {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let mut taken = Vec::new();
            if unowned {
                taken = take_runs(tx, &me, None, limit)?;
            }
            for host in gone.iter().filter(|h| **h != me) {
                let room = limit - taken.len();
                if room == 0 {
                    break;
                }
                let got = take_runs(tx, &me, Some(host), room)?;
                let all = got.len() < room;
                taken.extend(got);
                if all {
                    bury_host(tx, host)?;
                }
            }
            Ok(taken)
        })
        .await
    }

    /// Who drives run `id` (none: nobody), and how it stands.
    pub fn run_owner(&self, id: &str) -> Result<(Option<String>, RunStatus), StoreError> {
        self.read(|c| run_owner(c, id))
    }

    /// Asks the host that owns run `id` to drive it (a hint; nothing on SQLite).
    pub fn hint_drive(&self, id: &str) -> Result<(), StoreError> {
        self.hint(&format!("d {} {id}", self.host()))
    }

    /// Tells the other hosts that a tenant's plugins changed.
    pub fn hint_plugins(&self) -> Result<(), StoreError> {
        self.hint(&format!("p {} -", self.host()))
    }

    fn hint(&self, payload: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(()),
            Backend::Postgres { .. } => self.read(|db| db.hint(payload)),
        }
    }

    /// What the other hosts say, from now on (none on SQLite). Call it once
    /// this host joined: its own hints are left out.
    pub fn hints(&self) -> Option<tokio::sync::broadcast::Receiver<Hint>> {
        let Backend::Postgres { server, .. } = &self.backend else {
            return None;
        };
        let sender = self.hints.get_or_init(|| {
            let (sender, _) = tokio::sync::broadcast::channel(4096);
            let (me, out) = (self.host().to_owned(), sender.clone());
            server.listen(move |payload| {
                let hint = match payload {
                    None => Some(Hint::Missed),
                    Some(payload) => parse_hint(payload, &me),
                };
                if let Some(hint) = hint {
                    let _ = out.send(hint);
                }
            });
            sender
        });
        Some(sender.subscribe())
    }
}

/// Whether process `pid` of this machine runs a host other than this one: a
/// host of this very process on the same file was stopped or dropped (a
/// restart in one process, as tests do).
fn process_runs(pid: i64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if u32::try_from(pid).is_ok_and(|pid| pid == std::process::id()) {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether `pid` exists.
    let asked = unsafe { libc::kill(pid, 0) };
    asked == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A hint's payload (`c <host> <run>,<run>...`, `d <host> <run>` or
/// `p <host> -`), unless it is this host's own.
fn parse_hint(payload: &str, me: &str) -> Option<Hint> {
    let mut parts = payload.splitn(3, ' ');
    let (kind, from, runs) = (parts.next()?, parts.next()?, parts.next()?);
    if from == me {
        return None;
    }
    match kind {
        "c" => Some(Hint::Changed(runs.split(',').map(str::to_owned).collect())),
        "d" => Some(Hint::Drive(runs.to_owned())),
        "p" => Some(Hint::Plugins),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_read_and_a_hosts_own_are_not() {
        assert_eq!(
            parse_hint("c h1 r1,r2", "h2"),
            Some(Hint::Changed(vec!["r1".into(), "r2".into()]))
        );
        assert_eq!(parse_hint("d h1 r1", "h2"), Some(Hint::Drive("r1".into())));
        assert_eq!(parse_hint("p h1 -", "h2"), Some(Hint::Plugins));
        assert_eq!(parse_hint("c h2 r1", "h2"), None);
        assert_eq!(parse_hint("x h1 r1", "h2"), None);
        assert_eq!(parse_hint("garbage", "h2"), None);
    }
}
