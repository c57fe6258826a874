//! The privacy matrix (RELIABILITY.md §5; SPEC §3, §4, §5, §6, §8, §9).
//!
//! Viewer ∈ {owner, approved follower, pending requester, stranger, blocked
//! by the owner, blocker of the owner, anonymous} × every profile field,
//! count, list, relationship and search scope, over every combination of the
//! owner's private_account × followers_visibility × following_visibility ×
//! show_counts × discoverable × allow_mentions (2×3×3×2×2×3 = 216 settings,
//! 1,512 viewer rows: 14,904 cells). The expected cell is computed by a
//! small oracle written from SPEC (below: `Oracle`) over a description of
//! the world's edges — it never calls kinfolk — and compared with what the
//! service answers.
//!
//! The world: two owners, `owner_pub` (public) and `owner_priv` (private),
//! each followed by `fan` and `extra` (approved) and following them back;
//! `asker` has a pending request to `owner_priv` (a public account cannot
//! hold one: following it is immediate, and turning private off approves
//! every request); each owner blocks `banned`, and `blocker` blocks each
//! owner (both after having followed, so the blocks severed real edges);
//! `stranger` has no edge at all. The private flag of each owner is fixed;
//! the five other settings are set on both owners for each combination.

use std::collections::{BTreeMap, BTreeSet};

use kinfolk::{
    Audience, Bio, Error, FollowAction, ListVisibility, Location, NewUser, PageRequest,
    PrivacyPatch, ProfileUpdate, ProfileView, Relationship, SafeUrl, SearchScope, SettingsPatch,
    SocialKind, SocialLink, SocialLinks, UserId,
};

use crate::fixtures::{make_private, user};
use crate::{Ctx, TestResult};

// ---------------------------------------------------------------- the world

/// The people of the world, as the oracle names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Who {
    Owner,
    Fan,
    Asker,
    Stranger,
    Banned,
    Blocker,
    Extra,
}

/// The viewers of the matrix (`None` = anonymous).
const VIEWERS: [Option<Who>; 7] = [
    Some(Who::Owner),
    Some(Who::Fan),
    Some(Who::Asker),
    Some(Who::Stranger),
    Some(Who::Banned),
    Some(Who::Blocker),
    None,
];

fn viewer_name(v: Option<Who>) -> &'static str {
    match v {
        Some(Who::Owner) => "owner",
        Some(Who::Fan) => "approved follower",
        Some(Who::Asker) => "pending requester",
        Some(Who::Stranger) => "stranger",
        Some(Who::Banned) => "blocked by owner",
        Some(Who::Blocker) => "blocker of owner",
        Some(Who::Extra) => "extra",
        None => "anonymous",
    }
}

const BIO: &str = "Owner bio\nsecond line";
const LOCATION: &str = "Lyon";
const AVATAR: &str = "https://cdn.example.com/o.png";
const LINK: &str = "https://olive.example.com/";
/// The keys of a public profile: nothing private (email, settings,
/// connected accounts, status) may appear.
const PUBLIC_KEYS: [&str; 11] = [
    "avatar_url",
    "bio",
    "created_at",
    "id",
    "location",
    "name",
    "private_account",
    "relationship",
    "social_links",
    "stats",
    "username",
];

struct World {
    /// `[public owner, private owner]`.
    owners: [UserId; 2],
    others: BTreeMap<Who, UserId>,
}

impl World {
    fn id(&self, owner: usize, who: Who) -> UserId {
        match who {
            Who::Owner => self.owners[owner],
            w => self.others[&w],
        }
    }
    fn who(&self, owner: usize, id: UserId) -> String {
        if id == self.owners[owner] {
            return "owner".into();
        }
        if id == self.owners[1 - owner] {
            return "other owner".into();
        }
        self.others
            .iter()
            .find(|(_, v)| **v == id)
            .map_or_else(|| id.to_string(), |(w, _)| format!("{w:?}").to_lowercase())
    }
}

