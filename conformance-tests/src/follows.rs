//! SPEC §5: relationships, follows, follow requests, counters.

use kinfolk::{Clock, Config, FollowAction, PageRequest, ProfileView, Relationship, UserId};

use crate::fixtures::{
    assert_code, check_invariants, events_after, follow, make_private, seq, settings, user, users,
};
use crate::{Ctx, TestResult};

async fn rel(ctx: &Ctx, viewer: UserId, other: UserId) -> Relationship {
    ctx.svc
        .relationships(viewer, &[other])
        .await
        .expect("relationships")[0]
        .relationship
}

async fn counts(ctx: &Ctx, u: UserId) -> (u64, u64, u64) {
    let s = ctx.svc.me(u).await.expect("me").stats;
    (
        s.followers_count,
        s.following_count,
        s.pending_follow_requests,
    )
}

pub async fn follow_public_is_immediate(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "bob").await;
    let out = ctx.svc.toggle_follow(a, b, None).await?;
    assert!(out.changed);
    assert_eq!(
        out.relationship,
        Relationship {
            following: true,
            ..Default::default()
        }
    );
    assert_eq!(counts(&ctx, a).await, (0, 1, 0));
    assert_eq!(counts(&ctx, b).await, (1, 0, 0));
    assert!(rel(&ctx, b, a).await.followed_by);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn follow_private_creates_request(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let p = user(&ctx.svc, "private").await;
    make_private(&ctx.svc, p).await;
    let out = ctx
        .svc
        .toggle_follow(a, p, Some(FollowAction::Follow))
        .await?;
    assert!(out.changed);
    assert_eq!(
        out.relationship,
        Relationship {
            requested: true,
            ..Default::default()
        }
    );
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    assert_eq!(counts(&ctx, p).await, (0, 0, 1));
    let back = rel(&ctx, p, a).await;
    assert!(back.requested_by && !back.followed_by);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn toggle_none_flips_follow(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "flipper").await;
    let b = user(&ctx.svc, "target").await;
    for round in 0..3 {
        let on = ctx.svc.toggle_follow(a, b, None).await?;
        assert!(on.changed && on.relationship.following, "round {round} on");
        assert_eq!(counts(&ctx, b).await.0, 1);
        let off = ctx.svc.toggle_follow(a, b, None).await?;
        assert!(
            off.changed && !off.relationship.following,
            "round {round} off"
        );
        assert_eq!(counts(&ctx, b).await.0, 0);
        assert_eq!(counts(&ctx, a).await.1, 0);
    }
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn toggle_none_withdraws_request(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "asker").await;
    let p = user(&ctx.svc, "locked").await;
    make_private(&ctx.svc, p).await;
    let on = ctx.svc.toggle_follow(a, p, None).await?;
    assert!(on.changed && on.relationship.requested);
    let off = ctx.svc.toggle_follow(a, p, None).await?;
    assert!(off.changed);
    assert_eq!(off.relationship, Relationship::default());
    assert_eq!(counts(&ctx, p).await, (0, 0, 0));
    assert!(
        ctx.svc
            .follow_requests(p, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    Ok(())
}

pub async fn force_follow_idempotent(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "eager").await;
    let b = user(&ctx.svc, "star").await;
    assert!(
        ctx.svc
            .toggle_follow(a, b, Some(FollowAction::Follow))
            .await?
            .changed
    );
    let before = seq(&ctx.svc).await;
    for _ in 0..3 {
        let again = ctx
            .svc
            .toggle_follow(a, b, Some(FollowAction::Follow))
            .await?;
        assert!(!again.changed);
        assert!(again.relationship.following);
    }
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, b).await.0, 1);
    assert_eq!(counts(&ctx, a).await.1, 1);
    Ok(())
}

pub async fn force_follow_on_pending_request_is_noop(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "patient").await;
    let p = user(&ctx.svc, "gatekeeper").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, a, p).await;
    let before = seq(&ctx.svc).await;
    let again = ctx
        .svc
        .toggle_follow(a, p, Some(FollowAction::Follow))
        .await?;
    assert!(!again.changed);
    assert!(again.relationship.requested && !again.relationship.following);
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, p).await, (0, 0, 1));
    Ok(())
}

