//! Tenants' templates, evaluated in a sandbox: a step's `when` condition and
//! `input` template run in the bundled `cairn-templates` component, under a
//! memory cap, an output cap, a wall time and a budget of template
//! instructions. They are written by tenants and run before any plugin does,
//! so they get no more of the host than a plugin gets.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Call, Engine, FaultKind, Invocation, SandboxLimits, StepOutcome};

/// What the component prefixes a limit's message with.
const LIMIT_PREFIX: &str = "template_limit: ";

/// Wall time of one evaluation: a backstop behind the fuel budget, for one
/// expensive filter call.
const WALL_TIME: Duration = Duration::from_secs(5);

/// What a step's templates decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// The `when` condition is false: skip the step.
    Skip,
    /// Run the step, with its rendered input if it has an input template.
    Run { input: Option<Value> },
}

/// Why a step's templates could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateFailure {
    /// The template is wrong for this context (undefined value, type error).
    #[error("{0}")]
    Error(String),
    /// The template went past a bound: fuel, memory, output size or time.
    #[error("{0}")]
    Limit(String),
}

impl Engine {
    /// Evaluates step `step`'s `when` (if any), then, unless it is false,
    /// renders its `input` (if any), over `context`, under `limits`' template
    /// bounds.
    pub async fn evaluate_templates(
        &self,
        step: &str,
        context: Value,
        when: Option<&str>,
        input: Option<&Value>,
        limits: &SandboxLimits,
    ) -> Result<Evaluation, TemplateFailure> {
        let sandbox = self
            .templates
            .get_or_try_init(|| async { self.load_bundled(&super::bundled::TEMPLATES).await });
        let sandbox = sandbox.await.map_err(|e| {
            TemplateFailure::Error(format!("the template sandbox cannot be loaded: {e}"))
        })?;
        let invocation = Invocation {
            run_id: String::new(),
            step: step.to_owned(),
            attempt: 1,
            idempotency_key: String::new(),
            config: json!({ "fuel": limits.template_fuel }),
            input: json!({ "context": context, "when": when, "input": input }),
        };
        // The template bounds are the operator's own settings: they are not
        // lowered to the plugins' caps (a rendered input may be larger than one
        // plugin's output).
        let limits = limits.clamped_to(&self.caps);
        let bounds = SandboxLimits {
            memory_bytes: limits.template_memory_bytes,
            wall_time_ms: WALL_TIME.as_millis() as u64,
            fuel: None,
            output_bytes: limits.template_output_bytes,
            stdio_bytes: 4 << 10,
            log_bytes: 4 << 10,
            http_requests: 0,
            ..limits
        };
        let report = self
            .run_within(sandbox, &invocation, &Call::Run, &bounds, None, None)
            .await;
        match report.outcome {
            StepOutcome::Complete { output } => {
                if output["run"] == false {
                    return Ok(Evaluation::Skip);
                }
                let input = output.get("input").filter(|v| !v.is_null()).cloned();
                Ok(Evaluation::Run { input })
            }
            StepOutcome::Fail { error } => Err(match error.fault {
                Some(
                    FaultKind::MemoryLimit
                    | FaultKind::Timeout
                    | FaultKind::FuelExhausted
                    | FaultKind::StackOverflow
                    | FaultKind::OutputTooLarge,
                ) => TemplateFailure::Limit(format!(
                    "the templates of step '{step}' went past a limit: {}",
                    error.message
                )),
                Some(_) => TemplateFailure::Error(format!(
                    "the templates of step '{step}' could not be evaluated: {}",
                    error.message
                )),
                None => match error.message.strip_prefix(LIMIT_PREFIX) {
                    Some(message) => TemplateFailure::Limit(message.to_owned()),
                    None => TemplateFailure::Error(error.message),
                },
            }),
            StepOutcome::Pause { .. } => Err(TemplateFailure::Error(
                "the template sandbox paused, which it never should".to_owned(),
            )),
        }
    }
}
