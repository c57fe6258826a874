//! SPEC §11: one error type; every variant reachable through the API with a
//! stable `code()` and `http_status()`; bad input gives a typed error and
//! leaves stored data unchanged; bad stored data gives `Storage`, never a panic.

use std::sync::Arc;

use async_trait::async_trait;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use kinfolk::{
    Config, Error, FollowAction, Kinfolk, NewRoom, NewUser, PageRequest, ProfileUpdate, RoomKind,
    RoomName, RoomVisibility, SearchScope, Store, UserId, Username,
};

use crate::fixtures::{assert_code, events_after, follow, make_private, seq, settings, user};
use crate::{Ctx, TestResult};

/// Asserts an error's code and HTTP status.
#[track_caller]
fn assert_err<T: std::fmt::Debug>(r: Result<T, Error>, code: &str, status: u16) -> Error {
    match r {
        Ok(v) => panic!("expected `{code}`, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            assert_eq!(e.http_status(), status, "{e}");
            e
        }
    }
}

pub async fn not_found_404(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "finder").await;
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc.get_profile(Some(a), "nobody").await,
        "not_found",
        404,
    );
    assert!(matches!(e, Error::NotFound { what: "user" }), "{e:?}");
    assert_err(
        ctx.svc.toggle_follow(a, UserId::new(), None).await,
        "not_found",
        404,
    );
    let e = assert_err(
        ctx.svc.approve_follow_request(a, UserId::new()).await,
        "not_found",
        404,
    );
    assert!(
        matches!(
            e,
            Error::NotFound {
                what: "follow_request"
            }
        ),
        "{e:?}"
    );
    let e = assert_err(
        ctx.svc.leave_room(a, kinfolk::RoomId::new()).await,
        "not_found",
        404,
    );
    assert!(matches!(e, Error::NotFound { what: "room" }), "{e:?}");
    assert_err(
        ctx.svc.find_by_connected_account("github", "none").await,
        "not_found",
        404,
    );
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn unauthenticated_401(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "real").await;
    let ghost = UserId::new();
    let before = seq(&ctx.svc).await;
    let e = assert_err(ctx.svc.me(ghost).await, "unauthenticated", 401);
    assert!(matches!(e, Error::Unauthenticated));
    assert_err(
        ctx.svc.edit_settings(ghost, Default::default()).await,
        "unauthenticated",
        401,
    );
    assert_err(ctx.svc.block(ghost, a).await, "unauthenticated", 401);
    assert_err(ctx.svc.delete_account(ghost).await, "unauthenticated", 401);
    assert_err(ctx.svc.export(ghost).await, "unauthenticated", 401);
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn deactivated_403(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "resting").await;
    let b = user(&ctx.svc, "busy").await;
    ctx.svc.deactivate(a).await?;
    let before = seq(&ctx.svc).await;
    let e = assert_err(ctx.svc.toggle_follow(a, b, None).await, "deactivated", 403);
    assert!(matches!(e, Error::Deactivated));
    assert_err(ctx.svc.mute(a, b, None).await, "deactivated", 403);
    assert_err(
        ctx.svc.link_account(a, "github", "1", "h").await,
        "deactivated",
        403,
    );
    assert_err(
        ctx.svc
            .create_room(
                a,
                NewRoom {
                    kind: RoomKind::Page,
                    name: RoomName::parse("Nope")?,
                    visibility: RoomVisibility::Public,
                },
            )
            .await,
        "deactivated",
        403,
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(b).await?.stats.followers_count, 0);
    Ok(())
}

#[track_caller]
fn assert_field<T: std::fmt::Debug>(r: Result<T, Error>, want: &str) {
    match r {
        Err(e @ Error::Validation { field, .. }) => {
            assert_eq!(field, want, "{e}");
            assert_eq!(e.code(), "validation");
            assert_eq!(e.http_status(), 422);
        }
        other => panic!("expected validation({want}), got {other:?}"),
    }
}

