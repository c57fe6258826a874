//! SPEC §4: settings — partial update, validation, version and conflicts,
//! and the effect of turning `private_account` off.

use kinfolk::{
    Audience, Change, EmailDigest, FollowAction, LanguageTag, ListVisibility, ProfileView,
    Settings, SettingsPatch, Theme, TimeZoneName, UserId,
};

use crate::fixtures::{assert_code, check_invariants, follow, make_private, seq, user};
use crate::{Ctx, TestResult};

fn patch(json: &str) -> SettingsPatch {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("patch {json}: {e}"))
}

async fn edit(ctx: &Ctx, u: UserId, json: &str) -> Result<Settings, kinfolk::Error> {
    ctx.svc.edit_settings(u, patch(json)).await
}

async fn current(ctx: &Ctx, u: UserId) -> Settings {
    ctx.svc.me(u).await.expect("me").settings
}

pub async fn defaults_as_documented(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "fresh").await;
    let s = current(&ctx, u).await;
    assert_eq!(s, Settings::default());
    assert_eq!(s.version, 1);
    let n = &s.notifications;
    assert!(n.new_follower && n.follow_request && n.mention && n.room_invite);
    assert_eq!(n.email_digest, EmailDigest::Weekly);
    let p = &s.privacy;
    assert!(!p.private_account);
    assert!(p.discoverable);
    assert_eq!(p.followers_visibility, ListVisibility::Public);
    assert_eq!(p.following_visibility, ListVisibility::Public);
    assert!(p.show_counts);
    assert_eq!(p.allow_mentions, Audience::Everyone);
    assert_eq!(p.allow_room_invites, Audience::Everyone);
    let d = &s.display;
    assert_eq!(d.theme, Theme::System);
    assert_eq!(d.language.as_str(), "en");
    assert_eq!(d.timezone.as_str(), "UTC");
    assert!(!d.compact);
    Ok(())
}

pub async fn defaults_json_shape(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "shape").await;
    let s = current(&ctx, u).await;
    let v = serde_json::to_value(&s)?;
    let expected = serde_json::json!({
        "version": 1,
        "notifications": {
            "new_follower": true, "follow_request": true, "mention": true,
            "room_invite": true, "email_digest": "weekly"
        },
        "privacy": {
            "private_account": false, "discoverable": true,
            "followers_visibility": "public", "following_visibility": "public",
            "show_counts": true, "allow_mentions": "everyone", "allow_room_invites": "everyone"
        },
        "display": {"theme": "system", "language": "en", "timezone": "UTC", "compact": false}
    });
    assert_eq!(v, expected);
    let back: Settings = serde_json::from_value(v)?;
    assert_eq!(back, s);
    Ok(())
}

