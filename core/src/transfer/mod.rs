//! The transfer format: everything a store holds, as versioned JSON Lines,
//! for moving data between stores and platforms without loss
//! (`docs/adr/0011-transfer-format.md`, `docs/transfer-format.md`).
//!
//! A file is one [`Header`] line, then the records of each section in this
//! order, each section sorted by its key: users (by id), username holds (by
//! user, then folded name), connected accounts (by user, link time,
//! provider, external id), rooms (by id), memberships (by room, user), edges
//! (by kind — follow, request, block, mute —, from, to). Counters (followers,
//! following, pending requests, rooms, a room's member count) are not in the
//! file: import computes them. Skeleton claims are not either: import
//! derives them from the names, by the registration rules.
//!
//! Because every section has one order and every record one serialisation,
//! export → import into an empty store → export gives the same bytes.
//!
//! [`Kinfolk::export_transfer`](crate::Kinfolk::export_transfer) reads a
//! store into a [`Transfer`], [`write_transfer`] writes it;
//! [`read_transfer`] parses a file and
//! [`Kinfolk::import_transfer`](crate::Kinfolk::import_transfer) validates
//! all of it by the commands' rules, then loads it.
//!
//! ```
//! use kinfolk::transfer::{read_transfer, write_transfer};
//! let text = "{\"type\":\"header\",\"format\":\"kinfolk-transfer\",\"version\":1}\n";
//! let data = read_transfer(text.as_bytes()).unwrap();
//! let mut out = Vec::new();
//! write_transfer(&data, &mut out).unwrap();
//! assert_eq!(out, text.as_bytes());
//! ```

mod export;
mod import;

pub use import::ImportReport;

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::Error;
use crate::graph::Edge;
use crate::id::{RoomId, UserId};
use crate::profile::{
    AccountStatus, Bio, ConnectedAccount, DisplayName, Email, Location, SafeUrl, SocialLinks, User,
    Username,
};
use crate::rooms::{Membership, Room, RoomKind, RoomName, RoomVisibility};
use crate::settings::Settings;

/// The `format` every header names.
pub const FORMAT: &str = "kinfolk-transfer";
/// The format version this library writes and reads.
pub const VERSION: u32 = 1;

/// The first line of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`]; a reader refuses any other.
    pub version: u32,
}

/// A user as transferred: the stored record without its counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Id, kept.
    pub id: UserId,
    /// Current username.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Bio.
    pub bio: Bio,
    /// Avatar.
    pub avatar_url: Option<SafeUrl>,
    /// Social links.
    pub social_links: SocialLinks,
    /// Location.
    pub location: Option<Location>,
    /// Private e-mail address.
    pub email: Option<Email>,
    /// Active or deactivated.
    pub status: AccountStatus,
    /// Settings with their version.
    pub settings: Settings,
    /// When registered, kept.
    pub created_at: Timestamp,
    /// Last profile or settings change, kept.
    pub updated_at: Timestamp,
}

