//! Write Cairn step plugins in Rust.
//!
//! A step type is one implementation of [`Step`] and one [`export_step!`] call:
//!
//! ```
//! use cairn_sdk::{export_step, json, Context, Error, Info, Outcome, Step, Value};
//!
//! struct Greet;
//!
//! #[derive(serde::Deserialize)]
//! struct Input { name: String }
//!
//! impl Step for Greet {
//!     type Config = Value;
//!     type Input = Input;
//!     type Checkpoint = ();
//!
//!     fn info() -> Info {
//!         Info::new("greet", "0.1.0", "Greets someone by name")
//!     }
//!
//!     fn run(ctx: &Context, _config: Value, input: Input) -> Result<Outcome, Error> {
//!         ctx.progress(50, "composing a greeting");
//!         Outcome::complete(json!({ "greeting": format!("Hello, {}!", input.name) }))
//!     }
//! }
//!
//! export_step!(Greet);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and a `cdylib` crate type;
//! the `.wasm` file in `target/wasm32-wasip2/release/` is the plugin. The SDK turns
//! the JSON config, input, checkpoint and decision into your types, and turns your
//! results and errors back into the WIT `outcome`.

// Lets the generated bindings name this crate the same way from inside and out.
extern crate self as cairn_sdk;

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use serde_json::{Value, json};

pub mod http;
#[cfg(feature = "templates")]
pub mod template;

/// The raw bindings of the `cairn:step` WIT world, for plugins that want to
/// implement the WIT interface directly (see [`export_guest!`]).
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        // The crate's own copy of `wit/cairn-step@0.2.0` (a test keeps the two
        // identical), so that the crate packages on its own.
        path: "wit",
        // The WASI imports the world declares are the `wasip2` crate's.
        with: {
            "wasi:cli/environment@0.2.12": wasip2::cli::environment,
            "wasi:cli/exit@0.2.12": wasip2::cli::exit,
            "wasi:cli/stdin@0.2.12": wasip2::cli::stdin,
            "wasi:cli/stdout@0.2.12": wasip2::cli::stdout,
            "wasi:cli/stderr@0.2.12": wasip2::cli::stderr,
            "wasi:cli/terminal-input@0.2.12": wasip2::cli::terminal_input,
            "wasi:cli/terminal-output@0.2.12": wasip2::cli::terminal_output,
            "wasi:cli/terminal-stdin@0.2.12": wasip2::cli::terminal_stdin,
            "wasi:cli/terminal-stdout@0.2.12": wasip2::cli::terminal_stdout,
            "wasi:cli/terminal-stderr@0.2.12": wasip2::cli::terminal_stderr,
            "wasi:io/error@0.2.12": wasip2::io::error,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasip2::filesystem::types,
            "wasi:filesystem/preopens@0.2.12": wasip2::filesystem::preopens,
            "wasi:sockets/network@0.2.12": wasip2::sockets::network,
            "wasi:sockets/instance-network@0.2.12": wasip2::sockets::instance_network,
            "wasi:sockets/udp@0.2.12": wasip2::sockets::udp,
            "wasi:sockets/udp-create-socket@0.2.12": wasip2::sockets::udp_create_socket,
            "wasi:sockets/tcp@0.2.12": wasip2::sockets::tcp,
            "wasi:sockets/tcp-create-socket@0.2.12": wasip2::sockets::tcp_create_socket,
            "wasi:sockets/ip-name-lookup@0.2.12": wasip2::sockets::ip_name_lookup,
            "wasi:random/random@0.2.12": wasip2::random::random,
            "wasi:random/insecure@0.2.12": wasip2::random::insecure,
            "wasi:random/insecure-seed@0.2.12": wasip2::random::insecure_seed,
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
        },
        pub_export_macro: true,
        export_macro_name: "__export_plugin",
        default_bindings_module: "cairn_sdk::bindings",
        runtime_path: "cairn_sdk::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

use bindings::cairn::step::host;
use bindings::cairn::step::types;

