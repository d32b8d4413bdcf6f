//! What the programs tell their operators: the log format, and Prometheus
//! metrics on a listener of their own.

use std::net::SocketAddr;
#[cfg(feature = "metrics")]
use std::time::Duration;

#[cfg(feature = "metrics")]
use axum::{Router, http::header::CONTENT_TYPE, routing::get};
#[cfg(feature = "metrics")]
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

#[cfg(feature = "metrics")]
use crate::serve::{Limits, serve};

/// Options every reference program shares for logs and metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct ObserveArgs {
    /// Log lines as `text` or as `json` (one object per line, for `jq` and log
    /// collectors).
    #[arg(long, env = "TOWER_CLAUDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `--metrics-bind`, on the programs that serve metrics.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at `GET /metrics` on this address, a listener
    /// of its own (never the public port; bind it where only the scraper
    /// reaches, such as 127.0.0.1:9090).
    #[arg(long, env = "TOWER_CLAUDE_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

/// The format [`init_tracing`] chose, for [`announce`].
static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Logs to stderr in `format`, `info` unless `RUST_LOG` says otherwise.
pub fn init_tracing(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// Installs the Prometheus recorder. Histograms are exported as Prometheus
/// histograms with the layers' buckets (without buckets the exporter would
/// write summaries, which cannot be summed across instances).
///
/// # Errors
/// A recorder is already installed.
#[cfg(feature = "metrics")]
pub fn recorder() -> Result<PrometheusHandle, String> {
    let buckets = [
        (
            tower_claude_auth::metrics::BCRYPT_SECONDS,
            tower_claude_auth::metrics::BCRYPT_SECONDS_BUCKETS,
        ),
        (
            tower_claude_ratelimit::metrics::STORE_SECONDS,
            tower_claude_ratelimit::metrics::STORE_SECONDS_BUCKETS,
        ),
    ];
    buckets
        .into_iter()
        .try_fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
            builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
        })
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|error| format!("cannot install the metrics recorder: {error}"))
        .inspect(|_| {
            tower_claude_auth::metrics::describe();
            tower_claude_ratelimit::metrics::describe();
            tower_claude_webhook::metrics::describe();
        })
}

/// With `--metrics-bind`: installs the Prometheus recorder (before the first
/// request, so every layer records into it), binds the address and serves
/// `GET /metrics` there in the background. Prints
/// `<program> metrics on http://ADDR/metrics`.
///
/// # Errors
/// The address cannot be bound, or a recorder is already installed.
pub async fn serve_metrics(program: &str, args: &MetricsArgs) -> Result<(), String> {
    let Some(bind) = args.metrics_bind else {
        return Ok(());
    };
    #[cfg(not(feature = "metrics"))]
    return Err(format!(
        "{program} was built without the `metrics` feature; --metrics-bind {bind} needs it"
    ));
    #[cfg(feature = "metrics")]
    serve_recorded(program, bind).await
}

#[cfg(feature = "metrics")]
async fn serve_recorded(program: &str, bind: SocketAddr) -> Result<(), String> {
    let handle = recorder()?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|error| format!("cannot listen on {bind} for metrics: {error}"))?;
    if let Ok(addr) = listener.local_addr() {
        let url = format!("http://{addr}/metrics");
        announce(
            "INFO",
            &format!("{program} metrics on {url}"),
            &[("program", program), ("metrics_url", &url)],
        );
    }
    // Histograms keep their samples until upkeep folds them in; a scrape
    // does it too, this bounds the memory between scrapes.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    );
    tokio::spawn(serve(
        listener,
        app,
        Limits::default(),
        std::future::pending::<()>(),
    ));
    Ok(())
}

/// Whether the log is JSON (`--log-format json`).
pub fn is_json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// Writes one of the program's own lines to stderr, whatever `RUST_LOG`
/// filters: `text` as it reads, or with `--log-format json` as one JSON object
/// with `level`, `target`, `message` and each of `fields` beside them, so that
/// every line of a JSON run parses.
pub fn announce(level: &str, text: &str, fields: &[(&str, &str)]) {
    match FORMAT.get() {
        Some(LogFormat::Json) => {
            let mut line = serde_json::Map::new();
            line.insert("level".into(), level.into());
            line.insert("target".into(), "tower_claude_examples".into());
            line.insert("message".into(), text.into());
            for (name, value) in fields {
                line.insert((*name).into(), (*value).into());
            }
            eprintln!("{}", serde_json::Value::Object(line));
        }
        _ => eprintln!("{text}"),
    }
}

/// A start-up error, before the program exits: `error: <message>` on stderr,
/// or a JSON object with `--log-format json`.
pub fn startup_error(message: impl std::fmt::Display) {
    match FORMAT.get() {
        Some(LogFormat::Json) => announce("ERROR", &message.to_string(), &[]),
        _ => eprintln!("error: {message}"),
    }
}
