//! Turns the ways a plugin can go wrong (traps, limits, broken JSON contracts)
//! into one readable, classified step failure.

use wasmtime::Trap;

use super::limits::SandboxLimits;
use super::types::{FaultKind, StepError};

/// A plugin fault: the host stopped the plugin or refused what it returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepFault {
    #[error("step exceeded its wall-time limit of {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    #[error("step exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit { limit_bytes: u64 },
    #[error("step used up its CPU budget (fuel)")]
    FuelExhausted,
    #[error("step overflowed its stack (unbounded recursion?)")]
    StackOverflow,
    #[error("plugin panicked: {message}")]
    Panic { message: String },
    #[error("plugin trapped: {message}")]
    Trap { message: String },
    #[error("plugin wrote more than {limit_bytes} bytes to {stream}")]
    StdioLimit {
        stream: &'static str,
        limit_bytes: usize,
    },
    #[error("the plugin's {what} is {size} bytes, over the limit of {limit} bytes")]
    OutputTooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("the plugin's {what} is not valid JSON: {detail}")]
    InvalidOutput { what: &'static str, detail: String },
    #[error("the host has no sandbox free for this step: {detail}")]
    Capacity { detail: String },
}

impl StepFault {
    pub fn kind(&self) -> FaultKind {
        match self {
            StepFault::Timeout { .. } => FaultKind::Timeout,
            StepFault::MemoryLimit { .. } => FaultKind::MemoryLimit,
            StepFault::FuelExhausted => FaultKind::FuelExhausted,
            StepFault::StackOverflow => FaultKind::StackOverflow,
            StepFault::Panic { .. } => FaultKind::Panic,
            StepFault::Trap { .. } => FaultKind::Trap,
            StepFault::StdioLimit { .. } => FaultKind::StdioLimit,
            StepFault::OutputTooLarge { .. } => FaultKind::OutputTooLarge,
            StepFault::InvalidOutput { .. } => FaultKind::InvalidOutput,
            StepFault::Capacity { .. } => FaultKind::Capacity,
        }
    }

    /// Whether trying again may help: a slow remote or a busy host may be better
    /// next time; a plugin that traps or breaks the contract will do it again.
    pub fn retryable(&self) -> bool {
        matches!(self, StepFault::Timeout { .. } | StepFault::Capacity { .. })
    }

    pub fn into_step_error(self) -> StepError {
        StepError {
            message: self.to_string(),
            retryable: self.retryable(),
            fault: Some(self.kind()),
        }
    }
}

/// What was captured from the attempt, consulted to explain an error.
pub(super) struct Evidence<'a> {
    pub stdout_len: usize,
    pub stderr: &'a [u8],
}

/// Classifies an error returned by a call into the guest.
pub(super) fn classify(
    error: &wasmtime::Error,
    limits: &SandboxLimits,
    evidence: &Evidence<'_>,
) -> StepFault {
    let chain = format!("{error:#}");
    if chain.contains("write beyond capacity of MemoryOutputPipe")
        || evidence.stdout_len >= limits.stdio_bytes
    {
        let stream = if evidence.stdout_len >= limits.stdio_bytes {
            "stdout"
        } else {
            "stderr"
        };
        return StepFault::StdioLimit {
            stream,
            limit_bytes: limits.stdio_bytes,
        };
    }
    if evidence.stderr.len() >= limits.stdio_bytes {
        return StepFault::StdioLimit {
            stream: "stderr",
            limit_bytes: limits.stdio_bytes,
        };
    }
    if chain.contains("forcing trap when growing memory") {
        return StepFault::MemoryLimit {
            limit_bytes: limits.memory_bytes,
        };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => StepFault::Timeout { limit_ms: limits.wall_time_ms },
        Some(Trap::OutOfFuel) => StepFault::FuelExhausted,
        Some(Trap::StackOverflow) => StepFault::StackOverflow,
        Some(Trap::UnreachableCodeReached) => match panic_message(evidence.stderr) {
            Some(message) => StepFault::Panic { message },
            None => StepFault::Trap { message: "unreachable code reached (the plugin aborted)".to_owned() },
        },
        Some(Trap::MemoryOutOfBounds) => StepFault::Trap {
            message: "out-of-bounds memory access (a Rust guest overflowing its stack also ends this way)"
                .to_owned(),
        },
        Some(trap) => StepFault::Trap { message: trap.to_string() },
        None => StepFault::Trap { message: first_line(&chain) },
    }
}

