//! 8 tasks × 500 random follow / block / approve commands over 20 users
//! through the service, then a check through the store: every counter equals
//! the edges it counts, no edge is duplicated, and no follow or request sits
//! beside a block in either direction.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use kinfolk::{
    Anchor, Edge, EdgeKind, FollowAction, Kinfolk, NewUser, ReadTx, SettingsPatch, UserId,
};

const USERS: usize = 20;
const TASKS: u64 = 8;
const COMMANDS: usize = 500;

/// xorshift64: deterministic per task, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

async fn run_commands(svc: Kinfolk, ids: Arc<Vec<UserId>>, seed: u64) -> Result<usize, String> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1000_0001));
    let mut ok = 0;
    for _ in 0..COMMANDS {
        let a = ids[rng.below(ids.len())];
        let b = ids[rng.below(ids.len())];
        let r = match rng.below(10) {
            0..=2 => svc.toggle_follow(a, b, None).await.map(drop),
            3 => svc
                .toggle_follow(a, b, Some(FollowAction::Follow))
                .await
                .map(drop),
            4 => svc
                .toggle_follow(a, b, Some(FollowAction::Unfollow))
                .await
                .map(drop),
            5 => svc.remove_follower(a, b).await.map(drop),
            6 => svc.block(a, b).await.map(drop),
            7 => svc.unblock(a, b).await.map(drop),
            _ => svc.approve_follow_request(a, b).await.map(drop),
        };
        match r {
            Ok(()) => ok += 1,
            // Refusals the rules allow (self, blocks, missing requests).
            Err(e)
                if matches!(
                    e.code(),
                    "cannot_follow_self" | "blocked" | "not_found" | "validation"
                ) => {}
            Err(e) => return Err(format!("unexpected error {}: {e}", e.code())),
        }
    }
    Ok(ok)
}

/// Every edge of `kind` at `anchor`, page by page.
fn all_edges(tx: &dyn ReadTx, kind: EdgeKind, anchor: Anchor) -> kinfolk::Result<Vec<Edge>> {
    let mut out: Vec<Edge> = Vec::new();
    let mut before = None;
    loop {
        let page = tx.edges(kind, anchor, before, 7)?;
        if let (Some(last), Some(first)) = (out.last(), page.first()) {
            assert!(first.seq < last.seq, "pages overlap or go backwards");
        }
        before = page.last().map(|e| e.seq);
        let done = page.len() < 7;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

/// Returns every violated invariant.
fn check(tx: &dyn ReadTx, ids: &[UserId]) -> kinfolk::Result<(Vec<String>, usize)> {
    let mut problems = Vec::new();
    let mut follows = 0;
    for &id in ids {
        let u = tx
            .user(id)?
            .ok_or_else(|| kinfolk::Error::NotFound { what: "user" })?;
        let followers = all_edges(tx, EdgeKind::Follow, Anchor::To(id))?;
        let following = all_edges(tx, EdgeKind::Follow, Anchor::From(id))?;
        let requests = all_edges(tx, EdgeKind::Request, Anchor::To(id))?;
        follows += following.len();
        if u.counts.followers != followers.len() as u64 {
            problems.push(format!(
                "{id}: followers {} != {} edges",
                u.counts.followers,
                followers.len()
            ));
        }
        if u.counts.following != following.len() as u64 {
            problems.push(format!(
                "{id}: following {} != {} edges",
                u.counts.following,
                following.len()
            ));
        }
        if u.counts.pending_requests != requests.len() as u64 {
            problems.push(format!(
                "{id}: pending {} != {} edges",
                u.counts.pending_requests,
                requests.len()
            ));
        }
        for kind in EdgeKind::ALL {
            let out = all_edges(tx, kind, Anchor::From(id))?;
            let mut seen = HashSet::new();
            for e in &out {
                if !seen.insert(e.to) {
                    problems.push(format!("{id}: duplicate {kind:?} edge to {}", e.to));
                }
                if e.to == id {
                    problems.push(format!("{id}: self {kind:?} edge"));
                }
            }
            if matches!(kind, EdgeKind::Follow | EdgeKind::Request) {
                let others: Vec<UserId> = out.iter().map(|e| e.to).collect();
                for b in tx.edges_between(id, &others)? {
                    if b.kind == EdgeKind::Block {
                        problems.push(format!(
                            "{kind:?} {id} -> {} beside a block {} -> {}",
                            b.to, b.from, b.to
                        ));
                    }
                }
            }
        }
    }
    Ok((problems, follows))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_and_edges_stay_exact_under_concurrent_commands() {
    let dir = tempfile::tempdir().unwrap();
    let store = kinfolk_sqlite::open(dir.path().join("kinfolk.db")).unwrap();
    let svc = Kinfolk::builder(store.clone()).build().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..USERS {
        ids.push(
            svc.register(NewUser::new(&format!("racer{i}"), "Racer").unwrap())
                .await
                .unwrap()
                .id,
        );
    }
    let private: SettingsPatch =
        serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).unwrap();
    for id in ids.iter().take(5) {
        svc.edit_settings(*id, private.clone()).await.unwrap();
    }
    let ids = Arc::new(ids);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(run_commands(svc.clone(), ids.clone(), t + 1)))
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        succeeded += task.await.unwrap().unwrap();
    }
    assert!(
        succeeded > 1000,
        "only {succeeded} commands succeeded; the test exercised too little"
    );

    let check_ids = ids.clone();
    let (problems, follows) = kinfolk::store::read(store.as_ref(), move |tx| check(tx, &check_ids))
        .await
        .unwrap();
    assert!(
        problems.is_empty(),
        "{} violations:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(follows > 0, "no follow survived; the check proved little");
    drop(svc);

    // The same holds after reopening from disk.
    drop(store);
    let store = kinfolk_sqlite::open(dir.path().join("kinfolk.db")).unwrap();
    let (problems, again) = kinfolk::store::read(store.as_ref(), move |tx| check(tx, &ids))
        .await
        .unwrap();
    assert!(problems.is_empty(), "after reopen: {problems:?}");
    assert_eq!(again, follows);
}
