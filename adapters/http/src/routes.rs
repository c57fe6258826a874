//! The handlers: each translates HTTP into one `Kinfolk` call and back; the
//! rules are all in core.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kinfolk::{
    FollowAction, NewRoom, Page, PageRequest, ProfileUpdate, RoomFilter, RoomKind, RoomRole,
    SearchScope, SettingsPatch, Timestamp,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::extract::{Actor, Caller, Json, JsonBody, OptJson, PathParams, Query, room_id, user_id};
use crate::problem::{ApiResult, Problem};
use crate::schema;

// ------------------------------------------------------------- shared bits

/// `{ "changed": bool }`: whether a command changed anything (idempotent
/// commands report `false` the second time).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Changed {
    /// Whether anything changed.
    pub changed: bool,
}

/// Page parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

impl PageParams {
    fn page(self) -> PageRequest {
        PageRequest {
            limit: self.limit,
            cursor: self.cursor,
        }
    }
}

fn json<T: Serialize>(v: &T) -> Response {
    axum::Json(v).into_response()
}

/// A page as JSON, with `Link: <…cursor=next>; rel="next"` when more follow.
fn paged<T: Serialize>(uri: &OriginalUri, page: &Page<T>) -> Response {
    let mut res = json(page);
    if let Some(next) = &page.next_cursor {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(uri.0.query().unwrap_or("").as_bytes()) {
            if k != "cursor" {
                ser.append_pair(&k, &v);
            }
        }
        ser.append_pair("cursor", next);
        let link = format!("<{}?{}>; rel=\"next\"", uri.0.path(), ser.finish());
        if let Ok(v) = HeaderValue::from_str(&link) {
            res.headers_mut().insert(header::LINK, v);
        }
    }
    res
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn settings_response(s: &kinfolk::Settings) -> Response {
    let mut res = json(s);
    res.headers_mut().insert(header::ETAG, etag(s.version));
    res
}

// ------------------------------------------------------------------- me

/// Get the caller's own profile: personal info, settings, statistics and
/// connected accounts (the seed's "Get user profile").
#[utoipa::path(get, path = "/v1/me", tag = "me", operation_id = "get_me",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's full profile", body = schema::OwnProfile,
        links(
            ("ProfileById" = (operation_id = "get_profile", parameters(("id_or_username" = "$response.body#/id")))),
            ("MyFollowers" = (operation_id = "list_followers", parameters(("id" = "$response.body#/id")))),
            ("MyFollowing" = (operation_id = "list_following", parameters(("id" = "$response.body#/id"))))
        ))))]
pub async fn get_me(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    Ok(json(&s.svc.me(me).await?))
}

/// Get the caller's settings; the `ETag` is the settings version.
#[utoipa::path(get, path = "/v1/me/settings", tag = "me", operation_id = "get_settings",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's settings", body = schema::Settings,
        headers(("ETag" = String, description = "The settings version, quoted")))))]
pub async fn get_settings(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    Ok(settings_response(&s.svc.me(me).await?.settings))
}

/// The version an `If-Match` header names: `*` matches any; one strong
/// `"N"` names version N; anything else can match no version (412).
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let stale = || {
        Problem::new(
            412,
            "precondition_failed",
            "If-Match does not name the current settings version",
        )
    };
    let raw = raw.to_str().map_err(|_| stale())?.trim();
    if raw == "*" {
        return Ok(None);
    }
    raw.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(stale)
}

