//! The store port's contract beyond SPEC (`kinfolk::store`, ADR 0006):
//! one panic policy on every store — a panicking job is rolled back, its
//! caller gets a typed error and the store keeps serving — and re-runnable
//! jobs: a store that fails attempts with [`Error::Transient`] gets the job
//! again, and the result equals a clean run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kinfolk::config::Retry;
use kinfolk::profile::UsernameClaim;
use kinfolk::store::{Boxed, ReadJob, Store, WriteJob};
use kinfolk::{
    Change, Clock, Error, FollowAction, FollowOutcome, Kinfolk, NewUser, PageRequest, UserId,
    Username,
};

use crate::fixtures::{assert_code, check_invariants, make_private, read_store, seq, user};
use crate::{Ctx, TestResult};

/// A write job that writes a user, its claim and a feed event, then panics.
fn panicking_write(now: kinfolk::Timestamp) -> WriteJob {
    Arc::new(move |tx| {
        let id = UserId::new();
        let username = Username::parse("phantom").map_err(|e| Error::storage(e.to_string()))?;
        tx.insert_username_claim(&UsernameClaim {
            folded: username.folded(),
            user: id,
            username,
            held_until: None,
        })?;
        tx.append_change(now, Change::UserRegistered { user: id })?;
        panic!("a bug in a write job (conformance: panic policy)");
    })
}

pub async fn panicking_write_job_leaves_no_trace_and_store_goes_on(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "before").await;
    let seq_before = seq(svc).await;
    let out = svc.store().write(panicking_write(ctx.clock.now())).await;
    assert_code(out.map(|_| ()), "storage");
    // Nothing of the job stayed: no claim, no event.
    let claim = read_store(svc, |tx| tx.username_claim("phantom")).await;
    assert!(
        claim.is_none(),
        "the panicking job's claim stayed: {claim:?}"
    );
    assert_eq!(
        seq(svc).await,
        seq_before,
        "the panicking job's event stayed"
    );
    // The store serves the next jobs with the same guarantees: the name the
    // job claimed is free, writes and reads work.
    let p = user(svc, "phantom").await;
    let b = user(svc, "after").await;
    svc.toggle_follow(b, a, Some(FollowAction::Follow)).await?;
    let page = svc.followers(Some(a), a, PageRequest::first()).await?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(svc.me(p).await?.id, p);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn panicking_read_job_is_an_error_and_store_goes_on(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "reader").await;
    let job: ReadJob = Arc::new(|tx| {
        let _ = tx.last_seq()?;
        panic!("a bug in a read job (conformance: panic policy)");
    });
    assert_code(svc.store().read(job).await.map(|_| ()), "storage");
    // Reads and writes go on.
    assert_eq!(svc.me(a).await?.id, a);
    let b = user(svc, "writer").await;
    svc.toggle_follow(b, a, Some(FollowAction::Follow)).await?;
    check_invariants(svc).await?;
    Ok(())
}

/// `Store::read_short` (ADR 0012: a store may run it on the caller's
/// thread) keeps `read`'s contract: it sees every committed write, returns
/// the job's error unchanged, answers a panic with a storage error, and the
/// store — its inline connections included — serves the next reads.
pub async fn short_read_job_keeps_the_read_contract(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "shorty").await;
    let seq_now = seq(svc).await;
    let store = svc.store();
    let seen: ReadJob = Arc::new(move |tx| {
        let user = tx.user(a)?.map(|u| u.username.to_string());
        Ok(Box::new((user, tx.last_seq()?)) as Boxed)
    });
    let out = store.read_short(seen.clone()).await?;
    let (name, last) = *out
        .downcast::<(Option<String>, u64)>()
        .map_err(|_| "a short read returned another type")?;
    assert_eq!(name.as_deref(), Some("shorty"));
    assert_eq!(last, seq_now);
    // The job's own error comes back unchanged.
    let failing: ReadJob = Arc::new(|_tx| Err(Error::NotFound { what: "user" }));
    assert_code(store.read_short(failing).await.map(|_| ()), "not_found");
    // A panic is a storage error, more than once (every inline connection
    // of a pool, if the store has one, goes back usable).
    for _ in 0..4 {
        let panicking: ReadJob = Arc::new(|tx| {
            let _ = tx.last_seq()?;
            panic!("a bug in a short read job (conformance: panic policy)");
        });
        assert_code(store.read_short(panicking).await.map(|_| ()), "storage");
    }
    // Concurrent short reads (more than a store's inline pool) all answer,
    // and a write between them is seen by the next ones.
    let b = user(svc, "shorty2").await;
    let reads = (0..8).map(|_| {
        let job: ReadJob = Arc::new(move |tx| Ok(Box::new(tx.user(b)?.is_some()) as Boxed));
        store.read_short(job)
    });
    for out in futures::future::join_all(reads).await {
        let found = *out?.downcast::<bool>().map_err(|_| "wrong type")?;
        assert!(found, "a short read missed a committed user");
    }
    assert_eq!(svc.get_profile(Some(a), "shorty2").await?.id(), b);
    assert_eq!(svc.me(a).await?.id, a);
    check_invariants(svc).await?;
    Ok(())
}

