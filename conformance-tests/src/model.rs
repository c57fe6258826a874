//! Model-based property test (RELIABILITY.md §1).
//!
//! proptest generates sequences of 20–200 commands (register, profile updates
//! with username swaps inside the hold — the name pool has skeleton
//! collisions, `bob`/`b0b`, `ada`/`4da`/`a_d_a` —, settings with private ↔
//! public flips, follows, requests, bulk imports of follows (also over
//! pending requests), blocks, timed mutes (also until the end of the
//! supported time range and past it), deactivation, deletion, rooms, clock
//! moves (also to the last days of the range), close-and-reopen, and reads)
//! and runs each sequence against
//! two services: the store under test and the reference model (the memory
//! store). Each service has its own [`ManualClock`](kinfolk::ManualClock),
//! moved identically.
//!
//! About a third of the generated commands are reads (profiles by id and by
//! `@NAME`, whole list walks with limits 1–4, follow requests, rooms,
//! relationships, search in every scope, export), so what callers see is
//! compared all along the sequence. In addition, after every step:
//! - the two return values are equal (values, or error code *and* message);
//! - the two stores hold the same records, read through the store port in
//!   one snapshot: the change-feed events of the step, and every user those
//!   events name (settings, counters, username claims, connected accounts,
//!   edges both ways, memberships), with every room and its members; all
//!   users after a reopen, an account deletion and the last step;
//! - those records satisfy the store invariants (counters = edges, no self
//!   edge, no duplicate edge, no follow or request beside a block, the
//!   current name claimed by its user alone, member counts, an owner per
//!   room) — see `local_invariants`;
//! - after the last step (and every `KINFOLK_MODEL_SWEEP_EVERY` steps when
//!   set; 1 = after every step), both stores pass the whole-store
//!   [`check_invariants`], and a full sweep through the service compares
//!   what every caller sees: every user's own profile and counters, every
//!   viewer's (anonymous included) view of every profile, relationships,
//!   whole followers / following / known-followers walks, follow requests,
//!   rooms, and discovery and mention search.
//!
//! Ids differ between the two stores (UUID v7 made per run), so every output
//! is made comparable by replacing each id with the index of the user (`u3`)
//! or room (`r1`) in the order the sequence created them; cursors, which are
//! opaque and embed ids, become `"<cursor>"` (each side pages with its own).
//! Everything else — timestamps, feed sequence numbers, counters, versions —
//! is compared as is.
//!
//! Failures shrink to a minimal sequence, which proptest writes into
//! `<test file>.proptest-regressions` next to the test that found it; commit
//! that file, and every later run replays the case first.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use chrono::Duration;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{
    Config as PtConfig, FileFailurePersistence, TestCaseError, TestError, TestRunner,
};
use serde::Serialize;
use serde_json::{Value, json};

use kinfolk::{
    Audience, Bio, Clock, Config, DisplayName, DisplayPatch, EdgeKind, Error, FollowAction,
    ListVisibility, Location, NewRoom, NewUser, Page, PageRequest, PrivacyPatch, ProfileUpdate,
    RoomFilter, RoomId, RoomKind, RoomName, RoomRole, RoomVisibility, SafeUrl, SearchScope,
    SettingsPatch, UserId, Username,
};

use crate::fixtures::check_invariants;
use crate::harness::{Ctx, StoreFactory};

// ---------------------------------------------------------------- pools

/// Usernames: few, so that names collide (case-insensitively too), renames
/// swap names between users and holds matter. `adm1n` is reserved.
/// Skeleton collisions too (issue 14): `b0b` and `bob`, `4da`/`a_d_a` and
/// `ada`, `Z0E` and `zoe`, `ADA_L` and `ada_l`'s skeleton `adal`.
const USERNAMES: &[&str] = &[
    "ada", "Ada", "bob", "jose_a", "zoe", "ADA_L", "emile", "bob_b", "cy1", "adm1n", "b0b", "4da",
    "a_d_a", "Z0E",
];
/// Display names, with accents for search.
const NAMES: &[&str] = &[
    "Ada Lovelace",
    "José Álvarez",
    "Bob",
    "Zoë Zhang",
    "Ada Álvarez",
    "Émile Zola",
];
const BIOS: &[&str] = &["", "hello", "two\nlines"];
const LOCATIONS: &[&str] = &["Paris", "São Paulo", ""];
/// The `http` one is refused (config default).
const AVATARS: &[&str] = &["https://cdn.example.com/a.png", "http://example.com/a.png"];
const ROOM_NAMES: &[&str] = &["Rust Club", "Café Society", "rust", "Book Room"];
const ROOM_FILTERS: &[Option<&str>] = &[None, Some("rust"), Some("CAFE"), Some("xyz")];
const QUERIES: &[&str] = &[
    "a",
    "ad",
    "ada",
    "@Ada",
    "jose",
    "alv",
    "alvarex",
    "zoe",
    "bob_b",
    "lovelace",
    "e",
    "zz",
    "emile zola",
];
const EXTERNAL_IDS: &[&str] = &["gh1", "gh2", "gh3"];

fn pick<T: Copy>(pool: &[T], i: u8) -> T {
    pool[i as usize % pool.len()]
}

// ---------------------------------------------------------------- commands

/// A user as generated: slot `0..31` is the `n mod count`-th user registered
/// so far (deleted ones included); slot 31 (or any slot before the first
/// registration) is an id that never existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U(pub u8);

/// A room as generated: slot `0..7` is the `n mod count`-th room created;
/// slot 7 (or any slot before the first room) never existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct R(pub u8);

/// Which list a walk reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListWhich {
    Followers,
    Following,
    Known,
}

/// Which search scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopePick {
    Discovery,
    Mention,
    RoomInvite(R),
    Following(U),
    Followers(U),
}

/// Which `expected_version` a settings patch names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionPick {
    None,
    Current,
    Stale,
}

/// The privacy part of a settings patch (`None` = absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PrivacyPick {
    pub private_account: Option<bool>,
    pub discoverable: Option<bool>,
    pub followers_visibility: Option<ListVisibility>,
    pub following_visibility: Option<ListVisibility>,
    pub show_counts: Option<bool>,
    pub allow_mentions: Option<Audience>,
    pub allow_room_invites: Option<Audience>,
    pub compact: Option<bool>,
}

