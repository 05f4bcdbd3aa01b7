//! Cron schedules: the expression (5 fields, or 6 with seconds, parsed by
//! croner), its IANA time zone (chrono-tz), and the pure planning of which slot
//! fires when the clock reads `now`. Daylight-saving changes follow the zone's
//! rules as croner applies them: a fixed time that a spring-forward skips fires
//! at the first valid time after the gap, and one that a fall-back repeats
//! fires once.

use std::str::FromStr as _;

use chrono::{DateTime, LocalResult, TimeZone as _, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::{Cron, JobType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Problem;

/// A workflow's `schedule`, as its author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// `min hour day month weekday`, or with seconds first: `*/10 * * * * *`.
    pub cron: String,
    /// IANA zone the expression is read in, e.g. `Europe/Paris`.
    #[serde(default = "utc")]
    pub timezone: String,
    /// The input of every scheduled run.
    #[serde(default = "empty_object")]
    pub input: Value,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default)]
    pub catch_up: CatchUp,
    /// A paused schedule starts nothing; resuming it starts from the next slot.
    #[serde(default)]
    pub paused: bool,
}

fn utc() -> String {
    "UTC".to_owned()
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// What a slot does while a run of the workflow is still active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Start nothing; the slot is recorded as skipped.
    #[default]
    Skip,
    /// Start when the active runs have ended.
    Queue,
    /// Start anyway.
    Allow,
}

/// What happens to the slots missed while the host was down (or late).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed slots are recorded, and start nothing.
    #[default]
    None,
    /// One run, for the latest missed slot.
    Once,
}

/// A checked schedule, ready to compute slots. Slots are Unix milliseconds.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub spec: ScheduleSpec,
    cron: Cron,
    zone: Tz,
}

/// Most slots looked at in one plan; a longer outage counts at least this many.
const MAX_SLOTS_PER_PLAN: usize = 10_000;

/// Which slots to fire now, which were missed, and when to look next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The latest slot missed while the host was down, run by catch-up `once`.
    pub catch_up: Option<i64>,
    /// The latest slot that came due while the host was up.
    pub fire: Option<i64>,
    /// Slots that came due while the host was down and start no run.
    pub missed_while_down: Option<Missed>,
    /// Slots that came due while the host was up, but were overtaken by a
    /// later one before the scheduler got to them.
    pub overtaken: Option<Missed>,
    /// The next slot after `now`, if the expression has one.
    pub next: Option<i64>,
}

/// A run of slots: the first, the last, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    pub first: i64,
    pub last: i64,
    pub count: usize,
}

impl Missed {
    fn of(slots: &[i64]) -> Option<Missed> {
        Some(Missed {
            first: *slots.first()?,
            last: *slots.last()?,
            count: slots.len(),
        })
    }
}

impl Schedule {
    /// Checks the expression and the zone; each problem names its field.
    pub fn parse(spec: &ScheduleSpec) -> Result<Schedule, Vec<Problem>> {
        let mut problems = Vec::new();
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(spec.cron.trim())
            .map_err(|e| {
                problems.push(Problem {
                    path: "/schedule/cron".into(),
                    message: format!("'{}' is not a cron expression: {e}", spec.cron),
                })
            })
            .ok();
        let zone = Tz::from_str(&spec.timezone)
            .map_err(|_| {
                problems.push(Problem {
                    path: "/schedule/timezone".into(),
                    message: format!(
                        "'{}' is not an IANA time zone (such as 'Europe/Paris' or 'UTC')",
                        spec.timezone
                    ),
                })
            })
            .ok();
        match (cron, zone) {
            (Some(cron), Some(zone)) => Ok(Schedule {
                spec: spec.clone(),
                cron,
                zone,
            }),
            _ => Err(problems),
        }
    }

