//! The programs themselves, started as processes on free ports: what a new user
//! runs first.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use http::{Method, StatusCode};
use tower_claude_testkit::{get, send};

mod common;
use common::{reference_server, start};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn reference_server_routes_and_statuses() {
    let server = reference_server(&["--rate-limit", "20/min"]);
    let addr = server.addr;
    let token = server
        .token
        .clone()
        .expect("a development token printed once");
    assert_eq!(token.len(), 64);

    for path in ["/health", "/healthz", "/ready", "/livez"] {
        let reply = get(addr, path, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.body, r#"{"status":"ok"}"#);
    }
    let docs = get(addr, "/docs", &[]).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.body.contains("/api/whoami"));
    let openapi = get(addr, "/openapi.json", &[]).await;
    let document: serde_json::Value = serde_json::from_str(&openapi.body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/notify"]["post"].is_object());

    // The page's inline script carries the nonce of this response's CSP.
    let page = get(addr, "/", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        page.body.contains(&format!("<script nonce=\"{nonce}\">")),
        "{}",
        page.body
    );
    let again = get(addr, "/", &[]).await;
    assert!(!again.body.contains(nonce), "a fresh nonce per request");

    let missing = get(addr, "/api/whoami", &[]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers.contains_key("x-frame-options"),
        "refusals carry the security headers"
    );
    let wrong = get(addr, "/api/whoami", &[("authorization", "Bearer nope")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let whoami = get(addr, "/api/whoami", &[("authorization", &bearer(&token))]).await;
    assert_eq!(whoami.status, StatusCode::OK);
    assert_eq!(whoami.body, r#"{"key":"default","scopes":[]}"#);
    let auth = bearer(&token);
    let echo = send(
        addr,
        Method::POST,
        "/api/echo",
        &[("authorization", auth.as_bytes())],
        b"hello",
    )
    .await;
    assert_eq!((echo.status, echo.body.as_str()), (StatusCode::OK, "hello"));
    let notify = send(
        addr,
        Method::POST,
        "/api/notify",
        &[("authorization", auth.as_bytes())],
        b"{}",
    )
    .await;
    assert_eq!(
        notify.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no --webhook-url"
    );
    let incoming = send(addr, Method::POST, "/webhooks/incoming", &[], b"{}").await;
    assert_eq!(
        incoming.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no --webhook-secret"
    );

    // 20 per minute: the health routes are exempt, the rest runs out.
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(get(addr, "/docs", &[]).await.status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(get(addr, "/health", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_signed_webhook_round_trip_between_two_instances() {
    let secret = "round-trip secret";
    let receiver = reference_server(&["--webhook-secret", secret, "--password", "receiver-token"]);
    let url = format!("http://{}/webhooks/incoming", receiver.addr);
    let sender = reference_server(&[
        "--webhook-secret",
        secret,
        "--webhook-url",
        &url,
        "--allow-insecure-webhooks",
        "--password",
        "sender-token",
    ]);
    assert!(
        sender.token.is_none(),
        "a configured credential prints no token"
    );
    let reply = send(
        sender.addr,
        Method::POST,
        "/api/notify",
        &[
            ("authorization", b"Bearer sender-token"),
            ("x-webhook-event", b"build.finished"),
            ("content-type", b"application/json"),
        ],
        br#"{"build": 42}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let outcome: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(outcome["attempts"], 1);
    assert_eq!(outcome["status"], 200);
    assert!(outcome["delivery_id"].as_str().unwrap().starts_with("msg_"));

    // A webhook signed with another secret is refused by the receiver.
    let forger = reference_server(&[
        "--webhook-secret",
        "not the secret",
        "--webhook-url",
        &url,
        "--allow-insecure-webhooks",
        "--password",
        "forger-token",
    ]);
    let reply = send(
        forger.addr,
        Method::POST,
        "/api/notify",
        &[("authorization", b"Bearer forger-token")],
        b"{}",
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    let outcome: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(outcome["status"], 401, "a 401 is not retried");
    assert_eq!(outcome["attempts"], 1);
}

#[test]
fn insecure_webhook_targets_need_the_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--webhook-secret",
            "s",
            "--webhook-url",
            "http://example.com/hook",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-insecure-webhooks"), "{stderr}");
}

#[test]
fn hash_password_hashes_and_refuses_72_bytes() {
    let run = |input: &str, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hash-password"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A program that refuses its arguments exits before reading: a broken
        // pipe here is its answer, read below.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    };
    let output = run("correct horse\n", &["--cost", "4"]);
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    assert!(bcrypt::verify("correct horse", hash.trim()).unwrap());

    let output = run(&format!("{}\n", "a".repeat(72)), &["--cost", "4"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("72"));
    let output = run("x\n", &["--cost", "3"]);
    assert!(!output.status.success(), "cost below 4");
}

#[tokio::test]
async fn webhook_sender_to_webhook_receiver() {
    let receiver = start(
        env!("CARGO_BIN_EXE_webhook-receiver"),
        &["--bind", "127.0.0.1:0", "--secret", "cli secret"],
    );
    let url = format!("http://{}/", receiver.addr);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-sender"))
        .args([
            "--url",
            &url,
            "--secret",
            "cli secret",
            "--event",
            "cli.test",
            "--data",
            r#"{"hello":"world"}"#,
            "--allow-insecure",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], 200);
    let printed = receiver
        .stdout
        .as_ref()
        .unwrap()
        .recv_timeout(Duration::from_secs(10))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(event["event"], "cli.test");
    assert_eq!(event["body"], r#"{"hello":"world"}"#);
    assert_eq!(event["delivery_id"], report["delivery_id"]);

    // A wrong secret: refused, and the sender says so.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-sender"))
        .args([
            "--url",
            &url,
            "--secret",
            "wrong",
            "--data",
            "{}",
            "--allow-insecure",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], 401);
}

#[tokio::test]
async fn two_reference_servers_share_one_limit_through_redis() {
    let redis = tower_claude_testkit::redis::RedisServer::start();
    let url = redis.url();
    let args = [
        "--redis-url",
        url.as_str(),
        "--rate-limit",
        "4/hour",
        "--password",
        "t",
    ];
    let (a, b) = (reference_server(&args), reference_server(&args));
    let mut admitted = 0;
    for n in 0..8 {
        let server = if n % 2 == 0 { &a } else { &b };
        if get(server.addr, "/docs", &[]).await.status == StatusCode::OK {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 4, "one quota for both instances");
    assert!(redis.cli_text(&["DBSIZE"]).parse::<u64>().unwrap() >= 1);
}
