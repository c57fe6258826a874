//! SPEC §12: the storage contract — atomic commands, uniqueness enforced by
//! the store under races, data surviving a reopen, stores usable from any
//! executor, and stable JSON shapes that round-trip through serde.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration as StdDuration;

use chrono::Duration;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use kinfolk::profile::UsernameClaim;
use kinfolk::search::MatchTier;
use kinfolk::{
    Anchor, Change, ChangeEvent, Clock, Config, ConnectedAccount, DisplayName, Edge, EdgeKind,
    Error, Export, FollowAction, FollowOutcome, Kinfolk, Membership, MyRoom, NewRoom, NewUser,
    Page, PageRequest, ProfileUpdate, ProfileView, Relationship, RelationshipEntry, Room,
    RoomFilter, RoomId, RoomKind, RoomName, RoomRole, RoomVisibility, SearchResult, SearchScope,
    Settings, SettingsPatch, UserId, UserRow, UserSummary, Username,
};

use crate::fixtures::{
    assert_code, check_invariants, follow, make_private, read_store, seq, settings, user,
    user_named,
};
use crate::{Ctx, TestResult};

// ---------------------------------------------------------------- helpers

/// A store value that forwards to the store under test (a bare value, as
/// `MemoryStore::new()` is).
#[derive(Debug)]
struct Forward(std::sync::Arc<dyn kinfolk::Store>);

#[async_trait::async_trait]
impl kinfolk::Store for Forward {
    async fn read(&self, job: kinfolk::store::ReadJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        self.0.read(job).await
    }
    async fn write(&self, job: kinfolk::store::WriteJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        self.0.write(job).await
    }
    async fn await_durable(&self) -> kinfolk::Result<()> {
        self.0.await_durable().await
    }
}

/// Issue 14 item 7: the builder wanted `Arc<dyn Store>` and `Arc<dyn Clock>`
/// while some constructors return bare values. It now takes a store or
/// clock as a value, as an `Arc<T>` or as an `Arc<dyn _>`.
pub async fn builder_takes_stores_and_clocks_bare_or_in_an_arc(ctx: Ctx) -> TestResult {
    let shared = ctx.svc.store().clone();
    let clock = kinfolk::ManualClock::starting_at_epoch();
    let bare = Kinfolk::builder(Forward(shared.clone()))
        .clock(clock.clone())
        .build()
        .await?;
    let arc_t = Kinfolk::builder(std::sync::Arc::new(Forward(shared.clone())))
        .clock(std::sync::Arc::new(clock.clone()))
        .build()
        .await?;
    let arc_dyn = Kinfolk::builder(shared)
        .clock(std::sync::Arc::new(clock) as std::sync::Arc<dyn Clock>)
        .build()
        .await?;
    let a = bare.register(NewUser::new("ada", "Ada")?).await?.id;
    assert_eq!(arc_t.me(a).await?.username.as_str(), "ada");
    assert_eq!(arc_dyn.get_profile(None, "ada").await?.id(), a);
    assert_eq!(ctx.svc.me(a).await?.id, a);
    Ok(())
}

/// Issue 14 item 1: every store round-trips every instant of the supported
/// range ([`kinfolk::clock`]): both ends, the epoch, a leap second and
/// nanosecond precision, in every kind of stored time (user records, edges'
/// `since` and `until`, username holds, feed events), also after a reopen.
pub async fn store_round_trips_times_at_range_ends(mut ctx: Ctx) -> TestResult {
    use kinfolk::clock::{earliest, latest};
    let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
        .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
        .map(|t| t.and_utc())
        .ok_or("leap second")?;
    let times = [
        earliest(),
        earliest() + Duration::nanoseconds(1),
        chrono::DateTime::UNIX_EPOCH - Duration::nanoseconds(1),
        chrono::DateTime::UNIX_EPOCH,
        leap,
        latest() - Duration::nanoseconds(1),
        latest(),
    ];
    let a = user(&ctx.svc, "alice").await;
    let mut ids = Vec::new();
    for i in 0..times.len() {
        ids.push(user(&ctx.svc, &format!("other{}", (b'a' + i as u8) as char)).await);
    }
    let (user_a, written) = {
        let ids = ids.clone();
        kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
            let mut u = tx.user(a)?.ok_or(Error::NotFound { what: "user" })?;
            u.created_at = times[0];
            u.updated_at = times[times.len() - 1];
            tx.put_user(&u)?;
            let mut edges = Vec::new();
            for (i, (&to, &t)) in ids.iter().zip(times.iter()).enumerate() {
                let seq = tx.append_change(
                    t,
                    Change::Muted {
                        muter: a,
                        muted: to,
                        until: Some(times[times.len() - 1 - i]),
                    },
                )?;
                let e = Edge {
                    kind: EdgeKind::Mute,
                    from: a,
                    to,
                    since: t,
                    seq,
                    until: Some(times[times.len() - 1 - i]),
                };
                tx.insert_edge(&e)?;
                edges.push(e);
            }
            let claim = UsernameClaim {
                folded: "held_name".into(),
                user: a,
                username: Username::parse("Held_Name")?,
                held_until: Some(latest()),
            };
            tx.insert_username_claim(&claim)?;
            Ok((u, edges))
        })
        .await?
    };
    for pass in 0..2 {
        let (u, edges, feed, claim) = read_store(&ctx.svc, move |tx| {
            let mut edges = tx.edges(EdgeKind::Mute, Anchor::From(a), None, 100)?;
            edges.reverse();
            let feed = tx.changes_since(0, 10_000)?;
            Ok((tx.user(a)?, edges, feed, tx.username_claim("held_name")?))
        })
        .await;
        assert_eq!(u.as_ref(), Some(&user_a), "pass {pass}: user times");
        assert_eq!(edges, written, "pass {pass}: edge times");
        let at: Vec<_> = feed
            .iter()
            .rev()
            .take(times.len())
            .rev()
            .map(|e| e.at)
            .collect();
        assert_eq!(at, times.to_vec(), "pass {pass}: feed times");
        assert_eq!(claim.and_then(|c| c.held_until), Some(latest()));
        check_invariants(&ctx.svc).await?;
        ctx.reopen().await?;
    }
    Ok(())
}

/// Serialises `v`, reads it back (from text and from a `Value`), checks
/// both equal `v`, and returns the JSON value for shape checks.
#[track_caller]
fn round_trip<T>(v: &T) -> Value
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let text = serde_json::to_string(v).unwrap_or_else(|e| panic!("serialise {v:?}: {e}"));
    let back: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("deserialise {text}: {e}"));
    assert_eq!(&back, v, "round trip through {text}");
    let value = serde_json::to_value(v).unwrap_or_else(|e| panic!("to_value {v:?}: {e}"));
    let back: T =
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("from_value {value}: {e}"));
    assert_eq!(&back, v, "round trip through a Value");
    value
}

