//! Checking a store: the whole-store invariants, the storage engine's own
//! check and "the search index agrees with the store" ([`Kinfolk::check`]),
//! and repairing counter drift ([`Kinfolk::fix_counters`]).
//!
//! The invariants are one rule, written once, here ([`scan`]); the
//! conformance suite's test-kit, the model test and the `kinfolk check`
//! command all call it.
//!
//! ```
//! # async fn demo(svc: kinfolk::Kinfolk) -> kinfolk::Result<()> {
//! let report = svc.check().await?;
//! if !report.is_sound() {
//!     for f in &report.findings {
//!         eprintln!("{f}");
//!     }
//!     if report.findings.iter().all(|f| f.is_counter_drift()) {
//!         svc.fix_counters().await?;
//!     }
//! }
//! # Ok(()) }
//! ```

mod repair;
mod scan;

use std::fmt;

pub use repair::CounterRepair;
pub use scan::{scan, scan_paged, user_findings};

use crate::error::{Error, Result};
use crate::id::{RoomId, UserId};
use crate::search::{Boosts, MatchTier, SearchQuery};
use crate::service::Kinfolk;

/// A counter kept on a user record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Counter {
    /// `counts.followers`: approved follows of the user.
    Followers,
    /// `counts.following`: approved follows by the user.
    Following,
    /// `counts.pending_requests`: pending follow requests to the user.
    PendingRequests,
    /// `counts.rooms`: the user's room memberships.
    Rooms,
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Counter::Followers => "followers",
            Counter::Following => "following",
            Counter::PendingRequests => "pending_requests",
            Counter::Rooms => "rooms",
        })
    }
}

/// One violated invariant. `Display` gives a one-line, readable report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// A user's stored counter differs from the edges or memberships it
    /// counts. Repaired by [`Kinfolk::fix_counters`].
    CounterDrift {
        /// Whose counter.
        user: UserId,
        /// Which counter.
        counter: Counter,
        /// The stored value.
        stored: u64,
        /// What it counts.
        actual: u64,
    },
    /// A room's `member_count` differs from its members. Repaired by
    /// [`Kinfolk::fix_counters`].
    MemberCountDrift {
        /// The room.
        room: RoomId,
        /// The stored value.
        stored: u64,
        /// Its members.
        actual: u64,
    },
    /// Edges that may not stand together: a follow or request beside a block
    /// (either direction), a follow beside a request of the same pair.
    EdgeConflict {
        /// The user whose edges were read.
        user: UserId,
        /// The other end.
        other: UserId,
        /// Which edges.
        detail: String,
    },
    /// A username claim out of place: a current name not claimed by its user
    /// alone, a skeleton claim without a name of its user.
    Claim {
        /// The user.
        user: UserId,
        /// What is wrong.
        detail: String,
    },
    /// A room without an owner, or a membership of a room that does not exist.
    Room {
        /// The room.
        room: RoomId,
        /// What is wrong.
        detail: String,
    },
    /// Edge records and their indexes disagree (an edge under the wrong key,
    /// a self or duplicate edge, the two order indexes differ, a page out of
    /// order).
    Index {
        /// What disagrees.
        detail: String,
    },
    /// A stored time outside the supported range ([`crate::clock`]).
    TimeRange {
        /// Which record.
        detail: String,
    },
    /// A stored value does not decode (or the store failed while reading):
    /// the scan stopped there, so later records were not checked.
    Undecodable {
        /// The store's error.
        error: String,
    },
    /// The storage engine's own check ([`crate::Store::check_engine`]).
    Engine {
        /// One line of the engine's report.
        detail: String,
    },
    /// The search index does not agree with the store.
    SearchIndex {
        /// The user concerned.
        user: UserId,
        /// What differs.
        detail: String,
    },
}

impl Finding {
    /// Whether [`Kinfolk::fix_counters`] repairs this finding.
    pub fn is_counter_drift(&self) -> bool {
        matches!(
            self,
            Finding::CounterDrift { .. } | Finding::MemberCountDrift { .. }
        )
    }

    /// A short, stable name of the finding's kind (`counter_drift`,
    /// `edge_conflict`, …), for reports and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::CounterDrift { .. } => "counter_drift",
            Finding::MemberCountDrift { .. } => "member_count_drift",
            Finding::EdgeConflict { .. } => "edge_conflict",
            Finding::Claim { .. } => "claim",
            Finding::Room { .. } => "room",
            Finding::Index { .. } => "index",
            Finding::TimeRange { .. } => "time_range",
            Finding::Undecodable { .. } => "undecodable",
            Finding::Engine { .. } => "engine",
            Finding::SearchIndex { .. } => "search_index",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::CounterDrift {
                user,
                counter,
                stored,
                actual,
            } => write!(f, "user {user}: {counter} counter {stored} != {actual}"),
            Finding::MemberCountDrift {
                room,
                stored,
                actual,
            } => write!(f, "room {room}: member_count {stored} != {actual} members"),
            Finding::EdgeConflict {
                user,
                other,
                detail,
            } => write!(f, "user {user}: {detail} (with {other})"),
            Finding::Claim { user, detail } => write!(f, "user {user}: {detail}"),
            Finding::Room { room, detail } => write!(f, "room {room}: {detail}"),
            Finding::Index { detail } | Finding::TimeRange { detail } => f.write_str(detail),
            Finding::Undecodable { error } => {
                write!(f, "stored data does not decode: {error}")
            }
            Finding::Engine { detail } => write!(f, "engine: {detail}"),
            Finding::SearchIndex { user, detail } => {
                write!(f, "search index, user {user}: {detail}")
            }
        }
    }
}