pub async fn validation_422_names_field(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "validator").await;
    let b = user(&ctx.svc, "validated").await;
    let before = seq(&ctx.svc).await;
    assert_field(ctx.svc.changes_since(0, 0).await, "limit");
    assert_field(
        ctx.svc
            .followers(Some(a), b, PageRequest::with_limit(101))
            .await,
        "limit",
    );
    assert_field(
        ctx.svc
            .followers(Some(a), b, PageRequest::after("%%%", None))
            .await,
        "cursor",
    );
    let ids: Vec<UserId> = (0..101).map(|_| UserId::new()).collect();
    assert_field(ctx.svc.relationships(a, &ids).await, "ids");
    assert_field(ctx.svc.block(a, a).await, "target");
    assert_field(ctx.svc.mute(a, a, None).await, "target");
    assert_field(
        ctx.svc
            .mute(a, b, Some(kinfolk::Clock::now(&ctx.clock)))
            .await,
        "until",
    );
    assert_field(ctx.svc.get_profile(Some(a), "@").await, "id_or_username");
    assert_field(ctx.svc.link_account(a, "", "1", "h").await, "provider");
    assert_field(
        ctx.svc.link_account(a, "github", "", "h").await,
        "external_id",
    );
    assert_field(
        ctx.svc
            .search_users(Some(a), "   ", SearchScope::Discovery, PageRequest::first())
            .await,
        "query",
    );
    assert_field(Username::parse("x"), "username");
    assert_field(kinfolk::TimeZoneName::parse("Mars/Olympus"), "timezone");
    assert_field(kinfolk::LanguageTag::parse("english!"), "language");
    let http: ProfileUpdate = serde_json::from_str(r#"{"avatar_url":"http://example.com/a.png"}"#)?;
    assert_field(ctx.svc.update_profile(a, http).await, "avatar_url");
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn username_taken_409(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "Taken").await;
    let b = user(&ctx.svc, "other").await;
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc.register(NewUser::new("TAKEN", "Copy")?).await,
        "username_taken",
        409,
    );
    assert!(matches!(e, Error::UsernameTaken));
    let upd = ProfileUpdate {
        username: Some(Username::parse("taken")?),
        ..Default::default()
    };
    assert_err(ctx.svc.update_profile(b, upd).await, "username_taken", 409);
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(b).await?.username.as_str(), "other");
    assert_eq!(ctx.svc.get_profile(None, "taken").await?.id(), a);
    Ok(())
}

pub async fn username_reserved_422(ctx: Ctx) -> TestResult {
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc.register(NewUser::new("r00t", "Root")?).await,
        "username_reserved",
        422,
    );
    assert!(matches!(e, Error::UsernameReserved));
    assert_eq!(seq(&ctx.svc).await, before);
    assert_code(ctx.svc.get_profile(None, "r00t").await, "not_found");
    Ok(())
}

pub async fn cannot_follow_self_422(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "mirror").await;
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc
            .toggle_follow(a, a, Some(FollowAction::Follow))
            .await,
        "cannot_follow_self",
        422,
    );
    assert!(matches!(e, Error::CannotFollowSelf));
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(a).await?.stats.following_count, 0);
    Ok(())
}

pub async fn blocked_403(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "blocker").await;
    let b = user(&ctx.svc, "blockee").await;
    ctx.svc.block(a, b).await?;
    let before = seq(&ctx.svc).await;
    let e = assert_err(ctx.svc.toggle_follow(a, b, None).await, "blocked", 403);
    assert!(matches!(e, Error::Blocked));
    let r = ctx
        .svc
        .create_room(
            a,
            NewRoom {
                kind: RoomKind::Group,
                name: RoomName::parse("Mine")?,
                visibility: RoomVisibility::Private,
            },
        )
        .await?
        .id;
    let mid = seq(&ctx.svc).await;
    assert_err(ctx.svc.add_member(a, r, b).await, "blocked", 403);
    assert_eq!(seq(&ctx.svc).await, mid);
    assert_eq!(events_after(&ctx.svc, before).await, 1);
    Ok(())
}

pub async fn forbidden_403(ctx: Ctx) -> TestResult {
    let owner = user(&ctx.svc, "closed").await;
    let v = user(&ctx.svc, "visitor").await;
    settings(
        &ctx.svc,
        owner,
        r#"{"privacy":{"followers_visibility":"owner","following_visibility":"followers"}}"#,
    )
    .await;
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc
            .followers(Some(v), owner, PageRequest::first())
            .await,
        "forbidden",
        403,
    );
    assert!(matches!(e, Error::Forbidden { .. }));
    assert_err(
        ctx.svc.following(None, owner, PageRequest::first()).await,
        "forbidden",
        403,
    );
    assert_err(
        ctx.svc
            .following(Some(v), owner, PageRequest::first())
            .await,
        "forbidden",
        403,
    );
    // A follower may see the following list.
    follow(&ctx.svc, v, owner).await;
    ctx.svc
        .following(Some(v), owner, PageRequest::first())
        .await?;
    assert_eq!(events_after(&ctx.svc, before).await, 1);
    Ok(())
}

