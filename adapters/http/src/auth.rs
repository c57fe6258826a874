//! Caller identity: the [`Authenticator`] port and the built-in bearer-JWT
//! verifier [`JwtAuthenticator`].
//!
//! The router asks the authenticator once per request. `Ok(None)` is an
//! anonymous caller (reads get what kinfolk gives anonymous viewers, writes
//! get 401); `Ok(Some(id))` the caller's user id; `Err(_)` a 401 problem.
//! No route ever takes a user id from a header or body field as the caller.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, request::Parts};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kinfolk::UserId;
use serde::{Deserialize, Serialize};

/// Why a request's credentials were refused (answered with 401).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    /// Safe to show to the caller: never echoes the token.
    pub reason: String,
}

impl AuthError {
    /// An error with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        AuthError {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for AuthError {}

/// Turns a request's parts into the caller's identity.
///
/// # Contract
/// - MUST return `Ok(None)` when the request carries no credentials at all
///   (an anonymous caller), `Ok(Some(id))` when they are valid, and `Err`
///   when credentials are present but invalid (expired, badly signed, wrong
///   audience, unknown scheme): a client that sent a token wants to know it
///   failed rather than be served as anonymous.
/// - MUST NOT trust any unauthenticated header or body field as the caller.
///
/// A host with its own sessions implements this trait; [`JwtAuthenticator`]
/// is the built-in bearer-JWT verifier.
///
/// ```
/// use kinfolk_http::{AuthError, Authenticator};
/// struct Nobody;
/// #[async_trait::async_trait]
/// impl Authenticator for Nobody {
///     async fn authenticate(&self, _parts: &axum::http::request::Parts)
///         -> Result<Option<kinfolk::UserId>, AuthError> { Ok(None) }
/// }
/// ```
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of the request whose head is `parts`.
    ///
    /// # Errors
    /// [`AuthError`] for credentials that are present but invalid.
    async fn authenticate(&self, parts: &Parts) -> Result<Option<UserId>, AuthError>;
}

/// The claims kinfolk's tokens carry (and the verifier requires).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id (a hyphenated UUID).
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Audience.
    pub aud: String,
    /// Issuer.
    pub iss: String,
}

/// The default `aud` and `iss` of tokens (override with
/// [`JwtAuthenticator::audience`] / [`JwtAuthenticator::issuer`]).
pub const DEFAULT_AUDIENCE: &str = "kinfolk";
/// See [`DEFAULT_AUDIENCE`].
pub const DEFAULT_ISSUER: &str = "kinfolk";

/// Verifies `Authorization: Bearer <JWT>`: the signature (HS256 with a shared
/// secret, or RS256 / EdDSA with a public key), `exp` and `nbf` (30 s leeway),
/// `aud` and `iss`; `sub` must be a user id. No `Authorization` header means
/// an anonymous caller.
///
/// ```
/// use kinfolk_http::JwtAuthenticator;
/// let auth = JwtAuthenticator::hs256(b"a long random secret").audience("my-app");
/// ```
#[derive(Clone)]
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithms", &self.validation.algorithms)
            .field("aud", &self.validation.aud)
            .field("iss", &self.validation.iss)
            .finish_non_exhaustive()
    }
}

impl JwtAuthenticator {
    fn with(key: DecodingKey, alg: Algorithm) -> Self {
        let mut validation = Validation::new(alg);
        validation.leeway = 30;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        validation.set_audience(&[DEFAULT_AUDIENCE]);
        validation.set_issuer(&[DEFAULT_ISSUER]);
        JwtAuthenticator { key, validation }
    }

    /// HS256 with a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::with(DecodingKey::from_secret(secret), Algorithm::HS256)
    }

    /// RS256 with an RSA public key in PEM.
    ///
    /// # Errors
    /// [`AuthError`] when the PEM is not an RSA public key.
    pub fn rs256_pem(public_key: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_rsa_pem(public_key)
            .map_err(|e| AuthError::new(format!("not an RSA public key: {e}")))?;
        Ok(Self::with(key, Algorithm::RS256))
    }

    /// EdDSA (Ed25519) with a public key in PEM.
    ///
    /// # Errors
    /// [`AuthError`] when the PEM is not an Ed25519 public key.
    pub fn eddsa_pem(public_key: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_ed_pem(public_key)
            .map_err(|e| AuthError::new(format!("not an Ed25519 public key: {e}")))?;
        Ok(Self::with(key, Algorithm::EdDSA))
    }

    /// Requires this `aud` (default [`DEFAULT_AUDIENCE`]).
    pub fn audience(mut self, aud: &str) -> Self {
        self.validation.set_audience(&[aud]);
        self
    }

    /// Requires this `iss` (default [`DEFAULT_ISSUER`]).
    pub fn issuer(mut self, iss: &str) -> Self {
        self.validation.set_issuer(&[iss]);
        self
    }

    /// Verifies a bare token (without the `Bearer ` prefix).
    ///
    /// # Errors
    /// [`AuthError`] for a bad signature, an expired or not-yet-valid token,
    /// a wrong audience or issuer, or a `sub` that is not a user id.
    pub fn verify(&self, token: &str) -> Result<UserId, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                AuthError::new(match e.kind() {
                    K::ExpiredSignature => "the token has expired",
                    K::ImmatureSignature => "the token is not valid yet",
                    K::InvalidAudience => "the token is for another audience",
                    K::InvalidIssuer => "the token is from another issuer",
                    K::InvalidSignature => "the token's signature does not verify",
                    K::MissingRequiredClaim(_) => "the token lacks a required claim",
                    _ => "the token is malformed",
                })
            })?;
        data.claims
            .sub
            .parse::<UserId>()
            .map_err(|_| AuthError::new("the token's subject is not a user id"))
    }
}

#[async_trait::async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, parts: &Parts) -> Result<Option<UserId>, AuthError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| AuthError::new("the Authorization header is not ASCII"))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return Err(AuthError::new("expected `Authorization: Bearer <token>`")),
        };
        self.verify(token).map(Some)
    }
}

/// Signs an HS256 token for `user`, valid from now for `ttl`, with the given
/// audience and issuer (the `kinfolk token` command and tests use it; a
/// production host usually mints tokens in its own OAuth server).
///
/// ```
/// use std::time::Duration;
/// let id = kinfolk::UserId::new();
/// let token = kinfolk_http::sign_hs256(b"secret", id, Duration::from_secs(3600), "kinfolk", "kinfolk")?;
/// assert_eq!(kinfolk_http::JwtAuthenticator::hs256(b"secret").verify(&token)?, id);
/// # Ok::<(), kinfolk_http::AuthError>(())
/// ```
///
/// # Errors
/// [`AuthError`] when signing fails (it does not for HS256 with any secret).
pub fn sign_hs256(
    secret: &[u8],
    user: UserId,
    ttl: Duration,
    aud: &str,
    iss: &str,
) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = Claims {
        sub: user.to_string(),
        exp: now.saturating_add(ttl.as_secs()),
        nbf: Some(now),
        iat: Some(now),
        aud: aud.to_string(),
        iss: iss.to_string(),
    };
    sign_claims(secret, &claims)
}

/// Signs arbitrary [`Claims`] with HS256 (tests use it for expired or
/// future tokens).
///
/// # Errors
/// [`AuthError`] when signing fails.
pub fn sign_claims(secret: &[u8], claims: &Claims) -> Result<String, AuthError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| AuthError::new(format!("cannot sign the token: {e}")))
}