/// One generated command. Pools are indexed modulo their length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Register {
        name: u8,
        display: u8,
        email: bool,
    },
    UpdateProfile {
        actor: U,
        username: Option<u8>,
        name: Option<u8>,
        bio: Option<u8>,
        location: Option<Option<u8>>,
        avatar: Option<Option<u8>>,
    },
    EditSettings {
        actor: U,
        privacy: PrivacyPick,
        version: VersionPick,
    },
    ToggleFollow {
        actor: U,
        target: U,
        action: Option<FollowAction>,
    },
    /// The actor follows every user, in slot order (forced follows): dense
    /// lists, and the following cap reached.
    FollowAll {
        actor: U,
    },
    RemoveFollower {
        actor: U,
        follower: U,
    },
    /// `requester: None` = the actor's newest pending requester (if any).
    Approve {
        actor: U,
        requester: Option<U>,
    },
    Reject {
        actor: U,
        requester: Option<U>,
    },
    Block {
        actor: U,
        target: U,
    },
    Unblock {
        actor: U,
        target: U,
    },
    /// `hours: Some(0)` is a mute "until now", refused.
    Mute {
        actor: U,
        target: U,
        hours: Option<u16>,
    },
    /// A mute until a far-future time near or past the end of the supported
    /// range (issue 14 item 1); pick 0–1 are in range, 2–3 past it.
    MuteFar {
        actor: U,
        target: U,
        pick: u8,
    },
    Unmute {
        actor: U,
        target: U,
    },
    /// `import_follows` of up to 3 pairs.
    ImportFollows {
        rows: Vec<(U, U)>,
    },
    /// `import_follows` of every pending request to the actor (as this side
    /// lists them): imports over requests (issue 14 item 3).
    ImportPending {
        actor: U,
    },
    /// When `days < 30` (a quarter of the time, so most sequences keep
    /// ordinary times), sets both clocks `days` days before the end of the
    /// supported range (never back): holds and timed mutes reach past it.
    ClockNearEnd {
        days: u8,
    },
    Deactivate {
        actor: U,
    },
    Reactivate {
        actor: U,
    },
    DeleteAccount {
        actor: U,
    },
    LinkAccount {
        actor: U,
        ext: u8,
    },
    UnlinkAccount {
        actor: U,
        ext: u8,
    },
    CreateRoom {
        actor: U,
        name: u8,
        kind: RoomKind,
        visibility: RoomVisibility,
    },
    /// `room: None` = the room the actor joined last (if any).
    AddMember {
        actor: U,
        room: Option<R>,
        user: U,
    },
    RemoveMember {
        actor: U,
        room: Option<R>,
        user: U,
    },
    SetRole {
        actor: U,
        room: Option<R>,
        user: U,
        role: RoomRole,
    },
    LeaveRoom {
        actor: U,
        room: R,
    },
    /// Moves both clocks forward.
    Advance {
        minutes: u32,
    },
    /// Closes both stores and opens them again (persistent ones from disk).
    Reopen,
    Me {
        actor: U,
    },
    Export {
        actor: U,
    },
    ProfileById {
        viewer: Option<U>,
        target: U,
    },
    ProfileByName {
        viewer: Option<U>,
        name: u8,
        at: bool,
        upper: bool,
    },
    List {
        viewer: Option<U>,
        owner: U,
        which: ListWhich,
        limit: u8,
    },
    Requests {
        actor: U,
        limit: u8,
    },
    MyRooms {
        actor: U,
        limit: u8,
        filter: u8,
    },
    Relationships {
        viewer: U,
    },
    Search {
        viewer: Option<U>,
        query: u8,
        scope: ScopePick,
        limit: u8,
    },
    FindAccount {
        ext: u8,
    },
}

impl Cmd {
    fn kind(&self) -> &'static str {
        match self {
            Cmd::Register { .. } => "register",
            Cmd::UpdateProfile { .. } => "update_profile",
            Cmd::EditSettings { .. } => "edit_settings",
            Cmd::ToggleFollow { .. } => "toggle_follow",
            Cmd::FollowAll { .. } => "follow_all",
            Cmd::RemoveFollower { .. } => "remove_follower",
            Cmd::Approve { .. } => "approve",
            Cmd::Reject { .. } => "reject",
            Cmd::Block { .. } => "block",
            Cmd::Unblock { .. } => "unblock",
            Cmd::Mute { .. } => "mute",
            Cmd::Unmute { .. } => "unmute",
            Cmd::MuteFar { .. } => "mute_far",
            Cmd::ImportFollows { .. } => "import_follows",
            Cmd::ImportPending { .. } => "import_pending",
            Cmd::ClockNearEnd { .. } => "clock_near_end",
            Cmd::Deactivate { .. } => "deactivate",
            Cmd::Reactivate { .. } => "reactivate",
            Cmd::DeleteAccount { .. } => "delete_account",
            Cmd::LinkAccount { .. } => "link_account",
            Cmd::UnlinkAccount { .. } => "unlink_account",
            Cmd::CreateRoom { .. } => "create_room",
            Cmd::AddMember { .. } => "add_member",
            Cmd::RemoveMember { .. } => "remove_member",
            Cmd::SetRole { .. } => "set_role",
            Cmd::LeaveRoom { .. } => "leave_room",
            Cmd::Advance { .. } => "advance",
            Cmd::Reopen => "reopen",
            Cmd::Me { .. } => "me",
            Cmd::Export { .. } => "export",
            Cmd::ProfileById { .. } => "profile_by_id",
            Cmd::ProfileByName { .. } => "profile_by_name",
            Cmd::List { .. } => "list",
            Cmd::Requests { .. } => "follow_requests",
            Cmd::MyRooms { .. } => "my_rooms",
            Cmd::Relationships { .. } => "relationships",
            Cmd::Search { .. } => "search",
            Cmd::FindAccount { .. } => "find_account",
        }
    }
}

// ---------------------------------------------------------------- strategies

fn u() -> impl Strategy<Value = U> + Clone {
    (0u8..32).prop_map(U)
}
fn viewer() -> impl Strategy<Value = Option<U>> + Clone {
    prop_oneof![1 => Just(None), 6 => u().prop_map(Some)]
}
fn r() -> impl Strategy<Value = R> + Clone {
    (0u8..8).prop_map(R)
}
fn limit() -> impl Strategy<Value = u8> + Clone {
    1u8..=4
}
fn opt<S: Strategy + Clone>(s: S) -> impl Strategy<Value = Option<S::Value>> + Clone
where
    S::Value: Clone,
{
    prop_oneof![2 => Just(None), 1 => s.prop_map(Some)]
}
/// `None` (resolved at run time to something that exists) half the time.
fn either<S: Strategy + Clone>(s: S) -> impl Strategy<Value = Option<S::Value>> + Clone
where
    S::Value: Clone,
{
    prop_oneof![1 => Just(None), 1 => s.prop_map(Some)]
}
fn list_vis() -> impl Strategy<Value = ListVisibility> + Clone {
    prop_oneof![
        Just(ListVisibility::Public),
        Just(ListVisibility::Followers),
        Just(ListVisibility::Owner)
    ]
}
fn audience() -> impl Strategy<Value = Audience> + Clone {
    prop_oneof![
        Just(Audience::Everyone),
        Just(Audience::Following),
        Just(Audience::Nobody)
    ]
}
fn role() -> impl Strategy<Value = RoomRole> + Clone {
    prop_oneof![
        Just(RoomRole::Member),
        Just(RoomRole::Moderator),
        Just(RoomRole::Admin),
        Just(RoomRole::Owner)
    ]
}

fn register() -> impl Strategy<Value = Cmd> + Clone {
    (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(name, display, email)| Cmd::Register {
        name,
        display,
        email,
    })
}

fn privacy() -> impl Strategy<Value = PrivacyPick> + Clone {
    (
        // private ↔ public flips are the point: present 3 times in 5, and
        // more often to private, so that requests pile up before a flip back.
        prop_oneof![2 => Just(None), 2 => Just(Some(true)), 1 => Just(Some(false))],
        opt(any::<bool>()),
        opt(list_vis()),
        opt(list_vis()),
        opt(any::<bool>()),
        opt(audience()),
        opt(audience()),
        opt(any::<bool>()),
    )
        .prop_map(|(pa, d, fv, gv, sc, am, ari, c)| PrivacyPick {
            private_account: pa,
            discoverable: d,
            followers_visibility: fv,
            following_visibility: gv,
            show_counts: sc,
            allow_mentions: am,
            allow_room_invites: ari,
            compact: c,
        })
}

