//! SIGKILL of the client process (issue 15, "Faults"): a child process — this
//! test binary re-executed with `KINFOLK_PG_KILL_CHILD=<connection string>`
//! — writes through kinfolk-postgres from 4 tasks (registrations, and
//! follows of a hub user) and prints one line per acknowledged write; the
//! parent SIGKILLs it mid-load, several times, and then checks on the same
//! database that every acknowledged write is there, that nothing is half
//! done (counters equal edges: `check_invariants`) and that a new service on
//! the database answers (the killed connections' transactions rolled back).
//!
//! `KINFOLK_PG_KILLS` sets the number of kills (default 6: each costs a
//! process start and a few hundred writes). Its own test binary: the child
//! must not start a cluster of its own (it never touches `common::cluster`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::PgDb;
use kinfolk::{FollowAction, Kinfolk, NewUser};
use kinfolk_conformance::fixtures::check_invariants;

const CHILD_ENV: &str = "KINFOLK_PG_KILL_CHILD";
const ROUND_ENV: &str = "KINFOLK_PG_KILL_ROUND";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn open(url: &str) -> Kinfolk {
    let store = kinfolk_postgres::open_with(url, kinfolk_postgres::Options::default().pool_size(4))
        .unwrap();
    Kinfolk::builder(store).build().await.unwrap()
}

/// The child: does nothing unless re-executed by the parent. Writes until it
/// is killed (or for 60 s), one `ACK` line per acknowledged write.
#[test]
fn child() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: usize = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    runtime().block_on(async move {
        let svc = open(&url).await;
        let hub = svc.get_profile(None, "hub").await.unwrap().id();
        let (tx, rx) = mpsc::channel::<String>();
        for t in 0..4usize {
            let (svc, tx) = (svc.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("r{round}t{t}n{i}");
                    let user = match svc.register(NewUser::new(&name, "Child").unwrap()).await {
                        Ok(u) => u,
                        Err(e) => panic!("register {name}: {e}"),
                    };
                    if tx.send(format!("ACK REG {name}")).is_err() {
                        return;
                    }
                    svc.toggle_follow(user.id, hub, Some(FollowAction::Follow))
                        .await
                        .unwrap_or_else(|e| panic!("follow from {name}: {e}"));
                    if tx.send(format!("ACK FOLLOW {name}")).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut out = std::io::stdout().lock();
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
            // One write per line: a pipe write this small is atomic.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err()
                || Instant::now() > deadline
            {
                std::process::exit(0);
            }
        }
        std::process::exit(0);
    });
}

#[test]
fn sigkill_of_the_client_loses_no_acknowledged_write() {
    let kills: usize = std::env::var("KINFOLK_PG_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let db = PgDb::new();
    let rt = runtime();
    rt.block_on(async {
        let svc = open(&db.url).await;
        svc.register(NewUser::new("hub", "Hub").unwrap())
            .await
            .unwrap();
    });
    let exe = std::env::current_exe().unwrap();
    let (mut registered, mut followed) = (BTreeSet::new(), BTreeSet::new());
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args(["child", "--exact", "--nocapture", "--test-threads=1", "-q"])
            .env(CHILD_ENV, &db.url)
            .env(ROUND_ENV, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        // Kill after a varying number of acknowledged writes, plus a delay
        // that lands anywhere in the next writes (their commits included).
        let want = 20 + 37 * round % 60;
        let mut lines = Vec::new();
        let mut acks = 0;
        while acks < want {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => {
                    acks += usize::from(l.starts_with("ACK "));
                    lines.push(l);
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!("round {round}: the child stopped writing ({e:?}) after {lines:?}");
                }
            }
        }
        std::thread::sleep(Duration::from_micros((round as u64 * 1_733) % 5_000));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(9),
                "round {round}: the child ended by itself: {status}"
            );
        }
        reader.join().unwrap();
        // Everything the child wrote before it died is in the pipe.
        lines.extend(rx.try_iter());
        for l in &lines {
            if let Some(name) = l.strip_prefix("ACK REG ") {
                registered.insert(name.to_owned());
            } else if let Some(name) = l.strip_prefix("ACK FOLLOW ") {
                followed.insert(name.to_owned());
            }
            // Anything else is the test harness talking.
        }
        // After each kill: a new service on the database finds every
        // acknowledged write, and nothing is half done.
        rt.block_on(async {
            let svc = open(&db.url).await;
            let hub = svc.get_profile(None, "hub").await.unwrap().id();
            for name in &registered {
                let found = svc.get_profile(None, name).await;
                assert!(
                    found.is_ok(),
                    "round {round}: acknowledged registration {name} lost: {found:?}"
                );
            }
            for name in &followed {
                let p = svc.get_profile(None, name).await.unwrap();
                let r = svc.relationships(p.id(), &[hub]).await.unwrap();
                assert!(
                    r[0].relationship.following,
                    "round {round}: acknowledged follow by {name} lost"
                );
            }
            let count = svc.me(hub).await.unwrap().stats.followers_count;
            assert!(
                count >= followed.len() as u64,
                "round {round}: hub has {count} followers, {} follows were acknowledged",
                followed.len()
            );
            check_invariants(&svc)
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        });
    }
    assert!(
        registered.len() >= kills * 10,
        "too few acknowledged writes to prove anything: {}",
        registered.len()
    );
    eprintln!(
        "kill: {kills} SIGKILLs, {} registrations and {} follows acknowledged, all present",
        registered.len(),
        followed.len()
    );
}
