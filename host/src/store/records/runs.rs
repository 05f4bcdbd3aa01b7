//! Runs, their steps and their events, and the commit of a transition.

use super::*;

pub(super) const RUN_COLUMNS: &str = "id, tenant, workflow_id, workflow_version, status, input, result, error, pending_action, \
     paused_step, pause_deadline, wake_at, current_action, steps_total, steps_done, plugins, last_seq, created_at, updated_at, trigger, number";

pub(super) fn run_from_row(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.get(0)?,
        tenant: row.get(1)?,
        workflow_id: row.get(2)?,
        workflow_version: row.get(3)?,
        status: status_column(row, 4)?,
        input: json_column(row, 5)?.into(),
        result: opt_json_column(row, 6)?,
        error: opt_typed_column(row, 7)?,
        pending_action: opt_typed_column(row, 8)?,
        paused_step: row.get(9)?,
        pause_deadline: row.get(10)?,
        wake_at: row.get(11)?,
        current_action: row.get(12)?,
        steps_total: row.get(13)?,
        steps_done: row.get(14)?,
        plugins: typed_column(row, 15)?,
        last_seq: row.get(16)?,
        created_at: row.get(17)?,
        updated_at: row.get(18)?,
        trigger: opt_typed_column(row, 19)?,
        number: row.get(20)?,
    })
}

/// Stores a new run and its steps, driven by host `owner` while it has not
/// ended; the run's `number` is its workflow's next, whatever `run.number`
/// says: it is returned.
pub fn insert_run(
    tx: &Db<'_>,
    run: &RunRecord,
    steps: &[StepRecord],
    owner: &str,
) -> Result<i64, StoreError> {
    let number: i64 = tx.query_one(
        "UPDATE workflows SET runs_started = runs_started + 1 WHERE id = ?1 RETURNING runs_started",
        params![run.workflow_id],
        |row| row.get(0),
    )?;
    tx.touch(&run.id);
    let owner = (!run.status.is_terminal()).then_some(owner);
    tx.execute_later(&format!("INSERT INTO runs ({RUN_COLUMNS}, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"), params![
            run.id,
            run.tenant,
            run.workflow_id,
            run.workflow_version,
            run.status.as_str(),
            json_text(&run.input),
            opt_json_text(&run.result),
            opt_typed_text(run.error.as_ref()),
            opt_typed_text(run.pending_action.as_ref()),
            run.paused_step,
            run.pause_deadline,
            run.wake_at,
            run.current_action,
            run.steps_total,
            run.steps_done,
            opt_typed_text(Some(&run.plugins)),
            run.last_seq,
            run.created_at,
            run.updated_at,
            opt_typed_text(run.trigger.as_ref()),
            number,
            owner,
        ])?;
    if run.status.is_terminal() {
        tx.execute_later(
            "UPDATE runs SET finished_at = updated_at WHERE id = ?1",
            params![run.id],
        )?;
    }
    save_steps(tx, &run.id, steps)?;
    Ok(number)
}

/// A save of a run's row: the columns every save writes (`?1` is its id,
/// `?13` the sequence number it must still have, `?15` the writing host),
/// then `$owner_and_where`.
macro_rules! save_run {
    ($owner_and_where:literal) => {
        concat!("UPDATE runs SET status = ?2, ", save_run!(@rest), $owner_and_where)
    };
    (@rest) => {
        concat!(
            "result = ?3, error = ?4, pending_action = ?5, paused_step = ?6, ",
            "pause_deadline = ?7, wake_at = ?8, current_action = ?9, steps_done = ?10, last_seq = ?11, ",
            "updated_at = ?12, steps_total = ?14"
        )
    };
}

/// A driver's save (the hot path): taken only while the host owns the run,
/// which keeps it; the owner is not written (so no index of it changes).
/// The driver's saves read nothing back on SQLite: who owns the run after
/// one that was taken is known (its driver, or no one once it ended), and
/// SQLite's `RETURNING` builds a table for its rows at every statement.
const SAVE_RUN_AS_DRIVER: &str = save_run!(" WHERE id = ?1 AND last_seq = ?13 AND owner = ?15");

