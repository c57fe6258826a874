//! The request id every response carries (`x-request-id`), every problem
//! body repeats and every log line of the request's span names.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::problem::Problem;

/// The header that carries the request id in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (`"-"` outside a request).
pub(crate) fn current() -> String {
    REQUEST_ID
        .try_with(|s| s.clone())
        .unwrap_or_else(|_| "-".to_string())
}

/// An incoming id is kept when it is short and plain; otherwise a fresh UUID v7.
fn pick(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Outermost layer: request id, a `tracing` span per request, the timeout.
pub(crate) async fn outer(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let rid = pick(&req);
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %rid,
        status = tracing::field::Empty,
        caller = tracing::field::Empty,
    );
    let header = HeaderValue::from_str(&rid).ok();
    REQUEST_ID
        .scope(
            rid,
            async move {
                let mut res = match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(res) => res,
                    Err(_) => {
                        let mut p = Problem::new(503, "timeout", "the request took too long");
                        p.retry_after = Some(1);
                        p.into_response()
                    }
                };
                if let Some(h) = header {
                    res.headers_mut().insert(REQUEST_ID_HEADER, h);
                }
                tracing::Span::current().record("status", res.status().as_u16());
                tracing::debug!("served");
                res
            }
            .instrument(span),
        )
        .await
}
