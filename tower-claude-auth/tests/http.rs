//! The layer on a real axum server over TCP: every answer, public paths, keys,
//! scopes, revocation, loopback and CORS rules, and `from_env`.

use std::net::SocketAddr;

use axum::routing::{any, get};
use axum::{Extension, Router};
use http::{Method, StatusCode};
use tower_claude_auth::{
    Authenticated, BearerAuthLayer, Credential, DEFAULT_PUBLIC_PATHS, Key, KeyStore,
};
use tower_claude_testkit::{BYPASS_SHAPES, Reply, get as fetch, send, serve_axum};

async fn whoami(Extension(who): Extension<Authenticated>) -> String {
    format!("{} {:?}", who.key, who.scopes)
}

async fn serve(layer: BearerAuthLayer) -> SocketAddr {
    serve_axum(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/docs/{*rest}", get(|| async { "docs" }))
            .route("/api/whoami", get(whoami))
            .route("/api/echo", any(|body: String| async move { body }))
            .layer(layer),
    )
    .await
}

fn plaintext_layer() -> BearerAuthLayer {
    BearerAuthLayer::new(Credential::plaintext("dev-token"))
        .public_paths(DEFAULT_PUBLIC_PATHS)
        .public_prefixes(["/docs"])
}

fn assert_json_error(reply: &Reply, code: &str) {
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(
        reply.body.starts_with(r#"{"error":{"message":"#)
            && reply.body.ends_with(&format!(r#""code":"{code}"}}}}"#)),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn missing_malformed_wrong_and_right() {
    let addr = serve(plaintext_layer()).await;

    let missing = fetch(addr, "/api/whoami", &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers["www-authenticate"], r#"Bearer realm="api""#);
    assert_json_error(&missing, "missing_credentials");

    for bad in [
        &b"Basic ZGV2OnRva2Vu"[..],
        b"Bearer",
        b"Bearer ",
        b"Bearer dev token",
        b"Bearer \xff\xfe\xfd",
        b"Bearerdev-token",
    ] {
        let reply = send(
            addr,
            Method::GET,
            "/api/whoami",
            &[("authorization", bad)],
            b"",
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(
            reply.headers["www-authenticate"],
            r#"Bearer realm="api", error="invalid_request""#
        );
        assert_json_error(&reply, "invalid_request");
    }
    let doubled = send(
        addr,
        Method::GET,
        "/api/whoami",
        &[
            ("authorization", b"Bearer dev-token"),
            ("authorization", b"Bearer dev-token"),
        ],
        b"",
    )
    .await;
    assert_eq!(doubled.status, StatusCode::UNAUTHORIZED);
    assert_json_error(&doubled, "invalid_request");

    for wrong in [
        "Bearer dev-tokem",
        "Bearer dev-token2",
        "Bearer d",
        "bearer DEV-TOKEN",
    ] {
        let reply = fetch(addr, "/api/whoami", &[("authorization", wrong)]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{wrong}");
        assert_eq!(
            reply.headers["www-authenticate"],
            r#"Bearer realm="api", error="invalid_token""#
        );
        assert_json_error(&reply, "invalid_token");
    }

    for right in [
        "Bearer dev-token",
        "bearer dev-token",
        "BEARER    dev-token",
    ] {
        let reply = fetch(addr, "/api/whoami", &[("authorization", right)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{right}");
        assert_eq!(reply.body, "default []");
    }

    let echo = send(
        addr,
        Method::POST,
        "/api/echo",
        &[("authorization", b"Bearer dev-token")],
        b"the body passes untouched",
    )
    .await;
    assert_eq!(echo.body, "the body passes untouched");
}

#[tokio::test]
async fn strict_rfc6750_answers_a_wrong_token_with_401() {
    let addr = serve(plaintext_layer().strict_rfc6750(true).realm("my app")).await;
    let reply = fetch(addr, "/api/whoami", &[("authorization", "Bearer nope")]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers["www-authenticate"],
        r#"Bearer realm="my app", error="invalid_token""#
    );
}

#[tokio::test]
async fn public_paths_and_the_bypass_table() {
    let addr = serve(plaintext_layer()).await;
    assert_eq!(fetch(addr, "/health", &[]).await.status, StatusCode::OK);
    assert_eq!(fetch(addr, "/docs/intro", &[]).await.status, StatusCode::OK);
    for shape in BYPASS_SHAPES {
        let reply = fetch(addr, shape, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{shape} must need a token"
        );
    }
}

#[tokio::test]
async fn named_keys_scopes_and_revocation_at_run_time() {
    let store = KeyStore::new()
        .with(
            "ci-bot",
            Key::new(Credential::plaintext("s3cret")).scopes(["deploy", "read"]),
        )
        .with(
            "dashboard",
            Key::new(Credential::plaintext("view")).scopes(["read"]),
        );
    let open = serve(BearerAuthLayer::with_store(store.clone())).await;
    let deploy = serve(BearerAuthLayer::with_store(store.clone()).require_scopes(["deploy"])).await;

    let who = fetch(
        open,
        "/api/whoami",
        &[("authorization", "Bearer ci-bot.s3cret")],
    )
    .await;
    assert_eq!(who.status, StatusCode::OK);
    assert_eq!(who.body, r#"ci-bot ["deploy", "read"]"#);
    // A secret is only valid under its own key's name, and bare tokens need a default key.
    for wrong in [
        "Bearer dashboard.s3cret",
        "Bearer s3cret",
        "Bearer nobody.s3cret",
    ] {
        assert_eq!(
            fetch(open, "/api/whoami", &[("authorization", wrong)])
                .await
                .status,
            StatusCode::FORBIDDEN,
            "{wrong}"
        );
    }

    let scoped = fetch(
        deploy,
        "/api/whoami",
        &[("authorization", "Bearer ci-bot.s3cret")],
    )
    .await;
    assert_eq!(scoped.status, StatusCode::OK);
    let unscoped = fetch(
        deploy,
        "/api/whoami",
        &[("authorization", "Bearer dashboard.view")],
    )
    .await;
    assert_eq!(unscoped.status, StatusCode::FORBIDDEN);
    assert_eq!(
        unscoped.headers["www-authenticate"],
        r#"Bearer realm="api", error="insufficient_scope", scope="deploy""#
    );
    assert_json_error(&unscoped, "insufficient_scope");

    assert!(store.revoke("ci-bot"));
    let revoked = fetch(
        open,
        "/api/whoami",
        &[("authorization", "Bearer ci-bot.s3cret")],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::FORBIDDEN);

    store
        .insert(
            "ci-bot",
            Key::new(Credential::plaintext("rotated")).scopes(["deploy"]),
        )
        .unwrap();
    let rotated = fetch(
        deploy,
        "/api/whoami",
        &[("authorization", "Bearer ci-bot.rotated")],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert!(
        store
            .insert("bad.name", Credential::plaintext("x"))
            .is_err()
    );
}

#[tokio::test]
async fn loopback_bypass_only_without_forwarding_headers() {
    let addr = serve(plaintext_layer().allow_loopback(true)).await;
    assert_eq!(fetch(addr, "/api/echo", &[]).await.status, StatusCode::OK);
    for header in [
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "via",
        "x-forwarded-proto",
        "x-forwarded-host",
        "true-client-ip",
        "cf-connecting-ip",
        "x-client-ip",
    ] {
        let reply = fetch(addr, "/api/echo", &[(header, "for=203.0.113.9")]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header}");
    }
    // Off by default.
    let strict = serve(plaintext_layer()).await;
    assert_eq!(
        fetch(strict, "/api/echo", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Issue 13, item 14: a CORS preflight never runs a handler without a token.
/// A CORS layer outside auth answers it itself; without one, it is a tokenless
/// request like any other (401). The handler counts its calls.
#[tokio::test]
async fn cors_preflights_never_reach_a_handler_unauthenticated() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower_http::cors::{AllowOrigin, CorsLayer};

    let preflight: &[(&str, &[u8])] = &[
        ("origin", b"https://app.example"),
        ("access-control-request-method", b"POST"),
    ];
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = {
        let calls = Arc::clone(&calls);
        any(move |body: String| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { body }
        })
    };
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::exact("https://app.example".parse().unwrap()))
        .allow_methods([Method::POST])
        .allow_headers([http::header::AUTHORIZATION]);
    let with_cors = serve_axum(
        Router::new()
            .route("/api/echo", handler.clone())
            .layer(plaintext_layer())
            .layer(cors),
    )
    .await;
    let reply = send(with_cors, Method::OPTIONS, "/api/echo", preflight, b"").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example"
    );
    // A preflight with a body, or an OPTIONS without the preflight headers:
    // tower-http answers every OPTIONS itself; no handler runs either way.
    let reply = send(with_cors, Method::OPTIONS, "/api/echo", preflight, b"pwned").await;
    assert!(!reply.body.contains("pwned"));
    let reply = send(
        with_cors,
        Method::OPTIONS,
        "/api/echo",
        &[("origin", b"https://app.example")],
        b"pwned",
    )
    .await;
    assert!(!reply.body.contains("pwned"));
    // Any other method still needs a token behind the CORS layer.
    let reply = send(with_cors, Method::POST, "/api/echo", preflight, b"pwned").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let without_cors = serve_axum(
        Router::new()
            .route("/api/echo", handler)
            .layer(plaintext_layer()),
    )
    .await;
    let reply = send(
        without_cors,
        Method::OPTIONS,
        "/api/echo",
        preflight,
        b"pwned",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!reply.body.contains("pwned"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a handler ran without a token"
    );

    // With a token the same handler runs.
    let reply = send(
        without_cors,
        Method::OPTIONS,
        "/api/echo",
        &[("authorization", b"Bearer dev-token")],
        b"hi",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn sha256_credential() {
    // SHA-256 of "test".
    let layer = BearerAuthLayer::new(
        Credential::sha256_hex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            .unwrap(),
    );
    let addr = serve(layer).await;
    assert_eq!(
        fetch(addr, "/api/whoami", &[("authorization", "Bearer test")])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        fetch(addr, "/api/whoami", &[("authorization", "Bearer tesT")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// `from_env` reads the real process environment, which a test may not change
/// (it is shared by every thread, and `set_var` is unsafe). So the test runs
/// itself again as a child process with the variables set, and the child serves
/// a real axum server with the credential it read.
#[tokio::test]
async fn from_env_on_a_real_server() {
    const CHILD: &str = "TOWER_CLAUDE_AUTH_FROM_ENV_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let exe = std::env::current_exe().unwrap();
        let run = |vars: &[(&str, &str)]| {
            let mut command = std::process::Command::new(&exe);
            command
                .args(["--exact", "from_env_on_a_real_server", "--nocapture"])
                .env(CHILD, "1")
                .env_remove("FROMENV_PASSWORD_HASH")
                .env_remove("FROMENV_PASSWORD");
            for (k, v) in vars {
                command.env(k, v);
            }
            command.output().unwrap()
        };
        let hashed = run(&[
            (
                "FROMENV_PASSWORD_HASH",
                "$2b$04$cDS1BLNjZeug.2W0UdtQAOb.DkeJ/Dfpzk2ny/5YegIwrk2E6BUji",
            ),
            ("FROMENV_PASSWORD", "ignored-when-a-hash-is-set"),
            ("EXPECT_TOKEN", "hunter2"),
            ("EXPECT_REFUSED", "ignored-when-a-hash-is-set"),
        ]);
        assert!(
            hashed.status.success(),
            "{}",
            String::from_utf8_lossy(&hashed.stdout)
        );
        let plain = run(&[
            ("FROMENV_PASSWORD", "plain-dev"),
            ("EXPECT_TOKEN", "plain-dev"),
            ("EXPECT_REFUSED", "hunter2"),
        ]);
        assert!(
            plain.status.success(),
            "{}",
            String::from_utf8_lossy(&plain.stdout)
        );
        let neither = run(&[("EXPECT_ERROR", "1")]);
        assert!(
            neither.status.success(),
            "{}",
            String::from_utf8_lossy(&neither.stdout)
        );
        return;
    }
    match Credential::from_env("FROMENV") {
        Err(error) => {
            assert!(std::env::var_os("EXPECT_ERROR").is_some(), "{error}");
            let text = error.to_string();
            assert!(text.contains("FROMENV_PASSWORD_HASH") && text.contains("FROMENV_PASSWORD "));
        }
        Ok(credential) => {
            let addr = serve(BearerAuthLayer::new(credential)).await;
            let token = std::env::var("EXPECT_TOKEN").unwrap();
            let refused = std::env::var("EXPECT_REFUSED").unwrap();
            let ok = fetch(
                addr,
                "/api/whoami",
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
            assert_eq!(ok.status, StatusCode::OK);
            let no = fetch(
                addr,
                "/api/whoami",
                &[("authorization", &format!("Bearer {refused}"))],
            )
            .await;
            assert_eq!(no.status, StatusCode::FORBIDDEN);
        }
    }
}

/// A backend that is down answers 503 with `Retry-After`, rounded up.
#[tokio::test]
async fn an_unavailable_backend_is_a_503() {
    struct Down;
    impl tower_claude_auth::TokenVerifier for Down {
        fn verify<'a>(&'a self, _token: &'a str) -> tower_claude_auth::VerifyFuture<'a> {
            Box::pin(async {
                tower_claude_auth::Verification::Unavailable {
                    retry_after: std::time::Duration::from_millis(2500),
                }
            })
        }
    }
    let addr = serve(BearerAuthLayer::with_verifier(Down)).await;
    let reply = fetch(addr, "/api/whoami", &[("authorization", "Bearer x")]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers["retry-after"], "3");
    assert_json_error(&reply, "verifier_unavailable");
}

/// Issue 13, item 15: an authenticated answer is marked `no-store, max-age=0`
/// unless its handler chose a `Cache-Control` of its own; public routes are
/// left alone.
#[tokio::test]
async fn authenticated_answers_are_not_cacheable_unless_the_handler_says_so() {
    let app = Router::new()
        .route("/api/plain", get(|| async { "x" }))
        .route(
            "/api/cached",
            get(|| async { ([("cache-control", "private, max-age=60")], "x") }),
        )
        .route("/health", get(|| async { "ok" }))
        .layer(plaintext_layer());
    let addr = serve_axum(app).await;
    let token = [("authorization", "Bearer dev-token")];
    let plain = fetch(addr, "/api/plain", &token).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.headers["cache-control"], "no-store, max-age=0");
    let cached = fetch(addr, "/api/cached", &token).await;
    assert_eq!(cached.headers["cache-control"], "private, max-age=60");
    let public = fetch(addr, "/health", &[]).await;
    assert!(!public.headers.contains_key("cache-control"));
    let refused = fetch(addr, "/api/plain", &[]).await;
    assert_eq!(refused.headers["cache-control"], "no-store, max-age=0");
}
