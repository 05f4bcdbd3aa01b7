//! Storage: SQLite embedded (the default) or PostgreSQL, behind one set of
//! typed methods. Schema migrations per backend, one writer thread that
//! commits many runs' transitions together (group commit; on SQLite, a
//! caller that finds the writer idle commits on its own thread instead),
//! and a pool of read connections. Knows nothing of wasmtime or HTTP.

mod access;
pub mod floor;
mod hosts;
mod postgres;
mod records;
mod runs;
mod services;
mod sql;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::run::Transition;
pub use access::{Reader, Tx};
pub use hosts::{Hint, Renewal};
pub use records::*;
pub use runs::{Known, RunWithSteps, Target, Transacted};
pub use services::Holding;
use sql::Db;

/// Embedded, numbered SQLite migrations; `PRAGMA user_version` records how
/// many ran. PostgreSQL's are in `postgres.rs`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_runs.sql"),
    include_str!("migrations/sqlite/0002_tenants.sql"),
    include_str!("migrations/sqlite/0003_plugins.sql"),
    include_str!("migrations/sqlite/0004_batches.sql"),
    include_str!("migrations/sqlite/0005_schedules.sql"),
    include_str!("migrations/sqlite/0006_approvals.sql"),
    include_str!("migrations/sqlite/0007_outbox.sql"),
    include_str!("migrations/sqlite/0008_secrets.sql"),
    include_str!("migrations/sqlite/0009_history.sql"),
    include_str!("migrations/sqlite/0010_keys.sql"),
    include_str!("migrations/sqlite/0011_plans.sql"),
    include_str!("migrations/sqlite/0012_step_tree.sql"),
    include_str!("migrations/sqlite/0013_run_numbers.sql"),
    include_str!("migrations/sqlite/0014_workflow_names.sql"),
    include_str!("migrations/sqlite/0015_hosts.sql"),
    include_str!("migrations/sqlite/0016_dashboard.sql"),
    include_str!("migrations/sqlite/0017_status_tests.sql"),
    include_str!("migrations/sqlite/0018_status_indexes.sql"),
];

/// Most transitions committed in one transaction.
const MAX_BATCH: usize = 1024;

/// Most jobs in one PostgreSQL transaction. Fewer than SQLite's: a row
/// updated many times in one transaction (a counter of runs by status, a
/// workflow's run numbers) grows a chain of versions that each update walks,
/// so a batch of n such updates costs n². Measured with 2,000 runs started
/// at once: 1,024 jobs 2,098 steps/s, 128 2,967, 64 3,125, 32 2,835.
const MAX_BATCH_POSTGRES: usize = 64;

/// How durable a commit is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync on every commit: nothing acknowledged is lost on power failure.
    #[default]
    Full,
    /// WAL without fsync per commit: survives a process crash, not a power cut.
    Normal,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite {
        path: PathBuf,
        synchronous: Synchronous,
    },
    /// A PostgreSQL server (`postgres://user@host:port/database`).
    Postgres { url: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(String),
    /// The database cannot be reached (or the connection to it was lost).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database settings are wrong (a URL that does not parse).
    #[error("{0}")]
    Setting(String),
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database is newer than this binary (schema version {found}, known {known})")]
    TooNew { found: usize, known: usize },
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The run core refused what a transaction was to do; it wrote nothing.
    #[error(transparent)]
    Refused(crate::run::Refusal),
    /// A run changed since the transition being committed was computed.
    #[error("run {0} changed concurrently")]
    Moved(String),
    /// A driver's write of a run another host drives now (its lease ran out).
    #[error("run {0} is driven by another host now")]
    Lost(String),
    #[error("the database writer has stopped")]
    WriterGone,
}

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Work for the writer: given the open transaction (or why there is none),
/// it does its work and says how to answer once the batch ends.
type Work = Box<dyn FnOnce(Result<Given<'_, '_>, StoreError>) -> Finish + Send>;

