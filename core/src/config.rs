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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reserved_usernames: Vec::new(),
            username_hold: Duration::days(14),
            max_following: 10_000,
            allow_http_avatars: false,
        }
    }
}
