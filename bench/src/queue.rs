//! The farm's throughput beside Celery's on the same machine, the same Redis and the same
//! PostgreSQL. Troupe runs its cheapest real job, an individual simulation on the offline model,
//! in the distributed shape (the API in this process, two `troupe worker` processes); the
//! reference is a Celery 5 worker (one process, two threads) whose job writes one row
//! (bench/celery_reference.py). The two alternate, each on a scratch database of its own:
//!
//! - burst: `BENCH_JOBS` jobs (default 3,000) submitted as fast as 16 connections allow (Celery:
//!   one producer), then drained: jobs/s from the first submit to the last finish, submits/s,
//!   and end-to-end (submitted → finished) p50/p99. Twice each.
//! - steady: `BENCH_RATE` jobs a second (default 100) for 5 s, below both systems' saturation:
//!   end-to-end p50/p99, which is pick-up plus the job.
//!
//! For Troupe it also prints PostgreSQL commits per job (`pg_stat_database` before and after,
//! less what the idle deployment commits in the same time). Ends with the ratios
//! `jobs_per_s_ratio=<troupe ÷ celery>` and the steady p99s. Needs PostgreSQL and Redis (as
//! scripts/test.sh sets them up) and `BENCH_PYTHON`, a Python with Celery (bench/queue.sh makes
//! one).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use troupe::client::ApiClient;
use troupe_bench::{Deployment, Scratch, env_number, post_all, quantile};

/// Connections submitting at once in a burst.
const SUBMITTERS: usize = 16;
const STEADY_SECONDS: usize = 5;

#[derive(Debug, Clone, Copy)]
enum Load {
    Burst(usize),
    Steady { rate: usize },
}

#[derive(Debug, Default)]
struct Figures {
    jobs_per_s: f64,
    submits_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    commits_per_job: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let jobs = env_number("BENCH_JOBS", 3000);
    let rate = env_number("BENCH_RATE", 100);
    let python =
        PathBuf::from(std::env::var("BENCH_PYTHON").context(
            "BENCH_PYTHON: a Python with Celery and psycopg (bench/queue.sh sets one up)",
        )?);
    println!("queue bench: {jobs} jobs a burst, then {rate} jobs/s for {STEADY_SECONDS} s");
    let mut bursts = (Vec::new(), Vec::new());
    for round in 1..=2 {
        let troupe = troupe(Load::Burst(jobs)).await?;
        report("troupe", "burst", round, &troupe);
        let celery = celery(&python, Load::Burst(jobs)).await?;
        report("celery", "burst", round, &celery);
        bursts.0.push(troupe);
        bursts.1.push(celery);
    }
    let troupe_steady = troupe(Load::Steady { rate }).await?;
    report("troupe", "steady", 1, &troupe_steady);
    let celery_steady = celery(&python, Load::Steady { rate }).await?;
    report("celery", "steady", 1, &celery_steady);

    let best = |runs: &[Figures]| runs.iter().map(|f| f.jobs_per_s).fold(0.0, f64::max);
    let (troupe_best, celery_best) = (best(&bursts.0), best(&bursts.1));
    println!(
        "jobs_per_s troupe={troupe_best:.0} celery={celery_best:.0} jobs_per_s_ratio={:.2} (target ≥ 2)",
        troupe_best / celery_best
    );
    println!(
        "steady_p99_ms troupe={:.1} celery={:.1} (target ≤ 200)",
        troupe_steady.p99_ms, celery_steady.p99_ms
    );
    Ok(())
}

fn report(system: &str, load: &str, round: usize, f: &Figures) {
    let commits = f
        .commits_per_job
        .map(|c| format!(" commits_per_job={c:.2}"))
        .unwrap_or_default();
    println!(
        "system={system} load={load} round={round} jobs_per_s={:.0} submits_per_s={:.0} p50_ms={:.1} p99_ms={:.1}{commits}",
        f.jobs_per_s, f.submits_per_s, f.p50_ms, f.p99_ms
    );
}