/// The writer's open transaction, as a job is given it.
#[derive(Clone, Copy)]
struct Given<'t, 'a> {
    db: &'t Db<'a>,
    /// Set when the job is the transaction's only one (SQLite's writer,
    /// idle): it then needs no savepoint of its own, since its failure,
    /// noted here, rolls the whole transaction back. A savepoint makes
    /// SQLite copy each page the job changes into a journal of its own.
    sole: Option<&'t Cell<bool>>,
}

impl<'t, 'a> Given<'t, 'a> {
    /// A transaction the job shares with others.
    fn shared(db: &'t Db<'a>) -> Self {
        Given { db, sole: None }
    }
}

/// What the writer is given to do.
enum Job {
    Work(Work),
    /// A driver's transition of a run that calls for no outbox rows (the hot
    /// path): PostgreSQL's writer sends those of a batch together.
    Commit(Box<Commit>),
}

/// A driver's transition to commit, and who waits for it.
struct Commit {
    transition: Transition,
    host: String,
    reply: oneshot::Sender<Result<Transition, StoreError>>,
}

impl Job {
    /// Does the job on its own (under a savepoint of its own, unless it is
    /// the transaction's only job).
    fn alone(self, transaction: Result<Given<'_, '_>, StoreError>) -> Finish {
        match self {
            Job::Work(work) => work(transaction),
            Job::Commit(commit) => commit.alone(transaction),
        }
    }
}

impl Commit {
    fn fence(&self) -> Fence<'_> {
        Fence::Driver { host: &self.host }
    }

    fn alone(self, transaction: Result<Given<'_, '_>, StoreError>) -> Finish {
        let result = in_savepoint(transaction, |db| {
            commit_in(db, &self.transition, &[], self.fence()).map(drop)
        });
        answer_with(self.reply, result.map(|()| self.transition))
    }
}

/// Commits `group` together: each transition is sent without waiting for
/// the one before, and their answers are read after, under one savepoint.
/// A refused save wrote nothing (see [`send_commit`]); should any of them
/// fail otherwise (a database error), the savepoint is rolled back and each
/// is committed alone, so that one cannot fail the others.
fn commit_together(db: &Db<'_>, group: Vec<Commit>) -> Vec<Finish> {
    let outcomes: Result<Vec<Result<(), StoreError>>, StoreError> = (|| {
        db.control("SAVEPOINT commits")?;
        let sent = group
            .iter()
            .map(|c| send_commit(db, &c.transition, &[], c.fence()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(sent
            .into_iter()
            .zip(&group)
            .map(|(sent, c)| commit_outcome(sent, &c.transition.run.id, c.fence()).map(drop))
            .collect())
    })();
    let settled = db.settle();
    match outcomes {
        Ok(outcomes)
            if settled.is_ok()
                && outcomes.iter().all(|o| {
                    matches!(o, Ok(()) | Err(StoreError::Moved(_) | StoreError::Lost(_)))
                })
                && db.control("RELEASE commits").is_ok() =>
        {
            group
                .into_iter()
                .zip(outcomes)
                .map(|(c, outcome)| {
                    let Commit {
                        transition, reply, ..
                    } = c;
                    answer_with(reply, outcome.map(|()| transition))
                })
                .collect()
        }
        _ => {
            let rolled_back = db
                .control("ROLLBACK TO commits")
                .and_then(|()| db.control("RELEASE commits"));
            group
                .into_iter()
                .map(|c| {
                    let transaction =
                        rolled_back
                            .as_ref()
                            .map(|_| Given::shared(db))
                            .map_err(|e| {
                                StoreError::Unavailable(format!(
                                    "cannot roll back a savepoint: {e}"
                                ))
                            });
                    c.alone(transaction)
                })
                .collect()
        }
    }
}

/// Runs `work` in the writer's `transaction` (or fails with why there is
/// none), under a savepoint of its own: an error rolls back only its own
/// changes. The transaction's only job needs none: its error is noted, and
/// the transaction rolled back.
fn in_savepoint<R>(
    transaction: Result<Given<'_, '_>, StoreError>,
    work: impl FnOnce(&Db<'_>) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    transaction.and_then(|Given { db, sole }| {
        if sole.is_none() {
            db.control("SAVEPOINT job")?;
        }
        // What it sent without waiting is waited for before the job
        // ends: an error there fails the job too.
        let result = work(db);
        let settled = db.settle();
        let result = result.and_then(|r| settled.map(|()| r));
        let ended = match sole {
            Some(failed) => {
                failed.set(result.is_err());
                Ok(())
            }
            None if result.is_ok() => db.control("RELEASE job"),
            None => db
                .control("ROLLBACK TO job")
                .and_then(|_| db.control("RELEASE job")),
        };
        ended.and(result)
    })
}

/// How to answer `reply` with `result` once the batch's transaction ended.
fn answer_with<R: Send + 'static>(
    reply: oneshot::Sender<Result<R, StoreError>>,
    result: Result<R, StoreError>,
) -> Finish {
    Box::new(move |committed: Result<(), String>| {
        let outcome = match committed {
            Ok(()) => result,
            Err(e) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
        };
        let _ = reply.send(outcome);
    })
}

