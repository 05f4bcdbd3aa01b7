//! Batches: one run of a workflow per input, started in one transaction (all
//! or none, within the tenant's quota), watched and cancelled as one.

use serde::Serialize;
use serde_json::Value;

use super::{Actor, Idempotency, RunError, Runner, Trigger, admit, new_id, now_ms, run};
use crate::clock::timestamp;
use crate::run::RunStatus;
use crate::store::{BatchRecord, Started, StoreError};

/// The most inputs one batch may have.
pub const MAX_BATCH_INPUTS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// No run has started yet.
    Pending,
    /// Some runs are unfinished.
    Running,
    /// Every run completed.
    Completed,
    /// Every run ended, and some did not complete.
    Failed,
    /// Cancelled: its unfinished runs were cancelled with it.
    Cancelled,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct BatchProgress {
    pub total: usize,
    pub completed: usize,
    /// Runs that ended without completing: failed, timed out or cancelled.
    pub failed: usize,
    /// Runs not yet ended (pending, running or paused).
    pub unfinished: usize,
}

/// A batch as clients see it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct BatchView {
    pub id: String,
    pub workflow_id: String,
    pub status: BatchStatus,
    pub progress: BatchProgress,
    /// The run ids, in the order of the inputs.
    pub runs: Vec<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
}

impl BatchView {
    fn new(batch: &BatchRecord, runs: Vec<(String, RunStatus)>) -> Self {
        let count = |wanted: &dyn Fn(RunStatus) -> bool| {
            runs.iter().filter(|(_, status)| wanted(*status)).count()
        };
        let completed = count(&|s| s == RunStatus::Completed);
        let unfinished = count(&|s| !s.is_terminal());
        let failed = runs.len() - completed - unfinished;
        let status = if batch.cancelled_at.is_some() {
            BatchStatus::Cancelled
        } else if unfinished > 0 {
            if count(&|s| s == RunStatus::Pending) == runs.len() {
                BatchStatus::Pending
            } else {
                BatchStatus::Running
            }
        } else if failed > 0 {
            BatchStatus::Failed
        } else {
            BatchStatus::Completed
        };
        BatchView {
            id: batch.id.clone(),
            workflow_id: batch.workflow_id.clone(),
            status,
            progress: BatchProgress {
                total: runs.len(),
                completed,
                failed,
                unfinished,
            },
            runs: runs.into_iter().map(|(id, _)| id).collect(),
            created_at: timestamp(batch.created_at),
            cancelled_at: batch.cancelled_at.map(timestamp),
        }
    }
}

