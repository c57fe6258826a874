//! SPEC §8: user search — matching, ranking, scopes, exclusions,
//! pagination, odd input, freshness and the index's derivation from the store.
//!
//! Every case calls `refresh_search` after its setup (so results are visible
//! at once) unless freshness itself is the point. Real names in several
//! scripts are literals copied from a name list (Faker's person names), never
//! read at test time.

use std::collections::BTreeSet;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use kinfolk::search::MatchTier;
use kinfolk::{
    Change, Clock, DisplayName, Error, Kinfolk, NewRoom, PageRequest, ProfileUpdate, RoomKind,
    RoomName, RoomRole, RoomVisibility, SearchResult, SearchScope, UserId, Username,
};

use crate::fixtures::{assert_code, follow, make_private, settings, user, user_named};
use crate::{Ctx, TestResult};

/// How long the freshness cases wait for a change to become searchable
/// without a refresh. The goal is 1 s at p99 (measured under load in
/// BENCHMARKS.md, "Search off the write path"); a test asserts the behaviour
/// — the index follows the feed on its own — with room for a CI machine
/// whose two cores run every test binary's threads at once, so that a slow
/// scheduler does not fail a run, while an index that does not follow at all
/// still does.
pub const FRESHNESS_GRACE: StdDuration = StdDuration::from_secs(5);

// ---------------------------------------------------------------- helpers

/// Search with the largest page.
pub(crate) async fn hits(
    svc: &Kinfolk,
    viewer: Option<UserId>,
    q: &str,
    scope: SearchScope,
) -> Result<Vec<SearchResult>, Error> {
    Ok(svc
        .search_users(viewer, q, scope, PageRequest::with_limit(50))
        .await?
        .items)
}

/// The ids of the hits, in rank order.
async fn ids(
    svc: &Kinfolk,
    viewer: Option<UserId>,
    q: &str,
    scope: SearchScope,
) -> Result<Vec<UserId>, Error> {
    Ok(hits(svc, viewer, q, scope)
        .await?
        .into_iter()
        .map(|h| h.user.id)
        .collect())
}

/// Discovery search by an anonymous viewer.
async fn anon(svc: &Kinfolk, q: &str) -> Result<Vec<UserId>, Error> {
    ids(svc, None, q, SearchScope::Discovery).await
}

fn set(v: &[UserId]) -> BTreeSet<UserId> {
    v.iter().copied().collect()
}

/// The tier `id` matched with, if it is among the hits.
fn tier_of(hits: &[SearchResult], id: UserId) -> Option<MatchTier> {
    hits.iter().find(|h| h.user.id == id).map(|h| h.tier)
}

/// Makes every committed change searchable now.
pub(crate) async fn ready(svc: &Kinfolk) {
    svc.refresh_search()
        .await
        .unwrap_or_else(|e| panic!("refresh_search: {e}"));
}

/// `n` followers for `who`, registered as `{prefix}{i}` (names that match
/// none of the queries of the case that calls it).
async fn fans(svc: &Kinfolk, who: UserId, prefix: &str, n: usize) {
    for i in 0..n {
        let f = user_named(svc, &format!("{prefix}{i}"), "Zz Qq").await;
        follow(svc, f, who).await;
    }
}

/// Ok (any hits) or a `validation` error on `query`; anything else fails.
#[track_caller]
fn ok_or_query_validation<T>(res: Result<T, Error>, input: &str) {
    match res {
        Ok(_) => {}
        Err(Error::Validation { field, .. }) => {
            assert_eq!(field, "query", "input {input:?}: validation on {field}")
        }
        Err(e) => panic!("input {input:?}: expected results or validation, got {e}"),
    }
}

fn private_room(name: &str) -> Result<NewRoom, Error> {
    Ok(NewRoom {
        kind: RoomKind::Group,
        name: RoomName::parse(name)?,
        visibility: RoomVisibility::Private,
    })
}

fn public_room(name: &str) -> Result<NewRoom, Error> {
    Ok(NewRoom {
        kind: RoomKind::Group,
        name: RoomName::parse(name)?,
        visibility: RoomVisibility::Public,
    })
}

// ---------------------------------------------------------------- ranking

/// §8 ranking: exact username, then username prefix, then name-word prefix,
/// then one-typo fuzzy — the tier wins over followers_count.
pub async fn rank_tiers_exact_then_username_prefix_then_name_prefix_then_fuzzy(
    ctx: Ctx,
) -> TestResult {
    let svc = &ctx.svc;
    let exact = user_named(svc, "alva", "Plain Person").await;
    let uprefix = user_named(svc, "alvaro_x", "Xavier Ortiz").await;
    let nprefix = user_named(svc, "pepe_a", "José Álvarez").await;
    let fuzzy = user_named(svc, "rb_ruiz", "Alba Ruiz").await;
    user_named(svc, "nobody_here", "Carmen Soto").await;
    // Lower tiers get more followers: the tier must still win.
    fans(svc, uprefix, "fa", 1).await;
    fans(svc, nprefix, "fb", 2).await;
    fans(svc, fuzzy, "fc", 3).await;
    ready(svc).await;

    let h = hits(svc, None, "alva", SearchScope::Discovery).await?;
    let got: Vec<UserId> = h.iter().map(|r| r.user.id).collect();
    assert_eq!(got, vec![exact, uprefix, nprefix, fuzzy]);
    let tiers: Vec<MatchTier> = h.iter().map(|r| r.tier).collect();
    assert_eq!(
        tiers,
        vec![
            MatchTier::ExactUsername,
            MatchTier::UsernamePrefix,
            MatchTier::NamePrefix,
            MatchTier::Fuzzy
        ]
    );
    // Exact match is case-insensitive.
    let h = hits(svc, None, "ALVA", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, exact), Some(MatchTier::ExactUsername));
    Ok(())
}

/// §8 ranking: within a tier, more followers first, then id (ascending).
pub async fn rank_within_tier_followers_then_id(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "tier_a").await;
    let b = user(svc, "tier_b").await;
    let c = user(svc, "tier_c").await;
    let d = user(svc, "tier_d").await;
    let e = user(svc, "tier_e").await;
    fans(svc, b, "fb", 3).await;
    fans(svc, c, "fc", 1).await;
    fans(svc, e, "fe", 1).await;
    ready(svc).await;

    let got = anon(svc, "tier").await?;
    let mut one_follower = vec![c, e];
    one_follower.sort();
    let mut none = vec![a, d];
    none.sort();
    let mut want = vec![b];
    want.extend(one_follower);
    want.extend(none);
    assert_eq!(got, want);
    // Deterministic: the same query gives the same order again.
    assert_eq!(anon(svc, "tier").await?, want);
    Ok(())
}

/// §8 ranking uses the current followers_count once the change is indexed.
pub async fn rank_followers_count_change_reorders(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "pop_a").await;
    let b = user(svc, "pop_b").await;
    ready(svc).await;
    let mut by_id = vec![a, b];
    by_id.sort();
    assert_eq!(anon(svc, "pop").await?, by_id);
    // Whichever sorts last by id gets two followers and must come first.
    let last = by_id[1];
    fans(svc, last, "fz", 2).await;
    ready(svc).await;
    assert_eq!(anon(svc, "pop").await?, vec![last, by_id[0]]);
    // Losing them puts it back.
    let fan_ids: Vec<UserId> = hits(svc, None, "fz", SearchScope::Discovery)
        .await?
        .into_iter()
        .map(|h| h.user.id)
        .collect();
    assert_eq!(fan_ids.len(), 2);
    for f in fan_ids {
        svc.toggle_follow(f, last, Some(kinfolk::FollowAction::Unfollow))
            .await?;
    }
    ready(svc).await;
    assert_eq!(anon(svc, "pop").await?, by_id);
    Ok(())
}

