//! Operating a store (issue 17): `Kinfolk::check` finds what a bug or a
//! hand edit left behind, and `Kinfolk::fix_counters` repairs counter drift,
//! on every store. The damage is done through the store port directly
//! (`kinfolk::store::write`, which bypasses every rule), as a buggy writer
//! or a partial restore would.

use kinfolk::Clock;
use kinfolk::check::{Counter, Finding};
use kinfolk::{Edge, EdgeKind, NewRoom, RoomKind, RoomName, RoomVisibility, UserId, store::write};

use crate::fixtures::{check_invariants, follow, user};
use crate::{Ctx, TestResult};

/// Sets a user's counters to `f(counts)` without touching any edge.
async fn corrupt_counts(
    svc: &kinfolk::Kinfolk,
    id: UserId,
    f: fn(&mut kinfolk::profile::Counts),
) -> TestResult {
    write(svc.store().as_ref(), move |tx| {
        let mut u = tx
            .user(id)?
            .ok_or(kinfolk::Error::NotFound { what: "user" })?;
        f(&mut u.counts);
        tx.put_user(&u)
    })
    .await?;
    Ok(())
}

pub async fn check_finds_counter_drift_and_fix_counters_repairs_it(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let ada = user(svc, "ada").await;
    let bob = user(svc, "bob").await;
    let _carol = user(svc, "carol").await;
    follow(svc, bob, ada).await;
    let room = svc
        .create_room(
            ada,
            NewRoom {
                kind: RoomKind::Group,
                name: RoomName::parse("Engines")?,
                visibility: RoomVisibility::Public,
            },
        )
        .await?;
    let sound = svc.check().await?;
    assert!(sound.is_sound(), "{:?}", sound.findings);
    assert_eq!((sound.users, sound.follows, sound.rooms), (3, 1, 1));

    corrupt_counts(svc, ada, |c| c.followers = 5).await?;
    corrupt_counts(svc, bob, |c| {
        c.following = 0;
        c.rooms = 2;
    })
    .await?;
    write(svc.store().as_ref(), move |tx| {
        let mut r = tx
            .room(room.id)?
            .ok_or(kinfolk::Error::NotFound { what: "room" })?;
        r.member_count = 9;
        tx.put_room(&r)
    })
    .await?;

    let report = svc.check().await?;
    let drift: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.is_counter_drift())
        .cloned()
        .collect();
    assert!(drift.contains(&Finding::CounterDrift {
        user: ada,
        counter: Counter::Followers,
        stored: 5,
        actual: 1,
    }));
    assert!(drift.contains(&Finding::CounterDrift {
        user: bob,
        counter: Counter::Following,
        stored: 0,
        actual: 1,
    }));
    assert!(drift.contains(&Finding::CounterDrift {
        user: bob,
        counter: Counter::Rooms,
        stored: 2,
        actual: 0,
    }));
    assert!(drift.contains(&Finding::MemberCountDrift {
        room: room.id,
        stored: 9,
        actual: 1,
    }));
    assert_eq!(drift.len(), 4, "{drift:?}");
    assert!(check_invariants(svc).await.is_err());

    let repair = svc.fix_counters().await?;
    assert_eq!((repair.users_checked, repair.users_fixed), (3, 2));
    assert_eq!((repair.rooms_checked, repair.rooms_fixed), (1, 1));
    let after = svc.check().await?;
    assert!(after.is_sound(), "{:?}", after.findings);
    check_invariants(svc).await?;
    assert_eq!(svc.me(ada).await?.stats.followers_count, 1);
    // Idempotent: a sound store is left as it is.
    let again = svc.fix_counters().await?;
    assert_eq!((again.users_fixed, again.rooms_fixed), (0, 0));
    Ok(())
}

pub async fn check_finds_a_follow_beside_a_block(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let ada = user(svc, "ada").await;
    let bob = user(svc, "bob").await;
    svc.block(ada, bob).await?;
    let now = ctx.clock.now();
    write(svc.store().as_ref(), move |tx| {
        let seq = tx.append_change(
            now,
            kinfolk::Change::Followed {
                follower: bob,
                followee: ada,
            },
        )?;
        tx.insert_edge(&Edge {
            kind: EdgeKind::Follow,
            from: bob,
            to: ada,
            since: now,
            seq,
            until: None,
        })
    })
    .await?;
    let report = svc.check().await?;
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::EdgeConflict { user, other, .. } if *user == bob && *other == ada)),
        "{:?}",
        report.findings
    );
    // Not a counter: the repair leaves it for a person to judge.
    svc.fix_counters().await?;
    assert!(
        svc.check()
            .await?
            .findings
            .iter()
            .any(|f| f.kind() == "edge_conflict")
    );
    Ok(())
}
