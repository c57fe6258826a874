//! Concurrent durable writers (issue 18): follow toggles between distinct
//! users from 1, 8 and 32 tasks, on the SQLite and the redb store with their
//! default (durable) options, with and without a background CPU load, next
//! to the hand-written single writer on the same file
//! ([`crate::sqlite_base::SqliteBase::follow`],
//! [`crate::redb_base::RedbBase::follow`]: the same rows in one durable
//! transaction per toggle, on the calling thread).
//!
//! Task `i` toggles actor `i` → target `i` (follow, unfollow, follow, …):
//! no two tasks touch the same user, so the tasks contend only for the
//! store's writer. A *toggle* is one `toggle_follow` call (one transaction,
//! one feed event, one edge inserted or deleted, two counters moved).
//!
//! Rounds alternate floor and store on the same file, so drift of the
//! machine (other processes, the disk) hits both. The store's writer thread
//! is found by name and its CPU time (`/proc/self/task/*/schedstat`) is
//! divided by the toggles it served: the writer CPU per toggle.
//!
//! Entry point: [`run`], used by the `writers` bench (`benches/writers.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kinfolk::{FollowAction, Kinfolk, NewUser, Store, UserId};

use crate::redb_base::RedbBase;
use crate::sqlite_base::SqliteBase;

/// Which store a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Redb,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Redb => "redb",
        }
    }
    /// Prefix of the writer thread's name as `/proc` shows it (15 bytes at most).
    fn writer_comm(self) -> &'static str {
        match self {
            Engine::Sqlite => "kinfolk-sql-wr",
            Engine::Redb => "kinfolk-redb-wr",
        }
    }
}

/// What one run measures.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Length of each measured interval.
    pub secs: f64,
    /// Alternating rounds.
    pub rounds: usize,
    /// Task counts.
    pub tasks: Vec<usize>,
    /// Also run everything with a background CPU load.
    pub with_load: bool,
    /// Also run without it.
    pub without_load: bool,
    /// Run the hand-written floor.
    pub floor: bool,
}

/// One measured interval.
#[derive(Clone, Debug)]
pub struct Row {
    pub engine: Engine,
    pub round: usize,
    pub loaded: bool,
    /// `None` for the hand-written floor.
    pub tasks: Option<usize>,
    pub toggles: u64,
    pub secs: f64,
    /// Median and 99th percentile latency of one toggle, µs.
    pub p50_us: f64,
    pub p99_us: f64,
    /// CPU time of the store's writer thread per toggle, µs (store rows).
    pub writer_cpu_us: Option<f64>,
    /// CPU time of the whole process per toggle, µs (load threads excluded).
    pub process_cpu_us: f64,
}

impl Row {
    pub fn rate(&self) -> f64 {
        self.toggles as f64 / self.secs
    }
    pub fn label(&self) -> String {
        match self.tasks {
            None => "floor (1 thread)".to_owned(),
            Some(n) => format!("{n} task{}", if n == 1 { "" } else { "s" }),
        }
    }
}

/// Spins on every core until dropped: the background CPU load.
#[derive(Debug)]
pub struct Spin {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spin {
    pub fn start(threads: usize) -> Spin {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("bench-spin-{i}"))
                    .spawn(move || {
                        let mut x = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..10_000 {
                                x = std::hint::black_box(x.wrapping_mul(6364136223846793005) + 1);
                            }
                        }
                    })
                    .expect("spawn a spin thread")
            })
            .collect();
        Spin { stop, threads }
    }
}

impl Drop for Spin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// CPU time (ns) of this process's threads whose name starts with `prefix`.
fn threads_cpu_ns(prefix: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut sum = 0;
    for e in dir.flatten() {
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix)
            && let Some(ns) = std::fs::read_to_string(p.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            sum += ns;
        }
    }
    sum
}

