//! Import: validate the whole transfer in memory, set-wise, by the
//! commands' rules; compute the counters; then load it into an empty store
//! in key order, one transaction and one feed event per batch.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tracing::Instrument;

use super::{Transfer, TransferError};
use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::feed::Change;
use crate::graph::{Edge, EdgeKind};
use crate::id::{RoomId, UserId};
use crate::profile::claims::skeleton_marker;
use crate::profile::{ConnectedAccount, User, UsernameClaim, skeleton_key};
use crate::rooms::{Membership, Room, RoomRole};
use crate::service::Kinfolk;
use crate::store::{BulkLoad, WriteTx};

/// Rows (users, claims, accounts, rooms, memberships or edges) one import
/// transaction writes; each batch appends one [`Change::Imported`] event.
pub const TRANSFER_BATCH: usize = 100_000;

/// What [`Kinfolk::import_transfer`] loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Users.
    pub users: u64,
    /// Username claims written (current names, holds and skeleton claims).
    pub claims: u64,
    /// Connected accounts.
    pub accounts: u64,
    /// Rooms.
    pub rooms: u64,
    /// Memberships.
    pub members: u64,
    /// Edges of every kind.
    pub edges: u64,
    /// Write transactions (one feed event each).
    pub batches: u64,
}

/// Everything validated, counters set, ready to write in key order.
struct Plan {
    users: Vec<User>,
    /// Claims of each user, by index in `users`: (start, end) into `claims`.
    claims: Vec<UsernameClaim>,
    claim_ranges: Vec<(usize, usize)>,
    accounts: Vec<ConnectedAccount>,
    rooms: Vec<Room>,
    members: Vec<Membership>,
    edges: Vec<Edge>,
    max_seq: u64,
}

/// The line of record `i` of a section starting at `start` (0: not from a file).
fn line(start: u64, i: usize) -> u64 {
    if start == 0 { 0 } else { start + i as u64 }
}

impl Kinfolk {
    /// Loads a [`Transfer`] into an empty store, keeping every id, time and
    /// sequence number, and computing every counter.
    ///
    /// First the whole transfer is checked in memory, by the rules of the
    /// commands that would have made each record: usernames valid, not
    /// reserved, unique case-folded, and a hold in force not on the skeleton
    /// of another user's name (with
    /// [`Config::unique_username_skeletons`](crate::Config)); two current
    /// names on one skeleton are kept, the first in id order owning the
    /// skeleton claim, as [`Kinfolk::migrate_username_skeletons`] decides
    /// for a store that already holds them; an `http:` avatar
    /// only when [`Config::allow_http_avatars`](crate::Config); connected
    /// accounts valid and unique; every membership's room and user known,
    /// one owner per room; every edge between two different known users,
    /// no follow or request beside a block in either direction, no follow
    /// beside a request of its pair, requests only to private accounts,
    /// `until` only on mutes, follows plus outgoing requests within
    /// [`Config::max_following`](crate::Config); sequence numbers unique;
    /// each section in its order. Nothing is written unless all of it passes.
    ///
    /// Then it is written in batches of [`TRANSFER_BATCH`] rows, one
    /// transaction and one [`Change::Imported`] event each: users first
    /// (with their counters and username claims; the event lists them), then
    /// accounts, rooms, memberships and edges in key order. The store's
    /// feed sequence is first raised past every imported `seq`
    /// ([`WriteTx::raise_seq`]), and the store is told of the bulk load
    /// ([`WriteTx::bulk_load`]) so it may build indexes after it.
    ///
    /// An engine failure part-way leaves the batches written so far: start
    /// again from a new, empty store.
    ///
    /// # Errors
    /// [`TransferError`] with the line of the first bad record (0 when read
    /// from no file or not about a record) and the error the command would
    /// give: `Validation` (`id`, `order`, `seq`, `until`, `avatar_url`,
    /// a field's own), `UsernameReserved`, `UsernameTaken`, `NotFound`,
    /// `CannotFollowSelf`, `Blocked`, `Conflict` (a follow beside a request,
    /// a request to a public account, a second owner, an account linked
    /// twice), `LimitExceeded` (`following`); `Conflict` (line 0) when the
    /// store is not empty; `Storage`.
    ///
    /// # Example
    /// ```text
    /// let data = kinfolk::transfer::read_transfer(std::io::BufReader::new(file))?;
    /// let report = svc.import_transfer(data).await?;
    /// ```
    pub async fn import_transfer(&self, data: Transfer) -> Result<ImportReport, TransferError> {
        let span = tracing::info_span!(
            "import_transfer",
            users = data.users.len(),
            edges = data.edges.len()
        );
        async move {
            let now = self.now()?;
            let plan = Arc::new(self.plan(data, now)?);
            self.load(plan, now).await.map_err(TransferError::from)
        }
        .instrument(span)
        .await
    }

