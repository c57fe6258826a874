//! [`ReadTx`] and [`WriteTx`] over one SQLite connection inside a transaction.
//!
//! Each method is one cached statement from [`crate::sql`]; the transaction
//! itself (begin, commit, rollback) is run by [`crate::threads`].

use std::collections::HashSet;

use kinfolk::profile::{ConnectedAccount, User, UsernameClaim};
use kinfolk::store::{ReadTx, WriteTx};
use kinfolk::{
    Anchor, Change, ChangeEvent, Edge, EdgeKind, Error, Membership, Result, Room, RoomId,
    Timestamp, UserId, Username,
};
use rusqlite::{CachedStatement, Connection, Params, params};

use crate::codec::{self, Cols};
use crate::error::map;
use crate::sql;

/// A transaction on `conn`, begun by the caller.
pub(crate) struct Tx<'c> {
    conn: &'c Connection,
}

impl<'c> Tx<'c> {
    /// Wraps a connection on which a transaction is open.
    pub(crate) fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    fn stmt(&self, sql: &str) -> Result<CachedStatement<'c>> {
        self.conn.prepare_cached(sql).map_err(map)
    }

    /// Runs a query and decodes every row.
    /// A keyset page of one anchor's edges of `kind`, newest first: `sql`
    /// takes (kind, anchor id, before seq, limit).
    fn anchored<T>(
        &self,
        sql: &str,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
        decode: impl Fn(&Cols<'_, '_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let id = match anchor {
            Anchor::From(id) | Anchor::To(id) => id,
        };
        let before = before.map_or(i64::MAX, codec::int);
        self.all(
            sql,
            params![kind.code(), id.to_bytes(), before, codec::limit(limit)],
            "edges",
            decode,
        )
    }

    fn all<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        table: &'static str,
        decode: impl Fn(&Cols<'_, '_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.stmt(sql)?;
        let mut rows = stmt.query(params).map_err(map)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map)? {
            out.push(decode(&Cols::new(row, table))?);
        }
        Ok(out)
    }

    /// Runs a query and decodes its first row, if any.
    fn first<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        table: &'static str,
        decode: impl Fn(&Cols<'_, '_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut stmt = self.stmt(sql)?;
        let mut rows = stmt.query(params).map_err(map)?;
        match rows.next().map_err(map)? {
            Some(row) => decode(&Cols::new(row, table)).map(Some),
            None => Ok(None),
        }
    }

    /// Runs a statement that returns no rows; returns how many rows changed.
    fn exec<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.stmt(sql)?.execute(params).map_err(map)
    }
}

fn user(c: &Cols<'_, '_>) -> Result<User> {
    let id = c.user_id(0)?;
    let user: User = c.json(1)?;
    if user.id != id {
        return Err(Error::corrupt(format_args!(
            "user row {id} holds the record of {}",
            user.id
        )));
    }
    Ok(user)
}

fn room(c: &Cols<'_, '_>) -> Result<Room> {
    let id = c.room_id(0)?;
    let room: Room = c.json(1)?;
    if room.id != id {
        return Err(Error::corrupt(format_args!(
            "room row {id} holds the record of {}",
            room.id
        )));
    }
    Ok(room)
}

fn claim(c: &Cols<'_, '_>) -> Result<UsernameClaim> {
    let username = c.text(2)?;
    Ok(UsernameClaim {
        folded: c.text(0)?.to_owned(),
        user: c.user_id(1)?,
        username: Username::parse(username)
            .map_err(|e| Error::corrupt(format_args!("username_claims: stored username: {e}")))?,
        held_until: c.opt_ts(3)?,
    })
}

fn edge(c: &Cols<'_, '_>) -> Result<Edge> {
    let code = c.i64(0)?;
    let kind = u8::try_from(code)
        .ok()
        .and_then(EdgeKind::from_code)
        .ok_or_else(|| Error::corrupt(format_args!("edges: unknown edge kind {code}")))?;
    Ok(Edge {
        kind,
        from: c.user_id(1)?,
        to: c.user_id(2)?,
        seq: c.seq(3)?,
        since: c.ts(4)?,
        until: c.opt_ts(5)?,
    })
}

