//! Scale runs without criterion: build a persistent dataset once, then open it
//! in a fresh process, run each workload for a fixed number of requests, and
//! report p50/p99 and the peak RSS (`VmHWM` from /proc/self/status).
//!
//! ```text
//! kinfolk-scale build <sqlite|redb> <dir> <users>   # generate + bulk import, writes <dir>/fixture.json
//! kinfolk-scale build-fast <sqlite|redb> <dir> <users>
//!                                                    # the same dataset through Kinfolk::import_transfer
//!                                                    # (≈ 2 min at 1M instead of 15–37; one feed event
//!                                                    #  per batch), same fixture.json
//! kinfolk-scale memory - <users>                     # import into the memory store, report its RSS
//! kinfolk-scale query <sqlite|redb> <dir> [iters]   # open, query, report
//!                                                    # (KINFOLK_SCALE_REDB_CACHE_MIB=256: redb cache;
//!                                                    #  =redb: redb's own default, up to 1 GiB)
//! KINFOLK_SCALE_POSTGRES_URL=URL kinfolk-scale build-fast|query postgres <dir> …
//!                                                    # the same on PostgreSQL: the database at URL
//!                                                    # (default options), <dir> holds fixture.json only
//! ```
//! The query process never runs the generator, so its RSS is the store's
//! (plus the small fixture: request targets chosen at build time).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kinfolk::{FollowAction, Kinfolk, NewUser, PageRequest, RoomFilter, Store};
use kinfolk_benches::dataset::Dataset;
use kinfolk_benches::fast;
use kinfolk_benches::load::load;
use kinfolk_benches::sqlite_base::SqliteBase;
use kinfolk_benches::work::{FIXTURE_FILE, Fixture, Requests, deep_cursor, run_mix};
use kinfolk_benches::{REDB_FILE, SQLITE_FILE, bench_seed, peak_rss_kib, rss_kib};