fn scope() -> impl Strategy<Value = ScopePick> + Clone {
    prop_oneof![
        3 => Just(ScopePick::Discovery),
        2 => Just(ScopePick::Mention),
        1 => r().prop_map(ScopePick::RoomInvite),
        1 => u().prop_map(ScopePick::Following),
        1 => u().prop_map(ScopePick::Followers),
    ]
}

/// One command of the body of a sequence, weighted towards follows, settings
/// and renames, where the rules interact most.
pub fn command() -> impl Strategy<Value = Cmd> {
    let follow_action = prop_oneof![
        2 => Just(None),
        1 => Just(Some(FollowAction::Follow)),
        1 => Just(Some(FollowAction::Unfollow)),
    ];
    prop_oneof![
        // Reads first: when shrinking, proptest prefers earlier options.
        2 => u().prop_map(|actor| Cmd::Me { actor }),
        1 => u().prop_map(|actor| Cmd::Export { actor }),
        4 => (viewer(), u()).prop_map(|(viewer, target)| Cmd::ProfileById { viewer, target }),
        3 => (viewer(), any::<u8>(), any::<bool>(), any::<bool>())
            .prop_map(|(viewer, name, at, upper)| Cmd::ProfileByName { viewer, name, at, upper }),
        5 => (
            viewer(),
            u(),
            prop_oneof![
                Just(ListWhich::Followers),
                Just(ListWhich::Following),
                Just(ListWhich::Known)
            ],
            limit()
        )
            .prop_map(|(viewer, owner, which, limit)| Cmd::List { viewer, owner, which, limit }),
        2 => (u(), limit()).prop_map(|(actor, limit)| Cmd::Requests { actor, limit }),
        2 => (u(), limit(), any::<u8>())
            .prop_map(|(actor, limit, filter)| Cmd::MyRooms { actor, limit, filter }),
        2 => u().prop_map(|viewer| Cmd::Relationships { viewer }),
        5 => (viewer(), any::<u8>(), scope(), limit())
            .prop_map(|(viewer, query, scope, limit)| Cmd::Search { viewer, query, scope, limit }),
        1 => any::<u8>().prop_map(|ext| Cmd::FindAccount { ext }),
        5 => register(),
        10 => (
            u(),
            prop_oneof![1 => Just(None), 1 => any::<u8>().prop_map(Some)],
            opt(any::<u8>()),
            opt(any::<u8>()),
            opt(opt(any::<u8>())),
            opt(opt(any::<u8>())),
        )
            .prop_map(|(actor, username, name, bio, location, avatar)| Cmd::UpdateProfile {
                actor,
                username,
                name,
                bio,
                location,
                avatar,
            }),
        8 => (
            u(),
            privacy(),
            prop_oneof![
                2 => Just(VersionPick::None),
                2 => Just(VersionPick::Current),
                1 => Just(VersionPick::Stale)
            ]
        )
            .prop_map(|(actor, privacy, version)| Cmd::EditSettings { actor, privacy, version }),
        18 => (u(), u(), follow_action)
            .prop_map(|(actor, target, action)| Cmd::ToggleFollow { actor, target, action }),
        2 => u().prop_map(|actor| Cmd::FollowAll { actor }),
        3 => (u(), u()).prop_map(|(actor, follower)| Cmd::RemoveFollower { actor, follower }),
        8 => (u(), either(u())).prop_map(|(actor, requester)| Cmd::Approve { actor, requester }),
        4 => (u(), either(u())).prop_map(|(actor, requester)| Cmd::Reject { actor, requester }),
        4 => (u(), u()).prop_map(|(actor, target)| Cmd::Block { actor, target }),
        3 => (u(), u()).prop_map(|(actor, target)| Cmd::Unblock { actor, target }),
        3 => (u(), u(), opt(0u16..72))
            .prop_map(|(actor, target, hours)| Cmd::Mute { actor, target, hours }),
        2 => (u(), u()).prop_map(|(actor, target)| Cmd::Unmute { actor, target }),
        1 => (u(), u(), 0u8..4).prop_map(|(actor, target, pick)| Cmd::MuteFar { actor, target, pick }),
        2 => vec((u(), u()), 1..=3).prop_map(|rows| Cmd::ImportFollows { rows }),
        2 => u().prop_map(|actor| Cmd::ImportPending { actor }),
        1 => u().prop_map(|actor| Cmd::Deactivate { actor }),
        3 => u().prop_map(|actor| Cmd::Reactivate { actor }),
        1 => u().prop_map(|actor| Cmd::DeleteAccount { actor }),
        2 => (u(), any::<u8>()).prop_map(|(actor, ext)| Cmd::LinkAccount { actor, ext }),
        1 => (u(), any::<u8>()).prop_map(|(actor, ext)| Cmd::UnlinkAccount { actor, ext }),
        4 => (
            u(),
            any::<u8>(),
            prop_oneof![Just(RoomKind::Group), Just(RoomKind::Page)],
            prop_oneof![Just(RoomVisibility::Public), Just(RoomVisibility::Private)]
        )
            .prop_map(|(actor, name, kind, visibility)| Cmd::CreateRoom {
                actor,
                name,
                kind,
                visibility
            }),
        5 => (u(), either(r()), u())
            .prop_map(|(actor, room, user)| Cmd::AddMember { actor, room, user }),
        2 => (u(), either(r()), u())
            .prop_map(|(actor, room, user)| Cmd::RemoveMember { actor, room, user }),
        2 => (u(), either(r()), u(), role())
            .prop_map(|(actor, room, user, role)| Cmd::SetRole { actor, room, user, role }),
        2 => (u(), r()).prop_map(|(actor, room)| Cmd::LeaveRoom { actor, room }),
        4 => prop_oneof![
            // minutes, hours, and days across the 14-day username hold
            1u32..120,
            60u32..(48 * 60),
            (1u32..16).prop_map(|d| d * 24 * 60),
        ]
        .prop_map(|minutes| Cmd::Advance { minutes }),
        // Rare: the rest of the sequence runs near the end of time.
        1 => (0u8..120).prop_map(|days| Cmd::ClockNearEnd { days }),
        2 => Just(Cmd::Reopen),
    ]
}

/// A whole sequence: 4–7 registrations, then a body of 16–`n` commands,
/// `n` being 60–120 or 121–193 (even odds): 20–200 commands in all, ~75 on
/// average. The body is one vector, so shrinking can remove any command,
/// down to 20 in all.
pub fn sequence() -> impl Strategy<Value = Vec<Cmd>> {
    let body = prop_oneof![60usize..=120, 121usize..=193].prop_flat_map(|n| vec(command(), 16..=n));
    (vec(register(), 4..=7), body).prop_map(|(mut head, body)| {
        head.extend(body);
        head
    })
}

// ---------------------------------------------------------------- one side

/// One service with everything needed to resolve generated slots to its own
/// ids and to make its outputs comparable.
struct Side {
    ctx: Ctx,
    users: Vec<UserId>,
    rooms: Vec<RoomId>,
    ghost_user: UserId,
    ghost_room: RoomId,
    /// id string → `u3` / `r1` / `u?` / `r?`.
    tokens: HashMap<String, String>,
    /// Feed events already compared.
    feed_seen: u64,
    /// Things that are wrong on this side alone (storage errors, broken
    /// paging), whatever the other side says.
    problems: Vec<String>,
}

const MAX_PAGES: usize = 60;

