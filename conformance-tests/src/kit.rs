//! The store test-kit: the factories that [`store_tests!`](crate::store_tests)
//! stamps every kind of store test from.
//!
//! An adapter says once how to open its store, and the kit derives the rest:
//!
//! - a store kept in a file gives a [`Disk`] (its file name, how to open
//!   it — durable or in its fast mode — and the engine's integrity check)
//!   and calls `store_tests!(disk: DISK)`; the kit pairs it with a tantivy
//!   index beside it ([`OnDisk::durable`], the production pairing), with the
//!   brute-force index on tmpfs for the model test ([`OnDisk::fast`]), and
//!   with the memory reference for the kill test (`impl KillTarget for Disk`);
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

/// What a store kept in one file tells the kit: the file's name, how to
/// open it, how to check it. One value serves every test.
#[derive(Clone, Copy, Debug)]
pub struct Disk {
    /// The store's file inside its directory (`kinfolk.db`); the search
    /// index goes into the directory `search` beside it.
    pub file: &'static str,
    /// Opens (or reopens) the store in this file. With `fast == false`, as
    /// in production (durable commits); with `fast == true`, in the
    /// adapter's fastest documented mode (for the model test, which checks
    /// logic, not durability). Either way, once every handle was dropped a
    /// reopen must read back everything committed.
    pub open: fn(file: &Path, fast: bool) -> kinfolk::Result<Arc<dyn Store>>,
    /// Runs the engine's own integrity check on the closed store in this
    /// file (after a SIGKILL, before or after the recovery of a reopen);
    /// `Err` describes what is damaged. Only called when the file exists.
    pub check_integrity: fn(file: &Path) -> Result<(), String>,
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

/// A [`Disk`] store in a temp dir of its own (removed when the test ends),
/// with its search index.
pub struct OnDisk {
    disk: Disk,
    dir: tempfile::TempDir,
    /// `None`: durable, with a tantivy index in `dir/search`, reopened with
    /// the store. `Some`: the fast mode, with this brute-force index.
    fast: Option<Arc<MemorySearch>>,
}

impl OnDisk {
    /// The store opened as in production, with the tantivy index in a
    /// directory beside it (the production pairing); a reopen opens both
    /// from disk again. The conformance cases and the race suite run on it.
    ///
    /// # Panics
    /// When no temp dir can be made.
    pub fn durable(disk: Disk) -> Self {
        Self {
            disk,
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
    pub fn fast(disk: Disk) -> Self {
        Self {
            disk,
            dir: fast_temp_dir(),
            fast: Some(Arc::new(MemorySearch::new())),
        }
    }
}

impl std::fmt::Debug for OnDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDisk")
            .field("disk", &self.disk)
            .field("dir", &self.dir.path())
            .field("fast", &self.fast.is_some())
            .finish()
    }
}

#[async_trait]
impl StoreFactory for OnDisk {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        (self.disk.open)(&self.dir.path().join(self.disk.file), self.fast.is_some())
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

/// The kill test on a [`Disk`] store: the store and a tantivy index in the
/// work directory (with the commit interval the run asks for, see
/// [`kill::index_commit_interval`]), against the memory store as the model.
impl KillTarget for Disk {
    fn open_store(&self, dir: &Path) -> kinfolk::Result<Arc<dyn Store>> {
        (self.open)(&dir.join(self.file), false)
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
        let file = dir.join(self.file);
        if file.exists() {
            (self.check_integrity)(&file)
        } else {
            Ok(())
        }
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

/// The current claim of a user on its username (for tests that write
/// records through the port directly).
pub fn claim(u: &kinfolk::User) -> kinfolk::user::UsernameClaim {
    kinfolk::user::UsernameClaim {
        folded: u.username.folded(),
        user: u.id,
        username: u.username.clone(),
        held_until: None,
    }
}

/// An edge record from `from` to `to`, with this feed number and time, no
/// end (for tests that write records through the port directly).
pub fn edge(
    kind: kinfolk::EdgeKind,
    from: kinfolk::UserId,
    to: kinfolk::UserId,
    seq: u64,
    since: kinfolk::Timestamp,
) -> kinfolk::Edge {
    kinfolk::Edge {
        kind,
        from,
        to,
        since,
        seq,
        until: None,
    }
}

/// A fresh, active user record with default settings and zero counters
/// (for tests that write records through the port directly).
///
/// # Panics
/// When `username` or `name` is not valid.
pub fn user_record(
    username: &str,
    name: &str,
    created_at: kinfolk::Timestamp,
    updated_at: kinfolk::Timestamp,
) -> kinfolk::User {
    kinfolk::User {
        id: kinfolk::UserId::new(),
        username: kinfolk::Username::parse(username).unwrap(),
        name: kinfolk::DisplayName::parse(name).unwrap(),
        bio: kinfolk::Bio::default(),
        avatar_url: None,
        social_links: kinfolk::SocialLinks::default(),
        location: None,
        email: None,
        status: kinfolk::AccountStatus::Active,
        settings: kinfolk::Settings::default(),
        counts: kinfolk::user::Counts::default(),
        created_at,
        updated_at,
    }
}
