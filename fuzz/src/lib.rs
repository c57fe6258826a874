//! Bodies of the fuzz targets (RELIABILITY.md §6). Each takes the raw input
//! and panics only when a property fails: no panic on any input, every
//! refusal a typed error with the right code and field, accepted values
//! normalised idempotently, serde agreeing with the constructors, and the
//! service leaving nothing changed when it refuses.
//!
//! Kept in a library so that a plain driver (see `tests/driver.rs`) can run
//! the same bodies over random inputs without libFuzzer.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::executor::block_on;
use kinfolk::search::{fuzzy_prefix, match_tier, within_one_edit};
use kinfolk::{
    Bio, DisplayName, Email, Error, FollowAction, Kinfolk, LanguageTag, Location, ManualClock,
    NewRoom, NewUser, PageRequest, ProfileUpdate, RoomFilter, RoomKind, RoomName, RoomVisibility,
    SafeUrl, SearchQuery, SearchScope, SettingsPatch, TimeZoneName, UserId, Username,
};
use kinfolk_memory::{MemorySearch, MemoryStore};
use unicode_normalization::UnicodeNormalization;

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[track_caller]
fn refused(e: &Error, field: &str, input: &str) {
    match e {
        Error::Validation { field: f, .. } if *f == field => {}
        other => panic!("{input:?}: expected a validation error on `{field}`, got {other:?}"),
    }
}

/// serde accepts exactly what the constructor accepts, with the same value.
#[track_caller]
fn serde_agrees<T>(s: &str, parsed: &Result<T, Error>)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(s).expect("a str serialises");
    let via_serde = serde_json::from_str::<T>(&json);
    match (parsed, &via_serde) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{s:?}");
            let back = serde_json::to_string(a).expect("serialises");
            let again: T = serde_json::from_str(&back).expect("round trip");
            assert_eq!(&again, a, "round trip of {s:?}");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("{s:?}: constructor says {parsed:?}, serde says {via_serde:?}"),
    }
}

// ------------------------------------------------------------------ validators

/// `Username::parse`.
pub fn username(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = Username::parse(s);
    match &r {
        Ok(u) => {
            assert_eq!(u.as_str(), s, "stored as typed");
            assert!((3..=30).contains(&s.len()), "{s:?}");
            assert!(
                s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{s:?}"
            );
            assert!(s.chars().any(|c| c.is_ascii_alphabetic()), "{s:?}");
            assert_eq!(u.folded(), s.to_ascii_lowercase());
            let f = u.lookalike_fold();
            assert!(!f.contains('_') && f.len() <= s.len());
            // A username is never taken for an id by get_profile.
            assert!(s.parse::<UserId>().is_err(), "{s:?} parses as a UUID");
        }
        Err(e) => refused(e, "username", s),
    }
    serde_agrees(s, &r);
}

fn check_text(
    s: &str,
    field: &str,
    min: usize,
    max: usize,
    newlines: bool,
    r: &Result<String, Error>,
) {
    match r {
        Ok(v) => {
            let n = v.chars().count();
            assert!(
                (min..=max).contains(&n),
                "{field} {s:?} -> {v:?}: {n} chars"
            );
            assert_eq!(v.trim(), v, "{field} {s:?} not trimmed");
            assert!(v.nfc().eq(v.chars()), "{field} {s:?} not NFC");
            for c in v.chars() {
                assert!(!is_bidi(c), "{field} {s:?} keeps a bidi control");
                assert!(
                    !c.is_control() || (newlines && c == '\n'),
                    "{field} {s:?} keeps control {c:?}"
                );
            }
        }
        Err(e) => refused(e, field, s),
    }
}

