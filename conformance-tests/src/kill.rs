//! Kill tests (RELIABILITY.md §2): a child process applies a deterministic
//! stream of commands to a store on disk (with its search index) and reports
//! every acknowledged command on stdout; the parent SIGKILLs it at random
//! moments and, after each kill, checks that
//!
//! - the store and the index reopen;
//! - every acknowledged command is there and nothing half-done is: the whole
//!   stored state (users, username claims, edges both ways, counters,
//!   settings versions, rooms, memberships, connected accounts, the change
//!   feed) equals the reference model (the memory store) after exactly the
//!   acknowledged commands — or after one more, the command in flight at the
//!   kill, which may have committed before its acknowledgement was written;
//! - the store-wide invariants hold ([`check_invariants`]);
//! - the engine's own integrity check passes;
//! - after `refresh_search`, the index holds exactly the store's active
//!   users (every answer of [`SearchIndex::top`] equals what core's
//!   reference [`match_tier`] says over the store's users, followers counts
//!   included).
//!
//! Commands come from a seeded generator, so parent and child produce the
//! same stream. Users and rooms are referred to by the index of the command
//! that created them; the parent maps both sides' random ids to those
//! labels through the change feed (every event carries the time of its
//! command, and the clock is set to `BASE + index × STEP` before each one).
//!
//! [`store_tests!`](crate::store_tests) stamps it for an adapter that gives a
//! [`KillTarget`] (`kill: …`, or `disk: …`, whose [`Disk`](crate::kit::Disk)
//! is one): the tests `kill::child` (a no-op unless re-executed) and
//! `kill::sigkill_loses_no_acknowledged_command_and_leaves_nothing_half_done`,
//! which calls [`parent`] with the child's name.
//!
//! Environment: `KINFOLK_KILLS` (kills per store, default 200),
//! `KINFOLK_KILL_SEED` (replay a run), `KINFOLK_KILL_INDEX_COMMIT_MS`
//! ([`index_commit_interval`]), `KINFOLK_KILL_KEEP` (keep a failed run's
//! files). The child is the test binary itself,
//! re-executed with `KINFOLK_KILL_CHILD=<dir>`. Unix only: there
//! `std::process::Child::kill` sends SIGKILL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use chrono::DateTime;
use kinfolk::search::{Boosts, RankKey, match_tier};
use kinfolk::{
    Change, ChangeEvent, Clock, EdgeKind, Error, FollowAction, Kinfolk, ManualClock, NewRoom,
    NewUser, PageRequest, ProfileUpdate, ReadTx, RoomId, RoomKind, RoomName, RoomRole,
    RoomVisibility, SearchIndex, SearchQuery, SearchScope, SettingsPatch, Store, Timestamp, User,
    UserId,
};
use serde_json::{Value, json};

use crate::fixtures::check_invariants;

/// The variable that turns the child test into the child: the work directory.
pub const CHILD_ENV: &str = "KINFOLK_KILL_CHILD";
const SEED_ENV: &str = "KINFOLK_KILL_SEED";
const START_ENV: &str = "KINFOLK_KILL_START";
/// Kills per store; default [`DEFAULT_KILLS`].
pub const KILLS_ENV: &str = "KINFOLK_KILLS";
/// Keeps the work directory of a failed run.
const KEEP_ENV: &str = "KINFOLK_KILL_KEEP";
/// Kills per store in CI.
pub const DEFAULT_KILLS: usize = 200;

/// Seconds between two commands on the deterministic clock (one hour, so
/// username holds and timed mutes end during a run).
const STEP_SECS: i64 = 3600;
/// 2024-01-01T00:00:00Z.
const BASE_SECS: i64 = 1_704_067_200;

/// What the kill test needs from an adapter.
pub trait KillTarget: Sync {
    /// Opens (or reopens) the store kept in `dir`.
    fn open_store(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>>;
    /// Opens (or reopens) the search index kept in `dir`.
    fn open_search(&self, dir: &Path) -> kinfolk::Result<Arc<dyn SearchIndex>>;
    /// A fresh, empty reference store (the memory store).
    fn open_model(&self) -> Arc<dyn Store>;
    /// Runs the engine's own integrity check on the (closed) store in `dir`.
    fn check_integrity(&self, dir: &Path) -> Result<(), String>;
}

/// When command `i` runs.
pub fn time_of(i: u64) -> Timestamp {
    let secs = BASE_SECS + (i as i64) * STEP_SECS;
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Which command ran at `at`.
fn command_of(at: Timestamp) -> u64 {
    ((at.timestamp() - BASE_SECS) / STEP_SECS).max(0) as u64
}

// ------------------------------------------------------------------ random

/// SplitMix64: small, seedable, good enough to drive tests.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    /// True with `pct` percent probability.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ------------------------------------------------------------------ commands

/// A user: created by command `.0`, the `.1`-th user it created.
pub type URef = (u64, u32);
/// A room: created by command `.0`.
pub type RRef = u64;

/// One command of the stream.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum Cmd {
    Register {
        username: String,
        name: String,
        email: Option<String>,
    },
    ImportUsers {
        rows: Vec<(String, String)>,
    },
    ImportFollows {
        pairs: Vec<(URef, URef)>,
    },
    UpdateProfile {
        actor: URef,
        json: String,
    },
    EditSettings {
        actor: URef,
        json: String,
    },
    Follow {
        actor: URef,
        target: URef,
        action: Option<FollowAction>,
    },
    RemoveFollower {
        actor: URef,
        follower: URef,
    },
    Approve {
        actor: URef,
        requester: URef,
    },
    Reject {
        actor: URef,
        requester: URef,
    },
    Block {
        actor: URef,
        target: URef,
    },
    Unblock {
        actor: URef,
        target: URef,
    },
    Mute {
        actor: URef,
        target: URef,
        hours: Option<i64>,
    },
    Unmute {
        actor: URef,
        target: URef,
    },
    Deactivate {
        actor: URef,
    },
    Reactivate {
        actor: URef,
    },
    Delete {
        actor: URef,
    },
    CreateRoom {
        actor: URef,
        name: String,
        page: bool,
        public: bool,
    },
    AddMember {
        actor: URef,
        room: RRef,
        user: URef,
    },
    RemoveMember {
        actor: URef,
        room: RRef,
        user: URef,
    },
    SetRole {
        actor: URef,
        room: RRef,
        user: URef,
        role: RoomRole,
    },
    LeaveRoom {
        actor: URef,
        room: RRef,
    },
    Link {
        actor: URef,
        provider: String,
        external_id: String,
        handle: String,
    },
    Unlink {
        actor: URef,
        provider: String,
        external_id: String,
    },
}

const WORDS: &[&str] = &[
    "José",
    "Álvarez",
    "Zoë",
    "Ærin",
    "Björk",
    "Łukasz",
    "Dmitrий",
    "Ana",
    "Bo",
    "Chen",
    "Dee",
    "Élodie",
    "Fátima",
    "Gus",
    "Hélène",
    "Ivy",
    "Jürgen",
    "Kåre",
    "Lü",
    "Núñez",
    "O'Brien",
];
const STEMS: &[&str] = &[
    "ana", "bo", "cy", "dee", "eli", "fay", "gus", "hal", "ivy", "jo",
];
const PROVIDERS: &[&str] = &["github", "google"];
const MAX_LIVE_USERS: usize = 40;

/// The seeded command stream: `next()` gives command 0, 1, 2, …
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    next_index: u64,
    users: Vec<URef>,
    deleted: HashSet<URef>,
    rooms: Vec<RRef>,
    /// Every username the stream has used (for probing claims).
    names: Vec<String>,
}

