//! What the disk alone costs a commit: a bare SQLite file with the
//! server's settings, for `cairn bench peers` to print beside its latency
//! figures, so that the host's share of them can be read off every run.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{StoreError, Synchronous};

/// Pages a commit may change at most.
pub const MOST_PAGES: usize = 7;

/// A fresh SQLite file, opened as the server opens its own (`WAL`,
/// `synchronous=FULL`), of one-row tables, so that each row a commit changes is a
/// page of its own.
pub struct BareFile {
    connection: Connection,
}

impl BareFile {
    /// Makes the file at `path`, then commits until its log has been
    /// checkpointed and is written over from its start, as a running
    /// server's is (every 1,000 pages): syncing a log that grows costs
    /// more, and would not be the server's cost.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        let connection = super::connect(path, Synchronous::Full)?;
        for table in 0..MOST_PAGES {
            connection.execute_batch(&format!(
                "CREATE TABLE t{table} (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
                 INSERT INTO t{table} VALUES (1, 0);"
            ))?;
        }
        let file = BareFile { connection };
        for _ in 0..1_100 / MOST_PAGES {
            file.commit(MOST_PAGES)?;
        }
        Ok(file)
    }

    /// One commit that changes `pages` pages (at most [`MOST_PAGES`]), and
    /// how long it took.
    pub fn commit(&self, pages: usize) -> Result<Duration, StoreError> {
        let began = Instant::now();
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        for table in 0..pages.min(MOST_PAGES) {
            self.connection
                .prepare_cached(&format!("UPDATE t{table} SET v = v + 1 WHERE id = 1"))?
                .execute([])?;
        }
        self.connection.execute_batch("COMMIT")?;
        Ok(began.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_commit_writes_as_many_pages_to_the_log_as_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bare.sqlite");
        let file = BareFile::create(&path).expect("create");
        // The log holds a 32-byte header, then frames of a 24-byte header
        // and a page; after a checkpoint it is written over from its start.
        file.connection
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
        let page: u64 = file
            .connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("page size");
        let log = || std::fs::metadata(dir.path().join("bare.sqlite-wal")).map_or(0, |m| m.len());
        for pages in [3, MOST_PAGES] {
            let before = log().max(32);
            file.commit(pages).expect("commit");
            assert_eq!(log() - before, pages as u64 * (24 + page), "{pages} pages");
        }
    }
}
