//! The router over real sockets: a server on 127.0.0.1:0, a reqwest client.
//! Every route's success and error shapes, the authorization matrix, bad
//! input (which must change nothing), and the limits.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use kinfolk::{Kinfolk, NewUser, UserId};
use kinfolk_http::{Claims, Cors, HttpConfig, JwtAuthenticator, RateLimit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &[u8] = b"test secret, long enough for HS256";

struct Srv {
    base: String,
    svc: Kinfolk,
    http: reqwest::Client,
    admin: UserId,
}

async fn serve(svc: Kinfolk, cfg: HttpConfig) -> String {
    let app = kinfolk_http::router_with(svc, JwtAuthenticator::hs256(SECRET), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

async fn memory_svc() -> Kinfolk {
    Kinfolk::builder(Arc::new(kinfolk_memory::MemoryStore::new()))
        .search(Arc::new(kinfolk_memory::MemorySearch::new()))
        .build()
        .await
        .unwrap()
}

async fn start_with(cfg: impl FnOnce(&mut HttpConfig)) -> Srv {
    let svc = memory_svc().await;
    let admin = svc
        .register(NewUser::new("feedreader", "Feed Reader").unwrap())
        .await
        .unwrap()
        .id;
    let mut c = HttpConfig {
        rate_limit: None,
        feed_readers: vec![admin],
        ..HttpConfig::default()
    };
    cfg(&mut c);
    let base = serve(svc.clone(), c).await;
    Srv {
        base,
        svc,
        http: reqwest::Client::new(),
        admin,
    }
}

async fn start() -> Srv {
    start_with(|_| {}).await
}

fn token(id: UserId) -> String {
    kinfolk_http::sign_hs256(SECRET, id, Duration::from_secs(3600), "kinfolk", "kinfolk").unwrap()
}

struct Res {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Res {
    fn ct(&self) -> &str {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
    /// Asserts a problem+json with this status and code; returns the body.
    fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.ct(), "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string());
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:kinfolk:problem:")
        );
        assert_eq!(
            self.body["request_id"].as_str().unwrap(),
            self.headers["x-request-id"].to_str().unwrap()
        );
        &self.body
    }
    fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "{}: {}", self.status, self.body);
        &self.body
    }
}

impl Srv {
    async fn call(
        &self,
        method: Method,
        path: &str,
        who: Option<UserId>,
        body: Option<Value>,
    ) -> Res {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(id) = who {
            rb = rb.bearer_auth(token(id));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.send(rb).await
    }
    async fn send(&self, rb: reqwest::RequestBuilder) -> Res {
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        assert!(
            headers.contains_key("x-request-id"),
            "every response has a request id"
        );
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Res {
            status,
            headers,
            body,
        }
    }
    async fn get(&self, path: &str, who: Option<UserId>) -> Res {
        self.call(Method::GET, path, who, None).await
    }
    async fn user(&self, username: &str) -> UserId {
        self.svc
            .register(NewUser::new(username, username).unwrap())
            .await
            .unwrap()
            .id
    }
    /// Everything the store holds about `id`, to prove bad input changed nothing.
    async fn snapshot(&self, id: UserId) -> Value {
        serde_json::to_value(self.svc.export(id).await.unwrap()).unwrap()
    }
}

// ------------------------------------------------------------- basics

#[tokio::test]
async fn health_ready_and_openapi() {
    let s = start().await;
    let r = s.get("/healthz", None).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, Some("ok")));
    let r = s.get("/readyz", None).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, Some("ready")));
    let r = s.get("/openapi.json", None).await;
    let doc = r.ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/me",
        "/v1/me/settings",
        "/v1/me/profile",
        "/v1/me/rooms",
        "/v1/users/search",
        "/v1/users/{id}/follow",
        "/v1/me/followers/{id}",
        "/v1/users/{id_or_username}",
        "/v1/users/{id}/followers",
        "/v1/users/{id}/following",
    ] {
        assert!(paths.contains_key(p), "{p} documented");
    }
    // Every link names an operation that exists (the stateful phase follows them).
    let ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let mut links = 0;
    for item in paths.values() {
        for op in item.as_object().unwrap().values() {
            for resp in op["responses"].as_object().unwrap().values() {
                for link in resp["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().unwrap();
                    assert!(ids.contains(&target), "link to {target}");
                    links += 1;
                }
            }
        }
    }
    assert!(links >= 10, "{links} links");
    // Every operation documents its error responses as problem+json.
    for (p, item) in paths {
        for (m, op) in item.as_object().unwrap() {
            if !p.starts_with("/v1/") {
                continue;
            }
            let rs = op["responses"].as_object().unwrap();
            for code in ["401", "422", "429", "500"] {
                assert!(
                    rs[code]["content"]["application/problem+json"].is_object(),
                    "{m} {p} documents {code}"
                );
            }
        }
    }
    // Which body members take `null` is core's rule (`SettingsPatch::from_json`,
    // `ProfileUpdate::from_json`); the document says the same.
    let schemas = &doc["components"]["schemas"];
    let takes_null = |schema: &str, prop: &str| {
        let p = &schemas[schema]["properties"][prop];
        assert!(p.is_object(), "{schema}.{prop} documented");
        p.to_string().contains("\"null\"")
    };
    for (schema, props) in [
        (
            "SettingsPatch",
            &["expected_version", "notifications", "privacy", "display"][..],
        ),
        ("PrivacyPatch", &["private_account", "allow_mentions"][..]),
        ("DisplayPatch", &["theme", "language"][..]),
        ("NotificationPatch", &["mention", "email_digest"][..]),
        (
            "ProfileUpdate",
            &["name", "bio", "username", "social_links"][..],
        ),
    ] {
        for prop in props {
            assert!(!takes_null(schema, prop), "{schema}.{prop} refuses null");
        }
    }
    for prop in ["avatar_url", "location"] {
        assert!(takes_null("ProfileUpdate", prop), "{prop} takes null");
    }
}

