//! A focus group's typed questions as findings: each question's answers in their own shape —
//! shares of options or points, mean ranks, a number's spread, themes with quotes — for the
//! whole panel in the chart, every segment in the table.

use troupe_shared::domain::{AnswerType, QuestionInsight, QuestionSegment};

use super::{
    charts::{self, Interval},
    results::{Finding, LIKERT, Table, fixed, percent},
};

pub fn findings<'a>(questions: impl Iterator<Item = &'a QuestionInsight>) -> Vec<Finding> {
    questions.map(finding).collect()
}

fn finding(q: &QuestionInsight) -> Finding {
    let id = format!("question-{}", q.question);
    let heading = format!("Question {}: {}", q.question, q.text);
    let all = q.segments.first();
    let mut reading = match q.answer {
        AnswerType::Likert => "Share of each point from 1 (not at all) to 5 (completely), and the mean point with its 95% interval.",
        AnswerType::YesNo => "Share answering yes and no, with 95% intervals: a majority is clear only when its interval stays above 50%.",
        AnswerType::SingleChoice => "Share choosing each option, with 95% intervals: the leader is clear only when its interval clears the next one's.",
        AnswerType::MultiChoice => "Share choosing each option (a persona may choose several), with 95% intervals.",
        AnswerType::Ranking => "Mean rank of each option (1 is best), with 95% intervals, in Borda order.",
        AnswerType::Numeric => "The answers' mean with its 95% interval, and their spread from the 10th to the 90th percentile.",
        AnswerType::FreeText => "The answers grouped into themes, each with its share of respondents and the answers nearest its centre.",
    }
    .to_owned();
    if let Some(by) = all.and_then(|a| a.themes_grouped_by.as_deref()) {
        reading.push_str(&format!(" Grouped by {by}."));
    }
    if let Some(all) = all.filter(|a| a.unanswered > 0) {
        reading.push_str(&format!(
            " {} of {} personas gave no answer of this type.",
            all.unanswered,
            all.unanswered + all.respondents
        ));
    }
    if let Some(order) = &q.order_effect {
        let what = match q.answer {
            AnswerType::Ranking => "was ranked",
            _ => "was chosen by",
        };
        let (seen, fair) = match q.answer {
            AnswerType::Ranking => (
                fixed(order.first_shown.mean, 2),
                fixed(order.without_bias, 2),
            ),
            _ => (percent(order.first_shown.mean), percent(order.without_bias)),
        };
        reading.push_str(&format!(
            " Each persona saw the options in its own order; the one shown first {what} {seen} \
             ({fair} if order did not matter)."
        ));
    }
    let (chart, table) = match q.answer {
        AnswerType::Ranking => ranks(&id, q),
        AnswerType::Numeric => numbers(&id, q),
        AnswerType::FreeText => (None, themes(&id, q)),
        AnswerType::Likert => likert(&id, q),
        _ => shares(&id, q),
    };
    Finding {
        heading,
        reading,
        chart,
        table: Some(table),
    }
}

fn share_rows(segment: &QuestionSegment) -> Vec<Interval> {
    segment
        .shares
        .iter()
        .map(|s| Interval {
            label: s.option.clone(),
            mean: s.share * 100.0,
            low: s.ci95[0] * 100.0,
            high: s.ci95[1] * 100.0,
            inconclusive: false,
        })
        .collect()
}

fn shares(id: &str, q: &QuestionInsight) -> (Option<maud::Markup>, Table) {
    let chart = q.segments.first().map(|all| {
        charts::intervals(
            id,
            "Share of the panel choosing each option (%), 95% intervals",
            &share_rows(all),
            (0.0, 100.0),
            None,
        )
    });
    let rows = q
        .segments
        .iter()
        .flat_map(|s| {
            s.shares.iter().map(move |o| {
                vec![
                    s.segment.clone(),
                    o.option.clone(),
                    percent(o.share),
                    percent(o.ci95[0]),
                    percent(o.ci95[1]),
                    s.respondents.to_string(),
                ]
            })
        })
        .collect();
    let table = Table {
        name: id.to_owned(),
        headers: vec![
            "segment",
            "option",
            "share",
            "95% low",
            "95% high",
            "respondents",
        ],
        rows,
    };
    (chart, table)
}

