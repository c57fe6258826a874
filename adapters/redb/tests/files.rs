//! The redb store on disk: reopening, the schema check, files it must refuse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
mod common;

use std::io::Write;
use std::path::Path;

use common::*;
use kinfolk::{Anchor, Change, EdgeKind, Error};
use kinfolk_redb::{Durability, Options};
use redb::{ReadableDatabase, TableDefinition};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

fn storage_message<T: std::fmt::Debug>(r: kinfolk::Result<T>) -> String {
    match r {
        Err(e @ Error::Storage(_)) => e.to_string(),
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[tokio::test]
async fn reopening_keeps_every_kind_of_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    let ada = user("ada");
    let bob = user("bob");
    let rm = room(ada.id);
    {
        let s = Arc::new(kinfolk_redb::open(&path).unwrap());
        let (a, b, rm) = (ada.clone(), bob.clone(), rm.clone());
        w(&*s, move |tx| {
            tx.put_user(&a)?;
            tx.put_user(&b)?;
            tx.insert_username_claim(&claim(&a))?;
            tx.insert_edge(&edge(EdgeKind::Follow, a.id, b.id, 1))?;
            tx.put_room(&rm)?;
            tx.put_membership(&membership(rm.id, a.id, 2))?;
            tx.insert_connected_account(&account(a.id, "github", "1", 0))?;
            tx.append_change(
                at(0),
                Change::Followed {
                    follower: a.id,
                    followee: b.id,
                },
            )?;
            tx.append_change(
                at(1),
                Change::RoomCreated {
                    room: rm.id,
                    by: a.id,
                },
            )?;
            tx.trim_changes(1)?;
            Ok(())
        })
        .await
        .unwrap();
    }
    let s = Arc::new(kinfolk_redb::open(&path).unwrap());
    let (aid, bid, rid) = (ada.id, bob.id, rm.id);
    let got = r(&*s, move |tx| {
        Ok((
            tx.user(aid)?,
            tx.username_claim("ada")?.map(|c| c.user),
            tx.edges(EdgeKind::Follow, Anchor::To(bid), None, 10)?.len(),
            tx.room(rid)?,
            tx.memberships_of(aid, None, 10)?.len(),
            tx.connected_accounts_of(aid)?.len(),
            tx.changes_since(0, 10)?
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            tx.last_seq()?,
        ))
    })
    .await
    .unwrap();
    assert_eq!(got.0, Some(ada.clone()));
    assert_eq!(got.1, Some(ada.id));
    assert_eq!(got.2, 1);
    assert_eq!(got.3, Some(rm));
    assert_eq!((got.4, got.5), (1, 1));
    assert_eq!(got.6, vec![2]);
    assert_eq!(got.7, 2);
    let next = w(&*s, move |tx| {
        tx.append_change(at(2), Change::ProfileUpdated { user: aid })
    })
    .await
    .unwrap();
    assert_eq!(next, 3);
}

#[tokio::test]
async fn a_file_is_opened_by_one_store_at_a_time_and_freed_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    let first = Arc::new(kinfolk_redb::open(&path).unwrap());
    // Keep the threads busy with a read, to show drop waits for them.
    assert_eq!(r(&*first, |tx| tx.last_seq()).await.unwrap(), 0);
    let msg = storage_message(kinfolk_redb::open(&path));
    assert!(!msg.is_empty());
    drop(first);
    let again = Arc::new(kinfolk_redb::open(&path).unwrap());
    assert_eq!(r(&*again, |tx| tx.last_seq()).await.unwrap(), 0);
}

#[tokio::test]
async fn non_durable_writes_are_kept_by_sync_and_by_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    let opts = Options::default()
        .durability(Durability::None)
        .read_threads(1);
    let ada = user("ada");
    {
        let s = Arc::new(kinfolk_redb::open_with(&path, opts.clone()).unwrap());
        assert_eq!(s.durability(), Durability::None);
        let a = ada.clone();
        w(&*s, move |tx| tx.put_user(&a)).await.unwrap();
        s.sync().await.unwrap();
        let id = ada.id;
        w(&*s, move |tx| {
            tx.append_change(at(0), Change::UserRegistered { user: id })
        })
        .await
        .unwrap();
    }
    let s = Arc::new(kinfolk_redb::open(&path).unwrap());
    assert_eq!(s.durability(), Durability::Immediate);
    let id = ada.id;
    let (u, last) = r(&*s, move |tx| Ok((tx.user(id)?, tx.last_seq()?)))
        .await
        .unwrap();
    assert_eq!(u, Some(ada));
    assert_eq!(last, 1);
}

#[tokio::test]
async fn a_store_of_a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    drop(kinfolk_redb::open(&path).unwrap());
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("schema_version", 2)
            .unwrap();
        txn.commit().unwrap();
    }
    let msg = storage_message(kinfolk_redb::open(&path));
    assert!(msg.contains("newer"), "{msg}");
    // Nothing was changed by the refused open.
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let v = txn
        .open_table(META)
        .unwrap()
        .get("schema_version")
        .unwrap()
        .map(|g| g.value());
    assert_eq!(v, Some(2));
}

#[tokio::test]
async fn a_redb_file_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let t: TableDefinition<&str, &str> = TableDefinition::new("settings");
        txn.open_table(t).unwrap().insert("k", "v").unwrap();
        txn.commit().unwrap();
    }
    let msg = storage_message(kinfolk_redb::open(&path));
    assert!(msg.contains("not a kinfolk store"), "{msg}");
}

