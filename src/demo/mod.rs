//! `troupe demo`: starts the embedded service, seeds a brokerage, runs a focus group through the
//! HTTP API as a client would, and prints what a broker would read.

mod report;
mod seed;

use std::{
    collections::HashMap,
    io::IsTerminal,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use troupe_shared::{Config, auth::Admin, domain::Role};

use crate::{App, Roles, client::ApiClient};

const POLL: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_secs(600);

/// Runs the demo. Without `TROUPE_DATABASE_URL` it uses a fresh temporary database.
pub async fn run(mut vars: HashMap<String, String>) -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    vars.entry("TROUPE_DATABASE_URL".into()).or_insert_with(|| {
        format!(
            "sqlite://{}",
            scratch.path().join("troupe-demo.db").display()
        )
    });
    vars.entry("TROUPE_BIND".into())
        .or_insert_with(|| "127.0.0.1:0".into());
    let config = Config::from_vars(vars)?;
    let app = App::build(config.clone(), Roles::ALL).await?;
    let addr = app.local_addr().context("the API did not bind")?;
    let key = app
        .store()
        .provision_key(
            "Demo Brokerage",
            Some("Malibu Team"),
            "demo-admin",
            Role::BrokerageAdmin,
        )
        .await?
        .token;
    let store = app.store().clone();
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(app.run(shutdown.clone()));
    println!("Troupe demo: embedded service on http://{addr} (API docs at /docs)");
    println!("Persona model: {}", describe_model(&config));

    let outcome = drive(&format!("http://{addr}"), &key).await;
    // At a terminal the service stays up for the web workspace: the newcomer signs in with the
    // printed link and sees the focus group as charts. Scripts get the printed tables and an exit.
    if outcome.is_ok() && std::io::stdin().is_terminal() {
        let admin = store
            .provision_user(
                "Demo Brokerage",
                Some("Malibu Team"),
                "demo-admin",
                Role::BrokerageAdmin,
            )
            .await?;
        let invitation = troupe_api::invite(
            &store,
            Admin::for_operator(&admin),
            admin.user_id,
            "demo-admin@troupe.invalid",
            &format!("http://{addr}"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("\nThe web workspace: open this one-time link to set a password and sign in");
        println!("as demo-admin@troupe.invalid, then find the focus group under Simulations:");
        println!("  {}", invitation.url);
        println!("Press Ctrl-C to stop the service.");
        tokio::signal::ctrl_c().await?;
    }
    shutdown.cancel();
    service.await??;
    outcome
}

fn describe_model(config: &Config) -> String {
    match &config.llm.provider {
        troupe_shared::config::LlmProvider::Offline => {
            "offline (rule-based; set TROUPE_LLM_BASE_URL, TROUPE_LLM_API_KEY and TROUPE_LLM_MODEL for an LLM)".into()
        }
        troupe_shared::config::LlmProvider::OpenAi { base_url, .. }
        | troupe_shared::config::LlmProvider::Azure { base_url, .. } => format!("{} at {base_url}", config.llm.model),
    }
}

async fn drive(base: &str, key: &str) -> anyhow::Result<()> {
    let client = ApiClient::new(base, key);
    let personas = seed::personas();
    for persona in &personas {
        client.post("/api/v1/personas", persona).await?;
    }
    let property = client.post("/api/v1/properties", &seed::listing()).await?;
    println!(
        "Seeded {} personas in 3 segments and the listing \"{}\" (USD {:.1}M)",
        personas.len(),
        property["title"].as_str().unwrap_or_default(),
        property["price"].as_f64().unwrap_or_default() / 1e6
    );
    let request = json!({
        "property_id": property["id"],
        "persona_segments": ["finance_executives", "tech_founders", "entertainment"],
        "questions": [
            "What is your first impression of this home, from the photos and description?",
            "Would you buy it at the asking price? What would change your mind?",
            { "text": "Which of these matters most to you here?", "type": "single_choice",
              "options": ["The ocean views", "The wine cellar", "The guest house", "The home gym"] },
            { "text": "Rank these for a first showing.", "type": "ranking",
              "options": ["Great room at sunset", "Infinity pool", "Home office", "Motor court"] },
            { "text": "Would you book a private viewing this month?", "type": "yes_no" },
            { "text": "What is the most you would pay for it?", "type": "numeric", "unit": "USD" },
            { "text": "What one change would make it a must-have for you?", "type": "free_text" }
        ],
        "simulation_params": { "num_agents": 12, "iterations": 2, "temperature": 0.7, "seed": 42 }
    });
    let accepted = client
        .post("/api/v1/simulations/focus-group", &request)
        .await?;
    let status_url = accepted["status_url"]
        .as_str()
        .context("no status_url")?
        .to_owned();
    let results_url = accepted["results_url"]
        .as_str()
        .context("no results_url")?
        .to_owned();
    println!("Submitted focus group {}", accepted["id"]);

    let started = Instant::now();
    loop {
        let status = client.get(&status_url).await?;
        let (done, total) = (&status["progress"]["done"], &status["progress"]["total"]);
        eprint!(
            "\r  {:<9} {done}/{total} agent steps",
            status["status"].as_str().unwrap_or("?")
        );
        match status["status"].as_str() {
            Some("completed") => break,
            Some("failed" | "cancelled") => {
                eprintln!();
                bail!("the focus group {}: {}", status["status"], status["error"]);
            }
            _ if started.elapsed() > DEADLINE => {
                bail!("the focus group did not finish in {DEADLINE:?}")
            }
            _ => tokio::time::sleep(POLL).await,
        }
    }
    eprintln!("  ({:.1} s)\n", started.elapsed().as_secs_f64());
    let results = client.get(&results_url).await?;
    print!("{}", report::render(&results));
    Ok(())
}
