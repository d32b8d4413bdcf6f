//! `reference-server --oauth-*` against a real authorization server
//! (oauth2-mock-server from the npm registry): JWT access tokens with their
//! scopes, every way a token must be refused, key rotation, introspection
//! with its cache and single flight, and an outage.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use tower_claude_testkit::{Reply, get};

mod common;
use common::oauth_server::{AUDIENCE, AuthServer, CLIENT_ID, CLIENT_SECRET, METADATA_URL};
use common::{Running, reference_server};

fn jwt_server(auth: &AuthServer, extra: &[&str]) -> Running {
    let mut args = vec![
        "--oauth-issuer",
        &auth.issuer,
        "--oauth-audience",
        AUDIENCE,
        "--rate-limit",
        "1000/min",
    ];
    args.extend_from_slice(extra);
    reference_server(&args)
}

async fn call(server: &Running, path: &str, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    get(server.addr, path, &[("authorization", &bearer)]).await
}

fn challenge(reply: &Reply) -> String {
    reply
        .headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A 401 that says the token was refused and where the metadata is.
fn assert_invalid_token(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {}",
        reply.body
    );
    let challenge = challenge(reply);
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains(&format!("resource_metadata=\"{METADATA_URL}\"")),
        "{what}: {challenge}"
    );
}

fn header_of(token: &str) -> serde_json::Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn with_header(token: &str, header: &serde_json::Value, signature: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    format!("{header}.{payload}.{signature}")
}