pub async fn force_unfollow_idempotent(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "leaver").await;
    let b = user(&ctx.svc, "left").await;
    let before = seq(&ctx.svc).await;
    let none = ctx
        .svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(!none.changed);
    assert_eq!(none.relationship, Relationship::default());
    assert_eq!(
        seq(&ctx.svc).await,
        before,
        "unfollowing nobody appends nothing"
    );
    follow(&ctx.svc, a, b).await;
    let off = ctx
        .svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(off.changed && !off.relationship.following);
    let again = ctx
        .svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(!again.changed);
    assert_eq!(counts(&ctx, b).await, (0, 0, 0));
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    Ok(())
}

pub async fn force_unfollow_withdraws_request(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "regret").await;
    let p = user(&ctx.svc, "closed").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, a, p).await;
    let off = ctx
        .svc
        .toggle_follow(a, p, Some(FollowAction::Unfollow))
        .await?;
    assert!(off.changed);
    assert!(!off.relationship.requested);
    assert_eq!(counts(&ctx, p).await, (0, 0, 0));
    let again = ctx
        .svc
        .toggle_follow(a, p, Some(FollowAction::Unfollow))
        .await?;
    assert!(!again.changed);
    Ok(())
}

pub async fn changed_flag_matches_feed(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "flagger").await;
    let b = user(&ctx.svc, "public").await;
    let p = user(&ctx.svc, "private").await;
    make_private(&ctx.svc, p).await;
    let actions = [
        None,
        Some(FollowAction::Follow),
        Some(FollowAction::Unfollow),
        Some(FollowAction::Unfollow),
        Some(FollowAction::Follow),
        None,
        None,
    ];
    for target in [b, p] {
        for action in actions {
            let before = seq(&ctx.svc).await;
            let out = ctx.svc.toggle_follow(a, target, action).await?;
            let after = seq(&ctx.svc).await;
            assert_eq!(
                out.changed,
                after > before,
                "changed flag vs feed for {action:?}"
            );
            assert_eq!(out.relationship, rel(&ctx, a, target).await);
        }
    }
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn self_follow_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "narcissus").await;
    let before = seq(&ctx.svc).await;
    for action in [
        None,
        Some(FollowAction::Follow),
        Some(FollowAction::Unfollow),
    ] {
        assert_code(
            ctx.svc.toggle_follow(a, a, action).await,
            "cannot_follow_self",
        );
    }
    make_private(&ctx.svc, a).await;
    assert_code(
        ctx.svc.toggle_follow(a, a, None).await,
        "cannot_follow_self",
    );
    assert_eq!(
        events_after(&ctx.svc, before).await,
        1,
        "only the settings change"
    );
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    Ok(())
}

pub async fn unknown_target_not_found(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "seeker").await;
    let before = seq(&ctx.svc).await;
    for action in [None, Some(FollowAction::Follow)] {
        assert_code(
            ctx.svc.toggle_follow(a, UserId::new(), action).await,
            "not_found",
        );
    }
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    // A deleted user is unknown too.
    let gone = user(&ctx.svc, "gone").await;
    ctx.svc.delete_account(gone).await?;
    assert_code(ctx.svc.toggle_follow(a, gone, None).await, "not_found");
    Ok(())
}

pub async fn deactivated_target_not_found(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "fan").await;
    let b = user(&ctx.svc, "sleeper").await;
    ctx.svc.deactivate(b).await?;
    let before = seq(&ctx.svc).await;
    assert_code(
        ctx.svc
            .toggle_follow(a, b, Some(FollowAction::Follow))
            .await,
        "not_found",
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, b).await, (0, 0, 0));
    ctx.svc.reactivate(b).await?;
    assert!(ctx.svc.toggle_follow(a, b, None).await?.changed);
    Ok(())
}

pub async fn actor_blocks_target_blocked(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "blocker").await;
    let b = user(&ctx.svc, "blockee").await;
    ctx.svc.block(a, b).await?;
    let before = seq(&ctx.svc).await;
    for action in [None, Some(FollowAction::Follow)] {
        assert_code(ctx.svc.toggle_follow(a, b, action).await, "blocked");
    }
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, b).await, (0, 0, 0));
    ctx.svc.unblock(a, b).await?;
    assert!(ctx.svc.toggle_follow(a, b, None).await?.changed);
    Ok(())
}

