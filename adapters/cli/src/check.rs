//! `kinfolk check [--search-dir DIR] [--fix-counters]`: the engine's own
//! check, every whole-store invariant, and (with a search index) index =
//! store; a readable report, and a non-zero exit on any finding.
//!
//! The rules are core's ([`kinfolk::Kinfolk::check`]); this prints them.
//! redb's check needs the file to itself, so for `--store redb` it runs
//! ([`kinfolk_redb::check_file`]) before the store is opened — while no
//! server has the file open.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use kinfolk::Kinfolk;
use kinfolk::check::{CheckReport, EngineCheck, Finding};

use super::{Fallible, StoreArgs, StoreKind, open_store};

/// `kinfolk check` arguments.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Also compare this search index directory with the store (it is caught up first).
    #[arg(long)]
    search_dir: Option<PathBuf>,
    /// Set every drifted counter to what it counts, then check again.
    #[arg(long)]
    fix_counters: bool,
}

/// Runs the checks and prints the report: `Ok` when the store is sound
/// (after the repair, with `--fix-counters`), `Err` naming the number of
/// findings otherwise.
pub(crate) async fn run(store_args: &StoreArgs, args: CheckArgs) -> Fallible<()> {
    let started = Instant::now();
    let mut engine_findings = Vec::new();
    let mut engine_note = None;
    if matches!(store_args.store, StoreKind::Sqlite) {
        engine_note = Some("SQLite integrity_check");
    }
    if matches!(store_args.store, StoreKind::Redb) {
        engine_findings = kinfolk_redb::check_file(&store_args.db)?
            .into_iter()
            .map(|detail| Finding::Engine { detail })
            .collect();
        engine_note = Some("redb check_integrity");
    }
    let mut builder = Kinfolk::builder(open_store(store_args)?);
    if let Some(dir) = &args.search_dir {
        builder = builder.search(kinfolk_search::TantivyIndex::open(dir)?);
    }
    let svc = builder.build().await?;
    let mut report = svc.check().await?;
    report.findings.splice(0..0, engine_findings);
    print_report(&report, engine_note);
    if args.fix_counters && report.findings.iter().any(Finding::is_counter_drift) {
        let repair = svc.fix_counters().await?;
        println!(
            "fixed counters: {} of {} users, {} of {} rooms",
            repair.users_fixed, repair.users_checked, repair.rooms_fixed, repair.rooms_checked
        );
        let engine_kept: Vec<Finding> = report
            .findings
            .iter()
            .filter(|f| matches!(f, Finding::Engine { .. }))
            .cloned()
            .collect();
        report = svc.check().await?;
        report.findings.splice(0..0, engine_kept);
        println!("after the repair:");
        print_report(&report, engine_note);
    }
    println!("took {:.1?}", started.elapsed());
    match report.findings.len() {
        0 => Ok(()),
        1 => Err("the store has 1 finding".into()),
        n => Err(format!("the store has {n} findings").into()),
    }
}

fn print_report(report: &CheckReport, engine_note: Option<&str>) {
    for f in &report.findings {
        println!("FINDING [{}] {f}", f.kind());
    }
    let engine = match (&report.engine, engine_note) {
        (EngineCheck::NotSupported(why), None) => format!("not run: {why}"),
        (_, Some(note)) => note.to_string(),
        (_, None) => "ran".to_string(),
    };
    let search = report.search_checked.map_or_else(
        || "no index given".to_string(),
        |n| format!("{n} users compared"),
    );
    println!(
        "checked {} users, {} follows, {} rooms, {} feed events; engine check: {engine}; search index: {search}",
        report.users, report.follows, report.rooms, report.events
    );
    if report.is_sound() {
        println!("OK: no findings");
    } else {
        let drift = report
            .findings
            .iter()
            .filter(|f| f.is_counter_drift())
            .count();
        println!(
            "{} finding(s), {drift} of them counter drift (repair: kinfolk check --fix-counters)",
            report.findings.len()
        );
    }
}
