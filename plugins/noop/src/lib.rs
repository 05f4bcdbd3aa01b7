//! `noop`: completes with its input unchanged. Used by benchmarks and tests, and as a
//! placeholder step while a workflow is being drafted.

use cairn_sdk::{Context, Error, Info, Outcome, Step, Value, export_step};

struct Noop;

impl Step for Noop {
    type Config = Value;
    type Input = Value;
    type Checkpoint = ();

    fn info() -> Info {
        Info::new(
            "noop",
            env!("CARGO_PKG_VERSION"),
            "Completes with its input unchanged.",
        )
    }

    fn run(_ctx: &Context, _config: Value, input: Value) -> Result<Outcome, Error> {
        Ok(Outcome::Complete(input))
    }
}

export_step!(Noop);
