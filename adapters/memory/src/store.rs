//! The store: ordered maps behind one lock, with an undo journal for writes.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::RwLock;

use kinfolk::profile::UsernameClaim;
use kinfolk::store::{Boxed, ReadJob, WriteJob};
use kinfolk::{
    Anchor, Change, ChangeEvent, ConnectedAccount, Edge, EdgeKind, Error, Membership, ReadTx,
    Result, Room, RoomId, Store, Timestamp, User, UserId, WriteTx,
};

type EdgeKey = (EdgeKind, UserId, UserId);
type AccountKey = (String, String);

#[derive(Debug, Default, Clone)]
struct State {
    users: BTreeMap<UserId, User>,
    claims: BTreeMap<String, UsernameClaim>,
    edges: BTreeMap<EdgeKey, Edge>,
    /// (kind, from, seq) → to
    edges_from: BTreeMap<(EdgeKind, UserId, u64), UserId>,
    /// (kind, to, seq) → from
    edges_to: BTreeMap<(EdgeKind, UserId, u64), UserId>,
    rooms: BTreeMap<RoomId, Room>,
    memberships: BTreeMap<(RoomId, UserId), Membership>,
    /// (user, seq) → room
    memberships_by_user: BTreeMap<(UserId, u64), RoomId>,
    /// (room, seq) → user
    memberships_by_room: BTreeMap<(RoomId, u64), UserId>,
    accounts: BTreeMap<AccountKey, ConnectedAccount>,
    feed: BTreeMap<u64, ChangeEvent>,
    last_seq: u64,
}

/// The previous value of one key, to put back on rollback.
enum Undo {
    User(UserId, Option<User>),
    Claim(String, Option<UsernameClaim>),
    Edge(EdgeKey, Option<Edge>),
    Room(RoomId, Option<Room>),
    Membership((RoomId, UserId), Option<Membership>),
    Account(AccountKey, Option<ConnectedAccount>),
    Feed(u64, Option<ChangeEvent>),
    LastSeq(u64),
}

fn set<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, value: Option<V>) -> Option<V> {
    match value {
        Some(v) => map.insert(key, v),
        None => map.remove(&key),
    }
}

impl State {
    fn set_edge(&mut self, key: EdgeKey, value: Option<Edge>) -> Option<Edge> {
        let old = set(&mut self.edges, key, value);
        if let Some(o) = &old {
            self.edges_from.remove(&(o.kind, o.from, o.seq));
            self.edges_to.remove(&(o.kind, o.to, o.seq));
        }
        if let Some(n) = self.edges.get(&key) {
            self.edges_from.insert((n.kind, n.from, n.seq), n.to);
            self.edges_to.insert((n.kind, n.to, n.seq), n.from);
        }
        old
    }

    fn set_membership(
        &mut self,
        key: (RoomId, UserId),
        value: Option<Membership>,
    ) -> Option<Membership> {
        let old = set(&mut self.memberships, key, value);
        if let Some(o) = &old {
            self.memberships_by_user.remove(&(o.user, o.seq));
            self.memberships_by_room.remove(&(o.room, o.seq));
        }
        if let Some(n) = self.memberships.get(&key) {
            self.memberships_by_user.insert((n.user, n.seq), n.room);
            self.memberships_by_room.insert((n.room, n.seq), n.user);
        }
        old
    }

    fn undo(&mut self, u: Undo) {
        match u {
            Undo::User(k, v) => {
                set(&mut self.users, k, v);
            }
            Undo::Claim(k, v) => {
                set(&mut self.claims, k, v);
            }
            Undo::Edge(k, v) => {
                self.set_edge(k, v);
            }
            Undo::Room(k, v) => {
                set(&mut self.rooms, k, v);
            }
            Undo::Membership(k, v) => {
                self.set_membership(k, v);
            }
            Undo::Account(k, v) => {
                set(&mut self.accounts, k, v);
            }
            Undo::Feed(k, v) => {
                set(&mut self.feed, k, v);
            }
            Undo::LastSeq(v) => self.last_seq = v,
        }
    }
}

