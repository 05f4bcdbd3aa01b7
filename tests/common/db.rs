//! The backend the suite runs on, and raw SQL on a server's database for the
//! tests that rewrite stored state as a crash or an older build left it.
//!
//! With `CAIRN_TEST_POSTGRES` set (to a superuser URL; `.ci/test` starts a
//! throwaway cluster and sets it), every server, host and local command of
//! the suite runs on PostgreSQL, each data directory with a database of its
//! own; without it, on SQLite files as `cairn serve` does by default. The
//! tests are the same either way.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_postgres::NoTls;

/// The superuser URL of the PostgreSQL server the suite runs on, if any.
pub fn postgres() -> Option<String> {
    std::env::var("CAIRN_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres().is_some()
}

/// The database URL of the data directory `data_dir` on PostgreSQL (a fresh
/// database the first time it is asked for, the same one after a restart);
/// `None` on SQLite, where the data directory holds the database.
pub fn database_url(data_dir: &Path) -> Option<String> {
    let admin = postgres()?;
    let remembered = data_dir.with_extension("database-url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return Some(url);
    }
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "cairn_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let client = Client::connect(&admin);
    client.batch(&format!("CREATE DATABASE {name}"));
    let (base, _) = admin.rsplit_once('/').expect("a database URL");
    let url = format!("{base}/{name}");
    if let Some(parent) = remembered.parent() {
        std::fs::create_dir_all(parent).expect("the data directory's parent");
    }
    std::fs::write(&remembered, &url).expect("remember the database");
    Some(url)
}

/// The environment that points the `cairn` command line at the database of
/// `data_dir` (none on SQLite).
pub fn env(data_dir: &Path) -> Vec<(&'static str, String)> {
    database_url(data_dir)
        .map(|url| ("CAIRN_DATABASE", url))
        .into_iter()
        .collect()
}

/// The store configuration of `data_dir`'s database.
pub fn database(data_dir: &Path) -> cairn::store::Database {
    cairn::runner::database(
        data_dir,
        database_url(data_dir),
        cairn::store::Synchronous::Normal,
    )
}

/// A parameter of a raw statement.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    Int(i64),
}

impl From<&str> for Val {
    fn from(text: &str) -> Val {
        Val::Text(text.to_owned())
    }
}

impl From<&String> for Val {
    fn from(text: &String) -> Val {
        Val::Text(text.clone())
    }
}

impl From<i64> for Val {
    fn from(number: i64) -> Val {
        Val::Int(number)
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl Cell {
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// Raw SQL on the database of a data directory, whichever backend it is on.
/// Statements use `?1`-style parameters and SQL both backends accept.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Client),
}

impl Db {
    pub fn open(data_dir: &Path) -> Db {
        match database_url(data_dir) {
            Some(url) => Db::Postgres(Client::connect(&url)),
            None => Db::Sqlite(
                rusqlite::Connection::open(data_dir.join("cairn.db")).expect("open the database"),
            ),
        }
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: &[Val]) -> usize {
        match self {
            Db::Sqlite(db) => db
                .execute(sql, rusqlite::params_from_iter(params.iter().map(sqlite)))
                .unwrap_or_else(|e| panic!("{sql}: {e:?}")),
            Db::Postgres(client) => client.execute(sql, params),
        }
    }

    /// Every row of a query.
    pub fn query(&self, sql: &str, params: &[Val]) -> Vec<Vec<Cell>> {
        match self {
            Db::Sqlite(db) => {
                let mut statement = db.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                let columns = statement.column_count();
                statement
                    .query_map(
                        rusqlite::params_from_iter(params.iter().map(sqlite)),
                        |row| {
                            (0..columns)
                                .map(|i| {
                                    Ok(match row.get_ref(i)? {
                                        rusqlite::types::ValueRef::Null => Cell::Null,
                                        rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                                        other => Cell::Text(
                                            String::from_utf8_lossy(
                                                other.as_bytes().unwrap_or_default(),
                                            )
                                            .into_owned(),
                                        ),
                                    })
                                })
                                .collect()
                        },
                    )
                    .and_then(|rows| rows.collect())
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            }
            Db::Postgres(client) => client.query(sql, params),
        }
    }

    /// The first column of the first row, as a number.
    pub fn number(&self, sql: &str, params: &[Val]) -> i64 {
        self.query(sql, params)
            .first()
            .and_then(|row| row[0].int())
            .unwrap_or_else(|| panic!("{sql}: no number"))
    }
}

fn sqlite(value: &Val) -> rusqlite::types::Value {
    match value {
        Val::Text(text) => rusqlite::types::Value::Text(text.clone()),
        Val::Int(n) => rusqlite::types::Value::Integer(*n),
    }
}

/// A PostgreSQL connection for the tests, usable from sync and async tests
/// alike: its connection runs on a runtime of its own.
pub struct Client {
    client: tokio_postgres::Client,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

impl Client {
    pub fn connect(url: &str) -> Client {
        let url = url.to_owned();
        let connecting = runtime().spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls)
                .await
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            tokio::spawn(connection);
            client
        });
        Client {
            client: futures_executor::block_on(connecting).expect("connected"),
        }
    }

    pub fn batch(&self, sql: &str) {
        futures_executor::block_on(self.client.batch_execute(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }

    fn execute(&self, sql: &str, params: &[Val]) -> usize {
        let sql = numbered(sql);
        let params = owned(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        futures_executor::block_on(self.client.execute(sql.as_str(), &refs))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}")) as usize
    }

    fn query(&self, sql: &str, params: &[Val]) -> Vec<Vec<Cell>> {
        use tokio_postgres::types::Type;
        let sql = numbered(sql);
        let params = owned(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        let rows = futures_executor::block_on(self.client.query(sql.as_str(), &refs))
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let ty = row.columns()[i].type_().clone();
                        let cell = match ty {
                            Type::INT8 => row.get::<_, Option<i64>>(i).map(Cell::Int),
                            Type::INT4 => row.get::<_, Option<i32>>(i).map(|n| Cell::Int(n.into())),
                            Type::BOOL => {
                                row.get::<_, Option<bool>>(i).map(|b| Cell::Int(b.into()))
                            }
                            _ => row.get::<_, Option<String>>(i).map(Cell::Text),
                        };
                        cell.unwrap_or(Cell::Null)
                    })
                    .collect()
            })
            .collect()
    }
}

fn owned(params: &[Val]) -> Vec<Box<dyn tokio_postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync> {
            match p {
                Val::Text(text) => Box::new(text.clone()),
                Val::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

/// `?N` parameters as PostgreSQL's `$N`.
fn numbered(sql: &str) -> String {
    sql.replace('?', "$")
}
