//! Per-store workloads of issue 7, and the hand-written baselines (rusqlite
//! for the SQLite store, raw redb for the redb store), on one generated
//! dataset. See BENCHMARKS.md.
//!
//! `cargo bench -p kinfolk-benches --bench workloads` (100k users; set
//! `KINFOLK_BENCH_USERS`, `KINFOLK_BENCH_STORES=memory,sqlite,sqlite_base,redb,redb_base`).
//! `cargo test -p kinfolk-benches --benches` runs every bench once on 2,000 users.
//! `KINFOLK_BENCH_OPEN=<dir>` runs the SQLite/redb workloads and baselines on
//! a dataset `kinfolk-scale build` prebuilt in `<dir>` (how 1M users is run).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use tokio::runtime::Runtime;

use kinfolk::{
    DisplayName, FollowAction, Kinfolk, NewUser, PageRequest, ProfileUpdate, RoomFilter, Store,
    UserId,
};
use kinfolk_benches::dataset::Dataset;
use kinfolk_benches::load::load;
use kinfolk_benches::rec::{note, record, write_report};
use kinfolk_benches::redb_base::RedbBase;
use kinfolk_benches::sqlite_base::SqliteBase;
use kinfolk_benches::work::{Fixture, MixOp, Requests, deep_cursor, run_mix};
use kinfolk_benches::{
    REDB_FILE, SQLITE_FILE, Scratch, bench_seed, bench_users, peak_rss_kib, prebuilt_dir,
    store_enabled, test_mode,
};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `op` `iters` times, timing and recording each call; criterion gets the sum.
macro_rules! bench_async {
    ($g:expr, $rt:expr, $workload:expr, $store:expr, |$i:ident| $body:expr) => {{
        let workload: &str = $workload;
        let store: &str = $store;
        $g.bench_function(store, |b| {
            b.to_async($rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for $i in 0..iters {
                    let t = Instant::now();
                    let _ = std::hint::black_box($body.await);
                    let d = t.elapsed();
                    record(workload, store, d);
                    total += d;
                }
                total
            })
        });
    }};
}

/// The same for synchronous code (the baselines).
macro_rules! bench_sync {
    ($g:expr, $workload:expr, $store:expr, |$i:ident| $body:expr) => {{
        let workload: &str = $workload;
        let store: &str = $store;
        $g.bench_function(store, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for $i in 0..iters {
                    let t = Instant::now();
                    let _ = std::hint::black_box($body);
                    let d = t.elapsed();
                    record(workload, store, d);
                    total += d;
                }
                total
            })
        });
    }};
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    if !test_mode() {
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    g
}

/// A run-unique prefix for registered usernames.
fn run_tag() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("r{}", t % 1_000_000)
}

async fn build(svc: &Kinfolk, ds: &Dataset, store: &str) -> Requests {
    let t = Instant::now();
    let loaded = load(svc, ds).await;
    let users = ds.users.len() as f64;
    note(format!(
        "{store}: import {} users in {:.2}s ({:.0}/s), {} follows in {:.2}s ({:.0}/s); \
         settings+blocks+{} rooms/{} memberships in {:.2}s; total {:.1}s",
        ds.users.len(),
        loaded.users_time.as_secs_f64(),
        users / loaded.users_time.as_secs_f64(),
        loaded.follows_added,
        loaded.follows_time.as_secs_f64(),
        loaded.follows_added as f64 / loaded.follows_time.as_secs_f64(),
        ds.rooms.len(),
        ds.memberships(),
        loaded.rest_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    ));
    Requests::new(&Fixture::new(ds, &loaded), loaded.follows_added)
}