impl Side {
    fn new(ctx: Ctx) -> Self {
        let ghost_user = UserId::new();
        let ghost_room = RoomId::new();
        let mut tokens = HashMap::new();
        tokens.insert(ghost_user.to_string(), "u?".to_string());
        tokens.insert(ghost_room.to_string(), "r?".to_string());
        Self {
            ctx,
            users: Vec::new(),
            rooms: Vec::new(),
            ghost_user,
            ghost_room,
            tokens,
            feed_seen: 0,
            problems: Vec::new(),
        }
    }

    fn user(&self, u: U) -> UserId {
        if u.0 >= 31 || self.users.is_empty() {
            self.ghost_user
        } else {
            self.users[u.0 as usize % self.users.len()]
        }
    }

    fn viewer(&self, v: Option<U>) -> Option<UserId> {
        v.map(|u| self.user(u))
    }

    fn room(&self, r: R) -> RoomId {
        if r.0 >= 7 || self.rooms.is_empty() {
            self.ghost_room
        } else {
            self.rooms[r.0 as usize % self.rooms.len()]
        }
    }

    fn add_user(&mut self, id: UserId) {
        self.tokens
            .insert(id.to_string(), format!("u{}", self.users.len()));
        self.users.push(id);
    }

    fn add_room(&mut self, id: RoomId) {
        self.tokens
            .insert(id.to_string(), format!("r{}", self.rooms.len()));
        self.rooms.push(id);
    }

