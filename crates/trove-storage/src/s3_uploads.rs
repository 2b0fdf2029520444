//! Unfinished S3 multipart uploads: the debris a writer killed mid-upload leaves in a bucket.
//!
//! OpenDAL writes an object larger than [`trove_domain::hash::PART_SIZE`] in parts of that
//! size, several in parallel; it begins the multipart upload once two parts are written (or at
//! close). A process killed after that point leaves the upload open: the parts already
//! sent take space in the bucket, no listing shows them, and nothing ever aborts them. OpenDAL
//! 0.59 cannot list or abort another writer's upload, so this module makes those requests
//! itself: `ListMultipartUploads` (`GET /?uploads&prefix=…`, paginated by key and upload-id
//! markers), `ListParts` (`GET /KEY?uploadId=…`, paginated by part-number marker) and
//! `AbortMultipartUpload` (`DELETE /KEY?uploadId=…`). They are signed with the SigV4 signer
//! OpenDAL itself uses (reqsign), from the store's own configuration (endpoint, region,
//! addressing style, static credentials), and sent with reqwest over the same TLS provider.
//!
//! A leftover is named `<object key>//uploadId=<upload id>`: the empty segment makes it a key
//! that every object call refuses, the object key before it cannot contain `//` (the key rules
//! forbid empty segments), so the first `//` splits it unambiguously whatever the upload id
//! holds. Only uploads at keys Trove could have written are reported; another tool's upload at a
//! key Trove refuses is not Trove's debris and is left alone.
//!
//! A leftover's size is the sum of its parts (one `ListParts` per upload, which gc's plan shows
//! as bytes to free), and its time the latest of its initiation and its newest part, so the
//! grace period protects an upload that is still sending parts however long ago it began.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqsign_aws_v4::{Credential, RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};
use serde::Deserialize;
use trove_domain::ports::ObjectMeta;
use trove_domain::{Error, ErrorKind, Result};

use crate::config::S3Config;
use crate::keys::check_write_key;

/// What separates the object key from the upload id in a leftover's name.
const MARK: &str = "//uploadId=";

/// Attempts per request: transport failures and the server's "try again" answers (429, 5xx)
/// are retried with exponential backoff, like OpenDAL's retry layer on the store's other calls.
const ATTEMPTS: u32 = 4;

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (AWS's URI
/// encoding, which the signer expects on the wire exactly once).
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The leftover name of the upload `upload_id` of `key`.
pub(crate) fn leftover_key(key: &str, upload_id: &str) -> String {
    format!("{key}{MARK}{upload_id}")
}

/// The object key and upload id a leftover name stands for; `None` for anything
/// [`leftover_key`] cannot have produced (an object key among them).
pub(crate) fn parse_leftover_key(name: &str) -> Option<(&str, &str)> {
    let (key, rest) = name.split_once("//")?;
    let upload_id = rest.strip_prefix(&MARK[2..])?;
    (!upload_id.is_empty() && check_write_key(key).is_ok()).then_some((key, upload_id))
}

/// The requests of this module, for one S3 store.
pub(crate) struct S3Uploads {
    http: reqwest::Client,
    signer: Signer<Credential>,
    /// Where an object's URL begins: `http://HOST:PORT/BUCKET` (path style) or
    /// `https://BUCKET.HOST` (virtual-host style); the bucket's own URL adds a `/` to the latter.
    base: String,
    virtual_host: bool,
    /// The store's prefix inside the bucket: `""` or ending in `/`.
    prefix: String,
    /// The store's root (`s3://bucket/prefix`), for messages.
    root: String,
    /// Entries per listing page; `None` for the server's default (1000). Tests page by one.
    page: Option<u32>,
}

/// The root and addressing only: the signer holds the credentials.
impl fmt::Debug for S3Uploads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Uploads").field("root", &self.root).finish_non_exhaustive()
    }
}

