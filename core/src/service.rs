//! The service facade.
