//! The store port over redb transactions: [`ReadTx`] on a read transaction
//! (and on a write transaction, to read its own writes), [`WriteTx`] on a
//! write transaction.
//!
//! Every method is a point get, a range scan, or a small batch of point gets
//! on the tables of `tables.rs`, inside the one transaction the job runs in.
//! Unique keys (username claims, edges, connected accounts) are checked with
//! a point get right before the insert; redb runs one write transaction at a
//! time, so nothing can slip in between.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::hash::Hash;
use std::marker::PhantomData;
use std::ops::Bound;

use kinfolk::profile::UsernameClaim;
use kinfolk::store::{ReadTx, WriteTx};
use kinfolk::{
    Anchor, Change, ChangeEvent, ConnectedAccount, Edge, EdgeKind, Error, Membership, Result, Room,
    RoomId, Timestamp, User, UserId,
};
use redb::{
    Key, ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, Value,
    WriteTransaction,
};
use serde::de::DeserializeOwned;

use crate::codec::{decode, decode_event, encode, encode_event};
use crate::error::EngineResult;
use crate::tables::*;

#[path = "bulk.rs"]
mod bulk;

/// Which kind of transaction the tables belong to.
pub(crate) trait Mode<'t> {
    /// The table type of this mode.
    type T<K: Key + 'static, V: Value + 'static>: ReadableTable<K, V>;
    /// The transaction type of this mode.
    type Txn: 't;
    /// Opens a table in the transaction.
    fn open<K: Key + 'static, V: Value + 'static>(
        txn: &'t Self::Txn,
        table: TableDefinition<'static, K, V>,
    ) -> Result<Self::T<K, V>>;
}

/// Tables of a read transaction.
pub(crate) struct Reading;
impl<'t> Mode<'t> for Reading {
    type T<K: Key + 'static, V: Value + 'static> = ReadOnlyTable<K, V>;
    type Txn = ReadTransaction;
    fn open<K: Key + 'static, V: Value + 'static>(
        txn: &'t ReadTransaction,
        table: TableDefinition<'static, K, V>,
    ) -> Result<ReadOnlyTable<K, V>> {
        txn.open_table(table).engine()
    }
}

/// Tables of the write transaction `'t`.
pub(crate) struct Writing<'t>(PhantomData<&'t ()>);
impl<'t> Mode<'t> for Writing<'t> {
    type T<K: Key + 'static, V: Value + 'static> = Table<'t, K, V>;
    type Txn = WriteTransaction;
    fn open<K: Key + 'static, V: Value + 'static>(
        txn: &'t WriteTransaction,
        table: TableDefinition<'static, K, V>,
    ) -> Result<Table<'t, K, V>> {
        txn.open_table(table).engine()
    }
}

type Bytes = &'static [u8];

/// The table in `cell`, opened in `txn` on first use.
fn lazy<'c, 't, M: Mode<'t>, K: Key + 'static, V: Value + 'static>(
    cell: &'c OnceCell<M::T<K, V>>,
    txn: &'t M::Txn,
    table: TableDefinition<'static, K, V>,
) -> Result<&'c M::T<K, V>> {
    if let Some(t) = cell.get() {
        return Ok(t);
    }
    let opened = M::open(txn, table)?;
    Ok(cell.get_or_init(|| opened))
}

/// The table in `cell`, opened in the write transaction `txn` on first use.
fn lazy_mut<'c, 't, K: Key + 'static, V: Value + 'static>(
    cell: &'c mut OnceCell<Table<'t, K, V>>,
    txn: &'t WriteTransaction,
    table: TableDefinition<'static, K, V>,
) -> Result<&'c mut Table<'t, K, V>> {
    if cell.get().is_none() {
        let opened = txn.open_table(table).engine()?;
        // The cell is empty, so the value goes in.
        let _ = cell.set(opened);
    }
    cell.get_mut()
        .ok_or_else(|| Error::storage("a redb table could not be opened"))
}

