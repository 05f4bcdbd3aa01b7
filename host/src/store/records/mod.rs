//! Typed rows and the SQL that reads and writes them, one file per table
//! (or group of tables); the column helpers and the hot-path queries whose
//! plans a test reads are here.

use serde_json::Value;

use super::StoreError;
use super::sql::{Db, Dialect, Later, Owned, Param, Row, params};
use crate::run::Transition;
use crate::run::{EventKind, RunEvent, RunStatus};
pub use crate::run::{EventRecord, RunRecord, StepRecord};

// Queries on hot paths (starting, resuming and driving runs, long polls, the
// approval queue, /metrics), named so that a test can read their plans: none
// may scan finished history.
// The counters may hold a row per host (PostgreSQL's do): they are added up.
const ACTIVE_RUNS_OF_TENANT: &str = "SELECT CAST(COALESCE((SELECT SUM(count) FROM tenant_active_runs WHERE tenant = ?1), 0) AS BIGINT)";
const ACTIVE_RUNS_OF_WORKFLOW: &str =
    "SELECT COUNT(*) FROM runs WHERE workflow_id = ?1 AND finished_at IS NULL";
const RUN_COUNTS: &str = "SELECT status, CAST(SUM(count) AS BIGINT) FROM run_counts GROUP BY status HAVING SUM(count) > 0 ORDER BY status";
const EXPIRED_PAUSES: &str = "SELECT id FROM runs WHERE status = 'paused' AND pause_deadline IS NOT NULL AND pause_deadline <= ?1 ORDER BY pause_deadline";
const NEXT_PAUSE_DEADLINE: &str =
    "SELECT MIN(pause_deadline) FROM runs WHERE status = 'paused' AND pause_deadline IS NOT NULL";
const UNFINISHED_RUNS_PINNED_TO: &str = "SELECT COUNT(*) FROM runs WHERE tenant = ?1 AND finished_at IS NULL \
     AND EXISTS (SELECT 1 FROM json_each(runs.plugins) WHERE value = ?2)";
// A run in one of the two statuses the leases look for (the condition of
// the index `runs_unpaused_by_owner`, word for word, so that SQLite uses it).
const UNPAUSED_RUNS: &str = "SELECT id FROM runs WHERE status = 'pending' OR status = 'running'";
const UNPAUSED_RUNS_OF_HOST: &str =
    "SELECT 1 FROM runs WHERE owner = ?1 AND (status = 'pending' OR status = 'running')";
const UNPAUSED_RUNS_OF_HOST_CHANGED_SINCE: &str = "SELECT id FROM runs WHERE owner = ?1 \
     AND (status = 'pending' OR status = 'running') AND updated_at >= ?2";
const SETTLED_PLAN_NOTICES_BEFORE: &str = "DELETE FROM outbox INDEXED BY outbox_settled_plans \
     WHERE workflow_id IS NOT NULL AND next_attempt IS NULL AND created_at < ?1";
const FINISHED_RUNS_BEFORE: &str = "SELECT id FROM runs INDEXED BY runs_finished \
     WHERE (status = 'completed' OR status = 'failed' OR status = 'cancelled') AND updated_at < ?1 \
     ORDER BY updated_at LIMIT ?2";

// PostgreSQL's forms of the statements above that use SQLite's JSON
// functions or index hints (pins are an object of digests there: no build
// that wrote them as a list ever ran on PostgreSQL).
const UNFINISHED_RUNS_PINNED_TO_PG: &str = "SELECT COUNT(*) FROM runs WHERE tenant = ?1 AND status IN ('pending', 'running', 'paused') \
     AND EXISTS (SELECT 1 FROM jsonb_each_text(runs.plugins::jsonb) p WHERE p.value = ?2)";
const SETTLED_PLAN_NOTICES_BEFORE_PG: &str = "DELETE FROM outbox \
     WHERE workflow_id IS NOT NULL AND next_attempt IS NULL AND created_at < ?1";
const FINISHED_RUNS_BEFORE_PG: &str =
    "SELECT id FROM runs WHERE finished_at < ?1 ORDER BY finished_at LIMIT ?2";

fn paused_runs_sql(dialect: Dialect) -> String {
    let reviewers = match dialect {
        Dialect::Sqlite => "json_each(s.pending, '$.reviewers') r",
        Dialect::Postgres => "jsonb_array_elements_text(s.pending::jsonb -> 'reviewers') r(value)",
    };
    format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE tenant = ?1 AND finished_at IS NULL \
         AND status IN ('paused', 'running') AND pending_action IS NOT NULL AND (workflow_id = ?2 OR ?2 IS NULL) \
         AND (EXISTS (SELECT 1 FROM steps s, {reviewers} \
              WHERE s.run_id = runs.id AND s.status = 'awaiting_input' AND r.value = ?4) OR ?4 IS NULL) \
         ORDER BY updated_at, id LIMIT ?3"
    )
}

