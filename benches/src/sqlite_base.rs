//! The hand-written rusqlite baseline: the floor for the SQLite store.
//!
//! It runs on the very database file the `kinfolk-sqlite` store wrote (same
//! schema, same rows, same pragmas: WAL, the same `synchronous`, foreign keys
//! on, the `rarray` module), on one connection on the calling thread, and does
//! the SQL work the store does for each workload — the same index lookups and
//! range scans, the same batch fetches with `rarray(?)`, the same records
//! (users as JSON, decoded into a lean struct, or into a `serde_json::Value`
//! when rewritten), the same feed rows — without kinfolk: no service, no rule
//! engine, no job channel, no validation of decoded newtypes.
//!
//! Also here: the `OFFSET` anti-baseline for deep pages.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;

pub use crate::base::Rel;
use kinfolk::UserId;

/// The subset of a stored user record a hand-written app reads.
#[derive(Debug, Deserialize)]
pub struct LiteUser {
    pub id: String,
    pub username: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub status: String,
    pub settings: LiteSettings,
    pub counts: LiteCounts,
}

#[derive(Debug, Deserialize)]
pub struct LiteSettings {
    pub privacy: LitePrivacy,
}

#[derive(Debug, Deserialize)]
pub struct LitePrivacy {
    pub private_account: bool,
    pub discoverable: bool,
    pub followers_visibility: String,
    pub following_visibility: String,
    pub show_counts: bool,
}

#[derive(Debug, Deserialize)]
pub struct LiteCounts {
    pub followers: u64,
    pub following: u64,
    pub pending_requests: u64,
    pub rooms: u64,
}

impl LiteUser {
    fn active(&self) -> bool {
        self.status == "active"
    }
}

/// A row of a user list.
pub type Row = crate::base::Row<LiteUser>;

const USER: &str = "SELECT record FROM users WHERE id = ?1";
const USERS: &str = "SELECT id, record FROM users WHERE id IN rarray(?1)";
const CLAIM: &str = "SELECT user_id, held_until FROM username_claims WHERE folded = ?1";
const EDGE: &str = "SELECT seq FROM edges WHERE kind = ?1 AND from_id = ?2 AND to_id = ?3";
const EDGES_TO: &str = "SELECT from_id, seq FROM edges WHERE kind = 1 AND to_id = ?1 AND seq < ?2 \
                        ORDER BY seq DESC LIMIT ?3";
const EDGES_FROM: &str = "SELECT to_id, seq FROM edges WHERE kind = 1 AND from_id = ?1 AND seq < ?2 \
                          ORDER BY seq DESC LIMIT ?3";
const EDGES_TO_OFFSET: &str = "SELECT from_id, seq FROM edges WHERE kind = 1 AND to_id = ?1 \
                               ORDER BY seq DESC LIMIT ?2 OFFSET ?3";
const EDGES_BETWEEN: &str = "SELECT kind, from_id, to_id FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id = ?1 AND to_id IN rarray(?2) \
                     UNION ALL \
                     SELECT kind, from_id, to_id FROM edges \
                     WHERE kind IN (1, 2, 3, 4) AND from_id IN rarray(?2) AND to_id = ?1 \
                     AND from_id <> ?1";
/// Known followers, the way one writes it by hand: the viewer's follows
/// joined with the owner's followers (SQLite drives from the smaller side).
const KNOWN: &str = "SELECT e.from_id, e.seq FROM edges f \
                     JOIN edges e ON e.kind = 1 AND e.from_id = f.to_id AND e.to_id = ?2 \
                     WHERE f.kind = 1 AND f.from_id = ?1 ORDER BY e.seq DESC LIMIT ?3";
const MEMBERSHIPS_OF: &str = "SELECT room_id, role, seq FROM memberships \
                              WHERE user_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
const ROOMS: &str = "SELECT id, record FROM rooms WHERE id IN rarray(?1)";
const NEXT_SEQ: &str = "UPDATE meta SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq";
const INSERT_CHANGE: &str = "INSERT INTO changes (seq, at, change) VALUES (?1, ?2, ?3)";
const INSERT_EDGE: &str = "INSERT INTO edges (kind, from_id, to_id, seq, since, until) \
                           VALUES (1, ?1, ?2, ?3, ?4, NULL)";
const DELETE_EDGE: &str = "DELETE FROM edges WHERE kind = 1 AND from_id = ?1 AND to_id = ?2 \
                           RETURNING seq";
const PUT_USER: &str = "INSERT INTO users (id, record) VALUES (?1, ?2) \
                        ON CONFLICT (id) DO UPDATE SET record = excluded.record";