pub async fn target_blocks_actor_not_found(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "walls").await;
    let b = user(&ctx.svc, "outside").await;
    ctx.svc.block(a, b).await?;
    let before = seq(&ctx.svc).await;
    // b cannot follow a, and is not told it is a block.
    for action in [None, Some(FollowAction::Follow)] {
        assert_code(ctx.svc.toggle_follow(b, a, action).await, "not_found");
    }
    make_private(&ctx.svc, a).await;
    assert_code(ctx.svc.toggle_follow(b, a, None).await, "not_found");
    assert_eq!(events_after(&ctx.svc, before).await, 1);
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn block_severs_both_directions_counters_adjusted(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "severer").await;
    let b = user(&ctx.svc, "severed").await;
    let c = user(&ctx.svc, "bystander").await;
    follow(&ctx.svc, a, b).await;
    follow(&ctx.svc, b, a).await;
    follow(&ctx.svc, c, a).await;
    follow(&ctx.svc, c, b).await;
    ctx.svc.block(a, b).await?;
    assert_eq!(counts(&ctx, a).await, (1, 0, 0), "c still follows a");
    assert_eq!(counts(&ctx, b).await, (1, 0, 0), "c still follows b");
    let r = rel(&ctx, a, b).await;
    assert!(r.blocking && !r.following && !r.followed_by);
    // Requests go too.
    let p = user(&ctx.svc, "privateone").await;
    let q = user(&ctx.svc, "requester").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, q, p).await;
    ctx.svc.block(q, p).await?;
    assert_eq!(counts(&ctx, p).await, (0, 0, 0));
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn cap_limit_exceeded_at_edge(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 3,
        ..Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "collector").await;
    let targets = users(&ctx.svc, "tgt", 4).await;
    for t in &targets[..3] {
        assert!(ctx.svc.toggle_follow(a, *t, None).await?.changed);
    }
    assert_eq!(counts(&ctx, a).await.1, 3);
    let before = seq(&ctx.svc).await;
    match ctx.svc.toggle_follow(a, targets[3], None).await {
        Err(e @ kinfolk::Error::LimitExceeded { limit, .. }) => {
            assert_eq!(limit, 3);
            assert_eq!(e.code(), "limit_exceeded");
        }
        other => panic!("expected limit_exceeded, got {other:?}"),
    }
    assert_code(
        ctx.svc
            .toggle_follow(a, targets[3], Some(FollowAction::Follow))
            .await,
        "limit_exceeded",
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(counts(&ctx, a).await.1, 3);
    assert_eq!(counts(&ctx, targets[3]).await.0, 0);
    // At the cap, an idempotent follow of someone already followed is fine.
    let same = ctx
        .svc
        .toggle_follow(a, targets[0], Some(FollowAction::Follow))
        .await?;
    assert!(!same.changed);
    // The cap is per follower: others are not affected.
    let b = user(&ctx.svc, "other").await;
    assert!(ctx.svc.toggle_follow(b, targets[3], None).await?.changed);
    Ok(())
}

pub async fn cap_applies_to_requests_and_frees_on_unfollow(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "limited").await;
    let t = users(&ctx.svc, "pub", 2).await;
    let p = user(&ctx.svc, "privy").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, a, t[0]).await;
    follow(&ctx.svc, a, t[1]).await;
    assert_code(ctx.svc.toggle_follow(a, p, None).await, "limit_exceeded");
    assert_eq!(counts(&ctx, p).await, (0, 0, 0), "no request was made");
    // Unfollowing frees a slot.
    ctx.svc
        .toggle_follow(a, t[0], Some(FollowAction::Unfollow))
        .await?;
    let out = ctx.svc.toggle_follow(a, p, None).await?;
    assert!(out.changed && out.relationship.requested);
    assert_eq!(counts(&ctx, p).await, (0, 0, 1));
    Ok(())
}

