//! SPEC §9: block, mute, deactivate, delete and export.

use chrono::Duration;
use kinfolk::{
    Anchor, Change, Clock, EdgeKind, Export, FollowAction, Kinfolk, NewRoom, NewUser, PageRequest,
    ProfileUpdate, ProfileView, Relationship, RoomId, RoomKind, RoomName, RoomRole, RoomVisibility,
    SearchScope, UserId, Username,
};

use crate::fixtures::{
    assert_code, check_invariants, follow, make_private, read_store, seq, user, users, walk_ids,
};
use crate::{Ctx, TestResult};

/// `viewer`'s relationship to `other` as `relationships` reports it.
async fn rel(svc: &Kinfolk, viewer: UserId, other: UserId) -> Relationship {
    svc.relationships(viewer, &[other])
        .await
        .unwrap_or_else(|e| panic!("relationships: {e}"))[0]
        .relationship
}

/// (followers, following, pending requests) from `me`.
async fn counts(svc: &Kinfolk, u: UserId) -> (u64, u64, u64) {
    let s = svc.me(u).await.unwrap_or_else(|e| panic!("me: {e}")).stats;
    (
        s.followers_count,
        s.following_count,
        s.pending_follow_requests,
    )
}

/// Every edge of any kind that touches `u`, in either direction.
async fn edges_touching(svc: &Kinfolk, u: UserId) -> Vec<kinfolk::Edge> {
    read_store(svc, move |tx| {
        let mut out = Vec::new();
        for kind in EdgeKind::ALL {
            for anchor in [Anchor::From(u), Anchor::To(u)] {
                out.extend(tx.edges(kind, anchor, None, 10_000)?);
            }
        }
        Ok(out)
    })
    .await
}

async fn followers_of(svc: &Kinfolk, viewer: Option<UserId>, u: UserId) -> Vec<UserId> {
    walk_ids(100, |p| svc.followers(viewer, u, p))
        .await
        .unwrap_or_else(|e| panic!("followers: {e}"))
}

async fn following_of(svc: &Kinfolk, viewer: Option<UserId>, u: UserId) -> Vec<UserId> {
    walk_ids(100, |p| svc.following(viewer, u, p))
        .await
        .unwrap_or_else(|e| panic!("following: {e}"))
}

/// The ids a discovery search for `q` finds for `viewer`, after making every
/// committed change searchable (an index may otherwise lag up to 1 s).
async fn discover(svc: &Kinfolk, viewer: Option<UserId>, q: &str) -> Vec<UserId> {
    svc.refresh_search()
        .await
        .unwrap_or_else(|e| panic!("refresh_search: {e}"));
    svc.search_users(
        viewer,
        q,
        SearchScope::Discovery,
        PageRequest::with_limit(50),
    )
    .await
    .unwrap_or_else(|e| panic!("search {q}: {e}"))
    .items
    .iter()
    .map(|r| r.user.id)
    .collect()
}

fn new_room(name: &str, vis: RoomVisibility) -> NewRoom {
    NewRoom {
        kind: RoomKind::Group,
        name: RoomName::parse(name).unwrap_or_else(|e| panic!("{e}")),
        visibility: vis,
    }
}

async fn role(svc: &Kinfolk, r: RoomId, u: UserId) -> Option<RoomRole> {
    read_store(svc, move |tx| tx.membership(r, u))
        .await
        .map(|m| m.role)
}

pub async fn block_removes_follows_both_ways_and_adjusts_counters(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let c = user(svc, "carol").await;
    follow(svc, a, b).await;
    follow(svc, b, a).await;
    follow(svc, c, a).await;
    follow(svc, b, c).await;
    assert_eq!(counts(svc, a).await, (2, 1, 0));
    assert_eq!(counts(svc, b).await, (1, 2, 0));
    assert!(svc.block(a, b).await?);
    assert_eq!(counts(svc, a).await, (1, 0, 0));
    assert_eq!(counts(svc, b).await, (0, 1, 0));
    // Edges with third parties are untouched.
    assert_eq!(counts(svc, c).await, (1, 1, 0));
    let r = rel(svc, a, b).await;
    assert!(r.blocking && !r.following && !r.followed_by);
    assert_eq!(followers_of(svc, Some(c), a).await, vec![c]);
    assert!(following_of(svc, None, a).await.is_empty());
    // The feed tells hosts what went.
    let evs = svc.changes_since(0, 1000).await?;
    let unfollowed = evs
        .iter()
        .filter(|e| matches!(e.change, Change::Unfollowed { .. }))
        .count();
    assert_eq!(unfollowed, 2);
    assert!(evs.iter().any(|e| e.change
        == Change::Blocked {
            blocker: a,
            blocked: b
        }));
    check_invariants(svc).await?;
    Ok(())
}