/// `DisplayName`, `Bio`, `Location`, `RoomName`: the text rules.
pub fn text_fields(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let name = DisplayName::parse(s);
    check_text(
        s,
        "name",
        1,
        50,
        false,
        &name
            .as_ref()
            .map(|v| v.as_str().to_string())
            .map_err(clone_err),
    );
    if let Ok(v) = &name {
        assert_eq!(
            DisplayName::parse(v.as_str()).ok().as_ref(),
            Some(v),
            "idempotent"
        );
    }
    serde_agrees(s, &name);

    let bio = Bio::parse(s);
    check_text(
        s,
        "bio",
        0,
        500,
        true,
        &bio.as_ref()
            .map(|v| v.as_str().to_string())
            .map_err(clone_err),
    );
    if let Ok(v) = &bio {
        assert!(!v.as_str().contains('\r'));
        assert_eq!(Bio::parse(v.as_str()).ok().as_ref(), Some(v), "idempotent");
    }
    serde_agrees(s, &bio);

    let loc = Location::parse(s);
    check_text(
        s,
        "location",
        0,
        100,
        false,
        &loc.as_ref()
            .map(|v| v.as_str().to_string())
            .map_err(clone_err),
    );
    if let Ok(v) = &loc {
        assert_eq!(
            Location::parse(v.as_str()).ok().as_ref(),
            Some(v),
            "idempotent"
        );
    }
    serde_agrees(s, &loc);

    let room = RoomName::parse(s);
    check_text(
        s,
        "name",
        1,
        100,
        false,
        &room
            .as_ref()
            .map(|v| v.as_str().to_string())
            .map_err(clone_err),
    );
    serde_agrees(s, &room);
}

fn clone_err(e: &Error) -> Error {
    match e {
        Error::Validation { field, reason } => Error::validation(field, reason.clone()),
        other => Error::storage(other.to_string()),
    }
}

/// An independent opinion on whether an address is one a host must not fetch.
fn non_public(ip: IpAddr) -> bool {
    let v4 = |ip: std::net::Ipv4Addr| {
        let o = ip.octets();
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || o[0] == 0
            || (o[0] == 100 && (64..128).contains(&o[1]))
    };
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => {
            if let Some(m) = a.to_ipv4_mapped() {
                return v4(m);
            }
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[..6] == [0; 6]
        }
    }
}

/// `SafeUrl::parse`.
pub fn safe_url(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = SafeUrl::parse(s);
    match &r {
        Ok(u) => {
            let text = u.as_str();
            assert!(text.len() <= SafeUrl::MAX_LEN, "{s:?}");
            let url = url::Url::parse(text).expect("accepted URL re-parses");
            assert!(matches!(url.scheme(), "http" | "https"), "{s:?}");
            assert_eq!(u.is_https(), url.scheme() == "https");
            assert!(
                url.username().is_empty() && url.password().is_none(),
                "{s:?}"
            );
            match url.host() {
                None => panic!("{s:?}: accepted without a host"),
                Some(url::Host::Domain(d)) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    assert!(
                        d != "localhost" && !d.ends_with(".localhost") && !d.is_empty(),
                        "{s:?}: local host {d}"
                    );
                    assert!(d.parse::<IpAddr>().is_err(), "{s:?}: IP left as a domain");
                }
                Some(url::Host::Ipv4(a)) => {
                    assert!(!non_public(IpAddr::V4(a)), "{s:?}: non-public {a}")
                }
                Some(url::Host::Ipv6(a)) => {
                    assert!(!non_public(IpAddr::V6(a)), "{s:?}: non-public {a}")
                }
            }
            let again = SafeUrl::parse(text).expect("idempotent");
            assert_eq!(&again, u, "{s:?}");
        }
        Err(e) => refused(e, "url", s),
    }
    serde_agrees(s, &r);
}

