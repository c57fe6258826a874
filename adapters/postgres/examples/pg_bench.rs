//! PostgreSQL store benchmark (BENCHMARKS.md, "PostgreSQL (issue 15)").
//!
//! Starts a throwaway cluster (as the tests do; `KINFOLK_PG_TMP=/tmp` puts it
//! on disk so that commits really wait for the WAL flush, `KINFOLK_PG_URL`
//! uses an existing server), imports `KINFOLK_PG_BENCH_USERS` users
//! (100,000 by default), then measures, in the same run:
//! - the round trips of a follow toggle (counted by the store), "old" (a
//!   store opened with `Options::batching(false)`: every port call one
//!   statement) and "new" (the default: `src/known.rs`);
//! - a follow toggle, old / new / a hand-written `postgres` floor doing the
//!   same work with the statements a person would write, alternating in
//!   `KINFOLK_PG_BENCH_ROUNDS` rounds (5); two reads, store vs floor;
//! - durable write throughput (follow toggles on disjoint pairs) with 1, 8
//!   and 32 concurrent clients, old and new alternating, for both feed
//!   orders.
//!
//! `KINFOLK_PG_TMP=/tmp cargo run --release -p kinfolk-postgres --example pg_bench`
//!
//! `KINFOLK_PG_BENCH=throughput` measures only the throughput, both orders
//! alternating in rounds, each point with its counters (see
//! `throughput_only`).
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::PgDb;
use kinfolk::{FollowAction, Kinfolk, NewUser, PageRequest, User, UserId};
use kinfolk_postgres::{FeedOrder, Options, round_trips};
use uuid::Uuid;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The hand-written floor: one `postgres::Client`, the statements a person
/// would write for the same work on the same tables.
struct Floor {
    c: postgres::Client,
}

const FEED_LOCK: i64 = 0x6b69_6e66_6665_6564;

impl Floor {
    /// Toggles a follow: read both users, read the edges between them (follow
    /// state and blocks), insert or delete the edge, rewrite both counters in
    /// one statement, append the feed event. 7 round trips with BEGIN/COMMIT.
    fn toggle(&mut self, a: Uuid, b: Uuid) {
        let mut tx = self
            .c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::Serializable)
            .start()
            .unwrap();
        let rows = tx
            .query(
                "SELECT id, record FROM users WHERE id = ANY($1)",
                &[&vec![a, b]],
            )
            .unwrap();
        let mut records: Vec<(Uuid, serde_json::Value)> = rows
            .iter()
            .map(|r| (r.get(0), serde_json::from_str(r.get::<_, &str>(1)).unwrap()))
            .collect();
        let edges = tx
            .query(
                "SELECT kind FROM edges WHERE kind IN (1, 3) AND \
                 ((from_id = $1 AND to_id = $2) OR (from_id = $2 AND to_id = $1))",
                &[&a, &b],
            )
            .unwrap();
        assert!(!edges.iter().any(|r| r.get::<_, i16>(0) == 3), "blocked");
        let following = edges.iter().any(|r| r.get::<_, i16>(0) == 1);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let delta: i64 = if following {
            tx.execute(
                "DELETE FROM edges WHERE kind = 1 AND from_id = $1 AND to_id = $2",
                &[&a, &b],
            )
            .unwrap();
            -1
        } else {
            tx.execute(
                "INSERT INTO edges (kind, from_id, to_id, seq, since) \
                 VALUES (1, $1, $2, nextval('feed_seq'), $3)",
                &[&a, &b, &now],
            )
            .unwrap();
            1
        };
        for (id, rec) in &mut records {
            let field = if *id == a { "following" } else { "followers" };
            let n = rec["counts"][field].as_i64().unwrap_or(0) + delta;
            rec["counts"][field] = n.into();
        }
        let ids: Vec<Uuid> = records.iter().map(|r| r.0).collect();
        let recs: Vec<String> = records.iter().map(|r| r.1.to_string()).collect();
        tx.execute(
            "UPDATE users SET record = v.r FROM unnest($1::uuid[], $2::text[]) AS v (id, r) \
             WHERE users.id = v.id",
            &[&ids, &recs],
        )
        .unwrap();
        let change = format!(
            r#"{{"type":"{}","follower":"{a}","followee":"{b}"}}"#,
            if following { "unfollowed" } else { "followed" }
        );
        tx.execute(
            "INSERT INTO changes (seq, at, change) SELECT nextval('feed_seq'), $1, $2 \
             FROM (SELECT pg_advisory_xact_lock($3)) AS l",
            &[&now, &change, &FEED_LOCK],
        )
        .unwrap();
        tx.commit().unwrap();
    }

    /// One user's record, decoded: 1 round trip.
    fn me(&mut self, id: Uuid) -> User {
        let row = self
            .c
            .query_one("SELECT record FROM users WHERE id = $1", &[&id])
            .unwrap();
        serde_json::from_str(row.get(0)).unwrap()
    }

    /// A followers page of 20 with the users: 2 statements in one snapshot.
    fn followers(&mut self, id: Uuid) -> Vec<User> {
        let mut tx = self
            .c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .unwrap();
        let keys: Vec<Uuid> = tx
            .query(
                "SELECT from_id FROM edges WHERE kind = 1 AND to_id = $1 \
                 ORDER BY seq DESC LIMIT 20",
                &[&id],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let users = tx
            .query("SELECT record FROM users WHERE id = ANY($1)", &[&keys])
            .unwrap()
            .iter()
            .map(|r| serde_json::from_str(r.get(0)).unwrap())
            .collect();
        tx.commit().unwrap();
        users
    }
}