impl Generator {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed ^ 0x6b69_6e66_6f6c_6b21),
            next_index: 0,
            users: Vec::new(),
            deleted: HashSet::new(),
            rooms: Vec::new(),
            names: Vec::new(),
        }
    }

    /// Every username used so far, lower-cased and deduplicated.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.names.iter().map(|n| n.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn user(&mut self) -> URef {
        let live: Vec<URef> = self
            .users
            .iter()
            .copied()
            .filter(|u| !self.deleted.contains(u))
            .collect();
        if live.is_empty() || self.rng.chance(4) {
            if self.users.is_empty() {
                return (u64::MAX, 0);
            }
            return *self.rng.pick(&self.users);
        }
        *self.rng.pick(&live)
    }

    fn room(&mut self) -> RRef {
        if self.rooms.is_empty() || self.rng.chance(3) {
            return u64::MAX - 1;
        }
        // Recent rooms are likelier to still exist.
        let n = self.rooms.len() as u64;
        let back = self.rng.below(n.min(8));
        self.rooms[(n - 1 - back) as usize]
    }

    fn rename_target(&mut self) -> String {
        let stem = *self.rng.pick(STEMS);
        let n = self.rng.below(12);
        let mut name = format!("ren_{stem}{n}");
        if self.rng.chance(30) {
            name = name.to_ascii_uppercase();
        }
        if self.rng.chance(3) {
            name = "adm1n".to_string(); // reserved look-alike
        }
        self.names.push(name.clone());
        name
    }

    fn display_name(&mut self) -> String {
        let n = 1 + self.rng.below(3);
        (0..n)
            .map(|_| *self.rng.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn profile_json(&mut self) -> String {
        let mut m = serde_json::Map::new();
        if self.rng.chance(50) {
            m.insert("name".into(), json!(self.display_name()));
        }
        if self.rng.chance(30) {
            let bio = match self.rng.below(3) {
                0 => "'; DROP TABLE users; --\nline two".to_string(),
                1 => String::new(),
                _ => format!("bio {} \u{00e9}\u{0301}", self.rng.below(1000)),
            };
            m.insert("bio".into(), json!(bio));
        }
        if self.rng.chance(30) {
            m.insert("username".into(), json!(self.rename_target()));
        }
        if self.rng.chance(20) {
            let v = if self.rng.chance(30) {
                Value::Null
            } else {
                json!(format!(
                    "https://cdn.example.com/a{}.png",
                    self.rng.below(100)
                ))
            };
            m.insert("avatar_url".into(), v);
        }
        if self.rng.chance(15) {
            let v = if self.rng.chance(30) {
                Value::Null
            } else {
                json!(*self.rng.pick(&["Paris", "São Paulo", "  Kyiv  "]))
            };
            m.insert("location".into(), v);
        }
        if self.rng.chance(10) {
            let n = self.rng.below(3);
            let links: Vec<Value> = (0..n)
                .map(|k| json!({"kind": "website", "url": format!("https://e{k}.example.org/")}))
                .collect();
            m.insert("social_links".into(), Value::Array(links));
        }
        Value::Object(m).to_string()
    }

    fn settings_json(&mut self) -> String {
        let mut privacy = serde_json::Map::new();
        let mut display = serde_json::Map::new();
        let mut top = serde_json::Map::new();
        if self.rng.chance(40) {
            privacy.insert("private_account".into(), json!(self.rng.chance(50)));
        }
        if self.rng.chance(20) {
            privacy.insert("discoverable".into(), json!(self.rng.chance(70)));
        }
        if self.rng.chance(20) {
            privacy.insert("show_counts".into(), json!(self.rng.chance(50)));
        }
        if self.rng.chance(20) {
            privacy.insert(
                "allow_room_invites".into(),
                json!(*self.rng.pick(&["everyone", "following", "nobody"])),
            );
        }
        if self.rng.chance(20) {
            display.insert(
                "theme".into(),
                json!(*self.rng.pick(&["system", "light", "dark"])),
            );
        }
        if self.rng.chance(20) {
            display.insert(
                "timezone".into(),
                json!(*self.rng.pick(&["UTC", "Europe/Paris", "America/Sao_Paulo"])),
            );
        }
        if self.rng.chance(15) {
            display.insert(
                "language".into(),
                json!(*self.rng.pick(&["en", "pt-BR", "zh-Hant-TW"])),
            );
        }
        if !privacy.is_empty() {
            top.insert("privacy".into(), Value::Object(privacy));
        }
        if !display.is_empty() {
            top.insert("display".into(), Value::Object(display));
        }
        if self.rng.chance(20) {
            top.insert("expected_version".into(), json!(1 + self.rng.below(6)));
        }
        Value::Object(top).to_string()
    }

    fn make(&mut self, i: u64) -> Cmd {
        let live = self.users.len() - self.deleted.len().min(self.users.len());
        let mut r = if self.users.len() < 3 {
            0
        } else {
            self.rng.below(1000)
        };
        // Keep the population around 40 live users, so that the checks after
        // each kill stay cheap however long the run: above it, new users
        // make way for account deletions.
        if live > MAX_LIVE_USERS && r < 85 {
            r = 765;
        }
        match r {
            0..=69 => {
                let username = format!("{}{i}", self.rng.pick(STEMS));
                self.names.push(username.clone());
                self.users.push((i, 0));
                let email = self
                    .rng
                    .chance(30)
                    .then(|| format!("{username}@mail.example.com"));
                Cmd::Register {
                    username,
                    name: self.display_name(),
                    email,
                }
            }
            70..=84 => {
                let n = 1 + self.rng.below(4) as u32;
                let mut rows: Vec<(String, String)> = (0..n)
                    .map(|k| (format!("imp{i}_{k}"), self.display_name()))
                    .collect();
                // Sometimes a row that refuses the whole batch: the same name
                // in another case, a name that may be taken, a reserved one.
                let poison = self.rng.below(10);
                match poison {
                    0 => rows.push((format!("IMP{i}_0"), "Dup".into())),
                    1 => rows.push((self.rename_target(), "Maybe".into())),
                    2 => rows.push(("r00t".into(), "Reserved".into())),
                    _ => {}
                }
                for (k, (name, _)) in rows.iter().enumerate() {
                    self.names.push(name.clone());
                    if poison > 2 {
                        self.users.push((i, k as u32));
                    }
                }
                Cmd::ImportUsers { rows }
            }
            85..=104 => {
                let n = 1 + self.rng.below(6);
                let pairs = (0..n).map(|_| (self.user(), self.user())).collect();
                Cmd::ImportFollows { pairs }
            }
            105..=194 => Cmd::UpdateProfile {
                actor: self.user(),
                json: self.profile_json(),
            },
            195..=264 => Cmd::EditSettings {
                actor: self.user(),
                json: self.settings_json(),
            },
            265..=524 => {
                let action = match self.rng.below(3) {
                    0 => None,
                    1 => Some(FollowAction::Follow),
                    _ => Some(FollowAction::Unfollow),
                };
                Cmd::Follow {
                    actor: self.user(),
                    target: self.user(),
                    action,
                }
            }
            525..=554 => Cmd::RemoveFollower {
                actor: self.user(),
                follower: self.user(),
            },
            555..=604 => Cmd::Approve {
                actor: self.user(),
                requester: self.user(),
            },
            605..=624 => Cmd::Reject {
                actor: self.user(),
                requester: self.user(),
            },
            625..=654 => Cmd::Block {
                actor: self.user(),
                target: self.user(),
            },
            655..=674 => Cmd::Unblock {
                actor: self.user(),
                target: self.user(),
            },
            675..=704 => Cmd::Mute {
                actor: self.user(),
                target: self.user(),
                hours: self.rng.chance(60).then(|| self.rng.below(60) as i64 - 5),
            },
            705..=719 => Cmd::Unmute {
                actor: self.user(),
                target: self.user(),
            },
            720..=739 => Cmd::Deactivate { actor: self.user() },
            740..=764 => Cmd::Reactivate { actor: self.user() },
            765..=779 => {
                let actor = self.user();
                self.deleted.insert(actor);
                Cmd::Delete { actor }
            }
            780..=819 => {
                self.rooms.push(i);
                Cmd::CreateRoom {
                    actor: self.user(),
                    name: format!("Room {i} Café"),
                    page: self.rng.chance(30),
                    public: self.rng.chance(50),
                }
            }
            820..=889 => Cmd::AddMember {
                actor: self.user(),
                room: self.room(),
                user: self.user(),
            },
            890..=914 => Cmd::RemoveMember {
                actor: self.user(),
                room: self.room(),
                user: self.user(),
            },
            915..=944 => Cmd::SetRole {
                actor: self.user(),
                room: self.room(),
                user: self.user(),
                role: *self.rng.pick(&[
                    RoomRole::Member,
                    RoomRole::Moderator,
                    RoomRole::Admin,
                    RoomRole::Owner,
                ]),
            },
            945..=964 => Cmd::LeaveRoom {
                actor: self.user(),
                room: self.room(),
            },
            965..=984 => Cmd::Link {
                actor: self.user(),
                provider: (*self.rng.pick(PROVIDERS)).to_string(),
                external_id: format!("ext{}", self.rng.below(8)),
                handle: format!("h{i}"),
            },
            _ => Cmd::Unlink {
                actor: self.user(),
                provider: (*self.rng.pick(PROVIDERS)).to_string(),
                external_id: format!("ext{}", self.rng.below(8)),
            },
        }
    }
}

impl Iterator for Generator {
    type Item = (u64, Cmd);
    fn next(&mut self) -> Option<(u64, Cmd)> {
        let i = self.next_index;
        self.next_index += 1;
        Some((i, self.make(i)))
    }
}

/// The `(provider, external_id)` pairs the stream may link.
fn account_probes() -> Vec<(String, String)> {
    PROVIDERS
        .iter()
        .flat_map(|p| (0..8).map(move |n| (p.to_string(), format!("ext{n}"))))
        .collect()
}

// ------------------------------------------------------------------ runner

/// Applies commands to a service, resolving user and room references.
/// The same code drives the child (store under test) and the model.
pub struct Runner {
    /// The service.
    pub svc: Kinfolk,
    clock: ManualClock,
    users: HashMap<URef, UserId>,
    rooms: HashMap<RRef, RoomId>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("users", &self.users.len())
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

/// Every feed event of a store, oldest first.
fn all_events(tx: &dyn ReadTx) -> kinfolk::Result<Vec<ChangeEvent>> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = tx.changes_since(after, 2000)?;
        let Some(last) = batch.last().map(|e| e.seq) else {
            return Ok(out);
        };
        after = last;
        out.extend(batch);
    }
}