/// Issue 14 item 4: requests used to bypass the cap — a user with one
/// follow and a cap of 2 could send two requests and end at 3 follows once
/// both were approved. Follows plus pending outgoing requests now stay
/// within the cap when a request is sent, so approval never passes it.
pub async fn cap_counts_pending_outgoing_requests(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "asker").await;
    let b = user(&ctx.svc, "public_b").await;
    let p = users(&ctx.svc, "private", 2).await;
    for x in &p {
        make_private(&ctx.svc, *x).await;
    }
    follow(&ctx.svc, a, b).await;
    let out = ctx.svc.toggle_follow(a, p[0], None).await?;
    assert!(out.relationship.requested);
    let before = seq(&ctx.svc).await;
    assert_code(ctx.svc.toggle_follow(a, p[1], None).await, "limit_exceeded");
    assert_eq!(seq(&ctx.svc).await, before, "no second request");
    assert_eq!(counts(&ctx, p[1]).await, (0, 0, 0));
    // Approving the one request reaches the cap, never passes it.
    ctx.svc.approve_follow_request(p[0], a).await?;
    assert_eq!(counts(&ctx, a).await.1, 2);
    assert_code(ctx.svc.toggle_follow(a, p[1], None).await, "limit_exceeded");
    // Withdrawing a request frees its slot.
    ctx.svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(ctx.svc.toggle_follow(a, p[1], None).await?.changed);
    assert_code(ctx.svc.toggle_follow(a, b, None).await, "limit_exceeded");
    ctx.svc
        .toggle_follow(a, p[1], Some(FollowAction::Unfollow))
        .await?;
    assert!(ctx.svc.toggle_follow(a, b, None).await?.changed);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// Issue 14 item 2: with a cap of 2, A follows B and C and both
/// deactivate; unfollowing B used to give `not_found`, so the slots could
/// never be freed. Unfollow, withdrawing a request and removing a follower
/// only remove the actor's own edges and now work when the other side is
/// deactivated; follows of deactivated users keep their slot (documented on
/// `toggle_follow`) until removed; following a deactivated user stays
/// `not_found`.
pub async fn unfollow_cancel_and_remove_work_when_other_side_deactivated(
    mut ctx: Ctx,
) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let svc = ctx.svc.clone();
    let a = user(&svc, "anna").await;
    let b = user(&svc, "bert").await;
    let c = user(&svc, "carl").await;
    let d = user(&svc, "dora").await;
    let p = user(&svc, "pia_private").await;
    make_private(&svc, p).await;
    follow(&svc, a, b).await;
    follow(&svc, a, c).await;
    svc.deactivate(b).await?;
    svc.deactivate(c).await?;
    assert_eq!(counts(&ctx, a).await.1, 2, "the edges are kept");
    assert_code(svc.toggle_follow(a, d, None).await, "limit_exceeded");
    // Forced unfollow and a flip both remove the own edge.
    let out = svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(out.changed && !out.relationship.following);
    let out = svc.toggle_follow(a, c, None).await?;
    assert!(out.changed && !out.relationship.following);
    assert_eq!(counts(&ctx, a).await.1, 0);
    // Following a deactivated user is still refused.
    assert_code(
        svc.toggle_follow(a, b, Some(FollowAction::Follow)).await,
        "not_found",
    );
    // A pending request to a user who then deactivates can be withdrawn.
    let out = svc.toggle_follow(a, p, None).await?;
    assert!(out.relationship.requested);
    svc.deactivate(p).await?;
    let out = svc
        .toggle_follow(a, p, Some(FollowAction::Unfollow))
        .await?;
    assert!(out.changed && !out.relationship.requested);
    // A deactivated follower can be removed.
    follow(&svc, d, a).await;
    svc.deactivate(d).await?;
    assert!(svc.remove_follower(a, d).await?);
    assert_eq!(counts(&ctx, a).await.0, 0);
    // Reactivated users find the state their counterpart left.
    svc.reactivate(b).await?;
    svc.reactivate(p).await?;
    assert_eq!(counts(&ctx, b).await.0, 0);
    assert_eq!(counts(&ctx, p).await.2, 0);
    check_invariants(&svc).await?;
    Ok(())
}

