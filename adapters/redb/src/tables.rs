//! Every table of the store and the layout of its keys.
//!
//! Keys are byte strings compared bytewise (`&[u8]`), built here with
//! big-endian integers so that byte order is numeric order. Ids are the 16
//! bytes of [`UserId::to_bytes`]/[`RoomId::to_bytes`]. Values are the
//! versioned encodings of `codec.rs`; index tables carry `()` — everything
//! they say is in the key.
//!
//! | table                  | key                                   | value        | serves |
//! |------------------------|---------------------------------------|--------------|--------|
//! | `meta`                 | name (`schema_version`, `last_seq`)   | `u64`        | schema check, `last_seq` |
//! | `users`                | user (16)                             | `User`       | `user`, `users`, `users_after` |
//! | `username_claims`      | folded name (UTF-8)                   | `UsernameClaim` | `username_claim`, unique check |
//! | `username_claims_by_user` | user (16) · folded name            | `()`         | `username_claims_of` |
//! | `edges`                | kind (1) · from (16) · to (16)        | `Edge`       | `edge`, `edges_between`, unique check |
//! | `edges_by_from`        | kind (1) · from (16) · seq (8) · to (16) | `()`      | `edges(kind, From(u), …)` |
//! | `edges_by_to`          | kind (1) · to (16) · seq (8) · from (16) | `()`      | `edges(kind, To(u), …)` |
//! | `rooms`                | room (16)                             | `Room`       | `room`, `rooms` |
//! | `memberships`          | room (16) · user (16)                 | `Membership` | `membership`, `memberships_in` |
//! | `memberships_by_user`  | user (16) · seq (8) · room (16)       | `()`         | `memberships_of` (newest first) |
//! | `memberships_by_room`  | room (16) · seq (8) · user (16)       | `()`         | `members` (oldest first) |
//! | `accounts`             | provider length (4) · provider · external id | `ConnectedAccount` | `connected_account`, unique check |
//! | `accounts_by_user`     | user (16) · the `accounts` key        | `()`         | `connected_accounts_of` |
//! | `changes`              | seq (`u64`)                           | `ChangeEvent`| `changes_since`, `trim_changes` |
//!
//! The order indexes end in the other id, after the sequence number, so two
//! rows can never overwrite each other's index entry even if they shared a
//! sequence number; the sequence still decides the order.

use kinfolk::{EdgeKind, Error, Result, RoomId, UserId};
use redb::{
    Database, MultimapTableHandle, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};

use crate::error::EngineResult;
use crate::tx::Tables;

/// The schema this version of the crate writes. Stored under
/// [`SCHEMA_VERSION_KEY`] in [`META`]; a store with a higher number is refused.
pub(crate) const SCHEMA_VERSION: u64 = 1;
/// The `meta` key of the schema version.
pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// The `meta` key of the highest change-feed sequence number ever assigned.
pub(crate) const LAST_SEQ_KEY: &str = "last_seq";

/// A table of byte-string keys and encoded records.
pub(crate) type RecordTable = TableDefinition<'static, &'static [u8], &'static [u8]>;
/// A table of byte-string keys carrying nothing else (an index).
pub(crate) type IndexTable = TableDefinition<'static, &'static [u8], ()>;

/// Schema version and sequence counter.
pub(crate) const META: TableDefinition<'static, &'static str, u64> = TableDefinition::new("meta");
/// Users by id.
pub(crate) const USERS: RecordTable = TableDefinition::new("users");
/// Username claims by folded name.
pub(crate) const CLAIMS: RecordTable = TableDefinition::new("username_claims");
/// `(user, folded)` index of the claims.
pub(crate) const CLAIMS_BY_USER: IndexTable = TableDefinition::new("username_claims_by_user");
/// Edges by `(kind, from, to)`.
pub(crate) const EDGES: RecordTable = TableDefinition::new("edges");
/// `(kind, from, seq, to)` order index of the edges.
pub(crate) const EDGES_BY_FROM: IndexTable = TableDefinition::new("edges_by_from");
/// `(kind, to, seq, from)` order index of the edges.
pub(crate) const EDGES_BY_TO: IndexTable = TableDefinition::new("edges_by_to");
/// Rooms by id.
pub(crate) const ROOMS: RecordTable = TableDefinition::new("rooms");
/// Memberships by `(room, user)`.
pub(crate) const MEMBERSHIPS: RecordTable = TableDefinition::new("memberships");
/// `(user, seq, room)` order index of the memberships.
pub(crate) const MEMBERSHIPS_BY_USER: IndexTable = TableDefinition::new("memberships_by_user");
/// `(room, seq, user)` order index of the memberships.
pub(crate) const MEMBERSHIPS_BY_ROOM: IndexTable = TableDefinition::new("memberships_by_room");
/// Connected accounts by `(provider, external_id)`.
pub(crate) const ACCOUNTS: RecordTable = TableDefinition::new("accounts");
/// `(user, provider, external_id)` index of the connected accounts.
pub(crate) const ACCOUNTS_BY_USER: IndexTable = TableDefinition::new("accounts_by_user");
/// The change feed by sequence number.
pub(crate) const CHANGES: TableDefinition<'static, u64, &'static [u8]> =
    TableDefinition::new("changes");

