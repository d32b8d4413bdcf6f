//! What an outside attacker tried against the programs (issue 13), as process
//! tests on real sockets.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_claude_testkit::get;

mod common;
use common::{Running, reference_server, start, start_logging};

/// Opens a connection that sends `opening`, then (HTTP/1) one more header
/// byte every 200 ms, and never ends its head; an HTTP/2 opening (the preface)
/// is followed by silence, since any other byte would be a protocol error.
/// Returns how long the server kept it open.
async fn slow_head(addr: SocketAddr, opening: &'static [u8]) -> Duration {
    let trickle_bytes = opening != HTTP2_PREFACE;
    let started = Instant::now();
    let Ok(stream) = TcpStream::connect(addr).await else {
        return Duration::ZERO;
    };
    let (mut read, mut write) = stream.into_split();
    let trickle = tokio::spawn(async move {
        if write.write_all(opening).await.is_err() {
            return;
        }
        loop {
            if !trickle_bytes {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b"x").await.is_err() {
                return;
            }
        }
    });
    let mut sink = [0u8; 4096];
    // The server may send a 408 or its own HTTP/2 settings first; the
    // connection counts as held until it reads end or error.
    while let Ok(n) = read.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
    trickle.abort();
    started.elapsed()
}

fn hyper_server() -> Running {
    start(
        env!("CARGO_BIN_EXE_hyper-server"),
        &["--bind", "127.0.0.1:0", "--password", "t"],
    )
}

fn grpc_server() -> Running {
    start(
        env!("CARGO_BIN_EXE_grpc-server"),
        &["--bind", "127.0.0.1:0", "--password", "t"],
    )
}

fn webhook_receiver() -> Running {
    start(
        env!("CARGO_BIN_EXE_webhook-receiver"),
        &["--bind", "127.0.0.1:0", "--secret", "s"],
    )
}

const HTTP1_HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Issue 13, item 6: slowloris. Connections whose request head never ends are
/// closed by every program within the head timeout (10 s; 40 s allowed here
/// for a busy machine), while other clients are served.
#[tokio::test]
async fn every_program_closes_connections_whose_head_never_arrives() {
    let servers = [
        (reference_server(&["--password", "t"]), HTTP1_HEAD),
        (hyper_server(), HTTP1_HEAD),
        (webhook_receiver(), HTTP1_HEAD),
        (grpc_server(), HTTP2_PREFACE),
    ];
    let mut held = Vec::new();
    for (server, opening) in &servers {
        for _ in 0..5 {
            held.push(tokio::spawn(slow_head(server.addr, opening)));
        }
    }
    // Served meanwhile.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        get(servers[0].0.addr, "/health", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(servers[1].0.addr, "/health", &[]).await.status,
        StatusCode::OK
    );

    let all = futures_join(held);
    let times = tokio::time::timeout(Duration::from_secs(40), all)
        .await
        .expect("a slow connection was still open after 40 s");
    for time in times {
        assert!(
            time >= Duration::from_secs(5),
            "closed too early ({time:?}): not by the head timeout"
        );
    }
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Duration>>) -> Vec<Duration> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

