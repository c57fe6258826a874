//! Users and profiles: the validating field types of SPEC §3, the stored
//! [`User`] record, and the views handed to callers.
//!
//! Every field type validates in its constructor *and* when deserialised, so an
//! invalid value cannot exist past the boundary.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::follow::Relationship;
use crate::id::UserId;
use crate::settings::Settings;
use crate::text;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                $name::parse(&s)
            }
        }
    };
}

// ---------------------------------------------------------------- username

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
/// assert_eq!(kinfolk::user::skeleton("_Adm1n_"), "admin");
/// assert_eq!(kinfolk::user::skeleton("A_L1C3"), "alice");
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

/// The key of the [`UsernameClaim`] that reserves `username`'s skeleton:
/// `~` followed by [`skeleton`]. Skeleton claims live in the same store key
/// space as case-folded claims, so the store's atomic unique check on that
/// key enforces skeleton uniqueness exactly as it enforces case-insensitive
/// uniqueness, with no schema change.
///
/// ```
/// let n = kinfolk::Username::parse("Al1ce").unwrap();
/// assert_eq!(kinfolk::user::skeleton_key(&n), "~alice");
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

// ---------------------------------------------------------------- text fields

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

// ---------------------------------------------------------------- URLs

/// An absolute URL a host may fetch: `https` (or `http` where the service's
/// config allows it; see [`Config::allow_http_avatars`](crate::Config)), at most
/// 2048 bytes, no `user:password@`, and a host that is neither `localhost` nor
/// an IP literal in a loopback, private, link-local, shared, multicast,
/// broadcast or unspecified range (IPv4-mapped IPv6 included; decimal and hex
/// IPv4 spellings are normalised by the URL parser first, so they are caught too).
///
/// ```
/// use kinfolk::SafeUrl;
/// assert!(SafeUrl::parse("https://cdn.example.com/a.png").is_ok());
/// assert!(SafeUrl::parse("https://127.0.0.1/a.png").is_err());
/// assert!(SafeUrl::parse("https://2130706433/").is_err()); // 127.0.0.1 spelt as a number
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SafeUrl(String);
string_newtype!(SafeUrl);

impl SafeUrl {
    /// Longest allowed URL, in bytes.
    pub const MAX_LEN: usize = 2048;

    /// Validates a URL, accepting `https` and `http` (see [`SafeUrl::is_https`]).
    ///
    /// # Errors
    /// [`Error::Validation`] (`url`).
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("url", raw)
    }

    pub(crate) fn parse_field(field: &'static str, raw: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.len() > Self::MAX_LEN {
            return Err(Error::validation(field, "URL is longer than 2048 bytes"));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| Error::validation(field, format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::validation(field, "only https URLs are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::validation(
                field,
                "URLs with user:password are not allowed",
            ));
        }
        match url.host() {
            None => return Err(Error::validation(field, "URL has no host")),
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") || d.is_empty() {
                    return Err(Error::validation(field, "URL host is local"));
                }
            }
            Some(url::Host::Ipv4(ip)) => {
                if !is_public_ip(IpAddr::V4(ip)) {
                    return Err(Error::validation(field, "URL host is a non-public address"));
                }
            }
            Some(url::Host::Ipv6(ip)) => {
                if !is_public_ip(IpAddr::V6(ip)) {
                    return Err(Error::validation(field, "URL host is a non-public address"));
                }
            }
        }
        let s = url.to_string();
        if s.len() > Self::MAX_LEN {
            return Err(Error::validation(field, "URL is longer than 2048 bytes"));
        }
        Ok(Self(s))
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https:")
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64)   // 100.64/10 shared (CGNAT)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18)   // 198.18/15 benchmarking
        || o[0] >= 240)
}

fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            // IPv4-compatible (deprecated) ::a.b.c.d
            if seg[..6] == [0; 6] {
                return false;
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
                && v6 != Ipv6Addr::LOCALHOST
        }
    }
}

/// Kinds of social link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum SocialKind {
    Website,
    Github,
    X,
    Instagram,
    Linkedin,
    Youtube,
    Mastodon,
    Other,
}

