//! The store test-kit: the factories that [`store_tests!`](crate::store_tests)
//! stamps every kind of store test from.
//!
//! An adapter says once how to open its store, and the kit derives the rest:
//!
//! - a store kept in a directory implements [`DiskStore`] (open, open in the
//!   fast mode, the engine's integrity check) and calls
//!   `store_tests!(disk: MyStore)`; the kit pairs it with a tantivy index
//!   beside it ([`OnDisk::durable`], the production pairing), with the
//!   brute-force index on tmpfs for the model test ([`OnDisk::fast`]), and
//!   with the memory reference for the kill test ([`Killable`]);
//! - any other store gives [`StoreFactory`] expressions:
//!   `store_tests!(store: …, model: …)`; [`Shared`] is the factory of a store
//!   that lives in memory (a reopen hands back the same instance).
//!
//! The reference model of the model and kill tests is always the memory
//! store ([`Shared::reference`]).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use kinfolk::{SearchIndex, Store};
use kinfolk_memory::{MemorySearch, MemoryStore};
use kinfolk_search::{IndexOptions, TantivyIndex};

use crate::harness::StoreFactory;
use crate::kill::{self, KillTarget};

/// What a store kept in a directory tells the kit: how to open it, and how
/// to check its files. One `Clone` value (usually a unit struct) serves
/// every test.
pub trait DiskStore: Clone + Send + Sync + 'static {
    /// Opens (or reopens) the store kept in `dir`, as in production
    /// (durable commits). Must read back everything a previous open of the
    /// same directory committed, once every handle of it was dropped.
    ///
    /// # Errors
    /// When the engine cannot open or recover the files.
    fn open(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>>;

    /// Opens the store in `dir` in the adapter's fastest documented mode
    /// (for the model test, which checks logic, not durability). Closing it
    /// must still make everything durable, so a reopen reads it all back.
    /// Defaults to [`DiskStore::open`].
    ///
    /// # Errors
    /// As [`DiskStore::open`].
    fn open_fast(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>> {
        self.open(dir)
    }

    /// Runs the engine's own integrity check on the closed store in `dir`
    /// (after a SIGKILL, before or after the recovery of a reopen). A
    /// directory without a store file yet is sound.
    ///
    /// # Errors
    /// A description of what is damaged.
    fn check_integrity(&self, dir: &Path) -> Result<(), String>;
}

/// A temp dir, on tmpfs (`/dev/shm`) when there is one: for tests of logic,
/// not durability, where on a disk each open and close costs tens of
/// milliseconds of fsync (a 20x difference measured on the CI machine).
///
/// # Panics
/// When no temp dir can be made.
pub fn fast_temp_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    shm.is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten()
        .map_or_else(tempfile::tempdir, Ok)
        .unwrap_or_else(|e| panic!("temp dir: {e}"))
}

/// A [`DiskStore`] in a temp dir of its own (removed when the test ends),
/// with its search index.
pub struct OnDisk<T> {
    target: T,
    dir: tempfile::TempDir,
    /// `None`: durable, with a tantivy index in `dir/search`, reopened with
    /// the store. `Some`: the fast mode, with this brute-force index.
    fast: Option<Arc<MemorySearch>>,
}

impl<T: DiskStore> OnDisk<T> {
    /// The store opened as in production, with the tantivy index in a
    /// directory beside it (the production pairing); a reopen opens both
    /// from disk again. The conformance cases and the race suite run on it.
    ///
    /// # Panics
    /// When no temp dir can be made.
    pub fn durable(target: T) -> Self {
        Self {
            target,
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}")),
            fast: None,
        }
    }

    /// The store in its fast mode on tmpfs, searched by the brute-force
    /// index (so the model test compares stores, not indexes). The model
    /// test runs on it.
    ///
    /// # Panics
    /// When no temp dir can be made.
    pub fn fast(target: T) -> Self {
        Self {
            target,
            dir: fast_temp_dir(),
            fast: Some(Arc::new(MemorySearch::new())),
        }
    }
}

