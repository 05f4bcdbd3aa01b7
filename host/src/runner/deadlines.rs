//! Time: paused runs whose deadline passed (a gate's timeout, a pause's
//! lifetime), and the retention sweep of finished runs.

use super::*;

/// Finished runs deleted in one transaction by the retention sweep.
const RETENTION_BATCH: usize = 100;
/// The longest pause between two retention sweeps.
const RETENTION_PAUSE: Duration = Duration::from_secs(60);

impl Inner {
    /// Applies timeouts to paused runs whose deadline passed.
    pub(super) async fn deadline_loop(self: Arc<Self>) {
        loop {
            let now = now_ms();
            match self.store.read(|c| store::expired_pauses(c, now)) {
                Ok(expired) => {
                    for run_id in expired {
                        if let Err(e) = self.expire(&run_id).await {
                            tracing::debug!(run = %run_id, "timeout not applied: {e}");
                        }
                    }
                }
                Err(e) => tracing::error!("cannot look for expired pauses: {e}"),
            }
            let next = self.store.read(store::next_pause_deadline).ok().flatten();
            let wait = next.map_or(1000, |at| (at - now_ms()).clamp(10, 1000)) as u64;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
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
                let ids = match self
                    .store
                    .read(|c| store::finished_runs_before(c, before, RETENTION_BATCH))
                {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::error!("cannot look for runs past their retention: {e}");
                        break;
                    }
                };
                let full = ids.len() == RETENTION_BATCH;
                let written = self
                    .store
                    .write(move |tx| {
                        let mut count = 0;
                        for id in &ids {
                            count += usize::from(store::delete_finished_run(tx, id)?);
                        }
                        Ok(count)
                    })
                    .await;
                match written {
                    Ok(count) => deleted += count,
                    Err(e) => {
                        tracing::error!("cannot delete runs past their retention: {e}");
                        break;
                    }
                }
                if !full || self.shutdown.is_cancelled() {
                    break;
                }
                // Let other writers in between batches.
                tokio::task::yield_now().await;
            }
            if deleted > 0 {
                tracing::info!(runs = deleted, "deleted finished runs past their retention");
            }
            let pause = (retention / 10).clamp(Duration::from_millis(100), RETENTION_PAUSE);
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    pub(super) async fn expire(self: &Arc<Self>, run_id: &str) -> Result<(), RunError> {
        let run = self.store.read(|c| store::get_run(c, None, run_id))?;
        let definition = self.definition(&run.workflow_id, run.workflow_version)?;
        let id = run_id.to_owned();
        let definitions = Arc::clone(&self.definitions);
        let needs_driver = self
            .store
            .write(move |tx| {
                let mut run = store::get_run(tx, None, &id)?;
                if run.status != RunStatus::Paused || run.pause_deadline.is_none_or(|at| at > now_ms()) {
                    return Ok(Ok(false));
                }
                let mut steps = store::get_steps(tx, &id)?;
                let index = run.paused_step.unwrap_or_default() as usize;
                let gate = definition.steps.get(index).and_then(|s| s.approval.clone());
                let expected = run.last_seq;
                let actor = Actor { name: "timeout".to_owned(), channel: Channel::Timer, label: None };
                let Some(step) = steps.get_mut(index) else {
                    return Err(StoreError::Corrupt(format!("run {id} paused at missing step {index}")));
                };
                let action = gate.as_ref().map_or(TimeoutAction::Fail, |g| g.on_timeout);
                let option = gate.as_ref().and_then(|g| match action {
                    TimeoutAction::Approve => g.options.iter().find(|o| !g.reject.contains(o)).cloned(),
                    TimeoutAction::Reject => g.reject.first().cloned(),
                    TimeoutAction::Fail => None,
                });
                let result = match option {
                    Some(option) => {
                        let choice = Some((option.clone(), Some("timed out".to_owned())));
                        apply_decision(&mut run, step, gate.as_ref(), &json!(option), choice, &actor)
                    }
                    None => (|| {
                        set_step(step, StepStatus::Failed)?;
                        step.error = Some(json!({ "message": "timed out waiting for a decision", "retryable": false }));
                        step.finished_at = Some(now_ms());
                        set_run(&mut run, RunStatus::Failed)?;
                        finish_paused(&mut run);
                        let message = format!("step '{}' timed out waiting for a decision", step.name);
                        run.error = Some(json!({ "reason": "timed_out", "message": message, "step": step.name }));
                        let events = vec![event(&mut run, EventKind::TimedOut, json!({ "reason": "timed_out", "step": step.name }))];
                        Ok((events, false))
                    })(),
                };
                match result {
                    Ok((events, needs_driver)) => {
                        save(tx, &definitions, &run, expected, &[&steps[index]], &events)?;
                        Ok(Ok(needs_driver))
                    }
                    Err(illegal) => Ok(Err(RunError::from(illegal))),
                }
            })
            .await??;
        let _ = self.changes.send(run_id.to_owned());
        if needs_driver {
            spawn_driver(self, run_id.to_owned());
        }
        Ok(())
    }
}
