//! Search typeahead (SPEC §8) per engine, against SQLite FTS5.
//!
//! The store is the memory store (so that only the index and the service's
//! visibility filter are measured). Engines: `tantivy` (kinfolk-search),
//! `brute` (kinfolk-memory's `MemorySearch`, O(users) per query; skipped above
//! 100k users), and the `fts5` baseline (index only, no visibility filter).
//! Workloads: `search_<scope>_<class>` through `Kinfolk::search_users`, and
//! `index_top_<class>` — the engine's `top(k = 64)` alone (what the service
//! asks first), next to FTS5's top 64.
//!
//! `KINFOLK_BENCH_SEARCH_ENGINE_ONLY=1` measures `index_top_*` alone: no
//! store is loaded (importing ~20 follows per user takes minutes at 1M
//! users); the tantivy index is filled directly with every generated user
//! and the followers count the generated follow graph gives it (what the
//! service would index after a full load). No boosts are used by
//! `index_top`, so no follow edge is needed; `search_*` and `brute` are
//! skipped.
//!
//! `KINFOLK_BENCH_OPEN=<dir>` measures `search_*` and `index_top_*` through
//! the service on a prebuilt store (`kinfolk-scale build`; SQLite if the
//! directory has one, else redb; `KINFOLK_BENCH_SEARCH_STORE=redb|sqlite`
//! picks one), with its tantivy index kept in `<dir>/search-index`
//! (`KINFOLK_BENCH_SEARCH_INDEX=<dir>` puts it elsewhere).
//! `KINFOLK_BENCH_SEARCH_ORDER=0` opens the index without the followers
//! order (`IndexOptions::followers_order(false)`): every match ranked, as
//! before session 8, for an A/B run of one binary.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};

use kinfolk::search::{Boosts, IndexBatch, SearchDoc};
use kinfolk::{Kinfolk, PageRequest, SearchIndex, SearchQuery, SearchScope, Store, UserId};
use kinfolk_benches::dataset::Dataset;
use kinfolk_benches::fts::Fts5;
use kinfolk_benches::load::{Loaded, load};
use kinfolk_benches::queries::{CLASSES, queries};
use kinfolk_benches::rec::{note, record, write_report};
use kinfolk_benches::work::{Fixture, Requests};
use kinfolk_benches::{
    REDB_FILE, SQLITE_FILE, bench_seed, bench_users, prebuilt_dir, store_enabled, test_mode,
};

const TOP_K: usize = 64;

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    if !test_mode() {
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    g
}

fn bench_engine(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    svc: &Kinfolk,
    index: &dyn SearchIndex,
    viewer: UserId,
    qs: &[(&str, Vec<String>)],
    engine: &str,
) {
    for (class, list) in qs {
        for (scope_name, scope) in [
            ("discovery", SearchScope::Discovery),
            ("mention", SearchScope::Mention),
        ] {
            let w = format!("search_{scope_name}_{class}");
            let mut g = group(c, &w);
            let wref = w.as_str();
            g.bench_function(engine, |b| {
                b.to_async(rt).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        let q = &list[i as usize % list.len()];
                        let t = Instant::now();
                        let r = svc
                            .search_users(Some(viewer), q, scope, PageRequest::with_limit(20))
                            .await;
                        let d = t.elapsed();
                        let _ = std::hint::black_box(r.expect("search"));
                        record(wref, engine, d);
                        total += d;
                    }
                    total
                })
            });
            g.finish();
        }
    }
    bench_index_top(c, rt, index, qs, engine);
}

/// `index_top_<class>`: the engine's `top(k = 64)` alone.
fn bench_index_top(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    index: &dyn SearchIndex,
    qs: &[(&str, Vec<String>)],
    engine: &str,
) {
    for (class, list) in qs {
        let w = format!("index_top_{class}");
        let mut g = group(c, &w);
        let wref = w.as_str();
        let parsed: Vec<SearchQuery> = list
            .iter()
            .filter_map(|q| SearchQuery::parse(q).ok())
            .collect();
        let parsed = &parsed;
        let boosts = Boosts::new();
        let boosts = &boosts;
        g.bench_function(engine, |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let q = &parsed[i as usize % parsed.len()];
                    let t = Instant::now();
                    let r = index.top(q, boosts, TOP_K).await;
                    let d = t.elapsed();
                    let _ = std::hint::black_box(r.expect("top"));
                    record(wref, engine, d);
                    total += d;
                }
                total
            })
        });
        g.finish();
    }
}

/// Gives tantivy's background merges of the freshly built index time to
/// finish (the reader picks the merged segments up by itself), so that they
/// neither compete for the CPU with the first workloads nor leave those
/// workloads on more segments than the later ones.
fn settle(users: usize) {
    if test_mode() {
        return;
    }
    let secs = 5 + users as u64 / 40_000;
    note(format!("tantivy: {secs}s pause for background merges"));
    std::thread::sleep(Duration::from_secs(secs));
}