fn spread() -> bool {
    std::env::var("KINFOLK_PG_BENCH_SPREAD").is_ok_and(|v| v == "1")
}

fn per_op(start: Instant, n: usize) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

async fn throughput(svc: &Kinfolk, ids: &Arc<Vec<UserId>>, clients: usize, secs: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (svc, ids) = (svc.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            // Disjoint pairs per client: no two clients touch the same users.
            let (a, b) = if spread() {
                let n = ids.len() / 2;
                let (i, j) = ((c * 7919) % n, n + (c * 104_729) % n);
                (ids[i], ids[j])
            } else {
                (ids[1000 + 4 * c], ids[1001 + 4 * c])
            };
            let mut n = 0u64;
            while Instant::now() < deadline {
                svc.toggle_follow(a, b, None).await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs
}

/// Server-side counters: `pg_stat_wal` (cluster-wide: the bench's cluster
/// serves only the bench) and the database's commits and rollbacks.
#[derive(Clone, Copy, Default)]
struct ServerStats {
    wal_write: i64,
    wal_sync: i64,
    xact_commit: i64,
    xact_rollback: i64,
}

fn server_stats(url: &str) -> ServerStats {
    let url = url.to_owned();
    common::blocking(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let r = c
            .query_one(
                "SELECT w.wal_write, w.wal_sync, d.xact_commit, d.xact_rollback \
                 FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = current_database()",
                &[],
            )
            .unwrap();
        ServerStats {
            wal_write: r.get(0),
            wal_sync: r.get(1),
            xact_commit: r.get(2),
            xact_rollback: r.get(3),
        }
    })
}

/// PostgreSQL backends publish their statistics at most once a second (and
/// an idle one within 10 s): wait a second, then end a transaction on every
/// pool connection, so that the counters read next include the window.
async fn settle_stats(svc: &Kinfolk, ids: &Arc<Vec<UserId>>, pool: usize) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut reads = Vec::new();
    for i in 0..pool * 4 {
        let (svc, id) = (svc.clone(), ids[i % ids.len()]);
        reads.push(tokio::spawn(async move { svc.me(id).await.map(drop) }));
    }
    for r in reads {
        r.await.unwrap().unwrap();
    }
}

/// One throughput point with its counters.
async fn point(
    svc: &Kinfolk,
    url: &str,
    ids: &Arc<Vec<UserId>>,
    clients: usize,
    secs: f64,
    pool: usize,
) -> String {
    let s0 = server_stats(url);
    let c0 = kinfolk_postgres::conflicts();
    let per_s = throughput(svc, ids, clients, secs).await;
    let c1 = kinfolk_postgres::conflicts();
    settle_stats(svc, ids, pool).await;
    let s1 = server_stats(url);
    let toggles = per_s * secs;
    let syncs = (s1.wal_sync - s0.wal_sync).max(1) as f64;
    format!(
        "{per_s:.0}/s | 40001/40P01 {} ({:.1} %), run alone {} | WAL writes {} syncs {} | commits/sync {:.2} | db commits {} rollbacks {}",
        c1.0 - c0.0,
        100.0 * (c1.0 - c0.0) as f64 / toggles.max(1.0),
        c1.1 - c0.1,
        s1.wal_write - s0.wal_write,
        s1.wal_sync - s0.wal_sync,
        toggles / syncs,
        s1.xact_commit - s0.xact_commit,
        s1.xact_rollback - s0.xact_rollback,
    )
}

