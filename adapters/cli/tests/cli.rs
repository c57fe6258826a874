//! The `kinfolk` binary end to end: add users, mint a token, serve on a free
//! port, call the API, stop with SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const SECRET: &str = "a test secret of some length";

fn kinfolk(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.arg("--db").arg(db).env("KINFOLK_JWT_SECRET", SECRET);
    c
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts `serve` on port 0 and returns the child and its base URL (read
/// from the "listening on" log line). The caller reaps the child (`wait_exit`).
fn serve(db: &Path, extra: &[&str]) -> (Child, String) {
    let mut cmd = kinfolk(db);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
    common::spawn_serve(cmd)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn user_add_token_serve_call_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let ada = run(kinfolk(&db).args(["user", "add", "ada", "Ada Lovelace"]));
    assert_eq!(ada.len(), 36, "prints the id: {ada}");
    let bob = run(kinfolk(&db).args(["user", "add", "bob", "Bob"]));
    let token = run(kinfolk(&db).args(["token", "--user", &ada, "--ttl", "10m"]));
    assert_eq!(token.split('.').count(), 3, "a JWT");

    let (mut child, base) = serve(&db, &[]);
    let http = reqwest::Client::new();
    let me: serde_json::Value = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], ada);
    assert_eq!(me["name"], "Ada Lovelace");
    let r = http
        .post(format!("{base}/v1/users/{bob}/follow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Search works out of the box (in-memory index rebuilt at start).
    let hits: serde_json::Value = http
        .get(format!("{base}/v1/users/search?q=bo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hits["items"][0]["user"]["id"], bob);
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A token signed with another secret is refused.
    let other = run(kinfolk(&db)
        .env("KINFOLK_JWT_SECRET", "another secret entirely")
        .args(["token", "--user", &ada]));
    let r = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    sigterm(&child);
    let status = wait_exit(&mut child);
    assert!(status.success(), "graceful exit: {status}");

    // The follow was committed: a new server on the same file sees it.
    let (mut child, base) = serve(&db, &[]);
    let me: serde_json::Value = http
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["stats"]["following_count"], 1);
    sigterm(&child);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn errors_are_reported_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    // No secret.
    let out = Command::new(env!("CARGO_BIN_EXE_kinfolk"))
        .arg("--db")
        .arg(&db)
        .env_remove("KINFOLK_JWT_SECRET")
        .args(["token", "--user", "01890a5d-ac96-774b-bcce-b302099a8057"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KINFOLK_JWT_SECRET"));
    // A bad user id, a bad username, a taken username.
    let out = kinfolk(&db)
        .args(["token", "--user", "ada"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = kinfolk(&db)
        .args(["user", "add", "a!", "X"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("username"));
    run(kinfolk(&db).args(["user", "add", "ada", "Ada"]));
    let out = kinfolk(&db)
        .args(["user", "add", "ADA", "Ada again"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
}

#[test]
fn redb_store_and_secret_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.redb");
    let key = dir.path().join("secret");
    std::fs::write(&key, "a secret read from a file\n").unwrap();
    let id = run(kinfolk(&db).args(["--store", "redb", "user", "add", "ada", "Ada"]));
    let t1 = run(kinfolk(&db)
        .env_remove("KINFOLK_JWT_SECRET")
        .args(["token", "--user", &id, "--jwt-secret-file"])
        .arg(&key));
    // Signed with the file's secret (newline trimmed), default aud and iss.
    let sub = kinfolk_http::JwtAuthenticator::hs256(b"a secret read from a file")
        .verify(&t1)
        .unwrap();
    assert_eq!(sub.to_string(), id);
}
