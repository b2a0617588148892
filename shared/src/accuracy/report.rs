//! Pairing predictions with outcomes, and the figures of each group of predictions.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    AccuracyInputs, AccuracyQuery, MATCHING_MODEL, MATCHING_PROVIDER, OutcomeRow, PredictionRow,
    stats::{self, Isotonic, Trials},
};
use crate::domain::{
    AccuracyGroup, AccuracyKind, AccuracyPeriod, BestHits, Calibration, Correlation, HeldOut,
    OutcomeKind, PrecisionAtK, RateError,
};

/// The share of a group's trials, oldest first, a held-out calibration is fitted on.
const FIT_SHARE: f64 = 0.7;
/// The k of precision@k.
const PRECISION_KS: [u32; 3] = [1, 5, 10];

/// The report's groups: one per kind, provider and model with any prediction that has outcomes.
pub fn report(inputs: &AccuracyInputs, query: &AccuracyQuery) -> Vec<AccuracyGroup> {
    let mut report: Vec<AccuracyGroup> = tallies(inputs, query)
        .into_iter()
        .filter_map(|(kind, provider, model, tally)| {
            tally.into_group(kind, provider, model, query.calibration_min)
        })
        .collect();
    let matching_wanted = query.kind.is_none_or(|k| k == AccuracyKind::Matching)
        && query.model.as_ref().is_none_or(|m| m == MATCHING_MODEL);
    if matching_wanted && let Some(group) = matching(inputs, query) {
        report.push(group);
    }
    report
}

/// One group's trials of a predicted probability against what happened.
pub struct GroupTrials {
    pub kind: AccuracyKind,
    pub provider: String,
    pub model: String,
    /// What probability, of what event.
    pub of: &'static str,
    /// Oldest first.
    pub trials: Vec<Trials>,
}

/// Every simulation group's probability trials (matching predicts none): what a calibration is
/// fitted on.
pub fn trials(inputs: &AccuracyInputs, query: &AccuracyQuery) -> Vec<GroupTrials> {
    tallies(inputs, query)
        .into_iter()
        .filter_map(|(kind, provider, model, mut tally)| {
            let of = tally.calibration_of?;
            tally.trials.sort_by_key(|(at, _)| *at);
            Some(GroupTrials {
                kind,
                provider,
                model,
                of,
                trials: tally.trials.into_iter().map(|(_, t)| t).collect(),
            })
        })
        .collect()
}

/// Each simulation group's predictions paired with their outcomes.
fn tallies(
    inputs: &AccuracyInputs,
    query: &AccuracyQuery,
) -> Vec<(AccuracyKind, String, String, Tally)> {
    let outcomes = OutcomeIndex::new(&inputs.outcomes);
    let mut groups: BTreeMap<(&str, String, String), (AccuracyKind, Vec<&PredictionRow>)> =
        BTreeMap::new();
    for p in &inputs.predictions {
        let kind = super::calibration::kind_of(p.kind);
        let wanted = query.kind.is_none_or(|k| k == kind)
            && query.since.is_none_or(|since| p.predicted_at >= since)
            && query.model.as_ref().is_none_or(|m| *m == p.model);
        if wanted {
            groups
                .entry((kind.as_str(), p.provider.clone(), p.model.clone()))
                .or_insert_with(|| (kind, Vec::new()))
                .1
                .push(p);
        }
    }
    groups
        .into_iter()
        .map(|((_, provider, model), (kind, predictions))| {
            let mut tally = Tally::default();
            match kind {
                AccuracyKind::FocusGroup => focus_group(&predictions, &outcomes, &mut tally),
                AccuracyKind::Marketing => marketing(&predictions, &outcomes, &mut tally),
                AccuracyKind::Intervention => intervention(&predictions, &outcomes, &mut tally),
                AccuracyKind::Individual => individual(&predictions, &outcomes, &mut tally),
                AccuracyKind::Matching => {}
            }
            (kind, provider, model, tally)
        })
        .collect()
}