/// Checks that `T` refuses `value` with one unknown field added at the top.
#[track_caller]
fn refuses_unknown<T: DeserializeOwned + Debug>(mut value: Value, what: &str) {
    assert!(
        serde_json::from_value::<T>(value.clone()).is_ok(),
        "{what}: the base value {value} must be accepted"
    );
    value
        .as_object_mut()
        .unwrap_or_else(|| panic!("{what}: not an object"))
        .insert("zz_unknown".into(), json!(1));
    let res = serde_json::from_value::<T>(value.clone());
    assert!(
        res.is_err(),
        "{what}: unknown field accepted: {value} → {res:?}"
    );
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// An export with order-free parts sorted, for comparisons.
fn norm(mut e: Export) -> Export {
    e.usernames.sort_by(|a, b| a.folded.cmp(&b.folded));
    e.outgoing.sort_by_key(|x| x.seq);
    e.incoming.sort_by_key(|x| x.seq);
    e.memberships.sort_by_key(|m| m.seq);
    e
}

/// What a refused command must leave exactly as it was: the last sequence
/// number, the whole feed, and the exports of the users involved.
#[derive(Debug, PartialEq)]
struct Snapshot {
    last_seq: u64,
    feed: Vec<ChangeEvent>,
    exports: Vec<Export>,
}

async fn snapshot(svc: &Kinfolk, users: &[UserId]) -> Result<Snapshot, Error> {
    let mut exports = Vec::new();
    for u in users {
        exports.push(norm(svc.export(*u).await?));
    }
    Ok(Snapshot {
        last_seq: svc.last_change_seq().await?,
        feed: svc.changes_since(0, 1000).await?,
        exports,
    })
}

fn room(name: &str, visibility: RoomVisibility) -> Result<NewRoom, Error> {
    Ok(NewRoom {
        kind: RoomKind::Group,
        name: RoomName::parse(name)?,
        visibility,
    })
}

/// Every spelling of `word` with the letters whose bit is set in `i` upper-cased.
fn case_variant(word: &str, i: usize) -> String {
    word.chars()
        .enumerate()
        .map(|(k, c)| {
            if i & (1 << k) != 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------- atomicity

/// §5/§12 atomic: a follow refused by the cap leaves counters, edges and the
/// feed exactly as they were (also for a request to a private account).
pub async fn atomic_follow_refused_by_cap_leaves_state(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let svc = &ctx.svc;
    let a = user(svc, "capped").await;
    let b = user(svc, "bee").await;
    let c = user(svc, "cee").await;
    let d = user(svc, "dee").await;
    let p = user(svc, "private_p").await;
    make_private(svc, p).await;
    follow(svc, a, b).await;
    follow(svc, a, c).await;
    let before = snapshot(svc, &[a, b, c, d, p]).await?;
    assert_code(
        svc.toggle_follow(a, d, Some(FollowAction::Follow)).await,
        "limit_exceeded",
    );
    assert_code(svc.toggle_follow(a, d, None).await, "limit_exceeded");
    assert_code(svc.toggle_follow(a, p, None).await, "limit_exceeded");
    assert_eq!(snapshot(svc, &[a, b, c, d, p]).await?, before);
    let me = svc.me(a).await?;
    assert_eq!(me.stats.following_count, 2);
    assert_eq!(svc.me(d).await?.stats.followers_count, 0);
    assert_eq!(svc.me(p).await?.stats.pending_follow_requests, 0);
    check_invariants(svc).await?;
    // Below the cap again, the same follow goes through.
    svc.toggle_follow(a, b, Some(FollowAction::Unfollow))
        .await?;
    assert!(svc.toggle_follow(a, d, None).await?.changed);
    check_invariants(svc).await?;
    Ok(())
}

/// §3/§12 atomic: a profile update whose username is taken (or held for
/// someone else) changes nothing — not even the other fields of the update.
pub async fn atomic_rename_to_taken_name_leaves_state(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user_named(svc, "renamer", "Original Name").await;
    let b = user(svc, "holder").await;
    let c = user(svc, "old_c").await;
    let upd = ProfileUpdate {
        username: Some(Username::parse("new_c")?),
        ..Default::default()
    };
    svc.update_profile(c, upd).await?; // "old_c" is now held for c
    let before = snapshot(svc, &[a, b, c]).await?;
    for taken in ["HOLDER", "Old_C", "new_c"] {
        let upd = ProfileUpdate {
            name: Some(DisplayName::parse("Changed Name")?),
            bio: Some(kinfolk::Bio::parse("changed")?),
            username: Some(Username::parse(taken)?),
            ..Default::default()
        };
        assert_code(svc.update_profile(a, upd).await, "username_taken");
        assert_eq!(snapshot(svc, &[a, b, c]).await?, before, "after {taken}");
    }
    let me = svc.me(a).await?;
    assert_eq!(me.name.as_str(), "Original Name");
    assert_eq!(me.username.as_str(), "renamer");
    assert_eq!(me.bio.as_str(), "");
    check_invariants(svc).await?;
    Ok(())
}

/// §4/§12 atomic: a stale settings patch changes nothing — in particular,
/// turning private_account off with a stale version approves no request.
pub async fn atomic_stale_settings_patch_leaves_state(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let p = user(svc, "private_p").await;
    let r1 = user(svc, "req_one").await;
    let r2 = user(svc, "req_two").await;
    make_private(svc, p).await; // version 2
    svc.toggle_follow(r1, p, None).await?;
    svc.toggle_follow(r2, p, None).await?;
    let before = snapshot(svc, &[p, r1, r2]).await?;
    let stale: SettingsPatch = serde_json::from_str(
        r#"{"expected_version":1,"privacy":{"private_account":false},"display":{"theme":"dark"}}"#,
    )?;
    assert_code(svc.edit_settings(p, stale).await, "conflict");
    assert_eq!(snapshot(svc, &[p, r1, r2]).await?, before);
    let me = svc.me(p).await?;
    assert_eq!(me.stats.pending_follow_requests, 2);
    assert_eq!(me.stats.followers_count, 0);
    assert_eq!(me.settings.version, 2);
    assert!(me.settings.privacy.private_account);
    // With the right version it applies whole: both requests approved.
    let fresh: SettingsPatch =
        serde_json::from_str(r#"{"expected_version":2,"privacy":{"private_account":false}}"#)?;
    assert_eq!(svc.edit_settings(p, fresh).await?.version, 3);
    let me = svc.me(p).await?;
    assert_eq!(
        (me.stats.pending_follow_requests, me.stats.followers_count),
        (0, 2)
    );
    check_invariants(svc).await?;
    Ok(())
}

/// §12 store contract: a write job that fails after writing leaves no trace
/// (users, claims, edges, rooms, memberships, accounts, feed) and its error
/// comes back unchanged.
pub async fn atomic_failed_write_job_rolls_back_everything(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alpha").await;
    let b = user(svc, "bravo").await;
    follow(svc, a, b).await;
    svc.link_account(a, "github", "1", "alpha_gh").await?;
    let before = snapshot(svc, &[a, b]).await?;
    let now = ctx.clock.now();
    let ghost_room = RoomId::new();
    let ghost_user = UserId::new();
    let res: Result<(), Error> = kinfolk::store::write(svc.store().as_ref(), move |tx| {
        let mut u = tx.user(a)?.ok_or(Error::NotFound { what: "user" })?;
        u.name = DisplayName::parse("Half Written")?;
        u.counts.followers += 7;
        tx.put_user(&u)?;
        let mut ghost = u.clone();
        ghost.id = ghost_user;
        ghost.username = Username::parse("ghost")?;
        tx.put_user(&ghost)?;
        tx.insert_username_claim(&UsernameClaim {
            folded: "ghost".into(),
            user: ghost_user,
            username: Username::parse("ghost")?,
            held_until: None,
        })?;
        tx.delete_edge(EdgeKind::Follow, a, b)?;
        let s = tx.append_change(
            now,
            Change::Followed {
                follower: b,
                followee: a,
            },
        )?;
        tx.insert_edge(&Edge {
            kind: EdgeKind::Follow,
            from: b,
            to: a,
            since: now,
            seq: s,
            until: None,
        })?;
        tx.put_room(&Room {
            id: ghost_room,
            kind: RoomKind::Page,
            name: RoomName::parse("Ghost room")?,
            visibility: RoomVisibility::Public,
            created_by: a,
            created_at: now,
            member_count: 1,
        })?;
        tx.put_membership(&Membership {
            room: ghost_room,
            user: a,
            role: RoomRole::Owner,
            joined_at: now,
            seq: s,
        })?;
        tx.delete_connected_account("github", "1")?;
        tx.insert_connected_account(&ConnectedAccount {
            user: b,
            provider: "gitlab".into(),
            external_id: "9".into(),
            handle: "bravo_gl".into(),
            connected_at: now,
        })?;
        tx.trim_changes(s)?;
        Err(Error::validation("test", "abort after writing"))
    })
    .await;
    match res {
        Err(Error::Validation { field, reason }) => {
            assert_eq!((field, reason.as_str()), ("test", "abort after writing"));
        }
        other => panic!("the job's error must come back unchanged, got {other:?}"),
    }
    assert_eq!(snapshot(svc, &[a, b]).await?, before);
    let (ghost, claim, r, acct) = read_store(svc, move |tx| {
        Ok((
            tx.user(ghost_user)?,
            tx.username_claim("ghost")?,
            tx.room(ghost_room)?,
            tx.connected_account("gitlab", "9")?,
        ))
    })
    .await;
    assert_eq!(ghost, None);
    assert_eq!(claim, None);
    assert_eq!(r, None);
    assert_eq!(acct, None);
    assert_eq!(
        svc.find_by_connected_account("github", "1").await?.id,
        a,
        "the deleted account is back"
    );
    check_invariants(svc).await?;
    // The store still takes writes afterwards.
    user(svc, "charlie").await;
    assert!(seq(svc).await > before.last_seq);
    Ok(())
}

/// §3/§12 uniqueness by the store: inserting a claim on a taken folded name
/// fails with UsernameTaken inside the transaction, and the job's earlier
/// writes roll back with it.
pub async fn store_unique_username_claim_rolls_back(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "Taken_Name").await;
    let b = user(svc, "other_one").await;
    let before = snapshot(svc, &[a, b]).await?;
    let now = ctx.clock.now();
    let res: Result<(), Error> = kinfolk::store::write(svc.store().as_ref(), move |tx| {
        let mut u = tx.user(b)?.ok_or(Error::NotFound { what: "user" })?;
        u.username = Username::parse("TAKEN_name")?;
        tx.put_user(&u)?;
        tx.append_change(now, Change::UsernameChanged { user: b })?;
        tx.insert_username_claim(&UsernameClaim {
            folded: "taken_name".into(),
            user: b,
            username: Username::parse("TAKEN_name")?,
            held_until: None,
        })?;
        Ok(())
    })
    .await;
    assert_code(res, "username_taken");
    assert_eq!(snapshot(svc, &[a, b]).await?, before);
    let claim = read_store(svc, |tx| tx.username_claim("taken_name")).await;
    assert_eq!(claim.map(|c| c.user), Some(a));
    Ok(())
}

/// §5/§12 uniqueness by the store: a second edge `(kind, from, to)` and a
/// second `(provider, external_id)` fail with Conflict and roll back.
pub async fn store_unique_edge_and_connected_account(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alpha").await;
    let b = user(svc, "bravo").await;
    follow(svc, a, b).await;
    svc.link_account(a, "github", "42", "alpha").await?;
    let before = snapshot(svc, &[a, b]).await?;
    let now = ctx.clock.now();
    let res: Result<(), Error> = kinfolk::store::write(svc.store().as_ref(), move |tx| {
        let mut u = tx.user(a)?.ok_or(Error::NotFound { what: "user" })?;
        u.counts.following += 1;
        tx.put_user(&u)?;
        let s = tx.append_change(
            now,
            Change::Followed {
                follower: a,
                followee: b,
            },
        )?;
        tx.insert_edge(&Edge {
            kind: EdgeKind::Follow,
            from: a,
            to: b,
            since: now,
            seq: s,
            until: None,
        })
    })
    .await;
    assert_code(res, "conflict");
    assert_eq!(snapshot(svc, &[a, b]).await?, before);
    let res: Result<(), Error> = kinfolk::store::write(svc.store().as_ref(), move |tx| {
        tx.append_change(
            now,
            Change::AccountLinked {
                user: b,
                provider: "github".into(),
            },
        )?;
        tx.insert_connected_account(&ConnectedAccount {
            user: b,
            provider: "github".into(),
            external_id: "42".into(),
            handle: "bravo".into(),
            connected_at: now,
        })
    })
    .await;
    assert_code(res, "conflict");
    assert_eq!(snapshot(svc, &[a, b]).await?, before);
    assert_eq!(svc.find_by_connected_account("github", "42").await?.id, a);
    // A different kind between the same pair is a different edge.
    svc.mute(a, b, None).await?;
    check_invariants(svc).await?;
    Ok(())
}

/// The port's set-oriented edge reads (`edge_keys`, `edges_into`) answer
/// exactly what `edges` and `edge` do: same rows, same order, same paging.
pub async fn store_edge_keys_and_edges_into_agree_with_edges(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let hub = user(svc, "hub").await;
    let mut fans = Vec::new();
    for i in 0..7 {
        let f = user(svc, &format!("fan{i}")).await;
        follow(svc, f, hub).await;
        if i % 2 == 0 {
            follow(svc, hub, f).await;
        }
        fans.push(f);
    }
    let loner = user(svc, "loner").await;
    svc.mute(fans[1], hub, None).await?;
    let fans2 = fans.clone();
    // Reads inside the job, assertions outside (a panic must not happen on
    // the store's own thread).
    type Keys = Vec<(u64, UserId)>;
    type Pages = Vec<(String, Keys, Keys)>;
    let (pages, counts, into): (Pages, (usize, usize), _) = read_store(svc, move |tx| {
        let mut pages = Vec::new();
        for anchor in [Anchor::To(hub), Anchor::From(hub)] {
            for before in [None, Some(u64::MAX), Some(5), Some(0)] {
                for limit in [1, 3, 100] {
                    let want: Keys = tx
                        .edges(EdgeKind::Follow, anchor, before, limit)?
                        .iter()
                        .map(|e| (e.seq, if e.from == hub { e.to } else { e.from }))
                        .collect();
                    let got = tx.edge_keys(EdgeKind::Follow, anchor, before, limit)?;
                    pages.push((
                        format!("{anchor:?} before {before:?} limit {limit}"),
                        got,
                        want,
                    ));
                }
            }
        }
        let counts = (
            tx.edge_keys(EdgeKind::Follow, Anchor::To(hub), None, 100)?
                .len(),
            tx.edge_keys(EdgeKind::Block, Anchor::To(hub), None, 100)?
                .len(),
        );
        let mut asked = fans2.clone();
        asked.extend([loner, hub]);
        let mut got = tx.edges_into(EdgeKind::Follow, &asked, hub)?;
        got.sort_by_key(|e| e.seq);
        let mut want: Vec<Edge> = Vec::new();
        for &f in &fans2 {
            want.extend(tx.edge(EdgeKind::Follow, f, hub)?);
        }
        want.sort_by_key(|e| e.seq);
        let muted = tx.edges_into(EdgeKind::Mute, &asked, hub)?;
        let none = tx.edges_into(EdgeKind::Follow, &[], hub)?;
        Ok((pages, counts, (got, want, muted, none)))
    })
    .await;
    for (label, got, want) in pages {
        assert_eq!(got, want, "{label}");
    }
    assert_eq!(counts, (7, 0));
    let (got, want, muted, none) = into;
    // Which of these follow `hub`: every fan, not the loner, not hub itself.
    assert_eq!(got, want);
    assert_eq!(got.len(), 7);
    assert_eq!(muted.len(), 1);
    assert_eq!(muted[0].from, fans[1]);
    assert!(none.is_empty());
    Ok(())
}

// ---------------------------------------------------------------- races

/// §3/§12 uniqueness under a race: 16 concurrent registrations of one name
/// in different cases — exactly one wins, the others get UsernameTaken.
pub async fn race_register_same_name_in_different_cases(ctx: Ctx) -> TestResult {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let svc = ctx.svc.clone();
        let name = case_variant("racer", i);
        tasks.push(tokio::spawn(async move {
            let r = svc.register(NewUser::new(&name, "Racer")?).await;
            Ok::<_, Error>((name, r))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (name, r) = t.await??;
        match r {
            Ok(p) => winners.push((name, p.id)),
            Err(e) => assert_eq!(e.code(), "username_taken", "{name}: {e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one registration wins: {winners:?}"
    );
    let (name, id) = winners.remove(0);
    let found = ctx.svc.get_profile(None, "RACER").await?;
    assert_eq!(found.id(), id);
    assert_eq!(found.username().as_str(), name, "stored as typed");
    let registered = ctx
        .svc
        .changes_since(0, 1000)
        .await?
        .into_iter()
        .filter(|e| matches!(e.change, Change::UserRegistered { .. }))
        .count();
    assert_eq!(registered, 1, "one UserRegistered event");
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// §3/§12 uniqueness under a race: 16 users renaming to one name at once —
/// exactly one gets it; the others keep their names.
pub async fn race_rename_to_same_name(ctx: Ctx) -> TestResult {
    let mut people = Vec::new();
    for i in 0..16 {
        people.push(user(&ctx.svc, &format!("runner_{i}")).await);
    }
    let mut tasks = Vec::new();
    for (i, id) in people.iter().copied().enumerate() {
        let svc = ctx.svc.clone();
        let target = case_variant("prize", i);
        tasks.push(tokio::spawn(async move {
            let upd = ProfileUpdate {
                username: Some(Username::parse(&target)?),
                ..Default::default()
            };
            Ok::<_, Error>((id, svc.update_profile(id, upd).await))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (id, r) = t.await??;
        match r {
            Ok(_) => winners.push(id),
            Err(e) => assert_eq!(e.code(), "username_taken", "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rename wins");
    assert_eq!(ctx.svc.get_profile(None, "prize").await?.id(), winners[0]);
    for (i, id) in people.iter().enumerate() {
        if *id != winners[0] {
            assert_eq!(
                ctx.svc.me(*id).await?.username.as_str(),
                format!("runner_{i}")
            );
        }
    }
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// §3/§12 uniqueness under a race: one connected account linked by 16 users
/// at once belongs to exactly one of them.
pub async fn race_link_same_connected_account(ctx: Ctx) -> TestResult {
    let mut people = Vec::new();
    for i in 0..16 {
        people.push(user(&ctx.svc, &format!("linker_{i}")).await);
    }
    let mut tasks = Vec::new();
    for id in people.iter().copied() {
        let svc = ctx.svc.clone();
        tasks.push(tokio::spawn(async move {
            (id, svc.link_account(id, "github", "777", "octo").await)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (id, r) = t.await?;
        match r {
            Ok(acc) => {
                assert_eq!(acc.user, id);
                winners.push(id);
            }
            Err(e) => assert_eq!(e.code(), "conflict", "{e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one link wins");
    assert_eq!(
        ctx.svc.find_by_connected_account("github", "777").await?.id,
        winners[0]
    );
    let mut linked = 0;
    for id in &people {
        linked += ctx.svc.me(*id).await?.connected_accounts.len();
    }
    assert_eq!(linked, 1);
    Ok(())
}

/// §5/§12 uniqueness under a race: 16 concurrent follows of the same pair
/// make one edge, one event, and counters of 1.
pub async fn race_follow_same_pair_one_edge(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "eager").await;
    let b = user(&ctx.svc, "star").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let svc = ctx.svc.clone();
        tasks.push(tokio::spawn(async move {
            svc.toggle_follow(a, b, Some(FollowAction::Follow)).await
        }));
    }
    let mut changed = 0;
    for t in tasks {
        let out = t.await??;
        assert!(out.relationship.following);
        changed += usize::from(out.changed);
    }
    assert_eq!(changed, 1, "exactly one follow changed anything");
    assert_eq!(ctx.svc.me(a).await?.stats.following_count, 1);
    assert_eq!(ctx.svc.me(b).await?.stats.followers_count, 1);
    let followed = ctx
        .svc
        .changes_since(0, 1000)
        .await?
        .into_iter()
        .filter(|e| matches!(e.change, Change::Followed { .. }))
        .count();
    assert_eq!(followed, 1);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

// ---------------------------------------------------------------- reopen

/// §3/§12 durability: users and usernames — held ones included — survive a
/// reopen (for the memory store the same instance comes back).
pub async fn reopen_keeps_users_and_held_usernames(mut ctx: Ctx) -> TestResult {
    let nu = NewUser::new("Durable_D", "Dürer Düsseldorf")?.with_email("d@example.com")?;
    let d = ctx.svc.register(nu).await?.id;
    let upd: ProfileUpdate = serde_json::from_str(
        r#"{"bio":"line one\nline two","avatar_url":"https://cdn.example.com/d.png",
            "social_links":[{"kind":"github","url":"https://github.com/d"}],
            "location":"Zürich"}"#,
    )?;
    ctx.svc.update_profile(d, upd).await?;
    let rename = ProfileUpdate {
        username: Some(Username::parse("Renamed_D")?),
        ..Default::default()
    };
    ctx.svc.update_profile(d, rename).await?;
    let me_before = ctx.svc.me(d).await?;
    let export_before = norm(ctx.svc.export(d).await?);
    ctx.reopen().await?;
    assert_eq!(ctx.svc.me(d).await?, me_before);
    assert_eq!(norm(ctx.svc.export(d).await?), export_before);
    // The held name still redirects and is still refused to others.
    assert_eq!(ctx.svc.get_profile(None, "durable_d").await?.id(), d);
    assert_eq!(ctx.svc.get_profile(None, "@RENAMED_D").await?.id(), d);
    assert_code(
        ctx.svc.register(NewUser::new("DURABLE_D", "Other")?).await,
        "username_taken",
    );
    // The current name is unique too.
    assert_code(
        ctx.svc.register(NewUser::new("renamed_d", "Other")?).await,
        "username_taken",
    );
    // After the hold, across another reopen, the old name is free.
    ctx.clock.advance(Duration::days(15));
    ctx.reopen().await?;
    let other = ctx
        .svc
        .register(NewUser::new("durable_d", "Other")?)
        .await?;
    assert_eq!(ctx.svc.get_profile(None, "Durable_D").await?.id(), other.id);
    Ok(())
}

/// §4/§12 durability: settings and their version survive a reopen, and the
/// version check still works after it.
pub async fn reopen_keeps_settings_with_version(mut ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "settler").await;
    settings(
        &ctx.svc,
        u,
        r#"{"notifications":{"email_digest":"daily","mention":false},
            "privacy":{"followers_visibility":"owner","allow_mentions":"following"}}"#,
    )
    .await;
    settings(
        &ctx.svc,
        u,
        r#"{"display":{"theme":"dark","language":"pt-BR","timezone":"America/Sao_Paulo","compact":true}}"#,
    )
    .await;
    let before: Settings = ctx.svc.me(u).await?.settings;
    assert_eq!(before.version, 3);
    ctx.reopen().await?;
    assert_eq!(ctx.svc.me(u).await?.settings, before);
    let stale: SettingsPatch =
        serde_json::from_str(r#"{"expected_version":2,"display":{"theme":"light"}}"#)?;
    assert_code(ctx.svc.edit_settings(u, stale).await, "conflict");
    let ok: SettingsPatch =
        serde_json::from_str(r#"{"expected_version":3,"display":{"theme":"light"}}"#)?;
    assert_eq!(ctx.svc.edit_settings(u, ok).await?.version, 4);
    Ok(())
}

/// §5/§9/§12 durability: follows, requests, blocks, timed mutes, counters,
/// relationships and lists survive a reopen.
pub async fn reopen_keeps_edges_and_counters(mut ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "viewer").await;
    let a = user(&ctx.svc, "alpha").await;
    let b = user(&ctx.svc, "bravo").await;
    let p = user(&ctx.svc, "private_p").await;
    let x = user(&ctx.svc, "xray").await;
    let m = user(&ctx.svc, "mike").await;
    make_private(&ctx.svc, p).await;
    follow(&ctx.svc, v, a).await;
    follow(&ctx.svc, a, v).await;
    follow(&ctx.svc, b, v).await;
    ctx.svc.toggle_follow(v, p, None).await?;
    ctx.svc.block(v, x).await?;
    let until = ctx.clock.now() + Duration::hours(1);
    ctx.svc.mute(v, m, Some(until)).await?;
    let everyone = [v, a, b, p, x, m];
    let rel_before = ctx.svc.relationships(v, &everyone).await?;
    let followers_before = ctx.svc.followers(Some(v), v, PageRequest::first()).await?;
    let requests_before = ctx.svc.follow_requests(p, PageRequest::first()).await?;
    let mut stats_before = Vec::new();
    for u in everyone {
        stats_before.push(ctx.svc.me(u).await?.stats);
    }
    ctx.reopen().await?;
    assert_eq!(ctx.svc.relationships(v, &everyone).await?, rel_before);
    assert_eq!(
        ctx.svc.followers(Some(v), v, PageRequest::first()).await?,
        followers_before
    );
    assert_eq!(
        ctx.svc.follow_requests(p, PageRequest::first()).await?,
        requests_before
    );
    for (u, s) in everyone.iter().zip(&stats_before) {
        assert_eq!(&ctx.svc.me(*u).await?.stats, s);
    }
    let rel_m = &rel_before[5].relationship;
    assert!(rel_m.muting);
    assert_eq!(rel_m.muted_until, Some(until));
    assert!(rel_before[4].relationship.blocking);
    assert!(rel_before[3].relationship.requested);
    // The block still holds, the timed mute still ends by itself.
    assert_code(ctx.svc.toggle_follow(v, x, None).await, "blocked");
    ctx.clock.advance(Duration::hours(2));
    assert!(!ctx.svc.relationships(v, &[m]).await?[0].relationship.muting);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// §7/§12 durability: rooms, roles, memberships and member counts survive a reopen.
pub async fn reopen_keeps_rooms_and_memberships(mut ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "owner_o").await;
    let a = user(&ctx.svc, "admin_a").await;
    let m = user(&ctx.svc, "member_m").await;
    let r1 = ctx
        .svc
        .create_room(o, room("Café Crème", RoomVisibility::Private)?)
        .await?;
    let r2 = ctx
        .svc
        .create_room(a, room("Public page", RoomVisibility::Public)?)
        .await?;
    ctx.svc.add_member(o, r1.id, a).await?;
    ctx.svc.add_member(o, r1.id, m).await?;
    ctx.svc.set_role(o, r1.id, a, RoomRole::Admin).await?;
    ctx.svc.add_member(a, r2.id, m).await?;
    let mut before = Vec::new();
    for u in [o, a, m] {
        before.push(
            ctx.svc
                .my_rooms(u, RoomFilter::default(), PageRequest::first())
                .await?,
        );
    }
    assert_eq!(before[1].items.len(), 2);
    ctx.reopen().await?;
    for (u, want) in [o, a, m].iter().zip(&before) {
        let got = ctx
            .svc
            .my_rooms(*u, RoomFilter::default(), PageRequest::first())
            .await?;
        assert_eq!(&got, want);
    }
    let rows = ctx
        .svc
        .my_rooms(m, RoomFilter::default(), PageRequest::first())
        .await?;
    let cafe = rows
        .items
        .iter()
        .find(|r| r.room.id == r1.id)
        .expect("the room is there");
    assert_eq!(cafe.room.member_count, 3);
    assert_eq!(cafe.room.name.as_str(), "Café Crème");
    // Roles still rule: the admin may add, the member of a private room may not.
    let n = user(&ctx.svc, "newbie").await;
    assert_code(ctx.svc.add_member(m, r1.id, n).await, "forbidden");
    ctx.svc.add_member(a, r1.id, n).await?;
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// §3/§12 durability: connected accounts survive a reopen, still unique.
pub async fn reopen_keeps_connected_accounts(mut ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alpha").await;
    let b = user(&ctx.svc, "bravo").await;
    ctx.svc
        .link_account(a, "github", "1001", "alpha_gh")
        .await?;
    ctx.clock.advance(Duration::minutes(1));
    ctx.svc.link_account(a, "google", "g-1", "alpha@g").await?;
    let before = ctx.svc.me(a).await?.connected_accounts;
    assert_eq!(before.len(), 2);
    ctx.reopen().await?;
    assert_eq!(ctx.svc.me(a).await?.connected_accounts, before);
    assert_eq!(
        ctx.svc
            .find_by_connected_account("GitHub", "1001")
            .await?
            .id,
        a
    );
    assert_code(
        ctx.svc.link_account(b, "github", "1001", "bravo").await,
        "conflict",
    );
    assert!(ctx.svc.unlink_account(a, "google", "g-1").await?);
    ctx.reopen().await?;
    assert_eq!(
        ctx.svc.me(a).await?.connected_accounts,
        before[..1].to_vec()
    );
    Ok(())
}

/// §10/§12 durability: the feed and the last sequence number survive a
/// reopen (also after trimming); numbers are never reused afterwards.
pub async fn reopen_keeps_feed_and_last_seq(mut ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alpha").await;
    let b = user(&ctx.svc, "bravo").await;
    follow(&ctx.svc, a, b).await;
    ctx.svc.block(b, a).await?;
    let feed = ctx.svc.changes_since(0, 1000).await?;
    let last = seq(&ctx.svc).await;
    assert_eq!(feed.last().map(|e| e.seq), Some(last));
    ctx.reopen().await?;
    assert_eq!(ctx.svc.changes_since(0, 1000).await?, feed);
    assert_eq!(seq(&ctx.svc).await, last);
    // Trim everything, reopen twice: the counter does not go back.
    ctx.svc.refresh_search().await?;
    let trimmed = ctx.svc.trim_changes(last).await?;
    assert!(trimmed <= last);
    ctx.reopen().await?;
    ctx.reopen().await?;
    assert_eq!(seq(&ctx.svc).await, last);
    let remaining = ctx.svc.changes_since(0, 1000).await?;
    assert!(remaining.iter().all(|e| e.seq > trimmed));
    ctx.svc.unblock(b, a).await?;
    let next = ctx.svc.changes_since(last, 10).await?;
    assert_eq!(next.len(), 1);
    assert!(next[0].seq > last, "a sequence number is never reused");
    assert!(matches!(next[0].change, Change::Unblocked { .. }));
    Ok(())
}

/// §9/§12 durability: everything kinfolk holds about each user (the
/// export) is identical after a reopen, deactivated users included; a
/// deleted user stays deleted.
pub async fn reopen_keeps_every_export(mut ctx: Ctx) -> TestResult {
    let mut people = Vec::new();
    for (u, n) in [
        ("ana_p", "Ana Pérez"),
        ("dmitry_i", "Дмитрий Иванов"),
        ("wang_w", "王伟"),
        ("noa_c", "נועה כהן"),
    ] {
        people.push(user_named(&ctx.svc, u, n).await);
    }
    let gone = user(&ctx.svc, "leaving").await;
    follow(&ctx.svc, people[0], people[1]).await;
    follow(&ctx.svc, people[2], people[0]).await;
    follow(&ctx.svc, gone, people[0]).await;
    make_private(&ctx.svc, people[3]).await;
    ctx.svc.toggle_follow(people[0], people[3], None).await?;
    ctx.svc.link_account(people[1], "vk", "id1", "dima").await?;
    let r = ctx
        .svc
        .create_room(people[0], room("Room", RoomVisibility::Public)?)
        .await?;
    ctx.svc.add_member(people[0], r.id, people[2]).await?;
    ctx.svc.deactivate(people[2]).await?;
    ctx.svc.delete_account(gone).await?;
    let mut before = Vec::new();
    for u in &people {
        before.push(norm(ctx.svc.export(*u).await?));
    }
    ctx.reopen().await?;
    for (u, want) in people.iter().zip(&before) {
        assert_eq!(&norm(ctx.svc.export(*u).await?), want);
    }
    assert_code(ctx.svc.export(gone).await, "unauthenticated");
    assert_code(ctx.svc.get_profile(None, "leaving").await, "not_found");
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// §12 store contract: the store's futures complete on any executor (here a
/// plain thread with a minimal executor, no tokio runtime).
pub async fn store_futures_complete_on_any_executor(ctx: Ctx) -> TestResult {
    let svc = ctx.svc.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let out = futures::executor::block_on(async move {
            let a = svc.register(NewUser::new("plain_a", "Plain A")?).await?;
            let b = svc.register(NewUser::new("plain_b", "Plain B")?).await?;
            svc.toggle_follow(a.id, b.id, None).await?;
            let me = svc.me(b.id).await?;
            Ok::<_, Error>(me.stats.followers_count)
        });
        let _ = tx.send(out);
    });
    let out = tokio::time::timeout(StdDuration::from_secs(20), rx)
        .await
        .map_err(|_| "the store's futures did not complete on a plain executor")??;
    assert_eq!(out?, 1);
    Ok(())
}

// ---------------------------------------------------------------- JSON

/// §12/§13 JSON: profile values, relationships and follow results
/// round-trip through serde.
pub async fn json_round_trip_profile_values(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let nu = NewUser::new("Json_J", "Jöns Jönsson")?.with_email("j@example.com")?;
    round_trip(&nu);
    let j = svc.register(nu).await?.id;
    let v = user(svc, "viewer").await;
    let upd: ProfileUpdate = serde_json::from_str(
        r#"{"bio":"Über\nalles","avatar_url":"https://cdn.example.com/j.png",
            "social_links":[{"kind":"mastodon","url":"https://m.example/@j"}],"location":"Malmö"}"#,
    )?;
    round_trip(&upd);
    svc.update_profile(j, upd).await?;
    svc.link_account(j, "github", "55", "jj").await?;
    let out = svc.toggle_follow(v, j, None).await?;
    round_trip(&out);
    let until = ctx.clock.now() + Duration::hours(3);
    svc.mute(v, j, Some(until)).await?;
    let own = svc.me(j).await?;
    round_trip(&own);
    round_trip(&own.connected_accounts[0]);
    for view in [
        svc.get_profile(Some(j), "json_j").await?,
        svc.get_profile(Some(v), "json_j").await?,
        svc.get_profile(None, "json_j").await?,
    ] {
        round_trip(&view);
        if let ProfileView::Public(p) = &view {
            round_trip(p.as_ref());
        }
    }
    let rels = svc.relationships(v, &[j, v, UserId::new()]).await?;
    for r in &rels {
        round_trip(r);
        round_trip(&r.relationship);
    }
    assert!(rels[0].relationship.following && rels[0].relationship.muting);
    round_trip(&rels);
    let rows = svc.followers(Some(v), j, PageRequest::first()).await?;
    round_trip(&rows);
    round_trip(&rows.items[0]);
    round_trip(&rows.items[0].user);
    round_trip(&norm(svc.export(j).await?));
    round_trip(&norm(svc.export(v).await?));
    Ok(())
}

/// §4/§12/§13 JSON: settings, patches and every input value round-trip.
pub async fn json_round_trip_settings_and_inputs(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "settler").await;
    round_trip(&Settings::default());
    settings(
        &ctx.svc,
        u,
        r#"{"privacy":{"private_account":true,"following_visibility":"followers","allow_room_invites":"nobody"},
            "display":{"language":"zh-Hant-TW","timezone":"Asia/Tokyo"}}"#,
    )
    .await;
    round_trip(&ctx.svc.me(u).await?.settings);
    for patch in [
        "{}",
        r#"{"expected_version":7}"#,
        r#"{"notifications":{"new_follower":false,"email_digest":"never"}}"#,
        r#"{"privacy":{"discoverable":false,"show_counts":false,"allow_mentions":"nobody"}}"#,
        r#"{"display":{"theme":"dark","language":"en-GB","timezone":"Europe/Paris","compact":true}}"#,
    ] {
        let p: SettingsPatch = serde_json::from_str(patch)?;
        round_trip(&p);
    }
    for upd in [
        "{}",
        r#"{"name":"Nöme","username":"New_Name"}"#,
        r#"{"avatar_url":null,"location":null}"#,
        r#"{"social_links":[]}"#,
    ] {
        let p: ProfileUpdate = serde_json::from_str(upd)?;
        round_trip(&p);
    }
    let clear: ProfileUpdate = serde_json::from_str(r#"{"avatar_url":null}"#)?;
    assert_eq!(
        clear.avatar_url,
        Some(None),
        "null clears, survives a round trip"
    );
    assert_eq!(round_trip(&clear), json!({"avatar_url": null}));
    round_trip(&NewUser::new("plain", "Plain")?);
    round_trip(&PageRequest::first());
    round_trip(&PageRequest::with_limit(50));
    round_trip(&PageRequest::after("abc", Some(3)));
    round_trip(&room("Room ✓", RoomVisibility::Private)?);
    round_trip(&RoomFilter::default());
    round_trip(&RoomFilter {
        name: Some("café".into()),
        kind: Some(RoomKind::Page),
        role: Some(RoomRole::Moderator),
    });
    for scope in [
        SearchScope::Discovery,
        SearchScope::Mention,
        SearchScope::RoomInvite {
            room: RoomId::new(),
        },
        SearchScope::Following { of: u },
        SearchScope::Followers { of: u },
    ] {
        round_trip(&scope);
    }
    round_trip(&FollowAction::Follow);
    Ok(())
}

/// §7/§8/§12 JSON: rooms, memberships, my_rooms rows, search results and
/// pages of them round-trip.
pub async fn json_round_trip_rooms_search_and_pages(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "owner_o").await;
    let m = user_named(svc, "member_m", "Member Müller").await;
    let r = svc
        .create_room(o, room("Ünïcode room", RoomVisibility::Public)?)
        .await?;
    round_trip(&r);
    let ms = svc.add_member(o, r.id, m).await?;
    round_trip(&ms);
    let page: Page<MyRoom> = svc
        .my_rooms(m, RoomFilter::default(), PageRequest::first())
        .await?;
    round_trip(&page);
    round_trip(&page.items[0]);
    round_trip(&page.items[0].room);
    svc.refresh_search().await?;
    let found = svc
        .search_users(
            Some(o),
            "mu",
            SearchScope::Mention,
            PageRequest::with_limit(1),
        )
        .await?;
    assert_eq!(found.items.len(), 1);
    round_trip(&found);
    round_trip(&found.items[0]);
    let anon = svc
        .search_users(None, "member", SearchScope::Discovery, PageRequest::first())
        .await?;
    assert_eq!(anon.items[0].relationship, None);
    round_trip(&anon);
    round_trip(&MatchTier::Fuzzy);
    let empty: Page<UserRow> = Page {
        items: vec![],
        next_cursor: None,
    };
    round_trip(&empty);
    Ok(())
}

/// The 26 change kinds, one literal each, with their JSON tag.
fn every_change(
    a: UserId,
    b: UserId,
    room: RoomId,
    t: kinfolk::Timestamp,
) -> Vec<(Change, &'static str)> {
    vec![
        (Change::UserRegistered { user: a }, "user_registered"),
        (Change::ProfileUpdated { user: a }, "profile_updated"),
        (Change::UsernameChanged { user: a }, "username_changed"),
        (Change::SettingsChanged { user: a }, "settings_changed"),
        (
            Change::Followed {
                follower: a,
                followee: b,
            },
            "followed",
        ),
        (
            Change::Unfollowed {
                follower: a,
                followee: b,
            },
            "unfollowed",
        ),
        (
            Change::FollowRequested {
                requester: a,
                target: b,
            },
            "follow_requested",
        ),
        (
            Change::FollowRequestCancelled {
                requester: a,
                target: b,
            },
            "follow_request_cancelled",
        ),
        (
            Change::FollowApproved {
                requester: a,
                target: b,
            },
            "follow_approved",
        ),
        (
            Change::FollowRejected {
                requester: a,
                target: b,
            },
            "follow_rejected",
        ),
        (
            Change::FollowerRemoved {
                user: a,
                follower: b,
            },
            "follower_removed",
        ),
        (
            Change::Blocked {
                blocker: a,
                blocked: b,
            },
            "blocked",
        ),
        (
            Change::Unblocked {
                blocker: a,
                blocked: b,
            },
            "unblocked",
        ),
        (
            Change::Muted {
                muter: a,
                muted: b,
                until: None,
            },
            "muted",
        ),
        (
            Change::Muted {
                muter: a,
                muted: b,
                until: Some(t),
            },
            "muted",
        ),
        (Change::Unmuted { muter: a, muted: b }, "unmuted"),
        (Change::Deactivated { user: a }, "deactivated"),
        (Change::Reactivated { user: a }, "reactivated"),
        (Change::AccountDeleted { user: a }, "account_deleted"),
        (
            Change::AccountLinked {
                user: a,
                provider: "github".into(),
            },
            "account_linked",
        ),
        (
            Change::AccountUnlinked {
                user: a,
                provider: "github".into(),
            },
            "account_unlinked",
        ),
        (Change::RoomCreated { room, by: a }, "room_created"),
        (
            Change::MemberAdded {
                room,
                user: b,
                by: a,
            },
            "member_added",
        ),
        (
            Change::MemberRemoved {
                room,
                user: b,
                by: a,
            },
            "member_removed",
        ),
        (Change::MemberLeft { room, user: b }, "member_left"),
        (
            Change::RoleChanged {
                room,
                user: b,
                role: RoomRole::Admin,
                by: a,
            },
            "role_changed",
        ),
        (Change::RoomDeleted { room }, "room_deleted"),
    ]
}

/// §10/§12 JSON: a ChangeEvent of every Change variant round-trips, tagged
/// by a snake_case `type`.
pub async fn json_round_trip_every_change_variant(ctx: Ctx) -> TestResult {
    let (a, b, r) = (UserId::new(), UserId::new(), RoomId::new());
    let t = ctx.clock.now();
    let all = every_change(a, b, r, t);
    let tags: BTreeSet<&str> = all.iter().map(|(_, tag)| *tag).collect();
    assert_eq!(tags.len(), 26, "26 kinds of change");
    for (i, (change, tag)) in all.into_iter().enumerate() {
        let ev = ChangeEvent {
            seq: i as u64 + 1,
            at: t,
            change,
        };
        let v = round_trip(&ev);
        assert_eq!(v["change"]["type"], json!(tag), "{v}");
        assert_eq!(v["seq"], json!(i + 1));
        assert_eq!(v["at"], json!("2024-01-01T00:00:00Z"));
    }
    Ok(())
}

/// §10/§12 JSON: the events real commands append — every kind — round-trip.
pub async fn json_round_trip_feed_from_commands(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "alpha").await;
    let b = user(svc, "bravo").await;
    let c = user(svc, "charlie").await;
    svc.update_profile(
        a,
        ProfileUpdate {
            username: Some(Username::parse("alpha_2")?),
            ..Default::default()
        },
    )
    .await?;
    follow(svc, a, b).await;
    svc.toggle_follow(a, b, None).await?; // unfollowed
    make_private(svc, b).await; // settings_changed
    svc.toggle_follow(a, b, None).await?; // requested
    svc.toggle_follow(a, b, None).await?; // cancelled
    svc.toggle_follow(a, b, None).await?;
    svc.approve_follow_request(b, a).await?;
    svc.toggle_follow(c, b, None).await?;
    svc.reject_follow_request(b, c).await?;
    svc.remove_follower(b, a).await?;
    svc.block(a, c).await?;
    svc.unblock(a, c).await?;
    svc.mute(a, c, Some(ctx.clock.now() + Duration::days(1)))
        .await?;
    svc.unmute(a, c).await?;
    svc.deactivate(c).await?;
    svc.reactivate(c).await?;
    svc.link_account(a, "github", "1", "a").await?;
    svc.unlink_account(a, "github", "1").await?;
    let r = svc
        .create_room(a, room("Room", RoomVisibility::Private)?)
        .await?;
    svc.add_member(a, r.id, c).await?;
    svc.set_role(a, r.id, c, RoomRole::Admin).await?;
    svc.remove_member(a, r.id, c).await?;
    svc.add_member(a, r.id, c).await?;
    svc.leave_room(c, r.id).await?;
    svc.leave_room(a, r.id).await?; // empties it: room_deleted
    svc.delete_account(c).await?;
    let feed = svc.changes_since(0, 1000).await?;
    let mut seen = BTreeSet::new();
    let mut last = 0;
    for ev in &feed {
        assert!(ev.seq > last, "strictly increasing");
        last = ev.seq;
        let v = round_trip(ev);
        let tag = v["change"]["type"]
            .as_str()
            .unwrap_or_else(|| panic!("no type tag in {v}"))
            .to_string();
        seen.insert(tag);
    }
    let want: BTreeSet<String> = every_change(a, b, r.id, ctx.clock.now())
        .into_iter()
        .map(|(_, t)| t.to_string())
        .collect();
    let missing: Vec<&String> = want.difference(&seen).collect();
    assert!(missing.is_empty(), "kinds never emitted: {missing:?}");
    round_trip(&feed);
    Ok(())
}

/// §4/§13 JSON: every value a host receives from clients refuses unknown
/// fields (top level and nested).
pub async fn json_inputs_refuse_unknown_fields(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "someone").await;
    refuses_unknown::<NewUser>(json!({"username": "ada", "name": "Ada"}), "NewUser");
    refuses_unknown::<ProfileUpdate>(json!({"name": "Ada"}), "ProfileUpdate");
    refuses_unknown::<ProfileUpdate>(json!({}), "empty ProfileUpdate");
    refuses_unknown::<SettingsPatch>(json!({}), "SettingsPatch");
    for (section, body) in [
        ("notifications", json!({"mention": false})),
        ("privacy", json!({"discoverable": false})),
        ("display", json!({"theme": "dark"})),
    ] {
        refuses_unknown::<SettingsPatch>(json!({ section: body.clone() }), section);
        let mut nested = body;
        nested
            .as_object_mut()
            .expect("object")
            .insert("zz_unknown".into(), json!(true));
        assert!(
            serde_json::from_value::<SettingsPatch>(json!({ section: nested })).is_err(),
            "unknown field inside {section}"
        );
    }
    refuses_unknown::<PageRequest>(json!({"limit": 5}), "PageRequest");
    refuses_unknown::<NewRoom>(
        json!({"kind": "group", "name": "R", "visibility": "public"}),
        "NewRoom",
    );
    refuses_unknown::<RoomFilter>(json!({"name": "r"}), "RoomFilter");
    refuses_unknown::<SearchScope>(json!({"scope": "discovery"}), "SearchScope discovery");
    refuses_unknown::<SearchScope>(
        json!({"scope": "followers", "of": u.to_string()}),
        "SearchScope followers",
    );
    refuses_unknown::<kinfolk::SocialLink>(
        json!({"kind": "github", "url": "https://github.com/a"}),
        "SocialLink",
    );
    // Wrong values are refused too, with no partial default.
    for bad in [
        json!({"privacy": {"allow_mentions": "friends"}}),
        json!({"display": {"timezone": "Mars/Olympus"}}),
        json!({"display": {"language": "not a tag!"}}),
        json!({"expected_version": -1}),
        json!({"notifications": {"email_digest": "hourly"}}),
    ] {
        assert!(
            serde_json::from_value::<SettingsPatch>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    assert!(serde_json::from_value::<SearchScope>(json!({"scope": "everything"})).is_err());
    let id = u.to_string();
    for bad in [
        json!({"scope": "mention", "of": id}),
        json!({"scope": "discovery", "room": id}),
        json!({"scope": "room_invite"}),
        json!({"scope": "room_invite", "of": id}),
        json!({"scope": "following"}),
        json!({"scope": "followers", "room": id}),
        json!({"scope": "followers", "of": "not-a-uuid"}),
        json!({"of": id}),
    ] {
        assert!(
            serde_json::from_value::<SearchScope>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    assert!(serde_json::from_value::<NewUser>(json!({"username": "ab", "name": "A"})).is_err());
    Ok(())
}

/// §2/§5/§12 JSON shapes that hosts rely on: relationship field names, the
/// `view` tag, ids as hyphenated strings, timestamps in RFC 3339, scope and
/// change tags, page fields.
pub async fn json_exact_shapes(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = svc
        .register(NewUser::new("shape_a", "Shape A")?.with_email("a@example.com")?)
        .await?
        .id;
    let b = user(svc, "shape_b").await;
    // Relationship: exactly these names; muted_until only when timed.
    let rel = serde_json::to_value(Relationship::default())?;
    assert_eq!(
        rel,
        json!({"following": false, "followed_by": false, "requested": false,
               "requested_by": false, "blocking": false, "muting": false})
    );
    svc.mute(b, a, Some(ctx.clock.now() + Duration::hours(1)))
        .await?;
    let r = serde_json::to_value(svc.relationships(b, &[a]).await?[0])?;
    assert_eq!(r["user"], json!(a.to_string()));
    assert_eq!(
        r["relationship"]["muted_until"],
        json!("2024-01-01T01:00:00Z")
    );
    assert_eq!(r["relationship"]["muting"], json!(true));
    // FollowOutcome.
    let out: FollowOutcome = svc.toggle_follow(b, a, None).await?;
    let o = serde_json::to_value(out)?;
    assert_eq!(keys(&o), sorted(&["relationship", "changed"]));
    assert_eq!(o["changed"], json!(true));
    assert_eq!(o["relationship"]["following"], json!(true));
    // Ids: hyphenated lower-case strings.
    let id = serde_json::to_value(a)?;
    let s = id.as_str().expect("an id is a JSON string");
    assert_eq!(s.len(), 36);
    assert_eq!(s.matches('-').count(), 4);
    assert_eq!(s, s.to_lowercase());
    assert_eq!(s, a.to_string());
    assert_eq!(serde_json::from_value::<UserId>(json!(s))?, a);
    assert!(serde_json::from_value::<UserId>(json!(42)).is_err());
    // ProfileView: internally tagged with `view`.
    let public = serde_json::to_value(svc.get_profile(Some(b), "shape_a").await?)?;
    assert_eq!(public["view"], json!("public"));
    assert_eq!(public["id"], json!(a.to_string()));
    assert_eq!(public["username"], json!("shape_a"));
    assert_eq!(public["created_at"], json!("2024-01-01T00:00:00Z"));
    for private in ["email", "settings", "connected_accounts"] {
        assert!(
            public.get(private).is_none(),
            "public profile leaks {private}"
        );
    }
    assert_eq!(public["relationship"]["following"], json!(true));
    let own = serde_json::to_value(svc.get_profile(Some(a), "shape_a").await?)?;
    assert_eq!(own["view"], json!("own"));
    assert_eq!(own["email"], json!("a@example.com"));
    assert_eq!(own["settings"]["version"], json!(1));
    assert_eq!(
        own["settings"]["privacy"]["allow_mentions"],
        json!("everyone")
    );
    assert_eq!(
        own["settings"]["privacy"]["followers_visibility"],
        json!("public")
    );
    assert_eq!(
        own["settings"]["notifications"]["email_digest"],
        json!("weekly")
    );
    assert_eq!(own["settings"]["display"]["timezone"], json!("UTC"));
    assert_eq!(own["stats"]["followers_count"], json!(1));
    assert_eq!(own["status"], json!("active"));
    // Timestamps parse as RFC 3339.
    let ts = own["updated_at"].as_str().expect("a string");
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    // A list row and a user summary.
    let rows = serde_json::to_value(svc.followers(None, a, PageRequest::first()).await?)?;
    assert_eq!(keys(&rows), sorted(&["items", "next_cursor"]));
    assert_eq!(rows["next_cursor"], Value::Null);
    assert_eq!(
        keys(&rows["items"][0]["user"]),
        sorted(&["id", "username", "name", "avatar_url", "private_account"])
    );
    assert_eq!(rows["items"][0]["relationship"], Value::Null);
    let summary: UserSummary = serde_json::from_value(rows["items"][0]["user"].clone())?;
    assert_eq!(summary.id, b);
    // Search scopes and results.
    assert_eq!(
        serde_json::to_value(SearchScope::Discovery)?,
        json!({"scope": "discovery"})
    );
    let rid = RoomId::new();
    assert_eq!(
        serde_json::to_value(SearchScope::RoomInvite { room: rid })?,
        json!({"scope": "room_invite", "room": rid.to_string()})
    );
    assert_eq!(
        serde_json::to_value(SearchScope::Followers { of: a })?,
        json!({"scope": "followers", "of": a.to_string()})
    );
    svc.refresh_search().await?;
    let found: Page<SearchResult> = svc
        .search_users(
            None,
            "shape_a",
            SearchScope::Discovery,
            PageRequest::first(),
        )
        .await?;
    let f = serde_json::to_value(&found)?;
    assert_eq!(f["items"][0]["tier"], json!("exact_username"));
    assert_eq!(
        keys(&f["items"][0]),
        sorted(&["user", "tier", "relationship"])
    );
    // Change events: tagged with `type`.
    let ev = svc.changes_since(0, 1).await?;
    assert_eq!(
        serde_json::to_value(&ev[0])?,
        json!({"seq": ev[0].seq, "at": "2024-01-01T00:00:00Z",
               "change": {"type": "user_registered", "user": a.to_string()}})
    );
    // A room.
    let room_v = serde_json::to_value(
        svc.create_room(a, room("Shapes", RoomVisibility::Private)?)
            .await?,
    )?;
    assert_eq!(room_v["kind"], json!("group"));
    assert_eq!(room_v["visibility"], json!("private"));
    assert_eq!(room_v["member_count"], json!(1));
    assert_eq!(room_v["created_by"], json!(a.to_string()));
    let _: Room = serde_json::from_value(room_v)?;
    let _: RelationshipEntry = serde_json::from_value(r)?;
    Ok(())
}
