//! [`ReadTx`] and [`WriteTx`] over one connection inside a transaction.
//!
//! Each method is one cached statement from [`crate::sql`] — one round trip.
//! The transaction itself (begin, commit, rollback) is run by
//! [`crate::pool`]. A statement that fails aborts the PostgreSQL transaction,
//! so the first failure is remembered ([`Tx::failure`]): the pool then rolls
//! back whatever the job answers, and answers that failure when the job
//! swallowed it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use kinfolk::store::{ReadTx, WriteTx};
use kinfolk::user::{ConnectedAccount, User, UsernameClaim};
use kinfolk::{
    Anchor, Change, ChangeEvent, Edge, EdgeKind, Error, Membership, Result, Room, RoomId,
    Timestamp, UserId, Username,
};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use uuid::Uuid;

use crate::codec::{self, Cols, rid, uid};
use crate::error::{Failure, Kind, Stage, classify};
use crate::known::{Known, MAX_PENDING};
use crate::sql;
use crate::{FEED_LOCK, FeedOrder};

/// Events one transaction may append: the low 16 bits of a sequence number.
const EVENTS_PER_TX: i64 = 1 << 16;

/// A connection with its prepared statements.
pub(crate) struct Conn {
    pub(crate) client: Client,
    stmts: HashMap<&'static str, Statement>,
    order: FeedOrder,
    /// Whether transactions keep what they know (`crate::known`).
    batching: bool,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    pub(crate) fn new(client: Client, order: FeedOrder, batching: bool) -> Self {
        Self {
            client,
            stmts: HashMap::new(),
            order,
            batching,
        }
    }

    fn stmt(&mut self, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        crate::round_trip();
        let s = self.client.prepare(sql)?;
        self.stmts.insert(sql, s.clone());
        Ok(s)
    }

    /// Runs a cached statement and returns its rows.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> std::result::Result<Vec<Row>, postgres::Error> {
        let stmt = self.stmt(sql)?;
        crate::round_trip();
        self.client.query(&stmt, params)
    }
}

/// A transaction on a connection, begun by the caller.
pub(crate) struct Tx<'c> {
    conn: RefCell<&'c mut Conn>,
    failure: RefCell<Option<Failure>>,
    appended: Cell<i64>,
    /// What this transaction read and wrote, when the connection batches.
    known: Option<RefCell<Known>>,
}

impl<'c> Tx<'c> {
    /// Wraps a connection on which a transaction is open.
    pub(crate) fn new(conn: &'c mut Conn) -> Self {
        let known = conn.batching.then(|| RefCell::new(Known::default()));
        Self {
            conn: RefCell::new(conn),
            failure: RefCell::new(None),
            appended: Cell::new(0),
            known,
        }
    }

    /// The user writes not yet sent, for the commit batch
    /// ([`crate::sql::put_users_then`]).
    pub(crate) fn take_pending(&self) -> Vec<(Uuid, String)> {
        self.known
            .as_ref()
            .map(|k| k.borrow_mut().take_pending())
            .unwrap_or_default()
    }

    /// Sends the queued user writes as one statement.
    fn flush(&self) -> Result<()> {
        let pending = self.take_pending();
        if pending.is_empty() {
            return Ok(());
        }
        let (ids, json): (Vec<Uuid>, Vec<String>) = pending.into_iter().unzip();
        let res = self.conn.borrow_mut().query(sql::PUT_USERS, &[&ids, &json]);
        res.map(drop)
            .map_err(|e| self.doom(classify(&e, Stage::Statement)))
    }

