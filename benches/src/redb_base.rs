//! The hand-written raw-redb baseline: the floor for the redb store.
//!
//! It opens the very file the `kinfolk-redb` store wrote (after the store is
//! closed: redb locks its file) and does, in one redb transaction per
//! operation on the calling thread, the table work the store does for each
//! workload: the same tables, keys and records (postcard records behind the
//! store's format byte, JSON change events, the `(kind, anchor, seq, other)`
//! order indexes, the `last_seq` counter in `meta`), with the same durability
//! (`Durability::Immediate`: every write transaction is synced when `commit`
//! returns) — without kinfolk: no service, no rules, no job channel, no
//! threads, no validation of decoded newtypes.
//!
//! Where it is leaner than the store, on purpose (what one writes by hand):
//! - records decode into mirror structs with plain `String`s (no newtype
//!   validation, timestamps not parsed); a record that is rewritten is
//!   decoded, changed and re-encoded through the same mirror, which
//!   [`RedbBase::open`] checks round-trips a stored user byte for byte;
//! - only the tables an operation touches are opened;
//! - a page of a list is a reverse range scan of the order index whose keys
//!   carry everything a row needs (seq and the other id); the edge records
//!   are not fetched;
//! - relationships are point gets on `edges` — `(kind, viewer, other)` for
//!   follow, request, block, mute and `(kind, other, viewer)` for follow,
//!   request, block (a reverse mute is never shown);
//! - known followers walk the viewer's follows (one prefix scan) and look up
//!   one `(follow, followee, owner)` edge per followee.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, Table, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

pub use crate::base::Rel;
use kinfolk::profile::Counts;
use kinfolk::{
    AccountStatus, Audience, EdgeKind, EmailDigest, ListVisibility, RoomId, RoomKind, RoomRole,
    RoomVisibility, SocialKind, Theme, UserId,
};

type Bytes = &'static [u8];

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const USERS: TableDefinition<Bytes, Bytes> = TableDefinition::new("users");
const CLAIMS: TableDefinition<Bytes, Bytes> = TableDefinition::new("username_claims");
const CLAIMS_BY_USER: TableDefinition<Bytes, ()> = TableDefinition::new("username_claims_by_user");
const EDGES: TableDefinition<Bytes, Bytes> = TableDefinition::new("edges");
const EDGES_BY_FROM: TableDefinition<Bytes, ()> = TableDefinition::new("edges_by_from");
const EDGES_BY_TO: TableDefinition<Bytes, ()> = TableDefinition::new("edges_by_to");
const ROOMS: TableDefinition<Bytes, Bytes> = TableDefinition::new("rooms");
const MEMBERSHIPS: TableDefinition<Bytes, Bytes> = TableDefinition::new("memberships");
const MEMBERSHIPS_BY_USER: TableDefinition<Bytes, ()> = TableDefinition::new("memberships_by_user");
const CHANGES: TableDefinition<u64, Bytes> = TableDefinition::new("changes");
const LAST_SEQ: &str = "last_seq";

/// Format byte of a postcard record / of a JSON change event (as the store).
const POSTCARD: u8 = 1;
const JSON: u8 = 2;

const FOLLOW: u8 = 1;
const REQUEST: u8 = 2;
const BLOCK: u8 = 3;
const MUTE: u8 = 4;

// ---------------------------------------------------------------- records

/// A stored user, field for field in the store's order, newtypes as strings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanUser {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub social_links: Vec<LeanLink>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub status: AccountStatus,
    pub settings: LeanSettings,
    pub counts: Counts,
    pub created_at: String,
    pub updated_at: String,
}

