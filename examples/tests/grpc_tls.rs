//! `grpc-server --tls-cert --tls-key`: gRPC over TLS with the client's address
//! still seen by the layers (tonic's `TlsConnectInfo`), checked with two
//! independent TLS clients: tonic, and Python's grpcio (gRPC's C core). The
//! certificate is made by the test (rcgen); no private key is committed.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower_claude_examples::echo::{EchoClient, SayRequest};
use tower_claude_testkit::tls::{TestCert, channel_tls};

mod common;
use common::{python_with, scrape, start};

/// Runs the Python client; the test fails, naming the fix, without grpcio.
fn python_client(
    addr: std::net::SocketAddr,
    cert_file: &str,
    token: &str,
) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc_tls_client.py");
    if let Some(python) = python_with("grpc") {
        let output = Command::new(python)
            .args([script, &addr.to_string(), cert_file, token])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        assert!(
            output.status.success(),
            "the Python client failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return std::str::from_utf8(&output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    }
    panic!(
        "Python's grpcio is missing: run `bash scripts/test.sh`, which installs it \
         (or `apt-get install -y python3-grpcio`)"
    );
}

#[tokio::test]
async fn grpc_over_tls_keys_each_client_address() {
    let cert = TestCert::new();
    let pems = cert.write();
    let server = start(
        env!("CARGO_BIN_EXE_grpc-server"),
        &[
            "--bind",
            "127.0.0.1:0",
            "--password",
            "tls-token",
            "--rate-limit",
            "2/min",
            "--tls-cert",
            &pems.cert(),
            "--tls-key",
            &pems.key(),
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    );

    // Python from 127.0.0.1: the health check (public, not rate limited),
    // UNAUTHENTICATED without a token, the echo with it, then
    // RESOURCE_EXHAUSTED (two requests was its burst); the health check
    // still answers.
    let calls = python_client(server.addr, &pems.cert(), "tls-token");
    let codes: Vec<&str> = calls.iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        ["OK", "UNAUTHENTICATED", "OK", "RESOURCE_EXHAUSTED", "OK"],
        "{calls:?}"
    );
    assert_eq!(calls[0]["reply"], "0801", "SERVING");
    assert!(
        calls[2]["reply"]
            .as_str()
            .unwrap()
            .starts_with("0a0568656c6c6f"),
        "the echo of \"hello\": {calls:?}"
    );

    // tonic from 127.0.0.2 has a quota of its own; tonic from 127.0.0.1
    // shares the spent one.
    let say = || {
        let mut request = tonic::Request::new(SayRequest {
            message: "hi".into(),
        });
        request
            .metadata_mut()
            .insert("authorization", "Bearer tls-token".parse().unwrap());
        request
    };
    let second = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let mut other = EchoClient::new(channel_tls(server.addr, &cert, second).await);
    assert_eq!(other.say(say()).await.unwrap().into_inner().message, "hi");
    let first = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let channel = channel_tls(server.addr, &cert, first).await;
    let limited = EchoClient::new(channel.clone())
        .say(say())
        .await
        .unwrap_err();
    assert_eq!(
        limited.code(),
        tonic::Code::ResourceExhausted,
        "{limited:?}"
    );
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .unwrap();
    assert_eq!(health.into_inner().status, ServingStatus::Serving as i32);

    // The decisions, counted: health checks are public to auth and exempt
    // from the limit, like the HTTP health routes.
    let metrics = scrape(server.metrics.unwrap());
    let auth = |outcome, reason| {
        metrics.value(
            "tower_claude_auth_requests_total",
            &[("outcome", outcome), ("reason", reason)],
        )
    };
    assert_eq!(auth("public", "none"), 3.0);
    assert_eq!(auth("allowed", "none"), 2.0);
    assert_eq!(auth("refused", "missing_credentials"), 1.0);
    let limit = |outcome| {
        metrics.value(
            "tower_claude_ratelimit_requests_total",
            &[("policy", "default"), ("outcome", outcome)],
        )
    };
    assert_eq!(limit("exempt"), 3.0);
    assert_eq!(limit("admitted"), 3.0);
    assert_eq!(limit("limited"), 2.0);
    assert_eq!(
        metrics.value(
            "tower_claude_ratelimit_tracked_clients",
            &[("policy", "default")]
        ),
        2.0,
        "two client addresses"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_at_start() {
    let cert = TestCert::new().write();
    let other = TestCert::new().write();
    let output = Command::new(env!("CARGO_BIN_EXE_grpc-server"))
        .args(["--bind", "127.0.0.1:0", "--password", "x"])
        .args(["--tls-cert", &cert.cert(), "--tls-key", &other.key()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-cert/--tls-key"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_grpc-server"))
        .args(["--bind", "127.0.0.1:0", "--password", "x"])
        .args(["--tls-cert", &cert.cert()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "--tls-cert needs --tls-key");
}
