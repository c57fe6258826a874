//! # kinfolk-http
//!
//! The kinfolk API over HTTP: an axum [`Router`] built from a [`Kinfolk`]
//! service and an [`Authenticator`], ready to serve or to mount under a
//! host's own prefix and layers.
//!
//! ```no_run
//! # async fn demo(svc: kinfolk::Kinfolk) -> std::io::Result<()> {
//! let auth = kinfolk_http::JwtAuthenticator::hs256(b"a long random secret");
//! let app = kinfolk_http::router(svc, auth);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # }
//! ```
//!
//! What every route shares:
//! - **Caller identity** comes only from the [`Authenticator`] (the built-in
//!   [`JwtAuthenticator`] verifies `Authorization: Bearer <JWT>`). No token is
//!   an anonymous caller: reads answer as kinfolk answers anonymous viewers,
//!   writes are 401. A bad token is 401 on every route.
//! - **Errors** are RFC 9457 `application/problem+json` ([`Problem`]) with
//!   kinfolk's stable `code`, the `field` of validation errors and the status
//!   of [`kinfolk::Error::http_status`]; internal errors never carry engine text.
//! - **Lists** are keyset-paged: `next_cursor` in the body and a
//!   `Link: <…>; rel="next"` header.
//! - **Settings** carry an `ETag` (the settings version); `PATCH` honours
//!   `If-Match` (412 when stale).
//! - **Limits** ([`HttpConfig`]): 64 KiB bodies (413), a per-request timeout
//!   (503 `timeout`), a per-caller rate limit (429 with `Retry-After`), CORS.
//! - Every response carries `x-request-id`; every request runs in a `tracing`
//!   span that names it. `GET /healthz` answers while the process runs,
//!   `GET /readyz` when the store answers, `GET /openapi.json` is the OpenAPI
//!   3.1 document of every route ([`openapi`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod auth;
mod extract;
mod problem;
mod request_id;
mod routes;
pub mod schema;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kinfolk::{Kinfolk, UserId};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi as _;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{
    AuthError, Authenticator, Claims, DEFAULT_AUDIENCE, DEFAULT_ISSUER, JwtAuthenticator,
    sign_claims, sign_hs256,
};
pub use extract::Caller;
pub use problem::{PROBLEM_JSON, Problem};
pub use request_id::REQUEST_ID_HEADER;
pub use routes::Changed;

/// A per-caller rate limit: a token bucket of `burst` requests refilled at
/// `per_minute`. Callers are keyed by user id, anonymous callers by peer IP
/// (when the server provides `ConnectInfo<SocketAddr>`, else all together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub per_minute: NonZeroU32,
    /// Requests allowed at once.
    pub burst: NonZeroU32,
}

/// Who may call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers (same-origin or non-browser clients only). The default.
    #[default]
    Off,
    /// Any origin (`Access-Control-Allow-Origin: *`; credentials are bearer
    /// tokens in a header, never cookies).
    AnyOrigin,
    /// These exact origins (`https://app.example`).
    Origins(Vec<String>),
}

/// Limits and options of the router. `HttpConfig::default()` is what
/// [`router`] uses.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Largest request body, in bytes (default 64 KiB); larger is 413.
    pub body_limit: usize,
    /// Longest a request may take (default 10 s); longer is 503 `timeout`.
    pub timeout: Duration,
    /// Per-caller rate limit (default 600/min, burst 100); `None` disables it.
    pub rate_limit: Option<RateLimit>,
    /// CORS (default off).
    pub cors: Cors,
    /// Callers allowed to read the change feed (`GET /v1/changes`); default none.
    pub feed_readers: Vec<UserId>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 64 * 1024,
            timeout: Duration::from_secs(10),
            rate_limit: Some(RateLimit {
                per_minute: NonZeroU32::new(600).unwrap_or(NonZeroU32::MIN),
                burst: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            }),
            cors: Cors::Off,
            feed_readers: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RateKey {
    User(UserId),
    Peer(std::net::IpAddr),
    Unknown,
}

#[derive(Clone)]
struct AppState {
    svc: Kinfolk,
    cfg: Arc<HttpConfig>,
}

struct Gate {
    auth: Box<dyn Authenticator>,
    limiter: Option<DefaultKeyedRateLimiter<RateKey>>,
    checks: AtomicU64,
}

