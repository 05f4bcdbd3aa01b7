//! The store's side of the run seam: committing a run's transition, and the
//! typed reads of runs that the runner (and through it the API) makes. The
//! runner moves runs through these methods only, never through SQL or a
//! connection, so a second backend implements these and nothing above them
//! changes.

use serde_json::Value;

use super::records::*;
use super::sql::Db;
use super::{Store, StoreError};
use crate::run::{EventRecord, RunRecord, RunStatus, RunSteps, StepRecord, Transition};

/// A run with its steps.
pub type RunWithSteps = (RunRecord, Vec<StepRecord>);

/// What [`Store::transact`] committed: the transition, the run's steps as
/// it left them (read in the same transaction), whether this host drives
/// the run now, whether it queued notifications, and what the follow-up
/// transition (if one was committed with it) handed back.
pub struct Transacted<S> {
    pub transition: Transition,
    pub steps: RunSteps,
    pub ours: bool,
    pub queued: bool,
    pub followed: Option<S>,
    /// Whether the steps were the ones known (`Target::known`), not read.
    pub kept: bool,
}

/// A run and its steps as this host knew them last, handed to
/// [`Store::transact`] and left in place when it commits nothing.
pub type Known = std::sync::Arc<std::sync::Mutex<Option<(RunRecord, RunSteps)>>>;

/// The run a [`Store::transact`] decides on.
pub struct Target {
    /// With a tenant, only that tenant's run.
    pub tenant: Option<String>,
    pub id: String,
    /// The token of the approval link the decision comes through, marked
    /// used in the same transaction.
    pub link: Option<String>,
    /// The run and its steps as this host knew them last (its driver left
    /// it paused): the steps are not read again if the run's row is still
    /// the one known. Taken if they are; put back if nothing is committed
    /// (a refused decision leaves the run as it was).
    pub known: Known,
}

impl Store {
    /// Commits its driver's `transition` of a run with the outbox rows its
    /// events call for, refused with [`StoreError::Moved`] if the run moved
    /// since the transition was computed, and with [`StoreError::Lost`] if
    /// another host drives the run now. Returns the committed transition.
    pub async fn commit(
        &self,
        transition: Transition,
        outbox: Vec<OutboxRecord>,
    ) -> Result<Transition, StoreError> {
        if outbox.is_empty() {
            return self.commit_alone(transition).await;
        }
        let host = self.host().to_owned();
        self.write(move |tx| {
            commit_in(tx, &transition, &outbox, Fence::Driver { host: &host })?;
            Ok(transition)
        })
        .await
    }