/// Issue 13, item 6: a request head larger than the cap is refused (431 or a
/// closed connection), never buffered without bound.
#[tokio::test]
async fn oversized_request_heads_are_refused() {
    for server in [
        reference_server(&["--password", "t"]),
        hyper_server(),
        webhook_receiver(),
    ] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let mut head = b"GET /health HTTP/1.1\r\nHost: localhost\r\n".to_vec();
        for n in 0..4000 {
            head.extend_from_slice(format!("X-Filler-{n}: {}\r\n", "a".repeat(60)).as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        // The server may close while we still write: that is a refusal too.
        let _ = stream.write_all(&head).await;
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(
            !text.starts_with("HTTP/1.1 200"),
            "a {} KB head was served: {text:.80}",
            head.len() / 1024
        );
        if !answer.is_empty() {
            assert!(text.starts_with("HTTP/1.1 431"), "{text:.80}");
        }
    }
}

/// Runs `program` with `args` for at most `for_at_most`, returning stderr.
async fn stderr_of(program: &str, args: &[&str], for_at_most: Duration) -> String {
    let child = tokio::process::Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut child = child;
    let mut stderr = child.stderr.take().unwrap();
    let mut text = Vec::new();
    let _ = tokio::time::timeout(for_at_most, stderr.read_to_end(&mut text)).await;
    let _ = child.kill().await;
    String::from_utf8_lossy(&text).into_owned()
}

/// Issue 13, item 11: a password in a malformed Redis or webhook URL never
/// reaches the output.
#[tokio::test]
async fn passwords_in_malformed_urls_are_never_printed() {
    let program = env!("CARGO_BIN_EXE_reference-server");
    let cases: [(&[&str], &str); 6] = [
        (
            &["--redis-url", "redis:/:Hunter2Pw@127.0.0.1:1/0"],
            "Hunter2Pw",
        ),
        (
            &["--redis-url", "redis//:Hunter2Pw@127.0.0.1:1/0"],
            "Hunter2Pw",
        ),
        (&["--redis-url", "redis:Hunter2Pw@host"], "Hunter2Pw"),
        (
            &["--redis-url", "redis://:Hunter?2Pw@127.0.0.1:1/0"],
            "Hunter",
        ),
        (
            &[
                "--webhook-url",
                "http://user:Hunter2Pw@127.0.0.1:1/hook",
                "--webhook-secret",
                "s",
            ],
            "Hunter2Pw",
        ),
        (
            &[
                "--webhook-url",
                "ftp://user:Hunter2Pw@127.0.0.1:1/hook",
                "--webhook-secret",
                "s",
            ],
            "Hunter2Pw",
        ),
    ];
    for (args, secret) in cases {
        let mut all = vec!["--bind", "127.0.0.1:0", "--password", "t"];
        all.extend_from_slice(args);
        let output = stderr_of(program, &all, Duration::from_secs(8)).await;
        assert!(
            !output.contains(secret),
            "{args:?} printed the password:\n{output}"
        );
        assert!(!output.is_empty(), "{args:?}: nothing printed");
    }
}

/// Issue 13, item 12: with Redis refusing the password, the server says so at
/// start-up, at once, rather than 10 s into the first failures.
#[tokio::test]
async fn a_failing_redis_is_reported_at_start_up() {
    let redis = tower_claude_testkit::redis::RedisServer::start();
    redis.cli_text(&["CONFIG", "SET", "requirepass", "right-password"]);
    let url = format!("redis://:wrong-password@127.0.0.1:{}/0", redis.port());
    let started = Instant::now();
    let server = reference_server(&["--redis-url", &url, "--password", "t"]);
    let stderr = server.stderr.as_ref().unwrap();
    let mut seen = Vec::new();
    let found = loop {
        match stderr.recv_timeout(Duration::from_secs(8)) {
            Ok(line) if line.contains("Starting in fallback") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let line = found.unwrap_or_else(|| panic!("no start-up warning; stderr: {seen:?}"));
    assert!(!line.contains("wrong-password"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // And it serves, on the fallback; the first failing request's warning is
    // written at once, not ten seconds in.
    let asked = Instant::now();
    assert_eq!(get(server.addr, "/docs", &[]).await.status, StatusCode::OK);
    let warning = loop {
        match stderr.recv_timeout(Duration::from_secs(5)) {
            Ok(line) if line.contains("Redis rate-limit store failed") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let warning = warning.unwrap_or_else(|| panic!("no warning for the first failure: {seen:?}"));
    assert!(asked.elapsed() < Duration::from_secs(5), "{warning}");
    assert!(!warning.contains("wrong-password"), "{warning}");
}

/// Issue 13, item 13: a flood of wrong tokens writes a bounded number of
/// refusal lines (the first few per reason and interval), not one per request.
#[tokio::test]
async fn a_flood_of_refusals_writes_a_bounded_log() {
    let server = start_logging(
        env!("CARGO_BIN_EXE_reference-server"),
        &[
            "--bind",
            "127.0.0.1:0",
            "--password",
            "t",
            "--rate-limit",
            "100000/min",
        ],
        "info",
    );
    for n in 0..300 {
        let token = format!("Bearer wrong-{n}");
        let reply = get(
            server.addr,
            "/api/whoami",
            &[("authorization", token.as_str())],
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
    }
    // One more request after the flood, so that its lines are surely written.
    assert_eq!(
        get(server.addr, "/health", &[]).await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stderr = server.stderr.as_ref().unwrap();
    let lines: Vec<String> = std::iter::from_fn(|| stderr.try_recv().ok()).collect();
    let refusals = lines
        .iter()
        .filter(|l| l.contains("bearer authentication refused"))
        .count();
    assert!(refusals >= 1, "refusals are still logged: {lines:?}");
    assert!(refusals <= 20, "{refusals} refusal lines for 300 refusals");
}

/// Sends `GET uri` over cleartext HTTP/2 with prior knowledge (h2c), so the
/// client writes `:scheme` itself.
async fn h2c_get(addr: SocketAddr, uri: &str) -> http::Response<hyper::body::Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(uri)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    sender.send_request(request).await.unwrap()
}

/// Issue 13, item 7: over cleartext HTTP/2 a client-written `:scheme https`
/// turns on no HSTS, on reference-server and hyper-server.
#[tokio::test]
async fn a_client_written_https_scheme_gets_no_hsts() {
    for server in [reference_server(&["--password", "t"]), hyper_server()] {
        let uri = format!("https://{}/health", server.addr);
        let response = h2c_get(server.addr, &uri).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "HSTS over cleartext: {:?}",
            response.headers()
        );
    }
}
