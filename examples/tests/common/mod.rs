//! Starting the programs as processes on free ports, shared by the process tests.
#![allow(dead_code, unreachable_pub)]

pub mod oauth_server;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running program; killed when dropped.
pub struct Running {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    pub token: Option<String>,
    pub stdout: Option<mpsc::Receiver<String>>,
    /// Lines of stderr after the listening line.
    pub stderr: Option<mpsc::Receiver<String>>,
    /// Where it serves `/metrics`, with `--metrics-bind`.
    pub metrics: Option<std::net::SocketAddr>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program` with `args` and waits for its "listening on" line.
pub fn start(program: &str, args: &[&str]) -> Running {
    start_logging(program, args, "warn")
}

/// [`start`] with `RUST_LOG` set to `log`.
pub fn start_logging(program: &str, args: &[&str], log: &str) -> Running {
    start_configured(program, args, log, &[])
}

/// [`start`] with environment variables set.
pub fn start_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    start_configured(program, args, "warn", env)
}

fn start_configured(program: &str, args: &[&str], log: &str, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("TOWER_CLAUDE_PASSWORD")
        .env_remove("TOWER_CLAUDE_PASSWORD_HASH")
        .env("RUST_LOG", log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let (Some(stderr), Some(stdout)) = (child.stderr.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{program}: no pipes");
    };
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let (out_lines, out_received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_lines.send(line);
        }
    });
    // Owned by the guard from here on, so a panic below still kills it.
    let mut running = Running {
        child,
        addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        token: None,
        stdout: Some(out_received),
        stderr: None,
        metrics: None,
    };
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{program} did not say where it listens"));
        if let Some(t) = line.strip_prefix("Development token: ") {
            running.token = Some(t.to_owned());
        }
        // With --log-format json, the same lines as JSON objects.
        let json: Option<serde_json::Value> = line
            .starts_with('{')
            .then(|| serde_json::from_str(&line).ok())
            .flatten();
        if let Some(json) = &json {
            if let Some(url) = json["metrics_url"].as_str() {
                running.metrics = url
                    .trim_start_matches("http://")
                    .trim_end_matches("/metrics")
                    .parse()
                    .ok();
            }
            if let Some(url) = json["url"].as_str() {
                running.addr = url.split("://").nth(1).unwrap().parse().unwrap();
                running.stderr = Some(received);
                return running;
            }
            continue;
        }
        if let Some(url) = line.split("metrics on http://").nth(1) {
            running.metrics = url.trim().trim_end_matches("/metrics").parse().ok();
        }
        let listening = ["listening on http://", "listening on https://"]
            .iter()
            .find_map(|prefix| line.split(prefix).nth(1));
        if let Some(url) = listening {
            running.addr = url.trim().parse().unwrap();
            // Kept, so the reader keeps draining the pipe and the program never
            // blocks on a full stderr.
            running.stderr = Some(received);
            return running;
        }
    }
}

pub fn reference_server(args: &[&str]) -> Running {
    let mut all = vec!["--bind", "127.0.0.1:0"];
    all.extend_from_slice(args);
    start(env!("CARGO_BIN_EXE_reference-server"), &all)
}

/// One sample of a scrape, as Prometheus' text parser read it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub family_type: String,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// A scrape of `GET /metrics`: its content type, and its samples.
pub struct Scrape {
    pub content_type: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// The value of the series `name` with exactly these labels, 0 when absent
    /// (a counter never incremented is not written).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let wanted: std::collections::BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == wanted)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} twice: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }

    /// Every series of `name`, whatever its labels.
    pub fn series(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Scrapes `http://addr/metrics` with Python's `prometheus_client` parser;
/// the test fails, naming the fix, when it is not installed.
pub fn scrape(addr: std::net::SocketAddr) -> Scrape {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/prometheus_samples.py");
    let url = format!("http://{addr}/metrics");
    if let Some(python) = python_with("prometheus_client") {
        let output = Command::new(python)
            .args([script, &url])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        assert!(
            output.status.success(),
            "the scrape failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut lines = std::str::from_utf8(&output.stdout).unwrap().lines();
        let head: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let samples = lines
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                Sample {
                    family_type: v["type"].as_str().unwrap().to_owned(),
                    name: v["name"].as_str().unwrap().to_owned(),
                    labels: serde_json::from_value(v["labels"].clone()).unwrap(),
                    value: v["value"].as_f64().unwrap(),
                }
            })
            .collect();
        return Scrape {
            content_type: head["content_type"].as_str().unwrap_or_default().to_owned(),
            samples,
        };
    }
    panic!(
        "Python's prometheus_client is missing: run `bash scripts/test.sh`, which installs it \
         (or `apt-get install -y python3-prometheus-client`)"
    );
}

/// The Python interpreter (on PATH, or Debian's, where apt installs modules)
/// that can import `module`.
pub fn python_with(module: &str) -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}
