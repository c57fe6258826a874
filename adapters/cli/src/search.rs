//! `kinfolk reindex` and `kinfolk trim-feed`: the search index and the
//! change feed (issue 17). The rules live in core
//! ([`Kinfolk::rebuild_search_with`], [`Kinfolk::trim_changes`]); these
//! commands open the store and the index, show progress and report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kinfolk::{Kinfolk, RebuildProgress, Store};
use kinfolk_search::TantivyIndex;

use crate::Fallible;

/// `kinfolk reindex`.
#[derive(Debug, Args)]
pub(crate) struct ReindexArgs {
    /// The search index directory (the one `serve --search-dir` uses;
    /// created if missing). The server must be stopped: one process at a
    /// time may hold an index.
    #[arg(long)]
    search_dir: PathBuf,
    /// No progress bar (it is also left out when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
}

/// `kinfolk trim-feed`.
#[derive(Debug, Args)]
pub(crate) struct TrimFeedArgs {
    /// The persistent search index whose applied position bounds the trim
    /// (the one `serve --search-dir` uses; the server must be stopped).
    #[arg(long, required_unless_present = "no_index")]
    search_dir: Option<PathBuf>,
    /// Trim without consulting an index: for servers that keep their index
    /// in memory (`serve` without `--search-dir`), which rebuild it from the
    /// store at every start and never read old feed events.
    #[arg(long, conflicts_with = "search_dir")]
    no_index: bool,
    /// Trim at most up to this feed sequence (other consumers of the feed —
    /// hosts tailing `changes_since` — may need events the index has
    /// applied).
    #[arg(long)]
    upto: Option<u64>,
}

/// Rebuilds the search index in `args.search_dir` from the store, showing
/// users/s and an ETA; continues a rebuild that was interrupted.
pub(crate) async fn reindex(store: Arc<dyn Store>, args: ReindexArgs) -> Fallible<()> {
    let index = TantivyIndex::open(&args.search_dir)?;
    // Deferred: the rebuild below is the catch-up, with progress shown.
    let svc = Kinfolk::builder(store)
        .search(index)
        .defer_search_catch_up()
        .build()
        .await?;
    let bar = ProgressBar::with_draw_target(
        None,
        if args.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} users  {per_sec}  ETA {eta}  {elapsed} elapsed",
        )?
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    // The first and the last report.
    let seen: Arc<Mutex<Option<(RebuildProgress, RebuildProgress)>>> = Arc::default();
    let record = Arc::clone(&seen);
    let shown = bar.clone();
    svc.rebuild_search_with(move |p| {
        let mut seen = record.lock().unwrap_or_else(PoisonError::into_inner);
        match seen.as_mut() {
            None => {
                if p.resumed {
                    shown.println(format!(
                        "continuing an interrupted rebuild after {} users",
                        p.done
                    ));
                }
                shown.set_length(p.total);
                shown.set_position(p.done);
                // Rows per second and the ETA count this run's rows only.
                shown.reset_eta();
                *seen = Some((p, p));
            }
            Some((_, last)) => {
                shown.set_length(p.total);
                shown.set_position(p.done);
                *last = p;
            }
        }
    })
    .await?;
    bar.finish_and_clear();
    let seq = svc.last_change_seq().await?;
    let Some((first, last)) = *seen.lock().unwrap_or_else(PoisonError::into_inner) else {
        return Err("the rebuild reported no progress".into());
    };
    let resumed = if first.resumed {
        format!(", continuing after {}", first.done)
    } else {
        String::new()
    };
    println!(
        "indexed {} users into {}{resumed} (feed position {seq})",
        last.done,
        args.search_dir.display()
    );
    Ok(())
}

/// Trims the change feed up to what the search index in `args.search_dir`
/// has applied (after catching it up), or, with `--no-index`, up to
/// `--upto` or the whole feed.
pub(crate) async fn trim_feed(store: Arc<dyn Store>, args: TrimFeedArgs) -> Fallible<()> {
    let mut builder = Kinfolk::builder(store);
    if let Some(dir) = &args.search_dir {
        require_index(dir)?;
        builder = builder.search(TantivyIndex::open(dir)?);
    }
    let svc = builder.build().await?;
    let upto = match args.upto {
        Some(upto) => upto,
        None => svc.last_change_seq().await?,
    };
    let trimmed = svc.trim_changes(upto).await?;
    match &args.search_dir {
        Some(dir) => println!(
            "trimmed the change feed up to {trimmed} (applied by the search index in {})",
            dir.display()
        ),
        None => println!("trimmed the change feed up to {trimmed}"),
    }
    Ok(())
}

/// Refuses a directory without an index: opening would create an empty
/// one, rebuild it and then trim the whole feed — better said out loud.
fn require_index(dir: &Path) -> Fallible<()> {
    if TantivyIndex::exists_in(dir) {
        Ok(())
    } else {
        Err(format!(
            "no search index in {}: nothing trimmed (build one with `kinfolk reindex --search-dir {}`, \
             or pass --no-index if the server keeps its index in memory)",
            dir.display(),
            dir.display()
        )
        .into())
    }
}
