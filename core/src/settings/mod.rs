//! Settings (SPEC §4): notifications, privacy and display preferences, with a
//! version every change bumps, and the partial [`SettingsPatch`]. The command
//! (`edit_settings`: version check, private → public) is in `service.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub(crate) mod service;

use crate::error::{Error, Result};

/// How often to send an e-mail digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum EmailDigest {
    Never,
    Daily,
    Weekly,
}

/// Who may list someone's followers or following.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListVisibility {
    /// Anyone, anonymous viewers included.
    Public,
    /// Approved followers (and the owner).
    Followers,
    /// The owner only.
    Owner,
}

/// Who may mention the user or invite them to rooms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Anyone.
    Everyone,
    /// People the user follows.
    Following,
    /// No one.
    Nobody,
}

/// Colour theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Theme {
    System,
    Light,
    Dark,
}

/// A well-formed BCP 47 language tag (`en`, `pt-BR`, `zh-Hant-TW`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LanguageTag(String);

impl LanguageTag {
    /// Validates a tag with the `language-tags` crate (RFC 5646 grammar).
    ///
    /// # Errors
    /// [`Error::Validation`] (`language`).
    pub fn parse(raw: &str) -> Result<Self> {
        // Every stored user record carries a tag and nearly all carry the
        // same few, so the last tag this thread accepted is remembered and
        // returned again for the same text: parsing is a pure function of
        // `raw`, and the registry lookups of `validate` cost more than the
        // rest of decoding the settings.
        thread_local! {
            static LAST: std::cell::Cell<Option<(String, LanguageTag)>> =
                const { std::cell::Cell::new(None) };
        }
        let last = LAST.take();
        if let Some((seen, tag)) = &last
            && seen == raw
        {
            let hit = tag.clone();
            LAST.set(last);
            return Ok(hit);
        }
        let tag = Self::parse_uncached(raw)?;
        LAST.set(Some((raw.to_owned(), tag.clone())));
        Ok(tag)
    }

    fn parse_uncached(raw: &str) -> Result<Self> {
        if raw.len() > 64 {
            return Err(Error::validation("language", "not a BCP 47 language tag"));
        }
        let tag = language_tags::LanguageTag::parse(raw)
            .map_err(|_| Error::validation("language", "not a BCP 47 language tag"))?;
        tag.validate()
            .map_err(|_| Error::validation("language", "not a valid BCP 47 language tag"))?;
        Ok(Self(tag.as_str().to_string()))
    }
    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageTag({})", self.0)
    }
}
impl TryFrom<String> for LanguageTag {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<LanguageTag> for String {
    fn from(v: LanguageTag) -> String {
        v.0
    }
}

/// An IANA time-zone name checked against the tz database bundled by `chrono-tz`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// Validates a zone name (`Europe/Paris`, `UTC`).
    ///
    /// # Errors
    /// [`Error::Validation`] (`timezone`) for a name the database does not know.
    pub fn parse(raw: &str) -> Result<Self> {
        let tz = chrono_tz::Tz::from_str(raw)
            .map_err(|_| Error::validation("timezone", "not an IANA time zone"))?;
        Ok(Self(tz.name().to_string()))
    }
    /// The zone name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZoneName({})", self.0)
    }
}
impl TryFrom<String> for TimeZoneName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}
impl From<TimeZoneName> for String {
    fn from(v: TimeZoneName) -> String {
        v.0
    }
}

/// Notification preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Someone followed me.
    pub new_follower: bool,
    /// Someone asked to follow me.
    pub follow_request: bool,
    /// Someone mentioned me.
    pub mention: bool,
    /// Someone invited me to a room.
    pub room_invite: bool,
    /// E-mail digest frequency.
    pub email_digest: EmailDigest,
}

/// Privacy settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// Follows need my approval. Turning it off approves every pending request.
    pub private_account: bool,
    /// I appear in discovery search.
    pub discoverable: bool,
    /// Who may list my followers.
    pub followers_visibility: ListVisibility,
    /// Who may list whom I follow.
    pub following_visibility: ListVisibility,
    /// Others see my counts.
    pub show_counts: bool,
    /// Who may mention me.
    pub allow_mentions: Audience,
    /// Who may add me to rooms.
    pub allow_room_invites: Audience,
}

