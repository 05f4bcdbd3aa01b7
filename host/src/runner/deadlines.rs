//! Time: paused runs whose deadline passed (a gate's timeout, a pause's
//! lifetime), and the retention sweep of finished runs.

use super::*;

/// Finished runs deleted in one transaction by the retention sweep.
const RETENTION_BATCH: usize = 100;
/// The longest wait, in ms, between two looks for paused runs whose deadline
/// passed.
const DEADLINES_LOOK_AGAIN: u64 = 5000;
/// The longest pause between two retention sweeps.
const RETENTION_PAUSE: Duration = Duration::from_secs(60);

impl Inner {
    /// Applies timeouts to paused runs whose deadline passed.
    pub(super) async fn deadline_loop(self: Arc<Self>) {
        loop {
            let now = now_ms();
            let next = match self.store.pause_deadlines(now) {
                Ok((expired, next)) => {
                    for run_id in expired {
                        if let Err(e) = self.expire(&run_id).await {
                            tracing::debug!(run = %run_id, "timeout not applied: {e}");
                        }
                    }
                    next
                }
                Err(e) => {
                    tracing::error!("cannot look for expired pauses: {e}");
                    None
                }
            };
            // A pause committed here wakes the loop; one committed by another
            // host sharing the database is found at the next look.
            let wait = next.map_or(DEADLINES_LOOK_AGAIN, |at| {
                ((at - now_ms()).max(10) as u64).min(DEADLINES_LOOK_AGAIN)
            });
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = self.deadlines_changed.notified() => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    /// Deletes runs that finished more than `retention` ago, in small
    /// transactions so that the writer is never held for long; then waits a
    /// while and looks again.
    pub(super) async fn retention_loop(self: Arc<Self>, retention: Duration) {
        loop {
            let before = now_ms() - retention.as_millis().min(i64::MAX as u128) as i64;
            let mut deleted = 0;
            loop {
                let (found, count) = match self
                    .store
                    .delete_finished_runs(before, RETENTION_BATCH)
                    .await
                {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!("cannot delete runs past their retention: {e}");
                        break;
                    }
                };
                deleted += count;
                let full = found == RETENTION_BATCH;
                if !full || self.shutdown.is_cancelled() {
                    break;
                }
                // Let other writers in between batches.
                tokio::task::yield_now().await;
            }
            if deleted > 0 {
                tracing::info!(runs = deleted, "deleted finished runs past their retention");
            }
            match self.store.delete_settled_plan_notices(before).await {
                Ok(0) => {}
                Ok(notices) => tracing::info!(notices, "deleted plan reviews past their retention"),
                Err(e) => tracing::error!("cannot delete plan reviews past their retention: {e}"),
            }
            let pause = (retention / 10).clamp(Duration::from_millis(100), RETENTION_PAUSE);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    pub(super) async fn expire(self: &Arc<Self>, run_id: &str) -> Result<(), RunError> {
        self.transact(
            None,
            run_id,
            None,
            |run, steps, layout| run::expire(run, steps, layout, now_ms()),
            |_, _| (),
        )
        .await
        .map(drop)
    }
}