// ---------------------------------------------------------------- matching

/// §8 matches: name-word prefix, case- and accent-insensitive ("jose" and
/// "alv" find "José Álvarez"); word order free.
pub async fn match_accent_and_case_insensitive(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let jose = user_named(svc, "ja_1984", "José Álvarez").await;
    let other = user_named(svc, "mc_77", "Marta Castillo").await;
    ready(svc).await;
    for q in [
        "jose",
        "JOSE",
        "José",
        "JOSÉ",
        "alv",
        "ÁLV",
        "Alvarez",
        "álvarez",
        "Jose Alvarez",
        "alvarez jose",
        "jo al",
    ] {
        let h = hits(svc, None, q, SearchScope::Discovery).await?;
        assert_eq!(
            tier_of(&h, jose),
            Some(MatchTier::NamePrefix),
            "query {q:?} must find José Álvarez by name prefix"
        );
        assert_eq!(tier_of(&h, other), None, "query {q:?}");
    }
    // A word that is in the middle of a name word is not a prefix.
    assert!(!anon(svc, "varez").await?.contains(&jose));
    Ok(())
}

/// §8 matches: a query typed with combining marks (NFD) matches the NFC
/// name, and marks alone are a validation error, not a crash.
pub async fn match_combining_marks_in_query(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let jose = user_named(svc, "ja_1984", "José Álvarez").await;
    let zoe = user_named(svc, "zoe_nl", "Zoë de Vries").await;
    ready(svc).await;
    assert_eq!(anon(svc, "Jose\u{301}").await?, vec![jose]);
    assert_eq!(anon(svc, "A\u{301}lvarez").await?, vec![jose]);
    assert_eq!(anon(svc, "zoe\u{308}").await?, vec![zoe]);
    assert_eq!(anon(svc, "zoe").await?, vec![zoe]);
    ok_or_query_validation(anon(svc, "\u{301}\u{308}").await, "marks only");
    Ok(())
}

/// §8 matches: with several query words, each must be a prefix of some word
/// of the name.
pub async fn match_multi_word_every_word_is_a_name_word_prefix(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let mjw = user_named(svc, "spidey_fan", "Mary Jane Watson").await;
    let mjs = user_named(svc, "mj_smith", "Mary Jo Smith").await;
    ready(svc).await;
    assert_eq!(set(&anon(svc, "mary").await?), set(&[mjw, mjs]));
    assert_eq!(anon(svc, "mary wat").await?, vec![mjw]);
    assert_eq!(anon(svc, "wat mary").await?, vec![mjw]);
    assert_eq!(anon(svc, "jane watson").await?, vec![mjw]);
    assert_eq!(anon(svc, "mary smi").await?, vec![mjs]);
    assert_eq!(
        anon(svc, "  mary    jane  ").await?,
        vec![mjw],
        "extra spaces"
    );
    assert!(anon(svc, "mary zzz").await?.is_empty());
    Ok(())
}

/// §8 query: a leading `@` is ignored.
pub async fn match_leading_at_ignored(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let ada = user_named(svc, "ada_l", "Ada Lovelace").await;
    let adam = user_named(svc, "adam_s", "Adam Smith").await;
    ready(svc).await;
    let h = hits(svc, None, "@ada_l", SearchScope::Discovery).await?;
    assert_eq!(
        h.first().map(|r| (r.user.id, r.tier)),
        Some((ada, MatchTier::ExactUsername))
    );
    assert_eq!(
        hits(svc, None, "@ada_l", SearchScope::Discovery).await?,
        hits(svc, None, "ada_l", SearchScope::Discovery).await?
    );
    assert_eq!(set(&anon(svc, "@ada").await?), set(&[ada, adam]));
    assert_eq!(set(&anon(svc, "  @ADA  ").await?), set(&[ada, adam]));
    Ok(())
}

/// §8 matches: username prefix with underscores and digits.
pub async fn match_username_underscores_and_digits(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let d4 = user_named(svc, "dev_4", "Alpha").await;
    let d42 = user_named(svc, "dev_42_ops", "Bravo").await;
    let r2 = user_named(svc, "r2d2", "Charlie").await;
    let under = user_named(svc, "__x__", "Delta").await;
    ready(svc).await;
    let h = hits(svc, None, "dev_4", SearchScope::Discovery).await?;
    let got: Vec<(UserId, MatchTier)> = h.iter().map(|r| (r.user.id, r.tier)).collect();
    assert_eq!(
        got,
        vec![
            (d4, MatchTier::ExactUsername),
            (d42, MatchTier::UsernamePrefix)
        ]
    );
    assert_eq!(anon(svc, "DEV_42").await?, vec![d42]);
    assert_eq!(anon(svc, "dev_42_ops").await?, vec![d42]);
    let h = hits(svc, None, "R2D2", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, r2), Some(MatchTier::ExactUsername));
    let h = hits(svc, None, "__x__", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, under), Some(MatchTier::ExactUsername));
    Ok(())
}

/// §8 matches: one typo tolerated for terms of 4+ characters, ranked below
/// exact and prefix matches; never for shorter terms, never two typos.
pub async fn match_fuzzy_one_typo_terms_of_four_or_more(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let jose = user_named(svc, "ja_1984", "José Álvarez").await;
    ready(svc).await;
    for q in ["alvarex", "alvxrez", "alvrez", "alvaarez", "jpse", "alvx"] {
        let h = hits(svc, None, q, SearchScope::Discovery).await?;
        assert_eq!(tier_of(&h, jose), Some(MatchTier::Fuzzy), "{q:?}: one typo");
    }
    // Two typos, or a typo in a term of fewer than 4 characters: no match.
    for q in ["axvxrez", "jse", "alx", "xlv"] {
        assert!(
            anon(svc, q).await?.is_empty(),
            "{q:?} must not match (two typos or a short term)"
        );
    }
    // Every word must match, one of them fuzzily.
    assert_eq!(anon(svc, "jose alvarex").await?, vec![jose]);
    assert!(anon(svc, "jose zzzzz").await?.is_empty());
    Ok(())
}

/// §8 matches in Cyrillic: case-insensitive name-word prefix.
pub async fn match_cyrillic_names(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let dmitry = user_named(svc, "dmitry_i", "Дмитрий Иванов").await;
    let anna = user_named(svc, "anna_iv", "Анна Иванова").await;
    let avg = user_named(svc, "avgust", "Август Юдин").await;
    ready(svc).await;
    assert_eq!(anon(svc, "дмитрий").await?, vec![dmitry]);
    assert_eq!(anon(svc, "ДМИТ").await?, vec![dmitry]);
    assert_eq!(set(&anon(svc, "Иванов").await?), set(&[dmitry, anna]));
    // "иванова" is a prefix of Анна's surname and one letter off Дмитрий's.
    let h = hits(svc, None, "иванова", SearchScope::Discovery).await?;
    let got: Vec<(UserId, MatchTier)> = h.iter().map(|r| (r.user.id, r.tier)).collect();
    assert_eq!(
        got,
        vec![(anna, MatchTier::NamePrefix), (dmitry, MatchTier::Fuzzy)]
    );
    assert_eq!(anon(svc, "юдин август").await?, vec![avg]);
    let h = hits(svc, None, "анна", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, anna), Some(MatchTier::NamePrefix));
    Ok(())
}