/// `KINFOLK_PG_BENCH=throughput`: only durable write throughput, both feed
/// orders in the same run, `KINFOLK_PG_BENCH_ROUNDS` (3) rounds alternating
/// the orders, 1 / 8 / 32 clients per round, each point with its counters.
/// `KINFOLK_PG_BENCH_FOLLOWS=N` imports N follows first (an edges table of
/// realistic size; with a near-empty one every toggle's pair probe and edge
/// insert meet on the same few index pages). `KINFOLK_PG_BENCH_SPREAD=1` gives each client a pair of users far apart
/// in id order (instead of neighbours: ids are UUID v7, so neighbours share
/// index pages).
fn throughput_only(rt: &tokio::runtime::Runtime, users: usize, secs: f64) {
    let rounds = env_num("KINFOLK_PG_BENCH_ROUNDS", 3);
    let pool = env_num("KINFOLK_PG_BENCH_POOL", 32);
    let follows = env_num("KINFOLK_PG_BENCH_FOLLOWS", 0);
    let mut sides = Vec::new();
    for order in [FeedOrder::Commit, FeedOrder::TransactionId] {
        let db = PgDb::new();
        let store = Arc::new(
            kinfolk_postgres::open_with(
                &db.url,
                Options::default().pool_size(pool).feed_order(order),
            )
            .unwrap(),
        );
        let (svc, ids) = rt.block_on(async {
            let svc = Kinfolk::builder(store).build().await.unwrap();
            let t = Instant::now();
            let mut ids = Vec::with_capacity(users);
            for chunk in (0..users).collect::<Vec<_>>().chunks(50_000) {
                let batch = chunk
                    .iter()
                    .map(|i| NewUser::new(&format!("pgb{i}x"), "Bench User").unwrap())
                    .collect();
                ids.extend(svc.import_users(batch).await.unwrap());
            }
            println!(
                "[{order:?}] imported {users} users in {:.1}s",
                t.elapsed().as_secs_f64()
            );
            // A populated edges table: user i follows users i+1, i+2, … (wrapping).
            let t = Instant::now();
            let rows: Vec<(UserId, UserId)> = (0..follows)
                .map(|k| {
                    let (i, d) = (k % users, 1 + k / users);
                    (ids[i], ids[(i + d) % users])
                })
                .collect();
            for chunk in rows.chunks(50_000) {
                svc.import_follows(chunk.to_vec()).await.unwrap();
            }
            if follows > 0 {
                println!(
                    "[{order:?}] imported {follows} follows in {:.1}s",
                    t.elapsed().as_secs_f64()
                );
            }
            (svc, Arc::new(ids))
        });
        // As autovacuum would, before the measurements.
        let url = db.url.clone();
        common::blocking(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.batch_execute("ANALYZE").unwrap();
        });
        sides.push((order, db, svc, ids));
    }
    for r in 1..=rounds {
        for (order, db, svc, ids) in &sides {
            for clients in [1, 8, 32] {
                let line = rt.block_on(point(svc, &db.url, ids, clients, secs, pool));
                println!("round {r} [{order:?}] {clients:>2} clients: {line}");
            }
        }
    }
}

