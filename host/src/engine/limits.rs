//! Per-attempt sandbox limits, and the operator's caps that no tenant or step
//! setting may exceed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Limits applied to one step attempt. Defaults follow DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxLimits {
    /// Linear memory, in bytes, across the plugin's memories.
    pub memory_bytes: u64,
    /// Wall time for one call, in milliseconds.
    pub wall_time_ms: u64,
    /// CPU budget in fuel units; only enforced when the engine meters fuel.
    pub fuel: Option<u64>,
    /// Largest output (and pending action) in bytes of JSON.
    pub output_bytes: usize,
    /// Largest checkpoint in bytes of JSON.
    pub checkpoint_bytes: usize,
    /// Captured stdout, and separately stderr; writing past it stops the plugin.
    pub stdio_bytes: usize,
    /// Total bytes of `log` lines kept per attempt; later lines are dropped.
    pub log_bytes: usize,
    /// Outgoing HTTP requests one attempt may send; later ones are refused.
    pub http_requests: u32,
    /// The largest HTTP response body one request may read, in bytes.
    pub http_response_bytes: u64,
    /// Time for one HTTP request to connect and to produce its first byte,
    /// and the longest pause between bytes, in milliseconds.
    pub http_timeout_ms: u64,
    /// Template instructions (minijinja fuel) one evaluation of a step's
    /// `when` and `input` may run.
    pub template_fuel: u64,
    /// Memory the sandbox that evaluates a step's templates may use.
    pub template_memory_bytes: u64,
    /// The largest rendered input of a step, in bytes of JSON.
    pub template_output_bytes: usize,
}

const MIB: u64 = 1 << 20;

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 64 * MIB,
            wall_time_ms: 30_000,
            fuel: None,
            output_bytes: 1 << 20,
            checkpoint_bytes: 1 << 20,
            stdio_bytes: 64 << 10,
            log_bytes: 64 << 10,
            http_requests: 32,
            http_response_bytes: 8 * MIB,
            http_timeout_ms: 30_000,
            template_fuel: 1_000_000,
            template_memory_bytes: 32 * MIB,
            template_output_bytes: 4 << 20,
        }
    }
}

impl SandboxLimits {
    pub fn wall_time(&self) -> Duration {
        Duration::from_millis(self.wall_time_ms)
    }

    /// These limits, lowered where they exceed `caps`.
    pub fn clamped_to(&self, caps: &SandboxLimits) -> SandboxLimits {
        SandboxLimits {
            memory_bytes: self.memory_bytes.min(caps.memory_bytes),
            wall_time_ms: self.wall_time_ms.min(caps.wall_time_ms),
            fuel: match (self.fuel, caps.fuel) {
                (Some(own), Some(cap)) => Some(own.min(cap)),
                (own, cap) => own.or(cap),
            },
            output_bytes: self.output_bytes.min(caps.output_bytes),
            checkpoint_bytes: self.checkpoint_bytes.min(caps.checkpoint_bytes),
            stdio_bytes: self.stdio_bytes.min(caps.stdio_bytes),
            log_bytes: self.log_bytes.min(caps.log_bytes),
            http_requests: self.http_requests.min(caps.http_requests),
            http_response_bytes: self.http_response_bytes.min(caps.http_response_bytes),
            http_timeout_ms: self.http_timeout_ms.min(caps.http_timeout_ms),
            template_fuel: self.template_fuel.min(caps.template_fuel),
            template_memory_bytes: self.template_memory_bytes.min(caps.template_memory_bytes),
            template_output_bytes: self.template_output_bytes.min(caps.template_output_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamping_never_raises_a_limit() {
        let caps = SandboxLimits {
            memory_bytes: 32 * MIB,
            fuel: Some(1000),
            ..Default::default()
        };
        let asked = SandboxLimits {
            memory_bytes: 128 * MIB,
            wall_time_ms: 5,
            fuel: None,
            ..Default::default()
        };
        let got = asked.clamped_to(&caps);
        assert_eq!(got.memory_bytes, 32 * MIB);
        assert_eq!(got.wall_time_ms, 5);
        assert_eq!(got.fuel, Some(1000));
        let asked = SandboxLimits {
            fuel: Some(10),
            ..Default::default()
        };
        assert_eq!(asked.clamped_to(&caps).fuel, Some(10));
    }
}