/// One social link: a kind and an `https` URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocialLink {
    /// What the link points at.
    pub kind: SocialKind,
    /// Where; always `https`.
    pub url: SafeUrl,
}

/// At most 8 social links, all `https`, no URL twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<SocialLink>", into = "Vec<SocialLink>")]
pub struct SocialLinks(Vec<SocialLink>);

impl SocialLinks {
    /// Most links a profile may carry.
    pub const MAX: usize = 8;

    /// Validates a list of links.
    ///
    /// # Errors
    /// [`Error::Validation`] (`social_links`) for more than 8 links, a link
    /// that is not `https`, or the same URL twice.
    pub fn new(links: Vec<SocialLink>) -> Result<Self> {
        if links.len() > Self::MAX {
            return Err(Error::validation("social_links", "at most 8 links"));
        }
        for (i, l) in links.iter().enumerate() {
            if !l.url.is_https() {
                return Err(Error::validation("social_links", "links must be https"));
            }
            if links[..i].iter().any(|o| o.url == l.url) {
                return Err(Error::validation("social_links", "the same URL twice"));
            }
        }
        Ok(Self(links))
    }

    /// The links.
    pub fn as_slice(&self) -> &[SocialLink] {
        &self.0
    }
}

impl TryFrom<Vec<SocialLink>> for SocialLinks {
    type Error = Error;
    fn try_from(v: Vec<SocialLink>) -> Result<Self> {
        Self::new(v)
    }
}
impl From<SocialLinks> for Vec<SocialLink> {
    fn from(v: SocialLinks) -> Self {
        v.0
    }
}

// ---------------------------------------------------------------- records

/// Whether an account is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Normal.
    Active,
    /// Hidden from everyone else; data and edges kept until reactivated.
    Deactivated,
}

/// Counters kept with the user and changed in the same transaction as the edges
/// they count. Only approved follows count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    /// Approved followers.
    pub followers: u64,
    /// Approved follows of others.
    pub following: u64,
    /// Pending incoming follow requests.
    pub pending_requests: u64,
    /// Rooms the user is a member of.
    pub rooms: u64,
}

/// A user as stored. Stores persist and return it whole; kinfolk's rules
/// decide every change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Id (never changes).
    pub id: UserId,
    /// Current username, as typed.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Bio (may be empty).
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
    /// Settings, with their version.
    pub settings: Settings,
    /// Counters.
    pub counts: Counts,
    /// When registered.
    pub created_at: Timestamp,
    /// Last profile or settings change.
    pub updated_at: Timestamp,
}

impl User {
    /// Whether the account is active.
    pub fn is_active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    /// The short form used in list rows and search hits.
    pub fn summary(&self) -> UserSummary {
        UserSummary {
            id: self.id,
            username: self.username.clone(),
            name: self.name.clone(),
            avatar_url: self.avatar_url.clone(),
            private_account: self.settings.privacy.private_account,
        }
    }
}

/// A username held by a user: its current one (`held_until: None`) or a
/// previous one kept for them until `held_until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsernameClaim {
    /// The case-folded key uniqueness is enforced on.
    pub folded: String,
    /// Who holds it.
    pub user: UserId,
    /// The name as typed.
    pub username: Username,
    /// `None` for the current name; for a previous name, when the hold ends.
    pub held_until: Option<Timestamp>,
}

// ---------------------------------------------------------------- inputs

/// What a host passes to [`Kinfolk::register`](crate::Kinfolk::register).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The username (3–30 of `A-Z a-z 0-9 _`, not reserved, not taken).
    pub username: Username,
    /// The display name.
    pub name: DisplayName,
    /// The private e-mail address, if the host has one.
    #[serde(default)]
    pub email: Option<Email>,
}

impl NewUser {
    /// Builds a `NewUser` from raw strings, validating each.
    ///
    /// # Errors
    /// [`Error::Validation`] for the first invalid field.
    pub fn new(username: &str, name: &str) -> Result<Self> {
        Ok(Self {
            username: Username::parse(username)?,
            name: DisplayName::parse(name)?,
            email: None,
        })
    }

