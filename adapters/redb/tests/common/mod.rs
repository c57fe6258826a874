//! Helpers shared by the redb store's own tests: typed jobs and records.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use kinfolk::store::{Boxed, ReadTx, WriteTx};
use kinfolk::{
    Clock, ConnectedAccount, Edge, EdgeKind, ManualClock, Membership, Result, Room, RoomId,
    RoomKind, RoomName, RoomRole, RoomVisibility, Store, Timestamp, User, UserId,
};

/// Runs a typed write job.
pub async fn w<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&mut dyn WriteTx) -> Result<R> + Send + Sync + 'static,
{
    let out = store
        .write(std::sync::Arc::new(move |tx| {
            f(tx).map(|r| Box::new(r) as Boxed)
        }))
        .await?;
    Ok(*out.downcast::<R>().expect("the job's own type"))
}

/// Runs a typed read job.
pub async fn r<R, F>(store: &dyn Store, f: F) -> Result<R>
where
    R: Send + 'static,
    F: Fn(&dyn ReadTx) -> Result<R> + Send + Sync + 'static,
{
    let out = store
        .read(std::sync::Arc::new(move |tx| {
            f(tx).map(|r| Box::new(r) as Boxed)
        }))
        .await?;
    Ok(*out.downcast::<R>().expect("the job's own type"))
}

/// The epoch of the tests' clock plus `secs` seconds.
pub fn at(secs: i64) -> Timestamp {
    ManualClock::starting_at_epoch().now() + chrono::Duration::seconds(secs)
}

/// A user record with this username (also its display name), created at
/// the epoch.
pub fn user(username: &str) -> User {
    kinfolk_conformance::kit::user_record(username, username, at(0), at(0))
}

pub use kinfolk_conformance::kit::claim;

/// An edge, since the epoch.
pub fn edge(kind: EdgeKind, from: UserId, to: UserId, seq: u64) -> Edge {
    kinfolk_conformance::kit::edge(kind, from, to, seq, at(0))
}

/// A room.
pub fn room(by: UserId) -> Room {
    Room {
        id: RoomId::new(),
        kind: RoomKind::Group,
        name: RoomName::parse("Garden club").unwrap(),
        visibility: RoomVisibility::Public,
        created_by: by,
        created_at: ManualClock::starting_at_epoch().now(),
        member_count: 0,
    }
}

/// A membership.
pub fn membership(room: RoomId, user: UserId, seq: u64) -> Membership {
    Membership {
        room,
        user,
        role: RoomRole::Member,
        joined_at: ManualClock::starting_at_epoch().now(),
        seq,
    }
}

/// A connected account, linked `secs` after the epoch.
pub fn account(user: UserId, provider: &str, external_id: &str, secs: i64) -> ConnectedAccount {
    ConnectedAccount {
        user,
        provider: provider.into(),
        external_id: external_id.into(),
        handle: format!("{provider}:{external_id}"),
        connected_at: at(secs),
    }
}
