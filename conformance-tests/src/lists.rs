//! SPEC §6: followers, following, known followers and follow requests.

use std::collections::{HashMap, HashSet};

use kinfolk::{
    FollowAction, Kinfolk, Page, PageRequest, ProfileUpdate, ProfileView, RoomFilter, SafeUrl,
    UserId, UserRow,
};

use crate::fixtures::{assert_code, follow, make_private, settings, user, users, walk_ids};
use crate::{Ctx, TestResult};

/// The ids of a page's rows, in order.
fn ids(page: &Page<UserRow>) -> Vec<UserId> {
    page.items.iter().map(|r| r.user.id).collect()
}

/// `ids` newest first (the order lists use when `ids` followed in order).
fn rev(ids: &[UserId]) -> Vec<UserId> {
    ids.iter().rev().copied().collect()
}

/// Each of `fans` follows `target`, in order.
async fn followed_by_all(svc: &Kinfolk, fans: &[UserId], target: UserId) {
    for f in fans {
        follow(svc, *f, target).await;
    }
}

pub async fn followers_newest_first(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 6).await;
    // Follow in a scrambled order: the list orders by follow time, not by id.
    let order = [fans[3], fans[0], fans[5], fans[1], fans[4], fans[2]];
    followed_by_all(&ctx.svc, &order, o).await;
    let page = ctx.svc.followers(None, o, PageRequest::first()).await?;
    assert_eq!(ids(&page), rev(&order));
    assert_eq!(page.next_cursor, None);
    // Re-following moves a user to the front.
    ctx.svc
        .toggle_follow(fans[3], o, Some(FollowAction::Unfollow))
        .await?;
    follow(&ctx.svc, fans[3], o).await;
    let page = ctx.svc.followers(Some(o), o, PageRequest::first()).await?;
    assert_eq!(
        ids(&page),
        vec![fans[3], fans[2], fans[4], fans[1], fans[5], fans[0]]
    );
    Ok(())
}

pub async fn following_newest_first(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let stars = users(&ctx.svc, "star", 5).await;
    let order = [stars[2], stars[4], stars[0], stars[3], stars[1]];
    for s in order {
        follow(&ctx.svc, o, s).await;
    }
    let page = ctx.svc.following(None, o, PageRequest::first()).await?;
    assert_eq!(ids(&page), rev(&order));
    assert_eq!(page.next_cursor, None);
    Ok(())
}

pub async fn limit_defaults_to_20(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 25).await;
    followed_by_all(&ctx.svc, &fans, o).await;
    let p1 = ctx.svc.followers(None, o, PageRequest::first()).await?;
    assert_eq!(p1.items.len(), 20);
    assert_eq!(ids(&p1), rev(&fans)[..20].to_vec());
    let c = p1
        .next_cursor
        .clone()
        .ok_or("first page must have a cursor")?;
    // The default applies on later pages too.
    let p2 = ctx
        .svc
        .followers(None, o, PageRequest::after(c, None))
        .await?;
    assert_eq!(ids(&p2), rev(&fans)[20..].to_vec());
    assert_eq!(p2.next_cursor, None);
    // And through the JSON shape.
    let req: PageRequest = serde_json::from_str("{}")?;
    assert_eq!(ctx.svc.followers(None, o, req).await?.items.len(), 20);
    Ok(())
}

pub async fn limit_edges_0_1_100_101_every_list(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 101).await;
    for f in &fans {
        follow(&ctx.svc, *f, o).await;
        follow(&ctx.svc, o, *f).await;
    }
    // o follows all its followers: its known followers are all of them.
    let lists = ["followers", "following", "known_followers"];
    for name in lists {
        let fetch = |p: PageRequest| list_by_name(&ctx.svc, name, o, p);
        assert_code(fetch(PageRequest::with_limit(0)).await, "validation");
        assert_code(fetch(PageRequest::with_limit(101)).await, "validation");
        assert_code(fetch(PageRequest::with_limit(u32::MAX)).await, "validation");
        let one = fetch(PageRequest::with_limit(1)).await?;
        assert_eq!(one.items.len(), 1, "{name}: limit 1");
        assert!(one.next_cursor.is_some(), "{name}: limit 1 has more");
        let hundred = fetch(PageRequest::with_limit(100)).await?;
        assert_eq!(hundred.items.len(), 100, "{name}: limit 100");
        let c = hundred.next_cursor.ok_or("limit 100 of 101 has a cursor")?;
        let last = fetch(PageRequest::after(c.clone(), Some(100))).await?;
        assert_eq!(last.items.len(), 1, "{name}: the 101st row");
        assert_eq!(last.next_cursor, None, "{name}: nothing after the 101st");
        // A bad limit is refused with a valid cursor too.
        assert_code(fetch(PageRequest::after(c, Some(101))).await, "validation");
    }
    // Follow requests: same limits.
    make_private(&ctx.svc, o).await;
    let reqs = users(&ctx.svc, "req", 101).await;
    for r in &reqs {
        follow(&ctx.svc, *r, o).await;
    }
    assert_code(
        ctx.svc.follow_requests(o, PageRequest::with_limit(0)).await,
        "validation",
    );
    assert_code(
        ctx.svc
            .follow_requests(o, PageRequest::with_limit(101))
            .await,
        "validation",
    );
    let one = ctx
        .svc
        .follow_requests(o, PageRequest::with_limit(1))
        .await?;
    assert_eq!(ids(&one), vec![reqs[100]]);
    let hundred = ctx
        .svc
        .follow_requests(o, PageRequest::with_limit(100))
        .await?;
    assert_eq!(hundred.items.len(), 100);
    let c = hundred.next_cursor.ok_or("100 of 101 requests")?;
    let last = ctx
        .svc
        .follow_requests(o, PageRequest::after(c, Some(100)))
        .await?;
    assert_eq!(ids(&last), vec![reqs[0]]);
    assert_eq!(last.next_cursor, None);
    Ok(())
}

