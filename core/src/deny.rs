//! Deny lists: addresses nobody pays, in the shape of a sanctions list.
//!
//! A text file, one entry per line: `<chain> <address>`, where `<chain>`
//! is a topology chain id (`devnet-a`, `ethereum`) or `*` for every chain;
//! `#` starts a comment. EVM-style `0x` addresses compare without regard
//! to case. The daemon checks it at intake and every co-signer checks its
//! own copy before it signs; both reload the file when it changes, without
//! a restart ([`DenyFile::current`]). A file that cannot be read or parsed
//! keeps the last good list and says why: it never empties the list.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::{Error, Result};

/// A parsed deny list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DenyList {
    any_chain: HashSet<String>,
    per_chain: HashSet<(String, String)>,
}

fn normal(address: &str) -> String {
    let a = address.trim();
    if a.len() == 42 && (a.starts_with("0x") || a.starts_with("0X")) {
        a.to_ascii_lowercase()
    } else {
        a.to_owned()
    }
}

impl DenyList {
    /// Parses the file's text; `origin` names it in errors (`file:line`).
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let mut list = Self::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(chain), Some(address), None) = (words.next(), words.next(), words.next())
            else {
                return Err(Error::invalid(
                    format!("{origin}:{}", n + 1),
                    "expected `<chain> <address>` (`*` for every chain)",
                ));
            };
            if address.len() > 128 || chain.len() > 64 {
                return Err(Error::invalid(
                    format!("{origin}:{}", n + 1),
                    "entry too long",
                ));
            }
            if chain == "*" {
                list.any_chain.insert(normal(address));
            } else {
                list.per_chain.insert((chain.to_owned(), normal(address)));
            }
        }
        Ok(list)
    }

    /// Whether `address` may not be paid on `chain`.
    pub fn denies(&self, chain: &str, address: &str) -> bool {
        let a = normal(address);
        self.any_chain.contains(&a) || self.per_chain.contains(&(chain.to_owned(), a))
    }

    /// Entries, for reports.
    pub fn len(&self) -> usize {
        self.any_chain.len() + self.per_chain.len()
    }

    /// Whether it lists nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A deny list file, reloaded when its modification time or size changes.
#[derive(Debug)]
pub struct DenyFile {
    path: PathBuf,
    state: Mutex<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    list: DenyList,
    error: Option<String>,
}

impl DenyFile {
    /// Loads `path`; an error names the file and line.
    pub fn open(path: &Path) -> Result<Self> {
        let f = Self {
            path: path.to_owned(),
            state: Mutex::new(Loaded::default()),
        };
        f.reload()?;
        Ok(f)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(&self.path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    fn reload(&self) -> Result<()> {
        let origin = self.path.display().to_string();
        let stamp = self.stamp();
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::invalid(origin.clone(), format!("cannot read: {e}")))?;
        let list = DenyList::parse(&origin, &text)?;
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.stamp = stamp;
        s.list = list;
        s.error = None;
        Ok(())
    }

    /// The list as the file says now (reloaded if it changed), and the
    /// reason the last reload failed, if it did (the previous list stays).
    pub fn current(&self) -> (DenyList, Option<String>) {
        let changed = {
            let s = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.stamp() != s.stamp
        };
        if changed && let Err(e) = self.reload() {
            let mut s = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            s.stamp = self.stamp();
            s.error = Some(e.to_string());
        }
        let s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (s.list.clone(), s.error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_chain_and_wildcard_entries() {
        let l = DenyList::parse(
            "deny.txt",
            "# sanctions\n* 0xAbCdEf0000000000000000000000000000000001\ndevnet-a 0x00000000000000000000000000000000000000a2 # local\n",
        )
        .unwrap();
        assert!(l.denies("devnet-b", "0xabcdef0000000000000000000000000000000001"));
        assert!(l.denies("devnet-a", "0x00000000000000000000000000000000000000A2"));
        assert!(!l.denies("devnet-b", "0x00000000000000000000000000000000000000a2"));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = DenyList::parse("deny.txt", "devnet-a\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("deny.txt:1"), "{e}");
    }

    #[test]
    fn reloads_on_change_and_keeps_the_last_good_list() {
        let dir = std::env::temp_dir().join(format!("sy-deny-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("deny.txt");
        std::fs::write(&p, "* 0x00000000000000000000000000000000000000a1\n").unwrap();
        let f = DenyFile::open(&p).unwrap();
        assert!(
            f.current()
                .0
                .denies("x", "0x00000000000000000000000000000000000000a1")
        );
        std::fs::write(&p, "* 0x00000000000000000000000000000000000000a1\n* 0x00000000000000000000000000000000000000b2\n").unwrap();
        assert!(
            f.current()
                .0
                .denies("x", "0x00000000000000000000000000000000000000b2")
        );
        std::fs::write(&p, "garbage line here\n").unwrap();
        let (l, err) = f.current();
        assert!(l.denies("x", "0x00000000000000000000000000000000000000b2"));
        assert!(err.unwrap().contains("deny.txt:1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
