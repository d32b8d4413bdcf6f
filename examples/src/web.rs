//! The reference server's axum application.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use tower_claude_auth::oauth::ProtectedResource;
use tower_claude_auth::{Authenticated, RequireScopesLayer};
use tower_claude_headers::security::CspNonce;
use tower_claude_webhook::deliver::RetryPolicy;
use tower_claude_webhook::sign::Signer;
use tower_claude_webhook::{
    WebhookSecret, names,
    replay::MemoryReplayCache,
    verify::{VerifiedWebhook, Verifier, VerifyWebhookLayer},
};

use crate::config::ServerArgs;
use crate::notify::{Answer, Notifier};
use crate::oauth::OAuthArgs;
use crate::stack::{HEALTH_PATHS, Stack, StartError};

/// Routes open without a token besides the health and docs routes.
pub const PUBLIC_ROUTES: [&str; 2] = ["/", "/webhooks/incoming"];

/// The reference application and the stack it runs behind.
#[derive(Debug)]
pub struct ReferenceApp {
    /// The router, all layers applied; serve it with connect info.
    pub router: Router,
    /// The layers (for the key store's statistics and the dev token).
    pub stack: Stack,
}

#[derive(Clone)]
struct AppState {
    notifier: Option<Arc<Notifier>>,
    notify_budget: std::time::Duration,
}

/// Builds the reference application from `args`.
///
/// # Errors
/// A bad credential, rate, webhook URL or secret.
pub fn reference_app(args: &ServerArgs) -> Result<ReferenceApp, StartError> {
    reference_app_with(args, RetryPolicy::default())
}

/// [`reference_app`] with the retry policy of `/api/notify` given (tests
/// shorten its delays).
///
/// # Errors
/// A bad credential, rate, webhook URL or secret.
pub fn reference_app_with(
    args: &ServerArgs,
    policy: RetryPolicy,
) -> Result<ReferenceApp, StartError> {
    reference_app_full(args, &OAuthArgs::default(), policy)
}

/// [`reference_app`] with OAuth (`--oauth-*`): JWT access tokens from the
/// issuer and opaque ones through introspection, beside the password
/// credential if one is set (without one, no development token is made);
/// `/.well-known/oauth-protected-resource` served and named in every 401.
///
/// # Errors
/// A bad credential, rate, webhook URL or secret, or OAuth setting.
pub fn reference_app_full(
    args: &ServerArgs,
    oauth: &OAuthArgs,
    policy: RetryPolicy,
) -> Result<ReferenceApp, StartError> {
    let mut stack = Stack::build(args, &PUBLIC_ROUTES, !oauth.is_on())?;
    let resource = match oauth.build()? {
        Some((verifier, resource)) => {
            stack.auth = stack
                .auth
                .clone()
                .oauth(verifier)
                .try_resource_metadata(&resource)
                .map_err(|e| StartError(format!("--oauth-audience: {e}")))?;
            Some(resource)
        }
        None => None,
    };
    let notifier = match (&args.webhook_url, &args.webhook_secret) {
        (Some(url), Some(secret)) => Some(Arc::new(
            Notifier::new(
                url,
                Signer::x_webhook(
                    WebhookSecret::new(secret.as_str())
                        .map_err(|e| StartError(format!("--webhook-secret: {e}")))?,
                ),
                args.allow_insecure_webhooks,
                policy,
            )
            .map_err(StartError)?,
        )),
        (Some(_), None) => {
            return Err(StartError(
                "--webhook-url needs --webhook-secret to sign with".into(),
            ));
        }
        _ => None,
    };
    let incoming = match &args.webhook_secret {
        Some(secret) => {
            let secret = WebhookSecret::new(secret.clone())
                .map_err(|e| StartError(format!("--webhook-secret: {e}")))?;
            let verifier = Verifier::x_webhook(secret);
            // With Redis, a delivery accepted by one instance is refused by all.
            let verifier = match &stack.redis_target {
                Some(target) => verifier.replay_cache(target.replay_cache().map_err(StartError)?),
                None => verifier.replay_cache(MemoryReplayCache::new(100_000)),
            };
            post(incoming_webhook).layer(VerifyWebhookLayer::new(verifier))
        }
        None => post(no_webhook_secret),
    };
    let mut router = Router::new()
        .route("/", get(home))
        .route("/docs", get(docs))
        .route("/openapi.json", get(openapi))
        .route("/api/whoami", get(whoami))
        .route(
            "/api/admin",
            get(admin).route_layer(admin_scope(resource.as_ref())),
        )
        .route("/api/echo", post(echo))
        .route("/api/notify", post(notify))
        .route("/webhooks/incoming", incoming);
    for path in HEALTH_PATHS {
        router = router.route(path, get(health));
    }
    if let Some(resource) = &resource {
        router = router.route_service(resource.path(), resource.service());
    }
    let router = router
        .with_state(AppState {
            notifier,
            notify_budget: args.notify_budget,
        })
        .layer(stack.auth.clone())
        .layer(stack.ratelimit.clone())
        .layer(stack.headers.clone());
    Ok(ReferenceApp { router, stack })
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn home(nonce: Option<Extension<CspNonce>>) -> Html<String> {
    let nonce = nonce
        .map(|Extension(n)| n.as_str().to_owned())
        .unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tower-claude reference server</title></head>
<body>
<h1>tower-claude reference server</h1>
<p id="script">The inline script did not run.</p>
<p>See <a href="/docs">/docs</a> and <a href="/openapi.json">/openapi.json</a>.</p>
<script nonce="{nonce}">document.getElementById("script").textContent = "The inline script ran under the per-request CSP nonce.";</script>
</body></html>
"#
    ))
}