/// [`SAVE_RUN_AS_DRIVER`] of a run whose status stays as it was (most
/// steps' ends): SQLite updates every index of a column a statement sets,
/// even to the value it had, and three name `status`; this one leaves them
/// alone. Its status is a condition instead, so a wrong expectation is
/// refused as a moved run rather than saved.
const SAVE_RUN_AS_DRIVER_SAME_STATUS: &str = concat!(
    "UPDATE runs SET ",
    save_run!(@rest),
    " WHERE id = ?1 AND last_seq = ?13 AND owner = ?15 AND status = ?2"
);

/// A driver's save of the run's end: it has no owner after, and says when
/// it ended (`finished_at`, which the indexes of unfinished runs and, on
/// PostgreSQL, retention's name: set once, so that no save before it
/// touches them).
const SAVE_ENDED_RUN_AS_DRIVER: &str =
    save_run!(", finished_at = ?12, owner = NULL WHERE id = ?1 AND last_seq = ?13 AND owner = ?15");

/// [`SAVE_ENDED_RUN_AS_DRIVER`] on PostgreSQL, where every save says who
/// owns the run after it.
const SAVE_ENDED_RUN_AS_DRIVER_PG: &str = save_run!(
    ", finished_at = ?12, owner = NULL WHERE id = ?1 AND last_seq = ?13 AND owner = ?15 RETURNING owner"
);

/// Anyone's save at time `?16` of a run that goes on (a decision's): a live
/// owner keeps the run, else the writer takes it; says who owns it after.
const SAVE_RUN_AS_ANYONE: &str = save_run!(
    ", owner = CASE WHEN owner IS NOT NULL AND EXISTS (SELECT 1 FROM hosts WHERE hosts.id = runs.owner AND hosts.lease_until > ?16) \
     THEN owner ELSE ?15 END WHERE id = ?1 AND last_seq = ?13 RETURNING owner"
);

/// Anyone's save of a run's end (a cancel, a rejection): like the driver's,
/// it has no owner after. Its parameters end at `?14`.
const SAVE_ENDED_RUN_AS_ANYONE: &str =
    save_run!(", finished_at = ?12, owner = NULL WHERE id = ?1 AND last_seq = ?13");

/// On PostgreSQL, [`SAVE_RUN_AS_ANYONE`] also says when a run ended (see
/// [`SAVE_ENDED_RUN_AS_DRIVER_PG`]).
const SAVE_RUN_AS_ANYONE_PG: &str = save_run!(
    ", finished_at = CASE WHEN ?2 IN ('completed', 'failed', 'cancelled') THEN CAST(?12 AS BIGINT) END, \
     owner = CASE WHEN ?2 IN ('completed', 'failed', 'cancelled') THEN NULL \
     WHEN owner IS NOT NULL AND EXISTS (SELECT 1 FROM hosts WHERE hosts.id = runs.owner AND hosts.lease_until > ?16) \
     THEN owner ELSE ?15 END WHERE id = ?1 AND last_seq = ?13 RETURNING owner"
);

/// The columns of `steps` after `run_id`, with their PostgreSQL types; a
/// step's values come in this order ([`step_row`]).
const STEP_COLUMNS: [(&str, &str); 17] = [
    ("step_index", "bigint"),
    ("name", "text"),
    ("status", "text"),
    ("attempts", "bigint"),
    ("input", "text"),
    ("output", "text"),
    ("error", "text"),
    ("checkpoint", "text"),
    ("decision", "text"),
    ("started_at", "bigint"),
    ("finished_at", "bigint"),
    ("decisions", "text"),
    ("logs", "text"),
    ("pending", "text"),
    ("deadline", "bigint"),
    ("wake_at", "bigint"),
    ("construct", "text"),
];

/// The columns of `run_events` after `run_id`, with their PostgreSQL types.
const EVENT_COLUMNS: [(&str, &str); 4] = [
    ("seq", "bigint"),
    ("at", "bigint"),
    ("kind", "text"),
    ("data", "text"),
];