pub async fn mutual_follow_relationship(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "mutual_a").await;
    let b = user(&ctx.svc, "mutual_b").await;
    follow(&ctx.svc, a, b).await;
    let out = ctx.svc.toggle_follow(b, a, None).await?;
    assert_eq!(
        out.relationship,
        Relationship {
            following: true,
            followed_by: true,
            ..Default::default()
        }
    );
    assert_eq!(out.relationship, rel(&ctx, a, b).await);
    assert_eq!(counts(&ctx, a).await, (1, 1, 0));
    assert_eq!(counts(&ctx, b).await, (1, 1, 0));
    Ok(())
}

pub async fn relationship_on_public_profile(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "looker").await;
    let b = user(&ctx.svc, "looked").await;
    follow(&ctx.svc, a, b).await;
    ctx.svc.mute(a, b, None).await?;
    match ctx.svc.get_profile(Some(a), "looked").await? {
        ProfileView::Public(p) => {
            let r = p.relationship.expect("relationship for a signed-in viewer");
            assert!(r.following && r.muting && !r.followed_by);
            assert_eq!(r.muted_until, None);
        }
        other => panic!("{other:?}"),
    }
    match ctx.svc.get_profile(Some(b), "looker").await? {
        ProfileView::Public(p) => {
            let r = p.relationship.expect("relationship");
            assert!(r.followed_by && !r.following && !r.muting);
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

pub async fn relationships_batch_all_fields(ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "viewer").await;
    let following = user(&ctx.svc, "followed").await;
    let follower = user(&ctx.svc, "follower").await;
    let requested = user(&ctx.svc, "requested").await;
    let requester = user(&ctx.svc, "requester").await;
    let blocked = user(&ctx.svc, "blocked").await;
    let muted = user(&ctx.svc, "muted").await;
    let stranger = user(&ctx.svc, "stranger").await;
    let sleeper = user(&ctx.svc, "sleeper").await;
    let unknown = UserId::new();
    follow(&ctx.svc, v, following).await;
    follow(&ctx.svc, follower, v).await;
    make_private(&ctx.svc, requested).await;
    follow(&ctx.svc, v, requested).await;
    make_private(&ctx.svc, v).await;
    follow(&ctx.svc, requester, v).await;
    ctx.svc.block(v, blocked).await?;
    let until = ctx.clock.now() + chrono::Duration::days(2);
    ctx.svc.mute(v, muted, Some(until)).await?;
    follow(&ctx.svc, v, sleeper).await;
    ctx.svc.deactivate(sleeper).await?;
    let ids = [
        stranger, following, follower, requested, requester, blocked, muted, v, unknown, sleeper,
        following,
    ];
    let got = ctx.svc.relationships(v, &ids).await?;
    assert_eq!(got.len(), ids.len());
    for (entry, id) in got.iter().zip(ids) {
        assert_eq!(entry.user, id, "order as asked, duplicates kept");
    }
    let r = |following, followed_by, requested, requested_by, blocking| Relationship {
        following,
        followed_by,
        requested,
        requested_by,
        blocking,
        muting: false,
        muted_until: None,
    };
    assert_eq!(got[0].relationship, Relationship::default());
    assert_eq!(got[1].relationship, r(true, false, false, false, false));
    assert_eq!(got[2].relationship, r(false, true, false, false, false));
    assert_eq!(got[3].relationship, r(false, false, true, false, false));
    assert_eq!(got[4].relationship, r(false, false, false, true, false));
    assert_eq!(got[5].relationship, r(false, false, false, false, true));
    assert_eq!(
        got[6].relationship,
        Relationship {
            muting: true,
            muted_until: Some(until),
            ..Default::default()
        }
    );
    assert_eq!(got[7].relationship, Relationship::default(), "self");
    assert_eq!(got[8].relationship, Relationship::default(), "unknown");
    assert_eq!(got[9].relationship, Relationship::default(), "deactivated");
    assert_eq!(got[10].relationship, got[1].relationship);
    assert!(ctx.svc.relationships(v, &[]).await?.is_empty());
    Ok(())
}

pub async fn relationships_limit_100(ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "batcher").await;
    let t = user(&ctx.svc, "batched").await;
    follow(&ctx.svc, v, t).await;
    let mut ids: Vec<UserId> = (0..99).map(|_| UserId::new()).collect();
    ids.push(t);
    let got = ctx.svc.relationships(v, &ids).await?;
    assert_eq!(got.len(), 100);
    assert!(got[99].relationship.following);
    ids.push(UserId::new());
    match ctx.svc.relationships(v, &ids).await {
        Err(kinfolk::Error::Validation { field, .. }) => assert_eq!(field, "ids"),
        other => panic!("expected validation(ids), got {other:?}"),
    }
    assert_code(
        ctx.svc.relationships(UserId::new(), &[t]).await,
        "unauthenticated",
    );
    Ok(())
}

