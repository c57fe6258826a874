//! Encoding of kinfolk values into PostgreSQL columns and back.
//!
//! Decoding never panics: a value of the wrong type or shape is
//! [`Error::corrupt`] (an [`Error::Storage`]).

use chrono::{DateTime, SecondsFormat, Utc};
use kinfolk::{Error, Result, RoomId, RoomRole, Timestamp, UserId};
use postgres::Row;
use postgres::types::FromSql;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A timestamp as RFC 3339 text with exactly nine fractional digits and `Z`,
/// so that text order (`COLLATE "C"`) is time order.
pub(crate) fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// An optional timestamp (`NULL` for `None`).
pub(crate) fn opt_ts(t: &Option<Timestamp>) -> Option<String> {
    t.as_ref().map(ts)
}

/// A sequence-number bound for a comparison, saturating at `i64::MAX`.
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A sequence number to store; refused above `i64::MAX` (bigint's range).
pub(crate) fn seq(n: u64) -> Result<i64> {
    i64::try_from(n)
        .map_err(|_| Error::storage(format!("sequence number {n} exceeds PostgreSQL's bigint")))
}

/// A `LIMIT` value.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A user id as a uuid parameter.
pub(crate) fn uid(id: UserId) -> Uuid {
    *id.as_uuid()
}

/// A room id as a uuid parameter.
pub(crate) fn rid(id: RoomId) -> Uuid {
    *id.as_uuid()
}

/// A record as JSON text.
pub(crate) fn json<T: Serialize>(what: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::storage(format!("cannot encode {what}: {e}")))
}

/// A room role as stored.
pub(crate) fn role(r: RoomRole) -> &'static str {
    match r {
        RoomRole::Member => "member",
        RoomRole::Moderator => "moderator",
        RoomRole::Admin => "admin",
        RoomRole::Owner => "owner",
    }
}

/// Typed access to the columns of a row; every failure is corrupt data.
pub(crate) struct Cols<'r> {
    row: &'r Row,
    table: &'static str,
}

impl<'r> Cols<'r> {
    /// Wraps a row of `table` (named in error messages).
    pub(crate) fn new(row: &'r Row, table: &'static str) -> Self {
        Self { row, table }
    }

    fn get<T: FromSql<'r>>(&self, i: usize) -> Result<T> {
        self.row
            .try_get(i)
            .map_err(|e| Error::corrupt(format_args!("{} column {i}: {e}", self.table)))
    }

    fn bad(&self, i: usize, expected: &str) -> Error {
        Error::corrupt(format_args!(
            "{} column {i}: expected {expected}",
            self.table
        ))
    }

    /// A text column.
    pub(crate) fn text(&self, i: usize) -> Result<&'r str> {
        self.get(i)
    }

    /// A bigint column.
    pub(crate) fn i64(&self, i: usize) -> Result<i64> {
        self.get(i)
    }

    /// A nullable bigint column.
    pub(crate) fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        self.get(i)
    }

    /// A smallint column.
    pub(crate) fn i16(&self, i: usize) -> Result<i16> {
        self.get(i)
    }

    /// A non-negative bigint column (a sequence number).
    pub(crate) fn seq(&self, i: usize) -> Result<u64> {
        u64::try_from(self.i64(i)?).map_err(|_| self.bad(i, "a non-negative sequence number"))
    }

    /// A user id column.
    pub(crate) fn user_id(&self, i: usize) -> Result<UserId> {
        self.get::<Uuid>(i).map(UserId::from_uuid)
    }

    /// A room id column.
    pub(crate) fn room_id(&self, i: usize) -> Result<RoomId> {
        self.get::<Uuid>(i).map(RoomId::from_uuid)
    }

    /// A timestamp column.
    pub(crate) fn ts(&self, i: usize) -> Result<Timestamp> {
        let s = self.text(i)?;
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| self.bad(i, "an RFC 3339 timestamp"))
    }

    /// A nullable timestamp column.
    pub(crate) fn opt_ts(&self, i: usize) -> Result<Option<Timestamp>> {
        match self.get::<Option<&str>>(i)? {
            None => Ok(None),
            Some(_) => self.ts(i).map(Some),
        }
    }

    /// A JSON text column decoded into a record (which re-validates every field).
    pub(crate) fn json<T: DeserializeOwned>(&self, i: usize) -> Result<T> {
        let s = self.text(i)?;
        serde_json::from_str(s)
            .map_err(|e| Error::corrupt(format_args!("{} column {i}: {e}", self.table)))
    }

    /// A room role column.
    pub(crate) fn role(&self, i: usize) -> Result<RoomRole> {
        match self.text(i)? {
            "member" => Ok(RoomRole::Member),
            "moderator" => Ok(RoomRole::Moderator),
            "admin" => Ok(RoomRole::Admin),
            "owner" => Ok(RoomRole::Owner),
            _ => Err(self.bad(i, "a room role")),
        }
    }
}
