//! The SQLite store's own tests of the storage port, on a file store (with
//! reader threads) and on the in-memory store.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use kinfolk::user::ConnectedAccount;
use kinfolk::{Anchor, Change, EdgeKind, Error, RoomRole, Store, UserId};

#[tokio::test(flavor = "multi_thread")]
async fn users_round_trip_batch_and_id_order() {
    for (_dir, store) in stores() {
        let us: Vec<_> = (0..5).map(|i| user(&format!("user{i}"))).collect();
        put_users(&store, &us).await;

        let first = us[0].clone();
        assert_eq!(
            read(&store, move |tx| tx.user(first.id)).await.unwrap(),
            Some(us[0].clone())
        );
        let missing = UserId::new();
        assert_eq!(
            read(&store, move |tx| tx.user(missing)).await.unwrap(),
            None
        );

        let ids = vec![us[1].id, missing, us[3].id, us[1].id];
        let mut got = read(&store, move |tx| tx.users(&ids)).await.unwrap();
        got.sort_by_key(|u| u.id);
        let mut want = vec![us[1].clone(), us[3].clone()];
        want.sort_by_key(|u| u.id);
        assert_eq!(
            got, want,
            "batch skips missing ids and returns each user once"
        );

        // users_after walks every user in id order, two at a time.
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let page = read(&store, move |tx| tx.users_after(after, 2))
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|u| u.id);
            walked.extend(page.into_iter().map(|u| u.id));
        }
        let mut sorted: Vec<_> = us.iter().map(|u| u.id).collect();
        sorted.sort();
        assert_eq!(walked, sorted);

        // put_user replaces; delete_user deletes.
        let mut changed = us[2].clone();
        changed.counts.followers = 7;
        let c = changed.clone();
        write(&store, move |tx| tx.put_user(&c)).await.unwrap();
        let id = changed.id;
        assert_eq!(
            read(&store, move |tx| tx.user(id)).await.unwrap(),
            Some(changed)
        );
        write(&store, move |tx| tx.delete_user(id)).await.unwrap();
        assert_eq!(read(&store, move |tx| tx.user(id)).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edges_list_newest_first_with_keyset_before() {
    for (_dir, store) in stores() {
        let a = UserId::new();
        let bs: Vec<UserId> = (0..5).map(|_| UserId::new()).collect();
        let targets = bs.clone();
        write(&store, move |tx| {
            for (i, b) in targets.iter().enumerate() {
                tx.insert_edge(&edge(EdgeKind::Follow, a, *b, 10 + i as u64))?;
            }
            // Noise of another kind and another anchor.
            tx.insert_edge(&edge(EdgeKind::Block, a, targets[0], 20))?;
            tx.insert_edge(&edge(EdgeKind::Follow, targets[0], a, 21))
        })
        .await
        .unwrap();

        let page1 = read(&store, move |tx| {
            tx.edges(EdgeKind::Follow, Anchor::From(a), None, 2)
        })
        .await
        .unwrap();
        assert_eq!(
            page1.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![14, 13]
        );
        assert_eq!(page1[0], edge(EdgeKind::Follow, a, bs[4], 14));
        let before = page1.last().map(|e| e.seq);
        let page2 = read(&store, move |tx| {
            tx.edges(EdgeKind::Follow, Anchor::From(a), before, 2)
        })
        .await
        .unwrap();
        assert_eq!(
            page2.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![12, 11]
        );
        let page3 = read(&store, move |tx| {
            tx.edges(EdgeKind::Follow, Anchor::From(a), Some(11), 2)
        })
        .await
        .unwrap();
        assert_eq!(page3.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![10]);

        let b0 = bs[0];
        let to_b0 = read(&store, move |tx| {
            tx.edges(EdgeKind::Follow, Anchor::To(b0), None, 10)
        })
        .await
        .unwrap();
        assert_eq!(to_b0, vec![edge(EdgeKind::Follow, a, b0, 10)]);
        let blocks = read(&store, move |tx| {
            tx.edges(EdgeKind::Block, Anchor::From(a), None, 10)
        })
        .await
        .unwrap();
        assert_eq!(blocks, vec![edge(EdgeKind::Block, a, b0, 20)]);

        // delete_edge returns the edge once.
        let gone = write(&store, move |tx| tx.delete_edge(EdgeKind::Follow, a, b0))
            .await
            .unwrap();
        assert_eq!(gone, Some(edge(EdgeKind::Follow, a, b0, 10)));
        let again = write(&store, move |tx| tx.delete_edge(EdgeKind::Follow, a, b0))
            .await
            .unwrap();
        assert_eq!(again, None);
        assert_eq!(
            read(&store, move |tx| tx.edge(EdgeKind::Follow, a, b0))
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_mute_keeps_its_end() {
    for (_dir, store) in stores() {
        let (a, b) = (UserId::new(), UserId::new());
        let mut mute = edge(EdgeKind::Mute, a, b, 3);
        mute.until = Some(t(86_400));
        let m = mute;
        write(&store, move |tx| tx.insert_edge(&m)).await.unwrap();
        assert_eq!(
            read(&store, move |tx| tx.edge(EdgeKind::Mute, a, b))
                .await
                .unwrap(),
            Some(mute)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_edge_is_conflict_and_rolls_back() {
    for (_dir, store) in stores() {
        let (a, b) = (UserId::new(), UserId::new());
        write(&store, move |tx| {
            tx.insert_edge(&edge(EdgeKind::Follow, a, b, 1))
        })
        .await
        .unwrap();
        let err = write(&store, move |tx| {
            tx.insert_edge(&edge(EdgeKind::Follow, b, a, 2))?;
            tx.insert_edge(&edge(EdgeKind::Follow, a, b, 3))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
        // The first insert of the failed job is gone too.
        assert_eq!(
            read(&store, move |tx| tx.edge(EdgeKind::Follow, b, a))
                .await
                .unwrap(),
            None
        );
        // Another kind between the same users is fine.
        write(&store, move |tx| {
            tx.insert_edge(&edge(EdgeKind::Mute, a, b, 4))
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edges_between_both_directions_in_one_call() {
    for (_dir, store) in stores() {
        let me = UserId::new();
        let others: Vec<UserId> = (0..1500).map(|_| UserId::new()).collect();
        let stranger = UserId::new();
        let o = others.clone();
        write(&store, move |tx| {
            tx.insert_edge(&edge(EdgeKind::Follow, me, o[0], 1))?;
            tx.insert_edge(&edge(EdgeKind::Follow, o[0], me, 2))?;
            tx.insert_edge(&edge(EdgeKind::Block, o[1499], me, 3))?;
            tx.insert_edge(&edge(EdgeKind::Request, me, o[700], 4))?;
            tx.insert_edge(&edge(EdgeKind::Mute, me, stranger, 5))?; // not asked for
            tx.insert_edge(&edge(EdgeKind::Follow, o[1], o[2], 6))?; // not involving me
            tx.insert_edge(&edge(EdgeKind::Follow, me, me, 7)) // a self edge, returned once
        })
        .await
        .unwrap();
        let mut ask = others.clone();
        ask.push(me);
        let got = read(&store, move |tx| tx.edges_between(me, &ask))
            .await
            .unwrap();
        let mut seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        seqs.sort();
        assert_eq!(seqs, vec![1, 2, 3, 4, 7]);
        assert!(
            read(&store, move |tx| tx.edges_between(me, &[]))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unique_claim_gives_username_taken() {
    for (_dir, store) in stores() {
        let alice = user("Alice");
        put_users(&store, std::slice::from_ref(&alice)).await;
        // Another user claiming "alice" (other case) loses.
        let mut other = user("ALICE");
        other.id = UserId::new();
        let c = claim(&other);
        let err = write(&store, move |tx| tx.insert_username_claim(&c))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::UsernameTaken), "{err:?}");

        let got = read(&store, |tx| tx.username_claim("alice")).await.unwrap();
        assert_eq!(got, Some(claim(&alice)));

        // Turn the current name into a held one, add a new current name.
        let mut held = claim(&alice);
        held.held_until = Some(t(1_000));
        let h = held.clone();
        let newer = kinfolk::Username::parse("alice2").unwrap();
        let id = alice.id;
        write(&store, move |tx| {
            tx.update_username_claim(&h)?;
            tx.insert_username_claim(&kinfolk::user::UsernameClaim {
                folded: newer.folded(),
                user: id,
                username: newer.clone(),
                held_until: None,
            })
        })
        .await
        .unwrap();
        let mine = read(&store, move |tx| tx.username_claims_of(id))
            .await
            .unwrap();
        assert_eq!(mine.len(), 2);
        assert!(mine.contains(&held));

        // Deleting frees the name.
        write(&store, |tx| tx.delete_username_claim("alice"))
            .await
            .unwrap();
        let c = claim(&other);
        write(&store, move |tx| tx.insert_username_claim(&c))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_job_leaves_nothing_behind_feed_included() {
    for (_dir, store) in stores() {
        let u = user("ghost");
        let room = room("Ghosts", u.id);
        let job_user = u.clone();
        let err = write(&store, move |tx| -> kinfolk::Result<()> {
            tx.put_user(&job_user)?;
            tx.insert_username_claim(&claim(&job_user))?;
            let seq = tx.append_change(t(0), Change::UserRegistered { user: job_user.id })?;
            tx.insert_edge(&edge(EdgeKind::Follow, job_user.id, UserId::new(), seq))?;
            tx.put_room(&room)?;
            tx.put_membership(&membership(room.id, job_user.id, RoomRole::Owner, seq))?;
            tx.insert_connected_account(&ConnectedAccount {
                user: job_user.id,
                provider: "github".into(),
                external_id: "42".into(),
                handle: "ghost".into(),
                connected_at: t(0),
            })?;
            Err(Error::Forbidden {
                reason: "changed my mind",
            })
        })
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Forbidden {
                    reason: "changed my mind"
                }
            ),
            "job error unchanged: {err:?}"
        );

        let id = u.id;
        let left = read(&store, move |tx| {
            Ok((
                tx.user(id)?,
                tx.username_claim("ghost")?,
                tx.edges(EdgeKind::Follow, Anchor::From(id), None, 10)?,
                tx.memberships_of(id, None, 10)?,
                tx.connected_account("github", "42")?,
                tx.changes_since(0, 10)?,
                tx.last_seq()?,
            ))
        })
        .await
        .unwrap();
        assert_eq!(left.0, None);
        assert_eq!(left.1, None);
        assert!(left.2.is_empty() && left.3.is_empty() && left.4.is_none() && left.5.is_empty());
        assert_eq!(left.6, 0, "a rolled-back append does not consume a number");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn last_seq_survives_trimming_and_reopen() {
    let (_dir, path) = temp_db();
    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 0);
    let u = UserId::new();
    let seqs = write(&store, move |tx| {
        (0..5)
            .map(|i| tx.append_change(t(i), Change::ProfileUpdated { user: u }))
            .collect::<kinfolk::Result<Vec<u64>>>()
    })
    .await
    .unwrap();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    let feed = all_changes(&store).await;
    assert_eq!(feed.len(), 5);
    assert_eq!(feed[2].at, t(2));
    assert_eq!(feed[2].change, Change::ProfileUpdated { user: u });
    assert_eq!(
        read(&store, |tx| tx.changes_since(3, 10))
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![4, 5]
    );

    assert_eq!(write(&store, |tx| tx.trim_changes(5)).await.unwrap(), 5);
    assert!(all_changes(&store).await.is_empty());
    assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 5);
    drop(store);

    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 5);
    let next = write(&store, move |tx| {
        tx.append_change(t(9), Change::Deactivated { user: u })
    })
    .await
    .unwrap();
    assert_eq!(next, 6, "numbers are never reused after trimming");
    assert_eq!(
        all_changes(&store)
            .await
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![6]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rooms_and_memberships() {
    for (_dir, store) in stores() {
        let us: Vec<_> = (0..4).map(|i| user(&format!("member{i}"))).collect();
        put_users(&store, &us).await;
        let r1 = room("One", us[0].id);
        let r2 = room("Two", us[0].id);
        let (a, b) = (r1.clone(), r2.clone());
        let ids: Vec<UserId> = us.iter().map(|u| u.id).collect();
        let i2 = ids.clone();
        write(&store, move |tx| {
            tx.put_room(&a)?;
            tx.put_room(&b)?;
            for (n, u) in i2.iter().enumerate() {
                let role = if n == 0 {
                    RoomRole::Owner
                } else {
                    RoomRole::Member
                };
                tx.put_membership(&membership(a.id, *u, role, 10 + n as u64))?;
            }
            tx.put_membership(&membership(b.id, i2[0], RoomRole::Owner, 20))
        })
        .await
        .unwrap();

        let (id1, id2) = (r1.id, r2.id);
        let mut rooms = read(&store, move |tx| {
            tx.rooms(&[id1, kinfolk::RoomId::new(), id2])
        })
        .await
        .unwrap();
        rooms.sort_by_key(|r| r.id);
        let mut want = vec![r1.clone(), r2.clone()];
        want.sort_by_key(|r| r.id);
        assert_eq!(rooms, want);

        let u0 = ids[0];
        let mine = read(&store, move |tx| tx.memberships_of(u0, None, 10))
            .await
            .unwrap();
        assert_eq!(mine.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![20, 10]);
        let older = read(&store, move |tx| tx.memberships_of(u0, Some(20), 10))
            .await
            .unwrap();
        assert_eq!(older.iter().map(|m| m.room).collect::<Vec<_>>(), vec![id1]);

        let members = read(&store, move |tx| tx.members(id1, None, 2))
            .await
            .unwrap();
        assert_eq!(
            members.iter().map(|m| m.seq).collect::<Vec<_>>(),
            vec![10, 11]
        );
        let rest = read(&store, move |tx| tx.members(id1, Some(11), 10))
            .await
            .unwrap();
        assert_eq!(rest.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![12, 13]);

        let ask = vec![ids[1], ids[3], UserId::new()];
        let mut some = read(&store, move |tx| tx.memberships_in(id1, &ask))
            .await
            .unwrap();
        some.sort_by_key(|m| m.seq);
        assert_eq!(some.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11, 13]);

        // put_membership replaces (a role change); delete returns it.
        let u1 = ids[1];
        let mut promoted = membership(id1, u1, RoomRole::Admin, 11);
        promoted.joined_at = t(11);
        let p = promoted.clone();
        write(&store, move |tx| tx.put_membership(&p))
            .await
            .unwrap();
        assert_eq!(
            read(&store, move |tx| tx.membership(id1, u1))
                .await
                .unwrap(),
            Some(promoted.clone())
        );
        let gone = write(&store, move |tx| tx.delete_membership(id1, u1))
            .await
            .unwrap();
        assert_eq!(gone, Some(promoted));
        assert_eq!(
            write(&store, move |tx| tx.delete_membership(id1, u1))
                .await
                .unwrap(),
            None
        );

        // A room goes once its memberships have gone.
        write(&store, move |tx| {
            tx.delete_membership(id2, u0)?;
            tx.delete_room(id2)
        })
        .await
        .unwrap();
        assert_eq!(read(&store, move |tx| tx.room(id2)).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dangling_membership_fails_the_commit_and_leaves_nothing() {
    for (_dir, store) in stores() {
        let u = user("lonely");
        put_users(&store, std::slice::from_ref(&u)).await;
        let r = room("Nowhere", u.id);
        let (rid, uid) = (r.id, u.id);
        // The room is never stored: the membership would dangle.
        let err = write(&store, move |tx| {
            tx.append_change(
                t(0),
                Change::MemberLeft {
                    room: rid,
                    user: uid,
                },
            )?;
            tx.put_membership(&membership(rid, uid, RoomRole::Owner, 1))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{err:?}");
        assert!(err.to_string().contains("missing user or room"), "{err}");
        assert_eq!(
            read(&store, move |tx| tx.membership(rid, uid))
                .await
                .unwrap(),
            None
        );
        assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connected_accounts_unique_and_oldest_first() {
    for (_dir, store) in stores() {
        let u = user("linker");
        put_users(&store, std::slice::from_ref(&u)).await;
        let acc = |provider: &str, ext: &str, at: i64| ConnectedAccount {
            user: u.id,
            provider: provider.into(),
            external_id: ext.into(),
            handle: format!("{provider}-{ext}"),
            connected_at: t(at),
        };
        // Linked at the same instant: provider, then external id, break the
        // tie (the port's contract, as the reference store orders them).
        let list = vec![
            acc("mastodon", "9", 5),
            acc("github", "1", 5),
            acc("gitlab", "2", 3),
        ];
        let l = list.clone();
        write(&store, move |tx| {
            l.iter().try_for_each(|a| tx.insert_connected_account(a))
        })
        .await
        .unwrap();
        let id = u.id;
        let got = read(&store, move |tx| tx.connected_accounts_of(id))
            .await
            .unwrap();
        assert_eq!(got, vec![list[2].clone(), list[1].clone(), list[0].clone()]);

        let dup = acc("github", "1", 9);
        let err = write(&store, move |tx| tx.insert_connected_account(&dup))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

        assert_eq!(
            read(&store, |tx| tx.connected_account("github", "1"))
                .await
                .unwrap(),
            Some(list[1].clone())
        );
        let gone = write(&store, |tx| tx.delete_connected_account("github", "1"))
            .await
            .unwrap();
        assert_eq!(gone, Some(list[1].clone()));
        assert_eq!(
            write(&store, |tx| tx.delete_connected_account("github", "1"))
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reopen_keeps_everything() {
    let (_dir, path) = temp_db();
    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    let us: Vec<_> = (0..3).map(|i| user(&format!("keep{i}"))).collect();
    put_users(&store, &us).await;
    let r = room("Kept", us[0].id);
    let (a, b) = (us[0].id, us[1].id);
    let rr = r.clone();
    write(&store, move |tx| {
        let seq = tx.append_change(
            t(3),
            Change::Followed {
                follower: a,
                followee: b,
            },
        )?;
        tx.insert_edge(&edge(EdgeKind::Follow, a, b, seq))?;
        tx.put_room(&rr)?;
        tx.put_membership(&membership(rr.id, a, RoomRole::Owner, seq))
    })
    .await
    .unwrap();
    drop(store);

    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    let rid = r.id;
    let (users, e, room, members, feed) = read(&store, move |tx| {
        Ok((
            tx.users_after(None, 10)?,
            tx.edge(EdgeKind::Follow, a, b)?,
            tx.room(rid)?,
            tx.members(rid, None, 10)?,
            tx.changes_since(0, 10)?,
        ))
    })
    .await
    .unwrap();
    assert_eq!(users.len(), 3);
    assert!(us.iter().all(|u| users.contains(u)));
    assert_eq!(e, Some(edge(EdgeKind::Follow, a, b, 1)));
    assert_eq!(room, Some(r));
    assert_eq!(members.len(), 1);
    assert_eq!(feed.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_run_on_their_snapshot_while_a_write_is_in_progress() {
    let (_dir, path) = temp_db();
    let store = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    let u = user("pending");
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let go_rx = std::sync::Mutex::new(go_rx);
    let uu = u.clone();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            write(&store, move |tx| {
                tx.put_user(&uu)?;
                started_tx.send(()).unwrap();
                // Hold the write transaction open until the test has read.
                go_rx.lock().unwrap().recv().unwrap();
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv().unwrap())
        .await
        .unwrap();
    let id = u.id;
    let seen = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        read(&store, move |tx| tx.user(id)),
    )
    .await
    .expect("a read must not wait for the running write")
    .unwrap();
    assert_eq!(seen, None, "the read must not see an uncommitted write");
    go_tx.send(()).unwrap();
    writer.await.unwrap().unwrap();
    assert_eq!(read(&store, move |tx| tx.user(id)).await.unwrap(), Some(u));
}

#[test]
fn futures_complete_without_tokio() {
    let store = Arc::new(kinfolk_sqlite::open_in_memory().unwrap());
    let (_dir, path) = temp_db();
    let file = Arc::new(kinfolk_sqlite::open(&path).unwrap());
    for s in [store, file] {
        let n = futures::executor::block_on(write(&s, |tx| {
            tx.append_change(
                t(0),
                Change::RoomDeleted {
                    room: kinfolk::RoomId::new(),
                },
            )
        }))
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            futures::executor::block_on(read(&s, |tx| tx.last_seq())).unwrap(),
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_job_rolls_back_and_the_store_keeps_working() {
    for (_dir, store) in stores() {
        let u = user("panicky");
        let uu = u.clone();
        let s = store.clone();
        let joined = tokio::spawn(async move {
            write(&s, move |tx| -> kinfolk::Result<()> {
                tx.put_user(&uu)?;
                panic!("job bug");
            })
            .await
        })
        .await;
        // The port's panic policy: the caller gets a storage error, not the panic.
        let err = joined
            .expect("the job's panic stays in the store")
            .expect_err("a panicking job is an error");
        assert_eq!(err.code(), "storage", "{err:?}");
        let id = u.id;
        assert_eq!(read(&store, move |tx| tx.user(id)).await.unwrap(), None);
        put_users(&store, &[u]).await;
        assert!(read(&store, move |tx| tx.user(id)).await.unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writers_get_distinct_consecutive_numbers() {
    for (_dir, store) in stores() {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                for _ in 0..50 {
                    let seq = write(&s, |tx| {
                        let before = tx.last_seq()?;
                        let seq = tx.append_change(
                            t(0),
                            Change::ProfileUpdated {
                                user: UserId::new(),
                            },
                        )?;
                        assert_eq!(seq, before + 1);
                        Ok(seq)
                    })
                    .await
                    .unwrap();
                    mine.push(seq);
                }
                mine
            }));
        }
        let mut all = HashSet::new();
        for task in tasks {
            for seq in task.await.unwrap() {
                assert!(all.insert(seq), "seq {seq} assigned twice");
            }
        }
        assert_eq!(all.len(), 400);
        assert_eq!(read(&store, |tx| tx.last_seq()).await.unwrap(), 400);
        assert_eq!(all_changes(&store).await.len(), 400);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn options_normal_sync_and_no_readers_work() {
    let (_dir, path) = temp_db();
    let opts = kinfolk_sqlite::Options::default()
        .synchronous(kinfolk_sqlite::Synchronous::Normal)
        .readers(0);
    let store = Arc::new(kinfolk_sqlite::open_with(&path, opts).unwrap());
    put_users(&store, &[user("normal")]).await;
    assert_eq!(
        read(&store, |tx| tx.users_after(None, 10))
            .await
            .unwrap()
            .len(),
        1
    );
    let dyn_store: Arc<dyn Store> = store;
    assert!(format!("{dyn_store:?}").contains("SqliteStore"));
}

#[tokio::test(flavor = "multi_thread")]
async fn write_tx_reads_its_own_writes() {
    for (_dir, store) in stores() {
        let u = user("selfread");
        let id = u.id;
        let seen = write(&store, move |tx| {
            tx.put_user(&u)?;
            tx.insert_edge(&edge(EdgeKind::Follow, id, UserId::new(), 1))?;
            Ok((
                tx.user(id)?.is_some(),
                tx.edges(EdgeKind::Follow, Anchor::From(id), None, 5)?.len(),
            ))
        })
        .await
        .unwrap();
        assert_eq!(seen, (true, 1));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_and_panicking_jobs_among_many_leave_the_others_intact() {
    for (_dir, store) in stores() {
        let me = UserId::new();
        let mut tasks = Vec::new();
        for k in 0..240u64 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                write(&s, move |tx| {
                    let seq = tx.append_change(t(0), Change::ProfileUpdated { user: me })?;
                    tx.insert_edge(&edge(
                        EdgeKind::Follow,
                        me,
                        UserId::from_bytes([k as u8; 16]),
                        seq,
                    ))?;
                    if k == 50 {
                        panic!("job {k} panics");
                    }
                    if k % 3 == 0 {
                        return Err(Error::Forbidden {
                            reason: "every third fails",
                        });
                    }
                    Ok(k)
                })
                .await
            }));
        }
        let mut ok = HashSet::new();
        for (k, task) in tasks.into_iter().enumerate() {
            match task.await {
                Ok(Ok(v)) => {
                    assert_eq!(v, k as u64);
                    assert!(k % 3 != 0 && k != 50);
                    ok.insert(k as u8);
                }
                Ok(Err(e)) if k == 50 => assert_eq!(e.code(), "storage", "{k}: {e:?}"),
                Ok(Err(e)) => assert!(
                    k % 3 == 0 && matches!(e, Error::Forbidden { .. }),
                    "{k}: {e:?}"
                ),
                Err(join) => panic!("{k}: the job's panic left the store: {join:?}"),
            }
        }
        assert_eq!(ok.len(), 159);
        let (edges, last, feed) = read(&store, move |tx| {
            Ok((
                tx.edges(EdgeKind::Follow, Anchor::From(me), None, 1000)?,
                tx.last_seq()?,
                tx.changes_since(0, 1000)?,
            ))
        })
        .await
        .unwrap();
        let kept: HashSet<u8> = edges.iter().map(|e| e.to.to_bytes()[0]).collect();
        assert_eq!(kept, ok, "exactly the successful jobs' edges persist");
        assert_eq!(last, 159, "rolled-back jobs consume no sequence numbers");
        let mut seqs: Vec<u64> = feed.iter().map(|e| e.seq).collect();
        seqs.sort();
        assert_eq!(seqs, (1..=159).collect::<Vec<_>>());
        let mut edge_seqs: Vec<u64> = edges.iter().map(|e| e.seq).collect();
        edge_seqs.sort();
        assert_eq!(
            edge_seqs, seqs,
            "each edge carries its own job's event number"
        );
    }
}
