//! The library never shows a catalog password: not in `location()`, not in `Debug`, not in an
//! error (message, cause or `Debug`), whether it came in the URL's userinfo or query.

use trove::{ErrorKind, InitOptions, Trove};
use trove_testkit::backends::backends;

const SECRET: &str = "hunter2hunter2";

fn assert_hidden(text: &str, what: &str) {
    assert!(!text.contains(SECRET), "the password appears in {what}: {}", text.replace(SECRET, "<SECRET>"));
}

fn error_text(e: &trove::Error) -> String {
    let mut s = format!("{e} {e:?}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    s
}

#[test]
fn debug_of_options_and_builder_hides_the_password() {
    let opts = InitOptions {
        db: Some(format!("postgresql://u:{SECRET}@h/db?sslmode=disable")),
        ..InitOptions::local("/tmp/x")
    };
    let shown = format!("{opts:?}");
    assert_hidden(&shown, "InitOptions' Debug");
    assert!(shown.contains("postgresql://u:***@h/db?sslmode=disable"), "{shown}");
    let builder = Trove::builder().location(format!("postgresql://u@h/db?password={SECRET}"));
    let shown = format!("{builder:?}");
    assert_hidden(&shown, "TroveBuilder's Debug");
    assert!(shown.contains("password=***"), "{shown}");
}

/// URLs refused before any connection: the errors name the URL, redacted.
#[tokio::test]
async fn errors_before_connecting_hide_the_password() {
    for (url, kind) in [
        (format!("postgresql://u:{SECRET}@127.0.0.1:notaport/db"), ErrorKind::InvalidInput),
        (format!("postgresql://u@127.0.0.1/db?sslpassword={SECRET}"), ErrorKind::InvalidInput),
        (format!("mysql://u:{SECRET}@127.0.0.1/db"), ErrorKind::InvalidInput),
    ] {
        let err = Trove::open(&url).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{url}: {err}");
        assert_hidden(&error_text(&err), &format!("the error for {}", url.replace(SECRET, "<SECRET>")));
    }
}

#[tokio::test]
async fn an_open_instance_shows_its_location_redacted() {
    let b = backends().await;
    let Some(db) = b.postgres_db().await else {
        eprintln!("skipped: provider {} gives no PostgreSQL", b.provider());
        return;
    };
    let pw = db.password_user();
    let dir = tempfile::tempdir().unwrap();
    let url = pw.url_with_password();
    let init = InitOptions { db: Some(url.clone()), ..InitOptions::local(dir.path().join("root")) };
    let t = Trove::init(init).await.unwrap();
    for (url, want) in [
        (url.clone(), format!("{}:***@", pw.user)),
        (format!("{}?password={}", pw.url(), pw.password), "password=***".to_owned()),
    ] {
        let t = Trove::open(&url).await.unwrap();
        assert!(t.location().contains(&want), "{}", t.location());
        assert!(!t.location().contains(&pw.password) && !format!("{t:?}").contains(&pw.password));
    }
    assert!(!format!("{t:?}").contains(&pw.password));

    // A wrong password: a typed error, without either password, naming the fixes.
    let wrong = url.replace(&pw.password, SECRET);
    let err = Trove::open(&wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    let text = error_text(&err);
    assert_hidden(&text, "the authentication error");
    assert!(!text.contains(&pw.password), "{text}");
    for fix in ["PGPASSWORD", "~/.pgpass", "PGPASSFILE"] {
        assert!(err.message().contains(fix), "names {fix}: {err}");
    }
}
