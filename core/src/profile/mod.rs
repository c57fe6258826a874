//! Users and profiles: the validating field types of SPEC §3, the stored
//! [`User`] record, and the views handed to callers.
//!
//! Files: `username.rs` (shape, reserved names, look-alike fold), `fields.rs`
//! (name, bio, location, e-mail), `links.rs` (safe URLs, social links, IP and
//! host checks), `record.rs`, `input.rs`, `view.rs`; the commands (register,
//! me, get_profile, update_profile, username holds) in `service.rs`.
//!
//! Every field type validates in its constructor *and* when deserialised, so an
//! invalid value cannot exist past the boundary.

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                $name::parse(&s)
            }
        }
    };
}

pub(crate) mod claims;
mod fields;
mod input;
mod links;
mod record;
pub(crate) mod service;
mod username;
mod view;

pub use claims::SkeletonMigration;
pub use fields::{Bio, DisplayName, Email, Location};
pub use input::{NewUser, ProfileUpdate};
pub use links::{SafeUrl, SocialKind, SocialLink, SocialLinks};
pub use record::{AccountStatus, ConnectedAccount, Counts, User, UsernameClaim};
pub use username::{RESERVED_USERNAMES, Username};
pub use username::{SKELETON_KEY_PREFIX, is_skeleton_key, skeleton, skeleton_key};
pub use view::{OwnProfile, OwnStats, ProfileView, PublicProfile, PublicStats, UserSummary};
