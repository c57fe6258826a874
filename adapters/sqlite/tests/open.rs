//! Opening databases: schema version, refusals, corrupt data.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
mod common;

use common::*;
use kinfolk::{EdgeKind, Error};
use rusqlite::Connection;

fn storage_message(r: kinfolk::Result<kinfolk_sqlite::SqliteStore>) -> String {
    match r {
        Err(e @ Error::Storage(_)) => e.to_string(),
        Err(e) => panic!("expected a storage error, got {e:?}"),
        Ok(s) => panic!("expected a storage error, got a store {s:?}"),
    }
}

#[test]
fn a_new_database_is_wal_versioned_and_marked() {
    let (_dir, path) = temp_db();
    drop(kinfolk_sqlite::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(mode, "wal");
    assert_eq!(app, 0x6b69_6e66);
    // Every table is STRICT.
    let loose: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND strict = 0 AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(loose.is_empty(), "non-STRICT tables: {loose:?}");
    drop(conn);
    // Opening again is a no-op migration.
    drop(kinfolk_sqlite::open(&path).unwrap());
}

#[test]
fn a_newer_schema_version_is_refused_untouched() {
    let (_dir, path) = temp_db();
    drop(kinfolk_sqlite::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);
    let msg = storage_message(kinfolk_sqlite::open(&path));
    assert!(
        msg.contains("schema version 2") && msg.contains("newer"),
        "{msg}"
    );
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2, "the refused database is left as it was");
}

#[test]
fn a_garbage_file_is_refused_cleanly() {
    let (_dir, path) = temp_db();
    std::fs::write(
        &path,
        b"this is not a database, just some text. ".repeat(200),
    )
    .unwrap();
    let msg = storage_message(kinfolk_sqlite::open(&path));
    assert!(msg.contains("not a SQLite database"), "{msg}");
    // Also a file shorter than a header.
    std::fs::write(&path, b"SQLite format 3\0garbage").unwrap();
    storage_message(kinfolk_sqlite::open(&path));
}

#[test]
fn another_applications_database_is_refused() {
    let (_dir, path) = temp_db();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    drop(conn);
    let msg = storage_message(kinfolk_sqlite::open(&path));
    assert!(msg.contains("not created by kinfolk-sqlite"), "{msg}");
    let conn = Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to the foreign database");
}

#[test]
fn an_empty_file_becomes_a_new_store() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, b"").unwrap();
    drop(kinfolk_sqlite::open(&path).unwrap());
}

#[test]
fn a_missing_directory_is_a_storage_error() {
    let (dir, _) = temp_db();
    storage_message(kinfolk_sqlite::open(
        dir.path().join("no/such/dir/kinfolk.db"),
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_rows_are_storage_errors_not_panics() {
    let (_dir, path) = temp_db();
    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    let (a, b, c) = (user("corrupt_a"), user("corrupt_b"), user("corrupt_c"));
    put_users(&store, &[a.clone(), b.clone(), c.clone()]).await;
    let (ai, bi) = (a.id, b.id);
    write(&store, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Follow, ai, bi, 1))?;
        tx.insert_edge(&edge(EdgeKind::Follow, bi, ai, 2))
    })
    .await
    .unwrap();
    drop(store);

    let conn = Connection::open(&path).unwrap();
    // A record that is not a user, a user whose record names another id, a
    // username that fails validation, a timestamp that is not one, a kind
    // outside the enum (CHECK constraints switched off to plant it).
    conn.execute(
        "UPDATE users SET record = '{\"nope\":1}' WHERE id = ?1",
        [a.id.to_bytes()],
    )
    .unwrap();
    let other = serde_json::to_string(&c).unwrap();
    conn.execute(
        "UPDATE users SET record = ?1 WHERE id = ?2",
        rusqlite::params![other, b.id.to_bytes()],
    )
    .unwrap();
    conn.execute(
        "UPDATE username_claims SET username = 'no way!' WHERE folded = 'corrupt_c'",
        [],
    )
    .unwrap();
    conn.execute("UPDATE edges SET since = 'yesterday' WHERE seq = 1", [])
        .unwrap();
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = ON; UPDATE edges SET kind = 9 WHERE seq = 2;",
    )
    .unwrap();
    drop(conn);

    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    let cid = c.id;
    let results = read(&store, move |tx| {
        Ok(vec![
            tx.user(ai).map(drop),
            tx.user(bi).map(drop),
            tx.users(&[ai, bi]).map(drop),
            tx.users_after(None, 10).map(drop),
            tx.username_claims_of(cid).map(drop),
            tx.edges(EdgeKind::Follow, kinfolk::Anchor::From(ai), None, 10)
                .map(drop),
            tx.edges_between(ai, &[bi]).map(drop),
        ])
    })
    .await
    .unwrap();
    for (i, r) in results.into_iter().enumerate() {
        let err = r.expect_err("corrupt data must not decode");
        assert!(matches!(err, Error::Storage(_)), "case {i}: {err:?}");
        assert!(err.to_string().contains("corrupt"), "case {i}: {err}");
    }
    // The healthy user still reads.
    assert!(
        read(&store, move |tx| tx.user(cid))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_lock_held_by_another_process_is_a_clear_storage_error() {
    let (_dir, path) = temp_db();
    let options =
        kinfolk_sqlite::Options::default().busy_timeout(std::time::Duration::from_millis(200));
    let store = Arc::new(kinfolk_sqlite::open_with(&path, options).unwrap());
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = write(&store, |tx| tx.put_user(&user("blocked_out")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    assert!(err.to_string().contains("busy timeout"), "{err}");
    // Reads still work meanwhile (WAL), and writes once the lock is gone.
    assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 0);
    other.execute_batch("COMMIT").unwrap();
    write(&store, |tx| tx.put_user(&user("let_in")))
        .await
        .unwrap();
}
