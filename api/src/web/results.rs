//! A finished simulation as findings a broker can act on: each finding is a chart with the table
//! of its numbers (the same table the CSV download gives), per kind of simulation.

use std::collections::BTreeMap;

use maud::Markup;
use troupe_shared::{
    domain::{
        AgentResponse, BestForClient, EngagementInsight, Insight, Judgement, ModificationEffect,
        PhotoInsight, Pick, PricingInsight, SegmentInsight, SimulationKind, SimulationResults,
        VariantInsight,
    },
    numbers::money,
};

use super::{
    charts::{self, Interval},
    question_findings,
};

/// Numbers with their column names: shown under a chart and downloadable as CSV.
pub struct Table {
    /// The CSV's file name (`segments` → `segments.csv`).
    pub name: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
            let escaped: Vec<String> = cells.map(csv_cell).collect();
            out.push_str(&escaped.join(","));
            out.push_str("\r\n");
        };
        line(&mut self.headers.iter().copied(), &mut out);
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str), &mut out);
        }
        out
    }
}

/// RFC 4180 quoting, and a leading `'` on text a spreadsheet would run as a formula.
fn csv_cell(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '@', '\t', '\r'])
        || (cell.starts_with('-') && cell.parse::<f64>().is_err())
    {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// One finding: its heading, a sentence on how to read it, its chart and its numbers.
pub struct Finding {
    pub heading: String,
    pub reading: String,
    pub chart: Option<Markup>,
    pub table: Option<Table>,
}

pub(super) const LIKERT: [&str; 5] = ["1 no", "2", "3", "4", "5 yes"];

pub(super) fn fixed(value: f64, places: usize) -> String {
    format!("{value:.places$}")
}

pub(super) fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// The findings of a finished run of `kind`, then every answer.
pub fn findings(kind: SimulationKind, results: &SimulationResults, currency: &str) -> Vec<Finding> {
    let insights = &results.detailed_insights;
    let mut findings = match kind {
        SimulationKind::FocusGroup => focus_group(insights, &results.raw_responses, currency),
        SimulationKind::Marketing => marketing(insights),
        SimulationKind::Intervention => intervention(insights),
        SimulationKind::Individual => individual(insights),
    };
    findings.push(answers(&results.raw_responses));
    findings
}

fn focus_group(insights: &[Insight], responses: &[AgentResponse], currency: &str) -> Vec<Finding> {
    let segments: Vec<&SegmentInsight> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Segment(s) => Some(s),
            _ => None,
        })
        .collect();
    let photos: Vec<&PhotoInsight> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Photo(p) => Some(p),
            _ => None,
        })
        .collect();
    let modifications: Vec<&ModificationEffect> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Modification(m) => Some(m),
            _ => None,
        })
        .collect();
    let pricing = insights.iter().find_map(|i| match i {
        Insight::Pricing(p) => Some(p),
        _ => None,
    });
    let mut out = Vec::new();
    if !segments.is_empty() {
        let rows: Vec<Interval> = segments
            .iter()
            .map(|s| Interval {
                label: format!("{} ({})", s.segment.replace('_', " "), s.personas),
                mean: s.mean_intent,
                low: s.intent_ci95[0],
                high: s.intent_ci95[1],
                inconclusive: false,
            })
            .collect();
        out.push(Finding {
            heading: "Purchase intent by segment".into(),
            reading: "Mean intent on the 1–5 scale (1 certainly not, 5 certainly) with its 95% \
                      interval: segments whose intervals do not overlap differ."
                .into(),
            chart: Some(charts::intervals(
                "segments",
                "Mean purchase intent by segment, 95% intervals",
                &rows,
                (1.0, 5.0),
                None,
            )),
            table: Some(Table {
                name: "segments".into(),
                headers: vec![
                    "segment",
                    "personas",
                    "responses",
                    "mean intent",
                    "95% low",
                    "95% high",
                    "purchase probability",
                    "mean willingness to pay",
                ],
                rows: segments
                    .iter()
                    .map(|s| {
                        vec![
                            s.segment.clone(),
                            s.personas.to_string(),
                            s.responses.to_string(),
                            fixed(s.mean_intent, 2),
                            fixed(s.intent_ci95[0], 2),
                            fixed(s.intent_ci95[1], 2),
                            fixed(s.mean_purchase_probability, 2),
                            s.mean_willingness_to_pay
                                .map_or_else(String::new, |w| format!("{} {currency}", money(w))),
                        ]
                    })
                    .collect(),
            }),
        });
        let shares: Vec<(String, [f64; 5])> = segments
            .iter()
            .map(|s| (s.segment.replace('_', " "), s.intent_distribution))
            .collect();
        out.push(Finding {
            heading: "How intent is spread".into(),
            reading: "Share of each point of the scale in the personas' answers: the spread a \
                      mean hides."
                .into(),
            chart: Some(charts::stacked(
                "distribution",
                "Distribution of purchase intent by segment",
                &shares,
                LIKERT,
            )),
            table: Some(Table {
                name: "distribution".into(),
                headers: vec!["segment", "1", "2", "3", "4", "5"],
                rows: segments
                    .iter()
                    .map(|s| {
                        std::iter::once(s.segment.clone())
                            .chain(s.intent_distribution.iter().map(|v| percent(*v)))
                            .collect()
                    })
                    .collect(),
            }),
        });
    }
    if !photos.is_empty() {
        let rows: Vec<Interval> = photos
            .iter()
            .map(|p| Interval {
                label: format!("{}. {}", p.rank, p.description),
                mean: p.appeal.mean,
                low: p.appeal.ci95[0],
                high: p.appeal.ci95[1],
                inconclusive: false,
            })
            .collect();
        out.push(Finding {
            heading: "Photos, best first".into(),
            reading:
                "Appeal on the 1–5 scale (5: makes me want to visit) with 95% intervals; lead \
                      with the top photo when its interval clears the next one's. Each persona saw \
                      the photos in an order of its own, so a pull toward the first one shown \
                      averages out; the table gives each photo's appeal from those who saw it \
                      first beside it."
                    .into(),
            chart: Some(charts::intervals(
                "photos",
                "Photo appeal, 95% intervals",
                &rows,
                (1.0, 5.0),
                None,
            )),
            table: Some(Table {
                name: "photos".into(),
                headers: vec![
                    "rank",
                    "photo",
                    "description",
                    "appeal",
                    "95% low",
                    "95% high",
                    "share rating it best",
                    "appeal when shown first",
                ],
                rows: photos
                    .iter()
                    .map(|p| {
                        vec![
                            p.rank.to_string(),
                            p.photo.to_string(),
                            p.description.clone(),
                            fixed(p.appeal.mean, 2),
                            fixed(p.appeal.ci95[0], 2),
                            fixed(p.appeal.ci95[1], 2),
                            percent(p.support),
                            p.order_effect
                                .as_ref()
                                .map_or("—".into(), |o| fixed(o.first_shown.mean, 2)),
                        ]
                    })
                    .collect(),
            }),
        });
    }
    if !modifications.is_empty() {
        let verdict = |m: &ModificationEffect| {
            if m.effect_ci95[0] > 0.0 {
                "raises intent"
            } else if m.effect_ci95[1] < 0.0 {
                "lowers intent"
            } else {
                "inconclusive"
            }
        };
        let rows: Vec<Interval> = modifications
            .iter()
            .map(|m| Interval {
                label: m.modification.clone(),
                mean: m.mean_effect,
                low: m.effect_ci95[0],
                high: m.effect_ci95[1],
                inconclusive: verdict(m) == "inconclusive",
            })
            .collect();
        let reach = rows
            .iter()
            .flat_map(|r| [r.low.abs(), r.high.abs()])
            .fold(0.5_f64, f64::max)
            .ceil();
        out.push(Finding {
            heading: "What each modification does".into(),
            reading: "Change in mean intent (Likert points) when the modification is presented, \
                      with its 95% interval; one whose interval crosses zero is inconclusive and \
                      shown hollow."
                .into(),
            chart: Some(charts::intervals(
                "modifications",
                "Effect of each modification on intent, 95% intervals",
                &rows,
                (-reach, reach),
                Some(0.0),
            )),
            table: Some(Table {
                name: "modifications".into(),
                headers: vec![
                    "modification",
                    "intent before",
                    "intent after",
                    "effect",
                    "95% low",
                    "95% high",
                    "share raised",
                    "verdict",
                ],
                rows: modifications
                    .iter()
                    .map(|m| {
                        vec![
                            m.modification.clone(),
                            fixed(m.intent_before, 2),
                            fixed(m.intent_after, 2),
                            format!("{:+.2}", m.mean_effect),
                            format!("{:+.2}", m.effect_ci95[0]),
                            format!("{:+.2}", m.effect_ci95[1]),
                            percent(m.positive_share),
                            verdict(m).to_owned(),
                        ]
                    })
                    .collect(),
            }),
        });
    }
    if let Some(pricing) = pricing {
        out.push(price_finding(pricing, responses));
    }
    out.extend(question_findings::findings(insights.iter().filter_map(
        |i| match i {
            Insight::Question(q) => Some(q),
            _ => None,
        },
    )));
    if let Some(all) = segments
        .iter()
        .find(|s| s.segment == "all")
        .or(segments.first())
    {
        let mut rows: Vec<Vec<String>> = all
            .top_likes
            .iter()
            .map(|m| vec!["like".to_owned(), m.text.clone(), m.count.to_string()])
            .collect();
        rows.extend(
            all.top_dislikes
                .iter()
                .map(|m| vec!["dislike".to_owned(), m.text.clone(), m.count.to_string()]),
        );
        out.push(Finding {
            heading: "Likes and dislikes".into(),
            reading: format!(
                "What the panel ({}) mentioned most, with how many times.",
                all.segment.replace('_', " ")
            ),
            chart: None,
            table: Some(Table {
                name: "mentions".into(),
                headers: vec!["kind", "mention", "count"],
                rows,
            }),
        });
    }
    out
}

