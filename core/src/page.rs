//! Keyset pagination with opaque cursors (SPEC §6).
//!
//! A cursor names the list it belongs to (its kind and owner) and the position
//! after which the next page starts. Positions are the change-feed sequence
//! numbers that order rows newest first, so rows added while paging appear
//! before the cursor (not on later pages) and rows removed simply vanish: no
//! row is shown twice and none that stays is skipped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which page to fetch: how many rows, and after which cursor.
///
/// ```
/// let p: kinfolk::PageRequest = serde_json::from_str(r#"{"limit": 50}"#).unwrap();
/// assert_eq!(p.limit, Some(50));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// Rows per page: 1–100 for lists (1–50 for search); default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page with the default limit.
    pub fn first() -> Self {
        Self::default()
    }
    /// The first page with `limit` rows.
    pub fn with_limit(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            cursor: None,
        }
    }
    /// The page after `cursor`, `limit` rows.
    pub fn after(cursor: impl Into<String>, limit: Option<u32>) -> Self {
        Self {
            limit,
            cursor: Some(cursor.into()),
        }
    }
}

/// One page of rows. `next_cursor` is absent exactly when nothing follows;
/// every page but the last is full.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass it back to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page of a list.
pub const MAX_LIST_LIMIT: u32 = 100;
/// The largest page of search results.
pub const MAX_SEARCH_LIMIT: u32 = 50;

/// Checks a limit against `1..=max`, defaulting to 20.
pub(crate) fn check_limit(limit: Option<u32>, max: u32) -> Result<usize> {
    let l = limit.unwrap_or(DEFAULT_LIMIT);
    if l == 0 || l > max {
        return Err(Error::validation("limit", format!("must be 1–{max}")));
    }
    Ok(l as usize)
}

/// The lists a cursor can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    Followers = 1,
    Following = 2,
    KnownFollowers = 3,
    FollowRequests = 4,
    MyRooms = 5,
    Search = 6,
}

const CURSOR_VERSION: u8 = 1;
const CURSOR_LEN: usize = 1 + 1 + 16 + 8;

/// Encodes a cursor: version, list kind, the list's 16-byte owner key, position.
pub(crate) fn encode_cursor(list: ListKind, owner: [u8; 16], position: u64) -> String {
    let mut buf = Vec::with_capacity(CURSOR_LEN);
    buf.push(CURSOR_VERSION);
    buf.push(list as u8);
    buf.extend_from_slice(&owner);
    buf.extend_from_slice(&position.to_be_bytes());
    URL_SAFE_NO_PAD.encode(buf)
}

/// Decodes a cursor made by [`encode_cursor`] for the same list and owner.
///
/// # Errors
/// [`Error::Validation`] (`cursor`) when it is malformed, truncated, or
/// belongs to another list or owner.
pub(crate) fn decode_cursor(cursor: &str, list: ListKind, owner: [u8; 16]) -> Result<u64> {
    let bad = |why: &str| Error::validation("cursor", why.to_string());
    if cursor.len() > 64 {
        return Err(bad("malformed cursor"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad("malformed cursor"))?;
    if bytes.len() != CURSOR_LEN || bytes[0] != CURSOR_VERSION {
        return Err(bad("malformed cursor"));
    }
    if bytes[1] != list as u8 || bytes[2..18] != owner {
        return Err(bad("cursor belongs to another list"));
    }
    let mut pos = [0u8; 8];
    pos.copy_from_slice(&bytes[18..26]);
    Ok(u64::from_be_bytes(pos))
}

/// A 16-byte key for a cursor owner made of several parts (FNV-1a, twice).
pub(crate) fn owner_key(parts: &[&[u8]]) -> [u8; 16] {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for part in parts {
        for &byte in *part {
            a = (a ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
            b = (b ^ byte as u64)
                .wrapping_mul(0x0000_0100_0000_01b3)
                .rotate_left(7);
        }
        a = (a ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_foreign() {
        let c = encode_cursor(ListKind::Followers, [7; 16], 42);
        assert_eq!(
            decode_cursor(&c, ListKind::Followers, [7; 16]).ok(),
            Some(42)
        );
        assert!(decode_cursor(&c, ListKind::Following, [7; 16]).is_err());
        assert!(decode_cursor(&c, ListKind::Followers, [8; 16]).is_err());
        assert!(decode_cursor(&c[..c.len() - 2], ListKind::Followers, [7; 16]).is_err());
        assert!(decode_cursor("!!!", ListKind::Followers, [7; 16]).is_err());
    }
}