/// Every workload against one kinfolk service.
fn run_kinfolk(c: &mut Criterion, rt: &Runtime, svc: &Kinfolk, f: &Requests, store: &str) {
    let (deep, deep_at) = rt.block_on(deep_cursor(svc, f, 0.9));
    let deep = &deep;
    note(format!(
        "{store}: celebrity has {} followers; deep cursor after {deep_at} rows",
        f.celebrity_followers
    ));

    // ---- reads
    {
        // Diagnostic: an empty read job (the store's thread hop and read
        // transaction, no table work), to show the fixed cost of every read.
        let mut g = group(c, "diag_empty_read_job");
        bench_async!(g, rt, "diag_empty_read_job", store, |_i| {
            kinfolk::store::read(svc.store().as_ref(), |_tx| Ok(()))
        });
        g.finish();
    }
    {
        let mut g = group(c, "get_profile_by_id");
        let ids: Vec<String> = f.profile_ids.iter().map(UserId::to_string).collect();
        let ids = &ids;
        bench_async!(g, rt, "get_profile_by_id", store, |i| svc
            .get_profile(Some(f.viewer), &ids[i as usize % ids.len()]));
        g.finish();
    }
    {
        let mut g = group(c, "get_profile_by_username");
        let names = &f.usernames;
        bench_async!(g, rt, "get_profile_by_username", store, |i| svc
            .get_profile(Some(f.viewer), &names[i as usize % names.len()]));
        g.finish();
    }
    for limit in [20u32, 100] {
        let w1 = format!("followers_celebrity_first_l{limit}");
        let mut g = group(c, &w1);
        bench_async!(g, rt, &w1, store, |_i| svc.followers(
            Some(f.viewer),
            f.celebrity,
            PageRequest::with_limit(limit)
        ));
        g.finish();
        let w2 = format!("followers_celebrity_deep90_l{limit}");
        let mut g = group(c, &w2);
        bench_async!(g, rt, &w2, store, |_i| svc.followers(
            Some(f.viewer),
            f.celebrity,
            PageRequest::after(deep.clone(), Some(limit))
        ));
        g.finish();
    }
    {
        let mut g = group(c, "known_followers_celebrity_l20");
        bench_async!(g, rt, "known_followers_celebrity_l20", store, |_i| svc
            .known_followers(
                Some(f.viewer),
                f.celebrity,
                PageRequest::with_limit(20)
            ));
        g.finish();
    }
    {
        let mut g = group(c, "relationships_100");
        let batches = &f.rel_batches;
        bench_async!(g, rt, "relationships_100", store, |i| svc
            .relationships(f.viewer, &batches[i as usize % batches.len()]));
        g.finish();
    }
    {
        let mut g = group(c, "my_rooms_filter_l20");
        bench_async!(g, rt, "my_rooms_filter_l20", store, |_i| svc.my_rooms(
            f.viewer,
            RoomFilter {
                name: Some(f.room_filter.clone()),
                ..Default::default()
            },
            PageRequest::with_limit(20)
        ));
        g.finish();
    }
    {
        let mut g = group(c, "read_mix");
        let ops = &f.mix;
        bench_async!(g, rt, "read_mix", store, |i| run_mix(
            svc,
            &ops[i as usize % ops.len()]
        ));
        g.finish();
    }

    // ---- writes (durable)
    {
        let mut g = group(c, "register");
        let tag = run_tag();
        let counter = std::sync::atomic::AtomicU64::new(0);
        let counter = &counter;
        let tag = &tag;
        bench_async!(g, rt, "register", store, |_i| async move {
            let k = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let nu = NewUser::new(&format!("{tag}_{store}_{k}"), "Zoë Bench Ñandú").expect("valid");
            svc.register(nu).await
        });
        g.finish();
    }
    {
        let mut g = group(c, "update_profile");
        let names = [
            DisplayName::parse("Åsa Lindqvist").expect("valid"),
            DisplayName::parse("Ελένη Παπαδοπούλου").expect("valid"),
        ];
        let names = &names;
        bench_async!(g, rt, "update_profile", store, |i| svc.update_profile(
            f.actor,
            ProfileUpdate {
                name: Some(names[i as usize % 2].clone()),
                ..Default::default()
            }
        ));
        g.finish();
    }
    for (label, target) in [("ordinary", f.ordinary), ("celebrity", f.celebrity)] {
        let w = format!("toggle_follow_pair_{label}");
        let mut g = group(c, &w);
        bench_async!(g, rt, &w, store, |_i| async move {
            svc.toggle_follow(f.actor, target, Some(FollowAction::Follow))
                .await
                .expect("follow");
            svc.toggle_follow(f.actor, target, Some(FollowAction::Unfollow))
                .await
                .expect("unfollow")
        });
        g.finish();
    }
}

