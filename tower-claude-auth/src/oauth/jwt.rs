//! JWT access tokens (RFC 9068), verified locally: the signature with the
//! issuer's key (the algorithm is the key's), then `iss`, `aud`, `exp`,
//! `nbf` and `typ`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use tower_claude_core::Clock;

use super::jwks::{Found, KeySource};
use crate::verifier::{Authenticated, Verification};

/// Whether `token` is shaped as a JWS in compact form: three base64url
/// parts, the first two not empty (an unsigned `alg: none` token has an
/// empty third part, and is such a shape: it is refused, never passed on).
pub(crate) fn is_jwt_shaped(token: &[u8]) -> bool {
    // This runs on every OAuth request: two branch-free passes the compiler
    // turns into vector code, then the dots' places.
    let foreign = token.iter().fold(false, |foreign, &b| {
        foreign | !(b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_') | (b == b'.'))
    });
    let dots = token
        .iter()
        .fold(0usize, |dots, &b| dots + usize::from(b == b'.'));
    if foreign || dots != 2 {
        return false;
    }
    let first = token.iter().position(|&b| b == b'.').unwrap_or(0);
    let second = token[first + 1..]
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(0);
    first > 0 && second > 0
}

/// What a token must say to be accepted.
pub(crate) struct Rules {
    /// Required for JWTs; for introspection alone, checked when both the
    /// answer and the settings name one.
    pub(crate) issuer: Option<String>,
    pub(crate) audience: String,
    pub(crate) leeway: Duration,
    pub(crate) clock: Clock,
    /// Introspection answers must name the audience.
    pub(crate) introspection_needs_audience: bool,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl Rules {
    /// Whether now falls between `nbf` and `exp`, each with the leeway: how
    /// long the token stays valid (`None` without an `exp`), or why not.
    pub(crate) fn window(
        &self,
        exp: Option<f64>,
        nbf: Option<f64>,
    ) -> Result<Option<Duration>, &'static str> {
        let now = self.clock.unix_seconds() as f64;
        let leeway = self.leeway.as_secs_f64();
        if nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err("not valid yet");
        }
        match exp {
            Some(exp) if now < exp + leeway => {
                Ok(Some(Duration::from_secs_f64((exp + leeway - now).min(1e9))))
            }
            Some(_) => Err("expired"),
            None => Ok(None),
        }
    }
}

/// `aud`: one string, or several.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|one| one == audience),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// Why a token was refused, for the debug log (the client learns only
/// `invalid_token`).
fn refuse(why: &str) -> Verification {
    tracing::debug!(target: "tower_claude_auth", why, "JWT access token refused");
    Verification::Invalid
}

/// Verifies a JWT-shaped `token`: the verdict, and for an accepted token how
/// long it stays valid (its `exp` plus the leeway, from now).
pub(crate) async fn verify(
    keys: &KeySource,
    rules: &Rules,
    token: &str,
) -> (Verification, Option<Duration>) {
    match verify_once(keys, rules, token).await {
        Ok((who, valid_for)) => (Verification::Valid(who), Some(valid_for)),
        Err(verdict) => (verdict, None),
    }
}

async fn verify_once(
    keys: &KeySource,
    rules: &Rules,
    token: &str,
) -> Result<(Authenticated, Duration), Verification> {
    let Some(encoded_header) = token.split('.').next() else {
        return Err(refuse("not a JWT"));
    };
    let Some(header) = URL_SAFE_NO_PAD
        .decode(encoded_header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Header>(&bytes).ok())
    else {
        return Err(refuse("the header is not JSON"));
    };
    // Only these three; `none` and the HMAC family (whose "secret" an
    // attacker would take from the public key) never.
    let alg = match header.alg.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        _ => return Err(refuse("an algorithm other than RS256, ES256 or EdDSA")),
    };
    if header.crit.is_some() {
        return Err(refuse("critical header extensions are not understood"));
    }
    // RFC 9068 section 2.1 writes `at+jwt`; many issuers still write `JWT`.
    if let Some(typ) = &header.typ {
        let typ = typ.to_ascii_lowercase();
        if !matches!(typ.as_str(), "at+jwt" | "application/at+jwt" | "jwt") {
            return Err(refuse("typ is neither at+jwt nor JWT"));
        }
    }
    let key = match keys.key(header.kid.as_deref(), alg).await {
        Found::Key(key) => key,
        Found::Unknown => return Err(refuse("no key of the issuer has this id")),
        Found::Unavailable(retry_after) => return Err(Verification::Unavailable { retry_after }),
    };
    // The key decides the algorithm: a token naming another is refused
    // before any signature check.
    if key.alg != alg {
        return Err(refuse("the token's algorithm is not its key's"));
    }
    let mut validation = Validation::new(key.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
        Ok(data) => data.claims,
        Err(_) => {
            return Err(refuse(
                "the signature does not verify, or the claims are malformed",
            ));
        }
    };
    check_claims(rules, claims)
}

fn check_claims(rules: &Rules, claims: Claims) -> Result<(Authenticated, Duration), Verification> {
    if rules.issuer.is_none() || claims.iss != rules.issuer {
        return Err(refuse("iss is not the issuer"));
    }
    if !claims
        .aud
        .as_ref()
        .is_some_and(|aud| aud.contains(&rules.audience))
    {
        return Err(refuse("aud does not name this resource"));
    }
    let Some(valid_for) = rules.window(claims.exp, claims.nbf).map_err(refuse)? else {
        return Err(refuse("no exp"));
    };
    let who = identity(claims.sub, claims.client_id, claims.scope.as_deref())
        .ok_or_else(|| refuse("neither sub nor client_id"))?;
    Ok((who, valid_for))
}

/// The identity a token names (RFC 9068 section 2.2, RFC 7662 section 2.2):
/// the key name is `sub`, or `client_id` without one; `scope` is
/// space-separated.
pub(crate) fn identity(
    sub: Option<String>,
    client_id: Option<String>,
    scope: Option<&str>,
) -> Option<Authenticated> {
    let name = sub.or(client_id)?;
    let scopes = scope
        .unwrap_or_default()
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .map(Box::from)
        .collect::<Vec<Box<str>>>();
    Some(Authenticated::new(name, scopes))
}

#[cfg(test)]
mod tests {
    use super::is_jwt_shaped;

    #[test]
    fn shapes() {
        assert!(is_jwt_shaped(b"eyJh.eyJz.c2ln"));
        assert!(
            is_jwt_shaped(b"eyJh.eyJz."),
            "alg none: refused, not passed on"
        );
        for not in [
            &b"opaque-token"[..],
            b"a.b",
            b"a.b.c.d",
            b".b.c",
            b"a..c",
            b"a+b.c.d",
            b"a.b.c=",
        ] {
            assert!(!is_jwt_shaped(not), "{}", String::from_utf8_lossy(not));
        }
    }
}
