//! Sharing a database's runs with other hosts (see `store/hosts.rs`): this
//! host's lease, taking the runs of hosts that are gone, and what the other
//! hosts' hints ask of this one. SQLite's hosts (a server, a local `cairn
//! run` beside it) keep leases too, but hear no hints.

use super::*;
use crate::store::Hint;

/// How often a waiter on a shared database looks at the run again, in case
/// the hint of another host's change was lost.
pub(super) const LOOK_AGAIN: Duration = Duration::from_secs(1);

/// Most runs taken in one transaction.
const TAKE_AT_ONCE: usize = 500;

impl Inner {
    /// Takes the runs no live host drives (with `unowned`, also those with
    /// no owner at all) and drives them. Returns how many it took.
    pub(super) async fn take_orphans(self: &Arc<Self>, unowned: bool) -> Result<usize, RunError> {
        let mut taken = 0;
        loop {
            let runs = self
                .store
                .take_orphans(now_ms(), TAKE_AT_ONCE, unowned)
                .await?;
            taken += runs.len();
            let more = runs.len() == TAKE_AT_ONCE;
            for run_id in runs {
                tracing::debug!(run = %run_id, "taking a run whose host is gone");
                driver::drive_run(self, run_id);
            }
            if !more {
                return Ok(taken);
            }
        }
    }

    /// Renews this host's lease while the runner runs, takes the runs of
    /// hosts whose lease ran out, and drives this host's runs that changed
    /// elsewhere without a hint arriving (hints may be lost).
    pub(super) async fn lease_loop(self: Arc<Self>, lease: Duration, name: String) {
        let tick = (lease / 4).max(Duration::from_millis(50));
        let lease_ms = lease.as_millis().min(i64::MAX as u128) as i64;
        let mut since = now_ms();
        loop {
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                () = self.shutdown.cancelled() => return,
            }
            let now = now_ms();
            let look_from = since.saturating_sub(tick.as_millis() as i64);
            let until = now.saturating_add(lease_ms);
            let renewal = match self.store.renew(&name, now, until, look_from).await {
                Ok(renewal) => renewal,
                Err(e) => {
                    tracing::warn!("cannot renew this host's lease: {e}");
                    continue;
                }
            };
            since = now;
            if !renewal.held {
                tracing::warn!(
                    "this host's lease had run out: other hosts may have taken some of its runs, \
                     whose drivers here stop at their next write"
                );
            }
            if renewal.orphans
                && let Err(e) = self.take_orphans(false).await
            {
                tracing::warn!("cannot take the runs of hosts that are gone: {e}");
            }
            for run_id in renewal.changed {
                if self.driver(&run_id).is_none() {
                    driver::drive_run(&self, run_id);
                }
            }
        }
    }

    /// Passes what other hosts say to this one's runs: a change wakes the
    /// run's waiters and pokes its driver here; a request to drive a run
    /// this host owns drives it.
    pub(super) fn listen(self: &Arc<Self>) {
        let Some(mut hints) = self.store.hints() else {
            return;
        };
        let inner = Arc::clone(self);
        self.runtime.spawn(async move {
            loop {
                let hint = tokio::select! {
                    hint = hints.recv() => match hint {
                        Ok(hint) => hint,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Hint::Missed,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                    () = inner.shutdown.cancelled() => return,
                };
                match hint {
                    Hint::Changed(runs) => {
                        for run_id in runs {
                            inner.poke(&run_id);
                            inner.tell(Change::of(run_id));
                        }
                    }
                    // Never passed on: a host that does not drive the run
                    // leaves it to its owner, or to whoever takes it.
                    Hint::Drive(run_id) => {
                        inner.wake_here(&run_id);
                    }
                    // Hints may be lost: the lease loop and the waiters
                    // look for themselves too. Plugins are the host's.
                    Hint::Missed | Hint::Plugins => {}
                }
            }
        });
    }

    /// Pokes run `run_id`'s driver here, if it has one. Returns whether it had.
    fn poke(&self, run_id: &str) -> bool {
        match self.driver(run_id) {
            Some(handle) => {
                handle.poke.poke();
                true
            }
            None => false,
        }
    }

    /// Gets run `run_id` moving, wherever it is driven: here if it can
    /// ([`Inner::wake_here`]), else by asking its owner.
    pub(super) fn wake(self: &Arc<Self>, run_id: &str) {
        if !self.wake_here(run_id) {
            self.hint_drive(run_id);
        }
    }

    /// Pokes run `run_id`'s driver here, or drives the run here if this host
    /// owns it and it is unfinished and unpaused. Returns false when another
    /// host drives it.
    fn wake_here(self: &Arc<Self>, run_id: &str) -> bool {
        if self.poke(run_id) {
            return true;
        }
        match self.store.run_owner(run_id) {
            Ok((_, status)) if !matches!(status, RunStatus::Pending | RunStatus::Running) => true,
            Ok((Some(owner), _)) if owner == self.store.host() => {
                driver::drive_run(self, run_id.to_owned());
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::debug!(run = %run_id, "cannot wake the run: {e}");
                true
            }
        }
    }

    /// Asks the host that drives run `run_id` to look at it again.
    pub(super) fn hint_drive(&self, run_id: &str) {
        if let Err(e) = self.store.hint_drive(run_id) {
            tracing::debug!(run = %run_id, "cannot ask the run's host to drive it: {e}");
        }
    }
}