fn benches(c: &mut Criterion) {
    // `KINFOLK_BENCH_OPEN=<dir>`: a prebuilt SQLite (else redb) store and its
    // requests; the generator only recreates the names the queries are taken
    // from (same seed as the build).
    let prebuilt = prebuilt_dir().map(|dir| {
        let r = Requests::load(&dir).expect("read fixture.json of the prebuilt dataset");
        (dir, r)
    });
    let n = prebuilt.as_ref().map_or_else(bench_users, |(_, r)| r.users);
    let ds = Dataset::generate(n, bench_seed());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let engine_only = std::env::var("KINFOLK_BENCH_SEARCH_ENGINE_ONLY").is_ok_and(|v| v == "1");
    let store: Arc<dyn Store> = match &prebuilt {
        Some((dir, r)) => {
            let (kind, store) = open_prebuilt(dir);
            note(format!(
                "search: prebuilt {kind} store {} ({} users, {} follows)",
                dir.display(),
                r.users,
                r.follows
            ));
            store
        }
        None => Arc::new(kinfolk_memory::MemoryStore::new()),
    };
    let loaded = if engine_only || prebuilt.is_some() {
        if engine_only {
            note("search: engine only (KINFOLK_BENCH_SEARCH_ENGINE_ONLY=1): no store load, index_top_* only".to_string());
        }
        // Ids are only needed by the engine-only index; the queries use names.
        Loaded {
            ids: (0..n).map(|_| kinfolk::UserId::new()).collect(),
            room_ids: Vec::new(),
            users_time: Duration::ZERO,
            follows_time: Duration::ZERO,
            rest_time: Duration::ZERO,
            follows_added: 0,
        }
    } else {
        let plain = rt
            .block_on(Kinfolk::builder(store.clone()).build())
            .expect("service");
        rt.block_on(load(&plain, &ds))
    };
    let f = Fixture::new(&ds, &loaded);
    let viewer = prebuilt.as_ref().map_or(f.viewer, |(_, r)| r.viewer);
    let per_class = if test_mode() { 4 } else { 64 };
    let qs: Vec<(&str, Vec<String>)> = CLASSES
        .iter()
        .map(|c| (*c, queries(&ds, &f, c, per_class)))
        .collect();
    note(format!(
        "search: {n} users; sample queries: {:?}",
        qs.iter()
            .map(|(c, l)| (c, l.iter().take(3).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    ));

    if store_enabled("fts5") {
        let t = Instant::now();
        let fts = Fts5::build(&ds);
        note(format!(
            "fts5: built over {n} users in {:.1}s",
            t.elapsed().as_secs_f64()
        ));
        let mut hits = 0usize;
        for (class, list) in &qs {
            let w = format!("index_top_{class}");
            let mut g = group(c, &w);
            let wref = w.as_str();
            g.bench_function("fts5", |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        let t = Instant::now();
                        let r = fts.top(&list[i as usize % list.len()], TOP_K);
                        let d = t.elapsed();
                        hits += r.len();
                        record(wref, "fts5", d);
                        total += d;
                    }
                    total
                })
            });
            g.finish();
        }
        let typo_hits: usize = qs
            .iter()
            .filter(|(c, _)| *c == "typo")
            .flat_map(|(_, l)| l.iter())
            .map(|q| fts.top(q, 1).len())
            .sum();
        note(format!(
            "fts5: typo queries with at least one hit: {typo_hits} of {per_class}"
        ));
    }

    if store_enabled("tantivy") && engine_only {
        // `KINFOLK_BENCH_SEARCH_INDEX_DIR=<empty dir>`: build the index on
        // disk there and report its size (issue 19's index-size figure).
        // A dir that already holds a filled index (a previous run's) is
        // measured as it is, not refilled: alternated binaries then query
        // the same index files (`KINFOLK_BENCH_SEARCH_REBUILD=1` refills).
        let on_disk = std::env::var_os("KINFOLK_BENCH_SEARCH_INDEX_DIR")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from);
        let rebuild = std::env::var("KINFOLK_BENCH_SEARCH_REBUILD").is_ok_and(|v| v == "1");
        let reuse = !rebuild
            && on_disk
                .as_ref()
                .is_some_and(kinfolk_search::TantivyIndex::exists_in);
        let index = match &on_disk {
            Some(dir) => kinfolk_search::TantivyIndex::open_with(dir, index_options())
                .expect("tantivy on disk"),
            None => kinfolk_search::TantivyIndex::open_in_ram().expect("tantivy"),
        };
        let unspaced = ds
            .users
            .iter()
            .filter(|u| {
                u.name.chars().any(|c| {
                    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}')
                })
            })
            .count();
        note(format!(
            "search: {unspaced} of {n} names have Han, kana or Hangul characters"
        ));
        if reuse {
            let seq = rt.block_on(index.applied_seq()).expect("applied seq");
            note(format!(
                "tantivy: reusing the index in {} (applied seq {seq}), not refilled",
                on_disk
                    .as_ref()
                    .map_or(String::new(), |d| d.display().to_string())
            ));
        }
        let t = Instant::now();
        let deg = ds.in_degrees();
        let docs: Vec<SearchDoc> = ds
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| SearchDoc {
                id: loaded.ids[i],
                username: u.username.clone(),
                name: u.name.clone(),
                followers_count: u64::from(deg[i]),
            })
            .collect();
        let fill = if reuse { &docs[..0] } else { &docs[..] };
        if rebuild {
            rt.block_on(index.clear()).expect("clear the index");
        }
        for (seq, chunk) in fill.chunks(kinfolk_benches::load::BATCH).enumerate() {
            rt.block_on(index.apply(IndexBatch {
                upserts: chunk.to_vec(),
                removals: Vec::new(),
                upto_seq: seq as u64 + 1,
            }))
            .expect("index batch");
        }
        rt.block_on(index.refresh()).expect("refresh");
        note(format!(
            "tantivy: index built (direct apply, engine only) in {:.1}s",
            t.elapsed().as_secs_f64()
        ));
        if !reuse {
            settle(n);
        }
        if let Some(dir) = &on_disk {
            let bytes: u64 = std::fs::read_dir(dir)
                .expect("index dir")
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum();
            note(format!(
                "tantivy: index on disk {:.1} MiB ({bytes} bytes) in {}",
                bytes as f64 / (1024.0 * 1024.0),
                dir.display()
            ));
        }
        bench_index_top(c, &rt, &index, &qs, "tantivy");
    }

    if store_enabled("tantivy") && !engine_only {
        // A prebuilt store keeps its index on disk beside it: the first run
        // builds it from the store, later runs catch up from the feed.
        let index = Arc::new(match &prebuilt {
            Some((dir, _)) => kinfolk_search::TantivyIndex::open_with(
                std::env::var_os("KINFOLK_BENCH_SEARCH_INDEX")
                    .filter(|v| !v.is_empty())
                    .map_or_else(|| dir.join("search-index"), Into::into),
                index_options(),
            )
            .expect("tantivy"),
            None => kinfolk_search::TantivyIndex::open_in_ram().expect("tantivy"),
        });
        let t = Instant::now();
        let svc = rt
            .block_on(
                Kinfolk::builder(store.clone())
                    .search(index.clone())
                    .build(),
            )
            .expect("service with tantivy");
        note(format!(
            "tantivy: index ready (rebuilt from the store, or caught up from its feed) in {:.1}s",
            t.elapsed().as_secs_f64()
        ));
        settle(n);
        bench_engine(c, &rt, &svc, index.as_ref(), viewer, &qs, "tantivy");
    }

    if store_enabled("brute") && n <= 100_000 && !engine_only && prebuilt.is_none() {
        let index = Arc::new(kinfolk_memory::MemorySearch::new());
        let svc = rt
            .block_on(
                Kinfolk::builder(store.clone())
                    .search(index.clone())
                    .build(),
            )
            .expect("service with brute-force search");
        bench_engine(c, &rt, &svc, index.as_ref(), viewer, &qs, "brute");
    }

    write_report("search", n);
}

