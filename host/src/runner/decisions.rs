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
        self.resume_once(tenant, run_id, step, decision, actor, None)
            .await
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
        self.resume_once(
            &claims.tenant,
            &claims.run,
            &claims.step,
            decision,
            actor,
            Some(token_id),
        )
        .await
    }

    pub(super) async fn resume_once(
        &self,
        tenant: &str,
        run_id: &str,
        step: &str,
        decision: Value,
        actor: Actor,
        link: Option<String>,
    ) -> Result<RunView, RunError> {
        let step = step.to_owned();
        let after = self
            .inner
            .transact(Some(tenant), run_id, link, move |run, steps, layout| {
                let now = now_ms();
                run::decide(run, steps, layout, &step, &decision, &actor, now).map(Some)
            })
            .await?;
        self.view_after(tenant, run_id, after)
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