    /// Reads the run `target.id` (with `target.tenant`, only that tenant's)
    /// and its steps, asks `decide` for a transition (none: nothing to do),
    /// and commits it with the outbox rows `outbox` derives from it (and the
    /// approval link `target.link` marked used), all in one write
    /// transaction, so nobody can move the run in between. Returns what it
    /// committed: the transition, the steps as it left them, and whether
    /// this host drives the run now (a live owner keeps it; else this host
    /// takes it).
    ///
    /// When this host drives the run now, `follow` (if given) is asked, with
    /// the transition and the steps as it left them, for what the run's
    /// driver does next (a step's start); that is committed in the same
    /// transaction, as the driver, so the two cost one commit. What `follow`
    /// hands back with it comes back in [`Transacted::followed`].
    pub async fn transact<S: Send + 'static>(
        &self,
        target: Target,
        decide: impl FnOnce(&RunRecord, &RunSteps) -> Result<Option<Transition>, StoreError>
        + Send
        + 'static,
        follow: Option<
            impl FnOnce(&Transition, &RunSteps) -> Option<(Transition, S)> + Send + 'static,
        >,
        outbox: impl Fn(&Transition) -> Vec<OutboxRecord> + Send + 'static,
    ) -> Result<Option<Transacted<S>>, StoreError> {
        let host = self.host().to_owned();
        let following = follow.is_some();
        self.write(move |tx| {
            let Target {
                tenant,
                id,
                link,
                known,
            } = target;
            // The run as known, when its row's sequence number says it has
            // not changed since (every change of a run moves it on): then
            // neither the row nor the steps are read again.
            let (run, mut steps, kept) = match known.lock().ok().and_then(|mut slot| slot.take()) {
                Some((run, steps))
                    if get_run_state(tx, tenant.as_deref(), &id)? == (run.status, run.last_seq) =>
                {
                    (run, steps, true)
                }
                _ => (
                    get_run(tx, tenant.as_deref(), &id)?,
                    RunSteps::new(get_steps(tx, &id)?),
                    false,
                ),
            };
            let decided = decide(&run, &steps).and_then(|transition| match (transition, &link) {
                (Some(t), Some(token))
                    if !use_approval_token(tx, token, &t.run.id, t.run.updated_at)? =>
                {
                    Err(StoreError::Conflict(
                        "this approval link was used already".to_owned(),
                    ))
                }
                (transition, _) => Ok(transition),
            });
            let mut transition = match decided {
                Ok(Some(transition)) => transition,
                refused => {
                    if let (true, Ok(mut slot)) = (kept, known.lock()) {
                        *slot = Some((run, steps));
                    }
                    return refused.map(|_| None);
                }
            };
            let fence = Fence::Anyone {
                host: &host,
                now: transition.run.updated_at,
            };
            let rows = outbox(&transition);
            let owner = commit_in(tx, &transition, &rows, fence)?;
            let ours = owner.as_deref() == Some(host.as_str());
            let mut queued = !rows.is_empty();
            let mut followed = None;
            if let Some(follow) = follow.filter(|_| ours) {
                transition.apply_to(&mut steps);
                if let Some((next, handed)) = follow(&transition, &steps) {
                    let rows = outbox(&next);
                    commit_in(tx, &next, &rows, Fence::Driver { host: &host })?;
                    next.apply_to(&mut steps);
                    transition = transition.then(next);
                    queued |= !rows.is_empty();
                    followed = Some(handed);
                }
            }
            Ok(Some(Transacted {
                transition,
                steps,
                ours,
                queued,
                followed,
                kept,
            }))
        })
        .await
        .map(|committed| {
            // Off the writer, unless done there for `follow`: the steps as
            // the transition left them.
            committed.map(|mut c| {
                if !(following && c.ours) {
                    c.transition.apply_to(&mut c.steps);
                }
                c
            })
        })
    }

    /// The run `id`'s row, without its steps; with `tenant`, only that
    /// tenant's run.
    pub fn run(&self, tenant: Option<&str>, id: &str) -> Result<RunRecord, StoreError> {
        self.read(|c| get_run(c, tenant, id))
    }

    /// How run `id` stands, reading its status alone.
    pub fn run_status(&self, tenant: Option<&str>, id: &str) -> Result<RunStatus, StoreError> {
        Ok(self.run_state(tenant, id)?.0)
    }

    /// How run `id` stands and the sequence number of its last event,
    /// reading its row alone.
    pub fn run_state(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<(RunStatus, i64), StoreError> {
        self.read(|c| get_run_state(c, tenant, id))
    }

    /// The run `id` and its steps; with `tenant`, only that tenant's run.
    pub fn run_with_steps(
        &self,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<RunWithSteps, StoreError> {
        self.read(|c| c.snapshot(|c| get_run_with_steps(c, tenant, id)))
    }

    /// The run's events after sequence number `after`.
    pub fn events(
        &self,
        tenant: Option<&str>,
        id: &str,
        after: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.read(|c| {
            get_run(c, tenant, id)?;
            get_events(c, id, after)
        })
    }

    /// A tenant's runs with their steps, newest first; `before` is the last
    /// id of the previous page.
    pub fn runs(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        status: Option<RunStatus>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunWithSteps>, StoreError> {
        self.read(|c| {
            let runs = list_runs(c, tenant, workflow_id, status, before, limit)?;
            with_steps(c, runs)
        })
    }

    /// A tenant's paused runs with their steps, the longest waiting first.
    pub fn paused(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        reviewer: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunWithSteps>, StoreError> {
        self.read(|c| {
            let runs = paused_runs(c, tenant, workflow_id, reviewer, limit)?;
            with_steps(c, runs)
        })
    }

    /// Unfinished child runs whose parent run has ended: a cancel that the
    /// parent's end asked for and a crash cut short.
    pub fn orphaned_children(&self) -> Result<Vec<String>, StoreError> {
        self.read(orphaned_children)
    }

    /// How many runs are in each status (a trigger-kept count: no scan).
    pub fn run_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(count_runs_by_status)
    }

    /// Paused runs whose deadline is at or before `now`, and the next
    /// deadline of any paused run.
    pub fn pause_deadlines(&self, now: i64) -> Result<(Vec<String>, Option<i64>), StoreError> {
        self.read(|c| Ok((expired_pauses(c, now)?, next_pause_deadline(c)?)))
    }

    /// Whether the approval link whose token has this id was used.
    pub fn approval_link_used(&self, token_id: &str) -> Result<bool, StoreError> {
        self.read(|c| approval_token_used(c, token_id))
    }

    /// Deletes up to `limit` runs that finished before `before` (Unix ms),
    /// oldest first, in one short transaction: how many it found, and how
    /// many it deleted (a run that changed in between is kept).
    pub async fn delete_finished_runs(
        &self,
        before: i64,
        limit: usize,
    ) -> Result<(usize, usize), StoreError> {
        let ids = self.read(|c| finished_runs_before(c, before, limit))?;
        let found = ids.len();
        let deleted = self
            .write(move |tx| {
                let mut count = 0;
                for id in &ids {
                    count += usize::from(delete_finished_run(tx, id)?);
                }
                Ok(count)
            })
            .await?;
        Ok((found, deleted))
    }

    /// Deletes plan reviews past retention that were delivered or given up.
    pub async fn delete_settled_plan_notices(&self, before: i64) -> Result<usize, StoreError> {
        self.write(move |tx| delete_settled_plan_notices(tx, before))
            .await
    }

    /// A workflow version's definition, as stored.
    pub fn definition(&self, workflow_id: &str, version: i64) -> Result<Value, StoreError> {
        self.read(|c| get_definition(c, workflow_id, version))
    }
}

fn with_steps(conn: &Db<'_>, runs: Vec<RunRecord>) -> Result<Vec<RunWithSteps>, StoreError> {
    runs.into_iter()
        .map(|run| {
            let steps = get_steps(conn, &run.id)?;
            Ok((run, steps))
        })
        .collect()
}