/// Fetches one of the user lists of `o` by name (viewer `o`).
async fn list_by_name(
    svc: &Kinfolk,
    name: &str,
    o: UserId,
    p: PageRequest,
) -> kinfolk::Result<Page<UserRow>> {
    match name {
        "followers" => svc.followers(Some(o), o, p).await,
        "following" => svc.following(None, o, p).await,
        _ => svc.known_followers(Some(o), o, p).await,
    }
}

pub async fn malformed_and_truncated_cursor_is_validation(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 5).await;
    followed_by_all(&ctx.svc, &fans, o).await;
    let good = ctx
        .svc
        .followers(None, o, PageRequest::with_limit(2))
        .await?
        .next_cursor
        .ok_or("cursor")?;
    let truncated = good[..good.len() - 3].to_string();
    let extended = format!("{good}AAAA");
    let mut flipped = good.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped)?;
    let long = "A".repeat(10_000);
    for bad in [
        "",
        "!!!",
        "not a cursor",
        "AAAA",
        "\u{0}",
        "é",
        "////",
        truncated.as_str(),
        extended.as_str(),
        flipped.as_str(),
        long.as_str(),
        "12345678-1234-1234-1234-123456789012",
    ] {
        assert_code(
            ctx.svc
                .followers(None, o, PageRequest::after(bad, Some(2)))
                .await,
            "validation",
        );
        assert_code(
            ctx.svc
                .following(Some(o), o, PageRequest::after(bad, Some(2)))
                .await,
            "validation",
        );
        assert_code(
            ctx.svc
                .known_followers(Some(fans[0]), o, PageRequest::after(bad, None))
                .await,
            "validation",
        );
        assert_code(
            ctx.svc
                .follow_requests(o, PageRequest::after(bad, None))
                .await,
            "validation",
        );
    }
    // The good one still works.
    let p = ctx
        .svc
        .followers(None, o, PageRequest::after(good, Some(2)))
        .await?;
    assert_eq!(ids(&p), vec![fans[2], fans[1]]);
    Ok(())
}

pub async fn foreign_cursor_from_another_list_is_validation(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 5).await;
    for f in &fans {
        follow(&ctx.svc, *f, o).await;
        follow(&ctx.svc, o, *f).await;
    }
    let v = Some(o);
    let req = || PageRequest::with_limit(2);
    let followers_c = ctx.svc.followers(v, o, req()).await?.next_cursor;
    let following_c = ctx.svc.following(v, o, req()).await?.next_cursor;
    let known_c = ctx.svc.known_followers(v, o, req()).await?.next_cursor;
    let followers_c = followers_c.ok_or("followers cursor")?;
    let following_c = following_c.ok_or("following cursor")?;
    let known_c = known_c.ok_or("known cursor")?;
    // Rooms give a my_rooms cursor of o.
    for i in 0..3 {
        ctx.svc
            .create_room(
                o,
                serde_json::from_str(&format!(
                    r#"{{"kind":"group","name":"r{i}","visibility":"public"}}"#
                ))?,
            )
            .await?;
    }
    let rooms_c = ctx
        .svc
        .my_rooms(o, RoomFilter::default(), req())
        .await?
        .next_cursor
        .ok_or("rooms cursor")?;
    let after = |c: &str| PageRequest::after(c, Some(2));
    for c in [&following_c, &known_c, &rooms_c] {
        assert_code(ctx.svc.followers(v, o, after(c)).await, "validation");
    }
    for c in [&followers_c, &known_c, &rooms_c] {
        assert_code(ctx.svc.following(v, o, after(c)).await, "validation");
    }
    for c in [&followers_c, &following_c, &rooms_c] {
        assert_code(ctx.svc.known_followers(v, o, after(c)).await, "validation");
    }
    for c in [&followers_c, &following_c, &known_c, &rooms_c] {
        assert_code(ctx.svc.follow_requests(o, after(c)).await, "validation");
    }
    for c in [&followers_c, &following_c, &known_c] {
        assert_code(
            ctx.svc.my_rooms(o, RoomFilter::default(), after(c)).await,
            "validation",
        );
    }
    // Each cursor works on its own list.
    assert_eq!(
        ctx.svc
            .followers(v, o, after(&followers_c))
            .await?
            .items
            .len(),
        2
    );
    assert_eq!(
        ctx.svc
            .following(v, o, after(&following_c))
            .await?
            .items
            .len(),
        2
    );
    assert_eq!(
        ctx.svc
            .known_followers(v, o, after(&known_c))
            .await?
            .items
            .len(),
        2
    );
    Ok(())
}

pub async fn foreign_cursor_from_another_owner_is_validation(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "bobby").await;
    let fans = users(&ctx.svc, "fan", 5).await;
    for f in &fans {
        follow(&ctx.svc, *f, a).await;
        follow(&ctx.svc, *f, b).await;
        follow(&ctx.svc, a, *f).await;
        follow(&ctx.svc, b, *f).await;
    }
    let req = || PageRequest::with_limit(2);
    let a_followers = ctx.svc.followers(None, a, req()).await?.next_cursor;
    let a_following = ctx.svc.following(None, a, req()).await?.next_cursor;
    let a_followers = a_followers.ok_or("cursor")?;
    let a_following = a_following.ok_or("cursor")?;
    let after = |c: &str| PageRequest::after(c, Some(2));
    assert_code(
        ctx.svc.followers(None, b, after(&a_followers)).await,
        "validation",
    );
    assert_code(
        ctx.svc.following(None, b, after(&a_following)).await,
        "validation",
    );
    // Follow requests: one private owner's cursor is foreign to another.
    make_private(&ctx.svc, a).await;
    make_private(&ctx.svc, b).await;
    let reqs = users(&ctx.svc, "req", 4).await;
    for r in &reqs {
        follow(&ctx.svc, *r, a).await;
        follow(&ctx.svc, *r, b).await;
    }
    let a_reqs = ctx
        .svc
        .follow_requests(a, req())
        .await?
        .next_cursor
        .ok_or("cursor")?;
    assert_code(
        ctx.svc.follow_requests(b, after(&a_reqs)).await,
        "validation",
    );
    assert_eq!(
        ctx.svc
            .follow_requests(a, after(&a_reqs))
            .await?
            .items
            .len(),
        2
    );
    Ok(())
}

