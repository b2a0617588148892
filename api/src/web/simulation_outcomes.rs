//! What happened after a tested campaign, sequence or scenario, recorded from the simulation's
//! page: a material's real counts on a channel, a client's answer to a sequence, how a scenario
//! went. The form goes through the same checks as `POST /api/v1/outcomes`. (A focus group's
//! showings, offers and sale are recorded on its listing's page.)

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;
use troupe_shared::{
    domain::{
        CampaignIn, Channel, OutcomeBasis, OutcomeIn, OutreachIn, ScenarioIn, SimulationPlan,
        SimulationResults,
    },
    store::SimulationRecord,
};
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    layout,
    session::SignedIn,
};
use crate::{ApiState, audit::ReadVia, outcomes::record, simulations::read_results};

/// The stored clients who took part, by name (generated personas have no outcomes).
fn stored_clients<'a>(
    plan: &SimulationPlan,
    results: &'a SimulationResults,
) -> BTreeMap<&'a str, Uuid> {
    let stored = plan.stored_persona_ids();
    results
        .raw_responses
        .iter()
        .filter(|r| stored.contains(&r.persona_id))
        .map(|r| (r.persona_name.as_str(), r.persona_id))
        .collect()
}

/// The simulation page's form, for the kinds recorded here.
pub fn section(record: &SimulationRecord, me: &SignedIn) -> Markup {
    let Some(results) = &record.results else {
        return html! {};
    };
    let id = record.simulation.id;
    let today = Utc::now().date_naive().to_string();
    let fields = match &record.plan {
        SimulationPlan::Marketing(plan) => html! {
            legend { "Record how the campaign really did" }
            label { "Material on a channel " select name="cell" required {
                @for m in &plan.materials { @for c in &plan.channels {
                    option value={ (c.as_str()) ":" (m.name) } { "“" (m.name) "” by " (c.as_str()) }
                } }
            } }
            label { "Sent " input type="number" name="sent" min="1" required; }
            label { "Opened " input type="number" name="opened" min="0" required; }
            label { "Clicked " input type="number" name="clicked" min="0" required; }
            label { "Replied " input type="number" name="replied" min="0" required; }
        },
        SimulationPlan::Intervention(plan) => html! {
            legend { "Record a client's answer to a sequence" }
            label { "Sequence " select name="variant" required {
                @for v in &plan.variants { option value=(v.name) { (v.name) } }
            } }
            label { "Client " select name="persona_id" required {
                @for (name, persona) in stored_clients(&record.plan, results) { option value=(persona) { (name) } }
            } }
            label { "First answered at touch (leave empty if they never answered) "
                input type="number" name="responded_at_touch" min="1" max="50"; }
        },
        SimulationPlan::Individual(_) => html! {
            legend { "Record how it went" }
            label { "It ended well (a second viewing, a reply, a meeting) " select name="positive" required {
                option value="true" { "yes" }
                option value="false" { "no" }
            } }
            label { "Their interest afterwards, 1 to 5 " select name="interest" {
                option value="" { "—" }
                @for i in 1..=5 { option value=(i) { (i) } }
            } }
        },
        SimulationPlan::FocusGroup(_) => return html! {},
    };
    html! {
        section aria-labelledby="what-happened" {
            h2 #what-happened { "What happened" }
            p.muted { "Held against this simulation's predictions on the " a href="/accuracy" { "Accuracy" } " page." }
            form.record method="post" action={ "/simulations/" (id) "/outcomes" } {
                input type="hidden" name="csrf" value=(me.csrf_token);
                fieldset {
                    (fields)
                    label { "Day " input type="date" name="occurred_on" value=(today) max=(today) required; }
                    button.primary type="submit" { "Record" }
                }
            }
        }
    }
}