    /// The first engine failure of the transaction (a transient one wins):
    /// the transaction is aborted and MUST NOT commit.
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.failure.borrow().clone()
    }

    fn doom(&self, f: Failure) -> Error {
        let err = f.to_error();
        let mut slot = self.failure.borrow_mut();
        if slot.is_none()
            || (f.kind == Kind::Transient
                && slot.as_ref().is_some_and(|s| s.kind != Kind::Transient))
        {
            *slot = Some(f);
        }
        err
    }

    fn rows(&self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>> {
        if let Some(f) = self.failure() {
            // PostgreSQL refuses every statement of an aborted transaction.
            return Err(f.to_error());
        }
        // Queued user writes go first: the statement may read them.
        self.flush()?;
        let res = self.conn.borrow_mut().query(sql, params);
        res.map_err(|e| self.doom(classify(&e, Stage::Statement)))
    }

    fn all<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        table: &'static str,
        decode: impl Fn(&Cols<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.rows(sql, params)?
            .iter()
            .map(|r| decode(&Cols::new(r, table)))
            .collect()
    }

    fn first<T>(
        &self,
        sql: &'static str,
        params: Params<'_>,
        table: &'static str,
        decode: impl Fn(&Cols<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        match self.rows(sql, params)?.first() {
            Some(r) => decode(&Cols::new(r, table)).map(Some),
            None => Ok(None),
        }
    }

    fn exec(&self, sql: &'static str, params: Params<'_>) -> Result<usize> {
        self.rows(sql, params).map(|r| r.len())
    }

    fn anchored<T>(
        &self,
        sql: &'static str,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
        decode: impl Fn(&Cols<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let id = match anchor {
            Anchor::From(id) | Anchor::To(id) => uid(id),
        };
        let before = before.map_or(i64::MAX, codec::int);
        let code = i16::from(kind.code());
        self.all(
            sql,
            &[&code, &id, &before, &codec::limit(limit)],
            "edges",
            decode,
        )
    }

    fn order(&self) -> FeedOrder {
        self.conn.borrow().order
    }

    /// Reserves `n` event numbers of this transaction; returns the first.
    fn reserve(&self, n: usize) -> Result<i64> {
        let first = self.appended.get();
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        match first.checked_add(n) {
            Some(end) if end <= EVENTS_PER_TX => {
                self.appended.set(end);
                Ok(first)
            }
            _ => Err(Error::storage(format!(
                "one transaction may append at most {EVENTS_PER_TX} feed events"
            ))),
        }
    }
}

/// Whether a key cannot be stored in a `text` column (PostgreSQL text holds
/// no NUL character): no row has it, so a lookup of it finds nothing
/// without asking the server (which would refuse the parameter).
fn unstorable(key: &str) -> bool {
    key.contains('\0')
}

fn ids(ids: impl IntoIterator<Item = UserId>) -> Vec<Uuid> {
    ids.into_iter().map(uid).collect()
}

fn user(c: &Cols<'_>) -> Result<User> {
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

fn room(c: &Cols<'_>) -> Result<Room> {
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

fn claim(c: &Cols<'_>) -> Result<UsernameClaim> {
    let username = c.text(2)?;
    Ok(UsernameClaim {
        folded: c.text(0)?.to_owned(),
        user: c.user_id(1)?,
        username: Username::parse(username)
            .map_err(|e| Error::corrupt(format_args!("username_claims: stored username: {e}")))?,
        held_until: c.opt_ts(3)?,
    })
}

fn edge(c: &Cols<'_>) -> Result<Edge> {
    let code = c.i16(0)?;
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

fn membership(c: &Cols<'_>) -> Result<Membership> {
    Ok(Membership {
        room: c.room_id(0)?,
        user: c.user_id(1)?,
        role: c.role(2)?,
        joined_at: c.ts(3)?,
        seq: c.seq(4)?,
    })
}

fn account(c: &Cols<'_>) -> Result<ConnectedAccount> {
    Ok(ConnectedAccount {
        user: c.user_id(0)?,
        provider: c.text(1)?.to_owned(),
        external_id: c.text(2)?.to_owned(),
        handle: c.text(3)?.to_owned(),
        connected_at: c.ts(4)?,
    })
}

fn change(c: &Cols<'_>) -> Result<ChangeEvent> {
    Ok(ChangeEvent {
        seq: c.seq(0)?,
        at: c.ts(1)?,
        change: c.json(2)?,
    })
}

impl ReadTx for Tx<'_> {
    fn user(&self, id: UserId) -> Result<Option<User>> {
        if let Some(known) = self.known.as_ref().and_then(|k| k.borrow().user(id)) {
            return Ok(known);
        }
        let found = self.first(sql::USER, &[&uid(id)], "users", user)?;
        if let Some(k) = &self.known {
            k.borrow_mut().set_user(id, found.clone());
        }
        Ok(found)
    }

    fn users(&self, list: &[UserId]) -> Result<Vec<User>> {
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.all(sql::USERS, &[&ids(list.iter().copied())], "users", user)?;
        if let Some(k) = &self.known {
            let mut k = k.borrow_mut();
            for &id in list {
                k.set_user(id, None);
            }
            for u in &found {
                k.set_user(u.id, Some(u.clone()));
            }
        }
        Ok(found)
    }

    fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        let limit = codec::limit(limit);
        match after {
            None => self.all(sql::USERS_FIRST, &[&limit], "users", user),
            Some(id) => self.all(sql::USERS_AFTER, &[&uid(id), &limit], "users", user),
        }
    }

    fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>> {
        if unstorable(folded) {
            return Ok(None);
        }
        self.first(sql::CLAIM, &[&folded], "username_claims", claim)
    }

    fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>> {
        self.all(sql::CLAIMS_OF, &[&uid(user)], "username_claims", claim)
    }

    fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        let Some(known) = &self.known else {
            let code = i16::from(kind.code());
            return self.first(sql::EDGE, &[&code, &uid(from), &uid(to)], "edges", edge);
        };
        if let Some(e) = known.borrow().edge(kind, from, to) {
            return Ok(e);
        }
        // Every edge of the pair in one statement: the job usually asks
        // for the other kinds next (follow, request, both blocks).
        self.edges_between(from, &[to])?;
        Ok(known.borrow().edge(kind, from, to).flatten())
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
        let code = i16::from(kind.code());
        self.all(
            sql::EDGES_INTO,
            &[&code, &ids(froms.iter().copied()), &uid(to)],
            "edges",
            edge,
        )
    }

    fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(edges) = self
            .known
            .as_ref()
            .and_then(|k| k.borrow().between(user, others))
        {
            return Ok(edges);
        }
        let edges = self.all(
            sql::EDGES_BETWEEN,
            &[&uid(user), &ids(others.iter().copied())],
            "edges",
            edge,
        )?;
        if let Some(k) = &self.known {
            k.borrow_mut().set_between(user, others, &edges);
        }
        Ok(edges)
    }

    fn room(&self, id: RoomId) -> Result<Option<Room>> {
        self.first(sql::ROOM, &[&rid(id)], "rooms", room)
    }

    fn rooms(&self, list: &[RoomId]) -> Result<Vec<Room>> {
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<Uuid> = list.iter().map(|&r| rid(r)).collect();
        self.all(sql::ROOMS, &[&list], "rooms", room)
    }

    fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        self.first(
            sql::MEMBERSHIP,
            &[&rid(room), &uid(user)],
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
            &[&uid(user), &before, &codec::limit(limit)],
            "memberships",
            membership,
        )
    }

    fn members(&self, room: RoomId, after: Option<u64>, limit: usize) -> Result<Vec<Membership>> {
        let after = after.map_or(i64::MIN, codec::int);
        self.all(
            sql::MEMBERS,
            &[&rid(room), &after, &codec::limit(limit)],
            "memberships",
            membership,
        )
    }

    fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        self.all(
            sql::MEMBERSHIPS_IN,
            &[&rid(room), &ids(users.iter().copied())],
            "memberships",
            membership,
        )
    }

    fn connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        if unstorable(provider) || unstorable(external_id) {
            return Ok(None);
        }
        self.first(
            sql::ACCOUNT,
            &[&provider, &external_id],
            "connected_accounts",
            account,
        )
    }

    fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>> {
        self.all(
            sql::ACCOUNTS_OF,
            &[&uid(user)],
            "connected_accounts",
            account,
        )
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>> {
        let sql = match self.order() {
            FeedOrder::Commit => sql::CHANGES_SINCE,
            FeedOrder::TransactionId => sql::CHANGES_SINCE_XID,
        };
        self.all(
            sql,
            &[&codec::int(after), &codec::limit(limit)],
            "changes",
            change,
        )
    }

    fn last_seq(&self) -> Result<u64> {
        let (trimmed, newest) = self
            .first(
                match self.order() {
                    FeedOrder::Commit => sql::LAST_SEQ,
                    FeedOrder::TransactionId => sql::LAST_SEQ_XID,
                },
                &[],
                "feed_meta",
                |c| Ok((c.opt_i64(0)?, c.opt_i64(1)?)),
            )?
            .ok_or_else(|| Error::corrupt("feed_meta: no answer"))?;
        let trimmed = trimmed.ok_or_else(|| Error::corrupt("feed_meta: the row is missing"))?;
        u64::try_from(trimmed.max(newest.unwrap_or(0)))
            .map_err(|_| Error::corrupt("feed_meta: negative sequence number"))
    }

    fn edges_exist(&self, kind: EdgeKind, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let code = i16::from(kind.code());
        let froms = ids(pairs.iter().map(|p| p.0));
        let tos = ids(pairs.iter().map(|p| p.1));
        let found: HashSet<(UserId, UserId)> = self
            .all(sql::EDGES_EXIST, &[&code, &froms, &tos], "edges", |c| {
                Ok((c.user_id(0)?, c.user_id(1)?))
            })?
            .into_iter()
            .collect();
        Ok(pairs.iter().map(|p| found.contains(p)).collect())
    }
}