fn likert(id: &str, q: &QuestionInsight) -> (Option<maud::Markup>, Table) {
    let points = |s: &QuestionSegment| {
        let mut shares = [0.0; 5];
        for (i, point) in s.shares.iter().take(5).enumerate() {
            shares[i] = point.share;
        }
        shares
    };
    let bars: Vec<(String, [f64; 5])> = q
        .segments
        .iter()
        .map(|s| (s.segment.replace('_', " "), points(s)))
        .collect();
    let chart = charts::stacked(id, "Share of each point, by segment", &bars, LIKERT);
    let rows = q
        .segments
        .iter()
        .map(|s| {
            let mean = s
                .mean
                .map(|m| (fixed(m.mean, 2), fixed(m.ci95[0], 2), fixed(m.ci95[1], 2)));
            let (mean, low, high) = mean.unwrap_or_default();
            [
                s.segment.clone(),
                s.respondents.to_string(),
                mean,
                low,
                high,
            ]
            .into_iter()
            .chain(points(s).iter().map(|p| percent(*p)))
            .collect()
        })
        .collect();
    let table = Table {
        name: id.to_owned(),
        headers: vec![
            "segment",
            "respondents",
            "mean",
            "95% low",
            "95% high",
            "1",
            "2",
            "3",
            "4",
            "5",
        ],
        rows,
    };
    (Some(chart), table)
}

fn ranks(id: &str, q: &QuestionInsight) -> (Option<maud::Markup>, Table) {
    let chart = q.segments.first().map(|all| {
        let rows: Vec<Interval> = all
            .ranks
            .iter()
            .map(|r| Interval {
                label: r.option.clone(),
                mean: r.mean_rank,
                low: r.ci95[0],
                high: r.ci95[1],
                inconclusive: false,
            })
            .collect();
        let worst = all.ranks.len().max(2) as f64;
        charts::intervals(
            id,
            "Mean rank of each option (1 is best), 95% intervals",
            &rows,
            (1.0, worst),
            None,
        )
    });
    let rows = q
        .segments
        .iter()
        .flat_map(|s| {
            s.ranks.iter().enumerate().map(move |(i, r)| {
                vec![
                    s.segment.clone(),
                    (i + 1).to_string(),
                    r.option.clone(),
                    fixed(r.mean_rank, 2),
                    fixed(r.ci95[0], 2),
                    fixed(r.ci95[1], 2),
                    fixed(r.borda, 2),
                    s.respondents.to_string(),
                ]
            })
        })
        .collect();
    let table = Table {
        name: id.to_owned(),
        headers: vec![
            "segment",
            "place",
            "option",
            "mean rank",
            "95% low",
            "95% high",
            "borda",
            "respondents",
        ],
        rows,
    };
    (chart, table)
}

fn numbers(id: &str, q: &QuestionInsight) -> (Option<maud::Markup>, Table) {
    let unit = q.unit.as_deref().unwrap_or("");
    let with_unit = |v: f64| {
        let shown = if v.abs() >= 10_000.0 {
            troupe_shared::numbers::money(v)
        } else {
            fixed(v, 2)
        };
        format!("{shown} {unit}").trim().to_owned()
    };
    let answered: Vec<&QuestionSegment> = q.segments.iter().filter(|s| s.mean.is_some()).collect();
    let chart = (!answered.is_empty()).then(|| {
        let rows: Vec<Interval> = answered
            .iter()
            .filter_map(|s| {
                let m = s.mean?;
                Some(Interval {
                    label: s.segment.replace('_', " "),
                    mean: m.mean,
                    low: m.ci95[0],
                    high: m.ci95[1],
                    inconclusive: false,
                })
            })
            .collect();
        let low = rows.iter().map(|r| r.low).fold(f64::INFINITY, f64::min);
        let high = rows
            .iter()
            .map(|r| r.high)
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((high - low) * 0.1).max(high.abs() * 0.01).max(1e-9);
        charts::intervals(
            id,
            "Mean answer by segment, 95% intervals",
            &rows,
            (low - pad, high + pad),
            None,
        )
    });
    let rows = q
        .segments
        .iter()
        .map(|s| {
            let mut row = vec![s.segment.clone(), s.respondents.to_string()];
            match (s.mean, s.percentiles) {
                (Some(m), Some(p)) => {
                    row.extend([m.mean, m.ci95[0], m.ci95[1]].map(with_unit));
                    row.extend(p.map(with_unit));
                }
                _ => row.extend(std::iter::repeat_n(String::new(), 8)),
            }
            row
        })
        .collect();
    let table = Table {
        name: id.to_owned(),
        headers: vec![
            "segment",
            "respondents",
            "mean",
            "95% low",
            "95% high",
            "p10",
            "p25",
            "median",
            "p75",
            "p90",
        ],
        rows,
    };
    (chart, table)
}

fn themes(id: &str, q: &QuestionInsight) -> Table {
    let rows = q
        .segments
        .iter()
        .flat_map(|s| {
            s.themes.iter().map(move |t| {
                let quote = |i: usize| t.quotes.get(i).cloned().unwrap_or_default();
                vec![
                    s.segment.clone(),
                    t.label.clone(),
                    percent(t.share),
                    percent(t.ci95[0]),
                    percent(t.ci95[1]),
                    t.answers.to_string(),
                    quote(0),
                    quote(1),
                ]
            })
        })
        .collect();
    Table {
        name: id.to_owned(),
        headers: vec![
            "segment", "theme", "share", "95% low", "95% high", "answers", "quote", "quote",
        ],
        rows,
    }
}
