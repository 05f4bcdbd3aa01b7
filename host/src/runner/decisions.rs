//! Decisions on paused runs (resumes by the API or a link) and cancels: the
//! run core decides, the runner commits and acts.

use super::*;

impl Runner {
    /// Resumes a run paused at `step` with `decision`: an option (`"approve"` or
    /// `{"decision": "approve", "note": "..."}`) when the pending action offers
    /// options, else a value its input schema accepts.
    pub async fn resume(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        let after = self
            .transact_decision(tenant, run_id, step, decision, actor, None, copy)
            .await?;
        self.view_after(tenant, run_id, after)
    }

    /// Applies a reviewer's decision from an approval link; the link's token
    /// id is recorded in the same transaction, so the link works once.
    pub async fn resume_by_link(
        &self,
        claims: &crate::approvals::Claims,
        token_id: String,
        decision: Value,
    ) -> Result<RunView, RunError> {
        let actor = Actor {
            name: claims.reviewer.clone(),
            channel: crate::run::Channel::Link,
            label: None,
        };
        let (tenant, run_id) = (&claims.tenant, &claims.run);
        let after = self
            .transact_decision(
                tenant,
                run_id,
                &claims.step,
                decision,
                actor,
                Some(token_id),
                copy,
            )
            .await?;
        self.view_after(tenant, run_id, after)
    }

    /// [`Runner::resume`] without the answer's view: the sequence number
    /// of the run's last event after the decision (for [`Runner::follow`]).
    pub async fn decide(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
    ) -> Result<i64, RunError> {
        let last_seq = |run: &RunRecord, _: &RunSteps| run.last_seq;
        match self
            .transact_decision(tenant, run_id, step, decision, actor, None, last_seq)
            .await?
        {
            Some(last_seq) => Ok(last_seq),
            None => Ok(self.run_state(Some(tenant), run_id)?.1),
        }
    }

    /// Commits the decision; what `answer` takes from the run as it left
    /// it, when this host knows it.
    #[allow(clippy::too_many_arguments)]
    async fn transact_decision<A: Send + 'static>(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
        link: Option<String>,
        answer: impl FnOnce(&RunRecord, &RunSteps) -> A + Send + 'static,
    ) -> Result<Option<A>, RunError> {
        let step = step.to_owned();
        let decide = move |run: &RunRecord, steps: &RunSteps, layout: &Layout| {
            let now = now_ms();
            run::decide(run, steps, layout, &step, &decision, &actor, now).map(Some)
        };
        self.inner
            .transact(Some(tenant), run_id, link, decide, answer)
            .await
    }

    /// Cancels a pending, running or paused run; a running step is interrupted.
    pub async fn cancel(
        &self,
        tenant: &str,
        run_id: &str,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        let cancel = move |run: &RunRecord, steps: &RunSteps, _: &Layout| {
            run::cancel(run, steps, &actor, now_ms()).map(Some)
        };
        let after = self
            .inner
            .transact(Some(tenant), run_id, None, cancel, copy)
            .await?;
        self.view_after(tenant, run_id, after)
    }
}

/// The run and its steps as a change left them, copied for the answer (the
/// driver the change starts keeps its own).
fn copy(run: &RunRecord, steps: &RunSteps) -> (RunRecord, RunSteps) {
    (run.clone(), steps.clone())
}