/// CPU time (ns) of every thread of this process except the spin threads.
fn process_cpu_ns() -> u64 {
    threads_cpu_ns("").saturating_sub(threads_cpu_ns("bench-spin"))
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// A file the run writes into: a fresh store or a copy of a prebuilt one.
#[derive(Debug)]
pub struct Target {
    pub engine: Engine,
    pub path: PathBuf,
    /// `(actor, target)` per task; registered by [`Target::prepare`].
    pub pairs: Vec<(UserId, UserId)>,
}

fn open_store(engine: Engine, path: &Path) -> Arc<dyn Store> {
    match engine {
        Engine::Sqlite => Arc::new(kinfolk_sqlite::open(path).expect("open the sqlite store")),
        Engine::Redb => Arc::new(kinfolk_redb::open(path).expect("open the redb store")),
    }
}

/// Lower-case letters for `n` (usernames must avoid confusable digits).
fn letters(mut n: usize, width: usize) -> String {
    let mut s = Vec::with_capacity(width);
    for _ in 0..width {
        s.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    String::from_utf8(s).expect("ascii")
}

impl Target {
    /// Registers `2 × tasks` fresh users with run-unique names in the store
    /// at `path` (created if missing).
    pub fn prepare(
        rt: &tokio::runtime::Runtime,
        engine: Engine,
        path: &Path,
        tasks: usize,
    ) -> Self {
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as usize)
            .unwrap_or(0);
        let tag = letters(run / 1000, 6);
        let store = open_store(engine, path);
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        let pairs = rt.block_on(async {
            let mut pairs = Vec::with_capacity(tasks);
            for i in 0..tasks {
                let reg = |who: &str| {
                    let name = format!("wr{tag}{who}{}", letters(i, 2));
                    let svc = svc.clone();
                    async move {
                        svc.register(NewUser::new(&name, "Writer Bench").expect("new user"))
                            .await
                            .expect("register")
                            .id
                    }
                };
                let a = reg("a").await;
                let b = reg("b").await;
                pairs.push((a, b));
            }
            pairs
        });
        drop(svc);
        Target {
            engine,
            path: path.to_owned(),
            pairs,
        }
    }

    /// `tasks` tasks toggling their own pair for `secs` through the store.
    pub fn run_store(
        &self,
        rt: &tokio::runtime::Runtime,
        tasks: usize,
        secs: f64,
    ) -> (u64, f64, Vec<Duration>, f64, f64) {
        let store = open_store(self.engine, &self.path);
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        // Warm up: one toggle pair per task (opens statements, caches pages).
        rt.block_on(async {
            for &(a, b) in &self.pairs[..tasks] {
                toggle_pair(&svc, a, b).await;
            }
        });
        let writer0 = threads_cpu_ns(self.engine.writer_comm());
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs_f64(secs);
        let handles: Vec<_> = self.pairs[..tasks]
            .iter()
            .map(|&(a, b)| {
                let svc = svc.clone();
                rt.spawn(async move {
                    let mut lat = Vec::new();
                    let mut follow = true;
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let action = if follow {
                            FollowAction::Follow
                        } else {
                            FollowAction::Unfollow
                        };
                        let out = svc.toggle_follow(a, b, Some(action)).await.expect("toggle");
                        assert!(
                            out.changed,
                            "a toggle between the task's own users changes it"
                        );
                        lat.push(t.elapsed());
                        follow = !follow;
                    }
                    // Leave the pair unfollowed.
                    if !follow {
                        svc.toggle_follow(a, b, Some(FollowAction::Unfollow))
                            .await
                            .expect("toggle");
                    }
                    lat
                })
            })
            .collect();
        let mut lat = Vec::new();
        rt.block_on(async {
            for h in handles {
                lat.extend(h.await.expect("task"));
            }
        });
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = process_cpu_ns().saturating_sub(cpu0) as f64 / 1e3;
        let writer = threads_cpu_ns(self.engine.writer_comm()).saturating_sub(writer0) as f64 / 1e3;
        drop(svc);
        let n = lat.len() as u64;
        (n, elapsed, lat, writer, cpu)
    }

    /// The hand-written single writer toggling pair 0 for `secs` on the calling thread.
    pub fn run_floor(&self, secs: f64) -> (u64, f64, Vec<Duration>, f64) {
        let (a, b) = self.pairs[0];
        let mut lat = Vec::new();
        let mut toggle: Box<dyn FnMut(bool) -> bool> = match self.engine {
            Engine::Sqlite => {
                let base = SqliteBase::open(&self.path, true);
                Box::new(move |f| {
                    if f {
                        base.follow(a, b)
                    } else {
                        base.unfollow(a, b)
                    }
                })
            }
            Engine::Redb => {
                let base = RedbBase::open(&self.path, a);
                Box::new(move |f| {
                    if f {
                        base.follow(a, b)
                    } else {
                        base.unfollow(a, b)
                    }
                })
            }
        };
        assert!(toggle(true) && toggle(false), "floor warm-up toggles");
        let cpu0 = process_cpu_ns();
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs_f64(secs);
        let mut follow = true;
        while Instant::now() < deadline {
            let t = Instant::now();
            assert!(toggle(follow), "a floor toggle changes the pair");
            lat.push(t.elapsed());
            follow = !follow;
        }
        if !follow {
            assert!(toggle(false));
        }
        let elapsed = t0.elapsed().as_secs_f64();
        let cpu = process_cpu_ns().saturating_sub(cpu0) as f64 / 1e3;
        drop(toggle);
        (lat.len() as u64, elapsed, lat, cpu)
    }
}

