//! SPEC §2–§3: callers, identities, users and profiles.

use chrono::Duration;
use kinfolk::{
    Bio, Config, DisplayName, Location, NewUser, ProfileUpdate, ProfileView, SafeUrl, SocialLinks,
    UserId, Username,
};

use crate::fixtures::{assert_code, events_after, follow, seq, settings, user};
use crate::{Ctx, TestResult};

pub async fn register_returns_full_profile(ctx: Ctx) -> TestResult {
    let nu = NewUser::new("Ada_L", "Ada Lovelace")?.with_email("ada@example.com")?;
    let p = ctx.svc.register(nu).await?;
    assert_eq!(p.username.as_str(), "Ada_L");
    assert_eq!(p.name.as_str(), "Ada Lovelace");
    assert_eq!(
        p.email.as_ref().map(|e| e.as_str()),
        Some("ada@example.com")
    );
    assert_eq!(p.stats.followers_count, 0);
    assert_eq!(p.settings.version, 1);
    assert_eq!(p.created_at, p.updated_at);
    Ok(())
}

pub async fn username_length_edges(ctx: Ctx) -> TestResult {
    assert_code(Username::parse("ab"), "validation");
    assert!(Username::parse("abc").is_ok());
    assert!(Username::parse(&"a".repeat(30)).is_ok());
    assert_code(Username::parse(&"a".repeat(31)), "validation");
    assert_code(Username::parse(""), "validation");
    // Through the service too (serde path), and nothing stored.
    let before = seq(&ctx.svc).await;
    let bad: Result<NewUser, _> = serde_json::from_str(r#"{"username":"ab","name":"X"}"#);
    assert!(bad.is_err());
    ctx.svc.register(NewUser::new("abc", "Three")?).await?;
    ctx.svc
        .register(NewUser::new(&"z".repeat(30), "Thirty")?)
        .await?;
    assert_eq!(events_after(&ctx.svc, before).await, 2);
    Ok(())
}

pub async fn username_needs_a_letter(_ctx: Ctx) -> TestResult {
    assert_code(Username::parse("12345"), "validation");
    assert_code(Username::parse("___"), "validation");
    assert_code(Username::parse("1_2"), "validation");
    assert!(Username::parse("1_a").is_ok());
    Ok(())
}

pub async fn username_charset(_ctx: Ctx) -> TestResult {
    for bad in [
        "ada lovelace",
        "ada-l",
        "ada.l",
        "adé",
        "@ada",
        "ada\0x",
        "ада",
        "ad😀a",
    ] {
        assert_code(Username::parse(bad), "validation");
    }
    assert!(Username::parse("A_z_0_9").is_ok());
    Ok(())
}

pub async fn username_unique_case_insensitive(ctx: Ctx) -> TestResult {
    user(&ctx.svc, "Grace").await;
    let before = seq(&ctx.svc).await;
    assert_code(
        ctx.svc.register(NewUser::new("grace", "Other")?).await,
        "username_taken",
    );
    assert_code(
        ctx.svc.register(NewUser::new("GRACE", "Other")?).await,
        "username_taken",
    );
    assert_eq!(
        seq(&ctx.svc).await,
        before,
        "a refused registration appends nothing"
    );
    Ok(())
}

pub async fn username_stored_as_typed(ctx: Ctx) -> TestResult {
    let id = user(&ctx.svc, "MiXeD_Case").await;
    assert_eq!(ctx.svc.me(id).await?.username.as_str(), "MiXeD_Case");
    Ok(())
}

pub async fn username_reserved_plain(ctx: Ctx) -> TestResult {
    for name in [
        "admin",
        "root",
        "api",
        "settings",
        "support",
        "help",
        "www",
        "moderator",
        "Admin",
    ] {
        let r = ctx.svc.register(NewUser::new(name, "X")?).await;
        assert_code(r, "username_reserved");
    }
    // "me" is too short to be a username at all.
    assert_code(Username::parse("me"), "validation");
    Ok(())
}

pub async fn username_reserved_lookalikes(ctx: Ctx) -> TestResult {
    for name in [
        "adm1n",
        "_admin_",
        "r00t",
        "4dm1n",
        "supp0rt",
        "s3tt1ngs",
        "m0d3r4t0r",
        "A_D_M_I_N",
    ] {
        let r = ctx.svc.register(NewUser::new(name, "X")?).await;
        assert_code(r, "username_reserved");
    }
    // And on rename.
    let u = user(&ctx.svc, "regular").await;
    let upd = ProfileUpdate {
        username: Some(Username::parse("adm1n")?),
        ..Default::default()
    };
    assert_code(ctx.svc.update_profile(u, upd).await, "username_reserved");
    Ok(())
}

pub async fn username_reserved_by_config(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(Config {
        reserved_usernames: vec!["kinfolkteam".into()],
        ..Config::default()
    })
    .await?;
    assert_code(
        ctx.svc.register(NewUser::new("k1nf0lk_team", "X")?).await,
        "username_reserved",
    );
    assert!(
        ctx.svc
            .register(NewUser::new("kinfolkfan", "X")?)
            .await
            .is_ok()
    );
    Ok(())
}

pub async fn display_name_edges(_ctx: Ctx) -> TestResult {
    assert_code(DisplayName::parse(""), "validation");
    assert_code(DisplayName::parse("   "), "validation");
    assert!(DisplayName::parse("A").is_ok());
    assert!(DisplayName::parse(&"é".repeat(50)).is_ok());
    assert_code(DisplayName::parse(&"é".repeat(51)), "validation");
    // 50 scalar values, not bytes: CJK counts one each.
    assert!(DisplayName::parse(&"漢".repeat(50)).is_ok());
    Ok(())
}

pub async fn display_name_nfc_and_trim(_ctx: Ctx) -> TestResult {
    let n = DisplayName::parse("  Jose\u{301}  ")?;
    assert_eq!(n.as_str(), "José");
    assert_eq!(n.as_str().chars().count(), 4);
    Ok(())
}

pub async fn display_name_control_and_bidi_refused(_ctx: Ctx) -> TestResult {
    for bad in [
        "a\u{0}b",
        "a\u{7}b",
        "a\nb",
        "a\u{202E}b",
        "a\u{202A}b",
        "a\u{2066}b",
        "a\u{2069}b",
    ] {
        assert_code(DisplayName::parse(bad), "validation");
    }
    assert!(DisplayName::parse("مرحبا").is_ok());
    Ok(())
}

/// Issue 14 item 5: names and locations made only of invisible characters
/// (U+200B, U+3164, U+FEFF, U+200E, U+200D, U+00AD, …) used to be accepted,
/// and U+200F inside a name kept. Invisible characters are removed (joiners
/// and variation selectors inside emoji and Persian/Indic text kept); text
/// left with no visible character is refused — through the constructors,
/// serde and every command, storing nothing.
pub async fn display_name_and_location_invisible_characters(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "ada").await;
    let before = seq(&ctx.svc).await;
    for raw in crate::corpus::invisible_only() {
        match DisplayName::parse(&raw) {
            Err(kinfolk::Error::Validation { field: "name", .. }) => {}
            other => panic!("name {raw:?}: expected validation, got {other:?}"),
        }
        match Location::parse(&raw) {
            Err(kinfolk::Error::Validation {
                field: "location", ..
            }) => {}
            other => panic!("location {raw:?}: expected validation, got {other:?}"),
        }
        let json = serde_json::to_string(&raw)?;
        assert!(
            serde_json::from_str::<DisplayName>(&json).is_err(),
            "{raw:?}"
        );
        assert!(
            NewUser::new("newbie", &raw).is_err(),
            "register with name {raw:?}"
        );
        assert!(
            serde_json::from_str::<ProfileUpdate>(&format!(r#"{{"location":{json}}}"#)).is_err()
        );
    }
    assert_eq!(seq(&ctx.svc).await, before);
    for (raw, stored) in [
        ("Da\u{200F}na", "Dana"),
        ("\u{200E}Dana\u{200F}", "Dana"),
        ("Ann\u{00AD}a Lee", "Anna Lee"),
        ("\u{200B} Zoë \u{FEFF}", "Zoë"),
        ("Ada\u{3164}", "Ada"),
        ("👩\u{200D}💻 Dev", "👩\u{200D}💻 Dev"),
        ("❤\u{FE0F} Ada", "❤\u{FE0F} Ada"),
        ("می\u{200C}خواهم", "می\u{200C}خواهم"),
        ("Ada\u{200D}", "Ada"),
        ("\u{200D}Ada", "Ada"),
    ] {
        assert_eq!(DisplayName::parse(raw)?.as_str(), stored, "{raw:?}");
        assert_eq!(Location::parse(raw)?.as_str(), stored, "{raw:?}");
    }
    let p = ctx
        .svc
        .update_profile(
            a,
            ProfileUpdate {
                name: Some(DisplayName::parse("Da\u{200F}na")?),
                location: Some(Some(Location::parse("Pa\u{200B}ris")?)),
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(p.name.as_str(), "Dana");
    assert_eq!(p.location.as_ref().map(|l| l.as_str()), Some("Paris"));
    // An empty or all-space location still clears.
    assert_eq!(Location::parse("  ")?.as_str(), "");
    Ok(())
}

pub async fn bio_edges(_ctx: Ctx) -> TestResult {
    assert!(Bio::parse("").is_ok());
    assert!(Bio::parse(&"b".repeat(500)).is_ok());
    assert_code(Bio::parse(&"b".repeat(501)), "validation");
    Ok(())
}

pub async fn bio_newlines_allowed_controls_refused(_ctx: Ctx) -> TestResult {
    assert_eq!(
        Bio::parse("line one\r\nline two")?.as_str(),
        "line one\nline two"
    );
    assert_code(Bio::parse("tab\there"), "validation");
    assert_code(Bio::parse("nul\0"), "validation");
    assert_code(Bio::parse("x\u{202E}y"), "validation");
    assert_eq!(
        Bio::parse("'; DROP TABLE users; --")?.as_str(),
        "'; DROP TABLE users; --"
    );
    Ok(())
}

pub async fn location_edges(_ctx: Ctx) -> TestResult {
    assert!(kinfolk::Location::parse(&"l".repeat(100)).is_ok());
    assert_code(kinfolk::Location::parse(&"l".repeat(101)), "validation");
    assert_code(kinfolk::Location::parse("a\u{2067}b"), "validation");
    Ok(())
}

pub async fn email_shape(_ctx: Ctx) -> TestResult {
    for good in ["a@b.co", "first.last+tag@example.org"] {
        assert!(kinfolk::Email::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "", "plain", "@b.co", "a@", "a@b", "a@@b.co", "a b@c.co", "a@.co", "a@b..co",
    ] {
        assert_code(kinfolk::Email::parse(bad), "validation");
    }
    Ok(())
}

pub async fn avatar_url_rules(_ctx: Ctx) -> TestResult {
    assert!(SafeUrl::parse("https://cdn.example.com/a.png").is_ok());
    for bad in [
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "https://user:pw@example.com/a.png",
        "https://localhost/a.png",
        "https://foo.localhost/a.png",
        "https://127.0.0.1/a.png",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[fc00::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://2130706433/",
        "https://0x7f000001/",
        "/relative/path.png",
    ] {
        assert_code(SafeUrl::parse(bad), "validation");
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    assert_code(SafeUrl::parse(&long), "validation");
    Ok(())
}

pub async fn avatar_http_only_when_config_allows(mut ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "pic").await;
    let upd = ProfileUpdate {
        avatar_url: Some(Some(SafeUrl::parse("http://example.com/a.png")?)),
        ..Default::default()
    };
    let before = seq(&ctx.svc).await;
    assert_code(ctx.svc.update_profile(u, upd.clone()).await, "validation");
    assert_eq!(seq(&ctx.svc).await, before);
    ctx.reconfigure(Config {
        allow_http_avatars: true,
        ..Config::default()
    })
    .await?;
    let p = ctx.svc.update_profile(u, upd).await?;
    assert_eq!(
        p.avatar_url.map(|a| a.to_string()),
        Some("http://example.com/a.png".to_string())
    );
    Ok(())
}

pub async fn avatar_null_clears(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "pic").await;
    let set: ProfileUpdate = serde_json::from_str(r#"{"avatar_url":"https://example.com/a.png"}"#)?;
    assert!(ctx.svc.update_profile(u, set).await?.avatar_url.is_some());
    let keep: ProfileUpdate = serde_json::from_str(r#"{"bio":"hi"}"#)?;
    assert!(ctx.svc.update_profile(u, keep).await?.avatar_url.is_some());
    let clear: ProfileUpdate = serde_json::from_str(r#"{"avatar_url":null}"#)?;
    assert!(ctx.svc.update_profile(u, clear).await?.avatar_url.is_none());
    Ok(())
}

pub async fn social_links_rules(ctx: Ctx) -> TestResult {
    let link = |k: &str, u: &str| format!(r#"{{"kind":"{k}","url":"{u}"}}"#);
    let list = |items: Vec<String>| format!("[{}]", items.join(","));
    let eight: Vec<String> = (0..8)
        .map(|i| link("website", &format!("https://e{i}.example.com/")))
        .collect();
    assert!(serde_json::from_str::<SocialLinks>(&list(eight.clone())).is_ok());
    let mut nine = eight.clone();
    nine.push(link("other", "https://e9.example.com/"));
    assert!(serde_json::from_str::<SocialLinks>(&list(nine)).is_err());
    let dup = list(vec![
        link("github", "https://github.com/a"),
        link("website", "https://github.com/a"),
    ]);
    assert!(serde_json::from_str::<SocialLinks>(&dup).is_err());
    assert!(
        serde_json::from_str::<SocialLinks>(&list(vec![link("github", "http://github.com/a")]))
            .is_err()
    );
    assert!(
        serde_json::from_str::<SocialLinks>(&list(vec![link("myspace", "https://myspace.com/a")]))
            .is_err()
    );
    for kind in [
        "website",
        "github",
        "x",
        "instagram",
        "linkedin",
        "youtube",
        "mastodon",
        "other",
    ] {
        assert!(
            serde_json::from_str::<SocialLinks>(&list(vec![link(kind, "https://example.com/p")]))
                .is_ok()
        );
    }
    let u = user(&ctx.svc, "linky").await;
    let upd: ProfileUpdate = serde_json::from_str(&format!(
        r#"{{"social_links":{}}}"#,
        list(vec![link("github", "https://github.com/linky")])
    ))?;
    assert_eq!(
        ctx.svc
            .update_profile(u, upd)
            .await?
            .social_links
            .as_slice()
            .len(),
        1
    );
    Ok(())
}

pub async fn update_leaves_absent_fields(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "keeper").await;
    let full: ProfileUpdate = serde_json::from_str(
        r#"{"name":"Keeper","bio":"a bio","location":"Lisbon","avatar_url":"https://example.com/k.png"}"#,
    )?;
    ctx.svc.update_profile(u, full).await?;
    let only_bio: ProfileUpdate = serde_json::from_str(r#"{"bio":"new bio"}"#)?;
    let p = ctx.svc.update_profile(u, only_bio).await?;
    assert_eq!(p.name.as_str(), "Keeper");
    assert_eq!(p.bio.as_str(), "new bio");
    assert_eq!(
        p.location.map(|l| l.to_string()),
        Some("Lisbon".to_string())
    );
    assert!(p.avatar_url.is_some());
    assert!(
        serde_json::from_str::<ProfileUpdate>(r#"{"nickname":"x"}"#).is_err(),
        "unknown field refused"
    );
    Ok(())
}

pub async fn update_nothing_appends_no_event(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "still").await;
    let before = seq(&ctx.svc).await;
    ctx.svc.update_profile(u, ProfileUpdate::default()).await?;
    let same: ProfileUpdate = serde_json::from_str(r#"{"name":"User still"}"#)?;
    ctx.svc.update_profile(u, same).await?;
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

/// Issue 14 item 6: `null` used to mean "unchanged" for name, bio and
/// username, and errors came back as `serde_json::Error`.
/// `ProfileUpdate::from_json` names the field in `Validation`, refuses
/// `null` where a field cannot be cleared (also through serde), and clears
/// with `null` where it can.
pub async fn profile_update_from_json_typed_errors(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "ada").await;
    let cases: &[(&str, &str)] = &[
        (r#"{"name":null}"#, "name"),
        (r#"{"bio":null}"#, "bio"),
        (r#"{"username":null}"#, "username"),
        (r#"{"social_links":null}"#, "social_links"),
        (r#"{"social_links":{"kind":"github"}}"#, "social_links"),
        (r#"{"name":""}"#, "name"),
        (r#"{"name":"\u200b"}"#, "name"),
        (r#"{"name":["Ada"]}"#, "name"),
        (r#"{"username":"no spaces"}"#, "username"),
        (r#"{"avatar_url":"https://127.0.0.1/a.png"}"#, "avatar_url"),
        (r#"{"location":{"city":"Paris"}}"#, "location"),
        (r#"{"colour":"red"}"#, "update"),
        (r#"["Ada"]"#, "update"),
        (r#"{"name":"A","name":"B"}"#, "update"),
        (r#"nul"#, "update"),
    ];
    for (json, field) in cases {
        match ProfileUpdate::from_json(json) {
            Err(kinfolk::Error::Validation { field: f, .. }) => assert_eq!(f, *field, "{json}"),
            other => panic!("{json}: expected validation on `{field}`, got {other:?}"),
        }
    }
    for json in [
        r#"{"name":null}"#,
        r#"{"bio":null}"#,
        r#"{"username":null}"#,
    ] {
        assert!(
            serde_json::from_str::<ProfileUpdate>(json).is_err(),
            "serde reads {json} as unchanged"
        );
    }
    let u = ProfileUpdate::from_json(
        r#"{"name":"Ada L","avatar_url":"https://cdn.example.com/a.png","location":"Paris"}"#,
    )?;
    ctx.svc.update_profile(a, u).await?;
    let u = ProfileUpdate::from_json(r#"{"avatar_url":null,"location":null}"#)?;
    assert_eq!(u.avatar_url, Some(None));
    let p = ctx.svc.update_profile(a, u).await?;
    assert_eq!((p.avatar_url, p.location), (None, None));
    assert_eq!(p.name.as_str(), "Ada L");
    Ok(())
}

pub async fn get_profile_by_id_and_username(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "bob").await;
    let by_id = ctx.svc.get_profile(Some(b), &a.to_string()).await?;
    let by_name = ctx.svc.get_profile(Some(b), "alice").await?;
    assert_eq!(by_id.id(), a);
    assert_eq!(by_name.id(), a);
    assert!(matches!(by_id, ProfileView::Public(_)));
    Ok(())
}

pub async fn get_profile_at_prefix_and_case(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "Alice").await;
    for key in ["@alice", "ALICE", "@AlIcE", " alice "] {
        assert_eq!(ctx.svc.get_profile(None, key).await?.id(), a, "{key}");
    }
    assert_code(ctx.svc.get_profile(None, "@").await, "validation");
    Ok(())
}

pub async fn get_profile_own_is_full(ctx: Ctx) -> TestResult {
    let nu = NewUser::new("self", "Self")?.with_email("self@example.com")?;
    let me = ctx.svc.register(nu).await?.id;
    match ctx.svc.get_profile(Some(me), "self").await? {
        ProfileView::Own(p) => {
            assert_eq!(
                p.email.map(|e| e.to_string()),
                Some("self@example.com".into())
            );
            assert_eq!(p.settings.version, 1);
        }
        other => panic!("expected own profile, got {other:?}"),
    }
    Ok(())
}

pub async fn get_profile_public_hides_private_fields(ctx: Ctx) -> TestResult {
    let nu = NewUser::new("hidden", "Hidden")?.with_email("hidden@example.com")?;
    let h = ctx.svc.register(nu).await?.id;
    ctx.svc.link_account(h, "github", "42", "hidden-gh").await?;
    let v = user(&ctx.svc, "viewer").await;
    for viewer in [Some(v), None] {
        let view = ctx.svc.get_profile(viewer, &h.to_string()).await?;
        let json = serde_json::to_string(&view)?;
        assert!(!json.contains("hidden@example.com"), "{json}");
        assert!(!json.contains("hidden-gh"), "{json}");
        assert!(!json.contains("\"settings\""), "{json}");
        match view {
            ProfileView::Public(p) => assert_eq!(p.relationship.is_some(), viewer.is_some()),
            ProfileView::Own(_) => panic!("not the owner"),
        }
    }
    Ok(())
}

pub async fn get_profile_unknown_is_not_found(ctx: Ctx) -> TestResult {
    assert_code(ctx.svc.get_profile(None, "nobody").await, "not_found");
    assert_code(
        ctx.svc.get_profile(None, &UserId::new().to_string()).await,
        "not_found",
    );
    assert_code(
        ctx.svc.get_profile(None, "no such user with spaces").await,
        "not_found",
    );
    Ok(())
}

pub async fn get_profile_deactivated_is_not_found(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "gone").await;
    let v = user(&ctx.svc, "looker").await;
    ctx.svc.deactivate(a).await?;
    assert_code(ctx.svc.get_profile(Some(v), "gone").await, "not_found");
    assert_code(ctx.svc.get_profile(None, &a.to_string()).await, "not_found");
    ctx.svc.reactivate(a).await?;
    assert_eq!(ctx.svc.get_profile(Some(v), "gone").await?.id(), a);
    Ok(())
}

pub async fn get_profile_blocker_is_not_found(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "blocker").await;
    let b = user(&ctx.svc, "blocked").await;
    ctx.svc.block(a, b).await?;
    let hidden = ctx
        .svc
        .get_profile(Some(b), "blocker")
        .await
        .map(|p| p.id());
    let missing = ctx
        .svc
        .get_profile(Some(b), "nosuchuser")
        .await
        .map(|p| p.id());
    assert_code(hidden, "not_found");
    assert_code(missing, "not_found");
    // The blocker still sees the blocked user, marked as blocking.
    match ctx.svc.get_profile(Some(a), "blocked").await? {
        ProfileView::Public(p) => assert!(p.relationship.map(|r| r.blocking).unwrap_or(false)),
        other => panic!("{other:?}"),
    }
    Ok(())
}

pub async fn get_profile_uuid_shaped_string_is_id(ctx: Ctx) -> TestResult {
    // A UUID is always read as an id, never as a username.
    let id = UserId::new();
    assert_code(
        ctx.svc.get_profile(None, &id.to_string()).await,
        "not_found",
    );
    assert_code(Username::parse(&id.to_string()), "validation");
    Ok(())
}

pub async fn unknown_caller_unauthenticated(ctx: Ctx) -> TestResult {
    let ghost = UserId::new();
    let a = user(&ctx.svc, "real").await;
    assert_code(ctx.svc.me(ghost).await, "unauthenticated");
    assert_code(
        ctx.svc.get_profile(Some(ghost), "real").await,
        "unauthenticated",
    );
    assert_code(
        ctx.svc.toggle_follow(ghost, a, None).await,
        "unauthenticated",
    );
    assert_code(
        ctx.svc
            .update_profile(ghost, ProfileUpdate::default())
            .await,
        "unauthenticated",
    );
    assert_code(
        ctx.svc.followers(Some(ghost), a, Default::default()).await,
        "unauthenticated",
    );
    Ok(())
}

pub async fn deactivated_caller_limited(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "sleepy").await;
    let b = user(&ctx.svc, "awake").await;
    ctx.svc.deactivate(a).await?;
    // Allowed: own profile, export, reactivate.
    assert_eq!(ctx.svc.me(a).await?.id, a);
    assert_eq!(ctx.svc.get_profile(Some(a), &a.to_string()).await?.id(), a);
    ctx.svc.export(a).await?;
    // Refused: everything else.
    assert_code(ctx.svc.toggle_follow(a, b, None).await, "deactivated");
    assert_code(ctx.svc.get_profile(Some(a), "awake").await, "deactivated");
    assert_code(
        ctx.svc.update_profile(a, ProfileUpdate::default()).await,
        "deactivated",
    );
    assert_code(
        ctx.svc.edit_settings(a, Default::default()).await,
        "deactivated",
    );
    assert_code(
        ctx.svc.followers(Some(a), b, Default::default()).await,
        "deactivated",
    );
    assert_code(ctx.svc.block(a, b).await, "deactivated");
    assert!(ctx.svc.reactivate(a).await?);
    ctx.svc.toggle_follow(a, b, None).await?;
    Ok(())
}

pub async fn me_has_statistics(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "stats").await;
    let b = user(&ctx.svc, "fan").await;
    let c = user(&ctx.svc, "shy").await;
    follow(&ctx.svc, b, a).await;
    follow(&ctx.svc, a, b).await;
    settings(&ctx.svc, c, r#"{"privacy":{"private_account":true}}"#).await;
    settings(&ctx.svc, a, r#"{"privacy":{"private_account":true}}"#).await;
    follow(&ctx.svc, c, a).await;
    ctx.svc
        .create_room(
            a,
            serde_json::from_str(r#"{"kind":"group","name":"Club","visibility":"public"}"#)?,
        )
        .await?;
    ctx.svc.link_account(a, "github", "1", "stats-gh").await?;
    let me = ctx.svc.me(a).await?;
    assert_eq!(me.stats.followers_count, 1);
    assert_eq!(me.stats.following_count, 1);
    assert_eq!(me.stats.pending_follow_requests, 1);
    assert_eq!(me.stats.rooms_count, 1);
    assert_eq!(me.connected_accounts.len(), 1);
    Ok(())
}

async fn rename(ctx: &Ctx, u: UserId, to: &str) -> Result<kinfolk::OwnProfile, kinfolk::Error> {
    ctx.svc
        .update_profile(
            u,
            ProfileUpdate {
                username: Some(Username::parse(to)?),
                ..Default::default()
            },
        )
        .await
}

pub async fn username_change_keeps_id(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "before").await;
    let p = rename(&ctx, a, "after").await?;
    assert_eq!(p.id, a);
    assert_eq!(p.username.as_str(), "after");
    assert_eq!(ctx.svc.get_profile(None, "after").await?.id(), a);
    Ok(())
}

pub async fn username_hold_blocks_others(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "oldname").await;
    let b = user(&ctx.svc, "other").await;
    rename(&ctx, a, "newname").await?;
    ctx.clock.advance(Duration::days(13));
    assert_code(
        ctx.svc.register(NewUser::new("OldName", "X")?).await,
        "username_taken",
    );
    assert_code(rename(&ctx, b, "oldname").await, "username_taken");
    Ok(())
}

pub async fn username_hold_owner_takes_back(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "first").await;
    rename(&ctx, a, "second").await?;
    ctx.clock.advance(Duration::days(3));
    let p = rename(&ctx, a, "First").await?;
    assert_eq!(p.username.as_str(), "First");
    // "second" is now held for a.
    assert_code(
        ctx.svc.register(NewUser::new("second", "X")?).await,
        "username_taken",
    );
    Ok(())
}

pub async fn username_hold_redirects_lookup(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "famous").await;
    rename(&ctx, a, "renamed").await?;
    let p = ctx.svc.get_profile(None, "famous").await?;
    assert_eq!(p.id(), a);
    assert_eq!(p.username().as_str(), "renamed");
    Ok(())
}

pub async fn username_hold_expires(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "ephemeral").await;
    rename(&ctx, a, "lasting").await?;
    ctx.clock.advance(Duration::days(14) + Duration::seconds(1));
    assert_code(ctx.svc.get_profile(None, "ephemeral").await, "not_found");
    let b = ctx
        .svc
        .register(NewUser::new("Ephemeral", "New owner")?)
        .await?
        .id;
    assert_ne!(a, b);
    assert_eq!(ctx.svc.get_profile(None, "ephemeral").await?.id(), b);
    Ok(())
}

pub async fn username_case_only_change(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "lower").await;
    let p = rename(&ctx, a, "LOWER").await?;
    assert_eq!(p.username.as_str(), "LOWER");
    assert_eq!(ctx.svc.get_profile(None, "lower").await?.id(), a);
    Ok(())
}

/// Issue 14, look-alikes: `al1ce`, `A_LICE` and `a_l_i_c_e` used to
/// register while `alice` existed. Usernames are now unique on their
/// skeleton (the look-alike fold of the reserved check), by default.
pub async fn username_unique_on_skeleton(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "bob_b").await;
    let before = seq(&ctx.svc).await;
    for name in ["al1ce", "A_LICE", "a_l_i_c_e", "4lice", "AL1C3", "_alice_"] {
        assert_code(
            ctx.svc.register(NewUser::new(name, "X")?).await,
            "username_taken",
        );
        assert_code(rename(&ctx, b, name).await, "username_taken");
        assert_code(
            ctx.svc.import_users(vec![NewUser::new(name, "X")?]).await,
            "username_taken",
        );
    }
    // Two rows of one import batch sharing a skeleton.
    assert_code(
        ctx.svc
            .import_users(vec![NewUser::new("zed", "Z")?, NewUser::new("z3d", "Z")?])
            .await,
        "username_taken",
    );
    assert_eq!(seq(&ctx.svc).await, before, "refusals store nothing");
    // Other skeletons are free.
    user(&ctx.svc, "alicia").await;
    user(&ctx.svc, "alice2").await;
    assert_eq!(ctx.svc.get_profile(None, "alice").await?.id(), a);
    crate::fixtures::check_invariants(&ctx.svc).await?;
    Ok(())
}

/// The username hold covers the skeleton; a user moves freely among their
/// own look-alikes; after the hold, the skeleton is free.
pub async fn username_skeleton_covered_by_hold_and_own_lookalikes_allowed(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "bobby").await;
    // Own look-alikes: allowed, and the skeleton stays the user's.
    rename(&ctx, a, "al1ce").await?;
    rename(&ctx, a, "A_LICE").await?;
    assert_code(
        ctx.svc.register(NewUser::new("alice", "X")?).await,
        "username_taken",
    );
    // Moving away: every look-alike is held for the hold period.
    rename(&ctx, a, "anna").await?;
    ctx.clock.advance(Duration::days(13));
    for name in ["alice", "a_lice", "AL1CE", "a_l_i_c_e"] {
        assert_code(rename(&ctx, b, name).await, "username_taken");
    }
    assert_code(
        ctx.svc.register(NewUser::new("4lice", "X")?).await,
        "username_taken",
    );
    // The owner may take any look-alike back.
    rename(&ctx, a, "alic3").await?;
    rename(&ctx, a, "anna").await?;
    crate::fixtures::check_invariants(&ctx.svc).await?;
    // After the hold, the skeleton is free for others.
    ctx.clock.advance(Duration::days(14) + Duration::seconds(1));
    let c = user(&ctx.svc, "a_lice").await;
    assert_eq!(ctx.svc.get_profile(None, "a_lice").await?.id(), c);
    assert_code(rename(&ctx, a, "alice").await, "username_taken");
    crate::fixtures::check_invariants(&ctx.svc).await?;
    Ok(())
}

/// `Config::unique_username_skeletons = false` keeps the older rule; when
/// turned back on, names registered meanwhile that share a skeleton keep
/// working and new look-alikes are refused again.
pub async fn username_skeleton_rule_switched_off_by_config(mut ctx: Ctx) -> TestResult {
    ctx.reconfigure(kinfolk::Config {
        unique_username_skeletons: false,
        ..kinfolk::Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "al1ce").await;
    let c = user(&ctx.svc, "A_LICE_").await;
    // Reserved look-alikes stay refused whatever the switch.
    assert_code(
        ctx.svc.register(NewUser::new("adm1n", "X")?).await,
        "username_reserved",
    );
    crate::fixtures::check_invariants(&ctx.svc).await?;
    ctx.reconfigure(kinfolk::Config::default()).await?;
    assert_code(
        ctx.svc.register(NewUser::new("a_lice", "X")?).await,
        "username_taken",
    );
    for (id, name) in [(a, "alice"), (b, "al1ce"), (c, "A_LICE_")] {
        assert_eq!(ctx.svc.get_profile(None, name).await?.id(), id);
    }
    // The sharers may change case or move among the shared skeleton.
    rename(&ctx, b, "AL1CE").await?;
    rename(&ctx, c, "a_l_ice").await?;
    crate::fixtures::check_invariants(&ctx.svc).await?;
    Ok(())
}

/// A store written before skeleton claims existed: two names already share
/// a skeleton. Migration (explicit, or implied by the first registration)
/// gives the skeleton to the earlier user; both names keep working, new
/// look-alikes are refused.
pub async fn username_skeleton_migration_keeps_shared_names_working(mut ctx: Ctx) -> TestResult {
    use kinfolk::user::is_skeleton_key;
    ctx.reconfigure(kinfolk::Config {
        unique_username_skeletons: false,
        ..kinfolk::Config::default()
    })
    .await?;
    let a = user(&ctx.svc, "alice").await;
    let b = user(&ctx.svc, "al1ce").await;
    let c = user(&ctx.svc, "bobby").await;
    rename(&ctx, c, "bob_b").await?; // "bobby" held: its skeleton too
    // Make it an old store: no skeleton claims, no marker.
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
        for u in [a, b, c] {
            for cl in tx.username_claims_of(u)? {
                if is_skeleton_key(&cl.folded) {
                    tx.delete_username_claim(&cl.folded)?;
                }
            }
        }
        tx.delete_username_claim("~")
    })
    .await?;
    ctx.reconfigure(kinfolk::Config::default()).await?;
    let done = ctx.svc.migrate_username_skeletons().await?;
    assert_eq!(
        (done.users, done.claims_added, done.names_sharing),
        (3, 3, 1),
        "{done:?}"
    );
    assert_eq!(
        ctx.svc.migrate_username_skeletons().await?,
        kinfolk::SkeletonMigration::default(),
        "idempotent"
    );
    for (id, name) in [(a, "alice"), (b, "al1ce"), (c, "bob_b"), (c, "bobby")] {
        assert_eq!(ctx.svc.get_profile(None, name).await?.id(), id, "{name}");
    }
    for name in ["a_lice", "4lice", "b0bby", "BOB_B_"] {
        assert_code(
            ctx.svc.register(NewUser::new(name, "X")?).await,
            "username_taken",
        );
    }
    // Both sharers keep working: rename within the skeleton, act, delete.
    rename(&ctx, b, "Al1ce").await?;
    rename(&ctx, a, "ALICE").await?;
    crate::fixtures::follow(&ctx.svc, a, b).await;
    crate::fixtures::check_invariants(&ctx.svc).await?;
    ctx.svc.delete_account(b).await?;
    assert_eq!(ctx.svc.get_profile(None, "alice").await?.id(), a);
    crate::fixtures::check_invariants(&ctx.svc).await?;

    // The same old state again, now migrated by the first registration.
    ctx.reconfigure(kinfolk::Config {
        unique_username_skeletons: false,
        ..kinfolk::Config::default()
    })
    .await?;
    let d = user(&ctx.svc, "d4ve").await;
    let e = user(&ctx.svc, "dave").await;
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
        for u in [a, c, d, e] {
            for cl in tx.username_claims_of(u)? {
                if is_skeleton_key(&cl.folded) {
                    tx.delete_username_claim(&cl.folded)?;
                }
            }
        }
        tx.delete_username_claim("~")
    })
    .await?;
    ctx.reconfigure(kinfolk::Config::default()).await?;
    assert_code(
        ctx.svc.register(NewUser::new("D_AVE", "X")?).await,
        "username_taken",
    );
    user(&ctx.svc, "erin").await;
    assert_code(
        ctx.svc.register(NewUser::new("a_lice", "X")?).await,
        "username_taken",
    );
    assert_eq!(ctx.svc.get_profile(None, "dave").await?.id(), e);
    assert_eq!(ctx.svc.get_profile(None, "d4ve").await?.id(), d);
    crate::fixtures::check_invariants(&ctx.svc).await?;
    Ok(())
}

/// Skeleton claims live beside the case-folded ones (`~alice`), but no
/// lookup ever finds a user by one.
pub async fn username_lookup_never_finds_a_skeleton_claim(ctx: Ctx) -> TestResult {
    user(&ctx.svc, "alice").await;
    for key in ["~alice", "@~alice", "~", "al1ce", "a_lice"] {
        assert_code(ctx.svc.get_profile(None, key).await, "not_found");
    }
    Ok(())
}

pub async fn ids_are_uuid_v7(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "uuid").await;
    assert_eq!(a.as_uuid().get_version_num(), 7);
    let json = serde_json::to_string(&a)?;
    assert_eq!(json, format!("\"{}\"", a.as_uuid().hyphenated()));
    Ok(())
}

pub async fn connected_accounts_link_find_unlink(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "linker").await;
    let acct = ctx
        .svc
        .link_account(a, "GitHub", "123", "linker-gh")
        .await?;
    assert_eq!(acct.provider, "github");
    assert_eq!(
        ctx.svc.find_by_connected_account("github", "123").await?.id,
        a
    );
    assert_eq!(ctx.svc.me(a).await?.connected_accounts.len(), 1);
    assert!(ctx.svc.unlink_account(a, "github", "123").await?);
    assert!(!ctx.svc.unlink_account(a, "github", "123").await?);
    assert_code(
        ctx.svc.find_by_connected_account("github", "123").await,
        "not_found",
    );
    assert_code(ctx.svc.link_account(a, "", "1", "h").await, "validation");
    assert_code(
        ctx.svc.link_account(a, "git hub", "1", "h").await,
        "validation",
    );
    assert_code(
        ctx.svc.link_account(a, "github", "", "h").await,
        "validation",
    );
    Ok(())
}

pub async fn connected_account_unique_across_users(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "owner1").await;
    let b = user(&ctx.svc, "owner2").await;
    ctx.svc.link_account(a, "google", "g-1", "a@g").await?;
    let before = seq(&ctx.svc).await;
    assert_code(
        ctx.svc.link_account(b, "google", "g-1", "b@g").await,
        "conflict",
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert!(!ctx.svc.unlink_account(b, "google", "g-1").await?);
    assert_eq!(
        ctx.svc.find_by_connected_account("google", "g-1").await?.id,
        a
    );
    Ok(())
}

pub async fn connected_accounts_owner_only(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "privacc").await;
    let b = user(&ctx.svc, "snoop").await;
    ctx.svc.link_account(a, "github", "7", "privacc-gh").await?;
    let json = serde_json::to_string(&ctx.svc.get_profile(Some(b), "privacc").await?)?;
    assert!(!json.contains("privacc-gh"));
    assert!(!json.contains("connected_accounts"));
    Ok(())
}
