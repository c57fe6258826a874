//! OpenAPI schemas of kinfolk's JSON shapes.
//!
//! The router serialises kinfolk's own types (their serde shapes are stable,
//! SPEC §12); core carries no `ToSchema` derive (it depends on no HTTP
//! framework), so these doc-only mirrors describe the same shapes field for
//! field. They are never built; schemathesis' response-schema check in CI and
//! the `openapi` tests hold them to what the server sends.
#![allow(dead_code, missing_docs)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

// ------------------------------------------------------------------ enums

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailDigest {
    Never,
    Daily,
    Weekly,
}

/// Who may list followers / following.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListVisibility {
    Public,
    Followers,
    Owner,
}

/// Who may mention / invite: everyone, people the user follows, nobody.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Everyone,
    Following,
    Nobody,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    System,
    Light,
    Dark,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SocialKind {
    Website,
    Github,
    X,
    Instagram,
    Linkedin,
    Youtube,
    Mastodon,
    Other,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Deactivated,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Group,
    Page,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomVisibility {
    Public,
    Private,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    Member,
    Moderator,
    Admin,
    Owner,
}

/// How a search hit matched (the ranking tier).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchTier {
    ExactUsername,
    UsernamePrefix,
    NamePrefix,
    Fuzzy,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Follow,
    Request,
    Block,
    Mute,
}

/// `follow` / `unfollow` force the state (idempotent); absent flips it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowAction {
    Follow,
    Unfollow,
}