/// What a step type says about itself.
#[derive(Debug, Clone)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config_schema: Option<Value>,
    pub input_schema: Option<Value>,
    pub output_schema: Option<Value>,
    /// Who sees what the step does, for a step that publishes or sends
    /// something to an audience; see [`Info::audience`].
    pub audience: Option<String>,
}

impl Info {
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Info {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            config_schema: None,
            input_schema: None,
            output_schema: None,
            audience: None,
        }
    }

    /// Declares that the step publishes or sends something that `who` sees
    /// (e.g. "the site's readers"): planned workflows put a review gate before
    /// it, and the host warns about hand-written workflows that do not.
    pub fn audience(mut self, who: &str) -> Self {
        self.audience = Some(who.to_owned());
        self
    }

    /// JSON Schema that the step's config must satisfy; the host checks workflow
    /// definitions against it before any run starts.
    pub fn config_schema(mut self, schema: Value) -> Self {
        self.config_schema = Some(schema);
        self
    }

    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = Some(schema);
        self
    }

    pub fn output_schema(mut self, schema: Value) -> Self {
        self.output_schema = Some(schema);
        self
    }
}

/// Which call of which step this is, and the host functions available to it.
#[derive(Debug, Clone)]
pub struct Context {
    pub run_id: String,
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The same for every attempt of this step in this run: hand it to external
    /// systems so that a retried call does not act twice.
    pub idempotency_key: String,
}

/// Severity of a log line.
pub use host::Level;

impl Context {
    /// Records a log line with this step attempt.
    pub fn log(&self, level: Level, message: &str) {
        host::log(level, message);
    }

    /// Reports progress within this step (0 to 100) and what it is doing now.
    pub fn progress(&self, percent: u8, action: &str) {
        host::progress(percent, action);
    }
}

/// What a paused step waits for.
#[derive(Debug, Clone)]
pub struct PendingAction {
    /// E.g. `approval`.
    pub kind: String,
    pub message: String,
    /// Allowed decisions; empty for free-form input checked by `input_schema`.
    pub options: Vec<String>,
    pub input_schema: Option<Value>,
    /// Shown with the question, e.g. the draft to review.
    pub data: Value,
}

/// How a step call ended, when it did not fail. `C` is the step's
/// [`Step::Checkpoint`]: what a pause keeps for its resume.
#[derive(Debug, Clone)]
pub enum Outcome<C = ()> {
    Complete(Value),
    Pause {
        action: PendingAction,
        checkpoint: C,
    },
}

impl<C> Outcome<C> {
    /// The step finished with this output.
    pub fn complete(output: impl Serialize) -> Result<Outcome<C>, Error> {
        let output = serde_json::to_value(output)
            .map_err(|e| Error::fatal(format!("cannot serialise the output: {e}")))?;
        Ok(Outcome::Complete(output))
    }

    /// The step waits for a decision; `checkpoint` comes back, as it was, to
    /// [`Step::resume`] with the decision.
    pub fn pause(action: PendingAction, checkpoint: C) -> Result<Outcome<C>, Error> {
        Ok(Outcome::Pause { action, checkpoint })
    }
}

/// Why a step failed. Any `std::error::Error` converts into a non-retryable one,
/// so `?` works on I/O, parsing and similar errors.
#[derive(Debug, Clone)]
pub struct Error {
    pub message: String,
    pub retryable: bool,
}

impl Error {
    /// A failure that trying again will not fix.
    pub fn fatal(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure that may go away when tried again later (rate limit, timeout).
    pub fn retryable(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            retryable: true,
        }
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        Error::fatal(error.to_string())
    }
}

/// A step type.
pub trait Step {
    /// The step's configuration; `serde_json::Value` when it takes any.
    type Config: DeserializeOwned;
    /// The step's input; `serde_json::Value` when it takes any.
    type Input: DeserializeOwned;
    /// What a pause keeps for its resume: [`Outcome::pause`] takes it and
    /// [`Step::resume`] gets it back, stored by the host in between. `()` for
    /// a step type that never pauses.
    type Checkpoint: Serialize + DeserializeOwned;

