//! Who on this host waits for which run, and for what: a change of a run
//! wakes only the waiters of that run whose test its new state passes, not
//! every waiter of every run (with 64 clients each following a run, a
//! broadcast woke 64 tasks at every commit). A waiter may ask for the run's
//! view as the change left it, when the one who changed it knows it, so that
//! it need not read the run again.
//!
//! A change may be told after a later one of the same run (its maker was
//! descheduled between its commit and telling it, while a decision
//! committed the next): each waiter keeps the last event it has seen, and a
//! change older than that neither wakes it nor replaces its view.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::RunView;
use crate::run::RunStatus;

/// What a waiter waits for: a run's status and the sequence number of its
/// last event that pass it.
pub type StateTest = Arc<dyn Fn(RunStatus, i64) -> bool + Send + Sync>;

struct Waiter {
    id: u64,
    test: StateTest,
    wake: Arc<Notify>,
    /// The view of the latest change that passed the test, for a waiter
    /// that wants it.
    view: Option<Arc<Mutex<Option<RunView>>>>,
    /// The last event of the newest state the waiter was told of or saw.
    seen: Arc<AtomicI64>,
}

/// The waiters of each run.
#[derive(Default)]
pub(super) struct Waiters {
    next: AtomicU64,
    by_run: Mutex<HashMap<String, Vec<Waiter>>>,
}

impl Waiters {
    /// Waits for run `run` to change to a state that passes `test`, from now
    /// until the returned [`Wait`] is dropped; with `wants_view`, the wait
    /// is handed the run's view when the change's maker has it.
    pub(super) fn add(self: &Arc<Self>, run: &str, test: StateTest, wants_view: bool) -> Wait {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let wake = Arc::new(Notify::new());
        let view = wants_view.then(Arc::default);
        let seen = Arc::new(AtomicI64::new(i64::MIN));
        if let Ok(mut by_run) = self.by_run.lock() {
            by_run.entry(run.to_owned()).or_default().push(Waiter {
                id,
                test,
                wake: Arc::clone(&wake),
                view: view.clone(),
                seen: Arc::clone(&seen),
            });
        }
        Wait {
            waiters: Arc::clone(self),
            run: run.to_owned(),
            id,
            wake,
            view,
            seen,
        }
    }

    /// Run `run` changed to `state` (`None`: to a state this host does not
    /// know, which every waiter of the run must read); `view` makes its view
    /// as the change left it, if the changer knows it (called at most once,
    /// and only for a waiter that wants it).
    pub(super) fn changed(
        &self,
        run: &str,
        state: Option<(RunStatus, i64)>,
        view: impl FnOnce() -> Option<RunView>,
    ) {
        // A change older than one the waiter knows of is not news to it.
        let passes = |waiter: &Waiter| {
            state.is_none_or(|(status, last_event)| {
                last_event >= waiter.seen.load(Ordering::Acquire)
                    && (waiter.test)(status, last_event)
            })
        };
        // The view is made outside the lock, which every commit takes.
        let wanted = state.is_some()
            && self.by_run.lock().is_ok_and(|by_run| {
                by_run
                    .get(run)
                    .into_iter()
                    .flatten()
                    .any(|w| w.view.is_some() && passes(w))
            });
        let mut made = if wanted { view() } else { None };
        let Ok(by_run) = self.by_run.lock() else {
            return;
        };
        let mut told = by_run
            .get(run)
            .into_iter()
            .flatten()
            .filter(|w| passes(w))
            .peekable();
        while let Some(waiter) = told.next() {
            if let Some((_, last_event)) = state {
                waiter.seen.fetch_max(last_event, Ordering::AcqRel);
            }
            if let Some(slot) = &waiter.view
                && let Ok(mut slot) = slot.lock()
            {
                // A change of unknown outcome leaves no view: read the run.
                // The last waiter told takes the view itself.
                *slot = match told.peek() {
                    Some(_) => made.clone(),
                    None => made.take(),
                };
            }
            waiter.wake.notify_one();
        }
    }
}

/// One waiter's registration; dropping it ends the wait.
pub struct Wait {
    waiters: Arc<Waiters>,
    run: String,
    id: u64,
    wake: Arc<Notify>,
    view: Option<Arc<Mutex<Option<RunView>>>>,
    seen: Arc<AtomicI64>,
}