#[tokio::test]
async fn unknown_route_and_method_are_problems() {
    let s = start().await;
    s.get("/v1/nope", None)
        .await
        .problem(404, "route_not_found");
    s.call(Method::PUT, "/v1/me", None, None)
        .await
        .problem(405, "method_not_allowed");
}

#[tokio::test]
async fn request_id_is_echoed_when_plain_and_replaced_when_not() {
    let s = start().await;
    let r = s
        .send(
            s.http
                .get(format!("{}/healthz", s.base))
                .header("x-request-id", "abc-123"),
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "abc-123");
    let r = s
        .send(
            s.http
                .get(format!("{}/v1/me", s.base))
                .header("x-request-id", "bad id with spaces"),
        )
        .await;
    let id = r.problem(401, "unauthenticated")["request_id"]
        .as_str()
        .unwrap();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 36);
}

// ----------------------------------------------------------------- auth

#[tokio::test]
async fn me_needs_a_caller() {
    let s = start().await;
    let ada = s.user("ada").await;
    let me = s.get("/v1/me", Some(ada)).await;
    assert_eq!(me.ok()["username"], "ada");
    assert_eq!(me.body["stats"]["followers_count"], 0);
    let r = s.get("/v1/me", None).await;
    r.problem(401, "unauthenticated");
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn bad_tokens_are_401_everywhere() {
    let s = start().await;
    let ada = s.user("ada").await;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |f: &dyn Fn(&mut Claims)| {
        let mut c = Claims {
            sub: ada.to_string(),
            exp: now + 3600,
            nbf: Some(now),
            iat: Some(now),
            aud: "kinfolk".into(),
            iss: "kinfolk".into(),
        };
        f(&mut c);
        c
    };
    let bad = [
        (
            "expired",
            kinfolk_http::sign_claims(SECRET, &claims(&|c| c.exp = now - 3600)).unwrap(),
        ),
        (
            "not yet valid",
            kinfolk_http::sign_claims(SECRET, &claims(&|c| c.nbf = Some(now + 3600))).unwrap(),
        ),
        (
            "wrong audience",
            kinfolk_http::sign_claims(SECRET, &claims(&|c| c.aud = "other".into())).unwrap(),
        ),
        (
            "wrong issuer",
            kinfolk_http::sign_claims(SECRET, &claims(&|c| c.iss = "other".into())).unwrap(),
        ),
        (
            "bad signature",
            kinfolk_http::sign_claims(b"another secret entirely", &claims(&|_| {})).unwrap(),
        ),
        (
            "sub not a uuid",
            kinfolk_http::sign_claims(SECRET, &claims(&|c| c.sub = "ada".into())).unwrap(),
        ),
        ("garbage", "not.a.jwt".to_string()),
    ];
    let path = format!("/v1/users/{ada}");
    for (what, tok) in &bad {
        for p in ["/v1/me", path.as_str()] {
            let r = s
                .send(s.http.get(format!("{}{p}", s.base)).bearer_auth(tok))
                .await;
            assert_eq!(r.status, 401, "{what} on {p}: {}", r.body);
            r.problem(401, "unauthenticated");
        }
    }
    // Another scheme is refused too, not served as anonymous.
    let r = s
        .send(
            s.http
                .get(format!("{}{path}", s.base))
                .header("authorization", "Basic YWRhOnB3"),
        )
        .await;
    r.problem(401, "unauthenticated");
    // A well-signed token for a user that does not exist: core says who is unknown.
    s.get("/v1/me", Some(UserId::new()))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn anonymous_callers_read_but_never_write() {
    let s = start().await;
    let ada = s.user("ada").await;
    let before = s.snapshot(ada).await;
    let id = ada.to_string();
    let room = uuid::Uuid::now_v7();
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::PATCH, "/v1/me/settings".into(), Some(json!({}))),
        (
            Method::PATCH,
            "/v1/me/profile".into(),
            Some(json!({"bio": "x"})),
        ),
        (Method::POST, format!("/v1/users/{id}/follow"), None),
        (Method::DELETE, format!("/v1/me/followers/{id}"), None),
        (Method::PUT, format!("/v1/users/{id}/block"), None),
        (Method::DELETE, format!("/v1/users/{id}/block"), None),
        (Method::PUT, format!("/v1/users/{id}/mute"), None),
        (Method::DELETE, format!("/v1/users/{id}/mute"), None),
        (Method::POST, "/v1/me/deactivate".into(), None),
        (Method::POST, "/v1/me/reactivate".into(), None),
        (Method::DELETE, "/v1/me".into(), None),
        (
            Method::POST,
            "/v1/rooms".into(),
            Some(json!({"kind": "group", "name": "x", "visibility": "public"})),
        ),
        (Method::PUT, format!("/v1/rooms/{room}/members/{id}"), None),
        (Method::POST, format!("/v1/rooms/{room}/leave"), None),
        (
            Method::POST,
            format!("/v1/me/follow_requests/{id}/approve"),
            None,
        ),
        (
            Method::POST,
            "/v1/me/relationships".into(),
            Some(json!({"ids": []})),
        ),
        (Method::GET, "/v1/me/export".into(), None),
        (Method::GET, "/v1/me/rooms".into(), None),
        (Method::GET, "/v1/changes".into(), None),
    ];
    for (m, p, b) in writes {
        let r = s.call(m.clone(), &p, None, b).await;
        assert_eq!(r.status, 401, "{m} {p}");
        r.problem(401, "unauthenticated");
    }
    assert_eq!(s.snapshot(ada).await, before);
    // Reads an anonymous viewer may make.
    let p = s.get(&format!("/v1/users/{id}"), None).await;
    assert_eq!(p.ok()["view"], "public");
    assert!(p.body.get("relationship").is_none_or(Value::is_null));
    assert!(p.body.get("email").is_none());
    s.get(&format!("/v1/users/{id}/followers"), None).await.ok();
}