pub async fn foreign_cursor_from_another_viewer_is_validation(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let x = user(&ctx.svc, "xavier").await;
    let y = user(&ctx.svc, "yvonne").await;
    let fans = users(&ctx.svc, "fan", 5).await;
    followed_by_all(&ctx.svc, &fans, o).await;
    for f in &fans {
        follow(&ctx.svc, x, *f).await;
        follow(&ctx.svc, y, *f).await;
    }
    let req = || PageRequest::with_limit(2);
    let after = |c: &str| PageRequest::after(c, Some(2));
    let x_c = ctx.svc.followers(Some(x), o, req()).await?.next_cursor;
    let x_c = x_c.ok_or("cursor")?;
    let anon_c = ctx.svc.followers(None, o, req()).await?.next_cursor;
    let anon_c = anon_c.ok_or("cursor")?;
    assert_code(
        ctx.svc.followers(Some(y), o, after(&x_c)).await,
        "validation",
    );
    assert_code(ctx.svc.followers(None, o, after(&x_c)).await, "validation");
    assert_code(
        ctx.svc.followers(Some(x), o, after(&anon_c)).await,
        "validation",
    );
    let xk = ctx
        .svc
        .known_followers(Some(x), o, req())
        .await?
        .next_cursor;
    let xk = xk.ok_or("cursor")?;
    assert_code(
        ctx.svc.known_followers(Some(y), o, after(&xk)).await,
        "validation",
    );
    // Same viewer: fine.
    assert_eq!(
        ctx.svc
            .followers(Some(x), o, after(&x_c))
            .await?
            .items
            .len(),
        2
    );
    assert_eq!(
        ctx.svc
            .followers(None, o, after(&anon_c))
            .await?
            .items
            .len(),
        2
    );
    Ok(())
}

pub async fn pages_full_and_next_cursor_exact_at_boundaries(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    // No rows: one empty page without a cursor.
    let p = ctx
        .svc
        .followers(None, o, PageRequest::with_limit(5))
        .await?;
    assert!(p.items.is_empty());
    assert_eq!(p.next_cursor, None);
    let fans = users(&ctx.svc, "fan", 11).await;
    // 4, 5, 6, 10, 11 rows with limit 5.
    let mut n = 0;
    for (rows, pages) in [(4usize, 1usize), (5, 1), (6, 2), (10, 2), (11, 3)] {
        followed_by_all(&ctx.svc, &fans[n..rows], o).await;
        n = rows;
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        let mut req = PageRequest::with_limit(5);
        loop {
            let page = ctx.svc.followers(None, o, req).await?;
            sizes.push(page.items.len());
            got.extend(ids(&page));
            match page.next_cursor {
                Some(c) => req = PageRequest::after(c, Some(5)),
                None => break,
            }
        }
        assert_eq!(sizes.len(), pages, "{rows} rows: page count ({sizes:?})");
        for s in &sizes[..sizes.len() - 1] {
            assert_eq!(*s, 5, "{rows} rows: every page but the last is full");
        }
        assert_eq!(
            got,
            rev(&fans[..rows]),
            "{rows} rows: all rows, newest first"
        );
    }
    Ok(())
}

pub async fn pages_40_rows_limit_20_two_pages(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 40).await;
    followed_by_all(&ctx.svc, &fans, o).await;
    let p1 = ctx
        .svc
        .followers(None, o, PageRequest::with_limit(20))
        .await?;
    assert_eq!(p1.items.len(), 20);
    let c = p1.next_cursor.clone().ok_or("page 1 of 2 has a cursor")?;
    let p2 = ctx
        .svc
        .followers(None, o, PageRequest::after(c, Some(20)))
        .await?;
    assert_eq!(p2.items.len(), 20);
    assert_eq!(
        p2.next_cursor, None,
        "the second of exactly 40 rows is the last"
    );
    let mut all = ids(&p1);
    all.extend(ids(&p2));
    assert_eq!(all, rev(&fans));
    Ok(())
}

pub async fn pages_41_rows_limit_20_three_pages(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 41).await;
    for f in &fans {
        follow(&ctx.svc, o, *f).await;
    }
    let all = walk_ids(20, |p| ctx.svc.following(Some(o), o, p)).await?;
    assert_eq!(all, rev(&fans));
    let p1 = ctx
        .svc
        .following(Some(o), o, PageRequest::with_limit(20))
        .await?;
    let p2 = ctx
        .svc
        .following(
            Some(o),
            o,
            PageRequest::after(p1.next_cursor.ok_or("p1")?, Some(20)),
        )
        .await?;
    let p3 = ctx
        .svc
        .following(
            Some(o),
            o,
            PageRequest::after(p2.next_cursor.clone().ok_or("p2")?, Some(20)),
        )
        .await?;
    assert_eq!(p2.items.len(), 20);
    assert_eq!(ids(&p3), vec![fans[0]]);
    assert_eq!(p3.next_cursor, None);
    Ok(())
}