/// Partially update the caller's settings (the seed's "Edit user profile").
/// Absent fields stay as they are; unknown fields are refused; an empty patch
/// returns the current settings. `If-Match: "<version>"` (or
/// `expected_version` in the body) makes a stale update fail instead of
/// silently undoing another client's change.
#[utoipa::path(patch, path = "/v1/me/settings", tag = "me", operation_id = "edit_settings",
    security(("bearer" = [])),
    params(("If-Match" = Option<String>, Header, description = "The ETag of the settings read before (`\"<version>\"`) or `*`")),
    request_body(content = schema::SettingsPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated settings", body = schema::Settings,
            headers(("ETag" = String, description = "The new settings version, quoted"))),
        (status = 409, description = "`expected_version` is stale", body = schema::Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not name the current version", body = schema::Problem, content_type = "application/problem+json")))]
pub async fn edit_settings(
    State(s): State<AppState>,
    Actor(me): Actor,
    headers: HeaderMap,
    Json(mut patch): Json<SettingsPatch>,
) -> ApiResult<Response> {
    // The document says int64 (what JSON clients can hold); a version past
    // it cannot exist, and refusing it keeps the server and the schema equal.
    if patch.expected_version.is_some_and(|v| v > i64::MAX as u64) {
        return Err(Problem::validation(
            "expected_version",
            "must be at most 2^63 - 1",
        ));
    }
    let guarded = if_match(&headers)?;
    if let Some(v) = guarded {
        if patch.expected_version.is_some_and(|b| b != v) {
            return Err(Problem::new(
                412,
                "precondition_failed",
                "If-Match and expected_version disagree",
            ));
        }
        patch.expected_version = Some(v);
    }
    match s.svc.edit_settings(me, patch).await {
        Ok(settings) => Ok(settings_response(&settings)),
        Err(kinfolk::Error::Conflict { .. }) if guarded.is_some() => Err(Problem::new(
            412,
            "precondition_failed",
            "the settings changed since the version If-Match names",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Update the caller's profile: name, bio, username, avatar, social links,
/// location (the seed's "Update user profile"). A field left out stays as it
/// is; `null` clears `avatar_url` / `location`. Usernames are unique.
#[utoipa::path(patch, path = "/v1/me/profile", tag = "me", operation_id = "update_profile",
    security(("bearer" = [])),
    request_body(content = schema::ProfileUpdate, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated profile", body = schema::OwnProfile),
        (status = 409, description = "`username_taken`", body = schema::Problem, content_type = "application/problem+json")))]
pub async fn update_profile(
    State(s): State<AppState>,
    Actor(me): Actor,
    Json(update): Json<ProfileUpdate>,
) -> ApiResult<Response> {
    Ok(json(&s.svc.update_profile(me, update).await?))
}

/// Filters of `GET /v1/me/rooms`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RoomParams {
    /// Case- and accent-insensitive substring of the room name (≤ 100 characters).
    pub name: Option<String>,
    /// Only rooms of this kind.
    #[param(inline)]
    pub kind: Option<schema::RoomKind>,
    /// Only rooms where the caller has this role.
    #[param(inline)]
    pub role: Option<schema::RoomRole>,
    /// Rows per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

fn kind_of(k: schema::RoomKind) -> RoomKind {
    match k {
        schema::RoomKind::Group => RoomKind::Group,
        schema::RoomKind::Page => RoomKind::Page,
    }
}

fn role_of(r: schema::RoomRole) -> RoomRole {
    match r {
        schema::RoomRole::Member => RoomRole::Member,
        schema::RoomRole::Moderator => RoomRole::Moderator,
        schema::RoomRole::Admin => RoomRole::Admin,
        schema::RoomRole::Owner => RoomRole::Owner,
    }
}

/// The rooms (groups and pages) the caller belongs to, most recently joined
/// first, filtered by name, kind and role (the seed's "Get logged-in user rooms").
#[utoipa::path(get, path = "/v1/me/rooms", tag = "rooms", operation_id = "my_rooms",
    security(("bearer" = [])), params(RoomParams),
    responses((status = 200, description = "A page of rooms", body = schema::MyRoomPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")))))]
pub async fn my_rooms(
    State(s): State<AppState>,
    Actor(me): Actor,
    uri: OriginalUri,
    Query(p): Query<RoomParams>,
) -> ApiResult<Response> {
    let filter = RoomFilter {
        name: p.name,
        kind: p.kind.map(kind_of),
        role: p.role.map(role_of),
    };
    let page = PageRequest {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(paged(&uri, &s.svc.my_rooms(me, filter, page).await?))
}

// --------------------------------------------------------------- search

/// The search scopes (`room_invite` needs `room`; `following` / `followers` need `of`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeName {
    /// Discoverable users, never the caller.
    Discovery,
    /// Users whose `allow_mentions` admits the caller.
    Mention,
    /// Users the caller may add to `room`.
    RoomInvite,
    /// Inside the users `of` follows.
    Following,
    /// Inside the followers of `of`.
    Followers,
}

/// Parameters of `GET /v1/users/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Plain text, 1–100 characters after trimming; a leading `@` is ignored.
    #[param(min_length = 1)]
    pub q: String,
    /// The scope (default `discovery`).
    #[param(inline)]
    pub scope: Option<ScopeName>,
    /// The room, for `scope=room_invite`.
    #[param(format = Uuid)]
    pub room: Option<String>,
    /// The list owner, for `scope=following` / `scope=followers`.
    #[param(format = Uuid)]
    pub of: Option<String>,
    /// Hits per page, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
}

fn scope_of(p: &SearchParams) -> Result<SearchScope, Problem> {
    let scope = p.scope.unwrap_or(ScopeName::Discovery);
    let needs_room = matches!(scope, ScopeName::RoomInvite);
    let needs_of = matches!(scope, ScopeName::Following | ScopeName::Followers);
    if p.room.is_some() && !needs_room {
        return Err(Problem::validation("room", "only for scope=room_invite"));
    }
    if p.of.is_some() && !needs_of {
        return Err(Problem::validation(
            "of",
            "only for scope=following or scope=followers",
        ));
    }
    let of = || match &p.of {
        Some(raw) => user_id(raw, "of"),
        None => Err(Problem::validation("of", "required by this scope")),
    };
    Ok(match scope {
        ScopeName::Discovery => SearchScope::Discovery,
        ScopeName::Mention => SearchScope::Mention,
        ScopeName::RoomInvite => SearchScope::RoomInvite {
            room: match &p.room {
                Some(raw) => room_id(raw, "room")?,
                None => return Err(Problem::validation("room", "required by this scope")),
            },
        },
        ScopeName::Following => SearchScope::Following { of: of()? },
        ScopeName::Followers => SearchScope::Followers { of: of()? },
    })
}

/// Search users by name or username, for discovery, mentions, room invites
/// or inside a user's lists (the seed's "Search for users").
#[utoipa::path(get, path = "/v1/users/search", tag = "users", operation_id = "search_users",
    security((), ("bearer" = [])), params(SearchParams),
    responses((status = 200, description = "A page of hits, best first", body = schema::SearchPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")),
        links(
            ("FirstHitProfile" = (operation_id = "get_profile", parameters(("id_or_username" = "$response.body#/items/0/user/id")))),
            ("FollowFirstHit" = (operation_id = "toggle_follow", parameters(("id" = "$response.body#/items/0/user/id"))))
        ))))]
pub async fn search_users(
    State(s): State<AppState>,
    Caller(viewer): Caller,
    uri: OriginalUri,
    Query(p): Query<SearchParams>,
) -> ApiResult<Response> {
    let scope = scope_of(&p)?;
    let page = PageRequest {
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(paged(
        &uri,
        &s.svc.search_users(viewer, &p.q, scope, page).await?,
    ))
}

// --------------------------------------------------------------- follows

/// Body of `POST /v1/users/{id}/follow` (optional).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowBody {
    /// `follow` / `unfollow` force the state; absent or null flips it.
    #[schema(inline)]
    pub action: Option<schema::FollowAction>,
}

impl JsonBody for FollowBody {
    fn from_json(text: &str) -> Result<Self, Problem> {
        crate::extract::flat(text)
    }
}

/// Follow or unfollow a user (the seed's "Toggle follow/unfollow"). Without
/// an action it flips the state; `follow` / `unfollow` force it and are
/// idempotent. Following a private account sends a request instead.
#[utoipa::path(post, path = "/v1/users/{id}/follow", tag = "follows", operation_id = "toggle_follow",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user to follow or unfollow")),
    request_body(content = Option<FollowBody>, content_type = "application/json"),
    responses((status = 200, description = "The new relationship and whether it changed", body = schema::FollowOutcome,
        links(
            ("TheirFollowers" = (operation_id = "list_followers", parameters(("id" = "$request.path.id")))),
            ("TheirProfile" = (operation_id = "get_profile", parameters(("id_or_username" = "$request.path.id"))))
        ))))]