    fn norm(&self, v: Value) -> Value {
        match v {
            Value::String(s) => match self.tokens.get(&s) {
                Some(t) => Value::String(t.clone()),
                None => Value::String(s),
            },
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.norm(x)).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, x)| {
                        let k = self.tokens.get(&k).cloned().unwrap_or(k);
                        let x = if k == "next_cursor" && x.is_string() {
                            Value::String("<cursor>".into())
                        } else {
                            self.norm(x)
                        };
                        (k, x)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    fn val<T: Serialize>(&self, v: &T) -> Value {
        match serde_json::to_value(v) {
            Ok(v) => self.norm(v),
            Err(e) => json!({ "serialize_error": e.to_string() }),
        }
    }

    /// A result as a comparable value: `{"ok": …}` or `{"err": code, "msg": …}`.
    fn res<T: Serialize>(&mut self, r: kinfolk::Result<T>) -> Value {
        match r {
            Ok(v) => json!({ "ok": self.val(&v) }),
            Err(e) => {
                if matches!(e, Error::Storage(_)) {
                    self.problems.push(format!("storage error: {e}"));
                }
                json!({ "err": e.code(), "msg": e.to_string() })
            }
        }
    }

    /// Walks a whole paged list; every page but the last must be full.
    async fn walk<T, F, Fut>(&mut self, what: &str, limit: u8, mut fetch: F) -> Value
    where
        T: Serialize,
        F: FnMut(PageRequest) -> Fut,
        Fut: Future<Output = kinfolk::Result<Page<T>>>,
    {
        let limit = u32::from(limit);
        let mut pages = Vec::new();
        let mut req = PageRequest::with_limit(limit);
        for _ in 0..MAX_PAGES {
            match fetch(req.clone()).await {
                Err(e) => {
                    pages.push(self.res::<()>(Err(e)));
                    break;
                }
                Ok(page) => {
                    let next = page.next_cursor.clone();
                    if next.is_some() && page.items.len() != limit as usize {
                        self.problems.push(format!(
                            "{what}: a page with a next_cursor has {} rows, limit {limit}",
                            page.items.len()
                        ));
                    }
                    pages.push(self.val(&page.items));
                    match next {
                        Some(c) => req = PageRequest::after(c, Some(limit)),
                        None => break,
                    }
                }
            }
        }
        Value::Array(pages)
    }

    /// `Some(u)`: that user; `None`: the actor's newest pending requester,
    /// as this side lists them (a missing one when there is none).
    async fn requester(&self, actor: UserId, pick: Option<U>) -> UserId {
        if let Some(u) = pick {
            return self.user(u);
        }
        match self
            .ctx
            .svc
            .follow_requests(actor, PageRequest::with_limit(1))
            .await
        {
            Ok(p) => p.items.first().map_or(self.ghost_user, |r| r.user.id),
            Err(_) => self.ghost_user,
        }
    }

    /// `Some(r)`: that room; `None`: the room the actor joined last, as this
    /// side lists them (a missing one when there is none).
    async fn room_of(&self, actor: UserId, pick: Option<R>) -> RoomId {
        if let Some(r) = pick {
            return self.room(r);
        }
        match self
            .ctx
            .svc
            .my_rooms(actor, RoomFilter::default(), PageRequest::with_limit(1))
            .await
        {
            Ok(p) => p.items.first().map_or(self.ghost_room, |r| r.room.id),
            Err(_) => self.ghost_room,
        }
    }

    fn scope(&self, s: ScopePick) -> SearchScope {
        match s {
            ScopePick::Discovery => SearchScope::Discovery,
            ScopePick::Mention => SearchScope::Mention,
            ScopePick::RoomInvite(r) => SearchScope::RoomInvite { room: self.room(r) },
            ScopePick::Following(u) => SearchScope::Following { of: self.user(u) },
            ScopePick::Followers(u) => SearchScope::Followers { of: self.user(u) },
        }
    }

    async fn search(
        &mut self,
        viewer: Option<UserId>,
        query: &str,
        scope: SearchScope,
        limit: u8,
    ) -> Value {
        let svc = self.ctx.svc.clone();
        let refreshed = svc.refresh_search().await;
        if let Err(e) = refreshed {
            self.problems.push(format!("refresh_search: {e}"));
        }
        let query = query.to_string();
        self.walk("search", limit, |req| {
            let svc = svc.clone();
            let query = query.clone();
            async move { svc.search_users(viewer, &query, scope, req).await }
        })
        .await
    }

    async fn list(
        &mut self,
        viewer: Option<UserId>,
        owner: UserId,
        which: ListWhich,
        limit: u8,
    ) -> Value {
        let svc = self.ctx.svc.clone();
        self.walk("list", limit, |req| {
            let svc = svc.clone();
            async move {
                match which {
                    ListWhich::Followers => svc.followers(viewer, owner, req).await,
                    ListWhich::Following => svc.following(viewer, owner, req).await,
                    ListWhich::Known => svc.known_followers(viewer, owner, req).await,
                }
            }
        })
        .await
    }

    /// Runs one command; returns its comparable outcome.
    async fn exec(&mut self, cmd: &Cmd) -> Value {
        if *cmd == Cmd::Reopen {
            // No clone of the service may be alive here: a store that locks
            // its file (redb) opens again only after every handle is gone.
            if let Err(e) = self.ctx.reopen().await {
                self.problems.push(format!("reopen: {e}"));
            }
            return Value::Null;
        }
        let svc = self.ctx.svc.clone();
        match *cmd {
            Cmd::Register {
                name,
                display,
                email,
            } => {
                let username = pick(USERNAMES, name);
                let mut nu = match NewUser::new(username, pick(NAMES, display)) {
                    Ok(nu) => nu,
                    Err(e) => return self.res::<()>(Err(e)),
                };
                if email {
                    nu = match nu.with_email(&format!("{}@example.com", username.to_lowercase())) {
                        Ok(nu) => nu,
                        Err(e) => return self.res::<()>(Err(e)),
                    };
                }
                let r = svc.register(nu).await;
                if let Ok(p) = &r {
                    self.add_user(p.id);
                }
                self.res(r)
            }
            Cmd::UpdateProfile {
                actor,
                username,
                name,
                bio,
                location,
                avatar,
            } => {
                let update = (|| -> kinfolk::Result<ProfileUpdate> {
                    Ok(ProfileUpdate {
                        username: username
                            .map(|i| Username::parse(pick(USERNAMES, i)))
                            .transpose()?,
                        name: name
                            .map(|i| DisplayName::parse(pick(NAMES, i)))
                            .transpose()?,
                        bio: bio.map(|i| Bio::parse(pick(BIOS, i))).transpose()?,
                        location: location
                            .map(|o| o.map(|i| Location::parse(pick(LOCATIONS, i))).transpose())
                            .transpose()?,
                        avatar_url: avatar
                            .map(|o| o.map(|i| SafeUrl::parse(pick(AVATARS, i))).transpose())
                            .transpose()?,
                        social_links: None,
                    })
                })();
                let r = match update {
                    Ok(update) => svc.update_profile(self.user(actor), update).await,
                    Err(e) => Err(e),
                };
                self.res(r)
            }
            Cmd::EditSettings {
                actor,
                privacy: p,
                version,
            } => {
                let a = self.user(actor);
                let current = svc.me(a).await.map(|m| m.settings.version).unwrap_or(1);
                let any_privacy = p.private_account.is_some()
                    || p.discoverable.is_some()
                    || p.followers_visibility.is_some()
                    || p.following_visibility.is_some()
                    || p.show_counts.is_some()
                    || p.allow_mentions.is_some()
                    || p.allow_room_invites.is_some();
                let patch = SettingsPatch {
                    expected_version: match version {
                        VersionPick::None => None,
                        VersionPick::Current => Some(current),
                        VersionPick::Stale => Some(current.saturating_sub(1)),
                    },
                    notifications: None,
                    privacy: any_privacy.then_some(PrivacyPatch {
                        private_account: p.private_account,
                        discoverable: p.discoverable,
                        followers_visibility: p.followers_visibility,
                        following_visibility: p.following_visibility,
                        show_counts: p.show_counts,
                        allow_mentions: p.allow_mentions,
                        allow_room_invites: p.allow_room_invites,
                    }),
                    display: p.compact.map(|c| DisplayPatch {
                        compact: Some(c),
                        ..Default::default()
                    }),
                };
                let r = svc.edit_settings(a, patch).await;
                self.res(r)
            }
            Cmd::ToggleFollow {
                actor,
                target,
                action,
            } => {
                let r = svc
                    .toggle_follow(self.user(actor), self.user(target), action)
                    .await;
                self.res(r)
            }
            Cmd::FollowAll { actor } => {
                let a = self.user(actor);
                let mut out = Vec::new();
                for t in self.users.clone() {
                    let r = svc.toggle_follow(a, t, Some(FollowAction::Follow)).await;
                    out.push(self.res(r));
                }
                Value::Array(out)
            }
            Cmd::RemoveFollower { actor, follower } => {
                let r = svc
                    .remove_follower(self.user(actor), self.user(follower))
                    .await;
                self.res(r)
            }
            Cmd::Approve { actor, requester } => {
                let a = self.user(actor);
                let requester = self.requester(a, requester).await;
                let r = svc.approve_follow_request(a, requester).await;
                self.res(r)
            }
            Cmd::Reject { actor, requester } => {
                let a = self.user(actor);
                let requester = self.requester(a, requester).await;
                let r = svc.reject_follow_request(a, requester).await;
                self.res(r)
            }
            Cmd::Block { actor, target } => {
                let r = svc.block(self.user(actor), self.user(target)).await;
                self.res(r)
            }
            Cmd::Unblock { actor, target } => {
                let r = svc.unblock(self.user(actor), self.user(target)).await;
                self.res(r)
            }
            Cmd::Mute {
                actor,
                target,
                hours,
            } => {
                let until = hours.map(|h| self.ctx.clock.now() + Duration::hours(i64::from(h)));
                let r = svc.mute(self.user(actor), self.user(target), until).await;
                self.res(r)
            }
            Cmd::Unmute { actor, target } => {
                let r = svc.unmute(self.user(actor), self.user(target)).await;
                self.res(r)
            }
            Cmd::MuteFar {
                actor,
                target,
                pick,
            } => {
                let latest = kinfolk::clock::latest();
                let until = match pick {
                    0 => latest,
                    1 => latest - Duration::days(400),
                    2 => latest + Duration::nanoseconds(1),
                    _ => chrono::DateTime::<chrono::Utc>::MAX_UTC,
                };
                let r = svc
                    .mute(self.user(actor), self.user(target), Some(until))
                    .await;
                self.res(r)
            }
            Cmd::ImportFollows { ref rows } => {
                let rows: Vec<(UserId, UserId)> = rows
                    .iter()
                    .map(|&(a, b)| (self.user(a), self.user(b)))
                    .collect();
                let r = svc.import_follows(rows).await;
                self.res(r)
            }
            Cmd::ImportPending { actor } => {
                let a = self.user(actor);
                let rows: Vec<(UserId, UserId)> =
                    match svc.follow_requests(a, PageRequest::with_limit(100)).await {
                        Ok(p) => p.items.iter().map(|r| (r.user.id, a)).collect(),
                        Err(_) => Vec::new(),
                    };
                let r = svc.import_follows(rows).await;
                self.res(r)
            }
            Cmd::ClockNearEnd { days } => {
                let at = kinfolk::clock::latest() - Duration::days(i64::from(days));
                if days < 30 && at > self.ctx.clock.now() {
                    self.ctx.clock.set(at);
                }
                Value::Null
            }
            Cmd::Deactivate { actor } => {
                let r = svc.deactivate(self.user(actor)).await;
                self.res(r)
            }
            Cmd::Reactivate { actor } => {
                let r = svc.reactivate(self.user(actor)).await;
                self.res(r)
            }
            Cmd::DeleteAccount { actor } => {
                let r = svc.delete_account(self.user(actor)).await;
                self.res(r)
            }
            Cmd::LinkAccount { actor, ext } => {
                let ext = pick(EXTERNAL_IDS, ext);
                let r = svc
                    .link_account(self.user(actor), "github", ext, &format!("h_{ext}"))
                    .await;
                self.res(r)
            }
            Cmd::UnlinkAccount { actor, ext } => {
                let r = svc
                    .unlink_account(self.user(actor), "github", pick(EXTERNAL_IDS, ext))
                    .await;
                self.res(r)
            }
            Cmd::CreateRoom {
                actor,
                name,
                kind,
                visibility,
            } => {
                let name = match RoomName::parse(pick(ROOM_NAMES, name)) {
                    Ok(n) => n,
                    Err(e) => return self.res::<()>(Err(e)),
                };
                let r = svc
                    .create_room(
                        self.user(actor),
                        NewRoom {
                            kind,
                            name,
                            visibility,
                        },
                    )
                    .await;
                if let Ok(room) = &r {
                    self.add_room(room.id);
                }
                self.res(r)
            }
            Cmd::AddMember { actor, room, user } => {
                let a = self.user(actor);
                let room = self.room_of(a, room).await;
                let r = svc.add_member(a, room, self.user(user)).await;
                self.res(r)
            }
            Cmd::RemoveMember { actor, room, user } => {
                let a = self.user(actor);
                let room = self.room_of(a, room).await;
                let r = svc.remove_member(a, room, self.user(user)).await;
                self.res(r)
            }
            Cmd::SetRole {
                actor,
                room,
                user,
                role,
            } => {
                let a = self.user(actor);
                let room = self.room_of(a, room).await;
                let r = svc.set_role(a, room, self.user(user), role).await;
                self.res(r)
            }
            Cmd::LeaveRoom { actor, room } => {
                let r = svc.leave_room(self.user(actor), self.room(room)).await;
                self.res(r)
            }
            Cmd::Advance { minutes } => {
                self.ctx
                    .clock
                    .advance(Duration::minutes(i64::from(minutes)));
                Value::Null
            }
            Cmd::Reopen => Value::Null, // handled above
            Cmd::Me { actor } => {
                let r = svc.me(self.user(actor)).await;
                self.res(r)
            }
            Cmd::Export { actor } => {
                let r = svc.export(self.user(actor)).await;
                self.res(r)
            }
            Cmd::ProfileById { viewer, target } => {
                let r = svc
                    .get_profile(self.viewer(viewer), &self.user(target).to_string())
                    .await;
                self.res(r)
            }
            Cmd::ProfileByName {
                viewer,
                name,
                at,
                upper,
            } => {
                let mut key = pick(USERNAMES, name).to_string();
                if upper {
                    key = key.to_uppercase();
                }
                if at {
                    key.insert(0, '@');
                }
                let r = svc.get_profile(self.viewer(viewer), &key).await;
                self.res(r)
            }
            Cmd::List {
                viewer,
                owner,
                which,
                limit,
            } => {
                self.list(self.viewer(viewer), self.user(owner), which, limit)
                    .await
            }
            Cmd::Requests { actor, limit } => {
                let a = self.user(actor);
                self.walk("follow_requests", limit, |req| {
                    let svc = svc.clone();
                    async move { svc.follow_requests(a, req).await }
                })
                .await
            }
            Cmd::MyRooms {
                actor,
                limit,
                filter,
            } => {
                let a = self.user(actor);
                let filter = RoomFilter {
                    name: pick(ROOM_FILTERS, filter).map(str::to_string),
                    kind: None,
                    role: None,
                };
                self.walk("my_rooms", limit, |req| {
                    let svc = svc.clone();
                    let filter = filter.clone();
                    async move { svc.my_rooms(a, filter, req).await }
                })
                .await
            }
            Cmd::Relationships { viewer } => {
                let mut ids = self.users.clone();
                ids.push(self.ghost_user);
                let r = svc.relationships(self.user(viewer), &ids).await;
                self.res(r)
            }
            Cmd::Search {
                viewer,
                query,
                scope,
                limit,
            } => {
                let scope = self.scope(scope);
                self.search(self.viewer(viewer), pick(QUERIES, query), scope, limit)
                    .await
            }
            Cmd::FindAccount { ext } => {
                let r = svc
                    .find_by_connected_account("github", pick(EXTERNAL_IDS, ext))
                    .await;
                self.res(r)
            }
        }
    }

    /// What the store holds, read through the store port in one snapshot:
    /// the feed events appended since the last dump, and the records of every
    /// user those events name (all users when `full`, or when an account was
    /// deleted, which also touches users no event names), with every room.
    /// Checks the store invariants on what it read (see [`local_invariants`]).
    async fn dump(&mut self, full: bool) -> Value {
        let rooms = self.rooms.clone();
        let after = self.feed_seen;
        let r = kinfolk::store::read(self.ctx.svc.store().as_ref(), move |tx| {
            let last_seq = tx.last_seq()?;
            let feed = tx.changes_since(after, 100_000)?;
            let full = full
                || feed
                    .iter()
                    .any(|e| matches!(e.change, kinfolk::Change::AccountDeleted { .. }));
            let mut ids: Vec<UserId> = Vec::new();
            if full {
                let mut cursor = None;
                loop {
                    let batch = tx.users_after(cursor, 100)?;
                    let Some(last) = batch.last().map(|u| u.id) else {
                        break;
                    };
                    cursor = Some(last);
                    ids.extend(batch.iter().map(|u| u.id));
                }
            } else {
                for e in &feed {
                    collect_ids(
                        &serde_json::to_value(&e.change).unwrap_or_default(),
                        &mut ids,
                    );
                }
                ids.sort_unstable();
                ids.dedup();
            }
            if feed.is_empty() && !full {
                return Ok((json!({ "last_seq": last_seq }), None, Vec::new()));
            }
            let mut problems = Vec::new();
            let mut users = Vec::new();
            for id in ids {
                let Some(u) = tx.user(id)? else {
                    users.push(json!({ "id": id, "user": null }));
                    continue;
                };
                let mut claims = tx.username_claims_of(u.id)?;
                claims.sort_by(|a, b| a.folded.cmp(&b.folded));
                let mut out = Vec::new();
                let mut inc = Vec::new();
                for kind in EdgeKind::ALL {
                    out.push(tx.edges(kind, kinfolk::Anchor::From(u.id), None, 10_000)?);
                    inc.push(tx.edges(kind, kinfolk::Anchor::To(u.id), None, 10_000)?);
                }
                let memberships = tx.memberships_of(u.id, None, 10_000)?;
                let holder = tx.username_claim(&u.username.folded())?;
                local_invariants(
                    &u,
                    &out,
                    &inc,
                    memberships.len(),
                    holder.as_ref(),
                    &mut problems,
                );
                users.push(json!({
                    "id": u.id,
                    "accounts": tx.connected_accounts_of(u.id)?,
                    "claims": claims,
                    "out": out,
                    "in": inc,
                    "memberships": memberships,
                    "user": u,
                }));
            }
            let mut stored_rooms = tx.rooms(&rooms)?;
            stored_rooms.sort_by_key(|r| r.id);
            let mut members = Vec::new();
            for r in &stored_rooms {
                let ms = tx.members(r.id, None, 10_000)?;
                if ms.len() as u64 != r.member_count {
                    problems.push(format!(
                        "room {}: member_count {} != {} members",
                        r.id,
                        r.member_count,
                        ms.len()
                    ));
                }
                if !ms.iter().any(|m| m.role == RoomRole::Owner) {
                    problems.push(format!("room {} has no owner", r.id));
                }
                members.push(ms);
            }
            let seen = feed.last().map(|e| e.seq);
            Ok((
                json!({
                    "last_seq": last_seq,
                    "feed": feed,
                    "users": users,
                    "rooms": stored_rooms,
                    "members": members,
                }),
                seen,
                problems,
            ))
        })
        .await;
        match r {
            Ok((v, seen, problems)) => {
                if let Some(seen) = seen {
                    self.feed_seen = seen;
                }
                let problems: Vec<String> = problems.iter().map(|p| self.norm_text(p)).collect();
                self.problems.extend(problems);
                self.norm(v)
            }
            Err(e) => {
                self.problems.push(format!("dump: {e}"));
                Value::Null
            }
        }
    }

    /// A message with ids replaced by their tokens.
    fn norm_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (id, token) in &self.tokens {
            out = out.replace(id.as_str(), token);
        }
        out
    }

