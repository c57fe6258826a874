//! Bulk import (`import_users`, `import_follows`): the same rules as the
//! single commands, all-or-nothing per batch, one `UserRegistered` event per
//! imported user and one `Imported` event per batch of follows, counters
//! exact — and the set-oriented port methods import uses
//! (`edges_exist`, `append_changes`, `insert_edges`, `put_users`) agreeing
//! with their one-row forms on every store.

use kinfolk::{Change, Config, EdgeKind, Error, NewUser, UserId};

use crate::fixtures::{assert_code, check_invariants, read_store};
use crate::{Ctx, TestResult};

async fn imported(svc: &kinfolk::Kinfolk, prefix: &str, n: usize) -> Vec<UserId> {
    let batch = (0..n)
        .map(|i| NewUser::new(&format!("{prefix}{i}"), "Imp").unwrap_or_else(|e| panic!("{e}")))
        .collect();
    svc.import_users(batch)
        .await
        .unwrap_or_else(|e| panic!("fixture import_users: {e}"))
}

/// `edges_exist` answers each pair, in order, as `edge` does.
pub async fn edges_exist_answers_each_pair_in_order_like_edge(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let u = imported(svc, "imp_", 4).await;
    assert_eq!(
        svc.import_follows(vec![(u[0], u[1]), (u[2], u[3]), (u[3], u[0])])
            .await?,
        3
    );
    let pairs = vec![
        (u[3], u[0]),
        (u[1], u[0]),
        (u[0], u[1]),
        (u[0], u[1]),
        (u[2], u[3]),
        (u[0], u[0]),
    ];
    let (set, one_by_one, blocks, none) = read_store(svc, move |tx| {
        let one: Vec<bool> = pairs
            .iter()
            .map(|&(a, b)| tx.edge(EdgeKind::Follow, a, b).map(|e| e.is_some()))
            .collect::<kinfolk::Result<_>>()?;
        Ok((
            tx.edges_exist(EdgeKind::Follow, &pairs)?,
            one,
            tx.edges_exist(EdgeKind::Block, &pairs)?,
            tx.edges_exist(EdgeKind::Follow, &[])?,
        ))
    })
    .await;
    assert_eq!(set, vec![true, false, true, true, true, false]);
    assert_eq!(set, one_by_one);
    assert_eq!(blocks, vec![false; 6]);
    assert!(none.is_empty());
    Ok(())
}

