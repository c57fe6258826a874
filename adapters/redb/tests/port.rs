//! Direct tests of the store port (`ReadTx`/`WriteTx`) on the redb store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use kinfolk::{Anchor, Change, EdgeKind, Error, Store, UserId};
use kinfolk_redb::RedbStore;

fn mem() -> Arc<RedbStore> {
    Arc::new(kinfolk_redb::open_in_memory().unwrap())
}

/// `n` user ids that sort next to each other, so a scan that leaks past its
/// prefix would pick up a neighbour's rows.
fn neighbours<const N: usize>() -> [UserId; N] {
    let mut ids = [(); N].map(|_| UserId::new());
    ids.sort();
    ids
}

#[tokio::test]
async fn edges_are_newest_first_with_keyset_paging() {
    let s = mem();
    let ids = neighbours::<8>();
    let a = ids[3];
    let others = [ids[0], ids[1], ids[2], ids[4], ids[5]];
    let seqs = [10u64, 300, 11, 256, 12];
    w(&*s, move |tx| {
        for (o, seq) in others.iter().zip(seqs) {
            tx.insert_edge(&edge(EdgeKind::Follow, a, *o, seq))?;
            tx.insert_edge(&edge(EdgeKind::Follow, *o, a, seq + 1000))?;
        }
        // Other kinds, other anchors: must not show up.
        tx.insert_edge(&edge(EdgeKind::Block, a, ids[6], 500))?;
        tx.insert_edge(&edge(EdgeKind::Follow, ids[2], ids[7], 501))?;
        tx.insert_edge(&edge(EdgeKind::Follow, ids[4], ids[7], 502))?;
        Ok(())
    })
    .await
    .unwrap();

    let seq_of = |v: &Vec<kinfolk::Edge>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
    let page1 = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::From(a), None, 3)
    })
    .await
    .unwrap();
    assert_eq!(seq_of(&page1), vec![300, 256, 12]);
    assert!(
        page1
            .iter()
            .all(|e| e.from == a && e.kind == EdgeKind::Follow)
    );
    let page2 = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::From(a), Some(12), 3)
    })
    .await
    .unwrap();
    assert_eq!(seq_of(&page2), vec![11, 10]);
    let none = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::From(a), Some(10), 3)
    })
    .await
    .unwrap();
    assert!(none.is_empty());
    let zero = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::From(a), None, 0)
    })
    .await
    .unwrap();
    assert!(zero.is_empty());
    let before_zero = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::To(a), Some(0), 3)
    })
    .await
    .unwrap();
    assert!(before_zero.is_empty());

    let incoming = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::To(a), None, 100)
    })
    .await
    .unwrap();
    assert_eq!(seq_of(&incoming), vec![1300, 1256, 1012, 1011, 1010]);
    assert!(incoming.iter().all(|e| e.to == a));
    let to7 = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::To(ids[7]), None, 100)
    })
    .await
    .unwrap();
    assert_eq!(seq_of(&to7), vec![502, 501]);
    let blocks = r(&*s, move |tx| {
        tx.edges(EdgeKind::Block, Anchor::From(a), None, 100)
    })
    .await
    .unwrap();
    assert_eq!(seq_of(&blocks), vec![500]);
}

