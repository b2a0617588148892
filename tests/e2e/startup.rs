//! What a process checks before it takes work: every `TROUPE_*` value, by every role, with the
//! variable named; and `troupe doctor`, which asks the configured provider what it can do.

use std::process::Output;

use mock_llm::{MockConfig, MockLlm};
use tokio::process::Command;

async fn troupe(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", scratch.path().join("troupe.db").display());
    Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(args)
        .env_clear()
        .env("TROUPE_DATABASE_URL", database)
        .env("TROUPE_BIND", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .output()
        .await
        .expect("troupe runs")
}

#[tokio::test]
async fn every_role_refuses_a_bad_setting_before_it_starts() {
    for role in ["api", "worker", "scheduler", "serve"] {
        for (var, value) in [
            ("TROUPE_LLM_BASE_URL", "http://127.0.0.1:/v1"),
            ("TROUPE_MATCHING_CRON", "at two every night"),
            ("TROUPE_LOG", "info,=["),
        ] {
            let out = troupe(&[role], &[(var, value)]).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{role} started with {var}={value}");
            assert!(stderr.contains(var), "{role}, {var}: {stderr}");
            assert!(
                !stderr.contains('\u{1b}'),
                "no colour codes into a pipe: {stderr}"
            );
        }
    }
}

/// A model directory that is set but cannot be loaded stops the roles that match, naming the
/// setting and the file, rather than letting them quietly compare words.
#[tokio::test]
async fn a_worker_refuses_an_embedding_model_it_cannot_load() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    for role in ["worker", "serve"] {
        let out = troupe(&[role], &[("TROUPE_EMBEDDING_MODEL_DIR", dir.as_str())]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{role} started without its model");
        assert!(
            stderr.contains("TROUPE_EMBEDDING_MODEL_DIR"),
            "{role}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{dir}/config.json")),
            "{role}: {stderr}"
        );
    }
}

#[tokio::test]
async fn doctor_reports_what_the_provider_can_do() {
    let mock = MockLlm::start(MockConfig {
        rpm: Some(600),
        tpm: Some(120_000),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let out = troupe(&["doctor"], &[("TROUPE_LLM_BASE_URL", base.as_str())]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok   reachable"), "{stdout}");
    assert!(
        stdout.contains("600 requests/min, 120000 tokens/min"),
        "{stdout}"
    );
    // The mock answers JSON but takes text-only messages: doctor says so rather than guessing.
    assert!(stdout.contains("json schema"), "{stdout}");
    assert!(stdout.contains("FAIL vision"), "{stdout}");

    let offline = troupe(&["doctor"], &[]).await;
    assert!(offline.status.success());
    assert!(String::from_utf8_lossy(&offline.stdout).contains("offline"));
    let unreachable = troupe(
        &["doctor"],
        &[("TROUPE_LLM_BASE_URL", "http://127.0.0.1:9/v1")],
    )
    .await;
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unreachable.stdout).contains("FAIL reachable"));
}
