//! SQLite storage: schema migrations, one writer thread that commits many runs'
//! transitions together (group commit), and a pool of read connections.
//! Knows nothing of wasmtime or HTTP.

mod access;
mod records;
mod runs;
mod services;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

use rusqlite::{Connection, OpenFlags, Transaction};
use tokio::sync::oneshot;

pub use access::{Reader, Tx};
pub use records::*;
pub use runs::RunWithSteps;
pub use services::Holding;

/// Embedded, numbered migrations; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_runs.sql"),
    include_str!("migrations/0002_tenants.sql"),
    include_str!("migrations/0003_plugins.sql"),
    include_str!("migrations/0004_batches.sql"),
    include_str!("migrations/0005_schedules.sql"),
    include_str!("migrations/0006_approvals.sql"),
    include_str!("migrations/0007_outbox.sql"),
    include_str!("migrations/0008_secrets.sql"),
    include_str!("migrations/0009_history.sql"),
    include_str!("migrations/0010_keys.sql"),
    include_str!("migrations/0011_plans.sql"),
    include_str!("migrations/0012_step_tree.sql"),
    include_str!("migrations/0013_run_numbers.sql"),
    include_str!("migrations/0014_workflow_names.sql"),
];

/// Most transitions committed in one transaction.
const MAX_BATCH: usize = 1024;

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    #[error("the database writer has stopped")]
    WriterGone,
}

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Transaction<'_>) -> Finish + Send>;

/// The database: a writer thread and read connections.
pub struct Store {
    path: PathBuf,
    synchronous: Synchronous,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut connection = connect(path, synchronous)?;
        migrate(&mut connection)?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("cairn-db-writer".to_owned())
            .spawn(move || write_loop(connection, receiver))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            path: path.to_owned(),
            synchronous,
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `work` in a transaction on the writer thread, together with whatever
    /// else is waiting; returns once the batch it was part of has committed. An
    /// error from `work` rolls back only its own changes.
    async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |transaction| {
            let run = |sql: &str| {
                transaction
                    .prepare_cached(sql)
                    .and_then(|mut statement| statement.execute([]))
            };
            let result = match run("SAVEPOINT job") {
                Ok(_) => {
                    let result = work(transaction);
                    let ended = if result.is_ok() {
                        run("RELEASE job")
                    } else {
                        run("ROLLBACK TO job").and_then(|_| run("RELEASE job"))
                    };
                    ended.map_err(StoreError::from).and(result)
                }
                Err(e) => Err(e.into()),
            };
            Box::new(move |committed: Result<(), String>| {
                let outcome = match committed {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Corrupt(format!("commit failed: {e}"))),
                };
                let _ = reply.send(outcome);
            })
        });
        let sender = self
            .writer
            .lock()
            .map_err(|_| StoreError::WriterGone)?
            .clone();
        sender
            .ok_or(StoreError::WriterGone)?
            .send(job)
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `work` on a read connection. Reads are short; never call this with a
    /// lock held across an await.
    pub fn read<R>(
        &self,
        work: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| StoreError::WriterGone)?
            .pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => connect(&self.path, self.synchronous)?,
        };
        let result = work(&connection);
        if let Ok(mut readers) = self.readers.lock()
            && readers.len() < 16
        {
            readers.push(connection);
        }
        result
    }

    /// Stops the writer after the jobs already sent, and waits for it.
    pub fn close(&self) {
        if let Ok(mut writer) = self.writer.lock() {
            writer.take();
        }
        if let Some(thread) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
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

pub(crate) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.execute_batch(&format!("PRAGMA user_version = {}", number + 1))?;
        transaction.commit()?;
    }
    Ok(())
}

/// The writer: takes every job waiting, runs them in one transaction, commits
/// once, then answers them all.
fn write_loop(mut connection: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let transaction = match connection.transaction() {
            Ok(transaction) => transaction,
            Err(e) => {
                tracing::error!("cannot begin a transaction: {e}");
                // Dropping the jobs drops their reply senders: callers see an error.
                continue;
            }
        };
        let finishers: Vec<Finish> = batch.into_iter().map(|job| job(&transaction)).collect();
        let committed = transaction.commit().map_err(|e| e.to_string());
        if let Err(e) = &committed {
            tracing::error!("commit failed: {e}");
        }
        for finish in finishers {
            finish(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