// ------------------------------------------------------------- settings

#[tokio::test]
async fn settings_etag_and_if_match() {
    let s = start().await;
    let ada = s.user("ada").await;
    let r = s.get("/v1/me/settings", Some(ada)).await;
    assert_eq!(r.ok()["version"], 1);
    assert_eq!(r.headers["etag"], "\"1\"");

    let patch = |if_match: &str, body: Value| {
        s.http
            .patch(format!("{}/v1/me/settings", s.base))
            .bearer_auth(token(ada))
            .header("if-match", if_match)
            .json(&body)
    };
    let r = s
        .send(patch("\"1\"", json!({"privacy": {"show_counts": false}})))
        .await;
    assert_eq!(r.ok()["privacy"]["show_counts"], false);
    assert_eq!(r.headers["etag"], "\"2\"");
    // Stale If-Match: 412, nothing changes.
    let r = s
        .send(patch("\"1\"", json!({"privacy": {"show_counts": true}})))
        .await;
    r.problem(412, "precondition_failed");
    for junk in ["W/\"2\"", "garbage", "\"x\""] {
        s.send(patch(junk, json!({"display": {"compact": true}})))
            .await
            .problem(412, "precondition_failed");
    }
    // If-Match and body disagree.
    s.send(patch("\"2\"", json!({"expected_version": 1})))
        .await
        .problem(412, "precondition_failed");
    // A stale body version without If-Match is core's Conflict (409).
    s.call(
        Method::PATCH,
        "/v1/me/settings",
        Some(ada),
        Some(json!({"expected_version": 1, "display": {"compact": true}})),
    )
    .await
    .problem(409, "conflict");
    // `*` matches any version.
    let r = s
        .send(patch("*", json!({"display": {"theme": "dark"}})))
        .await;
    assert_eq!(r.ok()["version"], 3);
    let r = s.get("/v1/me/settings", Some(ada)).await;
    assert_eq!(r.body["privacy"]["show_counts"], false);
    assert_eq!(r.body["display"]["compact"], false);
}

