//! The clock and ids every layer shares: Unix milliseconds, RFC 3339 text for
//! the API, and time-ordered ids. Depends on nothing else in the crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A new id: a UUID v7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Unix milliseconds of an RFC 3339 time (`2026-12-24T09:00:00Z`,
/// `2026-12-24T10:00:00+01:00`); `None` when it is not one.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.timestamp_millis())
}
