//! The simulation job: claim the simulation, run its persona agents, aggregate, and write the
//! result, fenced on the run's token so that a duplicate or recovered run can never leave two.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use troupe_shared::{
    Store, StoreError,
    accuracy::predicted::{self, Whose},
    domain::{FailedStep, Persona, RunMetadata, SimulationPlan, SimulationResults},
    jobs::SimulationJob,
    queue::Queue,
    store::{Claim, LastProgress, ProgressAck},
};
use uuid::Uuid;

use crate::{
    engine::{self, LiveAnswer, Progress, Responder, RunContext, StepError, Transcript, factory},
    llm::Ledger,
    sentence_model::SentenceModel,
};

const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What a simulation run needs; shared by all runs of one worker process.
pub struct SimulationDeps {
    pub store: Store,
    pub responder: Responder,
    pub worker_name: String,
    pub max_attempts: u32,
    pub agent_parallelism: usize,
    /// Where a start pushes the brokerage's next held simulation.
    pub queue: Queue<SimulationJob>,
    /// Groups free-text answers into themes by meaning, when installed.
    pub sentence_model: Option<Arc<SentenceModel>>,
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
    let (token, attempt, created_by, plan) = match claim {
        Claim::Run {
            token,
            attempt,
            created_by,
            plan,
            released,
        } => {
            if let Some((next, request)) = released {
                // The brokerage's next simulation takes this one's place in the queue; the run
                // does not wait for the push.
                let queue = deps.queue.clone();
                tokio::spawn(async move { queue.push_after_commit(next, request).await });
            }
            (token, attempt, created_by, plan)
        }
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
    let plan: SimulationPlan = match serde_json::from_value(plan) {
        Ok(plan) => plan,
        Err(e) => {
            let reason = format!("the stored simulation plan is unreadable: {e}");
            deps.store
                .fail_simulation(job.simulation_id, Some(token), &reason, None)
                .await?;
            return Ok(());
        }
    };
    let kind = plan.kind().as_str();
    let started = Instant::now();
    let run = Run {
        job,
        deps,
        token,
        created_by,
        plan: &plan,
    };
    let finished = run.fenced().await?;
    let label = match &finished {
        Some((Outcome::Completed(..), _)) => "completed",
        Some((Outcome::Failed(..), _)) => "failed",
        Some((Outcome::Cancelled(..), _)) => "cancelled",
        None => "superseded",
    };
    metrics::counter!("troupe_simulations_total", "kind" => kind, "outcome" => label).increment(1);
    metrics::histogram!("troupe_simulation_duration_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
    let written = match finished {
        Some((outcome, last)) => write_ending(job, deps, token, &plan, outcome, &last).await?,
        None => false,
    };
    if written {
        tracing::info!(simulation = %job.simulation_id, "simulation finished");
    } else {
        tracing::info!(simulation = %job.simulation_id, "another run took this simulation over; this run's result is dropped");
    }
    Ok(())
}

/// Writes how the run ended, fenced on its token; `false` if another run took over. A completed
/// run's last progress goes in the same transaction as its result; the rarer endings write it
/// first, on its own.
async fn write_ending(
    job: &SimulationJob,
    deps: &SimulationDeps,
    token: Uuid,
    plan: &SimulationPlan,
    outcome: Outcome,
    last: &LastReport,
) -> Result<bool, StoreError> {
    let store = &deps.store;
    let id = job.simulation_id;
    let last = LastProgress {
        steps: last.steps,
        news: last.news.as_deref(),
    };
    // `false`: another run took over before the ending could be written.
    let last_progress_kept = || async {
        let ack = store
            .record_progress(id, token, last.steps, last.news)
            .await?;
        Ok::<_, StoreError>(ack != ProgressAck::Superseded)
    };
    match outcome {
        Outcome::Completed(results, metadata) => {
            let predictions = predicted::predictions(plan, &results, Whose::StoredClients);
            store
                .complete_simulation(id, token, last, &results, &metadata, &predictions)
                .await
        }
        Outcome::Failed(reason, metadata) => Ok(last_progress_kept().await?
            && store
                .fail_simulation(id, Some(token), &reason, metadata.as_ref())
                .await?),
        Outcome::Cancelled(results, metadata) => Ok(last_progress_kept().await?
            && store
                .finish_cancelled(id, Some(token), results.as_ref(), Some(&metadata))
                .await?),
    }
}

enum Outcome {
    Completed(SimulationResults, RunMetadata),
    /// Why, and what the run spent when it got as far as calling the model.
    Failed(String, Option<RunMetadata>),
    /// Asked to stop: the results of the answers given before it did, if any.
    Cancelled(Option<SimulationResults>, RunMetadata),
}

/// What the reporter leaves to the run's final write: the last steps and the answers given
/// since its last report.
struct LastReport {
    steps: (i64, i64),
    news: Option<Vec<serde_json::Value>>,
}

/// One run of one simulation, holding its fencing token.
struct Run<'a> {
    job: &'a SimulationJob,
    deps: &'a SimulationDeps,
    token: Uuid,
    created_by: Uuid,
    plan: &'a SimulationPlan,
}

impl Run<'_> {
    /// The run's outcome and its last progress to write; `None` if another run took over.
    async fn fenced(&self) -> Result<Option<(Outcome, LastReport)>, StoreError> {
        let started = Instant::now();
        let ledger = Ledger::new(self.plan.settings().token_budget);
        let progress = Progress::default();
        let stop = CancellationToken::new();
        let ctx = RunContext {
            responder: &self.deps.responder,
            ledger: &ledger,
            progress: &progress,
            parallelism: self.deps.agent_parallelism,
            temperature: self.plan.settings().temperature,
            stop: &stop,
        };
        let finished = CancellationToken::new();
        let work = async {
            let run = async {
                let personas = match self.personas(&ctx).await? {
                    Ok(personas) => personas,
                    Err(fatal) => return Ok(Err(fatal)),
                };
                if personas.is_empty() {
                    return Ok(Err(StepError::Fatal(
                        "none of the selected personas exists any more".to_owned(),
                    )));
                }
                Ok::<_, StoreError>(engine::run(self.plan, &personas, &ctx).await)
            }
            .await;
            finished.cancel();
            run
        };
        // The reporter is polled alongside the run, never instead of it: awaiting the database in
        // a `select!` arm body would suspend the run's agents while they hold pooled connections,
        // and the pool could run dry with every holder waiting on the reporter. When the run is
        // over it writes nothing more: it returns the last steps and the answers not yet
        // reported, for the run's final write (one transaction, not two); `None` means another
        // run took over. It is never dropped mid-write, so no answer it has taken is lost or
        // written twice. Its first report comes one interval in, so a short run writes none.
        let reporter = async {
            let start = tokio::time::Instant::now() + PROGRESS_INTERVAL;
            let mut ticker = tokio::time::interval_at(start, PROGRESS_INTERVAL);
            let mut reported = (0, 0);
            loop {
                let last = tokio::select! {
                    _ = ticker.tick() => false,
                    _ = finished.cancelled() => true,
                };
                let steps = (progress.done(), progress.failed());
                let answers = progress.take_answers();
                // Written every tick (that is how a superseded run learns to stop), announced
                // only with news: steps run or answers given since the last report.
                let moved = steps != reported;
                let news = (moved || !answers.is_empty()).then(|| live(answers));
                if last {
                    return Ok::<_, StoreError>(Some(LastReport { steps, news }));
                }
                match self
                    .deps
                    .store
                    .record_progress(self.job.simulation_id, self.token, steps, news.as_deref())
                    .await?
                {
                    ProgressAck::Continue => {}
                    ProgressAck::StopRequested => stop.cancel(),
                    ProgressAck::Superseded => return Ok(None),
                }
                reported = steps;
            }
        };
        tokio::pin!(work, reporter);
        let (run, last) = tokio::select! {
            run = &mut work => (run, reporter.await?),
            last = &mut reporter => match last? {
                Some(last) => (work.await, Some(last)),
                None => return Ok(None),
            },
        };
        let Some(last) = last else {
            return Ok(None);
        };
        let run = run?;
        // Aggregating is CPU work — bootstrap intervals, and embedding free-text answers when a
        // model is installed, seconds for a large panel — so it leaves the runtime's thread to
        // the other jobs where the runtime can spare it.
        let outcome = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.outcome(run, &ledger, &progress, started))
            }
            _ => self.outcome(run, &ledger, &progress, started),
        };
        Ok(Some((outcome, last)))
    }

    /// What the run's transcript comes to: results, a failure, or what was answered before it
    /// was stopped.
    fn outcome(
        &self,
        run: Result<Transcript, StepError>,
        ledger: &Ledger,
        progress: &Progress,
        started: Instant,
    ) -> Outcome {
        let metadata = run_metadata(self.deps, ledger, &run, started);
        // Stopped before its last round (a request heard after it is too late to matter).
        if matches!(&run, Ok(t) if t.rounds_not_taken > 0) {
            let results = run.ok().filter(|t| !t.responses.is_empty()).map(|t| {
                let mut results =
                    engine::aggregate(self.plan, t.responses, &t.rewrites, self.deps.sentence_model.as_deref());
                name_failures(&mut results, t.failures, self.plan.agent_steps());
                results.summary = format!(
                    "Cancelled on request after {} of {} agent steps; these findings cover only the \
                     answers given before it stopped. {}",
                    progress.done(),
                    self.plan.agent_steps(),
                    results.summary
                );
                results
            });
            return Outcome::Cancelled(results, metadata);
        }
        let transcript = match run {
            Ok(transcript) => transcript,
            Err(StepError::Fatal(reason) | StepError::Agent(reason)) => {
                return Outcome::Failed(reason, Some(metadata));
            }
        };
        if transcript.responses.is_empty() {
            let reason = transcript
                .first_failure
                .unwrap_or_else(|| "no persona answered".to_owned());
            return Outcome::Failed(
                format!("every agent step failed; first failure: {reason}"),
                Some(metadata),
            );
        }
        let mut results = engine::aggregate(
            self.plan,
            transcript.responses,
            &transcript.rewrites,
            self.deps.sentence_model.as_deref(),
        );
        name_failures(&mut results, transcript.failures, self.plan.agent_steps());
        Outcome::Completed(results, metadata)
    }

    /// The panel: stored personas by id, then the synthetic personas drawn from segments (made
    /// by the factory the first time a segment, seed and size are drawn, stored, and reused).
    async fn personas(
        &self,
        ctx: &RunContext<'_>,
    ) -> Result<Result<Vec<Persona>, StepError>, StoreError> {
        let brokerage = self.job.brokerage_id;
        let store = &self.deps.store;
        let panel = match self.plan {
            SimulationPlan::FocusGroup(p) => &p.panel,
            SimulationPlan::Marketing(p) => &p.panel,
            SimulationPlan::Intervention(p) => &p.panel,
            SimulationPlan::Individual(p) => {
                return Ok(Ok(store
                    .personas_for_run(brokerage, &[p.persona_id])
                    .await?));
            }
        };
        let mut personas = store
            .personas_for_run(brokerage, &panel.persona_ids)
            .await?;
        let seed = self.plan.settings().seed;
        for draw in &panel.synthetic {
            let Some(segment) = store
                .find_segment(brokerage, &draw.segment_id.to_string())
                .await?
            else {
                continue;
            };
            let mut missing = Vec::new();
            for index in 0..draw.count {
                let key = factory::factory_key(&segment, seed, draw.count, index);
                match store.factory_persona(brokerage, &key).await? {
                    Some(persona) => personas.push(persona),
                    None => missing.push((index, key)),
                }
            }
            // Drafts are fleshed out in parallel: one round of model calls per segment.
            let sketches: Vec<_> = missing
                .iter()
                .map(|(index, _)| {
                    let draft = factory::draft(&segment, seed, draw.count, *index);
                    factory::flesh_out(
                        ctx.responder,
                        draft,
                        ctx.temperature,
                        seed ^ u64::from(*index),
                        ctx.ledger,
                    )
                })
                .collect();
            let sketches: Vec<_> = futures::stream::iter(sketches)
                .buffered(ctx.width())
                .collect()
                .await;
            for ((_, key), sketch) in missing.iter().zip(sketches) {
                let profile = match sketch {
                    Ok(profile) => profile,
                    Err(fatal @ StepError::Fatal(_)) => return Ok(Err(fatal)),
                    Err(StepError::Agent(reason)) => {
                        tracing::warn!(%reason, "a synthetic persona could not be made; left out");
                        continue;
                    }
                };
                personas.push(
                    store
                        .store_factory_persona(brokerage, self.created_by, key, &profile)
                        .await?,
                );
            }
        }
        Ok(Ok(personas))
    }
}

