//! Exit codes: a run's end, or the class of what went wrong, so that a script
//! can tell "the run failed" from "no such run" from "the server is down".

use std::process::ExitCode;

use cairn::run::RunStatus;

/// The table `cairn --help` ends with; the README repeats it.
pub const HELP: &str = "\
Exit codes:
  0  done; a run completed
  1  a run failed, or the command failed for another reason
  2  a run was cancelled or timed out
  3  a run paused (with --until-paused; a local `run` or `resume` always stops there)
  4  the wait ended while the run was still going
  5  usage: bad arguments, or the server refused the request as invalid (400, 413, 415, 422)
  6  not found (404)
  7  conflict (409): the run ended already, a name is ambiguous, a policy forbids it
  8  refused (401, 403, 429): the key, its rights, or a quota
  9  the server failed (5xx) or could not be reached";

/// The class of a failed command, as its exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Usage = 5,
    NotFound = 6,
    Conflict = 7,
    Refused = 8,
    Server = 9,
}

impl Class {
    /// The class of an HTTP error status.
    pub fn of_status(status: u16) -> Class {
        match status {
            400 | 405 | 413 | 415 | 422 => Class::Usage,
            404 | 410 => Class::NotFound,
            409 => Class::Conflict,
            401 | 403 | 429 => Class::Refused,
            _ => Class::Server,
        }
    }
}

impl Class {
    /// The class of the runner's refusal (as the API would answer it).
    pub fn of_refusal(error: &cairn::runner::RunError) -> Class {
        use cairn::runner::RunError;
        match error {
            RunError::NotFound => Class::NotFound,
            RunError::Invalid(_) | RunError::Rejected(_) | RunError::NotActive(_) => Class::Usage,
            RunError::Conflict(_) | RunError::Illegal(_) => Class::Conflict,
            RunError::QuotaExceeded(_) => Class::Refused,
            RunError::Store(_) => Class::Server,
        }
    }
}

/// An error with its class: `main` exits with the class's code.
#[derive(Debug)]
pub struct Failure {
    pub class: Class,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// `error` as a usage failure (it keeps its message and causes).
pub fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Failure {
        class: Class::Usage,
        message: format!("{error:#}"),
    })
}

/// A failure of `class` saying `message`.
pub fn failure(class: Class, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        class,
        message: message.into(),
    })
}

/// The exit code a command that failed with `error` ends with.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    match error.downcast_ref::<Failure>() {
        Some(failure) => ExitCode::from(failure.class as u8),
        None => ExitCode::FAILURE,
    }
}

/// Code 4: still going when the wait ended.
pub const UNSETTLED: u8 = 4;

/// The exit code for a run that ended (or stopped) in `status`; a run that
/// failed because a deadline passed (`timed_out`) counts as stopped.
pub fn of_run(status: RunStatus, timed_out: bool) -> ExitCode {
    ExitCode::from(match status {
        RunStatus::Completed => 0,
        RunStatus::Failed if timed_out => 2,
        RunStatus::Failed => 1,
        RunStatus::Cancelled => 2,
        RunStatus::Paused => 3,
        RunStatus::Pending | RunStatus::Running => UNSETTLED,
    })
}

/// [`of_run`] for a run as the API shows it.
pub fn of_view(view: &serde_json::Value) -> ExitCode {
    match status_of(view) {
        Some(status) => of_run(status, view["error"]["reason"] == "timed_out"),
        None => ExitCode::FAILURE,
    }
}

/// The status of a run as the API shows it.
pub fn status_of(view: &serde_json::Value) -> Option<RunStatus> {
    serde_json::from_value(view["status"].clone()).ok()
}