/// The router with the default [`HttpConfig`].
///
/// ```
/// # async fn demo() -> kinfolk::Result<()> {
/// let store = std::sync::Arc::new(kinfolk_memory::MemoryStore::new());
/// let svc = kinfolk::Kinfolk::builder(store).build().await?;
/// let app: axum::Router = kinfolk_http::router(svc, kinfolk_http::JwtAuthenticator::hs256(b"secret"));
/// # Ok(()) }
/// ```
pub fn router(svc: Kinfolk, auth: impl Authenticator) -> Router {
    router_with(svc, auth, HttpConfig::default())
}

/// The router with the given limits and options (see [`router`]).
pub fn router_with(svc: Kinfolk, auth: impl Authenticator, cfg: HttpConfig) -> Router {
    let (api, health, doc) = parts();
    let doc_json: Arc<str> = serde_json::to_string(&to_value(&doc))
        .unwrap_or_default()
        .into();
    let cfg = Arc::new(cfg);
    let state = AppState {
        svc,
        cfg: cfg.clone(),
    };
    let gate = Arc::new(Gate {
        auth: Box::new(auth),
        limiter: cfg
            .rate_limit
            .map(|r| RateLimiter::keyed(Quota::per_minute(r.per_minute).allow_burst(r.burst))),
        checks: AtomicU64::new(0),
    });
    let api = api
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(gate, gatekeeper))
        .layer(DefaultBodyLimit::max(cfg.body_limit));
    let health = health.with_state(state);
    let mut app = Router::new()
        .merge(api)
        .merge(health)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc_json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        doc.to_string(),
                    )
                }
            }),
        )
        .fallback(|| async { Problem::new(404, "route_not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                405,
                "method_not_allowed",
                "the route does not take this method",
            )
        });
    if let Some(cors) = cors_layer(&cfg.cors) {
        app = app.layer(cors);
    }
    app.layer(middleware::from_fn_with_state(
        cfg.timeout,
        request_id::outer,
    ))
}

fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let origin = match cors {
        Cors::Off => return None,
        Cors::AnyOrigin => AllowOrigin::any(),
        Cors::Origins(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static(REQUEST_ID_HEADER),
            ])
            .expose_headers([
                header::ETAG,
                header::LINK,
                header::RETRY_AFTER,
                HeaderName::from_static(REQUEST_ID_HEADER),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Authenticates the caller (once per request) and applies the rate limit.
async fn gatekeeper(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = match gate.auth.authenticate(&parts).await {
        Ok(c) => c,
        Err(e) => return Problem::unauthenticated(e.reason).into_response(),
    };
    if let Some(limiter) = &gate.limiter {
        let key = match caller {
            Some(id) => RateKey::User(id),
            None => match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
                Some(ConnectInfo(addr)) => RateKey::Peer(addr.ip()),
                None => RateKey::Unknown,
            },
        };
        if gate.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        if let Err(not_until) = limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut p = Problem::new(429, "rate_limited", "too many requests; retry later");
            p.retry_after = Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
            return p.into_response();
        }
    }
    if let Some(id) = caller {
        tracing::Span::current().record("caller", tracing::field::display(id));
    }
    parts.extensions.insert(Caller(caller));
    next.run(Request::from_parts(parts, body)).await
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz",
    responses((status = 200, description = "The process is up", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the store answers a read.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz",
    responses((status = 200, description = "The store answers", body = String, content_type = "text/plain"),
        (status = 503, description = "The store does not answer", body = schema::Problem, content_type = "application/problem+json")))]
async fn readyz(State(s): State<AppState>) -> Response {
    match s.svc.last_change_seq().await {
        Ok(_) => "ready".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            Problem::new(503, "not_ready", "the store does not answer").into_response()
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "kinfolk",
        description = "The user side of a social platform: profiles, settings, follows, followers, rooms, search and account actions. Errors are RFC 9457 application/problem+json.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(schema::Problem)),
    tags(
        (name = "me", description = "The caller's own profile and settings"),
        (name = "users", description = "Profiles, lists and search"),
        (name = "follows", description = "Follow relationships and requests"),
        (name = "rooms", description = "Rooms and memberships"),
        (name = "account", description = "Account actions"),
        (name = "feed", description = "The change feed"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

type Parts = (OpenApiRouter<AppState>, OpenApiRouter<AppState>, OpenApi);

fn parts() -> Parts {
    use routes as r;
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(r::get_me, r::delete_account))
        .routes(routes!(r::get_settings, r::edit_settings))
        .routes(routes!(r::update_profile))
        .routes(routes!(r::my_rooms))
        .routes(routes!(r::search_users))
        .routes(routes!(r::toggle_follow))
        .routes(routes!(r::remove_follower))
        .routes(routes!(r::follow_requests))
        .routes(routes!(r::approve_request))
        .routes(routes!(r::reject_request))
        .routes(routes!(r::relationships))
        .routes(routes!(r::get_profile))
        .routes(routes!(r::followers))
        .routes(routes!(r::following))
        .routes(routes!(r::known_followers))
        .routes(routes!(r::block, r::unblock))
        .routes(routes!(r::mute, r::unmute))
        .routes(routes!(r::deactivate))
        .routes(routes!(r::reactivate))
        .routes(routes!(r::export))
        .routes(routes!(r::connected_accounts))
        .routes(routes!(r::unlink_account))
        .routes(routes!(r::create_room))
        .routes(routes!(r::add_member, r::set_role, r::remove_member))
        .routes(routes!(r::leave_room))
        .routes(routes!(r::changes));
    let health = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz));
    let (api, mut doc) = api.split_for_parts();
    let (health, health_doc) = health.split_for_parts();
    doc.merge(health_doc);
    finish(&mut doc);
    (OpenApiRouter::from(api), OpenApiRouter::from(health), doc)
}

/// The OpenAPI 3.1 document the router serves at `/openapi.json`: every
/// route, parameter, body, success response, OpenAPI link and error response.
///
/// ```
/// let doc = kinfolk_http::openapi();
/// assert_eq!(doc["openapi"], "3.1.0");
/// assert!(doc["paths"]["/v1/me"]["get"].is_object());
/// ```
pub fn openapi() -> serde_json::Value {
    to_value(&parts().2)
}

/// The document as JSON. utoipa 5 writes a link's `operationId` and
/// `requestBody` in snake case; OpenAPI spells them in camel case, so they
/// are renamed here (inside `links` objects only).
fn to_value(doc: &OpenApi) -> serde_json::Value {
    fn fix(v: &mut serde_json::Value, in_links: bool) {
        match v {
            serde_json::Value::Object(map) => {
                if in_links {
                    for link in map.values_mut() {
                        if let serde_json::Value::Object(l) = link {
                            for (from, to) in [
                                ("operation_id", "operationId"),
                                ("operation_ref", "operationRef"),
                                ("request_body", "requestBody"),
                            ] {
                                if let Some(x) = l.remove(from) {
                                    l.insert(to.to_string(), x);
                                }
                            }
                        }
                    }
                    return;
                }
                for (k, child) in map.iter_mut() {
                    fix(child, k == "links");
                }
            }
            serde_json::Value::Array(items) => {
                for child in items {
                    fix(child, false);
                }
            }
            _ => {}
        }
    }
    let mut v = serde_json::to_value(doc).unwrap_or_default();
    fix(&mut v, false);
    v
}

/// Adds the bearer scheme and the error responses every route can give.
fn finish(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    let problem = |desc: &str| -> RefOr<utoipa::openapi::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(desc)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let ops = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            let with_body = op.request_body.is_some();
            let r = &mut op.responses.responses;
            let mut add = |code: &str, desc: &str| {
                r.entry(code.to_string()).or_insert_with(|| problem(desc));
            };
            if with_body {
                add("400", "Malformed JSON (`bad_request`)");
                add(
                    "413",
                    "The body is larger than the limit (`payload_too_large`)",
                );
                add("415", "The body is not JSON (`unsupported_media_type`)");
            }
            add(
                "401",
                "No caller where one is needed, or a bad token (`unauthenticated`)",
            );
            add("403", "Not allowed (`forbidden`, `blocked`, `deactivated`)");
            add("404", "Not found, or hidden from the caller (`not_found`)");
            add(
                "422",
                "Invalid input (`validation`, with `field`; also `username_reserved`, `cannot_follow_self`, `limit_exceeded`)",
            );
            add("429", "Rate limited (`rate_limited`; see `Retry-After`)");
            add(
                "500",
                "Internal error (`storage`); the detail is generic, the log has the cause",
            );
            add(
                "503",
                "Temporarily unavailable (`transient`, `timeout`); retry later",
            );
        }
    }
}
