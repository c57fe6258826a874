//! Workload inputs: who acts, on whom, with which cursor — chosen once per
//! dataset so every store and baseline is measured on the same requests.

use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use kinfolk::{Kinfolk, PageRequest, UserId};

use crate::dataset::{Dataset, Zipf, workload_rng};
use crate::load::Loaded;

/// Exponent of the Zipf law that picks "which user" in read workloads.
pub const USER_SKEW: f64 = 0.9;

/// Everything a workload needs besides the service.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub n: usize,
    pub ids: Vec<UserId>,
    /// Folded usernames, by user index.
    pub usernames: Vec<String>,
    pub perm: Vec<u32>,
    pub celebrity: UserId,
    pub celebrity_followers: usize,
    pub viewer: UserId,
    /// Does the follow/unfollow pairs: follows neither target beforehand.
    pub actor: UserId,
    /// An ordinary public account (15–30 followers) the actor does not follow.
    pub ordinary: UserId,
    pub zipf: Zipf,
    /// Substring for the `my_rooms` name filter.
    pub room_filter: &'static str,
}

impl Fixture {
    pub fn new(ds: &Dataset, loaded: &Loaded) -> Fixture {
        let n = ds.users.len();
        let deg = ds.in_degrees();
        let private: std::collections::HashSet<u32> = ds.private.iter().copied().collect();
        let blocked: std::collections::HashSet<u32> =
            ds.blocks.iter().flat_map(|&(a, b)| [a, b]).collect();
        let ordinary = (0..n as u32)
            .map(|i| ds.perm[(n / 3 + i as usize) % n])
            .find(|&u| {
                (15..=30).contains(&deg[u as usize])
                    && !private.contains(&u)
                    && !blocked.contains(&u)
                    && u != ds.viewer
                    && u != ds.celebrity
            })
            .expect("an ordinary user");
        let mut follows_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        for &(a, b) in &ds.follows {
            if b == ds.celebrity || b == ordinary {
                follows_of[a as usize].push(b);
            }
        }
        let actor = (0..n as u32)
            .map(|i| ds.perm[(n / 2 + i as usize) % n])
            .find(|&u| {
                follows_of[u as usize].is_empty()
                    && !private.contains(&u)
                    && !blocked.contains(&u)
                    && u != ds.viewer
                    && u != ds.celebrity
                    && u != ordinary
            })
            .expect("an actor");
        Fixture {
            n,
            ids: loaded.ids.clone(),
            usernames: ds
                .users
                .iter()
                .map(|u| u.username.to_ascii_lowercase())
                .collect(),
            perm: ds.perm.clone(),
            celebrity: loaded.id(ds.celebrity),
            celebrity_followers: deg[ds.celebrity as usize] as usize,
            viewer: loaded.id(ds.viewer),
            actor: loaded.id(actor),
            ordinary: loaded.id(ordinary),
            zipf: Zipf::new(n, USER_SKEW),
            room_filter: "club",
        }
    }

    /// A user index drawn with Zipf skew (popular users more often).
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        self.perm[self.zipf.sample(rng)] as usize
    }

    /// `count` distinct-ish ids drawn with skew.
    pub fn pick_ids(&self, rng: &mut ChaCha8Rng, count: usize) -> Vec<UserId> {
        (0..count).map(|_| self.ids[self.pick(rng)]).collect()
    }
}

/// The requests every harness sends, chosen once per dataset from its
/// [`Fixture`] (same seeds, so every store and baseline gets the same ones).
/// `kinfolk-scale build` saves them as `fixture.json` next to a prebuilt
/// store, so a later process (the `workloads` bench with `KINFOLK_BENCH_OPEN`,
/// or `kinfolk-scale query`) can measure that store without the generator.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Requests {
    pub users: usize,
    pub follows: u64,
    pub celebrity: UserId,
    pub celebrity_followers: usize,
    pub viewer: UserId,
    pub actor: UserId,
    pub ordinary: UserId,
    /// 4,096 profile targets, Zipf-skewed.
    pub profile_ids: Vec<UserId>,
    /// 4,096 folded usernames, Zipf-skewed.
    pub usernames: Vec<String>,
    /// 64 batches of 100 ids for `relationships`.
    pub rel_batches: Vec<Vec<UserId>>,
    /// 20,000 read-mix operations.
    pub mix: Vec<MixOp>,
    /// Substring for the `my_rooms` name filter.
    #[serde(default = "default_room_filter")]
    pub room_filter: String,
}

fn default_room_filter() -> String {
    "club".into()
}

