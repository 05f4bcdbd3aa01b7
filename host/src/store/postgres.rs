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
//! Several hosts may share a database (see `store/hosts.rs`): each writer
//! session names its host (`cairn.host`, for the counters' per-host rows),
//! and a batch that changed runs sends one `NOTIFY` hint, which the other
//! hosts' listeners pass on to their runners. Hints only hurry things up:
//! they are lost across reconnects, and nothing depends on them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};

use super::StoreError;
use super::sql::{Arg, Param, numbered_for_postgres};

/// Embedded, numbered migrations; `cairn_schema.version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_schema.sql"),
    include_str!("migrations/postgres/0002_hosts.sql"),
];

/// The advisory lock migrations run under (any constant; this one spells "cairn").
const MIGRATION_LOCK: i64 = 0x0063_6169_726e;

/// How many migrations make the schema that has the `hosts` table.
const HOSTS_MIGRATION: usize = 2;

/// The channel of the hosts' hints.
pub const HINTS: &str = "cairn";

/// The largest hint payload sent at once (the server's limit is 8000 bytes).
const MAX_HINT: usize = 7900;

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the database is, and the runtime that drives its connections.
pub struct Postgres {
    config: tokio_postgres::Config,
    /// `None` once closed: nothing connects any more.
    runtime: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
    /// The host this process drives runs as, once it joined.
    host: std::sync::OnceLock<String>,
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
    /// The runs this transaction changed, for the batch's hint.
    touched: RefCell<Vec<String>>,
    /// The host this session's counters count for (`cairn.host`).
    counts_for: RefCell<Option<String>>,
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
            host: std::sync::OnceLock::new(),
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
            touched: RefCell::new(Vec::new()),
            counts_for: RefCell::new(None),
        }
    }

    /// Names the host this process drives runs as (once).
    pub fn set_host(&self, id: &str) {
        let _ = self.host.set(id.to_owned());
    }

    /// The host this process drives runs as, once it joined.
    pub fn host(&self) -> Option<&str> {
        self.host.get().map(String::as_str)
    }

    /// The writer's: begins a transaction on `session`, whose counters
    /// count for this process's host.
    pub fn begin(&self, session: &Session) {
        if let Some(host) = self.host()
            && session.counts_for.borrow().as_deref() != Some(host)
        {
            session.defer(&format!("SET cairn.host = {}", quoted(host)));
            *session.counts_for.borrow_mut() = Some(host.to_owned());
        }
        session.defer("BEGIN");
    }

    /// Listens for the hints of other hosts, calling `heard` with each
    /// payload (and with `None` after a reconnect: hints may have been
    /// lost), until the store closes.
    pub fn listen(&self, heard: impl Fn(Option<&str>) + Send + Sync + 'static) {
        let config = self.config.clone();
        let Some(runtime) = self
            .runtime
            .lock()
            .ok()
            .and_then(|r| r.as_ref().map(|r| r.handle().clone()))
        else {
            return;
        };
        runtime.spawn(async move {
            let mut first = true;
            loop {
                match config.connect(NoTls).await {
                    Ok((client, mut connection)) => {
                        let (sender, mut payloads) = tokio::sync::mpsc::unbounded_channel();
                        let messages = tokio::spawn(async move {
                            while let Some(message) =
                                std::future::poll_fn(|cx| connection.poll_message(cx)).await
                            {
                                match message {
                                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                        let _ = sender.send(n.payload().to_owned());
                                    }
                                    Ok(_) => {}
                                    Err(e) => {
                                        tracing::warn!(
                                            "the hints listener lost its connection: {}",
                                            detail(&e)
                                        );
                                        break;
                                    }
                                }
                            }
                        });
                        if client
                            .batch_execute(&format!("LISTEN {HINTS}"))
                            .await
                            .is_ok()
                        {
                            if !first {
                                heard(None);
                            }
                            first = false;
                            while let Some(payload) = payloads.recv().await {
                                heard(Some(&payload));
                            }
                        }
                        messages.abort();
                        drop(client);
                    }
                    Err(e) => tracing::debug!("the hints listener cannot connect: {}", detail(&e)),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
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

    /// Sends `payload` on the hints channel (with the transaction, if one is
    /// open; at once otherwise).
    pub fn hint(&self, payload: &str) -> Result<(), StoreError> {
        self.batch(&format!("NOTIFY {HINTS}, {}", quoted(payload)))
    }

    /// Notes that this transaction changed run `id` (for the batch's hint).
    pub fn touch(&self, id: &str) {
        self.touched.borrow_mut().push(id.to_owned());
    }

    /// The writer's, before it commits a batch: sends the hint that the runs
    /// it changed did (`c <host> <run>,<run>...`), with the commit.
    pub fn hint_touched(&self, host: Option<&str>) {
        let mut touched = std::mem::take(&mut *self.touched.borrow_mut());
        let Some(host) = host else {
            return;
        };
        touched.sort_unstable();
        touched.dedup();
        let mut payload = String::new();
        for id in touched {
            if payload.len() + id.len() > MAX_HINT {
                self.defer(&format!("NOTIFY {HINTS}, {}", quoted(&payload)));
                payload.clear();
            }
            if payload.is_empty() {
                payload = format!("c {host} ");
            } else {
                payload.push(',');
            }
            payload.push_str(&id);
        }
        if !payload.is_empty() {
            self.defer(&format!("NOTIFY {HINTS}, {}", quoted(&payload)));
        }
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
        // Hosts committing at once: the server broke a deadlock or a
        // conflict by failing this statement; the same work may be tried again.
        if matches!(code, "40P01" | "40001" | "55P03") {
            return StoreError::Unavailable(format!(
                "the database asks to try again: {}",
                detail(&e)
            ));
        }
        StoreError::Postgres(format!("{} [{code}] in: {sql}", detail(&e)))
    }

    /// Refuses to migrate a database from schema version `applied` while
    /// hosts of the older Cairn that made it hold a lease: the new schema
    /// would change under them.
    fn refuse_while_older_hosts_run(&self, applied: usize) -> Result<(), StoreError> {
        let rows = self.query(
            "SELECT name FROM hosts WHERE lease_until > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT ORDER BY name",
            &[],
        )?;
        let names: Vec<String> = rows
            .iter()
            .filter_map(|row| row.try_get::<_, String>(0).ok())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        Err(StoreError::Setting(format!(
            "the database's schema (version {applied}) is older than this Cairn's (version {}), and {} \
             host(s) of the older Cairn use it ({}): stop them first, then start this one, which \
             migrates it",
            MIGRATIONS.len(),
            names.len(),
            names.join(", ")
        )))
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
        if applied < MIGRATIONS.len() && applied >= HOSTS_MIGRATION {
            self.refuse_while_older_hosts_run(applied)?;
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

/// `text` as an SQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_schema_is_not_migrated_under_hosts_of_the_older_cairn() {
        let Some(url) = crate::store::tests::fresh_postgres() else {
            return;
        };
        let server = Postgres::new(&url).expect("url");
        let session = server.connect().expect("connect");
        session.migrate().expect("migrate");
        // Nobody uses it: an older schema would be migrated.
        session
            .refuse_while_older_hosts_run(1)
            .expect("no host holds a lease");
        session
            .batch(
                "INSERT INTO hosts (id, name, pid, started_at, lease_until) \
                 VALUES ('old', 'cairn pid 1', 1, 0, 9223372036854775807)",
            )
            .expect("a live host");
        let refused = session
            .refuse_while_older_hosts_run(1)
            .expect_err("refused")
            .to_string();
        assert!(refused.contains("older than this Cairn's"), "{refused}");
        assert!(refused.contains("cairn pid 1"), "{refused}");
        assert!(!refused.contains('\n'), "one line: {refused}");
        server.close();
    }
}