/// §8 matches in Greek: accents (tonos) and case ignored.
pub async fn match_greek_names(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let giorgos = user_named(svc, "giorgos_p", "Γιώργος Παπαδόπουλος").await;
    let eleni = user_named(svc, "eleni_s", "Ελένη Σακελλαρίου").await;
    ready(svc).await;
    assert_eq!(anon(svc, "γιωργος").await?, vec![giorgos]);
    assert_eq!(anon(svc, "Γιώργος").await?, vec![giorgos]);
    assert_eq!(anon(svc, "ΓΙΩΡΓΟΣ").await?, vec![giorgos]);
    assert_eq!(anon(svc, "παπαδ").await?, vec![giorgos]);
    assert_eq!(anon(svc, "ΠΑΠΑΔΌΠΟΥΛΟΣ").await?, vec![giorgos]);
    assert_eq!(anon(svc, "ελενη").await?, vec![eleni]);
    assert_eq!(anon(svc, "σακελ").await?, vec![eleni]);
    Ok(())
}

/// §8 case-insensitive in Greek: an upper-case prefix that ends in Σ
/// ("ΚΩΣ", lower-cased as final sigma ς) still finds "Κώστας" by prefix.
pub async fn match_greek_final_sigma_in_uppercase_query(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let kostas = user_named(svc, "kostas_r", "Κώστας Ρωμαίου").await;
    let odysseas = user_named(svc, "odysseas_t", "Οδυσσέας Τυμβίου").await;
    ready(svc).await;
    let h = hits(svc, None, "ΚΩΣ", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, kostas), Some(MatchTier::NamePrefix), "ΚΩΣ");
    let h = hits(svc, None, "ΟΔΥΣ", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, odysseas), Some(MatchTier::NamePrefix), "ΟΔΥΣ");
    let h = hits(svc, None, "κωστας", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, kostas), Some(MatchTier::NamePrefix), "κωστας");
    let h = hits(svc, None, "ΚΩΣΤΑΣ", SearchScope::Discovery).await?;
    assert_eq!(tier_of(&h, kostas), Some(MatchTier::NamePrefix), "ΚΩΣΤΑΣ");
    Ok(())
}

/// §8 matches in Arabic: name-word prefix; hamza on alef is a mark, so
/// "احمد" finds "أحمد" (accent-insensitive).
pub async fn match_arabic_names(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let ahmad = user_named(svc, "ahmad_m", "أحمد محمد").await;
    let diyaa = user_named(svc, "diyaa_y", "ضياء يوسف").await;
    ready(svc).await;
    assert_eq!(anon(svc, "أحمد").await?, vec![ahmad]);
    assert_eq!(anon(svc, "احمد").await?, vec![ahmad]);
    assert_eq!(anon(svc, "محم").await?, vec![ahmad]);
    assert_eq!(anon(svc, "يوسف").await?, vec![diyaa]);
    assert_eq!(anon(svc, "ضياء يوسف").await?, vec![diyaa]);
    Ok(())
}

/// §8 matches in Hebrew (right-to-left text).
pub async fn match_hebrew_rtl_names(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let noa = user_named(svc, "noa_c", "נועה כהן").await;
    let tamar = user_named(svc, "tamar_l", "תמר לוי").await;
    ready(svc).await;
    assert_eq!(anon(svc, "כהן").await?, vec![noa]);
    assert_eq!(anon(svc, "נועה").await?, vec![noa]);
    assert_eq!(anon(svc, "תמר לוי").await?, vec![tamar]);
    assert!(anon(svc, "שלום").await?.is_empty());
    Ok(())
}

/// §8 matches in CJK: a word is a run of letters, so a given name written
/// after a space, or the start of a name written without spaces, matches.
pub async fn match_cjk_names(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let wang = user_named(svc, "wang_wei", "王伟").await;
    let yoko = user_named(svc, "miura_y", "三浦 陽子").await;
    let minjun = user_named(svc, "kim_mj", "김 민준").await;
    let li = user_named(svc, "li_dd", "李 丹丹").await;
    ready(svc).await;
    assert_eq!(anon(svc, "王").await?, vec![wang]);
    assert_eq!(anon(svc, "王伟").await?, vec![wang]);
    assert_eq!(anon(svc, "陽子").await?, vec![yoko]);
    assert_eq!(anon(svc, "三浦").await?, vec![yoko]);
    assert_eq!(anon(svc, "三浦 陽子").await?, vec![yoko]);
    assert_eq!(anon(svc, "민준").await?, vec![minjun]);
    assert_eq!(anon(svc, "김").await?, vec![minjun]);
    assert_eq!(anon(svc, "丹").await?, vec![li]);
    Ok(())
}

/// §5/§8: every hit carries the user summary and the viewer's relationship
/// (none for anonymous viewers).
pub async fn hits_carry_summary_and_relationship(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let a = user_named(svc, "rel_a", "Rel A").await;
    let b = user_named(svc, "rel_b", "Rel B").await;
    let c = user_named(svc, "rel_c", "Rel C").await;
    make_private(svc, c).await;
    follow(svc, v, a).await;
    follow(svc, b, v).await;
    svc.toggle_follow(v, c, None).await?; // a request
    ready(svc).await;
    let h = hits(svc, Some(v), "rel", SearchScope::Discovery).await?;
    assert_eq!(h.len(), 3);
    for r in &h {
        let rel = r
            .relationship
            .expect("a signed-in viewer gets a relationship");
        let want = (r.user.id == a, r.user.id == b, r.user.id == c);
        assert_eq!((rel.following, rel.followed_by, rel.requested), want);
        assert!(!rel.blocking && !rel.muting);
        assert_eq!(r.user.private_account, r.user.id == c);
    }
    let ha = h.iter().find(|r| r.user.id == a).expect("rel_a");
    assert_eq!(ha.user.username.as_str(), "rel_a");
    assert_eq!(ha.user.name.as_str(), "Rel A");
    assert_eq!(ha.user.avatar_url, None);
    for r in hits(svc, None, "rel", SearchScope::Discovery).await? {
        assert_eq!(r.relationship, None);
    }
    Ok(())
}

// ---------------------------------------------------------------- scopes