/// The index's options: the library's defaults, except
/// `KINFOLK_BENCH_SEARCH_ORDER=0` (no followers order: every match of a
/// tier query is ranked, the code before session 8).
fn index_options() -> kinfolk_search::IndexOptions {
    let ordered = std::env::var("KINFOLK_BENCH_SEARCH_ORDER").map_or(true, |v| v != "0");
    kinfolk_search::IndexOptions::default().followers_order(ordered)
}

/// Opens the SQLite store of a prebuilt dataset directory, else its redb
/// store; `KINFOLK_BENCH_SEARCH_STORE=redb|sqlite` chooses.
fn open_prebuilt(dir: &Path) -> (&'static str, Arc<dyn Store>) {
    let sqlite = dir.join(SQLITE_FILE);
    let choice = std::env::var("KINFOLK_BENCH_SEARCH_STORE").unwrap_or_default();
    let use_sqlite = match choice.as_str() {
        "sqlite" => true,
        "redb" => false,
        "" => sqlite.exists(),
        other => panic!("KINFOLK_BENCH_SEARCH_STORE={other}: sqlite or redb"),
    };
    if use_sqlite {
        let store: Arc<dyn Store> =
            Arc::new(kinfolk_sqlite::open(&sqlite).expect("open sqlite store"));
        return ("sqlite", store);
    }
    let store: Arc<dyn Store> =
        Arc::new(kinfolk_redb::open(dir.join(REDB_FILE)).expect("open redb store"));
    ("redb", store)
}

criterion_group!(search, benches);
criterion_main!(search);
