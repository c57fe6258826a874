//! SPEC §7: rooms and memberships.

use std::collections::HashSet;

use kinfolk::{
    Clock, Kinfolk, MyRoom, NewRoom, Page, PageRequest, Room, RoomFilter, RoomId, RoomKind,
    RoomName, RoomRole, RoomVisibility, UserId,
};

use crate::fixtures::{
    assert_code, check_invariants, follow, read_store, seq, settings, user, users,
};
use crate::{Ctx, TestResult};

fn new_room(kind: RoomKind, name: &str, visibility: RoomVisibility) -> NewRoom {
    NewRoom {
        kind,
        name: RoomName::parse(name).unwrap_or_else(|e| panic!("room name {name}: {e}")),
        visibility,
    }
}

/// Creates a group room owned by `owner`.
async fn room(svc: &Kinfolk, owner: UserId, name: &str, vis: RoomVisibility) -> RoomId {
    svc.create_room(owner, new_room(RoomKind::Group, name, vis))
        .await
        .unwrap_or_else(|e| panic!("create room {name}: {e}"))
        .id
}

/// The stored room record, if any.
async fn room_rec(svc: &Kinfolk, id: RoomId) -> Option<Room> {
    read_store(svc, move |tx| tx.room(id)).await
}

/// The role of `u` in `r`, if a member.
async fn role(svc: &Kinfolk, r: RoomId, u: UserId) -> Option<RoomRole> {
    read_store(svc, move |tx| tx.membership(r, u))
        .await
        .map(|m| m.role)
}

async fn member_count(svc: &Kinfolk, r: RoomId) -> Option<u64> {
    room_rec(svc, r).await.map(|r| r.member_count)
}

async fn rooms_count(svc: &Kinfolk, u: UserId) -> u64 {
    svc.me(u)
        .await
        .unwrap_or_else(|e| panic!("me: {e}"))
        .stats
        .rooms_count
}

/// Adds `u` to `r` (by `by`) and sets their role.
async fn add_as(svc: &Kinfolk, by: UserId, r: RoomId, u: UserId, as_role: RoomRole) {
    svc.add_member(by, r, u)
        .await
        .unwrap_or_else(|e| panic!("add member: {e}"));
    if as_role != RoomRole::Member {
        svc.set_role(by, r, u, as_role)
            .await
            .unwrap_or_else(|e| panic!("set role: {e}"));
    }
}

fn room_ids(page: &Page<MyRoom>) -> Vec<RoomId> {
    page.items.iter().map(|m| m.room.id).collect()
}

/// Walks all of `actor`'s rooms under `filter`, checking that every page
/// but the last is full.
async fn walk_rooms(
    svc: &Kinfolk,
    actor: UserId,
    filter: RoomFilter,
    limit: u32,
) -> kinfolk::Result<Vec<RoomId>> {
    let mut out = Vec::new();
    let mut req = PageRequest::with_limit(limit);
    loop {
        let p = svc.my_rooms(actor, filter.clone(), req).await?;
        out.extend(room_ids(&p));
        match p.next_cursor {
            Some(c) => {
                assert_eq!(
                    p.items.len(),
                    limit as usize,
                    "a page with a cursor is full"
                );
                req = PageRequest::after(c, Some(limit));
            }
            None => return Ok(out),
        }
    }
}

fn by_name(name: &str) -> RoomFilter {
    RoomFilter {
        name: Some(name.to_string()),
        ..Default::default()
    }
}

