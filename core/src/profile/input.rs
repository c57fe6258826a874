//! What callers pass in: a new user and a partial profile update.

use super::{Bio, DisplayName, Email, Location, SafeUrl, SocialLinks, Username};
use serde::{Deserialize, Serialize};

use crate::error::Result;

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
    /// [`Error::Validation`](crate::Error::Validation) for the first invalid field.
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
    /// [`Error::Validation`](crate::Error::Validation) (`email`).
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
