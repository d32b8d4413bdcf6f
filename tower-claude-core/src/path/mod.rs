//! Public-path rules that agree with the router and fail closed.
//!
//! axum (like most Rust routers) routes the raw request path: it neither decodes
//! `%68ealth` nor collapses `//health` nor strips `;x`. So does this matcher: a
//! path is public only when it *is* a configured path, byte for byte, or lies
//! under a configured prefix segment by segment. And because something in front
//! of or behind the service (a proxy, `ServeDir`, `NormalizePath`) may resolve a
//! path differently, a path that some component could read two ways is never
//! public at all: `.` and `..` segments, empty segments (`//`, a trailing `/`),
//! any percent-encoding (`%2e`, `%2f`, `%5c`, `%25`...), a backslash, a `;`, or a
//! control byte. Such a request is simply not on the allowlist and goes through
//! the normal checks. Each allowlist bypass in Spring Security, Apache Shiro,
//! Envoy, Istio, Traefik, Quarkus and fastify was one of these shapes.

mod routing;
pub use routing::routing_path;

use std::fmt;
use std::sync::Arc;

use http::Method;

use crate::ConfigError;

/// A set of public paths: exact paths and segment-aware prefixes, each for every
/// method or for one.
///
/// A rule for `GET` also covers `HEAD`, as routers serve `HEAD` with the `GET`
/// handler.
///
/// ```
/// use http::Method;
/// use tower_claude_core::PathRules;
///
/// let public = PathRules::new().exact("/health").prefix("/docs");
/// assert!(public.is_match(&Method::GET, "/health"));
/// assert!(public.is_match(&Method::GET, "/docs/intro"));
/// for attack in ["//health", "/health/", "/%68ealth", "/docs/..%2fadmin", "/docsx", "/health;/../admin"] {
///     assert!(!public.is_match(&Method::GET, attack), "{attack}");
/// }
/// ```
#[derive(Clone, Default)]
pub struct PathRules {
    exact: Arc<[Rule]>,
    prefixes: Arc<[Rule]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    path: Box<str>,
    method: Option<Method>,
}

impl Rule {
    fn allows(&self, method: &Method) -> bool {
        match &self.method {
            None => true,
            Some(m) => m == method || (*m == Method::GET && *method == Method::HEAD),
        }
    }
}

impl PathRules {
    /// No public paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `path` public for every method.
    ///
    /// # Panics
    /// When `path` is not a clean absolute path (see [`try_exact`](Self::try_exact)).
    /// Like axum's `Router::route`, configuration written in the source fails
    /// at start-up, loudly.
    #[must_use]
    pub fn exact(self, path: &str) -> Self {
        or_panic(self.try_exact(path))
    }

    /// Makes everything under `prefix` public for every method: `/docs` covers
    /// `/docs` and `/docs/...`, never `/docsx`. A trailing `/` is ignored.
    ///
    /// # Panics
    /// When `prefix` is not a clean absolute path, or is `/` (see [`try_prefix`](Self::try_prefix)).
    #[must_use]
    pub fn prefix(self, prefix: &str) -> Self {
        or_panic(self.try_prefix(prefix))
    }

    /// Makes `path` public for `method` only.
    ///
    /// # Panics
    /// As [`exact`](Self::exact).
    #[must_use]
    pub fn exact_for(self, method: Method, path: &str) -> Self {
        or_panic(self.try_add(Some(method), path, false))
    }

    /// Makes everything under `prefix` public for `method` only.
    ///
    /// # Panics
    /// As [`prefix`](Self::prefix).
    #[must_use]
    pub fn prefix_for(self, method: Method, prefix: &str) -> Self {
        or_panic(self.try_add(Some(method), prefix, true))
    }

    /// Makes `path` public for every method.
    ///
    /// # Errors
    /// When `path` does not start with `/` or has a shape that is never public
    /// (a dot or empty segment, a trailing `/`, `%`, `\`, `;`, a control byte).
    pub fn try_exact(self, path: &str) -> Result<Self, ConfigError> {
        self.try_add(None, path, false)
    }

    /// Makes everything under `prefix` public for every method.
    ///
    /// # Errors
    /// As [`try_exact`](Self::try_exact), and when `prefix` is `/`, which would
    /// make every path public.
    pub fn try_prefix(self, prefix: &str) -> Result<Self, ConfigError> {
        self.try_add(None, prefix, true)
    }

