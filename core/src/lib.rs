//! # kinfolk
//!
//! The user side of a social platform as a library: profiles and settings,
//! follow relationships, followers, room memberships, user search and account
//! actions. A host service authenticates its caller and calls [`Kinfolk`] with
//! the caller's id; kinfolk owns the rules and the data, through a [`Store`].
//!
//! Callers: every command takes an `actor: UserId`, every read a
//! `viewer: Option<UserId>` (`None` = anonymous). An id that names no user
//! gives [`Error::Unauthenticated`]; a deactivated caller gets
//! [`Error::Deactivated`] for everything but reading its own profile,
//! reactivating, exporting and deleting its account.
//!
//! Rules worth knowing up front (each stated in full where it lives):
//! - **Time range**: stored times lie in `0000-01-01T00:00:00Z ..=
//!   9999-12-31T23:59:59.999999999Z`; a time outside it is refused where it
//!   enters ([`clock`]).
//! - **Following cap**: approved follows plus pending outgoing requests stay
//!   within [`Config::max_following`] ([`Kinfolk::toggle_follow`]).
//! - **Skeleton rule**: usernames are unique on their look-alike skeleton
//!   unless [`Config::unique_username_skeletons`] is off
//!   ([`Kinfolk::register`], [`user::skeleton`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
pub mod config;
pub mod error;
pub mod feed;
pub mod follow;
pub mod id;
pub mod page;
pub mod room;
pub mod search;
pub mod settings;
pub mod store;
pub mod text;
pub mod user;

mod account;
mod json;
mod service;

pub use account::Export;
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::Config;
pub use error::{Error, Result};
pub use feed::{Change, ChangeEvent};
pub use follow::{Anchor, Edge, EdgeKind, FollowAction, FollowOutcome, Relationship};
pub use id::{RoomId, UserId};
pub use page::{Page, PageRequest};
pub use room::{
    Membership, MyRoom, NewRoom, Room, RoomFilter, RoomKind, RoomName, RoomRole, RoomVisibility,
};
pub use search::{SearchIndex, SearchQuery, SearchScope};
pub use service::{
    Kinfolk, KinfolkBuilder, RelationshipEntry, SearchResult, Shared, SkeletonMigration, UserRow,
};
pub use settings::{
    Audience, DisplayPatch, EmailDigest, LanguageTag, ListVisibility, NotificationPatch,
    PrivacyPatch, Settings, SettingsPatch, Theme, TimeZoneName,
};
pub use store::{ReadTx, Store, WriteTx};
pub use user::{
    AccountStatus, Bio, ConnectedAccount, DisplayName, Email, Location, NewUser, OwnProfile,
    ProfileUpdate, ProfileView, PublicProfile, SafeUrl, SocialKind, SocialLink, SocialLinks, User,
    UserSummary, Username,
};