#[tokio::test]
async fn bad_bodies_are_4xx_problems_and_change_nothing() {
    let s = start().await;
    let ada = s.user("ada").await;
    let before = s.snapshot(ada).await;
    let send_raw = |path: &str, ct: Option<&str>, body: Vec<u8>| {
        let mut rb = s
            .http
            .patch(format!("{}{path}", s.base))
            .bearer_auth(token(ada))
            .body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb
    };
    // The whole body's `field` is core's name for it (`SettingsPatch::from_json`,
    // `ProfileUpdate::from_json`): `patch` / `update`.
    for (path, whole, dup) in [
        (
            "/v1/me/settings",
            "patch",
            r#"{"expected_version": 1, "expected_version": 1}"#,
        ),
        ("/v1/me/profile", "update", r#"{"bio": "a", "bio": "b"}"#),
    ] {
        let j = Some("application/json");
        // Malformed JSON.
        let r = s.send(send_raw(path, j, b"{,}".to_vec())).await;
        assert_eq!(r.problem(400, "bad_request")["field"], "body");
        let r = s.send(send_raw(path, j, b"{} trailing".to_vec())).await;
        r.problem(400, "bad_request");
        // Empty body where one is required.
        s.send(send_raw(path, j, vec![]))
            .await
            .problem(400, "bad_request");
        // Not JSON at all.
        s.send(send_raw(path, Some("text/plain"), b"{}".to_vec()))
            .await
            .problem(415, "unsupported_media_type");
        // Huge body.
        let huge = format!("{{\"bio\": \"{}\"}}", "x".repeat(70 * 1024));
        s.send(send_raw(path, j, huge.into_bytes()))
            .await
            .problem(413, "payload_too_large");
        // Unknown field.
        let r = s
            .send(send_raw(path, j, b"{\"is_admin\": true}".to_vec()))
            .await;
        assert_eq!(r.problem(422, "validation")["field"], whole);
        // Duplicate keys.
        let r = s.send(send_raw(path, j, dup.as_bytes().to_vec())).await;
        assert_eq!(r.problem(422, "validation")["field"], whole);
        // Wrong top-level type.
        for body in ["[1,2]", "[null, null]", "null", "\"x\"", "7"] {
            let r = s.send(send_raw(path, j, body.as_bytes().to_vec())).await;
            assert_eq!(r.problem(422, "validation")["field"], whole, "{body}");
        }
    }
    // serde would fill a struct from an array; the API refuses it.
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/settings",
            Some(ada),
            Some(json!({"privacy": [null, null]})),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "privacy");
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/profile",
            Some(ada),
            Some(json!({"social_links": [["github", "https://github.com/ada"]]})),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "social_links");
    // `null` where a field cannot be cleared is refused (absent = unchanged).
    for (path, body, field) in [
        ("/v1/me/settings", json!({"privacy": null}), "privacy"),
        (
            "/v1/me/settings",
            json!({"privacy": {"private_account": null}}),
            "privacy.private_account",
        ),
        ("/v1/me/settings", json!({"display": ["dark"]}), "display"),
        ("/v1/me/profile", json!({"name": null}), "name"),
        (
            "/v1/me/profile",
            json!({"social_links": null}),
            "social_links",
        ),
    ] {
        let r = s.call(Method::PATCH, path, Some(ada), Some(body)).await;
        assert_eq!(r.problem(422, "validation")["field"], field, "{path}");
    }
    // Wrong types name the field.
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/settings",
            Some(ada),
            Some(json!({"privacy": {"private_account": "yes"}})),
        )
        .await;
    assert_eq!(
        r.problem(422, "validation")["field"],
        "privacy.private_account"
    );
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/settings",
            Some(ada),
            Some(json!({"display": {"timezone": "Mars/Olympus"}})),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "display.timezone");
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/profile",
            Some(ada),
            Some(json!({"avatar_url": "http://127.0.0.1/a.png"})),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "avatar_url");
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/profile",
            Some(ada),
            Some(json!({"name": "\u{202e}evil"})),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "name");
    assert_eq!(s.snapshot(ada).await, before, "bad input changed nothing");
}

// --------------------------------------------------------------- profile

#[tokio::test]
async fn update_profile_and_profile_lookup() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/profile",
            Some(ada),
            Some(
                json!({"name": "Ada Lovelace", "bio": "math", "location": "London",
                        "social_links": [{"kind": "github", "url": "https://github.com/ada"}]}),
            ),
        )
        .await;
    assert_eq!(r.ok()["name"], "Ada Lovelace");
    assert_eq!(r.body["social_links"][0]["kind"], "github");
    // Clearing with null.
    let r = s
        .call(
            Method::PATCH,
            "/v1/me/profile",
            Some(ada),
            Some(json!({"location": null})),
        )
        .await;
    assert!(r.ok()["location"].is_null());
    // Username rules come from core.
    s.call(
        Method::PATCH,
        "/v1/me/profile",
        Some(ada),
        Some(json!({"username": "BOB"})),
    )
    .await
    .problem(409, "username_taken");
    s.call(
        Method::PATCH,
        "/v1/me/profile",
        Some(ada),
        Some(json!({"username": "adm1n"})),
    )
    .await
    .problem(422, "username_reserved");
    // Lookups: own view, public view, by @username, case-insensitive.
    let r = s.get(&format!("/v1/users/{ada}"), Some(ada)).await;
    assert_eq!(r.ok()["view"], "own");
    assert!(r.body["settings"].is_object());
    let r = s.get("/v1/users/@ADA", Some(bob)).await;
    assert_eq!(r.ok()["view"], "public");
    assert_eq!(r.body["id"], ada.to_string());
    assert_eq!(r.body["relationship"]["following"], false);
    assert!(r.body.get("email").is_none() && r.body.get("settings").is_none());
    s.get("/v1/users/nobody_here", None)
        .await
        .problem(404, "not_found");
    s.get(&format!("/v1/users/{}", UserId::new()), None)
        .await
        .problem(404, "not_found");
    // Bob's profile is untouched by Ada's updates.
    assert_eq!(s.get("/v1/me", Some(bob)).await.body["name"], "bob");
}

