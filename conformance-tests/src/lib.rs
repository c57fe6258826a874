//! # kinfolk-conformance
//!
//! The one suite every kinfolk store must pass: the executable form of SPEC
//! and of the [`kinfolk::store`] contract. It is library code, written once;
//! each adapter runs it with one macro call in its `tests/conformance.rs`:
//!
//! ```text
//! struct Factory { /* where the store lives */ }
//! #[async_trait::async_trait]
//! impl kinfolk_conformance::StoreFactory for Factory { /* open, persistent */ }
//! kinfolk_conformance::conformance_tests!(Factory::new());
//! ```
//!
//! The macro stamps out one `#[test]` per case, in modules named after SPEC
//! sections (`users` §3, `settings` §4, `follows` §5, `lists` §6, `rooms` §7,
//! `search` §8, `accounts` §9, `feed` §10, `errors` §11, `storage` §12,
//! `concurrency` §5/§12, `port` the store port's panic and retry
//! policy), so `cargo test --test conformance -- --list` shows
//! which rule each test checks. Each case gets a fresh store.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, missing_docs)]

pub mod fixtures;
pub mod harness;
pub mod kill;

pub mod accounts;
pub mod concurrency;
pub mod corpus;
pub mod errors;
pub mod feed;
pub mod follows;
pub mod import;
pub mod lists;
pub mod model;
pub mod port;
pub mod privacy;
pub mod rooms;
pub mod search;
pub mod settings;
pub mod storage;
pub mod users;

pub use harness::{Ctx, StoreFactory, TestResult, run_case};

/// Stamps out one `#[test]` per conformance case, for the store made by
/// `$factory` (an expression evaluated afresh for every test).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__cases_users!($factory);
        $crate::__cases_settings!($factory);
        $crate::__cases_follows!($factory);
        $crate::__cases_lists!($factory);
        $crate::__cases_rooms!($factory);
        $crate::__cases_search!($factory);
        $crate::__cases_accounts!($factory);
        $crate::__cases_feed!($factory);
        $crate::__cases_errors!($factory);
        $crate::__cases_storage!($factory);
        $crate::__cases_import!($factory);
        $crate::__cases_concurrency!($factory);
        $crate::__cases_privacy!($factory);
        $crate::__cases_corpus!($factory);
        $crate::__cases_port!($factory);
    };
}

/// Stamps one section's cases; used by the section list macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __stamp_section {
    ($factory:expr; $section:ident; $($case:ident),* $(,)?) => {
        mod $section {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::run_case(Box::new($factory), |ctx| $crate::$section::$case(ctx));
                }
            )*
        }
    };
}