/// The share of the panel willing to pay at least each price named, from each persona's first
/// answer that named one.
fn price_finding(pricing: &PricingInsight, responses: &[AgentResponse]) -> Finding {
    let mut named: BTreeMap<uuid::Uuid, f64> = BTreeMap::new();
    for response in responses {
        if let Judgement::Listing(judgement) = &response.judgement
            && let Some(price) = judgement.willingness_to_pay
        {
            named.entry(response.persona_id).or_insert(price);
        }
    }
    let mut prices: Vec<f64> = named.into_values().collect();
    prices.sort_by(f64::total_cmp);
    let panel = f64::from(pricing.personas.max(1));
    let points: Vec<(f64, f64)> = prices
        .iter()
        .enumerate()
        .map(|(i, price)| (*price, (prices.len() - i - 1) as f64 / panel))
        .collect();
    let currency = pricing.currency.clone();
    let money_of = move |v: f64| format!("{} {currency}", money(v));
    let chart = charts::price_curve(
        "pricing",
        "Share of the panel willing to pay at least each price",
        &points,
        &[
            (pricing.list_price, "list"),
            (pricing.suggested_price, "suggested"),
        ],
        &money_of,
    );
    let p = pricing.willingness_to_pay_percentiles;
    Finding {
        heading: "Willingness to pay".into(),
        reading: format!(
            "{} of the panel would pay the list price or more; {} of {} personas named a price. \
             The curve falls at each price a persona named.",
            percent(pricing.share_at_list_price),
            pricing.bidders,
            pricing.personas
        ),
        chart: Some(chart),
        table: Some(Table {
            name: "pricing".into(),
            headers: vec!["measure", "value"],
            rows: vec![
                vec!["list price".into(), money_of(pricing.list_price)],
                vec!["suggested price".into(), money_of(pricing.suggested_price)],
                vec![
                    "share at list price".into(),
                    percent(pricing.share_at_list_price),
                ],
                vec![
                    "personas naming a price".into(),
                    format!("{} of {}", pricing.bidders, pricing.personas),
                ],
                vec!["10th percentile".into(), money_of(p[0])],
                vec!["25th percentile".into(), money_of(p[1])],
                vec!["median".into(), money_of(p[2])],
                vec!["75th percentile".into(), money_of(p[3])],
                vec!["90th percentile".into(), money_of(p[4])],
            ],
        }),
    }
}

