//! The authorization server of the OAuth tests: oauth2-mock-server from the
//! npm registry, driven by tests/oauth-server/server.mjs, on a free loopback
//! port; killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use http::Method;
use tower_claude_testkit::send;

pub const CLIENT_ID: &str = "resource-server";
pub const CLIENT_SECRET: &str = "introspection:secret";
pub const AUDIENCE: &str = "https://api.tower-claude.test/mcp";
pub const METADATA_URL: &str =
    "https://api.tower-claude.test/.well-known/oauth-protected-resource/mcp";

pub struct AuthServer {
    child: Child,
    pub addr: SocketAddr,
    pub issuer: String,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oauth-server")
}

impl AuthServer {
    pub fn start() -> Self {
        let folder = folder();
        assert!(
            folder.join("node_modules/oauth2-mock-server").is_dir(),
            "oauth2-mock-server is not installed: run `bash scripts/test.sh`, which runs \
             `npm ci --prefix tests/oauth-server`"
        );
        let mut child = Command::new("node")
            .arg(folder.join("server.mjs"))
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--audience", AUDIENCE])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start node ({e}): run `bash scripts/test.sh`, which installs Node.js"
                )
            });
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("the OAuth test server did not start")
            });
        let issuer = line
            .split("listening on ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .trim()
            .to_owned();
        let addr = issuer.trim_start_matches("http://").parse().unwrap();
        Self {
            child,
            addr,
            issuer,
        }
    }

    /// Stops the server (an outage).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// An access token from `POST /token` (client credentials), with `fields`
    /// for the server's token hook (scope, aud, sub, exp_in, nbf_in, iss, typ).
    pub async fn token(&self, fields: &[(&str, &str)]) -> String {
        let mut body = String::from("grant_type=client_credentials");
        for (name, value) in fields {
            body.push_str(&format!("&{name}={}", form(value)));
        }
        let reply = send(
            self.addr,
            Method::POST,
            "/token",
            &[("content-type", b"application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// The server's counts: introspection calls and key set fetches.
    pub async fn counts(&self) -> (u64, u64) {
        let reply = tower_claude_testkit::get(self.addr, "/test/counts", &[]).await;
        let counts: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        (
            counts["introspections"].as_u64().unwrap(),
            counts["jwks"].as_u64().unwrap(),
        )
    }

    /// A new signing key; tokens are signed with it from now on.
    pub async fn rotate(&self) -> String {
        let reply = send(self.addr, Method::POST, "/test/rotate", &[], b"").await;
        let answer: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        answer["kid"].as_str().unwrap().to_owned()
    }

    /// Introspection answers `seconds` late.
    pub async fn slow(&self, seconds: u64) {
        let path = format!("/test/slow?seconds={seconds}");
        send(self.addr, Method::POST, &path, &[], b"").await;
    }
}

fn form(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
