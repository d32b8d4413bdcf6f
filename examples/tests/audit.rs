//! `--log-format json`: one JSON object per line on stderr, read back with
//! `jq`; each layer's decisions on its audit target with structured fields;
//! no token or secret on any line, at any level.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use tower_claude_testkit::{get, send};

mod common;
use common::start_logging;

const TOKEN: &str = "audit-secret-token-1234";
const WRONG: &str = "wrong-token-5678";
const WEBHOOK_SECRET: &str = "audit-webhook-secret-9012";

/// `jq -c FILTER` over `lines`; fails when any line is not JSON (jq exits
/// non-zero on the first that does not parse).
fn jq(filter: &str, lines: &[String]) -> Vec<serde_json::Value> {
    let mut child = Command::new("jq")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("jq is missing ({e}): run `bash scripts/test.sh`, which installs it (or `apt-get install -y jq`)")
        });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(lines.join("\n").as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "jq could not read the log: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn every_decision_is_one_json_line_on_its_audit_target_without_secrets() {
    let server = start_logging(
        env!("CARGO_BIN_EXE_reference-server"),
        &[
            "--bind",
            "127.0.0.1:0",
            "--password",
            TOKEN,
            "--webhook-secret",
            WEBHOOK_SECRET,
            "--rate-limit",
            "6/min",
            "--log-format",
            "json",
        ],
        "trace",
    );
    let bearer = format!("Bearer {TOKEN}");
    let wrong = format!("Bearer {WRONG}");
    type Call<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let requests: [Call<'_>; 5] = [
        ("/health", vec![("x-request-id", "req-health")], 200),
        (
            "/api/whoami",
            vec![("authorization", &bearer), ("x-request-id", "req-1")],
            200,
        ),
        (
            "/api/whoami",
            vec![("authorization", &wrong), ("x-request-id", "req-2")],
            403,
        ),
        ("/api/whoami", vec![("x-request-id", "req-3")], 401),
        // A request id that could forge a field is left out.
        (
            "/api/whoami",
            vec![("authorization", &bearer), ("x-request-id", "a\" \"b")],
            200,
        ),
    ];
    for (path, headers, status) in &requests {
        assert_eq!(
            get(server.addr, path, headers).await.status.as_u16(),
            *status,
            "{path}"
        );
    }
    let unsigned = send(
        server.addr,
        Method::POST,
        "/webhooks/incoming",
        &[("x-request-id", b"req-hook")],
        b"{}",
    )
    .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    // Spend the rest of the quota; the refusal is the last line awaited.
    let mut limited = false;
    for _ in 0..10 {
        let reply = get(
            server.addr,
            "/api/whoami",
            &[("authorization", &bearer), ("x-request-id", "req-last")],
        )
        .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "6/min runs out");

    let stderr = server.stderr.as_ref().unwrap();
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lines
        .iter()
        .any(|l: &String| l.contains("\"limited\"") && l.contains("req-last"))
    {
        assert!(
            Instant::now() < deadline,
            "no rate-limit audit line: {lines:#?}"
        );
        if let Ok(line) = stderr.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    while let Ok(line) = stderr.try_recv() {
        lines.push(line);
    }

    // No secret on any line, at trace level, in any library.
    for line in &lines {
        for secret in [TOKEN, WRONG, WEBHOOK_SECRET] {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
    }
    // Every line is JSON (jq reads them all).
    let audit = jq(r#"select(.target | endswith("::audit"))"#, &lines);
    let find = |target: &str, outcome: &str, request_id: Option<&str>| {
        audit
            .iter()
            .find(|e| {
                e["target"] == target
                    && e["outcome"] == outcome
                    && request_id.is_none_or(|id| e["request_id"] == id)
            })
            .unwrap_or_else(|| panic!("no {outcome} on {target} ({request_id:?}): {audit:#?}"))
    };
    let auth = "tower_claude_auth::audit";
    let allowed = find(auth, "allowed", Some("req-1"));
    assert_eq!(allowed["key"], "default");
    assert_eq!(allowed["client_ip"], "127.0.0.1");
    assert_eq!(allowed["method"], "GET");
    assert_eq!(allowed["route"], "/api/whoami");
    assert_eq!(allowed["level"], "INFO");

    let invalid = find(auth, "refused", Some("req-2"));
    assert_eq!(invalid["reason"], "invalid_token");
    assert_eq!(invalid["client_ip"], "127.0.0.1");
    assert!(invalid.get("key").is_none(), "{invalid}");
    assert_eq!(
        find(auth, "refused", Some("req-3"))["reason"],
        "missing_credentials"
    );
    assert_eq!(find(auth, "public", Some("req-health"))["route"], "/health");

    let forged = audit
        .iter()
        .filter(|e| e["target"] == auth && e["outcome"] == "allowed")
        .find(|e| e["request_id"] != "req-1" && e["request_id"] != "req-last")
        .unwrap_or_else(|| panic!("the second allowed request: {audit:#?}"));
    assert!(forged.get("request_id").is_none(), "{forged}");

    let hook = find("tower_claude_webhook::audit", "refused", Some("req-hook"));
    assert_eq!(hook["reason"], "missing_signature_header");
    assert_eq!(hook["peer"], "127.0.0.1");
    assert_eq!(hook["route"], "/webhooks/incoming");

    let limit = find("tower_claude_ratelimit::audit", "limited", Some("req-last"));
    assert_eq!(limit["policy"], "default");
    assert_eq!(limit["client_ip"], "127.0.0.1");
    assert!(limit["retry_after"].as_u64().unwrap() >= 1, "{limit}");
}