fn marketing(insights: &[Insight]) -> Vec<Finding> {
    let cells: Vec<&EngagementInsight> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Engagement(e) => Some(e),
            _ => None,
        })
        .collect();
    let overall: Vec<&&EngagementInsight> = cells.iter().filter(|e| e.segment == "all").collect();
    let shown = if overall.is_empty() {
        cells.iter().collect()
    } else {
        overall
    };
    // Materials in the order they were given, each once.
    let mut materials: Vec<String> = Vec::new();
    for e in &shown {
        if !materials.contains(&e.material) {
            materials.push(e.material.clone());
        }
    }
    let mut channels: Vec<String> = shown
        .iter()
        .map(|e| e.channel.as_str().to_owned())
        .collect();
    channels.sort();
    channels.dedup();
    let grid = |rate: fn(&EngagementInsight) -> f64| -> Vec<Vec<Option<f64>>> {
        materials
            .iter()
            .map(|m| {
                channels
                    .iter()
                    .map(|c| {
                        shown
                            .iter()
                            .find(|e| &e.material == m && e.channel.as_str() == c)
                            .map(|e| rate(e))
                    })
                    .collect()
            })
            .collect()
    };
    let mut out = Vec::new();
    for (heading, id, rate) in [
        (
            "Open rate by material and channel",
            "open",
            (|e: &EngagementInsight| e.open_rate.mean) as fn(&EngagementInsight) -> f64,
        ),
        (
            "Click rate by material and channel",
            "click",
            |e: &EngagementInsight| e.click_rate.mean,
        ),
        (
            "Reply rate by material and channel",
            "reply",
            |e: &EngagementInsight| e.reply_rate.mean,
        ),
    ] {
        out.push(Finding {
            heading: heading.to_owned(),
            reading: "Darker cells do better; the table below has each rate's 95% interval.".into(),
            chart: Some(charts::heat_map(
                id,
                heading,
                &materials,
                &channels,
                &grid(rate),
            )),
            table: None,
        });
    }
    // One table carries every cell's rates and intervals, for the three heat maps.
    let table = Table {
        name: "engagement".into(),
        headers: vec![
            "material",
            "channel",
            "segment",
            "personas",
            "open",
            "open 95%",
            "click",
            "click 95%",
            "reply",
            "reply 95%",
            "sentiment",
            "top objections",
        ],
        rows: cells
            .iter()
            .map(|e| {
                vec![
                    e.material.clone(),
                    e.channel.as_str().to_owned(),
                    e.segment.clone(),
                    e.personas.to_string(),
                    percent(e.open_rate.mean),
                    format!(
                        "{}–{}",
                        percent(e.open_rate.ci95[0]),
                        percent(e.open_rate.ci95[1])
                    ),
                    percent(e.click_rate.mean),
                    format!(
                        "{}–{}",
                        percent(e.click_rate.ci95[0]),
                        percent(e.click_rate.ci95[1])
                    ),
                    percent(e.reply_rate.mean),
                    format!(
                        "{}–{}",
                        percent(e.reply_rate.ci95[0]),
                        percent(e.reply_rate.ci95[1])
                    ),
                    format!("{:+.2}", e.mean_sentiment),
                    e.top_objections
                        .iter()
                        .map(|o| format!("{} ({})", o.text, o.count))
                        .collect::<Vec<_>>()
                        .join("; "),
                ]
            })
            .collect(),
    };
    out.push(Finding {
        heading: "Every material, channel and segment".into(),
        reading: "Each rate with its 95% interval, overall (`all`) and per segment.".into(),
        chart: None,
        table: Some(table),
    });
    let clients: Vec<&BestForClient> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::BestForClient(b) => Some(b),
            _ => None,
        })
        .collect();
    if !clients.is_empty() {
        let pick = |p: Option<&Pick>| match p {
            Some(p) => vec![
                p.material.clone(),
                p.channel.as_str().to_owned(),
                percent(p.reply_rate),
            ],
            None => vec![String::new(); 3],
        };
        out.push(Finding {
            heading: "What to send each client".into(),
            reading: "For each client, the material and channel with the highest expected reply \
                      rate (replies per delivery, iterations averaged), and the next best."
                .into(),
            chart: None,
            table: Some(Table {
                name: "clients".into(),
                headers: vec![
                    "client",
                    "segment",
                    "best material",
                    "best channel",
                    "reply rate",
                    "next material",
                    "next channel",
                    "next reply rate",
                ],
                rows: clients
                    .iter()
                    .map(|c| {
                        [c.persona_name.clone(), c.segment.clone()]
                            .into_iter()
                            .chain(pick(Some(&c.best)))
                            .chain(pick(c.next_best.as_ref()))
                            .collect()
                    })
                    .collect(),
            }),
        });
    }
    out
}

