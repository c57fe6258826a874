//! Per-operation latencies next to criterion's statistics.
//!
//! Criterion times batches of iterations, so it reports means and medians of
//! batches but no tail. Every bench here times each operation on its own
//! (criterion's `iter_custom`), hands criterion the sum, and records each
//! latency here; [`write_report`] then gives p50/p99/throughput per
//! (workload, store). Warm-up iterations are recorded too.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SAMPLES: Mutex<BTreeMap<(String, String), Vec<u32>>> = Mutex::new(BTreeMap::new());
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records one operation's latency.
pub fn record(workload: &str, store: &str, d: Duration) {
    let ns = u32::try_from(d.as_nanos()).unwrap_or(u32::MAX);
    let mut m = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    m.entry((workload.to_string(), store.to_string()))
        .or_default()
        .push(ns);
}

/// Times `f`, records it and returns the elapsed time.
pub async fn timed<F: std::future::Future<Output = T>, T>(
    workload: &str,
    store: &str,
    f: F,
) -> (Duration, T) {
    let t = Instant::now();
    let out = f.await;
    let d = t.elapsed();
    record(workload, store, d);
    (d, out)
}

/// A free-form line for the report (import throughput, RSS, counts).
pub fn note(line: impl Into<String>) {
    let line = line.into();
    eprintln!("[kinfolk-bench] {line}");
    NOTES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
}

/// Summary of one (workload, store).
#[derive(Clone, Debug)]
pub struct Summary {
    pub workload: String,
    pub store: String,
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
}

impl Summary {
    /// Operations per second on one thread (1 / mean).
    pub fn throughput(&self) -> f64 {
        let s = self.mean.as_secs_f64();
        if s > 0.0 { 1.0 / s } else { 0.0 }
    }
}

/// Summaries of everything recorded so far.
pub fn summaries() -> Vec<Summary> {
    let m = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    m.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|((w, s), v)| {
            let mut v = v.clone();
            v.sort_unstable();
            let pct = |p: f64| {
                let i = ((v.len() as f64 - 1.0) * p).round() as usize;
                Duration::from_nanos(u64::from(v[i.min(v.len() - 1)]))
            };
            let sum: u128 = v.iter().map(|&x| u128::from(x)).sum();
            Summary {
                workload: w.clone(),
                store: s.clone(),
                n: v.len(),
                p50: pct(0.50),
                p99: pct(0.99),
                mean: Duration::from_nanos((sum / v.len() as u128) as u64),
            }
        })
        .collect()
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

/// Writes a Markdown report (p50, p99, ops/s, n) of everything recorded, and
/// the notes, to `<scratch>/results/<bench>-<users>.md`, and prints it.
pub fn write_report(bench: &str, users: usize) {
    let mut out = String::new();
    out.push_str(&format!(
        "# {bench}: {users} users, seed {:#x}\n\n",
        crate::bench_seed()
    ));
    out.push_str("| workload | store | p50 | p99 | mean | ops/s (1 thread) | n | p50 / baseline p50 |\n|---|---|---|---|---|---|---|---|\n");
    let all = summaries();
    for s in &all {
        // A store's baseline is `<store>_base` (sqlite → sqlite_base, redb → redb_base).
        let base = format!("{}_base", s.store);
        let ratio = all
            .iter()
            .find(|b| b.workload == s.workload && b.store == base)
            .filter(|b| !b.p50.is_zero())
            .map_or("—".to_string(), |b| {
                format!("{:.2}×", s.p50.as_secs_f64() / b.p50.as_secs_f64())
            });
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.0} | {} | {} |\n",
            s.workload,
            s.store,
            fmt_d(s.p50),
            fmt_d(s.p99),
            fmt_d(s.mean),
            s.throughput(),
            s.n,
            ratio
        ));
    }
    out.push_str("\n## Notes\n\n");
    for n in NOTES.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        out.push_str(&format!("- {n}\n"));
    }
    let dir = crate::scratch_dir().join("results");
    let _ = std::fs::create_dir_all(&dir);
    let mode = if crate::test_mode() { "-test" } else { "" };
    // A run restricted to some stores gets its own file (it does not
    // overwrite the report of a full run).
    let stores = std::env::var("KINFOLK_BENCH_STORES")
        .ok()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("+")
        })
        .filter(|v| !v.is_empty())
        .map_or(String::new(), |v| format!("-{v}"));
    let path = dir.join(format!("{bench}-{users}{stores}{mode}.md"));
    if let Ok(mut f) = std::fs::File::create(&path) {
        let _ = f.write_all(out.as_bytes());
    }
    eprintln!(
        "{out}\n[kinfolk-bench] report written to {}",
        path.display()
    );
}
