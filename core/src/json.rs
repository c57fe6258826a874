//! JSON client input with typed errors (issue 14 item 6).
//!
//! `serde_json::from_str` on a [`SettingsPatch`] or a [`ProfileUpdate`]
//! reports a `serde_json::Error` and reads `null` as "unchanged" (a profile
//! update's derive also reads an array by position; a settings patch's
//! refuses arrays, see `settings`). Hosts call
//! [`SettingsPatch::from_json`] and [`ProfileUpdate::from_json`] instead:
//! every refusal is an [`Error::Validation`] naming the field as a JSON path
//! (`privacy.private_account`, `display.language`, `name`), and
//! - an array (or any non-object) where an object is meant is refused;
//! - `null` is refused for a field that cannot be cleared (every settings
//!   field; `name`, `bio`, `username` and `social_links` of a profile
//!   update) and means "clear" where it can (`avatar_url`, `location`);
//! - unknown fields are refused (the field is the object holding them, the
//!   reason names the key);
//! - duplicate keys are refused.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::profile::{Bio, DisplayName, Location, ProfileUpdate, SafeUrl, SocialLinks, Username};
use crate::settings::{
    Audience, EmailDigest, LanguageTag, ListVisibility, SettingsPatch, Theme, TimeZoneName,
};

/// `value` as an object; anything else is refused on `field`.
fn object<'a>(value: &'a Value, field: &'static str) -> Result<&'a Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        Value::Array(_) => Err(Error::validation(
            field,
            "must be a JSON object, not an array",
        )),
        Value::Null => Err(Error::validation(field, "must not be null")),
        _ => Err(Error::validation(field, "must be a JSON object")),
    }
}

/// Refuses a key of `map` not in `known`.
fn known_only(map: &Map<String, Value>, known: &[&str], field: &'static str) -> Result<()> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Error::validation(field, format!("unknown field `{k}`"))),
        None => Ok(()),
    }
}

/// Checks that `map[key]`, when present, deserialises as `T` (refusing
/// `null` unless `nullable`).
fn leaf<T: DeserializeOwned>(
    map: &Map<String, Value>,
    key: &str,
    field: &'static str,
    nullable: bool,
) -> Result<()> {
    match map.get(key) {
        None => Ok(()),
        Some(Value::Null) if nullable => Ok(()),
        Some(Value::Null) => Err(Error::validation(
            field,
            "must not be null (leave the field out to keep it)",
        )),
        Some(v) => serde_json::from_value::<T>(v.clone())
            .map(drop)
            .map_err(|e| Error::validation(field, e.to_string())),
    }
}

fn parse(text: &str, field: &'static str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::validation(field, format!("not JSON: {e}")))
}

/// The final, whole deserialisation (duplicate keys and anything the field
/// checks did not catch), as a validation error on `field`.
fn whole<T: DeserializeOwned>(text: &str, field: &'static str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::validation(field, e.to_string()))
}