// --------------------------------------------------------------- settings

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationSettings {
    pub new_follower: bool,
    pub follow_request: bool,
    pub mention: bool,
    pub room_invite: bool,
    pub email_digest: EmailDigest,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrivacySettings {
    pub private_account: bool,
    pub discoverable: bool,
    pub followers_visibility: ListVisibility,
    pub following_visibility: ListVisibility,
    pub show_counts: bool,
    pub allow_mentions: Audience,
    pub allow_room_invites: Audience,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DisplaySettings {
    pub theme: Theme,
    /// A BCP 47 language tag.
    pub language: String,
    /// An IANA time zone name.
    pub timezone: String,
    pub compact: bool,
}

/// The caller's settings; `version` is also the resource's `ETag`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    #[schema(minimum = 1)]
    pub version: u64,
    pub notifications: NotificationSettings,
    pub privacy: PrivacySettings,
    pub display: DisplaySettings,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPatch {
    #[schema(nullable = false)]
    pub new_follower: Option<bool>,
    #[schema(nullable = false)]
    pub follow_request: Option<bool>,
    #[schema(nullable = false)]
    pub mention: Option<bool>,
    #[schema(nullable = false)]
    pub room_invite: Option<bool>,
    #[schema(nullable = false)]
    pub email_digest: Option<EmailDigest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPatch {
    #[schema(nullable = false)]
    pub private_account: Option<bool>,
    #[schema(nullable = false)]
    pub discoverable: Option<bool>,
    #[schema(nullable = false)]
    pub followers_visibility: Option<ListVisibility>,
    #[schema(nullable = false)]
    pub following_visibility: Option<ListVisibility>,
    #[schema(nullable = false)]
    pub show_counts: Option<bool>,
    #[schema(nullable = false)]
    pub allow_mentions: Option<Audience>,
    #[schema(nullable = false)]
    pub allow_room_invites: Option<Audience>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplayPatch {
    #[schema(nullable = false)]
    pub theme: Option<Theme>,
    /// A BCP 47 language tag.
    #[schema(nullable = false)]
    pub language: Option<String>,
    /// An IANA time zone name.
    #[schema(nullable = false)]
    pub timezone: Option<String>,
    #[schema(nullable = false)]
    pub compact: Option<bool>,
}

/// A partial settings update: absent = unchanged; `null`, unknown fields
/// and sections written as arrays are refused. `expected_version` (or the
/// `If-Match` header) guards against overwriting a newer version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[schema(nullable = false)]
    pub expected_version: Option<u64>,
    #[schema(nullable = false)]
    pub notifications: Option<NotificationPatch>,
    #[schema(nullable = false)]
    pub privacy: Option<PrivacyPatch>,
    #[schema(nullable = false)]
    pub display: Option<DisplayPatch>,
}

// ------------------------------------------------------------------ users

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialLink {
    pub kind: SocialKind,
    /// An absolute https URL.
    pub url: String,
}

/// A partial profile update: a field left out stays as it is; `avatar_url`
/// and `location` take `null` to clear (`null` is refused elsewhere).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1–50 characters.
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// 0–500 characters.
    #[schema(nullable = false)]
    pub bio: Option<String>,
    /// 3–30 of `A-Z a-z 0-9 _`, at least one letter.
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// An absolute https URL; `null` clears.
    pub avatar_url: Option<String>,
    /// At most 8 links.
    #[schema(max_items = 8)]
    #[schema(nullable = false)]
    pub social_links: Option<Vec<SocialLink>>,
    /// 0–100 characters; `null` clears.
    pub location: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub private_account: bool,
}

/// The viewer's relationship to a user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Relationship {
    pub following: bool,
    pub followed_by: bool,
    pub requested: bool,
    pub requested_by: bool,
    pub blocking: bool,
    pub muting: bool,
    pub muted_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnStats {
    pub followers_count: u64,
    pub following_count: u64,
    pub rooms_count: u64,
    pub pending_follow_requests: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicStats {
    pub followers_count: u64,
    pub following_count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectedAccount {
    pub user: Uuid,
    pub provider: String,
    pub external_id: String,
    pub handle: String,
    pub connected_at: DateTime<Utc>,
}

/// The caller's full profile.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OwnProfile {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub status: AccountStatus,
    pub settings: Settings,
    pub stats: OwnStats,
    pub connected_accounts: Vec<ConnectedAccount>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Someone else's profile, with the viewer's relationship (absent for
/// anonymous viewers) and counts (absent when the owner hides them).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicProfile {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub location: Option<String>,
    pub private_account: bool,
    pub stats: Option<PublicStats>,
    pub relationship: Option<Relationship>,
    pub created_at: DateTime<Utc>,
}

/// `view: own` for the caller's own profile, `view: public` otherwise.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum ProfileView {
    Own(OwnProfile),
    Public(PublicProfile),
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserRow {
    pub user: UserSummary,
    pub relationship: Option<Relationship>,
}

/// A page of users; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserRowPage {
    pub items: Vec<UserRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    pub user: UserSummary,
    pub tier: MatchTier,
    pub relationship: Option<Relationship>,
}

/// A page of search hits; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchResult>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowOutcome {
    pub relationship: Relationship,
    /// Whether anything changed.
    pub changed: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelationshipEntry {
    pub user: Uuid,
    pub relationship: Relationship,
}

// ------------------------------------------------------------------ rooms

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    pub kind: RoomKind,
    /// 1–100 characters.
    pub name: String,
    pub visibility: RoomVisibility,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Room {
    pub id: Uuid,
    pub kind: RoomKind,
    pub name: String,
    pub visibility: RoomVisibility,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub member_count: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub room: Uuid,
    pub user: Uuid,
    pub role: RoomRole,
    pub joined_at: DateTime<Utc>,
    /// The change-feed sequence of the join (orders "most recently joined").
    pub seq: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyRoom {
    pub room: Room,
    pub role: RoomRole,
    pub joined_at: DateTime<Utc>,
}

/// A page of rooms; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyRoomPage {
    pub items: Vec<MyRoom>,
    pub next_cursor: Option<String>,
}

// ----------------------------------------------------------------- export

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    pub followers: u64,
    pub following: u64,
    pub pending_requests: u64,
    pub rooms: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub social_links: Vec<SocialLink>,
    pub location: Option<String>,
    pub email: Option<String>,
    pub status: AccountStatus,
    pub settings: Settings,
    pub counts: Counts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UsernameClaim {
    pub folded: String,
    pub user: Uuid,
    pub username: String,
    pub held_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Edge {
    pub kind: EdgeKind,
    pub from: Uuid,
    pub to: Uuid,
    pub since: DateTime<Utc>,
    pub seq: u64,
    pub until: Option<DateTime<Utc>>,
}

/// Everything kinfolk holds about the caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Export {
    pub user: User,
    pub usernames: Vec<UsernameClaim>,
    pub connected_accounts: Vec<ConnectedAccount>,
    pub outgoing: Vec<Edge>,
    pub incoming: Vec<Edge>,
    pub memberships: Vec<Membership>,
}

// ------------------------------------------------------------------- feed

/// One change-feed event. `change` is an object tagged by `type`
/// (`user_registered`, `followed`, `blocked`, …) whose other fields name the
/// users and rooms involved (see `kinfolk::Change`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub change: serde_json::Value,
}

// ---------------------------------------------------------------- problem

/// An RFC 9457 problem (`application/problem+json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// `urn:kinfolk:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable code: `kinfolk::Error::code()` or an HTTP-layer code.
    pub code: String,
    /// The offending field, for validation errors.
    pub field: Option<String>,
    pub request_id: String,
    /// Seconds to wait, for `rate_limited`.
    pub retry_after: Option<u64>,
}