macro_rules! tables {
    ($($name:ident, $name_mut:ident: $def:ident <$k:ty, $v:ty>;)*) => {
        /// The tables of one transaction, each opened on first use: a job
        /// pays only for the tables it touches (a profile read opens two of
        /// the fourteen, a follow toggle six).
        pub(crate) struct Tables<'t, M: Mode<'t>> {
            txn: &'t M::Txn,
            $($name: OnceCell<M::T<$k, $v>>,)*
        }

        impl<'t, M: Mode<'t>> Tables<'t, M> {
            /// The tables of `txn`; none is opened yet.
            pub(crate) fn new(txn: &'t M::Txn) -> Self {
                Tables { txn, $($name: OnceCell::new(),)* }
            }
            $(
                fn $name(&self) -> Result<&M::T<$k, $v>> {
                    lazy::<M, $k, $v>(&self.$name, self.txn, $def)
                }
            )*
        }

        impl<'t> Tables<'t, Writing<'t>> {
            $(
                fn $name_mut(&mut self) -> Result<&mut Table<'t, $k, $v>> {
                    lazy_mut(&mut self.$name, self.txn, $def)
                }
            )*

            /// Opens every table (creating the missing ones, checking the
            /// types of the present ones).
            pub(crate) fn open_all(txn: &'t WriteTransaction) -> Result<()> {
                let mut t = Self::new(txn);
                $(t.$name_mut()?;)*
                Ok(())
            }
        }
    };
}

tables! {
    meta, meta_mut: META<&'static str, u64>;
    users, users_mut: USERS<Bytes, Bytes>;
    claims, claims_mut: CLAIMS<Bytes, Bytes>;
    claims_by_user, claims_by_user_mut: CLAIMS_BY_USER<Bytes, ()>;
    edges, edges_mut: EDGES<Bytes, Bytes>;
    edges_by_from, edges_by_from_mut: EDGES_BY_FROM<Bytes, ()>;
    edges_by_to, edges_by_to_mut: EDGES_BY_TO<Bytes, ()>;
    rooms, rooms_mut: ROOMS<Bytes, Bytes>;
    memberships, memberships_mut: MEMBERSHIPS<Bytes, Bytes>;
    memberships_by_user, memberships_by_user_mut: MEMBERSHIPS_BY_USER<Bytes, ()>;
    memberships_by_room, memberships_by_room_mut: MEMBERSHIPS_BY_ROOM<Bytes, ()>;
    accounts, accounts_mut: ACCOUNTS<Bytes, Bytes>;
    accounts_by_user, accounts_by_user_mut: ACCOUNTS_BY_USER<Bytes, ()>;
    changes, changes_mut: CHANGES<u64, Bytes>;
}

// ---------------------------------------------------------------- helpers

/// A point get of an encoded record.
fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<Bytes, Bytes>,
    key: &[u8],
    what: &str,
) -> Result<Option<T>> {
    match table.get(key).engine()? {
        Some(guard) => decode(what, guard.value()).map(Some),
        None => Ok(None),
    }
}

/// Point gets of several records, skipping missing ones and repeated keys.
fn get_many<T: DeserializeOwned, I: Copy + Eq + Hash>(
    table: &impl ReadableTable<Bytes, Bytes>,
    ids: &[I],
    key: impl Fn(I) -> [u8; ID],
    what: &str,
) -> Result<Vec<T>> {
    let mut seen = HashSet::with_capacity(ids.len());
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if seen.insert(id)
            && let Some(v) = get(table, &key(id), what)?
        {
            out.push(v);
        }
    }
    Ok(out)
}