fn run_mix_base<B: Floor>(b: &B, op: &MixOp) -> bool {
    match op {
        MixOp::List {
            viewer,
            owner,
            followers,
        } => {
            if *followers {
                b.followers_page(*viewer, *owner, None, 20) > 0
            } else {
                b.following_page(*viewer, *owner, 20) > 0
            }
        }
        MixOp::Profile {
            viewer,
            id,
            username,
        } => match username {
            Some(u) => b.profile_by_username(*viewer, u),
            None => b.profile_by_id(*viewer, *id),
        },
        MixOp::Relationship { viewer, other } => b.relationships(*viewer, &[*other]) > 0,
        MixOp::Counts { user } => b.counts(*user),
        MixOp::Toggle { actor, target } => {
            actor != target && (b.unfollow(*actor, *target) || b.follow(*actor, *target))
        }
    }
}

/// A hand-written baseline: the same storage work as a store, without kinfolk.
/// Each call does the whole operation (one transaction) and drops its result.
trait Floor {
    /// The keyset position ~`frac` into the owner's followers, and its offset.
    fn deep_position(&self, owner: UserId, frac: f64) -> (u64, usize);
    fn profile_by_id(&self, viewer: UserId, id: UserId) -> bool;
    fn profile_by_username(&self, viewer: UserId, folded: &str) -> bool;
    fn followers_page(
        &self,
        viewer: UserId,
        owner: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> usize;
    fn following_page(&self, viewer: UserId, owner: UserId, limit: usize) -> usize;
    fn known_followers(&self, viewer: UserId, owner: UserId, limit: usize) -> usize;
    fn relationships(&self, viewer: UserId, ids: &[UserId]) -> usize;
    fn counts(&self, id: UserId) -> bool;
    fn my_rooms(&self, user: UserId, needle: &str, limit: usize) -> usize;
    /// `template`: a user whose record shape the baseline may copy.
    fn register(&self, template: UserId, username: &str, name: &str) -> UserId;
    fn update_name(&self, actor: UserId, name: &str);
    fn follow(&self, actor: UserId, target: UserId) -> bool;
    fn unfollow(&self, actor: UserId, target: UserId) -> bool;
}

impl Floor for SqliteBase {
    fn deep_position(&self, owner: UserId, frac: f64) -> (u64, usize) {
        let (seq, offset) = SqliteBase::deep_position(self, owner, frac);
        (seq as u64, offset)
    }
    fn profile_by_id(&self, viewer: UserId, id: UserId) -> bool {
        SqliteBase::profile_by_id(self, viewer, id).is_some()
    }
    fn profile_by_username(&self, viewer: UserId, folded: &str) -> bool {
        SqliteBase::profile_by_username(self, viewer, folded).is_some()
    }
    fn followers_page(
        &self,
        viewer: UserId,
        owner: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> usize {
        let before = before.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        SqliteBase::followers_page(self, viewer, owner, before, limit)
            .0
            .len()
    }
    fn following_page(&self, viewer: UserId, owner: UserId, limit: usize) -> usize {
        SqliteBase::following_page(self, viewer, owner, limit).len()
    }
    fn known_followers(&self, viewer: UserId, owner: UserId, limit: usize) -> usize {
        SqliteBase::known_followers(self, viewer, owner, limit).len()
    }
    fn relationships(&self, viewer: UserId, ids: &[UserId]) -> usize {
        SqliteBase::relationships(self, viewer, ids).len()
    }
    fn counts(&self, id: UserId) -> bool {
        SqliteBase::counts(self, id).is_some()
    }
    fn my_rooms(&self, user: UserId, needle: &str, limit: usize) -> usize {
        SqliteBase::my_rooms(self, user, needle, limit).len()
    }
    fn register(&self, template: UserId, username: &str, name: &str) -> UserId {
        SqliteBase::register(self, template, username, name)
    }
    fn update_name(&self, actor: UserId, name: &str) {
        SqliteBase::update_name(self, actor, name)
    }
    fn follow(&self, actor: UserId, target: UserId) -> bool {
        SqliteBase::follow(self, actor, target)
    }
    fn unfollow(&self, actor: UserId, target: UserId) -> bool {
        SqliteBase::unfollow(self, actor, target)
    }
}

impl Floor for RedbBase {
    fn deep_position(&self, owner: UserId, frac: f64) -> (u64, usize) {
        RedbBase::deep_position(self, owner, frac)
    }
    fn profile_by_id(&self, viewer: UserId, id: UserId) -> bool {
        RedbBase::profile_by_id(self, viewer, id).is_some()
    }
    fn profile_by_username(&self, viewer: UserId, folded: &str) -> bool {
        RedbBase::profile_by_username(self, viewer, folded).is_some()
    }
    fn followers_page(
        &self,
        viewer: UserId,
        owner: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> usize {
        RedbBase::followers_page(self, viewer, owner, before, limit)
            .0
            .len()
    }
    fn following_page(&self, viewer: UserId, owner: UserId, limit: usize) -> usize {
        RedbBase::following_page(self, viewer, owner, limit).len()
    }
    fn known_followers(&self, viewer: UserId, owner: UserId, limit: usize) -> usize {
        RedbBase::known_followers(self, viewer, owner, limit).len()
    }
    fn relationships(&self, viewer: UserId, ids: &[UserId]) -> usize {
        RedbBase::relationships(self, viewer, ids).len()
    }
    fn counts(&self, id: UserId) -> bool {
        RedbBase::counts(self, id).is_some()
    }
    fn my_rooms(&self, user: UserId, needle: &str, limit: usize) -> usize {
        RedbBase::my_rooms(self, user, needle, limit).len()
    }
    fn register(&self, _template: UserId, username: &str, name: &str) -> UserId {
        RedbBase::register(self, username, name)
    }
    fn update_name(&self, actor: UserId, name: &str) {
        RedbBase::update_name(self, actor, name)
    }
    fn follow(&self, actor: UserId, target: UserId) -> bool {
        RedbBase::follow(self, actor, target)
    }
    fn unfollow(&self, actor: UserId, target: UserId) -> bool {
        RedbBase::unfollow(self, actor, target)
    }
}

/// The `OFFSET` anti-baseline for deep pages (SQLite only).
fn run_sqlite_offset(c: &mut Criterion, b: &SqliteBase, f: &Requests, store: &str) {
    let (_, deep_offset) = b.deep_position(f.celebrity, 0.9);
    for limit in [20usize, 100] {
        let w = format!("followers_celebrity_deep90_l{limit}");
        let mut g = group(c, &w);
        bench_sync!(g, &w, store, |_i| b.followers_page_offset(
            f.viewer,
            f.celebrity,
            deep_offset,
            limit
        ));
        g.finish();
    }
}

/// Where the redb store's time goes, measured beside its floor: a read
/// transaction opening the 2 tables a profile read needs vs the 14 the store
/// opens for every job, and a user record decoded lean vs into `kinfolk::User`.
/// (Not workloads of issue 7; the `diag_` rows of the report.)
fn run_redb_diag(c: &mut Criterion, b: &RedbBase, f: &Requests) {
    for (w, all) in [
        ("diag_read_txn_2_tables", false),
        ("diag_read_txn_14_tables", true),
    ] {
        let mut g = group(c, w);
        bench_sync!(g, w, "redb_base", |_i| b.diag_read_txn(all));
        g.finish();
    }
    let ids = &f.profile_ids;
    for (w, full) in [
        ("diag_user_decode_lean", false),
        ("diag_user_decode_full", true),
    ] {
        let mut g = group(c, w);
        bench_sync!(g, w, "redb_base", |i| b
            .diag_user_decode(ids[i as usize % ids.len()], full));
        g.finish();
    }
}

/// A hand-written baseline on the same data as its store.
fn run_base<B: Floor>(c: &mut Criterion, b: &B, f: &Requests, store: &str) {
    let (deep_seq, deep_offset) = b.deep_position(f.celebrity, 0.9);
    note(format!(
        "{store}: deep position seq {deep_seq}, offset {deep_offset}"
    ));
    {
        let mut g = group(c, "get_profile_by_id");
        let ids = &f.profile_ids;
        bench_sync!(g, "get_profile_by_id", store, |i| b
            .profile_by_id(f.viewer, ids[i as usize % ids.len()]));
        g.finish();
    }
    {
        let mut g = group(c, "get_profile_by_username");
        let names = &f.usernames;
        bench_sync!(g, "get_profile_by_username", store, |i| b
            .profile_by_username(f.viewer, &names[i as usize % names.len()]));
        g.finish();
    }
    for limit in [20usize, 100] {
        let w1 = format!("followers_celebrity_first_l{limit}");
        let mut g = group(c, &w1);
        bench_sync!(g, &w1, store, |_i| b.followers_page(
            f.viewer,
            f.celebrity,
            None,
            limit
        ));
        g.finish();
        let w2 = format!("followers_celebrity_deep90_l{limit}");
        let mut g = group(c, &w2);
        bench_sync!(g, &w2, store, |_i| b.followers_page(
            f.viewer,
            f.celebrity,
            Some(deep_seq),
            limit
        ));
        g.finish();
    }
    {
        let mut g = group(c, "known_followers_celebrity_l20");
        bench_sync!(g, "known_followers_celebrity_l20", store, |_i| b
            .known_followers(f.viewer, f.celebrity, 20));
        g.finish();
    }
    {
        let mut g = group(c, "relationships_100");
        let batches = &f.rel_batches;
        bench_sync!(g, "relationships_100", store, |i| b
            .relationships(f.viewer, &batches[i as usize % batches.len()]));
        g.finish();
    }
    {
        let mut g = group(c, "my_rooms_filter_l20");
        bench_sync!(g, "my_rooms_filter_l20", store, |_i| b.my_rooms(
            f.viewer,
            &f.room_filter,
            20
        ));
        g.finish();
    }
    {
        let mut g = group(c, "read_mix");
        let ops = &f.mix;
        bench_sync!(g, "read_mix", store, |i| run_mix_base(
            b,
            &ops[i as usize % ops.len()]
        ));
        g.finish();
    }
    {
        let mut g = group(c, "register");
        let tag = run_tag();
        bench_sync!(g, "register", store, |i| b.register(
            f.viewer,
            &format!("{tag}_b_{i}_{}", rand_suffix()),
            "Zoë Bench Ñandú"
        ));
        g.finish();
    }
    {
        let mut g = group(c, "update_profile");
        let names = ["Åsa Lindqvist", "Ελένη Παπαδοπούλου"];
        bench_sync!(g, "update_profile", store, |i| b
            .update_name(f.actor, names[i as usize % 2]));
        g.finish();
    }
    for (label, target) in [("ordinary", f.ordinary), ("celebrity", f.celebrity)] {
        let w = format!("toggle_follow_pair_{label}");
        let mut g = group(c, &w);
        bench_sync!(g, &w, store, |_i| {
            assert!(b.follow(f.actor, target), "baseline follow");
            b.unfollow(f.actor, target)
        });
        g.finish();
    }
}

fn rand_suffix() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    if let Some(dir) = prebuilt_dir() {
        let users = bench_prebuilt(c, &rt, &dir);
        write_report("workloads", users);
        return;
    }
    let n = bench_users();
    let t = Instant::now();
    let ds = Dataset::generate(n, bench_seed());
    note(format!(
        "dataset: {} users, {} follows, {} rooms, {} memberships, {} private, {} hidden, {} blocks; generated in {:.1}s",
        ds.users.len(),
        ds.follows.len(),
        ds.rooms.len(),
        ds.memberships(),
        ds.private.len(),
        ds.hidden.len(),
        ds.blocks.len(),
        t.elapsed().as_secs_f64()
    ));

