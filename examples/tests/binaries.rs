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

/// Of eight `GET /docs`, alternating between two servers, how many were
/// admitted.
async fn admitted_by_both(a: &common::Running, b: &common::Running) -> usize {
    let mut admitted = 0;
    for n in 0..8 {
        let server = if n % 2 == 0 { a } else { b };
        if get(server.addr, "/docs", &[]).await.status == StatusCode::OK {
            admitted += 1;
        }
    }
    admitted
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
    assert_eq!(
        admitted_by_both(&a, &b).await,
        4,
        "one quota for both instances"
    );
    assert!(redis.cli_text(&["DBSIZE"]).parse::<u64>().unwrap() >= 1);
}

/// Runs reference-server with `args` until it exits (at most 20 s): its exit
/// code and stderr.
fn exit_of_reference_server(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--bind", "127.0.0.1:0", "--password", "t"])
        .args(args)
        .env_remove("TOWER_CLAUDE_REDIS_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (code, stderr)
}

/// One `--redis-url` of a cluster node, or several of single Redis servers,
/// is a start-up error naming the fix, not a server that quietly talks to one
/// node's slots or fails every call.
#[test]
fn a_redis_url_count_that_does_not_match_the_servers_is_refused() {
    let cluster = tower_claude_testkit::redis::RedisCluster::start();
    let node = cluster.urls()[0].clone();
    let (code, stderr) = exit_of_reference_server(&["--redis-url", &node]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a Redis Cluster node"), "{stderr}");
    assert!(stderr.contains("once per seed node"), "{stderr}");

    let (one, two) = (
        tower_claude_testkit::redis::RedisServer::start(),
        tower_claude_testkit::redis::RedisServer::start(),
    );
    let (code, stderr) =
        exit_of_reference_server(&["--redis-url", &one.url(), "--redis-url", &two.url()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a single Redis"), "{stderr}");
    assert!(stderr.contains("give one --redis-url"), "{stderr}");
}

/// Two reference servers on a Redis Cluster, given its nodes through the
/// environment (comma-separated): one quota for both.
#[tokio::test]
async fn two_reference_servers_share_one_limit_through_a_cluster() {
    let cluster = tower_claude_testkit::redis::RedisCluster::start();
    let urls = cluster.urls().join(",");
    let start = || {
        let mut all = vec!["--bind", "127.0.0.1:0"];
        all.extend_from_slice(&["--rate-limit", "4/hour", "--password", "t"]);
        common::start_with_env(
            env!("CARGO_BIN_EXE_reference-server"),
            &all,
            &[("TOWER_CLAUDE_REDIS_URL", urls.as_str())],
        )
    };
    let (a, b) = (start(), start());
    assert_eq!(
        admitted_by_both(&a, &b).await,
        4,
        "one quota for both instances"
    );
    let keys: u64 = cluster
        .nodes()
        .iter()
        .map(|node| node.cli_text(&["DBSIZE"]).parse::<u64>().unwrap())
        .sum();
    assert!(keys >= 1);
}

/// Standard Webhooks `v1a` between the programs: the sender makes a key
/// pair, the receiver holds only the public key, a delivery signed with the
/// pair's signing key is accepted on `/standard`, one signed with another is
/// refused, and `v1` beside `v1a` is accepted by a receiver of either.
#[tokio::test]
async fn v1a_between_the_programs() {
    let pair = std::process::Command::new(env!("CARGO_BIN_EXE_webhook-sender"))
        .arg("--generate-keypair")
        .output()
        .unwrap();
    assert!(pair.status.success());
    let pair = String::from_utf8(pair.stdout).unwrap();
    let mut lines = pair.lines();
    let (whsk, whpk) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(
        whsk.starts_with("whsk_") && whpk.starts_with("whpk_"),
        "{pair}"
    );
    let receiver = start(
        env!("CARGO_BIN_EXE_webhook-receiver"),
        &[
            "--bind",
            "127.0.0.1:0",
            "--secret",
            "unused",
            "--standard-public-key",
            whpk,
        ],
    );
    let url = format!("http://{}/standard", receiver.addr);
    let send = |signing: Vec<String>| {
        let url = url.clone();
        async move {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-sender"));
            command
                .args(["--url", &url, "--data", "{}", "--allow-insecure"])
                .args(signing)
                .env_remove("TOWER_CLAUDE_WEBHOOK_SECRET");
            let output = command.output().await.unwrap();
            let report: serde_json::Value =
                serde_json::from_slice(&output.stdout).unwrap_or_default();
            (output.status.code(), report)
        }
    };
    let (code, report) = send(vec!["--standard-signing-key".into(), whsk.into()]).await;
    assert_eq!(
        (code, report["status"].clone()),
        (Some(0), 200.into()),
        "{report}"
    );
    let other = tower_claude_webhook::StandardSigningKey::generate()
        .unwrap()
        .to_whsk();
    let (code, report) = send(vec!["--standard-signing-key".into(), other]).await;
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["status"], 401, "{report}");
    let (code, report) = send(vec![
        "--standard-secret".into(),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        "--standard-signing-key".into(),
        whsk.into(),
    ])
    .await;
    assert_eq!(
        (code, report["status"].clone()),
        (Some(0), 200.into()),
        "{report}"
    );
}
