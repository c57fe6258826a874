//! Operations on a live store that are not jobs: the engine's integrity
//! check, an online backup, and the queue depth for metrics.
//!
//! Both the check and the backup use a connection of their own, opened
//! read-only on the database file and run on a thread of their own: in WAL
//! mode a reader sees one snapshot and never blocks the writer, so the
//! store keeps serving while they run.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use kinfolk::{Error, Result};
use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use crate::SqliteStore;
use crate::error::map;
use crate::schema;

/// How long the check and the backup wait for a lock held by a writer
/// before giving up (a writer holds one only for a commit's checkpoint).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the backup retries a step that found the source busy.
const BACKUP_PATIENCE: Duration = Duration::from_secs(60);

fn file(store: &SqliteStore, what: &'static str) -> Result<PathBuf> {
    store
        .path()
        .map(Path::to_owned)
        .ok_or(Error::Unsupported { what })
}

/// `PRAGMA integrity_check` on a read-only connection of its own: every
/// line it answers other than `ok`.
pub(crate) async fn check_engine(store: &SqliteStore) -> Result<Vec<String>> {
    let path = file(store, "an engine check of an in-memory SQLite store")?;
    kinfolk::store::on_new_thread("kinfolk-sqlite-check", move || {
        let conn = schema::open_reader(&path, BUSY_TIMEOUT)?;
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(map)?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(map)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(map)?;
        Ok(lines.into_iter().filter(|l| l != "ok").collect())
    })
    .await
}

/// SQLite's online backup API, in one step (`sqlite3_backup_step(-1)`):
/// the whole database is copied under one read transaction, so the copy is
/// exactly the last commit before the step began, while the writer goes
/// on. The copy is written beside `dest` (`<dest>.partial`), synced, and
/// renamed into place, so `dest` is either absent or whole.
pub(crate) async fn backup_to(store: &SqliteStore, dest: &Path) -> Result<()> {
    let path = file(store, "a backup of an in-memory SQLite store")?;
    let dest = dest.to_owned();
    kinfolk::store::on_new_thread("kinfolk-sqlite-backup", move || copy(&path, &dest)).await
}

fn copy(path: &Path, dest: &Path) -> Result<()> {
    kinfolk::store::write_backup_file(dest, |tmp| {
        let src = schema::open_reader(path, BUSY_TIMEOUT)?;
        let mut dst = Connection::open(tmp).map_err(map)?;
        {
            let backup = Backup::new(&src, &mut dst).map_err(map)?;
            let started = Instant::now();
            loop {
                match backup.step(-1).map_err(map)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ if started.elapsed() < BACKUP_PATIENCE => {
                        thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        return Err(Error::storage(
                            "the database stayed locked; backup abandoned",
                        ));
                    }
                }
            }
        }
        dst.close().map_err(|(_, e)| map(e))?;
        Ok(())
    })
}

/// Jobs waiting in the write queue and (with reader threads) the read queue.
pub(crate) fn queue_depth(store: &SqliteStore) -> u64 {
    let writes = store.writes.as_ref().map_or(0, |q| q.len());
    let reads = if store.readers.is_empty() {
        0 // reads share the write queue
    } else {
        store.reads.as_ref().map_or(0, |q| q.len())
    };
    (writes + reads) as u64
}
