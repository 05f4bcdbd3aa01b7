//! PostgreSQL: connecting (with one clear line when it cannot), sessions (a
//! client and its prepared statements), and the schema's numbered
//! migrations, applied under an advisory lock so that processes starting at
//! once do not race.
//!
//! The store's record functions are synchronous, as SQLite's are: a session
//! waits for each statement on the calling thread (`futures_executor`), while
//! the connections themselves are driven by a small runtime of the store's
//! own, so this works from the store's threads and from async code alike.
//!
//! One host drives a database's runs at a time, until leases let several
//! share the work: a host holds the host lock (a session advisory lock) on a
//! connection of its own for as long as it runs, and its writer commits only
//! while that connection, and so the lock, is held.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::StoreError;
use super::sql::{Arg, Param, numbered_for_postgres};

/// Embedded, numbered migrations; `cairn_schema.version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("migrations/postgres/0001_schema.sql")];

/// The advisory lock migrations run under (any constant; this one spells "cairn").
const MIGRATION_LOCK: i64 = 0x0063_6169_726e;

/// The advisory lock a host holds while it drives the database's runs.
const HOST_LOCK: i64 = 0x0063_6169_726f;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is, and the runtime that drives its connections.
pub struct Postgres {
    config: tokio_postgres::Config,
    /// `None` once closed: nothing connects any more.
    runtime: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
    /// The session holding the host lock, while it holds it.
    host_lock: std::sync::Mutex<Option<Session>>,
    /// Whether this process claimed the host lock (and so must hold it to commit).
    claimed: std::sync::atomic::AtomicBool,
    /// Transactions this process has run: each statement of a read session
    /// (it commits on its own), and each batch of the writer.
    transactions: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A connection and the statements prepared on it.
pub struct Session {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// Counts each statement as a transaction (the writer counts its
    /// batches itself).
    transactions: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// The writer's: a runtime on the writer's own thread that drives this
    /// connection, so that a statement costs no hop to another thread.
    local: Option<tokio::runtime::Runtime>,
    /// Statements without parameters (the writer's `BEGIN` and savepoints)
    /// sent ahead of the next statement, in the same round trip.
    deferred: RefCell<String>,
}

impl Postgres {
    /// Reads `url` and starts the runtime; connects nothing yet.
    pub fn new(url: &str) -> Result<Postgres, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Setting(format!("the database URL is not valid: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("cairn");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cairn-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start a runtime: {e}")))?;
        Ok(Postgres {
            config,
            runtime: std::sync::Mutex::new(Some(runtime)),
            host_lock: std::sync::Mutex::new(None),
            claimed: std::sync::atomic::AtomicBool::new(false),
            transactions: Default::default(),
        })
    }

    /// A new session.
    pub fn connect(&self) -> Result<Session, StoreError> {
        let config = self.config.clone();
        // Spawned while the runtime is known to run: a task spawned on a
        // runtime that was shut down would never answer.
        let guard = self.runtime.lock().map_err(|_| StoreError::WriterGone)?;
        let runtime = guard.as_ref().ok_or(StoreError::WriterGone)?;
        let connecting = runtime.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(drive(connection));
            Ok::<_, tokio_postgres::Error>(client)
        });
        drop(guard);
        let client = futures_executor::block_on(connecting)
            .map_err(|e| StoreError::Unavailable(format!("cannot connect: {e}")))?
            .map_err(|e| StoreError::Unavailable(format!("cannot connect: {}", detail(&e))))?;
        Ok(self.session(client, None))
    }

    /// A session driven by the calling thread alone (the writer's): never
    /// call it on an async thread.
    pub fn connect_here(&self) -> Result<Session, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start a runtime: {e}")))?;
        let (client, connection) = runtime
            .block_on(self.config.connect(NoTls))
            .map_err(|e| StoreError::Unavailable(format!("cannot connect: {}", detail(&e))))?;
        runtime.spawn(drive(connection));
        Ok(self.session(client, Some(runtime)))
    }

    /// A session over `client`, whose connection `local` drives (the
    /// writer's, which counts its own transactions) or the shared runtime.
    fn session(&self, client: Client, local: Option<tokio::runtime::Runtime>) -> Session {
        Session {
            client,
            statements: RefCell::new(HashMap::new()),
            transactions: local.is_none().then(|| self.transactions.clone()),
            local,
            deferred: RefCell::new(String::new()),
        }
    }

    /// Takes the host lock for this process, on a session kept for it;
    /// refused while another host holds it.
    pub fn claim_host(&self) -> Result<(), StoreError> {
        let mut held = self.host_lock.lock().map_err(|_| StoreError::WriterGone)?;
        if held.as_ref().is_some_and(|s| !s.is_closed()) {
            return Ok(());
        }
        *held = None;
        let session = self.connect()?;
        let taken: bool = session
            .query(&format!("SELECT pg_try_advisory_lock({HOST_LOCK})"), &[])?
            .first()
            .and_then(|row| row.try_get(0).ok())
            .unwrap_or(false);
        if !taken {
            return Err(StoreError::Conflict(
                "another Cairn host is using this database (one host per PostgreSQL \
                 database, until leases let several share it)"
                    .to_owned(),
            ));
        }
        *held = Some(session);
        self.claimed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether this process may commit: it claimed no host lock (a command
    /// that does not drive runs), or it still holds it, taking it again
    /// after a lost connection if no other host took it meanwhile.
    pub fn may_commit(&self) -> Result<(), StoreError> {
        if !self.claimed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        // Serving, this host cannot commit until it holds the lock again.
        self.claim_host().map_err(|e| match e {
            StoreError::Conflict(why) => StoreError::Unavailable(why),
            other => other,
        })
    }

    /// Transactions run so far (see [`Postgres::transactions`]'s field).
    pub fn transactions(&self) -> u64 {
        self.transactions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a batch of the writer.
    pub fn count_transaction(&self) {
        self.transactions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops the runtime, closing every connection (safe in async code).
    pub fn close(&self) {
        if let Some(session) = self.host_lock.lock().ok().and_then(|mut held| held.take()) {
            // At once, not when the server notices the connection is gone.
            let _ = session.batch(&format!("SELECT pg_advisory_unlock({HOST_LOCK})"));
        }
        if let Some(runtime) = self.runtime.lock().ok().and_then(|mut r| r.take()) {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Postgres {
    /// Without blocking: a store may be dropped on an async thread.
    fn drop(&mut self) {
        self.close();
    }
}

impl Session {
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Whether the session still reaches the server, as far as it can tell
    /// without asking. The writer's connection is driven only while the
    /// writer waits on it: it first takes in what came meanwhile (the server
    /// ending it, say; a task yielding twice lets the runtime poll its
    /// sockets and then run the connection).
    pub fn is_alive(&self) -> bool {
        if let Some(runtime) = &self.local {
            runtime.block_on(async {
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
            });
        }
        !self.client.is_closed()
    }

    fn count(&self) {
        if let Some(count) = &self.transactions {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Waits for `work` on this thread.
    fn wait<F: std::future::Future>(&self, work: F) -> F::Output {
        match &self.local {
            Some(runtime) => runtime.block_on(work),
            None => futures_executor::block_on(work),
        }
    }

    /// Waits for `work`, sent after the deferred statements (one round trip).
    fn after_deferred<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, tokio_postgres::Error> {
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        if deferred.is_empty() {
            return self.wait(work);
        }
        let (sent, done) = self.wait(futures_util::future::join(
            self.client.batch_execute(&deferred),
            work,
        ));
        sent.and(done)
    }

    /// Sends `sql` (no parameters, no rows) ahead of the next statement.
    pub fn defer(&self, sql: &str) {
        let mut deferred = self.deferred.borrow_mut();
        deferred.push_str(sql);
        deferred.push(';');
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self
            .wait(self.client.prepare(&numbered_for_postgres(sql)))
            .map_err(|e| self.error(e, sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        let statement = self.statement(sql)?;
        let args: Vec<Arg<'_>> = params.iter().map(|p| p.arg()).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        self.count();
        let changed = self
            .after_deferred(self.client.execute(&statement, &refs))
            .map_err(|e| self.error(e, sql))?;
        Ok(changed as usize)
    }

    pub fn query(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let statement = self.statement(sql)?;
        let args: Vec<Arg<'_>> = params.iter().map(|p| p.arg()).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as _).collect();
        self.count();
        self.after_deferred(self.client.query(&statement, &refs))
            .map_err(|e| self.error(e, sql))
    }

    /// Runs statements without parameters (after the deferred ones), as one
    /// simple query.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let mut script = std::mem::take(&mut *self.deferred.borrow_mut());
        script.push_str(sql);
        self.wait(self.client.batch_execute(&script))
            .map_err(|e| self.error(e, &script))
    }

    /// A driver error as the store's: a lost connection is the database being
    /// unavailable; anything else is a database error naming the statement.
    fn error(&self, e: tokio_postgres::Error, sql: &str) -> StoreError {
        if e.is_closed() || self.client.is_closed() {
            return StoreError::Unavailable(format!(
                "the database connection was lost: {}",
                detail(&e)
            ));
        }
        let code = e.code().map(|c| c.code()).unwrap_or("");
        StoreError::Postgres(format!("{} [{code}] in: {sql}", detail(&e)))
    }

    /// Applies the migrations this database lacks, holding the migration lock.
    pub fn migrate(&self) -> Result<(), StoreError> {
        self.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        let result = self.migrate_locked();
        let unlocked = self.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        result.and(unlocked)
    }

    fn migrate_locked(&self) -> Result<(), StoreError> {
        self.batch("CREATE TABLE IF NOT EXISTS cairn_schema (version BIGINT NOT NULL)")?;
        let rows = self.query("SELECT version FROM cairn_schema", &[])?;
        let applied = match rows.first() {
            Some(row) => row
                .try_get::<_, i64>(0)
                .map_err(|e| self.error(e, "cairn_schema"))? as usize,
            None => {
                self.batch("INSERT INTO cairn_schema (version) VALUES (0)")?;
                0
            }
        };
        if applied > MIGRATIONS.len() {
            return Err(StoreError::TooNew {
                found: applied,
                known: MIGRATIONS.len(),
            });
        }
        for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            let script = format!(
                "BEGIN; {sql}; UPDATE cairn_schema SET version = {}; COMMIT;",
                number + 1
            );
            if let Err(e) = self.batch(&script) {
                let _ = self.batch("ROLLBACK");
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Drives a connection until it ends, and says why it ended.
async fn drive(
    connection: tokio_postgres::Connection<
        tokio_postgres::Socket,
        tokio_postgres::tls::NoTlsStream,
    >,
) {
    if let Err(e) = connection.await {
        tracing::warn!("database connection ended: {e}");
    }
}

/// A database error's message, with the server's detail when there is one.
fn detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}