impl SettingsPatch {
    /// Reads a settings patch from client JSON with typed errors (see the
    /// rules above and SPEC §4).
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field: `patch` for text that is not
    /// a JSON object, an unknown top-level field or a duplicate key;
    /// `notifications`, `privacy`, `display` for a sub-object that is an
    /// array, `null` or holds an unknown field; `privacy.private_account`
    /// (and so on) for a wrong or `null` value; `expected_version`.
    ///
    /// ```
    /// use kinfolk::{Error, SettingsPatch};
    /// let p = SettingsPatch::from_json(r#"{"privacy":{"private_account":true}}"#).unwrap();
    /// assert_eq!(p.privacy.unwrap().private_account, Some(true));
    /// let field = |json| match SettingsPatch::from_json(json) {
    ///     Err(Error::Validation { field, .. }) => field,
    ///     other => panic!("{other:?}"),
    /// };
    /// assert_eq!(field(r#"{"privacy":[true,false]}"#), "privacy");
    /// assert_eq!(field(r#"{"privacy":{"private_account":"yes"}}"#), "privacy.private_account");
    /// assert_eq!(field(r#"{"display":{"theme":null}}"#), "display.theme");
    /// assert_eq!(field(r#"{"colour":"red"}"#), "patch");
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let value = parse(text, "patch")?;
        let top = object(&value, "patch")?;
        known_only(
            top,
            &["expected_version", "notifications", "privacy", "display"],
            "patch",
        )?;
        leaf::<u64>(top, "expected_version", "expected_version", false)?;
        if let Some(v) = top.get("notifications") {
            let m = object(v, "notifications")?;
            known_only(
                m,
                &[
                    "new_follower",
                    "follow_request",
                    "mention",
                    "room_invite",
                    "email_digest",
                ],
                "notifications",
            )?;
            leaf::<bool>(m, "new_follower", "notifications.new_follower", false)?;
            leaf::<bool>(m, "follow_request", "notifications.follow_request", false)?;
            leaf::<bool>(m, "mention", "notifications.mention", false)?;
            leaf::<bool>(m, "room_invite", "notifications.room_invite", false)?;
            leaf::<EmailDigest>(m, "email_digest", "notifications.email_digest", false)?;
        }
        if let Some(v) = top.get("privacy") {
            let m = object(v, "privacy")?;
            known_only(
                m,
                &[
                    "private_account",
                    "discoverable",
                    "followers_visibility",
                    "following_visibility",
                    "show_counts",
                    "allow_mentions",
                    "allow_room_invites",
                ],
                "privacy",
            )?;
            leaf::<bool>(m, "private_account", "privacy.private_account", false)?;
            leaf::<bool>(m, "discoverable", "privacy.discoverable", false)?;
            leaf::<ListVisibility>(
                m,
                "followers_visibility",
                "privacy.followers_visibility",
                false,
            )?;
            leaf::<ListVisibility>(
                m,
                "following_visibility",
                "privacy.following_visibility",
                false,
            )?;
            leaf::<bool>(m, "show_counts", "privacy.show_counts", false)?;
            leaf::<Audience>(m, "allow_mentions", "privacy.allow_mentions", false)?;
            leaf::<Audience>(m, "allow_room_invites", "privacy.allow_room_invites", false)?;
        }
        if let Some(v) = top.get("display") {
            let m = object(v, "display")?;
            known_only(m, &["theme", "language", "timezone", "compact"], "display")?;
            leaf::<Theme>(m, "theme", "display.theme", false)?;
            leaf::<LanguageTag>(m, "language", "display.language", false)?;
            leaf::<TimeZoneName>(m, "timezone", "display.timezone", false)?;
            leaf::<bool>(m, "compact", "display.compact", false)?;
        }
        whole(text, "patch")
    }
}

impl ProfileUpdate {
    /// Reads a profile update from client JSON with typed errors (see the
    /// rules above and SPEC §3): `null` clears `avatar_url` and `location`
    /// and is refused for `name`, `bio`, `username` and `social_links`
    /// (an empty bio or an empty list clears those that can be empty).
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field: `update` for text that is not
    /// a JSON object, an unknown field or a duplicate key; `name`, `bio`,
    /// `username`, `avatar_url`, `social_links`, `location` for a wrong or
    /// refused `null` value.
    ///
    /// ```
    /// use kinfolk::{Error, ProfileUpdate};
    /// let u = ProfileUpdate::from_json(r#"{"name":"Ada","location":null}"#).unwrap();
    /// assert_eq!(u.location, Some(None));
    /// let field = |json| match ProfileUpdate::from_json(json) {
    ///     Err(Error::Validation { field, .. }) => field,
    ///     other => panic!("{other:?}"),
    /// };
    /// assert_eq!(field(r#"{"name":null}"#), "name");
    /// assert_eq!(field(r#"{"username":"no spaces"}"#), "username");
    /// assert_eq!(field(r#"["Ada"]"#), "update");
    /// assert_eq!(field(r#"{"social_links":[["github","https://github.com/ada"]]}"#), "social_links");
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        let value = parse(text, "update")?;
        let top = object(&value, "update")?;
        known_only(
            top,
            &[
                "name",
                "bio",
                "username",
                "avatar_url",
                "social_links",
                "location",
            ],
            "update",
        )?;
        leaf::<DisplayName>(top, "name", "name", false)?;
        leaf::<Bio>(top, "bio", "bio", false)?;
        leaf::<Username>(top, "username", "username", false)?;
        leaf::<SafeUrl>(top, "avatar_url", "avatar_url", true)?;
        match top.get("social_links") {
            Some(Value::Object(_)) => {
                return Err(Error::validation(
                    "social_links",
                    "must be a JSON array of links",
                ));
            }
            // serde's derive would read a link written as an array by
            // position (`["github", "https://…"]`); a link is an object.
            Some(Value::Array(items)) => {
                if let Some(i) = items.iter().position(|v| !v.is_object()) {
                    return Err(Error::validation(
                        "social_links",
                        format!("link {i} must be a JSON object with `kind` and `url`"),
                    ));
                }
            }
            _ => {}
        }
        leaf::<SocialLinks>(top, "social_links", "social_links", false)?;
        leaf::<Location>(top, "location", "location", true)?;
        whole(text, "update")
    }
}
