//! The host's view of the WIT types: step descriptions, invocations and outcomes
//! with JSON already parsed, so that nothing past the engine handles JSON text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a plugin says about itself (`describe()`), checked at load.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: Option<Value>,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    /// Who sees what the step does, for a step that publishes or sends
    /// something to an audience (WIT 0.2 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

/// One call of a step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invocation {
    pub run_id: String,
    pub step: String,
    pub attempt: u32,
    pub idempotency_key: String,
    pub config: Value,
    pub input: Value,
}

impl Invocation {
    /// A first attempt, with the idempotency key derived as `run_id/step`.
    pub fn first(run_id: &str, step: &str, config: Value, input: Value) -> Self {
        Invocation {
            run_id: run_id.to_owned(),
            step: step.to_owned(),
            attempt: 1,
            idempotency_key: format!("{run_id}/{step}"),
            config,
            input,
        }
    }
}

/// Which export to call.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Run,
    Resume { checkpoint: Value, decision: Value },
}

/// What a paused step waits for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingAction {
    pub kind: String,
    pub message: String,
    pub options: Vec<String>,
    pub input_schema: Option<Value>,
    pub data: Value,
}

/// Why a step failed. `fault` is set when the host stopped the plugin (a limit,
/// a trap, a broken contract) rather than the plugin reporting a failure itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
}

/// The kinds of plugin fault, stable names for metrics and API clients.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Timeout,
    MemoryLimit,
    FuelExhausted,
    StackOverflow,
    Panic,
    Trap,
    StdioLimit,
    OutputTooLarge,
    InvalidOutput,
    Capacity,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Timeout => "timeout",
            FaultKind::MemoryLimit => "memory_limit",
            FaultKind::FuelExhausted => "fuel_exhausted",
            FaultKind::StackOverflow => "stack_overflow",
            FaultKind::Panic => "panic",
            FaultKind::Trap => "trap",
            FaultKind::StdioLimit => "stdio_limit",
            FaultKind::OutputTooLarge => "output_too_large",
            FaultKind::InvalidOutput => "invalid_output",
            FaultKind::Capacity => "capacity",
        }
    }
}

/// How a step attempt ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    Complete {
        output: Value,
    },
    Pause {
        pending_action: PendingAction,
        checkpoint: Value,
    },
    Fail {
        error: StepError,
    },
}

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
    #[serde(default)]
    pub source: LogSource,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Who wrote a log line: the plugin through `log`, or the host about the step
/// (a refused request, say).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    #[default]
    Plugin,
    Host,
}

impl LogSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Plugin => "plugin",
            LogSource::Host => "host",
        }
    }
}

/// Progress reported by a plugin within its step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepProgress {
    pub percent: u8,
    pub action: String,
}
