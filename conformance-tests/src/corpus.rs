//! SPEC §11 "bad input always gives a typed error and leaves stored data
//! unchanged", as a table-driven corpus (RELIABILITY.md §3): over-long and
//! empty values, control characters, NUL, bidi overrides, invalid UTF-8 in
//! JSON, look-alike and reserved usernames, UUID-shaped and all-digit
//! usernames, unsafe URLs (schemes, userinfo, local hosts, private,
//! loopback, link-local and IPv4-mapped addresses, decimal/hex/octal IPv4
//! spellings), unknown settings fields, stale settings versions, limits
//! outside 1–100 (1–50 for search), malformed, truncated and foreign
//! cursors, SQL-ish and query-syntax strings.
//!
//! Each row goes through the public API (constructors and service
//! commands) and, where a type is deserialised from clients, through serde.
//! Each asserts the exact error code (and field) — or, for serde, that
//! deserialisation fails — and that nothing stored changed (feed sequence
//! and the actor's profile). Valid strings full of SQL metacharacters and
//! query syntax round-trip exactly (also after a reopen).

use kinfolk::{
    Config, DisplayName, Email, Error, FollowAction, LanguageTag, Location, NewRoom, NewUser,
    OwnProfile, PageRequest, ProfileUpdate, RoomFilter, RoomKind, RoomName, RoomVisibility,
    SafeUrl, SearchQuery, SearchScope, SettingsPatch, TimeZoneName, UserId, Username,
};
use serde::de::DeserializeOwned;

use crate::fixtures::{follow, seq, user, user_named};
use crate::{Ctx, TestResult};

// ------------------------------------------------------------------ helpers

/// Asserts a validation error on `field`, naming the input on failure.
#[track_caller]
fn validation<T: std::fmt::Debug>(r: Result<T, Error>, field: &str, input: &str) {
    match r {
        Err(Error::Validation { field: f, .. }) if f == field => {}
        other => panic!("input {input:?}: expected validation error on `{field}`, got {other:?}"),
    }
}

/// Asserts an error code, naming the input on failure.
#[track_caller]
fn code<T: std::fmt::Debug>(r: Result<T, Error>, code: &str, input: &str) {
    match r {
        Err(e) if e.code() == code => {}
        other => panic!("input {input:?}: expected `{code}`, got {other:?}"),
    }
}

/// Asserts that `json` does not deserialise into `T`.
#[track_caller]
fn serde_refuses<T: DeserializeOwned + std::fmt::Debug>(json: &str) {
    if let Ok(v) = serde_json::from_str::<T>(json) {
        panic!(
            "{json:?} deserialised into {}: {v:?}",
            std::any::type_name::<T>()
        );
    }
}

/// Asserts that `bytes` do not deserialise into `T`.
#[track_caller]
fn serde_refuses_bytes<T: DeserializeOwned + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(bytes) {
        panic!(
            "{:?} deserialised into {}: {v:?}",
            String::from_utf8_lossy(bytes),
            std::any::type_name::<T>()
        );
    }
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a str serialises")
}

/// What must not change: the feed position and the actor's own profile.
struct Untouched {
    seq: u64,
    me: OwnProfile,
    actor: UserId,
}

impl Untouched {
    async fn take(ctx: &Ctx, actor: UserId) -> Self {
        Self {
            seq: seq(&ctx.svc).await,
            me: ctx.svc.me(actor).await.expect("me"),
            actor,
        }
    }

    #[track_caller]
    fn same_seq(&self, now: u64, input: &str) {
        assert_eq!(
            now, self.seq,
            "input {input:?} changed the feed (sequence {} -> {now})",
            self.seq
        );
    }

    async fn check(&self, ctx: &Ctx, what: &str) {
        self.same_seq(seq(&ctx.svc).await, what);
        let me = ctx.svc.me(self.actor).await.expect("me");
        assert_eq!(me, self.me, "{what}: the actor's profile changed");
    }
}

/// The control characters: C0 (minus the ones a field allows), DEL, C1.
fn controls(allow_newline: bool) -> Vec<char> {
    (0u32..0x20)
        .chain(0x7f..0xa0)
        .filter_map(char::from_u32)
        .filter(|c| !(allow_newline && (*c == '\n' || *c == '\r')))
        .collect()
}

/// Bidi embeddings, overrides and isolates.
const BIDI: &[char] = &[
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];

// ------------------------------------------------------------------ tables

/// Usernames that fail the shape rules (`validation` on `username`).
pub fn bad_usernames() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "a",
        "ab",
        "  ab  ",
        "ab c",
        "ab-c",
        "ab.c",
        "ab@c",
        "@abc",
        "abc!",
        "abc'",
        "a'b",
        "a\"b",
        "a;b",
        "a%b",
        "a/b",
        "a\\b",
        "a*b",
        "ábc",
        "аdmin",      // Cyrillic а
        "ａｄｍｉｎ", // full-width
        "abc\u{0}",
        "\u{0}abc",
        "ab\u{202E}c",
        "ab\u{200B}c", // zero-width space
        "ab\u{FEFF}c",
        "ab\tc",
        "abc\n",
        "12345",
        "123",
        "123_456",
        "000",
        "___",
        "_1_",
        "9999999999",
        "550e8400-e29b-41d4-a716-446655440000",
        "550e8400e29b41d4a716446655440000",
        "{550e8400-e29b-41d4-a716-446655440000}",
        "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
        "00000000-0000-0000-0000-000000000000",
        "0192d4e8-7b3a-7c4e-9f00-000000000001",
        "x'; DROP TABLE users; --",
        "admin'--",
        "' OR '1'='1",
        "a OR 1=1",
        "name:foo",
        "foo*",
        "(foo)",
        "\"foo\"",
        "foo~1",
        "<script>",
        "${jndi}",
        "abc😀",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(31));
    v.push("a".repeat(1000));
    v.push(format!("{}1", "b".repeat(30)));
    v
}