    /// What every caller sees through the service (see the module docs).
    async fn sweep(&mut self) -> Value {
        let svc = self.ctx.svc.clone();
        let users = self.users.clone();
        let mut out = BTreeMap::new();
        for (i, &u) in users.iter().enumerate() {
            let me = svc.me(u).await;
            out.insert(format!("me u{i}"), self.res(me));
            let v = self
                .walk("follow_requests", 3, |req| {
                    let svc = svc.clone();
                    async move { svc.follow_requests(u, req).await }
                })
                .await;
            out.insert(format!("requests u{i}"), v);
            let v = self
                .walk("my_rooms", 3, |req| {
                    let svc = svc.clone();
                    async move { svc.my_rooms(u, RoomFilter::default(), req).await }
                })
                .await;
            out.insert(format!("rooms u{i}"), v);
        }
        let mut all = users.clone();
        all.push(self.ghost_user);
        let viewers: Vec<(String, Option<UserId>)> = std::iter::once(("anon".to_string(), None))
            .chain(
                users
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (format!("u{i}"), Some(*u))),
            )
            .collect();
        for (vname, v) in viewers {
            if let Some(v) = v {
                let r = svc.relationships(v, &all).await;
                out.insert(format!("{vname} relationships"), self.res(r));
            }
            for (j, &t) in users.iter().enumerate() {
                let p = svc.get_profile(v, &t.to_string()).await;
                out.insert(format!("{vname} profile u{j}"), self.res(p));
                for which in [ListWhich::Followers, ListWhich::Following, ListWhich::Known] {
                    if which == ListWhich::Known && v.is_none() {
                        continue; // always empty; the commands cover it
                    }
                    // Mostly one page: paging is exercised by the commands'
                    // walks (limits 1–4); a sweep is about every pair.
                    let l = self.list(v, t, which, 5).await;
                    out.insert(format!("{vname} {which:?} u{j}"), l);
                }
            }
            let s = self.search(v, "a", SearchScope::Discovery, 3).await;
            out.insert(format!("{vname} search discovery"), s);
            if v.is_some() {
                let s = self.search(v, "ada", SearchScope::Mention, 3).await;
                out.insert(format!("{vname} search mention"), s);
            }
        }
        Value::Object(out.into_iter().collect())
    }
}

