//! TLS in transit. HTTPS: with a certificate and key configured the API answers over TLS 1.3
//! only (TLS 1.2 on request), tells browsers to keep to HTTPS, and refuses a certificate it
//! cannot use at start. Redis: `rediss://`, checked against a configured authority.

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

/// A `redis-server` of the test's own that speaks only TLS, with `cert`'s certificate and key.
async fn start_tls_redis(cert_path: &str, key_path: &str) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = tokio::process::Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--tls-cert-file", cert_path, "--tls-key-file", key_path])
        // Redis wants an authority even when it asks clients for no certificate.
        .args(["--tls-ca-cert-file", cert_path, "--tls-auth-clients", "no"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server runs (scripts/test.sh installs it)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (redis, port)
}

/// `rediss://` with `TROUPE_REDIS_CA_CERT`: the distributed shape's queues, wake-ups and event
/// bus all go over TLS to a Redis that speaks nothing else, and a focus group runs through them;
/// a certificate the configured authority did not sign, or plain `redis://`, gets no connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distributed_shape_reaches_redis_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert_path, key_path) = certificate(dir.path());
    let (mut redis, port) = start_tls_redis(&cert_path, &key_path).await;
    let url = format!("rediss://127.0.0.1:{port}");

    let configured = |vars: &[(&str, &str)]| {
        let mut all: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.insert(
            "TROUPE_DATABASE_URL".into(),
            "postgres://postgres@127.0.0.1:5432/test".into(),
        );
        all.insert("TROUPE_ENCRYPTION_KEY".into(), "a2V5".into());
        let config = troupe_shared::Config::from_vars(all).expect("valid configuration");
        troupe_shared::queue::RedisServer::configured(&config)
            .expect("the authority's file is read")
            .expect("a Redis is configured")
    };
    let other_dir = tempfile::tempdir().unwrap();
    let (_, stranger, _) = certificate(other_dir.path());
    for (what, vars) in [
        (
            "the system's roots",
            vec![("TROUPE_REDIS_URL", url.as_str())],
        ),
        (
            "another authority",
            vec![
                ("TROUPE_REDIS_URL", url.as_str()),
                ("TROUPE_REDIS_CA_CERT", stranger.as_str()),
            ],
        ),
    ] {
        let refused = configured(&vars).connection().await;
        assert!(refused.is_err(), "trusted through {what}");
    }
    let plain = format!("redis://127.0.0.1:{port}");
    let refused = configured(&[("TROUPE_REDIS_URL", plain.as_str())])
        .connection()
        .await;
    assert!(refused.is_err(), "plain redis:// to a TLS port");

    let app = TestApp::spawn_with(
        Shape::Distributed,
        Options {
            vars: vec![
                ("TROUPE_REDIS_URL", url.clone()),
                ("TROUPE_REDIS_CA_CERT", cert_path.clone()),
            ],
            ..Options::default()
        },
    )
    .await;
    let property = crate::helpers::seed(&app).await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &serde_json::json!({ "property_id": property, "persona_segments": ["finance"] }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap();
    let status = app
        .wait_for_final(id, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(app.get("/readyz").await.status, 200);
    drop(app);
    redis.kill().await.unwrap();
}