/// Display preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplaySettings {
    /// Colour theme.
    pub theme: Theme,
    /// Interface language.
    pub language: LanguageTag,
    /// Time zone.
    pub timezone: TimeZoneName,
    /// Compact layout.
    pub compact: bool,
}

/// All settings of a user, with the version every change bumps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Starts at 1; every applied, non-empty patch adds 1.
    pub version: u64,
    /// Notifications.
    pub notifications: NotificationSettings,
    /// Privacy.
    pub privacy: PrivacySettings,
    /// Display.
    pub display: DisplaySettings,
}

impl Default for Settings {
    /// Public, discoverable, everything visible, notifications on, weekly digest,
    /// system theme, `en`, `UTC`.
    fn default() -> Self {
        Settings {
            version: 1,
            notifications: NotificationSettings {
                new_follower: true,
                follow_request: true,
                mention: true,
                room_invite: true,
                email_digest: EmailDigest::Weekly,
            },
            privacy: PrivacySettings {
                private_account: false,
                discoverable: true,
                followers_visibility: ListVisibility::Public,
                following_visibility: ListVisibility::Public,
                show_counts: true,
                allow_mentions: Audience::Everyone,
                allow_room_invites: Audience::Everyone,
            },
            display: DisplaySettings {
                theme: Theme::System,
                language: LanguageTag("en".to_string()),
                timezone: TimeZoneName("UTC".to_string()),
                compact: false,
            },
        }
    }
}

/// Partial notification settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[allow(missing_docs)]
pub struct NotificationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_follower: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_request: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_invite: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_digest: Option<EmailDigest>,
}

/// Partial privacy settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[allow(missing_docs)]
pub struct PrivacyPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_account: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers_visibility: Option<ListVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub following_visibility: Option<ListVisibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_counts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_mentions: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_room_invites: Option<Audience>,
}

/// Partial display settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
#[allow(missing_docs)]
pub struct DisplayPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<Theme>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<LanguageTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<TimeZoneName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact: Option<bool>,
}

/// A partial settings update: every field optional, absent = unchanged,
/// unknown JSON fields refused. `expected_version`, when given, must equal the
/// current version or the patch is refused with [`Error::Conflict`].
///
/// ```
/// let patch: kinfolk::SettingsPatch =
///     serde_json::from_str(r#"{"privacy":{"private_account":true},"expected_version":1}"#).unwrap();
/// assert_eq!(patch.privacy.unwrap().private_account, Some(true));
/// assert!(serde_json::from_str::<kinfolk::SettingsPatch>(r#"{"colour":"red"}"#).is_err());
/// ```
///
/// serde refuses a patch or a section written as an array, like
/// [`SettingsPatch::from_json`] (`{"privacy":[true,false]}` is an error to
/// both). Hosts read client JSON with `from_json`: it also refuses `null`
/// values (serde reads them as "unchanged") and names the bad field in
/// [`Error::Validation`] (`privacy.private_account`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct SettingsPatch {
    /// The version the patch was made against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// Notification changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationPatch>,
    /// Privacy changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyPatch>,
    /// Display changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<DisplayPatch>,
}

/// serde's derive fills a struct from a sequence too (fields by position:
/// `{"privacy":[true,false]}`), which [`SettingsPatch::from_json`] refuses.
/// The patch types derive with `remote = "Self"` (the derived code becomes
/// inherent `serialize`/`deserialize` functions) and implement the traits
/// here: serialising is the derived form; deserialising asks the format for a
/// map and refuses anything else, so `serde_json::from_str` and `from_json`
/// agree that a patch and each of its sections is a JSON object.
macro_rules! object_only {
    ($($ty:ident),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                $ty::serialize(self, s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> std::result::Result<$ty, A::Error> {
                        $ty::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(Object)
            }
        }
    )*};
}

object_only!(NotificationPatch, PrivacyPatch, DisplayPatch, SettingsPatch);

macro_rules! set_if {
    ($changed:ident, $target:expr, $value:expr) => {
        if let Some(v) = $value {
            if $target != v {
                $target = v;
                $changed = true;
            }
        }
    };
}