    /// Sets the e-mail address.
    ///
    /// # Errors
    /// [`Error::Validation`] (`email`).
    pub fn with_email(mut self, email: &str) -> Result<Self> {
        self.email = Some(Email::parse(email)?);
        Ok(self)
    }
}

/// A partial profile update: a field left out (`None`) stays as it is.
/// `avatar_url` and `location` take `Some(None)` (JSON `null`) to clear;
/// `null` for any other field is refused. Hosts read client JSON with
/// [`ProfileUpdate::from_json`], which names the bad field in
/// [`Error::Validation`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New display name (`null` is refused: it cannot be cleared).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    pub name: Option<DisplayName>,
    /// New bio (empty clears; `null` is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    pub bio: Option<Bio>,
    /// New username; the old one is held for the owner (see [`Config::username_hold`](crate::Config)).
    /// `null` is refused.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    pub username: Option<Username>,
    /// New avatar; `Some(None)` clears.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub avatar_url: Option<Option<SafeUrl>>,
    /// New social links (replaces the list; `[]` clears, `null` is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    pub social_links: Option<SocialLinks>,
    /// New location; `Some(None)` clears.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub location: Option<Option<Location>>,
}

impl ProfileUpdate {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A field that may be left out (`None`, with `#[serde(default)]`) but not
/// given as `null`, which would otherwise read as "unchanged".
fn not_null<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `Option<Option<T>>` where an absent field is `None` and `null` is `Some(None)`.
pub(crate) mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

// ---------------------------------------------------------------- views

/// A user in a list row or a search hit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Id.
    pub id: UserId,
    /// Username.
    pub username: Username,
    /// Display name.
    pub name: DisplayName,
    /// Avatar.
    pub avatar_url: Option<SafeUrl>,
    /// Whether follows need approval.
    pub private_account: bool,
}

/// Statistics on the owner's own profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnStats {
    /// Approved followers.
    pub followers_count: u64,
    /// Approved follows.
    pub following_count: u64,
    /// Rooms the user belongs to.
    pub rooms_count: u64,
    /// Pending incoming follow requests.
    pub pending_follow_requests: u64,
}

/// Counts shown to others when the owner's `show_counts` is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicStats {
    /// Approved followers.
    pub followers_count: u64,
    /// Approved follows.
    pub following_count: u64,
}

/// An account linked by the host after its OAuth flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedAccount {
    /// The user it belongs to.
    pub user: UserId,
    /// Provider name (`github`, `google`, …), lower-case.
    pub provider: String,
    /// The provider's id for the account; `(provider, external_id)` belongs to one user at most.
    pub external_id: String,
    /// The handle shown to the owner.
    pub handle: String,
    /// When linked.
    pub connected_at: Timestamp,
}

/// The owner's full view of their own profile.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OwnProfile {
    /// Id.
    pub id: UserId,
    /// Username.
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
    /// Settings.
    pub settings: Settings,
    /// Statistics.
    pub stats: OwnStats,
    /// Linked accounts.
    pub connected_accounts: Vec<ConnectedAccount>,
    /// Registered.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// What anyone else sees: no e-mail, settings or connected accounts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicProfile {
    /// Id.
    pub id: UserId,
    /// Username.
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
    /// Whether follows need approval.
    pub private_account: bool,
    /// Counts, when the owner shows them.
    pub stats: Option<PublicStats>,
    /// The viewer's relationship to this user (`None` for anonymous viewers).
    pub relationship: Option<Relationship>,
    /// Registered.
    pub created_at: Timestamp,
}

/// The answer of [`get_profile`](crate::Kinfolk::get_profile): full data for
/// the owner, the public profile for anyone else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum ProfileView {
    /// The viewer is the owner.
    Own(Box<OwnProfile>),
    /// Anyone else.
    Public(Box<PublicProfile>),
}

impl ProfileView {
    /// The profile's user id.
    pub fn id(&self) -> UserId {
        match self {
            ProfileView::Own(p) => p.id,
            ProfileView::Public(p) => p.id,
        }
    }
    /// The profile's username.
    pub fn username(&self) -> &Username {
        match self {
            ProfileView::Own(p) => &p.username,
            ProfileView::Public(p) => &p.username,
        }
    }
}
