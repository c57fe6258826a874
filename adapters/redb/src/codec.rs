//! How records are encoded in values: one format byte, then the body.
//!
//! - Format `1` — **postcard** (serde, non-self-describing: fields in
//!   declaration order, varint integers, no field names). Used for every
//!   record type except change events: `User`, `UsernameClaim`, `Edge`,
//!   `Room`, `Membership`, `ConnectedAccount`. Their serde derives use only
//!   what postcard supports (plain structs, unit enums, `Option`, `Vec`,
//!   `try_from`/`into` string newtypes; UUIDs as 16 bytes, timestamps as
//!   RFC 3339 strings — chrono's own serde form).
//! - Format `2` — **JSON** (serde_json). Used for [`ChangeEvent`]: `Change` is
//!   an internally tagged enum (`#[serde(tag = "type")]`), which serde can
//!   only deserialize from a self-describing format. JSON also keeps the feed
//!   readable by a newer core that adds variants.
//!
//! The byte lets a later version change a record's encoding and still read
//! the old one. Anything that does not decode — an unknown format byte, a
//! truncated body, a value that fails core's validation — is
//! [`Error::Storage`] via [`Error::corrupt`], never a panic.

use kinfolk::{ChangeEvent, Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Format byte of a postcard body.
const POSTCARD: u8 = 1;
/// Format byte of a JSON body.
const JSON: u8 = 2;

/// Encodes a record (postcard, format 1).
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>> {
    let mut out = vec![POSTCARD];
    let body = postcard::to_allocvec(value)
        .map_err(|e| Error::storage(format!("cannot encode {what}: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a record written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&POSTCARD, body)) => match postcard::take_from_bytes::<T>(body) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(Error::corrupt(format!(
                "{what}: {} trailing bytes",
                rest.len()
            ))),
            Err(e) => Err(Error::corrupt(format!("{what}: {e}"))),
        },
        Some((format, _)) => Err(Error::corrupt(format!(
            "{what}: unknown value format {format}"
        ))),
        None => Err(Error::corrupt(format!("{what}: empty value"))),
    }
}

/// Encodes a change event (JSON, format 2).
pub(crate) fn encode_event(event: &ChangeEvent) -> Result<Vec<u8>> {
    let mut out = vec![JSON];
    serde_json::to_writer(&mut out, event)
        .map_err(|e| Error::storage(format!("cannot encode change event: {e}")))?;
    Ok(out)
}

/// Decodes a change event written by [`encode_event`].
pub(crate) fn decode_event(bytes: &[u8]) -> Result<ChangeEvent> {
    match bytes.split_first() {
        Some((&JSON, body)) => {
            serde_json::from_slice(body).map_err(|e| Error::corrupt(format!("change event: {e}")))
        }
        Some((format, _)) => Err(Error::corrupt(format!(
            "change event: unknown value format {format}"
        ))),
        None => Err(Error::corrupt("change event: empty value")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kinfolk::{
        Change, Clock, ConnectedAccount, Edge, EdgeKind, Membership, NewUser, Room, RoomId,
        RoomKind, RoomName, RoomRole, RoomVisibility, SafeUrl, SocialKind, SocialLink, SocialLinks,
        SystemClock, User, UserId,
    };

    fn user() -> User {
        let now = SystemClock.now();
        let new = NewUser::new("Ada_99", "Ada Lovelace")
            .unwrap()
            .with_email("ada@example.com")
            .unwrap();
        User {
            id: UserId::new(),
            username: new.username,
            name: new.name,
            bio: kinfolk::Bio::parse("line one\nline two").unwrap(),
            avatar_url: Some(SafeUrl::parse("https://cdn.example.com/a.png").unwrap()),
            social_links: SocialLinks::new(vec![SocialLink {
                kind: SocialKind::Github,
                url: SafeUrl::parse("https://github.com/ada").unwrap(),
            }])
            .unwrap(),
            location: Some(kinfolk::Location::parse("London").unwrap()),
            email: new.email,
            status: kinfolk::AccountStatus::Deactivated,
            settings: kinfolk::Settings::default(),
            counts: Default::default(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn records_round_trip() {
        let u = user();
        assert_eq!(
            decode::<User>("user", &encode("user", &u).unwrap()).unwrap(),
            u
        );

        let now = SystemClock.now();
        let e = Edge {
            kind: EdgeKind::Mute,
            from: UserId::new(),
            to: UserId::new(),
            since: now,
            seq: 42,
            until: Some(now),
        };
        assert_eq!(
            decode::<Edge>("edge", &encode("edge", &e).unwrap()).unwrap(),
            e
        );

        let r = Room {
            id: RoomId::new(),
            kind: RoomKind::Group,
            name: RoomName::parse("Garden club").unwrap(),
            visibility: RoomVisibility::Private,
            created_by: u.id,
            created_at: now,
            member_count: 3,
        };
        assert_eq!(
            decode::<Room>("room", &encode("room", &r).unwrap()).unwrap(),
            r
        );
        let m = Membership {
            room: r.id,
            user: u.id,
            role: RoomRole::Owner,
            joined_at: now,
            seq: 7,
        };
        assert_eq!(
            decode::<Membership>("m", &encode("m", &m).unwrap()).unwrap(),
            m
        );
        let a = ConnectedAccount {
            user: u.id,
            provider: "github".into(),
            external_id: "123".into(),
            handle: "ada".into(),
            connected_at: now,
        };
        assert_eq!(
            decode::<ConnectedAccount>("a", &encode("a", &a).unwrap()).unwrap(),
            a
        );
    }

    #[test]
    fn events_round_trip() {
        let ev = ChangeEvent {
            seq: 9,
            at: SystemClock.now(),
            change: Change::RoleChanged {
                room: RoomId::new(),
                user: UserId::new(),
                role: RoomRole::Moderator,
                by: UserId::new(),
            },
        };
        assert_eq!(decode_event(&encode_event(&ev).unwrap()).unwrap(), ev);
    }

    #[test]
    fn garbage_is_a_storage_error() {
        let good = encode("user", &user()).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![9, 1, 2, 3],
            vec![POSTCARD],
            good[..good.len() / 2].to_vec(),
            [good.as_slice(), &[0]].concat(),
            vec![
                POSTCARD, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ];
        for bytes in cases {
            let err = decode::<User>("user", &bytes).unwrap_err();
            assert_eq!(err.code(), "storage", "{bytes:?}");
        }
        assert_eq!(decode_event(&[JSON, b'{']).unwrap_err().code(), "storage");
        assert_eq!(decode_event(&good).unwrap_err().code(), "storage");
    }

    #[test]
    fn invalid_field_values_are_refused_on_decode() {
        // A valid claim, then its username bytes changed in place to a name
        // core's validation refuses (a space is not allowed).
        let claim = kinfolk::profile::UsernameClaim {
            folded: "ada_99".into(),
            user: UserId::new(),
            username: kinfolk::Username::parse("Ada_99").unwrap(),
            held_until: None,
        };
        let mut bytes = encode("claim", &claim).unwrap();
        assert!(decode::<kinfolk::profile::UsernameClaim>("claim", &bytes).is_ok());
        let at = bytes.windows(6).position(|w| w == b"Ada_99").unwrap();
        bytes[at + 3] = b' ';
        let err = decode::<kinfolk::profile::UsernameClaim>("claim", &bytes).unwrap_err();
        assert_eq!(err.code(), "storage");
    }
}