/// Makes `?1` the owner of up to `?3` unfinished, unpaused runs of host
/// `?2` (`gone`), or (not `gone`) of no host.
fn take_runs_sql(dialect: Dialect, gone: bool) -> String {
    let whose = match gone {
        true => "owner = ?2",
        false => "owner IS NULL AND CAST(?2 AS TEXT) IS NULL",
    };
    let lock = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    format!(
        "UPDATE runs SET owner = ?1 WHERE id IN (SELECT id FROM runs WHERE {whose} \
         AND (status = 'pending' OR status = 'running') LIMIT ?3{lock}) RETURNING id"
    )
}

/// Unfinished child runs whose parent run has ended. SQLite finds the
/// unfinished runs by `finished_at` (an index's condition); PostgreSQL by
/// status.
fn orphaned_children_sql(dialect: Dialect) -> String {
    let (run_id, kind, unfinished, ended) = match dialect {
        Dialect::Sqlite => (
            "json_extract(child.trigger, '$.run_id')",
            "json_extract(child.trigger, '$.kind')",
            "child.finished_at IS NULL",
            "(parent.status = 'completed' OR parent.status = 'failed' OR parent.status = 'cancelled')",
        ),
        Dialect::Postgres => (
            "child.trigger::jsonb ->> 'run_id'",
            "child.trigger::jsonb ->> 'kind'",
            "child.status IN ('pending', 'running', 'paused')",
            "parent.status IN ('completed', 'failed', 'cancelled')",
        ),
    };
    format!(
        "SELECT child.id FROM runs child JOIN runs parent ON parent.id = {run_id} \
         WHERE {unfinished} AND {kind} = 'parent' AND {ended}"
    )
}

/// A workflow's lifecycle status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    Draft,
    Active,
    Archived,
}