/// The guest's own account of why it aborted, from its captured stderr: a
/// Python exception (componentize-py prints the traceback, then panics), a
/// JavaScript exception (StarlingMonkey prints its message and stack, then
/// aborts), or a Rust panic.
fn panic_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    python_exception(&text)
        .or_else(|| javascript_exception(&text))
        .or_else(|| rust_panic(&text))
}

/// The last line of the last Python traceback (`ValueError: ...`), with the
/// innermost frame's file and line; componentize-py's `/0/` directory prefix
/// (the first Python path) is left out.
fn python_exception(text: &str) -> Option<String> {
    let start = text.rfind("Traceback (most recent call last):")?;
    let mut location = None;
    let mut message = Vec::new();
    for line in text[start..].lines().skip(1) {
        if let Some(frame) = line.strip_prefix("  File \"") {
            let (file, rest) = frame.split_once('"')?;
            let file = file.trim_start_matches('/');
            let file = match file.split_once('/') {
                Some((mount, path)) if mount.bytes().all(|b| b.is_ascii_digit()) => path,
                _ => file,
            };
            let line_number = rest.strip_prefix(", line ")?.split(',').next()?;
            location = Some(format!("{file}, line {line_number}"));
        } else if line.starts_with(' ') && message.is_empty() {
            // A frame's source line.
        } else if line.trim().is_empty() || line.starts_with("thread '") {
            break;
        } else {
            message.push(line.trim());
        }
    }
    if message.is_empty() {
        return None;
    }
    let message = message.join(" ");
    Some(match location {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    })
}

/// A JavaScript exception's message: StarlingMonkey prints it, then `Stack:`
/// and the frames, then aborts.
fn javascript_exception(text: &str) -> Option<String> {
    if !text.contains("mozalloc_abort") {
        return None;
    }
    let stack = text.rfind("\nStack:\n")?;
    let before = &text[..stack];
    let message = before[before.rfind("\n\n").map_or(0, |at| at + 2)..].trim();
    (!message.is_empty()).then(|| message.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A Rust panic report (`thread '...' panicked at FILE:LINE:COL:\nMESSAGE`),
/// as `MESSAGE (at FILE:LINE:COL)`.
fn rust_panic(text: &str) -> Option<String> {
    let start = text.rfind("panicked at ")?;
    let mut lines = text[start + "panicked at ".len()..].lines();
    let location = lines.next()?.trim_end_matches(':').to_owned();
    let mut message = String::new();
    for line in lines.take_while(|line| !line.starts_with("note: ")) {
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(line.trim());
    }
    Some(format!("{message} (at {location})"))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("unknown error").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_taken_from_rust_stderr() {
        let stderr = b"\nthread '<unnamed>' panicked at src/lib.rs:10:5:\nboom: it broke\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("boom: it broke (at src/lib.rs:10:5)")
        );
        assert_eq!(panic_message(b"just some output"), None);
    }

    #[test]
    fn a_python_exception_is_its_tracebacks_last_line() {
        // As componentize-py 0.25 leaves it: the traceback, then its own panic.
        let stderr = b"Traceback (most recent call last):\n  File \"/1/cairn_sdk/__init__.py\", line 225, in run\n  File \"/0/app.py\", line 13, in run\n    raise ValueError(\"the text says boom\")\nValueError: the text says boom\n\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1280:25:\nPython function threw an unexpected exception\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("ValueError: the text says boom (at app.py, line 13)")
        );
    }

    #[test]
    fn a_javascript_exception_is_its_message() {
        // As componentize-js 0.23 (StarlingMonkey) leaves it.
        let stderr = b"RangeError: the text says boom\nStack:\n  run@bundle.js:156:38\n  outcome@bundle.js:84:16\n\nRedirecting call to abort() to mozalloc_abort\n\n";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("RangeError: the text says boom")
        );
    }
}
