//! Persona reads at brokerage scale: 100,000 personas across 50 agents in 10 teams (PostgreSQL,
//! the distributed shape's API) and 10,000 in the embedded shape, with mixed visibility. 64
//! concurrent connections, each request from a random agent's key:
//!
//! - `get`: `GET /personas/{id}` of a persona that agent may see (audited: every read appends to
//!   the brokerage's hash-chained audit log);
//! - `list`: `GET /personas?segment=…&limit=50`, the visibility rules applied in SQL;
//! - `unaudited_get`: `GET /properties/{id}` of one listing, the reference: the same key check
//!   and a one-row read, with no audit entry. The audited read's throughput is printed as a
//!   multiple of it (`audited_over_unaudited_rps`).
//!
//! For the list it also runs the API's own query (`LIST_PERSONAS`) directly — `EXPLAIN ANALYZE`
//! in PostgreSQL, the median of repeated runs in SQLite — prints the plan (which must use an
//! index), and reports the API's p99 as a multiple of the query's own time. Ends with lines
//! `endpoint=<name> shape=<shape> p99_ms=<x> rps=<n>`. `BENCH_PERSONAS_PG`,
//! `BENCH_PERSONAS_SQLITE`, `BENCH_SECONDS` and `BENCH_CONCURRENCY` scale it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::json;
use troupe_bench::{Deployment, Scratch, env_number, quantile};
use troupe_shared::{Config, Store, domain::Role, store::LIST_PERSONAS};
use uuid::Uuid;

const TEAMS: usize = 10;
const AGENTS: usize = 50;
const SEGMENTS: &[&str] = &[
    "finance",
    "tech",
    "sports",
    "entertainment",
    "family_office",
    "medicine",
    "energy",
    "art",
];
const PAGE: i64 = 50;
const SEED: u64 = 20_261_125;

/// An agent of the bench brokerage: their key and what the bench may ask them to read.
struct Agent {
    key: String,
    user_id: Uuid,
    team_id: Uuid,
    /// Personas this agent may see (their own, and a sample of the brokerage-visible ones).
    visible: Vec<Uuid>,
}

