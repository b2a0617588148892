//! The focus-group results as tables a broker can read in a terminal.

use std::fmt::Write;

use serde_json::Value;

pub fn render(results: &Value) -> String {
    let r = &results["results"];
    let segments = insights(r, "segment");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "PURCHASE INTENT BY SEGMENT (1 = certainly not, 5 = certainly)"
    );
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>7} {:>13} {:>7} {:>14}",
        "segment", "personas", "intent", "95% CI", "P(buy)", "avg WTP (USD)"
    );
    for s in &segments {
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>7.2} {:>13} {:>7.2} {:>14}",
            text(&s["segment"]),
            s["personas"].as_u64().unwrap_or(0),
            num(&s["mean_intent"]),
            format!(
                "{:.2}–{:.2}",
                num(&s["intent_ci95"][0]),
                num(&s["intent_ci95"][1])
            ),
            num(&s["mean_purchase_probability"]),
            s["mean_willingness_to_pay"]
                .as_f64()
                .map_or("—".into(), |w| format!("{:.1}M", w / 1e6)),
        );
    }
    let _ = writeln!(out, "\nTOP LIKES AND DISLIKES");
    for s in &segments {
        let _ = writeln!(
            out,
            "{:<20} likes:    {}",
            text(&s["segment"]),
            mentions(&s["top_likes"])
        );
        let _ = writeln!(out, "{:<20} dislikes: {}", "", mentions(&s["top_dislikes"]));
    }
    let _ = writeln!(
        out,
        "\nEFFECT OF EACH MODIFICATION ON INTENT (whole panel, Likert points)"
    );
    let _ = writeln!(
        out,
        "{:<52} {:>7} {:>7} {:>7} {:>15}",
        "modification", "before", "after", "effect", "95% CI"
    );
    for m in insights(r, "modification") {
        let _ = writeln!(
            out,
            "{:<52} {:>7.2} {:>7.2} {:>+7.2} {:>15}",
            text(&m["modification"]),
            num(&m["intent_before"]),
            num(&m["intent_after"]),
            num(&m["mean_effect"]),
            format!(
                "{:+.2} to {:+.2}",
                num(&m["effect_ci95"][0]),
                num(&m["effect_ci95"][1])
            ),
        );
    }
    let _ = writeln!(
        out,
        "\nPHOTOS, BEST FIRST (appeal 1–5, share rating it best)"
    );
    for p in insights(r, "photo") {
        let _ = writeln!(
            out,
            "  {}. photo {} {:<40} {:.2} ({:.0}%)",
            p["rank"],
            p["photo"],
            text(&p["description"]),
            num(&p["appeal"]["mean"]),
            num(&p["support"]) * 100.0
        );
    }
    for p in insights(r, "pricing") {
        let pct = &p["willingness_to_pay_percentiles"];
        let _ = writeln!(
            out,
            "\nPRICING: list {:.1}M; willingness to pay p25 {:.1}M, median {:.1}M, p75 {:.1}M; {:.0}% of the panel would pay the list price",
            num(&p["list_price"]) / 1e6,
            num(&pct[1]) / 1e6,
            num(&pct[2]) / 1e6,
            num(&pct[3]) / 1e6,
            num(&p["share_at_list_price"]) * 100.0
        );
    }
    for q in insights(r, "question") {
        typed_question(&mut out, q);
    }
    let _ = writeln!(out, "\nRECOMMENDATIONS (confidence)");
    for rec in array(&r["recommendations"]) {
        let _ = writeln!(
            out,
            "  [{:.2}] {}: {}",
            num(&rec["confidence"]),
            text(&rec["title"]),
            text(&rec["detail"])
        );
    }
    let _ = writeln!(out, "\nSUMMARY\n  {}", text(&r["summary"]));
    let m = &results["metadata"];
    let _ = writeln!(
        out,
        "\nRun: provider {} ({}), {} LLM calls, {} tokens, {} failed steps, {:.2} s compute",
        text(&m["provider"]),
        text(&m["model_version"]),
        m["llm_calls"],
        m["tokens_used"],
        m["failed_steps"],
        num(&m["compute_time"]),
    );
    out
}

/// One typed question, for the whole panel: its shares, ranks, percentiles or themes.
fn typed_question(out: &mut String, q: &Value) {
    let _ = writeln!(
        out,
        "\nQ{} ({}): {}",
        q["question"],
        text(&q["type"]).replace('_', " "),
        text(&q["text"])
    );
    let Some(all) = array(&q["segments"]).first() else {
        return;
    };
    let interval =
        |v: &Value, scale: f64| format!("{:.0}–{:.0}", num(&v[0]) * scale, num(&v[1]) * scale);
    for s in array(&all["shares"]) {
        let _ = writeln!(
            out,
            "  {:<40} {:>4.0}%  (95% CI {}%)",
            text(&s["option"]),
            num(&s["share"]) * 100.0,
            interval(&s["ci95"], 100.0)
        );
    }
    for (i, r) in array(&all["ranks"]).iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {:<37} mean rank {:.2} (95% CI {:.2}–{:.2})",
            i + 1,
            text(&r["option"]),
            num(&r["mean_rank"]),
            num(&r["ci95"][0]),
            num(&r["ci95"][1])
        );
    }
    if let Some(p) = all["percentiles"].as_array() {
        let unit = q["unit"].as_str().unwrap_or("");
        let _ = writeln!(
            out,
            "  p10 {:.1}M, p25 {:.1}M, median {:.1}M, p75 {:.1}M, p90 {:.1}M {unit}",
            num(&p[0]) / 1e6,
            num(&p[1]) / 1e6,
            num(&p[2]) / 1e6,
            num(&p[3]) / 1e6,
            num(&p[4]) / 1e6
        );
    }
    for t in array(&all["themes"]) {
        let quote = array(&t["quotes"]).first().map(text).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<40} {:>4.0}%  e.g. \"{quote}\"",
            text(&t["label"]),
            num(&t["share"]) * 100.0
        );
    }
    if all["unanswered"].as_u64().unwrap_or(0) > 0 {
        let _ = writeln!(
            out,
            "  ({} personas gave no answer of this type)",
            all["unanswered"]
        );
    }
    if let Some(order) = q.get("order_effect") {
        let (seen, fair) = (
            num(&order["first_shown"]["mean"]),
            num(&order["without_bias"]),
        );
        let effect = match text(&q["type"]) {
            "ranking" => format!("had mean rank {seen:.2} ({fair:.2} if order did not matter)"),
            _ => format!(
                "was chosen by {:.0}% ({:.0}% if order did not matter)",
                seen * 100.0,
                fair * 100.0
            ),
        };
        let _ = writeln!(out, "  Order effect: the option shown first {effect}");
    }
}

fn insights<'a>(results: &'a Value, kind: &str) -> Vec<&'a Value> {
    array(&results["detailed_insights"])
        .iter()
        .filter(|i| i["kind"] == kind)
        .collect()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

fn num(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

fn mentions(value: &Value) -> String {
    let items: Vec<String> = array(value)
        .iter()
        .map(|m| format!("{} ({})", text(&m["text"]), m["count"]))
        .collect();
    if items.is_empty() {
        "—".into()
    } else {
        items.join(", ")
    }
}