/// Length of an id in a key.
pub(crate) const ID: usize = 16;
/// Length of a sequence number in a key.
pub(crate) const SEQ: usize = 8;

/// Concatenates key parts.
fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// `users` / `rooms` key.
pub(crate) fn user_key(id: UserId) -> [u8; ID] {
    id.to_bytes()
}

/// `rooms` key.
pub(crate) fn room_key(id: RoomId) -> [u8; ID] {
    id.to_bytes()
}

/// `username_claims_by_user` key.
pub(crate) fn claim_index_key(user: UserId, folded: &str) -> Vec<u8> {
    key(&[&user.to_bytes(), folded.as_bytes()])
}

/// `edges` key.
pub(crate) fn edge_key(kind: EdgeKind, from: UserId, to: UserId) -> Vec<u8> {
    key(&[&[kind.code()], &from.to_bytes(), &to.to_bytes()])
}

/// The prefix of an order index shared by every edge of `kind` at `anchor`.
pub(crate) fn edge_index_prefix(kind: EdgeKind, anchor: UserId) -> Vec<u8> {
    key(&[&[kind.code()], &anchor.to_bytes()])
}

/// `edges_by_from` / `edges_by_to` key.
pub(crate) fn edge_index_key(kind: EdgeKind, anchor: UserId, seq: u64, other: UserId) -> Vec<u8> {
    key(&[
        &[kind.code()],
        &anchor.to_bytes(),
        &seq.to_be_bytes(),
        &other.to_bytes(),
    ])
}

/// `memberships` key.
pub(crate) fn membership_key(room: RoomId, user: UserId) -> Vec<u8> {
    key(&[&room.to_bytes(), &user.to_bytes()])
}

/// `memberships_by_user` / `memberships_by_room` key: an anchor id, the seq, the other id.
pub(crate) fn seq_index_key(anchor: [u8; ID], seq: u64, other: [u8; ID]) -> Vec<u8> {
    key(&[&anchor, &seq.to_be_bytes(), &other])
}

/// The bounds of the keys `prefix · seq · …` with `seq` in `lo..hi` (`hi`
/// exclusive; `None` = no upper bound), for a range scan of an order index.
pub(crate) fn seq_bounds(prefix: &[u8], lo: u64, hi: Option<u64>) -> (Vec<u8>, Vec<u8>) {
    let start = key(&[prefix, &lo.to_be_bytes()]);
    let end = match hi {
        Some(hi) => key(&[prefix, &hi.to_be_bytes()]),
        // Past every key that starts with the prefix: the prefix followed by a
        // u64::MAX sequence and an id of all 0xff bytes, plus one byte.
        None => key(&[prefix, &[0xff; SEQ + ID + 1]]),
    };
    (start, end)
}

/// The bounds of every key that starts with `prefix` (a 16-byte id), for a prefix scan.
pub(crate) fn prefix_bounds(prefix: &[u8; ID]) -> (Vec<u8>, Option<Vec<u8>>) {
    // The least key greater than every key starting with `prefix`: increment
    // the prefix as a big-endian number (no upper bound if it is all 0xff).
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return (prefix.to_vec(), Some(end));
        }
    }
    (prefix.to_vec(), None)
}

/// The sequence number and the trailing id of an order-index key `prefix · seq · id`.
pub(crate) fn split_seq_key(prefix_len: usize, k: &[u8]) -> Option<(u64, [u8; ID])> {
    if k.len() != prefix_len + SEQ + ID {
        return None;
    }
    let seq = u64::from_be_bytes(k[prefix_len..prefix_len + SEQ].try_into().ok()?);
    let id: [u8; ID] = k[prefix_len + SEQ..].try_into().ok()?;
    Some((seq, id))
}

