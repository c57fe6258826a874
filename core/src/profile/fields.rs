//! Profile text fields (SPEC §3): display name, bio, location and e-mail.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};
use crate::text;

/// A display name: 1–50 Unicode scalar values after trimming, NFC, no control
/// characters, no bidi overrides or isolates.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);
string_newtype!(DisplayName);

impl DisplayName {
    /// Longest allowed display name, in Unicode scalar values.
    pub const MAX_LEN: usize = 50;
    /// Validates and normalises a display name.
    ///
    /// # Errors
    /// [`Error::Validation`] (`name`).
    pub fn parse(raw: &str) -> Result<Self> {
        text::single_line("name", raw, 1, Self::MAX_LEN).map(Self)
    }
}

/// A bio: 0–500 Unicode scalar values after trimming, NFC; newlines allowed,
/// other control characters and bidi overrides refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bio(String);
string_newtype!(Bio);

impl Bio {
    /// Longest allowed bio.
    pub const MAX_LEN: usize = 500;
    /// Validates and normalises a bio.
    ///
    /// # Errors
    /// [`Error::Validation`] (`bio`).
    pub fn parse(raw: &str) -> Result<Self> {
        text::multi_line("bio", raw, 0, Self::MAX_LEN).map(Self)
    }
}

/// A location: 0–100 Unicode scalar values, same rules as a display name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Location(String);
string_newtype!(Location);

impl Location {
    /// Longest allowed location.
    pub const MAX_LEN: usize = 100;
    /// Validates and normalises a location.
    ///
    /// # Errors
    /// [`Error::Validation`] (`location`).
    pub fn parse(raw: &str) -> Result<Self> {
        text::single_line("location", raw, 0, Self::MAX_LEN).map(Self)
    }
}

/// An e-mail address, private to its owner. Only the shape is checked: one
/// `@`, a non-empty local part, a dotted domain, no spaces, at most 254 bytes.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
string_newtype!(Email);

impl fmt::Debug for Email {
    /// Never prints the address (it is private).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

impl Email {
    /// Validates an e-mail address (trimmed).
    ///
    /// # Errors
    /// [`Error::Validation`] (`email`).
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        let bad = || Error::validation("email", "not an e-mail address");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(s.to_string()))
    }
}
