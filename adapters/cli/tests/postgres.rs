//! `kinfolk --store postgres` end to end, on a throwaway PostgreSQL cluster
//! (`kinfolk_postgres::testing`: one cluster for this test binary,
//! `KINFOLK_PG_URL` for an existing server, one skip line where PostgreSQL
//! is not installed — hence its own test binary): add users with the
//! connection string from the flag and from `KINFOLK_POSTGRES_URL`, serve
//! two processes on the one database, write through one and read through
//! the other.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use kinfolk_postgres::testing::cluster;

const SECRET: &str = "a test secret of some length";

fn kinfolk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.env("KINFOLK_JWT_SECRET", SECRET)
        .env_remove("KINFOLK_POSTGRES_URL");
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

/// Starts `serve` on port 0 with the connection string in the environment;
/// returns the child and its base URL (from the "listening on" log line).
fn serve(url: &str) -> (Child, String) {
    let mut cmd = kinfolk();
    cmd.args(["--store", "postgres", "serve", "--listen", "127.0.0.1:0"])
        .env("KINFOLK_POSTGRES_URL", url)
        .env("KINFOLK_POSTGRES_POOL", "2");
    common::spawn_serve(cmd)
}

fn stop(child: &mut Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_user_add_and_two_servers_on_one_database() {
    let (name, url) = cluster().create_db();
    // The connection string from the flag, then from the environment.
    let ada = run(kinfolk().args([
        "--store",
        "postgres",
        "--postgres-url",
        &url,
        "user",
        "add",
        "ada",
        "Ada",
    ]));
    assert_eq!(ada.len(), 36, "prints the id: {ada}");
    let bob = run(kinfolk()
        .env("KINFOLK_POSTGRES_URL", &url)
        .args(["--store", "postgres", "user", "add", "bob", "Bob"]));
    // The name is taken in the database, whichever process asks.
    let out = kinfolk()
        .env("KINFOLK_POSTGRES_URL", &url)
        .args(["--store", "postgres", "user", "add", "ADA", "Other"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let token = run(kinfolk().args(["token", "--user", &ada]));

    let (mut a, base_a) = serve(&url);
    let (mut b, base_b) = serve(&url);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base_a}/v1/users/{bob}/follow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The other process reads the same database.
    let me: serde_json::Value = http
        .get(format!("{base_b}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], ada);
    assert_eq!(me["stats"]["following_count"], 1);
    stop(&mut a);
    stop(&mut b);
    cluster().drop_db(&name);
}

#[test]
fn postgres_store_without_a_connection_string_is_refused() {
    let out = kinfolk()
        .args(["--store", "postgres", "user", "add", "ada", "Ada"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("KINFOLK_POSTGRES_URL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