impl S3Uploads {
    /// From the store's configuration (already validated: credentials present) and root.
    pub(crate) fn new(cfg: &S3Config, prefix: &str, root: &str) -> Result<S3Uploads> {
        let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) else {
            return Err(Error::invalid_input(format!("S3 bucket '{}': no credentials", cfg.bucket)));
        };
        let mut credentials = StaticCredentialProvider::new(id, secret);
        if let Some(token) = &cfg.session_token {
            credentials = credentials.with_session_token(token);
        }
        // Static credentials need nothing from the context: no files, no environment, no HTTP.
        let signer = Signer::new(Context::new(), credentials, RequestSigner::new("s3", &cfg.region));
        // The client needs the process's TLS provider, which this installs (once).
        crate::transport::install_http_transport();
        let http = reqwest::Client::builder().timeout(cfg.request_timeout).build().map_err(|e| {
            Error::storage(format!("S3 bucket '{}': cannot set up the HTTP client: {e}", cfg.bucket)).with_source(e)
        })?;
        Ok(S3Uploads {
            http,
            signer,
            base: object_base(cfg)?,
            virtual_host: cfg.virtual_host_style,
            prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
            root: root.to_string(),
            page: None,
        })
    }

    /// Every unfinished upload whose key (relative to the store's root) starts with `prefix`.
    pub(crate) async fn leftovers(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        let subject = format!("uploads under '{prefix}'");
        loop {
            let mut query = format!("uploads&prefix={}", enc(&format!("{}{prefix}", self.prefix)));
            if let Some(n) = self.page {
                query.push_str(&format!("&max-uploads={n}"));
            }
            if let Some((key, upload)) = &markers {
                query.push_str(&format!("&key-marker={}&upload-id-marker={}", enc(key), enc(upload)));
            }
            let url = format!("{}?{query}", self.bucket_url());
            let body = self.call(reqwest::Method::GET, &url, "ListMultipartUploads", &subject).await?;
            let page: ListUploads = self.xml(&body, "ListMultipartUploads", &subject)?;
            for upload in page.upload {
                // The listing is by prefix of the whole bucket key: only the store's own.
                let Some(key) = upload.key.strip_prefix(&self.prefix) else { continue };
                if check_write_key(key).is_err() || upload.upload_id.is_empty() {
                    continue;
                }
                // Undated, an upload in progress could not be told from debris: refuse to guess.
                let Some(initiated) = parse_time(&upload.initiated) else {
                    return Err(Error::storage(format!(
                        "list {subject} in {}: upload {} of '{key}' has no readable Initiated time ('{}')",
                        self.root,
                        upload.upload_id,
                        upload.initiated.escape_debug()
                    )));
                };
                let Some(parts) = self.parts(&upload.key, key, &upload.upload_id).await? else { continue };
                out.push(ObjectMeta {
                    key: leftover_key(key, &upload.upload_id),
                    size: parts.size,
                    etag: None,
                    content_md5: None,
                    last_modified: Some(parts.newest.map_or(initiated, |t| t.max(initiated))),
                });
            }
            if !page.is_truncated {
                break;
            }
            let next = (page.next_key_marker.unwrap_or_default(), page.next_upload_id_marker.unwrap_or_default());
            if next.0.is_empty() || markers.as_ref() == Some(&next) {
                return Err(Error::storage(format!(
                    "list {subject} in {}: the server says the listing goes on but gives no new place to go on \
                     from",
                    self.root
                )));
            }
            markers = Some(next);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The bytes an upload's parts hold and the time of its newest part; `None` if the upload
    /// has gone meanwhile (completed or aborted).
    async fn parts(&self, bucket_key: &str, key: &str, upload_id: &str) -> Result<Option<Parts>> {
        let mut parts = Parts { size: 0, newest: None };
        let mut marker: Option<u64> = None;
        let subject = leftover_key(key, upload_id);
        loop {
            let mut url = format!("{}?uploadId={}", self.object_url(bucket_key), enc(upload_id));
            if let Some(n) = self.page {
                url.push_str(&format!("&max-parts={n}"));
            }
            if let Some(m) = marker {
                url.push_str(&format!("&part-number-marker={m}"));
            }
            let body = match self.call(reqwest::Method::GET, &url, "ListParts", &subject).await {
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                other => other?,
            };
            let page: ListParts = self.xml(&body, "ListParts", &subject)?;
            for part in &page.part {
                parts.size += part.size;
                parts.newest = parts.newest.max(parse_time(&part.last_modified));
            }
            if !page.is_truncated {
                return Ok(Some(parts));
            }
            match page.next_part_number_marker {
                Some(next) if marker.is_none_or(|m| next > m) => marker = Some(next),
                _ => {
                    return Err(Error::storage(format!(
                        "list the parts of {subject} in {}: the server says the listing goes on but gives no new \
                         place to go on from",
                        self.root
                    )));
                }
            }
        }
    }

    /// Abort the upload a leftover name stands for; `false` if it was already gone.
    pub(crate) async fn abort(&self, name: &str) -> Result<bool> {
        let Some((key, upload_id)) = parse_leftover_key(name) else {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "'{}' is not a leftover of an interrupted write in {}: S3 leftovers are named \
                     '<key>{MARK}<upload id>', as `leftovers` reports them",
                    name.escape_debug(),
                    self.root
                ),
            ));
        };
        let url = format!("{}?uploadId={}", self.object_url(&format!("{}{key}", self.prefix)), enc(upload_id));
        match self.call(reqwest::Method::DELETE, &url, "AbortMultipartUpload", name).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn bucket_url(&self) -> String {
        if self.virtual_host { format!("{}/", self.base) } else { self.base.clone() }
    }

    fn object_url(&self, bucket_key: &str) -> String {
        let path: Vec<String> = bucket_key.split('/').map(enc).collect();
        format!("{}/{}", self.base, path.join("/"))
    }

    /// Sign and send one request, retrying what may succeed on another attempt; the body of a
    /// success. `NoSuchUpload` is [`ErrorKind::NotFound`].
    async fn call(&self, method: reqwest::Method, url: &str, op: &str, subject: &str) -> Result<Bytes> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let failure = match self.send_once(method.clone(), url, op, subject).await {
                Ok(body) => return Ok(body),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Temporary(e)) if attempt >= ATTEMPTS => return Err(e),
                Err(Failure::Temporary(e)) => e,
            };
            tracing::debug!(op, subject, attempt, error = %failure, "S3 request failed; retrying");
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        op: &str,
        subject: &str,
    ) -> std::result::Result<Bytes, Failure> {
        let what = |detail: String| format!("{op} for {subject} in {}: {detail}", self.root);
        let (mut parts, ()) = http::Request::builder()
            .method(method.clone())
            .uri(url)
            .body(())
            .map_err(|e| Failure::Final(Error::storage(what(format!("bad request URL: {e}")))))?
            .into_parts();
        self.signer
            .sign(&mut parts, None)
            .await
            .map_err(|e| Failure::Final(Error::storage(what(format!("cannot sign the request: {e}")))))?;
        // The client sets Host itself, from the same URL the signature covers.
        parts.headers.remove(http::header::HOST);
        let sent = self.http.request(method, url).headers(parts.headers).send().await;
        let response = sent.map_err(|e| transport(e, |d| what(format!("the request failed: {d}"))))?;
        let status = response.status();
        let body =
            response.bytes().await.map_err(|e| transport(e, |d| what(format!("reading the answer failed: {d}"))))?;
        if status.is_success() {
            return Ok(body);
        }
        let err: S3Error = quick_xml::de::from_reader(body.as_ref()).unwrap_or_default();
        let detail = match (err.code.is_empty(), err.message.is_empty()) {
            (true, _) => format!("HTTP {status}"),
            (false, true) => format!("HTTP {status} {}", err.code),
            (false, false) => format!("HTTP {status} {}: {}", err.code, err.message),
        };
        let error = match (status.as_u16(), err.code.as_str()) {
            (404, "NoSuchUpload") => Error::not_found(what(format!("no such upload ({detail})"))),
            (404, "NoSuchBucket") => Error::storage(what(format!("the bucket does not exist ({detail})"))),
            (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken" | "ExpiredToken") => Error::new(
                ErrorKind::Authentication,
                what(format!(
                    "the credentials were refused ({detail}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                     (or the profile's keys) and the region"
                )),
            ),
            (403, _) => Error::storage(what(format!(
                "access denied ({detail}); gc needs the s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts \
                 and s3:AbortMultipartUpload permissions on the bucket"
            ))),
            (501, _) | (_, "NotImplemented") => Error::new(
                ErrorKind::Unsupported,
                what(format!(
                    "this S3 server does not implement it ({detail}); give the bucket a lifecycle rule \
                     AbortIncompleteMultipartUpload instead"
                )),
            ),
            (429 | 500 | 502 | 503 | 504, _) => return Err(Failure::Temporary(Error::storage(what(detail)))),
            _ => Error::storage(what(detail)),
        };
        Err(Failure::Final(error))
    }

    fn xml<T: for<'de> Deserialize<'de>>(&self, body: &[u8], op: &str, subject: &str) -> Result<T> {
        quick_xml::de::from_reader(body).map_err(|e| {
            Error::storage(format!("{op} for {subject} in {}: the answer is not the expected XML: {e}", self.root))
                .with_source(e)
        })
    }
}