/// Existing follows and repeated rows are skipped; one `Imported` event per
/// batch that added follows, listing the users whose counters changed (the
/// promise was one `Followed` event per follow until issue 17 made the
/// import fast); the added follows carry consecutive sequence numbers in
/// batch order, below the event's; a bad row anywhere refuses the whole batch
/// with that row's error and changes nothing.
pub async fn import_follows_keeps_every_rule_and_exact_counters(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let u = imported(svc, "imp_", 5).await;
    let before = svc.changes_since(0, 1000).await?.len();
    svc.import_follows(vec![(u[0], u[1])]).await?;
    let added = svc
        .import_follows(vec![(u[0], u[1]), (u[0], u[2]), (u[0], u[2]), (u[2], u[0])])
        .await?;
    assert_eq!(added, 2);
    let me = svc.me(u[0]).await?;
    assert_eq!((me.stats.following_count, me.stats.followers_count), (2, 1));
    // A batch that adds nothing appends nothing.
    assert_eq!(svc.import_follows(vec![(u[0], u[1])]).await?, 0);
    let events = svc.changes_since(0, 1000).await?;
    let imported: Vec<&Vec<UserId>> = events[before..]
        .iter()
        .filter_map(|e| match &e.change {
            Change::Imported { users } => Some(users),
            _ => None,
        })
        .collect();
    let mut second = vec![u[0], u[2]];
    second.sort_unstable();
    let mut first = vec![u[0], u[1]];
    first.sort_unstable();
    assert_eq!(
        imported,
        vec![&first, &second],
        "one Imported event per batch, its users in id order"
    );
    assert!(
        events[before..]
            .iter()
            .all(|e| matches!(e.change, Change::Imported { .. })),
        "no Followed events"
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let (a, b, c) = (u[0], u[2], u[0]);
    let (e02, e20) = read_store(svc, move |tx| {
        Ok((
            tx.edge(EdgeKind::Follow, a, b)?,
            tx.edge(EdgeKind::Follow, b, c)?,
        ))
    })
    .await;
    let (s02, s20) = (e02.map(|e| e.seq), e20.map(|e| e.seq));
    let last_event = events.last().map(|e| e.seq);
    let prev_event = events.iter().rev().nth(1).map(|e| e.seq);
    assert!(
        s02.is_some() && s20 == s02.map(|s| s + 1) && s20 < last_event && s02 > prev_event,
        "the batch's follows take consecutive numbers in batch order, \
         between the previous event and the batch's: {s02:?} {s20:?} {prev_event:?} {last_event:?}"
    );
    // Lists order them as if followed one by one: (u2 -> u0) is the newest.
    let page = svc
        .followers(Some(u[0]), u[0], kinfolk::PageRequest::first())
        .await?;
    assert_eq!(page.items.first().map(|r| r.user.id), Some(u[2]));

    let last = svc.changes_since(0, 1000).await?.len();
    assert_code(
        svc.import_follows(vec![(u[3], u[4]), (u[3], u[3])]).await,
        "cannot_follow_self",
    );
    assert_code(
        svc.import_follows(vec![(u[3], u[4]), (u[3], UserId::new())])
            .await,
        "not_found",
    );
    svc.block(u[4], u[3]).await?;
    assert_code(
        svc.import_follows(vec![(u[1], u[4]), (u[3], u[4])]).await,
        "blocked",
    );
    assert_code(svc.import_follows(vec![(u[4], u[3])]).await, "blocked");
    // Nothing of the refused batches stayed: only the block's event is new.
    assert_eq!(svc.changes_since(0, 1000).await?.len(), last + 1);
    let me = svc.me(u[4]).await?;
    assert_eq!((me.stats.following_count, me.stats.followers_count), (0, 0));
    let me = svc.me(u[1]).await?;
    assert_eq!((me.stats.following_count, me.stats.followers_count), (0, 1));
    check_invariants(svc).await?;
    Ok(())
}

/// The following cap applies to imports; a skipped duplicate does not count.
pub async fn import_follows_stops_at_the_following_cap(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let svc = &ctx.svc;
    let u = imported(svc, "imp_", 4).await;
    svc.import_follows(vec![(u[0], u[1])]).await?;
    assert_code(
        svc.import_follows(vec![(u[0], u[2]), (u[0], u[1]), (u[0], u[3])])
            .await,
        "limit_exceeded",
    );
    assert_eq!(svc.me(u[0]).await?.stats.following_count, 1);
    let added = svc
        .import_follows(vec![(u[0], u[1]), (u[0], u[2]), (u[0], u[2])])
        .await?;
    assert_eq!(added, 1);
    assert_eq!(svc.me(u[0]).await?.stats.following_count, 2);
    check_invariants(svc).await?;
    Ok(())
}

/// Issue 14 item 3: importing `(B, P)` while B has a pending request to
/// private P used to leave a follow *and* the request (P's pending count
/// stayed 1, approving then failed with `conflict`). The import turns the
/// request into the follow, counters adjusted, with a `FollowApproved` event.
pub async fn import_follows_over_pending_request_turns_it_into_the_follow(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let u = imported(svc, "imp_", 3).await;
    let (b, p, c) = (u[0], u[1], u[2]);
    crate::fixtures::make_private(svc, p).await;
    assert!(svc.toggle_follow(b, p, None).await?.relationship.requested);
    assert_eq!(svc.me(p).await?.stats.pending_follow_requests, 1);
    let before = svc.last_change_seq().await?;
    assert_eq!(svc.import_follows(vec![(b, p), (c, p)]).await?, 2);
    let me = svc.me(p).await?;
    assert_eq!(
        (me.stats.followers_count, me.stats.pending_follow_requests),
        (2, 0)
    );
    let r = svc.relationships(b, &[p]).await?[0].relationship;
    assert!(r.following && !r.requested);
    assert_code(svc.approve_follow_request(p, b).await, "not_found");
    // One event for the batch (before issue 17: `FollowApproved` for b,
    // `Followed` for c), listing every user whose counters changed.
    let events = svc.changes_since(before, 10).await?;
    let kinds: Vec<&Change> = events.iter().map(|e| &e.change).collect();
    let mut users = vec![b, p, c];
    users.sort_unstable();
    assert_eq!(kinds, vec![&Change::Imported { users }]);
    let requests = read_store(svc, move |tx| tx.edge(EdgeKind::Request, b, p)).await;
    assert!(requests.is_none());
    check_invariants(svc).await?;
    Ok(())
}

/// Issue 14 item 4 for imports: follows plus pending outgoing requests stay
/// within the cap; a request that becomes the follow keeps its slot.
pub async fn import_follows_counts_pending_requests_toward_the_cap(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        max_following: 2,
        ..Config::default()
    })
    .await?;
    let svc = &ctx.svc;
    let u = imported(svc, "imp_", 4).await;
    crate::fixtures::make_private(svc, u[1]).await;
    svc.toggle_follow(u[0], u[1], None).await?;
    svc.import_follows(vec![(u[0], u[2])]).await?;
    assert_code(
        svc.import_follows(vec![(u[0], u[3])]).await,
        "limit_exceeded",
    );
    // The request becoming a follow fits: it already held its slot.
    assert_eq!(svc.import_follows(vec![(u[0], u[1])]).await?, 1);
    assert_eq!(svc.me(u[0]).await?.stats.following_count, 2);
    check_invariants(svc).await?;
    Ok(())
}

