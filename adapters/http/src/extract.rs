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

/// Maps a serde error at `path` to a problem: malformed JSON is 400
/// `bad_request`; a well-formed value of the wrong shape (wrong type, unknown
/// field, a value a validating type refuses) is 422 `validation` naming the field.
fn json_problem(e: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let field = if path == "." || path.is_empty() {
                "body".to_string()
            } else {
                path
            };
            Problem::validation(field, inner.to_string())
        }
        _ => {
            let mut p = Problem::new(400, "bad_request", format!("malformed JSON: {inner}"));
            p.field = Some("body".to_string());
            p
        }
    }
}

/// A request body type: a JSON object, some of whose members must be
/// objects too.
///
/// serde fills a struct from a JSON array as well (`[null, null]` is a valid
/// `SettingsPatch` to serde); the API's schema says object, so every place a
/// struct sits is listed here and checked before deserialising.
pub(crate) trait JsonBody: DeserializeOwned {
    /// Members that must be objects when present and not null: top-level
    /// names, or `name/*` for the items of an array member.
    const OBJECTS: &'static [&'static str] = &[];
}

impl JsonBody for kinfolk::SettingsPatch {
    const OBJECTS: &'static [&'static str] = &["notifications", "privacy", "display"];
}
impl JsonBody for kinfolk::ProfileUpdate {
    const OBJECTS: &'static [&'static str] = &["social_links/*"];
}
impl JsonBody for kinfolk::NewRoom {}

fn not_object(field: &str) -> Problem {
    Problem::validation(field, "must be a JSON object")
}

/// Parses a JSON body into `T` (the one place request bodies are parsed).
pub(crate) fn parse_json<T: JsonBody>(bytes: &[u8]) -> Result<T, Problem> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let mut p = Problem::new(400, "bad_request", format!("malformed JSON: {e}"));
        p.field = Some("body".to_string());
        p
    })?;
    let Some(obj) = value.as_object() else {
        return Err(not_object("body"));
    };
    for path in T::OBJECTS {
        let (name, items) = match path.strip_suffix("/*") {
            Some(name) => (name, true),
            None => (*path, false),
        };
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Array(list)) if items => {
                if let Some(i) = list.iter().position(|v| !v.is_object()) {
                    return Err(not_object(&format!("{name}[{i}]")));
                }
            }
            Some(v) if !items && !v.is_object() => return Err(not_object(name)),
            Some(_) => {}
        }
    }
    serde_path_to_error::deserialize(value).map_err(json_problem)
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