fn membership(c: &Cols<'_, '_>) -> Result<Membership> {
    Ok(Membership {
        room: c.room_id(0)?,
        user: c.user_id(1)?,
        role: c.role(2)?,
        joined_at: c.ts(3)?,
        seq: c.seq(4)?,
    })
}

fn account(c: &Cols<'_, '_>) -> Result<ConnectedAccount> {
    Ok(ConnectedAccount {
        user: c.user_id(0)?,
        provider: c.text(1)?.to_owned(),
        external_id: c.text(2)?.to_owned(),
        handle: c.text(3)?.to_owned(),
        connected_at: c.ts(4)?,
    })
}

fn change(c: &Cols<'_, '_>) -> Result<ChangeEvent> {
    Ok(ChangeEvent {
        seq: c.seq(0)?,
        at: c.ts(1)?,
        change: c.json(2)?,
    })
}

impl ReadTx for Tx<'_> {
    fn user(&self, id: UserId) -> Result<Option<User>> {
        self.first(sql::USER, [id.to_bytes()], "users", user)
    }

    fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = codec::id_array(ids.iter().map(|id| id.to_bytes()));
        self.all(sql::USERS, [ids], "users", user)
    }

    fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        // An empty blob sorts before every 16-byte id.
        let after = after.map(|id| id.to_bytes().to_vec()).unwrap_or_default();
        self.all(
            sql::USERS_AFTER,
            params![after, codec::limit(limit)],
            "users",
            user,
        )
    }

    fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>> {
        self.first(sql::CLAIM, [folded], "username_claims", claim)
    }

    fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>> {
        self.all(sql::CLAIMS_OF, [user.to_bytes()], "username_claims", claim)
    }

    fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        self.first(
            sql::EDGE,
            params![kind.code(), from.to_bytes(), to.to_bytes()],
            "edges",
            edge,
        )
    }

    fn edges(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Edge>> {
        let sql = match anchor {
            Anchor::From(_) => sql::EDGES_FROM,
            Anchor::To(_) => sql::EDGES_TO,
        };
        self.anchored(sql, kind, anchor, before, limit, edge)
    }

    fn edge_keys(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, UserId)>> {
        let sql = match anchor {
            Anchor::From(_) => sql::EDGE_KEYS_FROM,
            Anchor::To(_) => sql::EDGE_KEYS_TO,
        };
        self.anchored(sql, kind, anchor, before, limit, |c| {
            Ok((c.seq(0)?, c.user_id(1)?))
        })
    }

    fn edges_into(&self, kind: EdgeKind, froms: &[UserId], to: UserId) -> Result<Vec<Edge>> {
        if froms.is_empty() {
            return Ok(Vec::new());
        }
        let froms = codec::id_array(froms.iter().map(|id| id.to_bytes()));
        self.all(
            sql::EDGES_INTO,
            params![kind.code(), froms, to.to_bytes()],
            "edges",
            edge,
        )
    }

    fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let others = codec::id_array(others.iter().map(|id| id.to_bytes()));
        self.all(
            sql::EDGES_BETWEEN,
            params![user.to_bytes(), others],
            "edges",
            edge,
        )
    }

    fn room(&self, id: RoomId) -> Result<Option<Room>> {
        self.first(sql::ROOM, [id.to_bytes()], "rooms", room)
    }

    fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = codec::id_array(ids.iter().map(|id| id.to_bytes()));
        self.all(sql::ROOMS, [ids], "rooms", room)
    }

    fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        self.first(
            sql::MEMBERSHIP,
            [room.to_bytes(), user.to_bytes()],
            "memberships",
            membership,
        )
    }

    fn memberships_of(
        &self,
        user: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Membership>> {
        let before = before.map_or(i64::MAX, codec::int);
        self.all(
            sql::MEMBERSHIPS_OF,
            params![user.to_bytes(), before, codec::limit(limit)],
            "memberships",
            membership,
        )
    }

    fn members(&self, room: RoomId, after: Option<u64>, limit: usize) -> Result<Vec<Membership>> {
        let after = after.map_or(i64::MIN, codec::int);
        self.all(
            sql::MEMBERS,
            params![room.to_bytes(), after, codec::limit(limit)],
            "memberships",
            membership,
        )
    }

    fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = codec::id_array(users.iter().map(|id| id.to_bytes()));
        self.all(
            sql::MEMBERSHIPS_IN,
            params![room.to_bytes(), users],
            "memberships",
            membership,
        )
    }

    fn connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        self.first(
            sql::ACCOUNT,
            [provider, external_id],
            "connected_accounts",
            account,
        )
    }

    fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>> {
        let mut out = self.all(
            sql::ACCOUNTS_OF,
            [user.to_bytes()],
            "connected_accounts",
            account,
        )?;
        // Accounts linked at the same instant: by (provider, external_id), as
        // the reference store orders them (not by rowid, which a re-link with
        // a new handle moves to the end). A user has a handful of accounts.
        out.sort_by(|a, b| {
            (a.connected_at, &a.provider, &a.external_id).cmp(&(
                b.connected_at,
                &b.provider,
                &b.external_id,
            ))
        });
        Ok(out)
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>> {
        self.all(
            sql::CHANGES_SINCE,
            params![codec::int(after), codec::limit(limit)],
            "changes",
            change,
        )
    }

    fn last_seq(&self) -> Result<u64> {
        self.first(sql::LAST_SEQ, [], "meta", |c| c.seq(0))?
            .ok_or_else(|| Error::corrupt("meta: the last_seq row is missing"))
    }

    fn edges_exist(&self, kind: EdgeKind, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let list = codec::pair_array(pairs.iter().map(|&(f, t)| (f.to_bytes(), t.to_bytes())));
        let found: HashSet<(UserId, UserId)> = self
            .all(sql::EDGES_EXIST, params![kind.code(), list], "edges", |c| {
                Ok((c.user_id(0)?, c.user_id(1)?))
            })?
            .into_iter()
            .collect();
        Ok(pairs.iter().map(|p| found.contains(p)).collect())
    }
}