/// Outcomes by what they are about.
struct OutcomeIndex<'a> {
    /// Showings, offers and sales by (listing, client).
    by_pair: HashMap<(Uuid, Uuid), Vec<&'a OutcomeRow>>,
    /// Campaign, outreach and scenario outcomes by simulation.
    by_simulation: HashMap<Uuid, Vec<&'a OutcomeRow>>,
    /// Sales by listing (a sale need not name its buyer).
    sales: HashMap<Uuid, Vec<&'a OutcomeRow>>,
}

impl<'a> OutcomeIndex<'a> {
    fn new(outcomes: &'a [OutcomeRow]) -> Self {
        let mut index = OutcomeIndex {
            by_pair: HashMap::new(),
            by_simulation: HashMap::new(),
            sales: HashMap::new(),
        };
        for o in outcomes {
            if let (OutcomeKind::Sale, Some(property)) = (o.kind, o.property_id) {
                index.sales.entry(property).or_default().push(o);
            }
            if let (Some(property), Some(persona)) = (o.property_id, o.persona_id) {
                index
                    .by_pair
                    .entry((property, persona))
                    .or_default()
                    .push(o);
            }
            if let Some(simulation) = o.simulation_id {
                index.by_simulation.entry(simulation).or_default().push(o);
            }
        }
        index
    }

    /// What happened to this listing's client on or after `since`.
    fn of_pair(&self, property: Uuid, persona: Uuid, since: NaiveDate) -> Vec<&'a OutcomeRow> {
        after(self.by_pair.get(&(property, persona)), since)
    }

    fn of_simulation(&self, simulation: Uuid, since: NaiveDate) -> Vec<&'a OutcomeRow> {
        after(self.by_simulation.get(&simulation), since)
    }

    /// The listing's sale on or after `since`, the first if several were recorded.
    fn sale(&self, property: Uuid, since: NaiveDate) -> Option<&'a OutcomeRow> {
        after(self.sales.get(&property), since)
            .into_iter()
            .min_by_key(|o| o.occurred_on)
    }
}

fn after<'a>(rows: Option<&Vec<&'a OutcomeRow>>, since: NaiveDate) -> Vec<&'a OutcomeRow> {
    rows.map(|rows| {
        rows.iter()
            .filter(|o| o.occurred_on >= since)
            .copied()
            .collect()
    })
    .unwrap_or_default()
}