pub async fn paging_no_row_twice_none_skipped_under_churn(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let fans = users(svc, "fan", 60).await;
    followed_by_all(svc, &fans, o).await;
    let extra = users(svc, "late", 30).await;
    let mut extra = extra.into_iter();
    let limit = 7u32;
    let mut seen: Vec<UserId> = Vec::new();
    let mut removed: HashSet<UserId> = HashSet::new();
    let mut added: HashSet<UserId> = HashSet::new();
    let mut req = PageRequest::with_limit(limit);
    let mut round = 0;
    loop {
        let page = svc.followers(None, o, req).await?;
        seen.extend(ids(&page));
        let Some(c) = page.next_cursor else { break };
        assert_eq!(
            page.items.len(),
            limit as usize,
            "a page with a cursor is full"
        );
        round += 1;
        // Between pages: two new followers …
        for _ in 0..2 {
            if let Some(n) = extra.next() {
                follow(svc, n, o).await;
                added.insert(n);
            }
        }
        // … one not-yet-seen follower leaves (the oldest still there) …
        if let Some(gone) = fans
            .iter()
            .find(|f| !seen.contains(f) && !removed.contains(f))
            .copied()
        {
            svc.toggle_follow(gone, o, Some(FollowAction::Unfollow))
                .await?;
            removed.insert(gone);
        }
        // … and one already-seen follower is removed by the owner.
        if let Some(gone) = seen
            .iter()
            .find(|f| !removed.contains(f) && !added.contains(f))
            .copied()
        {
            assert!(svc.remove_follower(o, gone).await?);
            removed.insert(gone);
        }
        req = PageRequest::after(c, Some(limit));
        assert!(round < 100, "the walk must end");
    }
    let mut count: HashMap<UserId, usize> = HashMap::new();
    for s in &seen {
        *count.entry(*s).or_default() += 1;
    }
    assert!(count.values().all(|n| *n == 1), "no row twice: {count:?}");
    for f in fans.iter().filter(|f| !removed.contains(f)) {
        assert_eq!(
            count.get(f),
            Some(&1),
            "a follower present throughout is listed once"
        );
    }
    for f in &removed {
        if !seen.contains(f) {
            continue;
        }
        // Removed after being seen: listed exactly once (checked above).
        assert_eq!(count.get(f), Some(&1));
    }
    for f in fans.iter().filter(|f| removed.contains(f)) {
        let seen_before_removal = seen.contains(f);
        // A follower removed before its page was reached must not appear.
        if !seen_before_removal {
            assert!(!count.contains_key(f));
        }
    }
    // The walk really was disturbed.
    assert!(round >= 5, "several pages were walked ({round})");
    assert!(removed.len() >= 8);
    Ok(())
}

pub async fn paging_refollow_of_seen_row_not_shown_twice(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let fans = users(svc, "fan", 12).await;
    followed_by_all(svc, &fans, o).await;
    let p1 = svc.followers(None, o, PageRequest::with_limit(4)).await?;
    assert_eq!(ids(&p1), vec![fans[11], fans[10], fans[9], fans[8]]);
    // A seen follower leaves and comes back; the row at the cursor leaves for good.
    svc.toggle_follow(fans[10], o, None).await?;
    svc.toggle_follow(fans[10], o, None).await?;
    svc.toggle_follow(fans[8], o, Some(FollowAction::Unfollow))
        .await?;
    // An unseen one leaves and comes back: it is now newer than the cursor.
    svc.toggle_follow(fans[3], o, None).await?;
    svc.toggle_follow(fans[3], o, None).await?;
    let mut rest = Vec::new();
    let mut req = PageRequest::after(p1.next_cursor.ok_or("cursor")?, Some(4));
    loop {
        let p = svc.followers(None, o, req).await?;
        rest.extend(ids(&p));
        match p.next_cursor {
            Some(c) => req = PageRequest::after(c, Some(4)),
            None => break,
        }
    }
    assert_eq!(
        rest,
        vec![
            fans[7], fans[6], fans[5], fans[4], fans[2], fans[1], fans[0]
        ]
    );
    // A fresh walk shows the new order.
    let all = walk_ids(4, |p| svc.followers(None, o, p)).await?;
    assert_eq!(
        all,
        vec![
            fans[3], fans[10], fans[11], fans[9], fans[7], fans[6], fans[5], fans[4], fans[2],
            fans[1], fans[0]
        ]
    );
    Ok(())
}

pub async fn row_shape_summary_and_relationship(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let f = users(svc, "fan", 6).await;
    make_private(svc, v).await;
    make_private(svc, f[2]).await;
    let upd = ProfileUpdate {
        avatar_url: Some(Some(SafeUrl::parse("https://cdn.example.com/f0.png")?)),
        ..Default::default()
    };
    svc.update_profile(f[0], upd).await?;
    followed_by_all(svc, &f, o).await;
    follow(svc, v, o).await;
    follow(svc, v, f[0]).await; // following
    follow(svc, f[1], v).await; // a request: v is private
    svc.approve_follow_request(v, f[1]).await?; // followed_by
    follow(svc, v, f[2]).await; // requested (f2 is private)
    follow(svc, f[3], v).await; // requested_by
    svc.mute(v, f[4], None).await?; // muting
    let page = svc.followers(Some(v), o, PageRequest::first()).await?;
    assert_eq!(ids(&page), vec![v, f[5], f[4], f[3], f[2], f[1], f[0]]);
    let row = |id: UserId| {
        page.items
            .iter()
            .find(|r| r.user.id == id)
            .cloned()
            .ok_or("row")
    };
    let r0 = row(f[0])?;
    assert_eq!(r0.user.username.as_str(), "fan0");
    assert_eq!(r0.user.name.as_str(), "User fan0");
    assert_eq!(
        r0.user.avatar_url.as_ref().map(|u| u.as_str()),
        Some("https://cdn.example.com/f0.png")
    );
    assert!(!r0.user.private_account);
    assert!(row(f[2])?.user.private_account);
    assert!(row(v)?.user.private_account);
    let rel = |id: UserId| row(id).map(|r| r.relationship.unwrap_or_default());
    let r = rel(f[0])?;
    assert!(r.following && !r.followed_by && !r.requested && !r.muting);
    let r = rel(f[1])?;
    assert!(r.followed_by && !r.following && !r.requested_by);
    let r = rel(f[2])?;
    assert!(r.requested && !r.following);
    let r = rel(f[3])?;
    assert!(r.requested_by && !r.followed_by);
    let r = rel(f[4])?;
    assert!(r.muting && r.muted_until.is_none() && !r.following);
    assert_eq!(rel(f[5])?, kinfolk::Relationship::default());
    // The viewer's own row: present, with an empty relationship.
    assert_eq!(row(v)?.relationship, Some(kinfolk::Relationship::default()));
    // Rows for a signed-in viewer always carry a relationship.
    assert!(page.items.iter().all(|r| r.relationship.is_some()));
    // The row shape round-trips through serde, with no private fields.
    let json = serde_json::to_value(&page)?;
    let back: Page<UserRow> = serde_json::from_value(json.clone())?;
    assert_eq!(back, page);
    let first = &json["items"][1]["user"];
    let mut keys: Vec<&str> = first
        .as_object()
        .ok_or("object")?
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["avatar_url", "id", "name", "private_account", "username"]
    );
    Ok(())
}

