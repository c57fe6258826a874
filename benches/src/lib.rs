//! # kinfolk-benches
//!
//! The benchmark suite of kinfolk (issue 7): a seeded dataset generator
//! ([`dataset`]), loaders that put a dataset into any store through the service's
//! bulk import ([`load`]), hand-written baselines that do the same storage work
//! without kinfolk ([`sqlite_base`], [`redb_base`], [`fts`]), and a latency recorder
//! ([`rec`]) that gives p50/p99 next to criterion's means.
//!
//! Sizes: `KINFOLK_BENCH_USERS` if set; otherwise 2,000 users when the bench
//! binary runs in test mode (`cargo test --benches`, or `-- --test`) and
//! 100,000 for `cargo bench`. See `BENCHMARKS.md` at the repository root.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used)]

pub mod base;
pub mod dataset;
pub mod fast;
pub mod fts;
pub mod load;
pub mod queries;
pub mod rec;
pub mod redb_base;
pub mod sqlite_base;
pub mod work;
pub mod writers;

use std::path::PathBuf;

/// Default seed of every dataset (`KINFOLK_BENCH_SEED` overrides).
pub const DEFAULT_SEED: u64 = 0x6b69_6e66_6f6c_6b07;

/// Whether the bench binary runs in criterion's test mode (each bench once):
/// `cargo test --benches` passes no `--bench` flag; `cargo bench -- --test` passes both.
pub fn test_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test")
}

/// How many users the dataset has.
pub fn bench_users() -> usize {
    if let Some(n) = std::env::var("KINFOLK_BENCH_USERS")
        .ok()
        .and_then(|v| v.replace('_', "").parse::<usize>().ok())
    {
        return n.max(200);
    }
    if test_mode() { 2_000 } else { 100_000 }
}

/// The dataset seed.
pub fn bench_seed() -> u64 {
    std::env::var("KINFOLK_BENCH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// Which stores to run (`KINFOLK_BENCH_STORES=memory,sqlite`); all by default.
pub fn store_enabled(name: &str) -> bool {
    match std::env::var("KINFOLK_BENCH_STORES") {
        Ok(v) if !v.trim().is_empty() => v.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

/// File name of the SQLite store in a dataset directory (`kinfolk-scale build`).
pub const SQLITE_FILE: &str = "kinfolk.db";
/// File name of the redb store in a dataset directory.
pub const REDB_FILE: &str = "kinfolk.redb";

/// `KINFOLK_BENCH_OPEN=<dir>`: the benches measure the store that
/// `kinfolk-scale build` left in `<dir>` (with its `fixture.json`, see
/// [`work::Requests`]) instead of generating and importing a dataset. This is
/// how the 1M-user rows are taken: importing 1M users and 20M follows takes
/// 15–40 minutes here, too long to repeat per bench run.
pub fn prebuilt_dir() -> Option<PathBuf> {
    std::env::var_os("KINFOLK_BENCH_OPEN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A scratch directory for database files: `KINFOLK_BENCH_DIR`, else
/// `$CARGO_TARGET_DIR/kinfolk-bench`, else the system temp dir.
pub fn scratch_dir() -> PathBuf {
    let base = std::env::var_os("KINFOLK_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("kinfolk-bench"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("kinfolk-bench"));
    std::fs::create_dir_all(&base).expect("create the bench scratch directory");
    base
}

/// A fresh, empty directory under [`scratch_dir`], removed on drop.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = scratch_dir().join(format!("{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Peak resident set size of this process (`VmHWM`), in KiB, on Linux.
pub fn peak_rss_kib() -> Option<u64> {
    status_field("VmHWM:")
}

/// Current resident set size (`VmRSS`), in KiB, on Linux.
pub fn rss_kib() -> Option<u64> {
    status_field("VmRSS:")
}

fn status_field(name: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
