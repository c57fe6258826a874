//! The hand-written baseline for the HTTP load test (BENCHMARKS.md, "HTTP
//! (issue 16)"): axum + rusqlite answering the same four requests as
//! `kinfolk serve`, on the same SQLite file, with the SQL of the benches'
//! hand-written rusqlite baseline (`kinfolk_benches::sqlite_base`) — no
//! kinfolk service, no rule engine, no validation, no problem+json, no
//! OpenAPI, no rate limiting.
//!
//! Caller identity: the same HS256 bearer JWT, verified with the same
//! `jsonwebtoken` call, so both servers pay for it.
//!
//! ```text
//! cargo run --release -p kinfolk-http --example http_baseline -- DB ADDR     # serve
//! cargo run --release -p kinfolk-http --example http_baseline -- DB sample   # print ids for the script
//! ```
//! Routes: `GET /v1/me`, `GET /v1/users/{id_or_username}`,
//! `GET /v1/users/{id}/followers?limit=N`, `POST /v1/users/{id}/follow` (toggle).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use kinfolk::UserId;
use kinfolk_benches::sqlite_base::{LiteUser, Rel, SqliteBase};
use serde_json::json;

/// Reader connections (the SQLite store's default is 4) and one writer.
struct Db {
    readers: Vec<Mutex<SqliteBase>>,
    next: AtomicUsize,
    writer: Mutex<SqliteBase>,
    auth: kinfolk_http::JwtAuthenticator,
}

type S = State<Arc<Db>>;

impl Db {
    async fn read<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&SqliteBase) -> R + Send + 'static,
    ) -> R {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let i = db.next.fetch_add(1, Ordering::Relaxed) % db.readers.len();
            f(&db.readers[i].lock().unwrap())
        })
        .await
        .unwrap()
    }
    async fn write<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&SqliteBase) -> R + Send + 'static,
    ) -> R {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db.writer.lock().unwrap()))
            .await
            .unwrap()
    }
    fn caller(&self, h: &HeaderMap) -> Option<UserId> {
        let v = h.get("authorization")?.to_str().ok()?;
        self.auth.verify(v.strip_prefix("Bearer ")?).ok()
    }
}

fn user_json(u: &LiteUser, rel: Option<&Rel>) -> serde_json::Value {
    json!({
        "id": u.id, "username": u.username, "name": u.name, "avatar_url": u.avatar_url,
        "private_account": u.settings.privacy.private_account,
        "stats": {"followers_count": u.counts.followers, "following_count": u.counts.following},
        "relationship": rel.map(|r| json!({
            "following": r.following, "followed_by": r.followed_by, "requested": r.requested,
            "requested_by": r.requested_by, "blocking": r.blocking, "muting": r.muting})),
    })
}

async fn me(State(db): S, h: HeaderMap) -> Response {
    let Some(me) = db.caller(&h) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match db.read(move |b| b.profile_by_id(me, me)).await {
        Some((u, _)) => Json(user_json(&u, None)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn profile(State(db): S, h: HeaderMap, Path(key): Path<String>) -> Response {
    let Some(me) = db.caller(&h) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let found = match key.parse::<UserId>() {
        Ok(id) => db.read(move |b| b.profile_by_id(me, id)).await,
        Err(_) => {
            let folded = key.trim_start_matches('@').to_lowercase();
            db.read(move |b| b.profile_by_username(me, &folded)).await
        }
    };
    match found {
        Some((u, rel)) => Json(user_json(&u, Some(&rel))).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct PageQ {
    limit: Option<usize>,
}

async fn followers(
    State(db): S,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<PageQ>,
) -> Response {
    let Some(me) = db.caller(&h) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(owner) = id.parse::<UserId>() else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let (rows, last) = db
        .read(move |b| b.followers_page(me, owner, None, limit))
        .await;
    let items: Vec<_> = rows
        .iter()
        .map(|r| json!({"user": user_json(&r.user, None), "relationship": user_json(&r.user, Some(&r.rel))["relationship"]}))
        .collect();
    let next = (rows.len() == limit).then(|| last.map(|s| s.to_string()));
    Json(json!({"items": items, "next_cursor": next.flatten()})).into_response()
}

async fn toggle(State(db): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(me) = db.caller(&h) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Ok(target) = id.parse::<UserId>() else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    let following = db
        .write(move |b| {
            if b.follow(me, target) {
                true
            } else {
                b.unfollow(me, target);
                false
            }
        })
        .await;
    Json(json!({"relationship": {"following": following}, "changed": true})).into_response()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let db: PathBuf = args.next().expect("DB path").into();
    let addr = args.next().expect("ADDR or `sample`");
    if addr == "sample" {
        sample(&db);
        return;
    }
    let secret = std::env::var("KINFOLK_JWT_SECRET").expect("KINFOLK_JWT_SECRET");
    let open = || SqliteBase::open(&db, true);
    let state = Arc::new(Db {
        readers: (0..4).map(|_| Mutex::new(open())).collect(),
        next: AtomicUsize::new(0),
        writer: Mutex::new(open()),
        auth: kinfolk_http::JwtAuthenticator::hs256(secret.as_bytes()),
    });
    let app = Router::new()
        .route("/v1/me", get(me))
        .route("/v1/users/{key}", get(profile))
        .route("/v1/users/{id}/followers", get(followers))
        .route("/v1/users/{id}/follow", post(toggle))
        .with_state(state);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
        eprintln!(
            "baseline listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, app).await.unwrap();
    });
}

/// Prints `VIEWER_ID OWNER_ID OWNER_USERNAME TARGET_ID`: a viewer, the user
/// with the most followers (pages of 20 are full), and a follow target the
/// viewer does not follow yet.
fn sample(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let id = |b: Vec<u8>| UserId::from_bytes(b.try_into().unwrap());
    let owner: Vec<u8> = conn
        .query_row(
            "SELECT to_id FROM edges WHERE kind = 1 GROUP BY to_id ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let rec: String = conn
        .query_row("SELECT record FROM users WHERE id = ?1", [&owner], |r| {
            r.get(0)
        })
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&rec).unwrap();
    let viewer: Vec<u8> = conn
        .query_row(
            "SELECT id FROM users WHERE id <> ?1 ORDER BY id LIMIT 1",
            [&owner],
            |r| r.get(0),
        )
        .unwrap();
    let target: Vec<u8> = conn
        .query_row(
            "SELECT id FROM users u WHERE id <> ?1 AND id <> ?2 AND NOT EXISTS \
             (SELECT 1 FROM edges e WHERE e.from_id = ?1 AND e.to_id = u.id) \
             AND json_extract(record, '$.settings.privacy.private_account') = 0 \
             ORDER BY id DESC LIMIT 1",
            [&viewer, &owner],
            |r| r.get(0),
        )
        .unwrap();
    println!(
        "{} {} {} {}",
        id(viewer),
        id(owner),
        v["username"].as_str().unwrap(),
        id(target)
    );
}
