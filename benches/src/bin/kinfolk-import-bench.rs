//! Bulk import (issue 17): `Kinfolk::import_transfer` of the generated
//! dataset's users and follows into SQLite and into redb, next to the floor a
//! person would write by hand on the same rows in the same run:
//!
//! - SQLite floor: the store's schema, the edge indexes dropped, one
//!   transaction of plain `INSERT`s (users, their two username claims,
//!   edges) in key order, `CREATE INDEX`, commit;
//! - redb floor: one write transaction inserting the same records, encoded
//!   as the store encodes them, into the same tables, each in key order.
//!
//! A third run, `api`, loads the same users and follows through the
//! library-level commands instead: `Kinfolk::import_users` and
//! `Kinfolk::import_follows` batches of 50,000 rows (the follows in the
//! transfer's `(from, to)` order, new ids from `import_users`) inside one
//! `Kinfolk::bulk_import` session.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-release cargo run --release -p kinfolk-benches \
//!     --bin kinfolk-import-bench -- [USERS=100000] [ROUNDS=1] [DIR=/tmp] \
//!     [RUNS=floor,library] [ENGINES=sqlite,redb]
//! ```
//! Follows are the dataset's (mean out-degree 20), so USERS=1000000 is
//! 1M users + ~20M follows. Each round runs the RUNS (`floor`, `library` =
//! `import_transfer`, `api` = `import_users` + `import_follows` in
//! `bulk_import`, `api-plain` = the same batches without the session)
//! alternately per engine, each into a new file that is
//! deleted right after; the output is one line per run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use kinfolk::transfer::{Transfer, UserRecord};
use kinfolk::{AccountStatus, Edge, EdgeKind, Kinfolk, Settings, UserId, Username};
use kinfolk_benches::dataset::Dataset;

fn id(i: u32) -> UserId {
    UserId::from_bytes(
        (0x0190_0000_0000_7000_8000_0000_0000_0000u128 | u128::from(i)).to_be_bytes(),
    )
}

/// The dataset as a transfer: users (private ones private), follows with
/// seq = import position, sorted by key.
fn transfer(ds: &Dataset) -> Transfer {
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut private = vec![false; ds.users.len()];
    for &p in &ds.private {
        private[p as usize] = true;
    }
    let users = ds
        .users
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut settings = Settings::default();
            settings.privacy.private_account = private[i];
            let at = t0 + Duration::milliseconds(i as i64);
            UserRecord {
                id: id(i as u32),
                username: Username::parse(&g.username).unwrap(),
                name: kinfolk::DisplayName::parse(&g.name).unwrap(),
                bio: Default::default(),
                avatar_url: None,
                social_links: Default::default(),
                location: None,
                email: None,
                status: AccountStatus::Active,
                settings,
                created_at: at,
                updated_at: at,
            }
        })
        .collect();
    let mut pairs: Vec<(u32, u32, u64)> = ds
        .follows
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, &(a, b))| (a, b, i as u64 + 1))
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by_key(|p| (p.0, p.1));
    let since = t0 + Duration::days(1);
    let edges = pairs
        .into_iter()
        .map(|(a, b, seq)| Edge {
            kind: EdgeKind::Follow,
            from: id(a),
            to: id(b),
            since,
            seq,
            until: None,
        })
        .collect();
    Transfer {
        users,
        edges,
        ..Transfer::default()
    }
}

fn library(
    store: std::sync::Arc<dyn kinfolk::Store>,
    data: Transfer,
    rt: &tokio::runtime::Runtime,
) {
    rt.block_on(async {
        let svc = kinfolk_benches::fast::uncapped_service(store)
            .await
            .unwrap();
        svc.import_transfer(data).await.unwrap();
    });
}

/// The library-level commands: users in batches of 50,000 through
/// `import_users` (new ids), then the follows in batches of 50,000 through
/// `import_follows`, all inside one `bulk_import` session.
fn api(
    store: std::sync::Arc<dyn kinfolk::Store>,
    data: Transfer,
    rt: &tokio::runtime::Runtime,
    session: bool,
) {
    const BATCH: usize = 50_000;
    rt.block_on(async {
        let svc = kinfolk_benches::fast::uncapped_service(store)
            .await
            .unwrap();
        let index = |u: UserId| (u128::from_be_bytes(u.to_bytes()) & 0xffff_ffff) as usize;
        let follows = data.edges.len() as u64;
        let load = |svc: Kinfolk| async move {
            let mut ids = Vec::with_capacity(data.users.len());
            for chunk in data.users.chunks(BATCH) {
                let batch = chunk
                    .iter()
                    .map(|r| kinfolk::NewUser::new(r.username.as_str(), r.name.as_str()))
                    .collect::<kinfolk::Result<Vec<_>>>()?;
                ids.extend(svc.import_users(batch).await?);
            }
            let mut added = 0;
            for chunk in data.edges.chunks(BATCH) {
                let batch = chunk
                    .iter()
                    .map(|e| (ids[index(e.from)], ids[index(e.to)]))
                    .collect();
                added += svc.import_follows(batch).await?;
            }
            Ok::<_, kinfolk::Error>(added)
        };
        let added = if session {
            svc.bulk_import(load).await.unwrap()
        } else {
            load(svc).await.unwrap()
        };
        assert_eq!(added, follows);
    });
}