struct Measured {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    errors: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 10) as u64;
    let concurrency = env_number("BENCH_CONCURRENCY", 64);
    let mut summary = Vec::new();
    for (shape, count) in [
        ("distributed", env_number("BENCH_PERSONAS_PG", 100_000)),
        ("embedded", env_number("BENCH_PERSONAS_SQLITE", 10_000)),
    ] {
        let scratch = match shape {
            "distributed" => Scratch::distributed().await?,
            _ => Scratch::embedded()?,
        };
        let mut vars = scratch.vars.clone();
        vars.insert("TROUPE_LOG".into(), "warn".into());
        vars.insert("TROUPE_BIND".into(), "127.0.0.1:0".into());
        let workers = (shape == "distributed").then_some(0);
        let deployment = Deployment::start(vars.clone(), workers).await?;
        let config = Config::from_vars(vars.clone())?;
        let (store, _) = troupe::connect(&config).await?;
        let started = Instant::now();
        let agents = seed(&store, &vars["TROUPE_DATABASE_URL"], count).await?;
        println!(
            "personas bench: shape={shape} personas={count} agents={AGENTS} teams={TEAMS} seeded in {:.1} s; {concurrency} connections, {seconds} s per endpoint",
            started.elapsed().as_secs_f64()
        );
        // The rows went in as an earlier release wrote them: a process starting seals them and
        // writes their search digests, as an upgrade would.
        let started = Instant::now();
        let (sealer, _) = troupe::connect(&config).await?;
        sealer.close().await;
        analyze(&vars["TROUPE_DATABASE_URL"]).await?;
        println!(
            "shape={shape} sealed {count} profiles and wrote their search digests at start in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let agents = Arc::new(agents);
        let base = deployment.api.base().to_owned();
        let listing = create_listing(&base, &agents[0]).await?;
        let mut unaudited_rps = f64::NAN;
        for endpoint in ["unaudited_get", "get", "list", "search"] {
            let measured = load(&base, &agents, endpoint, &listing, concurrency, seconds).await?;
            println!(
                "shape={shape} endpoint={endpoint} requests_per_s={:.0} p50_ms={:.2} p99_ms={:.2} errors={}",
                measured.rps, measured.p50_ms, measured.p99_ms, measured.errors
            );
            match endpoint {
                "unaudited_get" => unaudited_rps = measured.rps,
                "get" => println!(
                    "shape={shape} audited_over_unaudited_rps={:.2}",
                    measured.rps / unaudited_rps
                ),
                _ => {}
            }
            if endpoint == "list" {
                let sql_ms = explain(&vars["TROUPE_DATABASE_URL"], &agents[0]).await?;
                println!(
                    "shape={shape} list_p99_over_sql_time={:.1} (the query itself: {sql_ms:.3} ms)",
                    measured.p99_ms / sql_ms
                );
            }
            summary.push(format!(
                "endpoint={endpoint} shape={shape} p99_ms={:.2} rps={:.0}",
                measured.p99_ms, measured.rps
            ));
        }
        deployment.stop();
        store.close().await;
        scratch.drop_database().await?;
    }
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// 50 agents in 10 teams with keys, and `count` personas spread over them: 40% private, 30%
/// team, 30% brokerage, written straight to the database in multi-row inserts, in the clear as
/// a release before sealed profiles wrote them (the next start seals them).
async fn seed(store: &Store, url: &str, count: usize) -> anyhow::Result<Vec<Agent>> {
    let mut agents = Vec::with_capacity(AGENTS);
    for index in 0..AGENTS {
        let team = format!("Team {}", index % TEAMS);
        let user = format!("agent {index}");
        let key = store
            .provision_key("Bench", Some(&team), &user, Role::Agent)
            .await?;
        agents.push((key, user));
    }
    let brokerage = agents[0].0.brokerage_id;
    let rows: Vec<(Uuid, Option<Uuid>, String)> = query_users(url, brokerage).await?;
    let mut agents: Vec<Agent> = agents
        .into_iter()
        .map(|(key, user)| {
            let (user_id, team_id, _) = rows
                .iter()
                .find(|(_, _, name)| *name == user)
                .expect("the provisioned user");
            Agent {
                key: key.token,
                user_id: *user_id,
                team_id: team_id.expect("agents have teams"),
                visible: Vec::new(),
            }
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(SEED);
    let now = chrono::Utc::now();
    let mut shared = Vec::new();
    let mut batch = Vec::new();
    for i in 0..count {
        let owner = rng.random_range(0..AGENTS);
        let visibility = match rng.random_range(0..10) {
            0..4 => "private",
            4..7 => "team",
            _ => "brokerage",
        };
        let segment = *SEGMENTS.choose(&mut rng).expect("segments");
        let id = Uuid::now_v7();
        let profile = json!({
            "name": format!("Client {i}"),
            "segment": segment,
            "biography": format!("Client {i} of agent {owner}, met through the {segment} circle."),
            "preferences": { "features": ["wine cellar", "ocean views"], "budget": { "max": rng.random_range(5..80) as f64 * 1e6 } },
        });
        if agents[owner].visible.len() < 200 {
            agents[owner].visible.push(id);
        }
        if visibility == "brokerage" && shared.len() < 2_000 {
            shared.push(id);
        }
        batch.push((
            id,
            agents[owner].user_id,
            agents[owner].team_id,
            visibility,
            segment,
            profile,
        ));
        if batch.len() == 1_000 || i + 1 == count {
            insert(url, brokerage, &batch, now).await?;
            batch.clear();
        }
    }
    mark_plaintext(url).await?;
    for agent in &mut agents {
        agent.visible.extend(shared.iter().copied());
    }
    analyze(url).await?;
    Ok(agents)
}

type Row = (
    Uuid,
    Uuid,
    Uuid,
    &'static str,
    &'static str,
    serde_json::Value,
);

/// Runs `$body` with `$pool` connected to the scratch database, whichever it is.
macro_rules! on_database {
    ($url:expr, $pool:ident => $body:expr) => {
        if $url.starts_with("postgres") {
            let $pool = sqlx::PgPool::connect($url).await?;
            let out = $body;
            $pool.close().await;
            out
        } else {
            let $pool = sqlx::SqlitePool::connect($url).await?;
            let out = $body;
            $pool.close().await;
            out
        }
    };
}

async fn query_users(
    url: &str,
    brokerage: Uuid,
) -> anyhow::Result<Vec<(Uuid, Option<Uuid>, String)>> {
    Ok(on_database!(url, pool => {
        sqlx::query_as("SELECT id, team_id, name FROM users WHERE brokerage_id = $1")
            .bind(brokerage)
            .fetch_all(&pool)
            .await?
    }))
}

async fn insert(
    url: &str,
    brokerage: Uuid,
    rows: &[Row],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    on_database!(url, pool => {
        let mut query = sqlx::QueryBuilder::new(
            "INSERT INTO personas (id, brokerage_id, owner_user_id, team_id, visibility, segment, version, profile, created_at, updated_at) ",
        );
        query.push_values(rows, |mut row, (id, owner, team, visibility, segment, profile)| {
            row.push_bind(*id)
                .push_bind(brokerage)
                .push_bind(*owner)
                .push_bind(*team)
                .push_bind(*visibility)
                .push_bind(*segment)
                .push_bind(1i64)
                .push_bind(sqlx::types::Json(profile))
                .push_bind(now)
                .push_bind(now);
        });
        query.build().execute(&pool).await?;
    });
    Ok(())
}

/// Tells the next process to start that rows are stored in the clear.
async fn mark_plaintext(url: &str) -> anyhow::Result<()> {
    on_database!(url, pool => {
        sqlx::query("INSERT INTO plaintext_to_seal (pending) VALUES (TRUE)").execute(&pool).await?;
    });
    Ok(())
}

async fn analyze(url: &str) -> anyhow::Result<()> {
    on_database!(url, pool => {
        sqlx::query("ANALYZE").execute(&pool).await?;
    });
    Ok(())
}

/// `concurrency` clients, each sending requests one after another for `seconds`.
/// One listing for the unaudited reference read.
async fn create_listing(base: &str, agent: &Agent) -> anyhow::Result<String> {
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/properties"))
        .bearer_auth(&agent.key)
        .json(&json!({ "title": "Bench listing", "description": "A reference read.", "price": 1.2e7 }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply["id"].as_str().context("the listing's id")?.to_owned())
}

async fn load(
    base: &str,
    agents: &Arc<Vec<Agent>>,
    endpoint: &'static str,
    listing: &str,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Measured> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..concurrency {
        let (http, agents, base) = (http.clone(), agents.clone(), base.to_owned());
        let listing = listing.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(SEED + client as u64);
            let (mut latencies, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let agent = agents.choose(&mut rng).expect("agents");
                let url = match endpoint {
                    "unaudited_get" => format!("{base}/api/v1/properties/{listing}"),
                    "get" => {
                        let id = agent.visible.choose(&mut rng).expect("a visible persona");
                        format!("{base}/api/v1/personas/{id}")
                    }
                    "list" => {
                        let segment = SEGMENTS.choose(&mut rng).expect("segments");
                        format!("{base}/api/v1/personas?segment={segment}&limit={PAGE}")
                    }
                    _ => {
                        let number = rng.random_range(0..1_000);
                        format!("{base}/api/v1/personas?q=client+{number}&limit={PAGE}")
                    }
                };
                let sent = Instant::now();
                let ok = match http.get(&url).bearer_auth(&agent.key).send().await {
                    Ok(reply) => reply.status().is_success() && reply.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await.context("load task")?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Measured {
        rps: latencies.len() as f64 / elapsed,
        p50_ms: quantile(&mut latencies, 0.5),
        p99_ms: quantile(&mut latencies, 0.99),
        errors,
    })
}

/// The list query's own time for `agent` (the finance segment, first page), with its plan.
async fn explain(url: &str, agent: &Agent) -> anyhow::Result<f64> {
    macro_rules! bound {
        ($query:expr) => {
            $query
                .bind(brokerage_of(url, agent).await?)
                .bind(agent.user_id)
                .bind(agent.team_id)
                .bind(None::<Uuid>)
                .bind(Some("finance"))
                .bind(PAGE)
                .bind(None::<Uuid>)
                .bind(None::<Uuid>)
                .bind(None::<&str>)
                .bind(false)
                .bind(None::<Vec<u8>>)
        };
    }
    let plan_sql = if url.starts_with("postgres") {
        format!("EXPLAIN (ANALYZE, BUFFERS) {LIST_PERSONAS}")
    } else {
        format!("EXPLAIN QUERY PLAN {LIST_PERSONAS}")
    };
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        let plan: Vec<String> = bound!(sqlx::query_scalar(sqlx::AssertSqlSafe(plan_sql)))
            .fetch_all(&pool)
            .await?;
        pool.close().await;
        println!("plan (PostgreSQL):\n  {}", plan.join("\n  "));
        anyhow::ensure!(
            plan.iter().any(|l| l.contains("Index")),
            "the list does not use an index"
        );
        let time = plan
            .iter()
            .find_map(|l| l.trim().strip_prefix("Execution Time: "))
            .and_then(|t| t.trim_end_matches(" ms").parse::<f64>().ok())
            .context("no execution time in the plan")?;
        Ok(time)
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        let plan: Vec<(i64, i64, i64, String)> =
            bound!(sqlx::query_as(sqlx::AssertSqlSafe(plan_sql)))
                .fetch_all(&pool)
                .await?;
        let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
        println!("plan (SQLite):\n  {}", details.join("\n  "));
        anyhow::ensure!(
            details.iter().any(|d| d.contains("INDEX")),
            "the list does not use an index"
        );
        let mut times = Vec::new();
        for _ in 0..200 {
            let started = Instant::now();
            bound!(sqlx::query(LIST_PERSONAS)).fetch_all(&pool).await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        pool.close().await;
        Ok(quantile(&mut times, 0.5))
    }
}

async fn brokerage_of(url: &str, agent: &Agent) -> anyhow::Result<Uuid> {
    Ok(on_database!(url, pool => {
        sqlx::query_scalar("SELECT brokerage_id FROM users WHERE id = $1")
            .bind(agent.user_id)
            .fetch_one(&pool)
            .await?
    }))
}