impl WorkflowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Draft => "draft",
            WorkflowStatus::Active => "active",
            WorkflowStatus::Archived => "archived",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "draft" => Ok(WorkflowStatus::Draft),
            "active" => Ok(WorkflowStatus::Active),
            "archived" => Ok(WorkflowStatus::Archived),
            other => Err(StoreError::Corrupt(format!("workflow status '{other}'"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub status: WorkflowStatus,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn opt_json_text(value: &Option<Value>) -> Option<String> {
    value.as_ref().map(json_text)
}

fn json_column(row: &Row<'_>, index: usize) -> Result<Value, StoreError> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| corrupt_column(index, e))
}

fn corrupt_column(index: usize, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {index}: {e}"))
}

/// A JSON column read as a typed value (`None` for NULL).
fn opt_typed_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> Result<Option<T>, StoreError> {
    opt_json_column(row, index)?
        .map(|value| serde_json::from_value(value).map_err(|e| corrupt_column(index, e)))
        .transpose()
}

/// A typed value as a JSON column's text.
fn opt_typed_text<T: serde::Serialize>(value: Option<&T>) -> Option<String> {
    value.and_then(|v| serde_json::to_string(v).ok())
}

/// A JSON column that is never NULL, read as a typed value.
fn typed_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> Result<T, StoreError> {
    serde_json::from_value(json_column(row, index)?).map_err(|e| corrupt_column(index, e))
}

fn opt_json_column(row: &Row<'_>, index: usize) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| serde_json::from_str(&text).map_err(|e| corrupt_column(index, e)))
        .transpose()
}

fn status_column<T: std::str::FromStr>(row: &Row<'_>, index: usize) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| corrupt_column(index, e))
}

mod approvals;
mod batches;
mod hosts;
mod idempotency;
mod listing;
mod outbox;
mod plugins;
mod runs;
mod schedules;
mod secrets;
mod tenants;
mod workflows;

pub use approvals::*;
pub use batches::*;
pub use hosts::*;
pub use idempotency::*;
pub use listing::*;
pub use outbox::*;
pub use plugins::*;
pub use runs::*;
pub use schedules::*;
pub use secrets::*;
pub use tenants::*;
pub use workflows::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `work` on the connection of a fresh SQLite store, its schema
    /// migrated.
    pub(super) fn on_a_fresh_sqlite_store(work: impl FnOnce(&rusqlite::Connection)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            crate::store::Store::open(&dir.path().join("db"), Default::default()).expect("open");
        store
            .read(|conn| {
                let Db::Sqlite(conn) = conn else {
                    unreachable!("an SQLite store")
                };
                work(conn);
                Ok(())
            })
            .expect("read");
    }

    /// Column `column` of each row that `explain` (`EXPLAIN`, whose opcodes
    /// are column 1, or `EXPLAIN QUERY PLAN`, whose lines are column 3) gives
    /// of `sql`, its parameters NULL.
    pub(super) fn explained(
        conn: &rusqlite::Connection,
        explain: &str,
        sql: &str,
        column: usize,
    ) -> Vec<String> {
        explained_rows(conn, explain, sql, |row| row.get::<_, String>(column))
    }

    /// [`explained`], each row of the output as `read` takes it.
    pub(super) fn explained_rows<T>(
        conn: &rusqlite::Connection,
        explain: &str,
        sql: &str,
        read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let mut statement = conn.prepare(&format!("{explain} {sql}")).expect("explain");
        let nulls = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
        statement
            .query_map(rusqlite::params_from_iter(nulls), read)
            .expect(explain)
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn run(id: &str, tenant: &str, status: RunStatus) -> RunRecord {
        RunRecord::fixture(id, tenant, status)
    }

    /// A transition that saves `run` alone, computed at `expected_seq` from
    /// a run whose status was `expected_status`.
    fn save_of(run: RunRecord, expected_seq: i64, expected_status: RunStatus) -> Transition {
        Transition {
            run,
            expected_seq,
            expected_status,
            steps: Vec::new(),
            events: Vec::new(),
            effects: Vec::new(),
        }
    }

    fn workflow(id: &str) -> WorkflowRecord {
        WorkflowRecord {
            id: id.to_owned(),
            tenant: "a".to_owned(),
            name: id.to_owned(),
            status: crate::store::WorkflowStatus::Active,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn counts_kept_by_triggers_match_the_rows() {
        use RunStatus::*;
        crate::store::tests::on_each_backend(|tx| {
            insert_workflow(tx, &workflow("w"), &Value::Null).expect("workflow");
            let check = |tx: &Db<'_>| {
                let counted: Vec<(String, i64)> = tx
                    .query(
                        "SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status",
                        params![],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .expect("rows");
                assert_eq!(count_runs_by_status(tx).expect("counts"), counted);
                for tenant in ["a", "b", "c"] {
                    let counted: i64 = tx
                    .query_one("SELECT COUNT(*) FROM runs WHERE tenant = ?1 AND status IN ('pending', 'running', 'paused')", params![tenant], |row| row.get(0))
                    .expect("count");
                    assert_eq!(
                        active_runs_of_tenant(tx, tenant).expect("active"),
                        counted,
                        "{tenant}"
                    );
                }
            };
            let runs = [
                ("1", "a", Pending),
                ("2", "a", Paused),
                ("3", "b", Completed),
                ("4", "b", Running),
            ];
            for (id, tenant, status) in runs {
                insert_run(tx, &run(id, tenant, status), &[], "h").expect("insert");
            }
            check(tx);
            let moves = [
                ("1", "a", Running),
                ("1", "a", Paused),
                ("2", "a", Failed),
                ("4", "b", Completed),
                ("1", "a", Cancelled),
            ];
            for (seq, (id, tenant, status)) in moves.into_iter().enumerate() {
                let mut moved = run(id, tenant, status);
                moved.last_seq = seq as i64 + 1;
                let (expected, before): (i64, String) = tx
                    .query_one(
                        "SELECT last_seq, status FROM runs WHERE id = ?1",
                        params![id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .expect("seq");
                let transition = save_of(moved, expected, before.parse().expect("status"));
                commit_in(tx, &transition, &[], Fence::Driver { host: "h" }).expect("save");
                check(tx);
            }
            assert!(delete_finished_run(tx, "3").expect("delete"));
            assert!(!delete_finished_run(tx, "nope").expect("delete"));
            check(tx);
        });
    }

    #[test]
    fn a_save_that_expects_the_wrong_status_never_leaves_it_stale() {
        use RunStatus::*;
        crate::store::tests::on_each_backend(|tx| {
            insert_workflow(tx, &workflow("w"), &Value::Null).expect("workflow");
            insert_run(tx, &run("1", "a", Paused), &[], "h").expect("insert");
            let save = |transition: Transition| {
                commit_in(tx, &transition, &[], Fence::Driver { host: "h" })
            };
            let stored = |tx: &Db<'_>| -> (String, i64, i64) {
                tx.query_one(
                    "SELECT status, last_seq, steps_done FROM runs WHERE id = '1'",
                    params![],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .expect("run")
            };
            // Paused staying paused: saved (on SQLite, without its status).
            let mut kept = run("1", "a", Paused);
            kept.last_seq = 1;
            kept.steps_done = 7;
            save(save_of(kept, 0, Paused)).expect("save");
            assert_eq!(stored(tx), ("paused".to_owned(), 1, 7));
            // Running expected to stay running, but the run is paused: SQLite,
            // which would not write the status, refuses the save and writes
            // nothing; PostgreSQL writes the status. Never a stale status.
            let mut wrong = run("1", "a", Running);
            wrong.last_seq = 2;
            match save(save_of(wrong, 1, Running)) {
                Err(StoreError::Moved(_)) => {
                    assert_eq!(tx.dialect(), crate::store::sql::Dialect::Sqlite);
                    assert_eq!(stored(tx), ("paused".to_owned(), 1, 7));
                }
                Ok(_) => assert_eq!(stored(tx), ("running".to_owned(), 2, 0)),
                Err(e) => panic!("{e}"),
            }
        });
    }

    #[test]
    fn settled_plan_notices_past_retention_are_swept_and_nothing_else() {
        crate::store::tests::on_each_backend(|tx| {
            insert_workflow(tx, &workflow("w"), &Value::Null).expect("workflow");
            let notice = |id: &str, created_at: i64, next_attempt: Option<i64>| OutboxRecord {
                id: id.to_owned(),
                tenant: "a".to_owned(),
                subject: Subject::Workflow("w".to_owned()),
                recipient: Recipient::Email {
                    to: "ana@example.com".to_owned(),
                    reviewer: true,
                },
                notification: Notification {
                    kind: "workflow.plan_review".to_owned(),
                    timestamp: String::new(),
                    data: NotificationData::Plan(PlanNotice {
                        workflow_id: "w".to_owned(),
                        version: 1,
                        title: "t".to_owned(),
                        goal: "g".to_owned(),
                        steps: vec![],
                        schedule: None,
                        links_expire: 0,
                    }),
                },
                attempts: 1,
                next_attempt,
                delivered_at: None,
                last_error: None,
                created_at,
            };
            for row in [
                notice("old-settled", 10, None),
                notice("old-pending", 10, Some(20)),
                notice("new-settled", 100, None),
            ] {
                insert_outbox(tx, &row).expect("insert");
            }
            assert_eq!(delete_settled_plan_notices(tx, 50).expect("sweep"), 1);
            let left: Vec<String> = tx
                .query("SELECT id FROM outbox ORDER BY id", params![], |row| {
                    row.get(0)
                })
                .expect("rows");
            assert_eq!(left, ["new-settled", "old-pending"]);
        });
    }

    #[test]
    fn hot_queries_never_scan_finished_history() {
        let hot = [
            (ACTIVE_RUNS_OF_TENANT, "tenant_active_runs"),
            (ACTIVE_RUNS_OF_WORKFLOW, "runs_unfinished_by_workflow"),
            (RUN_COUNTS, "run_counts"),
            (EXPIRED_PAUSES, "runs_pause_deadlines"),
            (NEXT_PAUSE_DEADLINE, "runs_pause_deadlines"),
            (UNFINISHED_RUNS_PINNED_TO, "runs_unfinished_by_tenant"),
            (FINISHED_RUNS_BEFORE, "runs_finished"),
            (
                &paused_runs_sql(Dialect::Sqlite),
                "runs_unfinished_by_tenant",
            ),
            (UNPAUSED_RUNS, "runs_unpaused_by_owner"),
            (UNPAUSED_RUNS_OF_HOST, "runs_unpaused_by_owner"),
            (
                UNPAUSED_RUNS_OF_HOST_CHANGED_SINCE,
                "runs_unpaused_by_owner",
            ),
            (
                &orphaned_children_sql(Dialect::Sqlite),
                "runs_unfinished_by_",
            ),
            (
                &take_runs_sql(Dialect::Sqlite, true),
                "runs_unpaused_by_owner",
            ),
            (
                &take_runs_sql(Dialect::Sqlite, false),
                "runs_unpaused_by_owner",
            ),
        ];
        // Reading all of a partial index that holds no finished run is not
        // reading history.
        let without_history = [
            "runs_unfinished_by_tenant",
            "runs_unfinished_by_workflow",
            "runs_unpaused_by_owner",
            "runs_pause_deadlines",
        ];
        on_a_fresh_sqlite_store(|conn| {
            for (sql, index) in hot {
                let plan = explained(conn, "EXPLAIN QUERY PLAN", sql, 3);
                // `runs`, or its names in a join.
                let scans_history = |line: &String| {
                    ["SCAN runs", "SCAN child", "SCAN parent"]
                        .iter()
                        .any(|scan| line.starts_with(scan))
                        && !without_history
                            .iter()
                            .any(|partial| line.ends_with(&format!("USING INDEX {partial}")))
                };
                assert!(!plan.iter().any(scans_history), "{sql}: {plan:?}");
                assert!(
                    plan.iter().any(|line| line.contains(index)),
                    "{sql} should use {index}: {plan:?}"
                );
            }
        });
    }
}
