//! A generated [`Dataset`] as one [`Transfer`], for
//! [`Kinfolk::import_transfer`](kinfolk::Kinfolk::import_transfer): the fast
//! way to build a 1M-user store (≈ 2 minutes instead of the 15–37 of
//! [`crate::load::load`]), used by `kinfolk-scale build-fast`.
//!
//! Same users (private and non-discoverable ones set in their settings),
//! follows (self-follows and repeats dropped), blocks (only between users
//! with no follow either way, as [`crate::load::load`] writes them), rooms
//! and memberships (the first member owns the room) as the slow loader. The
//! difference is the feed: one `Imported` event per batch instead of one
//! event per row, and every edge and membership keeps the `seq` it has in
//! the transfer (its position). Ids are fixed by the user's index
//! ([`user_id`]), so they are known without reading the store back.
//!
//! A generated username whose folded form or skeleton another user already
//! claims is renamed (`<name>_<index>`) in the dataset before the transfer is
//! made, so the requests drawn from the dataset name users that exist.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kinfolk::transfer::{RoomRecord, Transfer, UserRecord};
use kinfolk::{
    AccountStatus, DisplayName, Edge, EdgeKind, Membership, RoomId, RoomKind, RoomName, RoomRole,
    RoomVisibility, Settings, UserId, Username,
};

use crate::dataset::Dataset;
use crate::load::Loaded;

/// A service over `store` with no following cap, for loading the generated
/// dataset (its celebrities are followed by far more users than
/// [`kinfolk::Config::max_following`] allows one user to follow, and the
/// importers check the cap per follower).
///
/// # Errors
/// What [`kinfolk::KinfolkBuilder::build`] returns.
pub async fn uncapped_service(
    store: impl kinfolk::Shared<dyn kinfolk::Store>,
) -> kinfolk::Result<kinfolk::Kinfolk> {
    kinfolk::Kinfolk::builder(store)
        .config(kinfolk::Config {
            max_following: u64::MAX,
            ..Default::default()
        })
        .build()
        .await
}

/// The id of generated user `i`.
pub fn user_id(i: u32) -> UserId {
    UserId::from_bytes(
        (0x0190_0000_0000_7000_8000_0000_0000_0000u128 | u128::from(i)).to_be_bytes(),
    )
}

/// The id of generated room `i`.
pub fn room_id(i: u32) -> RoomId {
    RoomId::from_bytes(
        (0x0190_0000_0001_7000_8000_0000_0000_0000u128 | u128::from(i)).to_be_bytes(),
    )
}

/// Renames the users whose folded username or skeleton an earlier user
/// already has; returns how many were renamed.
pub fn dedup_usernames(ds: &mut Dataset) -> usize {
    let mut folded = HashSet::with_capacity(ds.users.len());
    let mut skeletons = HashSet::with_capacity(ds.users.len());
    let mut renamed = 0;
    for (i, u) in ds.users.iter_mut().enumerate() {
        let mut name = Username::parse(&u.username).expect("generated username is valid");
        let mut n = 0;
        while folded.contains(&name.folded())
            || skeletons.contains(&kinfolk::profile::skeleton_key(&name))
        {
            n += 1;
            let candidate = format!("{}_{}", u.username, i + n - 1);
            name = Username::parse(&candidate).expect("renamed username is valid");
        }
        if n > 0 {
            u.username = name.as_str().to_owned();
            renamed += 1;
        }
        folded.insert(name.folded());
        skeletons.insert(kinfolk::profile::skeleton_key(&name));
    }
    renamed
}

