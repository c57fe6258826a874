//! What one transaction knows of the rows it read or wrote, so that the
//! toggle-shaped jobs (read two users and the edges between them, write
//! both users back) cost fewer round trips (BENCHMARKS.md, "PostgreSQL").
//!
//! Every job runs in one `SERIALIZABLE` or `REPEATABLE READ` transaction,
//! which reads a row the same way every time, plus its own writes: so a
//! point read answered from what the transaction already read, or wrote
//! itself, is the answer the server would give. Three things are kept:
//!
//! - **users** read or written, by id (`None`: read and absent);
//! - **pairs**: every edge between two users (all kinds, both directions),
//!   loaded with one statement the first time any edge of the pair is
//!   asked for, then kept up to date by this transaction's edge writes;
//! - **pending** user writes: `put_user` sends nothing; the records go to
//!   the server as one statement before the transaction's next statement,
//!   or together with `COMMIT` in the same round trip.
//!
//! Nothing here decides a rule: it stores and fetches the same rows.

use std::collections::HashMap;

use kinfolk::user::User;
use kinfolk::{Edge, EdgeKind, UserId};
use uuid::Uuid;

/// The pending user writes beyond which they are sent at once rather than
/// at commit (keeps the commit batch small during imports).
pub(crate) const MAX_PENDING: usize = 64;

/// The per-transaction knowledge (see the module docs).
#[derive(Default)]
pub(crate) struct Known {
    users: HashMap<UserId, Option<User>>,
    pairs: HashMap<(UserId, UserId), Vec<Edge>>,
    pending: Vec<(Uuid, String)>,
    pending_at: HashMap<Uuid, usize>,
}

fn pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Known {
    /// The user, if this transaction read or wrote it (`Some(None)`: read
    /// and absent).
    pub(crate) fn user(&self, id: UserId) -> Option<Option<User>> {
        self.users.get(&id).cloned()
    }

    /// Remembers what the server answered (or this transaction wrote).
    pub(crate) fn set_user(&mut self, id: UserId, user: Option<User>) {
        self.users.insert(id, user);
    }

    /// Queues a user write; returns how many are queued.
    pub(crate) fn queue(&mut self, user: &User, json: String) -> usize {
        let id = crate::codec::uid(user.id);
        match self.pending_at.get(&id) {
            Some(&i) => self.pending[i].1 = json,
            None => {
                self.pending_at.insert(id, self.pending.len());
                self.pending.push((id, json));
            }
        }
        self.users.insert(user.id, Some(user.clone()));
        self.pending.len()
    }

    /// Takes the queued user writes (distinct ids).
    pub(crate) fn take_pending(&mut self) -> Vec<(Uuid, String)> {
        self.pending_at.clear();
        std::mem::take(&mut self.pending)
    }

    /// Forgets a deleted user and every pair that involves it.
    pub(crate) fn forget_user(&mut self, id: UserId) {
        self.users.insert(id, None);
        self.pairs.retain(|(a, b), _| *a != id && *b != id);
    }

    /// The edge, if the pair is loaded (`Some(None)`: loaded, no such edge).
    pub(crate) fn edge(&self, kind: EdgeKind, from: UserId, to: UserId) -> Option<Option<Edge>> {
        self.pairs.get(&pair(from, to)).map(|edges| {
            edges
                .iter()
                .find(|e| e.kind == kind && e.from == from && e.to == to)
                .copied()
        })
    }

    /// Every edge between `user` and each of `others`, if every pair is
    /// loaded; each edge once.
    pub(crate) fn between(&self, user: UserId, others: &[UserId]) -> Option<Vec<Edge>> {
        let mut seen: Vec<UserId> = Vec::with_capacity(others.len());
        let mut out = Vec::new();
        for &o in others {
            if seen.contains(&o) {
                continue;
            }
            seen.push(o);
            out.extend(self.pairs.get(&pair(user, o))?.iter().copied());
        }
        Some(out)
    }

    /// Remembers every edge between `user` and each of `others`, as the
    /// server answered (`edges` holds all of them).
    pub(crate) fn set_between(&mut self, user: UserId, others: &[UserId], edges: &[Edge]) {
        for &o in others {
            let key = pair(user, o);
            let of_pair = edges
                .iter()
                .filter(|e| pair(e.from, e.to) == key)
                .copied()
                .collect();
            self.pairs.insert(key, of_pair);
        }
    }

    /// Records an edge this transaction inserted.
    pub(crate) fn inserted(&mut self, e: &Edge) {
        if let Some(edges) = self.pairs.get_mut(&pair(e.from, e.to)) {
            edges.push(*e);
        }
    }

    /// Records an edge this transaction deleted.
    pub(crate) fn deleted(&mut self, kind: EdgeKind, from: UserId, to: UserId) {
        if let Some(edges) = self.pairs.get_mut(&pair(from, to)) {
            edges.retain(|e| !(e.kind == kind && e.from == from && e.to == to));
        }
    }
}