impl Runner {
    /// Starts one run of the workflow per input, all or none.
    /// Starts one run per input, all or none; at most once per idempotency
    /// key: the same key and body answer the batch it started (and `false`).
    pub async fn start_batch(
        &self,
        tenant: &str,
        workflow_id: &str,
        inputs: Vec<Value>,
        idempotency: Option<Idempotency>,
    ) -> Result<(BatchView, bool), RunError> {
        if inputs.is_empty() || inputs.len() > MAX_BATCH_INPUTS {
            return Err(RunError::Rejected(format!(
                "a batch has 1 to {MAX_BATCH_INPUTS} inputs, not {}",
                inputs.len()
            )));
        }
        let workflow = self.active_workflow(tenant, workflow_id)?;
        let batch_id = new_id();
        let trigger = Trigger::Batch {
            batch_id: batch_id.clone(),
        };
        let runs = inputs
            .into_iter()
            .map(|input| self.new_run(&workflow, input, trigger.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = BatchRecord {
            id: batch_id,
            tenant: tenant.to_owned(),
            workflow_id: workflow.id.clone(),
            created_at: now_ms(),
            cancelled_at: None,
        };
        let run_ids: Vec<String> = runs.iter().map(|new| new.run.id.clone()).collect();
        let quota = self.inner.max_active_runs_per_tenant as i64;
        let record = batch.clone();
        let existing = self
            .inner
            .store
            .transaction(move |tx| {
                if let Some(idempotency) = &idempotency {
                    let previous = tx.idempotent(
                        Started::Batch,
                        &record.tenant,
                        &record.workflow_id,
                        &idempotency.key,
                    )?;
                    if let Some((batch_id, hash)) = previous {
                        return if hash == idempotency.body_hash {
                            Ok(Some(batch_id))
                        } else {
                            Err(idempotency.reused())
                        };
                    }
                }
                let definition = &runs[0].definition;
                admit(tx, &workflow, definition, runs.len() as i64, quota)?;
                for new in &runs {
                    new.insert(tx)?;
                }
                let ids: Vec<&str> = runs.iter().map(|new| new.run.id.as_str()).collect();
                tx.insert_batch(&record, &ids)?;
                if let Some(idempotency) = &idempotency {
                    tx.insert_idempotency_key(
                        Started::Batch,
                        &record.tenant,
                        &record.workflow_id,
                        &idempotency.key,
                        &idempotency.body_hash,
                        &record.id,
                        record.created_at,
                    )?;
                }
                Ok(None)
            })
            .await?;
        if let Some(existing) = existing {
            return Ok((self.get_batch(tenant, &existing)?, false));
        }
        for run_id in &run_ids {
            self.started(run_id);
        }
        Ok((self.get_batch(tenant, &batch.id)?, true))
    }

    pub fn get_batch(&self, tenant: &str, id: &str) -> Result<BatchView, RunError> {
        let (batch, runs) = self.inner.store.reading(|c| {
            let batch = c.get_batch(tenant, id)?;
            let runs = c.batch_runs(id)?;
            Ok((batch, runs))
        })?;
        Ok(BatchView::new(&batch, runs))
    }

    /// A tenant's batches (of one workflow, if given), newest first, at most
    /// `limit`, after the batch `before` (the last of the previous page).
    pub fn list_batches(
        &self,
        tenant: &str,
        workflow_id: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BatchView>, RunError> {
        Ok(self.inner.store.reading(|c| {
            c.list_batches(tenant, workflow_id, before, limit)?
                .into_iter()
                .map(|batch| Ok(BatchView::new(&batch, c.batch_runs(&batch.id)?)))
                .collect()
        })?)
    }

    /// Cancels the batch and, in the same transaction, its unfinished runs.
    /// Cancelling a cancelled batch changes nothing; a finished one is a
    /// conflict.
    pub async fn cancel_batch(
        &self,
        tenant: &str,
        id: &str,
        actor: Actor,
    ) -> Result<BatchView, RunError> {
        let (owner, batch_id) = (tenant.to_owned(), id.to_owned());
        let inner = std::sync::Arc::clone(&self.inner);
        let cancelled = self
            .inner
            .store
            .transaction(move |tx| {
                let batch = tx.get_batch(&owner, &batch_id)?;
                let runs = tx.batch_runs(&batch_id)?;
                if batch.cancelled_at.is_some() {
                    return Ok(Vec::new());
                }
                let unfinished: Vec<String> = runs
                    .into_iter()
                    .filter(|(_, status)| !status.is_terminal())
                    .map(|(run_id, _)| run_id)
                    .collect();
                if unfinished.is_empty() {
                    return Err(StoreError::Conflict(
                        "every run of the batch has ended already".to_owned(),
                    ));
                }
                let now = now_ms();
                let mut cancelled = Vec::with_capacity(unfinished.len());
                for run_id in &unfinished {
                    // One run refusing rolls back the whole batch's cancel.
                    let (run, steps) = tx.get_run_with_steps(Some(&owner), run_id)?;
                    let steps = run::RunSteps::new(steps);
                    let transition = run::cancel(&run, &steps, &actor, now)
                        .map_err(|refused| StoreError::Conflict(refused.to_string()))?;
                    let ours = tx.commit_in(&transition, &inner.outbox(&transition))?;
                    cancelled.push((transition, ours));
                }
                tx.set_batch_cancelled(&batch_id, now)?;
                Ok(cancelled)
            })
            .await?;
        for (transition, ours) in &cancelled {
            let run_id = &transition.run.id;
            self.inner.announce(transition, true, None);
            self.inner.act(run_id, &transition.effects, *ours);
            self.inner.tell_family(transition);
        }
        self.get_batch(tenant, id)
    }
}