#[tokio::test]
async fn jwt_access_tokens_are_accepted_with_their_scopes() {
    let auth = AuthServer::start();
    let server = jwt_server(&auth, &["--password", "api-password"]);

    // The server signs in turn with an RS256, an ES256 and an EdDSA key.
    let mut algorithms = Vec::new();
    for _ in 0..3 {
        let token = auth
            .token(&[("scope", "admin read"), ("sub", "alice")])
            .await;
        algorithms.push(header_of(&token)["alg"].as_str().unwrap().to_owned());
        let whoami = call(&server, "/api/whoami", &token).await;
        assert_eq!(whoami.status, StatusCode::OK, "{}", whoami.body);
        let who: serde_json::Value = serde_json::from_str(&whoami.body).unwrap();
        assert_eq!(who["key"], "alice");
        assert_eq!(who["scopes"], serde_json::json!(["admin", "read"]));
        assert_eq!(
            call(&server, "/api/admin", &token).await.status,
            StatusCode::OK
        );
    }
    algorithms.sort();
    assert_eq!(algorithms, ["ES256", "EdDSA", "RS256"]);

    // A valid token without the route's scope.
    let reader = auth.token(&[("scope", "read"), ("sub", "bob")]).await;
    assert_eq!(
        call(&server, "/api/whoami", &reader).await.status,
        StatusCode::OK
    );
    let admin = call(&server, "/api/admin", &reader).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);
    let insufficient = challenge(&admin);
    assert!(
        insufficient.contains("error=\"insufficient_scope\"")
            && insufficient.contains("scope=\"admin\""),
        "{insufficient}"
    );

    // No sub: the key name is client_id. `aud` may be an array; `typ` at+jwt.
    let machine = auth
        .token(&[
            (
                "aud",
                &format!("[\"https://other.example\",\"{AUDIENCE}\"]"),
            ),
            ("typ", "at+jwt"),
        ])
        .await;
    let whoami = call(&server, "/api/whoami", &machine).await;
    assert_eq!(whoami.status, StatusCode::OK, "{}", whoami.body);
    let who: serde_json::Value = serde_json::from_str(&whoami.body).unwrap();
    assert_eq!(who["key"], CLIENT_ID);

    // The password credential still works, and has no `admin` scope.
    assert_eq!(
        call(&server, "/api/whoami", "api-password").await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "/api/admin", "api-password").await.status,
        StatusCode::FORBIDDEN
    );
    // A wrong token that is not JWT-shaped, without introspection: today's 403.
    assert_eq!(
        call(&server, "/api/whoami", "not-the-password")
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // No token: 401 naming the metadata, no error code.
    let missing = get(server.addr, "/api/whoami", &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let missing = challenge(&missing);
    assert!(
        missing.contains(&format!("resource_metadata=\"{METADATA_URL}\"")),
        "{missing}"
    );
    assert!(!missing.contains("error="), "{missing}");

    // The metadata itself, public.
    let metadata = get(
        server.addr,
        "/.well-known/oauth-protected-resource/mcp",
        &[],
    )
    .await;
    assert_eq!(metadata.status, StatusCode::OK);
    let metadata: serde_json::Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(metadata["resource"], AUDIENCE);
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([auth.issuer])
    );
    assert_eq!(
        metadata["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(metadata["scopes_supported"], serde_json::json!(["admin"]));
}

#[tokio::test]
async fn refused_tokens_get_401_invalid_token() {
    let auth = AuthServer::start();
    let server = jwt_server(&auth, &[]);
    let good = auth.token(&[("scope", "admin"), ("sub", "alice")]).await;
    assert_eq!(
        call(&server, "/api/whoami", &good).await.status,
        StatusCode::OK
    );

    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        // Past the 30 s leeway.
        ("expired", vec![("exp_in", "-120".into())]),
        ("not yet valid", vec![("nbf_in", "600".into())]),
        (
            "another audience",
            vec![("aud", "https://other.example".into())],
        ),
        ("no audience", vec![("aud", "-".into())]),
        ("another issuer", vec![("iss", "http://127.0.0.1:1".into())]),
        (
            "a typ that is no access token",
            vec![("typ", "secevent+jwt".into())],
        ),
        ("aud as a number", vec![("claims", r#"{"aud": 5}"#.into())]),
        (
            "exp as a string",
            vec![("claims", r#"{"exp": "tomorrow"}"#.into())],
        ),
        ("no exp", vec![("claims", r#"{"exp": null}"#.into())]),
        ("no iss", vec![("claims", r#"{"iss": null}"#.into())]),
        (
            "neither sub nor client_id",
            vec![("claims", r#"{"client_id": null}"#.into())],
        ),
    ];
    for (what, fields) in &cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let token = auth.token(&fields).await;
        assert_invalid_token(&call(&server, "/api/whoami", &token).await, what);
    }

    // Tampered: the payload changed after signing.
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["scope"] = "admin everything".into();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    assert_invalid_token(&call(&server, "/api/admin", &tampered).await, "tampered");

    // Unsigned.
    let none = with_header(&good, &serde_json::json!({"alg": "none", "typ": "JWT"}), "");
    assert_invalid_token(&call(&server, "/api/whoami", &none).await, "alg none");

    // HS256 keyed with the issuer's public RSA key, the classic confusion.
    let jwks = get(auth.addr, "/jwks", &[]).await;
    let jwks: serde_json::Value = serde_json::from_str(&jwks.body).unwrap();
    let rsa = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "RSA")
        .unwrap();
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": rsa["kid"]});
    let unsigned = with_header(&good, &header, "");
    let signing_input = unsigned.trim_end_matches('.');
    let signature = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(rsa.to_string().as_bytes()).unwrap();
        mac.update(signing_input.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    };
    let confused = format!("{signing_input}.{signature}");
    assert_invalid_token(
        &call(&server, "/api/whoami", &confused).await,
        "HS256 with the public key",
    );

    // A key's algorithm is the key's: an RS256 key named by an ES256 token.
    let mismatched = with_header(
        &good,
        &serde_json::json!({"alg": "ES256", "kid": rsa["kid"]}),
        good.split('.').nth(2).unwrap(),
    );
    assert_invalid_token(
        &call(&server, "/api/whoami", &mismatched).await,
        "another key's algorithm",
    );

    // The good token still is.
    assert_eq!(
        call(&server, "/api/admin", &good).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_made_up_key_ids_cost_the_issuer_little() {
    let auth = AuthServer::start();
    let server = jwt_server(&auth, &[]);
    let good = auth.token(&[("sub", "alice")]).await;
    assert_eq!(
        call(&server, "/api/whoami", &good).await.status,
        StatusCode::OK
    );
    let (_, fetched) = auth.counts().await;
    assert_eq!(fetched, 1, "the keys are fetched once, then cached");

    // A flood of made-up key ids: refused, and at most one more fetch.
    let mut header = header_of(&good);
    for i in 0..50 {
        header["kid"] = format!("made-up-{i}").into();
        let forged = with_header(&good, &header, good.split('.').nth(2).unwrap());
        assert_invalid_token(&call(&server, "/api/whoami", &forged).await, "made-up kid");
    }
    let (_, fetched) = auth.counts().await;
    assert!(fetched <= 2, "{fetched} key fetches for 50 made-up key ids");

    // The issuer rotates; its new tokens are accepted within the refresh
    // interval (5 s), without a restart.
    let kid = auth.rotate().await;
    let rotated = auth.token(&[("sub", "carol")]).await;
    assert_eq!(header_of(&rotated)["kid"], kid);
    let started = Instant::now();
    loop {
        let reply = call(&server, "/api/whoami", &rotated).await;
        if reply.status == StatusCode::OK {
            break;
        }
        assert_invalid_token(&reply, "a key not fetched yet");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the rotated key was never fetched"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, fetched) = auth.counts().await;
    assert!(fetched <= 3, "{fetched} key fetches");
    assert_eq!(
        call(&server, "/api/whoami", &good).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn opaque_tokens_through_introspection_cached_shared_and_through_an_outage() {
    let mut auth = AuthServer::start();
    let introspection = format!("{}/introspect", auth.issuer);
    let server = jwt_server(
        &auth,
        &[
            "--password",
            "api-password",
            "--oauth-introspection-url",
            &introspection,
            "--oauth-client-id",
            CLIENT_ID,
            "--oauth-client-secret",
            CLIENT_SECRET,
        ],
    );
    let admin = "on~bob~admin+read~3600";
    let reply = call(&server, "/api/admin", admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let whoami = call(&server, "/api/whoami", admin).await;
    let who: serde_json::Value = serde_json::from_str(&whoami.body).unwrap();
    assert_eq!(who["key"], "bob");
    assert_eq!(who["scopes"], serde_json::json!(["admin", "read"]));
    assert_eq!(
        auth.counts().await.0,
        1,
        "the second request was answered from the cache"
    );

    assert_invalid_token(&call(&server, "/api/whoami", "off~x~~0").await, "inactive");
    assert_invalid_token(
        &call(&server, "/api/whoami", "elsewhere~x~admin~3600").await,
        "another audience",
    );
    // A wrong password goes to introspection too, and is refused as a token.
    assert_invalid_token(
        &call(&server, "/api/whoami", "not-the-password").await,
        "wrong password",
    );
    assert_eq!(
        call(&server, "/api/whoami", "api-password").await.status,
        StatusCode::OK
    );
    let before = auth.counts().await.0;
    assert_eq!(
        call(&server, "/api/whoami", "api-password").await.status,
        StatusCode::OK
    );
    assert_eq!(
        auth.counts().await.0,
        before,
        "the password is never introspected"
    );

    // Twenty requests at once with one new token, while the endpoint takes
    // a second to answer (so they surely overlap): one call.
    auth.slow(1).await;
    let before = auth.counts().await.0;
    let shared = "on~carol~read~3600";
    let replies = futures_join(20, || call(&server, "/api/whoami", shared)).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(
        auth.counts().await.0,
        before + 1,
        "one introspection for twenty requests"
    );
    auth.slow(0).await;

    // Slow: 503 with Retry-After after the timeout, never 401.
    auth.slow(30).await;
    let slow = call(&server, "/api/whoami", "on~dave~read~3600").await;
    assert_eq!(
        slow.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        slow.body
    );
    assert!(slow.headers.contains_key("retry-after"));
    auth.slow(0).await;

    // Down: cached tokens (opaque, and JWTs under cached keys) keep working;
    // an uncached opaque token gets 503.
    let jwt = auth.token(&[("sub", "erin"), ("scope", "admin")]).await;
    assert_eq!(
        call(&server, "/api/admin", &jwt).await.status,
        StatusCode::OK
    );
    let unseen_jwt = auth.token(&[("sub", "frank")]).await;
    auth.stop();
    assert_eq!(
        call(&server, "/api/admin", admin).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "/api/whoami", shared).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&server, "/api/whoami", &unseen_jwt).await.status,
        StatusCode::OK
    );
    let down = call(&server, "/api/whoami", "on~gina~read~3600").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.body
    );
    assert!(down.headers.contains_key("retry-after"));
}

/// `n` requests at once.
async fn futures_join<F, Fut>(n: usize, make: F) -> Vec<Reply>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Reply>,
{
    let mut set = Vec::with_capacity(n);
    for _ in 0..n {
        set.push(make());
    }
    let mut replies = Vec::with_capacity(n);
    // Polled together on this task: every request is in flight at once.
    let mut pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<Reply>> = (0..n).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, fut) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(reply) => done[i] = Some(reply),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    replies.extend(done.into_iter().flatten());
    replies
}
