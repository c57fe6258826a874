//! Search off the write path (issue 18): the latency of a follow toggle with
//! a tantivy index vs with no index configured, and search freshness (time
//! from a write's return to search finding it) under a sustained write load.
//!
//! ```text
//! cargo run --release -p kinfolk-benches --bin search-write-path -- DIR [LABEL]
//! ```
//!
//! `DIR` holds the store file and the index directory; they are created
//! (2,000 users) on the first run and reused, so a build of another commit
//! (the same file copied into its tree) measures the same files: run the
//! two binaries alternately. Environment: `ROUNDS` (3), `TOGGLES` (1,500
//! per round and mode), `FRESH_SECS` (8), `WRITERS` (4 tasks toggling
//! during the freshness run), `INDEX` (the index directory, default `DIR/index`;
//! for a prebuilt 1M dataset of `kinfolk-scale build-fast`, point it at the
//! index the search bench built there, `DIR/search-index`, so it is not
//! rebuilt). `STORE` (`sqlite`, the default, or `redb`): which store file of
//! `DIR` is opened (`kinfolk.db` / `kinfolk.redb`, the names `kinfolk-scale`
//! gives them), with the store's default options. `INDEX_NICE` (the
//! index's `IndexOptions::background_nice`, default the library's, 0: the
//! index's threads at the opener's priority; e.g. `10` runs them nicer). Toggles pick pairs among
//! the first 2,000 users by id. Every line printed is one measurement.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kinfolk::{Config, Kinfolk, NewUser, PageRequest, SearchScope, Store, UserId};
use kinfolk_benches::{REDB_FILE, SQLITE_FILE};
use kinfolk_search::{IndexOptions, TantivyIndex};

const USERS: usize = 2_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> Config {
    Config {
        unique_username_skeletons: false,
        max_following: 1_000_000,
        ..Config::default()
    }
}

/// `STORE`: `sqlite` (default) or `redb`.
fn store_kind() -> String {
    std::env::var("STORE").unwrap_or_else(|_| "sqlite".into())
}

fn store_file(dir: &Path) -> std::path::PathBuf {
    match store_kind().as_str() {
        "sqlite" => dir.join(SQLITE_FILE),
        "redb" => dir.join(REDB_FILE),
        other => panic!("STORE={other}: sqlite or redb"),
    }
}

fn open_store(dir: &Path) -> Arc<dyn Store> {
    let file = store_file(dir);
    match store_kind().as_str() {
        "redb" => Arc::new(kinfolk_redb::open(file).unwrap()),
        _ => Arc::new(kinfolk_sqlite::open(file).unwrap()),
    }
}

async fn service(dir: &Path, with_index: bool) -> Kinfolk {
    let b = Kinfolk::builder(open_store(dir)).config(config());
    let b = if with_index {
        let index = std::env::var_os("INDEX").map_or_else(|| dir.join("index"), Into::into);
        let options = match std::env::var("INDEX_NICE")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(nice) => IndexOptions::default().background_nice(nice),
            None => IndexOptions::default(),
        };
        b.search(TantivyIndex::open_with(index, options).unwrap())
    } else {
        b
    };
    b.build().await.unwrap()
}

async fn ids(svc: &Kinfolk) -> Vec<UserId> {
    kinfolk::store::read(svc.store().as_ref(), |tx| tx.users_after(None, USERS))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect()
}

/// xorshift64.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn pair(&mut self, ids: &[UserId]) -> (UserId, UserId) {
        loop {
            let (a, b) = (ids[self.below(ids.len())], ids[self.below(ids.len())]);
            if a != b {
                return (a, b);
            }
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn toggles(dir: &Path, with_index: bool, n: u64, seed: u64) -> (f64, f64) {
    let svc = service(dir, with_index).await;
    let ids = ids(&svc).await;
    let mut rng = Rng(seed);
    for _ in 0..100 {
        let (a, b) = rng.pair(&ids);
        svc.toggle_follow(a, b, None).await.unwrap();
    }
    let mut lat = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (a, b) = rng.pair(&ids);
        let t = Instant::now();
        svc.toggle_follow(a, b, None).await.unwrap();
        lat.push(t.elapsed());
    }
    lat.sort_unstable();
    (pct(&lat, 0.5), pct(&lat, 0.99))
}

async fn freshness(dir: &Path, secs: u64, writers: u64, run: u64) -> String {
    let svc = service(dir, true).await;
    let ids = Arc::new(ids(&svc).await);
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (svc, ids, stop, writes) = (svc.clone(), ids.clone(), stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(w * 7919 + 17 + run);
            while !stop.load(Ordering::Relaxed) {
                let (a, b) = rng.pair(&ids);
                svc.toggle_follow(a, b, None).await.unwrap();
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let mut lags = Vec::new();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        // Unique across runs on the same files.
        let name = format!("p{}x{run}x{i}", std::process::id());
        i += 1;
        let u = svc
            .register(NewUser::new(&name, "Probe").unwrap())
            .await
            .unwrap();
        let t = Instant::now();
        loop {
            let page = svc
                .search_users(None, &name, SearchScope::Discovery, PageRequest::first())
                .await
                .unwrap();
            if page.items.iter().any(|r| r.user.id == u.id) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "never found");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        lags.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let rate = writes.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    lags.sort_unstable();
    format!(
        "fresh probes={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1} writes_per_s={rate:.0}",
        lags.len(),
        pct(&lags, 0.5) / 1e3,
        pct(&lags, 0.99) / 1e3,
        lags.last().unwrap().as_secs_f64() * 1e3,
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: search-write-path DIR [LABEL]"));
    let label = args.next().unwrap_or_else(|| "run".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(&dir).unwrap();
        if !store_file(&dir).exists() {
            let svc = service(&dir, false).await;
            let rows = (0..USERS)
                .map(|i| NewUser::new(&format!("user{i:05}"), &format!("User {i}")).unwrap())
                .collect();
            svc.import_users(rows).await.unwrap();
        }
        let rounds = env("ROUNDS", 3);
        let n = env("TOGGLES", 1_500);
        for r in 0..rounds {
            // Alternate which mode goes first.
            let order = if r % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for with_index in order {
                let (p50, p99) = toggles(&dir, with_index, n, 1 + r).await;
                let mode = if with_index { "index" } else { "none" };
                println!(
                    "{label} round={r} mode={mode} toggles={n} p50_us={p50:.0} p99_us={p99:.0}"
                );
            }
        }
        let line = freshness(&dir, env("FRESH_SECS", 8), env("WRITERS", 4), rounds).await;
        println!("{label} {line}");
    });
}