pub async fn toggle_follow(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
    OptJson(body): OptJson<FollowBody>,
) -> ApiResult<Response> {
    let target = user_id(&id, "id")?;
    let action = body.and_then(|b| b.action).map(|a| match a {
        schema::FollowAction::Follow => FollowAction::Follow,
        schema::FollowAction::Unfollow => FollowAction::Unfollow,
    });
    Ok(json(&s.svc.toggle_follow(me, target, action).await?))
}

/// Remove a user from the caller's followers (and drop their pending
/// request); idempotent (the seed's "Remove a follower").
#[utoipa::path(delete, path = "/v1/me/followers/{id}", tag = "follows", operation_id = "remove_follower",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The follower to remove")),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn remove_follower(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let follower = user_id(&id, "id")?;
    let changed = s.svc.remove_follower(me, follower).await?;
    Ok(json(&Changed { changed }))
}

/// Pending follow requests to the caller, newest first.
#[utoipa::path(get, path = "/v1/me/follow_requests", tag = "follows", operation_id = "list_follow_requests",
    security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "A page of requesters", body = schema::UserRowPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")),
        links(("ApproveFirst" = (operation_id = "approve_follow_request", parameters(("id" = "$response.body#/items/0/user/id"))))))))]
pub async fn follow_requests(
    State(s): State<AppState>,
    Actor(me): Actor,
    uri: OriginalUri,
    Query(p): Query<PageParams>,
) -> ApiResult<Response> {
    Ok(paged(&uri, &s.svc.follow_requests(me, p.page()).await?))
}