/// A step's values, in [`STEP_COLUMNS`]' order.
fn step_row(step: &StepRecord) -> [Owned; 17] {
    [
        Owned::Int(step.index),
        Owned::Text(step.name.clone()),
        Owned::Text(step.status.as_str().to_owned()),
        Owned::Int(step.attempts),
        opt_json_text(&step.input).into(),
        opt_json_text(&step.output).into(),
        opt_typed_text(step.error.as_ref()).into(),
        opt_json_text(&step.checkpoint).into(),
        opt_json_text(&step.decision).into(),
        step.started_at.into(),
        step.finished_at.into(),
        opt_typed_text(Some(&step.decisions).filter(|d| !d.is_empty())).into(),
        opt_typed_text(Some(&step.logs).filter(|l| !l.is_empty())).into(),
        opt_typed_text(step.pending.as_ref()).into(),
        step.deadline.into(),
        step.wake_at.into(),
        opt_typed_text(step.construct.as_ref()).into(),
    ]
}

/// An event's values, in [`EVENT_COLUMNS`]' order.
fn event_row(event: &EventRecord) -> [Owned; 4] {
    [
        Owned::Int(event.seq),
        Owned::Int(event.at),
        Owned::Text(event.kind().as_str().to_owned()),
        Owned::Text(event.event.data_text()),
    ]
}

/// Each of `columns` across `rows`, as one array parameter (for `unnest`).
fn arrays<const N: usize>(columns: &[(&str, &str); N], rows: Vec<[Owned; N]>) -> Vec<Owned> {
    let mut arrays: Vec<Owned> = columns
        .iter()
        .map(|(_, kind)| match *kind {
            "bigint" => Owned::Ints(Vec::with_capacity(rows.len())),
            _ => Owned::Texts(Vec::with_capacity(rows.len())),
        })
        .collect();
    for row in rows {
        for (array, value) in arrays.iter_mut().zip(row) {
            match (array, value) {
                (Owned::Ints(values), Owned::Int(v)) => values.push(Some(v)),
                (Owned::Ints(values), _) => values.push(None),
                (Owned::Texts(values), Owned::Text(v)) => values.push(Some(v)),
                (Owned::Texts(values), _) => values.push(None),
                _ => {}
            }
        }
    }
    arrays
}

/// SQL that inserts into `table` the rows of `columns` given as arrays from
/// parameter `?{first}` on, each with the run id `?1`; `only_if` a condition.
fn insert_arrays(table: &str, columns: &[(&str, &str)], first: usize, only_if: &str) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("?{}::{kind}[]", first + i))
        .collect();
    format!(
        "INSERT INTO {table} (run_id, {}) SELECT ?1, * FROM unnest({}) {only_if}",
        names.join(", "),
        arrays.join(", ")
    )
}

/// A step already stored is updated: all but its index and name.
fn steps_upsert() -> String {
    let updates: Vec<String> = STEP_COLUMNS[2..]
        .iter()
        .map(|(name, _)| format!("{name} = excluded.{name}"))
        .collect();
    format!(
        "ON CONFLICT (run_id, step_index) DO UPDATE SET {}",
        updates.join(", ")
    )
}

/// On PostgreSQL, a transition in one statement: `save` (a save of the run's
/// row, whose parameters end at `?{last}`), and the transition's steps and
/// events (arrays, the parameters after), written only if the save was
/// taken. It says what it found ([`Saved`]). The owner before is read as the
/// statement began: should another host's commit have moved the run
/// meanwhile, a driver may hear `Moved` where `Lost` was due, reload, and
/// hear `Lost` on its next save.
fn transition_on_postgres(save: &str, last: usize) -> String {
    let taken = "WHERE EXISTS (SELECT 1 FROM saved)";
    let steps = insert_arrays("steps", &STEP_COLUMNS, last + 1, taken);
    let events = insert_arrays(
        "run_events",
        &EVENT_COLUMNS,
        last + 1 + STEP_COLUMNS.len(),
        taken,
    );
    format!(
        "WITH saved AS ({save}), steps_saved AS ({steps} {}), events_saved AS ({events}) \
         SELECT EXISTS (SELECT 1 FROM saved), (SELECT owner FROM saved), \
         EXISTS (SELECT 1 FROM runs WHERE id = ?1), (SELECT owner FROM runs WHERE id = ?1)",
        steps_upsert()
    )
}

