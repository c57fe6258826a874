//! What the hand-written baselines ([`crate::sqlite_base`], [`crate::redb_base`])
//! return: the same shapes for both, each with its own lean user record.

/// Relationship flags (as kinfolk's, minus mute expiry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rel {
    pub following: bool,
    pub followed_by: bool,
    pub requested: bool,
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
}

/// A row of a user list: the baseline's lean user record and the viewer's relationship.
#[derive(Debug)]
pub struct Row<U> {
    pub user: U,
    pub rel: Rel,
}
