//! A store factory that gives each test its own fresh database of the test
//! binary's throwaway cluster (`kinfolk_postgres::testing`, feature
//! `test-support`: one cluster per test binary, `KINFOLK_PG_URL` for an
//! existing server, one skip line where PostgreSQL is not installed).
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::sync::Arc;

use kinfolk::{SearchIndex, Store};
pub use kinfolk_postgres::testing::{Cluster, blocking, cluster};

/// A fresh database of the test cluster (dropped with the factory) and a
/// temp dir for the search index; the store opens with a pool of 4.
pub struct PgDb {
    pub name: String,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub pool: usize,
    pub order: kinfolk_postgres::FeedOrder,
    /// Held by a database in `TransactionId` order for its whole life.
    _alone: Option<Alone>,
}

/// One database at a time: in `TransactionId` order a reader's feed horizon
/// is held back by any transaction in flight on the cluster that it cannot
/// prove belongs to another database, so another test's writes may hide a
/// test's own last events for a moment and `last_seq` may move without a
/// write of its own (the contract allows it: increasing, visible once
/// nothing older is in flight). The conformance cases compare `last_seq`
/// before and after a refused command, so the `TransactionId` cases run one
/// at a time.
struct Alone;

static ALONE: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

impl Alone {
    fn take() -> Self {
        let mut busy = ALONE.0.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            busy = ALONE.1.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy = true;
        Alone
    }
}

impl Drop for Alone {
    fn drop(&mut self) {
        *ALONE.0.lock().unwrap_or_else(|e| e.into_inner()) = false;
        ALONE.1.notify_one();
    }
}

impl PgDb {
    pub fn new() -> Self {
        let (name, url) = cluster().create_db();
        Self {
            name,
            url,
            dir: tempfile::tempdir().unwrap(),
            pool: 4,
            order: kinfolk_postgres::FeedOrder::Commit,
            _alone: None,
        }
    }

    /// A fresh database whose feed is in `order`; in `TransactionId` order
    /// no other such database exists at the same time (see [`Alone`]).
    pub fn with_order(order: kinfolk_postgres::FeedOrder) -> Self {
        let alone = (order == kinfolk_postgres::FeedOrder::TransactionId).then(Alone::take);
        let mut db = Self::new();
        db._alone = alone;
        db.order = order;
        db
    }

    /// Opens a store on this database (on a plain thread, as a service would at start-up).
    pub fn store(&self) -> kinfolk::Result<Arc<kinfolk_postgres::PostgresStore>> {
        let url = self.url.clone();
        let options = kinfolk_postgres::Options::default()
            .pool_size(self.pool)
            .feed_order(self.order);
        kinfolk_postgres::open_with(&url, options).map(Arc::new)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        cluster().drop_db(&self.name);
    }
}

#[async_trait::async_trait]
impl kinfolk_conformance::StoreFactory for PgDb {
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>> {
        Ok(self.store()?)
    }
    fn persistent(&self) -> bool {
        true
    }
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(Some(Arc::new(kinfolk_search::TantivyIndex::open(
            self.dir.path().join("search"),
        )?)))
    }
}