/// The transitions on PostgreSQL: as a driver, as a driver ending the run,
/// as anyone.
static TRANSITIONS_ON_POSTGRES: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    [
        transition_on_postgres(&format!("{SAVE_RUN_AS_DRIVER} RETURNING owner"), 15),
        transition_on_postgres(SAVE_ENDED_RUN_AS_DRIVER_PG, 15),
        transition_on_postgres(SAVE_RUN_AS_ANYONE_PG, 16),
    ]
});

/// New steps on PostgreSQL: all of them in one statement.
static STEPS_ON_POSTGRES: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| insert_arrays("steps", &STEP_COLUMNS, 2, &steps_upsert()));

/// Whose write of a run this is, and so when it is taken.
#[derive(Debug, Clone, Copy)]
pub enum Fence<'a> {
    /// The run's driver on `host`: taken only while `host` owns the run, so
    /// that a host whose lease ran out (paused, cut off) and whose runs
    /// another host took cannot write over the new owner.
    Driver { host: &'a str },
    /// Anyone's (a decision, a cancel, a timeout), on `host` at `now`: taken
    /// whoever drives the run; a live owner keeps it, else `host` takes it.
    Anyone { host: &'a str, now: i64 },
}

/// What a save of a run's row found.
pub struct Saved {
    /// Whether it was taken.
    taken: bool,
    /// The run's owner after it, if it was taken.
    owner: Option<String>,
    /// If it was not: whether the run is there, and who owns it.
    exists: bool,
    owner_before: Option<String>,
}

impl Saved {
    fn from_postgres(row: &Row<'_>) -> Result<Saved, StoreError> {
        Ok(Saved {
            taken: row.get(0)?,
            owner: row.get(1)?,
            exists: row.get(2)?,
            owner_before: row.get(3)?,
        })
    }

    /// The run's owner after the save, or why it was refused.
    fn outcome(self, id: &str, fence: Fence<'_>) -> Result<Option<String>, StoreError> {
        match fence {
            _ if self.taken => Ok(self.owner),
            Fence::Driver { host } if self.exists && self.owner_before.as_deref() != Some(host) => {
                Err(StoreError::Lost(id.to_owned()))
            }
            _ => Err(StoreError::Moved(id.to_owned())),
        }
    }
}

/// Sends a transition of a run in `tx`: the run's row, saved only if its
/// last event is still the transition's `expected_seq` (a run changed by
/// someone else in between is [`StoreError::Moved`]) and `fence` lets this
/// write through (a driver's run now driven by another host is
/// [`StoreError::Lost`]); an ended run has no owner. With it, the steps that
/// changed, the new events, and the outbox rows they call for. On
/// PostgreSQL all but the outbox rows are one statement, which writes
/// nothing when the save is refused, and nothing is waited for: what to
/// wait for is returned, for [`commit_outcome`]. (Outbox rows are written
/// whatever the save found: a refused save must fail the job, which rolls
/// back its savepoint.)
pub fn send_commit<'a>(
    tx: &Db<'a>,
    transition: &Transition,
    outbox: &[OutboxRecord],
    fence: Fence<'_>,
) -> Result<Later<'a, Saved>, StoreError> {
    let run = &transition.run;
    tx.touch(&run.id);
    let (which, host, now) = match fence {
        Fence::Driver { host } if run.status.is_terminal() => (1, host, None),
        Fence::Driver { host } => (0, host, None),
        Fence::Anyone { host, now } => (2, host, Some(now)),
    };
    let status = run.status.as_str();
    let result = opt_json_text(&run.result);
    let error = opt_typed_text(run.error.as_ref());
    let pending_action = opt_typed_text(run.pending_action.as_ref());
    let mut params: Vec<&dyn Param> = vec![
        &run.id,
        &status,
        &result,
        &error,
        &pending_action,
        &run.paused_step,
        &run.pause_deadline,
        &run.wake_at,
        &run.current_action,
        &run.steps_done,
        &run.last_seq,
        &run.updated_at,
        &transition.expected_seq,
        &run.steps_total,
        &host,
    ];
    if let Some(now) = &now {
        params.push(now);
    }
    if tx.dialect() == Dialect::Postgres {
        let steps = arrays(
            &STEP_COLUMNS,
            transition.steps.iter().map(step_row).collect(),
        );
        let events = arrays(
            &EVENT_COLUMNS,
            transition.events.iter().map(event_row).collect(),
        );
        params.extend(steps.iter().chain(&events).map(|a| a as &dyn Param));
        let saved = tx.query_later(
            &TRANSITIONS_ON_POSTGRES[which],
            &params,
            Saved::from_postgres,
        )?;
        for row in outbox {
            insert_outbox(tx, row)?;
        }
        return Ok(saved);
    }
    // Who owns the run after a save that was taken: its driver, no one once
    // it ended, or (anyone's save of a run that goes on) what it answers.
    let owner = match which {
        0 => {
            let statement = if run.status == transition.expected_status {
                SAVE_RUN_AS_DRIVER_SAME_STATUS
            } else {
                SAVE_RUN_AS_DRIVER
            };
            (tx.execute(statement, &params)? == 1).then(|| Some(host.to_owned()))
        }
        1 => (tx.execute(SAVE_ENDED_RUN_AS_DRIVER, &params)? == 1).then_some(None),
        _ if run.status.is_terminal() => {
            (tx.execute(SAVE_ENDED_RUN_AS_ANYONE, &params[..14])? == 1).then_some(None)
        }
        _ => tx.query_opt(SAVE_RUN_AS_ANYONE, &params, |row| {
            row.get::<Option<String>>(0)
        })?,
    };
    let Some(owner) = owner else {
        let before: Option<Option<String>> = tx.query_opt(
            "SELECT owner FROM runs WHERE id = ?1",
            params![run.id],
            |row| row.get(0),
        )?;
        return Ok(Later::Ready(Some(Saved {
            taken: false,
            owner: None,
            exists: before.is_some(),
            owner_before: before.flatten(),
        })));
    };
    save_steps(tx, &run.id, &transition.steps)?;
    for event in &transition.events {
        append_event(tx, &run.id, event)?;
    }
    for row in outbox {
        insert_outbox(tx, row)?;
    }
    Ok(Later::Ready(Some(Saved {
        taken: true,
        owner,
        exists: true,
        owner_before: None,
    })))
}

