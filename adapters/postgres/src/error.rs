//! The one place PostgreSQL errors become kinfolk error categories.
//!
//! Every failure the store sees — of a connect, a statement or a commit —
//! goes through [`classify`], which decides its category once:
//!
//! - SQLSTATE `40001` (serialization failure) and `40P01` (deadlock) →
//!   [`Error::Transient`]: the transaction was rolled back and the job may
//!   run again;
//! - a lost connection, a server shutting down or starting up (`57P01`,
//!   `57P02`, `57P03`), class `08` (connection exception), too many
//!   connections (`53300`), a failed connect → [`Error::Transient`] — but
//!   during `COMMIT` only when the server answered: a connection lost while
//!   the commit was in flight leaves its outcome unknown, and that is
//!   [`Error::Storage`] (a retry could apply the job twice; the contract
//!   forbids `Transient` there);
//! - a unique violation on `username_claims` → [`Error::UsernameTaken`], on
//!   `edges` or `connected_accounts` → [`Error::Conflict`] (the store's
//!   inserts use `ON CONFLICT DO NOTHING` and report these without an
//!   engine error; the mapping covers any other path);
//! - everything else (constraint violations, corrupt data, I/O) →
//!   [`Error::Storage`] with the server's message.

use std::fmt;

use kinfolk::Error;
use postgres::error::SqlState;

/// Where a failure happened: it decides whether a lost connection is
/// transient (before the commit) or of unknown outcome (during it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Opening a connection (nothing was sent).
    Connect,
    /// `BEGIN` or a statement of the job (nothing is committed yet).
    Statement,
    /// `COMMIT`.
    Commit,
}

/// The category of a failure, kept by a transaction that must not commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// May pass when the whole job runs again.
    Transient,
    /// A claim on the folded name exists.
    UsernameTaken,
    /// A unique edge or connected account exists.
    Conflict(&'static str),
    /// Anything else.
    Storage,
}

/// A classified failure: its category and a sentence for the error message.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) message: String,
    /// A serialization failure or deadlock (40001/40P01): the job lost a
    /// race with another transaction (the pool then runs it again alone).
    pub(crate) conflict: bool,
}

/// The message an [`Error::Storage`] or [`Error::Transient`] carries.
#[derive(Debug)]
struct PgError(String);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL: {}", self.0)
    }
}

impl std::error::Error for PgError {}

impl Failure {
    /// A storage failure with a message.
    pub(crate) fn storage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Storage,
            message: message.into(),
            conflict: false,
        }
    }

    /// The kinfolk error for this failure.
    pub(crate) fn to_error(&self) -> Error {
        match self.kind {
            Kind::Transient => Error::transient(PgError(self.message.clone())),
            Kind::UsernameTaken => Error::UsernameTaken,
            Kind::Conflict(reason) => Error::Conflict { reason },
            Kind::Storage => Error::storage(PgError(self.message.clone())),
        }
    }
}

/// Whether a SQLSTATE means "the attempt failed, the database is fine, run it
/// again": serialization failure, deadlock, server going down or coming up,
/// a connection exception, too many connections.
fn transient_state(code: &SqlState) -> bool {
    *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || code.code().starts_with("08")
}

/// Classifies an engine error raised at `stage` (the one mapping).
pub(crate) fn classify(e: &postgres::Error, stage: Stage) -> Failure {
    let message = e.to_string();
    let message = match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => message,
    };
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let kind = match db.table() {
                Some("username_claims") => Kind::UsernameTaken,
                Some("edges") => Kind::Conflict("edge exists"),
                Some("connected_accounts") => Kind::Conflict("connected account is already linked"),
                _ => Kind::Storage,
            };
            return Failure {
                kind,
                message,
                conflict: false,
            };
        }
        // The server answered, so even at COMMIT the outcome is known: an
        // error response to COMMIT means the transaction rolled back.
        let kind = if transient_state(code) {
            Kind::Transient
        } else {
            Kind::Storage
        };
        let conflict = *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED;
        return Failure {
            kind,
            message,
            conflict,
        };
    }
    // No answer from the server: the connection broke (or never opened).
    let lost = stage == Stage::Connect
        || e.is_closed()
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    if !lost {
        // A client-side failure (a parameter or message the client could not
        // encode or decode): nothing transient about it.
        return Failure::storage(message);
    }
    match stage {
        Stage::Connect | Stage::Statement => Failure {
            kind: Kind::Transient,
            message: format!("connection lost before the commit: {message}"),
            conflict: false,
        },
        Stage::Commit => Failure::storage(format!(
            "the connection was lost while COMMIT was in flight; whether the write applied is \
             unknown, so it is not retried: {message}"
        )),
    }
}

/// Classifies and converts in one step.
pub(crate) fn map(e: &postgres::Error, stage: Stage) -> Error {
    classify(e, stage).to_error()
}

/// Whether a kinfolk error made by [`map`] came from a serialization
/// failure or deadlock.
pub(crate) fn is_conflict(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}
