//! Service configuration.

use chrono::Duration;

/// Tunable rules. `Config::default()` is what SPEC describes.
#[derive(Clone, Debug)]
pub struct Config {
    /// Names refused in addition to [`RESERVED_USERNAMES`](crate::user::RESERVED_USERNAMES)
    /// (compared after folding look-alikes).
    pub reserved_usernames: Vec<String>,
    /// How long a previous username stays held for its owner (default 14 days).
    pub username_hold: Duration,
    /// How many users one may follow (default 10,000); reaching it gives
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded).
    pub max_following: u64,
    /// Accept `http` avatar URLs (default: only `https`).
    pub allow_http_avatars: bool,
    /// Refuse a username whose skeleton (its look-alike fold,
    /// [`user::skeleton`](crate::user::skeleton): `al1ce`, `A_LICE` and
    /// `alice` share one) belongs to, or is held for, another user, with
    /// [`Error::UsernameTaken`](crate::Error::UsernameTaken). Default `true`;
    /// `false` keeps the older rule (unique case-insensitively only).
    /// Skeleton claims are written either way, so turning the rule back on
    /// needs no migration; see [`Kinfolk::register`](crate::Kinfolk::register)
    /// for how stores that predate the rule are migrated.
    pub unique_username_skeletons: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reserved_usernames: Vec::new(),
            username_hold: Duration::days(14),
            max_following: 10_000,
            allow_http_avatars: false,
            unique_username_skeletons: true,
        }
    }
}