/// What a transition sent by [`send_commit`] found: the run's owner after
/// it, or why it was refused.
pub fn commit_outcome(
    sent: Later<'_, Saved>,
    id: &str,
    fence: Fence<'_>,
) -> Result<Option<String>, StoreError> {
    sent.first()?
        .ok_or_else(|| StoreError::Corrupt("a save of a run answered nothing".to_owned()))?
        .outcome(id, fence)
}

/// A step upserted, its values `?2`... in [`STEP_COLUMNS`]' order.
const SAVE_STEP: &str = "INSERT INTO steps (run_id, step_index, name, status, attempts, input, output, error, checkpoint, decision, started_at, finished_at, decisions, logs, \
     pending, deadline, wake_at, construct) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
     ON CONFLICT (run_id, step_index) DO UPDATE SET status = ?4, attempts = ?5, input = ?6, output = ?7, error = ?8, \
     checkpoint = ?9, decision = ?10, started_at = ?11, finished_at = ?12, decisions = ?13, logs = ?14, \
     pending = ?15, deadline = ?16, wake_at = ?17, construct = ?18";

/// Stores `steps` of run `run_id`, new or changed: one statement on
/// PostgreSQL, one per step on SQLite.
fn save_steps(tx: &Db<'_>, run_id: &str, steps: &[StepRecord]) -> Result<(), StoreError> {
    if steps.is_empty() {
        return Ok(());
    }
    if tx.dialect() == Dialect::Postgres {
        let columns = arrays(&STEP_COLUMNS, steps.iter().map(step_row).collect());
        let mut params: Vec<&dyn Param> = vec![&run_id];
        params.extend(columns.iter().map(|a| a as &dyn Param));
        return tx.execute_later(&STEPS_ON_POSTGRES, &params);
    }
    for step in steps {
        let row = step_row(step);
        let mut params: Vec<&dyn Param> = vec![&step.run_id];
        params.extend(row.iter().map(|v| v as &dyn Param));
        tx.execute_later(SAVE_STEP, &params)?;
    }
    Ok(())
}