/// §8 discovery: discoverable users only, never the viewer itself.
pub async fn scope_discovery_only_discoverable_never_viewer(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let me = user(svc, "seeker").await;
    let a = user(svc, "seek_a").await;
    let hidden = user(svc, "seek_hidden").await;
    settings(svc, hidden, r#"{"privacy":{"discoverable":false}}"#).await;
    ready(svc).await;
    assert_eq!(
        ids(svc, Some(me), "seek", SearchScope::Discovery).await?,
        vec![a]
    );
    assert!(
        ids(svc, Some(me), "seeker", SearchScope::Discovery)
            .await?
            .is_empty(),
        "the viewer never finds itself"
    );
    assert_eq!(set(&anon(svc, "seek").await?), set(&[me, a]));
    // Even an exact username does not reveal an undiscoverable user.
    assert!(anon(svc, "seek_hidden").await?.is_empty());
    // A private account that is discoverable is found.
    make_private(svc, a).await;
    assert_eq!(
        ids(svc, Some(me), "seek", SearchScope::Discovery).await?,
        vec![a]
    );
    Ok(())
}

/// §8/§9 discovery: users the viewer mutes are left out (for that viewer
/// only); a timed mute ends by itself.
pub async fn scope_discovery_leaves_out_muted(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let me = user(svc, "muter").await;
    let other = user(svc, "bystander").await;
    let loud = user(svc, "loud_a").await;
    let brief = user(svc, "loud_b").await;
    svc.mute(me, loud, None).await?;
    svc.mute(me, brief, Some(ctx.clock.now() + Duration::hours(1)))
        .await?;
    ready(svc).await;
    assert!(
        ids(svc, Some(me), "loud", SearchScope::Discovery)
            .await?
            .is_empty()
    );
    assert_eq!(
        set(&ids(svc, Some(other), "loud", SearchScope::Discovery).await?),
        set(&[loud, brief])
    );
    assert_eq!(set(&anon(svc, "loud").await?), set(&[loud, brief]));
    ctx.clock.advance(Duration::hours(2));
    assert_eq!(
        ids(svc, Some(me), "loud", SearchScope::Discovery).await?,
        vec![brief],
        "the timed mute has ended"
    );
    svc.unmute(me, loud).await?;
    assert_eq!(
        set(&ids(svc, Some(me), "loud", SearchScope::Discovery).await?),
        set(&[loud, brief])
    );
    Ok(())
}

/// §2/§8 discovery: anonymous viewers may search.
pub async fn scope_discovery_anonymous_allowed(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user(svc, "open_a").await;
    ready(svc).await;
    let page = svc
        .search_users(None, "open", SearchScope::Discovery, PageRequest::first())
        .await?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].user.id, a);
    assert_eq!(page.next_cursor, None);
    Ok(())
}

/// §8 mention: users whose allow_mentions admits the viewer (everyone;
/// following = people the user follows; nobody); discoverable does not matter.
pub async fn scope_mention_allow_mentions_relative_to_viewer(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "writer").await;
    let stranger = user(svc, "stranger").await;
    let every = user(svc, "ment_every").await;
    let fyes = user(svc, "ment_fyes").await;
    let fno = user(svc, "ment_fno").await;
    let nobody = user(svc, "ment_nobody").await;
    let hidden = user(svc, "ment_hidden").await;
    settings(svc, fyes, r#"{"privacy":{"allow_mentions":"following"}}"#).await;
    settings(svc, fno, r#"{"privacy":{"allow_mentions":"following"}}"#).await;
    settings(svc, nobody, r#"{"privacy":{"allow_mentions":"nobody"}}"#).await;
    settings(svc, hidden, r#"{"privacy":{"discoverable":false}}"#).await;
    follow(svc, fyes, v).await; // fyes follows the viewer
    follow(svc, v, fno).await; // the viewer follows fno: does not count
    ready(svc).await;
    assert_eq!(
        set(&ids(svc, Some(v), "ment", SearchScope::Mention).await?),
        set(&[every, fyes, hidden])
    );
    assert_eq!(
        set(&ids(svc, Some(stranger), "ment", SearchScope::Mention).await?),
        set(&[every, hidden])
    );
    // Nobody means nobody, also someone they follow.
    follow(svc, nobody, v).await;
    ready(svc).await;
    assert!(
        !ids(svc, Some(v), "ment", SearchScope::Mention)
            .await?
            .contains(&nobody)
    );
    // Never the viewer.
    assert!(
        ids(svc, Some(v), "writer", SearchScope::Mention)
            .await?
            .is_empty()
    );
    Ok(())
}

/// §8 mention ranking: within a tier, people the viewer follows first,
/// then people who follow the viewer, then followers_count, then id; the
/// tier still comes first.
pub async fn scope_mention_ranks_followed_then_followers(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "writer").await;
    let exact = user_named(svc, "pal", "Zz Exact").await;
    let followed = user_named(svc, "pal_followed", "Zz A").await;
    let mutual = user_named(svc, "pal_mutual", "Zz B").await;
    let follower = user_named(svc, "pal_follower", "Zz C").await;
    let popular = user_named(svc, "pal_popular", "Zz D").await;
    let name_friend = user_named(svc, "zz_friend", "Pal Friend").await;
    follow(svc, v, followed).await;
    follow(svc, v, mutual).await;
    follow(svc, mutual, v).await;
    follow(svc, follower, v).await;
    follow(svc, v, name_friend).await;
    fans(svc, popular, "fp", 4).await;
    ready(svc).await;

    let h = hits(svc, Some(v), "pal", SearchScope::Mention).await?;
    let got: Vec<UserId> = h.iter().map(|r| r.user.id).collect();
    // followed and mutual: both followed by the viewer, 1 follower each → id order.
    let mut boosted = vec![followed, mutual];
    boosted.sort();
    let mut want = vec![exact];
    want.extend(boosted);
    want.extend([follower, popular, name_friend]);
    assert_eq!(got, want);
    assert_eq!(tier_of(&h, name_friend), Some(MatchTier::NamePrefix));
    // Discovery has no relationship boost: popularity decides there.
    let d = ids(svc, Some(v), "pal_", SearchScope::Discovery).await?;
    assert_eq!(d.first(), Some(&popular));
    Ok(())
}

/// §2/§8 mention and room invite need a signed-in viewer.
pub async fn scope_mention_needs_a_viewer(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "owner_x").await;
    let room = svc.create_room(owner, private_room("Team")?).await?;
    ready(svc).await;
    assert_code(
        svc.search_users(None, "owner", SearchScope::Mention, PageRequest::first())
            .await,
        "unauthenticated",
    );
    assert_code(
        svc.search_users(
            None,
            "owner",
            SearchScope::RoomInvite { room: room.id },
            PageRequest::first(),
        )
        .await,
        "unauthenticated",
    );
    Ok(())
}

/// §7/§8 room_invite: current members and users whose allow_room_invites
/// refuses the viewer are left out; discoverable does not matter.
pub async fn scope_room_invite_leaves_out_members_and_refusers(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "owner_x").await;
    let room = svc.create_room(owner, private_room("Team")?).await?.id;
    let member = user(svc, "inv_member").await;
    let free = user(svc, "inv_free").await;
    let refuses = user(svc, "inv_refuses").await;
    let fyes = user(svc, "inv_fyes").await;
    let fno = user(svc, "inv_fno").await;
    let hidden = user(svc, "inv_hidden").await;
    svc.add_member(owner, room, member).await?;
    settings(
        svc,
        refuses,
        r#"{"privacy":{"allow_room_invites":"nobody"}}"#,
    )
    .await;
    settings(
        svc,
        fyes,
        r#"{"privacy":{"allow_room_invites":"following"}}"#,
    )
    .await;
    settings(
        svc,
        fno,
        r#"{"privacy":{"allow_room_invites":"following"}}"#,
    )
    .await;
    settings(svc, hidden, r#"{"privacy":{"discoverable":false}}"#).await;
    follow(svc, fyes, owner).await;
    follow(svc, owner, fno).await;
    ready(svc).await;
    let scope = SearchScope::RoomInvite { room };
    assert_eq!(
        set(&ids(svc, Some(owner), "inv", scope).await?),
        set(&[free, fyes, hidden])
    );
    assert!(ids(svc, Some(owner), "owner_x", scope).await?.is_empty());
    // Every hit can in fact be added.
    for id in ids(svc, Some(owner), "inv", scope).await? {
        svc.add_member(owner, room, id).await?;
    }
    assert!(ids(svc, Some(owner), "inv", scope).await?.is_empty());
    Ok(())
}

/// §7/§8 room_invite: the viewer must be a member allowed to add members
/// (owner/admin; any member of a public room).
pub async fn scope_room_invite_viewer_must_be_allowed_to_add(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "owner_x").await;
    let admin = user(svc, "admin_x").await;
    let plain = user(svc, "plain_x").await;
    let outsider = user(svc, "outsider").await;
    let target = user(svc, "cand_a").await;
    let private = svc.create_room(owner, private_room("Private")?).await?.id;
    let public = svc.create_room(owner, public_room("Public")?).await?.id;
    for r in [private, public] {
        svc.add_member(owner, r, admin).await?;
        svc.add_member(owner, r, plain).await?;
    }
    svc.set_role(owner, private, admin, RoomRole::Admin).await?;
    ready(svc).await;
    let q = |viewer: UserId, room| {
        svc.search_users(
            Some(viewer),
            "cand",
            SearchScope::RoomInvite { room },
            PageRequest::first(),
        )
    };
    assert_eq!(q(owner, private).await?.items[0].user.id, target);
    assert_eq!(q(admin, private).await?.items[0].user.id, target);
    assert_code(q(plain, private).await, "forbidden");
    assert_code(q(outsider, private).await, "not_found");
    assert_eq!(q(plain, public).await?.items[0].user.id, target);
    assert_code(q(owner, kinfolk::RoomId::new()).await, "not_found");
    Ok(())
}