/// The users' records and claims as the floors write them.
fn rows(data: &Transfer) -> Vec<(kinfolk::User, [kinfolk::profile::UsernameClaim; 2])> {
    let mut followers = vec![0u64; data.users.len()];
    let mut following = vec![0u64; data.users.len()];
    let index = |u: UserId| (u128::from_be_bytes(u.to_bytes()) & 0xffff_ffff) as usize;
    for e in &data.edges {
        following[index(e.from)] += 1;
        followers[index(e.to)] += 1;
    }
    data.users
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut u = r.to_user();
            u.counts.followers = followers[i];
            u.counts.following = following[i];
            let claim = |folded: String| kinfolk::profile::UsernameClaim {
                folded,
                user: r.id,
                username: r.username.clone(),
                held_until: None,
            };
            let claims = [
                claim(r.username.folded()),
                claim(kinfolk::profile::skeleton_key(&r.username)),
            ];
            (u, claims)
        })
        .collect()
}

fn sqlite_floor(path: &Path, data: &Transfer) {
    // The store creates its schema; the floor then does the load by hand.
    drop(kinfolk_sqlite::open(path).unwrap());
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    let tx = conn.transaction().unwrap();
    tx.execute_batch("DROP INDEX edges_from_seq; DROP INDEX edges_to_seq;")
        .unwrap();
    {
        let mut users = tx
            .prepare("INSERT INTO users (id, record) VALUES (?1, ?2)")
            .unwrap();
        let mut claims = tx
            .prepare("INSERT INTO username_claims (folded, user_id, username, held_until) VALUES (?1, ?2, ?3, NULL)")
            .unwrap();
        let mut all_claims = Vec::new();
        for (u, cs) in rows(data) {
            users
                .execute(rusqlite::params![
                    u.id.to_bytes(),
                    serde_json::to_string(&u).unwrap()
                ])
                .unwrap();
            all_claims.extend(cs);
        }
        all_claims.sort_unstable_by(|a, b| a.folded.cmp(&b.folded));
        for c in &all_claims {
            claims
                .execute(rusqlite::params![
                    c.folded,
                    c.user.to_bytes(),
                    c.username.as_str()
                ])
                .unwrap();
        }
        let mut edges = tx
            .prepare("INSERT INTO edges (kind, from_id, to_id, seq, since, until) VALUES (?1, ?2, ?3, ?4, ?5, NULL)")
            .unwrap();
        for e in &data.edges {
            edges
                .execute(rusqlite::params![
                    e.kind.code(),
                    e.from.to_bytes(),
                    e.to.to_bytes(),
                    e.seq as i64,
                    e.since.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                ])
                .unwrap();
        }
    }
    tx.execute_batch(
        "CREATE INDEX edges_from_seq ON edges (kind, from_id, seq);
         CREATE INDEX edges_to_seq ON edges (kind, to_id, seq);",
    )
    .unwrap();
    tx.commit().unwrap();
}

fn postcard<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend(postcard::to_allocvec(v).unwrap());
    out
}

