//! Public-path rules against the allowlist bypasses of the last decade.

use http::Method;
use proptest::prelude::*;
use tower_claude_core::PathRules;

fn rules() -> PathRules {
    PathRules::new().exact("/health").prefix("/docs")
}

#[test]
fn configured_paths_are_public() {
    let public = rules();
    for path in ["/health", "/docs", "/docs/intro", "/docs/a/b.html"] {
        assert!(public.is_match(&Method::GET, path), "{path}");
        assert!(public.is_match(&Method::POST, path), "{path}");
    }
}

#[test]
fn bypass_shapes_are_never_public() {
    let public = rules();
    let mut shapes = tower_claude_testkit::BYPASS_SHAPES.to_vec();
    // Shapes an HTTP client cannot send, but a raw socket or a proxy can.
    shapes.extend(["/docs\\..\\admin", "health", "", "*", "/health\u{0}"]);
    for path in shapes {
        assert!(
            !public.is_match(&Method::GET, path),
            "{path:?} must not be public"
        );
    }
}

#[test]
fn method_rules() {
    let public = PathRules::new()
        .exact_for(Method::GET, "/health")
        .prefix_for(Method::POST, "/hooks");
    assert!(public.is_match(&Method::GET, "/health"));
    assert!(public.is_match(&Method::HEAD, "/health"));
    assert!(!public.is_match(&Method::POST, "/health"));
    assert!(public.is_match(&Method::POST, "/hooks/github"));
    assert!(!public.is_match(&Method::GET, "/hooks/github"));
    assert!(!public.is_match(&Method::HEAD, "/hooks/github"));
}

#[test]
fn grpc_health_paths() {
    let public = PathRules::new()
        .exact("/grpc.health.v1.Health/Check")
        .exact("/grpc.health.v1.Health/Watch");
    assert!(public.is_match(&Method::POST, "/grpc.health.v1.Health/Check"));
    assert!(!public.is_match(&Method::POST, "/grpc.health.v1.Health/List"));
}

#[test]
fn unclean_configuration_is_refused() {
    for bad in [
        "health", "/health/", "/a//b", "/a/../b", "/a;b", "/a%2fb", "/a\\b", "/a b",
    ] {
        assert!(PathRules::new().try_exact(bad).is_err(), "{bad:?}");
    }
    assert!(PathRules::new().try_prefix("/").is_err());
    assert!(PathRules::new().try_prefix("").is_err());
    // A trailing slash on a prefix names the same subtree.
    let public = PathRules::new().prefix("/static/");
    assert!(public.is_match(&Method::GET, "/static/app.js"));
    assert!(public.is_match(&Method::GET, "/static"));
    assert!(!public.is_match(&Method::GET, "/staticx"));
}

#[test]
#[should_panic(expected = "invalid path")]
fn panicking_builder_names_the_path() {
    let _ = PathRules::new().exact("/a/../b");
}

#[test]
fn empty_rules_match_nothing() {
    assert!(!PathRules::new().is_match(&Method::GET, "/"));
    assert!(PathRules::new().exact("/").is_match(&Method::GET, "/"));
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

fn has_encoded_separator(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ["%2e", "%2f", "%5c", "%25", "%3b", "%00"]
        .iter()
        .any(|e| lower.contains(e))
        || path.contains('\\')
        || path.contains(';')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Whatever a client sends, a path the prefix rule accepts holds no dot
    /// segment, no empty segment and no encoded or alternative separator.
    #[test]
    fn accepted_paths_are_clean(
        tail in prop::collection::vec(
            prop_oneof![
                Just("/".to_owned()), Just(".".to_owned()), Just("..".to_owned()),
                Just("%2e".to_owned()), Just("%2E".to_owned()), Just("%2f".to_owned()),
                Just("%5c".to_owned()), Just("%25".to_owned()), Just("\\".to_owned()),
                Just(";".to_owned()), Just("%0a".to_owned()), "[a-zA-Z0-9_.~-]{1,6}",
            ],
            0..12,
        )
    ) {
        let path = format!("/docs{}", tail.concat());
        if rules().is_match(&Method::GET, &path) {
            prop_assert!(!has_dot_segment(&path), "{}", path);
            prop_assert!(!has_encoded_separator(&path), "{}", path);
            prop_assert!(!path.contains("//"), "{}", path);
            prop_assert!(path == "/docs" || path.starts_with("/docs/"), "{}", path);
        }
    }

    /// Arbitrary printable input never panics the matcher.
    #[test]
    fn any_input_is_answered(path in "\\PC{0,40}") {
        let _ = rules().is_match(&Method::GET, &path);
    }
}
