//! The harness: store factories, the per-case context, and the runner.

use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;

use kinfolk::{Config, Kinfolk, ManualClock, SearchIndex, Store};

/// What a case returns. Cases use `?` on kinfolk results and `assert!` for
/// expectations; either way a failure fails the test.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Opens the store under test.
///
/// The first [`open`](StoreFactory::open) creates an empty store; a later one,
/// made after every handle from the previous one was dropped, MUST reopen the
/// same data (for a persistent store, from disk: that is what the reopen
/// cases prove).
#[async_trait]
pub trait StoreFactory: Send + 'static {
    /// Opens (or reopens) the store.
    async fn open(&mut self) -> kinfolk::Result<Arc<dyn Store>>;
    /// Whether data survives dropping every handle and opening again from disk.
    fn persistent(&self) -> bool;
    /// Opens (or reopens) the search index for the store, if this adapter
    /// runs the search cases. The default runs them without an index, where
    /// `search_users` is refused, so every adapter wires one in.
    async fn open_search(&mut self) -> kinfolk::Result<Option<Arc<dyn SearchIndex>>> {
        Ok(None)
    }
}

/// The context of one case: the factory, a service over the store, and the
/// manual clock that service reads.
pub struct Ctx {
    factory: Box<dyn StoreFactory>,
    /// The service under test.
    pub svc: Kinfolk,
    /// The clock the service reads; cases move it.
    pub clock: ManualClock,
    config: Config,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("svc", &self.svc)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    async fn build(
        factory: &mut Box<dyn StoreFactory>,
        clock: &ManualClock,
        config: &Config,
    ) -> Result<Kinfolk, String> {
        let store = factory
            .open()
            .await
            .map_err(|e| format!("open store: {e}"))?;
        let search = factory
            .open_search()
            .await
            .map_err(|e| format!("open search: {e}"))?;
        let mut b = Kinfolk::builder(store)
            .clock(Arc::new(clock.clone()))
            .config(config.clone());
        if let Some(index) = search {
            b = b.search(index);
        }
        b.build().await.map_err(|e| format!("build service: {e}"))
    }

    /// Creates a context over a fresh store.
    pub async fn new(factory: Box<dyn StoreFactory>) -> Result<Self, String> {
        Self::with_config(factory, Config::default()).await
    }

    /// Creates a context with a custom configuration.
    pub async fn with_config(
        mut factory: Box<dyn StoreFactory>,
        config: Config,
    ) -> Result<Self, String> {
        let clock = ManualClock::starting_at_epoch();
        let svc = Self::build(&mut factory, &clock, &config).await?;
        Ok(Self {
            factory,
            svc,
            clock,
            config,
        })
    }

    /// Rebuilds the service with another configuration over the same store.
    pub async fn reconfigure(&mut self, config: Config) -> Result<(), String> {
        self.config = config;
        self.reopen().await
    }

    /// Whether [`Ctx::reopen`] reads back from disk.
    pub fn persistent(&self) -> bool {
        self.factory.persistent()
    }

    /// Drops the service (and with it every store handle), then opens the
    /// store and index again.
    pub async fn reopen(&mut self) -> Result<(), String> {
        let closed = Kinfolk::builder(Arc::new(ClosedStore))
            .build()
            .await
            .map_err(|e| format!("placeholder service: {e}"))?;
        drop(std::mem::replace(&mut self.svc, closed));
        self.svc = Self::build(&mut self.factory, &self.clock, &self.config).await?;
        Ok(())
    }
}

/// Stands in for the store while it is closed during a reopen.
#[derive(Debug)]
struct ClosedStore;

#[async_trait]
impl Store for ClosedStore {
    async fn read(&self, _job: kinfolk::store::ReadJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        Err(kinfolk::Error::storage("store is closed"))
    }
    async fn write(
        &self,
        _job: kinfolk::store::WriteJob,
    ) -> kinfolk::Result<kinfolk::store::Boxed> {
        Err(kinfolk::Error::storage("store is closed"))
    }
}

/// Runs one case on a fresh multi-threaded runtime with a fresh store.
///
/// # Panics
/// When the case fails (that is how a `#[test]` reports it).
pub fn run_case<F, Fut>(factory: Box<dyn StoreFactory>, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = TestResult>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async move {
        let ctx = Ctx::new(factory).await?;
        case(ctx).await
    });
    if let Err(e) = result {
        panic!("case failed: {e}");
    }
}