async fn toggle_pair(svc: &Kinfolk, a: UserId, b: UserId) {
    svc.toggle_follow(a, b, Some(FollowAction::Follow))
        .await
        .expect("follow");
    svc.toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await
        .expect("unfollow");
}

fn row(
    engine: Engine,
    round: usize,
    loaded: bool,
    tasks: Option<usize>,
    (n, secs, mut lat, writer, cpu): (u64, f64, Vec<Duration>, Option<f64>, f64),
) -> Row {
    lat.sort_unstable();
    let per = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
    Row {
        engine,
        round,
        loaded,
        tasks,
        toggles: n,
        secs,
        p50_us: percentile(&lat, 0.5),
        p99_us: percentile(&lat, 0.99),
        writer_cpu_us: writer.map(per),
        process_cpu_us: per(cpu),
    }
}

/// Runs `plan` on every target, round after round; `each` sees every row as it is taken.
pub fn run(
    rt: &tokio::runtime::Runtime,
    targets: &[Target],
    plan: &Plan,
    mut each: impl FnMut(&Row),
) -> Vec<Row> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rows = Vec::new();
    let loads: Vec<bool> = [(plan.without_load, false), (plan.with_load, true)]
        .into_iter()
        .filter_map(|(on, l)| on.then_some(l))
        .collect();
    for round in 1..=plan.rounds {
        for &loaded in &loads {
            let spin = loaded.then(|| Spin::start(cores));
            for t in targets {
                if plan.floor {
                    let (n, s, lat, cpu) = t.run_floor(plan.secs);
                    let r = row(t.engine, round, loaded, None, (n, s, lat, None, cpu));
                    each(&r);
                    rows.push(r);
                }
                for &k in &plan.tasks {
                    let (n, s, lat, w, cpu) = t.run_store(rt, k, plan.secs);
                    let r = row(t.engine, round, loaded, Some(k), (n, s, lat, Some(w), cpu));
                    each(&r);
                    rows.push(r);
                }
            }
            drop(spin);
        }
    }
    rows
}

/// One line of the results table.
pub fn format_row(r: &Row) -> String {
    format!(
        "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {:.0} |",
        r.engine.name(),
        r.round,
        if r.loaded { "spin ×cores" } else { "none" },
        r.label(),
        r.rate(),
        r.p50_us,
        r.p99_us,
        r.writer_cpu_us
            .map_or_else(|| "–".to_owned(), |w| format!("{w:.0}")),
        r.process_cpu_us,
    )
}

/// Header of the results table.
pub const HEADER: &str = "| store | round | background load | writers | toggles/s | p50 µs | p99 µs | writer CPU µs/toggle | process CPU µs/toggle |\n|---|---|---|---|---|---|---|---|---|";

/// Summary lines: per engine and load, the median rate of each writer count
/// over the rounds and the ratios the goals name.
pub fn summary(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [Engine::Sqlite, Engine::Redb] {
        for loaded in [false, true] {
            let med = |tasks: Option<usize>| {
                let mut v: Vec<f64> = rows
                    .iter()
                    .filter(|r| r.engine == engine && r.loaded == loaded && r.tasks == tasks)
                    .map(Row::rate)
                    .collect();
                v.sort_by(f64::total_cmp);
                (!v.is_empty()).then(|| v[v.len() / 2])
            };
            let (Some(one), floor) = (med(Some(1)), med(None)) else {
                continue;
            };
            let mut s = format!(
                "{} {}: 1 task {:.0}/s",
                engine.name(),
                if loaded { "with load" } else { "quiet" },
                one
            );
            if let Some(f) = floor {
                s += &format!(", floor {f:.0}/s (1 task = {:.2}× floor)", one / f);
            }
            let eight = med(Some(8));
            if let Some(e) = eight {
                s += &format!(", 8 tasks {e:.0}/s = {:.2}× one", e / one);
            }
            if let Some(t) = med(Some(32)) {
                s += &format!(", 32 tasks {t:.0}/s = {:.2}× one", t / one);
                if let Some(e) = eight {
                    s += &format!(" = {:.2}× eight", t / e);
                }
            }
            out.push(s);
        }
    }
    out
}
