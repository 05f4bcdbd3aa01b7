//! The one `bindgen!` call site: host-side bindings of every released
//! `cairn:step` version this host runs, each from its frozen directory under
//! `wit/`, and the seam between them: a plugin is pre-instantiated with the
//! bindings of the version it was built against, and everything past this
//! file speaks the latest version's types (an older plugin's are converted
//! here; what it cannot say, such as a 0.1 plugin's audience, is `none`).

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{AsContextMut, Store};

use super::sandbox::StepState;

/// `cairn:step@0.1.0`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/cairn-step@0.1.0",
        exports: { default: async },
    });
}

/// `cairn:step@0.2.0`: `step-info.audience`, and a world that declares the
/// WASI and `wasi:http` imports (linked from wasmtime-wasi, never generated
/// here).
pub mod v0_2 {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/cairn-step@0.2.0",
        exports: { default: async },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

/// The latest version's types, which the rest of the engine speaks.
pub use v0_2::cairn::step::{host as latest_host, types as latest};

/// The versions this host runs, newest first: a plugin is accepted when its
/// `cairn:step/step` export is of one of these release lines.
pub const VERSIONS: &[&str] = &["0.2.0", "0.1.0"];

/// Adds the host's side of every version's `cairn:step` imports.
pub fn add_to_linker(linker: &mut Linker<StepState>) -> wasmtime::Result<()> {
    v0_1::cairn::step::types::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    v0_1::cairn::step::host::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    v0_2::cairn::step::types::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
    v0_2::cairn::step::host::add_to_linker::<_, HasSelf<_>>(linker, |state| state)
}

/// A plugin, pre-instantiated with its version's bindings.
pub enum StepPre {
    V0_1(v0_1::PluginPre<StepState>),
    V0_2(v0_2::PluginPre<StepState>),
}

/// One call into a guest, in the latest version's types.
pub enum GuestCall {
    Describe,
    Run(latest::Invocation),
    Resume(latest::Invocation, String, String),
}

pub enum GuestReturn {
    Info(latest::StepInfo),
    Outcome(latest::Outcome),
}

impl StepPre {
    /// `pre` with the bindings of `version` (one of [`VERSIONS`]' lines).
    pub fn new(version: &str, pre: InstancePre<StepState>) -> wasmtime::Result<StepPre> {
        if version.starts_with("0.1.") {
            Ok(StepPre::V0_1(v0_1::PluginPre::new(pre)?))
        } else {
            Ok(StepPre::V0_2(v0_2::PluginPre::new(pre)?))
        }
    }

    /// Instantiates the plugin in `store` and makes `call`. The error says
    /// whether it came while instantiating (`true`) or from the call.
    pub async fn call(
        &self,
        store: &mut Store<StepState>,
        call: &GuestCall,
    ) -> Result<GuestReturn, (wasmtime::Error, bool)> {
        match self {
            StepPre::V0_2(pre) => {
                let plugin = pre
                    .instantiate_async(store.as_context_mut())
                    .await
                    .map_err(|e| (e, true))?;
                let step = plugin.cairn_step_step();
                match call {
                    GuestCall::Describe => step.call_describe(store).await.map(GuestReturn::Info),
                    GuestCall::Run(invocation) => step
                        .call_run(store, invocation)
                        .await
                        .map(GuestReturn::Outcome),
                    GuestCall::Resume(invocation, checkpoint, decision) => step
                        .call_resume(store, invocation, checkpoint, decision)
                        .await
                        .map(GuestReturn::Outcome),
                }
                .map_err(|e| (e, false))
            }
            StepPre::V0_1(pre) => {
                use v0_1::cairn::step::types as old;
                let plugin = pre
                    .instantiate_async(store.as_context_mut())
                    .await
                    .map_err(|e| (e, true))?;
                let step = plugin.cairn_step_step();
                let invocation = |i: &latest::Invocation| old::Invocation {
                    run_id: i.run_id.clone(),
                    step: i.step.clone(),
                    attempt: i.attempt,
                    idempotency_key: i.idempotency_key.clone(),
                    config: i.config.clone(),
                    input: i.input.clone(),
                };
                match call {
                    GuestCall::Describe => step
                        .call_describe(store)
                        .await
                        .map(|info| GuestReturn::Info(info_of_0_1(info))),
                    GuestCall::Run(i) => step
                        .call_run(store, &invocation(i))
                        .await
                        .map(|o| GuestReturn::Outcome(outcome_of_0_1(o))),
                    GuestCall::Resume(i, checkpoint, decision) => step
                        .call_resume(store, &invocation(i), checkpoint, decision)
                        .await
                        .map(|o| GuestReturn::Outcome(outcome_of_0_1(o))),
                }
                .map_err(|e| (e, false))
            }
        }
    }
}

fn info_of_0_1(info: v0_1::cairn::step::types::StepInfo) -> latest::StepInfo {
    latest::StepInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        config_schema: info.config_schema,
        input_schema: info.input_schema,
        output_schema: info.output_schema,
        audience: None,
    }
}

fn outcome_of_0_1(outcome: v0_1::cairn::step::types::Outcome) -> latest::Outcome {
    use v0_1::cairn::step::types::Outcome as Old;
    match outcome {
        Old::Complete(output) => latest::Outcome::Complete(output),
        Old::Pause(pause) => latest::Outcome::Pause(latest::Pause {
            action: latest::PendingAction {
                kind: pause.action.kind,
                message: pause.action.message,
                options: pause.action.options,
                input_schema: pause.action.input_schema,
                data: pause.action.data,
            },
            checkpoint: pause.checkpoint,
        }),
        Old::Fail(error) => latest::Outcome::Fail(latest::StepError {
            message: error.message,
            retryable: error.retryable,
        }),
    }
}

impl v0_1::cairn::step::types::Host for StepState {}

/// A 0.1 plugin's log lines and progress go where a 0.2 plugin's do.
impl v0_1::cairn::step::host::Host for StepState {
    fn log(&mut self, level: v0_1::cairn::step::host::Level, message: String) {
        use v0_1::cairn::step::host::Level as Old;
        let level = match level {
            Old::Trace => latest_host::Level::Trace,
            Old::Debug => latest_host::Level::Debug,
            Old::Info => latest_host::Level::Info,
            Old::Warn => latest_host::Level::Warn,
            Old::Error => latest_host::Level::Error,
        };
        latest_host::Host::log(self, level, message);
    }

    fn progress(&mut self, percent: u8, action: String) {
        latest_host::Host::progress(self, percent, action);
    }
}