/// How a request failed: worth another attempt, or not.
enum Failure {
    Temporary(Error),
    Final(Error),
}

/// What [`S3Uploads::parts`] learns about one upload.
struct Parts {
    size: u64,
    newest: Option<DateTime<Utc>>,
}

/// `ListMultipartUploadsResult`, the fields used.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ListUploads {
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    upload: Vec<Upload>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Upload {
    key: String,
    upload_id: String,
    initiated: String,
}

/// `ListPartsResult`, the fields used.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ListParts {
    is_truncated: bool,
    next_part_number_marker: Option<u64>,
    part: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Part {
    last_modified: String,
    size: u64,
}

/// An S3 error answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct S3Error {
    code: String,
    message: String,
}

/// Where object URLs begin, as OpenDAL's S3 service builds its endpoint: `https://` unless the
/// endpoint names a scheme; AWS's regional endpoint when none is given; the bucket in the path,
/// or in the host name with virtual-host style.
fn object_base(cfg: &S3Config) -> Result<String> {
    let endpoint = match cfg.endpoint.as_deref().map(|e| e.trim_end_matches('/')) {
        None | Some("https://s3.amazonaws.com") => format!("https://s3.{}.amazonaws.com", cfg.region),
        Some(e) if e.starts_with("http://") || e.starts_with("https://") => e.to_string(),
        Some(e) => format!("https://{e}"),
    };
    let url = url::Url::parse(&endpoint)
        .map_err(|e| Error::invalid_input(format!("S3 bucket '{}': the endpoint is not a URL: {e}", cfg.bucket)))?;
    let endpoint = url.to_string().trim_end_matches('/').replacen(&format!("//{}.", cfg.bucket), "//", 1);
    Ok(if cfg.virtual_host_style {
        endpoint.replacen("//", &format!("//{}.", cfg.bucket), 1)
    } else {
        format!("{endpoint}/{}", enc(&cfg.bucket))
    })
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, AWS_ENCODE).to_string()
}