/// `Email::parse`.
pub fn email(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = Email::parse(s);
    match &r {
        Ok(e) => {
            let t = e.as_str();
            assert!(t.len() <= 254);
            assert_eq!(t.matches('@').count(), 1, "{s:?}");
            assert!(!t.chars().any(|c| c.is_whitespace() || c.is_control()));
            assert_eq!(Email::parse(t).ok().as_ref(), Some(e));
            assert!(
                !format!("{e:?}").contains(t) || t.is_empty(),
                "Debug leaks the address"
            );
        }
        Err(e) => refused(e, "email", s),
    }
    serde_agrees(s, &r);
}

/// `LanguageTag::parse`.
pub fn language_tag(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = LanguageTag::parse(s);
    match &r {
        Ok(t) => {
            assert!(t.as_str().len() <= 64);
            assert!(t.as_str().is_ascii());
            assert_eq!(LanguageTag::parse(t.as_str()).ok().as_ref(), Some(t));
        }
        Err(e) => refused(e, "language", s),
    }
    serde_agrees(s, &r);
}

/// `TimeZoneName::parse`.
pub fn time_zone(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let r = TimeZoneName::parse(s);
    match &r {
        Ok(t) => assert_eq!(TimeZoneName::parse(t.as_str()).ok().as_ref(), Some(t)),
        Err(e) => refused(e, "timezone", s),
    }
    serde_agrees(s, &r);
}

/// `SearchQuery::parse` and the reference matcher.
pub fn search_query(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match SearchQuery::parse(s) {
        Ok(q) => {
            assert!(q.raw().chars().count() <= SearchQuery::MAX_LEN, "{s:?}");
            assert!(!q.raw().is_empty());
            assert!(!q.raw().chars().any(char::is_control));
            assert!(!q.terms().is_empty());
            for t in q.terms() {
                assert!(
                    !t.is_empty() && t.chars().all(char::is_alphanumeric),
                    "{s:?}: {t:?}"
                );
            }
            assert_eq!(q.folded(), kinfolk::text::fold(q.raw()));
            // The matcher takes any text without panicking, and a query
            // always finds a user named after its own raw text.
            let _ = match_tier(&q, s, s);
            let uname: String = q.username_form();
            assert!(
                match_tier(&q, q.raw(), q.raw()).is_some(),
                "{s:?} does not find itself"
            );
            let _ = match_tier(&q, &uname, "José Álvarez");
            // One-edit distance is symmetric and reflexive.
            let ts = q.terms();
            let (a, b) = (&ts[0], ts.get(1).unwrap_or(&ts[0]));
            assert_eq!(within_one_edit(a, b), within_one_edit(b, a), "{a:?} {b:?}");
            assert!(within_one_edit(a, a));
            let _ = fuzzy_prefix(a, b);
            if a.chars().count() >= SearchQuery::FUZZY_MIN_LEN {
                assert!(fuzzy_prefix(a, a), "{a:?} is not a fuzzy prefix of itself");
            }
        }
        Err(e) => refused(&e, "query", s),
    }
}

// ------------------------------------------------------------------ cursors

struct Fixture {
    svc: Kinfolk,
    owner: UserId,
    viewer: UserId,
    private: UserId,
    cursors: Vec<String>,
}

const LISTS: usize = 8;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut f = block_on(async {
            let svc = Kinfolk::builder(Arc::new(MemoryStore::new()))
                .search(Arc::new(MemorySearch::new()))
                .build()
                .await
                .expect("service");
            let reg = |n: String| {
                let svc = svc.clone();
                async move {
                    svc.register(NewUser::new(&n, &format!("Fan {n}")).expect("user"))
                        .await
                        .expect("register")
                        .id
                }
            };
            let owner = reg("ada".into()).await;
            let viewer = reg("viewer".into()).await;
            let private = reg("priv".into()).await;
            let patch: SettingsPatch =
                serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).expect("patch");
            svc.edit_settings(private, patch).await.expect("private");
            for i in 0..30 {
                let f = reg(format!("fan{i}")).await;
                let follow = |a, b| svc.toggle_follow(a, b, Some(FollowAction::Follow));
                follow(f, owner).await.expect("follow");
                follow(owner, f).await.expect("follow");
                follow(f, private).await.expect("request");
                if i % 2 == 0 {
                    follow(viewer, f).await.expect("follow");
                }
            }
            for i in 0..30 {
                svc.create_room(
                    owner,
                    NewRoom {
                        kind: if i % 3 == 0 {
                            RoomKind::Page
                        } else {
                            RoomKind::Group
                        },
                        name: RoomName::parse(&format!("Room {i}")).expect("room"),
                        visibility: RoomVisibility::Public,
                    },
                )
                .await
                .expect("room");
            }
            Fixture {
                svc,
                owner,
                viewer,
                private,
                cursors: Vec::new(),
            }
        });
        for list in 0..LISTS {
            let page = list_page(&f, list, PageRequest::with_limit(1)).expect("first page");
            f.cursors.push(page.1.unwrap_or_default());
        }
        f
    })
}