async fn docs() -> Html<&'static str> {
    Html(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API</title></head>
<body>
<h1>API</h1>
<ul>
<li><code>GET /health</code>, <code>/healthz</code>, <code>/ready</code>, <code>/livez</code>: public, 200.</li>
<li><code>GET /api/whoami</code>: <code>Authorization: Bearer &lt;token&gt;</code>; the key and its scopes.</li>
<li><code>POST /api/echo</code>: bearer token; echoes the body.</li>
<li><code>POST /api/notify</code>: bearer token; sends the body as a signed webhook.</li>
<li><code>POST /webhooks/incoming</code>: a signed webhook (<code>X-Webhook-Signature-256</code>).</li>
</ul>
<p>The machine-readable description is <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"#,
    )
}

async fn openapi() -> Json<serde_json::Value> {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let refusals = json!({
        "401": {"description": "missing or malformed bearer token", "content": {"application/json": {"schema": error}}},
        "403": {"description": "wrong bearer token", "content": {"application/json": {"schema": error}}},
        "429": {"description": "rate limited; see Retry-After", "content": {"application/json": {"schema": error}}}
    });
    let health = json!({"get": {"summary": "liveness", "security": [], "responses": {"200": {"description": "ok"}}}});
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "tower-claude reference server", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "message": {"type": "string"}, "type": {"type": "string"}, "code": {"type": "string"}}}}}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": health, "/healthz": health, "/ready": health, "/livez": health,
            "/": {"get": {"summary": "HTML page with a CSP-nonced inline script", "security": [], "responses": {"200": {"description": "text/html"}}}},
            "/docs": {"get": {"summary": "HTML API docs", "security": [], "responses": {"200": {"description": "text/html"}}}},
            "/openapi.json": {"get": {"summary": "this document", "security": [], "responses": {"200": {"description": "application/json"}}}},
            "/api/whoami": {"get": {"summary": "the authenticated key", "responses": {"200": {"description": "{\"key\", \"scopes\"}"}}}},
            "/api/echo": {"post": {"summary": "echoes the body", "responses": {"200": {"description": "the request body"}}}},
            "/api/notify": {"post": {"summary": "sends the body as a signed webhook to --webhook-url",
                "parameters": [{"name": "X-Webhook-Event", "in": "header", "schema": {"type": "string", "default": "notify"}}],
                "responses": {"200": {"description": "{\"delivery_id\", \"attempts\", \"status\"}"},
                              "502": {"description": "not delivered"}, "503": {"description": "no webhook target configured"}}}},
            "/webhooks/incoming": {"post": {"summary": "receives a signed webhook", "security": [],
                "responses": {"200": {"description": "{\"event\", \"delivery_id\"}"}, "401": {"description": "refused; reason in the body"}, "413": {"description": "too large"}}}}
        },
        "x-refusals": refusals
    }))
}

async fn whoami(Extension(who): Extension<Authenticated>) -> Json<serde_json::Value> {
    Json(
        json!({"key": who.key.as_ref(), "scopes": who.scopes.iter().map(|s| s.as_ref()).collect::<Vec<&str>>()}),
    )
}

/// The scope `/api/admin` needs, naming the resource's metadata in its 401.
fn admin_scope(resource: Option<&ProtectedResource>) -> RequireScopesLayer {
    let layer = RequireScopesLayer::new(["admin"]);
    match resource {
        Some(resource) => layer.resource_metadata(resource),
        None => layer,
    }
}

/// Only for tokens with the scope `admin` (any kind of credential).
async fn admin(Extension(who): Extension<Authenticated>) -> Json<serde_json::Value> {
    Json(json!({"admin": true, "key": who.key.as_ref()}))
}

async fn echo(headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn notify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(notifier) = state.notifier else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"message": "no webhook target: start the server with --webhook-url and --webhook-secret", "type": "unavailable", "code": "webhook_not_configured"}})),
        )
            .into_response();
    };
    let event = headers
        .get(names::X_WEBHOOK_EVENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("notify");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    match notifier
        .send_within(state.notify_budget, event, content_type, body)
        .await
    {
        Answer::Done(outcome) => {
            let status = if outcome.delivered() {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            (status, Json(outcome.to_json())).into_response()
        }
        Answer::Pending { delivery_id } => (
            StatusCode::ACCEPTED,
            Json(json!({"delivery_id": delivery_id, "status": null, "pending": true})),
        )
            .into_response(),
        Answer::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            Json(json!({"error": {"message": "too many webhook deliveries under way; retry later", "type": "unavailable", "code": "webhook_deliveries_busy"}})),
        )
            .into_response(),
    }
}

async fn incoming_webhook(
    Extension(hook): Extension<VerifiedWebhook>,
    body: Bytes,
) -> Json<serde_json::Value> {
    tracing::info!(
        event = hook.event.as_deref(),
        delivery_id = hook.delivery_id.as_deref(),
        bytes = body.len(),
        "webhook received"
    );
    Json(json!({"event": hook.event, "delivery_id": hook.delivery_id}))
}

async fn no_webhook_secret() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": {"message": "this server verifies no webhooks: start it with --webhook-secret", "type": "unavailable", "code": "webhook_not_configured"}})),
    )
        .into_response()
}
