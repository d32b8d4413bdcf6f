//! Well-known URLs: where an issuer's metadata (RFC 8414, OpenID Connect
//! Discovery) and a resource's metadata (RFC 9728) live.

use http::Uri;

/// `https://host[:port]/.well-known/<name><path>`: the well-known part goes
/// between the host and the path (RFC 8414 section 3.1, RFC 9728 section
/// 3.1); a path of `/` counts as none.
pub(crate) fn inserted(uri: &Uri, name: &str) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    // Only the slash that follows the host goes (a path of `/`); a path's own
    // terminating slash stays part of it.
    let path = match uri.path() {
        "/" => "",
        path => path,
    };
    Some(format!("{scheme}://{authority}/.well-known/{name}{path}"))
}

/// `<issuer>/.well-known/openid-configuration`: OpenID Connect Discovery
/// appends it to the issuer.
pub(crate) fn appended(uri: &Uri, name: &str) -> Option<String> {
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    let path = uri.path().trim_end_matches('/');
    Some(format!("{scheme}://{authority}{path}/.well-known/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8414_and_9728_insert_openid_appends() {
        let bare: Uri = "https://as.example".parse().unwrap();
        let tenant: Uri = "https://as.example/tenant/1".parse().unwrap();
        assert_eq!(
            inserted(&bare, "oauth-authorization-server").unwrap(),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        // RFC 8414 section 3.1's example.
        assert_eq!(
            inserted(&tenant, "oauth-authorization-server").unwrap(),
            "https://as.example/.well-known/oauth-authorization-server/tenant/1"
        );
        // RFC 9728 section 3.1's example: resource https://resource.example.com/resource1.
        let resource: Uri = "https://resource.example.com/resource1".parse().unwrap();
        assert_eq!(
            inserted(&resource, "oauth-protected-resource").unwrap(),
            "https://resource.example.com/.well-known/oauth-protected-resource/resource1"
        );
        assert_eq!(
            appended(&tenant, "openid-configuration").unwrap(),
            "https://as.example/tenant/1/.well-known/openid-configuration"
        );
        assert_eq!(
            appended(
                &"http://127.0.0.1:9000/".parse().unwrap(),
                "openid-configuration"
            )
            .unwrap(),
            "http://127.0.0.1:9000/.well-known/openid-configuration"
        );
    }
}
