//! The one error type every kinfolk call returns.
//!
//! Variants are *categories* a host can match on and map to a response in one
//! line ([`Error::code`], [`Error::http_status`]); storage engines map their own
//! errors into [`Error::Storage`] (or a domain category such as
//! [`Error::UsernameTaken`] for a unique-index violation) in one place.

use std::fmt;

/// Shorthand for `Result<T, kinfolk::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure kinfolk reports.
///
/// Bad input always yields a typed variant and leaves stored data unchanged;
/// corrupt or unexpected stored data yields [`Error::Storage`], never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist, or the caller may not know that it
    /// exists (a deactivated user, a user who blocks the caller). A hidden
    /// user is indistinguishable from a missing one.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up: `user`, `room`, `membership`, `follow_request`, …
        what: &'static str,
    },
    /// The caller (`actor`/`viewer`) does not name an existing user.
    #[error("the caller is not a known user")]
    Unauthenticated,
    /// The caller's account is deactivated: it may only read its own profile,
    /// reactivate, export or delete the account.
    #[error("the caller's account is deactivated")]
    Deactivated,
    /// A field failed validation.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field, as named in the JSON shape (`username`, `limit`, `cursor`, …).
        field: &'static str,
        /// A short, human-readable reason.
        reason: String,
    },
    /// The username (compared case-insensitively) belongs to, or is held for, someone else.
    #[error("username is taken")]
    UsernameTaken,
    /// The username is reserved (also after folding look-alike characters).
    #[error("username is reserved")]
    UsernameReserved,
    /// A user tried to follow themselves.
    #[error("a user cannot follow themselves")]
    CannotFollowSelf,
    /// A block between the two users (in either direction) forbids the action.
    #[error("blocked")]
    Blocked,
    /// The caller may not do this (list visibility, room roles, invite settings).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why, for logs and developers; safe to show to the caller.
        reason: &'static str,
    },
    /// A configured cap was reached (for example the number of users one may follow).
    #[error("limit exceeded: {what} (at most {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// Its configured value.
        limit: u64,
    },
    /// The value changed since the caller read it (stale settings version), or a
    /// uniqueness rule other than the username was hit (a connected account
    /// already linked to another user).
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicted.
        reason: &'static str,
    },
    /// The store failed or holds data kinfolk cannot read (I/O, corruption,
    /// a schema written by a newer version, a job that panicked). Retrying
    /// does not help: the data or the engine needs attention.
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store failed in a way that may pass when the same job runs again:
    /// a serialization failure or deadlock between concurrent transactions,
    /// a connection lost before the commit, a server that is restarting.
    /// Nothing of the failed attempt was written. The service retries such a
    /// job itself (a bounded number of times, with jittered backoff; see
    /// [`Retry`](crate::config::Retry)) and returns this error only when every
    /// attempt failed; a host may answer 503 and let its caller try later.
    #[error("temporarily unavailable: {0}")]
    Transient(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store does not offer this operation (an optional port method such
    /// as [`Store::backup_to`](crate::Store::backup_to) that it does not
    /// implement, or cannot perform in its current state). Nothing was done.
    #[error("not supported by this store: {what}")]
    Unsupported {
        /// The operation and, where useful, what to do instead.
        what: &'static str,
    },
}

impl Error {
    /// A validation error for `field`.
    pub fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Validation {
            field,
            reason: reason.into(),
        }
    }

    /// A storage error from any error value.
    pub fn storage(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Storage(source.into())
    }

    /// A transient failure from any error value: the job may pass when run
    /// again (see [`Error::Transient`]).
    pub fn transient(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Transient(source.into())
    }

    /// Whether running the same job again may succeed ([`Error::Transient`]).
    ///
    /// ```
    /// assert!(kinfolk::Error::transient("deadlock detected").is_transient());
    /// assert!(!kinfolk::Error::UsernameTaken.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient(_))
    }

    /// The error a store returns for a job that panicked (the store rolled
    /// the job back and keeps serving; see the panic policy in
    /// [`crate::store`]). `what` is `"read"` or `"write"`.
    pub fn job_panicked(what: &str) -> Self {
        Error::Storage(
            format!("a {what} job panicked; it was rolled back and nothing of it was kept").into(),
        )
    }

    /// A storage error for stored data that cannot be decoded or violates an invariant.
    pub fn corrupt(what: impl fmt::Display) -> Self {
        Error::Storage(format!("corrupt stored data: {what}").into())
    }

    /// `NotFound` for a user.
    pub(crate) fn user_not_found() -> Self {
        Error::NotFound { what: "user" }
    }

    /// A stable, snake_case code for this error, for logs and API responses.
    ///
    /// ```
    /// assert_eq!(kinfolk::Error::UsernameTaken.code(), "username_taken");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Unauthenticated => "unauthenticated",
            Error::Deactivated => "deactivated",
            Error::Validation { .. } => "validation",
            Error::UsernameTaken => "username_taken",
            Error::UsernameReserved => "username_reserved",
            Error::CannotFollowSelf => "cannot_follow_self",
            Error::Blocked => "blocked",
            Error::Forbidden { .. } => "forbidden",
            Error::LimitExceeded { .. } => "limit_exceeded",
            Error::Conflict { .. } => "conflict",
            Error::Storage(_) => "storage",
            Error::Transient(_) => "transient",
            Error::Unsupported { .. } => "unsupported",
        }
    }

    /// The HTTP status a host would usually answer with.
    ///
    /// ```
    /// assert_eq!(kinfolk::Error::UsernameTaken.http_status(), 409);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::NotFound { .. } => 404,
            Error::Unauthenticated => 401,
            Error::Deactivated => 403,
            Error::Validation { .. } => 422,
            Error::UsernameTaken => 409,
            Error::UsernameReserved => 422,
            Error::CannotFollowSelf => 422,
            Error::Blocked => 403,
            Error::Forbidden { .. } => 403,
            Error::LimitExceeded { .. } => 422,
            Error::Conflict { .. } => 409,
            Error::Storage(_) => 500,
            Error::Transient(_) => 503,
            Error::Unsupported { .. } => 501,
        }
    }
}
