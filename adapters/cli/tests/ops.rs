//! Operating a store with the `kinfolk` binary (issue 17): `check` finds a
//! counter corrupted on purpose and `--fix-counters` repairs it; `backup`
//! of a store under a running write load gives a copy that opens and passes
//! `check`; `/metrics` of a running `serve`, scraped over a real socket,
//! shows the command counters moving.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kinfolk::{FollowAction, Kinfolk, NewUser, UserId};

const SECRET: &str = "a test secret of some length";

fn kinfolk(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.arg("--db").arg(db).env("KINFOLK_JWT_SECRET", SECRET);
    c
}

fn out(c: &mut Command) -> (bool, String) {
    common::output(c)
}

/// Registers `n` users and makes user 0 followed by every other one.
async fn populate(svc: &Kinfolk, n: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let u = svc
            .register(NewUser::new(&format!("kf{i:03}x"), &format!("Member {i}")).unwrap())
            .await
            .unwrap();
        ids.push(u.id);
    }
    for &id in &ids[1..] {
        svc.toggle_follow(id, ids[0], Some(FollowAction::Follow))
            .await
            .unwrap();
    }
    ids
}

/// `check` finds the corruption, names it, exits non-zero; `--fix-counters`
/// repairs it and exits 0; a plain `check` afterwards exits 0.
fn check_then_fix(db: &Path, store: &str, expect: &str) {
    let (ok, report) = out(kinfolk(db).args(["--store", store, "check"]));
    assert!(!ok, "check must fail on a corrupted counter:\n{report}");
    assert!(report.contains(expect), "{report}");
    assert!(report.contains("[counter_drift]"), "{report}");
    assert!(report.contains("1 finding"), "{report}");

    let (ok, report) = out(kinfolk(db).args(["--store", store, "check", "--fix-counters"]));
    assert!(ok, "--fix-counters must repair the drift:\n{report}");
    assert!(report.contains("fixed counters: 1 of 4 users"), "{report}");

    let (ok, report) = out(kinfolk(db).args(["--store", store, "check"]));
    assert!(ok, "{report}");
    assert!(report.contains("OK: no findings"), "{report}");
    assert!(report.contains("checked 4 users, 3 follows"), "{report}");
}

#[tokio::test]
async fn check_finds_a_corrupted_sqlite_counter_and_fix_counters_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let star = {
        let svc = Kinfolk::builder(kinfolk_sqlite::open(&db).unwrap())
            .build()
            .await
            .unwrap();
        populate(&svc, 4).await[0]
    };
    // The corruption: the file edited behind kinfolk's back, as a bad
    // migration or a hand edit would.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE users SET record = json_set(record, '$.counts.followers', 7) \
             WHERE json_extract(record, '$.id') = ?1",
            [star.to_string()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    check_then_fix(
        &db,
        "sqlite",
        &format!("user {star}: followers counter 7 != 3"),
    );
}

#[tokio::test]
async fn check_reports_a_record_that_does_not_decode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let star = {
        let svc = Kinfolk::builder(kinfolk_sqlite::open(&db).unwrap())
            .build()
            .await
            .unwrap();
        populate(&svc, 2).await[0]
    };
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE users SET record = '{\"id\": 1' WHERE json_extract(record, '$.id') = ?1",
        [star.to_string()],
    )
    .unwrap();
    drop(conn);
    let (ok, report) = out(kinfolk(&db).arg("check"));
    assert!(!ok, "{report}");
    assert!(report.contains("[undecodable]"), "{report}");
    // Not a counter: --fix-counters cannot make it pass.
    let (ok, report) = out(kinfolk(&db).args(["check", "--fix-counters"]));
    assert!(!ok, "{report}");
}

#[tokio::test]
async fn check_finds_a_corrupted_redb_counter_and_fix_counters_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.redb");
    let store = Arc::new(kinfolk_redb::open(&db).unwrap());
    let svc = Kinfolk::builder(store.clone()).build().await.unwrap();
    let star = populate(&svc, 4).await[0];
    // The corruption, through the store port's rule-free write path
    // (`kinfolk::store::write`, for tools and tests): redb's records are
    // postcard bytes, so this is the one honest way to write a user record
    // whose counter disagrees with its edges — exactly what a buggy writer
    // would leave.
    kinfolk::store::write(store.as_ref(), move |tx| {
        let mut u = tx.user(star)?.unwrap();
        u.counts.followers = 0;
        tx.put_user(&u)
    })
    .await
    .unwrap();
    drop(svc);
    drop(store); // redb: one process at a time; the command opens it next.
    check_then_fix(
        &db,
        "redb",
        &format!("user {star}: followers counter 0 != 3"),
    );
}