const APPEND_EVENT: &str =
    "INSERT INTO run_events (run_id, seq, at, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)";

pub fn append_event(tx: &Db<'_>, run_id: &str, event: &EventRecord) -> Result<(), StoreError> {
    tx.execute_later(
        APPEND_EVENT,
        params![
            run_id,
            event.seq,
            event.at,
            event.kind().as_str(),
            event.event.data_text()
        ],
    )?;
    Ok(())
}

/// The run `id`; with `tenant`, only if it belongs to that tenant.
pub fn get_run(conn: &Db<'_>, tenant: Option<&str>, id: &str) -> Result<RunRecord, StoreError> {
    let run = conn
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            params![id],
            run_from_row,
        )?
        .ok_or(StoreError::NotFound)?;
    match tenant {
        Some(tenant) if tenant != run.tenant => Err(StoreError::NotFound),
        _ => Ok(run),
    }
}

/// How run `id` stands (its status and last event's sequence number, from
/// its row alone); with `tenant`, only if it belongs to that tenant.
pub fn get_run_state(
    conn: &Db<'_>,
    tenant: Option<&str>,
    id: &str,
) -> Result<(RunStatus, i64), StoreError> {
    let (owner, status, seq): (String, RunStatus, i64) = conn
        .query_opt(
            "SELECT tenant, status, last_seq FROM runs WHERE id = ?1",
            params![id],
            |row| Ok((row.get(0)?, status_column(row, 1)?, row.get(2)?)),
        )?
        .ok_or(StoreError::NotFound)?;
    match tenant {
        Some(tenant) if tenant != owner => Err(StoreError::NotFound),
        _ => Ok((status, seq)),
    }
}

pub fn get_steps(conn: &Db<'_>, run_id: &str) -> Result<Vec<StepRecord>, StoreError> {
    let rows = conn.query("SELECT run_id, step_index, name, status, attempts, input, output, error, checkpoint, decision, started_at, finished_at, decisions, logs, \
         pending, deadline, wake_at, construct FROM steps WHERE run_id = ?1 ORDER BY step_index", params![run_id], |row| {
        Ok(StepRecord {
            run_id: row.get(0)?,
            index: row.get(1)?,
            name: row.get(2)?,
            status: status_column(row, 3)?,
            attempts: row.get(4)?,
            input: opt_json_column(row, 5)?,
            output: opt_json_column(row, 6)?,
            error: opt_typed_column(row, 7)?,
            checkpoint: opt_json_column(row, 8)?,
            decision: opt_json_column(row, 9)?,
            started_at: row.get(10)?,
            finished_at: row.get(11)?,
            decisions: opt_typed_column(row, 12)?.unwrap_or_default(),
            logs: opt_typed_column(row, 13)?.unwrap_or_default(),
            pending: opt_typed_column(row, 14)?,
            deadline: row.get(15)?,
            wake_at: row.get(16)?,
            construct: opt_typed_column(row, 17)?,
        })
    })?;
    Ok(rows)
}

pub fn get_events(conn: &Db<'_>, run_id: &str, after: i64) -> Result<Vec<EventRecord>, StoreError> {
    let rows = conn.query(
        "SELECT seq, at, kind, data FROM run_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
        params![run_id, after],
        |row| {
            let kind: EventKind = status_column(row, 2)?;
            let event = RunEvent::from_parts(kind, json_column(row, 3)?).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?;
            Ok(EventRecord {
                seq: row.get(0)?,
                at: row.get(1)?,
                event,
            })
        },
    )?;
    Ok(rows)
}