/// The database: a writer thread and read connections.
pub struct Store {
    backend: Backend,
    /// The host this process drives runs as, once it joined (`hosts.rs`).
    host: std::sync::OnceLock<String>,
    /// What other hosts say, once someone listens (PostgreSQL).
    hints: std::sync::OnceLock<tokio::sync::broadcast::Sender<Hint>>,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

enum Backend {
    Sqlite {
        path: PathBuf,
        synchronous: Synchronous,
        readers: Mutex<Vec<Connection>>,
        writer: std::sync::Arc<SqliteWriter>,
    },
    Postgres {
        server: std::sync::Arc<postgres::Postgres>,
        readers: Mutex<Vec<postgres::Session>>,
    },
}

/// Connections kept for reads.
const POOLED_READERS: usize = 16;

/// A reader's page cache: 512 KiB. Reads on the hot path touch a run's few
/// pages; the operating system's cache holds the file for all of them.
const READER_CACHE: &str = "PRAGMA cache_size = -512;";

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and migrates it.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Store, StoreError> {
        Store::connect(&Database::Sqlite {
            path: path.to_owned(),
            synchronous,
        })
    }

    /// Opens `database` and migrates it: creating an SQLite file if needed;
    /// on PostgreSQL, connecting (one clear error when it cannot) and
    /// applying migrations under an advisory lock.
    pub fn connect(database: &Database) -> Result<Store, StoreError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let (backend, writer): (Backend, Box<dyn FnOnce() + Send>) = match database {
            Database::Sqlite { path, synchronous } => {
                if let Some(parent) = path.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let mut connection = connect(path, *synchronous)?;
                migrate(&mut connection)?;
                let writer = std::sync::Arc::new(SqliteWriter {
                    connection: Mutex::new(connection),
                    queued: AtomicUsize::new(0),
                });
                let backend = Backend::Sqlite {
                    path: path.to_owned(),
                    synchronous: *synchronous,
                    readers: Mutex::new(Vec::new()),
                    writer: writer.clone(),
                };
                (
                    backend,
                    Box::new(move || sqlite_write_loop(&writer, receiver)),
                )
            }
            Database::Postgres { url } => {
                let server = std::sync::Arc::new(postgres::Postgres::new(url)?);
                let session = server.connect()?;
                if let Err(e) = session.migrate() {
                    server.close();
                    return Err(match e {
                        StoreError::Postgres(e) => {
                            StoreError::Postgres(format!("cannot apply Cairn's schema: {e}"))
                        }
                        other => other,
                    });
                }
                let writer_server = server.clone();
                let backend = Backend::Postgres {
                    server,
                    readers: Mutex::new(vec![session]),
                };
                (
                    backend,
                    Box::new(move || postgres_write_loop(&writer_server, receiver)),
                )
            }
        };
        let thread = std::thread::Builder::new()
            .name("cairn-db-writer".to_owned())
            .spawn(writer)
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            backend,
            host: std::sync::OnceLock::new(),
            hints: std::sync::OnceLock::new(),
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in a transaction on the writer thread, together with whatever
    /// else is waiting (or, on SQLite with the writer idle, alone on this
    /// thread); returns once the batch it was part of has committed. An
    /// error from `work` rolls back only its own changes.
    async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Db<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        self.send(Job::Work(Box::new(move |transaction| {
            answer_with(reply, in_savepoint(transaction, work))
        })))?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Commits a driver's `transition` that calls for no outbox rows (see
    /// [`Job::Commit`]).
    async fn commit_alone(&self, transition: Transition) -> Result<Transition, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Commit(Box::new(Commit {
            transition,
            host: self.host().to_owned(),
            reply,
        })))?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Hands `job` to the writer; on SQLite, does it on the caller's thread
    /// when the writer is idle (see [`SqliteWriter::inline`]).
    fn send(&self, job: Job) -> Result<(), StoreError> {
        let sender = self
            .writer
            .lock()
            .map_err(|_| StoreError::WriterGone)?
            .clone()
            .ok_or(StoreError::WriterGone)?;
        let job = match &self.backend {
            Backend::Sqlite { writer, .. } => match writer.inline(job) {
                Some(job) => {
                    writer.queued.fetch_add(1, Ordering::AcqRel);
                    job
                }
                None => return Ok(()),
            },
            Backend::Postgres { .. } => job,
        };
        sender.send(job).map_err(|_| StoreError::WriterGone)
    }

    /// Runs `work` on a read connection. Reads are short; never call this with a
    /// lock held across an await.
    pub(crate) fn read<R>(
        &self,
        work: impl FnOnce(&Db<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match &self.backend {
            Backend::Sqlite {
                path,
                synchronous,
                readers,
                ..
            } => pooled(
                readers,
                || {
                    let connection = connect(path, *synchronous)?;
                    // Up to 16 readers each keep a page cache of their own;
                    // the writer keeps SQLite's default 2 MiB.
                    connection.execute_batch(READER_CACHE)?;
                    Ok(connection)
                },
                |_| true,
                |connection| work(&Db::Sqlite(connection)),
            ),
            Backend::Postgres { server, readers } => pooled(
                readers,
                || server.connect(),
                |session| !session.is_closed(),
                |session| work(&Db::Postgres(session)),
            ),
        }
    }

    /// Transactions this process has run on PostgreSQL (each read
    /// statement, each writer batch); `None` on SQLite.
    pub fn transactions(&self) -> Option<u64> {
        match &self.backend {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { server, .. } => Some(server.transactions()),
        }
    }

    /// Stops the writer after the jobs already sent, and waits for it.
    pub fn close(&self) {
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
        if let Some(thread) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
        if let Backend::Postgres { server, readers } = &self.backend {
            if let Ok(mut readers) = readers.lock() {
                readers.clear();
            }
            server.close();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs `work` on a connection from `pool` (a new one from `open` when none
/// there is `usable`), and puts it back while the pool has room.
fn pooled<C, R>(
    pool: &Mutex<Vec<C>>,
    open: impl FnOnce() -> Result<C, StoreError>,
    usable: impl Fn(&C) -> bool,
    work: impl FnOnce(&C) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let taken = pool.lock().map_err(|_| StoreError::WriterGone)?.pop();
    let connection = match taken {
        Some(connection) if usable(&connection) => connection,
        _ => open()?,
    };
    let result = work(&connection);
    if usable(&connection)
        && let Ok(mut pool) = pool.lock()
        && pool.len() < POOLED_READERS
    {
        pool.push(connection);
    }
    result
}

/// Prepared statements kept per connection (more than Cairn's distinct queries).
const STATEMENT_CACHE: usize = 128;

fn connect(path: &Path, synchronous: Synchronous) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection =
        Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
    let synchronous = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    connection.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;"
    ))?;
    // rusqlite keeps 16 prepared statements by default; the writer and the
    // readers use more than that, and one evicted per call is parsed again.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(connection)
}

/// Applies the migrations the file lacks, each in a transaction that holds
/// the write lock from its start and reads the version inside it, so that
/// processes opening one file at once apply each migration once.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied: usize = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if applied > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: applied,
                known: MIGRATIONS.len(),
            });
        }
        let Some(sql) = MIGRATIONS.get(applied) else {
            return Ok(());
        };
        transaction.execute_batch(sql)?;
        transaction.execute_batch(&format!("PRAGMA user_version = {}", applied + 1))?;
        transaction.commit()?;
    }
}

