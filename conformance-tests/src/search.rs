//! Conformance cases: search.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_search {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; search;);
    };
}