/// Who and what each command created, from the feed.
fn refs_from_feed(events: &[ChangeEvent]) -> (HashMap<URef, UserId>, HashMap<RRef, RoomId>) {
    let mut users = HashMap::new();
    let mut rooms = HashMap::new();
    let mut per_cmd: HashMap<u64, u32> = HashMap::new();
    for e in events {
        match &e.change {
            Change::UserRegistered { user } => {
                let c = command_of(e.at);
                let k = per_cmd.entry(c).or_insert(0);
                users.insert((c, *k), *user);
                *k += 1;
            }
            Change::RoomCreated { room, .. } => {
                rooms.insert(command_of(e.at), *room);
            }
            _ => {}
        }
    }
    (users, rooms)
}

fn phantom(tag: u8, a: u64, b: u32) -> [u8; 16] {
    let mut bytes = [tag; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..12].copy_from_slice(&b.to_be_bytes());
    bytes
}

impl Runner {
    /// A runner over `svc` (whose clock is `clock`), picking up the users and
    /// rooms the store already holds.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn new(svc: Kinfolk, clock: ManualClock) -> kinfolk::Result<Self> {
        let events = kinfolk::store::read(svc.store().as_ref(), all_events).await?;
        let (users, rooms) = refs_from_feed(&events);
        Ok(Self {
            svc,
            clock,
            users,
            rooms,
        })
    }

    fn uid(&self, r: URef) -> UserId {
        self.users
            .get(&r)
            .copied()
            .unwrap_or_else(|| UserId::from_bytes(phantom(0xee, r.0, r.1)))
    }

    fn rid(&self, r: RRef) -> RoomId {
        self.rooms
            .get(&r)
            .copied()
            .unwrap_or_else(|| RoomId::from_bytes(phantom(0xdd, r, 0)))
    }

    /// Runs command `i`; returns its outcome as one token (`ok`, `ok:…`,
    /// `err:<code>`).
    pub async fn apply(&mut self, i: u64, cmd: &Cmd) -> String {
        self.clock.set(time_of(i));
        let now = self.clock.now();
        let s = self.svc.clone();
        let flag = |b: bool| if b { "ok:1" } else { "ok:0" }.to_string();
        let r: kinfolk::Result<String> = async {
            Ok(match cmd {
                Cmd::Register {
                    username,
                    name,
                    email,
                } => {
                    let mut nu = NewUser::new(username, name)?;
                    if let Some(e) = email {
                        nu = nu.with_email(e)?;
                    }
                    let p = s.register(nu).await?;
                    self.users.insert((i, 0), p.id);
                    "ok".into()
                }
                Cmd::ImportUsers { rows } => {
                    let batch = rows
                        .iter()
                        .map(|(u, n)| NewUser::new(u, n))
                        .collect::<kinfolk::Result<Vec<_>>>()?;
                    let ids = s.import_users(batch).await?;
                    for (k, id) in ids.iter().enumerate() {
                        self.users.insert((i, k as u32), *id);
                    }
                    format!("ok:{}", ids.len())
                }
                Cmd::ImportFollows { pairs } => {
                    let batch = pairs
                        .iter()
                        .map(|(a, b)| (self.uid(*a), self.uid(*b)))
                        .collect();
                    format!("ok:{}", s.import_follows(batch).await?)
                }
                Cmd::UpdateProfile { actor, json } => {
                    let Ok(update) = serde_json::from_str::<ProfileUpdate>(json) else {
                        return Ok("bad-json".to_string());
                    };
                    s.update_profile(self.uid(*actor), update).await?;
                    "ok".into()
                }
                Cmd::EditSettings { actor, json } => {
                    let Ok(patch) = serde_json::from_str::<SettingsPatch>(json) else {
                        return Ok("bad-json".to_string());
                    };
                    let v = s.edit_settings(self.uid(*actor), patch).await?;
                    format!("ok:v{}", v.version)
                }
                Cmd::Follow {
                    actor,
                    target,
                    action,
                } => flag(
                    s.toggle_follow(self.uid(*actor), self.uid(*target), *action)
                        .await?
                        .changed,
                ),
                Cmd::RemoveFollower { actor, follower } => flag(
                    s.remove_follower(self.uid(*actor), self.uid(*follower))
                        .await?,
                ),
                Cmd::Approve { actor, requester } => {
                    s.approve_follow_request(self.uid(*actor), self.uid(*requester))
                        .await?;
                    "ok".into()
                }
                Cmd::Reject { actor, requester } => {
                    s.reject_follow_request(self.uid(*actor), self.uid(*requester))
                        .await?;
                    "ok".into()
                }
                Cmd::Block { actor, target } => {
                    flag(s.block(self.uid(*actor), self.uid(*target)).await?)
                }
                Cmd::Unblock { actor, target } => {
                    flag(s.unblock(self.uid(*actor), self.uid(*target)).await?)
                }
                Cmd::Mute {
                    actor,
                    target,
                    hours,
                } => {
                    let until = hours.map(|h| now + chrono::Duration::hours(h));
                    flag(s.mute(self.uid(*actor), self.uid(*target), until).await?)
                }
                Cmd::Unmute { actor, target } => {
                    flag(s.unmute(self.uid(*actor), self.uid(*target)).await?)
                }
                Cmd::Deactivate { actor } => flag(s.deactivate(self.uid(*actor)).await?),
                Cmd::Reactivate { actor } => flag(s.reactivate(self.uid(*actor)).await?),
                Cmd::Delete { actor } => {
                    s.delete_account(self.uid(*actor)).await?;
                    "ok".into()
                }
                Cmd::CreateRoom {
                    actor,
                    name,
                    page,
                    public,
                } => {
                    let room = s
                        .create_room(
                            self.uid(*actor),
                            NewRoom {
                                kind: if *page {
                                    RoomKind::Page
                                } else {
                                    RoomKind::Group
                                },
                                name: RoomName::parse(name)?,
                                visibility: if *public {
                                    RoomVisibility::Public
                                } else {
                                    RoomVisibility::Private
                                },
                            },
                        )
                        .await?;
                    self.rooms.insert(i, room.id);
                    "ok".into()
                }
                Cmd::AddMember { actor, room, user } => {
                    s.add_member(self.uid(*actor), self.rid(*room), self.uid(*user))
                        .await?;
                    "ok".into()
                }
                Cmd::RemoveMember { actor, room, user } => {
                    s.remove_member(self.uid(*actor), self.rid(*room), self.uid(*user))
                        .await?;
                    "ok".into()
                }
                Cmd::SetRole {
                    actor,
                    room,
                    user,
                    role,
                } => {
                    s.set_role(self.uid(*actor), self.rid(*room), self.uid(*user), *role)
                        .await?;
                    "ok".into()
                }
                Cmd::LeaveRoom { actor, room } => {
                    s.leave_room(self.uid(*actor), self.rid(*room)).await?;
                    "ok".into()
                }
                Cmd::Link {
                    actor,
                    provider,
                    external_id,
                    handle,
                } => {
                    s.link_account(self.uid(*actor), provider, external_id, handle)
                        .await?;
                    "ok".into()
                }
                Cmd::Unlink {
                    actor,
                    provider,
                    external_id,
                } => {
                    s.unlink_account(self.uid(*actor), provider, external_id)
                        .await?;
                    "ok".into()
                }
            })
        }
        .await;
        match r {
            Ok(s) => s,
            Err(e) => format!("err:{}", e.code()),
        }
    }
}