pub async fn create_room_creator_is_owner_and_counts(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let before = seq(svc).await;
    let r = svc
        .create_room(
            a,
            new_room(RoomKind::Page, "Book Club", RoomVisibility::Private),
        )
        .await?;
    assert!(seq(svc).await > before);
    assert_eq!(r.kind, RoomKind::Page);
    assert_eq!(r.name.as_str(), "Book Club");
    assert_eq!(r.visibility, RoomVisibility::Private);
    assert_eq!(r.created_by, a);
    assert_eq!(r.created_at, ctx.clock.now());
    assert_eq!(r.member_count, 1);
    assert_eq!(role(svc, r.id, a).await, Some(RoomRole::Owner));
    assert_eq!(rooms_count(svc, a).await, 1);
    assert_eq!(room_rec(svc, r.id).await.as_ref(), Some(&r));
    let mine = svc
        .my_rooms(a, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].room, r);
    assert_eq!(mine.items[0].role, RoomRole::Owner);
    assert_eq!(mine.items[0].joined_at, r.created_at);
    // A second room: distinct id, count 2.
    let r2 = room(svc, a, "Book Club", RoomVisibility::Public).await;
    assert_ne!(r2, r.id);
    assert_eq!(rooms_count(svc, a).await, 2);
    // Room JSON round-trips.
    let json = serde_json::to_string(&r)?;
    assert_eq!(serde_json::from_str::<Room>(&json)?, r);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn room_name_length_1_100_101(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    assert_code(RoomName::parse(""), "validation");
    assert_code(RoomName::parse("   "), "validation");
    assert_code(RoomName::parse("a\u{202E}b"), "validation");
    assert_code(RoomName::parse("a\nb"), "validation");
    assert_eq!(RoomName::parse("x")?.as_str(), "x");
    assert_eq!(
        RoomName::parse(&"é".repeat(100))?.as_str().chars().count(),
        100
    );
    assert_code(RoomName::parse(&"é".repeat(101)), "validation");
    assert_code(RoomName::parse(&"r".repeat(101)), "validation");
    // Trimmed before counting.
    assert!(RoomName::parse(&format!("  {}  ", "r".repeat(100))).is_ok());
    // Through the JSON shape: a 101-char name never reaches the service.
    let long = "r".repeat(101);
    let bad: Result<NewRoom, _> = serde_json::from_str(&format!(
        r#"{{"kind":"group","name":"{long}","visibility":"public"}}"#
    ));
    assert!(bad.is_err());
    let bad: Result<NewRoom, _> =
        serde_json::from_str(r#"{"kind":"group","name":"","visibility":"public"}"#);
    assert!(bad.is_err());
    let bad: Result<NewRoom, _> =
        serde_json::from_str(r#"{"kind":"group","name":"ok","visibility":"public","extra":1}"#);
    assert!(bad.is_err(), "unknown fields are refused");
    let one: NewRoom =
        serde_json::from_str(r#"{"kind":"group","name":"x","visibility":"public"}"#)?;
    assert_eq!(svc.create_room(a, one).await?.name.as_str(), "x");
    let hundred = "r".repeat(100);
    let ok: NewRoom = serde_json::from_str(&format!(
        r#"{{"kind":"page","name":"{hundred}","visibility":"private"}}"#
    ))?;
    assert_eq!(svc.create_room(a, ok).await?.name.as_str(), hundred);
    Ok(())
}

pub async fn add_member_owner_and_admin_always(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let ad = user(svc, "adam").await;
    let x = users(svc, "guest", 2).await;
    for vis in [RoomVisibility::Private, RoomVisibility::Public] {
        let r = room(svc, o, "room", vis).await;
        let m = svc.add_member(o, r, ad).await?;
        assert_eq!((m.room, m.user, m.role), (r, ad, RoomRole::Member));
        assert_eq!(m.joined_at, ctx.clock.now());
        svc.set_role(o, r, ad, RoomRole::Admin).await?;
        let m = svc.add_member(ad, r, x[0]).await?;
        assert_eq!(m.role, RoomRole::Member);
        assert_eq!(member_count(svc, r).await, Some(3));
        svc.add_member(o, r, x[1]).await?;
        assert_eq!(member_count(svc, r).await, Some(4));
    }
    assert_eq!(rooms_count(svc, x[0]).await, 2);
    assert_eq!(rooms_count(svc, ad).await, 2);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn add_member_any_member_in_public_room(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let m = user(svc, "member").await;
    let md = user(svc, "moder").await;
    let g = users(svc, "guest", 2).await;
    let r = room(svc, o, "open", RoomVisibility::Public).await;
    add_as(svc, o, r, m, RoomRole::Member).await;
    add_as(svc, o, r, md, RoomRole::Moderator).await;
    svc.add_member(m, r, g[0]).await?;
    svc.add_member(md, r, g[1]).await?;
    assert_eq!(role(svc, r, g[0]).await, Some(RoomRole::Member));
    assert_eq!(role(svc, r, g[1]).await, Some(RoomRole::Member));
    assert_eq!(member_count(svc, r).await, Some(5));
    Ok(())
}

pub async fn add_member_moderator_or_member_in_private_room_forbidden(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let m = user(svc, "member").await;
    let md = user(svc, "moder").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "closed", RoomVisibility::Private).await;
    add_as(svc, o, r, m, RoomRole::Member).await;
    add_as(svc, o, r, md, RoomRole::Moderator).await;
    let before = seq(svc).await;
    assert_code(svc.add_member(m, r, g).await, "forbidden");
    assert_code(svc.add_member(md, r, g).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    assert_eq!(role(svc, r, g).await, None);
    assert_eq!(member_count(svc, r).await, Some(3));
    assert_eq!(rooms_count(svc, g).await, 0);
    Ok(())
}

pub async fn add_member_by_outsider_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let out = user(svc, "outsider").await;
    let g = user(svc, "guest").await;
    let private = room(svc, o, "closed", RoomVisibility::Private).await;
    let public = room(svc, o, "open", RoomVisibility::Public).await;
    let before = seq(svc).await;
    // A private room does not reveal itself to outsiders.
    assert_code(svc.add_member(out, private, g).await, "not_found");
    assert_code(svc.add_member(out, public, g).await, "forbidden");
    // Nor may an outsider add themselves.
    assert_code(svc.add_member(out, public, out).await, "forbidden");
    assert_code(svc.add_member(o, RoomId::new(), g).await, "not_found");
    assert_eq!(seq(svc).await, before);
    assert_eq!(member_count(svc, public).await, Some(1));
    Ok(())
}

pub async fn add_member_again_changes_nothing(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    let first = svc.add_member(o, r, g).await?;
    svc.set_role(o, r, g, RoomRole::Moderator).await?;
    ctx.clock.advance(chrono::Duration::hours(1));
    let before = seq(svc).await;
    let again = svc.add_member(o, r, g).await?;
    assert_eq!(seq(svc).await, before);
    assert_eq!(
        again.role,
        RoomRole::Moderator,
        "the existing membership is kept"
    );
    assert_eq!(again.joined_at, first.joined_at);
    assert_eq!(member_count(svc, r).await, Some(2));
    assert_eq!(rooms_count(svc, g).await, 1);
    Ok(())
}

pub async fn allow_room_invites_everyone_following_nobody(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let t = users(svc, "target", 4).await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    // everyone (the default)
    svc.add_member(o, r, t[0]).await?;
    // following: only people the target follows.
    settings(
        svc,
        t[1],
        r#"{"privacy":{"allow_room_invites":"following"}}"#,
    )
    .await;
    follow(svc, o, t[1]).await; // o follows t1: not enough
    let before = seq(svc).await;
    assert_code(svc.add_member(o, r, t[1]).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    follow(svc, t[1], o).await; // t1 follows o: now allowed
    svc.add_member(o, r, t[1]).await?;
    // A pending request from the target is not following.
    settings(svc, o, r#"{"privacy":{"private_account":true}}"#).await;
    settings(
        svc,
        t[2],
        r#"{"privacy":{"allow_room_invites":"following"}}"#,
    )
    .await;
    follow(svc, t[2], o).await; // a request only
    assert_code(svc.add_member(o, r, t[2]).await, "forbidden");
    svc.approve_follow_request(o, t[2]).await?;
    svc.add_member(o, r, t[2]).await?;
    // nobody: even people they follow are refused.
    settings(svc, t[3], r#"{"privacy":{"allow_room_invites":"nobody"}}"#).await;
    follow(svc, t[3], o).await;
    svc.approve_follow_request(o, t[3]).await?;
    let before = seq(svc).await;
    assert_code(svc.add_member(o, r, t[3]).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    assert_eq!(role(svc, r, t[3]).await, None);
    assert_eq!(member_count(svc, r).await, Some(4));
    // Nobody still lets them create their own rooms.
    room(svc, t[3], "mine", RoomVisibility::Public).await;
    Ok(())
}

pub async fn add_member_blocked_either_way_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let b = user(svc, "blocked").await;
    let k = user(svc, "blocker").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    svc.block(o, b).await?;
    svc.block(k, o).await?;
    let before = seq(svc).await;
    assert_code(svc.add_member(o, r, b).await, "blocked");
    // The blocker is hidden from the one they block.
    assert_code(svc.add_member(o, r, k).await, "not_found");
    assert_eq!(seq(svc).await, before);
    assert_eq!(member_count(svc, r).await, Some(1));
    // A third member may add either (no block between them).
    let m = user(svc, "member").await;
    svc.add_member(o, r, m).await?;
    svc.add_member(m, r, b).await?;
    svc.add_member(m, r, k).await?;
    assert_eq!(member_count(svc, r).await, Some(4));
    // After unblocking, the owner may add again.
    let r2 = room(svc, o, "room2", RoomVisibility::Private).await;
    svc.unblock(o, b).await?;
    svc.add_member(o, r2, b).await?;
    Ok(())
}

pub async fn add_member_missing_or_deactivated_user_not_found(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let d = user(svc, "dormant").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    svc.deactivate(d).await?;
    let before = seq(svc).await;
    assert_code(svc.add_member(o, r, d).await, "not_found");
    assert_code(svc.add_member(o, r, UserId::new()).await, "not_found");
    assert_eq!(seq(svc).await, before);
    svc.reactivate(d).await?;
    svc.add_member(o, r, d).await?;
    Ok(())
}

pub async fn set_role_never_above_own(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let ad = user(svc, "adam").await;
    let m = user(svc, "member").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    add_as(svc, o, r, ad, RoomRole::Admin).await;
    add_as(svc, o, r, m, RoomRole::Member).await;
    let before = seq(svc).await;
    assert_code(svc.set_role(ad, r, m, RoomRole::Owner).await, "forbidden");
    assert_code(svc.set_role(ad, r, ad, RoomRole::Owner).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    assert_eq!(role(svc, r, m).await, Some(RoomRole::Member));
    // Up to their own role is fine.
    assert_eq!(
        svc.set_role(ad, r, m, RoomRole::Moderator).await?.role,
        RoomRole::Moderator
    );
    assert_eq!(
        svc.set_role(ad, r, m, RoomRole::Admin).await?.role,
        RoomRole::Admin
    );
    // A moderator raises no one, themselves included.
    let md = user(svc, "moder").await;
    let g = user(svc, "guest").await;
    add_as(svc, o, r, md, RoomRole::Moderator).await;
    add_as(svc, o, r, g, RoomRole::Member).await;
    assert_code(svc.set_role(md, r, md, RoomRole::Admin).await, "forbidden");
    assert_code(
        svc.set_role(g, r, g, RoomRole::Moderator).await,
        "forbidden",
    );
    // The owner may make another owner.
    assert_eq!(
        svc.set_role(o, r, ad, RoomRole::Owner).await?.role,
        RoomRole::Owner
    );
    check_invariants(svc).await?;
    Ok(())
}

pub async fn set_role_only_for_members_below_own(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let a1 = user(svc, "adam").await;
    let a2 = user(svc, "alan").await;
    let md = user(svc, "moder").await;
    let m = user(svc, "member").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    add_as(svc, o, r, a1, RoomRole::Admin).await;
    add_as(svc, o, r, a2, RoomRole::Admin).await;
    add_as(svc, o, r, md, RoomRole::Moderator).await;
    add_as(svc, o, r, m, RoomRole::Member).await;
    let before = seq(svc).await;
    // An admin changes neither another admin nor the owner.
    assert_code(svc.set_role(a1, r, a2, RoomRole::Member).await, "forbidden");
    assert_code(svc.set_role(a1, r, o, RoomRole::Admin).await, "forbidden");
    // A moderator and a member change no one else.
    assert_code(
        svc.set_role(md, r, m, RoomRole::Moderator).await,
        "forbidden",
    );
    assert_code(svc.set_role(m, r, md, RoomRole::Member).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    // An outsider of a public room is refused; of an unknown room, not found.
    let out = user(svc, "outsider").await;
    let before_out = seq(svc).await;
    assert_code(
        svc.set_role(out, r, m, RoomRole::Moderator).await,
        "forbidden",
    );
    assert_code(
        svc.set_role(o, RoomId::new(), m, RoomRole::Moderator).await,
        "not_found",
    );
    assert_code(
        svc.set_role(o, r, out, RoomRole::Moderator).await,
        "not_found",
    );
    assert_eq!(seq(svc).await, before_out);
    for (u, want) in [
        (a2, RoomRole::Admin),
        (o, RoomRole::Owner),
        (m, RoomRole::Member),
        (md, RoomRole::Moderator),
    ] {
        assert_eq!(role(svc, r, u).await, Some(want));
    }
    // Below their own: an admin demotes a moderator; the owner demotes an admin.
    assert_eq!(
        svc.set_role(a1, r, md, RoomRole::Member).await?.role,
        RoomRole::Member
    );
    assert_eq!(
        svc.set_role(o, r, a2, RoomRole::Moderator).await?.role,
        RoomRole::Moderator
    );
    assert_eq!(role(svc, r, a2).await, Some(RoomRole::Moderator));
    Ok(())
}

pub async fn set_role_self_lower_but_sole_owner_stays(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let ad = user(svc, "adam").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    add_as(svc, o, r, ad, RoomRole::Admin).await;
    // An admin may step down.
    assert_eq!(
        svc.set_role(ad, r, ad, RoomRole::Moderator).await?.role,
        RoomRole::Moderator
    );
    // The sole owner may not: the room would have no owner.
    let before = seq(svc).await;
    assert_code(svc.set_role(o, r, o, RoomRole::Admin).await, "forbidden");
    assert_eq!(seq(svc).await, before);
    assert_eq!(role(svc, r, o).await, Some(RoomRole::Owner));
    // With a second owner, one may step down.
    svc.set_role(o, r, ad, RoomRole::Owner).await?;
    svc.set_role(o, r, o, RoomRole::Member).await?;
    assert_eq!(role(svc, r, o).await, Some(RoomRole::Member));
    assert_code(svc.set_role(ad, r, ad, RoomRole::Admin).await, "forbidden");
    check_invariants(svc).await?;
    Ok(())
}

pub async fn set_role_refused_to_others_even_when_nothing_would_change(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let a1 = user(svc, "adam").await;
    let a2 = user(svc, "alan").await;
    let md = user(svc, "moder").await;
    let m1 = user(svc, "member").await;
    let m2 = user(svc, "mick").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    add_as(svc, o, r, a1, RoomRole::Admin).await;
    add_as(svc, o, r, a2, RoomRole::Admin).await;
    add_as(svc, o, r, md, RoomRole::Moderator).await;
    add_as(svc, o, r, m1, RoomRole::Member).await;
    add_as(svc, o, r, m2, RoomRole::Member).await;
    let before = seq(svc).await;
    // Who may not change a role is refused, not told "done".
    for (actor, target, to) in [
        (m1, m2, RoomRole::Member),
        (m1, o, RoomRole::Owner),
        (md, m1, RoomRole::Member),
        (a1, a2, RoomRole::Admin),
        (a1, o, RoomRole::Owner),
    ] {
        assert_code(svc.set_role(actor, r, target, to).await, "forbidden");
    }
    // Who may, gets the unchanged membership, and nothing is written.
    assert_eq!(
        svc.set_role(o, r, m1, RoomRole::Member).await?.role,
        RoomRole::Member
    );
    assert_eq!(
        svc.set_role(a1, r, md, RoomRole::Moderator).await?.role,
        RoomRole::Moderator
    );
    // Anyone may "set" their own current role.
    assert_eq!(
        svc.set_role(m2, r, m2, RoomRole::Member).await?.role,
        RoomRole::Member
    );
    assert_eq!(
        svc.set_role(o, r, o, RoomRole::Owner).await?.role,
        RoomRole::Owner
    );
    assert_eq!(seq(svc).await, before);
    Ok(())
}

pub async fn remove_member_only_lower_roles(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let a1 = user(svc, "adam").await;
    let a2 = user(svc, "alan").await;
    let d1 = user(svc, "moder").await;
    let d2 = user(svc, "mona").await;
    let m1 = user(svc, "member").await;
    let m2 = user(svc, "mick").await;
    let m3 = user(svc, "milo").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    for (u, ro) in [
        (a1, RoomRole::Admin),
        (a2, RoomRole::Admin),
        (d1, RoomRole::Moderator),
        (d2, RoomRole::Moderator),
        (m1, RoomRole::Member),
        (m2, RoomRole::Member),
        (m3, RoomRole::Member),
    ] {
        add_as(svc, o, r, u, ro).await;
    }
    assert_eq!(member_count(svc, r).await, Some(8));
    let before = seq(svc).await;
    for (actor, target) in [
        (m1, m2), // member removes no one
        (m1, d1),
        (d1, d2), // moderator: not an equal
        (d1, a1),
        (a1, a2), // admin: not an equal
        (a1, o),  // nor the owner
    ] {
        assert_code(svc.remove_member(actor, r, target).await, "forbidden");
    }
    assert_eq!(seq(svc).await, before);
    assert_eq!(member_count(svc, r).await, Some(8));
    // Lower roles go.
    svc.remove_member(d1, r, m1).await?;
    svc.remove_member(a1, r, d2).await?;
    svc.remove_member(a1, r, m2).await?;
    svc.remove_member(o, r, a2).await?;
    for gone in [m1, d2, m2, a2] {
        assert_eq!(role(svc, r, gone).await, None);
        assert_eq!(rooms_count(svc, gone).await, 0);
    }
    assert_eq!(member_count(svc, r).await, Some(4));
    // A removed member is refused what members may do.
    let g = user(svc, "guest").await;
    assert_code(svc.add_member(m1, r, g).await, "forbidden");
    check_invariants(svc).await?;
    Ok(())
}

pub async fn remove_member_unknown_membership_not_found(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    let before = seq(svc).await;
    assert_code(svc.remove_member(o, r, g).await, "not_found");
    assert_code(svc.remove_member(o, RoomId::new(), g).await, "not_found");
    // An outsider learns nothing about a private room.
    assert_code(svc.remove_member(g, r, o).await, "not_found");
    assert_code(svc.leave_room(g, r).await, "not_found");
    assert_eq!(seq(svc).await, before);
    assert_eq!(member_count(svc, r).await, Some(1));
    Ok(())
}

pub async fn leave_room_adjusts_counts(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    add_as(svc, o, r, g, RoomRole::Moderator).await;
    assert_eq!(rooms_count(svc, g).await, 1);
    svc.leave_room(g, r).await?;
    assert_eq!(role(svc, r, g).await, None);
    assert_eq!(rooms_count(svc, g).await, 0);
    assert_eq!(member_count(svc, r).await, Some(1));
    assert!(
        svc.my_rooms(g, RoomFilter::default(), PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    // Leaving twice: no membership.
    let before = seq(svc).await;
    assert_code(svc.leave_room(g, r).await, "not_found");
    assert_eq!(seq(svc).await, before);
    // remove_member on oneself is leaving, whatever the role.
    svc.add_member(o, r, g).await?;
    svc.remove_member(g, r, g).await?;
    assert_eq!(role(svc, r, g).await, None);
    assert_eq!(role(svc, r, o).await, Some(RoomRole::Owner));
    check_invariants(svc).await?;
    Ok(())
}

pub async fn sole_owner_leaving_hands_to_longest_standing_admin(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let m = user(svc, "member").await;
    let md = user(svc, "moder").await;
    let early = user(svc, "early").await;
    let late = user(svc, "late").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    // Joining order: m, md, early, late; late is promoted to admin first.
    for u in [m, md, early, late] {
        svc.add_member(o, r, u).await?;
        ctx.clock.advance(chrono::Duration::minutes(1));
    }
    svc.set_role(o, r, md, RoomRole::Moderator).await?;
    svc.set_role(o, r, late, RoomRole::Admin).await?;
    svc.set_role(o, r, early, RoomRole::Admin).await?;
    svc.leave_room(o, r).await?;
    assert_eq!(
        role(svc, r, early).await,
        Some(RoomRole::Owner),
        "longest-standing admin"
    );
    assert_eq!(role(svc, r, late).await, Some(RoomRole::Admin));
    assert_eq!(role(svc, r, md).await, Some(RoomRole::Moderator));
    assert_eq!(role(svc, r, m).await, Some(RoomRole::Member));
    assert_eq!(member_count(svc, r).await, Some(4));
    // The new owner owns: may promote to owner, and the old one is gone.
    assert_eq!(role(svc, r, o).await, None);
    svc.set_role(early, r, late, RoomRole::Owner).await?;
    check_invariants(svc).await?;
    Ok(())
}

pub async fn sole_owner_leaving_hands_to_moderator_without_admin(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let m = user(svc, "member").await;
    let d1 = user(svc, "moder").await;
    let d2 = user(svc, "mona").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    for u in [m, d1, d2] {
        svc.add_member(o, r, u).await?;
    }
    svc.set_role(o, r, d2, RoomRole::Moderator).await?;
    svc.set_role(o, r, d1, RoomRole::Moderator).await?;
    svc.leave_room(o, r).await?;
    assert_eq!(role(svc, r, d1).await, Some(RoomRole::Owner));
    assert_eq!(role(svc, r, d2).await, Some(RoomRole::Moderator));
    assert_eq!(role(svc, r, m).await, Some(RoomRole::Member));
    let mine = svc
        .my_rooms(d1, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(mine.items[0].role, RoomRole::Owner);
    assert_eq!(mine.items[0].room.member_count, 3);
    Ok(())
}

pub async fn sole_owner_leaving_hands_to_member_without_admin_or_moderator(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let ms = users(svc, "member", 3).await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    // Added in order 1, 0, 2: member1 is the longest-standing.
    for i in [1, 0, 2] {
        svc.add_member(o, r, ms[i]).await?;
    }
    svc.leave_room(o, r).await?;
    assert_eq!(role(svc, r, ms[1]).await, Some(RoomRole::Owner));
    assert_eq!(role(svc, r, ms[0]).await, Some(RoomRole::Member));
    assert_eq!(role(svc, r, ms[2]).await, Some(RoomRole::Member));
    // The new sole owner leaving hands over in turn.
    svc.leave_room(ms[1], r).await?;
    assert_eq!(role(svc, r, ms[0]).await, Some(RoomRole::Owner));
    assert_eq!(member_count(svc, r).await, Some(2));
    check_invariants(svc).await?;
    Ok(())
}

pub async fn owner_leaving_beside_another_owner_hands_nothing_over(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let o2 = user(svc, "oscar").await;
    let ad = user(svc, "adam").await;
    let r = room(svc, o, "room", RoomVisibility::Private).await;
    add_as(svc, o, r, ad, RoomRole::Admin).await;
    add_as(svc, o, r, o2, RoomRole::Owner).await;
    svc.leave_room(o, r).await?;
    assert_eq!(role(svc, r, o2).await, Some(RoomRole::Owner));
    assert_eq!(
        role(svc, r, ad).await,
        Some(RoomRole::Admin),
        "no promotion"
    );
    assert_eq!(member_count(svc, r).await, Some(2));
    Ok(())
}

pub async fn last_member_leaving_deletes_room(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    let keep = room(svc, o, "keep", RoomVisibility::Public).await;
    svc.add_member(o, r, g).await?;
    svc.leave_room(o, r).await?;
    assert_eq!(role(svc, r, g).await, Some(RoomRole::Owner));
    svc.leave_room(g, r).await?;
    assert_eq!(room_rec(svc, r).await, None, "an empty room is deleted");
    assert_code(svc.add_member(o, r, g).await, "not_found");
    assert_code(svc.leave_room(g, r).await, "not_found");
    assert_eq!(rooms_count(svc, g).await, 0);
    assert_eq!(
        room_ids(
            &svc.my_rooms(o, RoomFilter::default(), PageRequest::first())
                .await?
        ),
        vec![keep]
    );
    // A sole owner alone in a room: leaving deletes it.
    svc.leave_room(o, keep).await?;
    assert_eq!(room_rec(svc, keep).await, None);
    assert_eq!(rooms_count(svc, o).await, 0);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn my_rooms_newest_joined_first(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    // Rooms created in one order, joined in another.
    let mut rs = Vec::new();
    for i in 0..4 {
        rs.push(room(svc, o, &format!("room {i}"), RoomVisibility::Public).await);
    }
    for i in [2, 0, 3, 1] {
        svc.add_member(o, rs[i], g).await?;
    }
    let own = room(svc, g, "own", RoomVisibility::Private).await;
    let p = svc
        .my_rooms(g, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(room_ids(&p), vec![own, rs[1], rs[3], rs[0], rs[2]]);
    assert_eq!(p.next_cursor, None);
    // Leaving and re-joining moves a room to the front.
    svc.leave_room(g, rs[0]).await?;
    svc.add_member(o, rs[0], g).await?;
    let p = svc
        .my_rooms(g, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(room_ids(&p), vec![rs[0], own, rs[1], rs[3], rs[2]]);
    // The owner's list: newest created first (joined at creation).
    let p = svc
        .my_rooms(o, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(room_ids(&p), vec![rs[3], rs[2], rs[1], rs[0]]);
    // A role change does not reorder.
    svc.set_role(o, rs[2], g, RoomRole::Admin).await?;
    let p = svc
        .my_rooms(g, RoomFilter::default(), PageRequest::first())
        .await?;
    assert_eq!(room_ids(&p), vec![rs[0], own, rs[1], rs[3], rs[2]]);
    assert_eq!(p.items[4].role, RoomRole::Admin);
    Ok(())
}

pub async fn my_rooms_name_filter_case_and_accent_insensitive(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let cafe = room(svc, a, "Café Société", RoomVisibility::Public).await;
    let decomposed = room(svc, a, "Cafe\u{301} Noir", RoomVisibility::Public).await;
    let other = room(svc, a, "Tea Room", RoomVisibility::Public).await;
    let find = |q: &str| walk_rooms(svc, a, by_name(q), 20);
    assert_eq!(find("cafe").await?, vec![decomposed, cafe]);
    assert_eq!(find("CAFÉ").await?, vec![decomposed, cafe]);
    assert_eq!(find("societe").await?, vec![cafe]);
    assert_eq!(find("SOCIÉTÉ").await?, vec![cafe]);
    assert_eq!(find("fé so").await?, vec![cafe], "a substring across words");
    assert_eq!(find("ciet").await?, vec![cafe], "a substring inside a word");
    assert_eq!(find("noir").await?, vec![decomposed]);
    assert_eq!(find("tea").await?, vec![other]);
    assert!(find("caffe").await?.is_empty());
    assert!(find("Société Café").await?.is_empty());
    // Filter length: 100 allowed, 101 refused.
    assert!(find(&"a".repeat(100)).await?.is_empty());
    assert_code(find(&"a".repeat(101)).await, "validation");
    Ok(())
}

pub async fn my_rooms_kind_and_role_filters(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    let g1 = svc
        .create_room(
            a,
            new_room(RoomKind::Group, "Group one", RoomVisibility::Public),
        )
        .await?
        .id;
    let p1 = svc
        .create_room(
            a,
            new_room(RoomKind::Page, "Page one", RoomVisibility::Public),
        )
        .await?
        .id;
    let g2 = svc
        .create_room(
            b,
            new_room(RoomKind::Group, "Group two", RoomVisibility::Public),
        )
        .await?
        .id;
    let p2 = svc
        .create_room(
            b,
            new_room(RoomKind::Page, "Page two", RoomVisibility::Private),
        )
        .await?
        .id;
    add_as(svc, b, g2, a, RoomRole::Moderator).await;
    add_as(svc, b, p2, a, RoomRole::Member).await;
    let f = |kind: Option<RoomKind>, role: Option<RoomRole>, name: Option<&str>| RoomFilter {
        name: name.map(str::to_string),
        kind,
        role,
    };
    let q = |filter: RoomFilter| walk_rooms(svc, a, filter, 20);
    assert_eq!(q(f(Some(RoomKind::Group), None, None)).await?, vec![g2, g1]);
    assert_eq!(q(f(Some(RoomKind::Page), None, None)).await?, vec![p2, p1]);
    assert_eq!(q(f(None, Some(RoomRole::Owner), None)).await?, vec![p1, g1]);
    assert_eq!(q(f(None, Some(RoomRole::Moderator), None)).await?, vec![g2]);
    assert_eq!(q(f(None, Some(RoomRole::Member), None)).await?, vec![p2]);
    assert!(q(f(None, Some(RoomRole::Admin), None)).await?.is_empty());
    assert_eq!(
        q(f(Some(RoomKind::Page), Some(RoomRole::Owner), None)).await?,
        vec![p1]
    );
    assert_eq!(
        q(f(Some(RoomKind::Group), None, Some("two"))).await?,
        vec![g2]
    );
    assert!(
        q(f(Some(RoomKind::Page), Some(RoomRole::Moderator), None))
            .await?
            .is_empty()
    );
    assert_eq!(q(RoomFilter::default()).await?, vec![p2, g2, p1, g1]);
    // Filters arrive as JSON; unknown fields are refused.
    let jf: RoomFilter = serde_json::from_str(r#"{"kind":"page","role":"owner"}"#)?;
    assert_eq!(q(jf).await?, vec![p1]);
    assert!(serde_json::from_str::<RoomFilter>(r#"{"colour":"red"}"#).is_err());
    // The role filter follows role changes.
    svc.set_role(b, g2, a, RoomRole::Member).await?;
    assert_eq!(
        q(f(None, Some(RoomRole::Member), None)).await?,
        vec![p2, g2]
    );
    Ok(())
}

pub async fn my_rooms_limit_edges_and_bad_cursors(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let b = user(svc, "bobby").await;
    for i in 0..101 {
        room(svc, a, &format!("r{i}"), RoomVisibility::Private).await;
    }
    for i in 0..3 {
        room(svc, b, &format!("b{i}"), RoomVisibility::Private).await;
    }
    let all = RoomFilter::default;
    assert_code(
        svc.my_rooms(a, all(), PageRequest::with_limit(0)).await,
        "validation",
    );
    assert_code(
        svc.my_rooms(a, all(), PageRequest::with_limit(101)).await,
        "validation",
    );
    let p = svc.my_rooms(a, all(), PageRequest::first()).await?;
    assert_eq!(p.items.len(), 20, "default limit");
    let p = svc.my_rooms(a, all(), PageRequest::with_limit(1)).await?;
    assert_eq!(p.items.len(), 1);
    assert_eq!(p.items[0].room.name.as_str(), "r100");
    let p = svc.my_rooms(a, all(), PageRequest::with_limit(100)).await?;
    assert_eq!(p.items.len(), 100);
    let c = p.next_cursor.ok_or("100 of 101")?;
    let last = svc
        .my_rooms(a, all(), PageRequest::after(c.clone(), Some(100)))
        .await?;
    assert_eq!(last.items.len(), 1);
    assert_eq!(last.items[0].room.name.as_str(), "r0");
    assert_eq!(last.next_cursor, None);
    // Another user's cursor, a truncated one and garbage are refused.
    let b_c = svc
        .my_rooms(b, all(), PageRequest::with_limit(1))
        .await?
        .next_cursor
        .ok_or("b's cursor")?;
    for bad in [b_c.as_str(), &c[..c.len() - 2], "", "@@@", "AAAAAAAA"] {
        assert_code(
            svc.my_rooms(a, all(), PageRequest::after(bad, Some(10)))
                .await,
            "validation",
        );
    }
    // b's own cursor pages b's list.
    assert!(
        svc.my_rooms(b, all(), PageRequest::after(b_c, Some(10)))
            .await
            .is_ok()
    );
    Ok(())
}

pub async fn my_rooms_40_and_41_rooms_exact_pages(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let mut rs = Vec::new();
    for i in 0..41 {
        rs.push(room(svc, a, &format!("r{i}"), RoomVisibility::Public).await);
    }
    let newest: Vec<RoomId> = rs.iter().rev().copied().collect();
    // 41 rooms: 20, 20, 1.
    let p1 = svc
        .my_rooms(a, RoomFilter::default(), PageRequest::with_limit(20))
        .await?;
    let p2 = svc
        .my_rooms(
            a,
            RoomFilter::default(),
            PageRequest::after(p1.next_cursor.clone().ok_or("p1")?, Some(20)),
        )
        .await?;
    let p3 = svc
        .my_rooms(
            a,
            RoomFilter::default(),
            PageRequest::after(p2.next_cursor.clone().ok_or("p2")?, Some(20)),
        )
        .await?;
    assert_eq!(
        (p1.items.len(), p2.items.len(), p3.items.len()),
        (20, 20, 1)
    );
    assert_eq!(p3.next_cursor, None);
    let mut got = room_ids(&p1);
    got.extend(room_ids(&p2));
    got.extend(room_ids(&p3));
    assert_eq!(got, newest);
    // 40 rooms: 20, 20 and no cursor on the second.
    svc.leave_room(a, rs[0]).await?;
    let p1 = svc
        .my_rooms(a, RoomFilter::default(), PageRequest::with_limit(20))
        .await?;
    let p2 = svc
        .my_rooms(
            a,
            RoomFilter::default(),
            PageRequest::after(p1.next_cursor.clone().ok_or("p1")?, Some(20)),
        )
        .await?;
    assert_eq!(p2.items.len(), 20);
    assert_eq!(p2.next_cursor, None);
    Ok(())
}

pub async fn my_rooms_filtered_pages_stay_full(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let mut cafes = Vec::new();
    for i in 0..90 {
        let name = if i % 9 == 0 {
            format!("Café {i}")
        } else {
            format!("Other {i}")
        };
        let id = room(svc, a, &name, RoomVisibility::Public).await;
        if i % 9 == 0 {
            cafes.push(id);
        }
    }
    let want: Vec<RoomId> = cafes.iter().rev().copied().collect();
    assert_eq!(want.len(), 10);
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    let mut req = PageRequest::with_limit(3);
    loop {
        let p = svc.my_rooms(a, by_name("CAFE"), req).await?;
        sizes.push(p.items.len());
        got.extend(room_ids(&p));
        match p.next_cursor {
            Some(c) => req = PageRequest::after(c, Some(3)),
            None => break,
        }
    }
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    assert_eq!(got, want);
    // Exactly a multiple: 9 with limit 3 → three pages, the last without a cursor.
    svc.leave_room(a, cafes[0]).await?;
    let pages = walk_rooms(svc, a, by_name("café"), 3).await?;
    assert_eq!(pages.len(), 9);
    let p = svc
        .my_rooms(a, by_name("café"), PageRequest::with_limit(9))
        .await?;
    assert_eq!(p.items.len(), 9);
    assert_eq!(p.next_cursor, None);
    Ok(())
}

pub async fn my_rooms_paging_under_joins_and_leaves(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alice").await;
    let o = user(svc, "olivia").await;
    let mut rs = Vec::new();
    for i in 0..30 {
        let r = room(svc, o, &format!("r{i}"), RoomVisibility::Public).await;
        svc.add_member(o, r, a).await?;
        rs.push(r);
    }
    let mut spare = Vec::new();
    for i in 0..10 {
        spare.push(room(svc, o, &format!("s{i}"), RoomVisibility::Public).await);
    }
    let mut spare = spare.into_iter();
    let mut seen: Vec<RoomId> = Vec::new();
    let mut left: HashSet<RoomId> = HashSet::new();
    let mut left_unseen: HashSet<RoomId> = HashSet::new();
    let mut req = PageRequest::with_limit(4);
    loop {
        let p = svc.my_rooms(a, RoomFilter::default(), req).await?;
        seen.extend(room_ids(&p));
        let Some(c) = p.next_cursor else { break };
        assert_eq!(p.items.len(), 4);
        if let Some(s) = spare.next() {
            svc.add_member(o, s, a).await?;
        }
        if let Some(r) = rs
            .iter()
            .find(|r| !seen.contains(r) && !left.contains(r))
            .copied()
        {
            svc.leave_room(a, r).await?;
            left.insert(r);
            left_unseen.insert(r);
        }
        if let Some(r) = seen
            .iter()
            .find(|r| !left.contains(r) && rs.contains(r))
            .copied()
        {
            svc.remove_member(o, r, a).await?;
            left.insert(r);
        }
        req = PageRequest::after(c, Some(4));
    }
    let unique: HashSet<RoomId> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no room twice");
    for r in rs.iter().filter(|r| !left.contains(r)) {
        assert!(unique.contains(r), "a room held throughout is listed");
    }
    for r in &left_unseen {
        assert!(
            !unique.contains(r),
            "a room left before its page is not listed"
        );
    }
    assert!(left.len() >= 6);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn deactivated_actor_cannot_manage_rooms(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let g = user(svc, "guest").await;
    let r = room(svc, o, "room", RoomVisibility::Public).await;
    svc.add_member(o, r, g).await?;
    svc.deactivate(o).await?;
    let before = seq(svc).await;
    assert_code(
        svc.create_room(o, new_room(RoomKind::Group, "x", RoomVisibility::Public))
            .await,
        "deactivated",
    );
    assert_eq!(seq(svc).await, before);
    let h = user(svc, "helen").await;
    let before = seq(svc).await;
    assert_code(svc.add_member(o, r, h).await, "deactivated");
    assert_code(svc.set_role(o, r, g, RoomRole::Admin).await, "deactivated");
    assert_code(svc.remove_member(o, r, g).await, "deactivated");
    assert_code(svc.leave_room(o, r).await, "deactivated");
    assert_code(
        svc.my_rooms(o, RoomFilter::default(), PageRequest::first())
            .await,
        "deactivated",
    );
    let ghost = UserId::new();
    assert_code(
        svc.create_room(
            ghost,
            new_room(RoomKind::Group, "x", RoomVisibility::Public),
        )
        .await,
        "unauthenticated",
    );
    assert_code(
        svc.my_rooms(ghost, RoomFilter::default(), PageRequest::first())
            .await,
        "unauthenticated",
    );
    assert_eq!(seq(svc).await, before);
    // The membership is kept and works again after reactivation.
    svc.reactivate(o).await?;
    assert_eq!(role(svc, r, o).await, Some(RoomRole::Owner));
    svc.set_role(o, r, g, RoomRole::Admin).await?;
    Ok(())
}
