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
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::StoreError;
use super::sql::{Owned, Param, numbered_for_postgres};

/// Embedded, numbered migrations; `cairn_schema.version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_schema.sql"),
    include_str!("migrations/postgres/0002_hosts.sql"),
    include_str!("migrations/postgres/0003_in_place.sql"),
    include_str!("migrations/postgres/0004_dashboard.sql"),
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
///
/// Statements are pipelined: each is sent when it is made ([`Session::send`])
/// and its answer read when it is needed ([`Session::receive`]), so that
/// statements whose answers nobody waits for (the inserts of a run's
/// transition) share one round trip with the next one that is waited for.
/// A statement that fails fails those after it in its transaction too; the
/// first error is the one reported, at the next answer read or when the
/// session settles ([`Session::settle`]).
pub struct Session {
    client: Arc<Client>,
    /// Statements sent, in order, until every answer was read or settled.
    sent: RefCell<Vec<Sent>>,
    /// How many of `sent` (from the first) are no longer waiting.
    answered: std::cell::Cell<usize>,
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

/// A statement's answer: its rows and how many rows it changed.
type Answered = Result<(Vec<Row>, u64), tokio_postgres::Error>;

/// A statement on its way.
type Pending = Pin<Box<dyn Future<Output = Answered> + Send>>;

/// A statement sent, and where its answer is.
struct Sent {
    sql: String,
    answer: Answer,
}

enum Answer {
    Waiting(Pending),
    Arrived(Answered),
    /// Read by [`Session::receive`] or [`Session::settle`].
    Read,
}

/// Names a statement [`Session::send`] sent, for [`Session::receive`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket(usize);

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
            client: Arc::new(client),
            sent: RefCell::new(Vec::new()),
            answered: std::cell::Cell::new(0),
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
    fn wait<F: Future>(&self, work: F) -> F::Output {
        match &self.local {
            Some(runtime) => runtime.block_on(work),
            None => futures_executor::block_on(work),
        }
    }

    /// Waits for `work` on this thread, taking in the answers of the
    /// statements sent before it meanwhile (the driver hands a statement's
    /// answer over only as fast as it is taken, and stops reading the
    /// connection until it is).
    fn drive<T>(&self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        self.wait(std::future::poll_fn(|cx| {
            self.poll_sent(cx);
            work.as_mut().poll(cx)
        }))
    }

    /// Takes in the answers that arrived. They arrive in the order the
    /// statements were sent, so only the first one waiting can be next: the
    /// rest wait (polling each at every wake-up would cost a batch of n
    /// statements n² polls).
    fn poll_sent(&self, cx: &mut Context<'_>) {
        let mut sent = self.sent.borrow_mut();
        let mut first = self.answered.get();
        while let Some(next) = sent.get_mut(first) {
            if let Answer::Waiting(answer) = &mut next.answer {
                match answer.as_mut().poll(cx) {
                    Poll::Ready(answered) => next.answer = Answer::Arrived(answered),
                    Poll::Pending => break,
                }
            }
            first += 1;
        }
        self.answered.set(first);
    }

    /// Queues `answer`, a statement's future, polled once: that sends it.
    fn push(&self, sql: String, mut answer: Pending) -> Ticket {
        let answer = match answer.as_mut().now_or_never() {
            Some(answered) => Answer::Arrived(answered),
            None => Answer::Waiting(answer),
        };
        let mut sent = self.sent.borrow_mut();
        sent.push(Sent { sql, answer });
        Ticket(sent.len() - 1)
    }

    /// Sends the deferred statements, if there are any.
    fn send_deferred(&self) {
        let script = std::mem::take(&mut *self.deferred.borrow_mut());
        if script.is_empty() {
            return;
        }
        let client = self.client.clone();
        let sending = script.clone();
        self.push(
            script,
            Box::pin(async move {
                client.batch_execute(&sending).await?;
                Ok((Vec::new(), 0))
            }),
        );
    }