    /// Makes each of `paths` public for every method: the list form the
    /// layers' `*_paths` settings take.
    ///
    /// # Errors
    /// The first path [`try_exact`](Self::try_exact) refuses.
    pub fn try_exact_all(
        mut self,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ConfigError> {
        for path in paths {
            self = self.try_exact(path.as_ref())?;
        }
        Ok(self)
    }

    /// Makes everything under each of `prefixes` public for every method.
    ///
    /// # Errors
    /// The first prefix [`try_prefix`](Self::try_prefix) refuses.
    pub fn try_prefix_all(
        mut self,
        prefixes: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, ConfigError> {
        for prefix in prefixes {
            self = self.try_prefix(prefix.as_ref())?;
        }
        Ok(self)
    }

    /// Adds a rule for an optional method.
    ///
    /// # Errors
    /// As [`try_exact`](Self::try_exact) and [`try_prefix`](Self::try_prefix).
    pub fn try_add(
        mut self,
        method: Option<Method>,
        path: &str,
        is_prefix: bool,
    ) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidPath {
            path: path.to_owned(),
            reason,
        };
        let mut clean = path;
        if is_prefix && clean.len() > 1 {
            clean = clean.strip_suffix('/').unwrap_or(clean);
        }
        if !clean.starts_with('/') {
            return Err(invalid("a public path must start with `/`"));
        }
        if is_prefix && clean == "/" {
            return Err(invalid(
                "the prefix `/` would make every path public; leave the layer off instead",
            ));
        }
        if let Some(reason) = ambiguity(clean) {
            return Err(invalid(reason));
        }
        let rule = Rule {
            path: clean.into(),
            method,
        };
        let list = if is_prefix {
            &mut self.prefixes
        } else {
            &mut self.exact
        };
        let mut rules = list.to_vec();
        rules.push(rule);
        *list = rules.into();
        Ok(self)
    }

    /// Whether no rule is configured.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    /// Whether a request with this method and raw path (`uri.path()`, undecoded)
    /// is public.
    pub fn is_match(&self, method: &Method, raw_path: &str) -> bool {
        !self.is_empty() && !is_ambiguous_path(raw_path) && self.covers(method, raw_path)
    }

    /// Whether `path` is one of the rules' paths, taken as given: ambiguous
    /// shapes are *not* refused. For choosing the stricter of two treatments
    /// after normalizing a path (a rate limiter's route quotas), never for
    /// granting access: use [`is_match`](Self::is_match) for that.
    pub fn covers(&self, method: &Method, path: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        self.exact
            .iter()
            .any(|rule| *rule.path == *path && rule.allows(method))
            || self
                .prefixes
                .iter()
                .any(|rule| is_under(path, &rule.path) && rule.allows(method))
    }
}

fn or_panic(result: Result<PathRules, ConfigError>) -> PathRules {
    match result {
        Ok(rules) => rules,
        Err(error) => panic!("{error}"),
    }
}

/// `path` equals `prefix` or continues it with a new segment.
fn is_under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether some component could read `path` as a different path than its bytes
/// say. Such a path is never public.
pub fn is_ambiguous_path(path: &str) -> bool {
    ambiguity(path).is_some()
}

/// How the ambiguity check sees each byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Plain,
    Slash,
    Dot,
    Percent,
    Backslash,
    Semicolon,
    Control,
}

static BYTE_CLASS: [ByteClass; 256] = {
    let mut table = [ByteClass::Plain; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'/' => ByteClass::Slash,
            b'.' => ByteClass::Dot,
            b'%' => ByteClass::Percent,
            b'\\' => ByteClass::Backslash,
            b';' => ByteClass::Semicolon,
            0..=0x20 | 0x7f..=0xff => ByteClass::Control,
            _ => ByteClass::Plain,
        };
        b += 1;
    }
    table
};

fn ambiguity(path: &str) -> Option<&'static str> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Some("not an absolute path");
    }
    if bytes.len() == 1 {
        return None;
    }
    // One pass over the bytes after the leading slash. A segment is judged when
    // its closing slash (or the end) arrives: empty, or one or two dots only.
    let classes = std::hint::black_box(&BYTE_CLASS);
    let (mut len, mut dots) = (0usize, 0usize);
    for &byte in &bytes[1..] {
        match classes[usize::from(byte)] {
            ByteClass::Plain => len += 1,
            ByteClass::Dot => {
                len += 1;
                dots += 1;
            }
            ByteClass::Slash => {
                if let Some(reason) = bad_segment(len, dots) {
                    return Some(reason);
                }
                (len, dots) = (0, 0);
            }
            ByteClass::Percent => {
                return Some("percent-encoding is decoded differently along the chain");
            }
            ByteClass::Backslash => return Some("a backslash is a separator to some servers"),
            ByteClass::Semicolon => {
                return Some("`;` starts path parameters that some servers strip");
            }
            ByteClass::Control => return Some("control, space or non-ASCII byte"),
        }
    }
    bad_segment(len, dots)
}

fn bad_segment(len: usize, dots: usize) -> Option<&'static str> {
    if len == 0 {
        Some("an empty segment (`//` or a trailing `/`) is collapsed by some servers")
    } else if len <= 2 && dots == len {
        Some("a dot segment is resolved by some servers")
    } else {
        None
    }
}

impl fmt::Debug for PathRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |rules: &[Rule]| {
            rules
                .iter()
                .map(|r| match &r.method {
                    Some(m) => format!("{m} {}", r.path),
                    None => r.path.to_string(),
                })
                .collect::<Vec<_>>()
        };
        f.debug_struct("PathRules")
            .field("exact", &list(&self.exact))
            .field("prefixes", &list(&self.prefixes))
            .finish()
    }
}