pub async fn limit_exceeded_422(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 1,
        ..Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "capped").await;
    let b = user(&ctx.svc, "first").await;
    let c = user(&ctx.svc, "second").await;
    follow(&ctx.svc, a, b).await;
    let before = seq(&ctx.svc).await;
    let e = assert_err(
        ctx.svc.toggle_follow(a, c, None).await,
        "limit_exceeded",
        422,
    );
    match e {
        Error::LimitExceeded { what, limit } => {
            assert_eq!(what, "following");
            assert_eq!(limit, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(c).await?.stats.followers_count, 0);
    Ok(())
}

pub async fn conflict_409(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "conflicted").await;
    let b = user(&ctx.svc, "linked").await;
    ctx.svc.link_account(b, "google", "g1", "b").await?;
    settings(&ctx.svc, a, r#"{"display":{"theme":"dark"}}"#).await;
    let before = seq(&ctx.svc).await;
    let stale = serde_json::from_str(r#"{"expected_version":1,"display":{"theme":"light"}}"#)?;
    let e = assert_err(ctx.svc.edit_settings(a, stale).await, "conflict", 409);
    assert!(matches!(e, Error::Conflict { .. }));
    assert_err(
        ctx.svc.link_account(a, "google", "g1", "a").await,
        "conflict",
        409,
    );
    assert_eq!(seq(&ctx.svc).await, before);
    let me = ctx.svc.me(a).await?;
    assert_eq!(me.settings.display.theme, kinfolk::Theme::Dark);
    assert!(me.connected_accounts.is_empty());
    Ok(())
}

/// A store whose every transaction fails, as a broken disk would.
#[derive(Debug)]
struct FailingStore;

#[async_trait]
impl Store for FailingStore {
    async fn read(&self, _job: ReadJob) -> kinfolk::Result<Boxed> {
        Err(Error::storage("simulated I/O failure"))
    }
    async fn write(&self, _job: WriteJob) -> kinfolk::Result<Boxed> {
        Err(Error::storage("simulated I/O failure"))
    }
}

/// A store that answers every transaction with a value of the wrong type.
#[derive(Debug)]
struct WrongValueStore;

#[async_trait]
impl Store for WrongValueStore {
    async fn read(&self, _job: ReadJob) -> kinfolk::Result<Boxed> {
        Ok(Box::new("not what the job produced"))
    }
    async fn write(&self, _job: WriteJob) -> kinfolk::Result<Boxed> {
        Ok(Box::new(17u8))
    }
}

pub async fn storage_500_from_failing_store(_ctx: Ctx) -> TestResult {
    let svc = Kinfolk::builder(Arc::new(FailingStore)).build().await?;
    let id = UserId::new();
    let e = assert_err(svc.me(id).await, "storage", 500);
    assert!(matches!(e, Error::Storage(_)));
    assert_err(
        svc.register(NewUser::new("anyone", "Any")?).await,
        "storage",
        500,
    );
    assert_err(svc.last_change_seq().await, "storage", 500);
    assert_err(svc.changes_since(0, 10).await, "storage", 500);
    assert_err(
        svc.toggle_follow(id, UserId::new(), None).await,
        "storage",
        500,
    );
    Ok(())
}

pub async fn storage_from_unexpected_store_value(_ctx: Ctx) -> TestResult {
    let svc = Kinfolk::builder(Arc::new(WrongValueStore)).build().await?;
    assert_err(svc.me(UserId::new()).await, "storage", 500);
    assert_err(svc.last_change_seq().await, "storage", 500);
    assert_err(
        svc.register(NewUser::new("anyone", "Any")?).await,
        "storage",
        500,
    );
    Ok(())
}

pub async fn storage_from_corrupt_counter_not_panic(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "sound").await;
    let b = user(&ctx.svc, "broken").await;
    follow(&ctx.svc, a, b).await;
    // b's followers counter says 0 while the edge a → b exists.
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
        let mut u = tx.user(b)?.expect("user b");
        u.counts.followers = 0;
        tx.put_user(&u)
    })
    .await?;
    let before = seq(&ctx.svc).await;
    assert_err(
        ctx.svc
            .toggle_follow(a, b, Some(FollowAction::Unfollow))
            .await,
        "storage",
        500,
    );
    assert_err(ctx.svc.remove_follower(b, a).await, "storage", 500);
    // Rolled back whole: the edge and a's counter are still there.
    assert_eq!(seq(&ctx.svc).await, before);
    // (Read from the store: reads trust the counters `kinfolk check`
    // verifies, so a relationship read may not see an edge that a corrupt
    // counter rules out.)
    let edge =
        crate::fixtures::read_store(&ctx.svc, move |tx| tx.edge(kinfolk::EdgeKind::Follow, a, b))
            .await;
    assert!(edge.is_some(), "the rolled-back unfollow removed the edge");
    assert_eq!(ctx.svc.me(a).await?.stats.following_count, 1);
    Ok(())
}