// ------------------------------------------------------------------ snapshots

/// The whole stored state as JSON, every id replaced by the label of the
/// command that created it, so that two stores fed the same commands compare
/// equal whatever random ids they drew.
///
/// # Errors
/// When the store cannot be read.
/// Only feed events after `feed_from` are included (the rest is still read,
/// to map ids to labels).
pub async fn snapshot(
    store: &dyn Store,
    names: Vec<String>,
    feed_from: u64,
) -> kinfolk::Result<Value> {
    kinfolk::store::read(store, move |tx| snapshot_tx(tx, &names, feed_from)).await
}

fn snapshot_tx(tx: &dyn ReadTx, names: &[String], feed_from: u64) -> kinfolk::Result<Value> {
    const ALL: usize = 1_000_000;
    let events = all_events(tx)?;
    let (user_refs, room_refs) = refs_from_feed(&events);
    let mut labels: HashMap<String, String> = HashMap::new();
    for ((c, k), id) in &user_refs {
        labels.insert(id.to_string(), format!("u{c}.{k}"));
    }
    for (c, id) in &room_refs {
        labels.insert(id.to_string(), format!("r{c}"));
    }

    let mut users = BTreeMap::new();
    let mut after = None;
    loop {
        let batch = tx.users_after(after, 500)?;
        let Some(last) = batch.last().map(|u| u.id) else {
            break;
        };
        after = Some(last);
        for u in batch {
            let mut edges = BTreeMap::new();
            for kind in EdgeKind::ALL {
                let from = tx.edges(kind, kinfolk::Anchor::From(u.id), None, ALL)?;
                let to = tx.edges(kind, kinfolk::Anchor::To(u.id), None, ALL)?;
                edges.insert(
                    format!("{kind:?}>"),
                    serde_json::to_value(from).map_err(Error::storage)?,
                );
                edges.insert(
                    format!("{kind:?}<"),
                    serde_json::to_value(to).map_err(Error::storage)?,
                );
            }
            let entry = json!({
                "user": serde_json::to_value(&u).map_err(Error::storage)?,
                "claims": serde_json::to_value(tx.username_claims_of(u.id)?).map_err(Error::storage)?,
                "edges": edges,
                "memberships": serde_json::to_value(tx.memberships_of(u.id, None, ALL)?).map_err(Error::storage)?,
                "accounts": serde_json::to_value(tx.connected_accounts_of(u.id)?).map_err(Error::storage)?,
            });
            let label = labels
                .get(&u.id.to_string())
                .cloned()
                .unwrap_or_else(|| format!("?{}", u.id));
            users.insert(label, entry);
        }
    }
    let mut rooms = BTreeMap::new();
    for (c, id) in &room_refs {
        let room = tx.room(*id)?;
        let members = tx.members(*id, None, ALL)?;
        rooms.insert(
            format!("r{c}"),
            json!({"room": serde_json::to_value(room).map_err(Error::storage)?,
                   "members": serde_json::to_value(members).map_err(Error::storage)?}),
        );
    }
    let mut claims = BTreeMap::new();
    for n in names {
        if let Some(c) = tx.username_claim(n)? {
            claims.insert(n.clone(), serde_json::to_value(c).map_err(Error::storage)?);
        }
    }
    let mut accounts = BTreeMap::new();
    for (p, e) in account_probes() {
        if let Some(a) = tx.connected_account(&p, &e)? {
            accounts.insert(
                format!("{p}/{e}"),
                serde_json::to_value(a).map_err(Error::storage)?,
            );
        }
    }
    let mut v = json!({
        "last_seq": tx.last_seq()?,
        "feed": serde_json::to_value(events.iter().filter(|e| e.seq > feed_from).collect::<Vec<_>>())
            .map_err(Error::storage)?,
        "users": users,
        "rooms": rooms,
        "claims": claims,
        "accounts": accounts,
    });
    relabel(&mut v, &labels);
    Ok(v)
}

