//! Conformance cases: follows.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_follows {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; follows;);
    };
}
