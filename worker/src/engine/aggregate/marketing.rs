//! Marketing: open, click and reply rates per material × channel, overall and per segment;
//! the material and the channel that draw the most replies; the copywriter's rewrites of what
//! the panel objected to; and what to send each client.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use troupe_shared::domain::{
    AgentResponse, BestForClient, Channel, EngagementInsight, EngagementJudgement, Estimate,
    Insight, Judgement, MarketingPlan, Pick, Recommendation, SimulationResults,
};
use uuid::Uuid;

use super::{
    Rewrite, Samples, confidence, mean, percent, round2, sample_factor, separation, top_mentions,
};
use crate::engine::copywriter;

/// Replies per delivered material: the figure a campaign is judged by.
fn reply_rate(j: &EngagementJudgement) -> f64 {
    j.open_probability * j.reply_probability
}

pub fn aggregate(
    plan: &MarketingPlan,
    responses: &[AgentResponse],
    rewrites: &[Rewrite],
    rng: &mut StdRng,
) -> SimulationResults {
    let exposures: Vec<(&AgentResponse, &EngagementJudgement, usize, Channel)> = responses
        .iter()
        .filter_map(|r| match &r.judgement {
            Judgement::Engagement(j) => {
                let (material, channel) = exposure_of(plan, r)?;
                Some((r, j, material, channel))
            }
            _ => None,
        })
        .collect();
    let segments: BTreeSet<&str> = exposures.iter().map(|(r, ..)| r.segment.as_str()).collect();
    let mut insights = Vec::new();
    for (m, material) in plan.materials.iter().enumerate() {
        for &channel in &plan.channels {
            insights.push(engagement(
                &material.name,
                channel,
                "all",
                cell(&exposures, m, channel, None),
                rng,
            ));
            if segments.len() > 1 {
                for segment in &segments {
                    let exposed = cell(&exposures, m, channel, Some(segment));
                    insights.push(engagement(&material.name, channel, segment, exposed, rng));
                }
            }
        }
    }
    let overall: Vec<&EngagementInsight> = insights.iter().filter(|i| i.segment == "all").collect();
    let mut recommendations = Vec::new();
    let mut confidence_scores = BTreeMap::new();

    // Materials compared on replies, each persona's exposures across channels pooled.
    let by_material = pooled(
        &exposures,
        |(_, _, m, _)| plan.materials[*m].name.clone(),
        rng,
    );
    recommendations.extend(best_of("message", "Send", &by_material));
    let by_channel = pooled(&exposures, |(_, _, _, c)| c.as_str().to_owned(), rng);
    recommendations.extend(best_of("channel", "Use", &by_channel));
    for segment in segments.iter().filter(|_| segments.len() > 1) {
        let in_segment: Vec<_> = exposures
            .iter()
            .filter(|(r, ..)| r.segment == *segment)
            .cloned()
            .collect();
        let by_channel = pooled(&in_segment, |(_, _, _, c)| c.as_str().to_owned(), rng);
        if let Some(mut rec) = best_of("channel", "Use", &by_channel) {
            rec.title = format!("{} for {}", rec.title, segment.replace('_', " "));
            recommendations.push(rec);
        }
    }
    for (name, (estimate, personas)) in by_material.iter().chain(&by_channel) {
        confidence_scores.insert(name.clone(), confidence(estimate.ci95, 1.0, *personas));
    }
    // Message advice: the copywriter's rewrite where one was written; else the objection itself,
    // to be answered by hand.
    for material in &plan.materials {
        let personas = overall
            .iter()
            .filter(|i| i.material == material.name)
            .map(|c| c.personas)
            .max()
            .unwrap_or(0) as usize;
        if let Some(rewrite) = rewrites.iter().find(|r| r.material == material.name) {
            recommendations.push(rewrite_recommendation(rewrite, personas));
        } else if let Some((objection, share, _)) = copywriter::top_objection(material, responses) {
            recommendations.push(Recommendation {
                kind: "message".to_owned(),
                title: format!("Answer \"{objection}\" in \"{}\"", material.name),
                detail: format!(
                    "Raised in {} of exposures to this material; no rewrite could be written.",
                    percent(share)
                ),
                effect: None,
                confidence: round2(share * sample_factor(personas)),
            });
        }
    }
    let best = overall
        .iter()
        .max_by(|a, b| a.reply_rate.mean.total_cmp(&b.reply_rate.mean));
    let summary = match best {
        Some(best) => format!(
            "{} personas saw {} material(s) on {} channel(s) over {} iteration(s). Predicted engagement is highest for \"{}\" via {}: {} open, {} click, {} reply (95% CI {}–{}).",
            best.personas,
            plan.materials.len(),
            plan.channels.len(),
            plan.settings.iterations,
            best.material,
            best.channel.as_str(),
            percent(best.open_rate.mean),
            percent(best.click_rate.mean),
            percent(best.reply_rate.mean),
            percent(best.reply_rate.ci95[0]),
            percent(best.reply_rate.ci95[1]),
        ),
        None => "No persona answered.".to_owned(),
    };
    let mut detailed_insights: Vec<Insight> =
        insights.into_iter().map(Insight::Engagement).collect();
    detailed_insights.extend(
        best_for_each_client(plan, &exposures)
            .into_iter()
            .map(Insight::BestForClient),
    );
    SimulationResults {
        summary,
        recommendations,
        confidence_scores,
        detailed_insights,
        raw_responses: Vec::new(),
        warnings: Vec::new(),
        failed_steps: Vec::new(),
    }
}