/// An in-memory store. Cheap to create; share it with `Arc`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> Error {
    Error::storage("memory store lock poisoned by a panic in an earlier job")
}

#[async_trait]
impl Store for MemoryStore {
    async fn read(&self, job: ReadJob) -> Result<Boxed> {
        let state = self.state.read().map_err(|_| poisoned())?;
        // A panicking job is an error for its caller; a read guard is not
        // poisoned by it, so the store serves on.
        catch_unwind(AssertUnwindSafe(|| job(&Tx { state: &state })))
            .unwrap_or_else(|_| Err(Error::job_panicked("read")))
    }

    async fn write(&self, job: WriteJob) -> Result<Boxed> {
        let mut state = self.state.write().map_err(|_| poisoned())?;
        let mut tx = TxMut {
            state: &mut state,
            journal: Vec::new(),
        };
        // The panic is caught inside the guard's scope, so the lock is never
        // poisoned: the journal undoes the job and the store serves on.
        let out = catch_unwind(AssertUnwindSafe(|| job(&mut tx)))
            .unwrap_or_else(|_| Err(Error::job_panicked("write")));
        if out.is_err() {
            while let Some(u) = tx.journal.pop() {
                tx.state.undo(u);
            }
        }
        out
    }

    /// Write jobs run under the state's write lock, one after another.
    fn serial_writes(&self) -> bool {
        true
    }
}

/// A read transaction: a shared borrow of the state.
struct Tx<'a> {
    state: &'a State,
}

/// A write transaction: an exclusive borrow plus the undo journal.
struct TxMut<'a> {
    state: &'a mut State,
    journal: Vec<Undo>,
}

