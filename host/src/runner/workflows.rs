//! Workflows: create, new versions, status, and the checks a definition must
//! pass (validation, the egress policy of its webhooks, their signing keys).

use super::*;

impl Runner {
    /// Validates and stores a new workflow.
    pub async fn create_workflow(
        &self,
        tenant: &str,
        definition: Value,
        status: WorkflowStatus,
    ) -> Result<WorkflowRecord, RunError> {
        let parsed = self.check_definition(tenant, definition.clone(), None)?;
        let now = now_ms();
        let workflow = first_version(tenant, &parsed, status, now);
        let record = workflow.clone();
        self.inner
            .store
            .transaction(move |tx| {
                tx.insert_workflow(&record, &definition)?;
                scheduler::sync_schedule(tx, &record, parsed.schedule.as_ref(), now)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }

    /// Stores a new version of a workflow's definition; running runs keep theirs.
    pub async fn update_workflow(
        &self,
        tenant: &str,
        id: &str,
        definition: Value,
    ) -> Result<WorkflowRecord, RunError> {
        let parsed = self.check_definition(tenant, definition.clone(), Some(id))?;
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        let runner = self.clone();
        let workflow = self
            .inner
            .store
            .transaction(move |tx| {
                let mut workflow = tx.get_workflow(&tenant, &id)?;
                workflow.version += 1;
                workflow.name = parsed.name.clone();
                workflow.updated_at = now_ms();
                tx.insert_workflow_version(
                    &workflow.id,
                    workflow.version,
                    &definition,
                    workflow.updated_at,
                )?;
                tx.update_workflow(&workflow)?;
                scheduler::sync_schedule(
                    tx,
                    &workflow,
                    parsed.schedule.as_ref(),
                    workflow.updated_at,
                )?;
                // An edited draft plan goes to its reviewers again; the links
                // of the earlier version no longer work.
                if workflow.status == WorkflowStatus::Draft
                    && let Some(plan) = tx.get_plan(&workflow.id)?
                {
                    let rows = runner.plan_notices(&workflow, &parsed, &plan, workflow.updated_at);
                    rows.iter().try_for_each(|row| tx.insert_outbox(row))?;
                }
                Ok(workflow)
            })
            .await?;
        self.plan_sent(&workflow.id);
        Ok(workflow)
    }

    /// Sets a workflow's status; `by` (a key's name) activating a planned
    /// draft approves its plan.
    pub async fn set_workflow_status(
        &self,
        tenant: &str,
        id: &str,
        status: WorkflowStatus,
        by: &str,
    ) -> Result<WorkflowRecord, RunError> {
        let by = by.to_owned();
        let (tenant, id) = (tenant.to_owned(), id.to_owned());
        let workflow = self
            .inner
            .store
            .transaction(move |tx| {
                let mut workflow = tx.get_workflow(&tenant, &id)?;
                let activated = status == WorkflowStatus::Active && workflow.status != status;
                workflow.status = status;
                workflow.updated_at = now_ms();
                tx.update_workflow(&workflow)?;
                if activated {
                    tx.approve_plan_on_activation(&workflow, &by)?;
                    scheduler::restart_schedule(tx, &workflow, workflow.updated_at)?;
                }
                Ok(workflow)
            })
            .await?;
        self.inner.schedules_changed.notify_one();
        Ok(workflow)
    }

    /// The id of the tenant's workflow `reference`: a workflow id, or a
    /// workflow's name (see [`Runner::find_workflow`]).
    pub fn workflow_id(&self, tenant: &str, reference: &str) -> Result<String, RunError> {
        Ok(self.find_workflow(tenant, reference)?.id)
    }

    /// The tenant's workflow `reference`: by id, which reads one row; else
    /// by name. A name that several unarchived workflows share is a
    /// conflict; an archived workflow answers to its name only when no
    /// unarchived one has it (so that starting it says it is archived).
    pub(super) fn find_workflow(
        &self,
        tenant: &str,
        reference: &str,
    ) -> Result<WorkflowRecord, RunError> {
        let named = match self
            .inner
            .store
            .reading(|c| c.get_workflow(tenant, reference))
        {
            Err(StoreError::NotFound) => self
                .inner
                .store
                .reading(|c| c.workflows_named(tenant, reference))?,
            found => return Ok(found?),
        };
        let live: Vec<&String> = named
            .iter()
            .filter(|(_, status)| *status != WorkflowStatus::Archived)
            .map(|(id, _)| id)
            .collect();
        let id = match (live.as_slice(), named.first()) {
            ([id], _) => *id,
            ([], Some((id, _))) => id,
            ([], None) => return Err(RunError::NotFound),
            (several, _) => {
                return Err(RunError::Conflict(format!(
                    "{} workflows are named '{reference}' ({}): use an id",
                    several.len(),
                    several
                        .iter()
                        .map(|id| id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        Ok(self.inner.store.reading(|c| c.get_workflow(tenant, id))?)
    }

    /// A workflow and its latest definition.
    pub fn get_workflow(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<(WorkflowRecord, Value), RunError> {
        Ok(self.inner.store.reading(|c| {
            let workflow = c.get_workflow(tenant, id)?;
            let definition = c.get_definition(id, workflow.version)?;
            Ok((workflow, definition))
        })?)
    }

    /// A tenant's workflow's versions (number, made at), newest first.
    pub fn workflow_versions(&self, tenant: &str, id: &str) -> Result<Vec<(i64, i64)>, RunError> {
        Ok(self.inner.store.reading(|c| {
            c.get_workflow(tenant, id)?;
            c.workflow_versions(id)
        })?)
    }

    /// A tenant's workflow and the definition of its version `version`.
    pub fn workflow_version(
        &self,
        tenant: &str,
        id: &str,
        version: i64,
    ) -> Result<(WorkflowRecord, Value), RunError> {
        Ok(self.inner.store.reading(|c| {
            let workflow = c.get_workflow(tenant, id)?;
            let definition = c.get_definition(id, version)?;
            Ok((workflow, definition))
        })?)
    }

    /// Checks a definition for workflow `id` (`None`: a new one).
    pub(super) fn check_definition(
        &self,
        tenant: &str,
        definition: Value,
        id: Option<&str>,
    ) -> Result<WorkflowDefinition, RunError> {
        let parsed = WorkflowDefinition::from_value(definition)
            .map_err(|problem| RunError::Invalid(vec![problem]))?;
        let mut problems = validate(
            &parsed,
            &self.inner.catalog.for_tenant(tenant),
            &self.inner.language,
        );
        problems.extend(self.webhook_problems(tenant, &parsed)?);
        problems.extend(self.children_problems(tenant, &parsed, id)?);
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(RunError::Invalid(problems))
        }
    }

    /// Sub-workflows the tenant does not have, that lead back to workflow
    /// `id` (a cycle), or whose chain of children is deeper than the
    /// operator allows.
    fn children_problems(
        &self,
        tenant: &str,
        definition: &WorkflowDefinition,
        id: Option<&str>,
    ) -> Result<Vec<Problem>, RunError> {
        let mut problems = Vec::new();
        for (path, child) in definition.children() {
            let mut chain = vec![child.clone()];
            match self.deepest_chain(tenant, &child, id, &mut chain)? {
                Chain::Missing(missing) => problems.push(Problem {
                    path,
                    message: format!("the tenant has no workflow '{missing}'"),
                }),
                Chain::Cycle(names) => problems.push(Problem {
                    path,
                    message: format!(
                        "a cycle: this workflow starts {}, which starts this workflow again",
                        names.join(", which starts ")
                    ),
                }),
                Chain::Depth(depth) if depth > self.inner.language.max_workflow_depth => {
                    problems.push(Problem {
                        path,
                        message: format!(
                            "child runs would nest {depth} deep, above this host's limit of {}",
                            self.inner.language.max_workflow_depth
                        ),
                    });
                }
                Chain::Depth(_) => {}
            }
        }
        Ok(problems)
    }

    /// Follows workflow `at`'s children (their latest versions) from a
    /// chain that started at the definition being checked.
    fn deepest_chain(
        &self,
        tenant: &str,
        at: &str,
        origin: Option<&str>,
        chain: &mut Vec<String>,
    ) -> Result<Chain, RunError> {
        if Some(at) == origin {
            return Ok(Chain::Cycle(chain.clone()));
        }
        let definition = match self.get_workflow(tenant, at) {
            Ok((_, definition)) => definition,
            Err(RunError::NotFound) => return Ok(Chain::Missing(at.to_owned())),
            Err(e) => return Err(e),
        };
        let Ok(definition) = WorkflowDefinition::from_value(definition) else {
            return Ok(Chain::Depth(chain.len()));
        };
        let mut deepest = chain.len();
        for (_, child) in definition.children() {
            if chain.contains(&child) || chain.len() > self.inner.language.max_workflow_depth {
                // A cycle that does not pass here was refused when it was
                // saved; a chain this long is refused anyway.
                deepest = deepest.max(chain.len() + 1);
                continue;
            }
            chain.push(child.clone());
            let found = self.deepest_chain(tenant, &child, origin, chain)?;
            chain.pop();
            match found {
                Chain::Depth(depth) => deepest = deepest.max(depth),
                // A missing grandchild fails its own step at run time.
                Chain::Missing(_) => {}
                cycle @ Chain::Cycle(_) => return Ok(cycle),
            }
        }
        Ok(Chain::Depth(deepest))
    }

    /// Webhooks whose URL is not one, or the egress policy refuses it; whose
    /// `secret` is not a `${secret:NAME}` reference, or names a secret the
    /// tenant does not have or that is no signing key. Delivery checks the
    /// policy and the secret again, as settings and secrets may change.
    pub(super) fn webhook_problems(
        &self,
        tenant: &str,
        definition: &WorkflowDefinition,
    ) -> Result<Vec<Problem>, RunError> {
        let hooks = definition
            .notifications
            .as_ref()
            .map_or(&[][..], |n| n.webhooks.as_slice());
        self.webhooks_problems(tenant, hooks, "/notifications/webhooks")
    }

    /// [`Runner::webhook_problems`] of `hooks`, with paths under `at`.
    pub fn webhooks_problems(
        &self,
        tenant: &str,
        hooks: &[crate::workflow::WebhookTarget],
        at: &str,
    ) -> Result<Vec<Problem>, RunError> {
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let policy = self.inner.egress.policy(tenant, None);
        let secrets = self
            .inner
            .secrets
            .values(tenant)
            .map_err(|e| RunError::Store(StoreError::Corrupt(e.to_string())))?;
        let mut problems = Vec::new();
        for (index, hook) in hooks.iter().enumerate() {
            let at = |field: &str| format!("{at}/{index}/{field}");
            match crate::egress::Target::parse("POST", &hook.url) {
                Ok(target) => {
                    let literal = target.host.parse::<std::net::IpAddr>().ok();
                    let checked = policy.check(&target).and_then(|()| match literal {
                        Some(ip) => policy.check_address(&target, ip),
                        None => Ok(()),
                    });
                    if let Err(denial) = checked {
                        problems.push(Problem {
                            path: at("url"),
                            message: format!("webhooks go out under the egress policy: {denial}"),
                        });
                    }
                }
                Err(message) => problems.push(Problem {
                    path: at("url"),
                    message,
                }),
            }
            if hook.secret.starts_with("whsec_") {
                problems.push(Problem {
                    path: at("secret"),
                    message: "signing secrets are not kept in definitions: store it as a tenant \
                              secret (PUT /v1/secrets/NAME with {\"value\": \"whsec_...\"}) and \
                              write \"secret\": \"${secret:NAME}\""
                        .into(),
                });
            } else if hook.secret_name().is_none() {
                problems.push(Problem {
                    path: at("secret"),
                    message: format!(
                        "'{}' is not a secret reference: write \"${{secret:NAME}}\", naming a \
                         tenant secret that holds the whsec_ signing key",
                        hook.secret
                    ),
                });
            }
            if let Some(name) = hook.secret_name() {
                let message = match secrets.get(name) {
                    None => Some(format!(
                        "the tenant has no secret named '{name}': store the signing key first \
                         (PUT /v1/secrets/{name})"
                    )),
                    Some(value) if !crate::notify::is_signing_key(value) => Some(format!(
                        "secret '{name}' is not a signing key: 'whsec_' and the base64 of at \
                         least 16 bytes"
                    )),
                    Some(_) => None,
                };
                if let Some(message) = message {
                    problems.push(Problem {
                        path: at("secret"),
                        message,
                    });
                }
            }
        }
        Ok(problems)
    }

    /// A tenant's workflows.
    pub fn list_workflows(&self, tenant: &str) -> Result<Vec<WorkflowSummary>, RunError> {
        Ok(self.inner.store.reading(|c| c.list_workflows(tenant))?)
    }
}

/// The row of a new workflow at its first version.
pub(super) fn first_version(
    tenant: &str,
    definition: &WorkflowDefinition,
    status: WorkflowStatus,
    now: i64,
) -> WorkflowRecord {
    WorkflowRecord {
        id: new_id(),
        tenant: tenant.to_owned(),
        name: definition.name.clone(),
        status,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Where a chain of sub-workflows leads.
enum Chain {
    /// Its longest chain of child runs, this workflow's child being 1.
    Depth(usize),
    /// Back to the workflow being checked, through these.
    Cycle(Vec<String>),
    /// To a workflow the tenant does not have.
    Missing(String),
}