async fn build_world(ctx: &Ctx) -> Result<World, Error> {
    let svc = &ctx.svc;
    let mut owners = [UserId::new(); 2];
    for (i, (name, display)) in [
        ("owner_pub", "Olive Public"),
        ("owner_priv", "Olive Private"),
    ]
    .into_iter()
    .enumerate()
    {
        let nu = NewUser::new(name, display)?.with_email(&format!("{name}@example.com"))?;
        let o = svc.register(nu).await?.id;
        svc.update_profile(
            o,
            ProfileUpdate {
                bio: Some(Bio::parse(BIO)?),
                location: Some(Some(Location::parse(LOCATION)?)),
                avatar_url: Some(Some(SafeUrl::parse(AVATAR)?)),
                social_links: Some(SocialLinks::new(vec![SocialLink {
                    kind: SocialKind::Website,
                    url: SafeUrl::parse(LINK)?,
                }])?),
                ..Default::default()
            },
        )
        .await?;
        svc.link_account(o, "github", &format!("gh-{name}"), "olive")
            .await?;
        owners[i] = o;
    }
    make_private(svc, owners[1]).await;
    let mut others = BTreeMap::new();
    for (w, name) in [
        (Who::Fan, "fan"),
        (Who::Asker, "asker"),
        (Who::Stranger, "stranger"),
        (Who::Banned, "banned"),
        (Who::Blocker, "blocker"),
        (Who::Extra, "extra"),
    ] {
        others.insert(w, user(svc, name).await);
    }
    let follow = |a: UserId, b: UserId| async move {
        svc.toggle_follow(a, b, Some(FollowAction::Follow))
            .await
            .map(|_| ())
    };
    for (i, &o) in owners.iter().enumerate() {
        let private = i == 1;
        for w in [Who::Extra, Who::Fan] {
            follow(others[&w], o).await?;
            if private {
                svc.approve_follow_request(o, others[&w]).await?;
            }
        }
        follow(o, others[&Who::Extra]).await?;
        follow(o, others[&Who::Fan]).await?;
        follow(others[&Who::Banned], o).await?;
        svc.block(o, others[&Who::Banned]).await?;
        follow(others[&Who::Blocker], o).await?;
        svc.block(others[&Who::Blocker], o).await?;
    }
    follow(others[&Who::Asker], owners[1]).await?;
    Ok(World { owners, others })
}

// ---------------------------------------------------------------- the oracle

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Follow,
    Request,
    Block,
}

/// One combination of the owner's settings.
#[derive(Clone, Copy, Debug)]
struct Combo {
    private: bool,
    followers_visibility: ListVisibility,
    following_visibility: ListVisibility,
    show_counts: bool,
    discoverable: bool,
    allow_mentions: Audience,
}

/// What SPEC says each viewer sees, derived from the settings and the
/// world's edges (listed in the order they were made) and nothing else.
struct Oracle {
    c: Combo,
    edges: Vec<(Who, Who, Kind)>,
}

/// The expected answer of a list or search: rows, or an error code.
type Rows = Result<Vec<(Who, Option<Relationship>)>, &'static str>;

impl Oracle {
    fn new(c: Combo) -> Self {
        use Kind::*;
        use Who::*;
        let mut edges = vec![
            (Extra, Owner, Follow),
            (Fan, Owner, Follow),
            (Owner, Extra, Follow),
            (Owner, Fan, Follow),
            (Owner, Banned, Block),
            (Blocker, Owner, Block),
        ];
        if c.private {
            edges.push((Asker, Owner, Request));
        }
        Self { c, edges }
    }

    fn has(&self, a: Who, b: Who, k: Kind) -> bool {
        self.edges.contains(&(a, b, k))
    }

    /// §5: the viewer's relationship to `u` (whether `u` blocks the viewer
    /// is never revealed).
    fn rel(&self, v: Who, u: Who) -> Relationship {
        if v == u {
            return Relationship::default();
        }
        Relationship {
            following: self.has(v, u, Kind::Follow),
            followed_by: self.has(u, v, Kind::Follow),
            requested: self.has(v, u, Kind::Request),
            requested_by: self.has(u, v, Kind::Request),
            blocking: self.has(v, u, Kind::Block),
            muting: false,
            muted_until: None,
        }
    }

    /// §3/§9: a user who blocks the viewer is `NotFound` to them.
    fn hidden(&self, v: Option<Who>, u: Who) -> bool {
        v.is_some_and(|v| v != u && self.has(u, v, Kind::Block))
    }

    fn blocked_either_way(&self, v: Option<Who>, u: Who) -> bool {
        v.is_some_and(|v| v != u && (self.has(u, v, Kind::Block) || self.has(v, u, Kind::Block)))
    }

