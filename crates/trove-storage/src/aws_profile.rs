//! The AWS shared configuration files, read explicitly and only for static settings.
//!
//! Two INI files, as the AWS CLI and SDKs lay them out:
//!
//! * the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`),
//!   with one section per profile named as the profile: `[default]`, `[NAME]`;
//! * the config file (`AWS_CONFIG_FILE`, default `~/.aws/config`), with `[default]` and
//!   `[profile NAME]` sections.
//!
//! Only `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`, `region` and
//! `endpoint_url` are read. Nothing is executed or fetched: `credential_process`, SSO,
//! `role_arn`/`source_profile` and instance metadata are deliberately not supported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use trove_domain::secret::REDACTED;
use trove_domain::{Error, Result};

/// A parsed INI file: section name to (key to value). Later duplicates win.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Ini {
    sections: HashMap<String, HashMap<String, String>>,
}

/// Section and key names only: the values include secret keys.
impl std::fmt::Debug for Ini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (name, props) in &self.sections {
            let mut keys: Vec<&String> = props.keys().collect();
            keys.sort();
            m.entry(name, &keys);
        }
        m.finish()
    }
}

impl Ini {
    /// Parse the AWS dialect of INI:
    ///
    /// * blank lines and lines starting with `#` or `;` are comments;
    /// * `[name]` starts a section (whitespace inside the brackets is trimmed, and runs of
    ///   whitespace collapse, so `[ profile  dev ]` is `profile dev`);
    /// * `key = value` sets a property (whitespace around both is trimmed; a `#` or `;` after
    ///   whitespace starts a trailing comment; keys are matched case-insensitively);
    /// * indented lines continue the previous property (nested `s3 =` blocks): they are not
    ///   top-level properties and are ignored here;
    /// * properties before any section, and lines that are none of these, are ignored.
    pub(crate) fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut section: Option<String> = None;
        let mut in_property = false;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) && in_property {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = strip_comment(rest);
                in_property = false;
                section = name.strip_suffix(']').map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
                if let Some(name) = &section {
                    ini.sections.entry(name.clone()).or_default();
                }
                continue;
            }
            let (Some(name), Some((key, value))) = (&section, line.split_once('=')) else {
                in_property = false;
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                in_property = false;
                continue;
            }
            ini.sections.entry(name.clone()).or_default().insert(key, strip_comment(value).to_string());
            in_property = true;
        }
        ini
    }

    /// The section called `name`, if present.
    pub(crate) fn section(&self, name: &str) -> Option<&HashMap<String, String>> {
        self.sections.get(name)
    }
}

/// `" value  # note"` becomes `"value"`; a `#`/`;` not preceded by whitespace is kept.
fn strip_comment(s: &str) -> &str {
    let mut prev_ws = true;
    for (i, c) in s.char_indices() {
        if (c == '#' || c == ';') && prev_ws {
            return s[..i].trim();
        }
        prev_ws = c.is_whitespace();
    }
    s.trim()
}

/// The static settings of one profile, merged from both files.
#[derive(Default, Clone, PartialEq, Eq)]
pub(crate) struct Profile {
    /// `aws_access_key_id`, `aws_secret_access_key` and `aws_session_token`, taken together from
    /// the credentials file if it has the pair, else from the config file.
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) session_token: Option<String>,
    /// `region` from the config file.
    pub(crate) region: Option<String>,
    /// `endpoint_url` from the config file.
    pub(crate) endpoint_url: Option<String>,
    /// Whether either file had a section for the profile.
    pub(crate) found: bool,
    /// Keys naming credential sources Trove does not use (for the error message).
    pub(crate) unsupported: Vec<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| REDACTED))
            .field("session_token", &self.session_token.as_ref().map(|_| REDACTED))
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("found", &self.found)
            .field("unsupported", &self.unsupported)
            .finish()
    }
}

/// Where the two files are, from `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE` (a leading
/// `~/` is the home directory) or their defaults under `home`. `None` when neither the variable
/// nor a home directory gives a path.
pub(crate) struct Files {
    pub(crate) credentials: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
}