    /// The first slot strictly after `after` (Unix ms). Slots are whole seconds.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let after = after.div_euclid(1000);
        // Inside a fall-back's repeated hour croner searches by wall-clock time,
        // which would miss the second pass (or go back to the first): walk
        // that hour second by second instead. An interval job matches in both
        // passes, a fixed-time job only in the first.
        let interval = self.cron.determine_job_type() == JobType::IntervalWildcard;
        let mut second = after + 1;
        loop {
            let instant = Utc
                .timestamp_opt(second, 0)
                .single()?
                .with_timezone(&self.zone);
            let LocalResult::Ambiguous(first_pass, _) =
                self.zone.from_local_datetime(&instant.naive_local())
            else {
                break;
            };
            if (interval || first_pass == instant) && self.cron.is_time_matching(&instant).ok()? {
                return Some(second * 1000);
            }
            second += 1;
        }
        let from = Utc
            .timestamp_opt(second, 0)
            .single()?
            .with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&from, true)
            .ok()
            .map(|slot| slot.timestamp() * 1000)
            .filter(|slot| *slot > after * 1000)
    }

    /// The next `count` slots after `after`.
    pub fn upcoming(&self, after: i64, count: usize) -> Vec<i64> {
        std::iter::successors(self.next_after(after), |slot| self.next_after(*slot))
            .take(count)
            .collect()
    }

    /// A slot in the schedule's zone, RFC 3339 with its offset.
    pub fn local(&self, slot: i64) -> String {
        Utc.timestamp_millis_opt(slot)
            .single()
            .map(|t: DateTime<Utc>| t.with_timezone(&self.zone).to_rfc3339())
            .unwrap_or_default()
    }

    /// What to do at `now` when the next unhandled slot is `next` and the
    /// host has been up since `up_since`. Slots that came due before then were
    /// missed while the host was down: they go by the catch-up policy. Of the
    /// slots that came due since, the latest fires; the others were overtaken.
    pub fn plan(&self, next: i64, now: i64, up_since: i64) -> Plan {
        let mut due = Vec::new();
        let mut slot = Some(next);
        while let Some(s) = slot.filter(|s| *s <= now) {
            if due.len() == MAX_SLOTS_PER_PLAN {
                break;
            }
            due.push(s);
            slot = self.next_after(s);
        }
        if due.is_empty() {
            return Plan {
                catch_up: None,
                fire: None,
                missed_while_down: None,
                overtaken: None,
                next: Some(next),
            };
        }
        let split = due.partition_point(|s| *s < up_since);
        let (mut down, up) = due.split_at(split);
        let mut catch_up = None;
        if self.spec.catch_up == CatchUp::Once
            && let Some((&last, rest)) = down.split_last()
        {
            catch_up = Some(last);
            down = rest;
        }
        let (fire, overtaken) = match up.split_last() {
            Some((&last, rest)) => (Some(last), rest),
            None => (None, up),
        };
        Plan {
            catch_up,
            fire,
            missed_while_down: Missed::of(down),
            overtaken: Missed::of(overtaken),
            next: self.next_after(now.max(*due.last().unwrap_or(&now))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, zone: &str) -> Schedule {
        Schedule::parse(&ScheduleSpec {
            cron: cron.into(),
            timezone: zone.into(),
            input: Value::Null,
            overlap: Overlap::Skip,
            catch_up: CatchUp::None,
            paused: false,
        })
        .expect("valid")
    }

    fn at(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("time")
            .timestamp_millis()
    }

    #[test]
    fn five_or_six_fields_and_named_problems() {
        assert!(Schedule::parse(&schedule("0 8 * * MON", "UTC").spec).is_ok());
        assert!(Schedule::parse(&schedule("*/10 * * * * *", "UTC").spec).is_ok());
        let mut spec = schedule("0 8 * * MON", "UTC").spec;
        spec.cron = "61 * * * *".into();
        spec.timezone = "Mars/Olympus".into();
        let problems = Schedule::parse(&spec).expect_err("invalid");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/schedule/cron", "/schedule/timezone"]);
        assert!(problems[1].message.contains("Mars/Olympus"));
    }

    #[test]
    fn weekly_slots_in_a_zone() {
        let s = schedule("0 8 * * MON", "Europe/Paris");
        // Sunday 2026-11-22 12:00 UTC: next is Monday 08:00 Paris (UTC+1).
        let slots = s.upcoming(at("2026-11-22T12:00:00Z"), 2);
        assert_eq!(
            slots.iter().map(|t| s.local(*t)).collect::<Vec<_>>(),
            ["2026-11-23T08:00:00+01:00", "2026-11-30T08:00:00+01:00"]
        );
    }

    #[test]
    fn spring_forward_fires_a_skipped_time_after_the_gap() {
        // New York skips 02:00-03:00 on 2026-03-08.
        let s = schedule("30 2 * * *", "America/New_York");
        let slots = s.upcoming(at("2026-03-07T12:00:00Z"), 3);
        assert_eq!(
            slots.iter().map(|t| s.local(*t)).collect::<Vec<_>>(),
            [
                "2026-03-08T03:00:00-04:00",
                "2026-03-09T02:30:00-04:00",
                "2026-03-10T02:30:00-04:00"
            ]
        );
    }

    #[test]
    fn fall_back_fires_a_repeated_time_once() {
        // New York repeats 01:00-02:00 on 2026-11-01.
        let s = schedule("30 1 * * *", "America/New_York");
        let slots = s.upcoming(at("2026-10-31T12:00:00Z"), 3);
        assert_eq!(
            slots.iter().map(|t| s.local(*t)).collect::<Vec<_>>(),
            [
                "2026-11-01T01:30:00-04:00",
                "2026-11-02T01:30:00-05:00",
                "2026-11-03T01:30:00-05:00"
            ]
        );
        // An hourly schedule runs in both passes through the repeated hour.
        let hourly = schedule("0 * * * *", "America/New_York");
        let hours = hourly.upcoming(at("2026-11-01T04:30:00Z"), 3);
        assert_eq!(
            hours.iter().map(|t| hourly.local(*t)).collect::<Vec<_>>(),
            [
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T02:00:00-05:00"
            ]
        );
    }

    #[test]
    fn an_every_minute_schedule_ticks_every_sixty_seconds_through_both_changes() {
        let s = schedule("* * * * *", "America/New_York");
        for start in ["2026-03-08T05:00:00Z", "2026-11-01T04:00:00Z"] {
            let slots = s.upcoming(at(start), 4 * 60);
            for pair in slots.windows(2) {
                assert_eq!(pair[1] - pair[0], 60_000, "after {}", s.local(pair[0]));
            }
        }
    }

    #[test]
    fn a_plan_fires_the_latest_slot_and_applies_catch_up_to_slots_missed_while_down() {
        let mut s = schedule("* * * * * *", "UTC");
        let t = at("2026-11-21T10:00:00Z");
        let up_since = t - 60_000;
        let none = |next| Plan {
            catch_up: None,
            fire: None,
            missed_while_down: None,
            overtaken: None,
            next,
        };
        // Nothing due yet.
        assert_eq!(s.plan(t, t - 1, up_since), none(Some(t)));
        // Due 200 ms ago: fires.
        assert_eq!(
            s.plan(t, t + 200, up_since),
            Plan {
                fire: Some(t),
                next: Some(t + 1000),
                ..none(None)
            }
        );
        // The scheduler was 2.5 s late: the latest fires, the others were overtaken.
        assert_eq!(
            s.plan(t, t + 2500, up_since),
            Plan {
                fire: Some(t + 2000),
                overtaken: Some(Missed {
                    first: t,
                    last: t + 1000,
                    count: 2
                }),
                next: Some(t + 3000),
                ..none(None)
            }
        );
        // Down from before `t` until `t + 4500`: five slots missed, none run.
        let back = t + 4500;
        let missed = Missed {
            first: t,
            last: t + 4000,
            count: 5,
        };
        assert_eq!(
            s.plan(t, back, back),
            Plan {
                missed_while_down: Some(missed),
                next: Some(t + 5000),
                ..none(None)
            }
        );
        // With catch-up once: one run, for the latest.
        s.spec.catch_up = CatchUp::Once;
        assert_eq!(
            s.plan(t, back, back),
            Plan {
                catch_up: Some(t + 4000),
                missed_while_down: Some(Missed {
                    last: t + 3000,
                    count: 4,
                    ..missed
                }),
                next: Some(t + 5000),
                ..none(None)
            }
        );
        // Back at `t + 2500`, looked at `t + 4500`: the catch-up slot, then the
        // latest slot since.
        let plan = s.plan(t, back, t + 2500);
        assert_eq!((plan.catch_up, plan.fire), (Some(t + 2000), Some(t + 4000)));
        assert_eq!(plan.missed_while_down.map(|m| m.count), Some(2));
        assert_eq!(plan.overtaken.map(|m| m.count), Some(1));
        // A weekly slot missed while down, without catch-up.
        let weekly = schedule("0 8 * * MON", "UTC");
        let monday = at("2026-11-23T08:00:00Z");
        let plan = weekly.plan(monday, monday + 3_600_000, monday + 3_600_000);
        assert_eq!((plan.catch_up, plan.fire), (None, None));
        assert_eq!(plan.missed_while_down.map(|m| m.count), Some(1));
        assert_eq!(plan.next, Some(at("2026-11-30T08:00:00Z")));
    }
}