/// §8 following{of}/followers{of}: only users inside that list (approved
/// follows; pending requests are not in it).
pub async fn scope_following_and_followers_inside_the_list_only(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "owner_x").await;
    let a = user(svc, "fol_a").await;
    let b = user(svc, "fol_b").await;
    let c = user(svc, "fol_c").await;
    let d = user(svc, "fol_d").await;
    let p = user(svc, "fol_private").await;
    make_private(svc, p).await;
    follow(svc, owner, a).await;
    follow(svc, owner, b).await;
    svc.toggle_follow(owner, p, None).await?; // pending: not in following
    follow(svc, c, owner).await;
    follow(svc, b, owner).await;
    ready(svc).await;
    let following = SearchScope::Following { of: owner };
    let followers = SearchScope::Followers { of: owner };
    assert_eq!(set(&ids(svc, None, "fol", following).await?), set(&[a, b]));
    assert_eq!(set(&ids(svc, None, "fol", followers).await?), set(&[b, c]));
    assert!(!anon(svc, "fol").await?.is_empty() && anon(svc, "fol").await?.contains(&d));
    assert_eq!(ids(svc, Some(a), "fol_c", followers).await?, vec![c]);
    // Non-discoverable users are still found inside a list.
    settings(svc, a, r#"{"privacy":{"discoverable":false}}"#).await;
    assert_eq!(set(&ids(svc, None, "fol", following).await?), set(&[a, b]));
    // Unfollowing leaves the list at once.
    svc.toggle_follow(owner, b, Some(kinfolk::FollowAction::Unfollow))
        .await?;
    assert_eq!(ids(svc, None, "fol", following).await?, vec![a]);
    assert_code(
        svc.search_users(
            None,
            "fol",
            SearchScope::Following { of: UserId::new() },
            PageRequest::first(),
        )
        .await,
        "not_found",
    );
    Ok(())
}

/// §6/§8 list scopes follow followers_visibility / following_visibility
/// (public, followers, owner); a list the viewer may not see is Forbidden.
pub async fn scope_lists_follow_visibility_rules(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let owner = user(svc, "owner_x").await;
    let fan = user(svc, "fol_fan").await;
    let stranger = user(svc, "stranger").await;
    let a = user(svc, "fol_a").await;
    follow(svc, fan, owner).await;
    follow(svc, owner, a).await;
    settings(
        svc,
        owner,
        r#"{"privacy":{"followers_visibility":"followers","following_visibility":"owner"}}"#,
    )
    .await;
    ready(svc).await;
    let run = |viewer: Option<UserId>, scope: SearchScope| {
        svc.search_users(viewer, "fol", scope, PageRequest::first())
    };
    let followers = SearchScope::Followers { of: owner };
    let following = SearchScope::Following { of: owner };
    // followers: the owner and approved followers only.
    assert_eq!(run(Some(owner), followers).await?.items.len(), 1);
    // An approved follower may search the list and finds what the list shows.
    let listed: Vec<UserId> = svc
        .followers(Some(fan), owner, PageRequest::first())
        .await?
        .items
        .iter()
        .map(|r| r.user.id)
        .collect();
    let found: Vec<UserId> = run(Some(fan), followers)
        .await?
        .items
        .iter()
        .map(|r| r.user.id)
        .collect();
    assert_eq!(found, listed);
    assert_code(run(Some(stranger), followers).await, "forbidden");
    assert_code(run(None, followers).await, "forbidden");
    // following: the owner only.
    assert_eq!(run(Some(owner), following).await?.items[0].user.id, a);
    assert_code(run(Some(fan), following).await, "forbidden");
    assert_code(run(None, following).await, "forbidden");
    // Public again: anyone, anonymous included.
    settings(
        svc,
        owner,
        r#"{"privacy":{"followers_visibility":"public","following_visibility":"public"}}"#,
    )
    .await;
    assert_eq!(run(None, following).await?.items[0].user.id, a);
    assert_eq!(run(Some(stranger), followers).await?.items[0].user.id, fan);
    Ok(())
}

// ---------------------------------------------------------------- exclusions

/// §8/§9: deactivated users are left out of every scope; reactivating
/// brings them back.
pub async fn always_left_out_deactivated(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let gone = user(svc, "gone_a").await;
    let stays = user(svc, "gone_b").await;
    follow(svc, v, gone).await;
    follow(svc, v, stays).await;
    ready(svc).await;
    svc.deactivate(gone).await?;
    // No refresh: the store is checked at query time.
    for scope in [
        SearchScope::Discovery,
        SearchScope::Mention,
        SearchScope::Following { of: v },
    ] {
        assert_eq!(
            ids(svc, Some(v), "gone", scope).await?,
            vec![stays],
            "{scope:?}"
        );
    }
    ready(svc).await;
    assert_eq!(anon(svc, "gone").await?, vec![stays]);
    assert!(anon(svc, "gone_a").await?.is_empty());
    svc.reactivate(gone).await?;
    ready(svc).await;
    assert_eq!(set(&anon(svc, "gone").await?), set(&[gone, stays]));
    Ok(())
}

