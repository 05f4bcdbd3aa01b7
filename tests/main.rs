//! The black-box tests, in one binary (one link of wasmtime instead of one per
//! file): the engine and its hostile fixtures, durable runs, crash recovery, the
//! state machine property test, the HTTP API, and the command line.

mod common;

mod api;
mod approvals;
mod architecture;
mod authoring;
mod batches;
mod cli;
mod crash;
mod dashboard;
mod egress;
mod engine;
mod faults;
mod hardening;
mod language;
mod notifications;
mod openapi;
mod planner;
mod postgres;
mod remote_cli;
mod retention;
mod runs;
mod schedules;
mod security;
mod state_machine;
mod uploads;
mod wit_versions;