pub async fn block_removes_requests_both_ways_and_adjusts_counters(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    make_private(svc, a).await;
    make_private(svc, b).await;
    follow(svc, a, b).await; // request a → b
    follow(svc, b, a).await; // request b → a
    assert_eq!(counts(svc, a).await, (0, 0, 1));
    assert_eq!(counts(svc, b).await, (0, 0, 1));
    assert!(rel(svc, a, b).await.requested);
    svc.block(b, a).await?;
    assert_eq!(counts(svc, a).await, (0, 0, 0));
    assert_eq!(counts(svc, b).await, (0, 0, 0));
    assert!(
        svc.follow_requests(a, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    assert!(
        svc.follow_requests(b, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    let r = rel(svc, b, a).await;
    assert!(r.blocking && !r.requested && !r.requested_by);
    assert_code(svc.approve_follow_request(b, a).await, "not_found");
    check_invariants(svc).await?;
    Ok(())
}

pub async fn block_again_changes_nothing(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    assert!(svc.block(a, b).await?);
    let before = seq(svc).await;
    assert!(!svc.block(a, b).await?);
    assert_eq!(seq(svc).await, before);
    // The other direction is a separate block, with its own edge.
    assert!(svc.block(b, a).await?);
    let blocks = read_store(svc, move |tx| {
        Ok((
            tx.edge(EdgeKind::Block, a, b)?.is_some(),
            tx.edge(EdgeKind::Block, b, a)?.is_some(),
        ))
    })
    .await;
    assert_eq!(blocks, (true, true));
    // Lifting one leaves the other: b still blocks a, so a sees nothing of b
    // (whether b blocks a is never revealed), while b sees its own block.
    assert!(svc.unblock(a, b).await?);
    assert_eq!(rel(svc, a, b).await, Relationship::default());
    assert!(rel(svc, b, a).await.blocking);
    assert_code(svc.get_profile(Some(a), "bobby").await, "not_found");
    Ok(())
}

pub async fn block_self_refused_unknown_not_found(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let before = seq(svc).await;
    assert_code(svc.block(a, a).await, "validation");
    assert_code(svc.block(a, UserId::new()).await, "not_found");
    assert_code(svc.block(UserId::new(), a).await, "unauthenticated");
    assert_eq!(seq(svc).await, before);
    Ok(())
}

pub async fn blocked_cannot_follow_either_way(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    svc.block(a, b).await?;
    let before = seq(svc).await;
    // The blocked user: the blocker does not exist for them.
    assert_code(
        svc.toggle_follow(b, a, Some(FollowAction::Follow)).await,
        "not_found",
    );
    assert_code(svc.toggle_follow(b, a, None).await, "not_found");
    // The blocker: told it is their own block.
    assert_code(
        svc.toggle_follow(a, b, Some(FollowAction::Follow)).await,
        "blocked",
    );
    assert_code(svc.toggle_follow(a, b, None).await, "blocked");
    assert_eq!(seq(svc).await, before);
    assert_eq!(counts(svc, a).await, (0, 0, 0));
    assert_eq!(counts(svc, b).await, (0, 0, 0));
    // A private blocker: no request can be made either.
    make_private(svc, a).await;
    assert_code(
        svc.toggle_follow(b, a, Some(FollowAction::Follow)).await,
        "not_found",
    );
    assert_eq!(counts(svc, a).await, (0, 0, 0));
    Ok(())
}

pub async fn blocked_sees_blocker_as_not_found(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    svc.block(a, b).await?;
    assert_code(svc.get_profile(Some(b), "alice").await, "not_found");
    assert_code(svc.get_profile(Some(b), "@ALICE").await, "not_found");
    assert_code(svc.get_profile(Some(b), &a.to_string()).await, "not_found");
    assert_code(
        svc.followers(Some(b), a, PageRequest::first()).await,
        "not_found",
    );
    assert_code(
        svc.following(Some(b), a, PageRequest::first()).await,
        "not_found",
    );
    // Indistinguishable from a missing user: same error.
    let missing = svc.get_profile(Some(b), &UserId::new().to_string()).await;
    let hidden = svc.get_profile(Some(b), "alice").await;
    match (missing, hidden) {
        (Err(m), Err(h)) => assert_eq!(m.to_string(), h.to_string()),
        other => panic!("both must fail: {other:?}"),
    }
    assert_eq!(rel(svc, b, a).await, Relationship::default());
    // The blocker still sees the blocked user, marked as blocked.
    match svc.get_profile(Some(a), "bobby").await? {
        ProfileView::Public(p) => assert!(p.relationship.is_some_and(|r| r.blocking)),
        ProfileView::Own(_) => panic!("public profile expected"),
    }
    // Others and anonymous still see the blocker.
    assert!(svc.get_profile(None, "alice").await.is_ok());
    Ok(())
}

pub async fn blocked_pair_never_in_each_others_lists(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let c = user(svc, "carol").await;
    for u in [a, b] {
        follow(svc, u, c).await;
        follow(svc, c, u).await;
    }
    svc.block(a, b).await?;
    assert_eq!(followers_of(svc, Some(a), c).await, vec![a]);
    assert_eq!(followers_of(svc, Some(b), c).await, vec![b]);
    assert_eq!(following_of(svc, Some(a), c).await, vec![a]);
    assert_eq!(following_of(svc, Some(b), c).await, vec![b]);
    // Known followers too.
    let d = user(svc, "dylan").await;
    follow(svc, d, c).await;
    follow(svc, a, d).await;
    follow(svc, b, d).await;
    follow(svc, d, a).await;
    let ka = walk_ids(20, |p| svc.known_followers(Some(a), c, p)).await?;
    assert_eq!(ka, vec![d]);
    // Third parties see both.
    let mut seen = followers_of(svc, Some(c), c).await;
    seen.sort();
    let mut want = vec![a, b, d];
    want.sort();
    assert_eq!(seen, want);
    // Each one's view of d's followers leaves the other out.
    assert!(!followers_of(svc, Some(b), d).await.contains(&a));
    assert!(!followers_of(svc, Some(a), d).await.contains(&b));
    Ok(())
}

pub async fn blocked_pair_never_in_each_others_search(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "alina").await;
    let c = user(svc, "alissa").await;
    assert_eq!(discover(svc, Some(a), "ali").await.len(), 2);
    svc.block(a, b).await?;
    assert_eq!(discover(svc, Some(a), "ali").await, vec![c]);
    assert_eq!(discover(svc, Some(b), "ali").await, vec![c]);
    assert!(discover(svc, Some(b), "alice").await.is_empty());
    assert!(discover(svc, Some(a), "alina").await.is_empty());
    // Others still find both.
    assert_eq!(discover(svc, Some(c), "ali").await.len(), 2);
    svc.unblock(a, b).await?;
    assert_eq!(discover(svc, Some(b), "alice").await, vec![a]);
    Ok(())
}

pub async fn unblock_lifts_block_without_restoring_follows(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    follow(svc, a, b).await;
    follow(svc, b, a).await;
    svc.block(a, b).await?;
    assert!(svc.unblock(a, b).await?);
    assert_eq!(rel(svc, a, b).await, Relationship::default());
    assert_eq!(counts(svc, a).await, (0, 0, 0));
    assert_eq!(counts(svc, b).await, (0, 0, 0));
    // Both may follow again, and b sees a again.
    assert!(svc.get_profile(Some(b), "alice").await.is_ok());
    let out = svc.toggle_follow(b, a, None).await?;
    assert!(out.changed && out.relationship.following);
    follow(svc, a, b).await;
    assert_eq!(counts(svc, a).await, (1, 1, 0));
    check_invariants(svc).await?;
    Ok(())
}

pub async fn unblock_when_not_blocked_changes_nothing(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    follow(svc, a, b).await;
    let before = seq(svc).await;
    assert!(!svc.unblock(a, b).await?);
    // Unblocking does not lift the other side's block.
    svc.block(b, a).await?;
    let before2 = seq(svc).await;
    assert!(!svc.unblock(a, b).await?);
    assert_eq!(seq(svc).await, before2);
    assert!(before < before2);
    assert_code(
        svc.toggle_follow(a, b, Some(FollowAction::Follow)).await,
        "not_found",
    );
    Ok(())
}

pub async fn mute_and_unmute_shown_in_relationship(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let c = user(svc, "carol").await;
    follow(svc, b, c).await;
    assert!(svc.mute(a, b, None).await?);
    let r = rel(svc, a, b).await;
    assert!(r.muting && r.muted_until.is_none() && !r.blocking);
    // On the profile and on list rows.
    match svc.get_profile(Some(a), "bobby").await? {
        ProfileView::Public(p) => assert!(p.relationship.is_some_and(|r| r.muting)),
        ProfileView::Own(_) => panic!("public profile expected"),
    }
    let rows = svc.followers(Some(a), c, PageRequest::first()).await?;
    assert_eq!(rows.items.len(), 1, "a muted user is still listed");
    assert!(rows.items[0].relationship.is_some_and(|r| r.muting));
    // The muted user cannot tell.
    assert!(!rel(svc, b, a).await.muting);
    assert_eq!(rel(svc, b, a).await, Relationship::default());
    assert!(svc.unmute(a, b).await?);
    assert!(!rel(svc, a, b).await.muting);
    let before = seq(svc).await;
    assert!(!svc.unmute(a, b).await?, "unmute is idempotent");
    assert_eq!(seq(svc).await, before);
    Ok(())
}

pub async fn timed_mute_ends_with_the_clock(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let until = ctx.clock.now() + Duration::hours(1);
    assert!(svc.mute(a, b, Some(until)).await?);
    let r = rel(svc, a, b).await;
    assert!(r.muting);
    assert_eq!(r.muted_until, Some(until));
    ctx.clock.advance(Duration::minutes(59));
    assert!(rel(svc, a, b).await.muting);
    ctx.clock.advance(Duration::minutes(1));
    let r = rel(svc, a, b).await;
    assert!(!r.muting, "a timed mute ends by itself at its end time");
    assert_eq!(r.muted_until, None);
    match svc.get_profile(Some(a), "bobby").await? {
        ProfileView::Public(p) => assert!(p.relationship.is_some_and(|r| !r.muting)),
        ProfileView::Own(_) => panic!("public profile expected"),
    }
    // Unmuting an ended mute changes nothing; muting again works.
    assert!(!svc.unmute(a, b).await?);
    assert!(svc.mute(a, b, None).await?);
    assert!(rel(svc, a, b).await.muting);
    Ok(())
}

pub async fn muted_left_out_of_discovery_until_mute_ends(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let c = user(svc, "bobbie").await;
    assert_eq!(discover(svc, Some(a), "bobb").await.len(), 2);
    svc.mute(a, b, Some(ctx.clock.now() + Duration::hours(2)))
        .await?;
    svc.mute(a, c, None).await?;
    assert!(discover(svc, Some(a), "bobb").await.is_empty());
    // Only the muter's discovery changes; the mentions scope still finds them.
    assert_eq!(discover(svc, None, "bobb").await.len(), 2);
    svc.refresh_search().await?;
    let mention = svc
        .search_users(Some(a), "bobby", SearchScope::Mention, PageRequest::first())
        .await?;
    assert!(mention.items.iter().any(|r| r.user.id == b));
    // The timed mute ends by itself; the other is lifted by hand.
    ctx.clock.advance(Duration::hours(2));
    assert_eq!(discover(svc, Some(a), "bobb").await, vec![b]);
    svc.unmute(a, c).await?;
    assert_eq!(discover(svc, Some(a), "bobb").await.len(), 2);
    Ok(())
}

pub async fn mute_until_now_or_past_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let before = seq(svc).await;
    let now = ctx.clock.now();
    assert_code(svc.mute(a, b, Some(now)).await, "validation");
    assert_code(
        svc.mute(a, b, Some(now - Duration::seconds(1))).await,
        "validation",
    );
    assert_code(
        svc.mute(a, b, Some(now - Duration::days(365))).await,
        "validation",
    );
    assert_eq!(seq(svc).await, before);
    assert!(!rel(svc, a, b).await.muting);
    // One second ahead is fine.
    assert!(svc.mute(a, b, Some(now + Duration::seconds(1))).await?);
    Ok(())
}

/// Issue 14 item 1: a mute until year 10000 used to succeed and leave an
/// edge SQLite could not decode, after which every read of the pair (and
/// `delete_account`) failed. Times past the supported range are refused where
/// they enter; the range's last instant round-trips through every command.
pub async fn mute_until_far_future_refused_and_range_end_round_trips(ctx: Ctx) -> TestResult {
    use kinfolk::clock::latest;
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let before = seq(svc).await;
    for until in [
        latest() + Duration::nanoseconds(1),
        latest() + Duration::days(1),
        chrono::DateTime::<chrono::Utc>::MAX_UTC,
    ] {
        match svc.mute(a, b, Some(until)).await {
            Err(kinfolk::Error::Validation { field: "until", .. }) => {}
            other => panic!("mute until {until:?}: expected validation on `until`, got {other:?}"),
        }
    }
    assert_eq!(seq(svc).await, before, "a refused mute changed the feed");
    // The last supported instant is stored and read back exactly, by every
    // read and command that touches the edge.
    assert!(svc.mute(a, b, Some(latest())).await?);
    let r = rel(svc, a, b).await;
    assert!(r.muting);
    assert_eq!(r.muted_until, Some(latest()));
    svc.get_profile(Some(a), &b.to_string()).await?;
    svc.get_profile(Some(b), &a.to_string()).await?;
    svc.toggle_follow(a, b, Some(FollowAction::Follow)).await?;
    let export = svc.export(a).await?;
    assert!(
        export
            .outgoing
            .iter()
            .any(|e| e.kind == EdgeKind::Mute && e.until == Some(latest()))
    );
    check_invariants(svc).await?;
    assert!(svc.unmute(a, b).await?);
    assert!(svc.mute(a, b, Some(latest())).await?);
    svc.delete_account(a).await?;
    check_invariants(svc).await?;
    Ok(())
}

/// Issue 14 item 1: a clock reading outside the supported range fails the
/// command with `validation` on `clock` and stores nothing.
pub async fn clock_outside_time_range_refused(ctx: Ctx) -> TestResult {
    use kinfolk::clock::latest;
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let start = ctx.clock.now();
    let before = seq(svc).await;
    ctx.clock.set(latest() + Duration::seconds(1));
    match svc.register(NewUser::new("carol", "Carol")?).await {
        Err(kinfolk::Error::Validation { field: "clock", .. }) => {}
        other => panic!("expected validation on `clock`, got {other:?}"),
    }
    assert_code(svc.toggle_follow(a, b, None).await, "validation");
    assert_eq!(seq(svc).await, before);
    // At the last instant of the range everything works.
    ctx.clock.set(latest());
    svc.toggle_follow(a, b, None).await?;
    let me = svc.me(a).await?;
    assert_eq!(me.stats.following_count, 1);
    check_invariants(svc).await?;
    ctx.clock.set(start);
    Ok(())
}

pub async fn mute_again_replaces_until(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let now = ctx.clock.now();
    svc.mute(a, b, Some(now + Duration::hours(1))).await?;
    let before = seq(svc).await;
    assert!(!svc.mute(a, b, Some(now + Duration::hours(1))).await?);
    assert_eq!(
        seq(svc).await,
        before,
        "the same mute again changes nothing"
    );
    assert!(svc.mute(a, b, Some(now + Duration::days(2))).await?);
    assert_eq!(
        rel(svc, a, b).await.muted_until,
        Some(now + Duration::days(2))
    );
    ctx.clock.advance(Duration::hours(2));
    assert!(rel(svc, a, b).await.muting, "the later end time counts");
    // Timed → permanent.
    assert!(svc.mute(a, b, None).await?);
    ctx.clock.advance(Duration::days(30));
    let r = rel(svc, a, b).await;
    assert!(r.muting && r.muted_until.is_none());
    Ok(())
}

pub async fn mute_self_refused_and_follows_kept(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let before = seq(svc).await;
    assert_code(svc.mute(a, a, None).await, "validation");
    assert_code(svc.mute(a, UserId::new(), None).await, "not_found");
    assert_eq!(seq(svc).await, before);
    follow(svc, a, b).await;
    follow(svc, b, a).await;
    svc.mute(a, b, None).await?;
    let r = rel(svc, a, b).await;
    assert!(r.muting && r.following && r.followed_by);
    assert_eq!(counts(svc, a).await, (1, 1, 0));
    // A muted user may still follow and be followed.
    svc.toggle_follow(b, a, Some(FollowAction::Unfollow))
        .await?;
    follow(svc, b, a).await;
    assert_eq!(counts(svc, a).await, (1, 1, 0));
    Ok(())
}

pub async fn deactivate_hides_from_profiles_lists_and_search(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let v = user(svc, "viewer").await;
    let c = user(svc, "carol").await;
    follow(svc, d, c).await;
    follow(svc, c, d).await;
    follow(svc, v, d).await;
    assert_eq!(discover(svc, Some(v), "dora").await, vec![d]);
    assert!(svc.deactivate(d).await?);
    for viewer in [None, Some(v), Some(c)] {
        assert_code(svc.get_profile(viewer, "dora").await, "not_found");
        assert_code(svc.get_profile(viewer, &d.to_string()).await, "not_found");
        assert_code(
            svc.followers(viewer, d, PageRequest::first()).await,
            "not_found",
        );
        assert_code(
            svc.following(viewer, d, PageRequest::first()).await,
            "not_found",
        );
        assert!(!followers_of(svc, viewer, c).await.contains(&d));
        assert!(!following_of(svc, viewer, c).await.contains(&d));
        assert!(discover(svc, viewer, "dora").await.is_empty());
    }
    assert_eq!(rel(svc, v, d).await, Relationship::default());
    // Nobody can follow or add a deactivated user.
    assert_code(
        svc.toggle_follow(c, d, Some(FollowAction::Follow)).await,
        "not_found",
    );
    // The owner still reads their own profile.
    assert!(matches!(
        svc.get_profile(Some(d), "dora").await?,
        ProfileView::Own(_)
    ));
    Ok(())
}

pub async fn deactivate_keeps_edges_and_counts(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let fans = users(svc, "fan", 3).await;
    for f in &fans {
        follow(svc, *f, d).await;
        follow(svc, d, *f).await;
    }
    let edges_before = edges_touching(svc, d).await;
    let d_counts = counts(svc, d).await;
    svc.deactivate(d).await?;
    assert_eq!(edges_touching(svc, d).await, edges_before);
    assert_eq!(counts(svc, d).await, d_counts);
    for f in &fans {
        assert_eq!(counts(svc, *f).await, (1, 1, 0), "counts keep the edge");
    }
    let exp = svc.export(d).await?;
    assert_eq!(exp.outgoing.len(), 3);
    assert_eq!(exp.incoming.len(), 3);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn reactivate_restores_everything(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 5).await;
    for f in &fans {
        follow(svc, *f, d).await;
    }
    follow(svc, d, fans[2]).await;
    follow(svc, v, d).await;
    svc.mute(v, d, None).await?;
    let r = svc
        .create_room(d, new_room("Dora's room", RoomVisibility::Public))
        .await?;
    let before_profile = svc.get_profile(Some(v), "dora").await?;
    let before_followers = followers_of(svc, Some(v), d).await;
    let before_following = following_of(svc, None, fans[2]).await;
    let before_rel = rel(svc, v, d).await;
    svc.deactivate(d).await?;
    ctx.clock.advance(Duration::days(3));
    assert!(svc.reactivate(d).await?);
    let after_profile = svc.get_profile(Some(v), "dora").await?;
    match (before_profile, after_profile) {
        (ProfileView::Public(b), ProfileView::Public(a)) => assert_eq!(a, b),
        other => panic!("public profiles expected: {other:?}"),
    }
    assert_eq!(followers_of(svc, Some(v), d).await, before_followers);
    assert_eq!(following_of(svc, None, fans[2]).await, before_following);
    assert_eq!(rel(svc, v, d).await, before_rel);
    assert_eq!(discover(svc, Some(fans[0]), "dora").await, vec![d]);
    assert_eq!(role(svc, r.id, d).await, Some(RoomRole::Owner));
    // Reactivated: may act again.
    follow(svc, d, fans[0]).await;
    Ok(())
}

pub async fn deactivate_and_reactivate_idempotent(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    assert!(!svc.reactivate(d).await?, "already active");
    assert!(svc.deactivate(d).await?);
    let before = seq(svc).await;
    assert!(!svc.deactivate(d).await?);
    assert_eq!(seq(svc).await, before);
    assert!(svc.reactivate(d).await?);
    assert_code(svc.deactivate(UserId::new()).await, "unauthenticated");
    assert_code(svc.reactivate(UserId::new()).await, "unauthenticated");
    Ok(())
}

pub async fn deactivated_caller_limited_to_own_account(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let b = user(svc, "bobby").await;
    svc.deactivate(d).await?;
    let before = seq(svc).await;
    assert_code(svc.block(d, b).await, "deactivated");
    assert_code(svc.unblock(d, b).await, "deactivated");
    assert_code(svc.mute(d, b, None).await, "deactivated");
    assert_code(svc.unmute(d, b).await, "deactivated");
    assert_code(
        svc.toggle_follow(d, b, Some(FollowAction::Follow)).await,
        "deactivated",
    );
    assert_code(svc.relationships(d, &[b]).await, "deactivated");
    assert_code(svc.get_profile(Some(d), "bobby").await, "deactivated");
    assert_eq!(seq(svc).await, before);
    // What stays allowed: own profile, export, reactivate, delete.
    assert_eq!(svc.me(d).await?.id, d);
    assert_eq!(svc.export(d).await?.user.id, d);
    svc.delete_account(d).await?;
    assert_code(svc.me(d).await, "unauthenticated");
    Ok(())
}

pub async fn delete_account_removes_edges_both_ways_and_adjusts_counters(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let [a, b, c, e, f, g, h, i]: [UserId; 8] = users(svc, "peer", 8)
        .await
        .try_into()
        .map_err(|_| "eight users")?;
    follow(svc, d, a).await; // d follows a
    follow(svc, b, d).await; // b follows d
    make_private(svc, c).await;
    follow(svc, d, c).await; // request d → c
    make_private(svc, d).await;
    follow(svc, e, d).await; // request e → d
    svc.block(d, f).await?;
    svc.block(g, d).await?;
    svc.mute(d, h, None).await?;
    svc.mute(i, d, None).await?;
    follow(svc, a, b).await; // unrelated edge stays
    assert_eq!(counts(svc, a).await, (1, 1, 0));
    assert_eq!(counts(svc, b).await, (1, 1, 0));
    assert_eq!(counts(svc, c).await, (0, 0, 1));
    svc.delete_account(d).await?;
    assert_eq!(counts(svc, a).await, (0, 1, 0));
    assert_eq!(counts(svc, b).await, (1, 0, 0));
    assert_eq!(counts(svc, c).await, (0, 0, 0));
    assert_eq!(counts(svc, e).await, (0, 0, 0));
    assert!(
        edges_touching(svc, d).await.is_empty(),
        "no edge to or from d"
    );
    for u in [a, b, c, e, f, g, h, i] {
        assert_eq!(rel(svc, u, d).await, Relationship::default());
        let exp = svc.export(u).await?;
        assert!(
            exp.outgoing
                .iter()
                .chain(&exp.incoming)
                .all(|x| x.from != d && x.to != d),
            "export of a peer mentions no edge of d"
        );
    }
    assert!(
        svc.follow_requests(c, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    assert_eq!(followers_of(svc, None, b).await, vec![a]);
    // The unrelated edge survives.
    assert!(rel(svc, a, b).await.following);
    let evs = svc.changes_since(0, 1000).await?;
    assert!(
        evs.iter()
            .any(|ev| ev.change == Change::AccountDeleted { user: d })
    );
    check_invariants(svc).await?;
    Ok(())
}

pub async fn delete_account_hands_rooms_over_and_deletes_emptied(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let o = user(svc, "olivia").await;
    let x = user(svc, "xavier").await;
    let y = user(svc, "yvonne").await;
    let z = user(svc, "zelda").await;
    // r1: d sole owner; y joined before x, both admins; z moderator.
    let r1 = svc
        .create_room(d, new_room("r1", RoomVisibility::Private))
        .await?
        .id;
    for u in [z, y, x] {
        svc.add_member(d, r1, u).await?;
    }
    svc.set_role(d, r1, x, RoomRole::Admin).await?;
    svc.set_role(d, r1, y, RoomRole::Admin).await?;
    svc.set_role(d, r1, z, RoomRole::Moderator).await?;
    // r2: d alone.
    let r2 = svc
        .create_room(d, new_room("r2", RoomVisibility::Public))
        .await?
        .id;
    // r3: o's room, d a member.
    let r3 = svc
        .create_room(o, new_room("r3", RoomVisibility::Public))
        .await?
        .id;
    svc.add_member(o, r3, d).await?;
    // r4: d and o both owners.
    let r4 = svc
        .create_room(d, new_room("r4", RoomVisibility::Public))
        .await?
        .id;
    svc.add_member(d, r4, o).await?;
    svc.add_member(d, r4, x).await?;
    svc.set_role(d, r4, o, RoomRole::Owner).await?;
    svc.set_role(d, r4, x, RoomRole::Admin).await?;
    svc.delete_account(d).await?;
    assert_eq!(
        role(svc, r1, y).await,
        Some(RoomRole::Owner),
        "longest-standing admin"
    );
    assert_eq!(role(svc, r1, x).await, Some(RoomRole::Admin));
    assert_eq!(role(svc, r1, z).await, Some(RoomRole::Moderator));
    let room = |id: RoomId| read_store(svc, move |tx| tx.room(id));
    assert_eq!(room(r1).await.map(|r| r.member_count), Some(3));
    assert_eq!(room(r2).await, None, "an emptied room is deleted");
    assert_eq!(room(r3).await.map(|r| r.member_count), Some(1));
    assert_eq!(room(r4).await.map(|r| r.member_count), Some(2));
    assert_eq!(role(svc, r4, o).await, Some(RoomRole::Owner));
    assert_eq!(
        role(svc, r4, x).await,
        Some(RoomRole::Admin),
        "no hand-over beside an owner"
    );
    for r in [r1, r2, r3, r4] {
        assert_eq!(role(svc, r, d).await, None);
    }
    // Rooms keep their creator's id.
    assert_eq!(room(r1).await.map(|r| r.created_by), Some(d));
    check_invariants(svc).await?;
    Ok(())
}

pub async fn delete_account_removes_connected_accounts(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let b = user(svc, "bobby").await;
    svc.link_account(d, "github", "4242", "dora_gh").await?;
    svc.link_account(d, "google", "g-1", "dora@example.com")
        .await?;
    assert_eq!(svc.find_by_connected_account("github", "4242").await?.id, d);
    svc.delete_account(d).await?;
    assert_code(
        svc.find_by_connected_account("github", "4242").await,
        "not_found",
    );
    assert_code(
        svc.find_by_connected_account("google", "g-1").await,
        "not_found",
    );
    // The external account may be linked to someone else at once.
    svc.link_account(b, "github", "4242", "bobby_gh").await?;
    assert_eq!(svc.find_by_connected_account("github", "4242").await?.id, b);
    Ok(())
}

pub async fn delete_account_frees_usernames_at_once(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "Dora").await;
    let upd = ProfileUpdate {
        username: Some(Username::parse("Dora_New")?),
        ..Default::default()
    };
    svc.update_profile(d, upd).await?;
    // "Dora" is held for d.
    assert_code(
        svc.register(NewUser::new("dora", "Other")?).await,
        "username_taken",
    );
    svc.delete_account(d).await?;
    // Both the current and the held name are free, without waiting.
    let n1 = svc.register(NewUser::new("dora", "New Dora")?).await?;
    let n2 = svc.register(NewUser::new("DORA_NEW", "Newer")?).await?;
    assert_ne!(n1.id, d);
    assert_ne!(n2.id, d);
    match svc.get_profile(None, "dora_new").await? {
        ProfileView::Public(p) => assert_eq!(p.id, n2.id),
        ProfileView::Own(_) => panic!("public expected"),
    }
    check_invariants(svc).await?;
    Ok(())
}

pub async fn deleted_user_gone_everywhere(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let v = user(svc, "viewer").await;
    follow(svc, v, d).await;
    follow(svc, d, v).await;
    assert_eq!(discover(svc, Some(v), "dora").await, vec![d]);
    svc.delete_account(d).await?;
    assert_code(svc.get_profile(Some(v), "dora").await, "not_found");
    assert_code(svc.get_profile(None, &d.to_string()).await, "not_found");
    assert_code(
        svc.followers(Some(v), d, PageRequest::first()).await,
        "not_found",
    );
    assert!(followers_of(svc, Some(v), v).await.is_empty());
    assert!(following_of(svc, Some(v), v).await.is_empty());
    assert!(discover(svc, Some(v), "dora").await.is_empty());
    assert_code(
        svc.toggle_follow(v, d, Some(FollowAction::Follow)).await,
        "not_found",
    );
    // The deleted id is no caller any more.
    assert_code(svc.me(d).await, "unauthenticated");
    assert_code(svc.export(d).await, "unauthenticated");
    assert_code(svc.delete_account(d).await, "unauthenticated");
    assert_code(svc.reactivate(d).await, "unauthenticated");
    assert_eq!(read_store(svc, move |tx| tx.user(d)).await, None);
    // Survives a reopen.
    let mut ctx = ctx;
    ctx.reopen().await?;
    assert_code(ctx.svc.me(d).await, "unauthenticated");
    assert_eq!(counts(&ctx.svc, v).await, (0, 0, 0));
    Ok(())
}

pub async fn export_holds_everything_and_round_trips(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let p = svc
        .register(NewUser::new("alice", "Alice A")?.with_email("alice@example.com")?)
        .await?;
    let a = p.id;
    let [b, c, d, e, f, g]: [UserId; 6] = users(svc, "peer", 6)
        .await
        .try_into()
        .map_err(|_| "six users")?;
    let upd = ProfileUpdate {
        username: Some(Username::parse("alice_two")?),
        ..Default::default()
    };
    svc.update_profile(a, upd).await?;
    svc.link_account(a, "github", "77", "alice_gh").await?;
    follow(svc, a, b).await;
    make_private(svc, c).await;
    follow(svc, a, c).await; // request
    svc.block(a, d).await?;
    let until = ctx.clock.now() + Duration::days(1);
    svc.mute(a, e, Some(until)).await?;
    follow(svc, f, a).await;
    make_private(svc, a).await;
    follow(svc, g, a).await; // incoming request
    // Someone else's block and mute of a are theirs, not a's.
    svc.block(b, c).await?;
    let r1 = svc
        .create_room(a, new_room("mine", RoomVisibility::Public))
        .await?
        .id;
    let r2 = svc
        .create_room(f, new_room("theirs", RoomVisibility::Public))
        .await?
        .id;
    svc.add_member(f, r2, a).await?;
    let exp: Export = svc.export(a).await?;
    assert_eq!(exp.user.id, a);
    assert_eq!(exp.user.username.as_str(), "alice_two");
    assert_eq!(
        exp.user.email.as_ref().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert!(exp.user.settings.privacy.private_account);
    assert_eq!(exp.user.counts.followers, 1);
    let mut names: Vec<(&str, bool)> = exp
        .usernames
        .iter()
        .map(|c| (c.username.as_str(), c.held_until.is_some()))
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec![("alice", true), ("alice_two", false)]);
    assert_eq!(exp.connected_accounts.len(), 1);
    assert_eq!(exp.connected_accounts[0].external_id, "77");
    let out = |k: EdgeKind| -> Vec<UserId> {
        exp.outgoing
            .iter()
            .filter(|x| x.kind == k && x.from == a)
            .map(|x| x.to)
            .collect()
    };
    assert_eq!(out(EdgeKind::Follow), vec![b]);
    assert_eq!(out(EdgeKind::Request), vec![c]);
    assert_eq!(out(EdgeKind::Block), vec![d]);
    assert_eq!(out(EdgeKind::Mute), vec![e]);
    assert_eq!(
        exp.outgoing
            .iter()
            .find(|x| x.kind == EdgeKind::Mute)
            .and_then(|x| x.until),
        Some(until)
    );
    assert_eq!(exp.outgoing.len(), 4);
    let inc = |k: EdgeKind| -> Vec<UserId> {
        exp.incoming
            .iter()
            .filter(|x| x.kind == k && x.to == a)
            .map(|x| x.from)
            .collect()
    };
    assert_eq!(inc(EdgeKind::Follow), vec![f]);
    assert_eq!(inc(EdgeKind::Request), vec![g]);
    assert_eq!(exp.incoming.len(), 2);
    let mut ms: Vec<(RoomId, RoomRole)> =
        exp.memberships.iter().map(|m| (m.room, m.role)).collect();
    ms.sort_by_key(|(r, _)| *r);
    let mut want = vec![(r1, RoomRole::Owner), (r2, RoomRole::Member)];
    want.sort_by_key(|(r, _)| *r);
    assert_eq!(ms, want);
    // One serde value, round-tripping exactly.
    let json = serde_json::to_string(&exp)?;
    let back: Export = serde_json::from_str(&json)?;
    assert_eq!(back, exp);
    let value = serde_json::to_value(&exp)?;
    assert_eq!(value["user"]["email"], "alice@example.com");
    // Nothing was changed by exporting.
    let before = seq(svc).await;
    svc.export(a).await?;
    assert_eq!(seq(svc).await, before);
    Ok(())
}

pub async fn export_allowed_when_deactivated_not_after_delete(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d = user(svc, "dora").await;
    let b = user(svc, "bobby").await;
    follow(svc, d, b).await;
    let active = svc.export(d).await?;
    svc.deactivate(d).await?;
    let exp = svc.export(d).await?;
    assert_eq!(exp.user.status, kinfolk::AccountStatus::Deactivated);
    assert_eq!(
        exp.outgoing, active.outgoing,
        "edges kept while deactivated"
    );
    svc.delete_account(d).await?;
    assert_code(svc.export(d).await, "unauthenticated");
    Ok(())
}