fn relabel(v: &mut Value, labels: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(l) = labels.get(s.as_str()) {
                *s = l.clone();
            } else if s.len() == 36 && uuid::Uuid::parse_str(s).is_ok() {
                *s = format!("?{s}");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relabel(x, labels)),
        Value::Object(o) => o.values_mut().for_each(|x| relabel(x, labels)),
        _ => {}
    }
}

/// The first difference between two JSON values, as `path: a != b`.
pub fn first_diff(a: &Value, b: &Value) -> Option<String> {
    fn go(a: &Value, b: &Value, path: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = format!("{path}.{k}");
                    match (x.get(k), y.get(k)) {
                        (Some(l), Some(r)) => {
                            if let Some(d) = go(l, r, &p) {
                                return Some(d);
                            }
                        }
                        (l, r) => return Some(format!("{p}: {l:?} != {r:?}")),
                    }
                }
                None
            }
            (Value::Array(x), Value::Array(y)) => {
                for (n, (l, r)) in x.iter().zip(y).enumerate() {
                    if let Some(d) = go(l, r, &format!("{path}[{n}]")) {
                        return Some(d);
                    }
                }
                (x.len() != y.len()).then(|| {
                    format!(
                        "{path}: {} items != {} items (extra: {})",
                        x.len(),
                        y.len(),
                        if x.len() > y.len() {
                            &x[y.len()]
                        } else {
                            &y[x.len()]
                        }
                    )
                })
            }
            _ => (a != b).then(|| format!("{path}: {a} != {b}")),
        }
    }
    go(a, b, "$")
}

// ------------------------------------------------------------------ search