/// Approve a pending follow request.
#[utoipa::path(post, path = "/v1/me/follow_requests/{id}/approve", tag = "follows", operation_id = "approve_follow_request",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The requester")),
    responses((status = 200, description = "The caller's relationship to the requester", body = schema::Relationship)))]
pub async fn approve_request(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let who = user_id(&id, "id")?;
    Ok(json(&s.svc.approve_follow_request(me, who).await?))
}

/// Reject a pending follow request.
#[utoipa::path(post, path = "/v1/me/follow_requests/{id}/reject", tag = "follows", operation_id = "reject_follow_request",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The requester")),
    responses((status = 200, description = "The caller's relationship to the requester", body = schema::Relationship)))]
pub async fn reject_request(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let who = user_id(&id, "id")?;
    Ok(json(&s.svc.reject_follow_request(me, who).await?))
}

/// Body of `POST /v1/me/relationships`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsBody {
    /// Up to 100 user ids.
    #[schema(max_items = 100)]
    pub ids: Vec<uuid::Uuid>,
}

impl JsonBody for IdsBody {
    fn from_json(text: &str) -> Result<Self, Problem> {
        crate::extract::flat(text)
    }
}

/// The caller's relationships to up to 100 users, in one call.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationshipList {
    /// One entry per id asked, in order.
    #[schema(value_type = Vec<schema::RelationshipEntry>)]
    pub items: Vec<kinfolk::RelationshipEntry>,
}

/// The caller's relationship to each of up to 100 users.
#[utoipa::path(post, path = "/v1/me/relationships", tag = "follows", operation_id = "relationships",
    security(("bearer" = [])),
    request_body(content = IdsBody, content_type = "application/json"),
    responses((status = 200, description = "One entry per id", body = RelationshipList)))]
pub async fn relationships(
    State(s): State<AppState>,
    Actor(me): Actor,
    Json(body): Json<IdsBody>,
) -> ApiResult<Response> {
    let ids: Vec<kinfolk::UserId> = body
        .ids
        .into_iter()
        .map(kinfolk::UserId::from_uuid)
        .collect();
    let items = s.svc.relationships(me, &ids).await?;
    Ok(json(&RelationshipList { items }))
}

// --------------------------------------------------------------- profiles

/// A profile by id or username (the seed's "Get user profile by id or
/// username"): the caller's own profile in full (`view: own`), anyone else's
/// public profile with the caller's relationship (`view: public`). A UUID is
/// an id; anything else a username (leading `@` ignored, case-insensitive).
#[utoipa::path(get, path = "/v1/users/{id_or_username}", tag = "users", operation_id = "get_profile",
    security((), ("bearer" = [])),
    params(("id_or_username" = String, Path, description = "A user id, or a username (a leading `@` is ignored)")),
    responses((status = 200, description = "The profile", body = schema::ProfileView,
        links(
            ("Follow" = (operation_id = "toggle_follow", parameters(("id" = "$response.body#/id")))),
            ("Followers" = (operation_id = "list_followers", parameters(("id" = "$response.body#/id")))),
            ("Following" = (operation_id = "list_following", parameters(("id" = "$response.body#/id"))))
        ))))]