pub async fn panicking_job_among_concurrent_writes_hurts_no_other(ctx: Ctx) -> TestResult {
    let svc = ctx.svc.clone();
    let target = user(&svc, "popular").await;
    let mut fans = Vec::new();
    for i in 0..12 {
        fans.push(user(&svc, &format!("fan{i}")).await);
    }
    let now = ctx.clock.now();
    let mut tasks = Vec::new();
    for (i, &fan) in fans.iter().enumerate() {
        let follower = svc.clone();
        tasks.push(tokio::spawn(async move {
            follower
                .toggle_follow(fan, target, Some(FollowAction::Follow))
                .await
                .map(|_| ())
        }));
        if i % 4 == 0 {
            let store = Arc::clone(svc.store());
            tasks.push(tokio::spawn(async move {
                match store.write(panicking_write(now)).await {
                    Err(e) if e.code() == "storage" => Ok(()),
                    other => Err(Error::storage(format!(
                        "a panicking job answered {:?}",
                        other.map(|_| ())
                    ))),
                }
            }));
        }
    }
    for t in tasks {
        t.await??;
    }
    let me = svc.me(target).await?;
    let followers = svc
        .followers(Some(target), target, PageRequest::with_limit(100))
        .await?;
    assert_eq!(followers.items.len(), fans.len());
    assert_eq!(me.stats.followers_count, fans.len() as u64);
    let claim = read_store(&svc, |tx| tx.username_claim("phantom")).await;
    assert!(claim.is_none(), "a panicking job's claim stayed");
    check_invariants(&svc).await?;
    Ok(())
}

/// A store that fails the first `fail_each` commits of every job with a
/// transient error: the job runs on the real store (so its writes happen
/// and must be rolled back), then the attempt reports
/// [`Error::Transient`], as a serialization failure would.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn Store>,
    fail_each: u32,
    /// Failed attempts so far, per job (keyed by the job's allocation, which
    /// the service keeps for all attempts of one job).
    seen: Mutex<HashMap<usize, u32>>,
    failed: AtomicU32,
}

