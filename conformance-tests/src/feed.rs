//! SPEC §10: the change feed — which events each command appends, in order;
//! nothing for a failed or no-op command; reading, paging, trimming.

use kinfolk::{
    Change, ChangeEvent, Clock, FollowAction, NewRoom, NewUser, ProfileUpdate, RoomId, RoomKind,
    RoomName, RoomRole, RoomVisibility, UserId, Username,
};

use crate::fixtures::{assert_code, follow, make_private, seq, user, users};
use crate::{Ctx, TestResult};

/// The changes appended after `after`.
async fn since(ctx: &Ctx, after: u64) -> Vec<Change> {
    ctx.svc
        .changes_since(after, 1000)
        .await
        .expect("changes_since")
        .into_iter()
        .map(|e| e.change)
        .collect()
}

fn room(name: &str, visibility: RoomVisibility) -> NewRoom {
    NewRoom {
        kind: RoomKind::Group,
        name: RoomName::parse(name).expect("room name"),
        visibility,
    }
}

pub async fn new_store_feed_empty(ctx: Ctx) -> TestResult {
    assert_eq!(ctx.svc.last_change_seq().await?, 0);
    assert!(ctx.svc.changes_since(0, 1000).await?.is_empty());
    Ok(())
}

pub async fn register_appends_user_registered(ctx: Ctx) -> TestResult {
    let before = seq(&ctx.svc).await;
    let u = user(&ctx.svc, "newcomer").await;
    let events = ctx.svc.changes_since(before, 10).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::UserRegistered { user: u });
    assert_eq!(events[0].seq, seq(&ctx.svc).await);
    assert!(events[0].seq > before);
    Ok(())
}

pub async fn event_time_from_clock(ctx: Ctx) -> TestResult {
    let t0 = ctx.clock.now();
    let a = user(&ctx.svc, "early").await;
    ctx.clock.advance(chrono::Duration::days(3));
    let b = user(&ctx.svc, "late").await;
    ctx.clock.advance(chrono::Duration::minutes(5));
    follow(&ctx.svc, a, b).await;
    let events = ctx.svc.changes_since(0, 10).await?;
    let at: Vec<_> = events.iter().map(|e| e.at).collect();
    assert_eq!(
        at,
        vec![
            t0,
            t0 + chrono::Duration::days(3),
            t0 + chrono::Duration::days(3) + chrono::Duration::minutes(5)
        ]
    );
    Ok(())
}

pub async fn profile_update_events(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "changer").await;
    let before = seq(&ctx.svc).await;
    let bio: ProfileUpdate = serde_json::from_str(r#"{"bio":"hello"}"#)?;
    ctx.svc.update_profile(u, bio).await?;
    assert_eq!(
        since(&ctx, before).await,
        vec![Change::ProfileUpdated { user: u }]
    );
    let before = seq(&ctx.svc).await;
    let rename = ProfileUpdate {
        username: Some(Username::parse("changed")?),
        name: Some(kinfolk::DisplayName::parse("Changed")?),
        ..Default::default()
    };
    ctx.svc.update_profile(u, rename).await?;
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::UsernameChanged { user: u },
            Change::ProfileUpdated { user: u }
        ]
    );
    Ok(())
}

pub async fn settings_change_event(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "tweaker").await;
    let before = seq(&ctx.svc).await;
    crate::fixtures::settings(&ctx.svc, u, r#"{"display":{"theme":"dark"}}"#).await;
    assert_eq!(
        since(&ctx, before).await,
        vec![Change::SettingsChanged { user: u }]
    );
    Ok(())
}

pub async fn follow_and_unfollow_events(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "follower").await;
    let b = user(&ctx.svc, "followee").await;
    let before = seq(&ctx.svc).await;
    ctx.svc.toggle_follow(a, b, None).await?;
    ctx.svc.toggle_follow(a, b, None).await?;
    ctx.svc
        .toggle_follow(a, b, Some(FollowAction::Follow))
        .await?;
    ctx.svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    let f = Change::Followed {
        follower: a,
        followee: b,
    };
    let u = Change::Unfollowed {
        follower: a,
        followee: b,
    };
    assert_eq!(since(&ctx, before).await, vec![f.clone(), u.clone(), f, u]);
    Ok(())
}

