//! Small helpers the cases share.

use kinfolk::{Error, FollowAction, Kinfolk, NewUser, PageRequest, SettingsPatch, UserId, UserRow};

/// Registers a user with `username` and a display name derived from it.
///
/// # Panics
/// When registration fails (a fixture, not the rule under test).
pub async fn user(svc: &Kinfolk, username: &str) -> UserId {
    user_named(svc, username, &format!("User {username}")).await
}

/// Registers a user with a given display name.
///
/// # Panics
/// When registration fails.
pub async fn user_named(svc: &Kinfolk, username: &str, name: &str) -> UserId {
    let nu = NewUser::new(username, name).unwrap_or_else(|e| panic!("fixture {username}: {e}"));
    svc.register(nu)
        .await
        .unwrap_or_else(|e| panic!("fixture register {username}: {e}"))
        .id
}

/// Registers `n` users `{prefix}{i}`.
pub async fn users(svc: &Kinfolk, prefix: &str, n: usize) -> Vec<UserId> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(user(svc, &format!("{prefix}{i}")).await);
    }
    out
}

/// `a` follows `b` (forced).
///
/// # Panics
/// When the follow fails.
pub async fn follow(svc: &Kinfolk, a: UserId, b: UserId) {
    svc.toggle_follow(a, b, Some(FollowAction::Follow))
        .await
        .unwrap_or_else(|e| panic!("fixture follow: {e}"));
}

/// Makes `u` a private account.
pub async fn make_private(svc: &Kinfolk, u: UserId) {
    let patch: SettingsPatch =
        serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).expect("patch json");
    svc.edit_settings(u, patch)
        .await
        .unwrap_or_else(|e| panic!("fixture private: {e}"));
}

/// Applies a settings patch given as JSON.
pub async fn settings(svc: &Kinfolk, u: UserId, json: &str) {
    let patch: SettingsPatch =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("patch json {json}: {e}"));
    svc.edit_settings(u, patch)
        .await
        .unwrap_or_else(|e| panic!("fixture settings {json}: {e}"));
}

/// Asserts that `result` failed with the error code `code`.
///
/// # Panics
/// When it succeeded or failed with another code.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Error>, code: &str) {
    match result {
        Ok(v) => panic!("expected error `{code}`, got Ok({v:?})"),
        Err(e) => assert_eq!(
            e.code(),
            code,
            "expected error `{code}`, got `{}`: {e}",
            e.code()
        ),
    }
}

/// Walks a whole list with `limit` rows per page, checking that every page
/// but the last is full and that `next_cursor` is absent only on the last.
pub async fn walk_ids<F, Fut>(limit: u32, mut fetch: F) -> Result<Vec<UserId>, Error>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<kinfolk::Page<UserRow>, Error>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest::with_limit(limit);
    loop {
        let page = fetch(req.clone()).await?;
        out.extend(page.items.iter().map(|r| r.user.id));
        match page.next_cursor {
            Some(c) => {
                assert_eq!(
                    page.items.len(),
                    limit as usize,
                    "a page with a next_cursor must be full"
                );
                req = PageRequest::after(c, Some(limit));
            }
            None => return Ok(out),
        }
    }
}

/// The sequence number of the last change, for "nothing changed" checks.
///
/// # Panics
/// When the store fails.
pub async fn seq(svc: &Kinfolk) -> u64 {
    svc.last_change_seq().await.expect("last_change_seq")
}

/// Runs a typed read job directly on the service's store.
///
/// # Panics
/// When the store fails.
pub async fn read_store<R, F>(svc: &Kinfolk, f: F) -> R
where
    R: Send + 'static,
    F: FnOnce(&dyn kinfolk::ReadTx) -> Result<R, Error> + Send + 'static,
{
    kinfolk::store::read(svc.store().as_ref(), f)
        .await
        .expect("read job on the store")
}