pub async fn get_profile(
    State(s): State<AppState>,
    Caller(viewer): Caller,
    PathParams(key): PathParams<String>,
) -> ApiResult<Response> {
    Ok(json(&s.svc.get_profile(viewer, &key).await?))
}

#[derive(Clone, Copy)]
enum Which {
    Followers,
    Following,
    Known,
}

async fn list(
    s: AppState,
    viewer: Option<kinfolk::UserId>,
    id: &str,
    uri: &OriginalUri,
    p: PageParams,
    which: Which,
) -> ApiResult<Response> {
    let user = user_id(id, "id")?;
    let page = match which {
        Which::Followers => s.svc.followers(viewer, user, p.page()).await?,
        Which::Following => s.svc.following(viewer, user, p.page()).await?,
        Which::Known => s.svc.known_followers(viewer, user, p.page()).await?,
    };
    Ok(paged(uri, &page))
}

/// A user's followers, newest first, each with the caller's relationship
/// (the seed's "Get user followers"). Visible as the owner's
/// `followers_visibility` says.
#[utoipa::path(get, path = "/v1/users/{id}/followers", tag = "users", operation_id = "list_followers",
    security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user"), PageParams),
    responses((status = 200, description = "A page of followers", body = schema::UserRowPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")),
        links(("FirstRowProfile" = (operation_id = "get_profile", parameters(("id_or_username" = "$response.body#/items/0/user/id"))))))))]
pub async fn followers(
    State(s): State<AppState>,
    Caller(viewer): Caller,
    uri: OriginalUri,
    PathParams(id): PathParams<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Response> {
    list(s, viewer, &id, &uri, p, Which::Followers).await
}

/// The users a user follows, newest first (the seed's "Get users followed by user").
#[utoipa::path(get, path = "/v1/users/{id}/following", tag = "users", operation_id = "list_following",
    security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user"), PageParams),
    responses((status = 200, description = "A page of followed users", body = schema::UserRowPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")),
        links(("FirstRowProfile" = (operation_id = "get_profile", parameters(("id_or_username" = "$response.body#/items/0/user/id"))))))))]
pub async fn following(
    State(s): State<AppState>,
    Caller(viewer): Caller,
    uri: OriginalUri,
    PathParams(id): PathParams<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Response> {
    list(s, viewer, &id, &uri, p, Which::Following).await
}

/// The followers of a user whom the caller follows ("followed by people you know").
#[utoipa::path(get, path = "/v1/users/{id}/known_followers", tag = "users", operation_id = "list_known_followers",
    security((), ("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user"), PageParams),
    responses((status = 200, description = "A page of followers the caller follows", body = schema::UserRowPage,
        headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows")))))]
pub async fn known_followers(
    State(s): State<AppState>,
    Caller(viewer): Caller,
    uri: OriginalUri,
    PathParams(id): PathParams<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<Response> {
    list(s, viewer, &id, &uri, p, Which::Known).await
}

// -------------------------------------------------------- account actions

/// Block a user: removes follows and requests both ways; idempotent.
#[utoipa::path(put, path = "/v1/users/{id}/block", tag = "account", operation_id = "block",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user to block")),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn block(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let target = user_id(&id, "id")?;
    let changed = s.svc.block(me, target).await?;
    Ok(json(&Changed { changed }))
}

/// Unblock a user; idempotent.
#[utoipa::path(delete, path = "/v1/users/{id}/block", tag = "account", operation_id = "unblock",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user to unblock")),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn unblock(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let target = user_id(&id, "id")?;
    let changed = s.svc.unblock(me, target).await?;
    Ok(json(&Changed { changed }))
}

/// Body of `PUT /v1/users/{id}/mute` (optional).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteBody {
    /// When the mute ends by itself (in the future); absent or null = until unmuted.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

impl JsonBody for MuteBody {
    fn from_json(text: &str) -> Result<Self, Problem> {
        crate::extract::flat(text)
    }
}

/// Mute a user, optionally until a time.
#[utoipa::path(put, path = "/v1/users/{id}/mute", tag = "account", operation_id = "mute",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user to mute")),
    request_body(content = Option<MuteBody>, content_type = "application/json"),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn mute(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
    OptJson(body): OptJson<MuteBody>,
) -> ApiResult<Response> {
    let target = user_id(&id, "id")?;
    let until = body.and_then(|b| b.until);
    let changed = s.svc.mute(me, target, until).await?;
    Ok(json(&Changed { changed }))
}

/// Unmute a user; idempotent.
#[utoipa::path(delete, path = "/v1/users/{id}/mute", tag = "account", operation_id = "unmute",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The user to unmute")),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn unmute(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let target = user_id(&id, "id")?;
    let changed = s.svc.unmute(me, target).await?;
    Ok(json(&Changed { changed }))
}

/// Deactivate the caller's account (hidden from everyone; data kept).
#[utoipa::path(post, path = "/v1/me/deactivate", tag = "account", operation_id = "deactivate",
    security(("bearer" = [])),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn deactivate(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    let changed = s.svc.deactivate(me).await?;
    Ok(json(&Changed { changed }))
}

/// Reactivate the caller's account, restoring everything.
#[utoipa::path(post, path = "/v1/me/reactivate", tag = "account", operation_id = "reactivate",
    security(("bearer" = [])),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn reactivate(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    let changed = s.svc.reactivate(me).await?;
    Ok(json(&Changed { changed }))
}

/// Delete the caller's account, permanently (edges, memberships, connected
/// accounts; rooms pass to the next owner; the username is freed).
#[utoipa::path(delete, path = "/v1/me", tag = "account", operation_id = "delete_account",
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_account(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    s.svc.delete_account(me).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Everything kinfolk holds about the caller.
#[utoipa::path(get, path = "/v1/me/export", tag = "account", operation_id = "export",
    security(("bearer" = [])),
    responses((status = 200, description = "The export", body = schema::Export)))]
