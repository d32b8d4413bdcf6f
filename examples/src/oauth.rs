//! `reference-server --oauth-*`: an OAuth 2 resource server beside (or
//! instead of) the password credential.

use tower_claude_auth::oauth::{OAuth, ProtectedResource};

use crate::stack::StartError;

/// The OAuth options of `reference-server`.
#[derive(Clone, Default, clap::Args)]
pub struct OAuthArgs {
    /// Accept JWT access tokens from this issuer (its metadata and keys are
    /// fetched from it; https://, or http:// on loopback). Needs
    /// --oauth-audience.
    #[arg(long, env = "TOWER_CLAUDE_OAUTH_ISSUER", requires = "oauth_audience")]
    pub oauth_issuer: Option<String>,
    /// This server's resource identifier: tokens' `aud` must name it, and
    /// /.well-known/oauth-protected-resource describes it.
    #[arg(long, env = "TOWER_CLAUDE_OAUTH_AUDIENCE")]
    pub oauth_audience: Option<String>,
    /// Accept opaque tokens through this introspection endpoint (RFC 7662).
    /// Needs --oauth-client-id, --oauth-client-secret and --oauth-audience.
    #[arg(
        long,
        env = "TOWER_CLAUDE_OAUTH_INTROSPECTION_URL",
        requires_all = ["oauth_client_id", "oauth_client_secret", "oauth_audience"]
    )]
    pub oauth_introspection_url: Option<String>,
    /// The client id this server introspects as.
    #[arg(long, env = "TOWER_CLAUDE_OAUTH_CLIENT_ID")]
    pub oauth_client_id: Option<String>,
    /// The client secret this server introspects with.
    #[arg(long, env = "TOWER_CLAUDE_OAUTH_CLIENT_SECRET", hide_env_values = true)]
    pub oauth_client_secret: Option<String>,
}

impl OAuthArgs {
    /// Whether any OAuth option is set.
    pub fn is_on(&self) -> bool {
        self.oauth_issuer.is_some() || self.oauth_introspection_url.is_some()
    }

    /// The verifier and the resource's metadata, when OAuth is on.
    ///
    /// # Errors
    /// A URL that is not https:// (or http:// on loopback), or an audience
    /// that cannot be a resource identifier.
    pub fn build(&self) -> Result<Option<(OAuth, ProtectedResource)>, StartError> {
        if !self.is_on() {
            return Ok(None);
        }
        let Some(audience) = &self.oauth_audience else {
            return Err(StartError("--oauth-audience is required with OAuth".into()));
        };
        let mut builder = OAuth::builder(crate::notify::https_client()).audience(audience);
        match &self.oauth_issuer {
            Some(issuer) => builder = builder.issuer(issuer),
            None => builder = builder.jwt(false),
        }
        if let (Some(url), Some(id), Some(secret)) = (
            &self.oauth_introspection_url,
            &self.oauth_client_id,
            &self.oauth_client_secret,
        ) {
            builder = builder.introspection(url, id, secret);
        }
        let oauth = builder
            .build()
            .map_err(|e| StartError(format!("--oauth-*: {e}")))?;
        let mut resource = ProtectedResource::new(audience)
            .map_err(|e| StartError(format!("--oauth-audience: {e}")))?
            .scopes_supported(["admin"]);
        if let Some(issuer) = &self.oauth_issuer {
            resource = resource.authorization_server(issuer);
        }
        Ok(Some((oauth, resource)))
    }
}

impl std::fmt::Debug for OAuthArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthArgs")
            .field("oauth_issuer", &self.oauth_issuer)
            .field("oauth_audience", &self.oauth_audience)
            .field("oauth_introspection_url", &self.oauth_introspection_url)
            .field("oauth_client_id", &self.oauth_client_id)
            .field(
                "oauth_client_secret",
                &self.oauth_client_secret.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}
