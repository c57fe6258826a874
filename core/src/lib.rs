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

// Infrastructure: time, configuration, errors, ids, paging, the store port
// and text folding.
pub mod check;
pub mod clock;
pub mod config;
pub mod error;
pub mod fold;
pub mod id;
pub mod meter;
pub mod page;
pub mod store;
pub mod text;

// Concepts: each module holds its types *and* the service methods that
// enforce its rules (see the module map in README.md).
pub mod accounts;
pub mod feed;
pub mod graph;
pub mod lists;
pub mod profile;
pub mod rooms;
pub mod search;
pub mod settings;
pub mod transfer;

mod json;

mod service;
mod visibility;

/// Old path of [`profile`], kept for one release.
#[doc(hidden)]
pub mod user {
    pub use crate::profile::*;
}

/// Old path of [`graph`], kept for one release.
#[doc(hidden)]
pub mod follow {
    pub use crate::graph::*;
}

/// Old path of [`rooms`], kept for one release.
#[doc(hidden)]
pub mod room {
    pub use crate::rooms::*;
}

pub use accounts::Export;
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::Config;
pub use error::{Error, Result};
pub use feed::{Change, ChangeEvent};
pub use graph::RelationshipEntry;
pub use graph::{Anchor, Edge, EdgeKind, FollowAction, FollowOutcome, Relationship};
pub use id::{RoomId, UserId};
pub use lists::UserRow;
pub use page::{Page, PageRequest};
pub use profile::SkeletonMigration;
pub use profile::{
    AccountStatus, Bio, ConnectedAccount, DisplayName, Email, Location, NewUser, OwnProfile,
    ProfileUpdate, ProfileView, PublicProfile, SafeUrl, SocialKind, SocialLink, SocialLinks, User,
    UserSummary, Username,
};
pub use rooms::{
    Membership, MyRoom, NewRoom, Room, RoomFilter, RoomKind, RoomName, RoomRole, RoomVisibility,
};
pub use search::SearchResult;
pub use search::{RebuildProgress, SearchIndex, SearchQuery, SearchScope};
pub use service::{Kinfolk, KinfolkBuilder, Shared};
pub use settings::{
    Audience, DisplayPatch, EmailDigest, LanguageTag, ListVisibility, NotificationPatch,
    PrivacyPatch, Settings, SettingsPatch, Theme, TimeZoneName,
};
pub use store::{ReadTx, Store, WriteTx};
