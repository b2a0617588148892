//! Accuracy in the workspace: the `GET /accuracy` report as tables, one section per kind of
//! prediction and model, the offline baseline labelled as such.

use maud::{Markup, html};
use poem::{Request, Response, handler, web::Data};
use troupe_shared::{
    accuracy::AccuracyQuery,
    domain::{AccuracyGroup, AccuracyKind, Calibrations, Measured},
};

use super::{
    calibration,
    error::render,
    layout::{self, Section},
    session::SignedIn,
};
use crate::{ApiState, outcomes::accuracy_report};

#[handler]
pub async fn page(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let query = AccuracyQuery {
            calibration_min: state.accuracy_calibration_min,
            ..AccuracyQuery::default()
        };
        let (report, in_force) = accuracy_report(&state, &me.principal, &query).await?;
        let calibrations = Calibrations {
            items: in_force,
            min_trials: state.accuracy_calibration_min,
        };
        let body = html! {
            h1 { "Accuracy" }
            p.muted {
                "How well simulations predicted what really happened, over the outcomes you can see. "
                "Record showings, offers and sales on a listing's page, and campaign counts, outreach answers and "
                "how a scenario went on its simulation's page; flows and imports use "
                code { "POST /api/v1/outcomes" } " or " code { "troupe outcomes import" } "."
            }
            @if report.groups.is_empty() {
                p { "No prediction has an outcome recorded against it yet." }
            }
            @for group in &report.groups { (section(group)) }
            // How well the predictions did comes first; what is done about it, after.
            (calibration::fits_section(&calibrations, &me))
            @if !report.groups.is_empty() {
                h2 { "How to read it" }
                ul { @for note in &report.notes { li { (note) } } }
            }
        };
        Ok(layout::page(&me, Section::Accuracy, "Accuracy", body))
    })
    .await
}

fn kind_name(kind: AccuracyKind) -> &'static str {
    match kind {
        AccuracyKind::FocusGroup => "Focus groups",
        AccuracyKind::Marketing => "Marketing tests",
        AccuracyKind::Intervention => "Outreach sequences",
        AccuracyKind::Individual => "Single-client reactions",
        AccuracyKind::Matching => "Matching",
    }
}

/// `1 prediction`, `12 predictions`.
fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `0.62 (0.41–0.78, n = 40)`.
fn measured(m: &Measured) -> String {
    format!(
        "{:.2} ({:.2}–{:.2}, n = {})",
        m.value, m.ci95[0], m.ci95[1], m.n
    )
}

fn optional(m: Option<&Measured>, missing: &str) -> String {
    m.map_or_else(|| missing.to_owned(), measured)
}

fn section(group: &AccuracyGroup) -> Markup {
    let id = format!("{}-{}-{}", group.kind.as_str(), group.provider, group.model);
    html! {
        section aria-labelledby=(id) {
            h2 id=(id) {
                (kind_name(group.kind)) " · " (group.provider) " " (group.model)
                @if group.baseline { " (baseline)" }
            }
            @if group.baseline {
                p.muted { "The offline persona model is a rule-based baseline: read these figures as what a model has to beat." }
            }
            p { (counted(group.predictions, "prediction")) " held against " (counted(group.outcomes, "outcome")) "." }
            @if !group.correlations.is_empty() {
                table data-table="correlations" {
                    caption { "Predicted against real" }
                    thead { tr { th scope="col" { "What" } th scope="col" { "Pairs" } th scope="col" { "Pearson (95% CI)" } th scope="col" { "Spearman (95% CI)" } } }
                    tbody { @for c in &group.correlations {
                        tr { td { (c.of) } td { (c.pairs) } td { (optional(c.pearson.as_ref(), "too few or no variation")) } td { (optional(c.spearman.as_ref(), "—")) } }
                    } }
                }
            }
            @if let Some(calibration) = &group.calibration {
                table data-table="calibration" {
                    caption { "Calibration: " (calibration.of) }
                    thead { tr { th scope="col" { "Predicted" } th scope="col" { "Trials" } th scope="col" { "Mean predicted" } th scope="col" { "Happened" } } }
                    tbody { @for bin in &calibration.reliability {
                        tr {
                            td { (format!("{:.0}–{:.0}%", bin.from * 100.0, bin.to * 100.0)) }
                            td { (bin.trials) }
                            td { (format!("{:.0}%", bin.mean_predicted * 100.0)) }
                            td { (format!("{:.0}%", bin.observed_rate * 100.0)) }
                        }
                    } }
                }
                p {
                    "Brier score " (measured(&calibration.brier)) "; expected calibration error "
                    (format!("{:.3}", calibration.expected_calibration_error)) "."
                    @if let Some(held) = &calibration.held_out {
                        " Recalibrated (" (held.method) ", fitted on " (held.fitted_on) " older trials), the newer "
                        (held.evaluated_on) " score " (format!("{:.4}", held.brier_calibrated)) " instead of "
                        (format!("{:.4}", held.brier_raw)) "."
                    }
                }
            }
            @if !group.rate_errors.is_empty() {
                table data-table="rate-errors" {
                    caption { "Mean absolute error of predicted rates" }
                    thead { tr { th scope="col" { "Rate" } th scope="col" { "Cells" } th scope="col" { "Error, points (95% CI)" } } }
                    tbody { @for e in &group.rate_errors {
                        @let m = &e.mean_absolute_error;
                        tr { td { (e.of) } td { (e.cells) } td { (format!("{:.1} ({:.1}–{:.1})", m.value * 100.0, m.ci95[0] * 100.0, m.ci95[1] * 100.0)) } }
                    } }
                }
            }
            @if let Some(best) = &group.best {
                @if best.checked == 0 {
                    p.muted { "Best verdicts (" (best.of) "): not checked yet — no simulation has outcomes for two of its alternatives." }
                } @else {
                    p { "Best verdicts: " (best.of) " in " (best.hits) " of " (best.checked) " simulations checked"
                        @if let Some(rate) = &best.hit_rate { " — " (measured(rate)) } "." }
                }
            }
            @if !group.precision_at_k.is_empty() {
                table data-table="precision" {
                    caption { "Recommendations that met later interest" }
                    thead { tr { th scope="col" { "Top" } th scope="col" { "Lists" } th scope="col" { "Precision (95% CI)" } } }
                    tbody { @for p in &group.precision_at_k {
                        tr { td { (p.k) } td { (p.lists) } td { (optional(p.precision.as_ref(), "—")) } }
                    } }
                }
            }
        }
    }
}