pub async fn request_lifecycle_events(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "private").await;
    let a = user(&ctx.svc, "asker").await;
    let b = user(&ctx.svc, "other").await;
    make_private(&ctx.svc, p).await;
    let before = seq(&ctx.svc).await;
    ctx.svc.toggle_follow(a, p, None).await?; // request
    ctx.svc.toggle_follow(a, p, None).await?; // withdraw
    ctx.svc.toggle_follow(a, p, None).await?; // request again
    ctx.svc.approve_follow_request(p, a).await?;
    ctx.svc.toggle_follow(b, p, None).await?;
    ctx.svc.reject_follow_request(p, b).await?;
    let req = |r| Change::FollowRequested {
        requester: r,
        target: p,
    };
    assert_eq!(
        since(&ctx, before).await,
        vec![
            req(a),
            Change::FollowRequestCancelled {
                requester: a,
                target: p
            },
            req(a),
            Change::FollowApproved {
                requester: a,
                target: p
            },
            req(b),
            Change::FollowRejected {
                requester: b,
                target: p
            },
        ]
    );
    Ok(())
}

pub async fn remove_follower_events(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "remover").await;
    let f = user(&ctx.svc, "removed").await;
    let r = user(&ctx.svc, "requester").await;
    follow(&ctx.svc, f, u).await;
    make_private(&ctx.svc, u).await;
    follow(&ctx.svc, r, u).await;
    let before = seq(&ctx.svc).await;
    ctx.svc.remove_follower(u, f).await?;
    ctx.svc.remove_follower(u, r).await?;
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::FollowerRemoved {
                user: u,
                follower: f
            },
            Change::FollowRejected {
                requester: r,
                target: u
            },
        ]
    );
    Ok(())
}

pub async fn block_events_sever_then_blocked(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "blocker").await;
    let b = user(&ctx.svc, "blockee").await;
    follow(&ctx.svc, a, b).await; // a → b, b public
    make_private(&ctx.svc, a).await;
    follow(&ctx.svc, b, a).await; // b requests a
    let before = seq(&ctx.svc).await;
    assert!(ctx.svc.block(a, b).await?);
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::Unfollowed {
                follower: a,
                followee: b
            },
            Change::FollowRequestCancelled {
                requester: b,
                target: a
            },
            Change::Blocked {
                blocker: a,
                blocked: b
            },
        ]
    );
    let before = seq(&ctx.svc).await;
    assert!(!ctx.svc.block(a, b).await?);
    assert_eq!(
        seq(&ctx.svc).await,
        before,
        "blocking again appends nothing"
    );
    assert!(ctx.svc.unblock(a, b).await?);
    assert!(!ctx.svc.unblock(a, b).await?);
    assert_eq!(
        since(&ctx, before).await,
        vec![Change::Unblocked {
            blocker: a,
            blocked: b
        }]
    );
    Ok(())
}

pub async fn mute_events(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "muter").await;
    let b = user(&ctx.svc, "mutee").await;
    let until = ctx.clock.now() + chrono::Duration::days(1);
    let before = seq(&ctx.svc).await;
    assert!(ctx.svc.mute(a, b, None).await?);
    assert!(!ctx.svc.mute(a, b, None).await?);
    assert!(ctx.svc.mute(a, b, Some(until)).await?);
    assert!(ctx.svc.unmute(a, b).await?);
    assert!(!ctx.svc.unmute(a, b).await?);
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::Muted {
                muter: a,
                muted: b,
                until: None
            },
            Change::Muted {
                muter: a,
                muted: b,
                until: Some(until)
            },
            Change::Unmuted { muter: a, muted: b },
        ]
    );
    // A timed mute that ended by itself: unmuting appends nothing.
    ctx.svc.mute(a, b, Some(until)).await?;
    ctx.clock.advance(chrono::Duration::days(2));
    let before = seq(&ctx.svc).await;
    assert!(!ctx.svc.unmute(a, b).await?);
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn status_events(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "flicker").await;
    let before = seq(&ctx.svc).await;
    assert!(ctx.svc.deactivate(u).await?);
    assert!(!ctx.svc.deactivate(u).await?);
    assert!(ctx.svc.reactivate(u).await?);
    assert!(!ctx.svc.reactivate(u).await?);
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::Deactivated { user: u },
            Change::Reactivated { user: u }
        ]
    );
    Ok(())
}