pub async fn storage_from_dangling_reference_not_panic(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "approver").await;
    let r = user(&ctx.svc, "vanished").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, r, p).await;
    // The requester's record disappears behind the service's back.
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| tx.delete_user(r)).await?;
    let before = seq(&ctx.svc).await;
    assert_err(ctx.svc.approve_follow_request(p, r).await, "storage", 500);
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(p).await?.stats.pending_follow_requests, 1);
    assert_eq!(ctx.svc.me(p).await?.stats.followers_count, 0);
    Ok(())
}

pub async fn codes_stable_distinct_snake_case(_ctx: Ctx) -> TestResult {
    let all = [
        (Error::NotFound { what: "user" }, "not_found", 404),
        (Error::Unauthenticated, "unauthenticated", 401),
        (Error::Deactivated, "deactivated", 403),
        (Error::validation("f", "r"), "validation", 422),
        (Error::UsernameTaken, "username_taken", 409),
        (Error::UsernameReserved, "username_reserved", 422),
        (Error::CannotFollowSelf, "cannot_follow_self", 422),
        (Error::Blocked, "blocked", 403),
        (Error::Forbidden { reason: "r" }, "forbidden", 403),
        (
            Error::LimitExceeded {
                what: "following",
                limit: 1,
            },
            "limit_exceeded",
            422,
        ),
        (Error::Conflict { reason: "r" }, "conflict", 409),
        (Error::storage("x"), "storage", 500),
    ];
    let mut seen = std::collections::HashSet::new();
    for (e, code, status) in &all {
        assert_eq!(e.code(), *code);
        assert_eq!(e.http_status(), *status, "{code}");
        assert!(seen.insert(e.code()), "duplicate code {code}");
        assert!(
            code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{code}"
        );
        assert!((400..600).contains(status));
        assert!(!e.to_string().is_empty());
    }
    assert_eq!(Error::corrupt("bad row").code(), "storage");
    Ok(())
}

pub async fn error_is_std_error_send_sync(_ctx: Ctx) -> TestResult {
    fn assert_traits<E: std::error::Error + Send + Sync + 'static>() {}
    assert_traits::<Error>();
    let e = Error::storage(std::io::Error::other("disk"));
    let src = std::error::Error::source(&e).expect("storage keeps its source");
    assert!(src.to_string().contains("disk"));
    // Boxes into the usual dynamic error type.
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::UsernameTaken);
    assert_eq!(boxed.to_string(), "username is taken");
    Ok(())
}

pub async fn errors_reveal_no_private_text(ctx: Ctx) -> TestResult {
    let nu = NewUser::new("privy", "Privy")?.with_email("privy@example.com")?;
    ctx.svc.register(nu).await?;
    let dup = NewUser::new("PRIVY", "Dup")?.with_email("dup@example.com")?;
    let e = ctx.svc.register(dup).await.expect_err("taken");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("privy@example.com"), "{text}");
    assert!(!text.contains("dup@example.com"), "{text}");
    Ok(())
}