/// `accounts` key: provider length (u32, big-endian), provider, external id.
pub(crate) fn account_key(provider: &str, external_id: &str) -> Vec<u8> {
    // A provider longer than u32::MAX bytes cannot reach here (it would not
    // fit in a redb value); saturate rather than panic.
    let len = u32::try_from(provider.len()).unwrap_or(u32::MAX);
    key(&[
        &len.to_be_bytes(),
        provider.as_bytes(),
        external_id.as_bytes(),
    ])
}

/// `accounts_by_user` key.
pub(crate) fn account_index_key(user: UserId, provider: &str, external_id: &str) -> Vec<u8> {
    key(&[&user.to_bytes(), &account_key(provider, external_id)])
}

/// Checks the schema of a freshly opened database, creating it in a new one.
///
/// - A new (empty) database gets every table, the schema version and a zero
///   sequence counter, in one durable commit.
/// - A store of this schema version opens as it is.
/// - A store written by a newer schema is refused, a redb file that is not a
///   kinfolk store (tables but no version) too; nothing is written to either.
pub(crate) fn init_schema(db: &Database) -> Result<()> {
    let txn = db.begin_write().engine()?;
    let mut existing = Vec::new();
    for t in txn.list_tables().engine()? {
        existing.push(t.name().to_string());
    }
    for t in txn.list_multimap_tables().engine()? {
        existing.push(t.name().to_string());
    }
    let stored = match existing.iter().any(|n| n == "meta") {
        true => txn
            .open_table(META)
            .engine()?
            .get(SCHEMA_VERSION_KEY)
            .engine()?
            .map(|g| g.value()),
        false => None,
    };
    let refuse = |txn: WriteTransaction, why: String| -> Result<()> {
        // Nothing was written; a failed abort changes nothing for the caller.
        let _ = txn.abort();
        Err(Error::storage(why))
    };
    match stored {
        Some(SCHEMA_VERSION) => {}
        Some(v) if v > SCHEMA_VERSION => {
            return refuse(
                txn,
                format!(
                    "the store was written by a newer kinfolk-redb (schema version {v}); \
                     this version reads schema {SCHEMA_VERSION} and older"
                ),
            );
        }
        // Schema 1 is the first; older versions would be migrated here.
        Some(v) => {
            return refuse(
                txn,
                format!("corrupt stored data: unknown schema version {v}"),
            );
        }
        None if existing.is_empty() => {
            let mut meta = txn.open_table(META).engine()?;
            meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION).engine()?;
            meta.insert(LAST_SEQ_KEY, 0).engine()?;
        }
        None => {
            return refuse(
                txn,
                format!(
                    "not a kinfolk store: a redb database with other tables ({})",
                    existing.join(", ")
                ),
            );
        }
    }
    // Creates the missing tables and checks the types of the present ones.
    Tables::open_all(&txn)?;
    txn.commit().engine()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seq_keys_sort_by_seq_then_id() {
        let p = [7u8; ID];
        let a = seq_index_key(p, 1, [0xff; ID]);
        let b = seq_index_key(p, 2, [0; ID]);
        let c = seq_index_key(p, 256, [0; ID]);
        assert!(a < b && b < c);
        assert_eq!(split_seq_key(ID, &c), Some((256, [0; ID])));
        assert_eq!(split_seq_key(ID, &c[1..]), None);
        let (lo, hi) = seq_bounds(&p, 0, None);
        let max = seq_index_key(p, u64::MAX, [0xff; ID]);
        assert!(lo <= a && max < hi);
        let (_, hi) = seq_bounds(&p, 0, Some(2));
        assert!(a < hi && b >= hi);
    }

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        let mut p = [0u8; ID];
        p[15] = 0xff;
        p[14] = 3;
        let (lo, hi) = prefix_bounds(&p);
        let hi = hi.unwrap_or_default();
        let inside = key(&[&p, b"zzzz"]);
        let mut next = p;
        next[14] = 4;
        next[15] = 0;
        assert!(lo.as_slice() <= inside.as_slice() && inside < hi);
        assert!(next.as_slice() >= hi.as_slice());
        assert_eq!(prefix_bounds(&[0xff; ID]).1, None);
    }

    #[test]
    fn account_keys_do_not_collide_across_the_split() {
        assert_ne!(account_key("ab", "c"), account_key("a", "bc"));
    }
}
