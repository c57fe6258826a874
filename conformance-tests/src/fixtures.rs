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

/// How many feed events there are after sequence number `after`: what a
/// command appended since [`seq`] returned `after` (the contract promises
/// increasing sequence numbers, not dense ones).
///
/// # Panics
/// When the store fails.
pub async fn events_after(svc: &Kinfolk, after: u64) -> usize {
    svc.changes_since(after, 1000)
        .await
        .expect("changes_since")
        .len()
}

/// Runs a typed read job directly on the service's store.
///
/// # Panics
/// When the store fails.
pub async fn read_store<R, F>(svc: &Kinfolk, f: F) -> R
where
    R: Send + 'static,
    F: Fn(&dyn kinfolk::ReadTx) -> Result<R, Error> + Send + Sync + 'static,
{
    kinfolk::store::read(svc.store().as_ref(), f)
        .await
        .expect("read job on the store")
}

pub use crate::invariants::check_invariants;
