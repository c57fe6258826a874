//! Conformance cases: rooms.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_rooms {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; rooms;);
    };
}
