//! `[console]`: the operators' web page, on its own port.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::parse_listen;
use crate::error::{Error, Result};

/// The operators' console.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Listen address of the page (`HOST:PORT`), its own port. Its origin
    /// (`http://HOST:PORT`, and `http://localhost:PORT` on the loopback)
    /// may call the API without being listed in `server.allowed_origins`.
    #[serde(deserialize_with = "console_listen_of")]
    pub listen: SocketAddr,
    /// The API's WebSocket URL as browsers reach it
    /// (`wss://ops.example/rpc` behind a proxy). Default: `ws://` + the
    /// host the page was loaded from + the port of `server.listen`.
    #[serde(default)]
    pub api_url: Option<String>,
}

pub(super) fn console_listen_of<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<SocketAddr, D::Error> {
    let s = String::deserialize(d)?;
    parse_listen("console.listen", &s).map_err(serde::de::Error::custom)
}

impl ConsoleConfig {
    /// Refuses a console that would let anyone operate (no `[auth]` off the
    /// loopback) or send keys across a network in clear, and an API URL
    /// that could not go into the page's policy.
    pub fn validate(&self, with_auth: bool) -> Result<()> {
        let c = self;
        if !with_auth && !c.listen.ip().is_loopback() {
            return Err(Error::invalid(
                "console.listen",
                format!(
                    "{} is not a loopback address: without an [auth] section the console would let anyone operate; add [auth] or listen on 127.0.0.1",
                    c.listen
                ),
            ));
        }
        // Off the loopback the key crosses a network: only behind a TLS
        // proxy (its wss:// URL named), never as plain ws://.
        if !c.listen.ip().is_loopback()
            && !c
                .api_url
                .as_deref()
                .is_some_and(|u| u.starts_with("wss://"))
        {
            return Err(Error::invalid(
                "console.listen",
                format!(
                    "{} is not a loopback address: operators' keys would cross the network in clear; serve the console behind a TLS proxy and set console.api_url to the API's wss:// URL, or listen on 127.0.0.1",
                    c.listen
                ),
            ));
        }
        if let Some(u) = &c.api_url {
            let ok = (u.starts_with("ws://") || u.starts_with("wss://"))
                && u.len() <= 200
                && u.chars()
                    .all(|ch| ch.is_ascii_graphic() && !"\"';,<>\\".contains(ch));
            if !ok {
                return Err(Error::invalid(
                    "console.api_url",
                    "a ws:// or wss:// URL (at most 200 characters, no quotes, commas or semicolons)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::DaemonConfig;

    #[test]
    fn a_console_off_the_loopback_needs_keys_and_a_tls_api_url() {
        let dir = std::env::temp_dir().join(format!("sy-cfg-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("switchyard.toml");
        let field = |text: &str| {
            std::fs::write(&path, text).unwrap();
            DaemonConfig::load(&path, Vec::new())
                .err()
                .map(|e| e.field().unwrap_or("").to_owned())
        };
        let keys = "[relayer]\nstore = \"s.db\"\n[auth]\n";
        assert_eq!(
            field("topology = \"t\"\n[console]\nlisten = \"127.0.0.1:0\"\n"),
            None
        );
        assert_eq!(
            field(&format!(
                "topology = \"t\"\n{keys}[console]\nlisten = \"0.0.0.0:8712\"\n"
            ))
            .as_deref(),
            Some("console.listen"),
            "plain ws:// off the loopback"
        );
        assert_eq!(
            field(&format!(
                "topology = \"t\"\n{keys}[console]\nlisten = \"0.0.0.0:8712\"\napi_url = \"wss://ops.example/rpc\"\n"
            )),
            None
        );
        assert_eq!(
            field("topology = \"t\"\n[console]\nlisten = \"0.0.0.0:8712\"\napi_url = \"wss://ops.example/rpc\"\n").as_deref(),
            Some("console.listen"),
            "no keys"
        );
        assert_eq!(
            field("topology = \"t\"\n[console]\nlisten = \"127.0.0.1:0\"\napi_url = \"wss://x'; script-src *\"\n").as_deref(),
            Some("console.api_url")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