impl Requests {
    /// Draws every request list from `f` (`follows`: how many the load added).
    pub fn new(f: &Fixture, follows: u64) -> Requests {
        let mut rng = workload_rng(1);
        let profile_ids = (0..4096).map(|_| f.ids[f.pick(&mut rng)]).collect();
        let mut rng = workload_rng(2);
        let usernames = (0..4096)
            .map(|_| f.usernames[f.pick(&mut rng)].clone())
            .collect();
        let mut rng = workload_rng(3);
        let rel_batches = (0..64).map(|_| f.pick_ids(&mut rng, 100)).collect();
        let mut rng = workload_rng(4);
        let mix = (0..20_000).map(|_| mix_op(f, &mut rng)).collect();
        Requests {
            users: f.n,
            follows,
            celebrity: f.celebrity,
            celebrity_followers: f.celebrity_followers,
            viewer: f.viewer,
            actor: f.actor,
            ordinary: f.ordinary,
            profile_ids,
            usernames,
            rel_batches,
            mix,
            room_filter: f.room_filter.to_string(),
        }
    }

    /// Reads `<dir>/fixture.json`.
    pub fn load(dir: &Path) -> std::io::Result<Requests> {
        let bytes = std::fs::read(dir.join(FIXTURE_FILE))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    /// Writes `<dir>/fixture.json`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(FIXTURE_FILE), bytes)
    }
}

/// Where [`Requests`] live next to a prebuilt store.
pub const FIXTURE_FILE: &str = "fixture.json";

/// Walks the celebrity's followers (as the viewer, 100 per page) to the page
/// that starts ~`frac` into the list; returns its cursor and how many rows
/// precede it.
pub async fn deep_cursor(svc: &Kinfolk, r: &Requests, frac: f64) -> (String, usize) {
    let target = (r.celebrity_followers as f64 * frac) as usize;
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let step = (target - seen).clamp(1, 100) as u32;
        let req = match &cursor {
            Some(c) => PageRequest::after(c.clone(), Some(step)),
            None => PageRequest::with_limit(step),
        };
        let page = svc
            .followers(Some(r.viewer), r.celebrity, req)
            .await
            .expect("followers page");
        seen += page.items.len();
        match page.next_cursor {
            Some(c) if seen < target => cursor = Some(c),
            Some(c) => return (c, seen),
            None => return (cursor.unwrap_or_default(), seen),
        }
    }
}

/// One request of the read-heavy mix.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum MixOp {
    /// Followers (even) or following (odd) page 1, limit 20, of `owner` as `viewer`.
    List {
        viewer: UserId,
        owner: UserId,
        followers: bool,
    },
    /// A profile by id or by (folded) username.
    Profile {
        viewer: UserId,
        id: UserId,
        username: Option<String>,
    },
    /// The viewer's relationship to one user.
    Relationship { viewer: UserId, other: UserId },
    /// The user's own counters.
    Counts { user: UserId },
    /// A follow toggle (the 0.2% of writes).
    Toggle { actor: UserId, target: UserId },
}

/// The read-heavy mix: 99.8% reads (41% list pages, 29% profile gets, 16%
/// relationship checks, 12% counts — the remaining 1.8% of reads are profile
/// gets too, so reads are 41/30.8/16/12) and 0.2% follow toggles, every user
/// drawn with Zipf skew.
pub fn mix_op(f: &Fixture, rng: &mut ChaCha8Rng) -> MixOp {
    let x: f64 = rng.random();
    let viewer = f.ids[f.pick(rng)];
    if x < 0.002 {
        return MixOp::Toggle {
            actor: viewer,
            target: f.ids[f.pick(rng)],
        };
    }
    if x < 0.412 {
        let owner = f.ids[f.pick(rng)];
        return MixOp::List {
            viewer,
            owner,
            followers: rng.random::<bool>(),
        };
    }
    if x < 0.572 {
        return MixOp::Relationship {
            viewer,
            other: f.ids[f.pick(rng)],
        };
    }
    if x < 0.692 {
        return MixOp::Counts { user: viewer };
    }
    let i = f.pick(rng);
    let username = rng.random::<bool>().then(|| f.usernames[i].clone());
    MixOp::Profile {
        viewer,
        id: f.ids[i],
        username,
    }
}

/// Runs one read-mix operation through the service; `true` when it
/// answered `Ok` (the same dispatch for every store and harness).
pub async fn run_mix(svc: &Kinfolk, op: &MixOp) -> bool {
    match op {
        MixOp::List {
            viewer,
            owner,
            followers,
        } => {
            let r = if *followers {
                svc.followers(Some(*viewer), *owner, PageRequest::with_limit(20))
                    .await
            } else {
                svc.following(Some(*viewer), *owner, PageRequest::with_limit(20))
                    .await
            };
            r.is_ok()
        }
        MixOp::Profile {
            viewer,
            id,
            username,
        } => {
            let key = username.clone().unwrap_or_else(|| id.to_string());
            svc.get_profile(Some(*viewer), &key).await.is_ok()
        }
        MixOp::Relationship { viewer, other } => {
            svc.relationships(*viewer, &[*other]).await.is_ok()
        }
        MixOp::Counts { user } => svc.me(*user).await.is_ok(),
        MixOp::Toggle { actor, target } => svc.toggle_follow(*actor, *target, None).await.is_ok(),
    }
}