/// §8/§9: users the viewer blocks and users who block the viewer are left
/// out of every scope; others still see both.
pub async fn always_left_out_blocks_both_ways(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let third = user(svc, "third").await;
    let blocked = user(svc, "blk_blocked").await;
    let blocker = user(svc, "blk_blocker").await;
    let fine = user(svc, "blk_fine").await;
    let owner = user(svc, "room_owner").await;
    for u in [blocked, blocker, fine] {
        follow(svc, u, owner).await;
    }
    let room = svc.create_room(v, public_room("Room")?).await?.id;
    svc.block(v, blocked).await?;
    svc.block(blocker, v).await?;
    ready(svc).await;
    for scope in [
        SearchScope::Discovery,
        SearchScope::Mention,
        SearchScope::Followers { of: owner },
        SearchScope::RoomInvite { room },
    ] {
        assert_eq!(
            ids(svc, Some(v), "blk", scope).await?,
            vec![fine],
            "{scope:?}"
        );
        assert!(
            ids(svc, Some(v), "blk_blocker", scope).await?.is_empty(),
            "exact name, {scope:?}"
        );
    }
    assert_eq!(
        set(&ids(svc, Some(third), "blk", SearchScope::Discovery).await?),
        set(&[blocked, blocker, fine])
    );
    // The blocked and the blocker do not find the viewer either.
    assert!(
        ids(svc, Some(blocked), "viewer", SearchScope::Discovery)
            .await?
            .is_empty()
    );
    assert!(
        ids(svc, Some(blocker), "viewer", SearchScope::Discovery)
            .await?
            .is_empty()
    );
    svc.unblock(v, blocked).await?;
    assert_eq!(
        set(&ids(svc, Some(v), "blk", SearchScope::Discovery).await?),
        set(&[blocked, fine])
    );
    Ok(())
}

/// §8: a setting flipped just before the query is honoured, without a refresh.
pub async fn setting_flipped_just_before_query_is_honoured(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let a = user(svc, "flip_a").await;
    ready(svc).await;
    assert_eq!(anon(svc, "flip").await?, vec![a]);
    settings(svc, a, r#"{"privacy":{"discoverable":false}}"#).await;
    assert!(
        anon(svc, "flip").await?.is_empty(),
        "discoverable off, at once"
    );
    settings(svc, a, r#"{"privacy":{"discoverable":true}}"#).await;
    assert_eq!(anon(svc, "flip").await?, vec![a]);
    settings(svc, a, r#"{"privacy":{"allow_mentions":"nobody"}}"#).await;
    assert!(
        ids(svc, Some(v), "flip", SearchScope::Mention)
            .await?
            .is_empty()
    );
    settings(svc, a, r#"{"privacy":{"allow_mentions":"everyone"}}"#).await;
    assert_eq!(
        ids(svc, Some(v), "flip", SearchScope::Mention).await?,
        vec![a]
    );
    svc.block(a, v).await?;
    assert!(
        ids(svc, Some(v), "flip", SearchScope::Mention)
            .await?
            .is_empty()
    );
    Ok(())
}

/// §2/§8: an unknown viewer is Unauthenticated; a deactivated one may not search.
pub async fn viewer_unknown_or_deactivated(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    user(svc, "target").await;
    ready(svc).await;
    assert_code(
        svc.search_users(
            Some(UserId::new()),
            "target",
            SearchScope::Discovery,
            PageRequest::first(),
        )
        .await,
        "unauthenticated",
    );
    svc.deactivate(v).await?;
    assert_code(
        svc.search_users(
            Some(v),
            "target",
            SearchScope::Discovery,
            PageRequest::first(),
        )
        .await,
        "deactivated",
    );
    Ok(())
}

// ---------------------------------------------------------------- pages

/// §8: limit 1–50 (1 and 50 accepted, 0 and 51 a validation error); default 20.
pub async fn limit_1_and_50_ok_0_and_51_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    for i in 0..55 {
        user(svc, &format!("lim_{i:02}")).await;
    }
    ready(svc).await;
    let run = |limit: Option<u32>| {
        svc.search_users(
            None,
            "lim",
            SearchScope::Discovery,
            PageRequest {
                limit,
                cursor: None,
            },
        )
    };
    let p = run(Some(1)).await?;
    assert_eq!(p.items.len(), 1);
    assert!(p.next_cursor.is_some());
    let p = run(Some(50)).await?;
    assert_eq!(p.items.len(), 50);
    assert!(p.next_cursor.is_some());
    assert_eq!(run(None).await?.items.len(), 20);
    for bad in [0, 51, 100, u32::MAX] {
        match run(Some(bad)).await {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "limit"),
            other => panic!("limit {bad}: expected validation, got {other:?}"),
        }
    }
    Ok(())
}

/// §6/§8: walking the pages gives every hit once, in rank order; every page
/// but the last is full and only the last has no cursor.
pub async fn pages_walk_without_duplicates(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let mut all = Vec::new();
    for i in 0..23 {
        all.push(user(svc, &format!("page_{i:02}")).await);
    }
    // Some ranking variety.
    fans(svc, all[5], "fq", 2).await;
    fans(svc, all[17], "fr", 1).await;
    ready(svc).await;
    let whole = anon(svc, "page").await?;
    assert_eq!(whole.len(), 23);
    for limit in [1u32, 4, 7, 23, 50] {
        let mut walked = Vec::new();
        let mut req = PageRequest::with_limit(limit);
        let mut pages = 0;
        loop {
            let p = svc
                .search_users(None, "page", SearchScope::Discovery, req.clone())
                .await?;
            pages += 1;
            assert!(pages <= 30, "the walk must end");
            walked.extend(p.items.iter().map(|r| r.user.id));
            match p.next_cursor {
                Some(c) => {
                    assert_eq!(
                        p.items.len(),
                        limit as usize,
                        "a page with a cursor is full"
                    );
                    req = PageRequest::after(c, Some(limit));
                }
                None => break,
            }
        }
        assert_eq!(walked, whole, "limit {limit}");
        assert_eq!(set(&walked).len(), walked.len(), "no duplicates");
    }
    Ok(())
}

/// §6/§8: a cursor belongs to its query, scope and viewer; any other use,
/// and a malformed cursor, is a validation error.
pub async fn cursor_foreign_to_another_query_refused(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let owner = user(svc, "owner_x").await;
    for i in 0..6 {
        let u = user(svc, &format!("cur_{i}")).await;
        follow(svc, u, owner).await;
    }
    ready(svc).await;
    let first = svc
        .search_users(
            Some(v),
            "cur",
            SearchScope::Discovery,
            PageRequest::with_limit(2),
        )
        .await?;
    let c = first.next_cursor.expect("more pages");
    // Valid for the same query.
    let second = svc
        .search_users(
            Some(v),
            "cur",
            SearchScope::Discovery,
            PageRequest::after(c.clone(), Some(2)),
        )
        .await?;
    assert_eq!(second.items.len(), 2);
    let check = |viewer: Option<UserId>, q: &'static str, scope: SearchScope, cursor: String| {
        svc.search_users(viewer, q, scope, PageRequest::after(cursor, Some(2)))
    };
    let cursor_err = |res: Result<kinfolk::Page<SearchResult>, Error>, what: &str| match res {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "cursor", "{what}"),
        other => panic!("{what}: expected a cursor validation error, got {other:?}"),
    };
    cursor_err(
        check(Some(v), "cu", SearchScope::Discovery, c.clone()).await,
        "other query",
    );
    cursor_err(
        check(Some(v), "cur", SearchScope::Mention, c.clone()).await,
        "other scope",
    );
    cursor_err(
        check(
            Some(v),
            "cur",
            SearchScope::Followers { of: owner },
            c.clone(),
        )
        .await,
        "other scope",
    );
    cursor_err(
        check(None, "cur", SearchScope::Discovery, c.clone()).await,
        "other viewer",
    );
    cursor_err(
        check(Some(owner), "cur", SearchScope::Discovery, c.clone()).await,
        "other viewer",
    );
    for junk in ["", "x", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        cursor_err(
            check(Some(v), "cur", SearchScope::Discovery, junk.to_string()).await,
            "junk",
        );
    }
    cursor_err(
        check(Some(v), "cur", SearchScope::Discovery, "A".repeat(10_000)).await,
        "huge",
    );
    // A followers-list cursor is not a search cursor.
    let list = svc
        .followers(Some(v), owner, PageRequest::with_limit(2))
        .await?;
    let lc = list.next_cursor.expect("more followers");
    cursor_err(
        check(Some(v), "cur", SearchScope::Discovery, lc).await,
        "list cursor",
    );
    Ok(())
}

