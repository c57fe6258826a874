//! `kinfolk export [FILE|-]` and `kinfolk import FILE`: the transfer format
//! (`docs/transfer-format.md`) between a store and a file. Store to store is
//! two runs, each with its own `--store`/`--db`:
//!
//! ```text
//! kinfolk --store sqlite --db old.db export all.jsonl
//! kinfolk --store redb --db new.redb import all.jsonl
//! ```

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use kinfolk::Kinfolk;
use kinfolk::transfer::{read_transfer, write_transfer};

use crate::{Fallible, StoreArgs, open_store};

/// Arguments of `kinfolk export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Where to write the file (`-` or nothing: standard output).
    file: Option<PathBuf>,
}

/// Arguments of `kinfolk import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The transfer file to load into the (empty) store.
    file: PathBuf,
}

/// Writes everything the store holds as a transfer file.
pub(crate) async fn export(store: &StoreArgs, args: ExportArgs) -> Fallible<()> {
    let svc = Kinfolk::builder(open_store(store)?).build().await?;
    let data = svc.export_transfer().await?;
    match args.file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            write_transfer(&data, &file)?;
            file.sync_all()
                .map_err(|e| format!("cannot sync {}: {e}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write_transfer(&data, &mut lock)?;
            lock.flush()?;
        }
    }
    tracing::info!(
        users = data.users.len(),
        edges = data.edges.len(),
        rooms = data.rooms.len(),
        "exported"
    );
    Ok(())
}

/// Validates a transfer file whole, then loads it into the empty store.
pub(crate) async fn import(store: &StoreArgs, args: ImportArgs) -> Fallible<()> {
    let file = std::fs::File::open(&args.file)
        .map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let data = read_transfer(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    let svc = Kinfolk::builder(open_store(store)?).build().await?;
    let report = svc
        .import_transfer(data)
        .await
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    eprintln!(
        "imported {} users, {} claims, {} connected accounts, {} rooms, {} memberships, {} edges in {} batches",
        report.users,
        report.claims,
        report.accounts,
        report.rooms,
        report.members,
        report.edges,
        report.batches
    );
    Ok(())
}