fn redb_floor(path: &Path, data: &Transfer) {
    drop(kinfolk_redb::open(path).unwrap());
    type T = redb::TableDefinition<'static, &'static [u8], &'static [u8]>;
    type I = redb::TableDefinition<'static, &'static [u8], ()>;
    const USERS: T = redb::TableDefinition::new("users");
    const CLAIMS: T = redb::TableDefinition::new("username_claims");
    const CLAIMS_BY_USER: I = redb::TableDefinition::new("username_claims_by_user");
    const EDGES: T = redb::TableDefinition::new("edges");
    const BY_FROM: I = redb::TableDefinition::new("edges_by_from");
    const BY_TO: I = redb::TableDefinition::new("edges_by_to");
    let db = redb::Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut users = txn.open_table(USERS).unwrap();
        let mut claims = txn.open_table(CLAIMS).unwrap();
        let mut by_user = txn.open_table(CLAIMS_BY_USER).unwrap();
        let mut all_claims = Vec::new();
        for (u, cs) in rows(data) {
            users
                .insert(u.id.to_bytes().as_slice(), postcard(&u).as_slice())
                .unwrap();
            for c in &cs {
                let mut k = u.id.to_bytes().to_vec();
                k.extend(c.folded.as_bytes());
                by_user.insert(k.as_slice(), ()).unwrap();
            }
            all_claims.extend(cs);
        }
        all_claims.sort_unstable_by(|a, b| a.folded.cmp(&b.folded));
        for c in &all_claims {
            claims
                .insert(c.folded.as_bytes(), postcard(c).as_slice())
                .unwrap();
        }
        let mut edges = txn.open_table(EDGES).unwrap();
        let key = |k: EdgeKind, a: UserId, s: Option<u64>, b: UserId| {
            let mut v = vec![k.code()];
            v.extend(a.to_bytes());
            if let Some(s) = s {
                v.extend(s.to_be_bytes());
            }
            v.extend(b.to_bytes());
            v
        };
        for e in &data.edges {
            edges
                .insert(
                    key(e.kind, e.from, None, e.to).as_slice(),
                    postcard(e).as_slice(),
                )
                .unwrap();
        }
        let mut by_from = txn.open_table(BY_FROM).unwrap();
        let mut keys: Vec<Vec<u8>> = data
            .edges
            .iter()
            .map(|e| key(e.kind, e.from, Some(e.seq), e.to))
            .collect();
        keys.sort_unstable();
        for k in &keys {
            by_from.insert(k.as_slice(), ()).unwrap();
        }
        let mut by_to = txn.open_table(BY_TO).unwrap();
        keys.clear();
        keys.extend(
            data.edges
                .iter()
                .map(|e| key(e.kind, e.to, Some(e.seq), e.from)),
        );
        keys.sort_unstable();
        for k in &keys {
            by_to.insert(k.as_slice(), ()).unwrap();
        }
    }
    txn.commit().unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(100_000, |s| s.parse().unwrap());
    let rounds: usize = args.get(2).map_or(1, |s| s.parse().unwrap());
    let base = std::path::PathBuf::from(args.get(3).map_or("/tmp", String::as_str));
    let runs: Vec<String> = args
        .get(4)
        .map_or("floor,library", String::as_str)
        .split(',')
        .map(str::to_owned)
        .collect();
    let engines: Vec<String> = args
        .get(5)
        .map_or("sqlite,redb", String::as_str)
        .split(',')
        .map(str::to_owned)
        .collect();
    let t = Instant::now();
    let ds = Dataset::generate(n, 7);
    let data = transfer(&ds);
    drop(ds);
    let rows = (data.users.len() + data.edges.len()) as f64;
    eprintln!(
        "dataset: {} users, {} follows, generated in {:.1}s",
        data.users.len(),
        data.edges.len(),
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| round | engine | run | seconds | rows/s |");
    println!("|---|---|---|---|---|");
    for round in 1..=rounds {
        for engine in engines.iter().map(String::as_str) {
            for run in runs.iter().map(String::as_str) {
                let dir = base.join(format!(
                    "kinfolk-import-bench-{}-{round}-{engine}-{run}",
                    std::process::id()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!("{engine}.db"));
                let copy = data.clone();
                let t = Instant::now();
                match (engine, run) {
                    ("sqlite", "floor") => sqlite_floor(&path, &copy),
                    ("redb", "floor") => redb_floor(&path, &copy),
                    ("sqlite", "library") => {
                        library(Arc::new(kinfolk_sqlite::open(&path).unwrap()), copy, &rt)
                    }
                    ("redb", "library") => {
                        library(Arc::new(kinfolk_redb::open(&path).unwrap()), copy, &rt)
                    }
                    ("sqlite", "api" | "api-plain") => api(
                        Arc::new(kinfolk_sqlite::open(&path).unwrap()),
                        copy,
                        &rt,
                        run == "api",
                    ),
                    ("redb", "api" | "api-plain") => api(
                        Arc::new(kinfolk_redb::open(&path).unwrap()),
                        copy,
                        &rt,
                        run == "api",
                    ),
                    other => panic!("unknown engine/run {other:?}"),
                }
                let s = t.elapsed().as_secs_f64();
                println!("| {round} | {engine} | {run} | {s:.1} | {:.0} |", rows / s);
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }
}
