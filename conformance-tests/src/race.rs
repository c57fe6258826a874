//! The race suite (RELIABILITY.md §4): 8 tasks × 500 random follow /
//! unfollow / remove / block / unblock / approve commands over 20 users (5
//! of them private), all at once through one service, then one scan of the
//! store ([`store_problems`]): every counter equals the edges it counts, no
//! edge is duplicated, no follow or request sits beside a block, the order
//! indexes and the edge table agree. The same holds, with the same follows,
//! after the store is closed and opened again (from disk, for a persistent
//! store). [`store_tests!`](crate::store_tests) runs it on every store.

use std::sync::Arc;

use kinfolk::{FollowAction, Kinfolk, NewUser, SettingsPatch, UserId};

use crate::harness::{Ctx, StoreFactory, TestResult};
use crate::invariants::{Scan, store_problems};

const USERS: usize = 20;
const PRIVATE: usize = 5;
const TASKS: u64 = 8;
const COMMANDS: usize = 500;

/// xorshift64, seeded per task so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// One task's commands; returns how many succeeded.
async fn commands(svc: Kinfolk, ids: Arc<Vec<UserId>>, seed: u64) -> Result<usize, String> {
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
            // Refusals the rules allow: self, blocks, no such request.
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

async fn scan(svc: &Kinfolk) -> Result<Scan, String> {
    kinfolk::store::read(svc.store().as_ref(), store_problems)
        .await
        .map_err(|e| format!("scan: {e}"))
}

async fn race(ctx: &mut Ctx) -> TestResult {
    let mut ids = Vec::new();
    for i in 0..USERS {
        let new = NewUser::new(&format!("racer{i}"), "Racer")?;
        ids.push(ctx.svc.register(new).await?.id);
    }
    let private: SettingsPatch = serde_json::from_str(r#"{"privacy":{"private_account":true}}"#)?;
    for id in ids.iter().take(PRIVATE) {
        ctx.svc.edit_settings(*id, private.clone()).await?;
    }
    let ids = Arc::new(ids);
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| tokio::spawn(commands(ctx.svc.clone(), ids.clone(), t + 1)))
        .collect();
    let mut succeeded = 0;
    for task in tasks {
        succeeded += task.await??;
    }
    assert!(
        succeeded > 1000,
        "only {succeeded} commands succeeded; too little was exercised"
    );

    let before = scan(&ctx.svc).await?;
    assert!(
        before.problems.is_empty(),
        "{} violations:\n{}",
        before.problems.len(),
        before.problems.join("\n")
    );
    assert_eq!(before.users, USERS);
    assert!(
        before.follows > 0,
        "no follow survived; the check proved little"
    );

    // The same after closing and opening the store again.
    ctx.reopen().await?;
    let after = scan(&ctx.svc).await?;
    assert!(
        after.problems.is_empty(),
        "after reopen: {:?}",
        after.problems
    );
    assert_eq!((after.users, after.follows), (before.users, before.follows));
    Ok(())
}

/// Runs the race suite on a fresh store from `factory`.
///
/// # Panics
/// When an invariant is broken, before or after the reopen (that is how a
/// `#[test]` reports it).
pub fn run(factory: Box<dyn StoreFactory>) {
    crate::harness::run_case(factory, |mut ctx| async move { race(&mut ctx).await });
}
