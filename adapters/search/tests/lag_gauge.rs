//! The follower reports how far the index is behind the feed as the gauge
//! `kinfolk_search_index_lag_events` (metrics facade): the values a
//! catch-up of 2,500 events sets, batch by batch, ending at 0. Its own test
//! binary: it installs the process's global recorder.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use kinfolk::{Config, Kinfolk, NewUser};
use kinfolk_memory::MemoryStore;
use kinfolk_search::TantivyIndex;
use metrics::{Counter, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, SharedString, Unit};

/// Every value the lag gauge was set to.
#[derive(Default)]
struct Lag(Mutex<Vec<f64>>);

impl GaugeFn for Lag {
    fn increment(&self, _: f64) {
        panic!("the lag gauge is only set");
    }
    fn decrement(&self, _: f64) {
        panic!("the lag gauge is only set");
    }
    fn set(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

struct Recorder(Arc<Lag>);

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        if key.name() == kinfolk::search::LAG_GAUGE {
            Gauge::from_arc(self.0.clone())
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn the_lag_gauge_counts_down_a_catch_up() {
    let lag = Arc::new(Lag::default());
    metrics::set_global_recorder(Recorder(lag.clone())).unwrap();
    let store = Arc::new(MemoryStore::new());
    let index = Arc::new(TantivyIndex::open_in_ram().unwrap());
    let config = Config {
        unique_username_skeletons: false,
        ..Config::default()
    };
    {
        let svc = Kinfolk::builder(store.clone())
            .config(config.clone())
            .search(index.clone())
            .build()
            .await
            .unwrap();
        svc.register(NewUser::new("first", "First").unwrap())
            .await
            .unwrap();
        svc.refresh_search().await.unwrap();
    }
    // 2,500 events the index has not seen (written without it).
    let bare = Kinfolk::builder(store.clone())
        .config(config.clone())
        .build()
        .await
        .unwrap();
    let rows = (0..2500)
        .map(|i| NewUser::new(&format!("late{i:04}"), "Late").unwrap())
        .collect();
    bare.import_users(rows).await.unwrap();
    let head = bare.last_change_seq().await.unwrap();
    lag.0.lock().unwrap().clear();

    // Opening with the index catches it up in batches of 1,000 events.
    let svc = Kinfolk::builder(store)
        .config(config)
        .search(index)
        .build()
        .await
        .unwrap();
    let seen = lag.0.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    assert_eq!(seen[0], (head - 1 - 1000) as f64, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1] <= w[0]), "{seen:?}");
    assert_eq!(seen.last(), Some(&0.0));
    drop(svc);
}
