//! Account actions (SPEC §9) and the export of everything kinfolk holds
//! about a user.
//!
//! The commands: `service.rs` (deactivate, reactivate, delete with its
//! cascade, export), `connected.rs` (connected accounts), `import.rs` (bulk
//! import).

pub(crate) mod connected;
mod import;

pub(crate) use import::BulkSession;
mod service;

use serde::{Deserialize, Serialize};

use crate::graph::Edge;
use crate::profile::{ConnectedAccount, User, UsernameClaim};
use crate::rooms::Membership;

/// Everything kinfolk holds about one user (SPEC §9 `export`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// The user record: profile, e-mail, settings, counters, timestamps.
    pub user: User,
    /// Current and held usernames.
    pub usernames: Vec<UsernameClaim>,
    /// Linked accounts.
    pub connected_accounts: Vec<ConnectedAccount>,
    /// Edges from the user: follows, requests, blocks, mutes.
    pub outgoing: Vec<Edge>,
    /// Edges to the user: followers and incoming requests (blocks and mutes
    /// by others are not the user's data and are left out).
    pub incoming: Vec<Edge>,
    /// Room memberships.
    pub memberships: Vec<Membership>,
}