fn open(kind: &str, dir: &Path) -> Arc<dyn Store> {
    match kind {
        "sqlite" => Arc::new(kinfolk_sqlite::open(dir.join(SQLITE_FILE)).expect("open sqlite")),
        "redb" => {
            // `KINFOLK_SCALE_REDB_CACHE_MIB` sets redb's page cache (default:
            // the store's, `kinfolk_redb::DEFAULT_CACHE_SIZE`; `redb`: redb's
            // own, up to 1 GiB, which the RSS figure then includes).
            let mut options = kinfolk_redb::Options::default();
            if std::env::var("KINFOLK_SCALE_REDB_CACHE_MIB").as_deref() == Ok("redb") {
                options.cache_size = None;
            } else if let Some(mib) = std::env::var("KINFOLK_SCALE_REDB_CACHE_MIB")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
            {
                options = options.cache_size(mib << 20);
            }
            Arc::new(kinfolk_redb::open_with(dir.join(REDB_FILE), options).expect("open redb"))
        }
        "postgres" => {
            // The database is the server's; `dir` holds only fixture.json.
            // Default options (pool of 8): the RSS row is "default options".
            let url = std::env::var("KINFOLK_SCALE_POSTGRES_URL").expect(
                "postgres: set KINFOLK_SCALE_POSTGRES_URL to the database's connection string",
            );
            Arc::new(kinfolk_postgres::open(&url).expect("open postgres"))
        }
        other => panic!("unknown store {other} (sqlite, redb, postgres)"),
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

async fn build(kind: &str, dir: &Path, users: usize) {
    // One dataset per directory: its fixture.json names the ids of one store.
    if dir.join(FIXTURE_FILE).exists() {
        eprintln!(
            "{} already holds a dataset ({FIXTURE_FILE}); use an empty directory",
            dir.display()
        );
        std::process::exit(2);
    }
    std::fs::create_dir_all(dir).expect("dir");
    let t = Instant::now();
    let ds = Dataset::generate(users, bench_seed());
    println!(
        "generated {} users, {} follows, {} memberships in {:.1}s",
        ds.users.len(),
        ds.follows.len(),
        ds.memberships(),
        t.elapsed().as_secs_f64()
    );
    let store = open(kind, dir);
    let svc = Kinfolk::builder(store).build().await.expect("service");
    let t = Instant::now();
    let loaded = load(&svc, &ds).await;
    println!(
        "import: users {:.1}s ({:.0}/s), follows {} in {:.1}s ({:.0}/s), rest {:.1}s, total {:.1}s",
        loaded.users_time.as_secs_f64(),
        users as f64 / loaded.users_time.as_secs_f64(),
        loaded.follows_added,
        loaded.follows_time.as_secs_f64(),
        loaded.follows_added as f64 / loaded.follows_time.as_secs_f64(),
        loaded.rest_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Requests::new(&Fixture::new(&ds, &loaded), loaded.follows_added)
        .save(dir)
        .expect("write fixture.json");
    drop(svc);
    report_files(dir);
}

/// Prints the size of the files a build left in `dir` and the peak RSS.
fn report_files(dir: &Path) {
    let size: u64 = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "files: {} MiB; build peak RSS {}",
        size >> 20,
        mib(peak_rss_kib())
    );
}

/// `build-fast`: the dataset as one transfer (`kinfolk_benches::fast`).
async fn build_fast(kind: &str, dir: &Path, users: usize) {
    if dir.join(FIXTURE_FILE).exists() {
        eprintln!(
            "{} already holds a dataset ({FIXTURE_FILE}); use an empty directory",
            dir.display()
        );
        std::process::exit(2);
    }
    std::fs::create_dir_all(dir).expect("dir");
    let t = Instant::now();
    let mut ds = Dataset::generate(users, bench_seed());
    let renamed = fast::dedup_usernames(&mut ds);
    let (data, loaded) = fast::transfer(&ds);
    println!(
        "generated {} users ({renamed} renamed: folded name or skeleton taken), {} follows, \
         {} edges, {} rooms, {} memberships in {:.1}s",
        ds.users.len(),
        loaded.follows_added,
        data.edges.len(),
        data.rooms.len(),
        data.members.len(),
        t.elapsed().as_secs_f64()
    );
    Requests::new(&Fixture::new(&ds, &loaded), loaded.follows_added)
        .save(dir)
        .expect("write fixture.json");
    drop(ds);
    let store = open(kind, dir);
    let svc = kinfolk_benches::fast::uncapped_service(store)
        .await
        .expect("service");
    let t = Instant::now();
    let report = svc.import_transfer(data).await.expect("import_transfer");
    println!(
        "import_transfer: {report:?} in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    drop(svc);
    report_files(dir);
}

/// `memory`: what the memory store holds at `users` (RSS after the
/// generator's data is dropped, minus RSS before the import).
async fn memory(users: usize) {
    let mut ds = Dataset::generate(users, bench_seed());
    fast::dedup_usernames(&mut ds);
    let (data, _) = fast::transfer(&ds);
    drop(ds);
    let before = rss_kib();
    println!("memory: transfer in RAM, RSS {}", mib(before));
    let store = kinfolk_memory::MemoryStore::new();
    let svc = kinfolk_benches::fast::uncapped_service(store)
        .await
        .expect("service");
    let t = Instant::now();
    let report = svc.import_transfer(data).await.expect("import_transfer");
    let after = rss_kib();
    println!(
        "memory: imported {report:?} in {:.1}s; RSS {} (the transfer dropped); \
         store ≈ {} more than before the import; peak RSS (VmHWM) {}",
        t.elapsed().as_secs_f64(),
        mib(after),
        mib(after.zip(before).map(|(a, b)| a.saturating_sub(b))),
        mib(peak_rss_kib())
    );
}

struct Stats(Vec<Duration>);

impl Stats {
    fn line(&mut self, name: &str) {
        self.0.sort_unstable();
        let n = self.0.len().max(1);
        let p = |q: f64| {
            self.0
                .get(((n - 1) as f64 * q).round() as usize)
                .copied()
                .unwrap_or_default()
        };
        let sum: Duration = self.0.iter().sum();
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
            p(0.5).as_secs_f64() * 1e6,
            p(0.99).as_secs_f64() * 1e6,
            sum.as_secs_f64() * 1e6 / n as f64,
            n as f64 / sum.as_secs_f64().max(1e-9),
            self.0.len()
        );
    }
}

macro_rules! run {
    ($name:expr, $iters:expr, |$i:ident| $body:expr) => {{
        let mut s = Stats(Vec::with_capacity($iters));
        let deadline = Instant::now() + Duration::from_secs(5);
        for $i in 0..$iters {
            let t = Instant::now();
            let _ = std::hint::black_box($body.await);
            s.0.push(t.elapsed());
            if Instant::now() > deadline {
                break;
            }
        }
        s.line($name);
    }};
}

async fn query(kind: &str, dir: &Path, iters: usize) {
    println!("before open: RSS {}", mib(rss_kib()));
    let slim = Requests::load(dir).expect("read fixture.json");
    let t = Instant::now();
    let store = open(kind, dir);
    let svc = Kinfolk::builder(store).build().await.expect("service");
    println!(
        "{kind}: {} users, {} follows; opened in {:.2}s; RSS {}",
        slim.users,
        slim.follows,
        t.elapsed().as_secs_f64(),
        mib(rss_kib())
    );
    let v = slim.viewer;
    let t = Instant::now();
    let (deep, at) = deep_cursor(&svc, &slim, 0.9).await;
    println!(
        "deep cursor at {at} of {} followers, walked in {:.1}s",
        slim.celebrity_followers,
        t.elapsed().as_secs_f64()
    );
    println!("\n| workload | p50 µs | p99 µs | mean µs | ops/s | n |\n|---|---|---|---|---|---|");
    run!("get_profile_by_id", iters, |i| svc.get_profile(
        Some(v),
        &slim.profile_ids[i % slim.profile_ids.len()].to_string()
    ));
    run!("get_profile_by_username", iters, |i| svc.get_profile(
        Some(v),
        &slim.usernames[i % slim.usernames.len()]
    ));
    for limit in [20u32, 100] {
        run!(
            &format!("followers_celebrity_first_l{limit}"),
            iters,
            |_i| svc.followers(Some(v), slim.celebrity, PageRequest::with_limit(limit))
        );
        run!(
            &format!("followers_celebrity_deep90_l{limit}"),
            iters,
            |_i| svc.followers(
                Some(v),
                slim.celebrity,
                PageRequest::after(deep.clone(), Some(limit))
            )
        );
    }
    run!("known_followers_celebrity_l20", iters.min(200), |_i| svc
        .known_followers(
            Some(v),
            slim.celebrity,
            PageRequest::with_limit(20)
        ));
    run!("relationships_100", iters, |i| svc.relationships(
        v,
        &slim.rel_batches[i % slim.rel_batches.len()]
    ));
    run!("my_rooms_filter_l20", iters, |_i| svc.my_rooms(
        v,
        RoomFilter {
            name: Some(slim.room_filter.clone()),
            ..Default::default()
        },
        PageRequest::with_limit(20)
    ));
    run!("read_mix", iters * 4, |i| run_mix(
        &svc,
        &slim.mix[i % slim.mix.len()]
    ));
    let tag = std::process::id();
    run!("register", iters.min(500), |i| svc.register(
        NewUser::new(&format!("s{tag}_{i}"), "Zoë Scale").expect("valid")
    ));
    for (label, target) in [("ordinary", slim.ordinary), ("celebrity", slim.celebrity)] {
        run!(
            &format!("toggle_follow_pair_{label}"),
            iters.min(300),
            |_i| async {
                svc.toggle_follow(slim.actor, target, Some(FollowAction::Follow))
                    .await
                    .expect("follow");
                svc.toggle_follow(slim.actor, target, Some(FollowAction::Unfollow))
                    .await
                    .expect("unfollow")
            }
        );
    }
    println!(
        "\npeak RSS (VmHWM) {}; RSS now {}",
        mib(peak_rss_kib()),
        mib(rss_kib())
    );
    if kind == "sqlite" {
        // Same-process floor and anti-baseline on the same file, after the
        // RSS figure above (their page cache is not the store's).
        let base = SqliteBase::open(&dir.join(SQLITE_FILE), true);
        let (seq, offset) = base.deep_position(slim.celebrity, 0.9);
        println!(
            "\nhand-written rusqlite on the same file (deep page at offset {offset}):\n\n\
             | workload | p50 µs | p99 µs | mean µs | ops/s | n |\n|---|---|---|---|---|---|"
        );
        for limit in [20usize, 100] {
            run!(
                &format!("sqlite_base followers_celebrity_first_l{limit}"),
                iters,
                |_i| async { base.followers_page(v, slim.celebrity, None, limit) }
            );
            run!(
                &format!("sqlite_base followers_celebrity_deep90_l{limit}"),
                iters,
                |_i| async { base.followers_page(v, slim.celebrity, Some(seq), limit) }
            );
            run!(
                &format!("sqlite_base_offset followers_celebrity_deep90_l{limit}"),
                iters.min(200),
                |_i| async { base.followers_page_offset(v, slim.celebrity, offset, limit) }
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: kinfolk-scale build|build-fast <sqlite|redb|postgres> <dir> <users> | query <sqlite|redb|postgres> <dir> [iters] | memory - <users>";
    let (Some(cmd), Some(kind), Some(dir)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match cmd.as_str() {
        "build" => {
            let users = args
                .get(4)
                .and_then(|s| s.replace('_', "").parse().ok())
                .unwrap_or(100_000);
            rt.block_on(build(kind, &dir, users));
        }
        "build-fast" => {
            let users = args
                .get(4)
                .and_then(|s| s.replace('_', "").parse().ok())
                .unwrap_or(100_000);
            rt.block_on(build_fast(kind, &dir, users));
        }
        "memory" => {
            let users = args
                .get(3)
                .and_then(|s| s.replace('_', "").parse().ok())
                .unwrap_or(100_000);
            rt.block_on(memory(users));
        }
        "query" => {
            let iters = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2_000);
            rt.block_on(query(kind, &dir, iters));
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