#[tokio::test]
async fn edges_between_finds_every_kind_in_both_directions_and_nothing_else() {
    let s = mem();
    let ids = neighbours::<5>();
    let (u, x, y, z, q) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    w(&*s, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Follow, u, x, 1))?;
        tx.insert_edge(&edge(EdgeKind::Follow, x, u, 2))?;
        tx.insert_edge(&edge(EdgeKind::Mute, u, y, 3))?;
        tx.insert_edge(&edge(EdgeKind::Block, z, u, 4))?;
        tx.insert_edge(&edge(EdgeKind::Request, u, q, 5))?; // q is not asked about
        tx.insert_edge(&edge(EdgeKind::Follow, x, y, 6))?; // not involving u
        Ok(())
    })
    .await
    .unwrap();
    let mut got = r(&*s, move |tx| tx.edges_between(u, &[x, y, z, x, u]))
        .await
        .unwrap();
    got.sort_by_key(|e| e.seq);
    assert_eq!(
        got.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let empty = r(&*s, move |tx| tx.edges_between(u, &[])).await.unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn insert_edge_twice_is_a_conflict_and_delete_clears_the_indexes() {
    let s = mem();
    let (a, b) = (UserId::new(), UserId::new());
    w(&*s, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Follow, a, b, 7))
    })
    .await
    .unwrap();
    let again = w(&*s, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Follow, a, b, 8))
    })
    .await;
    assert!(matches!(again, Err(Error::Conflict { .. })), "{again:?}");
    // The same pair in another kind or direction is another edge.
    w(&*s, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Request, a, b, 9))?;
        tx.insert_edge(&edge(EdgeKind::Follow, b, a, 10))
    })
    .await
    .unwrap();

    let gone = w(&*s, move |tx| tx.delete_edge(EdgeKind::Follow, a, b))
        .await
        .unwrap();
    assert_eq!(gone.map(|e| e.seq), Some(7));
    let twice = w(&*s, move |tx| tx.delete_edge(EdgeKind::Follow, a, b))
        .await
        .unwrap();
    assert!(twice.is_none());
    let (out, inc, one) = r(&*s, move |tx| {
        Ok((
            tx.edges(EdgeKind::Follow, Anchor::From(a), None, 10)?,
            tx.edges(EdgeKind::Follow, Anchor::To(b), None, 10)?,
            tx.edge(EdgeKind::Follow, a, b)?,
        ))
    })
    .await
    .unwrap();
    assert!(out.is_empty() && inc.is_empty() && one.is_none());
    // And it can be inserted again with a new seq.
    w(&*s, move |tx| {
        tx.insert_edge(&edge(EdgeKind::Follow, a, b, 11))
    })
    .await
    .unwrap();
    let back = r(&*s, move |tx| {
        tx.edges(EdgeKind::Follow, Anchor::To(b), None, 10)
    })
    .await
    .unwrap();
    assert_eq!(back.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![11]);
}