// --------------------------------------------------------------- follows

#[tokio::test]
async fn toggle_follow_and_remove_follower() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    let follow = |who: UserId, target: String, body: Option<Value>| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                &format!("/v1/users/{target}/follow"),
                Some(who),
                body,
            )
            .await
        }
    };
    let r = follow(bob, ada.to_string(), None).await;
    assert_eq!(r.ok()["changed"], true);
    assert_eq!(r.body["relationship"]["following"], true);
    let r = follow(bob, ada.to_string(), Some(json!({"action": "follow"}))).await;
    assert_eq!(r.ok()["changed"], false);
    assert_eq!(
        s.get("/v1/me", Some(ada)).await.body["stats"]["followers_count"],
        1
    );
    // Errors.
    follow(bob, bob.to_string(), None)
        .await
        .problem(422, "cannot_follow_self");
    let r = follow(bob, "not-a-uuid".into(), None).await;
    assert_eq!(r.problem(422, "validation")["field"], "id");
    follow(bob, UserId::new().to_string(), None)
        .await
        .problem(404, "not_found");
    let r = follow(bob, ada.to_string(), Some(json!({"action": "maybe"}))).await;
    assert_eq!(r.problem(422, "validation")["field"], "action");
    // Remove follower: Ada removes Bob; idempotent.
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/me/followers/{bob}"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/me/followers/{bob}"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], false);
    assert_eq!(
        s.get("/v1/me", Some(ada)).await.body["stats"]["followers_count"],
        0
    );
    // Toggle without body flips back on, then off.
    assert_eq!(
        follow(bob, ada.to_string(), None).await.body["relationship"]["following"],
        true
    );
    assert_eq!(
        follow(bob, ada.to_string(), None).await.body["relationship"]["following"],
        false
    );
}

#[tokio::test]
async fn followers_pages_with_cursor_and_link() {
    let s = start().await;
    let ada = s.user("ada").await;
    for i in 0..25 {
        let f = s.user(&format!("fan{i:02}")).await;
        s.svc
            .toggle_follow(f, ada, Some(kinfolk::FollowAction::Follow))
            .await
            .unwrap();
    }
    let r = s
        .get(&format!("/v1/users/{ada}/followers?limit=20"), None)
        .await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 20);
    assert_eq!(
        r.body["items"][0]["user"]["username"], "fan24",
        "newest first"
    );
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let link = r.headers["link"].to_str().unwrap().to_string();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    assert!(link.contains("limit=20"), "{link}");
    // Follow the Link header as a client would.
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let r2 = s.get(&next, None).await;
    assert_eq!(r2.ok()["items"].as_array().unwrap().len(), 5);
    assert!(r2.body["next_cursor"].is_null());
    assert!(r2.headers.get("link").is_none());
    let r3 = s
        .get(
            &format!("/v1/users/{ada}/followers?limit=20&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(r3.body, r2.body);
    // Following and known followers answer the same shape.
    let fan = r.body["items"][0]["user"]["id"].as_str().unwrap();
    let r = s.get(&format!("/v1/users/{fan}/following"), None).await;
    assert_eq!(r.ok()["items"][0]["user"]["id"], ada.to_string());
    let r = s
        .get(&format!("/v1/users/{ada}/known_followers"), Some(ada))
        .await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 0);
    // Bad page parameters.
    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "cursor=garbage",
        "cursor=%00%ff",
        "limit=1&limit=2",
        "sort=asc",
    ] {
        let r = s.get(&format!("/v1/users/{ada}/followers?{q}"), None).await;
        r.problem(422, "validation");
    }
    // A cursor of another list is refused (cursors are bound to their list).
    let other = s.user("other").await;
    s.get(
        &format!("/v1/users/{other}/followers?cursor={cursor}"),
        None,
    )
    .await
    .problem(422, "validation");
    s.get("/v1/users/xyz/followers", None)
        .await
        .problem(422, "validation");
}

