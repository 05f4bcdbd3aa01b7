//! Who on this host waits for which run, and for what: a change of a run
//! wakes only the waiters of that run whose test its new state passes, not
//! every waiter of every run (with 64 clients each following a run, a
//! broadcast woke 64 tasks at every commit).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::run::RunStatus;

/// What a waiter waits for: a run's status and the sequence number of its
/// last event that pass it.
pub type StateTest = Arc<dyn Fn(RunStatus, i64) -> bool + Send + Sync>;

struct Waiter {
    id: u64,
    test: StateTest,
    wake: Arc<Notify>,
}

/// The waiters of each run.
#[derive(Default)]
pub(super) struct Waiters {
    next: AtomicU64,
    by_run: Mutex<HashMap<String, Vec<Waiter>>>,
}

impl Waiters {
    /// Waits for run `run` to change to a state that passes `test`, from now
    /// until the returned [`Wait`] is dropped.
    pub(super) fn add(self: &Arc<Self>, run: &str, test: StateTest) -> Wait {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        if let Ok(mut by_run) = self.by_run.lock() {
            by_run.entry(run.to_owned()).or_default().push(Waiter {
                id,
                test,
                wake: Arc::clone(&wake),
            });
        }
        Wait {
            waiters: Arc::clone(self),
            run: run.to_owned(),
            id,
            wake,
        }
    }

    /// Run `run` changed to `state` (`None`: to a state this host does not
    /// know, which every waiter of the run must read).
    pub(super) fn changed(&self, run: &str, state: Option<(RunStatus, i64)>) {
        let Ok(by_run) = self.by_run.lock() else {
            return;
        };
        for waiter in by_run.get(run).into_iter().flatten() {
            if state.is_none_or(|(status, last_event)| (waiter.test)(status, last_event)) {
                waiter.wake.notify_one();
            }
        }
    }
}

/// One waiter's registration; dropping it ends the wait.
pub struct Wait {
    waiters: Arc<Waiters>,
    run: String,
    id: u64,
    wake: Arc<Notify>,
}

impl Wait {
    /// Returns once the run changed to a state that passes the test (or to
    /// one this host does not know) since the wait began or since the last
    /// return.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let Ok(mut by_run) = self.waiters.by_run.lock() else {
            return;
        };
        if let Some(waiters) = by_run.get_mut(&self.run) {
            waiters.retain(|w| w.id != self.id);
            if waiters.is_empty() {
                by_run.remove(&self.run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(wait: &Wait) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wait.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_change_wakes_only_the_waiters_of_its_run_whose_test_it_passes() {
        let waiters = Arc::new(Waiters::default());
        let paused = waiters.add("a", Arc::new(|status, _| status == RunStatus::Paused));
        let any = waiters.add("a", Arc::new(|_, _| true));
        let other = waiters.add("b", Arc::new(|_, _| true));

        waiters.changed("a", Some((RunStatus::Running, 3)));
        assert!(!woken(&paused).await);
        assert!(woken(&any).await);
        assert!(!woken(&other).await);

        // A change made before the waiter looks is kept for it.
        waiters.changed("a", Some((RunStatus::Paused, 4)));
        assert!(woken(&paused).await);

        // A change this host does not know wakes every waiter of the run.
        waiters.changed("b", None);
        assert!(woken(&other).await);
    }

    #[tokio::test]
    async fn a_dropped_wait_leaves_nothing_behind() {
        let waiters = Arc::new(Waiters::default());
        let first = waiters.add("a", Arc::new(|_, _| true));
        let second = waiters.add("a", Arc::new(|_, _| true));
        drop(first);
        waiters.changed("a", Some((RunStatus::Running, 1)));
        assert!(woken(&second).await);
        drop(second);
        assert!(waiters.by_run.lock().expect("the lock").is_empty());
    }
}
