//! `kinfolk backup DEST`: a consistent copy of the store, taken while it
//! serves ([`kinfolk::Store::backup_to`]).
//!
//! SQLite: the online backup API on a read-only connection of its own, so
//! it works while `kinfolk serve` (another process) writes to the same
//! file. redb: one process opens a file at a time, so this command copies a
//! store no server has open; a host serving a redb store calls
//! `Store::backup_to` itself.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{Fallible, StoreArgs, open_store};

/// `kinfolk backup` arguments.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The new file to write (must not exist). Open it as a store of the same kind to restore.
    dest: PathBuf,
}

/// Copies the store to `args.dest` and prints what it wrote.
pub(crate) async fn run(store_args: &StoreArgs, args: BackupArgs) -> Fallible<()> {
    let store = open_store(store_args)?;
    let started = Instant::now();
    store.backup_to(&args.dest).await?;
    let bytes = std::fs::metadata(&args.dest).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} to {} ({bytes} bytes) in {:.1?}",
        store_args.db.display(),
        args.dest.display(),
        started.elapsed()
    );
    Ok(())
}