/// Fetches a page of list `list`: (row ids, next cursor).
fn list_page(
    f: &Fixture,
    list: usize,
    page: PageRequest,
) -> Result<(Vec<String>, Option<String>), Error> {
    let svc = &f.svc;
    block_on(async {
        let rows = |p: kinfolk::Page<kinfolk::UserRow>| {
            (
                p.items.iter().map(|r| r.user.id.to_string()).collect(),
                p.next_cursor,
            )
        };
        Ok(match list {
            0 => rows(svc.followers(Some(f.owner), f.owner, page).await?),
            1 => rows(svc.followers(None, f.owner, page).await?),
            2 => rows(svc.following(Some(f.owner), f.owner, page).await?),
            3 => rows(svc.known_followers(Some(f.viewer), f.owner, page).await?),
            4 => rows(svc.follow_requests(f.private, page).await?),
            5 => {
                let p = svc.my_rooms(f.owner, RoomFilter::default(), page).await?;
                (
                    p.items.iter().map(|r| r.room.id.to_string()).collect(),
                    p.next_cursor,
                )
            }
            6 => {
                let p = svc
                    .search_users(Some(f.owner), "fan", SearchScope::Discovery, page)
                    .await?;
                (
                    p.items.iter().map(|r| r.user.id.to_string()).collect(),
                    p.next_cursor,
                )
            }
            _ => rows(svc.known_followers(None, f.owner, page).await?),
        })
    })
}