pub async fn refused_profile_update_is_atomic(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "atomic").await;
    user(&ctx.svc, "occupied").await;
    let before_profile = ctx.svc.me(a).await?;
    let before = seq(&ctx.svc).await;
    // Name and bio are fine, the username is taken: nothing may be applied.
    let upd: ProfileUpdate =
        serde_json::from_str(r#"{"name":"New Name","bio":"new bio","username":"occupied"}"#)?;
    assert_code(ctx.svc.update_profile(a, upd).await, "username_taken");
    let after_profile = ctx.svc.me(a).await?;
    assert_eq!(
        serde_json::to_value(&after_profile)?,
        serde_json::to_value(&before_profile)?
    );
    assert_eq!(seq(&ctx.svc).await, before);
    // Reserved username with other fields: same.
    let upd: ProfileUpdate = serde_json::from_str(r#"{"name":"Other","username":"support"}"#)?;
    assert_code(ctx.svc.update_profile(a, upd).await, "username_reserved");
    assert_eq!(ctx.svc.me(a).await?.name.as_str(), "User atomic");
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn refused_room_command_leaves_room_unchanged(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "roomowner").await;
    let m = user(&ctx.svc, "roommember").await;
    let x = user(&ctx.svc, "outsider").await;
    settings(
        &ctx.svc,
        x,
        r#"{"privacy":{"allow_room_invites":"nobody"}}"#,
    )
    .await;
    let room = ctx
        .svc
        .create_room(
            o,
            NewRoom {
                kind: RoomKind::Group,
                name: RoomName::parse("Quiet")?,
                visibility: RoomVisibility::Private,
            },
        )
        .await?
        .id;
    ctx.svc.add_member(o, room, m).await?;
    let before = seq(&ctx.svc).await;
    assert_err(ctx.svc.add_member(o, room, x).await, "forbidden", 403);
    assert_err(ctx.svc.add_member(m, room, x).await, "forbidden", 403);
    assert_err(ctx.svc.remove_member(m, room, o).await, "forbidden", 403);
    assert_err(
        ctx.svc.set_role(m, room, m, kinfolk::RoomRole::Owner).await,
        "forbidden",
        403,
    );
    assert_err(ctx.svc.leave_room(x, room).await, "not_found", 404);
    assert_eq!(seq(&ctx.svc).await, before);
    let rooms = ctx
        .svc
        .my_rooms(o, Default::default(), PageRequest::first())
        .await?;
    assert_eq!(rooms.items.len(), 1);
    assert_eq!(rooms.items[0].room.member_count, 2);
    assert_eq!(ctx.svc.me(x).await?.stats.rooms_count, 0);
    Ok(())
}

pub async fn refused_list_reads_have_typed_errors(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "reader").await;
    let b = user(&ctx.svc, "listed").await;
    // A cursor from another list or owner is a validation error, not a panic.
    for i in 0..3 {
        let f = user(&ctx.svc, &format!("fan{i}")).await;
        follow(&ctx.svc, f, b).await;
    }
    let page = ctx
        .svc
        .followers(Some(a), b, PageRequest::with_limit(1))
        .await?;
    let cursor = page.next_cursor.expect("more pages");
    assert_code(
        ctx.svc
            .following(Some(a), b, PageRequest::after(cursor.clone(), Some(1)))
            .await,
        "validation",
    );
    assert_code(
        ctx.svc
            .followers(Some(a), a, PageRequest::after(cursor.clone(), Some(1)))
            .await,
        "validation",
    );
    for junk in ["", "a", &"A".repeat(500), "\u{0}\u{1}", "😀😀😀"] {
        assert_code(
            ctx.svc
                .followers(Some(a), b, PageRequest::after(junk, None))
                .await,
            "validation",
        );
    }
    assert_code(
        ctx.svc
            .followers(Some(a), UserId::new(), PageRequest::first())
            .await,
        "not_found",
    );
    Ok(())
}

pub async fn unknown_caller_on_every_follow_command(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "present").await;
    let g = UserId::new();
    let before = seq(&ctx.svc).await;
    assert_code(ctx.svc.toggle_follow(g, a, None).await, "unauthenticated");
    assert_code(ctx.svc.remove_follower(g, a).await, "unauthenticated");
    assert_code(
        ctx.svc.approve_follow_request(g, a).await,
        "unauthenticated",
    );
    assert_code(ctx.svc.reject_follow_request(g, a).await, "unauthenticated");
    assert_code(ctx.svc.relationships(g, &[a]).await, "unauthenticated");
    assert_code(
        ctx.svc.follow_requests(g, PageRequest::first()).await,
        "unauthenticated",
    );
    assert_code(ctx.svc.unblock(g, a).await, "unauthenticated");
    assert_code(ctx.svc.unmute(g, a).await, "unauthenticated");
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn deactivated_caller_on_every_follow_command(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "inactive").await;
    let b = user(&ctx.svc, "active").await;
    make_private(&ctx.svc, a).await;
    follow(&ctx.svc, b, a).await;
    ctx.svc.deactivate(a).await?;
    let before = seq(&ctx.svc).await;
    assert_code(ctx.svc.toggle_follow(a, b, None).await, "deactivated");
    assert_code(ctx.svc.remove_follower(a, b).await, "deactivated");
    assert_code(ctx.svc.approve_follow_request(a, b).await, "deactivated");
    assert_code(ctx.svc.reject_follow_request(a, b).await, "deactivated");
    assert_code(ctx.svc.relationships(a, &[b]).await, "deactivated");
    assert_code(
        ctx.svc.follow_requests(a, PageRequest::first()).await,
        "deactivated",
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(ctx.svc.me(a).await?.stats.pending_follow_requests, 1);
    Ok(())
}