/// Every user id (any UUID) named in a JSON value.
fn collect_ids(v: &Value, out: &mut Vec<UserId>) {
    match v {
        Value::String(s) => {
            if let Ok(id) = s.parse::<UserId>() {
                out.push(id);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_ids(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_ids(x, out)),
        _ => {}
    }
}

/// The store invariants that concern one user, checked on records read in
/// one snapshot: core's [`kinfolk::check::user_findings`] (the per-user part
/// of [`check_invariants`]), each finding as a line.
pub(crate) fn local_invariants(
    u: &kinfolk::User,
    out: &[Vec<kinfolk::Edge>],
    inc: &[Vec<kinfolk::Edge>],
    memberships: usize,
    holder: Option<&kinfolk::profile::UsernameClaim>,
    problems: &mut Vec<String>,
) {
    let mut findings = Vec::new();
    kinfolk::check::user_findings(u, out, inc, memberships, holder, &mut findings);
    problems.extend(findings.iter().map(ToString::to_string));
}

// ---------------------------------------------------------------- runner

/// How a model run is configured.
#[derive(Clone, Debug)]
pub struct ModelRun {
    /// Name printed in reports (`sqlite`, `redb`, …).
    pub name: &'static str,
    /// `file!()` of the test: the regressions file goes next to it.
    pub source_file: &'static str,
    /// Cases to run: `KINFOLK_PROPTEST_CASES`, default 1,000.
    pub cases: u32,
    /// A full sweep every this many steps, and always after the last step:
    /// `KINFOLK_MODEL_SWEEP_EVERY`; 1 sweeps after every step. Default 0:
    /// after the last step only (a sweep costs as much as ~40 steps).
    pub sweep_every: usize,
    /// The service configuration of both sides: the default, with a
    /// following cap of 3 so that `LimitExceeded` is reached.
    pub config: Config,
    /// Sequences run at once, each thread with its own proptest runner and
    /// its share of `cases`: `KINFOLK_MODEL_THREADS`, default 1 (for a store
    /// whose sequences mostly wait on a server, `model_threads` in
    /// [`store_tests!`](crate::store_tests)).
    pub threads: usize,
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl ModelRun {
    /// Sets the number of cases unless `KINFOLK_PROPTEST_CASES` is set.
    pub fn default_cases(mut self, cases: u32) -> Self {
        if env_num::<u32>("KINFOLK_PROPTEST_CASES").is_none() {
            self.cases = cases;
        }
        self
    }

    /// Sets the number of threads unless `KINFOLK_MODEL_THREADS` is set.
    pub fn default_threads(mut self, threads: usize) -> Self {
        if env_num::<usize>("KINFOLK_MODEL_THREADS").is_none() {
            self.threads = threads.max(1);
        }
        self
    }

    /// The defaults, overridden by the environment variables named above.
    pub fn new(name: &'static str, source_file: &'static str) -> Self {
        Self {
            name,
            source_file,
            cases: env_num("KINFOLK_PROPTEST_CASES").unwrap_or(1000),
            sweep_every: env_num("KINFOLK_MODEL_SWEEP_EVERY").unwrap_or(0),
            config: Config {
                max_following: 3,
                ..Config::default()
            },
            threads: env_num("KINFOLK_MODEL_THREADS").unwrap_or(1).max(1),
        }
    }
}

/// Counters printed at the end of a run.
#[derive(Default)]
struct Stats {
    runs: u64,
    commands: u64,
    sweeps: u64,
    outcomes: BTreeMap<String, u64>,
    /// Time spent in commands, per-step state dumps, sweeps, and opening
    /// and closing the stores.
    phases: [std::time::Duration; 4],
}

fn outcome_key(cmd: &Cmd, v: &Value) -> String {
    if let (Cmd::FollowAll { .. }, Value::Array(items)) = (cmd, v) {
        let capped = items.iter().any(|i| i["err"] == "limit_exceeded");
        return format!(
            "follow_all:{}",
            if capped { "limit_exceeded" } else { "done" }
        );
    }
    let what = match v {
        Value::Null => "done".to_string(),
        Value::Array(_) => "walk".to_string(),
        Value::Object(o) => match (o.get("ok"), o.get("err")) {
            (Some(ok), _) if ok["relationship"]["requested"] == true => "ok(requested)".to_string(),
            (Some(ok), _) if ok["relationship"]["following"] == true => "ok(following)".to_string(),
            (Some(ok), _) if ok["privacy"]["private_account"] == true => "ok(private)".to_string(),
            (Some(_), _) => "ok".to_string(),
            (_, Some(code)) => code.as_str().unwrap_or("?").to_string(),
            _ => "?".to_string(),
        },
        _ => "?".to_string(),
    };
    format!("{}:{what}", cmd.kind())
}

fn diverged(step: usize, cmd: &Cmd, what: &str, a: &Value, b: &Value) -> TestCaseError {
    let (path, x, y) = first_difference(a, b);
    TestCaseError::fail(format!(
        "step {step} ({cmd:?}): {what} differs at `{path}`\n  store: {x}\n  model: {y}"
    ))
}

/// The first place where two values differ: its path and both values there.
fn first_difference(a: &Value, b: &Value) -> (String, String, String) {
    fn go(a: &Value, b: &Value, path: String) -> Option<(String, String, String)> {
        if a == b {
            return None;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, va) in x {
                    let p = format!("{path}.{k}");
                    match y.get(k) {
                        Some(vb) => {
                            if let Some(d) = go(va, vb, p) {
                                return Some(d);
                            }
                        }
                        None => return Some((p, va.to_string(), "<absent>".into())),
                    }
                }
                y.iter()
                    .find(|(k, _)| !x.contains_key(*k))
                    .map(|(k, vb)| (format!("{path}.{k}"), "<absent>".into(), vb.to_string()))
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (va, vb))| go(va, vb, format!("{path}[{i}]"))),
            _ => Some((path, a.to_string(), b.to_string())),
        }
    }
    go(a, b, String::new()).unwrap_or_default()
}