    /// Name, version, description and schemas.
    fn info() -> Info;

    /// Runs the step.
    fn run(
        ctx: &Context,
        config: Self::Config,
        input: Self::Input,
    ) -> Result<Outcome<Self::Checkpoint>, Error>;

    /// Continues after a pause with the decision that was made. Step types that
    /// never pause keep this default.
    fn resume(
        ctx: &Context,
        config: Self::Config,
        input: Self::Input,
        checkpoint: Self::Checkpoint,
        decision: Value,
    ) -> Result<Outcome<Self::Checkpoint>, Error> {
        let _ = (ctx, config, input, checkpoint, decision);
        Err(Error::fatal(
            "this step type never pauses, so it cannot be resumed",
        ))
    }
}

/// Exports a [`Step`] implementation as the plugin's `cairn:step/step` interface.
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        type __CairnStepExport = $crate::Adapter<$step>;
        $crate::bindings::__export_plugin!(__CairnStepExport with_types_in $crate::bindings);
    };
}

/// Exports a type implementing the raw WIT `Guest` trait
/// (`cairn_sdk::bindings::exports::cairn::step::step::Guest`).
#[macro_export]
macro_rules! export_guest {
    ($guest:ident) => {
        $crate::bindings::__export_plugin!($guest with_types_in $crate::bindings);
    };
}

/// Connects a [`Step`] to the WIT bindings; used by [`export_step!`].
#[doc(hidden)]
pub struct Adapter<S>(PhantomData<S>);

impl<S: Step> bindings::exports::cairn::step::step::Guest for Adapter<S> {
    fn describe() -> types::StepInfo {
        let info = S::info();
        types::StepInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            config_schema: info.config_schema.map(|s| s.to_string()),
            input_schema: info.input_schema.map(|s| s.to_string()),
            output_schema: info.output_schema.map(|s| s.to_string()),
            audience: info.audience,
        }
    }

    fn run(call: types::Invocation) -> types::Outcome {
        let result =
            decode::<S>(&call).and_then(|(ctx, config, input)| S::run(&ctx, config, input));
        encode(result)
    }

    fn resume(call: types::Invocation, checkpoint: String, decision: String) -> types::Outcome {
        let result = decode::<S>(&call).and_then(|(ctx, config, input)| {
            let checkpoint = parse("checkpoint", &checkpoint)?;
            let decision = parse("decision", &decision)?;
            S::resume(&ctx, config, input, checkpoint, decision)
        });
        encode(result)
    }
}

fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::fatal(format!("invalid {what}: {e}")))
}

fn decode<S: Step>(call: &types::Invocation) -> Result<(Context, S::Config, S::Input), Error> {
    let config = parse("config", &call.config)?;
    let input = parse("input", &call.input)?;
    let ctx = Context {
        run_id: call.run_id.clone(),
        step: call.step.clone(),
        attempt: call.attempt,
        idempotency_key: call.idempotency_key.clone(),
    };
    Ok((ctx, config, input))
}

fn encode<C: Serialize>(result: Result<Outcome<C>, Error>) -> types::Outcome {
    let result = result.and_then(|outcome| match outcome {
        Outcome::Complete(output) => Ok(Outcome::Complete(output)),
        Outcome::Pause { action, checkpoint } => serde_json::to_value(checkpoint)
            .map(|checkpoint| Outcome::Pause { action, checkpoint })
            .map_err(|e| Error::fatal(format!("cannot serialise the checkpoint: {e}"))),
    });
    match result {
        Ok(Outcome::Complete(output)) => types::Outcome::Complete(output.to_string()),
        Ok(Outcome::Pause { action, checkpoint }) => types::Outcome::Pause(types::Pause {
            action: types::PendingAction {
                kind: action.kind,
                message: action.message,
                options: action.options,
                input_schema: action.input_schema.map(|s| s.to_string()),
                data: action.data.to_string(),
            },
            checkpoint: checkpoint.to_string(),
        }),
        Err(error) => types::Outcome::Fail(types::StepError {
            message: error.message,
            retryable: error.retryable,
        }),
    }
}
