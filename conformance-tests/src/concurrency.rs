//! Conformance cases: concurrency.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_concurrency {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; concurrency;);
    };
}