/// `import_users`: a name taken by an existing user or by an earlier row of
/// the batch (in another case) refuses the batch; more than 50,000 rows is a
/// validation error; a refused batch stores nothing.
pub async fn import_users_refuses_taken_names_and_big_batches(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    imported(svc, "taken_", 1).await;
    let seq = svc.last_change_seq().await?;
    let row = |name: &str| NewUser::new(name, "Imp").unwrap_or_else(|e| panic!("{e}"));
    assert_code(
        svc.import_users(vec![row("fresh_a"), row("TAKEN_0")]).await,
        "username_taken",
    );
    assert_code(
        svc.import_users(vec![row("twin"), row("fresh_b"), row("TWIN")])
            .await,
        "username_taken",
    );
    let big: Vec<NewUser> = (0..50_001).map(|i| row(&format!("big{i}"))).collect();
    let field = |r: kinfolk::Result<_>| match r {
        Err(Error::Validation { field, .. }) => Some(field),
        _ => None,
    };
    assert_eq!(field(svc.import_users(big).await.map(drop)), Some("batch"));
    let pairs = vec![(UserId::new(), UserId::new()); 50_001];
    assert_eq!(
        field(svc.import_follows(pairs).await.map(drop)),
        Some("batch")
    );
    assert_eq!(svc.last_change_seq().await?, seq, "nothing stored");
    for name in ["fresh_a", "fresh_b", "twin"] {
        assert_code(svc.get_profile(None, name).await, "not_found");
    }
    let ids = svc.import_users(vec![row("fresh_a"), row("twin")]).await?;
    assert_eq!(ids.len(), 2);
    check_invariants(svc).await?;
    Ok(())
}

