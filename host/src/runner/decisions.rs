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
            .transact_decision(tenant, run_id, step, decision, actor, None)
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
        match self
            .transact_decision(tenant, run_id, step, decision, actor, None)
            .await?
        {
            Some((run, _)) => Ok(run.last_seq),
            None => Ok(self.run_state(Some(tenant), run_id)?.1),
        }
    }

    /// Commits the decision; the run as it left it, when this host knows it.
    async fn transact_decision(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
        link: Option<String>,
    ) -> Result<Option<(RunRecord, RunSteps)>, RunError> {
        let step = step.to_owned();
        self.inner
            .transact(Some(tenant), run_id, link, move |run, steps, layout| {
                let now = now_ms();
                run::decide(run, steps, layout, &step, &decision, &actor, now).map(Some)
            })
            .await
    }

    /// Cancels a pending, running or paused run; a running step is interrupted.
    pub async fn cancel(
        &self,
        tenant: &str,
        run_id: &str,
        actor: Actor,
    ) -> Result<RunView, RunError> {
        let after = self
            .inner
            .transact(Some(tenant), run_id, None, move |run, steps, _| {
                run::cancel(run, steps, &actor, now_ms()).map(Some)
            })
            .await?;
        self.view_after(tenant, run_id, after)
    }
}