#[tokio::test]
async fn private_accounts_requests_approve_reject() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    let cyd = s.user("cyd").await;
    s.call(
        Method::PATCH,
        "/v1/me/settings",
        Some(ada),
        Some(json!({"privacy": {"private_account": true, "followers_visibility": "owner"}})),
    )
    .await
    .ok();
    for who in [bob, cyd] {
        let r = s
            .call(
                Method::POST,
                &format!("/v1/users/{ada}/follow"),
                Some(who),
                None,
            )
            .await;
        assert_eq!(r.ok()["relationship"]["requested"], true);
    }
    let r = s.get("/v1/me/follow_requests", Some(ada)).await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 2);
    let r = s
        .call(
            Method::POST,
            &format!("/v1/me/follow_requests/{bob}/approve"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["followed_by"], true);
    let r = s
        .call(
            Method::POST,
            &format!("/v1/me/follow_requests/{cyd}/reject"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["requested_by"], false);
    s.call(
        Method::POST,
        &format!("/v1/me/follow_requests/{cyd}/reject"),
        Some(ada),
        None,
    )
    .await
    .problem(404, "not_found");
    // followers_visibility=owner: others are forbidden, the owner is not.
    s.get(&format!("/v1/users/{ada}/followers"), Some(bob))
        .await
        .problem(403, "forbidden");
    let r = s
        .get(&format!("/v1/users/{ada}/followers"), Some(ada))
        .await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn relationships_block_mute() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    s.svc
        .toggle_follow(bob, ada, Some(kinfolk::FollowAction::Follow))
        .await
        .unwrap();
    let r = s
        .call(
            Method::POST,
            "/v1/me/relationships",
            Some(ada),
            Some(json!({"ids": [bob, UserId::new()]})),
        )
        .await;
    assert_eq!(r.ok()["items"][0]["relationship"]["followed_by"], true);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let many: Vec<String> = (0..101).map(|_| UserId::new().to_string()).collect();
    s.call(
        Method::POST,
        "/v1/me/relationships",
        Some(ada),
        Some(json!({ "ids": many })),
    )
    .await
    .problem(422, "validation");
    s.call(
        Method::POST,
        "/v1/me/relationships",
        Some(ada),
        Some(json!({"ids": ["nope"]})),
    )
    .await
    .problem(422, "validation");
    // Mute with a time, then unmute.
    let r = s
        .call(
            Method::PUT,
            &format!("/v1/users/{bob}/mute"),
            Some(ada),
            Some(json!({"until": "2999-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    let r = s.get(&format!("/v1/users/{bob}"), Some(ada)).await;
    assert_eq!(r.body["relationship"]["muting"], true);
    s.call(
        Method::PUT,
        &format!("/v1/users/{bob}/mute"),
        Some(ada),
        Some(json!({"until": "2000-01-01T00:00:00Z"})),
    )
    .await
    .problem(422, "validation");
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/users/{bob}/mute"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    // Block: removes the follow; Bob can no longer see or follow Ada.
    let r = s
        .call(
            Method::PUT,
            &format!("/v1/users/{bob}/block"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    assert_eq!(
        s.get("/v1/me", Some(ada)).await.body["stats"]["followers_count"],
        0
    );
    s.get(&format!("/v1/users/{ada}"), Some(bob))
        .await
        .problem(404, "not_found");
    // The blocked user cannot see the blocker at all: following is NotFound.
    s.call(
        Method::POST,
        &format!("/v1/users/{ada}/follow"),
        Some(bob),
        None,
    )
    .await
    .problem(404, "not_found");
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/users/{bob}/block"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    s.get(&format!("/v1/users/{ada}"), Some(bob)).await.ok();
}

// ----------------------------------------------------------------- search

#[tokio::test]
async fn search_scopes_and_hostile_queries() {
    let s = start().await;
    let ada = s.user("ada").await;
    let jose = s
        .svc
        .register(NewUser::new("jose_a", "José Álvarez").unwrap())
        .await
        .unwrap()
        .id;
    s.svc.refresh_search().await.unwrap();
    let r = s.get("/v1/users/search?q=alv", Some(ada)).await;
    assert_eq!(r.ok()["items"][0]["user"]["id"], jose.to_string());
    assert!(r.body["items"][0]["tier"].is_string());
    let r = s
        .get("/v1/users/search?q=%40jose&scope=mention", Some(ada))
        .await;
    assert_eq!(r.ok()["items"][0]["user"]["id"], jose.to_string());
    let r = s
        .get(
            &format!("/v1/users/search?q=a&scope=followers&of={jose}"),
            Some(ada),
        )
        .await;
    r.ok();
    // Anonymous discovery works; mention needs a caller.
    s.get("/v1/users/search?q=ada", None).await.ok();
    s.get("/v1/users/search?q=ada&scope=mention", None)
        .await
        .problem(401, "unauthenticated");
    // Hostile strings: results or a validation error, never a 5xx.
    let long = "a".repeat(5000);
    for q in [
        "\"*:(){}[]^~AND OR NOT",
        "%00%01%02",
        "%F0%9F%92%A9",
        "%E2%80%AE",
        "'; DROP TABLE users; --",
        "field:value",
        "a*",
        "%5C%5C%5C",
        long.as_str(),
    ] {
        let r = s.get(&format!("/v1/users/search?q={q}"), Some(ada)).await;
        assert!(
            r.status == 200 || r.status == 422,
            "q={q}: {} {}",
            r.status,
            r.body
        );
        assert!(r.status == 200 || r.ct() == "application/problem+json");
    }
    for q in [
        "q=",
        "q=%20%20",
        "q=%40",
        "",
        "q=a&limit=51",
        "q=a&scope=nope",
    ] {
        s.get(&format!("/v1/users/search?{q}"), Some(ada))
            .await
            .problem(422, "validation");
    }
    let r = s
        .get("/v1/users/search?q=a&scope=room_invite", Some(ada))
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "room");
    let r = s
        .get("/v1/users/search?q=a&scope=following&of=zzz", Some(ada))
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "of");
    let r = s
        .get(
            &format!("/v1/users/search?q=a&room={}", uuid::Uuid::now_v7()),
            Some(ada),
        )
        .await;
    assert_eq!(r.problem(422, "validation")["field"], "room");
}

// ------------------------------------------------------------------ rooms

#[tokio::test]
async fn rooms_lifecycle_and_authorization() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    let eve = s.user("eve").await;
    let r = s
        .call(
            Method::POST,
            "/v1/rooms",
            Some(ada),
            Some(json!({"kind": "group", "name": "Rustaceans", "visibility": "private"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let room = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["member_count"], 1);
    let r = s
        .call(
            Method::PUT,
            &format!("/v1/rooms/{room}/members/{bob}"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["role"], "member");
    // Eve (not a member) cannot add, promote or remove; Bob (member of a
    // private room) cannot add or remove either.
    let before = s.get("/v1/me/rooms", Some(ada)).await.body;
    for who in [eve, bob] {
        let r = s
            .call(
                Method::PUT,
                &format!("/v1/rooms/{room}/members/{eve}"),
                Some(who),
                None,
            )
            .await;
        assert!(r.status == 403 || r.status == 404, "{}", r.body);
        let r = s
            .call(
                Method::PATCH,
                &format!("/v1/rooms/{room}/members/{bob}"),
                Some(who),
                Some(json!({"role": "admin"})),
            )
            .await;
        assert!(r.status == 403 || r.status == 404, "{}", r.body);
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/rooms/{room}/members/{ada}"),
                Some(who),
                None,
            )
            .await;
        assert!(r.status == 403 || r.status == 404, "{}", r.body);
    }
    assert_eq!(s.get("/v1/me/rooms", Some(ada)).await.body, before);
    // The owner promotes Bob, filters, removes him.
    let r = s
        .call(
            Method::PATCH,
            &format!("/v1/rooms/{room}/members/{bob}"),
            Some(ada),
            Some(json!({"role": "moderator"})),
        )
        .await;
    assert_eq!(r.ok()["role"], "moderator");
    let r = s
        .get("/v1/me/rooms?role=moderator&name=RUST", Some(bob))
        .await;
    assert_eq!(r.ok()["items"][0]["room"]["id"], room);
    let r = s.get("/v1/me/rooms?kind=page", Some(bob)).await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 0);
    s.get("/v1/me/rooms?role=king", Some(bob))
        .await
        .problem(422, "validation");
    s.call(
        Method::PATCH,
        &format!("/v1/rooms/{room}/members/{bob}"),
        Some(ada),
        Some(json!({"role": "emperor"})),
    )
    .await
    .problem(422, "validation");
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/rooms/{room}/members/{bob}"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = s
        .call(
            Method::POST,
            &format!("/v1/rooms/{room}/leave"),
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    s.call(
        Method::POST,
        &format!("/v1/rooms/{room}/leave"),
        Some(ada),
        None,
    )
    .await
    .problem(404, "not_found");
    s.call(
        Method::POST,
        "/v1/rooms",
        Some(ada),
        Some(json!({"kind": "group", "name": "", "visibility": "public"})),
    )
    .await
    .problem(422, "validation");
    s.call(Method::POST, "/v1/rooms/123/leave", Some(ada), None)
        .await
        .problem(422, "validation");
}

// ------------------------------------------------------- account actions

#[tokio::test]
async fn deactivate_export_accounts_delete() {
    let s = start().await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    s.svc
        .link_account(ada, "github", "42", "ada-gh")
        .await
        .unwrap();
    let r = s.get("/v1/me/connected_accounts", Some(ada)).await;
    assert_eq!(r.ok()["items"][0]["provider"], "github");
    let r = s
        .call(
            Method::DELETE,
            "/v1/me/connected_accounts/github/42",
            Some(ada),
            None,
        )
        .await;
    assert_eq!(r.ok()["changed"], true);
    let r = s.get("/v1/me/export", Some(ada)).await;
    assert_eq!(r.ok()["user"]["id"], ada.to_string());
    // Deactivated: hidden from others, may read self and reactivate.
    let r = s
        .call(Method::POST, "/v1/me/deactivate", Some(ada), None)
        .await;
    assert_eq!(r.ok()["changed"], true);
    s.get(&format!("/v1/users/{ada}"), Some(bob))
        .await
        .problem(404, "not_found");
    s.call(
        Method::POST,
        &format!("/v1/users/{bob}/follow"),
        Some(ada),
        None,
    )
    .await
    .problem(403, "deactivated");
    s.get("/v1/me", Some(ada)).await.ok();
    let r = s
        .call(Method::POST, "/v1/me/reactivate", Some(ada), None)
        .await;
    assert_eq!(r.ok()["changed"], true);
    // Delete: gone; the token no longer names a user.
    let r = s.call(Method::DELETE, "/v1/me", Some(ada), None).await;
    assert_eq!(r.status, 204);
    s.get("/v1/me", Some(ada))
        .await
        .problem(401, "unauthenticated");
    s.get(&format!("/v1/users/{ada}"), Some(bob))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn change_feed_is_for_feed_readers_only() {
    let s = start().await;
    let ada = s.user("ada").await;
    s.get("/v1/changes", Some(ada))
        .await
        .problem(403, "forbidden");
    let r = s.get("/v1/changes?after=0&limit=10", Some(s.admin)).await;
    let items = r.ok()["items"].as_array().unwrap();
    assert!(items.len() >= 2);
    assert_eq!(items[0]["change"]["type"], "user_registered");
    let next = r.body["next_after"].as_u64().unwrap();
    let r = s
        .get(&format!("/v1/changes?after={next}"), Some(s.admin))
        .await;
    assert_eq!(r.ok()["items"].as_array().unwrap().len(), 0);
    s.get("/v1/changes?limit=0", Some(s.admin))
        .await
        .problem(422, "validation");
}

// ----------------------------------------------------------------- limits

#[tokio::test]
async fn rate_limit_is_per_caller_with_retry_after() {
    let s = start_with(|c| {
        c.rate_limit = Some(RateLimit {
            per_minute: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(2).unwrap(),
        })
    })
    .await;
    let ada = s.user("ada").await;
    let bob = s.user("bob").await;
    s.get("/v1/me", Some(ada)).await.ok();
    s.get("/v1/me", Some(ada)).await.ok();
    let r = s.get("/v1/me", Some(ada)).await;
    r.problem(429, "rate_limited");
    let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // Another caller has its own bucket; health checks are never limited.
    s.get("/v1/me", Some(bob)).await.ok();
    for _ in 0..5 {
        s.get("/healthz", None).await;
    }
}

#[tokio::test]
async fn cors_is_configurable() {
    let s = start_with(|c| c.cors = Cors::Origins(vec!["https://app.example".into()])).await;
    let pre = |origin: &str| {
        s.http
            .request(Method::OPTIONS, format!("{}/v1/me", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
    };
    let r = s.send(pre("https://app.example")).await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    let r = s.send(pre("https://evil.example")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // Off by default.
    let d = start().await;
    let r = d
        .send(
            d.http
                .get(format!("{}/healthz", d.base))
                .header("origin", "https://app.example"),
        )
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    // A real SQLite store behind a wrapper whose reads take 2 s; the
    // router's budget is 100 ms.
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn kinfolk::Store> =
        Arc::new(kinfolk_sqlite::open(dir.path().join("k.db")).unwrap());
    let ada = Kinfolk::builder(inner.clone())
        .build()
        .await
        .unwrap()
        .register(NewUser::new("ada", "Ada").unwrap())
        .await
        .unwrap()
        .id;
    let svc = Kinfolk::builder(Arc::new(Slow(inner)))
        .build()
        .await
        .unwrap();
    let base = serve(
        svc,
        HttpConfig {
            timeout: Duration::from_millis(100),
            ..HttpConfig::default()
        },
    )
    .await;
    let s = Srv {
        base,
        svc: memory_svc().await,
        http: reqwest::Client::new(),
        admin: ada,
    };
    let r = s.get("/v1/me", Some(ada)).await;
    r.problem(503, "timeout");
    assert!(r.headers.contains_key("retry-after"));
}

/// A store whose reads are slow.
#[derive(Debug)]
struct Slow(Arc<dyn kinfolk::Store>);

#[async_trait::async_trait]
impl kinfolk::Store for Slow {
    async fn read(&self, job: kinfolk::store::ReadJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.0.read(job).await
    }
    async fn write(&self, job: kinfolk::store::WriteJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        self.0.write(job).await
    }
}

/// A store that always fails with engine text that must not reach a client.
#[derive(Debug)]
struct Broken;

#[async_trait::async_trait]
impl kinfolk::Store for Broken {
    async fn read(&self, _job: kinfolk::store::ReadJob) -> kinfolk::Result<kinfolk::store::Boxed> {
        Err(kinfolk::Error::storage(
            "disk I/O error in /var/secret/kinfolk.db",
        ))
    }
    async fn write(
        &self,
        _job: kinfolk::store::WriteJob,
    ) -> kinfolk::Result<kinfolk::store::Boxed> {
        Err(kinfolk::Error::storage(
            "disk I/O error in /var/secret/kinfolk.db",
        ))
    }
}

#[tokio::test]
async fn storage_errors_never_leak_engine_text() {
    let svc = Kinfolk::builder(Arc::new(Broken)).build().await.unwrap();
    let base = serve(svc.clone(), HttpConfig::default()).await;
    let s = Srv {
        base,
        svc,
        http: reqwest::Client::new(),
        admin: UserId::new(),
    };
    let r = s.get("/v1/me", Some(UserId::new())).await;
    let body = r.problem(500, "storage").to_string();
    assert!(!body.contains("secret") && !body.contains("I/O"), "{body}");
    let r = s.get("/readyz", None).await;
    let body = r.problem(503, "not_ready").to_string();
    assert!(!body.contains("secret"), "{body}");
}