/// What a group's predictions and their outcomes add up to, before the figures are computed.
#[derive(Default)]
struct Tally {
    predictions: u64,
    outcomes: HashSet<Uuid>,
    /// Each correlation's name and pairs, in the order first seen; the first is the headline.
    correlations: Vec<(&'static str, Vec<(f64, f64)>)>,
    calibration_of: Option<&'static str>,
    /// With when they were predicted (held-out calibration fits on the older ones).
    trials: Vec<(DateTime<Utc>, Trials)>,
    rate_errors: Vec<(&'static str, Vec<f64>)>,
    best_of: Option<&'static str>,
    best: (u64, u64),
    months: BTreeMap<String, Month>,
}

#[derive(Default)]
struct Month {
    predictions: u64,
    headline: Vec<(f64, f64)>,
    trials: Vec<Trials>,
}

fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

impl Tally {
    /// A prediction that has outcomes, and which.
    fn counted(&mut self, p: &PredictionRow, outcomes: &[&OutcomeRow]) {
        self.predictions += 1;
        self.outcomes.extend(outcomes.iter().map(|o| o.id));
        self.months
            .entry(month_of(p.predicted_at))
            .or_default()
            .predictions += 1;
    }

    fn pair(&mut self, of: &'static str, at: DateTime<Utc>, predicted: f64, real: f64) {
        let headline = self
            .correlations
            .first()
            .is_none_or(|(name, _)| *name == of);
        match self.correlations.iter_mut().find(|(name, _)| *name == of) {
            Some((_, pairs)) => pairs.push((predicted, real)),
            None => self.correlations.push((of, vec![(predicted, real)])),
        }
        if headline {
            let month = self.months.entry(month_of(at)).or_default();
            month.headline.push((predicted, real));
        }
    }

    fn trial(&mut self, of: &'static str, at: DateTime<Utc>, trials: Trials) {
        self.calibration_of = Some(of);
        self.trials.push((at, trials));
        self.months
            .entry(month_of(at))
            .or_default()
            .trials
            .push(trials);
    }

    fn rate_error(&mut self, of: &'static str, error: f64) {
        match self.rate_errors.iter_mut().find(|(name, _)| *name == of) {
            Some((_, errors)) => errors.push(error),
            None => self.rate_errors.push((of, vec![error])),
        }
    }

    /// One simulation's alternatives (a segment, a cell, a sequence), each with its predicted
    /// and real figure: whether the one predicted best did best. Fewer than two alternatives
    /// with outcomes cannot be checked.
    fn best(&mut self, of: &'static str, alternatives: &[(f64, f64)]) {
        self.best_of = Some(of);
        if alternatives.len() < 2 {
            return;
        }
        let predicted_best = alternatives
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .expect("two alternatives");
        let real_best = alternatives
            .iter()
            .map(|a| a.1)
            .fold(f64::NEG_INFINITY, f64::max);
        self.best.0 += 1;
        if predicted_best.1 >= real_best {
            self.best.1 += 1;
        }
    }

    fn into_group(
        self,
        kind: AccuracyKind,
        provider: String,
        model: String,
        calibration_min: u64,
    ) -> Option<AccuracyGroup> {
        if self.predictions == 0 {
            return None;
        }
        let correlations = self
            .correlations
            .iter()
            .map(|(of, pairs)| Correlation {
                of: (*of).to_owned(),
                pairs: pairs.len() as u64,
                pearson: stats::pearson(pairs),
                spearman: stats::spearman(pairs),
            })
            .collect();
        let calibration = self
            .calibration_of
            .and_then(|of| calibration(of, self.trials, calibration_min));
        let rate_errors = self
            .rate_errors
            .iter()
            .filter_map(|(of, errors)| {
                Some(RateError {
                    of: (*of).to_owned(),
                    cells: errors.len() as u64,
                    mean_absolute_error: stats::mean(errors)?,
                })
            })
            .collect();
        let best = self.best_of.map(|of| BestHits {
            of: of.to_owned(),
            checked: self.best.0,
            hits: self.best.1,
            hit_rate: stats::proportion(self.best.1, self.best.0),
        });
        let by_month = self
            .months
            .into_iter()
            .map(|(month, m)| AccuracyPeriod {
                month,
                predictions: m.predictions,
                pearson: stats::pearson(&m.headline),
                brier: stats::brier(&m.trials),
            })
            .collect();
        Some(AccuracyGroup {
            kind,
            baseline: provider == "offline",
            provider,
            model,
            predictions: self.predictions,
            outcomes: self.outcomes.len() as u64,
            correlations,
            calibration,
            rate_errors,
            best,
            precision_at_k: Vec::new(),
            by_month,
            stored_calibration: None,
        })
    }
}

fn calibration(
    of: &str,
    mut trials: Vec<(DateTime<Utc>, Trials)>,
    calibration_min: u64,
) -> Option<Calibration> {
    trials.sort_by_key(|(at, _)| *at);
    let set: Vec<Trials> = trials.iter().map(|(_, t)| *t).collect();
    let brier = stats::brier(&set)?;
    let (reliability, ece) = stats::reliability(&set);
    let held_out = (brier.n >= calibration_min.max(2))
        .then(|| held_out(&set))
        .flatten();
    Some(Calibration {
        of: of.to_owned(),
        trials: brier.n,
        brier,
        expected_calibration_error: ece,
        reliability,
        held_out,
    })
}

/// Fits on the older share of the trials, judges on the newer rest.
pub(super) fn held_out(oldest_first: &[Trials]) -> Option<HeldOut> {
    // One entry (a single campaign cell, say) cannot be split into older and newer.
    if oldest_first.len() < 2 {
        return None;
    }
    let cut = ((oldest_first.len() as f64 * FIT_SHARE).round() as usize)
        .clamp(1, oldest_first.len().saturating_sub(1));
    let (fit_on, judged_on) = oldest_first.split_at(cut);
    let map = Isotonic::fit(fit_on)?;
    let raw = stats::brier(judged_on)?;
    let calibrated = map.brier(judged_on)?;
    Some(HeldOut {
        method: "isotonic".to_owned(),
        fitted_on: fit_on.iter().map(|t| t.trials).sum(),
        evaluated_on: raw.n,
        brier_raw: raw.value,
        brier_calibrated: calibrated.value,
        improvement: raw.value - calibrated.value,
    })
}

fn day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// One segment's predicted intents and the reactions its clients really showed.
type SegmentPairs = (Vec<f64>, Vec<f64>);

/// A stored client's predicted intent and purchase probability for a listing, against their
/// showings (reaction 1–5) and whether they made an offer or bought it.
fn focus_group(predictions: &[&PredictionRow], outcomes: &OutcomeIndex<'_>, tally: &mut Tally) {
    // simulation → segment → (predicted intents, real reactions)
    let mut segments: BTreeMap<Uuid, BTreeMap<&str, SegmentPairs>> = BTreeMap::new();
    let mut priced = Vec::new();
    for p in predictions {
        if p.persona_id.is_none() && p.price.is_some() {
            priced.push(*p);
            continue;
        }
        let (Some(property), Some(persona)) = (p.property_id, p.persona_id) else {
            continue;
        };
        let happened = outcomes.of_pair(property, persona, day(p.predicted_at));
        if happened.is_empty() {
            continue;
        }
        tally.counted(p, &happened);
        let reactions: Vec<f64> = happened
            .iter()
            .filter(|o| o.kind == OutcomeKind::Showing)
            .filter_map(|o| o.reaction.map(f64::from))
            .collect();
        if let (Some(intent), false) = (p.score, reactions.is_empty()) {
            let reaction = mean(&reactions);
            tally.pair(
                "purchase intent vs showing reaction",
                p.predicted_at,
                intent,
                reaction,
            );
            let segment = segments
                .entry(p.simulation_id)
                .or_default()
                .entry(p.segment.as_deref().unwrap_or("all"))
                .or_default();
            segment.0.push(intent);
            segment.1.push(reaction);
        }
        if let Some(probability) = p.probability {
            let offered = happened
                .iter()
                .any(|o| matches!(o.kind, OutcomeKind::Offer | OutcomeKind::Sale));
            tally.trial(
                "purchase probability vs an offer or purchase",
                p.predicted_at,
                Trials::one(probability, offered),
            );
        }
    }
    for by_segment in segments.values() {
        let alternatives: Vec<(f64, f64)> = by_segment
            .values()
            .map(|(predicted, real)| (mean(predicted), mean(real)))
            .collect();
        tally.best(
            "segment with the highest predicted intent had the best showings",
            &alternatives,
        );
    }
    // After the clients' pairs, so that intent stays the group's headline correlation.
    for p in priced {
        let (Some(property), Some(suggested)) = (p.property_id, p.price) else {
            continue;
        };
        let Some(sale) = outcomes.sale(property, day(p.predicted_at)) else {
            continue;
        };
        let Some(price) = sale.amount.filter(|a| *a > 0.0) else {
            continue;
        };
        tally.counted(p, &[sale]);
        tally.pair(
            "suggested price vs sale price",
            p.predicted_at,
            suggested,
            price,
        );
        tally.rate_error(
            "suggested price's error as a share of the sale price",
            (suggested - price).abs() / price,
        );
    }
}

/// A material × channel × segment's predicted open, click and reply rates against the counts of
/// the campaign really sent.
fn marketing(predictions: &[&PredictionRow], outcomes: &OutcomeIndex<'_>, tally: &mut Tally) {
    // simulation → (predicted reply rate, real reply rate) of its whole-audience cells
    let mut cells: BTreeMap<Uuid, Vec<(f64, f64)>> = BTreeMap::new();
    for p in predictions {
        let (Some(material), Some(channel)) = (&p.material, &p.channel) else {
            continue;
        };
        let segment = p.segment.as_deref().unwrap_or("all");
        let happened: Vec<&OutcomeRow> = outcomes
            .of_simulation(p.simulation_id, day(p.predicted_at))
            .into_iter()
            .filter(|o| {
                o.kind == OutcomeKind::Campaign
                    && o.material.as_ref() == Some(material)
                    && o.channel.as_ref() == Some(channel)
                    && o.segment.as_deref().unwrap_or("all") == segment
            })
            .collect();
        let count = |field: fn(&OutcomeRow) -> Option<i64>| -> u64 {
            happened
                .iter()
                .map(|o| field(o).unwrap_or(0).max(0) as u64)
                .sum()
        };
        let sent = count(|o| o.sent);
        if sent == 0 {
            continue;
        }
        tally.counted(p, &happened);
        let measured = [
            ("open rate", p.open_rate, count(|o| o.opened)),
            ("click rate", p.click_rate, count(|o| o.clicked)),
            ("reply rate", p.reply_rate, count(|o| o.replied)),
        ];
        for (of, predicted, successes) in measured {
            let Some(predicted) = predicted else {
                continue;
            };
            let real = successes as f64 / sent as f64;
            tally.pair(of, p.predicted_at, predicted, real);
            tally.rate_error(of, (predicted - real).abs());
            tally.trial(
                "open, click and reply probability per recipient",
                p.predicted_at,
                Trials {
                    predicted,
                    successes: successes.min(sent),
                    trials: sent,
                },
            );
            if of == "reply rate" && segment == "all" {
                cells
                    .entry(p.simulation_id)
                    .or_default()
                    .push((predicted, real));
            }
        }
    }
    for alternatives in cells.values() {
        tally.best(
            "material and channel with the highest predicted reply rate drew the most replies",
            alternatives,
        );
    }
}

/// A sequence's expected response rate against the share of its recipients who responded, and
/// each client's predicted chance of responding against whether they did.
fn intervention(predictions: &[&PredictionRow], outcomes: &OutcomeIndex<'_>, tally: &mut Tally) {
    let mut variants: BTreeMap<Uuid, Vec<(f64, f64)>> = BTreeMap::new();
    for p in predictions {
        let (Some(variant), Some(probability)) = (&p.variant, p.probability) else {
            continue;
        };
        let happened: Vec<&OutcomeRow> = outcomes
            .of_simulation(p.simulation_id, day(p.predicted_at))
            .into_iter()
            .filter(|o| {
                o.kind == OutcomeKind::Outreach
                    && o.variant.as_ref() == Some(variant)
                    && p.persona_id
                        .is_none_or(|persona| o.persona_id == Some(persona))
            })
            .collect();
        if happened.is_empty() {
            continue;
        }
        tally.counted(p, &happened);
        let responded = happened
            .iter()
            .filter(|o| o.responded_touch.is_some())
            .count();
        if p.persona_id.is_some() {
            tally.trial(
                "response probability vs a response",
                p.predicted_at,
                Trials::one(probability, responded > 0),
            );
        } else {
            let real = responded as f64 / happened.len() as f64;
            tally.pair(
                "expected response rate vs the share who responded",
                p.predicted_at,
                probability,
                real,
            );
            tally.rate_error("response rate", (probability - real).abs());
            variants
                .entry(p.simulation_id)
                .or_default()
                .push((probability, real));
        }
    }
    for alternatives in variants.values() {
        tally.best(
            "sequence with the highest expected response rate drew the most responses",
            alternatives,
        );
    }
}

/// A client's predicted interest and chance the scenario ends well against how it went.
fn individual(predictions: &[&PredictionRow], outcomes: &OutcomeIndex<'_>, tally: &mut Tally) {
    for p in predictions {
        let happened: Vec<&OutcomeRow> = outcomes
            .of_simulation(p.simulation_id, day(p.predicted_at))
            .into_iter()
            .filter(|o| o.kind == OutcomeKind::Scenario)
            .collect();
        if happened.is_empty() {
            continue;
        }
        tally.counted(p, &happened);
        let interests: Vec<f64> = happened
            .iter()
            .filter_map(|o| o.interest.map(f64::from))
            .collect();
        if let (Some(score), false) = (p.score, interests.is_empty()) {
            tally.pair(
                "expected interest vs interest afterwards",
                p.predicted_at,
                score,
                mean(&interests),
            );
        }
        if let Some(probability) = p.probability {
            let positive = happened.iter().any(|o| o.positive == Some(true));
            tally.trial(
                "positive-outcome probability vs how it went",
                p.predicted_at,
                Trials::one(probability, positive),
            );
        }
    }
}

/// Precision@k of each run's recommendations to a client against what the client later made of
/// them: a list counts once anything was heard of any listing on it.
fn matching(inputs: &AccuracyInputs, query: &AccuracyQuery) -> Option<AccuracyGroup> {
    let mut signals: HashMap<(Uuid, Uuid), Vec<(NaiveDate, bool)>> = HashMap::new();
    for s in &inputs.signals {
        signals
            .entry((s.persona_id, s.property_id))
            .or_default()
            .push((s.on, s.interested));
    }
    let mut lists: BTreeMap<(Uuid, Uuid), Vec<&super::RecommendationRow>> = BTreeMap::new();
    for r in &inputs.recommendations {
        if query.since.is_none_or(|since| r.created_at >= since) {
            lists.entry((r.run_id, r.persona_id)).or_default().push(r);
        }
    }
    let mut precision = [(0u64, 0u64, 0u64); PRECISION_KS.len()];
    let (mut predictions, mut heard) = (0u64, 0u64);
    let mut months: BTreeMap<String, u64> = BTreeMap::new();
    for list in lists.values_mut() {
        list.sort_by_key(|r| r.rank);
        let verdicts: Vec<Option<bool>> = list
            .iter()
            .map(|r| {
                let later = signals
                    .get(&(r.persona_id, r.property_id))?
                    .iter()
                    .filter(|(on, _)| *on >= day(r.created_at))
                    .collect::<Vec<_>>();
                (!later.is_empty()).then(|| later.iter().any(|(_, interested)| *interested))
            })
            .collect();
        if verdicts.iter().all(Option::is_none) {
            continue;
        }
        predictions += list.len() as u64;
        heard += verdicts.iter().filter(|v| v.is_some()).count() as u64;
        *months.entry(month_of(list[0].created_at)).or_default() += list.len() as u64;
        for (slot, k) in precision.iter_mut().zip(PRECISION_KS) {
            let top = &verdicts[..verdicts.len().min(k as usize)];
            slot.0 += 1;
            slot.1 += top.iter().filter(|v| **v == Some(true)).count() as u64;
            slot.2 += top.len() as u64;
        }
    }
    if predictions == 0 {
        return None;
    }
    Some(AccuracyGroup {
        kind: AccuracyKind::Matching,
        provider: MATCHING_PROVIDER.to_owned(),
        model: MATCHING_MODEL.to_owned(),
        baseline: false,
        predictions,
        outcomes: heard,
        correlations: Vec::new(),
        calibration: None,
        rate_errors: Vec::new(),
        best: None,
        precision_at_k: precision
            .iter()
            .zip(PRECISION_KS)
            .map(|(&(lists, hits, shown), k)| PrecisionAtK {
                k,
                lists,
                precision: stats::proportion(hits, shown),
            })
            .collect(),
        by_month: months
            .into_iter()
            .map(|(month, predictions)| AccuracyPeriod {
                month,
                predictions,
                pearson: None,
                brier: None,
            })
            .collect(),
        stored_calibration: None,
    })
}
