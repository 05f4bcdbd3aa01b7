//! The SQL both backends run: a connection or transaction of either
//! ([`Db`]), a row of either ([`Row`]), parameters ([`Param`], `params!`),
//! and which dialect a statement is for ([`Dialect`]).
//!
//! The record functions are written once against these. Statements use
//! SQLite's numbered parameters (`?1`); PostgreSQL gets them as `$1`. Most
//! statements are the same text for both; the few that are not (JSON
//! functions, index hints) pick theirs with [`Db::dialect`]. PostgreSQL
//! infers a parameter's type where it first appears, so a statement names a
//! parameter in a typed position (`workflow_id = ?2`) before `?2 IS NULL`.

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::StoreError;
use super::postgres::{Session, Ticket};

/// Which SQL a statement is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection, or the writer's transaction, of either backend.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a Session),
}

/// One row of a result.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

/// A parameter's value, as both backends take it.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
    /// A column's values across rows, for `unnest` (PostgreSQL's only).
    Texts(&'a [Option<String>]),
    Ints(&'a [Option<i64>]),
}

/// A parameter's value, owned: for a statement sent ahead of its answer.
#[derive(Debug)]
pub enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Texts(Vec<Option<String>>),
    Ints(Vec<Option<i64>>),
}

impl From<Arg<'_>> for Owned {
    fn from(arg: Arg<'_>) -> Owned {
        match arg {
            Arg::Null => Owned::Null,
            Arg::Int(v) => Owned::Int(v),
            Arg::Real(v) => Owned::Real(v),
            Arg::Text(v) => Owned::Text(v.to_owned()),
            Arg::Blob(v) => Owned::Blob(v.to_owned()),
            Arg::Texts(v) => Owned::Texts(v.to_owned()),
            Arg::Ints(v) => Owned::Ints(v.to_owned()),
        }
    }
}

impl From<Option<String>> for Owned {
    fn from(value: Option<String>) -> Owned {
        value.map_or(Owned::Null, Owned::Text)
    }
}

impl From<Option<i64>> for Owned {
    fn from(value: Option<i64>) -> Owned {
        value.map_or(Owned::Null, Owned::Int)
    }
}

impl Param for Owned {
    fn arg(&self) -> Arg<'_> {
        match self {
            Owned::Null => Arg::Null,
            Owned::Int(v) => Arg::Int(*v),
            Owned::Real(v) => Arg::Real(*v),
            Owned::Text(v) => Arg::Text(v),
            Owned::Blob(v) => Arg::Blob(v),
            Owned::Texts(v) => Arg::Texts(v),
            Owned::Ints(v) => Arg::Ints(v),
        }
    }
}

/// A query's first row, mapped, once its answer is read ([`Later::first`]).
pub enum Later<'a, T> {
    Ready(Option<T>),
    Sent {
        session: &'a Session,
        ticket: Ticket,
        map: fn(&Row<'_>) -> Result<T, StoreError>,
    },
}

impl<T> Later<'_, T> {
    /// Waits for the answer: the first row, if there is one, mapped.
    pub fn first(self) -> Result<Option<T>, StoreError> {
        match self {
            Later::Ready(value) => Ok(value),
            Later::Sent {
                session,
                ticket,
                map,
            } => session
                .receive(ticket)?
                .0
                .first()
                .map(|row| map(&Row::Postgres(row)))
                .transpose(),
        }
    }
}

/// What can be bound to a statement's parameter.
pub trait Param {
    fn arg(&self) -> Arg<'_>;
}

/// The parameters of a statement: `params![a, b]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$(&$value as &dyn $crate::store::sql::Param),*] as &[&dyn $crate::store::sql::Param]
    };
}
pub(crate) use params;