impl Flaky {
    fn new(inner: Arc<dyn Store>, fail_each: u32) -> Self {
        Self {
            inner,
            fail_each,
            seen: Mutex::new(HashMap::new()),
            failed: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl Store for Flaky {
    async fn read(&self, job: ReadJob) -> kinfolk::Result<Boxed> {
        self.inner.read(job).await
    }

    async fn write(&self, job: WriteJob) -> kinfolk::Result<Boxed> {
        let key = Arc::as_ptr(&job) as *const () as usize;
        let fail = {
            let mut seen = self
                .seen
                .lock()
                .map_err(|_| Error::storage("flaky map poisoned"))?;
            let n = seen.entry(key).or_insert(0);
            if *n < self.fail_each {
                *n += 1;
                true
            } else {
                seen.remove(&key);
                false
            }
        };
        if !fail {
            return self.inner.write(job).await;
        }
        self.failed.fetch_add(1, Ordering::SeqCst);
        let doomed: WriteJob = Arc::new(move |tx| {
            job(tx)?;
            Err(Error::transient(
                "could not serialize access (conformance: injected)",
            ))
        });
        self.inner.write(doomed).await
    }

    async fn await_durable(&self) -> kinfolk::Result<()> {
        self.inner.await_durable().await
    }
}

/// What a scenario observably produced, with ids replaced by names.
#[derive(Debug, PartialEq)]
struct Outcome {
    outcomes: Vec<FollowOutcome>,
    counts: Vec<(u64, u64)>,
    follower_names: Vec<String>,
    /// Feed events the scenario appended.
    events: u64,
}

/// Registers four users (`prefix` + a…d, d private), follows among them and
/// renames one, through `svc`; reports what a caller sees.
async fn scenario(svc: &Kinfolk, plain: &Kinfolk, prefix: &str) -> Result<Outcome, Error> {
    let seq_before = plain.last_change_seq().await?;
    let mut ids = Vec::new();
    for s in ["a", "b", "c", "d"] {
        let u = svc
            .register(NewUser::new(&format!("{prefix}{s}"), "Retry Case")?)
            .await?;
        ids.push(u.id);
    }
    make_private(svc, ids[3]).await;
    let mut outcomes = Vec::new();
    for (x, y) in [(0, 1), (2, 1), (3, 1), (0, 3), (1, 3), (0, 2)] {
        outcomes.push(
            svc.toggle_follow(ids[x], ids[y], Some(FollowAction::Follow))
                .await?,
        );
    }
    outcomes.push(svc.toggle_follow(ids[0], ids[2], None).await?);
    svc.approve_follow_request(ids[3], ids[0]).await?;
    let mut counts = Vec::new();
    for &id in &ids {
        let p = plain.me(id).await?;
        counts.push((p.stats.followers_count, p.stats.following_count));
    }
    let page = plain
        .followers(Some(ids[1]), ids[1], PageRequest::with_limit(10))
        .await?;
    let mut follower_names: Vec<String> = page
        .items
        .iter()
        .map(|r| {
            r.user
                .username
                .as_str()
                .trim_start_matches(prefix)
                .to_owned()
        })
        .collect();
    follower_names.sort();
    // Counted, not subtracted: the port promises increasing sequence
    // numbers, not dense ones (a failed attempt may use some up).
    let events = plain.changes_since(seq_before, 1000).await?.len() as u64;
    Ok(Outcome {
        outcomes,
        counts,
        follower_names,
        events,
    })
}

async fn flaky_service(
    ctx: &Ctx,
    fail_each: u32,
    retry: Retry,
) -> Result<(Kinfolk, Arc<Flaky>), Error> {
    let flaky = Arc::new(Flaky::new(Arc::clone(ctx.svc.store()), fail_each));
    let svc = Kinfolk::builder(flaky.clone() as Arc<dyn Store>)
        .clock(Arc::new(ctx.clock.clone()))
        .config(kinfolk::Config {
            retry,
            ..kinfolk::Config::default()
        })
        .build()
        .await?;
    Ok((svc, flaky))
}

pub async fn transient_failures_are_retried_and_equal_a_clean_run(ctx: Ctx) -> TestResult {
    let retry = Retry {
        attempts: 4,
        first_backoff: std::time::Duration::from_micros(200),
        max_backoff: std::time::Duration::from_millis(2),
    };
    let (flaky_svc, flaky) = flaky_service(&ctx, 3, retry).await?;
    let clean = scenario(&ctx.svc, &ctx.svc, "clean_").await?;
    let retried = scenario(&flaky_svc, &ctx.svc, "flaky_").await?;
    assert!(
        flaky.failed.load(Ordering::SeqCst) >= 3 * 12,
        "every write job should have failed three times first"
    );
    assert_eq!(retried, clean, "a retried run differs from a clean run");
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn transient_failures_past_the_retry_budget_are_typed_and_write_nothing(
    ctx: Ctx,
) -> TestResult {
    let retry = Retry {
        attempts: 3,
        first_backoff: std::time::Duration::from_micros(100),
        max_backoff: std::time::Duration::from_millis(1),
    };
    let (flaky_svc, flaky) = flaky_service(&ctx, 3, retry).await?;
    let a = user(&ctx.svc, "steady").await;
    let seq_before = seq(&ctx.svc).await;
    let err = flaky_svc
        .register(NewUser::new("neverborn", "Never Born")?)
        .await
        .err()
        .ok_or("a write failing every attempt returned Ok")?;
    assert_eq!(err.code(), "transient");
    assert!(err.is_transient());
    assert_eq!(err.http_status(), 503);
    assert_eq!(
        flaky.failed.load(Ordering::SeqCst),
        3,
        "three attempts, no more"
    );
    let err = flaky_svc
        .toggle_follow(a, a, Some(FollowAction::Follow))
        .await
        .err()
        .ok_or("following oneself returned Ok")?;
    // A rule error is not retried: the job ran once.
    assert_eq!(err.code(), "cannot_follow_self");
    assert!(
        flaky.failed.load(Ordering::SeqCst) <= 4,
        "a rule error was retried"
    );
    assert_eq!(
        seq(&ctx.svc).await,
        seq_before,
        "a failed attempt left an event"
    );
    let claim = read_store(&ctx.svc, |tx| tx.username_claim("neverborn")).await;
    assert!(claim.is_none(), "a failed attempt left a claim");
    assert!(ctx.svc.get_profile(None, "neverborn").await.is_err());
    // The plain service can still take the name: nothing of it was kept.
    ctx.svc
        .register(NewUser::new("neverborn", "Born At Last")?)
        .await?;
    check_invariants(&ctx.svc).await?;
    Ok(())
}

/// `ReadTx::edges_probed` (the probed form of `edges_between` that core's
/// profile, list and relationship reads use) answers exactly the probed
/// keys that exist, each once, whatever else lies between the two users;
/// a probe without the user at either end finds nothing.
pub async fn edges_probed_answers_exactly_the_probed_edges(ctx: Ctx) -> TestResult {
    use kinfolk::EdgeKind::{Block, Follow, Mute, Request};
    let svc = &ctx.svc;
    let a = user(svc, "probe_a").await;
    let b = user(svc, "probe_b").await;
    let c = user(svc, "probe_c").await;
    let p = user(svc, "probe_private").await;
    make_private(svc, p).await;
    svc.toggle_follow(a, b, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(b, a, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(c, a, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(b, c, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(a, p, Some(FollowAction::Follow)).await?;
    svc.mute(a, b, None).await?;
    svc.mute(b, a, None).await?;
    let probes = vec![
        (Follow, a, b),
        (Follow, a, b), // twice: answered once
        (Mute, a, b),
        (Follow, c, a),
        (Request, a, p),
        (Request, a, b), // does not exist
        (Block, b, a),   // does not exist
        (Follow, b, c),  // exists, but `a` is at neither end
    ];
    let mut found: Vec<(kinfolk::EdgeKind, UserId, UserId)> =
        read_store(svc, move |tx| tx.edges_probed(a, &probes))
            .await
            .into_iter()
            .map(|e| (e.kind, e.from, e.to))
            .collect();
    found.sort();
    let mut want = vec![
        (Follow, a, b),
        (Mute, a, b),
        (Follow, c, a),
        (Request, a, p),
    ];
    want.sort();
    // Not probed, so not answered: b follows a, b mutes a.
    assert_eq!(found, want);
    let none: Vec<kinfolk::Edge> = read_store(svc, move |tx| tx.edges_probed(a, &[])).await;
    assert!(none.is_empty(), "no probes found {none:?}");
    Ok(())
}

/// The relationship core reads probes only the edges the two users'
/// counters leave possible (a follow needs a follower who follows someone
/// and a followee with followers, a request a target with pending
/// requests): every flag is still right on each side of those counters, the
/// same in `get_profile`, `relationships` and a followers page.
pub async fn relationship_flags_right_on_each_side_of_the_counters(ctx: Ctx) -> TestResult {
    use kinfolk::{ProfileView, Relationship};
    let svc = &ctx.svc;
    let a = user(svc, "rel_a").await; // follows b
    let b = user(svc, "rel_b").await; // followed by a, follows nobody
    let p = user(svc, "rel_p").await; // private, a pending request from c
    let c = user(svc, "rel_c").await; // asked p, follows a
    let d = user(svc, "rel_d").await; // no edges at all
    make_private(svc, p).await;
    svc.toggle_follow(a, b, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(c, p, Some(FollowAction::Follow)).await?;
    svc.toggle_follow(c, a, Some(FollowAction::Follow)).await?;
    svc.mute(b, a, None).await?;
    let profile_rel = |v: ProfileView| match v {
        ProfileView::Public(p) => p.relationship.unwrap_or_default(),
        ProfileView::Own(_) => Relationship {
            blocking: true,
            ..Default::default()
        },
    };
    let rel = |following, followed_by, requested, requested_by, muting| Relationship {
        following,
        followed_by,
        requested,
        requested_by,
        muting,
        ..Default::default()
    };
    let cases = [
        (a, b, rel(true, false, false, false, false)),
        (b, a, rel(false, true, false, false, true)),
        (c, p, rel(false, false, true, false, false)),
        (p, c, rel(false, false, false, true, false)),
        (a, c, rel(false, true, false, false, false)),
        (c, a, rel(true, false, false, false, false)),
        (d, a, rel(false, false, false, false, false)),
        (a, d, rel(false, false, false, false, false)),
    ];
    for (viewer, other, want) in cases {
        let got = profile_rel(svc.get_profile(Some(viewer), &other.to_string()).await?);
        assert_eq!(got, want, "get_profile {viewer} → {other}");
        let got = svc.relationships(viewer, &[other]).await?[0].relationship;
        assert_eq!(got, want, "relationships {viewer} → {other}");
    }
    // A page: a's followers (c) as seen by p, who has c's request.
    let page = svc.followers(Some(p), a, PageRequest::first()).await?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].relationship,
        Some(rel(false, false, false, true, false))
    );
    // b's followers (a) as seen by c, who follows a.
    let page = svc.followers(Some(c), b, PageRequest::first()).await?;
    assert_eq!(
        page.items[0].relationship,
        Some(rel(true, false, false, false, false))
    );
    Ok(())
}