/// Usernames refused as reserved (`username_reserved`): the built-in list,
/// and look-alike spellings of it.
pub fn reserved_usernames() -> Vec<String> {
    let mut v: Vec<String> = kinfolk::profile::RESERVED_USERNAMES
        .iter()
        .filter(|s| Username::parse(s).is_ok())
        .map(|s| s.to_string())
        .collect();
    v.extend(
        [
            "ADMIN",
            "Admin",
            "adm1n",
            "4dmin",
            "_admin_",
            "a_d_m_i_n",
            "AdM1N",
            "r00t",
            "R00T",
            "_root",
            "supp0rt",
            "h3lp",
            "5y5t3m",
            "5ystem",
            "m0d3r4t0r",
            "moderat0r",
            "s3ttings",
            "0wn3r",
            "w3bm45t3r",
            "4bu53",
            "4p1",
            "_me_",
            "und3f1n3d",
            "5t4tu5",
            "us3r",
            "k1nf0lk",
            "__help__",
            "SeCuRiTy",
            "0ff1c14l",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

/// Bad display names (field `name`).
pub fn bad_display_names() -> Vec<String> {
    let mut v: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\t\n ".into(),
        "\u{3000}".into(), // ideographic space only
        "x".repeat(51),
        "é".repeat(51),
        format!("{}e\u{301}", "x".repeat(50)), // 51 after NFC
    ];
    v.extend(controls(false).into_iter().map(|c| format!("Ann{c}Lee")));
    v.extend(BIDI.iter().map(|c| format!("Ann{c}Lee")));
    v.extend(invisible_only());
    v
}

/// Issue 14 item 5: text made only of invisible (default-ignorable or
/// format) characters, and such characters around spaces — nothing visible.
pub fn invisible_only() -> Vec<String> {
    let mut v: Vec<String> = INVISIBLE.iter().map(|c| c.to_string()).collect();
    v.extend(INVISIBLE.iter().map(|c| format!("{c}{c}{c}")));
    v.extend(INVISIBLE.iter().map(|c| format!(" {c} \u{200B}")));
    v.push("\u{0301}".into()); // a lone combining mark
    v.push("\u{200D}\u{FE0F}".into());
    v
}

/// Invisible characters: default-ignorable code points and format
/// characters (issue 14 item 5 names the first six).
const INVISIBLE: &[char] = &[
    '\u{200B}',  // ZERO WIDTH SPACE
    '\u{3164}',  // HANGUL FILLER
    '\u{FEFF}',  // ZERO WIDTH NO-BREAK SPACE
    '\u{200E}',  // LEFT-TO-RIGHT MARK
    '\u{200D}',  // ZERO WIDTH JOINER
    '\u{00AD}',  // SOFT HYPHEN
    '\u{200F}',  // RIGHT-TO-LEFT MARK
    '\u{200C}',  // ZERO WIDTH NON-JOINER
    '\u{2060}',  // WORD JOINER
    '\u{2061}',  // FUNCTION APPLICATION
    '\u{115F}',  // HANGUL CHOSEONG FILLER
    '\u{1160}',  // HANGUL JUNGSEONG FILLER
    '\u{FFA0}',  // HALFWIDTH HANGUL FILLER
    '\u{180E}',  // MONGOLIAN VOWEL SEPARATOR
    '\u{034F}',  // COMBINING GRAPHEME JOINER
    '\u{FE0F}',  // VARIATION SELECTOR-16
    '\u{E0001}', // LANGUAGE TAG
    '\u{1D173}', // MUSICAL SYMBOL BEGIN BEAM
];

/// Bad bios (field `bio`).
pub fn bad_bios() -> Vec<String> {
    let mut v: Vec<String> = vec!["x".repeat(501), "\n".repeat(10) + &"y".repeat(501)];
    v.extend(controls(true).into_iter().map(|c| format!("hello{c}world")));
    v.extend(BIDI.iter().map(|c| format!("hello{c}world")));
    v
}

/// Bad locations (field `location`).
pub fn bad_locations() -> Vec<String> {
    let mut v: Vec<String> = vec!["x".repeat(101), "Paris\nTexas".into()];
    v.extend(["\u{0}", "\u{7}", "\u{1b}", "\u{7f}", "\u{85}"].map(|c| format!("Par{c}is")));
    v.extend(BIDI.iter().map(|c| format!("Par{c}is")));
    v.extend(invisible_only());
    v
}

/// Bad room names (field `name`).
pub fn bad_room_names() -> Vec<String> {
    let mut v: Vec<String> = vec![String::new(), "   ".into(), "r".repeat(101)];
    v.extend(["\u{0}", "\u{8}", "\n", "\u{9b}"].map(|c| format!("Room{c}1")));
    v.extend(BIDI.iter().map(|c| format!("Room{c}1")));
    v
}

/// URLs no host may be made to fetch (field `url`).
pub fn unsafe_urls() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "   ",
        "example.com",
        "//example.com/a.png",
        "/a.png",
        "https://",
        "https:///",
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "  javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:image/png;base64,iVBORw0KGgo=",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "ftp://example.com/a.png",
        "gopher://example.com/",
        "ws://example.com/",
        "mailto:a@example.com",
        "blob:https://example.com/uuid",
        "https://user@example.com/a.png",
        "https://user:pass@example.com/a.png",
        "https://:pass@example.com/a.png",
        "https://example.com@127.0.0.1/a.png",
        "https://localhost/a.png",
        "https://LOCALHOST/a.png",
        "https://localhost./a.png",
        "https://cdn.localhost/a.png",
        "https://ｌｏｃａｌｈｏｓｔ/a.png",
        "https://127.0.0.1/a.png",
        "https://127.1/a.png",
        "https://127.0.1/a.png",
        "https://127.255.255.254/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.0.0.1/",
        "https://0177.0.0.1/",
        "https://017700000001/",
        "https://127.000.000.001/",
        "https://127。0。0。1/",
        "https://0.0.0.0/",
        "https://0/",
        "https://10.0.0.1/",
        "https://10.255.255.255/",
        "https://167772161/",
        "https://172.16.0.1/",
        "https://172.31.255.255/",
        "https://192.168.0.1/",
        "https://192.168.1.1:8443/",
        "https://3232235777/",
        "https://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "https://2852039166/",
        "https://100.64.0.1/",
        "https://100.127.255.255/",
        "https://192.0.0.1/",
        "https://192.0.2.1/",
        "https://198.18.0.1/",
        "https://198.51.100.7/",
        "https://203.0.113.9/",
        "https://224.0.0.1/",
        "https://239.255.255.250/",
        "https://240.0.0.1/",
        "https://255.255.255.255/",
        "https://[::1]/",
        "https://[0:0:0:0:0:0:0:1]/",
        "https://[::]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://[::ffff:192.168.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[0:0:0:0:0:ffff:a00:1]/",
        "https://[::127.0.0.1]/",
        "https://[::10.0.0.1]/",
        "https://[fe80::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[fc00::1]/",
        "https://[fd12:3456::1]/",
        "https://[fec0::1]/",
        "https://[ff02::1]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[2001:db8::1]/",
        "https://[::1",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://exa\u{0}mple.com/",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("https://example.com/{}", "a".repeat(2040)));
    v.push(format!("https://example.com/{}", "é".repeat(400))); // percent-encoded: > 2048 bytes
    v
}

/// Bad e-mail addresses (field `email`).
pub fn bad_emails() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a@@example.com",
        "a@b@example.com",
        "a b@example.com",
        "a@exa mple.com",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
        "a\u{0}@example.com",
        "a@example.com\u{0}x",
        "a\u{7}@example.com",
        "a\u{202E}\u{85}@example.com",
        "a@ex\tample.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("{}@example.com", "a".repeat(250)));
    v
}

