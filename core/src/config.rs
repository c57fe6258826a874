//! Service configuration.

use chrono::Duration;

/// Tunable rules. `Config::default()` is what SPEC describes.
#[derive(Clone, Debug)]
pub struct Config {
    /// Names refused in addition to [`RESERVED_USERNAMES`](crate::profile::RESERVED_USERNAMES)
    /// (compared after folding look-alikes).
    pub reserved_usernames: Vec<String>,
    /// How long a previous username stays held for its owner (default 14 days).
    pub username_hold: Duration,
    /// How many users one may follow (default 10,000); reaching it gives
    /// [`Error::LimitExceeded`](crate::Error::LimitExceeded).
    pub max_following: u64,
    /// Accept `http` avatar URLs (default: only `https`).
    pub allow_http_avatars: bool,
    /// How often and how patiently a job is run again after the store
    /// reports a [transient](crate::Error::Transient) failure.
    pub retry: Retry,
    /// Refuse a username whose skeleton (its look-alike fold,
    /// [`user::skeleton`](crate::profile::skeleton): `al1ce`, `A_LICE` and
    /// `alice` share one) belongs to, or is held for, another user, with
    /// [`Error::UsernameTaken`](crate::Error::UsernameTaken). Default `true`;
    /// `false` keeps the older rule (unique case-insensitively only).
    /// Skeleton claims are written either way, so turning the rule back on
    /// needs no migration; see [`Kinfolk::register`](crate::Kinfolk::register)
    /// for how stores that predate the rule are migrated.
    pub unique_username_skeletons: bool,
}

/// The retry policy for jobs that fail with [`Error::Transient`](crate::Error::Transient)
/// (a serialization failure, a deadlock, a connection lost before the
/// commit). Attempt `n` (from 1) waits a random time between half and all of
/// `min(first_backoff × 2ⁿ⁻¹, max_backoff)` before it runs; after `attempts`
/// failed attempts the last transient error is returned. Any other error ends
/// the job at once. Each attempt is a fresh transaction: nothing of a failed
/// attempt is kept.
///
/// ```
/// let retry = kinfolk::config::Retry::default();
/// assert_eq!(retry.attempts, 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (at least 1; 0 counts as 1).
    pub attempts: u32,
    /// The largest wait before the second attempt.
    pub first_backoff: std::time::Duration,
    /// The largest wait before any attempt.
    pub max_backoff: std::time::Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 8,
            first_backoff: std::time::Duration::from_millis(2),
            max_backoff: std::time::Duration::from_millis(100),
        }
    }
}

impl Retry {
    /// No retry: every job runs once.
    pub const NEVER: Retry = Retry {
        attempts: 1,
        first_backoff: std::time::Duration::ZERO,
        max_backoff: std::time::Duration::ZERO,
    };

    /// The wait before attempt `attempt` (2 = the first retry), jittered
    /// into `[cap / 2, cap]` by `unit` in `[0, 1)`.
    pub(crate) fn backoff(&self, attempt: u32, unit: f64) -> std::time::Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        let cap = self
            .first_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        cap.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            reserved_usernames: Vec::new(),
            username_hold: Duration::days(14),
            max_following: 10_000,
            allow_http_avatars: false,
            retry: Retry::default(),
            unique_username_skeletons: true,
        }
    }
}