    /// Sends `sql` (after the deferred statements) without waiting for it:
    /// [`Session::receive`] reads its answer.
    pub fn send(&self, sql: &str, params: &[&dyn Param]) -> Result<Ticket, StoreError> {
        let statement = self.statement(sql)?;
        self.send_deferred();
        let args: Vec<Owned> = params.iter().map(|p| Owned::from(p.arg())).collect();
        let client = self.client.clone();
        self.count();
        Ok(self.push(
            sql.to_owned(),
            Box::pin(async move {
                let stream = client.query_raw(&statement, args.iter()).await?;
                let mut stream = std::pin::pin!(stream);
                let mut rows = Vec::new();
                while let Some(row) =
                    std::future::poll_fn(|cx| futures_util::Stream::poll_next(stream.as_mut(), cx))
                        .await
                {
                    rows.push(row?);
                }
                Ok((rows, stream.rows_affected().unwrap_or(0)))
            }),
        ))
    }

    /// Waits for the answer of the statement `ticket` names: its rows and
    /// how many rows it changed. When it failed because one sent before it
    /// did, that one's error.
    pub fn receive(&self, ticket: Ticket) -> Result<(Vec<Row>, u64), StoreError> {
        self.drive(std::future::poll_fn(|_| {
            match self.sent.borrow()[ticket.0].answer {
                Answer::Waiting(_) => Poll::Pending,
                _ => Poll::Ready(()),
            }
        }));
        let mut sent = self.sent.borrow_mut();
        let answered = std::mem::replace(&mut sent[ticket.0].answer, Answer::Read);
        let result = match answered {
            Answer::Arrived(Ok(answer)) => Ok(answer),
            Answer::Arrived(Err(e)) => Err(self
                .first_error(&mut sent[..ticket.0])
                .unwrap_or_else(|| self.error(e, &sent[ticket.0].sql))),
            Answer::Waiting(_) | Answer::Read => Err(StoreError::Corrupt(
                "a statement's answer was read twice".to_owned(),
            )),
        };
        if sent.iter().all(|s| matches!(s.answer, Answer::Read)) {
            sent.clear();
            self.answered.set(0);
        }
        result
    }

    /// Waits for every statement sent; the first error among those whose
    /// answers nobody read.
    pub fn settle(&self) -> Result<(), StoreError> {
        if self.sent.borrow().is_empty() {
            return Ok(());
        }
        self.drive(std::future::poll_fn(|_| {
            match self.answered.get() < self.sent.borrow().len() {
                true => Poll::Pending,
                false => Poll::Ready(()),
            }
        }));
        let mut sent = std::mem::take(&mut *self.sent.borrow_mut());
        self.answered.set(0);
        match self.first_error(&mut sent) {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
            .drive(self.client.prepare(&numbered_for_postgres(sql)))
            .map_err(|e| self.error(e, sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        let ticket = self.send(sql, params)?;
        Ok(self.receive(ticket)?.1 as usize)
    }

    pub fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, StoreError> {
        let ticket = self.send(sql, params)?;
        Ok(self.receive(ticket)?.0)
    }

    /// Runs statements without parameters (after the deferred ones), as one
    /// simple query.
    pub fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let mut script = std::mem::take(&mut *self.deferred.borrow_mut());
        script.push_str(sql);
        self.drive(self.client.batch_execute(&script))
            .map_err(|e| self.error(e, &script))
    }

    /// The first error among `sent` not read yet (then read).
    fn first_error(&self, sent: &mut [Sent]) -> Option<StoreError> {
        sent.iter_mut().find_map(|sent| {
            if !matches!(sent.answer, Answer::Arrived(Err(_))) {
                return None;
            }
            match std::mem::replace(&mut sent.answer, Answer::Read) {
                Answer::Arrived(Err(e)) => Some(self.error(e, &sent.sql)),
                _ => None,
            }
        })
    }

    /// A driver error as the store's: a lost connection is the database being
    /// unavailable; anything else is a database error naming the statement.
    fn error(&self, e: tokio_postgres::Error, sql: &str) -> StoreError {
        let code = e.code().map(|c| c.code()).unwrap_or("");
        // Besides a connection seen closed: the server ended the session
        // (an administrator's `pg_terminate_backend`, a shutdown, a start-up:
        // 57P01-57P03) or the connection broke (class 08), which may arrive
        // as the answer to a statement before the connection is seen closed.
        let ended = matches!(code, "57P01" | "57P02" | "57P03") || code.starts_with("08");
        if ended || e.is_closed() || self.client.is_closed() {
            return StoreError::Unavailable(format!(
                "the database connection was lost: {}",
                detail(&e)
            ));
        }
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