    if store_enabled("memory") {
        let store: Arc<dyn Store> = Arc::new(kinfolk_memory::MemoryStore::new());
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        let f = rt.block_on(build(&svc, &ds, "memory"));
        run_kinfolk(c, &rt, &svc, &f, "memory");
        note(format!(
            "memory: process peak RSS {} MiB after the memory store's runs",
            peak_rss_kib().unwrap_or(0) >> 10
        ));
    }

    if store_enabled("sqlite") || store_enabled("sqlite_base") {
        let dir = Scratch::new("sqlite");
        let path = dir.path(SQLITE_FILE);
        let sq = Arc::new(kinfolk_sqlite::open(&path).expect("open sqlite store"));
        let store: Arc<dyn Store> = sq;
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        let f = rt.block_on(build(&svc, &ds, "sqlite"));
        run_sqlite(c, &rt, svc, &path, &f);
    }

    if store_enabled("redb") || store_enabled("redb_base") {
        let dir = Scratch::new("redb");
        let path = dir.path(REDB_FILE);
        let store: Arc<dyn Store> = Arc::new(kinfolk_redb::open(&path).expect("open redb store"));
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        let f = rt.block_on(build(&svc, &ds, "redb"));
        run_redb(c, &rt, svc, &path, &f);
    }

    write_report("workloads", n);
}

/// Runs the SQLite and/or redb workloads on a prebuilt dataset; returns its user count.
///
/// Writes land in the prebuilt file: each run registers a few thousand
/// extra users (run-unique names) and renames the actor; follow toggles come
/// in pairs and leave the graph as it was.
fn bench_prebuilt(c: &mut Criterion, rt: &Runtime, dir: &Path) -> usize {
    let f = Requests::load(dir).expect("read fixture.json of the prebuilt dataset");
    note(format!(
        "prebuilt dataset {}: {} users, {} follows (KINFOLK_BENCH_OPEN)",
        dir.display(),
        f.users,
        f.follows
    ));
    let sqlite = dir.join(SQLITE_FILE);
    if sqlite.exists() && (store_enabled("sqlite") || store_enabled("sqlite_base")) {
        let t = Instant::now();
        let mut options = kinfolk_sqlite::Options::default();
        if !short_reads_inline() {
            options = options.inline_readers(0);
        }
        let store: Arc<dyn Store> =
            Arc::new(kinfolk_sqlite::open_with(&sqlite, options).expect("open sqlite store"));
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        note(format!(
            "sqlite: opened in {:.2}s",
            t.elapsed().as_secs_f64()
        ));
        run_sqlite(c, rt, svc, &sqlite, &f);
    }
    let redb = dir.join(REDB_FILE);
    if redb.exists() && (store_enabled("redb") || store_enabled("redb_base")) {
        let t = Instant::now();
        let options = kinfolk_redb::Options::default().short_reads_inline(short_reads_inline());
        let store: Arc<dyn Store> =
            Arc::new(kinfolk_redb::open_with(&redb, options).expect("open redb store"));
        let svc = rt
            .block_on(Kinfolk::builder(store).build())
            .expect("service");
        note(format!("redb: opened in {:.2}s", t.elapsed().as_secs_f64()));
        run_redb(c, rt, svc, &redb, &f);
    }
    f.users
}

/// Whether the prebuilt stores run short reads on the caller's thread (their
/// default, ADR 0012); `KINFOLK_BENCH_SHORT_READS=thread` sends every read to
/// a reader thread, for a before/after in one binary.
fn short_reads_inline() -> bool {
    std::env::var("KINFOLK_BENCH_SHORT_READS").map_or(true, |v| v != "thread")
}

/// The SQLite store's workloads, then its hand-written floor and the
/// `OFFSET` anti-baseline on the same file.
fn run_sqlite(c: &mut Criterion, rt: &Runtime, svc: Kinfolk, path: &Path, f: &Requests) {
    if let Ok(m) = std::fs::metadata(path) {
        note(format!(
            "sqlite: database file {} MiB (+WAL)",
            m.len() >> 20
        ));
    }
    if store_enabled("sqlite") {
        run_kinfolk(c, rt, &svc, f, "sqlite");
    }
    if store_enabled("sqlite_base") {
        let b = SqliteBase::open(path, true);
        run_base(c, &b, f, "sqlite_base");
        run_sqlite_offset(c, &b, f, "sqlite_base_offset");
    }
}

/// The redb store's workloads, then its raw-redb floor on the same file.
fn run_redb(c: &mut Criterion, rt: &Runtime, svc: Kinfolk, path: &Path, f: &Requests) {
    if let Ok(m) = std::fs::metadata(path) {
        note(format!("redb: database file {} MiB", m.len() >> 20));
    }
    if store_enabled("redb") {
        run_kinfolk(c, rt, &svc, f, "redb");
    }
    // redb locks its file: the baseline opens it once the store is closed
    // (dropping the last handle joins the store's threads and closes it).
    drop(svc);
    if store_enabled("redb_base") {
        let b = RedbBase::open(path, f.viewer);
        run_base(c, &b, f, "redb_base");
        run_redb_diag(c, &b, f);
    }
}

criterion_group!(workloads, benches);
criterion_main!(workloads);
