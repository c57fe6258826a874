//! `GET /metrics` for `kinfolk serve`: the Prometheus text format of every
//! metric the service records (`kinfolk::meter`, and any other crate's
//! through the same `metrics` facade, such as the search follower's
//! `kinfolk_search_index_lag_events`).
//!
//! Mounted beside the API router (not inside it): it is not rate limited,
//! needs no token and shows no user data — counts and latencies only. Keep
//! the port off the public internet, as for `/healthz`.

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use kinfolk::Kinfolk;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the latency histogram's buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder drains its histogram buffers between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the process's `metrics` recorder
/// (once per process), describes kinfolk's metrics, and returns `app` with
/// `GET /metrics` added.
pub(crate) fn mount(app: Router, svc: &Kinfolk) -> super::Fallible<Router> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(kinfolk::meter::COMMAND_DURATION_SECONDS.to_string()),
            LATENCY_BUCKETS,
        )?
        .install_recorder()?;
    kinfolk::meter::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let svc = svc.clone();
    Ok(
        app.merge(
            Router::new().route("/metrics", get(move || scrape(svc.clone(), handle.clone()))),
        ),
    )
}

async fn scrape(svc: Kinfolk, handle: PrometheusHandle) -> impl IntoResponse {
    svc.observe_store();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
