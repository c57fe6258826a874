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

    /// The name's skeleton: [`skeleton`] of it. Kept under its old name.
    ///
    /// ```
    /// assert_eq!(kinfolk::Username::parse("_Adm1n_").unwrap().lookalike_fold(), "admin");
    /// ```
    pub fn lookalike_fold(&self) -> String {
        skeleton(&self.0)
    }

    /// The name's skeleton ([`skeleton`]): what reserved names are compared
    /// on, and what usernames are unique on when
    /// [`Config::unique_username_skeletons`](crate::Config::unique_username_skeletons)
    /// is on (the default).
    ///
    /// ```
    /// use kinfolk::Username;
    /// let s = |n: &str| Username::parse(n).unwrap().skeleton();
    /// assert_eq!(s("alice"), s("al1ce"));
    /// assert_eq!(s("alice"), s("A_LICE"));
    /// assert_ne!(s("alice"), s("alicia"));
    /// ```
    pub fn skeleton(&self) -> String {
        skeleton(&self.0)
    }
}

/// The look-alike fold of a username, its *skeleton*: lower-cased,
/// `0→o 1→i 3→e 4→a 5→s 7→t`, underscores dropped. Two names with one
/// skeleton read alike (`alice`, `al1ce`, `A_LICE`). The one place this rule
/// lives: the reserved-name check and skeleton uniqueness both use it.
///
/// ```
/// assert_eq!(kinfolk::profile::skeleton("_Adm1n_"), "admin");
/// assert_eq!(kinfolk::profile::skeleton("A_L1C3"), "alice");
/// ```
pub fn skeleton(s: &str) -> String {
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

/// First character of a skeleton claim's key. Case-folded username keys only
/// hold `a-z 0-9 _`, so a key starting with `~` can never be a username's.
pub const SKELETON_KEY_PREFIX: char = '~';

/// The key of the [`UsernameClaim`](crate::profile::UsernameClaim) that
/// reserves `username`'s skeleton: `~` followed by [`skeleton`]. Skeleton
/// claims live in the same store key space as case-folded claims, so the
/// store's atomic unique check on that key enforces skeleton uniqueness
/// exactly as it enforces case-insensitive uniqueness, with no schema change.
///
/// ```
/// let n = kinfolk::Username::parse("Al1ce").unwrap();
/// assert_eq!(kinfolk::profile::skeleton_key(&n), "~alice");
/// ```
pub fn skeleton_key(username: &Username) -> String {
    let mut key = String::with_capacity(username.0.len() + 1);
    key.push(SKELETON_KEY_PREFIX);
    key.push_str(&skeleton(&username.0));
    key
}

/// Whether a claim key is a skeleton claim's (see [`skeleton_key`]) rather
/// than a case-folded name's.
pub fn is_skeleton_key(key: &str) -> bool {
    key.starts_with(SKELETON_KEY_PREFIX)
}