pub async fn relationships_never_reveal_being_blocked(ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "unaware").await;
    let b = user(&ctx.svc, "blocksv").await;
    follow(&ctx.svc, v, b).await;
    ctx.svc.mute(v, b, None).await?;
    ctx.svc.block(b, v).await?;
    let got = ctx.svc.relationships(v, &[b]).await?;
    assert_eq!(got[0].relationship, Relationship::default());
    let json = serde_json::to_string(&got)?;
    assert!(!json.contains("blocked_by"), "{json}");
    // The blocker does see its own block.
    assert!(rel(&ctx, b, v).await.blocking);
    Ok(())
}

pub async fn relationships_timed_mute_ends(ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "muter").await;
    let m = user(&ctx.svc, "mutee").await;
    let until = ctx.clock.now() + chrono::Duration::hours(1);
    ctx.svc.mute(v, m, Some(until)).await?;
    let r = rel(&ctx, v, m).await;
    assert!(r.muting);
    assert_eq!(r.muted_until, Some(until));
    ctx.clock.advance(chrono::Duration::hours(1));
    let r = rel(&ctx, v, m).await;
    assert!(!r.muting);
    assert_eq!(r.muted_until, None);
    Ok(())
}

pub async fn approve_request_moves_counters(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "approver").await;
    let a = user(&ctx.svc, "applicant").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, a, p).await;
    let r = ctx.svc.approve_follow_request(p, a).await?;
    assert_eq!(
        r,
        Relationship {
            followed_by: true,
            ..Default::default()
        }
    );
    assert_eq!(counts(&ctx, p).await, (1, 0, 0));
    assert_eq!(counts(&ctx, a).await, (0, 1, 0));
    let ar = rel(&ctx, a, p).await;
    assert!(ar.following && !ar.requested);
    // Already approved: no request left.
    assert_code(ctx.svc.approve_follow_request(p, a).await, "not_found");
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn reject_request_keeps_counters(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "rejecter").await;
    let a = user(&ctx.svc, "rejected").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, a, p).await;
    let r = ctx.svc.reject_follow_request(p, a).await?;
    assert_eq!(r, Relationship::default());
    assert_eq!(counts(&ctx, p).await, (0, 0, 0));
    assert_eq!(counts(&ctx, a).await, (0, 0, 0));
    assert_eq!(rel(&ctx, a, p).await, Relationship::default());
    assert_code(ctx.svc.reject_follow_request(p, a).await, "not_found");
    // The requester may ask again.
    assert!(
        ctx.svc
            .toggle_follow(a, p, None)
            .await?
            .relationship
            .requested
    );
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn approve_reject_without_request_not_found(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "nobodyasked").await;
    let f = user(&ctx.svc, "plainfan").await;
    follow(&ctx.svc, f, p).await; // a follow, not a request
    let before = seq(&ctx.svc).await;
    for who in [f, UserId::new(), p] {
        match ctx.svc.approve_follow_request(p, who).await {
            Err(kinfolk::Error::NotFound { what }) => assert_eq!(what, "follow_request"),
            other => panic!("expected not_found(follow_request), got {other:?}"),
        }
        assert_code(ctx.svc.reject_follow_request(p, who).await, "not_found");
    }
    // A request to someone else cannot be approved by p.
    let q = user(&ctx.svc, "otherprivate").await;
    make_private(&ctx.svc, q).await;
    follow(&ctx.svc, f, q).await;
    let mid = seq(&ctx.svc).await;
    assert_code(ctx.svc.approve_follow_request(p, f).await, "not_found");
    assert_eq!(seq(&ctx.svc).await, mid);
    assert!(mid > before);
    assert_eq!(counts(&ctx, p).await, (1, 0, 0));
    assert_eq!(counts(&ctx, q).await, (0, 0, 1));
    Ok(())
}