impl State {
    fn edges(
        &self,
        kind: EdgeKind,
        anchor: Anchor,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<Edge> {
        let (index, user) = match anchor {
            Anchor::From(u) => (&self.edges_from, u),
            Anchor::To(u) => (&self.edges_to, u),
        };
        let hi = before.unwrap_or(u64::MAX);
        index
            .range((kind, user, 0)..(kind, user, hi))
            .rev()
            .take(limit)
            .filter_map(|(_, other)| {
                let key = match anchor {
                    Anchor::From(_) => (kind, user, *other),
                    Anchor::To(_) => (kind, *other, user),
                };
                self.edges.get(&key).copied()
            })
            .collect()
    }
}

macro_rules! impl_read_tx {
    ($t:ty) => {
        impl ReadTx for $t {
            fn user(&self, id: UserId) -> Result<Option<User>> {
                Ok(self.state.users.get(&id).cloned())
            }
            fn users(&self, ids: &[UserId]) -> Result<Vec<User>> {
                Ok(ids
                    .iter()
                    .filter_map(|id| self.state.users.get(id).cloned())
                    .collect())
            }
            fn users_after(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
                let it: Box<dyn Iterator<Item = &User>> = match after {
                    Some(a) => Box::new(
                        self.state
                            .users
                            .range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))
                            .map(|(_, u)| u),
                    ),
                    None => Box::new(self.state.users.values()),
                };
                Ok(it.take(limit).cloned().collect())
            }
            fn username_claim(&self, folded: &str) -> Result<Option<UsernameClaim>> {
                Ok(self.state.claims.get(folded).cloned())
            }
            fn username_claims_of(&self, user: UserId) -> Result<Vec<UsernameClaim>> {
                Ok(self
                    .state
                    .claims
                    .values()
                    .filter(|c| c.user == user)
                    .cloned()
                    .collect())
            }
            fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
                Ok(self.state.edges.get(&(kind, from, to)).copied())
            }
            fn edges(
                &self,
                kind: EdgeKind,
                anchor: Anchor,
                before: Option<u64>,
                limit: usize,
            ) -> Result<Vec<Edge>> {
                Ok(self.state.edges(kind, anchor, before, limit))
            }
            fn edges_between(&self, user: UserId, others: &[UserId]) -> Result<Vec<Edge>> {
                let mut out = Vec::new();
                for other in others {
                    for kind in EdgeKind::ALL {
                        for key in [(kind, user, *other), (kind, *other, user)] {
                            if let Some(e) = self.state.edges.get(&key) {
                                out.push(*e);
                            }
                        }
                    }
                }
                Ok(out)
            }
            fn room(&self, id: RoomId) -> Result<Option<Room>> {
                Ok(self.state.rooms.get(&id).cloned())
            }
            fn rooms(&self, ids: &[RoomId]) -> Result<Vec<Room>> {
                Ok(ids
                    .iter()
                    .filter_map(|id| self.state.rooms.get(id).cloned())
                    .collect())
            }
            fn membership(&self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
                Ok(self.state.memberships.get(&(room, user)).cloned())
            }
            fn memberships_of(
                &self,
                user: UserId,
                before: Option<u64>,
                limit: usize,
            ) -> Result<Vec<Membership>> {
                let hi = before.unwrap_or(u64::MAX);
                Ok(self
                    .state
                    .memberships_by_user
                    .range((user, 0)..(user, hi))
                    .rev()
                    .take(limit)
                    .filter_map(|((u, _), room)| self.state.memberships.get(&(*room, *u)).cloned())
                    .collect())
            }
            fn members(
                &self,
                room: RoomId,
                after: Option<u64>,
                limit: usize,
            ) -> Result<Vec<Membership>> {
                let lo = after.map_or(0, |a| a.saturating_add(1));
                Ok(self
                    .state
                    .memberships_by_room
                    .range((room, lo)..=(room, u64::MAX))
                    .take(limit)
                    .filter_map(|((r, _), user)| self.state.memberships.get(&(*r, *user)).cloned())
                    .collect())
            }
            fn memberships_in(&self, room: RoomId, users: &[UserId]) -> Result<Vec<Membership>> {
                Ok(users
                    .iter()
                    .filter_map(|u| self.state.memberships.get(&(room, *u)).cloned())
                    .collect())
            }
            fn connected_account(
                &self,
                provider: &str,
                external_id: &str,
            ) -> Result<Option<ConnectedAccount>> {
                Ok(self
                    .state
                    .accounts
                    .get(&(provider.to_string(), external_id.to_string()))
                    .cloned())
            }
            fn connected_accounts_of(&self, user: UserId) -> Result<Vec<ConnectedAccount>> {
                let mut v: Vec<ConnectedAccount> = self
                    .state
                    .accounts
                    .values()
                    .filter(|a| a.user == user)
                    .cloned()
                    .collect();
                v.sort_by_key(|a| a.connected_at);
                Ok(v)
            }
            fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<ChangeEvent>> {
                Ok(self
                    .state
                    .feed
                    .range(after.saturating_add(1)..)
                    .take(limit)
                    .map(|(_, e)| e.clone())
                    .collect())
            }
            fn last_seq(&self) -> Result<u64> {
                Ok(self.state.last_seq)
            }
        }
    };
}

