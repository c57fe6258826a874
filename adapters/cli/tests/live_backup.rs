//! `kinfolk backup --server URL DEST` (issue 17): a redb store — whose file
//! the serving process locks, so no other process can open it — backed up
//! by that process through its operator endpoint (`serve --ops-listen`),
//! over a real socket, while a write load runs through the public API; each
//! copy opens and passes `kinfolk check`. The endpoint refuses a missing or
//! wrong token and an existing DEST, and the public listener has no such
//! route.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "a test secret of some length";
const OPS_TOKEN: &str = "an operator token for the test";

fn kinfolk(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.args(["--store", "redb", "--db"])
        .arg(db)
        .env("KINFOLK_JWT_SECRET", SECRET)
        .env_remove("KINFOLK_OPS_TOKEN");
    c
}

fn out(c: &mut Command) -> (bool, String) {
    common::output(c)
}

/// Users added (the server is not running yet) and a token for each.
fn users(db: &Path, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let (ok, id) = out(kinfolk(db).args([
                "user",
                "add",
                &format!("lb{i:03}x"),
                &format!("Member {i}"),
            ]));
            assert!(ok, "{id}");
            let id = id.trim().to_string();
            let (ok, token) = out(kinfolk(db).args(["token", "--user", &id]));
            assert!(ok, "{token}");
            (id, token.trim().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_backup_through_the_serving_process_under_write_load_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.redb");
    let people = users(&db, 20);
    let mut cmd = kinfolk(&db);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--ops-listen",
        "127.0.0.1:0",
        "--rate-per-minute",
        "0",
    ])
    .env("KINFOLK_OPS_TOKEN", OPS_TOKEN);
    let (mut child, api, ops) = common::spawn_serve_with_ops(cmd);

    // The write load: follows and unfollows through the public API.
    let http = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let load = {
        let (http, api, stop, done) = (http.clone(), api.clone(), stop.clone(), done.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let (_, token) = &people[i % people.len()];
                let (target, _) = &people[(i * 7 + 3) % people.len()];
                i += 1;
                let r = http
                    .post(format!("{api}/v1/users/{target}/follow"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                if r.status() == 200 {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let wait_for_writes = |at_least: u64| {
        let done = done.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while done.load(Ordering::Relaxed) < at_least {
                assert!(Instant::now() < deadline, "the write load is not writing");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for_writes(20).await;

    // Another process cannot open the file the server holds.
    let (ok, report) = out(kinfolk(&db)
        .args(["backup"])
        .arg(dir.path().join("no.redb")));
    assert!(!ok, "{report}");

    for n in 0..3 {
        let before = done.load(Ordering::Relaxed);
        let copy = dir.path().join(format!("backup{n}.redb"));
        let (ok, report) = out(kinfolk(&db)
            .args(["backup", "--server", &ops])
            .arg(&copy)
            .env("KINFOLK_OPS_TOKEN", OPS_TOKEN));
        assert!(ok, "{report}");
        assert!(report.contains("backed up its store"), "{report}");
        // The copy opens (in this process's `check`) while the server goes on.
        let (ok, report) = out(kinfolk(&copy).arg("check"));
        assert!(ok, "the copy must pass check:\n{report}");
        assert!(report.contains("checked 20 users"), "{report}");
        assert!(report.contains("redb check_integrity"), "{report}");
        wait_for_writes(before + 5).await;
    }

    // Refusals: an existing DEST, no token, a wrong token; no route on the
    // public listener. None of them writes a file.
    let (ok, report) = out(kinfolk(&db)
        .args(["backup", "--server", &ops])
        .arg(dir.path().join("backup0.redb"))
        .env("KINFOLK_OPS_TOKEN", OPS_TOKEN));
    assert!(!ok && report.contains("exists"), "{report}");
    let fresh = dir.path().join("fresh.redb");
    let (ok, report) = out(kinfolk(&db).args(["backup", "--server", &ops]).arg(&fresh));
    assert!(!ok && report.contains("KINFOLK_OPS_TOKEN"), "{report}");
    let (ok, report) = out(kinfolk(&db)
        .args(["backup", "--server", &ops])
        .arg(&fresh)
        .env("KINFOLK_OPS_TOKEN", "a wrong operator token, long enough"));
    assert!(!ok && report.contains("401"), "{report}");
    let body = serde_json::json!({ "dest": fresh.display().to_string() }).to_string();
    let r = http
        .post(format!("{ops}/ops/backup"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{api}/ops/backup"))
        .bearer_auth(OPS_TOKEN)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(!fresh.exists());

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_refuses_an_ops_listener_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.redb");
    let (ok, report) = out(kinfolk(&db).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--ops-listen",
        "127.0.0.1:0",
    ]));
    assert!(!ok && report.contains("KINFOLK_OPS_TOKEN"), "{report}");
    let (ok, report) = out(kinfolk(&db)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ops-listen",
            "127.0.0.1:0",
        ])
        .env("KINFOLK_OPS_TOKEN", "short"));
    assert!(!ok && report.contains("at least 16"), "{report}");
}