/// The dataset as a transfer, and the [`Loaded`] the slow loader would
/// have returned (ids, room ids, follows added; no timings).
pub fn transfer(ds: &Dataset) -> (Transfer, Loaded) {
    let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    let n = ds.users.len();
    let mut private = vec![false; n];
    for &p in &ds.private {
        private[p as usize] = true;
    }
    let mut hidden = vec![false; n];
    for &h in &ds.hidden {
        hidden[h as usize] = true;
    }
    let users: Vec<UserRecord> = ds
        .users
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut settings = Settings::default();
            settings.privacy.private_account = private[i];
            settings.privacy.discoverable = !hidden[i];
            let at = t0 + chrono::Duration::milliseconds(i as i64);
            UserRecord {
                id: user_id(i as u32),
                username: Username::parse(&g.username).expect("valid username"),
                name: DisplayName::parse(&g.name).expect("valid name"),
                bio: Default::default(),
                avatar_url: None,
                social_links: Default::default(),
                location: None,
                email: None,
                status: AccountStatus::Active,
                settings,
                created_at: at,
                updated_at: at,
            }
        })
        .collect();

    // Follows: seq = position in the generated list (+1), repeats dropped.
    let mut follows: Vec<(u32, u32, u64)> = ds
        .follows
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, &(a, b))| (a, b, i as u64 + 1))
        .collect();
    follows.sort_unstable();
    follows.dedup_by_key(|p| (p.0, p.1));
    let mut seq = ds.follows.len() as u64;
    let follow_pairs: HashSet<(u32, u32)> = follows.iter().map(|&(a, b, _)| (a, b)).collect();
    let mut blocks: Vec<(u32, u32)> = ds
        .blocks
        .iter()
        .copied()
        .filter(|&(a, b)| {
            a != b && !follow_pairs.contains(&(a, b)) && !follow_pairs.contains(&(b, a))
        })
        .collect();
    blocks.sort_unstable();
    blocks.dedup();
    let since = t0 + chrono::Duration::days(1);
    let follows_added = follows.len() as u64;
    let mut edges: Vec<Edge> = follows
        .into_iter()
        .map(|(a, b, s)| Edge {
            kind: EdgeKind::Follow,
            from: user_id(a),
            to: user_id(b),
            since,
            seq: s,
            until: None,
        })
        .collect();
    for (a, b) in blocks {
        seq += 1;
        edges.push(Edge {
            kind: EdgeKind::Block,
            from: user_id(a),
            to: user_id(b),
            since,
            seq,
            until: None,
        });
    }

    let mut rooms = Vec::with_capacity(ds.rooms.len());
    let mut members = Vec::with_capacity(ds.memberships());
    let mut room_ids = Vec::with_capacity(ds.rooms.len());
    for (i, r) in ds.rooms.iter().enumerate() {
        let id = room_id(i as u32);
        room_ids.push(id);
        let owner = r.members[0];
        rooms.push(RoomRecord {
            id,
            kind: if r.page {
                RoomKind::Page
            } else {
                RoomKind::Group
            },
            name: RoomName::parse(&r.name).expect("valid room name"),
            visibility: if r.public {
                RoomVisibility::Public
            } else {
                RoomVisibility::Private
            },
            created_by: user_id(owner),
            created_at: since,
        });
        let mut ms: Vec<u32> = r.members.clone();
        ms.sort_unstable();
        ms.dedup();
        for m in ms {
            seq += 1;
            members.push(Membership {
                room: id,
                user: user_id(m),
                role: if m == owner {
                    RoomRole::Owner
                } else {
                    RoomRole::Member
                },
                joined_at: since,
                seq,
            });
        }
    }
    let loaded = Loaded {
        ids: (0..n as u32).map(user_id).collect(),
        room_ids,
        users_time: Duration::ZERO,
        follows_time: Duration::ZERO,
        rest_time: Duration::ZERO,
        follows_added,
    };
    (
        Transfer {
            users,
            rooms,
            members,
            edges,
            ..Transfer::default()
        },
        loaded,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transfer of a small generated dataset passes every import rule
    /// and gives the counters the generator's graph implies.
    #[test]
    fn a_generated_dataset_imports_with_its_counts() {
        let mut ds = Dataset::generate(2_000, crate::DEFAULT_SEED);
        dedup_usernames(&mut ds);
        let (data, loaded) = transfer(&ds);
        let (users, rooms, members, edges) = (
            data.users.len() as u64,
            data.rooms.len() as u64,
            data.members.len() as u64,
            data.edges.len() as u64,
        );
        assert!(loaded.follows_added > 0 && edges > loaded.follows_added);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let svc = uncapped_service(kinfolk_memory::MemoryStore::new())
                .await
                .unwrap();
            let report = svc.import_transfer(data).await.unwrap();
            assert_eq!(
                (report.users, report.rooms, report.members, report.edges),
                (users, rooms, members, edges)
            );
            let celebrity = loaded.id(ds.celebrity);
            let me = svc.me(celebrity).await.unwrap();
            let mut pairs: Vec<(u32, u32)> =
                ds.follows.iter().copied().filter(|(a, b)| a != b).collect();
            pairs.sort_unstable();
            pairs.dedup();
            let expected = pairs.iter().filter(|&&(_, b)| b == ds.celebrity).count() as u64;
            assert_eq!(me.stats.followers_count, expected);
        });
    }

    #[test]
    fn renamed_usernames_are_unique_when_folded() {
        let mut ds = Dataset::generate(300, 1);
        ds.users[1].username = ds.users[0].username.to_uppercase();
        assert_eq!(dedup_usernames(&mut ds), 1);
        let folded: HashSet<String> = ds
            .users
            .iter()
            .map(|u| Username::parse(&u.username).unwrap().folded())
            .collect();
        assert_eq!(folded.len(), ds.users.len());
    }
}
