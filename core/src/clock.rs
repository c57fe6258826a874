//! Time, injectable so tests can move it, and the one range of instants
//! kinfolk accepts.
//!
//! # Supported range
//! Every time kinfolk stores lies in [`EARLIEST`]`..=`[`LATEST`]:
//! `0000-01-01T00:00:00Z` through `9999-12-31T23:59:59.999999999Z`, with
//! nanosecond precision — exactly the instants RFC 3339 can write (a
//! four-digit year), which is how timestamps appear in JSON and how the SQLite
//! store keeps them. A time enters the library in two places, and both are
//! checked there, before anything is stored: a caller's argument (the `until`
//! of [`Kinfolk::mute`](crate::Kinfolk::mute)) gives
//! [`Error::Validation`] naming that argument, and a [`Clock`] reading outside
//! the range makes the command fail with [`Error::Validation`] (`clock`).
//! Every store round-trips every instant of the range (the conformance suite
//! checks both ends and the leap-second form).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// A UTC timestamp, serialised as RFC 3339.
pub type Timestamp = DateTime<Utc>;

/// The earliest supported instant, `0000-01-01T00:00:00Z` (see the module docs).
pub fn earliest() -> Timestamp {
    NaiveDate::from_ymd_opt(0, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest supported instant, `9999-12-31T23:59:59.999999999Z` (see the module docs).
pub fn latest() -> Timestamp {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 999_999_999))
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether `t` lies in the supported range [`earliest`]`..=`[`latest`].
///
/// ```
/// use kinfolk::clock::{in_range, latest};
/// assert!(in_range(latest()));
/// assert!(!in_range(latest() + chrono::Duration::nanoseconds(1)));
/// ```
pub fn in_range(t: Timestamp) -> bool {
    (earliest()..=latest()).contains(&t)
}

/// Checks that `t`, given as `field`, lies in the supported range.
///
/// # Errors
/// [`Error::Validation`] (`field`) for a time before `0000-01-01T00:00:00Z` or
/// after `9999-12-31T23:59:59.999999999Z`.
///
/// ```
/// use kinfolk::clock::{check_time, latest};
/// assert!(check_time("until", latest()).is_ok());
/// let err = check_time("until", latest() + chrono::Duration::days(1)).unwrap_err();
/// assert_eq!(err.code(), "validation");
/// ```
pub fn check_time(field: &'static str, t: Timestamp) -> Result<Timestamp> {
    if in_range(t) {
        Ok(t)
    } else {
        Err(Error::validation(
            field,
            "must lie between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z",
        ))
    }
}

/// Where kinfolk reads the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use kinfolk::{Clock, ManualClock};
/// let clock = ManualClock::starting_at_epoch();
/// let t0 = clock.now();
/// clock.advance(chrono::Duration::days(15));
/// assert_eq!(clock.now() - t0, chrono::Duration::days(15));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock frozen at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(at)),
        }
    }

    /// A clock frozen at 2024-01-01T00:00:00Z.
    pub fn starting_at_epoch() -> Self {
        // 1_704_067_200 is 2024-01-01T00:00:00Z, well inside chrono's range.
        Self::new(DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, at: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