pub async fn follow_requests_list_paginated(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "popular").await;
    make_private(&ctx.svc, p).await;
    let askers = users(&ctx.svc, "asker", 5).await;
    for a in &askers {
        follow(&ctx.svc, *a, p).await;
    }
    let ids = crate::fixtures::walk_ids(2, |req| ctx.svc.follow_requests(p, req)).await?;
    let newest_first: Vec<UserId> = askers.iter().rev().copied().collect();
    assert_eq!(ids, newest_first);
    let page = ctx.svc.follow_requests(p, PageRequest::first()).await?;
    assert_eq!(page.items.len(), 5);
    assert!(page.next_cursor.is_none());
    assert!(
        page.items
            .iter()
            .all(|r| r.relationship.is_some_and(|r| r.requested_by))
    );
    // Approve one, reject one: the list shrinks accordingly.
    ctx.svc.approve_follow_request(p, askers[0]).await?;
    ctx.svc.reject_follow_request(p, askers[1]).await?;
    let ids = crate::fixtures::walk_ids(100, |req| ctx.svc.follow_requests(p, req)).await?;
    assert_eq!(ids, vec![askers[4], askers[3], askers[2]]);
    assert_code(
        ctx.svc.follow_requests(p, PageRequest::with_limit(0)).await,
        "validation",
    );
    assert_code(
        ctx.svc
            .follow_requests(p, PageRequest::with_limit(101))
            .await,
        "validation",
    );
    assert_eq!(
        ctx.svc
            .follow_requests(p, PageRequest::with_limit(100))
            .await?
            .items
            .len(),
        3
    );
    assert_code(
        ctx.svc
            .follow_requests(p, PageRequest::after("garbage", None))
            .await,
        "validation",
    );
    Ok(())
}

pub async fn remove_follower_removes_follow(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "curator").await;
    let f = user(&ctx.svc, "unwanted").await;
    follow(&ctx.svc, f, u).await;
    follow(&ctx.svc, u, f).await;
    assert!(ctx.svc.remove_follower(u, f).await?);
    assert_eq!(counts(&ctx, u).await, (0, 1, 0), "u still follows f");
    assert_eq!(counts(&ctx, f).await, (1, 0, 0));
    let r = rel(&ctx, u, f).await;
    assert!(r.following && !r.followed_by);
    // Not a block: f may follow again.
    assert!(ctx.svc.toggle_follow(f, u, None).await?.changed);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn remove_follower_drops_pending_request(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "privateu").await;
    let f = user(&ctx.svc, "pending").await;
    make_private(&ctx.svc, u).await;
    follow(&ctx.svc, f, u).await;
    assert!(ctx.svc.remove_follower(u, f).await?);
    assert_eq!(counts(&ctx, u).await, (0, 0, 0));
    assert_eq!(rel(&ctx, f, u).await, Relationship::default());
    assert!(!ctx.svc.remove_follower(u, f).await?);
    Ok(())
}