pub async fn row_relationship_none_for_anonymous(ctx: Ctx) -> TestResult {
    let o = user(&ctx.svc, "olivia").await;
    let fans = users(&ctx.svc, "fan", 3).await;
    followed_by_all(&ctx.svc, &fans, o).await;
    for f in &fans {
        follow(&ctx.svc, o, *f).await;
    }
    let p = ctx.svc.followers(None, o, PageRequest::first()).await?;
    assert_eq!(p.items.len(), 3);
    assert!(p.items.iter().all(|r| r.relationship.is_none()));
    let p = ctx.svc.following(None, o, PageRequest::first()).await?;
    assert_eq!(p.items.len(), 3);
    assert!(p.items.iter().all(|r| r.relationship.is_none()));
    // The owner sees relationships on the same rows.
    let p = ctx.svc.followers(Some(o), o, PageRequest::first()).await?;
    assert!(
        p.items
            .iter()
            .all(|r| r.relationship.is_some_and(|x| x.following && x.followed_by))
    );
    Ok(())
}

/// The cast of a visibility check: an owner and one viewer of each kind.
struct Cast {
    owner: UserId,
    follower: UserId,
    requester: UserId,
    stranger: UserId,
    blocked: UserId,
    blocker: UserId,
}

async fn cast(svc: &Kinfolk) -> Cast {
    let owner = user(svc, "olivia").await;
    let follower = user(svc, "follower").await;
    let requester = user(svc, "requester").await;
    let stranger = user(svc, "stranger").await;
    let blocked = user(svc, "blocked").await;
    let blocker = user(svc, "blocker").await;
    let other = user(svc, "other").await;
    // Something in both lists.
    follow(svc, owner, other).await;
    follow(svc, other, owner).await;
    follow(svc, follower, owner).await;
    make_private(svc, owner).await;
    follow(svc, requester, owner).await; // pending, never approved
    svc.block(owner, blocked)
        .await
        .unwrap_or_else(|e| panic!("block: {e}"));
    svc.block(blocker, owner)
        .await
        .unwrap_or_else(|e| panic!("block: {e}"));
    Cast {
        owner,
        follower,
        requester,
        stranger,
        blocked,
        blocker,
    }
}

