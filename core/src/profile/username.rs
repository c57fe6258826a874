//! Usernames (SPEC §3): the shape, the reserved names and the look-alike
//! fold that catches `adm1n` for `admin`.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};

/// Names refused for everyone (compared after folding look-alikes). Hosts add
/// more with [`Config::reserved_usernames`](crate::Config::reserved_usernames).
pub const RESERVED_USERNAMES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "api",
    "me",
    "settings",
    "support",
    "help",
    "www",
    "moderator",
    "mod",
    "system",
    "staff",
    "official",
    "security",
    "kinfolk",
    "null",
    "undefined",
    "anonymous",
    "everyone",
    "login",
    "logout",
    "signup",
    "register",
    "account",
    "profile",
    "search",
    "explore",
    "home",
    "about",
    "notifications",
    "messages",
    "rooms",
    "users",
    "user",
    "owner",
    "webmaster",
    "postmaster",
    "abuse",
    "info",
    "mail",
    "status",
];

/// A username: 3–30 characters of `A-Z a-z 0-9 _` with at least one letter.
/// Stored as typed; compared case-insensitively ([`Username::folded`]).
///
/// Reserved names are checked by the service (the list is configurable), not here.
///
/// ```
/// use kinfolk::Username;
/// assert!(Username::parse("ada_99").is_ok());
/// assert!(Username::parse("@Ada").is_err()); // `@` is stripped only by lookups
/// assert!(Username::parse("12345").is_err()); // needs a letter
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);
string_newtype!(Username);

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl Username {
    /// Shortest allowed username.
    pub const MIN_LEN: usize = 3;
    /// Longest allowed username.
    pub const MAX_LEN: usize = 30;

    /// Validates a username.
    ///
    /// # Errors
    /// [`Error::Validation`] (`username`) for a wrong length, a character
    /// outside `A-Z a-z 0-9 _`, or no letter at all.
    pub fn parse(raw: &str) -> Result<Self> {
        let n = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&n) {
            return Err(Error::validation(
                "username",
                format!("must have {}–{} characters", Self::MIN_LEN, Self::MAX_LEN),
            ));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::validation(
                "username",
                "only A-Z, a-z, 0-9 and _ are allowed",
            ));
        }
        if !raw.chars().any(|c| c.is_ascii_alphabetic()) {
            return Err(Error::validation("username", "must contain a letter"));
        }
        Ok(Self(raw.to_string()))
    }

    /// The case-folded form uniqueness is decided on.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The look-alike fold used for the reserved-name check: lower-cased,
    /// `0→o 1→i 3→e 4→a 5→s 7→t`, underscores dropped.
    ///
    /// ```
    /// assert_eq!(kinfolk::Username::parse("_Adm1n_").unwrap().lookalike_fold(), "admin");
    /// ```
    pub fn lookalike_fold(&self) -> String {
        lookalike_fold(&self.0)
    }
}

pub(crate) fn lookalike_fold(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .map(|c| match c.to_ascii_lowercase() {
            '0' => 'o',
            '1' => 'i',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}