pub async fn connected_account_events(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "linker").await;
    let before = seq(&ctx.svc).await;
    ctx.svc.link_account(u, "GitHub", "1", "handle").await?;
    ctx.svc.link_account(u, "github", "1", "handle").await?; // same: no-op
    ctx.svc.link_account(u, "github", "1", "renamed").await?;
    assert!(ctx.svc.unlink_account(u, "github", "1").await?);
    assert!(!ctx.svc.unlink_account(u, "github", "1").await?);
    let linked = Change::AccountLinked {
        user: u,
        provider: "github".into(),
    };
    assert_eq!(
        since(&ctx, before).await,
        vec![
            linked.clone(),
            linked,
            Change::AccountUnlinked {
                user: u,
                provider: "github".into()
            },
        ]
    );
    Ok(())
}

pub async fn room_events(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "roomer").await;
    let m = user(&ctx.svc, "member").await;
    let n = user(&ctx.svc, "newbie").await;
    let before = seq(&ctx.svc).await;
    let r: RoomId = ctx
        .svc
        .create_room(o, room("Club", RoomVisibility::Private))
        .await?
        .id;
    ctx.svc.add_member(o, r, m).await?;
    ctx.svc.add_member(o, r, m).await?; // again: no-op
    ctx.svc.set_role(o, r, m, RoomRole::Moderator).await?;
    ctx.svc.set_role(o, r, m, RoomRole::Moderator).await?; // same: no-op
    ctx.svc.add_member(o, r, n).await?;
    ctx.svc.remove_member(m, r, n).await?;
    ctx.svc.leave_room(m, r).await?;
    assert_eq!(
        since(&ctx, before).await,
        vec![
            Change::RoomCreated { room: r, by: o },
            Change::MemberAdded {
                room: r,
                user: m,
                by: o
            },
            Change::RoleChanged {
                room: r,
                user: m,
                role: RoomRole::Moderator,
                by: o
            },
            Change::MemberAdded {
                room: r,
                user: n,
                by: o
            },
            Change::MemberRemoved {
                room: r,
                user: n,
                by: m
            },
            Change::MemberLeft { room: r, user: m },
        ]
    );
    Ok(())
}

pub async fn room_handover_and_deletion_events(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "founder").await;
    let heir = user(&ctx.svc, "heir").await;
    let r = ctx
        .svc
        .create_room(o, room("Guild", RoomVisibility::Public))
        .await?
        .id;
    ctx.svc.add_member(o, r, heir).await?;
    let before = seq(&ctx.svc).await;
    ctx.svc.leave_room(o, r).await?;
    let got = since(&ctx, before).await;
    let handover = Change::RoleChanged {
        room: r,
        user: heir,
        role: RoomRole::Owner,
        by: o,
    };
    let left = |u| Change::MemberLeft { room: r, user: u };
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&handover) && got.contains(&left(o)), "{got:?}");
    let before = seq(&ctx.svc).await;
    ctx.svc.leave_room(heir, r).await?;
    let got = since(&ctx, before).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.contains(&Change::RoomDeleted { room: r }) && got.contains(&left(heir)),
        "{got:?}"
    );
    Ok(())
}

pub async fn delete_account_events(ctx: Ctx) -> TestResult {
    let d = user(&ctx.svc, "departing").await;
    let x = user(&ctx.svc, "followedbyd").await;
    let y = user(&ctx.svc, "followsd").await;
    follow(&ctx.svc, d, x).await;
    follow(&ctx.svc, y, d).await;
    let before = seq(&ctx.svc).await;
    ctx.svc.delete_account(d).await?;
    let got = since(&ctx, before).await;
    assert_eq!(
        got,
        vec![
            Change::Unfollowed {
                follower: d,
                followee: x
            },
            Change::Unfollowed {
                follower: y,
                followee: d
            },
            Change::AccountDeleted { user: d },
        ]
    );
    Ok(())
}