fn write_file(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// A small deterministic generator for garbage bytes.
fn garbage(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_files_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text", b"this is not a database\n".repeat(100)),
        ("random", garbage(64 * 1024, 0x9e37_79b9_7f4a_7c15)),
        ("one byte", vec![0]),
        ("zeros", vec![0; 8192]),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.redb"));
        write_file(&path, &bytes);
        let msg = storage_message(kinfolk_redb::open(&path));
        assert!(!msg.is_empty(), "{name}");
    }
}

#[tokio::test]
async fn a_damaged_kinfolk_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    {
        let s = Arc::new(kinfolk_redb::open(&path).unwrap());
        w(&*s, |tx| {
            for i in 0..200 {
                tx.put_user(&user(&format!("user{i}")))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
    let good = std::fs::read(&path).unwrap();
    // Truncated, and with its pages overwritten past the header.
    let mut scribbled = good.clone();
    let noise = garbage(scribbled.len() - 4096, 7);
    scribbled[4096..].copy_from_slice(&noise);
    for (name, bytes) in [
        ("truncated", good[..good.len() / 3].to_vec()),
        ("scribbled", scribbled),
    ] {
        let p = dir.path().join(format!("{name}.redb"));
        // With the integrity check, the damage is found at open.
        write_file(&p, &bytes);
        let opts = Options::default().check_integrity_on_open(true);
        let msg = storage_message(kinfolk_redb::open_with(&p, opts));
        assert!(msg.contains("corrupt"), "{name}: {msg}");
        // Without it, opening or reading fails, or reads what survived — never a panic.
        write_file(&p, &bytes);
        match kinfolk_redb::open(&p) {
            Err(Error::Storage(_)) => {}
            Ok(s) => {
                let all = r(&s, |tx| tx.users_after(None, 1000)).await;
                assert!(
                    all.is_ok() || matches!(all, Err(Error::Storage(_))),
                    "{name}: {all:?}"
                );
            }
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn an_undecodable_value_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    let ada = user("ada");
    {
        let s = Arc::new(kinfolk_redb::open(&path).unwrap());
        let a = ada.clone();
        w(&*s, move |tx| tx.put_user(&a)).await.unwrap();
    }
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let key = ada.id.to_bytes();
        txn.open_table(USERS)
            .unwrap()
            .insert(key.as_slice(), [1u8, 0xff, 0xff].as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let s = Arc::new(kinfolk_redb::open(&path).unwrap());
    let id = ada.id;
    let msg = storage_message(r(&*s, move |tx| tx.user(id)).await);
    assert!(msg.contains("corrupt"), "{msg}");
    let msg = storage_message(r(&*s, |tx| tx.users_after(None, 10)).await);
    assert!(msg.contains("corrupt"), "{msg}");
}

#[tokio::test]
async fn an_in_memory_store_starts_empty_and_works() {
    let s =
        Arc::new(kinfolk_redb::open_in_memory_with(Options::default().read_threads(1)).unwrap());
    assert_eq!(r(&*s, |tx| tx.last_seq()).await.unwrap(), 0);
    let u = user("ada");
    let id = u.id;
    w(&*s, move |tx| tx.put_user(&u)).await.unwrap();
    assert!(r(&*s, move |tx| tx.user(id)).await.unwrap().is_some());
    // Another in-memory store is another store.
    let t = Arc::new(kinfolk_redb::open_in_memory().unwrap());
    assert!(r(&*t, move |tx| tx.user(id)).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_commit_or_roll_back_each_on_their_own() {
    // Many writes queue up at once, so the writer commits them in groups;
    // the failing ones in the middle of a group must leave no trace and take
    // none of their neighbours with them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.redb");
    let s = Arc::new(kinfolk_redb::open(&path).unwrap());
    // 61 jobs, every third failing (21 fail, 40 succeed). Whichever comes
    // last in the group carries its durable commit; when that one fails, an
    // empty durable commit covers the others.
    let users: Vec<_> = (0..61).map(|i| user(&format!("user{i}"))).collect();
    // Hold the writer busy so that the 61 jobs queue up behind it and are
    // taken as one group (the outcome must be the same however they group).
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let held = {
        let s = s.clone();
        tokio::spawn(async move {
            w(&*s, move |_tx| {
                if let Ok(gate) = gate.lock() {
                    gate.recv_timeout(std::time::Duration::from_secs(10)).ok();
                }
                Ok(())
            })
            .await
        })
    };
    let mut tasks = Vec::new();
    for (i, u) in users.iter().cloned().enumerate() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            w(&*s, move |tx| {
                tx.put_user(&u)?;
                tx.append_change(at(0), Change::UserRegistered { user: u.id })?;
                if i % 3 == 0 {
                    Err(Error::Conflict { reason: "test" })
                } else {
                    Ok(())
                }
            })
            .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    release.send(()).unwrap();
    held.await.unwrap().unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap();
        assert_eq!(out.is_ok(), i % 3 != 0, "job {i}: {out:?}");
    }
    drop(s);
    let s = Arc::new(kinfolk_redb::open(&path).unwrap());
    let ids: Vec<_> = users.iter().map(|u| u.id).collect();
    let (found, feed) = r(&*s, move |tx| {
        Ok((tx.users(&ids)?, tx.changes_since(0, 1000)?))
    })
    .await
    .unwrap();
    let mut expected: Vec<_> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, u)| u.id)
        .collect();
    let mut got: Vec<_> = found.iter().map(|u| u.id).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(
        feed.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<u64>>()
    );
}