/// Writes follows and unfollows among `ids` until `stop`; counts commits.
fn write_load(svc: Kinfolk, ids: Vec<UserId>, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    tokio::spawn(async move {
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let a = ids[i % ids.len()];
            let b = ids[(i * 7 + 3) % ids.len()];
            i += 1;
            if a != b && svc.toggle_follow(a, b, None).await.is_ok() {
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_under_write_load_opens_and_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let svc = Kinfolk::builder(kinfolk_sqlite::open(&db).unwrap())
        .build()
        .await
        .unwrap();
    let ids = populate(&svc, 40).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    write_load(svc.clone(), ids, stop.clone(), done.clone());
    // The backups run in other processes while this one writes.
    for n in 0..3 {
        let before = done.load(Ordering::Relaxed);
        let copy = dir.path().join(format!("backup{n}.db"));
        let (ok, report) = out(kinfolk(&db).arg("backup").arg(&copy));
        assert!(ok, "{report}");
        assert!(report.contains("backed up"), "{report}");
        let (ok, report) = out(kinfolk(&copy).arg("check"));
        assert!(ok, "the copy must pass check:\n{report}");
        assert!(report.contains("checked 40 users"), "{report}");
        assert!(
            done.load(Ordering::Relaxed) > before,
            "the load kept writing during backup {n}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    // A backup never overwrites.
    let (ok, report) = out(kinfolk(&db)
        .arg("backup")
        .arg(dir.path().join("backup0.db")));
    assert!(!ok && report.contains("exists"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_backup_under_write_load_opens_and_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.redb");
    let store = Arc::new(kinfolk_redb::open(&db).unwrap());
    let svc = Kinfolk::builder(store.clone()).build().await.unwrap();
    let ids = populate(&svc, 40).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    write_load(svc.clone(), ids, stop.clone(), done.clone());
    // redb is opened by one process at a time: the serving process takes
    // the backup itself, through the port.
    for n in 0..3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before = done.load(Ordering::Relaxed);
        let copy = dir.path().join(format!("backup{n}.redb"));
        kinfolk::Store::backup_to(store.as_ref(), &copy)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            done.load(Ordering::Relaxed) > before,
            "the load kept writing"
        );
        let (ok, report) = out(kinfolk(&copy).args(["--store", "redb", "check"]));
        assert!(ok, "the copy must pass check:\n{report}");
        assert!(report.contains("checked 40 users"), "{report}");
        assert!(report.contains("redb check_integrity"), "{report}");
    }
    stop.store(true, Ordering::Relaxed);
}

/// Starts `serve` on port 0 and returns the child and its base URL.
fn serve(db: &Path) -> (Child, String) {
    let mut cmd = kinfolk(db);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    common::spawn_serve(cmd)
}

/// The value of the sample whose line starts with `name{` and carries
/// every label in `labels` (0 when absent).
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn metrics_are_served_and_count_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let (ok, report) = out(kinfolk(&db).args(["user", "add", "ada", "Ada"]));
    assert!(ok, "{report}");
    let (mut child, base) = serve(&db);
    let http = reqwest::Client::new();
    let scrape = || async {
        let r = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        r.text().await.unwrap()
    };
    let get = |path: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get("/v1/users/@ada").await, 200);
    let first = scrape().await;
    let profile = [r#"command="get_profile""#];
    let n0 = sample(&first, "kinfolk_commands_total", &profile);
    assert!(n0 >= 1.0, "{first}");
    for _ in 0..3 {
        assert_eq!(get("/v1/users/@ada").await, 200);
    }
    assert_eq!(get("/v1/users/@nobody").await, 404);
    let second = scrape().await;
    assert_eq!(
        sample(&second, "kinfolk_commands_total", &profile),
        n0 + 4.0,
        "{second}"
    );
    assert_eq!(
        sample(
            &second,
            "kinfolk_command_errors_total",
            &[r#"command="get_profile""#, r#"code="not_found""#]
        ),
        1.0,
        "{second}"
    );
    assert!(
        sample(&second, "kinfolk_command_duration_seconds_count", &profile) >= n0 + 4.0,
        "{second}"
    );
    assert!(
        second.contains("# TYPE kinfolk_command_duration_seconds histogram"),
        "{second}"
    );
    assert!(second.contains("# HELP kinfolk_commands_total"), "{second}");
    assert!(second.contains("kinfolk_store_queue_depth"), "{second}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