fn intervention(insights: &[Insight]) -> Vec<Finding> {
    let variants: Vec<&VariantInsight> = insights
        .iter()
        .filter_map(|i| match i {
            Insight::Variant(v) => Some(v),
            _ => None,
        })
        .collect();
    let series: Vec<(String, Vec<(f64, f64)>)> = variants
        .iter()
        .map(|v| {
            (
                v.variant.clone(),
                v.touches
                    .iter()
                    .map(|t| (f64::from(t.day), t.response_probability.mean))
                    .collect(),
            )
        })
        .collect();
    let annoyance: Vec<(String, Vec<(f64, f64)>)> = variants
        .iter()
        .map(|v| {
            (
                v.variant.clone(),
                v.touches
                    .iter()
                    .map(|t| (f64::from(t.day), t.mean_annoyance))
                    .collect(),
            )
        })
        .collect();
    vec![
        Finding {
            heading: "Response to each touch".into(),
            reading: "Probability a persona responds to each touch, by the day it is sent.".into(),
            chart: Some(charts::lines(
                "touches",
                "Response probability per touch over the days",
                "day",
                &series,
            )),
            table: Some(Table {
                name: "touches".into(),
                headers: vec![
                    "sequence",
                    "touch",
                    "day",
                    "channel",
                    "response probability",
                    "95% low",
                    "95% high",
                    "interest",
                    "annoyance",
                ],
                rows: variants
                    .iter()
                    .flat_map(|v| {
                        v.touches.iter().map(|t| {
                            vec![
                                v.variant.clone(),
                                t.touch.to_string(),
                                t.day.to_string(),
                                t.channel.as_str().to_owned(),
                                percent(t.response_probability.mean),
                                percent(t.response_probability.ci95[0]),
                                percent(t.response_probability.ci95[1]),
                                fixed(t.mean_interest, 2),
                                fixed(t.mean_annoyance, 2),
                            ]
                        })
                    })
                    .collect(),
            }),
        },
        Finding {
            heading: "Sequences compared".into(),
            reading: "Chance of at least one response over the whole sequence, and how interested \
                      and how annoyed personas end up."
                .into(),
            chart: Some(charts::lines(
                "annoyance",
                "Annoyance after each touch",
                "day",
                &annoyance,
            )),
            table: Some(Table {
                name: "sequences".into(),
                headers: vec![
                    "sequence",
                    "personas",
                    "response rate",
                    "95% low",
                    "95% high",
                    "final interest",
                    "final annoyance",
                ],
                rows: variants
                    .iter()
                    .map(|v| {
                        vec![
                            v.variant.clone(),
                            v.personas.to_string(),
                            percent(v.expected_response_rate.mean),
                            percent(v.expected_response_rate.ci95[0]),
                            percent(v.expected_response_rate.ci95[1]),
                            fixed(v.final_interest, 2),
                            fixed(v.final_annoyance, 2),
                        ]
                    })
                    .collect(),
            }),
        },
    ]
}