/// Settings patches that must not deserialise: unknown fields, wrong
/// types, unknown enum values, bad language tags and time zones.
pub fn bad_settings_json() -> Vec<String> {
    let mut v: Vec<String> = [
        r#"{"colour":"red"}"#,
        r#"{"version":2}"#,
        r#"{"privacy":{"privat_account":true}}"#,
        r#"{"privacy":{"private_account":"yes"}}"#,
        r#"{"privacy":{"private_account":1}}"#,
        r#"{"privacy":{"private_account":true,"admin":true}}"#,
        r#"{"privacy":{"followers_visibility":"friends"}}"#,
        r#"{"privacy":{"following_visibility":"PUBLIC"}}"#,
        r#"{"privacy":{"allow_mentions":"all"}}"#,
        r#"{"privacy":{"allow_room_invites":null,"x":1}}"#,
        r#"{"privacy":"private"}"#,
        r#"{"notifications":{"email_digest":"hourly"}}"#,
        r#"{"notifications":{"new_follower":"true"}}"#,
        r#"{"notifications":{"sms":true}}"#,
        r#"{"display":{"theme":"blue"}}"#,
        r#"{"display":{"compact":"no"}}"#,
        r#"{"display":{"font":"serif"}}"#,
        r#"{"expected_version":-1}"#,
        r#"{"expected_version":"1"}"#,
        r#"{"expected_version":1.5}"#,
        r#"{"expected_version":18446744073709551616}"#,
        r#"{"privacy":{"private_account":true}"#,
        r#"{"privacy":{"private_account":true}}}"#,
        r#""privacy""#,
        r#"null"#,
        r#""#,
        r#"{"privacy":{"private_account":true},"privacy":{"private_account":false}}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for tag in [
        "",
        "e",
        "english",
        "en_US",
        "en-",
        "-en",
        "en--US",
        "123",
        "en-US-u",
        "x-",
        "en US",
        "en\u{0}",
        "\u{202E}en",
        "'; DROP TABLE users; --",
    ] {
        v.push(format!(r#"{{"display":{{"language":{}}}}}"#, js(tag)));
    }
    v.push(format!(
        r#"{{"display":{{"language":{}}}}}"#,
        js(&"a".repeat(65))
    ));
    for tz in [
        "",
        "Mars/Olympus_Mons",
        "Europe/Pariss",
        "Europe/Paris\u{0}",
        "../../etc/passwd",
        "/etc/localtime",
        "+05:00",
        "UTC+5",
        "Europe/",
        "'; DROP TABLE users; --",
    ] {
        v.push(format!(r#"{{"display":{{"timezone":{}}}}}"#, js(tz)));
    }
    v
}

/// Raw bytes that are not valid UTF-8 or not valid JSON strings, placed in
/// a string field.
pub fn invalid_utf8_payloads() -> Vec<Vec<u8>> {
    let bad: &[&[u8]] = &[
        b"\xff",
        b"\xfe\xff",
        b"\xc3\x28",
        b"\xa0\xa1",
        b"\xe2\x28\xa1",
        b"\xe2\x82",
        b"\xf0\x28\x8c\xbc",
        b"\xf8\xa1\xa1\xa1\xa1",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\\ud800",
        b"\\udfff",
        b"\\ud800\\u0041",
        b"abc\x00def",
        b"line\nbreak",
    ];
    bad.iter().map(|b| b.to_vec()).collect()
}

/// JSON objects with fields a client must never set.
pub fn unknown_field_json() -> Vec<(&'static str, String)> {
    vec![
        ("profile", r#"{"email":"a@example.com"}"#.into()),
        ("profile", r#"{"id":"0192d4e8-7b3a-7c4e-9f00-000000000001"}"#.into()),
        ("profile", r#"{"status":"deactivated"}"#.into()),
        ("profile", r#"{"counts":{"followers":1000000}}"#.into()),
        ("profile", r#"{"settings":{}}"#.into()),
        ("profile", r#"{"created_at":"2020-01-01T00:00:00Z"}"#.into()),
        ("profile", r#"{"Name":"Upper"}"#.into()),
        ("profile", r#"{"social_links":[{"kind":"website","url":"https://a.example/","rel":"me"}]}"#.into()),
        ("profile", r#"{"social_links":[{"kind":"myspace","url":"https://a.example/"}]}"#.into()),
        ("profile", r#"{"social_links":[{"kind":"website","url":"http://a.example/"}]}"#.into()),
        ("profile", r#"{"social_links":[{"kind":"website","url":"https://a.example/"},{"kind":"github","url":"https://a.example/"}]}"#.into()),
        ("profile", format!(r#"{{"social_links":[{}]}}"#, (0..9).map(|i| format!(r#"{{"kind":"other","url":"https://e{i}.example/"}}"#)).collect::<Vec<_>>().join(","))),
        ("profile", r#"{"avatar_url":42}"#.into()),
        ("new_user", r#"{"username":"newbie","name":"New","admin":true}"#.into()),
        ("new_user", r#"{"username":"newbie"}"#.into()),
        ("new_user", r#"{"name":"New"}"#.into()),
        ("new_user", r#"{"username":"newbie","name":"New","id":"0192d4e8-7b3a-7c4e-9f00-000000000001"}"#.into()),
        ("new_room", r#"{"kind":"group","name":"R","visibility":"public","member_count":99}"#.into()),
        ("new_room", r#"{"kind":"channel","name":"R","visibility":"public"}"#.into()),
        ("new_room", r#"{"kind":"group","name":"R","visibility":"secret"}"#.into()),
        ("new_room", r#"{"kind":"group","visibility":"public"}"#.into()),
        ("room_filter", r#"{"owner":"x"}"#.into()),
        ("room_filter", r#"{"role":"superuser"}"#.into()),
        ("page", r#"{"page":2}"#.into()),
        ("page", r#"{"limit":-1}"#.into()),
        ("page", r#"{"limit":"20"}"#.into()),
        ("page", r#"{"limit":1.5}"#.into()),
        ("page", r#"{"limit":4294967296}"#.into()),
        ("page", r#"{"cursor":5}"#.into()),
        ("page", r#"{"offset":40}"#.into()),
        ("scope", r#"{"scope":"everything"}"#.into()),
        ("scope", r#"{"scope":"discovery","room":"0192d4e8-7b3a-7c4e-9f00-000000000001"}"#.into()),
        ("scope", r#"{"scope":"discovery","extra":1}"#.into()),
        ("scope", r#"{"scope":"room_invite"}"#.into()),
        ("scope", r#"{"scope":"followers"}"#.into()),
        ("scope", r#"{"scope":"followers","of":"not-a-uuid"}"#.into()),
        ("scope", r#"{"scope":"mention","of":"0192d4e8-7b3a-7c4e-9f00-000000000001"}"#.into()),
        ("scope", r#"{}"#.into()),
    ]
}

/// Strings that are not cursors at all.
pub fn malformed_cursors() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "!!!",
        "a",
        "AA",
        "AAAA",
        "null",
        "0",
        "-1",
        "' OR 1=1 --",
        "%00",
        "\u{0}",
        "abc\u{202E}",
        "AQE=",
        "AQ==",
        "////",
        "++++",
        "====",
        "eyJzZXEiOjF9",
        "AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("A".repeat(65));
    v.push("A".repeat(10_000));
    v
}

/// Queries that are refused (field `query`).
pub fn bad_queries() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\t",
        "   \n  ",
        "@",
        "@ ",
        " @ ",
        "@@",
        "*",
        "?",
        "()",
        "\"\"",
        "---",
        "...",
        "'",
        "%",
        "_",
        "__",
        "&&",
        "||",
        "!",
        "~",
        "^",
        ":",
        "[]",
        "{}",
        "\\",
        "/",
        "@*",
        "'; --",
        "*:*",
        "a\u{0}b",
        "a\u{7}b",
        "a\u{1b}[31mb",
        "a\u{7f}b",
        "a\u{85}b",
        "ab\u{9f}",
        "a\nb",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(101));
    v.push("é".repeat(101));
    v.push(format!("@{}", "b".repeat(101)));
    v
}

/// Query-syntax and SQL-ish strings that are plain text: each must answer
/// (never a parser error), finding what its words find.
pub fn syntax_queries() -> Vec<&'static str> {
    vec![
        "title:foo",
        "name:title",
        "foo*",
        "fo?",
        "\"title foo\"",
        "(title OR foo)",
        "title AND foo",
        "title && foo",
        "title || foo",
        "+title -foo",
        "title~2",
        "title^10",
        "name:[a TO z]",
        "{a TO z}",
        "/tit.*/",
        "title\\:foo",
        "' OR '1'='1",
        "'; DROP TABLE users; --",
        "title' --",
        "foo%",
        "f_o",
        "NOT title",
        "title:",
        "@title",
        "@@title",
        "$where: 1",
        "{\"$gt\": \"\"}",
        "<script>title</script>",
    ]
}

/// Valid values full of SQL metacharacters and query syntax, which must
/// round-trip exactly.
pub fn metachar_texts() -> Vec<&'static str> {
    vec![
        "'; DROP TABLE users; --",
        "Robert'); DROP TABLE Students;--",
        "\" OR \"\"=\"",
        "' OR 1=1 --",
        "admin'/*",
        "%_\\",
        "$1 ?1 :name @p",
        "NULL",
        "\\x00 \\0 \\n",
        "${jndi:ldap://example.com/a}",
        "{{7*7}}",
        "<script>alert(1)</script>",
        "title:foo AND bar* OR \"baz\"~2",
        "a\u{2019}b \u{201C}c\u{201D}",
        "✓ ünïcödé 中文 العربية",
    ]
}

// ------------------------------------------------------------------ cases

pub async fn corpus_has_at_least_500_bad_inputs(_ctx: Ctx) -> TestResult {
    let tables = [
        ("usernames", bad_usernames().len()),
        ("reserved usernames", reserved_usernames().len()),
        ("display names", bad_display_names().len()),
        ("bios", bad_bios().len()),
        ("locations", bad_locations().len()),
        ("room names", bad_room_names().len()),
        ("URLs", unsafe_urls().len()),
        ("e-mails", bad_emails().len()),
        ("settings JSON", bad_settings_json().len()),
        (
            "invalid UTF-8 (x6 types)",
            invalid_utf8_payloads().len() * 6,
        ),
        ("unknown fields / bad JSON", unknown_field_json().len()),
        ("malformed cursors", malformed_cursors().len()),
        ("bad queries", bad_queries().len()),
        ("query-syntax queries", syntax_queries().len()),
    ];
    let n: usize = tables.iter().map(|(_, n)| n).sum();
    eprintln!("bad-input corpus: {n} inputs: {tables:?}");
    assert!(n >= 500, "the corpus has {n} inputs");
    Ok(())
}

pub async fn bad_usernames_refused_with_exact_codes(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for u in bad_usernames() {
        validation(Username::parse(&u), "username", &u);
        validation(NewUser::new(&u, "Name"), "username", &u);
        serde_refuses::<Username>(&js(&u));
        serde_refuses::<NewUser>(&format!(r#"{{"username":{},"name":"N"}}"#, js(&u)));
        serde_refuses::<ProfileUpdate>(&format!(r#"{{"username":{}}}"#, js(&u)));
        // Bad usernames are not found either (and are no error but NotFound
        // when they merely look odd).
        let r = ctx.svc.get_profile(Some(a), &u).await;
        assert!(
            matches!(&r, Err(e) if e.code() == "not_found" || e.code() == "validation"),
            "get_profile({u:?}) = {r:?}"
        );
        before.same_seq(seq(&ctx.svc).await, &u);
    }
    before.check(&ctx, "bad usernames").await;
    Ok(())
}

pub async fn reserved_and_lookalike_usernames_refused_everywhere(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        reserved_usernames: vec!["acme".into()],
        ..Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    let mut names = reserved_usernames();
    names.extend(["acme", "ACME", "4cm3", "_acme_", "a_c_m_e"].map(String::from));
    for u in &names {
        let nu = NewUser::new(u, "Name").map_err(|e| format!("{u}: {e}"))?;
        code(ctx.svc.register(nu.clone()).await, "username_reserved", u);
        code(ctx.svc.import_users(vec![nu]).await, "username_reserved", u);
        let up: ProfileUpdate = serde_json::from_str(&format!(r#"{{"username":{}}}"#, js(u)))?;
        code(ctx.svc.update_profile(a, up).await, "username_reserved", u);
        before.same_seq(seq(&ctx.svc).await, u);
    }
    before.check(&ctx, "reserved usernames").await;
    Ok(())
}

pub async fn text_fields_refuse_controls_nul_bidi_and_lengths(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for s in bad_display_names() {
        validation(DisplayName::parse(&s), "name", &s);
        validation(NewUser::new("okname", &s), "name", &s);
        serde_refuses::<ProfileUpdate>(&format!(r#"{{"name":{}}}"#, js(&s)));
        serde_refuses::<NewUser>(&format!(r#"{{"username":"okname","name":{}}}"#, js(&s)));
    }
    for s in bad_bios() {
        validation(kinfolk::Bio::parse(&s), "bio", &s);
        serde_refuses::<ProfileUpdate>(&format!(r#"{{"bio":{}}}"#, js(&s)));
    }
    for s in bad_locations() {
        validation(Location::parse(&s), "location", &s);
        serde_refuses::<ProfileUpdate>(&format!(r#"{{"location":{}}}"#, js(&s)));
    }
    for s in bad_room_names() {
        validation(RoomName::parse(&s), "name", &s);
        serde_refuses::<NewRoom>(&format!(
            r#"{{"kind":"group","name":{},"visibility":"public"}}"#,
            js(&s)
        ));
    }
    // Link handles follow the single-line rules too, through the service.
    let mut handles: Vec<String> = vec![String::new(), "  ".into(), "h".repeat(101)];
    handles.extend(BIDI.iter().map(|c| format!("ha{c}ndle")));
    handles.extend(["\u{0}", "\u{1b}", "\n"].map(|c| format!("ha{c}ndle")));
    for h in &handles {
        validation(
            ctx.svc.link_account(a, "github", "42", h).await,
            "handle",
            h,
        );
        before.same_seq(seq(&ctx.svc).await, h);
    }
    before.check(&ctx, "text fields").await;
    Ok(())
}

pub async fn unsafe_urls_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for u in unsafe_urls() {
        validation(SafeUrl::parse(&u), "url", &u);
        serde_refuses::<ProfileUpdate>(&format!(r#"{{"avatar_url":{}}}"#, js(&u)));
        serde_refuses::<ProfileUpdate>(&format!(
            r#"{{"social_links":[{{"kind":"website","url":{}}}]}}"#,
            js(&u)
        ));
    }
    // http is a URL, but not an avatar unless the config allows it, and
    // never a social link.
    for u in [
        "http://cdn.example.com/a.png",
        "HTTP://cdn.example.com/a.png",
        "http://93.184.216.34/a.png",
    ] {
        let up: ProfileUpdate = serde_json::from_str(&format!(r#"{{"avatar_url":{}}}"#, js(u)))?;
        validation(ctx.svc.update_profile(a, up).await, "avatar_url", u);
        serde_refuses::<ProfileUpdate>(&format!(
            r#"{{"social_links":[{{"kind":"website","url":{}}}]}}"#,
            js(u)
        ));
        before.same_seq(seq(&ctx.svc).await, u);
    }
    before.check(&ctx, "unsafe URLs").await;
    Ok(())
}

pub async fn bad_emails_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for e in bad_emails() {
        validation(Email::parse(&e), "email", &e);
        let nu = NewUser::new("mailer", "Mailer")?;
        validation(nu.with_email(&e), "email", &e);
        serde_refuses::<NewUser>(&format!(
            r#"{{"username":"mailer","name":"M","email":{}}}"#,
            js(&e)
        ));
    }
    before.check(&ctx, "bad e-mails").await;
    Ok(())
}

pub async fn bad_settings_json_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for j in bad_settings_json() {
        serde_refuses::<SettingsPatch>(&j);
    }
    // The field types refuse the same values through their constructors.
    for tag in ["", "english", "en_US", "en--US", "123", "x-"] {
        validation(LanguageTag::parse(tag), "language", tag);
    }
    validation(LanguageTag::parse(&"a".repeat(65)), "language", "65 × a");
    for tz in [
        "",
        "Mars/Olympus_Mons",
        "Europe/Pariss",
        "../../etc/passwd",
        "+05:00",
    ] {
        validation(TimeZoneName::parse(tz), "timezone", tz);
    }
    before.check(&ctx, "bad settings").await;
    Ok(())
}

pub async fn stale_settings_versions_conflict(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let changed: SettingsPatch =
        serde_json::from_str(r#"{"display":{"theme":"dark"},"expected_version":1}"#)?;
    assert_eq!(ctx.svc.edit_settings(a, changed).await?.version, 2);
    let before = Untouched::take(&ctx, a).await;
    for v in [0u64, 1, 3, 4, 100, u64::MAX / 2, u64::MAX] {
        for body in [
            r#""privacy":{"private_account":true}"#,
            r#""display":{"theme":"light"}"#,
            r#""notifications":{"email_digest":"never"}"#,
        ] {
            let j = format!(r#"{{{body},"expected_version":{v}}}"#);
            let patch: SettingsPatch = serde_json::from_str(&j)?;
            code(ctx.svc.edit_settings(a, patch).await, "conflict", &j);
            before.same_seq(seq(&ctx.svc).await, &j);
        }
    }
    before.check(&ctx, "stale versions").await;
    Ok(())
}

pub async fn invalid_utf8_and_unknown_fields_in_json_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let before = Untouched::take(&ctx, a).await;
    for bad in invalid_utf8_payloads() {
        let wrap = |pre: &str, post: &str| [pre.as_bytes(), &bad, post.as_bytes()].concat();
        serde_refuses_bytes::<ProfileUpdate>(&wrap(r#"{"name":""#, r#""}"#));
        serde_refuses_bytes::<ProfileUpdate>(&wrap(r#"{"bio":"ok"#, r#""}"#));
        serde_refuses_bytes::<NewUser>(&wrap(r#"{"username":"abc","name":""#, r#""}"#));
        serde_refuses_bytes::<SettingsPatch>(&wrap(r#"{"display":{"language":""#, r#""}}"#));
        serde_refuses_bytes::<NewRoom>(&wrap(
            r#"{"kind":"group","visibility":"public","name":""#,
            r#""}"#,
        ));
        serde_refuses_bytes::<PageRequest>(&wrap(r#"{"cursor":""#, r#""}"#));
    }
    for (ty, j) in unknown_field_json() {
        match ty {
            "profile" => serde_refuses::<ProfileUpdate>(&j),
            "new_user" => serde_refuses::<NewUser>(&j),
            "new_room" => serde_refuses::<NewRoom>(&j),
            "room_filter" => serde_refuses::<RoomFilter>(&j),
            "page" => serde_refuses::<PageRequest>(&j),
            "scope" => serde_refuses::<SearchScope>(&j),
            other => panic!("unknown table type {other}"),
        }
    }
    before.check(&ctx, "bad JSON").await;
    Ok(())
}

pub async fn limits_outside_range_refused(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let b = user(&ctx.svc, "corpus_other").await;
    follow(&ctx.svc, b, a).await;
    let before = Untouched::take(&ctx, a).await;
    let svc = &ctx.svc;
    for l in [0u32, 101, 102, 1000, u32::MAX] {
        let p = || PageRequest::with_limit(l);
        let what = format!("limit {l}");
        validation(svc.followers(Some(a), a, p()).await, "limit", &what);
        validation(svc.following(Some(a), b, p()).await, "limit", &what);
        validation(svc.known_followers(Some(b), a, p()).await, "limit", &what);
        validation(svc.followers(None, a, p()).await, "limit", &what);
        validation(svc.follow_requests(a, p()).await, "limit", &what);
        validation(
            svc.my_rooms(a, RoomFilter::default(), p()).await,
            "limit",
            &what,
        );
        before.same_seq(seq(svc).await, &what);
    }
    for l in [0u32, 51, 100, u32::MAX] {
        let what = format!("search limit {l}");
        let r = svc
            .search_users(
                Some(a),
                "corpus",
                SearchScope::Discovery,
                PageRequest::with_limit(l),
            )
            .await;
        // A service without an index refuses search as a whole.
        if !matches!(&r, Err(Error::Forbidden { .. })) {
            validation(r, "limit", &what);
        }
    }
    // The edges are fine: 1 and 100 (50 for search) answer.
    assert_eq!(
        svc.followers(Some(a), a, PageRequest::with_limit(100))
            .await?
            .items
            .len(),
        1
    );
    assert_eq!(
        svc.followers(Some(a), a, PageRequest::with_limit(1))
            .await?
            .items
            .len(),
        1
    );
    before.check(&ctx, "limits").await;
    Ok(())
}

pub async fn malformed_truncated_and_foreign_cursors_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(&ctx.svc, "corpus_owner").await;
    let b = user(&ctx.svc, "corpus_other").await;
    let fans = crate::fixtures::users(svc, "fan", 3).await;
    for f in &fans {
        follow(svc, *f, a).await;
        follow(svc, *f, b).await;
        follow(svc, a, *f).await;
    }
    for n in 0..3 {
        svc.create_room(
            a,
            NewRoom {
                kind: RoomKind::Group,
                name: RoomName::parse(&format!("Room {n}"))?,
                visibility: RoomVisibility::Public,
            },
        )
        .await?;
    }
    let one = || PageRequest::with_limit(1);
    let cur = |c: Option<String>| c.expect("a next_cursor");
    let followers_a = cur(svc.followers(Some(a), a, one()).await?.next_cursor);
    let following_a = cur(svc.following(Some(a), a, one()).await?.next_cursor);
    let followers_b = cur(svc.followers(Some(a), b, one()).await?.next_cursor);
    let followers_a_anon = cur(svc.followers(None, a, one()).await?.next_cursor);
    let rooms_a = cur(svc
        .my_rooms(a, RoomFilter::default(), one())
        .await?
        .next_cursor);
    let before = Untouched::take(&ctx, a).await;
    // The real cursor works.
    assert_eq!(
        svc.followers(Some(a), a, PageRequest::after(followers_a.clone(), Some(1)))
            .await?
            .items
            .len(),
        1
    );

    let mut bad: Vec<(String, String)> = malformed_cursors()
        .into_iter()
        .map(|c| (format!("malformed {c:?}"), c))
        .collect();
    for n in 0..followers_a.len() {
        bad.push((format!("truncated to {n}"), followers_a[..n].to_string()));
    }
    bad.push(("one extra char".into(), format!("{followers_a}A")));
    bad.push(("padding".into(), format!("{followers_a}=")));
    bad.push(("leading space".into(), format!(" {followers_a}")));
    bad.push((
        "standard alphabet".into(),
        followers_a.replace('-', "+").replace('_', "/") + "+/",
    ));
    // Flip each character of the header (version, list kind, owner: the
    // first 24 characters encode exactly those 18 bytes).
    for n in 0..24 {
        let mut chars: Vec<char> = followers_a.chars().collect();
        chars[n] = if chars[n] == 'A' { 'B' } else { 'A' };
        bad.push((
            format!("header char {n} flipped"),
            chars.into_iter().collect(),
        ));
    }
    // Foreign: another list, another owner, another viewer.
    bad.push(("following cursor".into(), following_a.clone()));
    bad.push(("other user's followers".into(), followers_b.clone()));
    bad.push(("anonymous viewer's cursor".into(), followers_a_anon.clone()));
    bad.push(("my_rooms cursor".into(), rooms_a.clone()));

    // A cursor is not signed: one with its position edited (the last 8
    // bytes, from the 25th character on) is a well-formed cursor for this
    // list, and answers like any other — even at the largest position.
    for pos in ["AAAAAAAAAAA", "__________8", "f_________8", "gAAAAAAAAAA"] {
        let forged = format!("{}{pos}", &followers_a[..24]);
        let page = svc
            .followers(Some(a), a, PageRequest::after(forged.clone(), Some(2)))
            .await
            .map_err(|e| format!("forged position {forged:?}: {e}"))?;
        assert!(page.items.len() <= 2, "{forged:?}");
    }
    for (what, c) in &bad {
        let p = || PageRequest::after(c.clone(), Some(1));
        validation(svc.followers(Some(a), a, p()).await, "cursor", what);
        before.same_seq(seq(svc).await, what);
    }
    // The foreign ones are foreign to the other lists too.
    for (what, c, list) in [
        ("followers cursor on following", &followers_a, "following"),
        ("followers cursor on my_rooms", &followers_a, "my_rooms"),
        ("followers cursor on requests", &followers_a, "requests"),
        ("followers cursor on known", &followers_a, "known"),
        ("rooms cursor on following", &rooms_a, "following"),
        ("following cursor of a on b", &following_a, "following_b"),
    ] {
        let p = PageRequest::after(c.clone(), Some(1));
        let r = match list {
            "following" => svc.following(Some(a), a, p).await.map(|_| ()),
            "following_b" => svc.following(Some(a), b, p).await.map(|_| ()),
            "my_rooms" => svc.my_rooms(a, RoomFilter::default(), p).await.map(|_| ()),
            "requests" => svc.follow_requests(a, p).await.map(|_| ()),
            _ => svc.known_followers(Some(a), a, p).await.map(|_| ()),
        };
        validation(r, "cursor", what);
    }
    // Malformed cursors on every list.
    for c in malformed_cursors() {
        let p = || PageRequest::after(c.clone(), Some(5));
        validation(svc.following(Some(a), a, p()).await, "cursor", &c);
        validation(svc.known_followers(Some(a), a, p()).await, "cursor", &c);
        validation(svc.known_followers(None, a, p()).await, "cursor", &c);
        validation(svc.follow_requests(a, p()).await, "cursor", &c);
        validation(
            svc.my_rooms(a, RoomFilter::default(), p()).await,
            "cursor",
            &c,
        );
    }
    before.check(&ctx, "cursors").await;
    Ok(())
}

pub async fn search_queries_are_plain_text(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(&ctx.svc, "corpus_owner").await;
    let target = user_named(svc, "foo_title", "Title Foo").await;
    let before = Untouched::take(&ctx, a).await;
    for q in bad_queries() {
        validation(SearchQuery::parse(&q), "query", &q);
        let r = svc
            .search_users(Some(a), &q, SearchScope::Discovery, PageRequest::first())
            .await;
        if !matches!(&r, Err(Error::Forbidden { .. })) {
            validation(r, "query", &q);
        }
        before.same_seq(seq(svc).await, &q);
    }
    if svc
        .search_users(Some(a), "x", SearchScope::Discovery, PageRequest::first())
        .await
        .is_err_and(|e| matches!(e, Error::Forbidden { .. }))
    {
        // No index on this store: the parser half still ran above.
        return Ok(());
    }
    svc.refresh_search().await?;
    // A search cursor with its offset edited to the largest value gives an
    // empty last page, not an overflow (found by the cursor fuzz target).
    let fans = crate::fixtures::users(svc, "fan", 3).await;
    svc.refresh_search().await?;
    let first = svc
        .search_users(
            Some(a),
            "fan",
            SearchScope::Discovery,
            PageRequest::with_limit(1),
        )
        .await?;
    assert_eq!(first.items.len(), 1);
    let real = first.next_cursor.ok_or("a next_cursor")?;
    for pos in ["__________8", "f_________8", "AAAAAAAAAAA"] {
        let forged = format!("{}{pos}", &real[..24]);
        let page = svc
            .search_users(
                Some(a),
                "fan",
                SearchScope::Discovery,
                PageRequest::after(forged.clone(), Some(50)),
            )
            .await
            .map_err(|e| format!("forged offset {forged:?}: {e}"))?;
        if pos == "AAAAAAAAAAA" {
            assert_eq!(page.items.len(), fans.len(), "offset 0 is the first page");
        } else {
            assert!(
                page.items.is_empty() && page.next_cursor.is_none(),
                "{forged:?}: {page:?}"
            );
        }
    }
    let before = Untouched::take(&ctx, a).await;
    for q in syntax_queries() {
        let parsed = SearchQuery::parse(q).map_err(|e| format!("{q:?}: {e}"))?;
        let page = svc
            .search_users(Some(a), q, SearchScope::Discovery, PageRequest::first())
            .await
            .map_err(|e| format!("search {q:?}: {e}"))?;
        // Plain words: found exactly when every word is a prefix of a word
        // of "Title Foo" or of the username (core's reference matcher).
        let expect = kinfolk::search::match_tier(&parsed, "foo_title", "Title Foo").is_some();
        let found = page.items.iter().any(|r| r.user.id == target);
        assert_eq!(
            found, expect,
            "query {q:?}: found {found}, expected {expect}"
        );
        before.same_seq(seq(svc).await, q);
    }
    before.check(&ctx, "queries").await;
    Ok(())
}

pub async fn lookup_keys_ids_and_command_arguments_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(&ctx.svc, "corpus_owner").await;
    let b = user(&ctx.svc, "abc").await;
    let before = Untouched::take(&ctx, a).await;
    for k in ["", "   ", "@", " @ ", "\t@\n"] {
        validation(svc.get_profile(Some(a), k).await, "id_or_username", k);
    }
    // Odd keys find nobody: wildcards and SQL are not patterns.
    let long = "a".repeat(65);
    let huge = "a".repeat(100_000);
    for k in [
        "%",
        "_",
        "a_c",
        "ab%",
        "%bc",
        "a%",
        "[abc]",
        "ab*",
        "' OR 1=1 --",
        "abc' --",
        "abc'; DROP TABLE users; --",
        "abc\u{0}",
        "\u{0}",
        "@@abc",
        "ABC\u{202E}",
        "00000000-0000-0000-0000-000000000000",
        "{00000000-0000-0000-0000-000000000000}",
        "urn:uuid:0192d4e8-7b3a-7c4e-9f00-000000000001",
        "0192d4e87b3a7c4e9f00000000000001",
        long.as_str(),
        huge.as_str(),
    ] {
        code(svc.get_profile(Some(a), k).await, "not_found", k);
        code(svc.get_profile(None, k).await, "not_found", k);
    }
    // …while the real name, in any case, with an `@`, is found.
    assert_eq!(svc.get_profile(Some(a), "@ABC").await?.id(), b);
    for id in [
        "",
        "not-a-uuid",
        "123",
        "gggggggg-gggg-gggg-gggg-gggggggggggg",
        "0192d4e8-7b3a-7c4e-9f00-00000000000",
        "0192d4e8-7b3a-7c4e-9f00-0000000000011",
        "' OR 1=1",
    ] {
        validation(id.parse::<UserId>(), "user_id", id);
        serde_refuses::<UserId>(&js(id));
    }
    // Command arguments.
    validation(svc.relationships(a, &vec![b; 101]).await, "ids", "101 ids");
    validation(
        svc.relationships(a, &vec![b; 10_000]).await,
        "ids",
        "10000 ids",
    );
    validation(svc.block(a, a).await, "target", "block self");
    validation(svc.mute(a, a, None).await, "target", "mute self");
    let now = kinfolk::Clock::now(&ctx.clock);
    for (what, until) in [
        ("now", now),
        ("past", now - chrono::Duration::seconds(1)),
        ("long ago", now - chrono::Duration::days(10_000)),
    ] {
        validation(svc.mute(a, b, Some(until)).await, "until", what);
    }
    code(
        svc.toggle_follow(a, a, Some(FollowAction::Follow)).await,
        "cannot_follow_self",
        "follow self",
    );
    for p in [
        "", " ", "GitHub!", "git hub", "gh\u{0}", "ÿ", "../x", "a.b", "x'--",
    ] {
        validation(svc.link_account(a, p, "42", "handle").await, "provider", p);
    }
    let long_provider = "p".repeat(33);
    validation(
        svc.link_account(a, &long_provider, "42", "handle").await,
        "provider",
        "33 × p",
    );
    let long_ext = "9".repeat(256);
    for e in ["", "   ", "a\u{0}b", "a\nb", "a\u{1b}b", long_ext.as_str()] {
        validation(
            svc.link_account(a, "github", e, "handle").await,
            "external_id",
            e,
        );
    }
    validation(
        svc.my_rooms(
            a,
            RoomFilter {
                name: Some("n".repeat(101)),
                ..RoomFilter::default()
            },
            PageRequest::first(),
        )
        .await,
        "name",
        "101-char room filter",
    );
    before.check(&ctx, "lookups and arguments").await;
    Ok(())
}

pub async fn sql_metacharacters_round_trip_exactly(mut ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "corpus_owner").await;
    let mut expected = Vec::new();
    for (n, t) in metachar_texts().into_iter().enumerate() {
        let name = t.chars().take(DisplayName::MAX_LEN).collect::<String>();
        let up: ProfileUpdate = serde_json::from_value(serde_json::json!({
            "name": name,
            "bio": t,
            "location": t,
        }))?;
        let me = ctx.svc.update_profile(a, up).await?;
        assert_eq!(me.name.as_str(), name, "name {t:?}");
        assert_eq!(me.bio.as_str(), t, "bio {t:?}");
        assert_eq!(
            me.location.as_ref().map(|l| l.as_str()),
            Some(t),
            "location {t:?}"
        );
        // A room named with it and a handle too.
        let room = ctx
            .svc
            .create_room(
                a,
                NewRoom {
                    kind: RoomKind::Group,
                    name: RoomName::parse(t)?,
                    visibility: RoomVisibility::Private,
                },
            )
            .await?;
        assert_eq!(room.name.as_str(), t);
        // One second apart, so "oldest first" has one answer.
        ctx.clock.advance(chrono::Duration::seconds(1));
        let acct = ctx
            .svc
            .link_account(a, "github", &format!("id{n}"), t)
            .await?;
        assert_eq!(acct.handle, t);
        // And the filter treats it as text.
        let rooms = ctx
            .svc
            .my_rooms(
                a,
                RoomFilter {
                    name: Some(t.to_string()),
                    ..RoomFilter::default()
                },
                PageRequest::with_limit(100),
            )
            .await?;
        assert!(
            rooms.items.iter().any(|r| r.room.id == room.id),
            "room filter {t:?} does not find its room"
        );
        expected.push((room.id, t));
    }
    let last = *metachar_texts().last().expect("non-empty");
    ctx.reopen().await?;
    let me = ctx.svc.me(a).await?;
    assert_eq!(me.bio.as_str(), last);
    assert_eq!(me.location.as_ref().map(|l| l.as_str()), Some(last));
    let handles: Vec<&str> = me
        .connected_accounts
        .iter()
        .map(|c| c.handle.as_str())
        .collect();
    assert_eq!(handles, metachar_texts(), "handles after reopen");
    let rooms = ctx
        .svc
        .my_rooms(a, RoomFilter::default(), PageRequest::with_limit(100))
        .await?;
    for (id, t) in expected {
        let r = rooms
            .items
            .iter()
            .find(|r| r.room.id == id)
            .ok_or("room missing after reopen")?;
        assert_eq!(r.room.name.as_str(), t);
    }
    // Nothing else was touched: the one user and their rooms.
    crate::fixtures::check_invariants(&ctx.svc).await?;
    Ok(())
}
