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
    Kinfolk, KinfolkBuilder, RelationshipEntry, SearchResult, SkeletonMigration, UserRow,
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
