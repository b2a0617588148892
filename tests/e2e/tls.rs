//! HTTPS: with a certificate and key configured the API answers over TLS 1.3 only (TLS 1.2 on
//! request), tells browsers to keep to HTTPS, and refuses a certificate it cannot use at start.

use reqwest::tls::Version;

use crate::helpers::{Options, Shape, TestApp};

/// A self-signed certificate for 127.0.0.1, written where the service can read it.
fn certificate(dir: &std::path::Path) -> (String, String, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = made.cert.pem();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, made.signing_key.serialize_pem()).unwrap();
    (
        cert,
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

fn client(cert: &str, min: Version, max: Version) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .min_tls_version(min)
        .max_tls_version(max)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_speaks_tls_1_3_and_refuses_1_2_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, cert_path, key_path) = certificate(dir.path());
    for allow_tls12 in [false, true] {
        let mut vars = vec![
            ("TROUPE_TLS_CERT", cert_path.clone()),
            ("TROUPE_TLS_KEY", key_path.clone()),
        ];
        if allow_tls12 {
            vars.push(("TROUPE_TLS_MIN_VERSION", "1.2".to_owned()));
        }
        let app = TestApp::spawn_with(
            Shape::Embedded,
            Options {
                vars,
                ..Options::default()
            },
        )
        .await;
        let https = app.base.replace("http://", "https://");
        let tls13 = client(&cert, Version::TLS_1_3, Version::TLS_1_3);
        let reply = tls13
            .get(format!("{https}/api/v1/personas"))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("a TLS 1.3 client gets through");
        assert_eq!(reply.status(), 200);
        assert_eq!(
            reply.headers()["strict-transport-security"],
            "max-age=31536000"
        );
        let tls12 = client(&cert, Version::TLS_1_2, Version::TLS_1_2)
            .get(format!("{https}/healthz"))
            .send()
            .await;
        assert_eq!(
            tls12.is_ok(),
            allow_tls12,
            "TLS 1.2 with allow_tls12={allow_tls12}: {tls12:?}"
        );
        // Plain HTTP gets no answer from a TLS listener.
        let plain = reqwest::get(format!("{}/healthz", app.base)).await;
        assert!(plain.is_err() || !plain.unwrap().status().is_success());
    }
}

#[tokio::test]
async fn a_certificate_that_cannot_be_used_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert_path, _) = certificate(dir.path());
    let not_a_key = dir.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let database = format!("sqlite://{}", dir.path().join("troupe.db").display());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
        .arg("api")
        .env_clear()
        .env("TROUPE_DATABASE_URL", database)
        .env("TROUPE_BIND", "127.0.0.1:0")
        .env("TROUPE_TLS_CERT", &cert_path)
        .env("TROUPE_TLS_KEY", not_a_key)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TROUPE_TLS_KEY"));
}
