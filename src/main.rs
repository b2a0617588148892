//! `troupe`: one binary, every role. A thin CLI over the library crates.

use std::{io::IsTerminal, net::SocketAddr};

use anyhow::Context;
use clap::{Parser, Subcommand, builder::TypedValueParser};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;
use troupe::{App, Roles};
use troupe_shared::{
    Config,
    auth::Admin,
    config::{EncryptionKeySource, LogFormat},
    crypto::{MasterKey, generate_master_key},
    domain::Role,
};

#[derive(Parser)]
#[command(
    name = "troupe",
    version,
    about = "Persona simulations for UHNW real estate"
)]
struct Cli {
    /// Address for the API to listen on (overrides TROUPE_BIND; port 0 picks a free one).
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The embedded shape: API, worker and scheduler in one process (the default).
    Serve,
    /// The distributed API role.
    Api,
    /// A distributed worker; run as many as you like.
    Worker,
    /// The distributed scheduler role.
    Scheduler,
    /// Apply database migrations and exit.
    Migrate,
    /// Ask the configured model provider what it can do: reachability, the model, JSON-schema
    /// and image support, the rate limits it reports. Exits 1 if it cannot be reached.
    Doctor,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// People who sign in to the web workspace.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Run a focus group on a seeded brokerage through the API, and print its results.
    Demo,
    /// Property–client matching.
    Matching {
        #[command(subcommand)]
        command: MatchingCommand,
    },
    /// What really happened after simulations.
    Outcomes {
        #[command(subcommand)]
        command: OutcomesCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Encryption at rest.
    Encryption {
        #[command(subcommand)]
        command: EncryptionCommand,
    },
}

#[derive(Subcommand)]
enum EncryptionCommand {
    /// Make a new data key and re-seal every encrypted field under it, while the service runs.
    Rotate,
    /// Re-wrap every data key under the master key in TROUPE_NEW_ENCRYPTION_KEY; then restart
    /// every process with that key as TROUPE_ENCRYPTION_KEY.
    Rewrap,
    /// Print a new master key for TROUPE_ENCRYPTION_KEY.
    GenerateKey,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every brokerage's hash chain; names the first tampered entry and exits 1 if any.
    Verify,
}

#[derive(Subcommand)]
enum MatchingCommand {
    /// Run a brokerage's nightly matching now, in this process, and print the run.
    Run {
        #[arg(long)]
        brokerage: String,
    },
}

#[derive(Subcommand)]
enum OutcomesCommand {
    /// Record outcomes from a CSV file through the API (header row of the API's field names;
    /// see the README): every line is recorded or refused with its line number and reason.
    /// Exits 1 if any line was refused; re-running a file with external ids records nothing twice.
    Import {
        /// The CSV file; `-` reads standard input.
        file: std::path::PathBuf,
        /// The type of every row, for a file without a `type` column.
        #[arg(long = "type", value_parser = ["showing", "offer", "sale", "campaign", "outreach", "scenario"])]
        kind: Option<String>,
        /// The service's root URL (default: TROUPE_PUBLIC_URL, else this configuration's bind
        /// address).
        #[arg(long)]
        url: Option<String>,
        /// The API key (`trp_…`) of the user the outcomes are recorded as.
        #[arg(long, env = "TROUPE_API_KEY", hide_env_values = true)]
        key: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key (and the brokerage, team and user when missing); prints it last.
    Create {
        #[arg(long)]
        brokerage: String,
        /// What the key may do.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            Role::ALL.iter().map(|r| r.as_str())
        ).map(|s| Role::parse(&s).expect("a listed role")))]
        role: Role,
        #[arg(long)]
        team: Option<String>,
        /// The user's name (default: the role's name).
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Invite a user (created with the brokerage and team when missing) to the web workspace:
    /// prints a one-time link, valid for seven days, to set their password.
    Invite {
        #[arg(long)]
        brokerage: String,
        /// The user's name.
        #[arg(long)]
        user: String,
        /// What they will sign in with.
        #[arg(long)]
        email: String,
        /// The role of a user created now (an existing user keeps theirs).
        #[arg(long, default_value = "agent", value_parser = clap::builder::PossibleValuesParser::new(
            Role::ALL.iter().map(|r| r.as_str())
        ).map(|s| Role::parse(&s).expect("a listed role")))]
        role: Role,
        #[arg(long)]
        team: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Encryption {
        command: EncryptionCommand::GenerateKey,
    }) = cli.command
    {
        // Needs no configuration: it makes the key a configuration lacks.
        println!("{}", generate_master_key().expose_secret());
        return Ok(());
    }
    let mut vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    if let Some(bind) = cli.bind {
        vars.insert("TROUPE_BIND".into(), bind.to_string());
    }
    if matches!(cli.command, Some(Command::Demo)) {
        // The demo's output is its report; request logs would drown it.
        vars.entry("TROUPE_LOG".into())
            .or_insert_with(|| "warn".into());
    }
    let config = Config::from_vars(vars.clone()).context("invalid configuration")?;
    init_logging(&config)?;
    let roles = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Roles::ALL,
        Command::Api => Roles::API,
        Command::Worker => Roles::WORKER,
        Command::Scheduler => Roles::SCHEDULER,
        Command::Migrate => {
            troupe::connect(&config).await?;
            println!("migrations applied");
            return Ok(());
        }
        Command::Doctor => {
            let findings = troupe::doctor::examine(&config).await?;
            for finding in &findings {
                let mark = if finding.ok { "ok  " } else { "FAIL" };
                println!("{mark} {:<12} {}", finding.check, finding.detail);
            }
            let unreachable = findings.iter().any(|f| f.check == "reachable" && !f.ok);
            std::process::exit(i32::from(unreachable));
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    brokerage,
                    role,
                    team,
                    user,
                },
        } => {
            let (store, _) = troupe::connect(&config).await?;
            let user = user.unwrap_or_else(|| role.as_str().to_owned());
            let key = store
                .provision_key(&brokerage, team.as_deref(), &user, role)
                .await?;
            eprintln!(
                "brokerage {} · user {user} ({}) · the key is shown once:",
                key.brokerage_id,
                role.as_str()
            );
            println!("{}", key.token);
            return Ok(());
        }
        Command::Users {
            command:
                UsersCommand::Invite {
                    brokerage,
                    user,
                    email,
                    role,
                    team,
                },
        } => {
            let (store, _) = troupe::connect(&config).await?;
            let operator = store
                .provision_user(&brokerage, team.as_deref(), &user, role)
                .await?;
            let base = service_url(&config);
            let invitation = troupe_api::invite(
                &store,
                Admin::for_operator(&operator),
                operator.user_id,
                &email,
                &base,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            store.close().await;
            eprintln!(
                "{user} of {brokerage} signs in as {email}; the link works once, until {}:",
                invitation.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            println!("{}", invitation.url);
            return Ok(());
        }
        Command::Demo => return troupe::demo::run(vars).await,
        Command::Outcomes {
            command:
                OutcomesCommand::Import {
                    file,
                    kind,
                    url,
                    key,
                },
        } => {
            let api =
                troupe::client::ApiClient::new(url.unwrap_or_else(|| service_url(&config)), key);
            let name = file.display().to_string();
            let imported = if name == "-" {
                troupe::outcomes_import::import(&api, std::io::stdin().lock(), kind.as_deref())
                    .await
            } else {
                let input =
                    std::fs::File::open(&file).with_context(|| format!("opening {name}"))?;
                troupe::outcomes_import::import(&api, input, kind.as_deref()).await
            }
            .with_context(|| format!("importing {name}"))?;
            println!("{}", imported.report(&name));
            std::process::exit(i32::from(!imported.refused.is_empty()));
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let (store, _) = troupe::connect(&config).await?;
            let (checked, tampered) = store.verify_audit().await?;
            store.close().await;
            match tampered {
                None => println!("audit log intact: {checked} entries checked"),
                Some(t) => {
                    println!(
                        "audit log tampered: entry {} (seq {}) of brokerage {} does not match its hash chain",
                        t.id, t.seq, t.brokerage_id
                    );
                    std::process::exit(1);
                }
            }
            return Ok(());
        }
        Command::Encryption {
            command: EncryptionCommand::Rotate,
        } => {
            let (store, _) = troupe::connect(&config).await?;
            let rotation = store.rotate_encryption_key().await?;
            store.close().await;
            println!(
                "new data key {}: {} values re-sealed, {} could not be opened",
                rotation.key_id, rotation.resealed, rotation.unreadable
            );
            if rotation.unreadable > 0 {
                std::process::exit(1);
            }
            return Ok(());
        }
        Command::Encryption {
            command: EncryptionCommand::Rewrap,
        } => {
            let new_key = config
                .new_encryption_key
                .clone()
                .context("set TROUPE_NEW_ENCRYPTION_KEY to the new master key")?;
            let new_master = MasterKey::load(&EncryptionKeySource::Inline(new_key))?;
            let (store, _) = troupe::connect(&config).await?;
            let count = store.rewrap_data_keys(&new_master).await?;
            store.close().await;
            println!(
                "{count} data keys re-wrapped; restart every process with the new key as TROUPE_ENCRYPTION_KEY"
            );
            return Ok(());
        }
        Command::Encryption {
            command: EncryptionCommand::GenerateKey,
        } => unreachable!("answered before the configuration is loaded"),
        Command::Matching {
            command: MatchingCommand::Run { brokerage },
        } => {
            let run = troupe::run_nightly_now(&config, &brokerage).await?;
            println!("{}", serde_json::to_string_pretty(&run)?);
            return Ok(());
        }
    };
    let app = App::build(config, roles).await?;
    if let Some(addr) = app.local_addr() {
        tracing::info!(%addr, "API listening");
        println!("listening on http://{addr}");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    app.run(shutdown).await
}

/// Where this configuration's service answers: its public URL, else its bind address.
fn service_url(config: &Config) -> String {
    config.public_url.clone().unwrap_or_else(|| {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", config.bind)
    })
}

/// SIGINT or SIGTERM starts a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
    shutdown.cancel();
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter).with_context(|| {
        format!(
            "invalid configuration: TROUPE_LOG: {:?} is not a log filter (e.g. info, or \
             warn,troupe_worker=debug)",
            config.log_filter
        )
    })?;
    // Colour codes only for a person at a terminal, never into a file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}