/// Puts the failed steps into the results; when 5% or more of the steps failed, the summary
/// opens by saying so, so that no one reads the findings as the whole panel's.
fn name_failures(results: &mut SimulationResults, failures: Vec<FailedStep>, total: u64) {
    let failed: u64 = failures.iter().map(|f| f.steps).sum();
    if total > 0
        && failed * 20 >= total
        && let Some(first) = failures.first()
    {
        results.summary = format!(
            "{failed} of {total} agent steps failed ({:.0}%; the first: {}); these findings rest \
             on the answers given. {}",
            100.0 * failed as f64 / total as f64,
            first.reason,
            results.summary
        );
    }
    results.failed_steps = failures;
}

/// Answers as a progress event carries them.
fn live(answers: Vec<LiveAnswer>) -> Vec<serde_json::Value> {
    answers
        .iter()
        .map(|a| serde_json::to_value(a).expect("an answer serializes"))
        .collect()
}

fn run_metadata(
    deps: &SimulationDeps,
    ledger: &Ledger,
    run: &Result<Transcript, StepError>,
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
        repaired_replies: Ledger::count(&ledger.repaired),
        rejected_replies: Ledger::count(&ledger.rejected),
        limiter_wait_ms: ledger.limiter_wait().as_millis() as u64,
        cost_estimate_usd: match &deps.responder {
            Responder::Llm(gateway) => gateway.cost(ledger),
            Responder::Offline => 0.0,
        },
        failed_steps: run.as_ref().map_or(0, |r| r.failed_steps),
        compute_time: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    }
}