/// Runs the visibility matrix for one list.
async fn visibility_matrix(ctx: &Ctx, field: &str, following_list: bool) -> TestResult {
    let svc = &ctx.svc;
    let c = cast(svc).await;
    let list = |viewer: Option<UserId>| async move {
        if following_list {
            svc.following(viewer, c.owner, PageRequest::first()).await
        } else {
            svc.followers(viewer, c.owner, PageRequest::first()).await
        }
    };
    // (viewer, allowed under public, followers, owner)
    let who: [(&str, Option<UserId>, [bool; 3]); 6] = [
        ("owner", Some(c.owner), [true, true, true]),
        ("approved follower", Some(c.follower), [true, true, false]),
        ("pending requester", Some(c.requester), [true, false, false]),
        ("stranger", Some(c.stranger), [true, false, false]),
        (
            "blocker of the owner",
            Some(c.blocker),
            [true, false, false],
        ),
        ("anonymous", None, [true, false, false]),
    ];
    for (i, vis) in ["public", "followers", "owner"].iter().enumerate() {
        settings(
            svc,
            c.owner,
            &format!(r#"{{"privacy":{{"{field}":"{vis}"}}}}"#),
        )
        .await;
        for (name, viewer, allowed) in &who {
            let res = list(*viewer).await;
            if allowed[i] {
                let page = res.map_err(|e| format!("{name} under {vis}: {e}"))?;
                assert_eq!(
                    page.items.len(),
                    if following_list { 1 } else { 2 },
                    "{name} under {vis}"
                );
            } else {
                match res {
                    Err(e) => assert_eq!(e.code(), "forbidden", "{name} under {vis}: {e}"),
                    Ok(_) => panic!("{name} under {vis}: expected forbidden"),
                }
            }
        }
        // The owner's blocked user cannot see the owner at all.
        assert_code(list(Some(c.blocked)).await, "not_found");
    }
    Ok(())
}

pub async fn followers_visibility_per_viewer(ctx: Ctx) -> TestResult {
    visibility_matrix(&ctx, "followers_visibility", false).await?;
    // followers_visibility does not govern the following list.
    let c_owner = ctx.svc.get_profile(None, "olivia").await?.id();
    let stranger = ctx.svc.get_profile(None, "stranger").await?.id();
    settings(
        &ctx.svc,
        c_owner,
        r#"{"privacy":{"followers_visibility":"owner"}}"#,
    )
    .await;
    assert_eq!(
        ctx.svc
            .following(Some(stranger), c_owner, PageRequest::first())
            .await?
            .items
            .len(),
        1
    );
    Ok(())
}

pub async fn following_visibility_per_viewer(ctx: Ctx) -> TestResult {
    visibility_matrix(&ctx, "following_visibility", true).await?;
    let c_owner = ctx.svc.get_profile(None, "olivia").await?.id();
    let stranger = ctx.svc.get_profile(None, "stranger").await?.id();
    settings(
        &ctx.svc,
        c_owner,
        r#"{"privacy":{"following_visibility":"owner"}}"#,
    )
    .await;
    assert_eq!(
        ctx.svc
            .followers(Some(stranger), c_owner, PageRequest::first())
            .await?
            .items
            .len(),
        2
    );
    Ok(())
}

pub async fn counts_shown_only_with_show_counts(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 3).await;
    followed_by_all(svc, &fans, o).await;
    follow(svc, o, fans[0]).await;
    let stats = |p: ProfileView| match p {
        ProfileView::Public(p) => p.stats.map(|s| (s.followers_count, s.following_count)),
        ProfileView::Own(_) => panic!("expected a public profile"),
    };
    // Default: shown.
    assert_eq!(
        stats(svc.get_profile(Some(v), "olivia").await?),
        Some((3, 1))
    );
    assert_eq!(stats(svc.get_profile(None, "olivia").await?), Some((3, 1)));
    settings(svc, o, r#"{"privacy":{"show_counts":false}}"#).await;
    assert_eq!(stats(svc.get_profile(Some(v), "olivia").await?), None);
    assert_eq!(stats(svc.get_profile(None, &o.to_string()).await?), None);
    assert_eq!(stats(svc.get_profile(Some(fans[0]), "olivia").await?), None);
    // The owner always sees their own counts.
    let me = svc.me(o).await?;
    assert_eq!((me.stats.followers_count, me.stats.following_count), (3, 1));
    match svc.get_profile(Some(o), "olivia").await? {
        ProfileView::Own(p) => assert_eq!(p.stats.followers_count, 3),
        ProfileView::Public(_) => panic!("own profile expected"),
    }
    // Hiding counts does not hide the lists themselves.
    assert_eq!(
        svc.followers(Some(v), o, PageRequest::first())
            .await?
            .items
            .len(),
        3
    );
    settings(svc, o, r#"{"privacy":{"show_counts":true}}"#).await;
    assert_eq!(
        stats(svc.get_profile(Some(v), "olivia").await?),
        Some((3, 1))
    );
    Ok(())
}

pub async fn deactivated_rows_left_out_pages_stay_full(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let fans = users(svc, "fan", 30).await;
    followed_by_all(svc, &fans, o).await;
    for f in &fans[..10] {
        follow(svc, o, *f).await;
    }
    // The five newest, one in the middle and the oldest go away.
    let gone: Vec<UserId> = vec![
        fans[29], fans[28], fans[27], fans[26], fans[25], fans[12], fans[0],
    ];
    for g in &gone {
        svc.deactivate(*g).await?;
    }
    let expected: Vec<UserId> = rev(&fans)
        .into_iter()
        .filter(|f| !gone.contains(f))
        .collect();
    assert_eq!(expected.len(), 23);
    for viewer in [None, Some(o), Some(fans[5])] {
        let got = walk_ids(10, |p| svc.followers(viewer, o, p)).await?;
        assert_eq!(got, expected, "viewer {viewer:?}");
        let got = walk_ids(4, |p| svc.following(viewer, o, p)).await?;
        assert_eq!(got, rev(&fans[1..10]), "viewer {viewer:?}");
    }
    let p = svc.followers(None, o, PageRequest::with_limit(10)).await?;
    assert_eq!(p.items.len(), 10);
    // Edges and counts are kept; reactivation restores the rows.
    assert_eq!(svc.me(o).await?.stats.followers_count, 30);
    for g in &gone {
        svc.reactivate(*g).await?;
    }
    assert_eq!(
        walk_ids(10, |p| svc.followers(None, o, p)).await?,
        rev(&fans)
    );
    Ok(())
}

pub async fn blocked_and_blocking_rows_left_out_pages_stay_full(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 30).await;
    followed_by_all(svc, &fans, o).await;
    for f in &fans {
        follow(svc, o, *f).await;
    }
    let blocked_by_v = [fans[29], fans[15], fans[3]];
    let blocking_v = [fans[28], fans[14], fans[0]];
    for b in blocked_by_v {
        svc.block(v, b).await?;
    }
    for b in blocking_v {
        svc.block(b, v).await?;
    }
    let hidden: Vec<UserId> = blocked_by_v.iter().chain(&blocking_v).copied().collect();
    let expected: Vec<UserId> = rev(&fans)
        .into_iter()
        .filter(|f| !hidden.contains(f))
        .collect();
    assert_eq!(
        walk_ids(8, |p| svc.followers(Some(v), o, p)).await?,
        expected
    );
    assert_eq!(
        walk_ids(8, |p| svc.following(Some(v), o, p)).await?,
        expected
    );
    let p = svc
        .followers(Some(v), o, PageRequest::with_limit(8))
        .await?;
    assert_eq!(p.items.len(), 8);
    // Anyone else (and anonymous) sees every row.
    assert_eq!(
        walk_ids(8, |p| svc.followers(None, o, p)).await?,
        rev(&fans)
    );
    assert_eq!(
        walk_ids(8, |p| svc.followers(Some(o), o, p)).await?,
        rev(&fans)
    );
    // The blocked ones do not see the viewer in a list either.
    follow(svc, v, o).await;
    let seen_by_blocked = walk_ids(50, |p| svc.followers(Some(fans[29]), o, p)).await?;
    assert!(!seen_by_blocked.contains(&v));
    let seen_by_blocker = walk_ids(50, |p| svc.followers(Some(fans[28]), o, p)).await?;
    assert!(!seen_by_blocker.contains(&v));
    assert!(
        walk_ids(50, |p| svc.followers(Some(fans[1]), o, p))
            .await?
            .contains(&v)
    );
    Ok(())
}

pub async fn next_cursor_absent_when_only_hidden_rows_follow(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 13).await;
    followed_by_all(svc, &fans, o).await;
    // The three oldest rows are hidden from v: deactivated, blocked by v,
    // blocking v. Ten visible rows with limit 10: one page, no cursor.
    svc.deactivate(fans[0]).await?;
    svc.block(v, fans[1]).await?;
    svc.block(fans[2], v).await?;
    let p = svc
        .followers(Some(v), o, PageRequest::with_limit(10))
        .await?;
    assert_eq!(ids(&p), rev(&fans[3..]));
    assert_eq!(p.next_cursor, None, "nothing visible follows");
    // With limit 9 the cursor leads to exactly one more row, then none.
    let p = svc
        .followers(Some(v), o, PageRequest::with_limit(9))
        .await?;
    let c = p.next_cursor.ok_or("a tenth row follows")?;
    let p2 = svc
        .followers(Some(v), o, PageRequest::after(c, Some(9)))
        .await?;
    assert_eq!(ids(&p2), vec![fans[3]]);
    assert_eq!(p2.next_cursor, None);
    // Anonymous sees the blocked-either-way rows but not the deactivated one.
    let p = svc.followers(None, o, PageRequest::with_limit(12)).await?;
    assert_eq!(ids(&p), rev(&fans[1..]));
    assert_eq!(p.next_cursor, None);
    Ok(())
}

