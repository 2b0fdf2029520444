//! The fixture itself: each backend the chosen provider offers answers, and each database and
//! bucket is fresh. Run with `TROVE_TEST_BACKENDS=containers|local|embedded` to pick one.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use trove_testkit::backends::{Provider, backends, backends_blocking};

/// One HTTP/1.1 request with `Connection: close`; returns the status and the body.
fn http(endpoint: &str, method: &str, path: &str) -> (u16, String) {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

#[tokio::test]
async fn prints_which_backends_are_used() {
    let b = backends().await;
    let line = b.describe();
    assert!(line.starts_with(&format!("backends: {}", b.provider())), "{line}");
    if let Ok(wanted) = std::env::var("TROVE_TEST_BACKENDS") {
        assert_eq!(b.provider().as_str(), wanted, "the provider asked for is the one used");
    }
}

#[tokio::test]
async fn postgres_databases_are_fresh_and_answer() {
    let b = backends().await;
    let Some(first) = b.postgres_db().await else {
        assert_eq!(b.provider(), Provider::Embedded);
        return;
    };
    let started = Instant::now();
    let second = b.postgres_db().await.expect("a second database");
    eprintln!("CREATE DATABASE took {:?}", started.elapsed());
    assert_ne!(first.name, second.name);
    assert!(first.url.starts_with("postgres://"), "{}", first.url);
    assert_eq!(first.simple_query("SELECT 1").unwrap(), vec![vec![Some("1".to_string())]]);
    let version = first.simple_query("SHOW server_version_num").unwrap();
    let version: u32 = version[0][0].as_deref().unwrap().parse().unwrap();
    assert!((150_000..160_000).contains(&version), "PostgreSQL 15, got {version}");
    first.simple_query("CREATE TABLE t (x int); INSERT INTO t VALUES (7)").unwrap();
    assert_eq!(first.simple_query("SELECT x FROM t").unwrap(), vec![vec![Some("7".to_string())]]);
    let err = second.simple_query("SELECT x FROM t").unwrap_err();
    assert!(err.contains("42P01"), "the second database is separate: {err}");

    // Dropped with its value.
    let name = first.name.clone();
    drop(first);
    let rows = second.simple_query(&format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")).unwrap();
    assert_eq!(rows, vec![vec![Some("0".to_string())]]);
}

#[tokio::test]
async fn s3_buckets_are_fresh_on_a_real_s3_server() {
    let b = backends().await;
    let Some(bucket) = b.s3_bucket().await else {
        assert_eq!(b.provider(), Provider::Embedded);
        return;
    };
    let started = Instant::now();
    let other = b.s3_bucket().await.expect("a second bucket");
    eprintln!("S3 bucket creation took {:?}", started.elapsed());
    assert_ne!(bucket.bucket, other.bucket);
    assert_eq!(bucket.region, "garage");
    assert!(bucket.access_key_id.starts_with("GK"));
    // An unsigned request is refused with an S3 XML error: a real, authenticating S3 server.
    let (status, body) = http(&bucket.endpoint, "GET", &format!("/{}/", bucket.bucket));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Error>") && body.contains("<Code>"), "{body}");
}

#[tokio::test]
async fn gcs_buckets_are_fresh_and_exist() {
    let b = backends().await;
    let Some(bucket) = b.gcs_bucket().await else {
        assert_eq!(b.provider(), Provider::Embedded);
        return;
    };
    let started = Instant::now();
    let other = b.gcs_bucket().await.expect("a second bucket");
    eprintln!("GCS bucket creation took {:?}", started.elapsed());
    assert_ne!(bucket.bucket, other.bucket);
    let (status, body) = http(&bucket.endpoint, "GET", &format!("/storage/v1/b/{}", bucket.bucket));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&bucket.bucket), "{body}");
    let (status, body) = http(&bucket.endpoint, "GET", &format!("/storage/v1/b/{}/o", other.bucket));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn sqlite_and_local_dirs_work_everywhere() {
    let b = backends_blocking();
    let db = b.sqlite_db();
    assert!(db.url.starts_with("sqlite://") && db.url.ends_with("?mode=rwc"));
    assert!(db.path.parent().unwrap().is_dir());
    let dir = b.local_dir();
    assert!(dir.path().is_dir());
    assert_ne!(dir.path(), b.local_dir().path());
}

#[test]
fn the_blocking_api_works_outside_a_runtime() {
    let b = backends_blocking();
    if let Some(db) = b.postgres_db_blocking() {
        assert_eq!(db.simple_query("SELECT 2").unwrap(), vec![vec![Some("2".to_string())]]);
    }
    if let Some(bucket) = b.s3_bucket_blocking() {
        assert!(bucket.bucket.starts_with("trove-"));
    }
    if let Some(bucket) = b.gcs_bucket_blocking() {
        assert!(bucket.bucket.starts_with("trove-"));
    }
}
