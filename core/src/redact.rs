//! RPC URLs without their secrets, for logs, errors and `/health`.
//!
//! Provider URLs carry credentials in every part: `user:pass@` in the
//! authority, API keys as path segments (`/v3/<key>`) and in query strings
//! (`?apikey=`). [`redact_url`] keeps only the scheme, host and port, and
//! says that something was cut; [`redact_in`] scrubs a URL out of a
//! message (transport errors often quote the URL they failed on).

/// A secret token shortened for display: up to its last `_` (for
/// `sy_<role>_<hex>` API keys, the prefix that names the role) and 4 more
/// characters, then `…`; enough to tell keys apart, useless to a reader.
/// Tokens of 16 characters or fewer show only `…`.
pub fn redact_secret(token: &str) -> String {
    if token.chars().count() <= 16 {
        return "…".to_owned();
    }
    let prefix = token.rfind('_').map_or(0, |i| i + 1).min(16);
    let head: String = token.chars().take(prefix + 4).collect();
    format!("{head}…")
}

#[cfg(test)]
mod secret_tests {
    use super::redact_secret;

    #[test]
    fn a_token_shows_its_role_prefix_and_four_characters_only() {
        let t = format!("sy_merchant_{}", "ab".repeat(32));
        assert_eq!(redact_secret(&t), "sy_merchant_abab…");
        assert_eq!(redact_secret("short"), "…");
        assert!(!redact_secret(&t).contains(&"ab".repeat(3)));
    }
}

/// `scheme://host[:port]`, followed by `/…` when the URL had a path,
/// query or fragment beyond `/`. Credentials never survive.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "<url>".to_owned(),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let cut = !(tail.is_empty() || tail == "/");
    format!("{scheme}://{host}{}", if cut { "/…" } else { "" })
}

/// `message` with every occurrence of `url` (with or without a trailing
/// slash) replaced by its redacted form, and every other URL in it too
/// (HTTP clients quote the URL they failed on in their own spelling:
/// without the password, with the path and query).
pub fn redact_in(message: &str, url: &str) -> String {
    let red = redact_url(url);
    let mut out = message.replace(url, &red);
    let bare = url.trim_end_matches('/');
    if !bare.is_empty() && bare != url {
        out = out.replace(bare, &red);
    }
    redact_urls(&out)
}

/// `text` with every `http(s)://` or `ws(s)://` URL in it redacted; a URL
/// ends at whitespace or at one of `)"'<>,`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["http://", "https://", "ws://", "wss://"]
            .iter()
            .filter_map(|s| rest.find(s))
            .min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || ")\"'<>,".contains(c))
            .unwrap_or(tail.len());
        out.push_str(&redact_url(&tail[..end]));
        rest = &tail[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_scheme_host_and_port_and_drops_every_secret() {
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(
            redact_url("http://127.0.0.1:8545/"),
            "http://127.0.0.1:8545"
        );
        assert_eq!(
            redact_url("https://mainnet.infura.io/v3/0123456789abcdef"),
            "https://mainnet.infura.io/…"
        );
        assert_eq!(
            redact_url("https://user:secret@rpc.example:443/path?apikey=K"),
            "https://rpc.example:443/…"
        );
        assert_eq!(
            redact_url("wss://node.example?token=T"),
            "wss://node.example/…"
        );
        assert_eq!(redact_url("not a url"), "<url>");
        let msg = "error sending request for url (http://127.0.0.1:9/v3/KEY?apikey=Q)";
        let red = redact_in(msg, "http://u:p@127.0.0.1:9/v3/KEY?apikey=Q");
        assert_eq!(red, "error sending request for url (http://127.0.0.1:9/…)");
        let msg = "error sending request for url (https://a.example/key123/)";
        let red = redact_in(msg, "https://a.example/key123/");
        assert!(!red.contains("key123"), "{red}");
    }
}