impl<T> std::fmt::Debug for OnDisk<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDisk")
            .field("dir", &self.dir.path())
            .field("fast", &self.fast.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: DiskStore> StoreFactory for OnDisk<T> {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        match self.fast {
            None => self.target.open(self.dir.path()),
            Some(_) => self.target.open_fast(self.dir.path()),
        }
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(match &self.fast {
            None => Arc::new(TantivyIndex::open(self.dir.path().join("search"))?),
            Some(index) => index.clone(),
        }))
    }
}

/// A [`DiskStore`] as the kill test sees it: the store and a tantivy index
/// in the work directory (with the commit interval the run asks for, see
/// [`kill::index_commit_interval`]), against the memory store as the model.
#[derive(Clone, Debug)]
pub struct Killable<T>(pub T);

impl<T: DiskStore> KillTarget for Killable<T> {
    fn open_store(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>> {
        self.0.open(dir)
    }
    fn open_search(&self, dir: &Path) -> kinfolk::Result<Arc<dyn SearchIndex>> {
        let mut options = IndexOptions::default();
        if let Some(interval) = kill::index_commit_interval() {
            options = options.commit_interval(interval);
        }
        Ok(Arc::new(TantivyIndex::open_with(
            dir.join("search"),
            options,
        )?))
    }
    fn open_model(&self) -> Arc<dyn Store> {
        Arc::new(MemoryStore::new())
    }
    fn check_integrity(&self, dir: &Path) -> Result<(), String> {
        self.0.check_integrity(dir)
    }
}

/// A store and index that live in memory: every open hands back the same
/// instances, so data survives a "reopen" as in a persistent store, but
/// nothing touches disk.
pub struct Shared {
    store: Arc<dyn Store>,
    search: Arc<dyn SearchIndex>,
}

impl Shared {
    /// This store, searched by this index.
    pub fn new(store: Arc<dyn Store>, search: Arc<dyn SearchIndex>) -> Self {
        Self { store, search }
    }

    /// The reference model: a fresh memory store with the brute-force index.
    pub fn reference() -> Self {
        Self::new(Arc::new(MemoryStore::new()), Arc::new(MemorySearch::new()))
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

#[async_trait]
impl StoreFactory for Shared {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(self.store.clone())
    }
    fn persistent(&self) -> bool {
        false
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(self.search.clone()))
    }
}

/// The number of conformance cases: what
/// [`conformance_tests!`](crate::conformance_tests) stamps for every store.
pub fn case_count() -> usize {
    crate::CASES.iter().map(|(_, cases)| cases.len()).sum()
}

/// Lists the running test binary's own tests (`--list`) and checks that
/// every conformance case in [`CASES`](crate::CASES) is one of them, as
/// `section::case`. Prints the count, tagged with `store`.
///
/// # Panics
/// When the binary cannot list its tests, or a case is missing.
pub fn assert_every_case_stamped(store: &str) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let out = std::process::Command::new(exe)
        .args(["--list", "--format", "terse"])
        .env_remove(kill::CHILD_ENV)
        .output()
        .unwrap_or_else(|e| panic!("list the tests: {e}"));
    assert!(out.status.success(), "--list failed: {out:?}");
    let listed = String::from_utf8_lossy(&out.stdout);
    let tests: std::collections::HashSet<&str> = listed
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .collect();
    let missing: Vec<String> = crate::CASES
        .iter()
        .flat_map(|(section, cases)| cases.iter().map(move |c| format!("{section}::{c}")))
        .filter(|name| !tests.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{store}: conformance cases not stamped: {missing:?}"
    );
    eprintln!(
        "{store}: {} conformance cases in {} sections, all stamped ({} tests in this binary)",
        case_count(),
        crate::CASES.len(),
        tests.len()
    );
}
