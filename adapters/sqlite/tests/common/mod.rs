//! Helpers shared by the SQLite store's own tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::DateTime;
use kinfolk::user::User;
use kinfolk::{
    ChangeEvent, Edge, EdgeKind, Membership, ReadTx, Result, Room, RoomId, RoomKind, RoomName,
    RoomRole, RoomVisibility, Store, Timestamp, UserId, WriteTx,
};
use kinfolk_sqlite::SqliteStore;

/// 2024-01-01T00:00:00Z plus `secs` seconds and `nanos` nanoseconds.
pub fn t(secs: i64) -> Timestamp {
    DateTime::from_timestamp(1_704_067_200 + secs, 123_456_789).unwrap()
}

/// A fresh user record named `User {name}`, created at `t(0)`.
pub fn user(name: &str) -> User {
    kinfolk_conformance::kit::user_record(name, &format!("User {name}"), t(0), t(1))
}

pub use kinfolk_conformance::kit::claim;

/// An edge, since `t(seq)`.
pub fn edge(kind: EdgeKind, from: UserId, to: UserId, seq: u64) -> Edge {
    kinfolk_conformance::kit::edge(kind, from, to, seq, t(seq as i64))
}

/// A room.
pub fn room(name: &str, by: UserId) -> Room {
    Room {
        id: RoomId::new(),
        kind: RoomKind::Group,
        name: RoomName::parse(name).unwrap(),
        visibility: RoomVisibility::Public,
        created_by: by,
        created_at: t(5),
        member_count: 0,
    }
}

/// A membership.
pub fn membership(room: RoomId, user: UserId, role: RoomRole, seq: u64) -> Membership {
    Membership {
        room,
        user,
        role,
        joined_at: t(seq as i64),
        seq,
    }
}

/// Runs a typed write job.
pub async fn write<R, F>(store: &Arc<SqliteStore>, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&mut dyn WriteTx) -> Result<R> + Send + Sync + 'static,
{
    kinfolk::store::write(store.as_ref() as &dyn Store, f).await
}

/// Runs a typed read job.
pub async fn read<R, F>(store: &Arc<SqliteStore>, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    kinfolk::store::read(store.as_ref() as &dyn Store, f).await
}

/// Inserts users (with their claims) in one transaction.
pub async fn put_users(store: &Arc<SqliteStore>, users: &[User]) {
    let users = users.to_vec();
    write(store, move |tx| {
        for u in &users {
            tx.put_user(u)?;
            tx.insert_username_claim(&claim(u))?;
        }
        Ok(())
    })
    .await
    .unwrap();
}

/// Every feed event.
pub async fn all_changes(store: &Arc<SqliteStore>) -> Vec<ChangeEvent> {
    read(store, |tx| tx.changes_since(0, usize::MAX))
        .await
        .unwrap()
}

/// A temp dir and a database path inside it.
pub fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinfolk.db");
    (dir, path)
}

/// Both kinds of store: a file with readers, and the in-memory one.
pub fn stores() -> Vec<(Option<tempfile::TempDir>, Arc<SqliteStore>)> {
    let (dir, path) = temp_db();
    vec![
        (Some(dir), Arc::new(kinfolk_sqlite::open(&path).unwrap())),
        (None, Arc::new(kinfolk_sqlite::open_in_memory().unwrap())),
    ]
}