/// The form as sent: every field a string, empty when left blank.
#[derive(Deserialize)]
pub struct OutcomeForm {
    csrf: String,
    occurred_on: String,
    #[serde(default)]
    cell: String,
    #[serde(default)]
    sent: String,
    #[serde(default)]
    opened: String,
    #[serde(default)]
    clicked: String,
    #[serde(default)]
    replied: String,
    #[serde(default)]
    variant: String,
    #[serde(default)]
    persona_id: String,
    #[serde(default)]
    responded_at_touch: String,
    #[serde(default)]
    positive: String,
    #[serde(default)]
    interest: String,
}

/// A whole number from a form field, within the API's limits for it.
fn count(raw: &str, what: &str, min: u64, max: u64) -> Result<u64, PageError> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            PageError::BadForm(format!(
                "{what} must be a whole number from {min} to {max}, not {raw:?}"
            ))
        })
}

/// A field left empty is absent.
fn filled(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|v| !v.is_empty())
}

impl OutcomeForm {
    fn outcome(&self, plan: &SimulationPlan, simulation_id: Uuid) -> Result<OutcomeIn, PageError> {
        let bad = PageError::BadForm;
        let occurred_on = NaiveDate::parse_from_str(self.occurred_on.trim(), "%Y-%m-%d")
            .map_err(|_| bad(format!("{:?} is not a day (YYYY-MM-DD)", self.occurred_on)))?;
        let basis = OutcomeBasis {
            occurred_on,
            external_id: None,
        };
        const MAX_COUNT: u64 = 100_000_000;
        Ok(match plan {
            SimulationPlan::Marketing(_) => {
                let (channel, material) = self
                    .cell
                    .split_once(':')
                    .and_then(|(c, m)| Some((Channel::parse(c)?, m)))
                    .ok_or_else(|| bad("choose the material and channel it was sent as".into()))?;
                OutcomeIn::Campaign(CampaignIn {
                    basis,
                    simulation_id,
                    material: material.to_owned(),
                    channel,
                    segment: None,
                    sent: count(&self.sent, "sent", 1, MAX_COUNT)?,
                    opened: count(&self.opened, "opened", 0, MAX_COUNT)?,
                    clicked: count(&self.clicked, "clicked", 0, MAX_COUNT)?,
                    replied: count(&self.replied, "replied", 0, MAX_COUNT)?,
                })
            }
            SimulationPlan::Intervention(_) => OutcomeIn::Outreach(OutreachIn {
                basis,
                simulation_id,
                variant: filled(&self.variant)
                    .ok_or_else(|| bad("choose the sequence".into()))?
                    .to_owned(),
                persona_id: id_param(Some(&self.persona_id), "client")?
                    .ok_or_else(|| bad("choose the client".into()))?,
                responded_at_touch: filled(&self.responded_at_touch)
                    .map(|t| count(t, "the touch", 1, 50).map(|t| t as u32))
                    .transpose()?,
            }),
            SimulationPlan::Individual(_) => OutcomeIn::Scenario(ScenarioIn {
                basis,
                simulation_id,
                positive: match self.positive.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("say whether it ended well".into())),
                },
                interest: filled(&self.interest)
                    .map(|i| count(i, "the interest", 1, 5).map(|i| i as u8))
                    .transpose()?,
            }),
            SimulationPlan::FocusGroup(_) => {
                return Err(bad(
                    "a focus group's showings, offers and sale are recorded on its listing's page"
                        .into(),
                ));
            }
        })
    }
}

/// `POST /simulations/{id}/outcomes`: records the form's outcome, then shows the simulation.
#[handler]
pub async fn submit(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    Form(form): Form<OutcomeForm>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        me.check_csrf(&form.csrf)?;
        let simulation = read_results(&state, &me.principal, id, ReadVia::Web).await?;
        let outcome = form.outcome(&simulation.plan, id)?;
        // The store's checks make a large future: boxed, it stays off the handler's stack.
        Box::pin(record(&state, &me.principal, &[outcome], "")).await?;
        Ok(layout::see_other(&format!(
            "/simulations/{id}#what-happened"
        )))
    })
    .await
}