fn individual(insights: &[Insight]) -> Vec<Finding> {
    insights
        .iter()
        .filter_map(|i| match i {
            Insight::Outcome(o) => Some(o),
            _ => None,
        })
        .map(|o| Finding {
            heading: "The client's reaction".into(),
            reading: format!(
                "Expected interest {:.1} of 5; a {} chance the {} ends well. Likely next step: {}.",
                o.expected_interest,
                percent(o.positive_outcome_probability),
                o.scenario.as_str().replace('_', " "),
                o.likely_next_step
            ),
            chart: Some(charts::stacked(
                "outcome",
                "Distribution of the client's interest",
                &[("interest".to_owned(), o.interest_distribution)],
                LIKERT,
            )),
            table: Some(Table {
                name: "outcome".into(),
                headers: vec!["measure", "value"],
                rows: [
                    vec![
                        "expected interest".to_owned(),
                        fixed(o.expected_interest, 2),
                    ],
                    vec![
                        "positive outcome probability".to_owned(),
                        percent(o.positive_outcome_probability),
                    ],
                    vec!["likely next step".to_owned(), o.likely_next_step.clone()],
                ]
                .into_iter()
                .chain(
                    o.interest_distribution
                        .iter()
                        .enumerate()
                        .map(|(i, v)| vec![format!("interest {}", i + 1), percent(*v)]),
                )
                .chain(
                    o.objections
                        .iter()
                        .map(|q| vec!["objection".to_owned(), q.clone()]),
                )
                .chain(
                    o.questions
                        .iter()
                        .map(|q| vec!["question".to_owned(), q.clone()]),
                )
                .collect(),
            }),
        })
        .collect()
}

fn answers(responses: &[AgentResponse]) -> Finding {
    Finding {
        heading: "Every answer".into(),
        reading: format!("{} answers, by persona and step.", responses.len()),
        chart: None,
        table: Some(Table {
            name: "answers".into(),
            headers: vec![
                "persona",
                "segment",
                "iteration",
                "round",
                "step",
                "score",
                "answer",
            ],
            rows: responses
                .iter()
                .map(|r| {
                    let score = match &r.judgement {
                        Judgement::Listing(j) => format!("intent {}", j.purchase_intent),
                        Judgement::Engagement(j) => format!("open {}", percent(j.open_probability)),
                        Judgement::Touch(j) => {
                            format!("response {}", percent(j.response_probability))
                        }
                        Judgement::Scenario(j) => format!("interest {}", j.interest),
                    };
                    vec![
                        r.persona_name.clone(),
                        r.segment.clone(),
                        (r.iteration + 1).to_string(),
                        (r.round + 1).to_string(),
                        r.step.clone(),
                        score,
                        r.answer.clone(),
                    ]
                })
                .collect(),
        }),
    }
}
