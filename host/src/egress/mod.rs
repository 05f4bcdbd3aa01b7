//! Everything that leaves the host over HTTP passes through here: the
//! allow-lists ([`policy`]), the guard on the addresses names resolve to
//! ([`address`]), the one client that connects only where both allow
//! ([`client`]), and the secret placeholders and scrubbing ([`secrets`]).
//!
//! Plugins' `wasi:http` requests, webhooks and (later) the planner all go
//! through [`client::send`]; nothing else in the host opens an outbound HTTP
//! connection. Knows nothing of wasmtime, SQL or HTTP servers.

pub mod address;
pub mod client;
pub mod policy;
pub mod secrets;

pub use policy::{
    Denial, EgressPolicy, GrantRule, HostPattern, HttpGrant, Rules, Target, TenantPolicy,
    canonical_path, default_port,
};
pub use secrets::{Scrubber, Unfilled, check_secret_name, placeholder, substitute};