impl<'a> Db<'a> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// `sqlite` or `postgres`: the statement in this backend's dialect.
    pub fn pick<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }

    /// Runs a statement that controls a transaction (`BEGIN`, `SAVEPOINT`,
    /// `RELEASE`, ...): prepared once on SQLite; on PostgreSQL, sent ahead of
    /// the next statement rather than waited for.
    pub fn control(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => {
                c.prepare_cached(sql)?.execute([])?;
                Ok(())
            }
            Db::Postgres(s) => {
                s.defer(sql);
                Ok(())
            }
        }
    }

    /// Notes that this transaction changes run `id`: on PostgreSQL, the
    /// other hosts hear of it when the batch commits.
    pub fn touch(&self, id: &str) {
        if let Db::Postgres(s) = self {
            s.touch(id);
        }
    }

    /// Runs `work`'s statements on one snapshot of the database (a read-only
    /// transaction), so that what they read was committed together: a run's
    /// row and its steps, say, with no transition committed between the two.
    pub fn snapshot<R>(
        &self,
        work: impl FnOnce(&Db<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        match self {
            Db::Sqlite(_) => self.control("BEGIN")?,
            // Sent with the first statement, not waited for on its own.
            Db::Postgres(s) => s.defer("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        }
        let result = work(self);
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = match self {
            Db::Sqlite(_) => self.control(end),
            Db::Postgres(s) => s.batch(end),
        };
        let value = result?;
        ended?;
        Ok(value)
    }

    /// Sends a hint to the other hosts (PostgreSQL's `NOTIFY`; nothing on
    /// SQLite, which has no other hosts).
    pub fn hint(&self, payload: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => Ok(()),
            Db::Postgres(s) => s.hint(payload),
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        match self {
            Db::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params.iter()))?),
            Db::Postgres(s) => s.execute(sql, params),
        }
    }

    /// Runs a statement whose count nobody reads. On PostgreSQL it is sent
    /// and not waited for: it shares a round trip with the statements after
    /// it, and an error it meets fails the next statement waited for, or the
    /// job when its transaction settles ([`Db::settle`]).
    pub fn execute_later(&self, sql: &str, params: &[&dyn Param]) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => self.execute(sql, params).map(drop),
            Db::Postgres(s) => s.send(sql, params).map(drop),
        }
    }

    /// A query's first row, mapped by `map`, read later: on PostgreSQL the
    /// query is sent now and [`Later::first`] waits for its answer, so the
    /// statements sent in between share its round trip.
    pub fn query_later<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Later<'a, T>, StoreError> {
        match self {
            Db::Sqlite(_) => self.query_opt(sql, params, map).map(Later::Ready),
            Db::Postgres(s) => Ok(Later::Sent {
                session: s,
                ticket: s.send(sql, params)?,
                map,
            }),
        }
    }

    /// Waits for every statement sent and not waited for
    /// ([`Db::execute_later`]); the first error among them.
    pub fn settle(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => Ok(()),
            Db::Postgres(s) => s.settle(),
        }
    }

    /// Every row of a query, each mapped by `map`.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut map: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(map(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            Db::Postgres(s) => s
                .query(sql, params)?
                .iter()
                .map(|row| map(&Row::Postgres(row)))
                .collect(),
        }
    }

    /// The first row of a query, if there is one, mapped by `map`.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                match rows.next()? {
                    Some(row) => Ok(Some(map(&Row::Sqlite(row))?)),
                    None => Ok(None),
                }
            }
            Db::Postgres(s) => s
                .query(sql, params)?
                .first()
                .map(|row| map(&Row::Postgres(row)))
                .transpose(),
        }
    }

    /// The one row a query always has (a count, a `RETURNING`).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, map)?
            .ok_or(StoreError::NotFound)
    }

    /// Whether a query has any row.
    pub fn exists(&self, sql: &str, params: &[&dyn Param]) -> Result<bool, StoreError> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }
}

impl Row<'_> {
    /// Column `index` as `T`.
    pub fn get<T: Cell>(&self, index: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(row) => Ok(T::from_sqlite(row, index)?),
            Row::Postgres(row) => {
                let value = row
                    .try_get::<_, PgValue>(index)
                    .map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))?;
                T::from_postgres(value, index)
            }
        }
    }
}

/// A column's type on both backends.
pub trait Cell: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError>;
}

/// A PostgreSQL value of any type Cairn's schema uses.
#[derive(Debug)]
pub enum PgValue {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn mismatch(index: usize, wanted: &str, found: &PgValue) -> StoreError {
    StoreError::Corrupt(format!("column {index}: wanted {wanted}, found {found:?}"))
}

impl Cell for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        match value {
            PgValue::Int(v) => Ok(v),
            PgValue::Bool(v) => Ok(v as i64),
            other => Err(mismatch(index, "an integer", &other)),
        }
    }
}

impl Cell for bool {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        match value {
            PgValue::Bool(v) => Ok(v),
            PgValue::Int(v) => Ok(v != 0),
            other => Err(mismatch(index, "a boolean", &other)),
        }
    }
}

impl Cell for String {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        match value {
            PgValue::Text(v) => Ok(v),
            other => Err(mismatch(index, "text", &other)),
        }
    }
}

impl Cell for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        match value {
            PgValue::Blob(v) => Ok(v),
            other => Err(mismatch(index, "bytes", &other)),
        }
    }
}

impl Cell for u32 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        let wide = i64::from_postgres(value, index)?;
        u32::try_from(wide).map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
    }
}