const INSERT_CLAIM: &str = "INSERT INTO username_claims (folded, user_id, username, held_until) \
                            VALUES (?1, ?2, ?3, NULL)";

/// The baseline's connection.
#[derive(Debug)]
pub struct SqliteBase {
    conn: Connection,
}

fn b(id: UserId) -> [u8; 16] {
    id.to_bytes()
}

fn arr(ids: &[UserId]) -> Rc<Vec<Value>> {
    Rc::new(ids.iter().map(|i| Value::Blob(b(*i).to_vec())).collect())
}

fn now_text() -> String {
    // RFC 3339 with nine fractional digits, as the store writes.
    let t = kinfolk::Clock::now(&kinfolk::SystemClock);
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

impl SqliteBase {
    /// Opens `path` (a database `kinfolk-sqlite` created) with the store's pragmas.
    pub fn open(path: &Path, synchronous_full: bool) -> SqliteBase {
        let conn = Connection::open(path).expect("open baseline connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        conn.set_prepared_statement_cache_capacity(64);
        rusqlite::vtab::array::load_module(&conn).expect("rarray");
        conn.pragma_update(None, "foreign_keys", true).expect("fk");
        let _: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
            .expect("wal");
        conn.pragma_update(
            None,
            "synchronous",
            if synchronous_full { "FULL" } else { "NORMAL" },
        )
        .expect("synchronous");
        SqliteBase { conn }
    }

    fn begin(&self) {
        self.conn.execute_batch("BEGIN DEFERRED").expect("begin");
    }
    fn begin_write(&self) {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .expect("begin immediate");
    }
    fn commit(&self) {
        self.conn.execute_batch("COMMIT").expect("commit");
    }

    fn user(&self, id: UserId) -> Option<LiteUser> {
        let mut st = self.conn.prepare_cached(USER).expect("prepare");
        let rec: Option<String> = st
            .query_row(params![b(id)], |r| r.get(0))
            .optional()
            .expect("user");
        rec.map(|r| serde_json::from_str(&r).expect("decode user"))
    }

    fn user_value(&self, id: UserId) -> serde_json::Value {
        let mut st = self.conn.prepare_cached(USER).expect("prepare");
        let rec: String = st.query_row(params![b(id)], |r| r.get(0)).expect("user");
        serde_json::from_str(&rec).expect("decode user")
    }

    fn put_user_value(&self, id: UserId, v: &serde_json::Value) {
        let mut st = self.conn.prepare_cached(PUT_USER).expect("prepare");
        st.execute(params![b(id), serde_json::to_string(v).expect("encode")])
            .expect("put user");
    }

    fn users(&self, ids: &[UserId]) -> HashMap<[u8; 16], LiteUser> {
        let mut st = self.conn.prepare_cached(USERS).expect("prepare");
        let rows = st
            .query_map(params![arr(ids)], |r| {
                Ok((r.get::<_, [u8; 16]>(0)?, r.get::<_, String>(1)?))
            })
            .expect("users");
        rows.map(|r| {
            let (id, rec) = r.expect("row");
            (id, serde_json::from_str(&rec).expect("decode user"))
        })
        .collect()
    }

    fn edge(&self, kind: u8, from: UserId, to: UserId) -> bool {
        let mut st = self.conn.prepare_cached(EDGE).expect("prepare");
        st.query_row(params![kind, b(from), b(to)], |_| Ok(()))
            .optional()
            .expect("edge")
            .is_some()
    }

    fn rels(&self, viewer: UserId, others: &[UserId]) -> HashMap<[u8; 16], Rel> {
        let mut out: HashMap<[u8; 16], Rel> = HashMap::new();
        if others.is_empty() {
            return out;
        }
        let v = b(viewer);
        let mut st = self.conn.prepare_cached(EDGES_BETWEEN).expect("prepare");
        let rows = st
            .query_map(params![v, arr(others)], |r| {
                Ok((
                    r.get::<_, u8>(0)?,
                    r.get::<_, [u8; 16]>(1)?,
                    r.get::<_, [u8; 16]>(2)?,
                ))
            })
            .expect("edges between");
        for r in rows {
            let (kind, from, to) = r.expect("row");
            let (other, out_dir) = if from == v { (to, true) } else { (from, false) };
            let e = out.entry(other).or_default();
            match (kind, out_dir) {
                (1, true) => e.following = true,
                (1, false) => e.followed_by = true,
                (2, true) => e.requested = true,
                (2, false) => e.requested_by = true,
                (3, true) => e.blocking = true,
                (3, false) => e.blocked_by = true,
                (4, true) => e.muting = true,
                _ => {}
            }
        }
        out
    }

    /// A profile with the viewer's relationship (`get_profile` by id).
    pub fn profile_by_id(&self, viewer: UserId, id: UserId) -> Option<(LiteUser, Rel)> {
        self.begin();
        let out = self.profile_in_tx(viewer, id);
        self.commit();
        out
    }

    fn profile_in_tx(&self, viewer: UserId, id: UserId) -> Option<(LiteUser, Rel)> {
        let v = self.user(viewer)?;
        if !v.active() {
            return None;
        }
        let u = self.user(id)?;
        if !u.active() {
            return None;
        }
        let rel = self.rels(viewer, &[id]).remove(&b(id)).unwrap_or_default();
        if rel.blocked_by {
            return None;
        }
        Some((u, rel))
    }

    /// `get_profile` by username: the claim, then as by id.
    pub fn profile_by_username(&self, viewer: UserId, folded: &str) -> Option<(LiteUser, Rel)> {
        self.begin();
        let mut st = self.conn.prepare_cached(CLAIM).expect("prepare");
        let claim: Option<([u8; 16], Option<String>)> = st
            .query_row(params![folded], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .expect("claim");
        drop(st);
        let out = claim.and_then(|(id, _)| self.profile_in_tx(viewer, UserId::from_bytes(id)));
        self.commit();
        out
    }

    fn rows(
        &self,
        viewer: UserId,
        edges: &[([u8; 16], i64)],
        limit: usize,
    ) -> (Vec<Row>, Option<i64>) {
        let others: Vec<UserId> = edges
            .iter()
            .map(|(id, _)| UserId::from_bytes(*id))
            .collect();
        let mut users = self.users(&others);
        let rels = self.rels(viewer, &others);
        let mut rows = Vec::with_capacity(limit);
        let mut last = None;
        for (id, seq) in edges {
            let Some(u) = users.remove(id) else { continue };
            let rel = rels.get(id).copied().unwrap_or_default();
            if !u.active() || rel.blocking || rel.blocked_by {
                continue;
            }
            rows.push(Row { user: u, rel });
            last = Some(*seq);
            if rows.len() == limit {
                break;
            }
        }
        (rows, last)
    }

    fn list_checks(&self, viewer: UserId, owner: UserId) -> bool {
        let Some(v) = self.user(viewer) else {
            return false;
        };
        let Some(o) = self.user(owner) else {
            return false;
        };
        v.active()
            && o.active()
            && !self.edge(3, owner, viewer)
            && o.settings.privacy.followers_visibility == "public"
    }

    /// A keyset page of `owner`'s followers (newest first) before `before`.
    pub fn followers_page(
        &self,
        viewer: UserId,
        owner: UserId,
        before: Option<i64>,
        limit: usize,
    ) -> (Vec<Row>, Option<i64>) {
        self.begin();
        let mut out = (Vec::new(), None);
        if self.list_checks(viewer, owner) {
            let mut st = self.conn.prepare_cached(EDGES_TO).expect("prepare");
            let edges: Vec<([u8; 16], i64)> = st
                .query_map(
                    params![b(owner), before.unwrap_or(i64::MAX), (limit + 1) as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("edges to")
                .map(|r| r.expect("row"))
                .collect();
            drop(st);
            out = self.rows(viewer, &edges, limit);
        }
        self.commit();
        out
    }

    /// Page 1 of whom `owner` follows.
    pub fn following_page(&self, viewer: UserId, owner: UserId, limit: usize) -> Vec<Row> {
        self.begin();
        let mut out = Vec::new();
        let ok = match (self.user(viewer), self.user(owner)) {
            (Some(v), Some(o)) => {
                v.active()
                    && o.active()
                    && !self.edge(3, owner, viewer)
                    && o.settings.privacy.following_visibility == "public"
            }
            _ => false,
        };
        if ok {
            let mut st = self.conn.prepare_cached(EDGES_FROM).expect("prepare");
            let edges: Vec<([u8; 16], i64)> = st
                .query_map(params![b(owner), i64::MAX, (limit + 1) as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("edges from")
                .map(|r| r.expect("row"))
                .collect();
            drop(st);
            out = self.rows(viewer, &edges, limit).0;
        }
        self.commit();
        out
    }

    /// The same page by `LIMIT … OFFSET` (the anti-baseline).
    pub fn followers_page_offset(
        &self,
        viewer: UserId,
        owner: UserId,
        offset: usize,
        limit: usize,
    ) -> Vec<Row> {
        self.begin();
        let mut out = Vec::new();
        if self.list_checks(viewer, owner) {
            let mut st = self.conn.prepare_cached(EDGES_TO_OFFSET).expect("prepare");
            let edges: Vec<([u8; 16], i64)> = st
                .query_map(params![b(owner), limit as i64, offset as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("edges offset")
                .map(|r| r.expect("row"))
                .collect();
            drop(st);
            out = self.rows(viewer, &edges, limit).0;
        }
        self.commit();
        out
    }

    /// The `seq` at `frac` of `owner`'s follower list (for a deep keyset page)
    /// and the matching offset.
    pub fn deep_position(&self, owner: UserId, frac: f64) -> (i64, usize) {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM edges WHERE kind = 1 AND to_id = ?1",
                params![b(owner)],
                |r| r.get(0),
            )
            .expect("count");
        let offset = ((n as f64) * frac) as usize;
        let seq: i64 = self
            .conn
            .query_row(
                "SELECT seq FROM edges WHERE kind = 1 AND to_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                params![b(owner), offset as i64 - 1],
                |r| r.get(0),
            )
            .expect("deep seq");
        (seq, offset)
    }

    /// Known followers: the owner's followers the viewer follows, newest first.
    pub fn known_followers(&self, viewer: UserId, owner: UserId, limit: usize) -> Vec<Row> {
        self.begin();
        let mut out = Vec::new();
        if self.list_checks(viewer, owner) {
            let mut st = self.conn.prepare_cached(KNOWN).expect("prepare");
            let edges: Vec<([u8; 16], i64)> = st
                .query_map(params![b(viewer), b(owner), (limit + 1) as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("known")
                .map(|r| r.expect("row"))
                .collect();
            drop(st);
            out = self.rows(viewer, &edges, limit).0;
        }
        self.commit();
        out
    }

    /// The viewer's relationship to each of `ids`.
    pub fn relationships(&self, viewer: UserId, ids: &[UserId]) -> Vec<(UserId, Rel)> {
        self.begin();
        let v = self.user(viewer).expect("viewer");
        assert!(v.active());
        let users = self.users(ids);
        let rels = self.rels(viewer, ids);
        self.commit();
        ids.iter()
            .map(|id| {
                let k = b(*id);
                let visible = users.get(&k).is_some_and(|u| u.active())
                    && !rels.get(&k).is_some_and(|r| r.blocked_by);
                (
                    *id,
                    if visible {
                        rels.get(&k).copied().unwrap_or_default()
                    } else {
                        Rel::default()
                    },
                )
            })
            .collect()
    }

    /// The owner's counters (`me` minus connected accounts).
    pub fn counts(&self, id: UserId) -> Option<LiteCounts> {
        self.begin();
        let u = self.user(id).map(|u| u.counts);
        self.commit();
        u
    }

    /// A page of the user's rooms, newest membership first, whose folded name
    /// contains `needle` (lower-cased).
    pub fn my_rooms(&self, user: UserId, needle: &str, limit: usize) -> Vec<(String, String)> {
        self.begin();
        let _ = self.user(user).expect("actor");
        let mut rows = Vec::new();
        let mut before = i64::MAX;
        let batch = (limit + 1).max(32);
        loop {
            let mut st = self.conn.prepare_cached(MEMBERSHIPS_OF).expect("prepare");
            let ms: Vec<(Vec<u8>, String, i64)> = st
                .query_map(params![b(user), before, batch as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .expect("memberships")
                .map(|r| r.expect("row"))
                .collect();
            drop(st);
            let exhausted = ms.len() < batch;
            let Some(last) = ms.last().map(|m| m.2) else {
                break;
            };
            before = last;
            let ids: Rc<Vec<Value>> =
                Rc::new(ms.iter().map(|m| Value::Blob(m.0.clone())).collect());
            let mut st = self.conn.prepare_cached(ROOMS).expect("prepare");
            let rooms: HashMap<Vec<u8>, serde_json::Value> = st
                .query_map(params![ids], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
                })
                .expect("rooms")
                .map(|r| {
                    let (id, rec) = r.expect("row");
                    (id, serde_json::from_str(&rec).expect("decode room"))
                })
                .collect();
            drop(st);
            for (id, role, _) in &ms {
                let Some(room) = rooms.get(id) else { continue };
                let name = room["name"].as_str().unwrap_or_default();
                if kinfolk::text::fold(name).contains(needle) {
                    rows.push((name.to_string(), role.clone()));
                    if rows.len() > limit {
                        break;
                    }
                }
            }
            if rows.len() > limit || exhausted {
                break;
            }
        }
        self.commit();
        rows.truncate(limit);
        rows
    }

    fn append_change(&self, json: String, at: &str) -> i64 {
        let mut st = self.conn.prepare_cached(NEXT_SEQ).expect("prepare");
        let seq: i64 = st.query_row([], |r| r.get(0)).expect("next seq");
        drop(st);
        let mut st = self.conn.prepare_cached(INSERT_CHANGE).expect("prepare");
        st.execute(params![seq, at, json]).expect("insert change");
        seq
    }

    fn bump(v: &mut serde_json::Value, field: &str, delta: i64) {
        let c = &mut v["counts"][field];
        let n = c.as_i64().unwrap_or(0) + delta;
        *c = serde_json::Value::from(n.max(0));
    }

    /// Follows `target` (durable, one transaction). Returns whether it changed.
    pub fn follow(&self, actor: UserId, target: UserId) -> bool {
        self.begin_write();
        let mut a = self.user_value(actor);
        let mut t = self.user_value(target);
        let ok = a["status"] == "active"
            && t["status"] == "active"
            && !self.edge(3, target, actor)
            && !self.edge(1, actor, target)
            && !self.edge(2, actor, target)
            && !self.edge(3, actor, target);
        if ok {
            let at = now_text();
            let seq = self.append_change(
                format!(r#"{{"type":"followed","follower":"{actor}","followee":"{target}"}}"#),
                &at,
            );
            let mut st = self.conn.prepare_cached(INSERT_EDGE).expect("prepare");
            st.execute(params![b(actor), b(target), seq, at])
                .expect("insert edge");
            drop(st);
            Self::bump(&mut a, "following", 1);
            Self::bump(&mut t, "followers", 1);
            self.put_user_value(actor, &a);
            self.put_user_value(target, &t);
        }
        self.commit();
        ok
    }

    /// Unfollows `target` (durable, one transaction). Returns whether it changed.
    pub fn unfollow(&self, actor: UserId, target: UserId) -> bool {
        self.begin_write();
        let mut a = self.user_value(actor);
        let mut t = self.user_value(target);
        let mut st = self.conn.prepare_cached(DELETE_EDGE).expect("prepare");
        let gone: Option<i64> = st
            .query_row(params![b(actor), b(target)], |r| r.get(0))
            .optional()
            .expect("delete edge");
        drop(st);
        if gone.is_some() {
            let at = now_text();
            self.append_change(
                format!(r#"{{"type":"unfollowed","follower":"{actor}","followee":"{target}"}}"#),
                &at,
            );
            Self::bump(&mut a, "following", -1);
            Self::bump(&mut t, "followers", -1);
            self.put_user_value(actor, &a);
            self.put_user_value(target, &t);
        }
        self.commit();
        gone.is_some()
    }

    /// Registers a user (claim + record + feed event), cloning the record
    /// shape of `template`.
    pub fn register(&self, template: UserId, username: &str, name: &str) -> UserId {
        self.begin_write();
        let folded = username.to_ascii_lowercase();
        let mut st = self.conn.prepare_cached(CLAIM).expect("prepare");
        let taken = st
            .query_row(params![folded], |_| Ok(()))
            .optional()
            .expect("claim")
            .is_some();
        drop(st);
        assert!(!taken, "username taken");
        let id = UserId::new();
        let mut v = self.user_value(template);
        let at = now_text();
        v["id"] = serde_json::Value::from(id.to_string());
        v["username"] = serde_json::Value::from(username);
        v["name"] = serde_json::Value::from(name);
        v["counts"] =
            serde_json::json!({"followers":0,"following":0,"pending_requests":0,"rooms":0});
        v["created_at"] = serde_json::Value::from(at.clone());
        v["updated_at"] = serde_json::Value::from(at.clone());
        let mut st = self.conn.prepare_cached(INSERT_CLAIM).expect("prepare");
        st.execute(params![folded, b(id), username])
            .expect("insert claim");
        drop(st);
        self.put_user_value(id, &v);
        self.append_change(
            format!(r#"{{"type":"user_registered","user":"{id}"}}"#),
            &at,
        );
        self.commit();
        id
    }

    /// Changes the display name (record rewrite + feed event).
    pub fn update_name(&self, actor: UserId, name: &str) {
        self.begin_write();
        let mut v = self.user_value(actor);
        let at = now_text();
        v["name"] = serde_json::Value::from(name);
        v["updated_at"] = serde_json::Value::from(at.clone());
        self.put_user_value(actor, &v);
        self.append_change(
            format!(r#"{{"type":"profile_updated","user":"{actor}"}}"#),
            &at,
        );
        self.commit();
    }
}
