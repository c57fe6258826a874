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

// ------------------------------------------------------------------ reused databases

/// Databases of the model test, kept between sequences (a `CREATE DATABASE`
/// plus the migration per sequence cost ~0.17 s, most of a sequence), each
/// with the connection that empties it.
static SPARE: std::sync::Mutex<Vec<Spare>> = std::sync::Mutex::new(Vec::new());

struct Spare {
    name: String,
    url: String,
    admin: Option<postgres::Client>,
}

/// Empties every table of the current schema except `kinfolk_schema` (one
/// `TRUNCATE`), puts `feed_meta` back as the migration left it and restarts
/// every sequence: the database is then as `open` leaves a new one (the
/// model compares sequence numbers and every stored record, so a leftover
/// would show). Run by the test factory between two sequences, while no
/// store is open on the database; never by the store under test.
const RESET: &str = "DO $reset$
DECLARE t text; s text;
BEGIN
  SELECT string_agg(format('%I', tablename), ', ') INTO t FROM pg_tables
   WHERE schemaname = current_schema() AND tablename NOT IN ('kinfolk_schema', 'feed_meta');
  EXECUTE 'TRUNCATE ' || t;
  UPDATE feed_meta SET trimmed = 0;
  FOR s IN SELECT format('%I', sequencename) FROM pg_sequences WHERE schemaname = current_schema() LOOP
    EXECUTE 'ALTER SEQUENCE ' || s || ' RESTART';
  END LOOP;
END $reset$";

/// A database of the test cluster (feed order `Commit`) that is reused:
/// taken from the spares and emptied ([`RESET`]), or created; given back
/// when dropped. For the model test, which needs an empty database per
/// generated sequence.
pub struct ReusedDb {
    pub name: String,
    pub url: String,
    admin: Option<postgres::Client>,
}

impl ReusedDb {
    pub fn take() -> Self {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match spare {
            Some(Spare { name, url, admin }) => {
                let u = url.clone();
                let admin = blocking(move || {
                    let mut c = match admin {
                        Some(c) if !c.is_closed() => c,
                        _ => postgres::Client::connect(&u, postgres::NoTls).unwrap(),
                    };
                    c.batch_execute(RESET).unwrap();
                    c
                });
                Self {
                    name,
                    url,
                    admin: Some(admin),
                }
            }
            None => {
                let (name, url) = cluster().create_db();
                Self {
                    name,
                    url,
                    admin: None,
                }
            }
        }
    }

    /// Opens a store on this database with a pool of `pool` connections.
    pub fn store(&self, pool: usize) -> kinfolk::Result<Arc<kinfolk_postgres::PostgresStore>> {
        kinfolk_postgres::open_with(
            &self.url,
            kinfolk_postgres::Options::default().pool_size(pool),
        )
        .map(Arc::new)
    }
}

impl Drop for ReusedDb {
    fn drop(&mut self) {
        SPARE.lock().unwrap_or_else(|e| e.into_inner()).push(Spare {
            name: std::mem::take(&mut self.name),
            url: std::mem::take(&mut self.url),
            admin: self.admin.take(),
        });
    }
}