    /// §3: the owner gets their own profile; a hidden one is `not_found`;
    /// anyone else gets the public profile, counts only with show_counts.
    fn profile(&self, v: Option<Who>) -> String {
        if v == Some(Who::Owner) {
            return "own".into();
        }
        if self.hidden(v, Who::Owner) {
            return "err not_found: user not found".into();
        }
        let followers = self
            .edges
            .iter()
            .filter(|e| e.1 == Who::Owner && e.2 == Kind::Follow)
            .count();
        let following = self
            .edges
            .iter()
            .filter(|e| e.0 == Who::Owner && e.2 == Kind::Follow)
            .count();
        format!(
            "public private={} stats={:?} rel={:?}",
            self.c.private,
            self.c.show_counts.then_some((followers, following)),
            v.map(|v| self.rel(v, Who::Owner))
        )
    }

    /// §6: who may list; `which` is followers, following or known followers.
    fn list(&self, v: Option<Who>, which: &str) -> Rows {
        if self.hidden(v, Who::Owner) {
            return Err("not_found");
        }
        let vis = if which == "following" {
            self.c.following_visibility
        } else {
            self.c.followers_visibility
        };
        let allowed = v == Some(Who::Owner)
            || match vis {
                ListVisibility::Public => true,
                ListVisibility::Followers => {
                    v.is_some_and(|v| self.has(v, Who::Owner, Kind::Follow))
                }
                ListVisibility::Owner => false,
            };
        if !allowed {
            return Err("forbidden");
        }
        // Newest first: the edges are listed oldest first.
        let rows = self.edges.iter().rev().filter_map(|&(a, b, k)| {
            if k != Kind::Follow {
                return None;
            }
            match which {
                "following" if a == Who::Owner => Some(b),
                "followers" | "known" if b == Who::Owner => Some(a),
                _ => None,
            }
        });
        Ok(rows
            .filter(|&r| !self.blocked_either_way(v, r))
            .filter(|&r| {
                which != "known" || v.is_some_and(|v| v != r && self.has(v, r, Kind::Follow))
            })
            .map(|r| (r, v.map(|v| self.rel(v, r))))
            .collect())
    }

    /// §8 discovery: discoverable users, never the viewer, no block either way.
    fn discovery(&self, v: Option<Who>) -> Rows {
        let hit =
            v != Some(Who::Owner) && self.c.discoverable && !self.blocked_either_way(v, Who::Owner);
        Ok(self.hit(v, hit))
    }

    /// §8 mention: needs a viewer; allow_mentions relative to the viewer
    /// ("following" = people the owner follows).
    fn mention(&self, v: Option<Who>) -> Rows {
        let Some(viewer) = v else {
            return Err("unauthenticated");
        };
        let admits = match self.c.allow_mentions {
            Audience::Everyone => true,
            Audience::Following => self.has(Who::Owner, viewer, Kind::Follow),
            Audience::Nobody => false,
        };
        let hit = viewer != Who::Owner && admits && !self.blocked_either_way(v, Who::Owner);
        Ok(self.hit(v, hit))
    }

    fn hit(&self, v: Option<Who>, hit: bool) -> Vec<(Who, Option<Relationship>)> {
        if hit {
            vec![(Who::Owner, v.map(|v| self.rel(v, Who::Owner)))]
        } else {
            Vec::new()
        }
    }

    /// §8 followers/following scopes: the list's own visibility rules, and
    /// only users in the list (here: is `extra` found).
    fn list_search(&self, v: Option<Who>, which: &str) -> Rows {
        self.list(v, which).map(|rows| {
            rows.into_iter()
                .filter(|(r, _)| *r == Who::Extra && !self.blocked_either_way(v, *r))
                .collect()
        })
    }

    /// §5 relationships(): all false for a user the viewer cannot see.
    fn relationships(&self, v: Who) -> Relationship {
        if self.hidden(Some(v), Who::Owner) {
            Relationship::default()
        } else {
            self.rel(v, Who::Owner)
        }
    }
}