impl UserRecord {
    /// The record of a stored user (its counters dropped).
    pub fn of(u: &User) -> UserRecord {
        UserRecord {
            id: u.id,
            username: u.username.clone(),
            name: u.name.clone(),
            bio: u.bio.clone(),
            avatar_url: u.avatar_url.clone(),
            social_links: u.social_links.clone(),
            location: u.location.clone(),
            email: u.email.clone(),
            status: u.status,
            settings: u.settings.clone(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }

    /// The stored user, with zero counters (import computes them).
    pub fn to_user(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            name: self.name.clone(),
            bio: self.bio.clone(),
            avatar_url: self.avatar_url.clone(),
            social_links: self.social_links.clone(),
            location: self.location.clone(),
            email: self.email.clone(),
            status: self.status,
            settings: self.settings.clone(),
            counts: Default::default(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A previous username held for its user (after a rename) until
/// `held_until` — expired holds a store still keeps included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRecord {
    /// Who holds it.
    pub user: UserId,
    /// The name as typed.
    pub username: Username,
    /// When the hold ends.
    pub held_until: Timestamp,
}

/// A room as transferred: the stored record without its member count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomRecord {
    /// Id, kept.
    pub id: RoomId,
    /// Group or page.
    pub kind: RoomKind,
    /// Name.
    pub name: RoomName,
    /// Public or private.
    pub visibility: RoomVisibility,
    /// Who created it (may name a deleted user).
    pub created_by: UserId,
    /// When, kept.
    pub created_at: Timestamp,
}

impl RoomRecord {
    /// The record of a stored room (its member count dropped).
    pub fn of(r: &Room) -> RoomRecord {
        RoomRecord {
            id: r.id,
            kind: r.kind,
            name: r.name.clone(),
            visibility: r.visibility,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// Everything a store holds, section by section, each in file order (see
/// the [module docs](self)). Built by
/// [`Kinfolk::export_transfer`](crate::Kinfolk::export_transfer) or
/// [`read_transfer`]; a hand-built one must keep the same orders (import
/// refuses a record out of order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transfer {
    /// Users, by id.
    pub users: Vec<UserRecord>,
    /// Held previous usernames, by user then folded name.
    pub holds: Vec<HoldRecord>,
    /// Connected accounts, by user, link time, provider, external id.
    pub accounts: Vec<ConnectedAccount>,
    /// Rooms, by id.
    pub rooms: Vec<RoomRecord>,
    /// Memberships, by room then user; `seq` kept.
    pub members: Vec<Membership>,
    /// Edges of every kind, by kind, from, to; `since`, `seq`, `until` kept.
    pub edges: Vec<Edge>,
    /// The line each section starts at in the file it was read from (0
    /// when built in memory), so errors can name the line.
    pub lines: SectionLines,
}

/// The first line of each section in a file (0: not read from a file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SectionLines {
    /// Line of the first user record.
    pub users: u64,
    /// Line of the first hold.
    pub holds: u64,
    /// Line of the first connected account.
    pub accounts: u64,
    /// Line of the first room.
    pub rooms: u64,
    /// Line of the first membership.
    pub members: u64,
    /// Line of the first edge.
    pub edges: u64,
}

/// A transfer that failed: the error of the first bad record and its line
/// (`line` 0 when the failure belongs to no line: an I/O error, a store that
/// is not empty, an engine failure).
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct TransferError {
    /// 1-based line of the bad record, or 0.
    pub line: u64,
    /// What is wrong, as the matching command would say it.
    #[source]
    pub error: Error,
}

impl TransferError {
    pub(crate) fn at(line: u64, error: Error) -> Self {
        TransferError { line, error }
    }
}

impl From<Error> for TransferError {
    fn from(error: Error) -> Self {
        TransferError { line: 0, error }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RecordRef<'a> {
    Header(&'a Header),
    User(&'a UserRecord),
    UsernameHold(&'a HoldRecord),
    ConnectedAccount(&'a ConnectedAccount),
    Room(&'a RoomRecord),
    Member(&'a Membership),
    Edge(&'a Edge),
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Record {
    Header(Header),
    User(UserRecord),
    UsernameHold(HoldRecord),
    ConnectedAccount(ConnectedAccount),
    Room(RoomRecord),
    Member(Membership),
    Edge(Edge),
}

fn io(e: std::io::Error) -> Error {
    Error::storage(format!("transfer file: {e}"))
}

/// Writes `data` as a transfer file: the header, then every section in its
/// order, one JSON object per line.
///
/// # Errors
/// `Storage` when writing fails (the message names the I/O error).
pub fn write_transfer(data: &Transfer, w: impl Write) -> crate::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
    let header = Header {
        format: FORMAT.to_string(),
        version: VERSION,
    };
    let mut line = |r: RecordRef<'_>| -> crate::Result<()> {
        serde_json::to_writer(&mut w, &r).map_err(|e| Error::storage(format!("transfer: {e}")))?;
        w.write_all(b"\n").map_err(io)
    };
    line(RecordRef::Header(&header))?;
    data.users
        .iter()
        .try_for_each(|r| line(RecordRef::User(r)))?;
    data.holds
        .iter()
        .try_for_each(|r| line(RecordRef::UsernameHold(r)))?;
    data.accounts
        .iter()
        .try_for_each(|r| line(RecordRef::ConnectedAccount(r)))?;
    data.rooms
        .iter()
        .try_for_each(|r| line(RecordRef::Room(r)))?;
    data.members
        .iter()
        .try_for_each(|r| line(RecordRef::Member(r)))?;
    data.edges
        .iter()
        .try_for_each(|r| line(RecordRef::Edge(r)))?;
    w.flush().map_err(io)
}

/// Parses a transfer file. Checks the header, each record's fields (by the
/// same validating types the commands take) and the section order; the
/// rules between records (uniqueness, blocks, caps, …) are checked by
/// [`Kinfolk::import_transfer`](crate::Kinfolk::import_transfer).
///
/// # Errors
/// [`TransferError`] with the line of the first bad record: `Validation`
/// (`header`) for a missing header or another format or version,
/// `Validation` (`record`) for a line that is not a record of this format
/// or a record of a section that already ended; the field's own
/// `Validation` for a bad value; `Storage` (line 0) for an I/O error.
pub fn read_transfer(r: impl BufRead) -> Result<Transfer, TransferError> {
    let mut data = Transfer::default();
    let mut section = 0u8;
    let mut buf = String::new();
    let mut r = r;
    let mut n = 0u64;
    loop {
        buf.clear();
        if r.read_line(&mut buf)
            .map_err(|e| TransferError::from(io(e)))?
            == 0
        {
            break;
        }
        n += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        let record: Record = serde_json::from_str(text).map_err(|e| {
            TransferError::at(
                n,
                match e.classify() {
                    serde_json::error::Category::Data => {
                        Error::validation("record", strip_position(&e))
                    }
                    _ => Error::validation("record", format!("not a JSON object: {e}")),
                },
            )
        })?;
        let (rank, start) = match &record {
            Record::Header(_) => (0, None),
            Record::User(_) => (1, Some(&mut data.lines.users)),
            Record::UsernameHold(_) => (2, Some(&mut data.lines.holds)),
            Record::ConnectedAccount(_) => (3, Some(&mut data.lines.accounts)),
            Record::Room(_) => (4, Some(&mut data.lines.rooms)),
            Record::Member(_) => (5, Some(&mut data.lines.members)),
            Record::Edge(_) => (6, Some(&mut data.lines.edges)),
        };
        if (n == 1) != (rank == 0) {
            return Err(TransferError::at(
                n,
                Error::validation("header", "the header must be the first line, and only it"),
            ));
        }
        if rank < section {
            return Err(TransferError::at(
                n,
                Error::validation(
                    "record",
                    "out of order: sections are users, holds, accounts, rooms, members, edges",
                ),
            ));
        }
        if let Some(start) = start
            && *start == 0
        {
            *start = n;
        }
        section = rank;
        match record {
            Record::Header(h) => {
                if h.format != FORMAT || h.version != VERSION {
                    return Err(TransferError::at(
                        n,
                        Error::validation(
                            "header",
                            format!(
                                "this is {} version {}; expected {FORMAT} version {VERSION}",
                                h.format, h.version
                            ),
                        ),
                    ));
                }
            }
            Record::User(u) => data.users.push(u),
            Record::UsernameHold(h) => data.holds.push(h),
            Record::ConnectedAccount(a) => data.accounts.push(a),
            Record::Room(room) => data.rooms.push(room),
            Record::Member(m) => data.members.push(m),
            Record::Edge(e) => data.edges.push(e),
        }
    }
    if n == 0 {
        return Err(TransferError::at(
            1,
            Error::validation("header", "empty file: the header line is missing"),
        ));
    }
    Ok(data)
}

/// serde_json's message without its " at line 1 column N" tail (every
/// record is one line; the error names the file line itself).
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_types_are_refused_with_their_line() {
        let head = "{\"type\":\"header\",\"format\":\"kinfolk-transfer\",\"version\":1}\n";
        let bad = format!("{head}{{\"type\":\"room\",\"id\":\"x\"}}\n");
        let e = read_transfer(bad.as_bytes()).unwrap_err();
        assert_eq!(e.line, 2);
        let bad = format!("{head}{{\"type\":\"nothing\"}}\n");
        assert_eq!(read_transfer(bad.as_bytes()).unwrap_err().line, 2);
        let e = read_transfer(
            "{\"type\":\"header\",\"format\":\"kinfolk-transfer\",\"version\":2}\n".as_bytes(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e.error,
                Error::Validation {
                    field: "header",
                    ..
                }
            ),
            "{e}"
        );
        let extra = "{\"type\":\"header\",\"format\":\"kinfolk-transfer\",\"version\":1,\"x\":1}\n";
        assert_eq!(read_transfer(extra.as_bytes()).unwrap_err().line, 1);
    }
}
