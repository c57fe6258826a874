//! The operator endpoint of `kinfolk serve --ops-listen ADDR`: a second
//! listener, apart from the public API, for what only an operator may ask of
//! the serving process — today `POST /ops/backup`, so a store the server
//! holds open (redb locks its file: no other process can open it) is backed
//! up by the process that holds it, through [`kinfolk::Store::backup_to`].
//!
//! Safe by construction: the routes exist only on the ops listener (the
//! public router never has them), and every request needs the operator
//! token (`Authorization: Bearer TOKEN`, compared in constant time; the
//! token comes from `KINFOLK_OPS_TOKEN` or `--ops-token-file`, at least 16
//! bytes, and `serve` refuses `--ops-listen` without one). A backup only
//! ever creates a new file, at an absolute path on the server's machine
//! (an existing one is refused, as `kinfolk backup` refuses it).
//!
//! `kinfolk backup --server URL DEST` is the client ([`request_backup`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kinfolk::{Error, Kinfolk};

use super::Fallible;

/// The shortest operator token accepted.
const MIN_TOKEN: usize = 16;

#[derive(Clone)]
struct Ops {
    svc: Kinfolk,
    token: Arc<[u8]>,
}

/// The operator token: `KINFOLK_OPS_TOKEN`, else the first line of `file`.
///
/// # Errors
/// None given, an unreadable file, or a token shorter than 16 bytes.
pub(crate) fn token(file: Option<&Path>) -> Fallible<Vec<u8>> {
    let token = match std::env::var("KINFOLK_OPS_TOKEN") {
        Ok(t) if !t.is_empty() => t,
        _ => match file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            None => {
                return Err(
                    "the operator endpoint needs a token: set KINFOLK_OPS_TOKEN or --ops-token-file"
                        .into(),
                );
            }
        },
    };
    let token = token.trim().as_bytes().to_vec();
    if token.len() < MIN_TOKEN {
        return Err(format!("the operator token must be at least {MIN_TOKEN} bytes").into());
    }
    Ok(token)
}

/// The ops router: `POST /ops/backup` with `{"dest": "/absolute/path"}`.
pub(crate) fn router(svc: Kinfolk, token: Vec<u8>) -> Router {
    Router::new()
        .route("/ops/backup", post(backup))
        .with_state(Ops {
            svc,
            token: token.into(),
        })
}

/// Equal bytes, in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    reply(
        status,
        serde_json::json!({ "error": code, "message": message }),
    )
}

async fn backup(State(ops): State<Ops>, headers: HeaderMap, body: Bytes) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::as_bytes);
    if !given.is_some_and(|t| same(t, &ops.token)) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the operator token is missing or wrong",
        );
    }
    let dest = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("dest").and_then(|d| d.as_str()).map(PathBuf::from));
    let Some(dest) = dest.filter(|d| d.is_absolute()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "validation",
            r#"the body must be {"dest": "/an/absolute/path"} (a path on the server's machine)"#,
        );
    };
    let started = Instant::now();
    match ops.svc.store().backup_to(&dest).await {
        Ok(()) => {
            let bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
            tracing::info!(dest = %dest.display(), bytes, "backup written");
            reply(
                StatusCode::OK,
                serde_json::json!({
                    "dest": dest.display().to_string(),
                    "bytes": bytes,
                    "seconds": started.elapsed().as_secs_f64(),
                }),
            )
        }
        Err(e @ Error::Validation { .. }) => refuse(StatusCode::CONFLICT, e.code(), &e.to_string()),
        Err(e) => {
            tracing::error!(dest = %dest.display(), error = %e, "backup failed");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, e.code(), &e.to_string())
        }
    }
}

/// `kinfolk backup --server URL DEST`: asks the serving process behind the
/// ops listener at `server` to write its backup to `dest` (made absolute
/// against this process's directory: give a path the server can write) and
/// prints what it wrote.
///
/// # Errors
/// No token, the server unreachable, or the server's refusal (its message).
pub(crate) async fn request_backup(
    server: &str,
    token_file: Option<&Path>,
    dest: &Path,
) -> Fallible<()> {
    let token = String::from_utf8(token(token_file)?)?;
    let dest = std::path::absolute(dest)?;
    let url = format!("{}/ops/backup", server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(serde_json::json!({ "dest": dest.display().to_string() }).to_string())
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let message = body["message"].as_str().unwrap_or("no message");
        return Err(format!("the server refused the backup ({status}): {message}").into());
    }
    println!(
        "the server backed up its store to {} ({} bytes) in {:.1}s",
        body["dest"].as_str().unwrap_or_default(),
        body["bytes"].as_u64().unwrap_or(0),
        body["seconds"].as_f64().unwrap_or(0.0)
    );
    Ok(())
}