/// `bulk_import` (issue 17): batches inside a session keep every rule and
/// counter; when the session ends every list is whole again (the store's
/// indexes rebuilt), also when the load fails part-way — the batches before
/// the failure stay, the failing one leaves nothing.
pub async fn bulk_import_keeps_rules_and_rebuilds_lists(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let old: [UserId; 3] = imported(svc, "old_", 3)
        .await
        .try_into()
        .unwrap_or_else(|_| panic!("three users"));
    svc.toggle_follow(old[0], old[1], None).await?;
    let p = old[2];
    crate::fixtures::make_private(svc, p).await;
    assert!(
        svc.toggle_follow(old[0], p, None)
            .await?
            .relationship
            .requested
    );
    let (added, new) = svc
        .bulk_import(|s| async move {
            let new: [UserId; 4] = s
                .import_users(
                    (0..4)
                        .map(|i| NewUser::new(&format!("bulk_{i}"), "Bulk"))
                        .collect::<kinfolk::Result<Vec<_>>>()?,
                )
                .await?
                .try_into()
                .map_err(|_| Error::storage("four ids"))?;
            let mut added = s
                .import_follows(vec![(new[0], old[1]), (new[1], old[1]), (old[0], p)])
                .await?;
            s.block(new[3], new[2]).await?;
            assert_code(
                s.import_follows(vec![(new[2], new[0]), (new[2], new[3])])
                    .await,
                "blocked",
            );
            added += s
                .import_follows(vec![(new[2], new[0]), (new[0], new[1]), (new[0], old[1])])
                .await?;
            Ok::<_, Error>((added, new))
        })
        .await?;
    assert_eq!(added, 5);
    let ids = |p: kinfolk::Page<kinfolk::UserRow>| -> Vec<UserId> {
        p.items.iter().map(|r| r.user.id).collect()
    };
    let first = kinfolk::PageRequest::first();
    // Newest first: the session's follows after the command's.
    assert_eq!(
        ids(svc.followers(None, old[1], first.clone()).await?),
        vec![new[1], new[0], old[0]]
    );
    assert_eq!(
        ids(svc.following(None, new[0], first.clone()).await?),
        vec![new[1], old[1]]
    );
    assert_eq!(
        ids(svc.followers(None, p, first.clone()).await?),
        vec![old[0]]
    );
    let me = svc.me(p).await?;
    assert_eq!(
        (me.stats.followers_count, me.stats.pending_follow_requests),
        (1, 0)
    );
    check_invariants(svc).await?;

    // A load that fails part-way: the session still ends (lists whole), the
    // batch before the failure stays, the failing batch left nothing.
    let r = svc
        .bulk_import(|s| async move {
            s.import_follows(vec![(new[3], old[0])]).await?;
            s.import_follows(vec![(new[3], old[1]), (new[2], new[3])])
                .await
        })
        .await;
    assert_code(r, "blocked");
    assert_eq!(
        ids(svc.followers(None, old[0], first.clone()).await?),
        vec![new[3]]
    );
    assert_eq!(ids(svc.following(None, new[3], first).await?), vec![old[0]]);
    check_invariants(svc).await?;
    Ok(())
}

/// A `bulk_import` session keeps what its batches read of the users only
/// while nothing else is written: a deactivation, a block, a follow request
/// or a follow made by a command between two batches decides the next
/// batch as it would without the session, and the counters stay exact.
pub async fn bulk_import_sees_commands_between_its_batches(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let out = svc
        .bulk_import(|s| async move {
            let u: [UserId; 6] = s
                .import_users(
                    (0..6)
                        .map(|i| NewUser::new(&format!("between_{i}"), "Between"))
                        .collect::<kinfolk::Result<Vec<_>>>()?,
                )
                .await?
                .try_into()
                .map_err(|_| Error::storage("six ids"))?;
            // A batch the session knows all about.
            assert_eq!(s.import_follows(vec![(u[0], u[1]), (u[2], u[1])]).await?, 2);
            // Deactivated between batches: unknown to the next.
            s.deactivate(u[3]).await?;
            assert_code(s.import_follows(vec![(u[0], u[3])]).await, "not_found");
            // A block by a user the session knew blocked no one.
            s.block(u[4], u[0]).await?;
            assert_code(s.import_follows(vec![(u[0], u[4])]).await, "blocked");
            assert_code(s.import_follows(vec![(u[4], u[0])]).await, "blocked");
            // A request to a user the session knew had none: the import
            // turns it into the follow.
            crate::fixtures::make_private(&s, u[5]).await;
            assert!(
                s.toggle_follow(u[1], u[5], None)
                    .await?
                    .relationship
                    .requested
            );
            assert_eq!(s.import_follows(vec![(u[1], u[5])]).await?, 1);
            // A follow made by a command: the import skips it.
            s.toggle_follow(u[2], u[0], None).await?;
            assert_eq!(s.import_follows(vec![(u[2], u[0]), (u[1], u[0])]).await?, 1);
            Ok::<_, Error>(u)
        })
        .await?;
    let me = svc.me(out[5]).await?;
    assert_eq!(
        (me.stats.followers_count, me.stats.pending_follow_requests),
        (1, 0)
    );
    let me = svc.me(out[0]).await?;
    assert_eq!((me.stats.followers_count, me.stats.following_count), (2, 1));
    let me = svc.me(out[1]).await?;
    assert_eq!((me.stats.followers_count, me.stats.following_count), (2, 2));
    check_invariants(svc).await?;
    Ok(())
}