    fn plan(&self, data: Transfer, now: Timestamp) -> Result<Plan, TransferError> {
        let cfg = &self.inner.config;
        let at = |start: u64, i: usize, e: Error| TransferError::at(line(start, i), e);
        let lines = data.lines;

        // Users: sorted, names valid, unique folded and on their skeleton.
        let mut index: HashMap<UserId, usize> = HashMap::with_capacity(data.users.len());
        let mut folded: HashMap<String, usize> = HashMap::with_capacity(data.users.len());
        // Skeleton key -> (claim index in `claims` once built; owner index).
        let mut skeletons: HashMap<String, (usize, Option<Timestamp>)> =
            HashMap::with_capacity(data.users.len());
        let mut users: Vec<User> = Vec::with_capacity(data.users.len());
        for (i, r) in data.users.iter().enumerate() {
            let e = |e| at(lines.users, i, e);
            if i > 0 && data.users[i - 1].id >= r.id {
                return Err(e(Error::validation(
                    "id",
                    "users must be sorted by id, each once",
                )));
            }
            self.check_reserved(&r.username).map_err(e)?;
            if r.settings.version == 0 {
                return Err(e(Error::validation("settings.version", "starts at 1")));
            }
            if let Some(url) = &r.avatar_url
                && !url.is_https()
                && !cfg.allow_http_avatars
            {
                return Err(e(Error::validation(
                    "avatar_url",
                    "only https URLs are allowed",
                )));
            }
            if folded.insert(r.username.folded(), i).is_some() {
                return Err(e(Error::UsernameTaken));
            }
            // Two current names on one skeleton both existed in the store
            // the file came from (registered before skeletons were unique,
            // or with `unique_username_skeletons` off): both keep working,
            // and the first in id order — registration order, UUID v7 —
            // owns the skeleton claim, as `migrate_username_skeletons`
            // decides for a store that already holds them. Refusing them
            // would make such a store impossible to move.
            skeletons
                .entry(skeleton_key(&r.username))
                .or_insert((i, None));
            index.insert(r.id, i);
            users.push(r.to_user());
        }
        let user_at = |id: UserId| index.get(&id).copied();

        // Holds: sorted by (user, folded); a name held is still a name.
        let mut holds: Vec<(usize, UsernameClaim)> = Vec::with_capacity(data.holds.len());
        for (i, h) in data.holds.iter().enumerate() {
            let e = |e| at(lines.holds, i, e);
            let f = h.username.folded();
            if let Some((prev_user, prev)) = holds.last()
                && (data.users[*prev_user].id, prev.folded.as_str()) >= (h.user, f.as_str())
            {
                return Err(e(Error::validation(
                    "order",
                    "holds must be sorted by user, then folded name, each once",
                )));
            }
            let u = user_at(h.user).ok_or_else(|| e(Error::user_not_found()))?;
            if folded.insert(f.clone(), u).is_some() {
                return Err(e(Error::UsernameTaken));
            }
            if h.held_until > now {
                match skeletons.entry(skeleton_key(&h.username)) {
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        let (owner, until) = *o.get();
                        if owner != u {
                            if cfg.unique_username_skeletons {
                                return Err(e(Error::UsernameTaken));
                            }
                        } else if until.is_some_and(|t| t < h.held_until) {
                            // The longer hold decides (a current name, `None`, wins).
                            o.insert((u, Some(h.held_until)));
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert((u, Some(h.held_until)));
                    }
                }
            }
            holds.push((
                u,
                UsernameClaim {
                    folded: f,
                    user: h.user,
                    username: h.username.clone(),
                    held_until: Some(h.held_until),
                },
            ));
        }

        // Claims per user: current name, holds, skeleton claims it owns.
        let mut per_user: Vec<Vec<UsernameClaim>> = users
            .iter()
            .map(|u| {
                vec![UsernameClaim {
                    folded: u.username.folded(),
                    user: u.id,
                    username: u.username.clone(),
                    held_until: None,
                }]
            })
            .collect();
        for (u, c) in &holds {
            per_user[*u].push(c.clone());
        }
        for (key, (owner, until)) in skeletons {
            let name = match until {
                None => users[owner].username.clone(),
                Some(t) => holds
                    .iter()
                    .filter(|(u, c)| {
                        *u == owner && c.held_until == Some(t) && skeleton_key(&c.username) == key
                    })
                    .map(|(_, c)| c.username.clone())
                    .next()
                    .ok_or_else(|| Error::corrupt("import: a skeleton without its hold"))?,
            };
            per_user[owner].push(UsernameClaim {
                folded: key,
                user: users[owner].id,
                username: name,
                held_until: until,
            });
        }
        let mut claims = Vec::new();
        let mut claim_ranges = Vec::with_capacity(users.len());
        for mut cs in per_user {
            cs.sort_unstable_by(|a, b| a.folded.cmp(&b.folded));
            let start = claims.len();
            claims.extend(cs);
            claim_ranges.push((start, claims.len()));
        }

        // Connected accounts.
        let mut linked: HashSet<(&str, &str)> = HashSet::with_capacity(data.accounts.len());
        for (i, a) in data.accounts.iter().enumerate() {
            let e = |e| at(lines.accounts, i, e);
            if i > 0 {
                let p = &data.accounts[i - 1];
                if (p.user, p.connected_at, &p.provider, &p.external_id)
                    >= (a.user, a.connected_at, &a.provider, &a.external_id)
                {
                    return Err(e(Error::validation(
                        "order",
                        "accounts must be sorted by user, connected_at, provider, external_id",
                    )));
                }
            }
            let norm =
                crate::accounts::connected::account_fields(&a.provider, &a.external_id, &a.handle)
                    .map_err(e)?;
            if (norm.0.as_str(), norm.1.as_str(), norm.2.as_str())
                != (
                    a.provider.as_str(),
                    a.external_id.as_str(),
                    a.handle.as_str(),
                )
            {
                return Err(e(Error::validation(
                    "provider",
                    "provider, external_id and handle must be stored normalised",
                )));
            }
            user_at(a.user).ok_or_else(|| e(Error::user_not_found()))?;
            if !linked.insert((&a.provider, &a.external_id)) {
                return Err(e(Error::Conflict {
                    reason: "this account is linked to another user",
                }));
            }
        }

        // Rooms and memberships: one owner each, counts computed.
        let mut seqs: Vec<u64> = Vec::with_capacity(data.members.len() + data.edges.len());
        let mut room_index: HashMap<RoomId, usize> = HashMap::with_capacity(data.rooms.len());
        let mut rooms: Vec<Room> = Vec::with_capacity(data.rooms.len());
        for (i, r) in data.rooms.iter().enumerate() {
            if i > 0 && data.rooms[i - 1].id >= r.id {
                return Err(at(
                    lines.rooms,
                    i,
                    Error::validation("id", "rooms must be sorted by id, each once"),
                ));
            }
            room_index.insert(r.id, i);
            rooms.push(Room {
                id: r.id,
                kind: r.kind,
                name: r.name.clone(),
                visibility: r.visibility,
                created_by: r.created_by,
                created_at: r.created_at,
                member_count: 0,
            });
        }
        let mut owners = vec![0u32; rooms.len()];
        for (i, m) in data.members.iter().enumerate() {
            let e = |e| at(lines.members, i, e);
            if i > 0 {
                let p = &data.members[i - 1];
                if (p.room, p.user) >= (m.room, m.user) {
                    return Err(e(Error::validation(
                        "order",
                        "members must be sorted by room, then user, each once",
                    )));
                }
            }
            let r = *room_index
                .get(&m.room)
                .ok_or_else(|| e(Error::NotFound { what: "room" }))?;
            let u = user_at(m.user).ok_or_else(|| e(Error::user_not_found()))?;
            if m.seq == 0 {
                return Err(e(Error::validation("seq", "starts at 1")));
            }
            if m.role == RoomRole::Owner {
                owners[r] += 1;
                if owners[r] > 1 {
                    return Err(e(Error::Conflict {
                        reason: "a room has one owner",
                    }));
                }
            }
            rooms[r].member_count += 1;
            users[u].counts.rooms += 1;
            seqs.push(m.seq);
        }
        if let Some(r) = owners.iter().position(|&n| n == 0) {
            return Err(at(
                lines.rooms,
                r,
                Error::validation("role", "a room needs its owner among its members"),
            ));
        }

        // Edges: the pairs of each kind first, to judge each edge against
        // the others set-wise.
        let mut of_kind: [HashSet<(UserId, UserId)>; 4] = Default::default();
        for ed in &data.edges {
            if matches!(ed.kind, EdgeKind::Request | EdgeKind::Block) {
                of_kind[usize::from(ed.kind.code() - 1)].insert((ed.from, ed.to));
            }
        }
        let (requests, blocks) = (&of_kind[1], &of_kind[2]);
        let blocked = |a: UserId, b: UserId| blocks.contains(&(a, b)) || blocks.contains(&(b, a));
        let mut out_requests: HashMap<usize, u64> = HashMap::new();
        for ed in data.edges.iter().filter(|e| e.kind == EdgeKind::Request) {
            if let Some(u) = user_at(ed.from) {
                *out_requests.entry(u).or_default() += 1;
            }
        }
        for (i, ed) in data.edges.iter().enumerate() {
            let e = |e| at(lines.edges, i, e);
            if i > 0 {
                let p = &data.edges[i - 1];
                if (p.kind, p.from, p.to) >= (ed.kind, ed.from, ed.to) {
                    return Err(e(Error::validation(
                        "order",
                        "edges must be sorted by kind, from, to, each once",
                    )));
                }
            }
            if ed.from == ed.to {
                return Err(e(match ed.kind {
                    EdgeKind::Follow | EdgeKind::Request => Error::CannotFollowSelf,
                    EdgeKind::Block => Error::validation("target", "you cannot block yourself"),
                    EdgeKind::Mute => Error::validation("target", "you cannot mute yourself"),
                }));
            }
            let f = user_at(ed.from).ok_or_else(|| e(Error::user_not_found()))?;
            let t = user_at(ed.to).ok_or_else(|| e(Error::user_not_found()))?;
            if ed.seq == 0 {
                return Err(e(Error::validation("seq", "starts at 1")));
            }
            if ed.until.is_some() && ed.kind != EdgeKind::Mute {
                return Err(e(Error::validation("until", "only a mute has an end")));
            }
            match ed.kind {
                EdgeKind::Follow | EdgeKind::Request => {
                    if blocked(ed.from, ed.to) {
                        return Err(e(Error::Blocked));
                    }
                    if ed.kind == EdgeKind::Follow {
                        if requests.contains(&(ed.from, ed.to)) {
                            return Err(e(Error::Conflict {
                                reason: "a follow cannot stand beside a request of its pair",
                            }));
                        }
                        users[f].counts.following += 1;
                        users[t].counts.followers += 1;
                    } else {
                        if !users[t].settings.privacy.private_account {
                            return Err(e(Error::Conflict {
                                reason: "only a private account has pending requests",
                            }));
                        }
                        users[t].counts.pending_requests += 1;
                    }
                    let pending = out_requests.get(&f).copied().unwrap_or(0);
                    if users[f].counts.following.saturating_add(pending) > cfg.max_following {
                        return Err(e(Error::LimitExceeded {
                            what: "following",
                            limit: cfg.max_following,
                        }));
                    }
                }
                EdgeKind::Block | EdgeKind::Mute => {}
            }
            seqs.push(ed.seq);
        }

        // Sequence numbers: unique across edges and memberships.
        seqs.sort_unstable();
        if let Some(w) = seqs.windows(2).find(|w| w[0] == w[1]) {
            let dup = w[0];
            let l = data
                .edges
                .iter()
                .enumerate()
                .filter(|(_, e)| e.seq == dup)
                .map(|(i, _)| line(lines.edges, i))
                .chain(
                    data.members
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.seq == dup)
                        .map(|(i, _)| line(lines.members, i)),
                )
                .max()
                .unwrap_or(0);
            return Err(TransferError::at(
                l,
                Error::validation("seq", format!("sequence number {dup} is used twice")),
            ));
        }
        let max_seq = seqs.last().copied().unwrap_or(0);
        Ok(Plan {
            users,
            claims,
            claim_ranges,
            accounts: data.accounts,
            rooms,
            members: data.members,
            edges: data.edges,
            max_seq,
        })
    }

    async fn load(&self, plan: Arc<Plan>, now: Timestamp) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let p = Arc::clone(&plan);
        self.wr(move |tx| {
            let empty = tx.users_after(None, 1)?.is_empty()
                && tx.last_seq()? == 0
                && tx
                    .username_claims_of(UserId::from_bytes([0; 16]))?
                    .is_empty();
            if !empty {
                return Err(Error::Conflict {
                    reason: "import needs an empty store",
                });
            }
            tx.bulk_load(BulkLoad::Start)?;
            tx.raise_seq(now, p.max_seq)?;
            tx.insert_username_claim(&skeleton_marker()?)
        })
        .await?;
        // Users with their claims, by id.
        let mut start = 0;
        while start < plan.users.len() {
            let (first_claim, _) = plan.claim_ranges[start];
            let mut end = start;
            while end < plan.users.len()
                && plan.claim_ranges[end].1 - first_claim + (end - start) < TRANSFER_BATCH
            {
                end += 1;
            }
            let end = end.max(start + 1);
            let p = Arc::clone(&plan);
            self.wr(move |tx| {
                let users = &p.users[start..end];
                tx.put_users(users)?;
                let (a, _) = p.claim_ranges[start];
                let (_, b) = p.claim_ranges[end - 1];
                let mut claims: Vec<UsernameClaim> = p.claims[a..b].to_vec();
                claims.sort_unstable_by(|x, y| x.folded.cmp(&y.folded));
                tx.insert_username_claims(&claims)?;
                let ids = users.iter().map(|u| u.id).collect();
                tx.append_change(now, Change::Imported { users: ids })?;
                Ok(())
            })
            .await?;
            report.users += (end - start) as u64;
            report.claims += (plan.claim_ranges[end - 1].1 - first_claim) as u64;
            report.batches += 1;
            start = end;
        }
        report.accounts = self
            .load_rows(&plan, now, plan.accounts.len(), |tx, p, r| {
                tx.insert_connected_accounts(&p.accounts[r])
            })
            .await?;
        report.rooms = self
            .load_rows(&plan, now, plan.rooms.len(), |tx, p, r| {
                tx.put_rooms(&p.rooms[r])
            })
            .await?;
        report.members = self
            .load_rows(&plan, now, plan.members.len(), |tx, p, r| {
                tx.put_memberships(&p.members[r])
            })
            .await?;
        report.edges = self
            .load_rows(&plan, now, plan.edges.len(), |tx, p, r| {
                tx.load_edges(&p.edges[r])
            })
            .await?;
        report.batches += [
            plan.accounts.len(),
            plan.rooms.len(),
            plan.members.len(),
            plan.edges.len(),
        ]
        .iter()
        .map(|n| n.div_ceil(TRANSFER_BATCH) as u64)
        .sum::<u64>();
        self.wr(|tx| tx.bulk_load(BulkLoad::Finish)).await?;
        Ok(report)
    }

    /// Writes `n` rows of one section in batches, one transaction and one
    /// `Imported` event (no users) each; returns `n`.
    async fn load_rows<F>(
        &self,
        plan: &Arc<Plan>,
        now: Timestamp,
        n: usize,
        write: F,
    ) -> Result<u64>
    where
        F: Fn(&mut dyn WriteTx, &Plan, std::ops::Range<usize>) -> Result<()>
            + Send
            + Sync
            + Copy
            + 'static,
    {
        let mut start = 0;
        while start < n {
            let end = (start + TRANSFER_BATCH).min(n);
            let p = Arc::clone(plan);
            self.wr(move |tx| {
                write(tx, &p, start..end)?;
                tx.append_change(now, Change::Imported { users: Vec::new() })?;
                Ok(())
            })
            .await?;
            start = end;
        }
        Ok(n as u64)
    }
}
