//! Conformance cases: settings.

#[doc(hidden)]
#[macro_export]
macro_rules! __cases_settings {
    ($factory:expr) => {
        $crate::__stamp_section!($factory; settings;);
    };
}