pub async fn list_of_missing_or_hidden_owner_not_found(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let missing = UserId::new();
    assert_code(
        svc.followers(Some(v), missing, PageRequest::first()).await,
        "not_found",
    );
    assert_code(
        svc.following(None, missing, PageRequest::first()).await,
        "not_found",
    );
    assert_code(
        svc.known_followers(Some(v), missing, PageRequest::first())
            .await,
        "not_found",
    );
    svc.deactivate(o).await?;
    assert_code(
        svc.followers(Some(v), o, PageRequest::first()).await,
        "not_found",
    );
    assert_code(
        svc.following(None, o, PageRequest::first()).await,
        "not_found",
    );
    assert_code(
        svc.known_followers(Some(v), o, PageRequest::first()).await,
        "not_found",
    );
    svc.reactivate(o).await?;
    assert!(
        svc.followers(Some(v), o, PageRequest::first())
            .await
            .is_ok()
    );
    Ok(())
}

pub async fn bad_viewer_unauthenticated_or_deactivated(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let ghost = UserId::new();
    assert_code(
        svc.followers(Some(ghost), o, PageRequest::first()).await,
        "unauthenticated",
    );
    assert_code(
        svc.following(Some(ghost), o, PageRequest::first()).await,
        "unauthenticated",
    );
    assert_code(
        svc.follow_requests(ghost, PageRequest::first()).await,
        "unauthenticated",
    );
    svc.deactivate(v).await?;
    assert_code(
        svc.followers(Some(v), o, PageRequest::first()).await,
        "deactivated",
    );
    assert_code(
        svc.known_followers(Some(v), o, PageRequest::first()).await,
        "deactivated",
    );
    assert_code(
        svc.follow_requests(v, PageRequest::first()).await,
        "deactivated",
    );
    Ok(())
}