pub async fn export(State(s): State<AppState>, Actor(me): Actor) -> ApiResult<Response> {
    Ok(json(&s.svc.export(me).await?))
}

/// The caller's connected accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectedAccountList {
    /// The accounts.
    #[schema(value_type = Vec<schema::ConnectedAccount>)]
    pub items: Vec<kinfolk::ConnectedAccount>,
}

/// The caller's connected accounts. (Linking happens in the host's OAuth
/// flow, through the library; this API only lists and unlinks.)
#[utoipa::path(get, path = "/v1/me/connected_accounts", tag = "account", operation_id = "list_connected_accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "The accounts", body = ConnectedAccountList)))]
pub async fn connected_accounts(
    State(s): State<AppState>,
    Actor(me): Actor,
) -> ApiResult<Response> {
    let items = s.svc.me(me).await?.connected_accounts;
    Ok(json(&ConnectedAccountList { items }))
}

/// Unlink one of the caller's connected accounts; idempotent.
#[utoipa::path(delete, path = "/v1/me/connected_accounts/{provider}/{external_id}", tag = "account", operation_id = "unlink_account",
    security(("bearer" = [])),
    params(("provider" = String, Path, description = "The provider"),
           ("external_id" = String, Path, description = "The account id at the provider")),
    responses((status = 200, description = "Whether anything changed", body = Changed)))]
pub async fn unlink_account(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams((provider, external_id)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let changed = s.svc.unlink_account(me, &provider, &external_id).await?;
    Ok(json(&Changed { changed }))
}

// ------------------------------------------------------------------ rooms

/// Create a room; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/rooms", tag = "rooms", operation_id = "create_room",
    security(("bearer" = [])),
    request_body(content = schema::NewRoom, content_type = "application/json"),
    responses((status = 201, description = "The new room", body = schema::Room,
        links(
            ("Leave" = (operation_id = "leave_room", parameters(("room" = "$response.body#/id")))),
            ("MyRooms" = (operation_id = "my_rooms"))
        ))))]
pub async fn create_room(
    State(s): State<AppState>,
    Actor(me): Actor,
    Json(new_room): Json<NewRoom>,
) -> ApiResult<Response> {
    let room = s.svc.create_room(me, new_room).await?;
    Ok((StatusCode::CREATED, axum::Json(room)).into_response())
}

/// Add a user to a room (owners and admins; any member of a public room),
/// honouring the user's `allow_room_invites` and blocks.
#[utoipa::path(put, path = "/v1/rooms/{room}/members/{user}", tag = "rooms", operation_id = "add_member",
    security(("bearer" = [])),
    params(("room" = uuid::Uuid, Path, description = "The room"), ("user" = uuid::Uuid, Path, description = "The user to add")),
    responses((status = 200, description = "The membership", body = schema::Membership)))]