impl Files {
    pub(crate) fn locate(var: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Files {
        let locate = |variable: &str, default: &str| match var(variable) {
            Some(p) => match (p.strip_prefix("~/"), home) {
                (Some(rest), Some(home)) => Some(home.join(rest)),
                _ => Some(PathBuf::from(p)),
            },
            None => home.map(|h| h.join(".aws").join(default)),
        };
        Files {
            credentials: locate("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            config: locate("AWS_CONFIG_FILE", "config"),
        }
    }

    /// Read the profile `name` from both files. Missing files are empty; unreadable ones are
    /// an error naming the file.
    pub(crate) fn profile(&self, name: &str) -> Result<Profile> {
        let credentials = read_ini(self.credentials.as_deref())?;
        let config = read_ini(self.config.as_deref())?;
        let config_section = if name == "default" {
            config.section("default").or_else(|| config.section("profile default"))
        } else {
            config.section(&format!("profile {name}"))
        };
        let cred_section = credentials.section(name);
        let mut p = Profile { found: cred_section.is_some() || config_section.is_some(), ..Profile::default() };
        let get = |s: Option<&HashMap<String, String>>, key: &str| {
            s.and_then(|s| s.get(key)).filter(|v| !v.is_empty()).cloned()
        };
        for section in [cred_section, config_section] {
            if let (Some(id), Some(secret)) = (get(section, "aws_access_key_id"), get(section, "aws_secret_access_key"))
            {
                p.access_key_id = Some(id);
                p.secret_access_key = Some(secret);
                p.session_token = get(section, "aws_session_token");
                break;
            }
        }
        p.region = get(config_section, "region");
        p.endpoint_url = get(config_section, "endpoint_url");
        for key in [
            "credential_process",
            "role_arn",
            "source_profile",
            "sso_session",
            "sso_start_url",
            "web_identity_token_file",
        ] {
            if get(cred_section, key).is_some() || get(config_section, key).is_some() {
                p.unsupported.push(key.to_string());
            }
        }
        Ok(p)
    }
}

fn read_ini(path: Option<&Path>) -> Result<Ini> {
    let Some(path) = path else { return Ok(Ini::default()) };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Ini::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ini::default()),
        Err(e) => Err(Error::invalid_input(format!("AWS shared file '{}' cannot be read: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let ini =
            Ini::parse("[p]\naws_access_key_id = AKID\naws_secret_access_key = hunter2\naws_session_token = hunter3\n");
        let profile = Profile {
            access_key_id: Some("AKID".into()),
            secret_access_key: Some("hunter2".into()),
            session_token: Some("hunter3".into()),
            ..Profile::default()
        };
        let shown = format!("{ini:?} {profile:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(shown.contains("aws_secret_access_key") && shown.contains("AKID"), "{shown}");
    }

    #[test]
    fn ini_sections_properties_comments_and_whitespace() {
        let ini = Ini::parse(
            "top = ignored\n\
             # a comment\n\
             ; another\n\
             \n\
             [default]\n\
             \taws_secret_access_key   =   s3cr#t;x   # trailing comment\n\
             aws_access_key_id=AKID\n\
             \x20 continued = not a property\n\
             [ profile   dev ]  ; comment after the header\n\
             Region = eu-west-1 ;comment\n\
             s3 =\n\
             \x20 endpoint_url = http://nested.invalid\n\
             endpoint_url = http://127.0.0.1:3900\n\
             not a property\n\
             = no key\n\
             [default]\n\
             aws_session_token = tok\n",
        );
        let d = ini.section("default").unwrap();
        assert_eq!(d["aws_access_key_id"], "AKID");
        assert_eq!(d["aws_secret_access_key"], "s3cr#t;x", "a '#' inside a value is kept");
        assert_eq!(d["aws_session_token"], "tok", "a repeated section merges");
        assert!(!d.contains_key("continued"), "an indented line after a property continues it");
        let dev = ini.section("profile dev").unwrap();
        assert_eq!(dev["region"], "eu-west-1", "keys are case-insensitive, comments stripped");
        assert_eq!(dev["endpoint_url"], "http://127.0.0.1:3900", "nested properties are not top-level");
        assert_eq!(dev["s3"], "");
        assert!(ini.section("top").is_none());
        assert_eq!(Ini::parse(""), Ini::default());
        assert!(Ini::parse("[unterminated\nk = v\n").section("unterminated").is_none());
    }

    #[test]
    fn files_default_under_home_and_expand_tilde() {
        let none = |_: &str| None;
        let f = Files::locate(&none, Some(Path::new("/home/a")));
        assert_eq!(f.credentials.as_deref(), Some(Path::new("/home/a/.aws/credentials")));
        assert_eq!(f.config.as_deref(), Some(Path::new("/home/a/.aws/config")));
        let f = Files::locate(&none, None);
        assert!(f.credentials.is_none() && f.config.is_none());
        let vars = |n: &str| match n {
            "AWS_SHARED_CREDENTIALS_FILE" => Some("~/creds".to_string()),
            "AWS_CONFIG_FILE" => Some("/etc/aws.cfg".to_string()),
            _ => None,
        };
        let f = Files::locate(&vars, Some(Path::new("/h")));
        assert_eq!(f.credentials.as_deref(), Some(Path::new("/h/creds")));
        assert_eq!(f.config.as_deref(), Some(Path::new("/etc/aws.cfg")));
    }

    #[test]
    fn profile_merges_files_and_reports_unsupported_sources() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(&creds, "[dev]\naws_access_key_id = A\naws_secret_access_key = S\n").unwrap();
        std::fs::write(
            &config,
            "[profile dev]\nregion = garage\nendpoint_url = http://e\naws_access_key_id = other\n\
             aws_secret_access_key = other\n[profile sso]\nsso_session = x\n[default]\nregion = r\n",
        )
        .unwrap();
        let files = Files { credentials: Some(creds), config: Some(config) };
        let dev = files.profile("dev").unwrap();
        assert!(dev.found);
        assert_eq!((dev.access_key_id.as_deref(), dev.secret_access_key.as_deref()), (Some("A"), Some("S")));
        assert_eq!((dev.region.as_deref(), dev.endpoint_url.as_deref()), (Some("garage"), Some("http://e")));
        let sso = files.profile("sso").unwrap();
        assert!(sso.found && sso.access_key_id.is_none());
        assert_eq!(sso.unsupported, ["sso_session"]);
        assert_eq!(files.profile("default").unwrap().region.as_deref(), Some("r"));
        assert!(!files.profile("nope").unwrap().found);

        let missing = Files { credentials: Some(dir.path().join("x")), config: None };
        assert!(!missing.profile("default").unwrap().found, "missing files are empty");
        let unreadable = Files { credentials: Some(dir.path().to_path_buf()), config: None };
        let err = unreadable.profile("default").unwrap_err();
        assert!(err.message().contains(&dir.path().display().to_string()), "{}", err.message());
    }
}