impl_read_tx!(Tx<'_>);
impl_read_tx!(TxMut<'_>);

impl WriteTx for TxMut<'_> {
    fn append_change(&mut self, at: Timestamp, change: Change) -> Result<u64> {
        let seq = self.state.last_seq + 1;
        self.journal.push(Undo::LastSeq(self.state.last_seq));
        self.state.last_seq = seq;
        let old = self.state.feed.insert(seq, ChangeEvent { seq, at, change });
        self.journal.push(Undo::Feed(seq, old));
        Ok(seq)
    }

    fn raise_seq(&mut self, _at: Timestamp, upto: u64) -> Result<()> {
        if upto > self.state.last_seq {
            self.journal.push(Undo::LastSeq(self.state.last_seq));
            self.state.last_seq = upto;
        }
        Ok(())
    }

    fn reserve_seqs(&mut self, at: Timestamp, n: usize) -> Result<Vec<u64>> {
        let last = self.state.last_seq;
        let upto = u64::try_from(n)
            .ok()
            .and_then(|n| last.checked_add(n))
            .ok_or_else(|| kinfolk::Error::storage("sequence numbers are exhausted"))?;
        self.raise_seq(at, upto)?;
        Ok((last + 1..=upto).collect())
    }

    fn trim_changes(&mut self, upto: u64) -> Result<u64> {
        let keys: Vec<u64> = self.state.feed.range(..=upto).map(|(k, _)| *k).collect();
        for k in &keys {
            let old = self.state.feed.remove(k);
            self.journal.push(Undo::Feed(*k, old));
        }
        Ok(keys.len() as u64)
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        let old = self.state.users.insert(user.id, user.clone());
        self.journal.push(Undo::User(user.id, old));
        Ok(())
    }

    fn delete_user(&mut self, id: UserId) -> Result<()> {
        let old = self.state.users.remove(&id);
        self.journal.push(Undo::User(id, old));
        Ok(())
    }

    fn insert_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        if self.state.claims.contains_key(&claim.folded) {
            return Err(Error::UsernameTaken);
        }
        self.state
            .claims
            .insert(claim.folded.clone(), claim.clone());
        self.journal.push(Undo::Claim(claim.folded.clone(), None));
        Ok(())
    }

    fn update_username_claim(&mut self, claim: &UsernameClaim) -> Result<()> {
        let old = self
            .state
            .claims
            .insert(claim.folded.clone(), claim.clone());
        if old.is_none() {
            return Err(Error::corrupt(format!(
                "no username claim on {} to update",
                claim.folded
            )));
        }
        self.journal.push(Undo::Claim(claim.folded.clone(), old));
        Ok(())
    }

    fn delete_username_claim(&mut self, folded: &str) -> Result<()> {
        let old = self.state.claims.remove(folded);
        self.journal.push(Undo::Claim(folded.to_string(), old));
        Ok(())
    }

    fn insert_edge(&mut self, edge: &Edge) -> Result<()> {
        let key = (edge.kind, edge.from, edge.to);
        if self.state.edges.contains_key(&key) {
            return Err(Error::Conflict {
                reason: "edge exists already",
            });
        }
        self.state.set_edge(key, Some(*edge));
        self.journal.push(Undo::Edge(key, None));
        Ok(())
    }

    fn delete_edge(&mut self, kind: EdgeKind, from: UserId, to: UserId) -> Result<Option<Edge>> {
        let key = (kind, from, to);
        let old = self.state.set_edge(key, None);
        self.journal.push(Undo::Edge(key, old));
        Ok(old)
    }

    fn put_room(&mut self, room: &Room) -> Result<()> {
        let old = self.state.rooms.insert(room.id, room.clone());
        self.journal.push(Undo::Room(room.id, old));
        Ok(())
    }

    fn delete_room(&mut self, id: RoomId) -> Result<()> {
        let old = self.state.rooms.remove(&id);
        self.journal.push(Undo::Room(id, old));
        Ok(())
    }

    fn put_membership(&mut self, m: &Membership) -> Result<()> {
        let key = (m.room, m.user);
        let old = self.state.set_membership(key, Some(m.clone()));
        self.journal.push(Undo::Membership(key, old));
        Ok(())
    }

    fn delete_membership(&mut self, room: RoomId, user: UserId) -> Result<Option<Membership>> {
        let key = (room, user);
        let old = self.state.set_membership(key, None);
        self.journal.push(Undo::Membership(key, old.clone()));
        Ok(old)
    }

    fn insert_connected_account(&mut self, a: &ConnectedAccount) -> Result<()> {
        let key = (a.provider.clone(), a.external_id.clone());
        if self.state.accounts.contains_key(&key) {
            return Err(Error::Conflict {
                reason: "connected account is linked already",
            });
        }
        self.state.accounts.insert(key.clone(), a.clone());
        self.journal.push(Undo::Account(key, None));
        Ok(())
    }

    fn delete_connected_account(
        &mut self,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<ConnectedAccount>> {
        let key = (provider.to_string(), external_id.to_string());
        let old = self.state.accounts.remove(&key);
        self.journal.push(Undo::Account(key, old.clone()));
        Ok(old)
    }
}
