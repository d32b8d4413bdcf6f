//! `Content-Security-Policy`, with optional per-request nonces.

use http::HeaderValue;

use crate::HeaderConfigError;

/// A Content Security Policy, directive by directive.
///
/// ```
/// use tower_claude_headers::security::Csp;
///
/// let csp = Csp::new()
///     .directive("default-src", ["'self'"])
///     .directive("img-src", ["'self'", "data:"])
///     .report_to("csp-endpoint");
/// assert_eq!(
///     csp.value().unwrap(),
///     "default-src 'self';img-src 'self' data:;report-to csp-endpoint"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csp {
    directives: Vec<(String, Vec<String>)>,
}

impl Csp {
    /// An empty policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a directive's sources, replacing the directive if it was set. A
    /// directive without sources (`upgrade-insecure-requests`) takes an empty list.
    #[must_use]
    pub fn directive(
        mut self,
        name: &str,
        sources: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Self {
        let sources: Vec<String> = sources
            .into_iter()
            .map(|source| source.as_ref().to_owned())
            .collect();
        match self.directives.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = sources,
            None => self.directives.push((name.to_owned(), sources)),
        }
        self
    }

    /// Sets a directive that takes no sources, such as
    /// `upgrade-insecure-requests`.
    #[must_use]
    pub fn flag(self, name: &str) -> Self {
        self.directive(name, [""; 0])
    }

    /// Removes a directive.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.directives.retain(|(n, _)| n != name);
        self
    }

    /// `report-uri <uri>` (deprecated by CSP3, still the one most browsers send to).
    #[must_use]
    pub fn report_uri(self, uri: &str) -> Self {
        self.directive("report-uri", [uri])
    }

    /// `report-to <group>`, naming a `Reporting-Endpoints` entry.
    #[must_use]
    pub fn report_to(self, group: &str) -> Self {
        self.directive("report-to", [group])
    }

    /// The directives and their sources.
    pub fn directives(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.directives
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
    }

    /// The header value, validated.
    ///
    /// # Errors
    /// When a directive name is not lowercase letters and dashes, or a source
    /// holds `;`, `,`, whitespace or a byte outside visible ASCII (each would
    /// let one entry rewrite the rest of the policy).
    pub fn value(&self) -> Result<HeaderValue, HeaderConfigError> {
        let text = self.template(false)?.concat();
        HeaderValue::from_str(&text).map_err(|_| HeaderConfigError::InvalidValue(text))
    }

    /// The policy as text pieces; with `nonce`, `script-src` and `style-src`
    /// (made from `default-src` when missing) end in a gap for the nonce, and the
    /// pieces alternate text and gaps.
    pub(crate) fn template(&self, nonce: bool) -> Result<Vec<String>, HeaderConfigError> {
        let mut directives = self.directives.clone();
        for (name, sources) in &directives {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                return Err(HeaderConfigError::InvalidDirective(name.clone()));
            }
            for source in sources {
                let bad = source.is_empty()
                    || !source
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
                if bad {
                    return Err(HeaderConfigError::InvalidSource(source.clone()));
                }
            }
        }
        if nonce {
            let fallback: Vec<String> = directives
                .iter()
                .find(|(n, _)| n == "default-src")
                .map(|(_, s)| s.clone())
                .unwrap_or_default();
            for name in ["script-src", "style-src"] {
                if !directives.iter().any(|(n, _)| n == name) {
                    directives.push((name.to_owned(), fallback.clone()));
                }
            }
        }
        let mut pieces = Vec::new();
        let mut current = String::new();
        for (i, (name, sources)) in directives.iter().enumerate() {
            if i > 0 {
                current.push(';');
            }
            current.push_str(name);
            let takes_nonce = nonce && (name == "script-src" || name == "style-src");
            // `'none'` must stand alone; a nonce replaces it.
            for source in sources.iter().filter(|s| !(takes_nonce && *s == "'none'")) {
                current.push(' ');
                current.push_str(source);
            }
            if takes_nonce {
                current.push(' ');
                pieces.push(std::mem::take(&mut current));
            }
        }
        pieces.push(current);
        Ok(pieces)
    }
}

/// The SHA-256 of 32 zero bytes' worth of base64: a valid hash source whose
/// script nobody can write (it would need a SHA-256 preimage of zero).
pub(crate) const UNMATCHABLE: &str = "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='";

/// A template filled with one nonce per response.
#[derive(Debug, Clone)]
pub(crate) struct NonceTemplate {
    pieces: Vec<String>,
    len: usize,
}

impl NonceTemplate {
    pub(crate) fn new(pieces: Vec<String>) -> Self {
        let len = pieces.iter().map(String::len).sum();
        Self { pieces, len }
    }

    /// The policy with `'nonce-<nonce>'` in each directive that takes it,
    /// or, without a nonce (the operating system refused randomness),
    /// [`UNMATCHABLE`]: a source no script matches that still turns
    /// `'unsafe-inline'` off, as a nonce does in CSP3 browsers (an empty
    /// `'nonce-'` is invalid, ignored, and would leave it on).
    pub(crate) fn render(&self, nonce: Option<&str>) -> Option<HeaderValue> {
        let source_len = nonce.map_or(UNMATCHABLE.len(), |n| n.len() + 9);
        let mut text = String::with_capacity(self.len + source_len * 2);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                match nonce {
                    Some(nonce) => {
                        text.push_str("'nonce-");
                        text.push_str(nonce);
                        text.push('\'');
                    }
                    None => text.push_str(UNMATCHABLE),
                }
            }
            text.push_str(piece);
        }
        HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_goes_into_script_and_style_src() {
        let csp = Csp::new()
            .directive("default-src", ["'self'"])
            .directive("script-src", ["'self'"]);
        let template = NonceTemplate::new(csp.template(true).unwrap());
        assert_eq!(
            template.render(Some("abc")).unwrap(),
            "default-src 'self';script-src 'self' 'nonce-abc';style-src 'self' 'nonce-abc'"
        );
        let none = Csp::new().directive("default-src", ["'none'"]);
        assert_eq!(
            NonceTemplate::new(none.template(true).unwrap())
                .render(Some("n"))
                .unwrap(),
            "default-src 'none';script-src 'nonce-n';style-src 'nonce-n'"
        );
    }

    /// Without a nonce, the directives get a hash source nobody can match,
    /// which keeps `'unsafe-inline'` off as a nonce would: fail closed.
    #[test]
    fn no_nonce_fails_closed() {
        let csp = Csp::new().directive("script-src", ["'self'", "'unsafe-inline'"]);
        let rendered = NonceTemplate::new(csp.template(true).unwrap())
            .render(None)
            .unwrap();
        assert_eq!(
            rendered,
            format!("script-src 'self' 'unsafe-inline' {UNMATCHABLE};style-src {UNMATCHABLE}")
        );
        assert!(!rendered.to_str().unwrap().contains("'nonce-"));
    }

    #[test]
    fn refuses_injection() {
        for bad in ["'self'; script-src *", "a,b", "", "a b", "é"] {
            assert!(
                Csp::new().directive("default-src", [bad]).value().is_err(),
                "{bad:?}"
            );
        }
        assert!(
            Csp::new()
                .directive("Default-Src", ["'self'"])
                .value()
                .is_err()
        );
        assert!(Csp::new().directive("", ["'self'"]).value().is_err());
    }
}