/// Ids of the unfinished runs that are not paused.
pub fn unpaused_run_ids(conn: &Db<'_>) -> Result<Vec<String>, StoreError> {
    conn.query(UNPAUSED_RUNS, params![], |row| row.get(0))
}

/// Ids of runs in any of `statuses`, oldest first.
pub fn run_ids_in(conn: &Db<'_>, statuses: &[RunStatus]) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    for status in statuses {
        ids.extend(conn.query(
            "SELECT id FROM runs WHERE status = ?1 ORDER BY id",
            params![status.as_str()],
            |row| row.get::<String>(0),
        )?);
    }
    ids.sort();
    Ok(ids)
}

/// Paused runs whose deadline is at or before `now`.
pub fn expired_pauses(conn: &Db<'_>, now: i64) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(EXPIRED_PAUSES, params![now], |row| row.get::<String>(0))?;
    Ok(rows)
}

/// The earliest deadline of any paused run.
pub fn next_pause_deadline(conn: &Db<'_>) -> Result<Option<i64>, StoreError> {
    conn.query_one(NEXT_PAUSE_DEADLINE, params![], |row| row.get(0))
}

/// Runs of a workflow that are not finished.
pub fn active_runs_of(tx: &Db<'_>, workflow_id: &str) -> Result<i64, StoreError> {
    tx.query_one(ACTIVE_RUNS_OF_WORKFLOW, params![workflow_id], |row| {
        row.get(0)
    })
}

/// How many runs are in each status (kept by triggers: no scan of the runs).
pub fn count_runs_by_status(conn: &Db<'_>) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = conn.query(RUN_COUNTS, params![], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows)
}

/// Up to `limit` runs that finished before `before`, oldest first.
pub fn finished_runs_before(
    conn: &Db<'_>,
    before: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(
        conn.pick(FINISHED_RUNS_BEFORE, FINISHED_RUNS_BEFORE_PG),
        params![before, limit as i64],
        |row| row.get::<String>(0),
    )?;
    Ok(rows)
}

/// Deletes finished run `id` with everything that belongs to it: steps,
/// events, outbox rows, idempotency keys, used approval tokens and its place
/// in a batch (a batch left without runs goes too). A schedule's record of the
/// slot that started it keeps the id. False when the run is not there or not
/// finished.
pub fn delete_finished_run(tx: &Db<'_>, id: &str) -> Result<bool, StoreError> {
    let finished: Option<String> = tx.query_opt(
        "SELECT id FROM runs WHERE id = ?1 AND status IN ('completed', 'failed', 'cancelled')",
        params![id],
        |row| row.get(0),
    )?;
    if finished.is_none() {
        return Ok(false);
    }
    let batches: Vec<String> = tx.query(
        "SELECT batch_id FROM batch_runs WHERE run_id = ?1",
        params![id],
        |row| row.get(0),
    )?;
    for sql in [
        "DELETE FROM steps WHERE run_id = ?1",
        "DELETE FROM run_events WHERE run_id = ?1",
        "DELETE FROM outbox WHERE run_id = ?1",
        "DELETE FROM idempotency_keys WHERE run_id = ?1",
        "DELETE FROM used_approval_tokens WHERE run_id = ?1",
        "DELETE FROM batch_runs WHERE run_id = ?1",
        "DELETE FROM runs WHERE id = ?1",
    ] {
        tx.execute(sql, params![id])?;
    }
    for batch in batches {
        let emptied = "NOT EXISTS (SELECT 1 FROM batch_runs WHERE batch_id = ?1)";
        tx.execute(
            &format!("DELETE FROM batch_idempotency_keys WHERE batch_id = ?1 AND {emptied}"),
            params![batch],
        )?;
        tx.execute(
            &format!("DELETE FROM batches WHERE id = ?1 AND {emptied}"),
            params![batch],
        )?;
    }
    Ok(true)
}