impl WriteTx for Tx<'_> {
    fn append_change(&mut self, at: Timestamp, change: Change) -> Result<u64> {
        let json = codec::json("change", &change)?;
        let (sql, first) = match self.order() {
            FeedOrder::Commit => (sql::INSERT_CHANGE, FEED_LOCK),
            FeedOrder::TransactionId => (sql::INSERT_CHANGE_XID, self.reserve(1)?),
        };
        let seq = self
            .first(sql, &[&first, &codec::ts(&at), &json], "changes", |c| {
                c.seq(0)
            })?
            .ok_or_else(|| Error::storage("appending a feed event returned no sequence number"))?;
        Ok(seq)
    }

    fn append_changes(&mut self, at: Timestamp, changes: Vec<Change>) -> Result<Vec<u64>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let json = changes
            .iter()
            .map(|c| codec::json("change", c))
            .collect::<Result<Vec<_>>>()?;
        let (sql, first) = match self.order() {
            FeedOrder::Commit => (sql::INSERT_CHANGES, FEED_LOCK),
            FeedOrder::TransactionId => (sql::INSERT_CHANGES_XID, self.reserve(json.len())?),
        };
        // Numbers are taken row by row in input order (the function scan of
        // `unnest … WITH ORDINALITY` emits rows in order); RETURNING has no
        // order, so sorting the numbers gives them back in input order.
        let mut seqs = self.all(sql, &[&first, &codec::ts(&at), &json], "changes", |c| {
            c.seq(0)
        })?;
        seqs.sort_unstable();
        if seqs.len() != json.len() {
            return Err(self.doom(Failure::storage(
                "appending feed events returned another number of sequence numbers",
            )));
        }
        Ok(seqs)
    }

    /// `Commit` order: one statement ([`sql::RAISE_SEQ`]) moves the
    /// sequence and the floor of `last_seq`, no events (the port's default
    /// appends one event per skipped number: 20 million for a large import).
    /// `TransactionId` order: numbers come from transaction ids, which no
    /// statement can raise; every later transaction's numbers are above this
    /// one's, so one empty [`Change::Imported`] event of this transaction
    /// raises the feed (visible, as any event, once no older transaction is
    /// in flight); refused with [`Error::Storage`] when `upto` lies beyond
    /// this transaction's numbers.
    fn raise_seq(&mut self, at: Timestamp, upto: u64) -> Result<()> {
        if self.last_seq()? >= upto {
            return Ok(());
        }
        match self.order() {
            FeedOrder::Commit => {
                self.first(
                    sql::RAISE_SEQ,
                    &[&FEED_LOCK, &codec::seq(upto)?],
                    "feed_meta",
                    |c| c.i64(0),
                )?
                .ok_or_else(|| Error::corrupt("feed_meta: the row is missing"))?;
                Ok(())
            }
            FeedOrder::TransactionId => {
                let seq = self.append_change(at, Change::Imported { users: Vec::new() })?;
                if seq < upto {
                    return Err(self.doom(Failure::storage(format!(
                        "cannot raise the feed to {upto}: in feed order TransactionId sequence \
                         numbers follow transaction ids, and this transaction's are near {seq}"
                    ))));
                }
                Ok(())
            }
        }
    }

    /// One statement, no events: `Commit` order takes `n` numbers from the
    /// feed's sequence under the feed lock (as an append does); `TransactionId`
    /// order takes the next `n` numbers of this transaction (counted against
    /// its 2^16 per transaction).
    fn reserve_seqs(&mut self, _at: Timestamp, n: usize) -> Result<Vec<u64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let count = i64::try_from(n).map_err(|_| Error::storage("too many sequence numbers"))?;
        let (sql, first) = match self.order() {
            FeedOrder::Commit => (sql::RESERVE_SEQS, FEED_LOCK),
            FeedOrder::TransactionId => (sql::RESERVE_SEQS_XID, self.reserve(n)?),
        };
        let mut seqs = self.all(sql, &[&first, &count], "changes", |c| c.seq(0))?;
        seqs.sort_unstable();
        if seqs.len() != n {
            return Err(self.doom(Failure::storage(
                "reserving sequence numbers returned another number of them",
            )));
        }
        Ok(seqs)
    }

    fn trim_changes(&mut self, upto: u64) -> Result<u64> {
        let n = self
            .first(sql::TRIM_CHANGES, &[&codec::int(upto)], "changes", |c| {
                c.i64(0)
            })?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        let json = codec::json("user", user)?;
        let Some(known) = &self.known else {
            return self.exec(sql::PUT_USER, &[&uid(user.id), &json]).map(drop);
        };
        if known.borrow_mut().queue(user, json) >= MAX_PENDING {
            self.flush()?;
        }
        Ok(())
    }

    fn delete_user(&mut self, id: UserId) -> Result<()> {
        self.exec(sql::DELETE_USER, &[&uid(id)])?;
        if let Some(k) = &self.known {
            k.borrow_mut().forget_user(id);
        }
        Ok(())
    }

    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        let inserted = self.exec(
            sql::INSERT_CLAIM,
            &[
                &claim.folded,
                &uid(claim.user),
                &claim.username.as_str(),
                &codec::opt_ts(&claim.held_until),
            ],
        )?;
        if inserted == 0 {
            return Err(Error::UsernameTaken);
        }
        Ok(())
    }

    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        if unstorable(&claim.folded) {
            return Ok(());
        }
        self.exec(
            sql::UPDATE_CLAIM,
            &[
                &claim.folded,
                &uid(claim.user),
                &claim.username.as_str(),
                &codec::opt_ts(&claim.held_until),
            ],
        )
        .map(drop)
    }

    fn delete_username_claim(&mut self, folded: &str) -> Result<()> {
        if unstorable(folded) {
            return Ok(());
        }
        self.exec(sql::DELETE_CLAIM, &[&folded]).map(drop)
    }

    fn insert_edge(&mut self, e: &Edge) -> Result<()> {
        let code = i16::from(e.kind.code());
        let inserted = self.exec(
            sql::INSERT_EDGE,
            &[
                &code,
                &uid(e.from),
                &uid(e.to),
                &codec::seq(e.seq)?,
                &codec::ts(&e.since),
                &codec::opt_ts(&e.until),
            ],
        )?;
        if inserted == 0 {
            return Err(Error::Conflict {
                reason: "edge exists",
            });
        }
        if let Some(k) = &self.known {
            k.borrow_mut().inserted(e);
        }
        Ok(())
    }

    fn insert_edges(&mut self, edges: &[Edge]) -> Result<()> {
        if edges.is_empty() {
            return Ok(());
        }
        let kinds: Vec<i16> = edges.iter().map(|e| i16::from(e.kind.code())).collect();
        let froms = ids(edges.iter().map(|e| e.from));
        let tos = ids(edges.iter().map(|e| e.to));
        let seqs = edges
            .iter()
            .map(|e| codec::seq(e.seq))
            .collect::<Result<Vec<_>>>()?;
        let sinces: Vec<String> = edges.iter().map(|e| codec::ts(&e.since)).collect();
        let untils: Vec<Option<String>> = edges.iter().map(|e| codec::opt_ts(&e.until)).collect();
        // A duplicate raises a unique violation, which aborts (dooms) the
        // transaction: no edge of the batch stays.
        self.exec(
            sql::INSERT_EDGES,
            &[&kinds, &froms, &tos, &seqs, &sinces, &untils],
        )?;
        if let Some(k) = &self.known {
            let mut k = k.borrow_mut();
            for e in edges {
                k.inserted(e);
            }
        }
        Ok(())
    }

    fn put_users(&mut self, users: &[User]) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        if let Some(known) = &self.known {
            // Queued like put_user (the last record of an id wins).
            let mut queued = 0;
            for u in users {
                let json = codec::json("user", u)?;
                queued = known.borrow_mut().queue(u, json);
            }
            if queued >= MAX_PENDING {
                self.flush()?;
            }
            return Ok(());
        }
        // One upsert may not touch a row twice: the last record of an id wins,
        // as it would with one put_user per record.
        let mut last: HashMap<UserId, usize> = HashMap::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            last.insert(u.id, i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let list = ids(keep.iter().map(|&i| users[i].id));
        let json = keep
            .iter()
            .map(|&i| codec::json("user", &users[i]))
            .collect::<Result<Vec<_>>>()?;
        self.exec(sql::PUT_USERS, &[&list, &json]).map(drop)
    }

    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        let code = i16::from(kind.code());
        let deleted = self.first(
            sql::DELETE_EDGE,
            &[&code, &uid(from), &uid(to)],
            "edges",
            edge,
        )?;
        if let (Some(k), Some(_)) = (&self.known, &deleted) {
            k.borrow_mut().deleted(kind, from, to);
        }
        Ok(deleted)
    }

    fn put_room(&mut self, room: &Room) -> Result<()> {
        let json = codec::json("room", room)?;
        self.exec(sql::PUT_ROOM, &[&rid(room.id), &json]).map(drop)
    }

    fn delete_room(&mut self, id: RoomId) -> Result<()> {
        self.exec(sql::DELETE_ROOM, &[&rid(id)]).map(drop)
    }

    fn put_membership(&mut self, m: &Membership) -> Result<()> {
        self.exec(
            sql::PUT_MEMBERSHIP,
            &[
                &rid(m.room),
                &uid(m.user),
                &codec::role(m.role),
                &codec::ts(&m.joined_at),
                &codec::seq(m.seq)?,
            ],
        )
        .map(drop)
    }

    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        self.first(
            sql::DELETE_MEMBERSHIP,
            &[&rid(room), &uid(user)],
            "memberships",
            membership,
        )
    }

    fn insert_connected_account(&mut self, a: &ConnectedAccount) -> Result<()> {
        let inserted = self.exec(
            sql::INSERT_ACCOUNT,
            &[
                &uid(a.user),
                &a.provider,
                &a.external_id,
                &a.handle,
                &codec::ts(&a.connected_at),
            ],
        )?;
        if inserted == 0 {
            return Err(Error::Conflict {
                reason: "connected account is already linked",
            });
        }
        Ok(())
    }

    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        if unstorable(provider) || unstorable(external_id) {
            return Ok(None);
        }
        self.first(
            sql::DELETE_ACCOUNT,
            &[&provider, &external_id],
            "connected_accounts",
            account,
        )
    }
}