fn main() {
    let users = env_num("KINFOLK_PG_BENCH_USERS", 100_000);
    let iters = env_num("KINFOLK_PG_BENCH_ITERS", 500);
    let secs = env_num("KINFOLK_PG_BENCH_SECS", 3) as f64;
    let rounds = env_num("KINFOLK_PG_BENCH_ROUNDS", 5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    println!("users={users} iters={iters} rounds={rounds} throughput window={secs}s");
    if std::env::var("KINFOLK_PG_BENCH").is_ok_and(|v| v == "throughput") {
        throughput_only(&rt, users, secs);
        return;
    }
    for order in [FeedOrder::Commit, FeedOrder::TransactionId] {
        let db = PgDb::new();
        let open = |batching: bool| {
            Arc::new(
                kinfolk_postgres::open_with(
                    &db.url,
                    Options::default()
                        .pool_size(32)
                        .feed_order(order)
                        .batching(batching),
                )
                .unwrap(),
            )
        };
        // "old": every port call one statement (before the per-transaction
        // cache); "new": the default.
        let (old_store, store) = (open(false), open(true));
        rt.block_on(async {
            let old = Kinfolk::builder(old_store.clone()).build().await.unwrap();
            let svc = Kinfolk::builder(store.clone()).build().await.unwrap();
            let t = Instant::now();
            let mut ids = Vec::with_capacity(users);
            for chunk in (0..users).collect::<Vec<_>>().chunks(50_000) {
                let batch = chunk
                    .iter()
                    .map(|i| NewUser::new(&format!("pgb{i}x"), "Bench User").unwrap())
                    .collect();
                ids.extend(svc.import_users(batch).await.unwrap());
            }
            println!("[{order:?}] imported {users} users in {:.1}s", t.elapsed().as_secs_f64());
            let ids = Arc::new(ids);
            // 50 followers for ids[0], for the list reads.
            for f in 1..=50 {
                svc.toggle_follow(ids[f], ids[0], Some(FollowAction::Follow))
                    .await
                    .unwrap();
            }
            for (name, s) in [("old", &old), ("new", &svc)] {
                let (a, b) = (ids[100], ids[101]);
                // Warm the statement cache of the connections first.
                for _ in 0..64 {
                    s.toggle_follow(a, b, None).await.unwrap();
                }
                let r0 = round_trips();
                s.toggle_follow(a, b, None).await.unwrap();
                let r1 = round_trips();
                s.toggle_follow(a, b, None).await.unwrap();
                let r2 = round_trips();
                println!(
                    "[{order:?}] {name}: round trips: follow {}, unfollow {} (BEGIN and COMMIT included)",
                    r1 - r0,
                    r2 - r1
                );
            }
            // Toggles, alternating old / new / floor in rounds.
            let per = (iters / rounds).max(1);
            let fids: Arc<Vec<Uuid>> = Arc::new(ids.iter().take(1000).map(|i| *i.as_uuid()).collect());
            let (mut t_old, mut t_new, mut t_floor) = (0.0, 0.0, 0.0);
            for r in 0..rounds {
                let t = Instant::now();
                for i in 0..per {
                    old.toggle_follow(ids[200 + i % 100], ids[300 + (r * per + i) % 97], None)
                        .await
                        .unwrap();
                }
                t_old += per_op(t, per);
                let t = Instant::now();
                for i in 0..per {
                    svc.toggle_follow(ids[600 + i % 100], ids[700 + (r * per + i) % 97], None)
                        .await
                        .unwrap();
                }
                t_new += per_op(t, per);
                if order == FeedOrder::Commit {
                    let url = db.url.clone();
                    let fids = fids.clone();
                    t_floor += common::blocking(move || {
                        let mut f = Floor {
                            c: postgres::Client::connect(&url, postgres::NoTls).unwrap(),
                        };
                        let t = Instant::now();
                        for i in 0..per {
                            f.toggle(fids[400 + i % 100], fids[500 + (r * per + i) % 97]);
                        }
                        per_op(t, per)
                    });
                }
            }
            let n = rounds as f64;
            let (t_old, t_new, t_floor) = (t_old / n, t_new / n, t_floor / n);
            if order == FeedOrder::Commit {
                println!(
                    "[{order:?}] follow toggle: old {t_old:.0} µs ({:.2} of floor), new {t_new:.0} µs ({:.2} of floor), floor {t_floor:.0} µs",
                    t_old / t_floor,
                    t_new / t_floor
                );
            } else {
                println!("[{order:?}] follow toggle: old {t_old:.0} µs, new {t_new:.0} µs ({:.2} of old)", t_new / t_old);
            }
            let t = Instant::now();
            for i in 0..iters {
                svc.me(ids[i % 1000]).await.unwrap();
            }
            let store_me = per_op(t, iters);
            let t = Instant::now();
            for _ in 0..iters {
                svc.followers(Some(ids[0]), ids[0], PageRequest::with_limit(20))
                    .await
                    .unwrap();
            }
            let store_followers = per_op(t, iters);
            if order == FeedOrder::Commit {
                let url = db.url.clone();
                let fids = fids.clone();
                let (floor_me, floor_followers) = common::blocking(move || {
                    let mut f = Floor {
                        c: postgres::Client::connect(&url, postgres::NoTls).unwrap(),
                    };
                    let t = Instant::now();
                    for i in 0..iters {
                        f.me(fids[i % 1000]);
                    }
                    let me = per_op(t, iters);
                    let t = Instant::now();
                    for _ in 0..iters {
                        assert_eq!(f.followers(fids[0]).len(), 20);
                    }
                    (me, per_op(t, iters))
                });
                println!(
                    "[{order:?}] me: store {store_me:.0} µs, floor {floor_me:.0} µs, ratio {:.2}",
                    store_me / floor_me
                );
                println!(
                    "[{order:?}] followers page (20): store {store_followers:.0} µs, floor {floor_followers:.0} µs, ratio {:.2}",
                    store_followers / floor_followers
                );
            } else {
                println!("[{order:?}] me {store_me:.0} µs, followers page {store_followers:.0} µs");
            }
            for clients in [1, 8, 32] {
                let o = throughput(&old, &ids, clients, secs).await;
                let n = throughput(&svc, &ids, clients, secs).await;
                println!("[{order:?}] durable toggles/s, {clients} clients: old {o:.0}, new {n:.0}");
            }
        });
        drop((old_store, store));
    }
}
