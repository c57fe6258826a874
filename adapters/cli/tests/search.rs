//! `kinfolk reindex` and `kinfolk trim-feed` end to end: the binary on a
//! SQLite file, checked through the library.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use kinfolk::search::Boosts;
use kinfolk::{Config, Kinfolk, NewUser, PageRequest, SearchIndex, SearchQuery, SearchScope};
use kinfolk::{UserId, store};
use kinfolk_search::TantivyIndex;

fn kinfolk(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kinfolk"));
    c.arg("--db").arg(db).env("NO_COLOR", "1");
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn add_user(db: &Path, username: &str) -> UserId {
    ok(kinfolk(db)
        .args(["user", "add", username, "Someone"])
        .output()
        .unwrap())
    .parse()
    .unwrap()
}

async fn indexed(dir: &Path, query: &str) -> Vec<UserId> {
    let index = TantivyIndex::open(dir).unwrap();
    index
        .top(&SearchQuery::parse(query).unwrap(), &Boosts::new(), 5)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

async fn feed_len(db: &Path) -> usize {
    let store = kinfolk_sqlite::open(db).unwrap();
    store::read(&store, |tx| tx.changes_since(0, 1000))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn reindex_builds_the_index_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let idx = dir.path().join("index");
    let ada = add_user(&db, "ada");
    add_user(&db, "bob");
    let out = ok(kinfolk(&db)
        .args(["reindex", "--search-dir"])
        .arg(&idx)
        .output()
        .unwrap());
    assert!(out.starts_with("indexed 2 users into"), "{out}");
    assert_eq!(indexed(&idx, "ada").await.first(), Some(&ada));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_reindex_continues() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let idx = dir.path().join("index");
    {
        let index = Arc::new(TantivyIndex::open(&idx).unwrap());
        let svc = Kinfolk::builder(kinfolk_sqlite::open(&db).unwrap())
            .config(Config {
                unique_username_skeletons: false,
                ..Config::default()
            })
            .search(index.clone())
            .build()
            .await
            .unwrap();
        let rows = (0..1500)
            .map(|i| NewUser::new(&format!("member{i:05}"), "Member").unwrap())
            .collect();
        svc.import_users(rows).await.unwrap();
        // A rebuild that stops after its first batch of 1,000 users.
        let stopper = svc.clone();
        let died = tokio::spawn(async move {
            stopper
                .rebuild_search_with(|p| assert!(p.done < 1000, "stopped"))
                .await
        })
        .await;
        assert!(died.unwrap_err().is_panic());
        index.refresh().await.unwrap();
    }
    let out = ok(kinfolk(&db)
        .args(["reindex", "--search-dir"])
        .arg(&idx)
        .output()
        .unwrap());
    assert!(
        out.starts_with("indexed 1500 users into") && out.contains("continuing after 1000"),
        "{out}"
    );
    assert_eq!(indexed(&idx, "member01499").await.len(), 5);
}

#[tokio::test]
async fn trim_feed_trims_what_the_index_has_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    let idx = dir.path().join("index");
    add_user(&db, "ada");
    ok(kinfolk(&db)
        .args(["reindex", "--quiet", "--search-dir"])
        .arg(&idx)
        .output()
        .unwrap());
    // Written after the reindex, without the index.
    let late = add_user(&db, "late");
    assert!(feed_len(&db).await > 0);
    let out = ok(kinfolk(&db)
        .args(["trim-feed", "--search-dir"])
        .arg(&idx)
        .output()
        .unwrap());
    assert!(out.starts_with("trimmed the change feed up to"), "{out}");
    assert_eq!(feed_len(&db).await, 0);
    // The index applied the late write before the feed lost it.
    let svc = Kinfolk::builder(kinfolk_sqlite::open(&db).unwrap())
        .search(TantivyIndex::open(&idx).unwrap())
        .build()
        .await
        .unwrap();
    let hits = svc
        .search_users(None, "late", SearchScope::Discovery, PageRequest::first())
        .await
        .unwrap();
    assert_eq!(hits.items.first().map(|h| h.user.id), Some(late));
}

#[tokio::test]
async fn trim_feed_without_an_index_refuses_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kinfolk.db");
    add_user(&db, "ada");
    add_user(&db, "bob");
    let events = feed_len(&db).await;
    let out = kinfolk(&db)
        .args(["trim-feed", "--search-dir"])
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no search index in"), "{err}");
    assert_eq!(feed_len(&db).await, events, "nothing trimmed");
    assert!(
        !dir.path().join("nothing-here").exists(),
        "no index created"
    );

    // Neither flag: clap refuses.
    assert!(
        !kinfolk(&db)
            .arg("trim-feed")
            .output()
            .unwrap()
            .status
            .success()
    );

    let out = ok(kinfolk(&db)
        .args(["trim-feed", "--no-index", "--upto", "1"])
        .output()
        .unwrap());
    assert_eq!(out, "trimmed the change feed up to 1");
    assert_eq!(feed_len(&db).await, events - 1);
}