/// Every job waiting (up to `most`), after the first.
fn take_batch(first: Job, jobs: &mpsc::Receiver<Job>, most: usize) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < most {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// Answers every job of a batch once its transaction ended.
fn answer(finishers: Vec<Finish>, committed: Result<(), String>) {
    if let Err(e) = &committed {
        tracing::error!("commit failed: {e}");
    }
    for finish in finishers {
        finish(committed.clone());
    }
}

/// Answers every job of a batch that could not begin a transaction.
fn refuse(batch: Vec<Job>, why: &str) {
    answer(refusals(batch, why), Err(why.to_owned()));
}

/// How to answer each job of a batch that could not begin a transaction.
fn refusals(batch: Vec<Job>, why: &str) -> Vec<Finish> {
    tracing::error!("cannot begin a transaction: {why}");
    batch
        .into_iter()
        .map(|job| job.alone(Err(StoreError::Unavailable(why.to_owned()))))
        .collect()
}

/// SQLite's one write connection, shared by the writer thread and by callers
/// that find it idle.
struct SqliteWriter {
    connection: Mutex<Connection>,
    /// Jobs sent to the writer thread that it has not taken yet.
    queued: AtomicUsize,
}

impl SqliteWriter {
    /// Does `job` in a transaction of its own on the caller's thread, when
    /// nothing waits for the writer and the connection is free; else gives
    /// it back, for the writer thread. A lone commit then costs no thread
    /// switch either way (handing a job to the writer thread and having the
    /// answer wake the caller cost about 55 µs a commit on a virtual
    /// machine, against about 250 µs for the whole commit with its fsync).
    /// The caller's thread (a runtime worker) is held for the commit: only
    /// while the writer is idle, so under load every job goes to the
    /// writer thread and is group-committed.
    fn inline(&self, job: Job) -> Option<Job> {
        if self.queued.load(Ordering::Acquire) != 0 {
            return Some(job);
        }
        let Ok(connection) = self.connection.try_lock() else {
            return Some(job);
        };
        let (finishers, committed) = sqlite_batch(&connection, vec![job]);
        drop(connection);
        answer(finishers, committed);
        None
    }
}

/// Does `batch` in one transaction on `connection`: what to answer each job
/// with once it ended, and how it ended.
///
/// The transaction takes the write lock as it begins (`BEGIN IMMEDIATE`),
/// where a lock held for a moment (a reader that found the log's index
/// changing under it takes the write lock to read it again) is waited for.
/// A deferred one would take it at its first write, after its reads, and a
/// read transaction that cannot get the write lock fails at once with
/// "database is locked", whatever the busy timeout.
///
/// Its statements (`BEGIN IMMEDIATE`, `COMMIT`) are prepared once, like every
/// other statement of the hot path.
fn sqlite_batch(connection: &Connection, batch: Vec<Job>) -> (Vec<Finish>, Result<(), String>) {
    let db = Db::Sqlite(connection);
    if let Err(e) = db.control("BEGIN IMMEDIATE") {
        return (refusals(batch, &e.to_string()), Err(e.to_string()));
    }
    // Should a job panic, the transaction is rolled back as the panic
    // unwinds, so that the connection is left with none open.
    let open = OpenTransaction(&db);
    let failed = Cell::new(false);
    let sole = (batch.len() == 1).then_some(&failed);
    let finishers: Vec<Finish> = batch
        .into_iter()
        .map(|job| job.alone(Ok(Given { db: &db, sole })))
        .collect();
    std::mem::forget(open);
    let ended = if failed.get() {
        // The only job failed: nothing of it stays, and its answer is its
        // own error.
        db.control("ROLLBACK")
    } else {
        db.control("COMMIT").inspect_err(|_| {
            let _ = db.control("ROLLBACK");
        })
    };
    (finishers, ended.map_err(|e| e.to_string()))
}

/// Rolls back the writer's transaction when dropped (by a panic's unwinding).
struct OpenTransaction<'t, 'a>(&'t Db<'a>);

impl Drop for OpenTransaction<'_, '_> {
    fn drop(&mut self) {
        let _ = self.0.control("ROLLBACK");
    }
}

/// SQLite's writer: takes every job waiting, runs them in one transaction,
/// commits once, then answers them all.
fn sqlite_write_loop(writer: &SqliteWriter, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let connection = writer
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let batch = take_batch(first, &jobs, MAX_BATCH);
        writer.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        let (finishers, committed) = sqlite_batch(&connection, batch);
        drop(connection);
        answer(finishers, committed);
    }
}