pub async fn notification_fields_each_patchable(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "notif").await;
    let s = edit(&ctx, u, r#"{"notifications":{"new_follower":false}}"#).await?;
    assert!(!s.notifications.new_follower);
    assert!(s.notifications.follow_request);
    let s = edit(&ctx, u, r#"{"notifications":{"follow_request":false}}"#).await?;
    assert!(!s.notifications.follow_request);
    assert!(!s.notifications.new_follower, "earlier change kept");
    let s = edit(&ctx, u, r#"{"notifications":{"mention":false}}"#).await?;
    assert!(!s.notifications.mention);
    let s = edit(&ctx, u, r#"{"notifications":{"room_invite":false}}"#).await?;
    assert!(!s.notifications.room_invite);
    let s = edit(&ctx, u, r#"{"notifications":{"email_digest":"never"}}"#).await?;
    assert_eq!(s.notifications.email_digest, EmailDigest::Never);
    assert_eq!(s.version, 6, "five changes on top of version 1");
    // Everything else still at its default.
    let mut expect = Settings {
        version: 6,
        ..Settings::default()
    };
    expect.notifications.new_follower = false;
    expect.notifications.follow_request = false;
    expect.notifications.mention = false;
    expect.notifications.room_invite = false;
    expect.notifications.email_digest = EmailDigest::Never;
    assert_eq!(current(&ctx, u).await, expect);
    Ok(())
}

pub async fn privacy_fields_each_patchable(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "priv").await;
    edit(&ctx, u, r#"{"privacy":{"private_account":true}}"#).await?;
    edit(&ctx, u, r#"{"privacy":{"discoverable":false}}"#).await?;
    edit(
        &ctx,
        u,
        r#"{"privacy":{"followers_visibility":"followers"}}"#,
    )
    .await?;
    edit(&ctx, u, r#"{"privacy":{"following_visibility":"owner"}}"#).await?;
    edit(&ctx, u, r#"{"privacy":{"show_counts":false}}"#).await?;
    edit(&ctx, u, r#"{"privacy":{"allow_mentions":"following"}}"#).await?;
    let s = edit(&ctx, u, r#"{"privacy":{"allow_room_invites":"nobody"}}"#).await?;
    let mut expect = Settings {
        version: 8,
        ..Settings::default()
    };
    expect.privacy.private_account = true;
    expect.privacy.discoverable = false;
    expect.privacy.followers_visibility = ListVisibility::Followers;
    expect.privacy.following_visibility = ListVisibility::Owner;
    expect.privacy.show_counts = false;
    expect.privacy.allow_mentions = Audience::Following;
    expect.privacy.allow_room_invites = Audience::Nobody;
    assert_eq!(s, expect);
    assert_eq!(current(&ctx, u).await, expect);
    Ok(())
}

pub async fn display_fields_each_patchable(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "disp").await;
    edit(&ctx, u, r#"{"display":{"theme":"dark"}}"#).await?;
    edit(&ctx, u, r#"{"display":{"language":"pt-BR"}}"#).await?;
    edit(&ctx, u, r#"{"display":{"timezone":"Europe/Paris"}}"#).await?;
    let s = edit(&ctx, u, r#"{"display":{"compact":true}}"#).await?;
    let mut expect = Settings {
        version: 5,
        ..Settings::default()
    };
    expect.display.theme = Theme::Dark;
    expect.display.language = LanguageTag::parse("pt-BR")?;
    expect.display.timezone = TimeZoneName::parse("Europe/Paris")?;
    expect.display.compact = true;
    assert_eq!(s, expect);
    assert_eq!(s.display.language.as_str(), "pt-BR");
    assert_eq!(s.display.timezone.as_str(), "Europe/Paris");
    assert_eq!(current(&ctx, u).await, expect);
    Ok(())
}

pub async fn enum_values_accepted(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "enums").await;
    for (v, want) in [
        ("never", EmailDigest::Never),
        ("daily", EmailDigest::Daily),
        ("weekly", EmailDigest::Weekly),
    ] {
        let s = edit(
            &ctx,
            u,
            &format!(r#"{{"notifications":{{"email_digest":"{v}"}}}}"#),
        )
        .await?;
        assert_eq!(s.notifications.email_digest, want);
    }
    for (v, want) in [
        ("owner", ListVisibility::Owner),
        ("followers", ListVisibility::Followers),
        ("public", ListVisibility::Public),
    ] {
        let s = edit(
            &ctx,
            u,
            &format!(
                r#"{{"privacy":{{"followers_visibility":"{v}","following_visibility":"{v}"}}}}"#
            ),
        )
        .await?;
        assert_eq!(s.privacy.followers_visibility, want);
        assert_eq!(s.privacy.following_visibility, want);
    }
    for (v, want) in [
        ("nobody", Audience::Nobody),
        ("following", Audience::Following),
        ("everyone", Audience::Everyone),
    ] {
        let s = edit(
            &ctx,
            u,
            &format!(r#"{{"privacy":{{"allow_mentions":"{v}","allow_room_invites":"{v}"}}}}"#),
        )
        .await?;
        assert_eq!(s.privacy.allow_mentions, want);
        assert_eq!(s.privacy.allow_room_invites, want);
    }
    for (v, want) in [
        ("light", Theme::Light),
        ("dark", Theme::Dark),
        ("system", Theme::System),
    ] {
        let s = edit(&ctx, u, &format!(r#"{{"display":{{"theme":"{v}"}}}}"#)).await?;
        assert_eq!(s.display.theme, want);
    }
    Ok(())
}

pub async fn enum_values_unknown_refused(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"notifications":{"email_digest":"monthly"}}"#,
        r#"{"notifications":{"email_digest":"Weekly"}}"#,
        r#"{"notifications":{"email_digest":""}}"#,
        r#"{"privacy":{"followers_visibility":"friends"}}"#,
        r#"{"privacy":{"following_visibility":"PUBLIC"}}"#,
        r#"{"privacy":{"allow_mentions":"all"}}"#,
        r#"{"privacy":{"allow_room_invites":"followers"}}"#,
        r#"{"display":{"theme":"solarized"}}"#,
    ] {
        assert!(
            serde_json::from_str::<SettingsPatch>(bad).is_err(),
            "accepted {bad}"
        );
    }
    Ok(())
}

pub async fn wrong_json_types_refused(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"notifications":{"mention":"yes"}}"#,
        r#"{"notifications":{"mention":1}}"#,
        r#"{"privacy":{"private_account":"true"}}"#,
        r#"{"display":{"compact":0}}"#,
        r#"{"display":{"language":5}}"#,
        r#"{"notifications":true}"#,
        r#"{"privacy":"private"}"#,
        r#"{"expected_version":"1"}"#,
        r#"{"expected_version":-1}"#,
        r#""""#,
    ] {
        assert!(
            serde_json::from_str::<SettingsPatch>(bad).is_err(),
            "accepted {bad}"
        );
    }
    Ok(())
}

pub async fn unknown_field_refused_top_level(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"colour":"red"}"#,
        r#"{"version":2}"#,
        r#"{"notification":{"mention":false}}"#,
        r#"{"privacy":{"discoverable":true},"extra":null}"#,
    ] {
        let err = serde_json::from_str::<SettingsPatch>(bad).expect_err(bad);
        assert!(err.to_string().contains("unknown field"), "{bad}: {err}");
    }
    Ok(())
}

pub async fn unknown_field_refused_in_notifications(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"notifications":{"likes":true}}"#,
        r#"{"notifications":{"mention":true,"Mention":true}}"#,
        r#"{"notifications":{"private_account":true}}"#,
    ] {
        let err = serde_json::from_str::<SettingsPatch>(bad).expect_err(bad);
        assert!(err.to_string().contains("unknown field"), "{bad}: {err}");
    }
    Ok(())
}

pub async fn unknown_field_refused_in_privacy(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"privacy":{"private":true}}"#,
        r#"{"privacy":{"theme":"dark"}}"#,
        r#"{"privacy":{"discoverable":true,"searchable":true}}"#,
    ] {
        let err = serde_json::from_str::<SettingsPatch>(bad).expect_err(bad);
        assert!(err.to_string().contains("unknown field"), "{bad}: {err}");
    }
    Ok(())
}

pub async fn unknown_field_refused_in_display(_ctx: Ctx) -> TestResult {
    for bad in [
        r#"{"display":{"font":"serif"}}"#,
        r#"{"display":{"lang":"en"}}"#,
        r#"{"display":{"timezone":"UTC","tz":"UTC"}}"#,
    ] {
        let err = serde_json::from_str::<SettingsPatch>(bad).expect_err(bad);
        assert!(err.to_string().contains("unknown field"), "{bad}: {err}");
    }
    // The full stored shape is strict too.
    let mut v = serde_json::to_value(Settings::default())?;
    v["display"]["font"] = serde_json::json!("serif");
    assert!(serde_json::from_value::<Settings>(v).is_err());
    Ok(())
}

/// Issue 14 item 6: a bad settings patch came back from serde as a
/// `serde_json::Error`; arrays were read positionally
/// (`{"privacy":[true,false]}`) and `null` as "unchanged".
/// `SettingsPatch::from_json` answers `Validation` naming the field, refuses
/// arrays where an object is meant and `null`, and refuses every row of the
/// corpus's bad patches; a patch it accepts equals serde's reading.
pub async fn from_json_typed_errors_name_the_field(ctx: Ctx) -> TestResult {
    let a = user(&ctx.svc, "ada").await;
    let before = seq(&ctx.svc).await;
    let cases: &[(&str, &str)] = &[
        (r#"{"privacy":[true,false]}"#, "privacy"),
        (r#"{"notifications":[true]}"#, "notifications"),
        (r#"{"display":["dark"]}"#, "display"),
        (r#"{"privacy":null}"#, "privacy"),
        (
            r#"{"privacy":{"private_account":null}}"#,
            "privacy.private_account",
        ),
        (
            r#"{"privacy":{"private_account":"yes"}}"#,
            "privacy.private_account",
        ),
        (
            r#"{"privacy":{"followers_visibility":"friends"}}"#,
            "privacy.followers_visibility",
        ),
        (
            r#"{"privacy":{"allow_mentions":[]}}"#,
            "privacy.allow_mentions",
        ),
        (r#"{"privacy":{"privat_account":true}}"#, "privacy"),
        (
            r#"{"notifications":{"email_digest":"hourly"}}"#,
            "notifications.email_digest",
        ),
        (r#"{"notifications":{"sms":true}}"#, "notifications"),
        (r#"{"display":{"language":"english"}}"#, "display.language"),
        (
            r#"{"display":{"timezone":"Mars/Olympus"}}"#,
            "display.timezone",
        ),
        (r#"{"display":{"theme":null}}"#, "display.theme"),
        (r#"{"expected_version":"1"}"#, "expected_version"),
        (r#"{"expected_version":null}"#, "expected_version"),
        (r#"{"colour":"red"}"#, "patch"),
        (r#"[{"privacy":{}}]"#, "patch"),
        (r#"null"#, "patch"),
        (r#"{"privacy":{"private_account":true}"#, "patch"),
        (
            r#"{"privacy":{"private_account":true},"privacy":{"private_account":false}}"#,
            "patch",
        ),
    ];
    for (json, field) in cases {
        match SettingsPatch::from_json(json) {
            Err(kinfolk::Error::Validation { field: f, .. }) => {
                assert_eq!(f, *field, "{json}")
            }
            other => panic!("{json}: expected validation on `{field}`, got {other:?}"),
        }
    }
    for json in crate::corpus::bad_settings_json() {
        assert_code(SettingsPatch::from_json(&json), "validation");
    }
    assert_eq!(seq(&ctx.svc).await, before);
    for json in [
        r#"{}"#,
        r#"{"expected_version":1,"privacy":{"private_account":true}}"#,
        r#"{"notifications":{"email_digest":"daily"},"display":{"language":"pt-BR","timezone":"Europe/Paris","theme":"dark","compact":true}}"#,
    ] {
        let p = SettingsPatch::from_json(json)?;
        assert_eq!(p, serde_json::from_str::<SettingsPatch>(json)?, "{json}");
        ctx.svc.edit_settings(a, p).await?;
    }
    let me = ctx.svc.me(a).await?;
    assert_eq!(me.settings.display.theme, Theme::Dark);
    Ok(())
}

pub async fn absent_fields_unchanged(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "partial").await;
    edit(
        &ctx,
        u,
        r#"{"notifications":{"mention":false},"privacy":{"show_counts":false},"display":{"theme":"light"}}"#,
    )
    .await?;
    let s = edit(&ctx, u, r#"{"display":{"compact":true}}"#).await?;
    assert!(!s.notifications.mention);
    assert!(!s.privacy.show_counts);
    assert_eq!(s.display.theme, Theme::Light);
    assert!(s.display.compact);
    assert_eq!(s.display.language.as_str(), "en");
    assert_eq!(s.version, 3, "a multi-field patch bumps the version once");
    Ok(())
}

pub async fn empty_patch_is_noop(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "noop").await;
    let before_settings = edit(&ctx, u, r#"{"display":{"theme":"dark"}}"#).await?;
    let updated_at = ctx.svc.me(u).await?.updated_at;
    ctx.clock.advance(chrono::Duration::hours(1));
    let before = seq(&ctx.svc).await;
    for json in [
        "{}",
        r#"{"notifications":{}}"#,
        r#"{"privacy":{},"display":{}}"#,
        r#"{"notifications":null,"privacy":null,"display":null}"#,
        r#"{"expected_version":2}"#,
    ] {
        let s = edit(&ctx, u, json).await?;
        assert_eq!(s, before_settings, "{json} returns the current settings");
    }
    let s = ctx.svc.edit_settings(u, SettingsPatch::default()).await?;
    assert_eq!(s, before_settings);
    assert_eq!(s.version, 2, "no bump");
    assert_eq!(seq(&ctx.svc).await, before, "no event");
    assert_eq!(
        ctx.svc.me(u).await?.updated_at,
        updated_at,
        "updated_at kept"
    );
    Ok(())
}

pub async fn same_value_patch_is_noop(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "same").await;
    let before = seq(&ctx.svc).await;
    let s = edit(
        &ctx,
        u,
        r#"{"notifications":{"mention":true,"email_digest":"weekly"},"privacy":{"private_account":false},"display":{"language":"en","timezone":"UTC","theme":"system"}}"#,
    )
    .await?;
    assert_eq!(s, Settings::default());
    assert_eq!(s.version, 1);
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn version_bumps_once_per_change(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "bumper").await;
    let before = seq(&ctx.svc).await;
    let s = edit(
        &ctx,
        u,
        r#"{"notifications":{"mention":false,"room_invite":false},"display":{"compact":true}}"#,
    )
    .await?;
    assert_eq!(s.version, 2);
    let s = edit(&ctx, u, r#"{"display":{"compact":false}}"#).await?;
    assert_eq!(s.version, 3);
    // Setting it back to what it was is still a change.
    let s = edit(&ctx, u, r#"{"display":{"compact":true}}"#).await?;
    assert_eq!(s.version, 4);
    assert_eq!(current(&ctx, u).await.version, 4);
    let events = ctx.svc.changes_since(before, 100).await?;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.change == Change::SettingsChanged { user: u })
    );
    Ok(())
}

pub async fn expected_version_current_accepted(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "careful").await;
    let s = edit(
        &ctx,
        u,
        r#"{"expected_version":1,"display":{"theme":"dark"}}"#,
    )
    .await?;
    assert_eq!(s.version, 2);
    let s = edit(
        &ctx,
        u,
        r#"{"expected_version":2,"display":{"theme":"light"}}"#,
    )
    .await?;
    assert_eq!(s.version, 3);
    assert_eq!(s.display.theme, Theme::Light);
    Ok(())
}

pub async fn expected_version_stale_conflict_nothing_changed(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "stale").await;
    let a = user(&ctx.svc, "asker").await;
    make_private(&ctx.svc, u).await; // version 2
    follow(&ctx.svc, a, u).await; // pending request
    let before_settings = current(&ctx, u).await;
    let before = seq(&ctx.svc).await;
    // Stale: made against version 1. It would also turn private off (which
    // would approve the request) — none of it may happen.
    let r = edit(
        &ctx,
        u,
        r#"{"expected_version":1,"privacy":{"private_account":false},"display":{"theme":"dark"}}"#,
    )
    .await;
    assert_code(r, "conflict");
    assert_eq!(current(&ctx, u).await, before_settings);
    assert_eq!(seq(&ctx.svc).await, before);
    let me = ctx.svc.me(u).await?;
    assert_eq!(me.stats.pending_follow_requests, 1);
    assert_eq!(me.stats.followers_count, 0);
    // The error maps to 409.
    let e = edit(
        &ctx,
        u,
        r#"{"expected_version":1,"display":{"compact":true}}"#,
    )
    .await
    .expect_err("stale");
    assert_eq!(e.http_status(), 409);
    Ok(())
}

pub async fn expected_version_future_conflict(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "future").await;
    let before = seq(&ctx.svc).await;
    assert_code(
        edit(
            &ctx,
            u,
            r#"{"expected_version":2,"display":{"theme":"dark"}}"#,
        )
        .await,
        "conflict",
    );
    assert_code(
        edit(
            &ctx,
            u,
            r#"{"expected_version":0,"display":{"theme":"dark"}}"#,
        )
        .await,
        "conflict",
    );
    assert_eq!(current(&ctx, u).await, Settings::default());
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn two_clients_never_silently_undo(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "twoclients").await;
    // Both clients read version 1.
    let read = current(&ctx, u).await.version;
    // Client A turns dark mode on.
    ctx.svc
        .edit_settings(
            u,
            patch(&format!(
                r#"{{"expected_version":{read},"display":{{"theme":"dark"}}}}"#
            )),
        )
        .await?;
    // Client B, from the same stale read, tries to set light.
    let r = ctx
        .svc
        .edit_settings(
            u,
            patch(&format!(
                r#"{{"expected_version":{read},"display":{{"theme":"light"}}}}"#
            )),
        )
        .await;
    assert_code(r, "conflict");
    assert_eq!(current(&ctx, u).await.display.theme, Theme::Dark);
    Ok(())
}

pub async fn language_tag_valid_accepted(ctx: Ctx) -> TestResult {
    for good in [
        "en",
        "en-GB",
        "pt-BR",
        "zh-Hant-TW",
        "de-CH-1996",
        "es-419",
        "fr",
    ] {
        assert_eq!(LanguageTag::parse(good)?.as_str(), good);
    }
    // BCP 47 tags are case-insensitive; the stored form is canonical.
    assert_eq!(LanguageTag::parse("en-gb")?.as_str(), "en-GB");
    assert_eq!(LanguageTag::parse("ZH-hant-tw")?.as_str(), "zh-Hant-TW");
    let u = user(&ctx.svc, "polyglot").await;
    let s = edit(&ctx, u, r#"{"display":{"language":"en-GB"}}"#).await?;
    assert_eq!(s.display.language.as_str(), "en-GB");
    assert_eq!(current(&ctx, u).await.display.language.as_str(), "en-GB");
    Ok(())
}

pub async fn language_tag_invalid_refused(ctx: Ctx) -> TestResult {
    for bad in [
        "english!", "", "en_GB", "e", "english", "zz-ZZ", "en--GB", "-en", "en-", "1234", "en GB",
    ] {
        match LanguageTag::parse(bad) {
            Err(kinfolk::Error::Validation { field, .. }) => assert_eq!(field, "language", "{bad}"),
            other => panic!("{bad:?}: expected validation(language), got {other:?}"),
        }
    }
    assert_code(
        LanguageTag::parse(&format!("en-{}", "a".repeat(100))),
        "validation",
    );
    let u = user(&ctx.svc, "monoglot").await;
    let before = seq(&ctx.svc).await;
    let err = serde_json::from_str::<SettingsPatch>(r#"{"display":{"language":"english!"}}"#)
        .expect_err("refused");
    assert!(err.to_string().contains("language"), "{err}");
    assert_eq!(current(&ctx, u).await.display.language.as_str(), "en");
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn timezone_iana_accepted(ctx: Ctx) -> TestResult {
    for good in [
        "Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "Asia/Kolkata",
        "UTC",
        "Pacific/Chatham",
    ] {
        assert_eq!(TimeZoneName::parse(good)?.as_str(), good);
    }
    let u = user(&ctx.svc, "traveller").await;
    let s = edit(&ctx, u, r#"{"display":{"timezone":"Asia/Tokyo"}}"#).await?;
    assert_eq!(s.display.timezone.as_str(), "Asia/Tokyo");
    Ok(())
}

pub async fn timezone_unknown_refused(ctx: Ctx) -> TestResult {
    for bad in [
        "Mars/Olympus",
        "",
        "Europe/Pariss",
        "Europe",
        "+02:00",
        "GMT+25",
        "Europe/Paris/Extra",
        "../etc/passwd",
    ] {
        match TimeZoneName::parse(bad) {
            Err(kinfolk::Error::Validation { field, .. }) => assert_eq!(field, "timezone", "{bad}"),
            other => panic!("{bad:?}: expected validation(timezone), got {other:?}"),
        }
    }
    let u = user(&ctx.svc, "lost").await;
    let before = seq(&ctx.svc).await;
    let err = serde_json::from_str::<SettingsPatch>(r#"{"display":{"timezone":"Mars/Olympus"}}"#)
        .expect_err("refused");
    assert!(err.to_string().contains("timezone"), "{err}");
    assert_eq!(current(&ctx, u).await.display.timezone.as_str(), "UTC");
    assert_eq!(seq(&ctx.svc).await, before);
    Ok(())
}

pub async fn private_on_makes_follows_requests(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "guarded").await;
    let f = user(&ctx.svc, "hopeful").await;
    edit(&ctx, p, r#"{"privacy":{"private_account":true}}"#).await?;
    let out = ctx
        .svc
        .toggle_follow(f, p, Some(FollowAction::Follow))
        .await?;
    assert!(out.changed);
    assert!(out.relationship.requested);
    assert!(!out.relationship.following);
    let me = ctx.svc.me(p).await?;
    assert_eq!(me.stats.followers_count, 0);
    assert_eq!(me.stats.pending_follow_requests, 1);
    Ok(())
}

pub async fn private_on_keeps_existing_followers(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "closing").await;
    let f = user(&ctx.svc, "early").await;
    follow(&ctx.svc, f, p).await;
    edit(&ctx, p, r#"{"privacy":{"private_account":true}}"#).await?;
    assert_eq!(ctx.svc.me(p).await?.stats.followers_count, 1);
    let rel = ctx.svc.relationships(f, &[p]).await?;
    assert!(rel[0].relationship.following);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn private_off_approves_all_pending(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "opening").await;
    let existing = user(&ctx.svc, "existing").await;
    follow(&ctx.svc, existing, p).await;
    make_private(&ctx.svc, p).await;
    let askers = crate::fixtures::users(&ctx.svc, "asker", 3).await;
    for a in &askers {
        follow(&ctx.svc, *a, p).await;
    }
    assert_eq!(ctx.svc.me(p).await?.stats.pending_follow_requests, 3);
    let before = seq(&ctx.svc).await;
    let s = edit(&ctx, p, r#"{"privacy":{"private_account":false}}"#).await?;
    assert!(!s.privacy.private_account);
    assert_eq!(s.version, 3, "one bump, however many approvals");
    let me = ctx.svc.me(p).await?;
    assert_eq!(me.stats.pending_follow_requests, 0);
    assert_eq!(me.stats.followers_count, 4);
    for a in &askers {
        assert_eq!(ctx.svc.me(*a).await?.stats.following_count, 1);
    }
    let rels = ctx.svc.relationships(p, &askers).await?;
    for r in &rels {
        assert!(r.relationship.followed_by);
        assert!(!r.relationship.requested_by);
    }
    let page = ctx.svc.follow_requests(p, Default::default()).await?;
    assert!(page.items.is_empty());
    // Events: the settings change, then one approval per request, oldest first.
    let events: Vec<Change> = ctx
        .svc
        .changes_since(before, 100)
        .await?
        .into_iter()
        .map(|e| e.change)
        .collect();
    let mut expect = vec![Change::SettingsChanged { user: p }];
    expect.extend(askers.iter().map(|a| Change::FollowApproved {
        requester: *a,
        target: p,
    }));
    assert_eq!(events, expect);
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn private_off_without_pending_only_settings_event(ctx: Ctx) -> TestResult {
    let p = user(&ctx.svc, "quiet").await;
    make_private(&ctx.svc, p).await;
    let before = seq(&ctx.svc).await;
    edit(&ctx, p, r#"{"privacy":{"private_account":false}}"#).await?;
    let events = ctx.svc.changes_since(before, 100).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::SettingsChanged { user: p });
    // A later follow is direct again.
    let f = user(&ctx.svc, "direct").await;
    let out = ctx.svc.toggle_follow(f, p, None).await?;
    assert!(out.relationship.following);
    Ok(())
}

pub async fn show_counts_off_hides_counts_from_others(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "counted").await;
    let v = user(&ctx.svc, "counter").await;
    follow(&ctx.svc, v, u).await;
    let shown = |view: ProfileView| match view {
        ProfileView::Public(p) => p.stats.map(|s| s.followers_count),
        ProfileView::Own(_) => panic!("not the owner"),
    };
    assert_eq!(
        shown(ctx.svc.get_profile(Some(v), "counted").await?),
        Some(1)
    );
    edit(&ctx, u, r#"{"privacy":{"show_counts":false}}"#).await?;
    assert_eq!(shown(ctx.svc.get_profile(Some(v), "counted").await?), None);
    assert_eq!(shown(ctx.svc.get_profile(None, "counted").await?), None);
    // The owner still sees them.
    assert_eq!(ctx.svc.me(u).await?.stats.followers_count, 1);
    Ok(())
}

pub async fn settings_only_owner_sees(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "secretive").await;
    let v = user(&ctx.svc, "nosy").await;
    edit(&ctx, u, r#"{"display":{"timezone":"Pacific/Chatham"}}"#).await?;
    for viewer in [Some(v), None] {
        let json = serde_json::to_string(&ctx.svc.get_profile(viewer, "secretive").await?)?;
        assert!(!json.contains("Chatham"), "{json}");
        assert!(!json.contains("email_digest"), "{json}");
    }
    match ctx.svc.get_profile(Some(u), "secretive").await? {
        ProfileView::Own(p) => assert_eq!(p.settings.display.timezone.as_str(), "Pacific/Chatham"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

pub async fn edit_settings_returns_stored_settings(ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "echo").await;
    let s = edit(
        &ctx,
        u,
        r#"{"privacy":{"allow_mentions":"nobody"},"display":{"language":"fr","compact":true}}"#,
    )
    .await?;
    assert_eq!(s, current(&ctx, u).await);
    let export = ctx.svc.export(u).await?;
    assert_eq!(export.user.settings, s);
    Ok(())
}

pub async fn settings_survive_reopen(mut ctx: Ctx) -> TestResult {
    let u = user(&ctx.svc, "durable").await;
    let s = edit(
        &ctx,
        u,
        r#"{"notifications":{"email_digest":"daily"},"privacy":{"following_visibility":"followers"},"display":{"timezone":"America/New_York","language":"es-419"}}"#,
    )
    .await?;
    ctx.reopen().await?;
    assert_eq!(current(&ctx, u).await, s);
    let s2 = edit(
        &ctx,
        u,
        r#"{"expected_version":2,"display":{"theme":"dark"}}"#,
    )
    .await?;
    assert_eq!(s2.version, 3);
    Ok(())
}

pub async fn edit_settings_bad_caller(ctx: Ctx) -> TestResult {
    let ghost = UserId::new();
    assert_code(
        edit(&ctx, ghost, r#"{"display":{"theme":"dark"}}"#).await,
        "unauthenticated",
    );
    let u = user(&ctx.svc, "dozing").await;
    ctx.svc.deactivate(u).await?;
    let before = seq(&ctx.svc).await;
    assert_code(
        edit(&ctx, u, r#"{"display":{"theme":"dark"}}"#).await,
        "deactivated",
    );
    assert_eq!(seq(&ctx.svc).await, before);
    assert_eq!(current(&ctx, u).await, Settings::default());
    Ok(())
}

pub async fn patch_json_round_trips(_ctx: Ctx) -> TestResult {
    // Absent fields stay absent when a patch is serialised again.
    assert_eq!(serde_json::to_string(&SettingsPatch::default())?, "{}");
    let json = r#"{"expected_version":4,"notifications":{"email_digest":"daily"},"privacy":{"allow_mentions":"nobody"},"display":{"language":"en-GB","timezone":"Europe/Paris"}}"#;
    let p = patch(json);
    let v = serde_json::to_value(&p)?;
    assert_eq!(v, serde_json::from_str::<serde_json::Value>(json)?);
    let back: SettingsPatch = serde_json::from_value(v)?;
    assert_eq!(back, p);
    Ok(())
}

pub async fn private_off_approves_more_than_a_batch(ctx: Ctx) -> TestResult {
    // More pending requests than one internal scan batch (512).
    let p = user(&ctx.svc, "celebrity").await;
    make_private(&ctx.svc, p).await;
    let askers = crate::fixtures::users(&ctx.svc, "fan", 530).await;
    for a in &askers {
        follow(&ctx.svc, *a, p).await;
    }
    let before = seq(&ctx.svc).await;
    edit(&ctx, p, r#"{"privacy":{"private_account":false}}"#).await?;
    let me = ctx.svc.me(p).await?;
    assert_eq!(me.stats.followers_count, 530);
    assert_eq!(me.stats.pending_follow_requests, 0);
    let events = ctx.svc.changes_since(before, 1000).await?;
    assert_eq!(events.len(), 531);
    let approved: Vec<UserId> = events[1..]
        .iter()
        .map(|e| match e.change {
            Change::FollowApproved { requester, target } => {
                assert_eq!(target, p);
                requester
            }
            ref other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(approved, askers, "oldest request approved first");
    check_invariants(&ctx.svc).await?;
    Ok(())
}

pub async fn settings_change_sets_updated_at(ctx: Ctx) -> TestResult {
    use kinfolk::Clock;
    let u = user(&ctx.svc, "stamped").await;
    let created = ctx.svc.me(u).await?.created_at;
    ctx.clock.advance(chrono::Duration::hours(5));
    edit(&ctx, u, r#"{"display":{"compact":true}}"#).await?;
    let me = ctx.svc.me(u).await?;
    assert_eq!(me.updated_at, ctx.clock.now());
    assert_eq!(me.created_at, created);
    Ok(())
}
