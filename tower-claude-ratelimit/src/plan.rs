//! What the layer does with a request before asking the store: pass it, or
//! limit it under a policy and a client key, or refuse it.

use http::{Extensions, HeaderMap, Method};
use tower_claude_core::{MissingPeerAddr, Rejection, routing_path};

use crate::key::{ClientKey, KeyInput};
use crate::layer::{Config, LAYER, Policy};
use crate::store::RateLimitStore;

/// What the layer does with a request before asking the store.
pub(crate) enum Plan {
    Pass,
    Limit(PolicyId, ClientKey),
    Refuse(Box<Rejection>),
}

/// A policy of a layer: a route's index, or the default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PolicyId(pub(crate) Option<usize>);

impl<St: RateLimitStore> Config<St> {
    pub(crate) fn plan(
        &self,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Plan {
        let path = uri.path();
        if self.exempt.is_match(method, path) {
            return Plan::Pass;
        }
        let (client_ip, missing) = match self.resolver.resolve(headers, extensions) {
            Ok(ip) => (Some(ip), None),
            Err(missing) => (None, Some(missing)),
        };
        if let Some(ip) = client_ip
            && self.exempt_ips.iter().any(|block| block.contains(ip))
        {
            return Plan::Pass;
        }
        let grouped = client_ip.map(|ip| self.ipv6_prefix.apply(ip));
        let chosen = self.key.as_ref().and_then(|extractor| {
            extractor.extract(&KeyInput {
                method,
                uri,
                headers,
                extensions,
                client_ip: grouped,
            })
        });
        let key = match (chosen, grouped) {
            (Some(key), _) => key,
            (None, Some(ip)) => ClientKey::ip(ip),
            (None, None) => return Plan::Refuse(Box::new(report_missing(missing))),
        };
        Plan::Limit(self.policy_for(method, path), key)
    }

    fn policy_for(&self, method: &Method, path: &str) -> PolicyId {
        if self.routes.is_empty() {
            return PolicyId(None);
        }
        let path = routing_path(path);
        PolicyId(
            self.routes
                .iter()
                .position(|r| r.rules.covers(method, &path)),
        )
    }

    /// The policy a request to `path` falls under, whether it is limited or
    /// not (for the metrics of requests that reach no store).
    #[cfg(feature = "metrics")]
    pub(crate) fn policy_of(&self, method: &Method, path: &str) -> &Policy<St::Bucket> {
        self.policy(self.policy_for(method, path))
    }

    pub(crate) fn policy(&self, id: PolicyId) -> &Policy<St::Bucket> {
        id.0.and_then(|index| self.routes.get(index))
            .map_or(&self.default, |route| &route.policy)
    }
}

fn report_missing(missing: Option<MissingPeerAddr>) -> Rejection {
    match missing {
        Some(missing) => missing.report(LAYER),
        // Unreachable: without a client address the resolver said why.
        None => Rejection::internal(
            "missing_client_address",
            "the server could not determine the client address",
        ),
    }
}