/// What one scan of the store ([`scan`]) found and covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreScan {
    /// Every violated invariant (empty when the store is sound).
    pub findings: Vec<Finding>,
    /// Users scanned.
    pub users: usize,
    /// Follow edges found.
    pub follows: usize,
    /// Rooms with at least one member.
    pub rooms: usize,
    /// Feed events scanned.
    pub events: usize,
}

/// How the engine check went.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineCheck {
    /// The engine checked itself; its problems are in the findings.
    Ran,
    /// The store offers no check on a live store (the reason).
    NotSupported(&'static str),
}

/// What [`Kinfolk::check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Every finding: the engine's first, then the invariants', then the
    /// search index's.
    pub findings: Vec<Finding>,
    /// What the scan covered.
    pub users: usize,
    /// Follow edges scanned.
    pub follows: usize,
    /// Rooms scanned.
    pub rooms: usize,
    /// Feed events scanned.
    pub events: usize,
    /// Whether the engine's own check ran.
    pub engine: EngineCheck,
    /// Users compared with the search index; `None` without an index.
    pub search_checked: Option<usize>,
}

impl CheckReport {
    /// Whether nothing was found.
    pub fn is_sound(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Users read per batch by the index comparison.
const SEARCH_BATCH: usize = 500;

impl Kinfolk {
    /// Checks the store and returns every finding:
    ///
    /// 1. the engine's own check ([`crate::Store::check_engine`]; a store
    ///    without one is reported as [`EngineCheck::NotSupported`]);
    /// 2. every whole-store invariant ([`scan`]) in one read snapshot — a
    ///    value that does not decode becomes [`Finding::Undecodable`];
    /// 3. with a search index: every active user is found by their
    ///    username, with the follower count the store has, and no
    ///    deactivated user is found ([`Finding::SearchIndex`]).
    ///
    /// Changes nothing. Takes as long as reading the whole store.
    ///
    /// # Errors
    /// [`Error::Transient`] when the store stays unavailable;
    /// [`Error::Storage`] when the search index fails. (An engine check
    /// that fails to run is a [`Finding::Engine`], not an error.)
    pub async fn check(&self) -> Result<CheckReport> {
        let mut findings = Vec::new();
        let engine = match self.inner.store.check_engine().await {
            Ok(lines) => {
                findings.extend(lines.into_iter().map(|detail| Finding::Engine { detail }));
                EngineCheck::Ran
            }
            Err(Error::Unsupported { what }) => EngineCheck::NotSupported(what),
            // The check could not even run: that is what it found.
            Err(Error::Storage(e)) => {
                findings.push(Finding::Engine {
                    detail: format!("the check failed to run: {e}"),
                });
                EngineCheck::Ran
            }
            Err(e) => return Err(e),
        };
        let scanned = match self.rd(scan).await {
            Ok(s) => s,
            Err(Error::Storage(e)) => {
                findings.push(Finding::Undecodable {
                    error: e.to_string(),
                });
                StoreScan::default()
            }
            Err(e) => return Err(e),
        };
        findings.extend(scanned.findings);
        let search_checked = if self.inner.search.is_some() {
            let (checked, found) = self.check_search_index().await?;
            findings.extend(found);
            Some(checked)
        } else {
            None
        };
        Ok(CheckReport {
            findings,
            users: scanned.users,
            follows: scanned.follows,
            rooms: scanned.rooms,
            events: scanned.events,
            engine,
            search_checked,
        })
    }

    /// Compares the search index with the store after catching it up: each
    /// active user must be found by an exact-username query with the
    /// store's follower count; a deactivated user must not be found.
    /// Returns the users compared and the findings.
    async fn check_search_index(&self) -> Result<(usize, Vec<Finding>)> {
        self.refresh_search().await?;
        let Some(index) = self.inner.search.clone() else {
            return Ok((0, Vec::new()));
        };
        let mut findings = Vec::new();
        let mut checked = 0;
        let mut after: Option<UserId> = None;
        let boosts = Boosts::new();
        loop {
            let users = self
                .rd(move |tx| tx.users_after(after, SEARCH_BATCH))
                .await?;
            let Some(last) = users.last().map(|u| u.id) else {
                break;
            };
            after = Some(last);
            for u in &users {
                checked += 1;
                let query = SearchQuery::parse(u.username.as_str())?;
                let hits = index.top(&query, &boosts, 8).await?;
                let hit = hits.iter().find(|h| h.id == u.id);
                let problem = match (u.is_active(), hit) {
                    (true, None) => Some("not found by their username".to_string()),
                    (true, Some(h)) if h.tier != MatchTier::ExactUsername => {
                        Some(format!("username matched as {:?}", h.tier))
                    }
                    (true, Some(h)) if h.followers_count != u.counts.followers => Some(format!(
                        "followers_count {} in the index, {} in the store",
                        h.followers_count, u.counts.followers
                    )),
                    (false, Some(_)) => Some("deactivated but still found".to_string()),
                    _ => None,
                };
                if let Some(detail) = problem {
                    findings.push(Finding::SearchIndex { user: u.id, detail });
                }
            }
        }
        Ok((checked, findings))
    }
}