/// One client's judgements per (material, channel) index pair.
type ClientCells<'a> = BTreeMap<(usize, usize), Vec<&'a EngagementJudgement>>;

fn rewrite_recommendation(rewrite: &Rewrite, personas: usize) -> Recommendation {
    let wants = match rewrite.wants.as_slice() {
        [] => String::new(),
        wants => format!(
            "; what this panel wants most and it does not say: {}",
            wants.join(", ")
        ),
    };
    Recommendation {
        kind: "message".to_owned(),
        title: format!("Rewrite \"{}\": \"{}\"", rewrite.material, rewrite.subject),
        detail: format!(
            "Open with: \"{}\" It answers \"{}\", raised in {} of exposures to it{wants}. \
             Written by {}.",
            rewrite.opening_line,
            rewrite.objection,
            percent(rewrite.share),
            if rewrite.by_model {
                "the model"
            } else {
                "the offline model, from the panel's wants"
            }
        ),
        effect: None,
        confidence: round2(rewrite.share.min(1.0) * sample_factor(personas)),
    }
}

/// Each client's likeliest answer: its exposures averaged per material × channel over
/// iterations, best and next best by reply rate (ties to the plan's order).
fn best_for_each_client(plan: &MarketingPlan, exposures: &[Exposure<'_>]) -> Vec<BestForClient> {
    let mut per_client: BTreeMap<Uuid, (&AgentResponse, ClientCells<'_>)> = BTreeMap::new();
    for (r, j, m, c) in exposures {
        let channel = plan.channels.iter().position(|x| x == c).unwrap_or(0);
        per_client
            .entry(r.persona_id)
            .or_insert_with(|| (r, BTreeMap::new()))
            .1
            .entry((*m, channel))
            .or_default()
            .push(j);
    }
    let mut out: Vec<BestForClient> = per_client
        .into_iter()
        .map(|(persona_id, (r, cells))| {
            let mut picks: Vec<Pick> = cells
                .into_iter()
                .map(|((m, c), judged)| {
                    let n = judged.len() as f64;
                    Pick {
                        material: plan.materials[m].name.clone(),
                        channel: plan.channels[c],
                        open_rate: round2(
                            judged.iter().map(|j| j.open_probability).sum::<f64>() / n,
                        ),
                        reply_rate: round2(judged.iter().map(|j| reply_rate(j)).sum::<f64>() / n),
                    }
                })
                .collect();
            // Stable: equal rates keep the plan's order of materials, then channels.
            picks.sort_by(|a, b| b.reply_rate.total_cmp(&a.reply_rate));
            let mut picks = picks.into_iter();
            BestForClient {
                persona_id,
                persona_name: r.persona_name.clone(),
                segment: r.segment.clone(),
                best: picks
                    .next()
                    .expect("a client with exposures has a best one"),
                next_best: picks.next(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.persona_name.cmp(&b.persona_name));
    out
}

/// The material and channel an exposure was of, from its step label.
fn exposure_of(plan: &MarketingPlan, r: &AgentResponse) -> Option<(usize, Channel)> {
    let (material, channel) = r.step.strip_prefix("material \"")?.rsplit_once("\" via ")?;
    let m = plan.materials.iter().position(|x| x.name == material)?;
    Some((m, Channel::parse(channel)?))
}

/// The exposures to material `m` on `channel`, within `segment` when one is given.
fn cell<'a>(
    exposures: &'a [Exposure<'a>],
    m: usize,
    channel: Channel,
    segment: Option<&'a str>,
) -> impl Iterator<Item = &'a Exposure<'a>> {
    exposures.iter().filter(move |(r, _, em, ec)| {
        *em == m && *ec == channel && segment.is_none_or(|s| r.segment == s)
    })
}

type Exposure<'a> = (&'a AgentResponse, &'a EngagementJudgement, usize, Channel);

fn engagement<'a>(
    material: &str,
    channel: Channel,
    segment: &str,
    cell: impl Iterator<Item = &'a Exposure<'a>>,
    rng: &mut StdRng,
) -> EngagementInsight {
    let (mut open, mut click, mut reply) =
        (Samples::default(), Samples::default(), Samples::default());
    let mut sentiment = Vec::new();
    let mut objections = Vec::new();
    for (r, j, ..) in cell {
        open.add(r.persona_id, j.open_probability);
        click.add(r.persona_id, j.open_probability * j.click_probability);
        reply.add(r.persona_id, reply_rate(j));
        sentiment.push(j.sentiment);
        objections.extend(j.objections.iter().cloned());
    }
    EngagementInsight {
        material: material.to_owned(),
        channel,
        segment: segment.to_owned(),
        personas: open.personas() as u32,
        open_rate: open.estimate(rng),
        click_rate: click.estimate(rng),
        reply_rate: reply.estimate(rng),
        mean_sentiment: mean(&sentiment),
        top_objections: top_mentions(objections.iter()),
    }
}

/// Reply rate per group (a material, a channel), each persona's exposures in it averaged.
fn pooled(
    exposures: &[Exposure<'_>],
    group: impl Fn(&Exposure<'_>) -> String,
    rng: &mut StdRng,
) -> BTreeMap<String, (Estimate, usize)> {
    let mut groups: BTreeMap<String, Samples> = BTreeMap::new();
    for e in exposures {
        groups
            .entry(group(e))
            .or_default()
            .add(e.0.persona_id, reply_rate(e.1));
    }
    groups
        .into_iter()
        .map(|(name, samples)| {
            let personas = samples.personas();
            (name, (samples.estimate(rng), personas))
        })
        .collect()
}

fn best_of(
    kind: &str,
    verb: &str,
    groups: &BTreeMap<String, (Estimate, usize)>,
) -> Option<Recommendation> {
    let mut ranked: Vec<(&String, &(Estimate, usize))> = groups.iter().collect();
    ranked.sort_by(|a, b| b.1.0.mean.total_cmp(&a.1.0.mean));
    let (best, (estimate, personas)) = ranked.first()?;
    let runner_up = ranked.get(1);
    if ranked.len() < 2 {
        return None;
    }
    let clear = separation(estimate, runner_up.map(|r| &r.1.0), *personas);
    let title = if clear < 1.0 {
        format!(
            "Inconclusive: {best} leads {} on replies",
            runner_up.map_or("", |r| r.0.as_str())
        )
    } else {
        format!("{verb} {best}")
    };
    Some(Recommendation {
        kind: kind.to_owned(),
        title,
        detail: format!(
            "Reply rate {} (95% CI {}–{}){}.",
            percent(estimate.mean),
            percent(estimate.ci95[0]),
            percent(estimate.ci95[1]),
            runner_up
                .map(|(name, (e, _))| format!(" against {} for {name}", percent(e.mean)))
                .unwrap_or_default()
        ),
        effect: runner_up.map(|(_, (e, _))| round2(estimate.mean - e.mean)),
        confidence: round2(clear * sample_factor(*personas)),
    })
}