impl Wait {
    /// Returns once the run changed to a state that passes the test (or to
    /// one this host does not know) since the wait began or since the last
    /// return.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// The run's view as the latest change that passed the test left it,
    /// if its maker knew it and it is not older than what the waiter saw
    /// since (else read the run).
    pub fn take_view(&self) -> Option<RunView> {
        let view = self.view.as_ref()?.lock().ok()?.take()?;
        (view.last_event >= self.seen.load(Ordering::Acquire)).then_some(view)
    }

    /// The waiter saw the run at last event `last_event` (read it): changes
    /// older than that are not news to it.
    pub fn saw(&self, last_event: i64) {
        self.seen.fetch_max(last_event, Ordering::AcqRel);
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
        let paused = waiters.add(
            "a",
            Arc::new(|status, _| status == RunStatus::Paused),
            false,
        );
        let any = waiters.add("a", Arc::new(|_, _| true), false);
        let other = waiters.add("b", Arc::new(|_, _| true), false);

        waiters.changed("a", Some((RunStatus::Running, 3)), || None);
        assert!(!woken(&paused).await);
        assert!(woken(&any).await);
        assert!(!woken(&other).await);

        // A change made before the waiter looks is kept for it.
        waiters.changed("a", Some((RunStatus::Paused, 4)), || None);
        assert!(woken(&paused).await);

        // A change this host does not know wakes every waiter of the run.
        waiters.changed("b", None, || None);
        assert!(woken(&other).await);
    }

    #[tokio::test]
    async fn the_view_is_made_once_and_only_for_waiters_that_want_it() {
        let made = AtomicU64::new(0);
        let make = || {
            made.fetch_add(1, Ordering::Relaxed);
            None
        };
        let waiters = Arc::new(Waiters::default());
        let _plain = waiters.add("a", Arc::new(|_, _| true), false);
        let _paused = waiters.add("a", Arc::new(|s, _| s == RunStatus::Paused), true);
        waiters.changed("a", Some((RunStatus::Running, 1)), make);
        assert_eq!(made.load(Ordering::Relaxed), 0);

        let _first = waiters.add("a", Arc::new(|_, _| true), true);
        let _second = waiters.add("a", Arc::new(|_, _| true), true);
        waiters.changed("a", Some((RunStatus::Running, 2)), make);
        assert_eq!(made.load(Ordering::Relaxed), 1);

        // A change of unknown outcome has no view to make.
        waiters.changed("a", None, make);
        assert_eq!(made.load(Ordering::Relaxed), 1);
    }

    fn view(last_event: i64) -> Option<RunView> {
        let mut run = crate::run::RunRecord::fixture("a", "t", RunStatus::Paused);
        run.last_seq = last_event;
        Some(RunView::new(&run, &[], None))
    }

    #[tokio::test]
    async fn a_change_told_after_a_later_one_is_not_news() {
        let waiters = Arc::new(Waiters::default());
        let paused: StateTest = Arc::new(|status, _| status == RunStatus::Paused);

        // Told newest first: the older change neither wakes the waiter
        // again nor takes the newer view's place.
        let wait = waiters.add("a", Arc::clone(&paused), true);
        waiters.changed("a", Some((RunStatus::Paused, 9)), || view(9));
        waiters.changed("a", Some((RunStatus::Paused, 7)), || view(7));
        assert!(woken(&wait).await);
        assert_eq!(wait.take_view().map(|v| v.last_event), Some(9));
        assert!(!woken(&wait).await);

        // A waiter that read the run at event 8 is not woken by event 7,
        // and a view older than what it read is not handed to it.
        let read = waiters.add("a", Arc::clone(&paused), true);
        read.saw(8);
        waiters.changed("a", Some((RunStatus::Paused, 7)), || view(7));
        assert!(!woken(&read).await);
        let early = waiters.add("a", paused, true);
        waiters.changed("a", Some((RunStatus::Paused, 7)), || view(7));
        early.saw(8);
        assert!(woken(&early).await);
        assert!(early.take_view().is_none());
    }

    #[tokio::test]
    async fn a_dropped_wait_leaves_nothing_behind() {
        let waiters = Arc::new(Waiters::default());
        let first = waiters.add("a", Arc::new(|_, _| true), false);
        let second = waiters.add("a", Arc::new(|_, _| true), false);
        drop(first);
        waiters.changed("a", Some((RunStatus::Running, 1)), || None);
        assert!(woken(&second).await);
        drop(second);
        assert!(waiters.by_run.lock().expect("the lock").is_empty());
    }
}
