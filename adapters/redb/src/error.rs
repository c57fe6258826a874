//! The one place where redb's errors become kinfolk's error categories.
//!
//! Every engine failure — I/O, a corrupt page, a table of unexpected type, a
//! file locked by another handle, a failed commit — is an [`Error::Storage`]
//! carrying redb's error as its source. Domain categories
//! ([`Error::UsernameTaken`], [`Error::Conflict`]) are not engine errors here:
//! the write transaction checks the unique key itself before inserting (redb
//! has one writer, so the check and the insert are atomic), see `tx.rs`.

use kinfolk::{Error, Result};

/// Maps any redb error into kinfolk's [`Error::Storage`].
pub(crate) fn engine(e: impl Into<redb::Error>) -> Error {
    Error::storage(e.into())
}

/// `.engine()?` on any redb result: the mapping above, as a method.
pub(crate) trait EngineResult<T> {
    /// Maps the error with [`engine`].
    fn engine(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> EngineResult<T> for std::result::Result<T, E> {
    fn engine(self) -> Result<T> {
        self.map_err(engine)
    }
}

/// The store's worker thread went away before answering (it was shut down,
/// or a job panicked and took the answer with it).
pub(crate) fn worker_gone() -> Error {
    Error::storage("the redb store's worker thread stopped before answering")
}

/// A panic on a store thread — in the job, or in redb on a damaged file —
/// caught there; the job's transaction was rolled back.
pub(crate) fn job_panicked(what: &str) -> Error {
    Error::storage(format!(
        "a {what} job panicked in the redb store (a bug in the job, or a damaged file); \
         nothing of it was committed"
    ))
}