pub async fn add_member(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams((room, user)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let (room, user) = (room_id(&room, "room")?, user_id(&user, "user")?);
    Ok(json(&s.svc.add_member(me, room, user).await?))
}

/// Body of `PATCH /v1/rooms/{room}/members/{user}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    /// The new role (never above the caller's own).
    #[schema(inline)]
    pub role: schema::RoomRole,
}

impl JsonBody for RoleBody {
    fn from_json(text: &str) -> Result<Self, Problem> {
        crate::extract::flat(text)
    }
}

/// Change a member's role (owners and admins, never above their own).
#[utoipa::path(patch, path = "/v1/rooms/{room}/members/{user}", tag = "rooms", operation_id = "set_role",
    security(("bearer" = [])),
    params(("room" = uuid::Uuid, Path, description = "The room"), ("user" = uuid::Uuid, Path, description = "The member")),
    request_body(content = RoleBody, content_type = "application/json"),
    responses((status = 200, description = "The membership", body = schema::Membership)))]
pub async fn set_role(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams((room, user)): PathParams<(String, String)>,
    Json(body): Json<RoleBody>,
) -> ApiResult<Response> {
    let (room, user) = (room_id(&room, "room")?, user_id(&user, "user")?);
    Ok(json(
        &s.svc.set_role(me, room, user, role_of(body.role)).await?,
    ))
}

/// Remove a member of a lower role (owners, admins, moderators); removing
/// oneself is leaving.
#[utoipa::path(delete, path = "/v1/rooms/{room}/members/{user}", tag = "rooms", operation_id = "remove_member",
    security(("bearer" = [])),
    params(("room" = uuid::Uuid, Path, description = "The room"), ("user" = uuid::Uuid, Path, description = "The member")),
    responses((status = 204, description = "Removed")))]
pub async fn remove_member(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams((room, user)): PathParams<(String, String)>,
) -> ApiResult<Response> {
    let (room, user) = (room_id(&room, "room")?, user_id(&user, "user")?);
    s.svc.remove_member(me, room, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Leave a room (a sole owner hands ownership over; an empty room is deleted).
#[utoipa::path(post, path = "/v1/rooms/{room}/leave", tag = "rooms", operation_id = "leave_room",
    security(("bearer" = [])),
    params(("room" = uuid::Uuid, Path, description = "The room")),
    responses((status = 204, description = "Left")))]
pub async fn leave_room(
    State(s): State<AppState>,
    Actor(me): Actor,
    PathParams(room): PathParams<String>,
) -> ApiResult<Response> {
    let room = room_id(&room, "room")?;
    s.svc.leave_room(me, room).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ------------------------------------------------------------------- feed

/// Parameters of `GET /v1/changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// Events after this sequence number (default 0: from the start).
    #[param(minimum = 0)]
    pub after: Option<u64>,
    /// Events per call, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A slice of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeList {
    /// The events, in sequence order.
    #[schema(value_type = Vec<schema::ChangeEvent>)]
    pub items: Vec<kinfolk::ChangeEvent>,
    /// Pass as `after` to read on (the last event's sequence, or the `after` given).
    pub next_after: u64,
}

/// The change feed, for the host's feed and notification workers. It names
/// every user's relationships (blocks included), so only the callers the
/// server is configured with (`HttpConfig::feed_readers`) may read it.
#[utoipa::path(get, path = "/v1/changes", tag = "feed", operation_id = "changes_since",
    security(("bearer" = [])), params(ChangeParams),
    responses((status = 200, description = "Events after `after`", body = ChangeList)))]
pub async fn changes(
    State(s): State<AppState>,
    Actor(me): Actor,
    Query(p): Query<ChangeParams>,
) -> ApiResult<Response> {
    if !s.cfg.feed_readers.contains(&me) {
        return Err(Problem::from(kinfolk::Error::Forbidden {
            reason: "the change feed is for the service's feed readers",
        }));
    }
    let after = p.after.unwrap_or(0);
    if after > i64::MAX as u64 {
        return Err(Problem::validation("after", "must be at most 2^63 - 1"));
    }
    let limit = p.limit.unwrap_or(100) as usize;
    let items = s.svc.changes_since(after, limit).await?;
    let next_after = items.last().map_or(after, |e| e.seq);
    Ok(json(&ChangeList { items, next_after }))
}
