//! Conformance cases: errors.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_errors {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; errors;);
    };
}