pub async fn remove_follower_idempotent_and_unknown(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "lister").await;
    let f = user(&ctx.svc, "stranger").await;
    let before = seq(&ctx.svc).await;
    assert!(!ctx.svc.remove_follower(u, f).await?);
    assert_eq!(seq(&ctx.svc).await, before, "no change, no event");
    follow(&ctx.svc, f, u).await;
    assert!(ctx.svc.remove_follower(u, f).await?);
    let mid = seq(&ctx.svc).await;
    assert!(!ctx.svc.remove_follower(u, f).await?);
    assert_eq!(seq(&ctx.svc).await, mid);
    assert_code(ctx.svc.remove_follower(u, UserId::new()).await, "not_found");
    assert_code(
        ctx.svc.remove_follower(UserId::new(), f).await,
        "unauthenticated",
    );
    // f following u is one direction only: u removing f never touched u → f.
    assert_eq!(counts(&ctx, f).await, (0, 0, 0));
    // A deactivated follower can still be removed.
    follow(&ctx.svc, f, u).await;
    ctx.svc.deactivate(f).await?;
    assert!(ctx.svc.remove_follower(u, f).await?);
    assert_eq!(counts(&ctx, u).await, (0, 0, 0));
    ctx.svc.reactivate(f).await?;
    assert_eq!(counts(&ctx, f).await, (0, 0, 0));
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn only_approved_follows_count(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "exclusive").await;
    make_private(&ctx.svc, p).await;
    let fans = users(&ctx.svc, "fan", 4).await;
    for f in &fans {
        follow(&ctx.svc, *f, p).await;
    }
    assert_eq!(counts(&ctx, p).await, (0, 0, 4));
    for f in &fans {
        assert_eq!(counts(&ctx, *f).await.1, 0, "a request is not a follow");
    }
    let page = ctx.svc.followers(Some(p), p, PageRequest::first()).await?;
    assert!(page.items.is_empty());
    ctx.svc.approve_follow_request(p, fans[2]).await?;
    assert_eq!(counts(&ctx, p).await, (1, 0, 3));
    let page = ctx.svc.followers(Some(p), p, PageRequest::first()).await?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].user.id, fans[2]);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn counters_equal_edges_after_mixed_ops(ctx: Ctx) -> TestResult {
    let us = users(&ctx.svc, "mix", 6).await;
    settings(&ctx.svc, us[5], r#"{"privacy":{"private_account":true}}"#).await;
    for (i, a) in us.iter().enumerate() {
        for (j, b) in us.iter().enumerate() {
            if i != j && (i + j) % 2 == 1 {
                ctx.svc.toggle_follow(*a, *b, None).await?;
            }
        }
    }
    ctx.svc.toggle_follow(us[0], us[1], None).await?;
    ctx.svc.remove_follower(us[3], us[0]).await?;
    ctx.svc.block(us[2], us[3]).await?;
    ctx.svc.approve_follow_request(us[5], us[0]).await?;
    ctx.svc.reject_follow_request(us[5], us[2]).await?;
    check_invariants(&ctx.svc).await?;
    // Every counter equals the length of the owner's own list.
    let svc = &ctx.svc;
    let lists = |u: UserId| async move {
        let f = crate::fixtures::walk_ids(7, |req| svc.followers(Some(u), u, req)).await?;
        let g = crate::fixtures::walk_ids(7, |req| svc.following(Some(u), u, req)).await?;
        let r = crate::fixtures::walk_ids(7, |req| svc.follow_requests(u, req)).await?;
        Ok::<_, kinfolk::Error>((f.len() as u64, g.len() as u64, r.len() as u64))
    };
    for u in &us {
        assert_eq!(lists(*u).await?, counts(&ctx, *u).await, "user {u}");
    }
    // Deactivation hides rows but keeps edges and counters.
    let before: Vec<_> = {
        let mut v = Vec::new();
        for u in &us {
            v.push(counts(&ctx, *u).await);
        }
        v
    };
    ctx.svc.deactivate(us[4]).await?;
    check_invariants(&ctx.svc).await?;
    for (u, c) in us.iter().zip(&before) {
        assert_eq!(counts(&ctx, *u).await, *c);
    }
    ctx.svc.reactivate(us[4]).await?;
    for u in &us {
        assert_eq!(lists(*u).await?, counts(&ctx, *u).await, "user {u}");
    }
    Ok(())
}

pub async fn unfollow_then_refollow_private_needs_approval(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "strict").await;
    let f = user(&ctx.svc, "returning").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, f, p).await;
    ctx.svc.approve_follow_request(p, f).await?;
    assert!(rel(&ctx, f, p).await.following);
    ctx.svc
        .toggle_follow(f, p, Some(FollowAction::Unfollow))
        .await?;
    assert_eq!(counts(&ctx, p).await, (0, 0, 0));
    let again = ctx.svc.toggle_follow(f, p, None).await?;
    assert!(again.relationship.requested && !again.relationship.following);
    assert_eq!(counts(&ctx, p).await, (0, 0, 1));
    Ok(())
}
