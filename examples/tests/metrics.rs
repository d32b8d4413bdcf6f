//! `--metrics-bind`: the programs' Prometheus metrics after known traffic,
//! scraped on their own listener and read by Prometheus' text parser (Python's
//! `prometheus_client`), counted exactly.

use http::{Method, StatusCode};
use tower_claude_testkit::{get, send};

mod common;
use common::{Running, Scrape, reference_server, scrape, start};

const AUTH: &str = "tower_claude_auth_requests_total";
const LIMIT: &str = "tower_claude_ratelimit_requests_total";

fn metrics_of(server: &Running) -> Scrape {
    scrape(
        server
            .metrics
            .expect("the program printed where it serves metrics"),
    )
}

#[tokio::test]
async fn reference_server_counts_each_decision_exactly() {
    let hash = bcrypt::hash("metrics-token", 4).unwrap();
    let server = reference_server(&[
        "--password-hash",
        &hash,
        "--rate-limit",
        "5/min",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let good = [("authorization", "Bearer metrics-token")];
    for _ in 0..3 {
        assert_eq!(
            get(server.addr, "/health", &[]).await.status,
            StatusCode::OK
        );
    }
    let statuses = [
        get(server.addr, "/api/whoami", &good).await.status,
        get(server.addr, "/api/whoami", &good).await.status,
        get(
            server.addr,
            "/api/whoami",
            &[("authorization", "Bearer wrong")],
        )
        .await
        .status,
        get(server.addr, "/api/whoami", &[]).await.status,
        get(server.addr, "/api/whoami", &good).await.status,
        get(server.addr, "/api/whoami", &good).await.status,
        get(server.addr, "/api/whoami", &good).await.status,
    ];
    assert_eq!(
        statuses.map(|s| s.as_u16()),
        [200, 200, 403, 401, 200, 429, 429]
    );

    let scrape = metrics_of(&server);
    assert!(
        scrape.content_type.starts_with("text/plain"),
        "{}",
        scrape.content_type
    );
    let auth = |outcome, reason| scrape.value(AUTH, &[("outcome", outcome), ("reason", reason)]);
    assert_eq!(auth("public", "none"), 3.0);
    assert_eq!(auth("allowed", "none"), 3.0);
    assert_eq!(auth("refused", "invalid_token"), 1.0);
    assert_eq!(auth("refused", "missing_credentials"), 1.0);
    assert_eq!(scrape.series(AUTH).len(), 4, "{:?}", scrape.series(AUTH));

    let limit = |outcome| scrape.value(LIMIT, &[("policy", "default"), ("outcome", outcome)]);
    assert_eq!(limit("exempt"), 3.0);
    assert_eq!(limit("admitted"), 5.0);
    assert_eq!(limit("limited"), 2.0);
    assert_eq!(scrape.series(LIMIT).len(), 3, "{:?}", scrape.series(LIMIT));
    assert_eq!(
        scrape.value(
            "tower_claude_ratelimit_tracked_clients",
            &[("policy", "default")]
        ),
        1.0,
        "one client address"
    );

    // Histograms, with buckets (not summaries): the store decided the 7
    // limited requests; bcrypt ran once for the good token (then cached) and
    // once for the wrong one.
    let store = scrape.series("tower_claude_ratelimit_store_seconds_bucket");
    assert!(store.len() > 5, "{store:?}");
    assert!(store.iter().all(|s| s.family_type == "histogram"));
    let memory = [("store", "memory")];
    assert_eq!(
        scrape.value("tower_claude_ratelimit_store_seconds_count", &memory),
        7.0
    );
    let inf = [("store", "memory"), ("le", "+Inf")];
    assert_eq!(
        scrape.value("tower_claude_ratelimit_store_seconds_bucket", &inf),
        7.0
    );
    for outcome in ["valid", "invalid"] {
        let labels = [("outcome", outcome)];
        assert_eq!(
            scrape.value("tower_claude_auth_bcrypt_seconds_count", &labels),
            1.0,
            "{outcome}"
        );
        assert!(scrape.value("tower_claude_auth_bcrypt_seconds_sum", &labels) > 0.0);
    }

    // Labels name no client, token or path.
    for sample in &scrape.samples {
        for value in sample.labels.values() {
            assert!(
                !value.contains("127.0.0.1")
                    && !value.contains('/')
                    && !value.contains("metrics-token")
                    && !value.contains("wrong"),
                "{sample:?}"
            );
        }
    }

    // The public port does not serve metrics: /metrics there is an API path
    // like any other (this client is out of its quota by now: 429).
    let public = get(server.addr, "/metrics", &[]).await;
    assert!(public.status.is_client_error(), "{}", public.status);
    assert!(!public.body.contains("tower_claude_"), "{}", public.body);
    // And the metrics port serves nothing else.
    let metrics_addr = server.metrics.unwrap();
    assert_eq!(
        get(metrics_addr, "/api/whoami", &good).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn webhook_metrics_count_deliveries_attempts_and_verifications() {
    let secret = "metrics webhook secret";
    let receiver = reference_server(&[
        "--webhook-secret",
        secret,
        "--password",
        "receiver-token",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let url = format!("http://{}/webhooks/incoming", receiver.addr);
    let sender = reference_server(&[
        "--webhook-secret",
        secret,
        "--webhook-url",
        &url,
        "--allow-insecure-webhooks",
        "--password",
        "sender-token",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    let forger = reference_server(&[
        "--webhook-secret",
        "not the secret",
        "--webhook-url",
        &url,
        "--allow-insecure-webhooks",
        "--password",
        "forger-token",
        "--metrics-bind",
        "127.0.0.1:0",
    ]);
    for (server, token, status) in [
        (&sender, "sender-token", StatusCode::OK),
        (&sender, "sender-token", StatusCode::OK),
        (&forger, "forger-token", StatusCode::BAD_GATEWAY),
    ] {
        let reply = send(
            server.addr,
            Method::POST,
            "/api/notify",
            &[("authorization", format!("Bearer {token}").as_bytes())],
            b"{}",
        )
        .await;
        assert_eq!(reply.status, status, "{}", reply.body);
    }
    // A delivery without its signature headers.
    let unsigned = send(
        receiver.addr,
        Method::POST,
        "/webhooks/incoming",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);

    let verified = metrics_of(&receiver);
    let verifications = |outcome, reason| {
        verified.value(
            "tower_claude_webhook_verifications_total",
            &[("outcome", outcome), ("reason", reason)],
        )
    };
    assert_eq!(verifications("accepted", "none"), 2.0);
    assert_eq!(verifications("refused", "bad_signature"), 1.0);
    assert_eq!(verifications("refused", "missing_signature_header"), 1.0);
    assert_eq!(
        verified
            .series("tower_claude_webhook_verifications_total")
            .len(),
        3
    );

    let sent = metrics_of(&sender);
    let deliveries = "tower_claude_webhook_deliveries_total";
    let attempts = "tower_claude_webhook_attempts_total";
    let x_webhook = |outcome| [("outcome", outcome), ("scheme", "x_webhook")];
    assert_eq!(sent.value(deliveries, &x_webhook("delivered")), 2.0);
    assert_eq!(sent.value(deliveries, &x_webhook("failed")), 0.0);
    assert_eq!(sent.value(attempts, &[("outcome", "ok")]), 2.0);
    assert_eq!(sent.series(attempts).len(), 1);

    // A 401 is final: one attempt, not retried.
    let forged = metrics_of(&forger);
    assert_eq!(forged.value(deliveries, &x_webhook("failed")), 1.0);
    assert_eq!(forged.value(attempts, &[("outcome", "final")]), 1.0);
    assert_eq!(forged.series(attempts).len(), 1);
}

#[tokio::test]
async fn webhook_receiver_serves_metrics() {
    let receiver = start(
        env!("CARGO_BIN_EXE_webhook-receiver"),
        &[
            "--bind",
            "127.0.0.1:0",
            "--secret",
            "receiver metrics secret",
            "--metrics-bind",
            "127.0.0.1:0",
        ],
    );
    let stale = send(
        receiver.addr,
        Method::POST,
        "/",
        &[
            ("x-webhook-timestamp", b"1"),
            ("x-webhook-delivery-id", b"msg_1"),
            ("x-webhook-signature-256", b"sha256=00"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.body);
    let scrape = metrics_of(&receiver);
    let refused = scrape.series("tower_claude_webhook_verifications_total");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].labels["outcome"], "refused");
    assert_eq!(refused[0].value, 1.0);
    assert_eq!(
        scrape.value(LIMIT, &[("policy", "default"), ("outcome", "admitted")]),
        1.0,
        "the receiver's own rate limit"
    );
}
