//! The whole store test setup for PostgreSQL, against ONE throwaway cluster
//! per test binary (see `common`), a fresh database per test: every
//! conformance case (reopen cases included: a reopen opens a new pool on the
//! same database), the model test against the memory reference, the race
//! suite, the feed-ordering test and the two-instance tests.

mod common;

use common::PgDb;

kinfolk_conformance::conformance_tests!(PgDb::new());
