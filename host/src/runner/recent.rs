//! The runs this host's drivers left paused most recently, as they left
//! them (the run and its steps), so that a decision that soon follows need
//! not read every step again: it reads the run's row, and takes the steps
//! from here when the row is the one the driver left (see
//! `Store::transact`), and a wait that finds the run paused need not read it
//! either. Like a worker's cache of workflow state in Temporal:
//! an entry is only ever a copy of what is committed, checked before use,
//! and a few dozen at most are kept. A decision takes its run's entry, and
//! one that commits nothing (refused) puts it back; `/metrics` counts the
//! committed ones by whether they found it (`cairn_run_changes_total`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::run::{RunRecord, RunSteps};

/// Paused runs kept at most. Few: a kept run's small allocations, made
/// while many requests' come and go, each hold a page of the allocator's
/// that would otherwise go back to the system; with 256 kept, a server
/// that had paused 100,000 runs kept 6-9 MiB more heap than with none, far
/// more than the entries' own size (`bench peers`, 100,000 paused).
const KEPT: usize = 64;

/// Runs of more steps than this are not kept (a copy would cost more than
/// the read it saves).
const MOST_STEPS: usize = 1_000;

#[derive(Default)]
pub(super) struct Recent {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// Each run with the stamp of when it was kept.
    runs: HashMap<String, (u64, RunRecord, RunSteps)>,
    /// Who was kept when, oldest first (an entry taken since, or kept again
    /// later, has another stamp or none).
    order: VecDeque<(String, u64)>,
    next: u64,
}

impl Recent {
    /// Keeps `run` and its `steps` as a driver left them, paused.
    pub(super) fn keep(&self, run: RunRecord, steps: RunSteps) {
        if steps.len() > MOST_STEPS {
            return;
        }
        let Ok(mut kept) = self.inner.lock() else {
            return;
        };
        let stamp = kept.next;
        kept.next += 1;
        kept.order.push_back((run.id.clone(), stamp));
        kept.runs.insert(run.id.clone(), (stamp, run, steps));
        while kept.runs.len() > KEPT || kept.order.len() > 2 * KEPT {
            let Some((id, stamp)) = kept.order.pop_front() else {
                break;
            };
            if kept.runs.get(&id).is_some_and(|(s, ..)| *s == stamp) {
                kept.runs.remove(&id);
            }
        }
    }

    /// Looks at run `id` as a driver left it, if it is kept as it is now:
    /// at sequence number `last_seq`, which every change of a run moves on.
    /// The run stays kept, for a decision.
    pub(super) fn look<R>(
        &self,
        id: &str,
        last_seq: i64,
        look: impl FnOnce(&RunRecord, &RunSteps) -> R,
    ) -> Option<R> {
        let kept = self.inner.lock().ok()?;
        let (_, run, steps) = kept
            .runs
            .get(id)
            .filter(|(_, run, _)| run.last_seq == last_seq)?;
        Some(look(run, steps))
    }

    /// Takes run `id` as a driver left it, if it is kept.
    pub(super) fn take(&self, id: &str) -> Option<(RunRecord, RunSteps)> {
        let mut kept = self.inner.lock().ok()?;
        kept.runs.remove(id).map(|(_, run, steps)| (run, steps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> RunRecord {
        RunRecord::fixture(id, "t", crate::run::RunStatus::Paused)
    }

    #[test]
    fn the_latest_are_kept_and_each_is_taken_once() {
        let recent = Recent::default();
        for i in 0..KEPT + 10 {
            recent.keep(run(&format!("r{i}")), RunSteps::default());
        }
        // The oldest went; kept again, a run is the newest.
        assert!(recent.take("r0").is_none());
        assert!(recent.take("r9").is_none());
        recent.keep(run("r10"), RunSteps::default());
        for i in 11..KEPT + 10 {
            recent.keep(run(&format!("s{i}")), RunSteps::default());
        }
        assert!(recent.take("r10").is_some());
        assert!(recent.take("r10").is_none());
        assert!(recent.take(&format!("s{}", KEPT + 9)).is_some());
        assert!(recent.inner.lock().expect("lock").runs.len() <= KEPT);
    }

    #[test]
    fn a_kept_run_is_looked_at_only_as_it_is_now_and_stays_kept() {
        let recent = Recent::default();
        let mut paused = run("r");
        paused.last_seq = 7;
        recent.keep(paused, RunSteps::default());
        assert_eq!(recent.look("r", 6, |run, _| run.last_seq), None);
        assert_eq!(recent.look("r", 8, |run, _| run.last_seq), None);
        assert_eq!(recent.look("other", 7, |run, _| run.last_seq), None);
        assert_eq!(recent.look("r", 7, |run, _| run.last_seq), Some(7));
        assert!(recent.take("r").is_some());
        assert_eq!(recent.look("r", 7, |run, _| run.last_seq), None);
    }
}
