//! TLS in transit. HTTPS: with a certificate and key configured the API answers over TLS 1.3
//! only (TLS 1.2 on request), tells browsers to keep to HTTPS, and refuses a certificate it
//! cannot use at start. Redis (`rediss://`) and PostgreSQL (`sslmode`), checked against a
//! configured authority.

use reqwest::tls::Version;
use secrecy::ExposeSecret;
use troupe_shared::crypto::generate_master_key;

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

/// A PostgreSQL cluster of the test's own that takes TLS connections only (`hostssl`; anything
/// else is rejected), with `cert`'s certificate and key; run as the `postgres` user, which
/// initdb requires. Returns it and its port.
async fn start_tls_postgres(
    dir: &std::path::Path,
    cert: &str,
    key: &str,
) -> (tokio::process::Child, u16) {
    use std::os::unix::fs::{PermissionsExt, chown};
    let uid = |name: &str| -> u32 {
        let out = std::process::Command::new("id")
            .args(["-u", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a postgres user")
    };
    let postgres = uid("postgres");
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    for path in [dir, data.as_path()] {
        chown(path, Some(postgres), None).unwrap();
    }
    let (cert_file, key_file) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    for file in [&cert_file, &key_file] {
        chown(file, Some(postgres), None).unwrap();
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries (scripts/test.sh installs them)")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .max()
        .unwrap();
    let initdb = std::process::Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("initdb"))
        .args([
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(initdb.success(), "initdb as the postgres user");
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = tokio::process::Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("postgres"))
        .args(["-D", data.to_str().unwrap(), "-p", &port.to_string()])
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            &format!("unix_socket_directories={}", dir.display()),
        ])
        .args(["-c", "ssl=on", "-c", "ssl_min_protocol_version=TLSv1.3"])
        .args(["-c", &format!("ssl_cert_file={}", cert_file.display())])
        .args(["-c", &format!("ssl_key_file={}", key_file.display())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (server, port)
}

/// PostgreSQL over TLS: `sslmode=verify-full` with `sslrootcert` migrates and writes through a
/// server that refuses anything but TLS 1.3; without the authority, or with `sslmode=disable`,
/// the service gets no connection and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_reaches_postgres_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, made.cert.pem()).unwrap();
    let cluster = tempfile::tempdir().unwrap();
    let (mut server, port) = start_tls_postgres(
        cluster.path(),
        &made.cert.pem(),
        &made.signing_key.serialize_pem(),
    )
    .await;
    let key = generate_master_key().expose_secret().to_owned();
    let troupe = |url: String, args: &'static [&'static str]| {
        let key = key.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_troupe"))
                .args(args)
                .env_clear()
                .env("TROUPE_DATABASE_URL", url)
                .env("TROUPE_REDIS_URL", "redis://127.0.0.1:6379")
                .env("TROUPE_ENCRYPTION_KEY", key)
                .env("TROUPE_LOG", "warn")
                .output()
                .await
                .unwrap()
        }
    };
    let base = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let trusted = format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display());
    let migrated = troupe(trusted.clone(), &["migrate"]).await;
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let key = troupe(
        trusted,
        &[
            "keys",
            "create",
            "--brokerage",
            "Acme Realty",
            "--role",
            "agent",
            "--user",
            "alice",
        ],
    )
    .await;
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    for url in [
        format!("{base}?sslmode=verify-full"),
        format!("{base}?sslmode=disable"),
    ] {
        let refused = troupe(url.clone(), &["migrate"]).await;
        assert!(!refused.status.success(), "{url}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("connecting to"),
            "{url}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    server.kill().await.unwrap();
}

/// TLS ended in front of the service (an ingress): with an `https://` public address the
/// session cookie is `Secure` although the service itself speaks HTTP, and invitation links
/// carry that address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_public_address_makes_the_session_cookie_secure() {
    let public = "https://troupe.acme.example";
    let app = TestApp::spawn_with(
        Shape::Embedded,
        Options {
            vars: vec![("TROUPE_PUBLIC_URL", public.to_owned())],
            ..Options::default()
        },
    )
    .await;
    let admin = app
        .key_for(
            "Acme Realty",
            None,
            "boss",
            troupe_shared::domain::Role::BrokerageAdmin,
        )
        .await;
    let alice = crate::web::user_named(&app, &admin, "alice").await;
    let invited = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/users/{alice}/invite"),
            Some(&admin),
            Some(&serde_json::json!({ "email": "alice@acme.example" })),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let link = invited.body["url"].as_str().unwrap();
    let path = link
        .strip_prefix(public)
        .expect("the link is on the public address");
    let password = "a long enough passphrase";
    let accepted = crate::web::browser()
        .post(format!("{}{path}", app.base))
        .form(&[("password", password), ("confirm", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), reqwest::StatusCode::SEE_OTHER);
    let cookie = accepted.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}