/// S3's timestamps: ISO 8601 in UTC (`2024-05-01T10:00:00.000Z`; some servers leave out the
/// `Z`); `None` if unreadable.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

/// A transport failure, retryable, with its chain of causes but not its URL (the message names
/// the bucket and key already).
fn transport(e: reqwest::Error, what: impl FnOnce(String) -> String) -> Failure {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(&format!(": {s}"));
        source = s.source();
    }
    Failure::Temporary(Error::storage(what(detail)).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(endpoint: Option<&str>, virtual_host: bool) -> S3Config {
        let mut c = S3Config::new("bkt", "p");
        c.endpoint = endpoint.map(str::to_string);
        c.region = "eu-west-3".into();
        c.virtual_host_style = virtual_host;
        c.access_key_id = Some("AKIDEXAMPLE".into());
        c.secret_access_key = Some("hunter2-secret".into());
        c.session_token = Some("hunter2-token".into());
        c
    }

    #[test]
    fn leftover_names_round_trip_and_are_never_object_keys() {
        for (key, id) in [
            ("a/b.csv", "2~abc"),
            (".trove/x/y", "VXBsb2FkIElE/with/slashes//and=signs"),
            ("k", "/leading-slash"),
            ("dir with space/naïve.bin", "0123abcd"),
        ] {
            let name = leftover_key(key, id);
            assert_eq!(parse_leftover_key(&name), Some((key, id)), "{name}");
            assert!(crate::keys::check_key(&name).is_err(), "'{name}' must not be a valid object key");
        }
        for not_leftover in [
            "a/b.csv",
            "a/b.csv//uploadId=",
            "a/b.csv//other=1",
            "//uploadId=1",
            "a//b//uploadId=1",
            "a/./b//uploadId=1",
            "a/.trove-tmp-0123//uploadId=1",
            "",
        ] {
            assert_eq!(parse_leftover_key(not_leftover), None, "{not_leftover}");
        }
    }

    #[test]
    fn urls_follow_the_addressing_style() {
        let u = S3Uploads::new(&cfg(Some("http://127.0.0.1:3900/"), false), "p/q", "s3://bkt/p/q").unwrap();
        assert_eq!(u.bucket_url(), "http://127.0.0.1:3900/bkt");
        assert_eq!(u.object_url("p/q/a b/ü+x.bin"), "http://127.0.0.1:3900/bkt/p/q/a%20b/%C3%BC%2Bx.bin");
        assert_eq!(u.prefix, "p/q/");

        let u = S3Uploads::new(&cfg(None, true), "", "s3://bkt").unwrap();
        assert_eq!(u.bucket_url(), "https://bkt.s3.eu-west-3.amazonaws.com/");
        assert_eq!(u.object_url("k"), "https://bkt.s3.eu-west-3.amazonaws.com/k");
        assert_eq!(u.prefix, "");

        let u = S3Uploads::new(&cfg(Some("https://bkt.minio.example:443"), false), "", "s3://bkt").unwrap();
        assert_eq!(u.bucket_url(), "https://minio.example/bkt");
        let u = S3Uploads::new(&cfg(Some("minio.example:9000"), true), "", "s3://bkt").unwrap();
        assert_eq!(u.bucket_url(), "https://bkt.minio.example:9000/");

        let err = S3Uploads::new(&cfg(Some("http://[::1"), false), "", "s3://bkt").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn debug_never_shows_credentials() {
        let u = S3Uploads::new(&cfg(Some("http://127.0.0.1:3900"), false), "p", "s3://bkt/p").unwrap();
        let shown = format!("{u:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(shown.contains("s3://bkt/p"), "{shown}");
    }

    #[test]
    fn listings_parse() {
        // The shape of AWS's documented answers (trimmed), with garage's timestamp format.
        let page: ListUploads = quick_xml::de::from_str(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Bucket>bkt</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
              <NextKeyMarker>p/b</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker>
              <Prefix>p/</Prefix><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated>
              <Upload><Key>p/a</Key><UploadId>u1</UploadId><Initiator><ID>x</ID></Initiator>
                <StorageClass>STANDARD</StorageClass><Initiated>2024-05-01T10:00:00.000Z</Initiated></Upload>
              <Upload><Key>p/b</Key><UploadId>u2</UploadId><Initiated>2024-05-01T11:00:00Z</Initiated></Upload>
            </ListMultipartUploadsResult>"#,
        )
        .unwrap();
        assert!(page.is_truncated);
        assert_eq!((page.next_key_marker.as_deref(), page.next_upload_id_marker.as_deref()), (Some("p/b"), Some("u2")));
        assert_eq!(page.upload.len(), 2);
        assert_eq!((page.upload[0].key.as_str(), page.upload[0].upload_id.as_str()), ("p/a", "u1"));
        assert_eq!(parse_time(&page.upload[0].initiated).unwrap().to_rfc3339(), "2024-05-01T10:00:00+00:00");

        let empty: ListUploads = quick_xml::de::from_str(
            "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>",
        )
        .unwrap();
        assert!(!empty.is_truncated && empty.upload.is_empty());

        let parts: ListParts = quick_xml::de::from_str(
            "<ListPartsResult><IsTruncated>false</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker>\
             <Part><PartNumber>1</PartNumber><LastModified>2024-05-01T10:00:01.000Z</LastModified>\
             <ETag>\"e1\"</ETag><Size>52428800</Size></Part>\
             <Part><PartNumber>2</PartNumber><LastModified>2024-05-01T10:00:02.000Z</LastModified>\
             <ETag>\"e2\"</ETag><Size>7</Size></Part></ListPartsResult>",
        )
        .unwrap();
        assert_eq!(parts.part.iter().map(|p| p.size).sum::<u64>(), 52_428_807);
        assert_eq!(parts.next_part_number_marker, Some(2));

        let err: S3Error = quick_xml::de::from_str(
            "<Error><Code>NoSuchUpload</Code><Message>The upload does not exist</Message></Error>",
        )
        .unwrap();
        assert_eq!((err.code.as_str(), err.message.as_str()), ("NoSuchUpload", "The upload does not exist"));
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time("2024-05-01T10:00:00.5").unwrap().to_rfc3339(), "2024-05-01T10:00:00.500+00:00");
    }

    /// Listing pages by key and upload-id markers on a real server (garage, one upload per
    /// page): every upload under the prefix once, two at one key included, none of a sibling
    /// prefix; a key Trove could not write is left out; each is aborted once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_pages_through_every_upload_on_garage() {
        let b = trove_testkit::backends::backends().await;
        let Some(bucket) = b.s3_bucket().await else {
            eprintln!("skipped: provider {} gives no S3 server", b.provider());
            return;
        };
        let mut c = S3Config::new(&bucket.bucket, "p");
        c.endpoint = Some(bucket.endpoint.clone());
        c.region = bucket.region.clone();
        c.access_key_id = Some(bucket.access_key_id.clone());
        c.secret_access_key = Some(bucket.secret_access_key.clone());
        let mut u = S3Uploads::new(&c, "p", "s3://test/p").unwrap();
        u.page = Some(1);
        let begin = async |bucket_key: &str| {
            let url = format!("{}?uploads", u.object_url(bucket_key));
            let body = u.call(reqwest::Method::POST, &url, "CreateMultipartUpload", bucket_key).await.unwrap();
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct Created {
                upload_id: String,
            }
            quick_xml::de::from_reader::<_, Created>(body.as_ref()).unwrap().upload_id
        };
        let mut want = Vec::new();
        for key in ["a/x.bin", "a/x.bin", "b/y.bin", "zz.bin"] {
            want.push(leftover_key(key, &begin(&format!("p/{key}")).await));
        }
        begin("p-sibling/a/x.bin").await;
        begin("p/a//double-slash").await;
        want.sort();

        let found: Vec<String> = u.leftovers("").await.unwrap().into_iter().map(|l| l.key).collect();
        assert_eq!(found, want);
        let under_a: Vec<String> = u.leftovers("a/").await.unwrap().into_iter().map(|l| l.key).collect();
        assert_eq!(under_a, want[..2].to_vec());
        for l in u.leftovers("").await.unwrap() {
            assert_eq!(l.size, 0, "no parts yet: {l:?}");
            assert!(l.last_modified.is_some(), "{l:?}");
        }
        for name in &want {
            assert!(u.abort(name).await.unwrap(), "{name}");
            assert!(!u.abort(name).await.unwrap(), "{name} again");
        }
        assert!(u.leftovers("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_typed_storage_error_without_secrets() {
        let mut c = cfg(Some("http://127.0.0.1:1"), false);
        c.request_timeout = Duration::from_secs(2);
        let u = S3Uploads::new(&c, "p", "s3://bkt/p").unwrap();
        let err = u.leftovers("").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("ListMultipartUploads") && shown.contains("s3://bkt/p"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let err = u.abort("a/b//uploadId=1").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert_eq!(u.abort("a/b").await.unwrap_err().kind(), ErrorKind::InvalidKey);
    }
}