impl WriteTx for Tx<'_> {
    fn append_change(&mut self, at: Timestamp, change: Change) -> Result<u64> {
        let seq = self
            .first(sql::NEXT_SEQ, [], "meta", |c| c.seq(0))?
            .ok_or_else(|| Error::corrupt("meta: the last_seq row is missing"))?;
        let json = codec::json("change", &change)?;
        self.exec(
            sql::INSERT_CHANGE,
            params![codec::seq(seq)?, codec::ts(&at), json],
        )?;
        Ok(seq)
    }

    fn append_changes(&mut self, at: Timestamp, changes: Vec<Change>) -> Result<Vec<u64>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let n = u64::try_from(changes.len())
            .map_err(|_| Error::storage("too many feed events in one call"))?;
        let last = self
            .first(sql::NEXT_SEQS, [codec::seq(n)?], "meta", |c| c.seq(0))?
            .ok_or_else(|| Error::corrupt("meta: the last_seq row is missing"))?;
        // The counter was at least 0 before, so `last >= n`.
        let first = last
            .checked_sub(n - 1)
            .ok_or_else(|| Error::corrupt("meta: last_seq went backwards"))?;
        let at = codec::ts(&at);
        let mut stmt = self.stmt(sql::INSERT_CHANGE)?;
        let mut seqs = Vec::with_capacity(changes.len());
        let mut json = String::new();
        for (seq, change) in (first..=last).zip(changes) {
            json.clear();
            codec::json_into(&mut json, "change", &change)?;
            stmt.execute(params![codec::seq(seq)?, at, json])
                .map_err(map)?;
            seqs.push(seq);
        }
        Ok(seqs)
    }

    fn raise_seq(&mut self, _at: Timestamp, upto: u64) -> Result<()> {
        crate::bulk::raise_seq(self.conn, upto)
    }

    fn reserve_seqs(&mut self, _at: Timestamp, n: usize) -> Result<Vec<u64>> {
        crate::bulk::reserve_seqs(self.conn, n)
    }

    fn bulk_load(&mut self, step: kinfolk::store::BulkLoad) -> Result<()> {
        crate::bulk::bulk_load(self.conn, step)
    }

    fn trim_changes(&mut self, upto: u64) -> Result<u64> {
        let n = self.exec(sql::TRIM_CHANGES, [codec::int(upto)])?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        let json = codec::json("user", user)?;
        self.exec(sql::PUT_USER, params![user.id.to_bytes(), json])
            .map(drop)
    }

    fn delete_user(&mut self, id: UserId) -> Result<()> {
        self.exec(sql::DELETE_USER, [id.to_bytes()]).map(drop)
    }

    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        self.exec(
            sql::INSERT_CLAIM,
            params![
                claim.folded,
                claim.user.to_bytes(),
                claim.username.as_str(),
                codec::opt_ts(&claim.held_until)
            ],
        )
        .map(drop)
    }

    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        self.exec(
            sql::UPDATE_CLAIM,
            params![
                claim.folded,
                claim.user.to_bytes(),
                claim.username.as_str(),
                codec::opt_ts(&claim.held_until)
            ],
        )
        .map(drop)
    }

    fn delete_username_claim(&mut self, folded: &str) -> Result<()> {
        self.exec(sql::DELETE_CLAIM, [folded]).map(drop)
    }

    fn insert_edge(&mut self, e: &Edge) -> Result<()> {
        self.exec(
            sql::INSERT_EDGE,
            params![
                e.kind.code(),
                e.from.to_bytes(),
                e.to.to_bytes(),
                codec::seq(e.seq)?,
                codec::ts(&e.since),
                codec::opt_ts(&e.until)
            ],
        )
        .map(drop)
    }

    fn insert_edges(&mut self, edges: &[Edge]) -> Result<()> {
        let mut stmt = self.stmt(sql::INSERT_EDGE)?;
        // Imported edges share one timestamp: format it once per run of equal ones.
        let mut since: Option<(Timestamp, String)> = None;
        for e in edges {
            let text = match &since {
                Some((t, text)) if *t == e.since => text.clone(),
                _ => {
                    let text = codec::ts(&e.since);
                    since = Some((e.since, text.clone()));
                    text
                }
            };
            stmt.execute(params![
                e.kind.code(),
                e.from.to_bytes(),
                e.to.to_bytes(),
                codec::seq(e.seq)?,
                text,
                codec::opt_ts(&e.until)
            ])
            .map_err(map)?;
        }
        Ok(())
    }

    fn put_users(&mut self, users: &[User]) -> Result<()> {
        let mut stmt = self.stmt(sql::PUT_USER)?;
        let mut json = String::new();
        for user in users {
            json.clear();
            codec::json_into(&mut json, "user", user)?;
            stmt.execute(params![user.id.to_bytes(), json])
                .map_err(map)?;
        }
        Ok(())
    }

    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        self.first(
            sql::DELETE_EDGE,
            params![kind.code(), from.to_bytes(), to.to_bytes()],
            "edges",
            edge,
        )
    }

    fn put_room(&mut self, room: &Room) -> Result<()> {
        let json = codec::json("room", room)?;
        self.exec(sql::PUT_ROOM, params![room.id.to_bytes(), json])
            .map(drop)
    }

    fn delete_room(&mut self, id: RoomId) -> Result<()> {
        self.exec(sql::DELETE_ROOM, [id.to_bytes()]).map(drop)
    }

    fn put_membership(&mut self, m: &Membership) -> Result<()> {
        self.exec(
            sql::PUT_MEMBERSHIP,
            params![
                m.room.to_bytes(),
                m.user.to_bytes(),
                codec::role(m.role),
                codec::ts(&m.joined_at),
                codec::seq(m.seq)?
            ],
        )
        .map(drop)
    }

    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        self.first(
            sql::DELETE_MEMBERSHIP,
            [room.to_bytes(), user.to_bytes()],
            "memberships",
            membership,
        )
    }

    fn insert_connected_account(&mut self, a: &ConnectedAccount) -> Result<()> {
        self.exec(
            sql::INSERT_ACCOUNT,
            params![
                a.user.to_bytes(),
                a.provider,
                a.external_id,
                a.handle,
                codec::ts(&a.connected_at)
            ],
        )
        .map(drop)
    }

    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        self.first(
            sql::DELETE_ACCOUNT,
            [provider, external_id],
            "connected_accounts",
            account,
        )
    }
}