pub async fn failed_commands_append_nothing(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(kinfolk::Config {
        max_following: 1,
        ..Default::default()
    })
    .await?;
    let a = user(&ctx.svc, "actor").await;
    let b = user(&ctx.svc, "bee").await;
    let c = user(&ctx.svc, "sea").await;
    let blocker = user(&ctx.svc, "blocker").await;
    follow(&ctx.svc, a, b).await;
    ctx.svc.block(blocker, a).await?;
    let ghost = UserId::new();
    let before = seq(&ctx.svc).await;
    assert_code(
        ctx.svc.register(NewUser::new("actor", "Dup")?).await,
        "username_taken",
    );
    assert_code(
        ctx.svc.register(NewUser::new("admin", "Root")?).await,
        "username_reserved",
    );
    assert_code(
        ctx.svc.toggle_follow(a, a, None).await,
        "cannot_follow_self",
    );
    assert_code(ctx.svc.toggle_follow(a, c, None).await, "limit_exceeded");
    assert_code(ctx.svc.toggle_follow(a, blocker, None).await, "not_found");
    assert_code(
        ctx.svc.toggle_follow(ghost, b, None).await,
        "unauthenticated",
    );
    assert_code(ctx.svc.approve_follow_request(a, c).await, "not_found");
    assert_code(
        ctx.svc
            .edit_settings(
                a,
                serde_json::from_str(r#"{"expected_version":9,"display":{"compact":true}}"#)?,
            )
            .await,
        "conflict",
    );
    assert_code(ctx.svc.block(a, a).await, "validation");
    assert_code(
        ctx.svc
            .mute(a, b, Some(ctx.clock.now() - chrono::Duration::seconds(1)))
            .await,
        "validation",
    );
    assert_code(ctx.svc.remove_follower(a, ghost).await, "not_found");
    assert_code(
        ctx.svc.link_account(a, "bad provider", "1", "h").await,
        "validation",
    );
    let rename = ProfileUpdate {
        username: Some(Username::parse("bee")?),
        ..Default::default()
    };
    assert_code(ctx.svc.update_profile(a, rename).await, "username_taken");
    assert_code(ctx.svc.leave_room(a, RoomId::new()).await, "not_found");
    assert_eq!(seq(&ctx.svc).await, before);
    assert!(ctx.svc.changes_since(before, 1000).await?.is_empty());
    Ok(())
}

pub async fn failed_midway_command_appends_nothing(ctx: Ctx) -> TestResult {
    // A block that has already removed one follow (and appended its event)
    // when it hits corrupt data must roll back whole: no event survives.
    let a = user(&ctx.svc, "midway").await;
    let b = user(&ctx.svc, "corrupt").await;
    follow(&ctx.svc, a, b).await;
    follow(&ctx.svc, b, a).await;
    // Corrupt a's followers counter (b → a exists, counter says 0).
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
        let mut u = tx.user(a)?.expect("user a");
        u.counts.followers = 0;
        tx.put_user(&u)
    })
    .await?;
    let before = seq(&ctx.svc).await;
    assert_code(ctx.svc.block(a, b).await, "storage");
    assert_eq!(seq(&ctx.svc).await, before);
    assert!(ctx.svc.changes_since(before, 10).await?.is_empty());
    // a → b was removed first inside the command; the rollback restored it.
    // (Read from the store: reads trust the counters `kinfolk check`
    // verifies, and a's followers counter is the corrupt one.)
    let (ab, ba, block) = crate::fixtures::read_store(&ctx.svc, move |tx| {
        use kinfolk::EdgeKind::{Block, Follow};
        Ok((
            tx.edge(Follow, a, b)?.is_some(),
            tx.edge(Follow, b, a)?.is_some(),
            tx.edge(Block, a, b)?.is_some(),
        ))
    })
    .await;
    assert!(ab && ba && !block, "follows {ab} / {ba}, block {block}");
    assert_eq!(ctx.svc.me(b).await?.stats.followers_count, 1);
    Ok(())
}

pub async fn noop_commands_append_nothing(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "idle").await;
    let b = user(&ctx.svc, "other").await;
    let before = seq(&ctx.svc).await;
    ctx.svc
        .toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    ctx.svc.remove_follower(a, b).await?;
    ctx.svc.unblock(a, b).await?;
    ctx.svc.unmute(a, b).await?;
    ctx.svc.reactivate(a).await?;
    ctx.svc.unlink_account(a, "github", "404").await?;
    ctx.svc
        .edit_settings(a, kinfolk::SettingsPatch::default())
        .await?;
    ctx.svc.update_profile(a, ProfileUpdate::default()).await?;
    // Reads never append.
    ctx.svc.me(a).await?;
    ctx.svc.get_profile(Some(a), "other").await?;
    ctx.svc.relationships(a, &[b]).await?;
    ctx.svc.followers(Some(a), b, Default::default()).await?;
    ctx.svc.export(a).await?;
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn sequence_strictly_increasing_and_last_seq(ctx: Ctx) -> TestResult {
    let us = users(&ctx.svc, "seq", 4).await;
    for i in 0..4 {
        follow(&ctx.svc, us[i], us[(i + 1) % 4]).await;
    }
    ctx.svc.block(us[0], us[1]).await?;
    make_private(&ctx.svc, us[2]).await;
    let events = ctx.svc.changes_since(0, 1000).await?;
    // 4 registrations, 4 follows, block (unfollow + blocked), settings.
    assert_eq!(events.len(), 11);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(events[0].seq >= 1);
    assert_eq!(
        events.last().map(|e| e.seq),
        Some(ctx.svc.last_change_seq().await?)
    );
    Ok(())
}

