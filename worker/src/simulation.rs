//! The simulation job: claim the simulation, run its persona agents, aggregate, and write the
//! result, fenced on the run's token so that a duplicate or recovered run can never leave two.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::{Duration, Instant},
};

use troupe_shared::{
    Store, StoreError,
    domain::{FocusGroupPlan, RunMetadata, SimulationResults},
    jobs::SimulationJob,
    store::Claim,
};
use uuid::Uuid;

use crate::{
    engine::{FocusGroupRun, Responder, StepError, aggregate_focus_group, run_focus_group},
    llm::Ledger,
};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What a simulation run needs; shared by all runs of one worker process.
pub struct SimulationDeps {
    pub store: Store,
    pub responder: Responder,
    pub worker_name: String,
    pub max_attempts: u32,
    pub agent_parallelism: usize,
}

/// Handles one delivery of a simulation job. `Err` only for infrastructure failures (the database
/// went away), which the queue redelivers; everything about the simulation itself ends in a
/// stored status.
pub async fn run_simulation(job: &SimulationJob, deps: &SimulationDeps) -> Result<(), StoreError> {
    let claim = deps
        .store
        .claim_simulation(
            job.brokerage_id,
            job.simulation_id,
            &deps.worker_name,
            deps.max_attempts,
        )
        .await?;
    let (token, attempt, plan) = match claim {
        Claim::Run {
            token,
            attempt,
            plan,
        } => (token, attempt, plan),
        Claim::Finished(status) => {
            tracing::info!(simulation = %job.simulation_id, ?status, "already finished; redelivery ignored");
            return Ok(());
        }
        Claim::GaveUp => {
            tracing::warn!(simulation = %job.simulation_id, "attempts exhausted; marked failed");
            return Ok(());
        }
        Claim::Missing => return Ok(()),
    };
    tracing::info!(simulation = %job.simulation_id, attempt, "simulation started");
    let plan: FocusGroupPlan = match serde_json::from_value(plan) {
        Ok(plan) => plan,
        Err(e) => {
            let reason = format!("the stored simulation plan is unreadable: {e}");
            deps.store
                .fail_simulation(job.simulation_id, Some(token), &reason, None)
                .await?;
            return Ok(());
        }
    };
    let started = Instant::now();
    let outcome = run_focus_group_fenced(job, deps, token, &plan).await?;
    let label = match &outcome {
        Outcome::Completed(..) => "completed",
        Outcome::Failed(..) => "failed",
        Outcome::Superseded => "superseded",
    };
    metrics::counter!("troupe_simulations_total", "kind" => "focus_group", "outcome" => label)
        .increment(1);
    metrics::histogram!("troupe_simulation_duration_seconds", "kind" => "focus_group")
        .record(started.elapsed().as_secs_f64());
    let written = match outcome {
        Outcome::Completed(results, metadata) => {
            deps.store
                .complete_simulation(job.simulation_id, token, &results, &metadata)
                .await?
        }
        Outcome::Failed(reason, metadata) => {
            deps.store
                .fail_simulation(job.simulation_id, Some(token), &reason, metadata.as_ref())
                .await?
        }
        Outcome::Superseded => false,
    };
    if written {
        tracing::info!(simulation = %job.simulation_id, "simulation finished");
    } else {
        tracing::info!(simulation = %job.simulation_id, "another run took this simulation over; this run's result is dropped");
    }
    Ok(())
}

enum Outcome {
    Completed(SimulationResults, RunMetadata),
    /// Why, and what the run spent when it got as far as calling the model.
    Failed(String, Option<RunMetadata>),
    /// Another run holds the simulation now.
    Superseded,
}

async fn run_focus_group_fenced(
    job: &SimulationJob,
    deps: &SimulationDeps,
    token: Uuid,
    plan: &FocusGroupPlan,
) -> Result<Outcome, StoreError> {
    let started = Instant::now();
    let personas = deps
        .store
        .personas_for_run(job.brokerage_id, &plan.persona_ids)
        .await?;
    if personas.is_empty() {
        return Ok(Outcome::Failed(
            "none of the selected personas exists any more".to_owned(),
            None,
        ));
    }
    let progress = AtomicI64::new(0);
    let ledger = Ledger::new(plan.token_budget);
    let run = run_focus_group(
        plan,
        &personas,
        &deps.responder,
        deps.agent_parallelism,
        &progress,
        &ledger,
    );
    // The reporter is polled alongside the run, never instead of it: awaiting the database in
    // a `select!` arm body would suspend the run's agents while they hold pooled connections,
    // and the pool could run dry with every holder waiting on the reporter.
    let reporter = async {
        let mut ticker = tokio::time::interval(PROGRESS_INTERVAL);
        loop {
            ticker.tick().await;
            let done = progress.load(Ordering::Relaxed);
            if !deps
                .store
                .record_progress(job.simulation_id, token, done)
                .await?
            {
                return Ok::<_, StoreError>(());
            }
        }
    };
    let run = tokio::select! {
        run = run => run,
        superseded = reporter => {
            superseded?;
            return Ok(Outcome::Superseded);
        }
    };
    let metadata = run_metadata(deps, &ledger, &run, started);
    let run = match run {
        Ok(run) => run,
        Err(StepError::Fatal(reason) | StepError::Agent(reason)) => {
            return Ok(Outcome::Failed(reason, Some(metadata)));
        }
    };
    if run.responses.is_empty() {
        let reason = run
            .first_failure
            .unwrap_or_else(|| "no persona answered".to_owned());
        return Ok(Outcome::Failed(
            format!("every agent step failed; first failure: {reason}"),
            Some(metadata),
        ));
    }
    Ok(Outcome::Completed(
        aggregate_focus_group(plan, run.responses),
        metadata,
    ))
}

fn run_metadata(
    deps: &SimulationDeps,
    ledger: &Ledger,
    run: &Result<FocusGroupRun, StepError>,
    started: Instant,
) -> RunMetadata {
    RunMetadata {
        provider: deps.responder.provider().to_owned(),
        model_version: deps.responder.model().to_owned(),
        llm_calls: Ledger::count(&ledger.calls),
        prompt_tokens: Ledger::count(&ledger.prompt_tokens),
        completion_tokens: Ledger::count(&ledger.completion_tokens),
        tokens_used: ledger.spent(),
        token_budget: ledger.budget(),
        cache_hits: Ledger::count(&ledger.cache_hits),
        retries: Ledger::count(&ledger.retries),
        rate_limited: Ledger::count(&ledger.rate_limited),
        limiter_wait_ms: ledger.limiter_wait().as_millis() as u64,
        cost_estimate_usd: match &deps.responder {
            Responder::Llm(gateway) => gateway.cost(ledger),
            Responder::Offline => 0.0,
        },
        failed_steps: run.as_ref().map_or(0, |r| r.failed_steps),
        compute_time: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    }
}
