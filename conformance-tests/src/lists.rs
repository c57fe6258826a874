//! Conformance cases: lists.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_lists {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; lists;);
    };
}