/// PostgreSQL's writer: the same group commit, over a session it reconnects
/// when the connection was lost (the jobs of a batch that finds the database
/// away fail with [`StoreError::Unavailable`]; nothing half-done is kept).
fn postgres_write_loop(server: &postgres::Postgres, jobs: mpsc::Receiver<Job>) {
    let mut session: Option<postgres::Session> = None;
    while let Ok(first) = jobs.recv() {
        let batch = take_batch(first, &jobs, MAX_BATCH_POSTGRES);
        if session.as_ref().is_none_or(|s| !s.is_alive()) {
            session = server.connect_here().ok();
        }
        let Some(s) = &session else {
            refuse(batch, "cannot reconnect to the database");
            continue;
        };
        server.begin(s);
        server.count_transaction();
        let db = Db::Postgres(s);
        let mut finishers: Vec<Finish> = Vec::with_capacity(batch.len());
        let mut jobs = batch.into_iter().peekable();
        while let Some(job) = jobs.next() {
            let Job::Commit(first) = job else {
                finishers.push(job.alone(Ok(Given::shared(&db))));
                continue;
            };
            let mut group = vec![*first];
            while let Some(Job::Commit(_)) = jobs.peek() {
                if let Some(Job::Commit(next)) = jobs.next() {
                    group.push(*next);
                }
            }
            finishers.extend(commit_together(&db, group));
        }
        s.hint_touched(server.host());
        let committed = s.batch("COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = s.batch("ROLLBACK");
        }
        answer(finishers, committed);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `work` in a write transaction of a fresh SQLite store, and of a
    /// fresh PostgreSQL database too when `CAIRN_TEST_POSTGRES` names a
    /// server (as `.ci/test` does).
    pub(crate) fn on_each_backend(work: impl Fn(&Db<'_>) + Send + Sync + 'static) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut databases = vec![Database::Sqlite {
            path: dir.path().join("db"),
            synchronous: Synchronous::Normal,
        }];
        if let Some(url) = fresh_postgres() {
            databases.push(Database::Postgres { url });
        }
        let work = std::sync::Arc::new(work);
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        for database in databases {
            let store = Store::connect(&database).expect("open");
            let work = work.clone();
            runtime
                .block_on(store.write(move |db| {
                    work(db);
                    Ok(())
                }))
                .unwrap_or_else(|e| panic!("{database:?}: {e}"));
        }
    }

    /// The URL of a fresh, empty database on the PostgreSQL server the
    /// tests run against (`CAIRN_TEST_POSTGRES`), if any.
    pub(crate) fn fresh_postgres() -> Option<String> {
        let admin = std::env::var("CAIRN_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("cairn_unit_{}", uuid::Uuid::now_v7().simple());
        let server = postgres::Postgres::new(&admin).expect("the test server's URL");
        server
            .connect()
            .expect("the test server")
            .batch(&format!("CREATE DATABASE {name}"))
            .expect("a test database");
        server.close();
        let (base, _) = admin.rsplit_once('/').expect("a database URL");
        Some(format!("{base}/{name}"))
    }

    /// A job alone in its transaction has no savepoint of its own: when it
    /// fails, the whole transaction is rolled back, so nothing it wrote
    /// stays and its answer is its own error; when it panics, the
    /// transaction is rolled back as the panic unwinds. Either way the next
    /// job finds the connection with no transaction open.
    #[test]
    fn a_lone_job_that_fails_or_panics_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db"), Synchronous::Normal).expect("open");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let insert = |id: &'static str| {
            move |tx: &Db<'_>| {
                tx.execute(
                    &format!(
                        "INSERT INTO workflows (id, tenant, name, status, version, created_at, updated_at) \
                         VALUES ('{id}', 't', '{id}', 'active', 1, 0, 0)"
                    ),
                    &[],
                )
            }
        };
        let count = |store: &Store| -> i64 {
            store
                .read(|db| db.query_one("SELECT count(*) FROM workflows", &[], |row| row.get(0)))
                .expect("a count")
        };

        let failed = runtime.block_on(store.write(move |tx| {
            insert("failed")(tx)?;
            Err::<(), _>(StoreError::Conflict("the job's own error".to_owned()))
        }));
        assert!(
            matches!(&failed, Err(StoreError::Conflict(m)) if m == "the job's own error"),
            "{failed:?}"
        );
        assert_eq!(count(&store), 0);

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(store.write(move |tx| {
                insert("panicked")(tx)?;
                panic!("a job's panic");
                #[allow(unreachable_code)]
                Ok(())
            }))
        }));
        assert!(panicked.is_err());
        assert_eq!(count(&store), 0);

        runtime
            .block_on(store.write(move |tx| insert("kept")(tx).map(drop)))
            .expect("the next job commits");
        assert_eq!(count(&store), 1);
    }

    /// Another connection's write lock (another process writing the file,
    /// or a reader that takes it for a moment to read the log's index
    /// again) is waited for, even by a job that reads before it writes.
    #[test]
    fn a_write_waits_for_the_write_lock_another_connection_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let store = Store::open(&path, Synchronous::Normal).expect("open");
        let other = connect(&path, Synchronous::Normal).expect("a second connection");
        other
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the write lock");
        let holder = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            other.execute_batch("COMMIT").expect("release");
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let began = std::time::Instant::now();
        let written = runtime.block_on(store.write(|tx| {
            let before: i64 =
                tx.query_one("SELECT count(*) FROM workflows", &[], |row| row.get(0))?;
            tx.execute(
                "INSERT INTO workflows (id, tenant, name, status, version, created_at, updated_at) \
                 VALUES ('w', 't', 'w', 'active', 1, 0, 0)",
                &[],
            )?;
            Ok(before)
        }));
        holder.join().expect("the holder");
        assert_eq!(written.expect("the write waited for the lock"), 0);
        assert!(began.elapsed() >= std::time::Duration::from_millis(250));
        store.close();
    }

    #[test]
    fn runs_stored_before_run_numbers_are_numbered_in_the_order_they_started() {
        let mut connection = Connection::open_in_memory().expect("open");
        // The database as it was before the migration that numbers runs.
        let before = MIGRATIONS
            .iter()
            .position(|sql| sql.contains("ADD COLUMN number"))
            .expect("the numbering migration");
        for sql in &MIGRATIONS[..before] {
            connection.execute_batch(sql).expect("an earlier migration");
        }
        connection
            .execute_batch(&format!("PRAGMA user_version = {before}"))
            .expect("version");
        for workflow in ["w1", "w2", "w3"] {
            connection
                .execute(
                    "INSERT INTO workflows (id, tenant, name, status, version, created_at, updated_at) \
                     VALUES (?1, 't', ?1, 'active', 1, 0, 0)",
                    [workflow],
                )
                .expect("workflow");
        }
        for (run, workflow) in [("r1", "w1"), ("r2", "w2"), ("r3", "w1"), ("r4", "w1")] {
            connection
                .execute(
                    "INSERT INTO runs (id, tenant, workflow_id, workflow_version, status, input, \
                     steps_total, steps_done, plugins, last_seq, created_at, updated_at) \
                     VALUES (?1, 't', ?2, 1, 'completed', '{}', 0, 0, '{}', 0, 0, 0)",
                    [run, workflow],
                )
                .expect("run");
        }
        migrate(&mut connection).expect("migrate");
        let numbers: Vec<(String, i64)> = connection
            .prepare("SELECT id, number FROM runs ORDER BY id")
            .expect("prepare")
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let expected = [("r1", 1), ("r2", 1), ("r3", 2), ("r4", 3)];
        assert_eq!(numbers, expected.map(|(id, n)| (id.to_owned(), n)));
        let started: Vec<i64> = connection
            .prepare("SELECT runs_started FROM workflows ORDER BY id")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(started, [3, 1, 0]);
    }
}
