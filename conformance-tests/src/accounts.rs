//! Conformance cases: accounts.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_accounts {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; accounts;);
    };
}