pub async fn changes_since_pages_whole_feed(ctx: Ctx) -> TestResult {
    let us = users(&ctx.svc, "pager", 10).await;
    for i in 1..10 {
        follow(&ctx.svc, us[0], us[i]).await;
        follow(&ctx.svc, us[i], us[0]).await;
    }
    let all = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(all.len(), 28);
    for limit in [1usize, 3, 7, 28, 29] {
        let mut got: Vec<ChangeEvent> = Vec::new();
        let mut after = 0;
        loop {
            let page = ctx.svc.changes_since(after, limit).await?;
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = last.seq;
            let full = page.len() == limit;
            got.extend(page);
            if !full {
                break;
            }
        }
        assert_eq!(got, all, "paging with limit {limit}");
    }
    // Starting in the middle.
    let mid = all[10].seq;
    let tail = ctx.svc.changes_since(mid, 1000).await?;
    assert_eq!(tail, all[11..].to_vec());
    Ok(())
}

pub async fn changes_since_limit_edges(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "busy").await;
    let b = user(&ctx.svc, "target").await;
    // 2 registrations + 1000 toggles = 1002 events.
    for _ in 0..1000 {
        ctx.svc.toggle_follow(a, b, None).await?;
    }
    assert_eq!(ctx.svc.changes_since(0, 1000).await?.len(), 1000);
    assert_eq!(ctx.svc.changes_since(0, 1).await?.len(), 1);
    let first = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(ctx.svc.changes_since(first[999].seq, 1000).await?.len(), 2);
    for bad in [0usize, 1001, usize::MAX] {
        match ctx.svc.changes_since(0, bad).await {
            Err(kinfolk::Error::Validation { field, .. }) => assert_eq!(field, "limit"),
            other => panic!("limit {bad}: expected validation(limit), got {other:?}"),
        }
    }
    Ok(())
}

pub async fn changes_since_after_end_is_empty(ctx: Ctx) -> TestResult {
    user(&ctx.svc, "only").await;
    let last = seq(&ctx.svc).await;
    assert!(ctx.svc.changes_since(last, 10).await?.is_empty());
    assert!(ctx.svc.changes_since(last + 1000, 10).await?.is_empty());
    assert!(ctx.svc.changes_since(u64::MAX, 10).await?.is_empty());
    assert_eq!(ctx.svc.changes_since(last - 1, 10).await?.len(), 1);
    Ok(())
}

pub async fn trim_removes_up_to_and_keeps_last_seq(ctx: Ctx) -> TestResult {
    users(&ctx.svc, "trim", 10).await;
    let all = ctx.svc.changes_since(0, 1000).await?;
    let last = seq(&ctx.svc).await;
    let cut = all[3].seq;
    assert_eq!(ctx.svc.trim_changes(cut).await?, cut);
    let rest = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(rest, all[4..].to_vec());
    assert_eq!(seq(&ctx.svc).await, last, "last_change_seq survives a trim");
    // Reading from a trimmed position gives what is left after it.
    assert_eq!(ctx.svc.changes_since(1, 1000).await?, all[4..].to_vec());
    Ok(())
}

pub async fn trim_all_sequence_not_reused(mut ctx: Ctx) -> TestResult {
    users(&ctx.svc, "gone", 5).await;
    let last = seq(&ctx.svc).await;
    assert_eq!(ctx.svc.trim_changes(last).await?, last);
    assert!(ctx.svc.changes_since(0, 1000).await?.is_empty());
    assert_eq!(seq(&ctx.svc).await, last);
    let u = user(&ctx.svc, "after").await;
    let events = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(events.len(), 1);
    assert!(events[0].seq > last, "a trimmed number is never reused");
    assert_eq!(events[0].change, Change::UserRegistered { user: u });
    // Also across a reopen.
    let now = seq(&ctx.svc).await;
    ctx.svc.trim_changes(now).await?;
    ctx.reopen().await?;
    assert_eq!(seq(&ctx.svc).await, now);
    user(&ctx.svc, "reopened").await;
    let events = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(events.len(), 1);
    assert!(events[0].seq > now);
    Ok(())
}