/// Checks the store-wide invariants of SPEC §5/§7/§12 by scanning the
/// store: every counter equals the number of edges (or memberships) it
/// counts, no self edge, no duplicate edge, no follow or request beside a
/// block in either direction, no follow beside a request of the same pair,
/// one owner per username, every skeleton claim backed by a name of its
/// user, every room's member_count equals its members, and every stored
/// time decodes and lies in the supported range ([`kinfolk::clock`]) — a
/// record the store cannot decode is reported as a violation, not a panic.
/// Returns a description of the first violation found.
pub async fn check_invariants(svc: &Kinfolk) -> Result<(), String> {
    use kinfolk::{Anchor, EdgeKind};
    use std::collections::HashSet;
    let in_range = kinfolk::clock::in_range;
    let checked = kinfolk::store::read(svc.store().as_ref(), move |tx| {
        let mut problems: Vec<String> = Vec::new();
        let mut after = None;
        let mut rooms = HashSet::new();
        let all = |kind: EdgeKind, anchor: Anchor| -> Result<Vec<kinfolk::Edge>, Error> {
            let mut out = Vec::new();
            let mut before = None;
            loop {
                let b = tx.edges(kind, anchor, before, 500)?;
                let done = b.len() < 500;
                before = b.last().map(|e| e.seq);
                out.extend(b);
                if done {
                    return Ok(out);
                }
            }
        };
        loop {
            let users = tx.users_after(after, 200)?;
            let Some(last) = users.last().map(|u| u.id) else {
                break;
            };
            after = Some(last);
            for u in &users {
                let followers = all(EdgeKind::Follow, Anchor::To(u.id))?;
                let following = all(EdgeKind::Follow, Anchor::From(u.id))?;
                let requests = all(EdgeKind::Request, Anchor::To(u.id))?;
                if followers.len() as u64 != u.counts.followers {
                    problems.push(format!(
                        "{}: followers {} != edges {}",
                        u.username,
                        u.counts.followers,
                        followers.len()
                    ));
                }
                if following.len() as u64 != u.counts.following {
                    problems.push(format!(
                        "{}: following {} != edges {}",
                        u.username,
                        u.counts.following,
                        following.len()
                    ));
                }
                if requests.len() as u64 != u.counts.pending_requests {
                    problems.push(format!(
                        "{}: pending {} != edges {}",
                        u.username,
                        u.counts.pending_requests,
                        requests.len()
                    ));
                }
                if !in_range(u.created_at) || !in_range(u.updated_at) {
                    problems.push(format!("{}: user time out of range", u.username));
                }
                for kind in EdgeKind::ALL {
                    let out = all(kind, Anchor::From(u.id))?;
                    let mut seen = HashSet::new();
                    for e in &out {
                        if !in_range(e.since) || e.until.is_some_and(|t| !in_range(t)) {
                            problems
                                .push(format!("{}: {kind:?} edge time out of range", u.username));
                        }
                        if kind == EdgeKind::Follow
                            && tx.edge(EdgeKind::Request, e.from, e.to)?.is_some()
                        {
                            problems.push(format!(
                                "{}: follow beside a request of the same pair",
                                u.username
                            ));
                        }
                        if e.to == u.id {
                            problems.push(format!("{}: self edge {kind:?}", u.username));
                        }
                        if !seen.insert(e.to) {
                            problems.push(format!("{}: duplicate {kind:?} edge", u.username));
                        }
                        if matches!(kind, EdgeKind::Follow | EdgeKind::Request)
                            && (tx.edge(EdgeKind::Block, e.from, e.to)?.is_some()
                                || tx.edge(EdgeKind::Block, e.to, e.from)?.is_some())
                        {
                            problems.push(format!("{}: {kind:?} beside a block", u.username));
                        }
                    }
                }
                let mut n = 0u64;
                let mut before = None;
                loop {
                    let ms = tx.memberships_of(u.id, before, 500)?;
                    n += ms.len() as u64;
                    before = ms.last().map(|m| m.seq);
                    rooms.extend(ms.iter().map(|m| m.room));
                    if ms.len() < 500 {
                        break;
                    }
                }
                if n != u.counts.rooms {
                    problems.push(format!(
                        "{}: rooms {} != memberships {n}",
                        u.username, u.counts.rooms
                    ));
                }
                match tx.username_claim(&u.username.folded())? {
                    Some(c) if c.user == u.id && c.held_until.is_none() => {}
                    other => {
                        problems.push(format!("{}: current name claim is {other:?}", u.username))
                    }
                }
                let claims = tx.username_claims_of(u.id)?;
                for c in &claims {
                    if c.held_until.is_some_and(|t| !in_range(t)) {
                        problems.push(format!("{}: claim hold out of range", u.username));
                    }
                    if kinfolk::user::is_skeleton_key(&c.folded)
                        && !claims.iter().any(|n| {
                            !kinfolk::user::is_skeleton_key(&n.folded)
                                && kinfolk::user::skeleton_key(&n.username) == c.folded
                        })
                    {
                        problems.push(format!(
                            "{}: skeleton claim {} without a name of its user",
                            u.username, c.folded
                        ));
                    }
                }
            }
        }
        let mut after_seq = 0;
        loop {
            let events = tx.changes_since(after_seq, 1000)?;
            for e in &events {
                if !in_range(e.at) {
                    problems.push(format!("feed event {} time out of range", e.seq));
                }
            }
            match events.last() {
                Some(e) if events.len() == 1000 => after_seq = e.seq,
                _ => break,
            }
        }
        for r in rooms {
            let Some(room) = tx.room(r)? else {
                problems.push(format!("membership of missing room {r}"));
                continue;
            };
            let members = tx.members(r, None, 100_000)?;
            if members.iter().any(|m| !in_range(m.joined_at)) || !in_range(room.created_at) {
                problems.push(format!("room {r}: time out of range"));
            }
            if members.len() as u64 != room.member_count {
                problems.push(format!(
                    "room {r}: member_count {} != {}",
                    room.member_count,
                    members.len()
                ));
            }
            if !members.iter().any(|m| m.role == kinfolk::RoomRole::Owner) {
                problems.push(format!("room {r} has no owner"));
            }
        }
        Ok(problems)
    })
    .await;
    match checked {
        Ok(problems) => problems.first().map_or(Ok(()), |p| Err(p.clone())),
        Err(e) => Err(format!("stored data does not decode: {e}")),
    }
}
