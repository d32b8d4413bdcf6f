//! The JSON error body, written without a JSON library.

/// `{"error":{"message":...,"type":...,"code":...}}` with every string escaped.
pub(crate) fn error_body(message: &str, kind: &str, code: &str) -> String {
    let mut out = String::with_capacity(48 + message.len() + kind.len() + code.len());
    out.push_str(r#"{"error":{"message":"#);
    push_string(&mut out, message);
    out.push_str(r#","type":"#);
    push_string(&mut out, kind);
    out.push_str(r#","code":"#);
    push_string(&mut out, code);
    out.push_str("}}");
    out
}

/// Appends `value` as a JSON string literal (RFC 8259 section 7).
fn push_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_string() {
        assert_eq!(
            error_body("say \"hi\"\n\\ \u{1}", "t", "c"),
            r#"{"error":{"message":"say \"hi\"\n\\ \u0001","type":"t","code":"c"}}"#
        );
        assert_eq!(
            error_body("é", "authentication_error", "missing_token"),
            r#"{"error":{"message":"é","type":"authentication_error","code":"missing_token"}}"#
        );
    }
}
