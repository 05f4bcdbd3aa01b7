//! The per-attempt sandbox state: WASI with nothing granted, captured stdio, the
//! memory limiter, and the host side of the `cairn:step/host` imports.

use std::sync::Arc;

use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{latest as types, latest_host as host};
use super::limits::SandboxLimits;
use super::outbound::{Outbound, OutboundHttp};
use super::types::{LogLevel, LogLine, LogSource, StepProgress};

/// Called with every progress report, as it happens.
pub type ProgressSink = Arc<dyn Fn(&StepProgress) + Send + Sync>;

/// Everything one step attempt's `Store` owns.
pub struct StepState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(super) outbound: Outbound,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
    pub(super) logs: Vec<LogLine>,
    pub(super) logs_dropped: usize,
    log_budget: usize,
    pub(super) progress: Option<StepProgress>,
    on_progress: Option<ProgressSink>,
}

impl StepState {
    pub fn new(
        limits: &SandboxLimits,
        on_progress: Option<ProgressSink>,
        outbound: Option<Arc<OutboundHttp>>,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(limits.stdio_bytes);
        let stderr = MemoryOutputPipe::new(limits.stdio_bytes);
        // WasiCtxBuilder denies by default in wasmtime 48: no preopened
        // directories, env vars, args or sockets; stdin is closed.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let memory = usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX);
        StepState {
            wasi,
            http: WasiHttpCtx::new(),
            outbound: Outbound::new(outbound, limits),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory)
                .trap_on_grow_failure(true)
                .build(),
            stdout,
            stderr,
            logs: Vec::new(),
            logs_dropped: 0,
            log_budget: limits.log_bytes,
            progress: None,
            on_progress,
        }
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl types::Host for StepState {}

impl host::Host for StepState {
    fn log(&mut self, level: host::Level, message: String) {
        if message.len() > self.log_budget {
            self.logs_dropped += 1;
            return;
        }
        self.log_budget -= message.len();
        let level = match level {
            host::Level::Trace => LogLevel::Trace,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        };
        self.logs.push(LogLine {
            level,
            message,
            source: LogSource::Plugin,
        });
    }

    fn progress(&mut self, percent: u8, action: String) {
        let mut action = action;
        truncate_utf8(&mut action, 1024);
        if let Some(access) = self.outbound.access() {
            access.scrubber.scrub(&mut action);
        }
        let progress = StepProgress {
            percent: percent.min(100),
            action,
        };
        if let Some(sink) = &self.on_progress {
            sink(&progress);
        }
        self.progress = Some(progress);
    }
}

/// Shortens `text` to at most `max` bytes on a character boundary.
pub(super) fn truncate_utf8(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}
