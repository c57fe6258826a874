//! RFC 9457 problem details: the one error shape every route answers with.
//!
//! Every failure — a [`kinfolk::Error`], a body or query that does not parse,
//! a missing token, a rate limit — becomes a [`Problem`] here, in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::request_id;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An `application/problem+json` body (RFC 9457) with kinfolk's extensions.
///
/// `code` is [`kinfolk::Error::code`] for errors the library reports, or one
/// of the HTTP layer's own codes (`bad_request`, `route_not_found`,
/// `method_not_allowed`, `payload_too_large`, `unsupported_media_type`,
/// `precondition_failed`, `rate_limited`, `timeout`). `field` names the
/// offending field of a validation error. Storage and other internal errors
/// carry a generic `detail`; the engine's text goes to the log only, under the
/// same `request_id`.
///
/// ```
/// let p = kinfolk_http::Problem::from(kinfolk::Error::UsernameTaken);
/// assert_eq!((p.status, p.code), (409, "username_taken"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status code.
    pub status: u16,
    /// The stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub detail: String,
    /// For validation errors: the field, as named in the JSON shape.
    pub field: Option<String>,
    /// The request id (also in the `x-request-id` response header).
    pub request_id: String,
    /// For `rate_limited`: seconds until a retry may succeed (also `Retry-After`).
    pub retry_after: Option<u64>,
}

/// The wire form: `type` and `title` derive from `code` and `status`.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    type_uri: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem with the given status, code and detail.
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code,
            detail: detail.into(),
            field: None,
            request_id: request_id::current(),
            retry_after: None,
        }
    }

    /// A `validation` problem (422) for `field`.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut p = Problem::new(422, "validation", detail);
        p.field = Some(field.into());
        p
    }

    /// `401 unauthenticated`: a write route called without a caller.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Problem::new(401, "unauthenticated", detail)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let title = StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        serde_json::to_vec(&Wire {
            type_uri: format!("urn:kinfolk:problem:{}", self.code),
            title,
            status: self.status,
            detail: &self.detail,
            code: self.code,
            field: self.field.as_deref(),
            request_id: &self.request_id,
            retry_after: self.retry_after,
        })
        .unwrap_or_default()
    }
}

impl From<kinfolk::Error> for Problem {
    fn from(e: kinfolk::Error) -> Self {
        let status = e.http_status();
        let code = e.code();
        if status >= 500 {
            // Engine text never leaves the process: the log carries it under
            // the request id the client sees.
            tracing::error!(error = %e, code, "internal error");
            let detail = if status == 503 {
                "the service is temporarily unable to answer; retry later"
            } else {
                "an internal error occurred; quote the request_id when reporting it"
            };
            return Problem::new(status, code, detail);
        }
        let mut p = Problem::new(status, code, e.to_string());
        if let kinfolk::Error::Validation { field, .. } = &e {
            p.field = Some((*field).to_string());
        }
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_json();
        let mut res = (status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"kinfolk\""),
            );
        }
        res
    }
}

/// What a handler returns on failure.
pub type ApiResult<T> = Result<T, Problem>;
