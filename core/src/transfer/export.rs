//! Export: one read snapshot of the whole store, in file order.

use std::collections::BTreeSet;

use tracing::Instrument;

use super::{HoldRecord, RoomRecord, Transfer, UserRecord};
use crate::error::Result;
use crate::graph::{Anchor, Edge, EdgeKind};
use crate::id::{RoomId, UserId};
use crate::profile::is_skeleton_key;
use crate::rooms::Membership;
use crate::service::Kinfolk;
use crate::store::ReadTx;

/// Rows read per range scan.
const PAGE: usize = 10_000;

impl Kinfolk {
    /// Reads everything the store holds into a [`Transfer`], from one
    /// consistent snapshot, each section in file order (see
    /// [`transfer`](crate::transfer)). Write it with
    /// [`write_transfer`](crate::transfer::write_transfer).
    ///
    /// Held in memory whole (about 100 bytes per edge). Rooms are found
    /// through their members (every room has its owner as a member).
    ///
    /// # Errors
    /// `Storage` when the store fails or holds a record it cannot decode.
    ///
    /// # Example
    /// ```text
    /// let data = svc.export_transfer().await?;
    /// kinfolk::transfer::write_transfer(&data, std::fs::File::create("all.jsonl")?)?;
    /// ```
    pub async fn export_transfer(&self) -> Result<Transfer> {
        let span = tracing::info_span!("export_transfer");
        self.rd(snapshot).instrument(span).await
    }
}

fn snapshot(tx: &dyn ReadTx) -> Result<Transfer> {
    let mut data = Transfer::default();
    let mut edges: [Vec<Edge>; 4] = Default::default();
    let mut room_ids: BTreeSet<RoomId> = BTreeSet::new();
    let mut after: Option<UserId> = None;
    loop {
        let users = tx.users_after(after, PAGE)?;
        let Some(last) = users.last() else { break };
        after = Some(last.id);
        for u in &users {
            data.users.push(UserRecord::of(u));
            let mut holds: Vec<HoldRecord> = tx
                .username_claims_of(u.id)?
                .into_iter()
                .filter(|c| !is_skeleton_key(&c.folded))
                .filter_map(|c| {
                    c.held_until.map(|held_until| HoldRecord {
                        user: u.id,
                        username: c.username,
                        held_until,
                    })
                })
                .collect();
            holds.sort_by_cached_key(|h| h.username.folded());
            data.holds.extend(holds);
            data.accounts.extend(tx.connected_accounts_of(u.id)?);
            for (i, kind) in EdgeKind::ALL.into_iter().enumerate() {
                let start = edges[i].len();
                let mut before = None;
                loop {
                    let page = tx.edges(kind, Anchor::From(u.id), before, PAGE)?;
                    let Some(last) = page.last() else { break };
                    before = Some(last.seq);
                    let full = page.len() == PAGE;
                    edges[i].extend(page);
                    if !full {
                        break;
                    }
                }
                edges[i][start..].sort_unstable_by_key(|e| e.to);
            }
            let mut before = None;
            loop {
                let page = tx.memberships_of(u.id, before, PAGE)?;
                let Some(last) = page.last() else { break };
                before = Some(last.seq);
                let full = page.len() == PAGE;
                room_ids.extend(page.iter().map(|m| m.room));
                if !full {
                    break;
                }
            }
        }
    }
    let ids: Vec<RoomId> = room_ids.into_iter().collect();
    for chunk in ids.chunks(PAGE) {
        let mut rooms = tx.rooms(chunk)?;
        rooms.sort_unstable_by_key(|r| r.id);
        for room in &rooms {
            data.rooms.push(RoomRecord::of(room));
            let mut after = None;
            loop {
                let page: Vec<Membership> = tx.members(room.id, after, PAGE)?;
                let Some(last) = page.last() else { break };
                after = Some(last.seq);
                let full = page.len() == PAGE;
                data.members.extend(page);
                if !full {
                    break;
                }
            }
        }
    }
    let mut start = 0;
    for room in &data.rooms {
        let end = start
            + data.members[start..]
                .iter()
                .take_while(|m| m.room == room.id)
                .count();
        data.members[start..end].sort_unstable_by_key(|m| m.user);
        start = end;
    }
    data.edges = edges.into_iter().flatten().collect();
    Ok(data)
}