fn combos() -> Vec<Combo> {
    let vis = [
        ListVisibility::Public,
        ListVisibility::Followers,
        ListVisibility::Owner,
    ];
    let aud = [Audience::Everyone, Audience::Following, Audience::Nobody];
    let mut out = Vec::new();
    for fv in vis {
        for gv in vis {
            for show_counts in [true, false] {
                for discoverable in [true, false] {
                    for allow_mentions in aud {
                        out.push(Combo {
                            private: false,
                            followers_visibility: fv,
                            following_visibility: gv,
                            show_counts,
                            discoverable,
                            allow_mentions,
                        });
                    }
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------- describing answers

fn err_cell(e: &Error) -> String {
    format!("err {}: {e}", e.code())
}

fn rows_cell(
    world: &World,
    owner: usize,
    r: Result<Vec<(UserId, Option<Relationship>)>, Error>,
) -> String {
    match r {
        Ok(rows) => format!(
            "{:?}",
            rows.into_iter()
                .map(|(id, rel)| (world.who(owner, id), rel))
                .collect::<Vec<_>>()
        ),
        Err(e) => format!("err {}", e.code()),
    }
}

fn expected_rows(r: Rows) -> String {
    match r {
        Ok(rows) => format!(
            "{:?}",
            rows.into_iter()
                .map(|(w, rel)| (format!("{w:?}").to_lowercase(), rel))
                .collect::<Vec<_>>()
        ),
        Err(code) => format!("err {code}"),
    }
}

/// Describes a profile answer as the oracle does, after checking every
/// field against what the owner set (a wrong field shows in the cell).
fn profile_cell(r: Result<ProfileView, Error>, c: &Combo, owner_name: &str) -> String {
    let p = match r {
        Err(e) => return err_cell(&e),
        Ok(p) => p,
    };
    let mut bad = Vec::new();
    let json = serde_json::to_value(&p).unwrap_or_default();
    let fields_ok = |bad: &mut Vec<String>, v: &serde_json::Value| {
        for (k, want) in [
            ("username", owner_name),
            ("bio", BIO),
            ("location", LOCATION),
            ("avatar_url", AVATAR),
        ] {
            if v[k] != want {
                bad.push(format!("{k}={}", v[k]));
            }
        }
        if v["social_links"][0]["url"] != LINK {
            bad.push(format!("social_links={}", v["social_links"]));
        }
    };
    match p {
        ProfileView::Own(o) => {
            fields_ok(&mut bad, &json);
            if o.email.as_ref().map(|e| e.as_str().to_string())
                != Some(format!("{owner_name}@example.com"))
            {
                bad.push("email".into());
            }
            let pr = &o.settings.privacy;
            if (
                pr.private_account,
                pr.followers_visibility,
                pr.following_visibility,
                pr.show_counts,
                pr.discoverable,
                pr.allow_mentions,
            ) != (
                c.private,
                c.followers_visibility,
                c.following_visibility,
                c.show_counts,
                c.discoverable,
                c.allow_mentions,
            ) {
                bad.push(format!("settings={pr:?}"));
            }
            let s = o.stats;
            let pending = u64::from(c.private);
            if (
                s.followers_count,
                s.following_count,
                s.pending_follow_requests,
            ) != (2, 2, pending)
            {
                bad.push(format!("stats={s:?}"));
            }
            if o.connected_accounts.len() != 1 {
                bad.push("connected_accounts".into());
            }
            if bad.is_empty() {
                "own".into()
            } else {
                format!("own, wrong: {}", bad.join(", "))
            }
        }
        ProfileView::Public(pp) => {
            fields_ok(&mut bad, &json);
            let keys: BTreeSet<&str> = json
                .as_object()
                .map(|o| {
                    o.keys()
                        .map(String::as_str)
                        .filter(|k| *k != "view")
                        .collect()
                })
                .unwrap_or_default();
            if keys != PUBLIC_KEYS.into_iter().collect() {
                bad.push(format!("keys={keys:?}"));
            }
            let stats = pp
                .stats
                .map(|s| (s.followers_count as usize, s.following_count as usize));
            let cell = format!(
                "public private={} stats={stats:?} rel={:?}",
                pp.private_account, pp.relationship
            );
            if bad.is_empty() {
                cell
            } else {
                format!("{cell}, wrong: {}", bad.join(", "))
            }
        }
    }
}

// ---------------------------------------------------------------- cases

/// Every cell of the matrix: for each of the 216 settings combinations, each
/// owner (public, private) and each of the 7 viewers: the profile by id and
/// by `@USERNAME` (fields, counts, relationship, nothing private), the three
/// lists (visibility and rows), the four search scopes, and
/// `relationships()`. All mismatches are reported together.
pub async fn matrix_every_viewer_every_setting_every_cell(ctx: Ctx) -> TestResult {
    let world = build_world(&ctx).await?;
    let svc = &ctx.svc;
    let mut mismatches: Vec<String> = Vec::new();
    let mut cells = 0usize;
    for base in combos() {
        for &o in &world.owners {
            let patch = SettingsPatch {
                privacy: Some(PrivacyPatch {
                    followers_visibility: Some(base.followers_visibility),
                    following_visibility: Some(base.following_visibility),
                    show_counts: Some(base.show_counts),
                    discoverable: Some(base.discoverable),
                    allow_mentions: Some(base.allow_mentions),
                    ..Default::default()
                }),
                ..Default::default()
            };
            svc.edit_settings(o, patch).await?;
        }
        svc.refresh_search().await?;
        for (oi, owner_name) in ["owner_pub", "owner_priv"].into_iter().enumerate() {
            let c = Combo {
                private: oi == 1,
                ..base
            };
            let oracle = Oracle::new(c);
            let owner = world.owners[oi];
            let extra = world.id(oi, Who::Extra);
            for v in VIEWERS {
                let vid = v.map(|w| world.id(oi, w));
                let mut check = |cell: &str, want: String, got: String| {
                    cells += 1;
                    if want != got {
                        mismatches.push(format!(
                            "{c:?} viewer={} {cell}:\n      expected {want}\n      got      {got}",
                            viewer_name(v)
                        ));
                    }
                };
                // Profiles: by id, and by username with `@` and another case.
                let by_id = svc.get_profile(vid, &owner.to_string()).await;
                check(
                    "profile by id",
                    oracle.profile(v),
                    profile_cell(by_id, &c, owner_name),
                );
                let by_name = svc
                    .get_profile(vid, &format!("@{}", owner_name.to_uppercase()))
                    .await;
                check(
                    "profile by @USERNAME",
                    oracle.profile(v),
                    profile_cell(by_name, &c, owner_name),
                );
                // Lists: whole first page (the lists are short).
                for which in ["followers", "following", "known"] {
                    let page = match which {
                        "followers" => {
                            svc.followers(vid, owner, PageRequest::with_limit(100))
                                .await
                        }
                        "following" => {
                            svc.following(vid, owner, PageRequest::with_limit(100))
                                .await
                        }
                        _ => {
                            svc.known_followers(vid, owner, PageRequest::with_limit(100))
                                .await
                        }
                    };
                    let got = page.map(|p| {
                        p.items
                            .into_iter()
                            .map(|r| (r.user.id, r.relationship))
                            .collect()
                    });
                    check(
                        &format!("{which} list"),
                        expected_rows(oracle.list(v, which)),
                        rows_cell(&world, oi, got),
                    );
                }
                // Search scopes.
                let search = |q: &'static str, scope: SearchScope| async move {
                    svc.search_users(vid, q, scope, PageRequest::with_limit(50))
                        .await
                        .map(|p| {
                            p.items
                                .into_iter()
                                .map(|h| (h.user.id, h.relationship))
                                .collect::<Vec<_>>()
                        })
                };
                let only = |r: Result<Vec<(UserId, Option<Relationship>)>, Error>, keep: UserId| {
                    r.map(|rows| rows.into_iter().filter(|(id, _)| *id == keep).collect())
                };
                let got = only(search(owner_name, SearchScope::Discovery).await, owner);
                check(
                    "search discovery",
                    expected_rows(oracle.discovery(v)),
                    rows_cell(&world, oi, got),
                );
                let got = only(search(owner_name, SearchScope::Mention).await, owner);
                check(
                    "search mention",
                    expected_rows(oracle.mention(v)),
                    rows_cell(&world, oi, got),
                );
                let got = only(
                    search("extra", SearchScope::Followers { of: owner }).await,
                    extra,
                );
                check(
                    "search followers scope",
                    expected_rows(oracle.list_search(v, "followers")),
                    rows_cell(&world, oi, got),
                );
                let got = only(
                    search("extra", SearchScope::Following { of: owner }).await,
                    extra,
                );
                check(
                    "search following scope",
                    expected_rows(oracle.list_search(v, "following")),
                    rows_cell(&world, oi, got),
                );
                // relationships() for one id.
                if let (Some(w), Some(viewer)) = (v, vid) {
                    let got = match svc.relationships(viewer, &[owner]).await {
                        Ok(entries) => format!("{:?}", entries.first().map(|e| e.relationship)),
                        Err(e) => err_cell(&e),
                    };
                    check(
                        "relationships()",
                        format!("{:?}", Some(oracle.relationships(w))),
                        got,
                    );
                }
            }
        }
    }
    // 216 settings × (7 viewers × 9 cells + 6 relationships() calls).
    assert_eq!(cells, 216 * (7 * 9 + 6), "every cell was checked");
    if !mismatches.is_empty() {
        let n = mismatches.len();
        mismatches.truncate(25);
        return Err(format!(
            "{n} of {cells} cells differ from SPEC (first {}):\n  {}",
            mismatches.len(),
            mismatches.join("\n  ")
        )
        .into());
    }
    Ok(())
}

/// A profile hidden from the viewer (its owner blocks the viewer, or is
/// deactivated) answers every read exactly as a user that never existed:
/// same error code and same message, by id and by username, for the
/// profile, the three lists, the list search scopes, `relationships()` and
/// following.
pub async fn hidden_profile_indistinguishable_from_missing(ctx: Ctx) -> TestResult {
    let world = build_world(&ctx).await?;
    let svc = &ctx.svc;
    let banned = world.others[&Who::Banned];
    let stranger = world.others[&Who::Stranger];
    let ghost = UserId::new();
    // A user who deactivated is hidden from everyone but themselves.
    let gone = user(svc, "gone_away").await;
    svc.deactivate(gone).await?;
    svc.refresh_search().await?;

    let answers = |viewer: UserId, target: UserId, name: String| async move {
        let mut out: Vec<(String, String)> = Vec::new();
        let e = |r: Result<String, Error>| match r {
            Ok(v) => format!("ok {v}"),
            Err(e) => err_cell(&e),
        };
        let fmt = |r: Result<ProfileView, Error>| e(r.map(|p| format!("{:?}", p.id())));
        out.push((
            "profile by id".into(),
            fmt(svc.get_profile(Some(viewer), &target.to_string()).await),
        ));
        out.push((
            "profile by name".into(),
            fmt(svc.get_profile(Some(viewer), &name).await),
        ));
        let page = |r: Result<kinfolk::Page<kinfolk::UserRow>, Error>| {
            e(r.map(|p| format!("{} rows", p.items.len())))
        };
        out.push((
            "followers".into(),
            page(
                svc.followers(Some(viewer), target, PageRequest::first())
                    .await,
            ),
        ));
        out.push((
            "following".into(),
            page(
                svc.following(Some(viewer), target, PageRequest::first())
                    .await,
            ),
        ));
        out.push((
            "known followers".into(),
            page(
                svc.known_followers(Some(viewer), target, PageRequest::first())
                    .await,
            ),
        ));
        for scope in [
            SearchScope::Followers { of: target },
            SearchScope::Following { of: target },
        ] {
            let r = svc
                .search_users(Some(viewer), "extra", scope, PageRequest::first())
                .await;
            out.push((
                format!("search {scope:?}").replace(&target.to_string(), "T"),
                e(r.map(|p| format!("{} hits", p.items.len()))),
            ));
        }
        let rel = svc.relationships(viewer, &[target]).await;
        out.push((
            "relationships()".into(),
            e(rel.map(|r| format!("{:?}", r.first().map(|x| x.relationship)))),
        ));
        let f = svc
            .toggle_follow(viewer, target, Some(FollowAction::Follow))
            .await;
        out.push(("follow".into(), e(f.map(|o| format!("{o:?}")))));
        out
    };
    let missing_by_name = answers(banned, ghost, "@no_such_user".into()).await;
    for (oi, owner_name) in ["owner_pub", "owner_priv"].into_iter().enumerate() {
        let hidden = answers(banned, world.owners[oi], format!("@{owner_name}")).await;
        assert_eq!(
            hidden, missing_by_name,
            "{owner_name}, which blocks the viewer, must look exactly like a missing user"
        );
    }
    let deactivated = answers(stranger, gone, "gone_away".into()).await;
    let missing = answers(stranger, ghost, "no_such_user".into()).await;
    assert_eq!(
        deactivated, missing,
        "a deactivated user must look exactly like a missing user"
    );
    // And every one of those answers is an error (or all-false relationship),
    // so the comparison above is not between two successes.
    for (what, answer) in &missing {
        if what == "relationships()" {
            assert_eq!(
                answer,
                &format!("ok {:?}", Some(Relationship::default())),
                "{what}"
            );
        } else {
            assert!(answer.starts_with("err not_found"), "{what}: {answer}");
        }
    }
    Ok(())
}
