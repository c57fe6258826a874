//! Operations that are not jobs: redb's integrity check on a closed file,
//! an online backup of a live store, and the queue depth for metrics.

use std::path::Path;
use std::sync::Arc;

use kinfolk::{Error, Result};
use redb::{
    Builder, Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, TableHandle, WriteTransaction,
};

use crate::RedbStore;
use crate::error::EngineResult;

/// Runs redb's own integrity check (`Database::check_integrity`: every
/// page's checksum and the allocator state) on the store file at `path`
/// and returns what it found, one line per problem — empty when the file is
/// sound.
///
/// redb checks a file only through a handle no transaction is using, so the
/// file is opened here, by this call alone: it fails while a store (in this
/// or another process) has the file open. Run it before opening the store,
/// as `kinfolk check` does. When redb finds damage it can repair (a crash
/// during a non-durable commit) it repairs the file and this reports that
/// it did; damage it cannot repair is reported and the file left as it is.
///
/// # Errors
/// [`Error::Storage`] when the file cannot be opened (missing, locked by an
/// open store, not a redb database).
///
/// ```no_run
/// let problems = kinfolk_redb::check_file("kinfolk.redb")?;
/// assert!(problems.is_empty(), "{problems:?}");
/// # Ok::<(), kinfolk::Error>(())
/// ```
pub fn check_file(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(Error::storage(format!(
            "no store file at {}",
            path.display()
        )));
    }
    let mut db = crate::guard_open(|| Builder::new().open(path))?;
    let out = match db.check_integrity() {
        Ok(true) => Vec::new(),
        Ok(false) => vec![
            "the file was damaged; redb repaired it (rolled back to its last durable commit)"
                .to_string(),
        ],
        Err(e) => vec![format!("redb integrity check failed: {e}")],
    };
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(db)));
    Ok(out)
}

/// A backup: every table of one read transaction (one committed state; the
/// writer goes on meanwhile) copied into a new redb file, committed
/// durably, synced and renamed into place.
pub(crate) async fn backup_to(store: &RedbStore, dest: &Path) -> Result<()> {
    let db = store
        .workers
        .database()
        .ok_or_else(|| Error::storage("the redb store is closed"))?;
    let dest = dest.to_owned();
    kinfolk::store::on_new_thread("kinfolk-redb-backup", move || copy(&db, &dest)).await
}

fn copy(db: &Arc<Database>, dest: &Path) -> Result<()> {
    kinfolk::store::write_backup_file(dest, |tmp| {
        let src = db.begin_read().engine()?;
        let out = crate::guard_open(|| Builder::new().create(tmp))?;
        let mut w = out.begin_write().engine()?;
        w.set_durability(redb::Durability::Immediate).engine()?;
        if src.list_multimap_tables().engine()?.next().is_some() {
            return Err(Error::storage(
                "the store has a multimap table the backup does not know",
            ));
        }
        for table in src.list_tables().engine()? {
            copy_table(&src, &w, table.name())?;
        }
        w.commit().engine()?;
        drop(out);
        Ok(())
    })
}

/// Copies the table `name` with key and value types `$k`, `$v`; `Ok(false)`
/// when the table has other types.
macro_rules! try_copy {
    ($src:expr, $dst:expr, $name:expr, $k:ty, $v:ty) => {{
        let def: TableDefinition<'_, $k, $v> = TableDefinition::new($name);
        match $src.open_table(def) {
            Err(TableError::TableTypeMismatch { .. }) => false,
            Err(e) => return Err(crate::error::engine(e)),
            Ok(from) => {
                let mut to = $dst.open_table(def).engine()?;
                for row in from.iter().engine()? {
                    let (k, v) = row.engine()?;
                    to.insert(k.value(), v.value()).engine()?;
                }
                true
            }
        }
    }};
}

/// Copies one table, whose key and value types must be among those the
/// store uses (`tables.rs`); a table of other types fails the backup
/// rather than be left out.
fn copy_table(src: &ReadTransaction, dst: &WriteTransaction, name: &str) -> Result<()> {
    let copied = try_copy!(src, dst, name, &[u8], &[u8])
        || try_copy!(src, dst, name, &[u8], ())
        || try_copy!(src, dst, name, &str, u64)
        || try_copy!(src, dst, name, u64, &[u8]);
    if copied {
        Ok(())
    } else {
        Err(Error::storage(format!(
            "table {name} has key and value types the backup does not know"
        )))
    }
}

/// Read jobs waiting for a reader thread (the writer's queue is not
/// counted: it is a channel without a length).
pub(crate) fn queue_depth(store: &RedbStore) -> u64 {
    store.workers.read_queue_len() as u64
}
