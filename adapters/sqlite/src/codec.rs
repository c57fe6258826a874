//! Encoding of kinfolk values into SQLite columns and back.
//!
//! Decoding never panics: a value of the wrong type or shape is
//! [`Error::corrupt`] (an [`Error::Storage`]).

use std::rc::Rc;

use chrono::SecondsFormat;
use kinfolk::{Error, Result, RoomId, RoomRole, Timestamp, UserId};
use rusqlite::Row;
use rusqlite::types::{Value, ValueRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A timestamp as RFC 3339 text with exactly nine fractional digits and `Z`,
/// so that text order is time order (years 0000–9999).
pub(crate) fn ts(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// An optional timestamp (`NULL` for `None`).
pub(crate) fn opt_ts(t: &Option<Timestamp>) -> Option<String> {
    t.as_ref().map(ts)
}

/// A sequence-number bound for a comparison, saturating at `i64::MAX` (no
/// stored sequence number can be that high, so the comparison is unchanged).
pub(crate) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A sequence number to store; refused above `i64::MAX` (SQLite's integer range).
pub(crate) fn seq(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| {
        Error::storage(format!(
            "sequence number {n} exceeds SQLite's integer range"
        ))
    })
}

/// A `LIMIT` value.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An id list as one `rarray(?)` parameter.
pub(crate) fn id_array<I: IntoIterator<Item = [u8; 16]>>(ids: I) -> Rc<Vec<Value>> {
    Rc::new(ids.into_iter().map(|b| Value::Blob(b.to_vec())).collect())
}

/// A list of `(from, to)` id pairs as one `rarray(?)` parameter of 32-byte
/// blobs (from, then to).
pub(crate) fn pair_array<I: IntoIterator<Item = ([u8; 16], [u8; 16])>>(pairs: I) -> Rc<Vec<Value>> {
    Rc::new(
        pairs
            .into_iter()
            .map(|(a, b)| Value::Blob([a, b].concat()))
            .collect(),
    )
}

/// Appends a record as JSON text to `out` (reusing its allocation).
pub(crate) fn json_into<T: Serialize>(
    out: &mut String,
    what: &'static str,
    value: &T,
) -> Result<()> {
    let mut bytes = std::mem::take(out).into_bytes();
    let res = serde_json::to_writer(&mut bytes, value);
    // serde_json writes UTF-8 only; an error leaves `out` empty.
    *out = String::from_utf8(bytes).unwrap_or_default();
    res.map_err(|e| Error::storage(format!("cannot encode {what}: {e}")))
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
pub(crate) struct Cols<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
}

impl<'r, 's> Cols<'r, 's> {
    /// Wraps a row of `table` (named in error messages).
    pub(crate) fn new(row: &'r Row<'s>, table: &'static str) -> Self {
        Self { row, table }
    }

    fn get(&self, i: usize) -> Result<ValueRef<'r>> {
        self.row
            .get_ref(i)
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
        self.get(i)?.as_str().map_err(|_| self.bad(i, "UTF-8 text"))
    }

    /// An integer column.
    pub(crate) fn i64(&self, i: usize) -> Result<i64> {
        self.get(i)?.as_i64().map_err(|_| self.bad(i, "an integer"))
    }

    /// A non-negative integer column (a sequence number).
    pub(crate) fn seq(&self, i: usize) -> Result<u64> {
        u64::try_from(self.i64(i)?).map_err(|_| self.bad(i, "a non-negative sequence number"))
    }

    fn bytes16(&self, i: usize) -> Result<[u8; 16]> {
        let blob = self.get(i)?.as_blob().map_err(|_| self.bad(i, "a blob"))?;
        <[u8; 16]>::try_from(blob).map_err(|_| self.bad(i, "a 16-byte id"))
    }

    /// A user id column.
    pub(crate) fn user_id(&self, i: usize) -> Result<UserId> {
        self.bytes16(i).map(UserId::from_bytes)
    }

    /// A room id column.
    pub(crate) fn room_id(&self, i: usize) -> Result<RoomId> {
        self.bytes16(i).map(RoomId::from_bytes)
    }

    /// A timestamp column.
    pub(crate) fn ts(&self, i: usize) -> Result<Timestamp> {
        let s = self.text(i)?;
        kinfolk::clock::parse_rfc3339(s).map_err(|_| self.bad(i, "an RFC 3339 timestamp"))
    }

    /// A nullable timestamp column.
    pub(crate) fn opt_ts(&self, i: usize) -> Result<Option<Timestamp>> {
        match self.get(i)? {
            ValueRef::Null => Ok(None),
            _ => self.ts(i).map(Some),
        }
    }

    /// A JSON column decoded into a record (which re-validates every field).
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamp_text_sorts_like_time_and_round_trips() {
        let a = DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default();
        let b = DateTime::from_timestamp(1_704_067_200, 500_000_000).unwrap_or_default();
        let c = DateTime::from_timestamp(1_704_067_201, 1).unwrap_or_default();
        assert!(
            ts(&a) < ts(&b) && ts(&b) < ts(&c),
            "{} {} {}",
            ts(&a),
            ts(&b),
            ts(&c)
        );
        for t in [a, b, c] {
            let back = DateTime::parse_from_rfc3339(&ts(&t)).map(|t| t.with_timezone(&Utc));
            assert_eq!(back.ok(), Some(t));
        }
    }
}
