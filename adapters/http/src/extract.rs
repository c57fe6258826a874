//! Extractors: the caller, JSON bodies, query strings and path ids — each
//! maps its failures to a [`Problem`] here, in one place.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use kinfolk::{RoomId, UserId};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// The authenticated caller, if any (put in the request's extensions by the
/// authentication layer; never read from a header or body field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller(pub Option<UserId>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .copied()
            .unwrap_or(Caller(None)))
    }
}

/// A caller that must be signed in (401 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Problem> {
        match Caller::from_request_parts(parts, s).await?.0 {
            Some(id) => Ok(Actor(id)),
            None => Err(Problem::unauthenticated(
                "this route needs a signed-in caller (Authorization: Bearer <token>)",
            )),
        }
    }
}

/// A request body type and the one parser that reads it.
///
/// The core types that have a client-JSON reader use it, so the rules
/// (objects where objects are meant, `null`, unknown and duplicate fields)
/// and the `field` names of 422 problems are core's
/// ([`SettingsPatch::from_json`](kinfolk::SettingsPatch::from_json):
/// `patch`, `privacy`, `privacy.private_account`, …;
/// [`ProfileUpdate::from_json`](kinfolk::ProfileUpdate::from_json):
/// `update`, `name`, `social_links`, …). The HTTP layer's own small bodies
/// and [`NewRoom`](kinfolk::NewRoom) are flat objects read by [`flat`].
pub(crate) trait JsonBody: Sized {
    /// Reads the body from text that is well-formed JSON.
    fn from_json(text: &str) -> Result<Self, Problem>;
}

impl JsonBody for kinfolk::SettingsPatch {
    fn from_json(text: &str) -> Result<Self, Problem> {
        kinfolk::SettingsPatch::from_json(text).map_err(Problem::from)
    }
}

impl JsonBody for kinfolk::ProfileUpdate {
    fn from_json(text: &str) -> Result<Self, Problem> {
        kinfolk::ProfileUpdate::from_json(text).map_err(Problem::from)
    }
}

impl JsonBody for kinfolk::NewRoom {
    fn from_json(text: &str) -> Result<Self, Problem> {
        flat(text)
    }
}

/// A flat body (no member is itself a struct): a JSON object, read by serde
/// with the offending member named (`body` for the whole body). serde fills a
/// struct from an array too; the schema says object, so that is refused.
pub(crate) fn flat<T: DeserializeOwned>(text: &str) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Problem::validation("body", format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Problem::validation("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path.is_empty() {
            "body".to_string()
        } else {
            path
        };
        Problem::validation(field, e.into_inner().to_string())
    })
}

/// The body as JSON text: not UTF-8 or not well-formed JSON is 400
/// `bad_request` on `body` (a 422 is for well-formed JSON of the wrong shape).
fn json_text(bytes: &[u8]) -> Result<&str, Problem> {
    let malformed = |detail: String| {
        let mut p = Problem::new(400, "bad_request", detail);
        p.field = Some("body".to_string());
        p
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(format!("malformed JSON: not UTF-8: {e}")))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| malformed(format!("malformed JSON: {e}")))?;
    Ok(text)
}

/// Parses a JSON body into `T` (the one place request bodies are parsed).
pub(crate) fn parse_json<T: JsonBody>(bytes: &[u8]) -> Result<T, Problem> {
    T::from_json(json_text(bytes)?)
}

async fn body_bytes<S: Send + Sync>(req: Request, s: &S) -> Result<Bytes, Problem> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(Problem::new(
                415,
                "unsupported_media_type",
                "request bodies must be application/json",
            ));
        }
    }
    Bytes::from_request(req, s).await.map_err(|r| {
        if r.status().as_u16() == 413 {
            Problem::new(413, "payload_too_large", "the request body is too large")
        } else {
            Problem::new(400, "bad_request", "the request body could not be read")
        }
    })
}

/// A required JSON body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: JsonBody> FromRequest<S> for Json<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, s: &S) -> Result<Self, Problem> {
        let bytes = body_bytes(req, s).await?;
        if bytes.is_empty() {
            let mut p = Problem::new(400, "bad_request", "a JSON body is required");
            p.field = Some("body".to_string());
            return Err(p);
        }
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body: an empty body is `None`.
#[derive(Debug)]
pub struct OptJson<T>(pub Option<T>);

impl<S: Send + Sync, T: JsonBody> FromRequest<S> for OptJson<T> {
    type Rejection = Problem;
    async fn from_request(req: Request, s: &S) -> Result<Self, Problem> {
        let bytes = body_bytes(req, s).await?;
        if bytes.is_empty() {
            return Ok(OptJson(None));
        }
        parse_json(&bytes).map(|v| OptJson(Some(v)))
    }
}

/// A query string parsed into `T` (unknown parameters are refused when `T`
/// denies unknown fields).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." || path.is_empty() {
                    "query".to_string()
                } else {
                    path
                };
                Problem::validation(field, e.into_inner().to_string())
            })
    }
}

/// Path parameters as strings (ids are parsed with [`user_id`] / [`room_id`]
/// so that a bad one names its parameter).
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, s)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| Problem::validation("path", e.body_text()))
    }
}

/// A user id from a path or query parameter named `field`.
pub(crate) fn user_id(raw: &str, field: &str) -> Result<UserId, Problem> {
    if raw.len() != 36 {
        return Err(Problem::validation(
            field,
            "not a user id (a hyphenated UUID)",
        ));
    }
    raw.parse::<UserId>()
        .map_err(|_| Problem::validation(field, "not a user id (a hyphenated UUID)"))
}

/// A room id from a path or query parameter named `field`.
pub(crate) fn room_id(raw: &str, field: &str) -> Result<RoomId, Problem> {
    if raw.len() != 36 {
        return Err(Problem::validation(
            field,
            "not a room id (a hyphenated UUID)",
        ));
    }
    raw.parse::<RoomId>()
        .map_err(|_| Problem::validation(field, "not a room id (a hyphenated UUID)"))
}
