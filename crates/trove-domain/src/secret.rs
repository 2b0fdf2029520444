//! Secrets in locations: the one redactor every message, listing, marker and `Debug` output
//! goes through.
//!
//! A catalog URL may carry a password in its userinfo (`postgresql://user:PASSWORD@host/db`)
//! or in its query (`?password=...`, `?sslpassword=...`); [`redact_url`] replaces both with
//! [`REDACTED`]. Anything else that holds a secret (cloud keys, tokens) prints [`REDACTED`] in
//! its `Debug` impl.

/// What a secret is replaced with wherever it would be shown.
pub const REDACTED: &str = "***";

/// Words that make a URL query parameter secret when its (percent-decoded, case-insensitive)
/// name contains one: `password`, `sslpassword`, `PGPASSWORD`, `access_token`, `X-Amz-Signature`...
const SECRET_WORDS: &[&str] =
    &["password", "passwd", "pwd", "secret", "token", "credential", "signature", "apikey", "api_key"];

/// Whether a URL query parameter called `name` carries a secret. `name` may be percent-encoded
/// (`pass%77ord`) or form-encoded; case does not matter.
pub fn is_secret_param(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `location` with every secret replaced by [`REDACTED`]: the password of the userinfo
/// (`user:***@host`) and the value of every query parameter [`is_secret_param`] names
/// (`?password=***`). Strings that are not URLs (local paths) come back unchanged.
///
/// Malformed URLs are redacted generously: a userinfo whose password holds an unencoded `/`,
/// `?` or `#` is recognised by its last `@`, and the query is everything after the first `?`
/// (a `#` in a value does not end it), so a careless URL over-redacts rather than leaks.
pub fn redact_url(location: &str) -> String {
    let Some(colon) = scheme_end(location) else {
        return location.to_owned();
    };
    let mut out = String::with_capacity(location.len());
    out.push_str(&location[..=colon]);
    let mut rest = &location[colon + 1..];
    if let Some(after) = rest.strip_prefix("//") {
        out.push_str("//");
        rest = after;
        if let Some(at) = userinfo_end(rest) {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(c) => {
                    out.push_str(&userinfo[..=c]);
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            rest = &rest[at..];
        }
    }
    let Some(q) = rest.find('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(&rest[..=q]);
    for (i, pair) in rest[q + 1..].split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => {
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    out
}

/// `text` with every URL in it passed through [`redact_url`]: words (runs of characters other
/// than whitespace and quotes) that contain `://`, for messages that quote arbitrary input back.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains("://") {
            out.push_str(&redact_url(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '\'' | '"' | '`') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The secrets written in `text`'s URLs, for callers that must also find them outside a URL
/// (a log line that quotes a password alone): each userinfo password and each secret query
/// value (as [`redact_url`] recognises them), as written and percent-decoded. Empty values are
/// left out.
pub fn url_secrets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |raw: &str| {
        if raw.is_empty() {
            return;
        }
        // `+` is a space in a form-encoded query, a plus sign in a userinfo: keep both readings.
        for v in [raw.to_owned(), percent_decode(raw), percent_decode(&raw.replace('+', "%2B"))] {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    };
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`')) {
        let Some(start) = word.find("://") else { continue };
        // The scheme is the run of scheme characters before `://` (`--db=postgresql://...`).
        let scheme_start = word[..start]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let url = &word[scheme_start..];
        let Some(colon) = scheme_end(url) else { continue };
        let mut rest = &url[colon + 3..];
        if let Some(at) = userinfo_end(rest) {
            if let Some((_, pw)) = rest[..at].split_once(':') {
                push(pw);
            }
            rest = &rest[at..];
        }
        if let Some(q) = rest.find('?') {
            for pair in rest[q + 1..].split('&') {
                if let Some((name, value)) = pair.split_once('=')
                    && is_secret_param(name)
                {
                    push(value);
                }
            }
        }
    }
    out
}

/// The index of the `:` ending a URL scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`),
/// if `s` starts with one of at least two characters (so `C:\dir` is a path, not a URL).
fn scheme_end(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && scheme.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(colon)
}

/// The index of the `@` ending the userinfo of an authority-first string (`user:pw@host/...`).
/// A well-formed authority ends at the first `/`, `?` or `#`; when it has no `@`, a later `@`
/// may still close a password holding one of those characters unencoded: take the last.
fn userinfo_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..authority_end].rfind('@').or_else(|| rest.rfind('@'))
}

/// Percent-decoding (`%41` is `A`, `+` is a space, as in form-encoded queries); invalid escapes
/// stay as they are, and invalid UTF-8 is replaced.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_raw_and_decoded() {
        let found = url_secrets("--db=postgresql://u:p%40ss+w@h/db?sslpassword=k%2By&x=1 other s3://b/k");
        for want in ["p%40ss+w", "p@ss w", "p@ss+w", "k%2By", "k+y"] {
            assert!(found.iter().any(|f| f == want), "{want} not in {found:?}");
        }
        assert!(!found.iter().any(|f| f == "1"), "a plain parameter is no secret: {found:?}");
        assert!(url_secrets("no url here, nor a password").is_empty());
        assert!(url_secrets("postgresql://u:@h/db").is_empty());
    }

    #[test]
    fn redaction_table() {
        let table: &[(&str, &str)] = &[
            // userinfo
            ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
            ("postgres://u:secret@h/db", "postgres://u:***@h/db"),
            ("postgresql://u@h/db", "postgresql://u@h/db"),
            ("postgresql://h/db", "postgresql://h/db"),
            ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:p%40ss%2Fw%3Fd@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u%3Ax:pw@h/db", "postgresql://u%3Ax:***@h/db"),
            // unencoded '@', '/', '?', '#' in the password: over-redact, never leak
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:pa/ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db"),
            ("postgresql://u:pa#ss@h/db", "postgresql://u:***@h/db"),
            // query parameters
            ("postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***"),
            (
                "postgresql://h/db?sslmode=require&password=secret&user=u",
                "postgresql://h/db?sslmode=require&password=***&user=u",
            ),
            ("postgresql://h/db?PASSWORD=secret", "postgresql://h/db?PASSWORD=***"),
            ("postgresql://h/db?sslpassword=secret", "postgresql://h/db?sslpassword=***"),
            ("postgresql://h/db?pass%77ord=secret", "postgresql://h/db?pass%77ord=***"),
            ("postgresql://h/db?%50ASSWORD=secret", "postgresql://h/db?%50ASSWORD=***"),
            ("postgresql://h/db?password=sec%26ret", "postgresql://h/db?password=***"),
            ("postgresql://h/db?password=a#b&c", "postgresql://h/db?password=***&c"),
            (
                "postgresql://h/db?auth_token=t&client_secret=s&db_password=p",
                "postgresql://h/db?auth_token=***&client_secret=***&db_password=***",
            ),
            ("postgresql://h/db?application_name=a@b", "postgresql://h/db?application_name=a@b"),
            (
                "postgresql://u:pw@h/db?application_name=x&password=q",
                "postgresql://u:***@h/db?application_name=x&password=***",
            ),
            (
                "https://b.s3.example/k?X-Amz-Signature=abc&X-Amz-Credential=AK",
                "https://b.s3.example/k?X-Amz-Signature=***&X-Amz-Credential=***",
            ),
            // not secret, or not a URL
            ("sqlite:///data/.trove/trove.db?mode=rwc", "sqlite:///data/.trove/trove.db?mode=rwc"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("/home/me/data", "/home/me/data"),
            ("/home/me/a:b@c?password=x", "/home/me/a:b@c?password=x"),
            ("s3://bucket/prefix", "s3://bucket/prefix"),
            ("", ""),
        ];
        for (input, want) in table {
            assert_eq!(&redact_url(input), want, "redact_url({input:?})");
        }
    }

    #[test]
    fn urls_inside_text() {
        assert_eq!(
            redact_urls_in("error: unexpected argument 'postgresql://u:pw@h/db' found\n  at x"),
            "error: unexpected argument 'postgresql://u:***@h/db' found\n  at x"
        );
        assert_eq!(redact_urls_in("a \"s3://b/p?token=t\" b"), "a \"s3://b/p?token=***\" b");
        assert_eq!(redact_urls_in("plain: text?password=x"), "plain: text?password=x", "no URL, no change");
    }

    #[test]
    fn redaction_is_idempotent() {
        for s in ["postgresql://u:pw@h/db?password=x", "postgresql://u:pa/ss@h/db?token=1"] {
            let once = redact_url(s);
            assert_eq!(redact_url(&once), once);
        }
    }

    #[test]
    fn secret_parameter_names() {
        for name in ["password", "Password", "sslpassword", "PGPASSWORD", "pass%77ord", "pass+word_x_secret", "token"] {
            assert!(is_secret_param(name), "{name}");
        }
        for name in ["user", "sslmode", "sslkey", "sslcert", "application_name", "host", "dbname"] {
            assert!(!is_secret_param(name), "{name}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("pass%77ord"), "password");
        assert_eq!(percent_decode("a+b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
