//! Runnable programs for kinfolk live beside this file; see `quickstart.rs`.
#![forbid(unsafe_code)]
