//! Loads a [`Dataset`] into any store.
//!
//! Users and follows go through the service's bulk import
//! ([`Kinfolk::import_users`], [`Kinfolk::import_follows`]: all rules, one
//! transaction per batch of ≤ 50,000 rows). Settings, blocks and rooms have no
//! bulk command, so they are written with `kinfolk::store::write` (one
//! transaction per batch) doing exactly the record changes the single commands
//! do — the same records, counters and feed events.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kinfolk::store::{self, WriteTx};
use kinfolk::{
    Change, Edge, EdgeKind, Error, Kinfolk, Membership, NewUser, Room, RoomId, RoomKind, RoomName,
    RoomRole, RoomVisibility, Timestamp, User, UserId,
};

use crate::dataset::Dataset;

/// Rows per import batch.
pub const BATCH: usize = 50_000;

/// What a load produced.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// `ids[i]` is generated user `i`.
    pub ids: Vec<UserId>,
    pub room_ids: Vec<RoomId>,
    pub users_time: Duration,
    pub follows_time: Duration,
    pub rest_time: Duration,
    pub follows_added: u64,
}

impl Loaded {
    pub fn id(&self, i: u32) -> UserId {
        self.ids[i as usize]
    }
}

fn now() -> Timestamp {
    kinfolk::Clock::now(&kinfolk::SystemClock)
}

/// Loads everything; panics on failure (a benchmark cannot go on without its data).
pub async fn load(svc: &Kinfolk, ds: &Dataset) -> Loaded {
    let t = Instant::now();
    let mut ids = Vec::with_capacity(ds.users.len());
    for chunk in ds.users.chunks(BATCH) {
        let batch: Vec<NewUser> = chunk
            .iter()
            .map(|u| NewUser::new(&u.username, &u.name).expect("generated user is valid"))
            .collect();
        ids.extend(svc.import_users(batch).await.expect("import users"));
    }
    let users_time = t.elapsed();

    let t = Instant::now();
    let mut follows_added = 0;
    for chunk in ds.follows.chunks(BATCH) {
        let batch: Vec<(UserId, UserId)> = chunk
            .iter()
            .map(|&(a, b)| (ids[a as usize], ids[b as usize]))
            .collect();
        follows_added += svc.import_follows(batch).await.expect("import follows");
    }
    let follows_time = t.elapsed();

    let t = Instant::now();
    let st = svc.store().clone();
    // Privacy settings: private accounts and non-discoverable ones.
    let mut settings: HashMap<UserId, (bool, bool)> = HashMap::new();
    for &u in &ds.private {
        settings.entry(ids[u as usize]).or_default().0 = true;
    }
    for &u in &ds.hidden {
        settings.entry(ids[u as usize]).or_default().1 = true;
    }
    let settings: Vec<(UserId, (bool, bool))> = settings.into_iter().collect();
    for chunk in settings.chunks(BATCH) {
        let chunk = chunk.to_vec();
        store::write(st.as_ref(), move |tx| {
            let at = now();
            for &(id, (private, hidden)) in &chunk {
                let mut u = tx.user(id)?.ok_or_else(|| Error::corrupt("user"))?;
                if private {
                    u.settings.privacy.private_account = true;
                }
                if hidden {
                    u.settings.privacy.discoverable = false;
                }
                u.settings.version += 1;
                tx.put_user(&u)?;
                tx.append_change(at, Change::SettingsChanged { user: id })?;
            }
            Ok(())
        })
        .await
        .expect("bulk settings");
    }

    // Blocks, between users with no follow either way (as `block` leaves them).
    let blocks: Vec<(UserId, UserId)> = ds
        .blocks
        .iter()
        .map(|&(a, b)| (ids[a as usize], ids[b as usize]))
        .collect();
    store::write(st.as_ref(), move |tx| {
        let at = now();
        for &(a, b) in &blocks {
            if tx.edge(EdgeKind::Follow, a, b)?.is_some()
                || tx.edge(EdgeKind::Follow, b, a)?.is_some()
                || tx.edge(EdgeKind::Block, a, b)?.is_some()
            {
                continue;
            }
            let seq = tx.append_change(
                at,
                Change::Blocked {
                    blocker: a,
                    blocked: b,
                },
            )?;
            tx.insert_edge(&Edge {
                kind: EdgeKind::Block,
                from: a,
                to: b,
                since: at,
                seq,
                until: None,
            })?;
        }
        Ok(())
    })
    .await
    .expect("bulk blocks");

    // Rooms and memberships, as create_room + add_member do.
    let mut room_ids = Vec::with_capacity(ds.rooms.len());
    let mut pending: Vec<(RoomId, &crate::dataset::GenRoom)> = Vec::new();
    let mut rows = 0;
    for r in &ds.rooms {
        let id = RoomId::new();
        room_ids.push(id);
        pending.push((id, r));
        rows += r.members.len();
        if rows >= BATCH {
            write_rooms(st.as_ref(), &ids, std::mem::take(&mut pending)).await;
            rows = 0;
        }
    }
    if !pending.is_empty() {
        write_rooms(st.as_ref(), &ids, pending).await;
    }
    let rest_time = t.elapsed();
    Loaded {
        ids,
        room_ids,
        users_time,
        follows_time,
        rest_time,
        follows_added,
    }
}

async fn write_rooms(
    st: &dyn kinfolk::Store,
    ids: &[UserId],
    rooms: Vec<(RoomId, &crate::dataset::GenRoom)>,
) {
    let rooms: Vec<(RoomId, String, bool, bool, Vec<UserId>)> = rooms
        .into_iter()
        .map(|(id, r)| {
            (
                id,
                r.name.clone(),
                r.page,
                r.public,
                r.members.iter().map(|&m| ids[m as usize]).collect(),
            )
        })
        .collect();
    store::write(st, move |tx: &mut dyn WriteTx| {
        let at = now();
        let mut touched: HashMap<UserId, User> = HashMap::new();
        for &(id, ref name, page, public, ref members) in &rooms {
            let owner = members[0];
            let seq = tx.append_change(
                at,
                Change::RoomCreated {
                    room: id,
                    by: owner,
                },
            )?;
            tx.put_room(&Room {
                id,
                kind: if page {
                    RoomKind::Page
                } else {
                    RoomKind::Group
                },
                name: RoomName::parse(name)?,
                visibility: if public {
                    RoomVisibility::Public
                } else {
                    RoomVisibility::Private
                },
                created_by: owner,
                created_at: at,
                member_count: members.len() as u64,
            })?;
            for (i, m) in members.iter().enumerate() {
                let seq = if i == 0 {
                    seq
                } else {
                    tx.append_change(
                        at,
                        Change::MemberAdded {
                            room: id,
                            user: *m,
                            by: owner,
                        },
                    )?
                };
                tx.put_membership(&Membership {
                    room: id,
                    user: *m,
                    role: if i == 0 {
                        RoomRole::Owner
                    } else {
                        RoomRole::Member
                    },
                    joined_at: at,
                    seq,
                })?;
                if !touched.contains_key(m) {
                    let u = tx.user(*m)?.ok_or_else(|| Error::corrupt("user"))?;
                    touched.insert(*m, u);
                }
                if let Some(u) = touched.get_mut(m) {
                    u.counts.rooms += 1;
                }
            }
        }
        for u in touched.values() {
            tx.put_user(u)?;
        }
        Ok(())
    })
    .await
    .expect("bulk rooms");
}
