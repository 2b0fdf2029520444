//! Uids and version suffixes.
//!
//! A uid is 20 base62 characters (`0-9A-Za-z`): a 16-character random *stem* shared by every
//! version of a family, then a 4-character version suffix counting in base62 from `0000`
//! (`0009`, `000A`, ..., `000Z`, `000a`, ..., `000z`, `0010`, ...). The numeric version index is
//! what the catalog orders and constrains by, so numbering never depends on string collation.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// The base62 alphabet, in ASCII order.
pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of a uid's random stem.
pub const STEM_LEN: usize = 16;
/// Length of a uid's version suffix.
pub const VERSION_LEN: usize = 4;
/// Length of a full uid.
pub const UID_LEN: usize = STEM_LEN + VERSION_LEN;
/// The largest version index a 4-character suffix can hold (62^4 - 1).
pub const MAX_VERSION: u32 = 62 * 62 * 62 * 62 - 1;

fn base62_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 36),
        _ => None,
    }
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|c| base62_value(c).is_some())
}

/// Random base62 text of length `n`.
pub fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| BASE62[rng.random_range(0..62)] as char).collect()
}

/// The 4-character suffix of version `index` (0 is `0000`).
pub fn version_suffix(index: u32) -> Result<String> {
    if index > MAX_VERSION {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("version index {index} exceeds the 4-character maximum {MAX_VERSION}; start a new key"),
        ));
    }
    let mut out = [b'0'; VERSION_LEN];
    let mut n = index;
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    Ok(String::from_utf8(out.to_vec()).expect("base62 is ASCII"))
}

/// The version index a 4-character base62 suffix denotes.
pub fn parse_version_suffix(s: &str) -> Result<u32> {
    if s.len() != VERSION_LEN || !is_base62(s) {
        return Err(Error::invalid_input(format!(
            "'{s}' is not a version suffix: expected 4 base62 characters such as '0000' or '000A'"
        )));
    }
    Ok(s.bytes().fold(0u32, |acc, c| acc * 62 + base62_value(c).expect("checked")))
}

/// The 16-character stem shared by all versions of a family.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Stem(String);

impl Stem {
    /// A fresh random stem.
    pub fn random() -> Self {
        Stem(random_base62(STEM_LEN))
    }

    /// Parse a 16-character base62 stem.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() != STEM_LEN || !is_base62(s) {
            return Err(Error::invalid_input(format!(
                "'{s}' is not a uid stem: expected 16 base62 characters (0-9, A-Z, a-z)"
            )));
        }
        Ok(Stem(s.to_owned()))
    }

    /// The stem as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uid of version `index` of this family.
    pub fn uid(&self, index: u32) -> Result<Uid> {
        Ok(Uid(format!("{}{}", self.0, version_suffix(index)?)))
    }
}

impl TryFrom<String> for Stem {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Stem::parse(&s)
    }
}

impl From<Stem> for String {
    fn from(s: Stem) -> String {
        s.0
    }
}

impl fmt::Display for Stem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Stem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stem({})", self.0)
    }
}

/// A record's 20-character uid: stem + version suffix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uid(String);

impl Uid {
    /// Parse a 20-character base62 uid.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() != UID_LEN || !is_base62(s) {
            return Err(Error::invalid_input(format!(
                "'{s}' is not a uid: expected 20 base62 characters (16-character stem + 4-character version)"
            )));
        }
        Ok(Uid(s.to_owned()))
    }

    /// Version 0 of a new random family.
    pub fn new_family() -> Self {
        Stem::random().uid(0).expect("0 is a valid version")
    }

    /// The family stem (first 16 characters).
    pub fn stem(&self) -> Stem {
        Stem(self.0[..STEM_LEN].to_owned())
    }

    /// The version suffix (last 4 characters).
    pub fn version_suffix(&self) -> &str {
        &self.0[STEM_LEN..]
    }

    /// The numeric version index.
    pub fn version_index(&self) -> u32 {
        parse_version_suffix(self.version_suffix()).expect("validated at construction")
    }

    /// The uid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Uid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uid::parse(s)
    }
}

impl TryFrom<String> for Uid {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Uid::parse(&s)
    }
}

impl From<Uid> for String {
    fn from(u: Uid) -> String {
        u.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({})", self.0)
    }
}

/// How a user names a record on the command line or in the API: a full uid, a stem, or a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// A full 20-character uid: exactly that version, on any branch.
    Uid(Uid),
    /// A 16-character stem: the family's head (main first, else the newest version anywhere).
    Stem(Stem),
    /// A key: the head on main of the family with that key.
    Key(String),
}

impl Locator {
    /// Classify user input: 20 base62 characters are a uid, 16 a stem, anything else a key.
    pub fn parse(s: &str) -> Locator {
        if let Ok(uid) = Uid::parse(s) {
            Locator::Uid(uid)
        } else if let Ok(stem) = Stem::parse(s) {
            Locator::Stem(stem)
        } else {
            Locator::Key(s.to_owned())
        }
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Uid(u) => write!(f, "uid {u}"),
            Locator::Stem(s) => write!(f, "uid stem {s}"),
            Locator::Key(k) => write!(f, "key '{k}'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_suffixes_count_in_base62() {
        let cases = [
            (0, "0000"),
            (1, "0001"),
            (9, "0009"),
            (10, "000A"),
            (35, "000Z"),
            (36, "000a"),
            (61, "000z"),
            (62, "0010"),
            (MAX_VERSION, "zzzz"),
        ];
        for (i, s) in cases {
            assert_eq!(version_suffix(i).unwrap(), s);
            assert_eq!(parse_version_suffix(s).unwrap(), i);
        }
        assert!(version_suffix(MAX_VERSION + 1).is_err());
        assert!(parse_version_suffix("00-0").is_err());
    }

    #[test]
    fn uids_and_locators() {
        let u = Uid::new_family();
        assert_eq!(u.as_str().len(), 20);
        assert_eq!(u.version_index(), 0);
        let next = u.stem().uid(11).unwrap();
        assert_eq!(next.version_suffix(), "000B");
        assert_eq!(Locator::parse(u.as_str()), Locator::Uid(u.clone()));
        assert_eq!(Locator::parse(u.stem().as_str()), Locator::Stem(u.stem()));
        assert_eq!(Locator::parse("data/iris.csv"), Locator::Key("data/iris.csv".into()));
        assert!(Uid::parse("short").is_err());
    }
}
