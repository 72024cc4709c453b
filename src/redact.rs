//! Credentials written into remote URLs (`https://x-access-token:TOKEN@github.com/o/r.git`) must
//! never reach the terminal, `--json`, the journal or the manifest: those travel between CI jobs
//! and end up in logs. One function does it for every text that may quote a URL.

/// `text` with the user-information part of every `scheme://user:password@host` URL in it
/// replaced by `***` (`https://***@github.com/o/r.git`). Text without such a URL comes back
/// unchanged, so it is safe to apply to whole messages, remote names and paths.
pub fn redact_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the first `/`, `?`, `#` or anything that cannot be in a URL; the
        // credentials are what comes before its last `@` (a password may itself hold an `@`).
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '`')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("***");
                out.push_str(&authority[i..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn credentials_in_urls_are_replaced_wherever_they_appear() {
        assert_eq!(
            redact_url("http://x-access-token:SECRET@example.invalid/security.git"),
            "http://***@example.invalid/security.git"
        );
        assert_eq!(
            redact_url("fetching from `https://user:p@ss@host:8443/x` failed"),
            "fetching from `https://***@host:8443/x` failed"
        );
        assert_eq!(
            redact_url("a https://TOKEN@h and ssh://git@h2/p, twice"),
            "a https://***@h and ssh://***@h2/p, twice"
        );
        assert_eq!(redact_url("https://tok@host"), "https://***@host");
    }

    #[test]
    fn text_without_credentials_is_unchanged() {
        for text in [
            "security",
            "/srv/git/security.git",
            "git@github.com:o/r.git",
            "https://github.com/o/r.git",
            "file:///srv/a@b/r.git",
            "no url at all: a@b",
            "",
        ] {
            assert_eq!(redact_url(text), text);
        }
    }
}