/// Writes one transition of a run in `tx`: the run row (refused with a
/// conflict if its last event is no longer the transition's `expected_seq`:
/// someone moved it; and as `fence` says), the steps that changed, the new
/// events and the outbox rows they call for. Returns the run's owner after.
pub fn commit_in(
    tx: &Db<'_>,
    transition: &Transition,
    outbox: &[OutboxRecord],
    fence: Fence<'_>,
) -> Result<Option<String>, StoreError> {
    let sent = send_commit(tx, transition, outbox, fence)?;
    commit_outcome(sent, &transition.run.id, fence)
}

/// A run and its steps, read together.
pub fn get_run_with_steps(
    conn: &Db<'_>,
    tenant: Option<&str>,
    id: &str,
) -> Result<(RunRecord, Vec<StepRecord>), StoreError> {
    Ok((get_run(conn, tenant, id)?, get_steps(conn, id)?))
}

/// Unfinished child runs whose parent run has ended.
pub fn orphaned_children(conn: &Db<'_>) -> Result<Vec<String>, StoreError> {
    conn.query(&orphaned_children_sql(conn.dialect()), params![], |row| {
        row.get(0)
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{explained, explained_rows, on_a_fresh_sqlite_store};
    use super::*;

    /// A decision moves its run from paused to running, and the next pause
    /// moves it back. SQLite rewrites the entry of a row in every index it
    /// opens for the save (an index whose key or condition names a column
    /// the statement sets), so those two saves must open only the indexes
    /// a run enters or leaves as it pauses: the unpaused runs by owner, and
    /// those whose condition the save's other columns may change (paused
    /// runs with a deadline, finished runs by time), which a run with no
    /// deadline does not enter.
    #[test]
    fn a_pause_and_a_decision_write_one_index_of_status() {
        on_a_fresh_sqlite_store(|conn| {
            let indexes: std::collections::HashMap<i64, String> = conn
                .prepare("SELECT rootpage, name FROM sqlite_schema WHERE type = 'index'")
                .expect("schema")
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .expect("indexes")
                .collect::<Result<_, _>>()
                .expect("rows");
            for save in [SAVE_RUN_AS_DRIVER, SAVE_RUN_AS_ANYONE] {
                let program = explained_rows(conn, "EXPLAIN", save, |row| {
                    Ok((row.get::<_, String>(1)?, row.get::<_, i64>(3)?))
                });
                let mut opened: Vec<&str> = program
                    .iter()
                    .filter(|(opcode, _)| opcode == "OpenWrite")
                    .filter_map(|(_, root)| indexes.get(root).map(String::as_str))
                    .collect();
                opened.sort_unstable();
                // (The primary key's is opened to find the row.)
                assert_eq!(
                    opened,
                    [
                        "runs_finished",
                        "runs_pause_deadlines",
                        "runs_unpaused_by_owner",
                        "sqlite_autoindex_runs_1"
                    ],
                    "{save}"
                );
            }
        });
    }

    /// SQLite evaluates `x IN (a, b, c)` (three constants or more) by
    /// building a temporary b-tree of the list each time the statement runs;
    /// the saves a running run makes at every step and decision must not
    /// (`RETURNING` builds one of its own, which is counted).
    #[test]
    fn a_running_runs_saves_build_no_temporary_tables() {
        let saves = [
            (SAVE_RUN_AS_DRIVER, 0),
            (SAVE_RUN_AS_DRIVER_SAME_STATUS, 0),
            (SAVE_ENDED_RUN_AS_DRIVER, 0),
            (SAVE_RUN_AS_ANYONE, 1),
            (SAVE_ENDED_RUN_AS_ANYONE, 0),
            (SAVE_STEP, 0),
            (APPEND_EVENT, 0),
        ];
        on_a_fresh_sqlite_store(|conn| {
            for (sql, returning) in saves {
                let opcodes = explained(conn, "EXPLAIN", sql, 1);
                let temporary = opcodes.iter().filter(|op| *op == "OpenEphemeral").count();
                assert_eq!(temporary, returning, "{sql}");
            }
        });
    }
}