/// Checks that the index holds exactly the store's active users: for each
/// query, `top` (all matches) equals core's `match_tier` over the store's
/// users, in `RankKey` order, followers counts included. Returns how many
/// queries were compared.
///
/// # Errors
/// A description of the first disagreement.
pub async fn check_search(
    svc: &Kinfolk,
    index: &dyn SearchIndex,
    rng: &mut Rng,
    extra_names: &[String],
    sample: usize,
) -> Result<usize, String> {
    svc.refresh_search()
        .await
        .map_err(|e| format!("refresh_search: {e}"))?;

    let users: Vec<User> = kinfolk::store::read(svc.store().as_ref(), |tx| {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let b = tx.users_after(after, 500)?;
            let Some(last) = b.last().map(|u| u.id) else {
                return Ok(out);
            };
            after = Some(last);
            out.extend(b);
        }
    })
    .await
    .map_err(|e| format!("read users: {e}"))?;
    let active: Vec<&User> = users.iter().filter(|u| u.is_active()).collect();
    let mut queries: Vec<String> = Vec::new();
    let chosen: Vec<&User> = if users.len() <= sample {
        users.iter().collect()
    } else {
        (0..sample)
            .map(|_| &users[rng.below(users.len() as u64) as usize])
            .collect()
    };
    for u in chosen {
        let name = u.username.as_str();
        queries.push(name.to_string());
        queries.push(name.chars().take(2).collect());
        if name.len() >= 5 {
            // One typo: the fuzzy tier.
            let mut t: Vec<char> = name.chars().collect();
            let last = t.len() - 1;
            t[last] = if t[last] == 'q' { 'x' } else { 'q' };
            queries.push(t.into_iter().collect());
        }
        let folded = kinfolk::text::fold(u.name.as_str());
        if let Some(w) = kinfolk::text::words(&folded).next() {
            queries.push(w.to_string());
            queries.push(w.chars().take(3).collect());
        }
        queries.push(u.name.as_str().to_string());
    }
    for _ in 0..4 {
        if !extra_names.is_empty() {
            queries.push(rng.pick(extra_names).clone());
        }
    }
    let mut compared = 0;
    for q in &queries {
        let Ok(sq) = SearchQuery::parse(q) else {
            continue;
        };
        let mut expected: Vec<(RankKey, u64)> = active
            .iter()
            .filter_map(|u| {
                match_tier(&sq, u.username.as_str(), u.name.as_str()).map(|t| {
                    (
                        RankKey::new(t, 0, u.counts.followers, u.id),
                        u.counts.followers,
                    )
                })
            })
            .collect();
        expected.sort();
        let hits = index
            .top(&sq, &Boosts::new(), 100_000)
            .await
            .map_err(|e| format!("index.top({q:?}): {e}"))?;
        let got: Vec<(RankKey, u64)> = hits
            .iter()
            .map(|h| {
                (
                    RankKey::new(h.tier, 0, h.followers_count, h.id),
                    h.followers_count,
                )
            })
            .collect();
        if got != expected {
            let name_of = |id: UserId| {
                users
                    .iter()
                    .find(|u| u.id == id)
                    .map_or(format!("{id} <not in store>"), |u| {
                        format!(
                            "{}/{:?}/{} {:?} {id}",
                            u.username, u.status, u.counts.followers, u.name
                        )
                    })
            };
            let show = |v: &[(RankKey, u64)]| {
                v.iter()
                    .map(|(k, f)| format!("{}({:?},{f})", name_of(k.id), k.tier))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(format!(
                "index disagrees with the store for query {q:?}:\n  index: [{}]\n  store: [{}]",
                show(&got),
                show(&expected)
            ));
        }
        compared += 1;
    }
    // And once through the service: an active, discoverable user is found
    // first by their exact username.
    if let Some(u) = active.iter().find(|u| u.settings.privacy.discoverable) {
        let page = svc
            .search_users(
                None,
                u.username.as_str(),
                SearchScope::Discovery,
                PageRequest::with_limit(5),
            )
            .await
            .map_err(|e| format!("search_users: {e}"))?;
        if page.items.first().map(|r| r.user.id) != Some(u.id) {
            return Err(format!(
                "search_users({}) did not find them first: {:?}",
                u.username,
                page.items
                    .iter()
                    .map(|r| r.user.username.as_str())
                    .collect::<Vec<_>>()
            ));
        }
        compared += 1;
    }
    Ok(compared)
}

// ------------------------------------------------------------------ child

/// How many kills this run does: `KINFOLK_KILLS`, or [`DEFAULT_KILLS`].
pub fn kills_wanted() -> usize {
    std::env::var(KILLS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_KILLS)
}

