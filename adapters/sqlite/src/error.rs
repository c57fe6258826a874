//! The one place SQLite errors become kinfolk error categories.

use std::fmt;

use kinfolk::Error;
use rusqlite::ErrorCode;
use rusqlite::ffi;

/// A SQLite error with a sentence saying what it means for kinfolk; the
/// source of an [`Error::Storage`].
#[derive(Debug)]
struct SqliteError {
    what: &'static str,
    source: rusqlite::Error,
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SQLite: {}: {}", self.what, self.source)
    }
}

impl std::error::Error for SqliteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Maps an engine error into kinfolk's categories:
///
/// - a unique / primary-key violation on `username_claims` → [`Error::UsernameTaken`];
/// - on `edges` or `connected_accounts` → [`Error::Conflict`];
/// - busy / locked (after the busy timeout elapsed) → [`Error::Storage`] saying so;
/// - corruption, a file that is not a database, a value of the wrong type → [`Error::Storage`];
/// - everything else → [`Error::Storage`] with the engine's message.
pub(crate) fn map(e: rusqlite::Error) -> Error {
    let what = match &e {
        rusqlite::Error::SqliteFailure(err, msg) => match err.code {
            ErrorCode::ConstraintViolation => {
                let unique = matches!(
                    err.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                );
                match (unique, msg.as_deref().and_then(unique_table)) {
                    (true, Some("username_claims")) => return Error::UsernameTaken,
                    (true, Some("edges")) => {
                        return Error::Conflict {
                            reason: "edge exists",
                        };
                    }
                    (true, Some("connected_accounts")) => {
                        return Error::Conflict {
                            reason: "connected account is already linked",
                        };
                    }
                    _ if err.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                        "a membership or connected account would refer to a missing user or room"
                    }
                    _ => "constraint violated",
                }
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                "the database stayed locked by another connection or process for longer than the busy timeout"
            }
            ErrorCode::DatabaseCorrupt => "the database file is corrupt",
            ErrorCode::NotADatabase => {
                "the file is not a SQLite database (or is encrypted or corrupt)"
            }
            ErrorCode::DiskFull => "the disk is full",
            ErrorCode::ReadOnly => "the database is read-only",
            ErrorCode::CannotOpen => "cannot open the database file",
            ErrorCode::SystemIoFailure => "disk I/O error",
            _ => "engine error",
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => "corrupt stored data",
        _ => "engine error",
    };
    Error::storage(SqliteError { what, source: e })
}

/// The table named in SQLite's "UNIQUE constraint failed: table.column, …" message.
fn unique_table(msg: &str) -> Option<&str> {
    let cols = msg.strip_prefix("UNIQUE constraint failed: ")?;
    cols.split('.').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(table_col: &str) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_CONSTRAINT_PRIMARYKEY),
            Some(format!("UNIQUE constraint failed: {table_col}")),
        )
    }

    #[test]
    fn unique_violations_map_by_table() {
        assert!(matches!(
            map(unique("username_claims.folded")),
            Error::UsernameTaken
        ));
        assert!(matches!(
            map(unique("edges.kind, edges.from_id, edges.to_id")),
            Error::Conflict { .. }
        ));
        assert!(matches!(
            map(unique(
                "connected_accounts.provider, connected_accounts.external_id"
            )),
            Error::Conflict { .. }
        ));
        assert!(matches!(map(unique("users.id")), Error::Storage(_)));
    }

    #[test]
    fn busy_and_corrupt_are_storage_errors_with_a_reason() {
        let busy = map(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_BUSY),
            None,
        ));
        assert!(matches!(&busy, Error::Storage(_)));
        assert!(busy.to_string().contains("busy timeout"), "{busy}");
        let corrupt = map(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_CORRUPT),
            None,
        ));
        assert!(corrupt.to_string().contains("corrupt"), "{corrupt}");
    }
}
