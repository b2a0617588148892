//! `mock-llm`: run the mock as a server, e.g. `mock-llm --bind 127.0.0.1:9999 --latency-ms 300-1500`.

use std::net::SocketAddr;

use clap::Parser;
use mock_llm::{MockConfig, MockLlm};

#[derive(Parser)]
#[command(about = "An OpenAI-compatible mock LLM for Troupe's tests and benchmarks")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Reply latency range in milliseconds, MIN-MAX.
    #[arg(long, default_value = "0-0", value_parser = parse_range)]
    latency_ms: (u64, u64),
    /// Requests per minute before answering 429.
    #[arg(long)]
    rpm: Option<u64>,
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (low, high) = s.split_once('-').unwrap_or((s, s));
    let low = low.parse().map_err(|e| format!("{e}"))?;
    let high = high.parse().map_err(|e| format!("{e}"))?;
    if low > high {
        return Err("MIN must not exceed MAX".into());
    }
    Ok((low, high))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mock = MockLlm::start(MockConfig {
        bind: args.bind,
        latency_ms: args.latency_ms,
        rpm: args.rpm,
    })
    .await?;
    println!("listening on http://{}", mock.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