/// Cursor decoding through the service: an arbitrary cursor string (raw,
/// a real cursor with bytes flipped, cut or added, or a real cursor with
/// any position) on every paged list.
pub fn cursor(data: &[u8]) {
    let f = fixture();
    let [list, limit, mode, rest @ ..] = data else {
        return;
    };
    let list = *list as usize % LISTS;
    let limit = (*limit != 255).then_some(u32::from(*limit));
    let real = &f.cursors[list];
    let cursor = match mode % 5 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => {
            // XOR into the decoded bytes, then re-encode: reaches cursors
            // with a valid header and any position.
            let mut bytes = URL_SAFE_NO_PAD.decode(real).unwrap_or_default();
            for (i, b) in rest.iter().enumerate() {
                if let Some(x) = bytes.get_mut(i) {
                    *x ^= b;
                } else {
                    bytes.push(*b);
                }
            }
            URL_SAFE_NO_PAD.encode(bytes)
        }
        2 => {
            let cut = rest.first().map_or(0, |b| *b as usize);
            let mut c: String = real.chars().take(cut).collect();
            c.push_str(&String::from_utf8_lossy(rest.get(1..).unwrap_or_default()));
            c
        }
        3 => {
            // A valid header with any position (the last 8 bytes).
            let mut bytes = URL_SAFE_NO_PAD.decode(real).unwrap_or_default();
            for (i, b) in rest.iter().take(8).enumerate() {
                if let Some(x) = bytes
                    .len()
                    .checked_sub(8 - i)
                    .and_then(|j| bytes.get_mut(j))
                {
                    *x = *b;
                }
            }
            URL_SAFE_NO_PAD.encode(bytes)
        }
        _ => real.clone(),
    };
    let unmodified = cursor == *real;
    let req = PageRequest {
        limit,
        cursor: Some(cursor.clone()),
    };
    let max = if list == 6 { 50 } else { 100 };
    let limit_ok = limit.is_none_or(|l| (1..=max).contains(&l));
    match list_page(f, list, req) {
        Ok((ids, next)) => {
            assert!(limit_ok, "limit {limit:?} accepted on list {list}");
            let l = limit.unwrap_or(20) as usize;
            assert!(
                ids.len() <= l,
                "list {list}: {} rows > limit {l}",
                ids.len()
            );
            let mut seen = std::collections::HashSet::new();
            assert!(
                ids.iter().all(|i| seen.insert(i)),
                "list {list}: a row twice"
            );
            if let Some(n) = next {
                assert_eq!(
                    ids.len(),
                    l,
                    "list {list}: a page with a next_cursor is not full"
                );
                // Our own cursors are always accepted.
                list_page(f, list, PageRequest::after(n.clone(), limit))
                    .unwrap_or_else(|e| panic!("list {list}: issued cursor {n:?} refused: {e}"));
            }
        }
        Err(Error::Validation { field: "limit", .. }) => {
            assert!(!limit_ok, "list {list}: limit {limit:?} refused")
        }
        Err(Error::Validation {
            field: "cursor", ..
        }) => {
            assert!(
                !unmodified || real.is_empty(),
                "list {list}: issued cursor refused"
            )
        }
        Err(e) => panic!("list {list}, cursor {cursor:?}: unexpected error {e:?}"),
    }
}

// ------------------------------------------------------------------ JSON commands

struct Fresh {
    svc: Kinfolk,
    a: UserId,
    b: UserId,
}