impl LeanUser {
    fn active(&self) -> bool {
        self.status == AccountStatus::Active
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanLink {
    pub kind: SocialKind,
    pub url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanSettings {
    pub version: u64,
    pub notifications: LeanNotifications,
    pub privacy: LeanPrivacy,
    pub display: LeanDisplay,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanNotifications {
    pub new_follower: bool,
    pub follow_request: bool,
    pub mention: bool,
    pub room_invite: bool,
    pub email_digest: EmailDigest,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanPrivacy {
    pub private_account: bool,
    pub discoverable: bool,
    pub followers_visibility: ListVisibility,
    pub following_visibility: ListVisibility,
    pub show_counts: bool,
    pub allow_mentions: Audience,
    pub allow_room_invites: Audience,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeanDisplay {
    pub theme: Theme,
    pub language: String,
    pub timezone: String,
    pub compact: bool,
}

/// A username claim (`UsernameClaim`).
#[derive(Debug, Serialize, Deserialize)]
struct LeanClaim<'a> {
    folded: &'a str,
    user: UserId,
    username: &'a str,
    held_until: Option<&'a str>,
}

/// An edge record (`Edge`), timestamps borrowed from the value.
#[derive(Debug, Serialize, Deserialize)]
struct LeanEdge<'a> {
    kind: EdgeKind,
    from: UserId,
    to: UserId,
    since: &'a str,
    seq: u64,
    until: Option<&'a str>,
}

/// A room (`Room`).
#[derive(Debug, Deserialize)]
pub struct LeanRoom {
    pub id: RoomId,
    pub kind: RoomKind,
    pub name: String,
    pub visibility: RoomVisibility,
    pub created_by: UserId,
    pub created_at: String,
    pub member_count: u64,
}

/// A membership (`Membership`).
#[derive(Debug, Deserialize)]
struct LeanMembership<'a> {
    #[allow(dead_code)]
    room: RoomId,
    #[allow(dead_code)]
    user: UserId,
    role: RoomRole,
    #[allow(dead_code)]
    joined_at: &'a str,
    #[allow(dead_code)]
    seq: u64,
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> T {
    match bytes.split_first() {
        Some((&POSTCARD, body)) => postcard::from_bytes(body).expect("decode record"),
        _ => panic!("not a postcard record"),
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![POSTCARD];
    out.extend_from_slice(&postcard::to_allocvec(value).expect("encode record"));
    out
}

fn now_text() -> String {
    let t = kinfolk::Clock::now(&kinfolk::SystemClock);
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

// ---------------------------------------------------------------- keys

fn edge_key(kind: u8, from: UserId, to: UserId) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = kind;
    k[1..17].copy_from_slice(&from.to_bytes());
    k[17..].copy_from_slice(&to.to_bytes());
    k
}

/// `kind · anchor · seq · other` (edges) or `anchor · seq · other` (memberships).
fn seq_key(prefix: &[u8], seq: u64, other: [u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 24);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&seq.to_be_bytes());
    k.extend_from_slice(&other);
    k
}

fn edge_prefix(kind: u8, anchor: UserId) -> [u8; 17] {
    let mut p = [0u8; 17];
    p[0] = kind;
    p[1..].copy_from_slice(&anchor.to_bytes());
    p
}

/// Up to `limit` `(seq, other)` of an order index under `prefix` with
/// `seq < before`, newest first.
fn scan_desc(
    t: &impl ReadableTable<Bytes, ()>,
    prefix: &[u8],
    before: Option<u64>,
    limit: usize,
) -> Vec<(u64, [u8; 16])> {
    let lo = seq_key(prefix, 0, [0; 16]);
    let hi = match before {
        Some(b) => {
            let mut h = prefix.to_vec();
            h.extend_from_slice(&b.to_be_bytes());
            h
        }
        None => {
            let mut h = prefix.to_vec();
            h.extend_from_slice(&[0xff; 25]);
            h
        }
    };
    let n = prefix.len();
    t.range::<&[u8]>((
        Bound::Included(lo.as_slice()),
        Bound::Excluded(hi.as_slice()),
    ))
    .expect("range")
    .rev()
    .take(limit)
    .map(|e| {
        let (k, _) = e.expect("entry");
        let k = k.value();
        let seq = u64::from_be_bytes(k[n..n + 8].try_into().expect("seq"));
        let other: [u8; 16] = k[n + 8..n + 24].try_into().expect("id");
        (seq, other)
    })
    .collect()
}

// ---------------------------------------------------------------- baseline

/// A row of a user list.
pub type Row = crate::base::Row<LeanUser>;

/// The baseline's database.
#[derive(Debug)]
pub struct RedbBase {
    db: Database,
    settings: LeanSettings,
}

type RTable<K, V> = ReadOnlyTable<K, V>;

fn get_user(users: &impl ReadableTable<Bytes, Bytes>, id: UserId) -> Option<LeanUser> {
    users
        .get(id.to_bytes().as_slice())
        .expect("get user")
        .map(|g| decode(g.value()))
}

fn has_edge(edges: &impl ReadableTable<Bytes, Bytes>, kind: u8, from: UserId, to: UserId) -> bool {
    edges
        .get(edge_key(kind, from, to).as_slice())
        .expect("get edge")
        .is_some()
}

fn rel(edges: &impl ReadableTable<Bytes, Bytes>, viewer: UserId, other: UserId) -> Rel {
    Rel {
        following: has_edge(edges, FOLLOW, viewer, other),
        followed_by: has_edge(edges, FOLLOW, other, viewer),
        requested: has_edge(edges, REQUEST, viewer, other),
        requested_by: has_edge(edges, REQUEST, other, viewer),
        blocking: has_edge(edges, BLOCK, viewer, other),
        blocked_by: has_edge(edges, BLOCK, other, viewer),
        muting: has_edge(edges, MUTE, viewer, other),
    }
}

/// The records of `ids` and the viewer's relationship to each, in one pass.
fn users_and_rels(
    users: &impl ReadableTable<Bytes, Bytes>,
    edges: &impl ReadableTable<Bytes, Bytes>,
    viewer: UserId,
    ids: &[UserId],
) -> HashMap<UserId, (LeanUser, Rel)> {
    let mut out = HashMap::with_capacity(ids.len());
    for &id in ids {
        if out.contains_key(&id) {
            continue;
        }
        let Some(u) = get_user(users, id) else {
            continue;
        };
        let r = if id == viewer {
            Rel::default()
        } else {
            rel(edges, viewer, id)
        };
        out.insert(id, (u, r));
    }
    out
}

/// List rows from `(seq, other)` in order: active, no block either way.
fn rows(
    users: &impl ReadableTable<Bytes, Bytes>,
    edges: &impl ReadableTable<Bytes, Bytes>,
    viewer: UserId,
    entries: &[(u64, [u8; 16])],
    limit: usize,
) -> (Vec<Row>, Option<u64>) {
    let ids: Vec<UserId> = entries
        .iter()
        .map(|(_, id)| UserId::from_bytes(*id))
        .collect();
    let mut found = users_and_rels(users, edges, viewer, &ids);
    let mut out = Vec::with_capacity(limit);
    let mut last = None;
    for ((seq, _), id) in entries.iter().zip(&ids) {
        let Some((user, rel)) = found.remove(id) else {
            continue;
        };
        if !user.active() || rel.blocking || rel.blocked_by {
            continue;
        }
        out.push(Row { user, rel });
        last = Some(*seq);
        if out.len() == limit {
            break;
        }
    }
    (out, last)
}

impl RedbBase {
    /// Opens `path` (a database `kinfolk-redb` created and has closed) and
    /// checks that the lean user record round-trips a stored one exactly.
    pub fn open(path: &Path, probe: UserId) -> RedbBase {
        // `KINFOLK_BENCH_REDB_BASE_CACHE_MIB`: the floor's page cache (default:
        // redb's own, up to 1 GiB; the store's default is 128 MiB), to compare
        // the two at the same cache size.
        let mut builder = redb::Builder::new();
        if let Some(mib) = std::env::var("KINFOLK_BENCH_REDB_BASE_CACHE_MIB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            builder.set_cache_size(mib << 20);
        }
        let db = builder
            .open(path)
            .expect("open the redb file (is the store still open?)");
        let settings: LeanSettings = postcard::from_bytes(
            &postcard::to_allocvec(&kinfolk::Settings::default()).expect("encode settings"),
        )
        .expect("decode settings");
        let base = RedbBase { db, settings };
        {
            let rtx = base.db.begin_read().expect("begin read");
            let users = rtx.open_table(USERS).expect("users");
            let g = users
                .get(probe.to_bytes().as_slice())
                .expect("get")
                .expect("probe user");
            let u: LeanUser = decode(g.value());
            assert_eq!(
                encode(&u),
                g.value(),
                "the lean user record does not round-trip the store's encoding"
            );
            // The same for the default settings (what `register` writes).
            let s = postcard::to_allocvec(&kinfolk::Settings::default()).expect("encode");
            assert_eq!(postcard::to_allocvec(&base.settings).expect("encode"), s);
        }
        base
    }

    fn read(&self) -> redb::ReadTransaction {
        self.db.begin_read().expect("begin read")
    }

    fn write(&self) -> redb::WriteTransaction {
        let mut w = self.db.begin_write().expect("begin write");
        w.set_durability(Durability::Immediate).expect("durability");
        w
    }

    fn profile_in(
        users: &RTable<Bytes, Bytes>,
        edges: &RTable<Bytes, Bytes>,
        viewer: UserId,
        id: UserId,
    ) -> Option<(LeanUser, Rel)> {
        let v = get_user(users, viewer)?;
        if !v.active() {
            return None;
        }
        let u = get_user(users, id)?;
        if !u.active() {
            return None;
        }
        let r = if viewer == id {
            Rel::default()
        } else {
            rel(edges, viewer, id)
        };
        if r.blocked_by {
            return None;
        }
        Some((u, r))
    }

    /// A profile with the viewer's relationship (`get_profile` by id).
    pub fn profile_by_id(&self, viewer: UserId, id: UserId) -> Option<(LeanUser, Rel)> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        Self::profile_in(&users, &edges, viewer, id)
    }

    /// `get_profile` by (folded) username: the claim, then as by id.
    pub fn profile_by_username(&self, viewer: UserId, folded: &str) -> Option<(LeanUser, Rel)> {
        let rtx = self.read();
        let claims = rtx.open_table(CLAIMS).expect("claims");
        let holder = {
            let g = claims.get(folded.as_bytes()).expect("get claim")?;
            let c: LeanClaim = decode(g.value());
            if c.held_until.is_some() {
                return None;
            }
            c.user
        };
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        Self::profile_in(&users, &edges, viewer, holder)
    }

    fn list_checks(
        users: &RTable<Bytes, Bytes>,
        edges: &RTable<Bytes, Bytes>,
        viewer: UserId,
        owner: UserId,
        followers: bool,
    ) -> bool {
        let (Some(v), Some(o)) = (get_user(users, viewer), get_user(users, owner)) else {
            return false;
        };
        let vis = if followers {
            o.settings.privacy.followers_visibility
        } else {
            o.settings.privacy.following_visibility
        };
        v.active()
            && o.active()
            && !has_edge(edges, BLOCK, owner, viewer)
            && vis == ListVisibility::Public
    }

    /// A keyset page of `owner`'s followers (newest first) before `before`.
    pub fn followers_page(
        &self,
        viewer: UserId,
        owner: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> (Vec<Row>, Option<u64>) {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        if !Self::list_checks(&users, &edges, viewer, owner, true) {
            return (Vec::new(), None);
        }
        let by_to = rtx.open_table(EDGES_BY_TO).expect("edges_by_to");
        let entries = scan_desc(&by_to, &edge_prefix(FOLLOW, owner), before, limit + 1);
        rows(&users, &edges, viewer, &entries, limit)
    }

    /// Page 1 of whom `owner` follows.
    pub fn following_page(&self, viewer: UserId, owner: UserId, limit: usize) -> Vec<Row> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        if !Self::list_checks(&users, &edges, viewer, owner, false) {
            return Vec::new();
        }
        let by_from = rtx.open_table(EDGES_BY_FROM).expect("edges_by_from");
        let entries = scan_desc(&by_from, &edge_prefix(FOLLOW, owner), None, limit + 1);
        rows(&users, &edges, viewer, &entries, limit).0
    }

    /// The `seq` at `frac` of `owner`'s follower list, newest first (for a
    /// deep keyset page), and the matching offset.
    pub fn deep_position(&self, owner: UserId, frac: f64) -> (u64, usize) {
        let rtx = self.read();
        let by_to = rtx.open_table(EDGES_BY_TO).expect("edges_by_to");
        let all = scan_desc(&by_to, &edge_prefix(FOLLOW, owner), None, usize::MAX);
        let offset = ((all.len() as f64) * frac) as usize;
        let seq = all[offset.saturating_sub(1)].0;
        (seq, offset)
    }

    /// Known followers: the owner's followers the viewer follows, newest
    /// first, walked from the viewer's follows.
    pub fn known_followers(&self, viewer: UserId, owner: UserId, limit: usize) -> Vec<Row> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        if !Self::list_checks(&users, &edges, viewer, owner, true) {
            return Vec::new();
        }
        let by_from = rtx.open_table(EDGES_BY_FROM).expect("edges_by_from");
        let mut found: Vec<(u64, [u8; 16])> = Vec::new();
        for (_, f) in scan_desc(&by_from, &edge_prefix(FOLLOW, viewer), None, usize::MAX) {
            let f = UserId::from_bytes(f);
            if f == owner {
                continue;
            }
            if let Some(g) = edges
                .get(edge_key(FOLLOW, f, owner).as_slice())
                .expect("get edge")
            {
                let e: LeanEdge = decode(g.value());
                found.push((e.seq, f.to_bytes()));
            }
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.truncate(limit + 1);
        rows(&users, &edges, viewer, &found, limit).0
    }

    /// The viewer's relationship to each of `ids`.
    pub fn relationships(&self, viewer: UserId, ids: &[UserId]) -> Vec<(UserId, Rel)> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        let v = get_user(&users, viewer).expect("viewer");
        assert!(v.active());
        let found = users_and_rels(&users, &edges, viewer, ids);
        ids.iter()
            .map(|id| {
                let r = match found.get(id) {
                    Some((u, r)) if u.active() && !r.blocked_by && *id != viewer => *r,
                    _ => Rel::default(),
                };
                (*id, r)
            })
            .collect()
    }

    /// The owner's counters (`me` minus connected accounts).
    pub fn counts(&self, id: UserId) -> Option<Counts> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        get_user(&users, id).map(|u| u.counts)
    }

    /// A page of the user's rooms, newest membership first, whose folded name
    /// contains `needle` (lower-cased): `(name, role)`.
    pub fn my_rooms(&self, user: UserId, needle: &str, limit: usize) -> Vec<(String, RoomRole)> {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let me = get_user(&users, user).expect("actor");
        assert!(me.active());
        let by_user = rtx
            .open_table(MEMBERSHIPS_BY_USER)
            .expect("memberships_by_user");
        let memberships = rtx.open_table(MEMBERSHIPS).expect("memberships");
        let rooms = rtx.open_table(ROOMS).expect("rooms");
        let ukey = user.to_bytes();
        let batch = (limit + 1).max(32);
        let mut out = Vec::new();
        let mut before = None;
        loop {
            let ms = scan_desc(&by_user, &ukey, before, batch);
            let exhausted = ms.len() < batch;
            let Some(last) = ms.last().map(|m| m.0) else {
                break;
            };
            before = Some(last);
            for (_, room) in &ms {
                let mut mkey = [0u8; 32];
                mkey[..16].copy_from_slice(room);
                mkey[16..].copy_from_slice(&ukey);
                let Some(mg) = memberships.get(mkey.as_slice()).expect("get membership") else {
                    continue;
                };
                let m: LeanMembership = decode(mg.value());
                let Some(rg) = rooms.get(room.as_slice()).expect("get room") else {
                    continue;
                };
                let r: LeanRoom = decode(rg.value());
                if kinfolk::text::fold(&r.name).contains(needle) {
                    out.push((r.name, m.role));
                    if out.len() > limit {
                        break;
                    }
                }
            }
            if out.len() > limit || exhausted {
                break;
            }
        }
        out.truncate(limit);
        out
    }

    // ------------------------------------------------------------ diagnostics

    /// A read transaction that opens `users` and `edges` (what a profile read
    /// needs) — or all 14 tables of the store, as the store opens for every job.
    pub fn diag_read_txn(&self, all_tables: bool) -> usize {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let edges = rtx.open_table(EDGES).expect("edges");
        let mut n = usize::from(users.get([0u8; 16].as_slice()).expect("get").is_some())
            + usize::from(edges.get([0u8; 33].as_slice()).expect("get").is_some());
        if all_tables {
            let _a = rtx.open_table(META).expect("t");
            let _b = rtx.open_table(CLAIMS).expect("t");
            let _c = rtx.open_table(CLAIMS_BY_USER).expect("t");
            let _d = rtx.open_table(EDGES_BY_FROM).expect("t");
            let _e = rtx.open_table(EDGES_BY_TO).expect("t");
            let _f = rtx.open_table(ROOMS).expect("t");
            let _g = rtx.open_table(MEMBERSHIPS).expect("t");
            let _h = rtx.open_table(MEMBERSHIPS_BY_USER).expect("t");
            let _i = rtx
                .open_table(TableDefinition::<Bytes, ()>::new("memberships_by_room"))
                .expect("t");
            let _j = rtx
                .open_table(TableDefinition::<Bytes, Bytes>::new("accounts"))
                .expect("t");
            let _k = rtx
                .open_table(TableDefinition::<Bytes, ()>::new("accounts_by_user"))
                .expect("t");
            let _l = rtx.open_table(CHANGES).expect("t");
            n += 12;
        }
        n
    }

    /// One user record read and decoded into the lean mirror, or into
    /// `kinfolk::User` (every newtype validated, timestamps parsed) as the store does.
    pub fn diag_user_decode(&self, id: UserId, full: bool) -> bool {
        let rtx = self.read();
        let users = rtx.open_table(USERS).expect("users");
        let Some(g) = users.get(id.to_bytes().as_slice()).expect("get user") else {
            return false;
        };
        if full {
            let body = &g.value()[1..];
            let u: kinfolk::User = postcard::from_bytes(body).expect("decode user");
            u.is_active()
        } else {
            decode::<LeanUser>(g.value()).active()
        }
    }

    // ------------------------------------------------------------ writes

    /// Appends a feed event (the next sequence, kept in `meta`).
    fn append_change(wtx: &WriteTransaction, at: &str, change: &str) -> u64 {
        let mut meta = wtx.open_table(META).expect("meta");
        let mut changes = wtx.open_table(CHANGES).expect("changes");
        let seq = meta
            .get(LAST_SEQ)
            .expect("last_seq")
            .map_or(0, |g| g.value())
            + 1;
        let ev = format!("{{\"seq\":{seq},\"at\":\"{at}\",\"change\":{change}}}");
        let mut bytes = Vec::with_capacity(ev.len() + 1);
        bytes.push(JSON);
        bytes.extend_from_slice(ev.as_bytes());
        changes
            .insert(seq, bytes.as_slice())
            .expect("insert change");
        meta.insert(LAST_SEQ, seq).expect("set last_seq");
        seq
    }

    fn put_user(users: &mut Table<Bytes, Bytes>, u: &LeanUser) {
        users
            .insert(u.id.to_bytes().as_slice(), encode(u).as_slice())
            .expect("put user");
    }

    /// Follows `target` (durable, one transaction). Returns whether it changed.
    pub fn follow(&self, actor: UserId, target: UserId) -> bool {
        let wtx = self.write();
        let ok = {
            let mut users = wtx.open_table(USERS).expect("users");
            let mut edges = wtx.open_table(EDGES).expect("edges");
            let (Some(mut a), Some(mut t)) = (get_user(&users, actor), get_user(&users, target))
            else {
                return false;
            };
            let ok = actor != target
                && a.active()
                && t.active()
                && !has_edge(&edges, BLOCK, target, actor)
                && !has_edge(&edges, FOLLOW, actor, target)
                && !has_edge(&edges, REQUEST, actor, target)
                && !has_edge(&edges, BLOCK, actor, target);
            if ok {
                let at = now_text();
                let seq = Self::append_change(
                    &wtx,
                    &at,
                    &format!(r#"{{"type":"followed","follower":"{actor}","followee":"{target}"}}"#),
                );
                let e = LeanEdge {
                    kind: EdgeKind::Follow,
                    from: actor,
                    to: target,
                    since: &at,
                    seq,
                    until: None,
                };
                edges
                    .insert(
                        edge_key(FOLLOW, actor, target).as_slice(),
                        encode(&e).as_slice(),
                    )
                    .expect("insert edge");
                let mut by_from = wtx.open_table(EDGES_BY_FROM).expect("edges_by_from");
                by_from
                    .insert(
                        seq_key(&edge_prefix(FOLLOW, actor), seq, target.to_bytes()).as_slice(),
                        (),
                    )
                    .expect("index");
                let mut by_to = wtx.open_table(EDGES_BY_TO).expect("edges_by_to");
                by_to
                    .insert(
                        seq_key(&edge_prefix(FOLLOW, target), seq, actor.to_bytes()).as_slice(),
                        (),
                    )
                    .expect("index");
                a.counts.following += 1;
                t.counts.followers += 1;
                Self::put_user(&mut users, &a);
                Self::put_user(&mut users, &t);
            }
            ok
        };
        wtx.commit().expect("commit");
        ok
    }

    /// Unfollows `target` (durable, one transaction). Returns whether it changed.
    pub fn unfollow(&self, actor: UserId, target: UserId) -> bool {
        let wtx = self.write();
        let gone = {
            let mut users = wtx.open_table(USERS).expect("users");
            let mut edges = wtx.open_table(EDGES).expect("edges");
            let (Some(mut a), Some(mut t)) = (get_user(&users, actor), get_user(&users, target))
            else {
                return false;
            };
            let seq = edges
                .remove(edge_key(FOLLOW, actor, target).as_slice())
                .expect("remove edge")
                .map(|g| decode::<LeanEdge>(g.value()).seq);
            if let Some(seq) = seq {
                let mut by_from = wtx.open_table(EDGES_BY_FROM).expect("edges_by_from");
                by_from
                    .remove(seq_key(&edge_prefix(FOLLOW, actor), seq, target.to_bytes()).as_slice())
                    .expect("unindex");
                let mut by_to = wtx.open_table(EDGES_BY_TO).expect("edges_by_to");
                by_to
                    .remove(seq_key(&edge_prefix(FOLLOW, target), seq, actor.to_bytes()).as_slice())
                    .expect("unindex");
                Self::append_change(
                    &wtx,
                    &now_text(),
                    &format!(
                        r#"{{"type":"unfollowed","follower":"{actor}","followee":"{target}"}}"#
                    ),
                );
                a.counts.following = a.counts.following.saturating_sub(1);
                t.counts.followers = t.counts.followers.saturating_sub(1);
                Self::put_user(&mut users, &a);
                Self::put_user(&mut users, &t);
            }
            seq.is_some()
        };
        wtx.commit().expect("commit");
        gone
    }

    /// Registers a user: claim (+ its index entry), record, feed event.
    pub fn register(&self, username: &str, name: &str) -> UserId {
        let wtx = self.write();
        let id = UserId::new();
        {
            let folded = username.to_ascii_lowercase();
            let mut claims = wtx.open_table(CLAIMS).expect("claims");
            assert!(
                claims.get(folded.as_bytes()).expect("get claim").is_none(),
                "username taken"
            );
            let claim = LeanClaim {
                folded: &folded,
                user: id,
                username,
                held_until: None,
            };
            claims
                .insert(folded.as_bytes(), encode(&claim).as_slice())
                .expect("insert claim");
            let mut by_user = wtx.open_table(CLAIMS_BY_USER).expect("claims_by_user");
            let mut ck = id.to_bytes().to_vec();
            ck.extend_from_slice(folded.as_bytes());
            by_user.insert(ck.as_slice(), ()).expect("claim index");
            let at = now_text();
            let u = LeanUser {
                id,
                username: username.to_string(),
                name: name.to_string(),
                bio: String::new(),
                avatar_url: None,
                social_links: Vec::new(),
                location: None,
                email: None,
                status: AccountStatus::Active,
                settings: self.settings.clone(),
                counts: Counts::default(),
                created_at: at.clone(),
                updated_at: at.clone(),
            };
            let mut users = wtx.open_table(USERS).expect("users");
            Self::put_user(&mut users, &u);
            Self::append_change(
                &wtx,
                &at,
                &format!(r#"{{"type":"user_registered","user":"{id}"}}"#),
            );
        }
        wtx.commit().expect("commit");
        id
    }

    /// Changes the display name (record rewrite + feed event).
    pub fn update_name(&self, actor: UserId, name: &str) {
        let wtx = self.write();
        {
            let mut users = wtx.open_table(USERS).expect("users");
            let mut u = get_user(&users, actor).expect("actor");
            assert!(u.active());
            let at = now_text();
            u.name = name.to_string();
            u.updated_at = at.clone();
            Self::put_user(&mut users, &u);
            Self::append_change(
                &wtx,
                &at,
                &format!(r#"{{"type":"profile_updated","user":"{actor}"}}"#),
            );
        }
        wtx.commit().expect("commit");
    }
}