async fn run_sequence(
    run: &ModelRun,
    subject: &dyn Fn() -> Box<dyn StoreFactory>,
    model: &dyn Fn() -> Box<dyn StoreFactory>,
    cmds: &[Cmd],
    stats: &Mutex<Stats>,
) -> Result<(), TestCaseError> {
    let opened = Instant::now();
    let (s, m) = futures::join!(
        Ctx::with_config(subject(), run.config.clone()),
        Ctx::with_config(model(), run.config.clone())
    );
    let mut s = Side::new(s.map_err(|e| TestCaseError::fail(format!("open store: {e}")))?);
    let mut m = Side::new(m.map_err(|e| TestCaseError::fail(format!("open model: {e}")))?);
    let mut outcomes: Vec<String> = Vec::with_capacity(cmds.len());
    let mut sweeps = 0;
    let mut phases = [std::time::Duration::ZERO; 4];
    phases[3] = opened.elapsed();
    for (step, cmd) in cmds.iter().enumerate() {
        let t0 = Instant::now();
        let (a, b) = futures::join!(s.exec(cmd), m.exec(cmd));
        let t1 = Instant::now();
        phases[0] += t1 - t0;
        if a != b {
            return Err(diverged(step, cmd, "result", &a, &b));
        }
        outcomes.push(outcome_key(cmd, &a));
        let sweep =
            step + 1 == cmds.len() || (run.sweep_every > 0 && (step + 1) % run.sweep_every == 0);
        // After a reopen, everything is read back from disk: compare it all.
        let full = sweep || *cmd == Cmd::Reopen;
        let (da, db) = futures::join!(s.dump(full), m.dump(full));
        phases[1] += t1.elapsed();
        for (side, name) in [(&s, "store"), (&m, "model")] {
            if let Some(p) = side.problems.first() {
                return Err(TestCaseError::fail(format!(
                    "step {step} ({cmd:?}): {name}: {p}"
                )));
            }
        }
        if da != db {
            return Err(diverged(step, cmd, "stored state", &da, &db));
        }
        let t3 = Instant::now();
        if sweep {
            sweeps += 1;
            for (side, name) in [(&s, "store"), (&m, "model")] {
                if let Err(p) = check_invariants(&side.ctx.svc).await {
                    return Err(TestCaseError::fail(format!(
                        "step {step} ({cmd:?}): {name} invariant broken: {}",
                        side.norm_text(&p)
                    )));
                }
            }
            let (wa, wb) = futures::join!(s.sweep(), m.sweep());
            if wa != wb {
                return Err(diverged(step, cmd, "sweep", &wa, &wb));
            }
            for (side, name) in [(&s, "store"), (&m, "model")] {
                if let Some(p) = side.problems.first() {
                    return Err(TestCaseError::fail(format!(
                        "step {step} (sweep): {name}: {p}"
                    )));
                }
            }
            phases[2] += t3.elapsed();
        }
    }
    let closing = Instant::now();
    drop((s, m));
    phases[3] += closing.elapsed();
    let mut st = stats.lock().unwrap_or_else(|e| e.into_inner());
    st.runs += 1;
    st.commands += cmds.len() as u64;
    st.sweeps += sweeps;
    for (total, p) in st.phases.iter_mut().zip(phases) {
        *total += p;
    }
    for o in outcomes {
        *st.outcomes.entry(o).or_default() += 1;
    }
    Ok(())
}

/// One proptest runner: `cases` generated sequences, one after another.
fn run_cases(
    run: &ModelRun,
    cases: u32,
    subject: &dyn Fn() -> Box<dyn StoreFactory>,
    model: &dyn Fn() -> Box<dyn StoreFactory>,
    stats: &Mutex<Stats>,
) -> Result<(), TestError<Vec<Cmd>>> {
    let config = PtConfig {
        cases,
        source_file: Some(run.source_file),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        max_shrink_iters: env_num("KINFOLK_PROPTEST_SHRINK_ITERS").unwrap_or(2048),
        ..PtConfig::default()
    };
    let mut runner = TestRunner::new(config);
    runner.run(&sequence(), |cmds| {
        // A runtime per case: a case that panics takes only its own runtime down.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(format!("tokio runtime: {e}")))?;
        rt.block_on(run_sequence(run, subject, model, &cmds, stats))
    })
}

/// Runs the model-based property test: `run.cases` generated sequences, each
/// against a fresh store from `subject` and a fresh reference store from
/// `model`, on `run.threads` threads (each its own runner and share of the
/// cases). Prints a summary (cases, commands, outcome counts, time) to
/// stderr.
///
/// # Panics
/// With the shrunk, minimal failing sequence and the first difference, when
/// a sequence makes the two diverge or breaks an invariant.
pub fn run_model(
    run: ModelRun,
    subject: impl Fn() -> Box<dyn StoreFactory> + Sync,
    model: impl Fn() -> Box<dyn StoreFactory> + Sync,
) {
    let stats = Mutex::new(Stats::default());
    let started = Instant::now();
    let threads = run.threads.clamp(1, run.cases.max(1) as usize);
    let result = if threads == 1 {
        run_cases(&run, run.cases, &subject, &model, &stats)
    } else {
        let share =
            |i: usize| run.cases / threads as u32 + u32::from(i < run.cases as usize % threads);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let (run, subject, model, stats) = (&run, &subject, &model, &stats);
                    scope.spawn(move || run_cases(run, share(i), subject, model, stats))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    };
    let st = stats.lock().unwrap_or_else(|e| e.into_inner());
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for (k, n) in &st.outcomes {
        *by_kind
            .entry(k.split(':').next().unwrap_or("?"))
            .or_default() += n;
    }
    eprintln!(
        "model[{}]: {} passing sequences ({} asked{}), {} commands (mean {:.1}), {} sweeps, {:.1} s",
        run.name,
        st.runs,
        run.cases,
        if threads > 1 {
            format!(", {threads} at a time")
        } else {
            String::new()
        },
        st.commands,
        st.commands as f64 / st.runs.max(1) as f64,
        st.sweeps,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "model[{}]: time in commands {:.1} s, per-step state dumps and invariants {:.1} s, sweeps {:.1} s, opening and closing stores {:.1} s",
        run.name,
        st.phases[0].as_secs_f64(),
        st.phases[1].as_secs_f64(),
        st.phases[2].as_secs_f64(),
        st.phases[3].as_secs_f64()
    );
    let outcomes: Vec<String> = st
        .outcomes
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect();
    eprintln!("model[{}]: outcomes: {}", run.name, outcomes.join(" "));
    drop(st);
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, cmds)) => panic!(
            "model[{}]: store and model diverged: {reason}\nminimal sequence ({} commands):\n{cmds:#?}",
            run.name,
            cmds.len()
        ),
        Err(TestError::Abort(reason)) => panic!("model[{}]: aborted: {reason}", run.name),
    }
}