#[tokio::test]
async fn a_claimed_username_is_unique_and_claims_are_indexed_by_user() {
    let s = mem();
    let ada = user("Ada");
    let other = user("ADA");
    let (c1, c2) = (claim(&ada), claim(&other));
    w(&*s, move |tx| tx.insert_username_claim(&c1))
        .await
        .unwrap();
    let taken = w(&*s, move |tx| tx.insert_username_claim(&c2)).await;
    assert!(matches!(taken, Err(Error::UsernameTaken)), "{taken:?}");

    // A held previous name, then the new current name.
    let mut held = claim(&ada);
    held.held_until = Some(at(3600));
    let mut newer = claim(&user("Ada_Two"));
    newer.user = ada.id;
    let (h, n) = (held.clone(), newer.clone());
    w(&*s, move |tx| {
        tx.update_username_claim(&h)?;
        tx.insert_username_claim(&n)
    })
    .await
    .unwrap();
    let id = ada.id;
    let mut mine = r(&*s, move |tx| tx.username_claims_of(id)).await.unwrap();
    mine.sort_by(|a, b| a.folded.cmp(&b.folded));
    assert_eq!(mine, vec![held.clone(), newer.clone()]);
    let other_id = other.id;
    assert!(
        r(&*s, move |tx| tx.username_claims_of(other_id))
            .await
            .unwrap()
            .is_empty()
    );

    // Handing the held name to another user moves the index entry too.
    let mut moved = held.clone();
    moved.user = other.id;
    moved.held_until = None;
    let m = moved.clone();
    w(&*s, move |tx| tx.update_username_claim(&m))
        .await
        .unwrap();
    let mine = r(&*s, move |tx| tx.username_claims_of(id)).await.unwrap();
    assert_eq!(mine, vec![newer.clone()]);
    let theirs = r(&*s, move |tx| tx.username_claims_of(other_id))
        .await
        .unwrap();
    assert_eq!(theirs, vec![moved]);

    // Updating a claim that does not exist is refused.
    let ghost = claim(&user("Ghost"));
    let err = w(&*s, move |tx| tx.update_username_claim(&ghost)).await;
    assert!(matches!(err, Err(Error::Storage(_))), "{err:?}");

    w(&*s, move |tx| tx.delete_username_claim("ada_two"))
        .await
        .unwrap();
    let (gone, mine) = r(&*s, move |tx| {
        Ok((tx.username_claim("ada_two")?, tx.username_claims_of(id)?))
    })
    .await
    .unwrap();
    assert!(gone.is_none() && mine.is_empty());
    // Deleting what is not there is fine.
    w(&*s, |tx| tx.delete_username_claim("nobody"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_job_leaves_nothing_behind_feed_events_included() {
    let s = mem();
    let keep = user("keeper");
    let k = keep.clone();
    w(&*s, move |tx| {
        tx.put_user(&k)?;
        tx.append_change(at(0), Change::UserRegistered { user: k.id })
    })
    .await
    .unwrap();

    let lost = user("lost");
    let l = lost.clone();
    let kid = keep.id;
    let err = w(&*s, move |tx| -> kinfolk::Result<()> {
        tx.put_user(&l)?;
        tx.insert_username_claim(&claim(&l))?;
        tx.insert_edge(&edge(EdgeKind::Follow, l.id, kid, 2))?;
        let r = room(l.id);
        tx.put_room(&r)?;
        tx.put_membership(&membership(r.id, l.id, 2))?;
        tx.insert_connected_account(&account(l.id, "github", "1", 0))?;
        tx.delete_user(kid)?;
        tx.append_change(at(1), Change::UserRegistered { user: l.id })?;
        Err(Error::Blocked)
    })
    .await;
    assert!(
        matches!(err, Err(Error::Blocked)),
        "the job's error, unchanged: {err:?}"
    );

    // Every record kind rolls back: the conformance case
    // storage::atomic_failed_write_job_rolls_back_everything checks each one
    // on this store. Here: the feed and its numbering.
    let (kept, feed, last) = r(&*s, move |tx| {
        Ok((tx.user(kid)?, tx.changes_since(0, 10)?, tx.last_seq()?))
    })
    .await
    .unwrap();
    assert_eq!(kept, Some(keep), "the deleted user is back");
    assert_eq!(feed.len(), 1);
    assert_eq!(last, 1);
    // The next event takes the next number: the failed job used none.
    let seq = w(&*s, move |tx| {
        tx.append_change(at(2), Change::ProfileUpdated { user: kid })
    })
    .await
    .unwrap();
    assert_eq!(seq, 2);
}

#[tokio::test]
async fn a_panicking_job_is_a_storage_error_and_the_store_goes_on() {
    let s = mem();
    let u = user("panicky");
    let u2 = u.clone();
    let err = w(&*s, move |tx| -> kinfolk::Result<()> {
        tx.put_user(&u2)?;
        panic!("a bug in a job");
    })
    .await;
    assert!(matches!(err, Err(Error::Storage(_))), "{err:?}");
    let err = r(&*s, |_tx| -> kinfolk::Result<()> {
        panic!("a bug in a read")
    })
    .await;
    assert!(matches!(err, Err(Error::Storage(_))), "{err:?}");
    let id = u.id;
    assert!(r(&*s, move |tx| tx.user(id)).await.unwrap().is_none());
    let u3 = u.clone();
    w(&*s, move |tx| tx.put_user(&u3)).await.unwrap();
    assert_eq!(r(&*s, move |tx| tx.user(id)).await.unwrap(), Some(u));
}

#[tokio::test]
async fn memberships_are_ordered_both_ways_and_replacing_one_reindexes_it() {
    let s = mem();
    let ids = neighbours::<4>();
    let (u, v) = (ids[1], ids[2]);
    let rooms: Vec<_> = (0..4).map(|_| room(u)).collect();
    let rs = rooms.clone();
    w(&*s, move |tx| {
        for (i, rm) in rs.iter().enumerate() {
            tx.put_room(rm)?;
            tx.put_membership(&membership(rm.id, u, 10 + i as u64))?;
        }
        tx.put_membership(&membership(rs[0].id, v, 5))?;
        tx.put_membership(&membership(rs[0].id, ids[0], 20))?;
        tx.put_membership(&membership(rs[1].id, ids[3], 21))?;
        Ok(())
    })
    .await
    .unwrap();

    let seqs = |v: &Vec<kinfolk::Membership>| v.iter().map(|m| m.seq).collect::<Vec<_>>();
    let mine = r(&*s, move |tx| tx.memberships_of(u, None, 3))
        .await
        .unwrap();
    assert_eq!(seqs(&mine), vec![13, 12, 11]);
    assert!(
        r(&*s, move |tx| tx.memberships_of(u, Some(0), 3))
            .await
            .unwrap()
            .is_empty()
    );
    let more = r(&*s, move |tx| tx.memberships_of(u, Some(11), 3))
        .await
        .unwrap();
    assert_eq!(seqs(&more), vec![10]);
    let r0 = rooms[0].id;
    let members = r(&*s, move |tx| tx.members(r0, None, 2)).await.unwrap();
    assert_eq!(seqs(&members), vec![5, 10]);
    let rest = r(&*s, move |tx| tx.members(r0, Some(10), 10))
        .await
        .unwrap();
    assert_eq!(seqs(&rest), vec![20]);
    assert!(
        r(&*s, move |tx| tx.members(r0, Some(u64::MAX), 10))
            .await
            .unwrap()
            .is_empty()
    );

    // Re-putting a membership with a new seq moves it in both indexes.
    w(&*s, move |tx| tx.put_membership(&membership(r0, u, 30)))
        .await
        .unwrap();
    let mine = r(&*s, move |tx| tx.memberships_of(u, None, 10))
        .await
        .unwrap();
    assert_eq!(seqs(&mine), vec![30, 13, 12, 11]);
    let members = r(&*s, move |tx| tx.members(r0, None, 10)).await.unwrap();
    assert_eq!(seqs(&members), vec![5, 20, 30]);

    let some = r(&*s, move |tx| tx.memberships_in(r0, &[u, ids[3], v, u]))
        .await
        .unwrap();
    let mut who: Vec<UserId> = some.iter().map(|m| m.user).collect();
    who.sort();
    assert_eq!(who, vec![u, v]);

    let gone = w(&*s, move |tx| tx.delete_membership(r0, u)).await.unwrap();
    assert_eq!(gone.map(|m| m.seq), Some(30));
    assert!(
        w(&*s, move |tx| tx.delete_membership(r0, u))
            .await
            .unwrap()
            .is_none()
    );
    let mine = r(&*s, move |tx| tx.memberships_of(u, None, 10))
        .await
        .unwrap();
    assert_eq!(seqs(&mine), vec![13, 12, 11]);
    let members = r(&*s, move |tx| tx.members(r0, None, 10)).await.unwrap();
    assert_eq!(seqs(&members), vec![5, 20]);
}

#[tokio::test]
async fn rooms_and_users_by_id_and_in_id_order() {
    let s = mem();
    let users: Vec<_> = (0..5).map(|i| user(&format!("user{i}"))).collect();
    let us = users.clone();
    let rm = room(users[0].id);
    let rm2 = rm.clone();
    w(&*s, move |tx| {
        for u in &us {
            tx.put_user(u)?;
        }
        tx.put_room(&rm2)
    })
    .await
    .unwrap();
    let mut sorted = users.clone();
    sorted.sort_by_key(|u| u.id);
    let first = r(&*s, |tx| tx.users_after(None, 2)).await.unwrap();
    assert_eq!(first, sorted[..2].to_vec());
    let after = sorted[1].id;
    let next = r(&*s, move |tx| tx.users_after(Some(after), 10))
        .await
        .unwrap();
    assert_eq!(next, sorted[2..].to_vec());

    let (a, b) = (users[3].id, UserId::new());
    let some = r(&*s, move |tx| tx.users(&[a, b, a])).await.unwrap();
    assert_eq!(some, vec![users[3].clone()]);
    let (rid, missing) = (rm.id, kinfolk::RoomId::new());
    let rooms = r(&*s, move |tx| tx.rooms(&[missing, rid])).await.unwrap();
    assert_eq!(rooms, vec![rm.clone()]);

    w(&*s, move |tx| {
        tx.delete_user(a)?;
        tx.delete_room(rid)
    })
    .await
    .unwrap();
    let (u, rr) = r(&*s, move |tx| Ok((tx.user(a)?, tx.room(rid)?)))
        .await
        .unwrap();
    assert!(u.is_none() && rr.is_none());
}

#[tokio::test]
async fn connected_accounts_are_unique_and_listed_oldest_first() {
    let s = mem();
    let (u, v) = (UserId::new(), UserId::new());
    w(&*s, move |tx| {
        tx.insert_connected_account(&account(u, "github", "42", 30))?;
        tx.insert_connected_account(&account(u, "google", "x", 10))?;
        tx.insert_connected_account(&account(u, "git", "hub42", 20))?;
        tx.insert_connected_account(&account(v, "gitlab", "7", 0))
    })
    .await
    .unwrap();
    let dup = w(&*s, move |tx| {
        tx.insert_connected_account(&account(v, "github", "42", 99))
    })
    .await;
    assert!(matches!(dup, Err(Error::Conflict { .. })), "{dup:?}");
    let mine = r(&*s, move |tx| tx.connected_accounts_of(u)).await.unwrap();
    let names: Vec<_> = mine.iter().map(|a| a.provider.as_str()).collect();
    assert_eq!(names, vec!["google", "git", "github"]);
    let one = r(&*s, |tx| tx.connected_account("git", "hub42"))
        .await
        .unwrap();
    assert_eq!(one.map(|a| a.user), Some(u));
    assert!(
        r(&*s, |tx| tx.connected_account("gith", "ub42"))
            .await
            .unwrap()
            .is_none()
    );

    let gone = w(&*s, |tx| tx.delete_connected_account("github", "42"))
        .await
        .unwrap();
    assert_eq!(gone.map(|a| a.user), Some(u));
    assert!(
        w(&*s, |tx| tx.delete_connected_account("github", "42"))
            .await
            .unwrap()
            .is_none()
    );
    let mine = r(&*s, move |tx| tx.connected_accounts_of(u)).await.unwrap();
    assert_eq!(mine.len(), 2);
    // Linkable again, by anyone.
    w(&*s, move |tx| {
        tx.insert_connected_account(&account(v, "github", "42", 99))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_write_sees_its_own_writes() {
    let s = mem();
    let u = user("selfie");
    let seen = w(&*s, move |tx| {
        tx.put_user(&u)?;
        tx.insert_edge(&edge(EdgeKind::Mute, u.id, UserId::new(), 4))?;
        let seq = tx.append_change(at(0), Change::UserRegistered { user: u.id })?;
        Ok((
            tx.user(u.id)?.is_some(),
            tx.edges(EdgeKind::Mute, kinfolk::Anchor::From(u.id), None, 5)?
                .len(),
            tx.last_seq()? == seq,
        ))
    })
    .await
    .unwrap();
    assert_eq!(seen, (true, 1, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_do_not_wait_for_a_running_write() {
    let s = mem();
    let u = user("slowpoke");
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let s = s.clone();
        let u = u.clone();
        tokio::spawn(async move {
            w(&*s, move |tx| {
                tx.put_user(&u)?;
                started_tx.send(()).ok();
                // Hold the write transaction open until the test says so.
                if let Ok(rx) = release_rx.lock() {
                    rx.recv_timeout(Duration::from_secs(10)).ok();
                }
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    // The write is open and holds an uncommitted user: a read completes and does not see it.
    let id = u.id;
    let during = tokio::time::timeout(Duration::from_secs(5), r(&*s, move |tx| tx.user(id)))
        .await
        .expect("a read finished while the write was open")
        .unwrap();
    assert!(during.is_none());
    release_tx.send(()).unwrap();
    writer.await.unwrap().unwrap();
    assert!(r(&*s, move |tx| tx.user(id)).await.unwrap().is_some());
}

#[test]
fn futures_complete_without_tokio() {
    let s = mem();
    let u = user("plain");
    let id = u.id;
    futures::executor::block_on(async {
        w(&*s, move |tx| tx.put_user(&u)).await.unwrap();
        assert!(r(&*s, move |tx| tx.user(id)).await.unwrap().is_some());
    });
    // And from a thread of its own, as the search indexer does.
    let s2 = s.clone();
    let found =
        std::thread::spawn(move || futures::executor::block_on(r(&*s2, move |tx| tx.user(id))))
            .join()
            .unwrap()
            .unwrap();
    assert!(found.is_some());
}

#[tokio::test]
async fn the_store_is_a_dyn_store() {
    let s: Arc<dyn Store> = mem();
    assert_eq!(r(&*s, |tx| tx.last_seq()).await.unwrap(), 0);
    assert!(format!("{s:?}").contains("RedbStore"));
}