async fn troupe(load: Load) -> anyhow::Result<Figures> {
    let scratch = Scratch::distributed().await?;
    let mut vars = scratch.vars.clone();
    vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
    vars.insert(
        "TROUPE_LOG".into(),
        std::env::var("BENCH_LOG").unwrap_or_else(|_| "error".into()),
    );
    let database_url = vars["TROUPE_DATABASE_URL"].clone();
    let database = database_url.rsplit('/').next().context("name")?.to_owned();
    let deployment = Deployment::start(vars, Some(2)).await?;
    let api = &deployment.api;
    let pg = PgPool::connect(&database_url).await?;
    let persona = api
        .post(
            "/api/v1/personas",
            &json!({ "name": "Harrison Vale", "segment": "finance_executives" }),
        )
        .await?["id"]
        .clone();
    let body = |seed: usize| {
        json!({
            "persona_id": persona,
            "scenario": { "type": "property_viewing", "context": { "property": "Carbon Beach Modern", "price": 38500000 } },
            "simulation_params": { "seed": seed }
        })
    };
    // Warm up: both workers are consuming once a job has round-tripped.
    post_all(api, "/api/v1/simulations/individual", vec![body(0)], 1).await?;
    wait_until_finished(&pg, 1).await?;
    // What the idle deployment commits on its own (polls, sweeps), to leave out of the count.
    let idle_from = (commits(&pg, &database).await?, Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rate =
        (commits(&pg, &database).await? - idle_from.0) / idle_from.1.elapsed().as_secs_f64();
    let before = (commits(&pg, &database).await?, Instant::now());

    let (n, submits_per_s) = match load {
        Load::Burst(n) => {
            let started = Instant::now();
            post_all(
                api,
                "/api/v1/simulations/individual",
                (1..=n).map(body).collect(),
                SUBMITTERS,
            )
            .await?;
            (n, n as f64 / started.elapsed().as_secs_f64())
        }
        Load::Steady { rate } => {
            let n = rate * STEADY_SECONDS;
            submit_steadily(api, (1..=n).map(body).collect(), rate).await?;
            (n, rate as f64)
        }
    };
    wait_until_finished(&pg, n + 1).await?;
    // Statistics reach pg_stat_database within a second of a backend going idle.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let spent =
        commits(&pg, &database).await? - before.0 - idle_rate * before.1.elapsed().as_secs_f64();

    let rows: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT status, created_at, completed_at FROM simulations ORDER BY created_at OFFSET 1",
    )
    .fetch_all(&pg)
    .await?;
    anyhow::ensure!(
        rows.iter().all(|(status, ..)| status == "completed"),
        "some simulations did not complete"
    );
    let figures = timings(rows.iter().map(|(_, created, done)| {
        (
            *created,
            done.expect("a completed simulation has completed_at"),
        )
    }));
    pg.close().await;
    deployment.stop();
    scratch.drop_database().await?;
    Ok(Figures {
        submits_per_s,
        commits_per_job: Some(spent / n as f64),
        ..figures
    })
}

/// Jobs/s from the first submit to the last finish, and end-to-end quantiles.
fn timings(jobs: impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)>) -> Figures {
    let jobs: Vec<_> = jobs.collect();
    let first = jobs.iter().map(|j| j.0).min().unwrap_or_default();
    let last = jobs.iter().map(|j| j.1).max().unwrap_or_default();
    let millis = |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let mut e2e: Vec<f64> = jobs.iter().map(|(a, b)| millis(*b - *a)).collect();
    Figures {
        jobs_per_s: jobs.len() as f64 / (millis(last - first) / 1000.0),
        p50_ms: quantile(&mut e2e, 0.5),
        p99_ms: quantile(&mut e2e, 0.99),
        ..Figures::default()
    }
}

/// Submits one body every 1/rate s, without waiting for earlier answers.
async fn submit_steadily(api: &ApiClient, bodies: Vec<Value>, rate: usize) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut submits = tokio::task::JoinSet::new();
    for body in bodies {
        ticker.tick().await;
        let api = api.clone();
        submits.spawn(async move { api.post("/api/v1/simulations/individual", &body).await });
    }
    while let Some(submitted) = submits.join_next().await {
        submitted??;
    }
    Ok(())
}

async fn wait_until_finished(pg: &PgPool, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let finished: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM simulations WHERE status IN ('completed', 'failed', 'cancelled')",
        )
        .fetch_one(pg)
        .await?;
        if finished as usize >= n {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {finished} of {n} finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn commits(pg: &PgPool, database: &str) -> anyhow::Result<f64> {
    let commits: i64 =
        sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
            .bind(database)
            .fetch_one(pg)
            .await?;
    Ok(commits as f64)
}

async fn celery(python: &PathBuf, load: Load) -> anyhow::Result<Figures> {
    let scratch = Scratch::distributed().await?;
    let url = scratch.vars["TROUPE_DATABASE_URL"].clone();
    let redis = scratch.vars["TROUPE_REDIS_URL"].clone();
    let queue = scratch.vars["TROUPE_QUEUE_PREFIX"].clone();
    let args = match load {
        Load::Burst(n) => vec!["burst".to_owned(), n.to_string()],
        Load::Steady { rate } => vec![
            "steady".to_owned(),
            (rate * STEADY_SECONDS).to_string(),
            rate.to_string(),
        ],
    };
    let script = std::env::current_dir()?.join("bench/celery_reference.py");
    let output = tokio::process::Command::new(python)
        .arg(&script)
        .args(&args)
        .env(
            "BENCH_POSTGRES_URL",
            url.replacen("postgres://", "postgresql://", 1),
        )
        .env("BENCH_REDIS_URL", redis)
        .env("BENCH_QUEUE", queue)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    scratch.drop_database().await?;
    anyhow::ensure!(output.status.success(), "the Celery reference failed");
    let line = String::from_utf8(output.stdout)?;
    let figures: Value = serde_json::from_str(line.lines().last().context("no output")?)?;
    let number = |k: &str| figures[k].as_f64().unwrap_or(0.0);
    Ok(Figures {
        jobs_per_s: number("jobs_per_s"),
        submits_per_s: number("enqueue_per_s"),
        p50_ms: number("p50_ms"),
        p99_ms: number("p99_ms"),
        commits_per_job: None,
    })
}
