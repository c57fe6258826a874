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

/// The instant written as `YYYY-MM-DDTHH:MM:SS[.F]Z` (`F` one to nine
/// digits), the form every store and every serialiser of kinfolk writes, or
/// `None` when `s` has another form. Such text means the same instant to
/// chrono's RFC 3339 parsers; this reads it without their general machinery
/// (a stored record is decoded on every read, timestamps included).
fn parse_canonical(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() == 21 || b.len() > 30 {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let nanos = match b.len() {
        20 => 0,
        n if b[19] == b'.' => {
            let frac = digits(20, n - 1)?;
            frac * 10u32.pow(u32::try_from(30 - n).ok()?)
        }
        _ => return None,
    };
    let year = i32::try_from(digits(0, 4)?).ok()?;
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    // A leap second (`:60`) is left to chrono, which has its own rules for it.
    if second > 59 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, digits(5, 7)?, digits(8, 10)?)?
        .and_hms_nano_opt(hour, minute, second, nanos)
        .map(|t| t.and_utc())
}

/// Parses an RFC 3339 timestamp as [`DateTime::parse_from_rfc3339`] does
/// (any offset, converted to UTC), reading kinfolk's own form
/// (`2024-05-01T12:00:00.5Z`) on a fast path with the same result.
///
/// # Errors
/// chrono's [`chrono::ParseError`] for text that is not RFC 3339.
///
/// ```
/// use kinfolk::clock::parse_rfc3339;
/// let t = parse_rfc3339("2024-05-01T12:00:00.5Z").unwrap();
/// assert_eq!(t.to_rfc3339(), "2024-05-01T12:00:00.500+00:00");
/// assert_eq!(parse_rfc3339("2024-05-01T14:00:00.5+02:00").unwrap(), t);
/// assert!(parse_rfc3339("2024-02-30T12:00:00Z").is_err());
/// ```
pub fn parse_rfc3339(s: &str) -> std::result::Result<Timestamp, chrono::ParseError> {
    match parse_canonical(s) {
        Some(t) => Ok(t),
        None => DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)),
    }
}

/// serde `deserialize_with` helpers for [`Timestamp`] fields of stored
/// records: they accept exactly what chrono's own `Deserialize` accepts (its
/// relaxed RFC 3339, any offset, converted to UTC) with the same result, and
/// read kinfolk's own form on [`parse_rfc3339`]'s fast path. Serialisation
/// is chrono's, unchanged.
pub(crate) mod serde_ts {
    use super::{DateTime, Timestamp, Utc, parse_canonical};
    use serde::{Deserialize, Deserializer, de};
    use std::fmt;

    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = Timestamp;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an RFC 3339 formatted date and time string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
            match parse_canonical(v) {
                Some(t) => Ok(t),
                None => v
                    .parse::<DateTime<chrono::FixedOffset>>()
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(E::custom),
            }
        }
    }

    /// A timestamp field.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_str(Visitor)
    }

    struct Ts(Timestamp);

    impl<'de> Deserialize<'de> for Ts {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d).map(Ts)
        }
    }

    /// An optional timestamp field (`null` is `None`; pair it with
    /// `#[serde(default)]` so that a missing field stays `None`, as chrono's
    /// derive would have it).
    pub(crate) fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<Ts>::deserialize(d).map(|o| o.map(|t| t.0))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn chrono_strict(s: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    fn chrono_serde(s: &str) -> Option<Timestamp> {
        serde_json::from_value::<Timestamp>(serde_json::Value::String(s.to_owned())).ok()
    }

    #[derive(serde::Deserialize)]
    struct Rec {
        #[serde(deserialize_with = "serde_ts::deserialize")]
        at: Timestamp,
        #[serde(default, deserialize_with = "serde_ts::option")]
        until: Option<Timestamp>,
    }

    fn ours_serde(s: &str) -> Option<Timestamp> {
        serde_json::from_value::<Rec>(serde_json::json!({ "at": s }))
            .ok()
            .map(|r| r.at)
    }

    /// Every string, canonical or a mutation of one, parses to the same
    /// instant (or fails) on the fast path as with chrono, by both routes.
    #[test]
    fn fast_path_agrees_with_chrono() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let noise = b"0123456789-:TZtz.+ 6";
        let mut fast_hits = 0;
        for i in 0..20_000u64 {
            let secs = i64::try_from(next() % 253_402_300_800).unwrap();
            // Whole seconds, milli-, micro- and nanosecond precision in turn.
            let unit = [1_000_000_000, 1_000_000, 1000, 1][usize::try_from(i % 4).unwrap()];
            let nanos = u32::try_from(next() % 1_000_000_000).unwrap() / unit * unit;
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let forms = [
                t.to_rfc3339_opts(SecondsFormat::Nanos, true),
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                serde_json::to_value(t)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ];
            for form in forms {
                assert_eq!(parse_rfc3339(&form).ok(), Some(t), "{form}");
                assert_eq!(ours_serde(&form), Some(t), "{form}");
                let mut bytes = form.clone().into_bytes();
                let at = usize::try_from(next()).unwrap() % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = noise[usize::try_from(next()).unwrap() % noise.len()],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, noise[usize::try_from(next()).unwrap() % noise.len()]),
                }
                let Ok(m) = String::from_utf8(bytes) else {
                    continue;
                };
                if parse_canonical(&m).is_some() {
                    fast_hits += 1;
                }
                assert_eq!(parse_rfc3339(&m).ok(), chrono_strict(&m), "{m}");
                assert_eq!(ours_serde(&m), chrono_serde(&m), "{m}");
            }
        }
        assert!(
            fast_hits > 1000,
            "mutations reached the fast path {fast_hits} times"
        );
    }

    #[test]
    fn edge_forms_agree_with_chrono() {
        for s in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01t00:00:00z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00+01:00",
            "+2024-01-01T00:00:00Z",
            "２０24-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(s).ok(), chrono_strict(s), "{s}");
            assert_eq!(ours_serde(s), chrono_serde(s), "{s}");
        }
    }

    #[test]
    fn optional_field_reads_null_missing_and_a_time() {
        let t = |v: serde_json::Value| serde_json::from_value::<Rec>(v).map(|r| r.until);
        let at = "2024-01-01T00:00:00Z";
        assert_eq!(t(serde_json::json!({ "at": at })).unwrap(), None);
        assert_eq!(
            t(serde_json::json!({ "at": at, "until": null })).unwrap(),
            None
        );
        assert_eq!(
            t(serde_json::json!({ "at": at, "until": at })).unwrap(),
            parse_rfc3339(at).ok()
        );
        assert!(t(serde_json::json!({ "at": at, "until": "soon" })).is_err());
        assert!(t(serde_json::json!({ "at": at, "until": 5 })).is_err());
    }
}