pub async fn trim_beyond_end_and_zero(ctx: Ctx) -> TestResult {
    users(&ctx.svc, "edge", 3).await;
    let last = seq(&ctx.svc).await;
    assert_eq!(ctx.svc.trim_changes(0).await?, 0);
    assert_eq!(ctx.svc.changes_since(0, 1000).await?.len(), 3);
    let trimmed = ctx.svc.trim_changes(last + 50).await?;
    assert!(
        (last..=last + 50).contains(&trimmed),
        "trimmed to {trimmed}, last {last}"
    );
    assert!(ctx.svc.changes_since(0, 1000).await?.is_empty());
    let u = user(&ctx.svc, "next").await;
    let events = ctx.svc.changes_since(0, 1000).await?;
    assert_eq!(events.len(), 1, "an event after the trim is kept");
    assert!(events[0].seq > last);
    assert_eq!(events[0].change, Change::UserRegistered { user: u });
    Ok(())
}

pub async fn trim_is_idempotent_and_not_an_event(ctx: Ctx) -> TestResult {
    users(&ctx.svc, "idem", 4).await;
    let all = ctx.svc.changes_since(0, 1000).await?;
    let last = seq(&ctx.svc).await;
    ctx.svc.trim_changes(all[1].seq).await?;
    ctx.svc.trim_changes(all[1].seq).await?;
    // Trimming to an earlier point restores nothing.
    ctx.svc.trim_changes(all[0].seq).await?;
    assert_eq!(seq(&ctx.svc).await, last, "trimming appends no event");
    assert_eq!(ctx.svc.changes_since(0, 1000).await?, all[2..].to_vec());
    Ok(())
}

pub async fn feed_survives_reopen(mut ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "persist").await;
    let b = user(&ctx.svc, "other").await;
    follow(&ctx.svc, a, b).await;
    let all = ctx.svc.changes_since(0, 1000).await?;
    ctx.reopen().await?;
    assert_eq!(ctx.svc.changes_since(0, 1000).await?, all);
    assert_eq!(seq(&ctx.svc).await, all.last().map(|e| e.seq).unwrap_or(0));
    Ok(())
}

pub async fn event_json_shape_round_trips(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "jsona").await;
    let b = user(&ctx.svc, "jsonb").await;
    follow(&ctx.svc, a, b).await;
    let until = ctx.clock.now() + chrono::Duration::hours(2);
    ctx.svc.mute(a, b, Some(until)).await?;
    let events = ctx.svc.changes_since(0, 1000).await?;
    let v = serde_json::to_value(&events[2])?;
    assert_eq!(
        v,
        serde_json::json!({
            "seq": events[2].seq,
            "at": "2024-01-01T00:00:00Z",
            "change": {"type": "followed", "follower": a.to_string(), "followee": b.to_string()}
        })
    );
    let m = serde_json::to_value(&events[3].change)?;
    assert_eq!(m["type"], "muted");
    assert_eq!(m["muter"], a.to_string());
    let back: ChangeEvent = serde_json::from_value(serde_json::to_value(&events[3])?)?;
    assert_eq!(back, events[3]);
    assert_eq!(
        back.change,
        Change::Muted {
            muter: a,
            muted: b,
            until: Some(until)
        }
    );
    let reg = serde_json::to_value(&events[0].change)?;
    assert_eq!(
        reg,
        serde_json::json!({"type": "user_registered", "user": a.to_string()})
    );
    Ok(())
}

pub async fn events_carry_no_private_text(ctx: Ctx) -> TestResult {
    let nu = NewUser::new("secretive", "Secret Name")?.with_email("secret@example.com")?;
    let u = ctx.svc.register(nu).await?.id;
    let upd: ProfileUpdate =
        serde_json::from_str(r#"{"bio":"my private bio text","location":"Hidden Town"}"#)?;
    ctx.svc.update_profile(u, upd).await?;
    ctx.svc
        .link_account(u, "github", "ext-999", "secret-handle")
        .await?;
    crate::fixtures::settings(&ctx.svc, u, r#"{"display":{"timezone":"Pacific/Chatham"}}"#).await;
    let json = serde_json::to_string(&ctx.svc.changes_since(0, 1000).await?)?;
    for secret in [
        "secret@example.com",
        "Secret Name",
        "my private bio",
        "Hidden Town",
        "ext-999",
        "secret-handle",
        "Chatham",
    ] {
        assert!(
            !json.contains(secret),
            "{secret} leaked into the feed: {json}"
        );
    }
    Ok(())
}
