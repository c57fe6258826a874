//! Conformance cases: storage.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_storage {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; storage;);
    };
}
