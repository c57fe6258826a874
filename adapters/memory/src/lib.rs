//! # kinfolk-memory
//!
//! An in-memory kinfolk store: simple and obviously correct. It is the
//! reference model the other stores are checked against, and a store hosts
//! can use in their own tests. Nothing is persisted.
//!
//! ```
//! # tokio_test();
//! # fn tokio_test() {
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! use kinfolk::{Kinfolk, NewUser};
//! // The builder takes the store and index as their constructors return them.
//! let svc = Kinfolk::builder(kinfolk_memory::MemoryStore::new())
//!     .search(kinfolk_memory::MemorySearch::new())
//!     .build()
//!     .await?;
//! let ada = svc.register(NewUser::new("ada", "Ada Lovelace")?).await?;
//! assert_eq!(svc.me(ada.id).await?.username.as_str(), "ada");
//! # Ok::<(), kinfolk::Error>(())
//! # }).unwrap();
//! # }
//! ```
//!
//! Writes hold one lock for the whole job and keep an undo journal: when the
//! job fails, every change it made is undone in reverse order, so a failed
//! command leaves no trace.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod search;
mod store;

pub use search::MemorySearch;
pub use store::MemoryStore;
