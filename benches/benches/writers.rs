//! Concurrent durable writers (issue 18), see `kinfolk_benches::writers`.
//!
//! Test mode (`cargo test -p kinfolk-benches --benches`, what CI runs): one
//! round of 0.05 s per row on fresh, tiny stores, 1 and 8 tasks plus the
//! floor, with and without load — a smoke run of a few seconds, nothing timed.
//!
//! Real run (`cargo bench -p kinfolk-benches --bench writers`), set by env:
//! - `KINFOLK_WRITERS_SECS` (default 10) seconds per row,
//! - `KINFOLK_WRITERS_ROUNDS` (default 3) alternating rounds,
//! - `KINFOLK_WRITERS_TASKS` (default `1,8,32`),
//! - `KINFOLK_WRITERS_LOAD` = `both` (default), `none` or `spin`,
//! - `KINFOLK_BENCH_OPEN=<dir>`: copy the store files of a `kinfolk-scale build`
//!   directory into the scratch dir and write into the copies (the prebuilt
//!   files stay untouched); without it, fresh stores,
//! - `KINFOLK_WRITERS_IN_PLACE=1` (with `KINFOLK_BENCH_OPEN`): write into the
//!   prebuilt files themselves, no copy (for 1M files on a full disk: each
//!   run registers 2 users per task and leaves every toggled pair as found),
//! - `KINFOLK_BENCH_STORES=sqlite,redb` as for the other benches.
//!
//! Prints a markdown table and writes it to
//! `$KINFOLK_BENCH_DIR/results/writers-<…>.md`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;

use kinfolk_benches::writers::{self, Engine, Plan, Target};
use kinfolk_benches::{REDB_FILE, SQLITE_FILE, Scratch, prebuilt_dir, scratch_dir, store_enabled};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn main() {
    let test = kinfolk_benches::test_mode();
    let load = std::env::var("KINFOLK_WRITERS_LOAD").unwrap_or_else(|_| "both".to_owned());
    let plan = if test {
        Plan {
            secs: 0.05,
            rounds: 1,
            tasks: vec![1, 8],
            with_load: true,
            without_load: true,
            floor: true,
        }
    } else {
        Plan {
            secs: env("KINFOLK_WRITERS_SECS").unwrap_or(10.0),
            rounds: env("KINFOLK_WRITERS_ROUNDS").unwrap_or(3),
            tasks: std::env::var("KINFOLK_WRITERS_TASKS")
                .unwrap_or_else(|_| "1,8,32".to_owned())
                .split(',')
                .filter_map(|t| t.trim().parse().ok())
                .collect(),
            with_load: load != "none",
            without_load: load != "spin",
            floor: true,
        }
    };
    let most = plan.tasks.iter().copied().max().unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let scratch = Scratch::new("writers");
    let prebuilt = if test { None } else { prebuilt_dir() };
    let in_place = std::env::var("KINFOLK_WRITERS_IN_PLACE").is_ok_and(|v| v == "1");
    let mut targets = Vec::new();
    for (engine, file) in [(Engine::Sqlite, SQLITE_FILE), (Engine::Redb, REDB_FILE)] {
        if !store_enabled(engine.name()) {
            continue;
        }
        let mut path = scratch.path(file);
        if let Some(dir) = &prebuilt {
            let from = dir.join(file);
            if !from.exists() {
                continue;
            }
            if in_place {
                eprintln!("writers: writing into {} (in place)", from.display());
                path = from;
            } else {
                eprintln!("writers: copying {} …", from.display());
                std::fs::copy(&from, &path).expect("copy the prebuilt store");
            }
        }
        targets.push(Target::prepare(&rt, engine, &path, most));
    }
    let uptime = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = format!(
        "writers: {} s per row, {} rounds, tasks {:?}, files: {}; loadavg at start: {}\n\n{}\n",
        plan.secs,
        plan.rounds,
        plan.tasks,
        prebuilt.as_ref().map_or_else(
            || "fresh".to_owned(),
            |d| if in_place {
                format!("{} in place", d.display())
            } else {
                format!("copies of {}", d.display())
            }
        ),
        uptime.trim(),
        writers::HEADER
    );
    print!("{out}");
    let rows = writers::run(&rt, &targets, &plan, |r| {
        println!("{}", writers::format_row(r));
        let _ = std::io::stdout().flush();
    });
    for r in &rows {
        out += &writers::format_row(r);
        out.push('\n');
    }
    out.push('\n');
    for s in writers::summary(&rows) {
        println!("{s}");
        out += &s;
        out.push('\n');
    }
    let end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("loadavg at end: {}", end.trim());
    out += &format!("loadavg at end: {}\n", end.trim());
    assert!(
        rows.iter().all(|r| r.toggles > 0),
        "every row made progress"
    );
    if !test {
        let dir = scratch_dir().join("results");
        std::fs::create_dir_all(&dir).expect("results dir");
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let file = dir.join(format!("writers-{stamp}.md"));
        std::fs::write(&file, out).expect("write results");
        println!("results: {}", file.display());
    }
}