/// §8 query: 1–100 characters after trimming (edges 100 and 101), a leading
/// `@` ignored; empty and whitespace-only refused.
pub async fn query_length_edges(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let u = user(svc, &"q".repeat(30)).await;
    ready(svc).await;
    let q100 = "q".repeat(100);
    assert!(anon(svc, &q100).await?.is_empty());
    assert_eq!(anon(svc, &"q".repeat(30)).await?, vec![u]);
    assert_eq!(
        anon(svc, &format!("  {}  ", "q".repeat(29))).await?,
        vec![u]
    );
    for bad in [
        String::new(),
        " ".to_string(),
        "\t \u{3000} ".to_string(),
        "@".to_string(),
        " @ ".to_string(),
        "q".repeat(101),
        "q".repeat(10 * 1024),
        format!("{} ", "é".repeat(101)),
    ] {
        match anon(svc, &bad).await {
            Err(Error::Validation { field, .. }) => assert_eq!(field, "query"),
            other => panic!(
                "{} chars: expected validation, got {other:?}",
                bad.chars().count()
            ),
        }
    }
    // 100 multi-byte characters are 100 characters, not bytes.
    ok_or_query_validation(anon(svc, &"é".repeat(100)).await, "100 é");
    assert!(anon(svc, &"é".repeat(100)).await.is_ok());
    Ok(())
}

/// §8/§11: any input gives results or a typed validation error — never a
/// parser error, a storage error or a panic.
pub async fn odd_input_results_or_validation_never_panic(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    user_named(svc, "quote_x", "Rock \"Star\" O'Neil").await;
    ready(svc).await;
    let inputs: Vec<String> = vec![
        "\"".into(),
        "\"rock".into(),
        "'".into(),
        "':".into(),
        ":".into(),
        "name:rock".into(),
        "(".into(),
        ")".into(),
        "(rock".into(),
        "[".into(),
        "[a TO z]".into(),
        "{".into(),
        "*".into(),
        "rock*".into(),
        "~".into(),
        "rock~2".into(),
        "^".into(),
        "rock^10".into(),
        "-".into(),
        "-rock".into(),
        "+".into(),
        "+rock".into(),
        "AND".into(),
        "OR".into(),
        "NOT".into(),
        "rock AND".into(),
        "OR rock".into(),
        "&&".into(),
        "||".into(),
        "!".into(),
        "\\".into(),
        "/".into(),
        "/rock/".into(),
        "?".into(),
        "%".into(),
        "_".into(),
        "%_%".into(),
        "'; DROP TABLE users; --".into(),
        "😀".into(),
        "rock 😀".into(),
        "👨‍👩‍👧‍👦".into(),
        "שלום".into(),
        "\u{202E}rock".into(),
        "مرحبا بالعالم".into(),
        "a\u{0}b".into(),
        "\u{0}".into(),
        "\u{7}".into(),
        "rock\nstar".into(),
        "e\u{301}\u{301}\u{301}\u{301}".into(),
        "\u{301}".into(),
        "Z\u{351}\u{34B}\u{31B}\u{300}\u{34C}".into(),
        "\u{FEFF}rock".into(),
        "\u{200B}".into(),
        "\u{FFFD}".into(),
        "ｒｏｃｋ".into(),
        "ß".into(),
        "İ".into(),
        "@@@".into(),
        "@".repeat(100),
        "a".repeat(100),
        "rock ".repeat(20),
        "a b c d e f g h i j k l m n o p q r s t u v w x y z".into(),
        "x".repeat(10 * 1024),
    ];
    for input in &inputs {
        for (viewer, scope) in [
            (None, SearchScope::Discovery),
            (Some(v), SearchScope::Mention),
            (None, SearchScope::Followers { of: v }),
        ] {
            ok_or_query_validation(
                svc.search_users(viewer, input, scope, PageRequest::first())
                    .await,
                input,
            );
        }
    }
    // Control characters are refused as such.
    assert_code(anon(svc, "a\u{0}b").await, "validation");
    Ok(())
}

/// §8 query: plain text, never query syntax — operators and punctuation are
/// not operators.
pub async fn query_syntax_is_plain_text(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let star = user_named(svc, "rs_1", "Rock Star").await;
    let roll = user_named(svc, "rr_2", "Rock And Roll").await;
    let other = user_named(svc, "ps_3", "Pop Star").await;
    ready(svc).await;
    // Wrapping punctuation is not syntax: these all mean "rock".
    for q in [
        "rock", "\"rock\"", "(rock)", "[rock]", "rock*", "rock~", "+rock", "-rock", "rock:",
    ] {
        assert_eq!(
            set(&anon(svc, q).await?),
            set(&[star, roll]),
            "{q:?} is plain text"
        );
    }
    // "-star" is not a negation: it finds the stars.
    assert_eq!(set(&anon(svc, "-star").await?), set(&[star, other]));
    // AND / OR are words: "rock or pop" needs a name word starting with "or".
    assert!(anon(svc, "rock OR pop").await?.is_empty());
    assert_eq!(anon(svc, "rock AND roll").await?, vec![roll]);
    assert_eq!(anon(svc, "rock and").await?, vec![roll]);
    // A field-looking prefix is just a word.
    assert!(anon(svc, "name:rock").await?.is_empty());
    // Wildcards do not widen: "r*" is the word "r".
    assert_eq!(set(&anon(svc, "r*").await?), set(&[star, roll]));
    assert!(anon(svc, "*ock").await?.is_empty());
    Ok(())
}

// ---------------------------------------------------------------- freshness

/// §8 freshness: registration, renames, name changes and deletion are
/// searchable once refreshed.
pub async fn freshness_change_searchable_after_refresh(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user_named(svc, "fresh_a", "First Name").await;
    ready(svc).await;
    assert_eq!(anon(svc, "fresh_a").await?, vec![a]);
    let upd = ProfileUpdate {
        username: Some(Username::parse("renamed_a")?),
        name: Some(DisplayName::parse("Second Name")?),
        ..Default::default()
    };
    svc.update_profile(a, upd).await?;
    ready(svc).await;
    assert_eq!(anon(svc, "renamed").await?, vec![a]);
    assert_eq!(anon(svc, "second").await?, vec![a]);
    assert!(
        anon(svc, "fresh").await?.is_empty(),
        "old username is not searchable"
    );
    assert!(
        anon(svc, "first name").await?.is_empty(),
        "old display name"
    );
    svc.delete_account(a).await?;
    ready(svc).await;
    assert!(anon(svc, "renamed").await?.is_empty());
    // The freed name can be registered and found again, as someone else.
    let b = user(svc, "renamed_a").await;
    ready(svc).await;
    assert_eq!(anon(svc, "renamed_a").await?, vec![b]);
    Ok(())
}

