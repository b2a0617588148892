//! `mock-llm`: the mock as a server, e.g.
//! `mock-llm --bind 127.0.0.1:9999 --rpm 600 --tpm 120000 --latency-ms 300-1500 --error-rate 0.01`.

use std::net::SocketAddr;

use clap::Parser;
use mock_llm::{MockConfig, MockLlm};

#[derive(Parser)]
#[command(about = "An OpenAI-compatible mock LLM for Troupe's tests and benchmarks")]
struct Args {
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Requests per minute before answering 429.
    #[arg(long)]
    rpm: Option<u64>,
    /// Tokens per minute before answering 429.
    #[arg(long)]
    tpm: Option<u64>,
    /// The limit buckets hold this many seconds' worth (a provider's hold a minute).
    #[arg(long, default_value_t = 60)]
    burst_seconds: u64,
    /// Reply latency range in milliseconds, MIN-MAX (uniform).
    #[arg(long, default_value = "0-0", value_parser = parse_range)]
    latency_ms: (u64, u64),
    /// Share of requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of requests that never answer.
    #[arg(long, default_value_t = 0.0)]
    hang_rate: f64,
    /// Share of requests answered with truncated JSON.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Points of appeal added to the photo a prompt lists first (a model's position bias).
    #[arg(long, default_value_t = 0)]
    photo_position_bias: u8,
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
    let a = Args::parse();
    let config = MockConfig {
        bind: a.bind,
        latency_ms: a.latency_ms,
        rpm: a.rpm,
        tpm: a.tpm,
        burst_seconds: a.burst_seconds,
        error_rate: a.error_rate,
        hang_rate: a.hang_rate,
        malformed_rate: a.malformed_rate,
        photo_position_bias: a.photo_position_bias,
    };
    let mock = MockLlm::start(config).await?;
    println!("listening on http://{}", mock.addr());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