pub async fn only_approved_follows_listed(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let fans = users(svc, "fan", 4).await;
    make_private(svc, o).await;
    followed_by_all(svc, &fans, o).await;
    assert!(
        svc.followers(Some(o), o, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    assert!(
        svc.following(Some(fans[0]), fans[0], PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    svc.approve_follow_request(o, fans[1]).await?;
    svc.approve_follow_request(o, fans[3]).await?;
    let p = svc.followers(Some(o), o, PageRequest::first()).await?;
    // Ordered by approval, newest first.
    assert_eq!(ids(&p), vec![fans[3], fans[1]]);
    assert_eq!(
        ids(&svc.following(None, fans[1], PageRequest::first()).await?),
        vec![o]
    );
    Ok(())
}

pub async fn known_followers_only_people_viewer_follows(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 10).await;
    let others = users(svc, "other", 3).await;
    followed_by_all(svc, &fans, o).await;
    follow(svc, v, o).await; // v is a follower of o but does not follow itself
    for f in [fans[5], fans[2], fans[7]] {
        follow(svc, v, f).await;
    }
    for x in &others {
        follow(svc, v, *x).await; // followed by v, not followers of o
    }
    // A pending request of v does not count as following.
    make_private(svc, fans[9]).await;
    follow(svc, v, fans[9]).await;
    let p1 = svc
        .known_followers(Some(v), o, PageRequest::with_limit(2))
        .await?;
    assert_eq!(ids(&p1), vec![fans[7], fans[5]]);
    let c = p1.next_cursor.clone().ok_or("cursor")?;
    let p2 = svc
        .known_followers(Some(v), o, PageRequest::after(c, Some(2)))
        .await?;
    assert_eq!(ids(&p2), vec![fans[2]]);
    assert_eq!(p2.next_cursor, None);
    assert!(
        p1.items
            .iter()
            .chain(&p2.items)
            .all(|r| r.relationship.is_some_and(|x| x.following))
    );
    // Unfollowing one drops it.
    svc.toggle_follow(v, fans[5], Some(FollowAction::Unfollow))
        .await?;
    let all = walk_ids(20, |p| svc.known_followers(Some(v), o, p)).await?;
    assert_eq!(all, vec![fans[7], fans[2]]);
    // Viewed by the owner: followers the owner follows back.
    follow(svc, o, fans[1]).await;
    assert_eq!(
        walk_ids(20, |p| svc.known_followers(Some(o), o, p)).await?,
        vec![fans[1]]
    );
    Ok(())
}

pub async fn known_followers_sparse_pages_stay_full(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let fans = users(svc, "fan", 100).await;
    followed_by_all(svc, &fans, o).await;
    let known: Vec<UserId> = fans.iter().step_by(19).copied().collect(); // 0,19,38,57,76,95
    for k in &known {
        follow(svc, v, *k).await;
    }
    let mut sizes = Vec::new();
    let mut got = Vec::new();
    let mut req = PageRequest::with_limit(4);
    loop {
        let p = svc.known_followers(Some(v), o, req).await?;
        sizes.push(p.items.len());
        got.extend(ids(&p));
        match p.next_cursor {
            Some(c) => req = PageRequest::after(c, Some(4)),
            None => break,
        }
    }
    assert_eq!(sizes, vec![4, 2]);
    assert_eq!(got, rev(&known));
    Ok(())
}

pub async fn known_followers_visibility_and_anonymous(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    let v = user(svc, "viewer").await;
    let f = user(svc, "fan").await;
    follow(svc, f, o).await;
    follow(svc, v, f).await;
    // Anonymous knows no one.
    let p = svc.known_followers(None, o, PageRequest::first()).await?;
    assert!(p.items.is_empty() && p.next_cursor.is_none());
    assert_eq!(
        ids(&svc
            .known_followers(Some(v), o, PageRequest::first())
            .await?),
        vec![f]
    );
    // Governed by followers_visibility.
    settings(
        svc,
        o,
        r#"{"privacy":{"followers_visibility":"followers"}}"#,
    )
    .await;
    assert_code(
        svc.known_followers(Some(v), o, PageRequest::first()).await,
        "forbidden",
    );
    assert_code(
        svc.known_followers(None, o, PageRequest::first()).await,
        "forbidden",
    );
    follow(svc, v, o).await;
    assert_eq!(
        ids(&svc
            .known_followers(Some(v), o, PageRequest::first())
            .await?),
        vec![f]
    );
    settings(svc, o, r#"{"privacy":{"followers_visibility":"owner"}}"#).await;
    assert_code(
        svc.known_followers(Some(v), o, PageRequest::first()).await,
        "forbidden",
    );
    assert!(
        svc.known_followers(Some(o), o, PageRequest::first())
            .await
            .is_ok()
    );
    // following_visibility does not govern it.
    settings(
        svc,
        o,
        r#"{"privacy":{"followers_visibility":"public","following_visibility":"owner"}}"#,
    )
    .await;
    assert_eq!(
        ids(&svc
            .known_followers(Some(v), o, PageRequest::first())
            .await?),
        vec![f]
    );
    // A blocked viewer does not find the owner.
    svc.block(o, v).await?;
    assert_code(
        svc.known_followers(Some(v), o, PageRequest::first()).await,
        "not_found",
    );
    Ok(())
}

pub async fn follow_requests_newest_first_pending_only(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    make_private(svc, o).await;
    let reqs = users(svc, "req", 25).await;
    followed_by_all(svc, &reqs, o).await;
    svc.approve_follow_request(o, reqs[3]).await?;
    svc.reject_follow_request(o, reqs[4]).await?;
    svc.toggle_follow(reqs[5], o, Some(FollowAction::Unfollow))
        .await?;
    svc.deactivate(reqs[24]).await?;
    svc.block(o, reqs[10]).await?;
    let gone = [reqs[3], reqs[4], reqs[5], reqs[24], reqs[10]];
    let expected: Vec<UserId> = rev(&reqs)
        .into_iter()
        .filter(|r| !gone.contains(r))
        .collect();
    let got = walk_ids(10, |p| svc.follow_requests(o, p)).await?;
    assert_eq!(got, expected);
    assert_eq!(got.len(), 20);
    let p = svc.follow_requests(o, PageRequest::with_limit(10)).await?;
    assert_eq!(p.items.len(), 10);
    assert!(p.items.iter().all(|r| {
        r.relationship
            .is_some_and(|x| x.requested_by && !x.followed_by)
    }));
    // Every page is the owner's alone: another private user's list is theirs.
    let other = user(svc, "other").await;
    assert!(
        svc.follow_requests(other, PageRequest::first())
            .await?
            .items
            .is_empty()
    );
    // Approved request: listed as a follower instead.
    assert_eq!(
        ids(&svc.followers(Some(o), o, PageRequest::first()).await?),
        vec![reqs[3]]
    );
    Ok(())
}

pub async fn follow_requests_limits_and_cursors(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let o = user(svc, "olivia").await;
    make_private(svc, o).await;
    let reqs = users(svc, "req", 40).await;
    followed_by_all(svc, &reqs, o).await;
    let p1 = svc.follow_requests(o, PageRequest::first()).await?;
    assert_eq!(p1.items.len(), 20);
    let c = p1.next_cursor.clone().ok_or("cursor")?;
    // Requests approved between pages do not shift the walk.
    svc.approve_follow_request(o, reqs[39]).await?; // seen
    svc.approve_follow_request(o, reqs[0]).await?; // not yet seen
    let p2 = svc
        .follow_requests(o, PageRequest::after(c.clone(), None))
        .await?;
    assert_eq!(ids(&p2), rev(&reqs[1..20]));
    assert_eq!(p2.next_cursor, None);
    // The cursor is o's follow-request cursor and nothing else's.
    assert_code(
        svc.followers(Some(o), o, PageRequest::after(c.clone(), None))
            .await,
        "validation",
    );
    assert_code(
        svc.follow_requests(reqs[0], PageRequest::after(c, None))
            .await,
        "validation",
    );
    Ok(())
}

/// known_followers may be walked from the owner's followers or from the
/// viewer's follows, whichever list is shorter; both give the same rows in
/// the same order, page by page.
pub async fn known_followers_same_whichever_side_is_smaller(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "kfowner").await;
    let viewer = user(svc, "kfviewer").await;
    let fans = users(svc, "kffan", 10).await;
    for f in &fans {
        follow(svc, *f, owner).await;
    }
    // The viewer follows every other fan, in an order unlike the fans' order.
    let known: Vec<UserId> = vec![fans[7], fans[1], fans[5], fans[3]];
    for k in &known {
        follow(svc, viewer, *k).await;
    }
    // Newest follower of the owner first.
    let expected = vec![fans[7], fans[5], fans[3], fans[1]];
    // The viewer follows 4 < 10: walked from the viewer's side.
    let small = walk_ids(1, |p| svc.known_followers(Some(viewer), owner, p)).await?;
    assert_eq!(small, expected);
    // Now the viewer follows 4 + 12 = 16 > 10: walked from the owner's side.
    for other in users(svc, "kfother", 12).await {
        follow(svc, viewer, other).await;
    }
    let large = walk_ids(1, |p| svc.known_followers(Some(viewer), owner, p)).await?;
    assert_eq!(large, expected);
    let large3 = walk_ids(3, |p| svc.known_followers(Some(viewer), owner, p)).await?;
    assert_eq!(large3, expected);
    Ok(())
}