/// §8 freshness: a change is searchable within 1 s on its own (no refresh;
/// polled against the wall clock with [`FRESHNESS_GRACE`]).
pub async fn freshness_within_one_second_without_refresh(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    user(svc, "warmup").await;
    ready(svc).await;
    let a = user(svc, "late_comer").await;
    let start = Instant::now();
    loop {
        if anon(svc, "late_comer").await? == vec![a] {
            break;
        }
        assert!(
            start.elapsed() < FRESHNESS_GRACE,
            "not searchable after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    Ok(())
}

/// §8 freshness, ADR 0010: the index follows the feed by itself, also for
/// changes no write of this service announced (another process or app
/// instance on the same database; simulated by a commit straight to the
/// store): found within about a second, without a refresh or a reopen.
pub async fn index_follows_changes_made_behind_its_back(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let a = user_named(svc, "behind_a", "Before Anything").await;
    ready(svc).await;
    assert_eq!(anon(svc, "before").await?, vec![a]);
    let now = ctx.clock.now();
    kinfolk::store::write(svc.store().as_ref(), move |tx| {
        let mut u = tx.user(a)?.ok_or(Error::NotFound { what: "user" })?;
        u.name = DisplayName::parse("Yolanda Quince")?;
        u.updated_at = now;
        tx.put_user(&u)?;
        tx.append_change(now, Change::ProfileUpdated { user: a })?;
        Ok(())
    })
    .await?;
    let start = Instant::now();
    loop {
        if anon(svc, "yolanda").await? == vec![a] {
            break;
        }
        assert!(
            start.elapsed() < FRESHNESS_GRACE,
            "the index did not follow a change it was not told about"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert!(anon(svc, "before").await?.is_empty(), "old name gone");
    Ok(())
}

/// §8/§12: after reopening, the index still answers as before.
pub async fn index_answers_after_reopen(mut ctx: Ctx) -> TestResult {
    let v = user(&ctx.svc, "viewer").await;
    let a = user_named(&ctx.svc, "keep_a", "Ελένη Άλβαρεζ").await;
    let b = user_named(&ctx.svc, "keep_b", "Kept Person").await;
    follow(&ctx.svc, v, b).await;
    ready(&ctx.svc).await;
    let before_keep = hits(&ctx.svc, Some(v), "keep", SearchScope::Mention).await?;
    let before_greek = anon(&ctx.svc, "ελενη").await?;
    assert_eq!(before_greek, vec![a]);
    ctx.reopen().await?;
    assert_eq!(
        hits(&ctx.svc, Some(v), "keep", SearchScope::Mention).await?,
        before_keep
    );
    assert_eq!(anon(&ctx.svc, "ελενη").await?, before_greek);
    // And keeps following changes.
    let c = user(&ctx.svc, "keep_c").await;
    ready(&ctx.svc).await;
    assert_eq!(set(&anon(&ctx.svc, "keep").await?), set(&[a, b, c]));
    Ok(())
}

/// §8: after a crash between a store write and the index update, reopening
/// catches the index up from the change feed (simulated by committing a
/// profile change straight to the store, behind the index's back).
pub async fn reopen_catches_index_up_from_feed(mut ctx: Ctx) -> TestResult {
    let a = user_named(&ctx.svc, "crash_a", "Before Crash").await;
    let b = user_named(&ctx.svc, "crash_b", "Bystander").await;
    ready(&ctx.svc).await;
    assert_eq!(anon(&ctx.svc, "before").await?, vec![a]);
    let now = ctx.clock.now();
    kinfolk::store::write(ctx.svc.store().as_ref(), move |tx| {
        let mut u = tx.user(a)?.ok_or(Error::NotFound { what: "user" })?;
        u.name = DisplayName::parse("Zebulon Quixote")?;
        u.updated_at = now;
        tx.put_user(&u)?;
        tx.append_change(now, Change::ProfileUpdated { user: a })?;
        let mut d = tx.user(b)?.ok_or(Error::NotFound { what: "user" })?;
        d.status = kinfolk::AccountStatus::Deactivated;
        tx.put_user(&d)?;
        tx.append_change(now, Change::Deactivated { user: b })?;
        Ok(())
    })
    .await?;
    ctx.reopen().await?;
    // No explicit refresh: the reopen itself catches up (visible within 1 s).
    let start = Instant::now();
    loop {
        if anon(&ctx.svc, "zebulon").await? == vec![a] {
            break;
        }
        assert!(
            start.elapsed() < FRESHNESS_GRACE,
            "the reopened index did not catch up from the feed"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    ready(&ctx.svc).await;
    assert_eq!(anon(&ctx.svc, "zebulon quix").await?, vec![a]);
    assert!(anon(&ctx.svc, "before").await?.is_empty(), "old name gone");
    assert!(anon(&ctx.svc, "crash").await?.contains(&a));
    assert!(!anon(&ctx.svc, "crash").await?.contains(&b));
    Ok(())
}

/// §8: the index can be rebuilt from the store at any time, with the same results.
pub async fn rebuild_gives_same_results(ctx: Ctx) -> TestResult {
    let svc = &ctx.svc;
    let v = user(svc, "viewer").await;
    let mut people = Vec::new();
    for (u, n) in [
        ("re_alva", "José Álvarez"),
        ("re_dmitry", "Дмитрий Иванов"),
        ("re_wang", "王伟"),
        ("alvaro_re", "Álvaro Ruiz"),
        ("re_gone", "Gone Away"),
        ("re_deleted", "Deleted Soon"),
    ] {
        people.push(user_named(svc, u, n).await);
    }
    follow(svc, v, people[1]).await;
    follow(svc, people[2], v).await;
    fans(svc, people[3], "fx", 2).await;
    svc.deactivate(people[4]).await?;
    svc.delete_account(people[5]).await?;
    let renamed = ProfileUpdate {
        name: Some(DisplayName::parse("Álvaro Renamed")?),
        ..Default::default()
    };
    svc.update_profile(people[3], renamed).await?;
    ready(svc).await;
    let queries = [
        "re", "alva", "alvarex", "иван", "王", "gone", "deleted", "renamed",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push((
            hits(svc, Some(v), q, SearchScope::Discovery).await?,
            hits(svc, Some(v), q, SearchScope::Mention).await?,
            hits(svc, None, q, SearchScope::Discovery).await?,
        ));
    }
    assert!(!before[0].0.is_empty());
    assert!(before[5].2.is_empty() && before[6].2.is_empty());
    svc.rebuild_search_index().await?;
    for (q, want) in queries.iter().zip(&before) {
        let got = (
            hits(svc, Some(v), q, SearchScope::Discovery).await?,
            hits(svc, Some(v), q, SearchScope::Mention).await?,
            hits(svc, None, q, SearchScope::Discovery).await?,
        );
        assert_eq!(&got, want, "query {q:?} after rebuild");
    }
    // The rebuilt index keeps following changes.
    let late = user(svc, "re_late").await;
    ready(svc).await;
    assert!(anon(svc, "re_late").await? == vec![late]);
    Ok(())
}

/// §8/§11: a service built without an index refuses search with a typed
/// error (Forbidden), never a panic.
pub async fn no_index_is_forbidden_not_panic(ctx: Ctx) -> TestResult {
    let bare = Kinfolk::builder(ctx.svc.store().clone()).build().await?;
    user(&ctx.svc, "someone").await;
    assert_code(
        bare.search_users(
            None,
            "someone",
            SearchScope::Discovery,
            PageRequest::first(),
        )
        .await,
        "forbidden",
    );
    assert_code(bare.refresh_search().await, "forbidden");
    assert_code(bare.rebuild_search_index().await, "forbidden");
    Ok(())
}