async fn fresh() -> Fresh {
    let clock = ManualClock::starting_at_epoch();
    let svc = Kinfolk::builder(Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("service");
    let a = svc
        .register(NewUser::new("alice", "Alice").expect("user"))
        .await
        .expect("alice")
        .id;
    let b = svc
        .register(NewUser::new("bob_taken", "Bob").expect("user"))
        .await
        .expect("bob")
        .id;
    // alice renamed and back: "alice_now" is held for her.
    let up: ProfileUpdate = serde_json::from_str(r#"{"username":"alice_now"}"#).expect("json");
    svc.update_profile(a, up).await.expect("rename");
    let up: ProfileUpdate = serde_json::from_str(r#"{"username":"alice"}"#).expect("json");
    svc.update_profile(a, up).await.expect("rename back");
    // alice is private with a pending request from bob.
    let patch: SettingsPatch =
        serde_json::from_str(r#"{"privacy":{"private_account":true}}"#).expect("patch");
    svc.edit_settings(a, patch).await.expect("private");
    svc.toggle_follow(b, a, Some(FollowAction::Follow))
        .await
        .expect("request");
    clock.advance(chrono::Duration::hours(1));
    Fresh { svc, a, b }
}

/// Settings-patch JSON, deserialised and applied through the service.
pub fn settings_patch(data: &[u8]) {
    let Ok(patch) = serde_json::from_slice::<SettingsPatch>(data) else {
        return;
    };
    let json = serde_json::to_string(&patch).expect("serialises");
    assert_eq!(
        serde_json::from_str::<SettingsPatch>(&json).expect("round trip"),
        patch
    );
    block_on(async {
        let Fresh { svc, a, .. } = fresh().await;
        let before = svc.me(a).await.expect("me");
        let seq = svc.last_change_seq().await.expect("seq");
        match svc.edit_settings(a, patch.clone()).await {
            Ok(s) => {
                if let Some(v) = patch.expected_version {
                    assert_eq!(v, before.settings.version, "stale version accepted");
                }
                let me = svc.me(a).await.expect("me");
                assert_eq!(me.settings, s);
                let mut old = before.settings.clone();
                old.version = s.version;
                let changed = old != s;
                assert_eq!(s.version, before.settings.version + u64::from(changed));
                let after = svc.last_change_seq().await.expect("seq");
                assert_eq!(
                    after > seq,
                    changed,
                    "feed moved {seq} -> {after}, changed {changed}"
                );
                if !s.privacy.private_account {
                    assert_eq!(me.stats.pending_follow_requests, 0);
                    assert_eq!(me.stats.followers_count, 1, "the request was approved");
                } else {
                    assert_eq!(me.stats.pending_follow_requests, 1);
                }
            }
            Err(e) => {
                assert_eq!(e.code(), "conflict", "{patch:?}: {e:?}");
                assert_ne!(patch.expected_version, Some(before.settings.version));
                assert_eq!(svc.me(a).await.expect("me"), before);
                assert_eq!(svc.last_change_seq().await.expect("seq"), seq);
            }
        }
    });
}

/// Profile-update (and new-user) JSON, deserialised and applied through
/// the service.
pub fn profile_update(data: &[u8]) {
    if let Ok(nu) = serde_json::from_slice::<NewUser>(data) {
        block_on(async {
            let Fresh { svc, .. } = fresh().await;
            let seq = svc.last_change_seq().await.expect("seq");
            match svc.register(nu.clone()).await {
                Ok(p) => {
                    assert_eq!(p.username, nu.username);
                    assert_eq!(p.name, nu.name);
                }
                Err(e) => {
                    assert!(
                        matches!(e.code(), "username_reserved" | "username_taken"),
                        "{nu:?}: {e:?}"
                    );
                    assert_eq!(svc.last_change_seq().await.expect("seq"), seq);
                }
            }
        });
    }
    let Ok(up) = serde_json::from_slice::<ProfileUpdate>(data) else {
        return;
    };
    let json = serde_json::to_string(&up).expect("serialises");
    assert_eq!(
        serde_json::from_str::<ProfileUpdate>(&json).expect("round trip"),
        up
    );
    block_on(async {
        let Fresh { svc, a, b } = fresh().await;
        let before = svc.me(a).await.expect("me");
        let seq = svc.last_change_seq().await.expect("seq");
        match svc.update_profile(a, up.clone()).await {
            Ok(p) => {
                if let Some(n) = &up.name {
                    assert_eq!(&p.name, n);
                }
                if let Some(v) = &up.bio {
                    assert_eq!(&p.bio, v);
                }
                if let Some(v) = &up.username {
                    assert_eq!(&p.username, v);
                    let found = svc.get_profile(Some(b), v.as_str()).await.expect("lookup");
                    assert_eq!(found.id(), a);
                }
                if let Some(v) = &up.avatar_url {
                    assert_eq!(&p.avatar_url, v);
                }
                if let Some(v) = &up.social_links {
                    assert_eq!(&p.social_links, v);
                }
                if let Some(v) = &up.location {
                    let want = v.clone().filter(|l| !l.as_str().is_empty());
                    assert_eq!(p.location, want);
                }
                assert_eq!(svc.me(a).await.expect("me"), p);
                let changed = {
                    let mut x = p.clone();
                    x.updated_at = before.updated_at;
                    x != before
                };
                let after = svc.last_change_seq().await.expect("seq");
                assert_eq!(after > seq, changed);
            }
            Err(e) => {
                let ok = match &e {
                    Error::Validation { field, .. } => *field == "avatar_url",
                    Error::UsernameReserved | Error::UsernameTaken => up.username.is_some(),
                    _ => false,
                };
                assert!(ok, "{up:?}: {e:?}");
                assert_eq!(svc.me(a).await.expect("me"), before);
                assert_eq!(svc.last_change_seq().await.expect("seq"), seq);
            }
        }
    });
}