impl Settings {
    /// Applies a patch, returning whether any value changed. Does not touch the
    /// version or check `expected_version`; the service does both.
    pub fn apply(&mut self, patch: &SettingsPatch) -> bool {
        let mut changed = false;
        if let Some(n) = &patch.notifications {
            let t = &mut self.notifications;
            set_if!(changed, t.new_follower, n.new_follower);
            set_if!(changed, t.follow_request, n.follow_request);
            set_if!(changed, t.mention, n.mention);
            set_if!(changed, t.room_invite, n.room_invite);
            set_if!(changed, t.email_digest, n.email_digest);
        }
        if let Some(p) = &patch.privacy {
            let t = &mut self.privacy;
            set_if!(changed, t.private_account, p.private_account);
            set_if!(changed, t.discoverable, p.discoverable);
            set_if!(changed, t.followers_visibility, p.followers_visibility);
            set_if!(changed, t.following_visibility, p.following_visibility);
            set_if!(changed, t.show_counts, p.show_counts);
            set_if!(changed, t.allow_mentions, p.allow_mentions);
            set_if!(changed, t.allow_room_invites, p.allow_room_invites);
        }
        if let Some(d) = &patch.display {
            let t = &mut self.display;
            set_if!(changed, t.theme, d.theme);
            set_if!(changed, t.language, d.language.clone());
            set_if!(changed, t.timezone, d.timezone.clone());
            set_if!(changed, t.compact, d.compact);
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered last tag never changes an answer: every input, in an
    /// order that repeats, hits and misses the memo, reads as uncached.
    #[test]
    fn language_tag_memo_answers_like_a_fresh_parse() {
        let inputs = [
            "en",
            "en",
            "pt-BR",
            "pt-BR",
            "xx-invalid-tag-",
            "xx-invalid-tag-",
            "en",
            "",
            "",
            "zh-Hant-TW",
            "EN",
            "en-",
            "en",
            "i-klingon",
            "de-DE-1996",
            "de-DE-1996",
        ];
        for raw in inputs {
            let fresh = LanguageTag::parse_uncached(raw).map(|t| t.0);
            let memo = LanguageTag::parse(raw).map(|t| t.0);
            assert_eq!(
                memo.as_ref().map_err(Error::code),
                fresh.as_ref().map_err(Error::code),
                "{raw:?}"
            );
            assert_eq!(memo.ok(), fresh.ok(), "{raw:?}");
        }
    }

    /// serde and `from_json` agree: a patch and each section is an object;
    /// arrays (fields by position) are refused by both, and what both accept
    /// reads the same and serialises back to the same JSON.
    #[test]
    fn serde_refuses_arrays_like_from_json() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        for bad in [
            r#"{"privacy":[true,false]}"#,
            r#"{"notifications":[true]}"#,
            r#"{"display":["dark"]}"#,
            r#"{"privacy":[null,null]}"#,
            r#"[null,{"private_account":true}]"#,
            r#"[]"#,
            r#"{"privacy":"private"}"#,
        ] {
            assert!(
                serde_json::from_str::<SettingsPatch>(bad).is_err(),
                "serde accepted {bad}"
            );
            assert!(
                SettingsPatch::from_json(bad).is_err(),
                "from_json accepted {bad}"
            );
            let value: serde_json::Value = serde_json::from_str(bad)?;
            assert!(
                serde_json::from_value::<SettingsPatch>(value).is_err(),
                "{bad}"
            );
        }
        for good in [
            r#"{}"#,
            r#"{"expected_version":3,"privacy":{"private_account":true,"allow_mentions":"following"}}"#,
            r#"{"notifications":{"email_digest":"daily"},"display":{"theme":"dark","language":"pt-BR"}}"#,
        ] {
            let a = serde_json::from_str::<SettingsPatch>(good)?;
            assert_eq!(a, SettingsPatch::from_json(good)?, "{good}");
            let back = serde_json::to_string(&a)?;
            assert_eq!(serde_json::from_str::<SettingsPatch>(&back)?, a);
            let v: serde_json::Value = serde_json::from_str(good)?;
            assert_eq!(serde_json::to_value(&a)?, v, "{good}");
        }
        Ok(())
    }
}
