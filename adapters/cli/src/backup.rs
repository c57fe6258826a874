//! `kinfolk backup DEST`: a consistent copy of the store, taken while it
//! serves ([`kinfolk::Store::backup_to`]).
//!
//! SQLite: the online backup API on a read-only connection of its own, so
//! it works while `kinfolk serve` (another process) writes to the same
//! file. redb: one process opens a file at a time, so `kinfolk backup DEST`
//! copies a store no server has open; for a store a `kinfolk serve` holds,
//! `kinfolk backup --server URL DEST` asks that process to write the copy
//! (its operator endpoint, `src/ops.rs`) — for every store.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::{Fallible, StoreArgs, open_store};

/// `kinfolk backup` arguments.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    /// The new file to write (must not exist). Open it as a store of the same kind to restore.
    dest: PathBuf,
    /// Ask the `kinfolk serve` whose operator endpoint (`--ops-listen`) is at
    /// this URL to write the backup (to DEST on its machine, made absolute
    /// here) instead of opening the store in this process. Token:
    /// `KINFOLK_OPS_TOKEN` or `--ops-token-file`.
    #[arg(long)]
    server: Option<String>,
    /// A file holding the operator token (with `--server`).
    #[arg(long, requires = "server")]
    ops_token_file: Option<PathBuf>,
}

/// Copies the store to `args.dest` and prints what it wrote.
pub(crate) async fn run(store_args: &StoreArgs, args: BackupArgs) -> Fallible<()> {
    if let Some(server) = &args.server {
        return super::ops::request_backup(server, args.ops_token_file.as_deref(), &args.dest)
            .await;
    }
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
