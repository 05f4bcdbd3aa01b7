//! Planned workflows: a draft a planner wrote, stored with its provenance and
//! sent to its reviewers in the same transaction, and the decisions on it.
//! A decision is on one version: approving activates the workflow (and
//! starts its schedule); rejecting leaves it a draft with the note; an edit
//! makes a new version, sent for review afresh.

use super::*;
use crate::notify::plan_outbox_rows;
use crate::store::PlanNotice;
use crate::workflow::{PlanDecision, PlanRecord, PlanReview, readable_steps};

/// What the planner produced, to be kept with the draft.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub goal: String,
    pub model: String,
    pub attempts: u32,
    pub reviewers: Vec<String>,
    pub webhooks: Vec<crate::workflow::WebhookTarget>,
}

impl Runner {
    /// Every problem `definition` has for `tenant`, as saving it would find.
    pub fn definition_problems(&self, tenant: &str, definition: &Value) -> Vec<Problem> {
        match self.check_definition(tenant, definition.clone(), None) {
            Ok(_) => Vec::new(),
            Err(RunError::Invalid(problems)) => problems,
            Err(other) => vec![Problem {
                path: String::new(),
                message: other.to_string(),
            }],
        }
    }

    /// What a valid `definition` should still change (see
    /// [`crate::workflow::warnings`]); empty for one that does not parse.
    pub fn definition_warnings(&self, tenant: &str, definition: &Value) -> Vec<Problem> {
        WorkflowDefinition::from_value(definition.clone())
            .map(|parsed| {
                crate::workflow::warnings(&parsed, &self.inner.catalog.for_tenant(tenant))
            })
            .unwrap_or_default()
    }

    /// Stores a planned workflow as a draft, with its plan, and the emails
    /// that send it to its reviewers.
    pub async fn create_planned(
        &self,
        tenant: &str,
        definition: Value,
        plan: NewPlan,
    ) -> Result<(WorkflowRecord, PlanRecord), RunError> {
        let parsed = self.check_definition(tenant, definition.clone(), None)?;
        let now = now_ms();
        let workflow = super::workflows::first_version(tenant, &parsed, WorkflowStatus::Draft, now);
        let record = PlanRecord {
            workflow_id: workflow.id.clone(),
            goal: plan.goal,
            model: plan.model,
            attempts: plan.attempts,
            reviewers: plan.reviewers,
            webhooks: plan.webhooks,
            created_at: now,
        };
        let outbox = self.plan_notices(&workflow, &parsed, &record, now);
        let (saved, saved_plan) = (workflow.clone(), record.clone());
        self.inner
            .store
            .transaction(move |tx| {
                tx.insert_workflow(&saved, &definition)?;
                scheduler::sync_schedule(tx, &saved, parsed.schedule.as_ref(), now)?;
                tx.insert_plan(&saved_plan)?;
                outbox.iter().try_for_each(|row| tx.insert_outbox(row))
            })
            .await?;
        self.plan_sent(&workflow.id);
        Ok((workflow, record))
    }

    /// The emails that send `workflow`'s current version to the plan's
    /// reviewers; their links work for the runner's `plan_link_ttl`.
    pub(super) fn plan_notices(
        &self,
        workflow: &WorkflowRecord,
        definition: &WorkflowDefinition,
        plan: &PlanRecord,
        now: i64,
    ) -> Vec<OutboxRecord> {
        let notice = PlanNotice {
            workflow_id: workflow.id.clone(),
            version: workflow.version,
            title: definition.name.clone(),
            goal: plan.goal.clone(),
            steps: readable_steps(definition),
            schedule: definition
                .schedule
                .as_ref()
                .map(|s| format!("`{}` ({})", s.cron, s.timezone)),
            links_expire: (now + self.inner.plan_link_ttl.as_millis() as i64) / 1000,
        };
        plan_outbox_rows(&notice, &workflow.tenant, plan, now)
    }

    /// Wakes the outbox for a plan's emails.
    pub(super) fn plan_sent(&self, workflow: &str) {
        self.inner.tell(Change::of(workflow.to_owned()));
        self.inner.schedules_changed.notify_one();
    }

    /// The plan of a workflow and every decision on it, if a planner wrote it.
    pub fn plan_of(
        &self,
        workflow_id: &str,
    ) -> Result<Option<(PlanRecord, Vec<PlanReview>)>, RunError> {
        Ok(self.inner.store.reading(|c| {
            let Some(plan) = c.get_plan(workflow_id)? else {
                return Ok(None);
            };
            Ok(Some((plan, c.plan_reviews(workflow_id)?)))
        })?)
    }

    /// Records `review` on `tenant`'s planned workflow `id`: once per
    /// version, and only while the workflow is a draft at that version. An
    /// approval activates the workflow and starts its schedule.
    pub async fn decide_plan(
        &self,
        tenant: &str,
        id: &str,
        review: PlanReview,
    ) -> Result<WorkflowRecord, RunError> {
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        let workflow = self
            .inner
            .store
            .transaction(move |tx| {
                let mut workflow = tx.get_workflow(&tenant, &id)?;
                if tx.get_plan(&id)?.is_none() {
                    return Err(StoreError::NotFound);
                }
                if review.version != workflow.version {
                    return Err(StoreError::Conflict(format!(
                        "the plan changed after this link was sent: version {} is the latest, \
                         and its reviewers were sent new links",
                        workflow.version
                    )));
                }
                if tx.plan_decided(&id, review.version)? || workflow.status != WorkflowStatus::Draft
                {
                    return Err(StoreError::Conflict(format!(
                        "version {} of this plan was decided already; the workflow is {}",
                        review.version,
                        workflow.status.as_str()
                    )));
                }
                tx.insert_plan_review(&id, &review)?;
                if review.decision == PlanDecision::Approve {
                    workflow.status = WorkflowStatus::Active;
                    workflow.updated_at = review.at;
                    tx.update_workflow(&workflow)?;
                    scheduler::restart_schedule(tx, &workflow, workflow.updated_at)?;
                }
                Ok(workflow)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }
}