/// The keys of an index table in `[lo, hi)` (`hi = None`: unbounded), in
/// key order or reversed, at most `limit`.
fn scan_keys(
    table: &impl ReadableTable<Bytes, ()>,
    lo: &[u8],
    hi: Option<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<Vec<u8>>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let upper = hi.map_or(Bound::Unbounded, Bound::Excluded);
    let range = table
        .range::<&[u8]>((Bound::Included(lo), upper))
        .engine()?;
    let entries: Box<dyn Iterator<Item = _>> = if reverse {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut out = Vec::new();
    for entry in entries.take(limit) {
        let (k, _) = entry.engine()?;
        out.push(k.value().to_vec());
    }
    Ok(out)
}

/// A stored record that an index names but that is missing or does not match.
fn dangling(what: &str) -> Error {
    Error::corrupt(format!(
        "an index entry names a {what} that is not stored as indexed"
    ))
}

fn user_id(bytes: [u8; ID]) -> UserId {
    UserId::from_bytes(bytes)
}

fn room_id(bytes: [u8; ID]) -> RoomId {
    RoomId::from_bytes(bytes)
}

// ---------------------------------------------------------------- reads

impl<'t, M: Mode<'t>> ReadTx for Tables<'t, M> {
    fn user(&self, id: UserId) -> Result<Option<User>> {
        get(self.users()?, &user_key(id), "user")
    }

    fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        get_many(self.users()?, ids, user_key, "user")
    }

    fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = after.map(user_key);
        let lower = start
            .as_ref()
            .map_or(Bound::Unbounded, |k| Bound::Excluded(k.as_slice()));
        let range = self
            .users()?
            .range::<&[u8]>((lower, Bound::Unbounded))
            .engine()?;
        let mut out = Vec::new();
        for entry in range.take(limit) {
            let (_, v) = entry.engine()?;
            out.push(decode("user", v.value())?);
        }
        Ok(out)
    }

    fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>> {
        get(self.claims()?, folded.as_bytes(), "username claim")
    }

    fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>> {
        let (lo, hi) = prefix_bounds(&user_key(user));
        let mut out = Vec::new();
        for k in scan_keys(
            self.claims_by_user()?,
            &lo,
            hi.as_deref(),
            false,
            usize::MAX,
        )? {
            let folded = &k[ID..];
            let claim: UsernameClaim = get(self.claims()?, folded, "username claim")?
                .ok_or_else(|| dangling("username claim"))?;
            if claim.user != user {
                return Err(dangling("username claim"));
            }
            out.push(claim);
        }
        Ok(out)
    }

    fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        get(self.edges()?, &edge_key(kind, from, to), "edge")
    }

    fn edges(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Edge>> {
        let mut out = Vec::new();
        for (seq, other) in self.edge_keys(kind, anchor, before, limit)? {
            let (from, to) = match anchor {
                Anchor::From(at) => (at, other),
                Anchor::To(at) => (other, at),
            };
            let edge = self.edge(kind, from, to)?.ok_or_else(|| dangling("edge"))?;
            if edge.seq != seq {
                return Err(dangling("edge"));
            }
            out.push(edge);
        }
        Ok(out)
    }

    fn edge_keys(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, UserId)>> {
        // The index key is (kind, end, seq, other end): a page needs nothing
        // else, so the edge records are not read.
        let (index, at) = match anchor {
            Anchor::From(u) => (self.edges_by_from()?, u),
            Anchor::To(u) => (self.edges_by_to()?, u),
        };
        let prefix = edge_index_prefix(kind, at);
        let (lo, hi) = seq_bounds(&prefix, 0, before);
        scan_keys(index, &lo, Some(&hi), true, limit)?
            .iter()
            .map(|k| {
                split_seq_key(prefix.len(), k)
                    .map(|(seq, other)| (seq, user_id(other)))
                    .ok_or_else(|| Error::corrupt("edge index key"))
            })
            .collect()
    }

    fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>> {
        // A batch of point gets in this one transaction, in key order: for
        // every kind and direction, the (kind, from, to) key of each other.
        let mut others: Vec<UserId> = others.iter().copied().filter(|o| *o != user).collect();
        others.sort_unstable();
        others.dedup();
        let mut out = Vec::new();
        for kind in EdgeKind::ALL {
            for &other in &others {
                for (from, to) in [(user, other), (other, user)] {
                    if let Some(edge) = self.edge(kind, from, to)? {
                        out.push(edge);
                    }
                }
            }
        }
        Ok(out)
    }

    fn edges_probed(
        &self,
        user: UserId,
        probes: &[(EdgeKind, UserId, UserId)],
    ) -> Result<Vec<Edge>> {
        // Point gets of just the probed keys, in key order, each once.
        let mut keys: Vec<(EdgeKind, UserId, UserId)> = probes
            .iter()
            .copied()
            .filter(|&(_, from, to)| (from == user) != (to == user))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out = Vec::new();
        for (kind, from, to) in keys {
            if let Some(edge) = self.edge(kind, from, to)? {
                out.push(edge);
            }
        }
        Ok(out)
    }

    fn room(&self, id: RoomId) -> Result<Option<Room>> {
        get(self.rooms()?, &room_key(id), "room")
    }

    fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>> {
        get_many(self.rooms()?, ids, room_key, "room")
    }

    fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        get(
            self.memberships()?,
            &membership_key(room, user),
            "membership",
        )
    }

    fn memberships_of(
        &self,
        user: UserId,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Membership>> {
        let prefix = user_key(user);
        let (lo, hi) = seq_bounds(&prefix, 0, before);
        let mut out = Vec::new();
        for k in scan_keys(self.memberships_by_user()?, &lo, Some(&hi), true, limit)? {
            let (seq, room) =
                split_seq_key(ID, &k).ok_or_else(|| Error::corrupt("membership index key"))?;
            let m = self
                .membership(room_id(room), user)?
                .ok_or_else(|| dangling("membership"))?;
            if m.seq != seq {
                return Err(dangling("membership"));
            }
            out.push(m);
        }
        Ok(out)
    }

    fn members(&self, room: RoomId, after: Option<u64>, limit: usize) -> Result<Vec<Membership>> {
        let start = match after {
            None => 0,
            Some(a) => match a.checked_add(1) {
                Some(s) => s,
                None => return Ok(Vec::new()),
            },
        };
        let prefix = room_key(room);
        let (lo, hi) = seq_bounds(&prefix, start, None);
        let mut out = Vec::new();
        for k in scan_keys(self.memberships_by_room()?, &lo, Some(&hi), false, limit)? {
            let (seq, user) =
                split_seq_key(ID, &k).ok_or_else(|| Error::corrupt("membership index key"))?;
            let m = self
                .membership(room, user_id(user))?
                .ok_or_else(|| dangling("membership"))?;
            if m.seq != seq {
                return Err(dangling("membership"));
            }
            out.push(m);
        }
        Ok(out)
    }

    fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>> {
        let mut seen = HashSet::with_capacity(users.len());
        let mut out = Vec::new();
        for &user in users {
            if seen.insert(user)
                && let Some(m) = self.membership(room, user)?
            {
                out.push(m);
            }
        }
        Ok(out)
    }

    fn connected_account(
        &self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        get(
            self.accounts()?,
            &account_key(provider, external_id),
            "connected account",
        )
    }

    fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>> {
        let (lo, hi) = prefix_bounds(&user_key(user));
        let mut out: Vec<ConnectedAccount> = Vec::new();
        for k in scan_keys(
            self.accounts_by_user()?,
            &lo,
            hi.as_deref(),
            false,
            usize::MAX,
        )? {
            let account: ConnectedAccount = get(self.accounts()?, &k[ID..], "connected account")?
                .ok_or_else(|| dangling("connected account"))?;
            if account.user != user {
                return Err(dangling("connected account"));
            }
            out.push(account);
        }
        // A user has a handful; order them oldest first (stable: ties keep key order).
        out.sort_by_key(|a| a.connected_at);
        Ok(out)
    }

    fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let range = self
            .changes()?
            .range::<u64>((Bound::Excluded(after), Bound::Unbounded))
            .engine()?;
        let mut out = Vec::new();
        for entry in range.take(limit) {
            let (k, v) = entry.engine()?;
            let event = decode_event(v.value())?;
            if event.seq != k.value() {
                return Err(Error::corrupt(
                    "change event stored under another sequence number",
                ));
            }
            out.push(event);
        }
        Ok(out)
    }

    fn last_seq(&self) -> Result<u64> {
        Ok(self
            .meta()?
            .get(LAST_SEQ_KEY)
            .engine()?
            .map_or(0, |g| g.value()))
    }

    fn edges_exist(&self, kind: EdgeKind, pairs: &[(UserId, UserId)]) -> Result<Vec<bool>> {
        // Point gets in key order (neighbouring keys share b-tree pages),
        // answered in the order asked.
        let mut keys: Vec<(Vec<u8>, usize)> = pairs
            .iter()
            .enumerate()
            .map(|(i, &(from, to))| (edge_key(kind, from, to), i))
            .collect();
        keys.sort_unstable();
        let mut out = vec![false; pairs.len()];
        for (key, i) in keys {
            out[i] = self.edges()?.get(key.as_slice()).engine()?.is_some();
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- writes

impl<'t> WriteTx for Tables<'t, Writing<'t>> {
    fn append_change(&mut self, at: Timestamp, change: Change) -> Result<u64> {
        let seq = self
            .last_seq()?
            .checked_add(1)
            .ok_or_else(|| Error::storage("change-feed sequence numbers are exhausted"))?;
        let bytes = encode_event(&ChangeEvent { seq, at, change })?;
        self.changes_mut()?.insert(seq, bytes.as_slice()).engine()?;
        self.meta_mut()?.insert(LAST_SEQ_KEY, seq).engine()?;
        Ok(seq)
    }

    fn raise_seq(&mut self, _at: Timestamp, upto: u64) -> Result<()> {
        self.bulk_raise_seq(upto)
    }

    fn reserve_seqs(&mut self, _at: Timestamp, n: usize) -> Result<Vec<u64>> {
        self.bulk_reserve_seqs(n)
    }

    fn load_edges(&mut self, edges: &[Edge]) -> Result<()> {
        self.bulk_load_edges(edges)
    }

    fn bulk_load(&mut self, step: kinfolk::store::BulkLoad) -> Result<()> {
        self.bulk_step(step)
    }

    fn append_changes(&mut self, at: Timestamp, changes: Vec<Change>) -> Result<Vec<u64>> {
        let first = self
            .last_seq()?
            .checked_add(1)
            .ok_or_else(|| Error::storage("change-feed sequence numbers are exhausted"))?;
        let mut seqs = Vec::with_capacity(changes.len());
        let mut seq = first;
        for change in changes {
            let bytes = encode_event(&ChangeEvent { seq, at, change })?;
            self.changes_mut()?.insert(seq, bytes.as_slice()).engine()?;
            seqs.push(seq);
            seq = seq
                .checked_add(1)
                .ok_or_else(|| Error::storage("change-feed sequence numbers are exhausted"))?;
        }
        if let Some(&last) = seqs.last() {
            self.meta_mut()?.insert(LAST_SEQ_KEY, last).engine()?;
        }
        Ok(seqs)
    }

    fn trim_changes(&mut self, upto: u64) -> Result<u64> {
        let mut gone = 0;
        for entry in self
            .changes_mut()?
            .extract_from_if::<u64, _>(..=upto, |_, _| true)
            .engine()?
        {
            entry.engine()?;
            gone += 1;
        }
        Ok(gone)
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        let bytes = encode("user", user)?;
        self.users_mut()?
            .insert(user_key(user.id).as_slice(), bytes.as_slice())
            .engine()?;
        Ok(())
    }

    fn delete_user(&mut self, id: UserId) -> Result<()> {
        self.users_mut()?.remove(user_key(id).as_slice()).engine()?;
        Ok(())
    }

    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        if self
            .claims()?
            .get(claim.folded.as_bytes())
            .engine()?
            .is_some()
        {
            return Err(Error::UsernameTaken);
        }
        self.write_claim(claim)
    }

    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        let old: Option<UsernameClaim> =
            get(self.claims()?, claim.folded.as_bytes(), "username claim")?;
        let Some(old) = old else {
            // As the reference store: the service only updates claims it read.
            return Err(Error::corrupt(format!(
                "no username claim on {} to update",
                claim.folded
            )));
        };
        if old.user != claim.user {
            self.claims_by_user_mut()?
                .remove(claim_index_key(old.user, &old.folded).as_slice())
                .engine()?;
        }
        self.write_claim(claim)
    }

    fn delete_username_claim(&mut self, folded: &str) -> Result<()> {
        let old: Option<UsernameClaim> =
            match self.claims_mut()?.remove(folded.as_bytes()).engine()? {
                Some(guard) => Some(decode("username claim", guard.value())?),
                None => None,
            };
        if let Some(old) = old {
            self.claims_by_user_mut()?
                .remove(claim_index_key(old.user, folded).as_slice())
                .engine()?;
        }
        Ok(())
    }

    fn insert_edge(&mut self, edge: &Edge) -> Result<()> {
        let key = edge_key(edge.kind, edge.from, edge.to);
        if self.edges()?.get(key.as_slice()).engine()?.is_some() {
            return Err(Error::Conflict {
                reason: "edge exists",
            });
        }
        let bytes = encode("edge", edge)?;
        self.edges_mut()?
            .insert(key.as_slice(), bytes.as_slice())
            .engine()?;
        let by_from = edge_index_key(edge.kind, edge.from, edge.seq, edge.to);
        self.edges_by_from_mut()?
            .insert(by_from.as_slice(), ())
            .engine()?;
        let by_to = edge_index_key(edge.kind, edge.to, edge.seq, edge.from);
        self.edges_by_to_mut()?
            .insert(by_to.as_slice(), ())
            .engine()?;
        Ok(())
    }

    fn insert_edges(&mut self, edges: &[Edge]) -> Result<()> {
        // Table by table, each in its own key order: every insert lands next
        // to the one before. A conflict fails the job, and the failed job's
        // transaction is aborted, so the inserts before it do not stay.
        let mut keys: Vec<(Vec<u8>, &Edge)> = edges
            .iter()
            .map(|e| (edge_key(e.kind, e.from, e.to), e))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, edge) in &keys {
            let bytes = encode("edge", *edge)?;
            if self
                .edges_mut()?
                .insert(key.as_slice(), bytes.as_slice())
                .engine()?
                .is_some()
            {
                return Err(Error::Conflict {
                    reason: "edge exists",
                });
            }
        }
        let mut index: Vec<Vec<u8>> = edges
            .iter()
            .map(|e| edge_index_key(e.kind, e.from, e.seq, e.to))
            .collect();
        index.sort_unstable();
        for k in &index {
            self.edges_by_from_mut()?
                .insert(k.as_slice(), ())
                .engine()?;
        }
        index.clear();
        index.extend(
            edges
                .iter()
                .map(|e| edge_index_key(e.kind, e.to, e.seq, e.from)),
        );
        index.sort_unstable();
        for k in &index {
            self.edges_by_to_mut()?.insert(k.as_slice(), ()).engine()?;
        }
        Ok(())
    }

    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        let old: Option<Edge> = match self
            .edges_mut()?
            .remove(edge_key(kind, from, to).as_slice())
            .engine()?
        {
            Some(guard) => Some(decode("edge", guard.value())?),
            None => None,
        };
        if let Some(e) = &old {
            self.edges_by_from_mut()?
                .remove(edge_index_key(kind, from, e.seq, to).as_slice())
                .engine()?;
            self.edges_by_to_mut()?
                .remove(edge_index_key(kind, to, e.seq, from).as_slice())
                .engine()?;
        }
        Ok(old)
    }

    fn put_room(&mut self, room: &Room) -> Result<()> {
        let bytes = encode("room", room)?;
        self.rooms_mut()?
            .insert(room_key(room.id).as_slice(), bytes.as_slice())
            .engine()?;
        Ok(())
    }

    fn delete_room(&mut self, id: RoomId) -> Result<()> {
        self.rooms_mut()?.remove(room_key(id).as_slice()).engine()?;
        Ok(())
    }

    fn put_membership(&mut self, m: &Membership) -> Result<()> {
        let key = membership_key(m.room, m.user);
        let old: Option<Membership> = get(self.memberships()?, &key, "membership")?;
        if let Some(old) = old {
            self.unindex_membership(&old)?;
        }
        let bytes = encode("membership", m)?;
        self.memberships_mut()?
            .insert(key.as_slice(), bytes.as_slice())
            .engine()?;
        let (room, user) = (room_key(m.room), user_key(m.user));
        self.memberships_by_user_mut()?
            .insert(seq_index_key(user, m.seq, room).as_slice(), ())
            .engine()?;
        self.memberships_by_room_mut()?
            .insert(seq_index_key(room, m.seq, user).as_slice(), ())
            .engine()?;
        Ok(())
    }

    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        let old: Option<Membership> = match self
            .memberships_mut()?
            .remove(membership_key(room, user).as_slice())
            .engine()?
        {
            Some(guard) => Some(decode("membership", guard.value())?),
            None => None,
        };
        if let Some(m) = &old {
            self.unindex_membership(m)?;
        }
        Ok(old)
    }

    fn insert_connected_account(&mut self, account: &ConnectedAccount) -> Result<()> {
        let key = account_key(&account.provider, &account.external_id);
        if self.accounts()?.get(key.as_slice()).engine()?.is_some() {
            return Err(Error::Conflict {
                reason: "connected account already linked",
            });
        }
        let bytes = encode("connected account", account)?;
        self.accounts_mut()?
            .insert(key.as_slice(), bytes.as_slice())
            .engine()?;
        let index = account_index_key(account.user, &account.provider, &account.external_id);
        self.accounts_by_user_mut()?
            .insert(index.as_slice(), ())
            .engine()?;
        Ok(())
    }

    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        let key = account_key(provider, external_id);
        let old: Option<ConnectedAccount> =
            match self.accounts_mut()?.remove(key.as_slice()).engine()? {
                Some(guard) => Some(decode("connected account", guard.value())?),
                None => None,
            };
        if let Some(a) = &old {
            let index = account_index_key(a.user, provider, external_id);
            self.accounts_by_user_mut()?
                .remove(index.as_slice())
                .engine()?;
        }
        Ok(old)
    }
}

impl<'t> Tables<'t, Writing<'t>> {
    /// Writes a claim and its `(user, folded)` index entry.
    fn write_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        let bytes = encode("username claim", claim)?;
        self.claims_mut()?
            .insert(claim.folded.as_bytes(), bytes.as_slice())
            .engine()?;
        let index = claim_index_key(claim.user, &claim.folded);
        self.claims_by_user_mut()?
            .insert(index.as_slice(), ())
            .engine()?;
        Ok(())
    }

    /// Removes the two order-index entries of a membership.
    fn unindex_membership(&mut self, m: &Membership) -> Result<()> {
        let (room, user) = (room_key(m.room), user_key(m.user));
        self.memberships_by_user_mut()?
            .remove(seq_index_key(user, m.seq, room).as_slice())
            .engine()?;
        self.memberships_by_room_mut()?
            .remove(seq_index_key(room, m.seq, user).as_slice())
            .engine()?;
        Ok(())
    }
}
