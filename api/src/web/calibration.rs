//! Calibration in the workspace: a result's figures beside their calibrated twins, the
//! calibrations in force on the accuracy page, and an admin's "refit now".

use maud::{Markup, html};
use poem::{Request, Response, handler, web::Data, web::Form};
use troupe_shared::domain::{
    CalibratedFigure, CalibratedResults, CalibrationFit, Calibrations, Role,
};

use super::{error::render, layout, matching::CsrfForm, results::percent, session::SignedIn};
use crate::{ApiState, auth::require_admin, outcomes::refit_calibrations};

/// `isotonic, fitted 2026-12-02 on 12,000 trials`.
fn provenance(fit: &CalibrationFit) -> String {
    format!(
        "{}, fitted {} on {} trials",
        fit.method,
        fit.fitted_at.format("%Y-%m-%d %H:%M UTC"),
        fit.trials
    )
}

/// How it did on outcomes it was not fitted on.
fn held_out_text(fit: &CalibrationFit) -> String {
    match &fit.held_out {
        Some(h) => format!(
            "on the newest {} trials, fitted without them, the Brier score went from {:.4} to {:.4}",
            h.evaluated_on, h.brier_raw, h.brier_calibrated
        ),
        None => "not judged on held-out outcomes".to_owned(),
    }
}

/// Where in the results a figure belongs: a segment, a cell, a sequence or a client.
fn place(f: &CalibratedFigure) -> String {
    let parts: Vec<String> = [
        f.material.as_ref().map(|m| format!("“{m}”")),
        f.channel.map(|c| format!("by {}", c.as_str())),
        f.segment.as_ref().map(|s| format!("segment {s}")),
        f.variant.as_ref().map(|v| format!("sequence “{v}”")),
        f.persona_id.map(|_| "this client".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "every persona".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// The results page's section: each probability as predicted and as the brokerage's outcomes
/// say it really runs.
pub fn results_section(calibrated: &CalibratedResults) -> Markup {
    let fit = &calibrated.calibration;
    html! {
        section aria-labelledby="calibrated" data-calibration=(fit.id) {
            h2 #calibrated { "Calibrated by your outcomes" }
            @if fit.applied {
                p {
                    "The brokerage's recorded outcomes say how these probabilities really run ("
                    (fit.of) "). Calibration " (provenance(fit)) "; " (held_out_text(fit)) "."
                }
                table data-table="calibrated" {
                    thead { tr { th scope="col" { "Figure" } th scope="col" { "Where" } th scope="col" { "Predicted" } th scope="col" { "Calibrated" } } }
                    tbody { @for f in &calibrated.figures {
                        tr { td { (f.figure.replace('_', " ")) } td { (place(f)) } td { (percent(f.raw)) } td { strong { (percent(f.calibrated)) } } }
                    } }
                }
            } @else {
                p.muted {
                    "A calibration was fitted (" (provenance(fit)) ") but is not applied: "
                    (fit.not_applied_because.as_deref().unwrap_or("it did not help")) ". The figures above stand as predicted."
                }
            }
        }
    }
}

/// The accuracy page's section: what is in force, and (for admins) a refit.
pub fn fits_section(calibrations: &Calibrations, me: &SignedIn) -> Markup {
    let admin = me.principal.role == Role::BrokerageAdmin;
    html! {
        section aria-labelledby="calibrations" {
            h2 #calibrations { "Calibrations in force" }
            p.muted {
                "Fitted nightly on all of the brokerage's outcomes, per kind and model, once a kind has "
                (calibrations.min_trials) " trials; results show calibrated figures only from a fit that "
                "lowered the Brier score of outcomes it had not seen."
            }
            @if calibrations.items.is_empty() {
                p { "None yet: no kind has enough outcomes." }
            } @else {
                table data-table="calibrations" {
                    thead { tr { th scope="col" { "Kind" } th scope="col" { "Model" } th scope="col" { "Fit" } th scope="col" { "Held out" } th scope="col" { "Applied" } } }
                    tbody { @for fit in &calibrations.items {
                        tr {
                            td { (fit.kind.as_str().replace('_', " ")) }
                            td { (fit.provider) " " (fit.model) }
                            td { (provenance(fit)) }
                            td { (held_out_text(fit)) }
                            td { @if fit.applied { "yes" } @else { "no — " (fit.not_applied_because.as_deref().unwrap_or("")) } }
                        }
                    } }
                }
            }
            @if admin {
                form method="post" action="/accuracy/refit" {
                    input type="hidden" name="csrf" value=(me.csrf_token);
                    button type="submit" { "Refit now" }
                }
            }
        }
    }
}

/// `POST /accuracy/refit`: an admin refits out of hours (after an import, say).
#[handler]
pub async fn refit(req: &Request, state: Data<&ApiState>, Form(form): Form<CsrfForm>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        let caller = require_admin(&me.principal, "refit calibrations")?;
        refit_calibrations(&state, caller).await?;
        Ok(layout::see_other("/accuracy"))
    })
    .await
}