/// The index commit interval a run asks for: `KINFOLK_KILL_INDEX_COMMIT_MS`
/// (10 makes kills land inside index commits far more often; RELIABILITY.md
/// §2 reports one open failure seen that way), or `None` for the index's
/// own default (250 ms, as in production). Targets pass it to their index.
pub fn index_commit_interval() -> Option<Duration> {
    std::env::var("KINFOLK_KILL_INDEX_COMMIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// The child's side: when [`CHILD_ENV`] is set, opens the store and index in
/// that directory and applies the stream from `KINFOLK_KILL_START` on,
/// printing `ACK <i> <outcome>` after each command, until killed. Returns at
/// once when the variable is absent (the normal test run).
pub fn child(target: &dyn KillTarget) {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let var = |k: &str| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| child_fail(&format!("{k} missing")))
    };
    let seed = var(SEED_ENV);
    let start = var(START_ENV);
    let _ = tracing::subscriber::set_global_default(StderrWarnings);
    eprintln!("child from command {start}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| child_fail(&format!("runtime: {e}")));
    rt.block_on(async move {
        let store = target
            .open_store(&dir)
            .unwrap_or_else(|e| child_fail(&format!("open store: {e}")));
        let index = target
            .open_search(&dir)
            .unwrap_or_else(|e| child_fail(&format!("open search: {e}")));
        let clock = ManualClock::new(time_of(start));
        let svc = Kinfolk::builder(store)
            .clock(Arc::new(clock.clone()))
            .search(index)
            .build()
            .await
            .unwrap_or_else(|e| child_fail(&format!("build service: {e}")));
        let mut runner = Runner::new(svc, clock)
            .await
            .unwrap_or_else(|e| child_fail(&format!("read feed: {e}")));
        let mut out = std::io::stdout().lock();
        if writeln!(out, "READY {start}")
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(0);
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        for (i, cmd) in Generator::new(seed) {
            if i < start {
                continue;
            }
            let outcome = runner.apply(i, &cmd).await;
            let line = format!("ACK {i} {outcome}\n");
            // One write per line: a pipe write this small is atomic.
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
                || Instant::now() > deadline
            {
                // The parent is gone (or forgot us): stop.
                std::process::exit(0);
            }
        }
    });
}

/// Prints `WARN` and `ERROR` events (the stores' and the index's own
/// reports, such as a failed background commit) to stderr, which the parent
/// keeps in `child.stderr` and shows when a check fails.
struct StderrWarnings;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for StderrWarnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let m = event.metadata();
        eprintln!("{} {}:{}", m.level(), m.target(), fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn child_fail(msg: &str) -> ! {
    eprintln!("KILL-CHILD-ERROR {msg}");
    std::process::exit(3)
}

// ------------------------------------------------------------------ parent

/// What one run measured.
#[derive(Debug, Default, Clone)]
pub struct KillStats {
    /// Kills done.
    pub kills: usize,
    /// Kills before the child acknowledged anything (during open/recovery).
    pub kills_at_startup: usize,
    /// Commands acknowledged in total.
    pub acked: u64,
    /// Kills where the command in flight had committed without an ack.
    pub inflight_committed: usize,
    /// Reopens where the index had to catch up (was behind the store).
    pub index_behind: usize,
    /// Sum of how far behind it was, in feed events.
    pub index_lag_events: u64,
    /// Reopens that found the index empty or rebuilt it (applied_seq 0 on a non-empty store).
    pub index_rebuilt: usize,
    /// Search queries compared with the store.
    pub search_queries: usize,
    /// Integrity checks run before the adapter reopened the files.
    pub integrity_first: usize,
    /// Time spent with a child running (start-up included).
    pub child_time: Duration,
    /// Time from spawning a child to its `READY` (summed over the children
    /// that got there before their kill).
    pub startup_time: Duration,
    /// Time spent checking after the kills.
    pub check_time: Duration,
    /// `WARN`/`ERROR` lines the children logged (a failed background
    /// index commit, say), with up to 5 distinct examples.
    pub child_warnings: usize,
    /// Examples of them.
    pub child_warning_examples: Vec<String>,
    /// Checking time by phase.
    pub phases: BTreeMap<&'static str, Duration>,
    /// Final number of users.
    pub final_users: usize,
    /// Final feed length.
    pub final_seq: u64,
}

impl KillStats {
    fn lap(&mut self, phase: &'static str, t: &mut Instant) {
        *self.phases.entry(phase).or_default() += t.elapsed();
        *t = Instant::now();
    }
}

struct Acks {
    lines: Receiver<String>,
}

fn spawn_child(
    dir: &Path,
    child_test: &str,
    seed: u64,
    start: u64,
) -> Result<(Child, Acks), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("child.stderr"))
        .map_err(|e| format!("stderr file: {e}"))?;
    let mut child = Command::new(exe)
        .args([
            child_test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_ENV, dir)
        .env(SEED_ENV, seed.to_string())
        .env(START_ENV, start.to_string())
        .env_remove(KILLS_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let stdout = child.stdout.take().ok_or("no child stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    // Only whole lines count.
                    if buf.last() == Some(&b'\n') {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    Ok((child, Acks { lines: rx }))
}

fn parse_ack(line: &str) -> Option<(u64, String)> {
    let rest = line.strip_prefix("ACK ")?;
    let (i, outcome) = rest.split_once(' ')?;
    Some((i.parse().ok()?, outcome.to_string()))
}

fn child_stderr_tail(dir: &Path) -> String {
    let s = std::fs::read_to_string(dir.join("child.stderr")).unwrap_or_default();
    let start = s.len().saturating_sub(3000);
    s.get(start..).unwrap_or_default().to_string()
}

/// The parent's side: runs the kill loop and panics with a full description
/// on the first failure. Returns what it measured.
///
/// # Panics
/// When any check fails.
pub fn parent(target: &dyn KillTarget, child_test: &str) -> KillStats {
    let kills = kills_wanted();
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("kill test: {kills} kills, {SEED_ENV}={seed}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let started = Instant::now();
    let result = rt.block_on(run_parent(target, child_test, dir.path(), seed, kills));
    let (warnings, examples) = child_warnings(dir.path());
    match result {
        Ok(mut stats) => {
            stats.child_warnings = warnings;
            stats.child_warning_examples = examples;
            eprintln!("kill test passed in {:.1?}: {stats:?}", started.elapsed());
            stats
        }
        Err(e) => {
            let tail = child_stderr_tail(dir.path());
            // KINFOLK_KILL_KEEP=1 keeps the files for a post-mortem.
            let kept = if std::env::var_os(KEEP_ENV).is_some() {
                format!("files kept in {}", dir.keep().display())
            } else {
                format!("set {KEEP_ENV}=1 to keep the files")
            };
            panic!(
                "kill test failed ({SEED_ENV}={seed}): {e}\n--- {warnings} WARN/ERROR lines from \
                 the children, e.g. {examples:#?}\n--- child stderr (tail) ---\n{tail}\n({kept})"
            )
        }
    }
}

/// `WARN`/`ERROR` lines in all the children's stderr, and up to 5 distinct
/// examples.
fn child_warnings(dir: &Path) -> (usize, Vec<String>) {
    let log = std::fs::read_to_string(dir.join("child.stderr")).unwrap_or_default();
    let mut n = 0;
    let mut examples: Vec<String> = Vec::new();
    for line in log.lines() {
        if line.starts_with("WARN ") || line.starts_with("ERROR ") {
            n += 1;
            let line: String = line.chars().take(300).collect();
            if examples.len() < 5 && !examples.contains(&line) {
                examples.push(line);
            }
        }
    }
    (n, examples)
}

async fn run_parent(
    target: &dyn KillTarget,
    child_test: &str,
    dir: &Path,
    seed: u64,
    kills: usize,
) -> Result<KillStats, String> {
    let mut rng = Rng::new(seed.rotate_left(17) ^ 0xa5a5);
    let mut stats = KillStats::default();
    // The model and the commands it has applied.
    let model_clock = ManualClock::new(time_of(0));
    let model_svc = Kinfolk::builder(target.open_model())
        .clock(Arc::new(model_clock.clone()))
        .build()
        .await
        .map_err(|e| format!("model: {e}"))?;
    let mut model = Runner::new(model_svc, model_clock)
        .await
        .map_err(|e| format!("model: {e}"))?;
    let mut stream = Generator::new(seed);
    let mut cmds: Vec<Cmd> = Vec::new();
    let mut committed: u64 = 0;
    let mut verified_seq: u64 = 0;

    for cycle in 0..kills {
        let from = committed;
        let ctx = |m: String| format!("cycle {cycle} (from command {from}): {m}");
        let spawned = Instant::now();
        let (mut child, acks) = spawn_child(dir, child_test, seed, committed).map_err(ctx)?;
        // When to kill: during start-up (open, recovery, index catch-up),
        // or after some acknowledged commands plus a random delay that lands
        // anywhere in the next command (its commit, fsync or index update).
        let at_startup = rng.chance(15);
        let want = if at_startup { 0 } else { 1 + rng.below(24) };
        let mut lines = Vec::new();
        let mut got = 0u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        if at_startup {
            std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        } else {
            while got < want {
                let left = deadline.saturating_duration_since(Instant::now());
                match acks.lines.recv_timeout(left) {
                    Ok(l) => {
                        if l.starts_with("ACK ") {
                            got += 1;
                        } else if l.starts_with("READY ") {
                            stats.startup_time += spawned.elapsed();
                        }
                        lines.push(l);
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        return Err(ctx(format!(
                            "child made no progress in 60 s; lines {lines:?}"
                        )));
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let status = child.wait().map_err(|e| e.to_string())?;
                        return Err(ctx(format!(
                            "child exited on its own ({status}); lines {lines:?}"
                        )));
                    }
                }
            }
            let delay = rng.below(4_000);
            if delay > 0 {
                std::thread::sleep(Duration::from_micros(delay));
            }
        }
        child.kill().map_err(|e| ctx(format!("kill: {e}")))?;
        let status = child.wait().map_err(|e| ctx(format!("wait: {e}")))?;
        // A child that died of anything but our SIGKILL (it failed to open
        // the store, say) is a failure, not a kill.
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() != Some(9) {
                return Err(ctx(format!("the child ended by itself: {status}")));
            }
        }
        #[cfg(not(unix))]
        let _ = status;
        stats.kills += 1;
        stats.child_time += spawned.elapsed();
        let checking = Instant::now();
        // Everything the child wrote before it died is in the pipe.
        while let Ok(l) = acks.lines.recv_timeout(Duration::from_secs(10)) {
            lines.push(l);
        }
        let acked: Vec<(u64, String)> = lines.iter().filter_map(|l| parse_ack(l)).collect();
        if acked.is_empty() {
            stats.kills_at_startup += 1;
        }
        for (n, (i, outcome)) in acked.iter().enumerate() {
            let expect = committed + n as u64;
            if *i != expect {
                return Err(ctx(format!("ack for command {i}, expected {expect}")));
            }
            while cmds.len() as u64 <= *i {
                cmds.push(stream.next().map(|(_, c)| c).ok_or("stream ended")?);
            }
            let m = model.apply(*i, &cmds[*i as usize]).await;
            if &m != outcome {
                return Err(ctx(format!(
                    "command {i} {:?}: store said {outcome}, model says {m}",
                    cmds[*i as usize]
                )));
            }
        }
        committed += acked.len() as u64;
        stats.acked += acked.len() as u64;
        while cmds.len() as u64 <= committed {
            cmds.push(stream.next().map(|(_, c)| c).ok_or("stream ended")?);
        }

        // Integrity first on some cycles: the files as the kill left them.
        let integrity_first = rng.chance(50);
        let mut t = Instant::now();
        stats.lap("model", &mut t);
        if integrity_first {
            stats.integrity_first += 1;
            target
                .check_integrity(dir)
                .map_err(|e| ctx(format!("integrity check (before reopen): {e}")))?;
            stats.lap("integrity", &mut t);
        }

        let store = target
            .open_store(dir)
            .map_err(|e| ctx(format!("reopen store: {e}")))?;
        let index = target
            .open_search(dir)
            .map_err(|e| ctx(format!("reopen search index: {e}")))?;
        stats.lap("open", &mut t);
        let applied = index.applied_seq().await.map_err(|e| ctx(e.to_string()))?;
        let store_seq = kinfolk::store::read(store.as_ref(), |tx| tx.last_seq())
            .await
            .map_err(|e| ctx(e.to_string()))?;
        if applied > store_seq {
            return Err(ctx(format!(
                "the index claims feed sequence {applied}, the store is at {store_seq}"
            )));
        }
        if applied < store_seq {
            stats.index_behind += 1;
            stats.index_lag_events += store_seq - applied;
        }
        if applied == 0 && store_seq > 0 {
            stats.index_rebuilt += 1;
        }
        let svc = Kinfolk::builder(store)
            .search(index.clone())
            .build()
            .await
            .map_err(|e| ctx(format!("build service after reopen: {e}")))?;
        stats.lap("index catch-up", &mut t);

        // Exactly the acknowledged commands, or one more (the one in flight).
        // The feed up to the last cycle's position was compared then (the
        // last cycle compares all of it).
        let last = cycle + 1 == kills;
        let feed_from = if last { 0 } else { verified_seq };
        let names = stream.names();
        let got_state = snapshot(svc.store().as_ref(), names.clone(), feed_from)
            .await
            .map_err(|e| ctx(format!("snapshot: {e}")))?;
        let model_state = snapshot(model.svc.store().as_ref(), names.clone(), feed_from)
            .await
            .map_err(|e| ctx(format!("model snapshot: {e}")))?;
        if let Some(diff) = first_diff(&got_state, &model_state) {
            let i = committed;
            let m = model.apply(i, &cmds[i as usize]).await;
            let model_state = snapshot(model.svc.store().as_ref(), names.clone(), feed_from)
                .await
                .map_err(|e| ctx(format!("model snapshot: {e}")))?;
            if let Some(diff2) = first_diff(&got_state, &model_state) {
                return Err(ctx(format!(
                    "store state is neither the model after the {} acknowledged commands \
                     ({diff}) nor after the one in flight, {i} {:?} -> {m} ({diff2})",
                    committed, cmds[i as usize]
                )));
            }
            committed += 1;
            stats.inflight_committed += 1;
            while cmds.len() as u64 <= committed {
                cmds.push(stream.next().map(|(_, c)| c).ok_or("stream ended")?);
            }
        }
        verified_seq = got_state["last_seq"].as_u64().unwrap_or(0);
        stats.lap("snapshots", &mut t);
        check_invariants(&svc)
            .await
            .map_err(|e| ctx(format!("invariant: {e}")))?;
        stats.lap("invariants", &mut t);
        let lag = format!(
            "index at seq {applied} on reopen, store at {store_seq}; this cycle's commands: {}",
            (from..committed)
                .map(|i| format!("\n    {i}: {:?}", cmds[i as usize]))
                .collect::<String>()
        );
        stats.search_queries += check_search(
            &svc,
            index.as_ref(),
            &mut rng,
            &names,
            if last { 10_000 } else { 6 },
        )
        .await
        .map_err(|e| ctx(format!("{e}\n  ({lag})")))?;
        stats.lap("search", &mut t);
        if last {
            stats.final_users = got_state["users"].as_object().map_or(0, |o| o.len());
            stats.final_seq = got_state["last_seq"].as_u64().unwrap_or(0);
        }
        // Close everything before the next child opens the files.
        drop(svc);
        drop(index);
        stats.lap("close", &mut t);
        if !integrity_first {
            target
                .check_integrity(dir)
                .map_err(|e| ctx(format!("integrity check (after reopen): {e}")))?;
            stats.lap("integrity", &mut t);
        }
        stats.check_time += checking.elapsed();
    }
    Ok(stats)
}
