//! Typed values of the single-token headers, and `Permissions-Policy`.

use http::HeaderValue;

use crate::HeaderConfigError;

macro_rules! token_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The header value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub(crate) fn value(self) -> HeaderValue {
                HeaderValue::from_static(self.as_str())
            }
        }
    };
}

token_enum! {
    /// `X-Frame-Options`.
    FrameOptions {
        /// `DENY`: never in a frame.
        Deny => "DENY",
        /// `SAMEORIGIN`: only in frames of the same origin.
        SameOrigin => "SAMEORIGIN",
    }
}

token_enum! {
    /// `Referrer-Policy`.
    ReferrerPolicy {
        /// `no-referrer`.
        NoReferrer => "no-referrer",
        /// `no-referrer-when-downgrade`.
        NoReferrerWhenDowngrade => "no-referrer-when-downgrade",
        /// `origin`.
        Origin => "origin",
        /// `origin-when-cross-origin`.
        OriginWhenCrossOrigin => "origin-when-cross-origin",
        /// `same-origin`.
        SameOrigin => "same-origin",
        /// `strict-origin`.
        StrictOrigin => "strict-origin",
        /// `strict-origin-when-cross-origin` (browsers' default).
        StrictOriginWhenCrossOrigin => "strict-origin-when-cross-origin",
        /// `unsafe-url`.
        UnsafeUrl => "unsafe-url",
    }
}

token_enum! {
    /// `Cross-Origin-Opener-Policy`.
    CrossOriginOpenerPolicy {
        /// `same-origin`.
        SameOrigin => "same-origin",
        /// `same-origin-allow-popups`.
        SameOriginAllowPopups => "same-origin-allow-popups",
        /// `noopener-allow-popups`.
        NoopenerAllowPopups => "noopener-allow-popups",
        /// `unsafe-none`.
        UnsafeNone => "unsafe-none",
    }
}

token_enum! {
    /// `Cross-Origin-Embedder-Policy`.
    CrossOriginEmbedderPolicy {
        /// `require-corp`.
        RequireCorp => "require-corp",
        /// `credentialless`.
        Credentialless => "credentialless",
        /// `unsafe-none`.
        UnsafeNone => "unsafe-none",
    }
}

token_enum! {
    /// `Cross-Origin-Resource-Policy`.
    CrossOriginResourcePolicy {
        /// `same-origin`.
        SameOrigin => "same-origin",
        /// `same-site`.
        SameSite => "same-site",
        /// `cross-origin`.
        CrossOrigin => "cross-origin",
    }
}

/// `Permissions-Policy`, a structured-field dictionary (RFC 8941) of features
/// and the origins allowed to use them.
///
/// ```
/// use tower_claude_headers::security::PermissionsPolicy;
///
/// let policy = PermissionsPolicy::new()
///     .deny("camera")
///     .allow_self("fullscreen")
///     .allow("geolocation", ["self", "https://maps.example"]);
/// assert_eq!(
///     policy.value().unwrap(),
///     r#"camera=(), fullscreen=self, geolocation=(self "https://maps.example")"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionsPolicy {
    features: Vec<(String, Vec<String>)>,
}

impl PermissionsPolicy {
    /// An empty policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// The powerful features a JSON API or a plain web app never needs, all off.
    pub fn deny_powerful_features() -> Self {
        [
            "accelerometer",
            "autoplay",
            "camera",
            "display-capture",
            "geolocation",
            "gyroscope",
            "magnetometer",
            "microphone",
            "midi",
            "payment",
            "usb",
        ]
        .into_iter()
        .fold(Self::new(), Self::deny)
    }

    /// Turns `feature` off everywhere: `feature=()`.
    #[must_use]
    pub fn deny(self, feature: &str) -> Self {
        self.allow(feature, [""; 0])
    }

    /// Allows `feature` for this origin only: `feature=self`.
    #[must_use]
    pub fn allow_self(self, feature: &str) -> Self {
        self.allow(feature, ["self"])
    }

    /// Allows `feature` for these origins (`self`, `*` or quoted origins such as
    /// `https://a.example`).
    #[must_use]
    pub fn allow(
        mut self,
        feature: &str,
        origins: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Self {
        let origins = origins
            .into_iter()
            .map(|origin| origin.as_ref().to_owned())
            .collect();
        match self.features.iter_mut().find(|(f, _)| f == feature) {
            Some((_, existing)) => *existing = origins,
            None => self.features.push((feature.to_owned(), origins)),
        }
        self
    }

    /// The header value.
    ///
    /// # Errors
    /// When a feature is not a structured-field key or an origin holds a quote,
    /// a backslash or a byte outside visible ASCII.
    pub fn value(&self) -> Result<HeaderValue, HeaderConfigError> {
        let mut text = String::new();
        for (i, (feature, origins)) in self.features.iter().enumerate() {
            let key_ok = feature
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'*')
                && feature
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.*".contains(&b));
            if !key_ok {
                return Err(HeaderConfigError::InvalidPermission(feature.clone()));
            }
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(feature);
            text.push('=');
            let items: Result<Vec<String>, _> = origins
                .iter()
                .map(|origin| match origin.as_str() {
                    "self" | "*" => Ok(origin.clone()),
                    o if !o.is_empty()
                        && o.bytes()
                            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\') =>
                    {
                        Ok(format!("\"{o}\""))
                    }
                    o => Err(HeaderConfigError::InvalidPermission(o.to_owned())),
                })
                .collect();
            let items = items?;
            match items.as_slice() {
                [single] if single == "self" || single == "*" => text.push_str(single),
                _ => {
                    text.push('(');
                    text.push_str(&items.join(" "));
                    text.push(')');
                }
            }
        }
        HeaderValue::from_str(&text).map_err(|_| HeaderConfigError::InvalidValue(text))
    }
}
