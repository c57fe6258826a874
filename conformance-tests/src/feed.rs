//! Conformance cases: feed.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_feed {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; feed;);
    };
}