impl<T: Cell> Cell for Option<T> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        match row.get_ref(index)? {
            ValueRef::Null => Ok(None),
            _ => T::from_sqlite(row, index).map(Some),
        }
    }
    fn from_postgres(value: PgValue, index: usize) -> Result<Self, StoreError> {
        match value {
            PgValue::Null => Ok(None),
            value => T::from_postgres(value, index).map(Some),
        }
    }
}

impl<'a> tokio_postgres::types::FromSql<'a> for PgValue {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::Type;
        Ok(match *ty {
            Type::INT8 => PgValue::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => PgValue::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => PgValue::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => PgValue::Bool(bool::from_sql(ty, raw)?),
            Type::FLOAT8 => PgValue::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => PgValue::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => PgValue::Blob(Vec::from_sql(ty, raw)?),
            _ => PgValue::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(
        _: &tokio_postgres::types::Type,
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgValue::Null)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        use tokio_postgres::types::{Kind, Type};
        matches!(ty.kind(), Kind::Simple)
            && *ty != Type::NUMERIC
            && (<String as tokio_postgres::types::FromSql>::accepts(ty)
                || matches!(
                    *ty,
                    Type::INT8
                        | Type::INT4
                        | Type::INT2
                        | Type::BOOL
                        | Type::FLOAT8
                        | Type::FLOAT4
                        | Type::BYTEA
                ))
    }
}

impl tokio_postgres::types::ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, ToSql, Type};
        match (*self, ty) {
            (Arg::Null, _) => Ok(IsNull::Yes),
            (Arg::Int(v), &Type::INT4) => i32::try_from(v)?.to_sql(ty, out),
            (Arg::Int(v), &Type::INT2) => i16::try_from(v)?.to_sql(ty, out),
            (Arg::Int(v), &Type::BOOL) => (v != 0).to_sql(ty, out),
            (Arg::Int(v), &Type::FLOAT8) => (v as f64).to_sql(ty, out),
            (Arg::Int(v), _) if <String as ToSql>::accepts(ty) => v.to_string().to_sql(ty, out),
            (Arg::Int(v), _) => v.to_sql(ty, out),
            (Arg::Real(v), _) => v.to_sql(ty, out),
            (Arg::Text(v), _) => v.to_sql(ty, out),
            (Arg::Blob(v), _) => v.to_sql(ty, out),
            (Arg::Texts(v), _) => v.to_sql(ty, out),
            (Arg::Ints(v), _) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

impl tokio_postgres::types::ToSql for Owned {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.arg().to_sql(ty, out)
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

impl rusqlite::ToSql for dyn Param + '_ {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.arg() {
            Arg::Null => ValueRef::Null,
            Arg::Int(v) => ValueRef::Integer(v),
            Arg::Real(v) => ValueRef::Real(v),
            Arg::Text(v) => ValueRef::Text(v.as_bytes()),
            Arg::Blob(v) => ValueRef::Blob(v),
            Arg::Texts(_) | Arg::Ints(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite has no arrays".into(),
                ));
            }
        }))
    }
}

impl Param for Vec<Option<String>> {
    fn arg(&self) -> Arg<'_> {
        Arg::Texts(self)
    }
}

impl Param for Vec<Option<i64>> {
    fn arg(&self) -> Arg<'_> {
        Arg::Ints(self)
    }
}

impl Param for i64 {
    fn arg(&self) -> Arg<'_> {
        Arg::Int(*self)
    }
}

impl Param for i32 {
    fn arg(&self) -> Arg<'_> {
        Arg::Int((*self).into())
    }
}

impl Param for u32 {
    fn arg(&self) -> Arg<'_> {
        Arg::Int((*self).into())
    }
}

impl Param for bool {
    fn arg(&self) -> Arg<'_> {
        Arg::Int(*self as i64)
    }
}

impl Param for f64 {
    fn arg(&self) -> Arg<'_> {
        Arg::Real(*self)
    }
}

impl Param for str {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl Param for String {
    fn arg(&self) -> Arg<'_> {
        Arg::Text(self)
    }
}

impl Param for [u8] {
    fn arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl Param for Vec<u8> {
    fn arg(&self) -> Arg<'_> {
        Arg::Blob(self)
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn arg(&self) -> Arg<'_> {
        (**self).arg()
    }
}

impl<T: Param> Param for Option<T> {
    fn arg(&self) -> Arg<'_> {
        match self {
            Some(value) => value.arg(),
            None => Arg::Null,
        }
    }
}

/// `sql` with SQLite's `?N` parameters written as PostgreSQL's `$N` (text in
/// quotes is left as it is).
pub fn numbered_for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_for_postgres_outside_quotes() {
        assert_eq!(
            numbered_for_postgres("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }
}
