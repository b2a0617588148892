//! Starting a marketing test, an outreach test or a one-client reaction from the workspace. Each
//! form builds the request its endpoint takes (`POST /api/v1/simulations/marketing`,
//! `/intervention`, `/individual`), which is then checked against the published schema and
//! planned, stored and queued exactly as the API's; the live page opens. The focus group's form
//! is in `new_simulation`.

use std::{collections::BTreeSet, sync::Arc};

use maud::{Markup, html};
use poem::{
    Request, Response,
    error::ResponseError,
    handler,
    web::{Data, Query},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use troupe_shared::{
    domain::{Channel, Property, ScenarioType, SimulationKind},
    numbers::money,
    store::PropertyFilter,
};
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    forms::{FormPage, OFFERED, Posted, offered_clients, refusals, signed_post},
    layout::{self, Section},
    new_simulation::{chosen_clients, participants},
    session::SignedIn,
};
use crate::{ApiState, contract::Contract, simulations::submit_request};

/// Empty slots on a form for materials and sequences; an empty slot is left out.
const SLOTS: usize = 3;

/// The four kinds and where each starts.
#[handler]
pub async fn chooser(req: &Request) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let body = html! {
            p.crumbs { a href="/simulations" { "Simulations" } " / new" }
            h1 { "New simulation" }
            dl.kinds {
                dt { a href="/simulations/new/focus-group" { "Focus group on a listing" } }
                dd { "A panel reacts to a listing, its photos and the changes the seller is considering: intent by segment, the photo to lead with, a price. Choose one of your listings or type one in." }
                dt { a href="/simulations/new/marketing" { "Marketing test" } }
                dd { "Materials × channels on a panel: who opens, clicks and replies, and what to send each client." }
                dt { a href="/simulations/new/outreach" { "Outreach test" } }
                dd { "Sequences of touches over days compared: response per touch, timing and fatigue." }
                dt { a href="/simulations/new/individual" { "One client's reaction" } }
                dd { "How one client would take a viewing, an email or a call, with notes for this run only." }
            }
        };
        Ok(layout::page(&me, Section::Simulations, "New simulation", body))
    })
    .await
}

/// The panel's fields: who takes part, how many, how often.
async fn panel_fields(
    state: &ApiState,
    me: &SignedIn,
    posted: &Posted,
) -> Result<Markup, PageError> {
    let chosen: BTreeSet<String> = posted.all("segment").map(str::to_owned).collect();
    let chosen_by_name: BTreeSet<String> = posted.all("client").map(str::to_owned).collect();
    let max = state.limits.max_agents;
    Ok(html! {
        (participants(state, me, &chosen, &chosen_by_name).await?)
        label for="agents" { "Participants drawn from the segments (1 to " (max) ")" }
        input #agents type="number" name="agents" min="1" max=(max) value=(posted.text("agents"));
        label for="iterations" { "Iterations (1 to 10: repeats with other seeds, for tighter intervals)" }
        input #iterations type="number" name="iterations" min="1" max="10" value=(posted.text("iterations"));
    })
}

/// The panel's part of a request, or what is wrong with it.
fn panel_request(posted: &Posted, request: &mut Map<String, Value>, problems: &mut Vec<String>) {
    let segments: Vec<&str> = posted.all("segment").collect();
    let clients = chosen_clients(posted.all("client"), problems);
    if segments.is_empty() && clients.is_empty() {
        problems.push("Choose at least one segment or client.".into());
    }
    request.insert("persona_segments".into(), json!(segments));
    request.insert("persona_ids".into(), json!(clients));
    let mut params = Map::new();
    for (name, member, what) in [
        ("agents", "num_agents", "Participants"),
        ("iterations", "iterations", "Iterations"),
    ] {
        match posted.text(name) {
            "" => {}
            raw => match raw.parse::<u64>() {
                Ok(n) => {
                    params.insert(member.into(), json!(n));
                }
                Err(_) => problems.push(format!("{what}: \"{raw}\" is not a whole number.")),
            },
        }
    }
    request.insert("simulation_params".into(), Value::Object(params));
}

/// The form's page, with what was refused above it.
fn form_page(me: &SignedIn, title: &str, form: Markup, problems: &[String]) -> Response {
    let page = FormPage {
        section: Section::Simulations,
        what: "The simulation",
        title,
        crumbs: html! { a href="/simulations" { "Simulations" } " / " a href="/simulations/new" { "new" } },
    };
    page.render(me, form, problems)
}

/// Submits `request` as `kind`: the live page, or the form again with why it was refused.
async fn start(
    state: &ApiState,
    me: &SignedIn,
    contract: &Contract,
    kind: SimulationKind,
    request: Value,
) -> Result<Result<Response, Vec<String>>, PageError> {
    // Planning is a large future; boxed, the page's stays small.
    match Box::pin(submit_request(
        state,
        &me.principal,
        contract,
        kind,
        &request,
    ))
    .await
    {
        Ok(simulation) => Ok(Ok(layout::see_other(&format!(
            "/simulations/{}",
            simulation.id
        )))),
        Err(err) if err.status().is_client_error() => Ok(Err(refusals(
            &err,
            &[
                ("/materials", "Materials"),
                ("/channels", "Channels"),
                ("/variants", "Sequences"),
                ("/goal", "Goal"),
                ("/scenario", "Scenario"),
                ("/enrichment_data", "Notes"),
                ("/simulation_params/num_agents", "Participants"),
                ("/simulation_params/iterations", "Iterations"),
            ],
        ))),
        Err(err) => Err(err.into()),
    }
}

fn marketing_form(me: &SignedIn, posted: &Posted, panel: Markup) -> Markup {
    let ticked: BTreeSet<&str> = posted.all("channel").collect();
    html! {
        form.stack method="post" action="/simulations/new/marketing" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            (panel)
            @for i in 1..=SLOTS {
                fieldset {
                    legend { "Material " (i) @if i > 1 { " (optional)" } }
                    label for={ "m" (i) "_name" } { "Name (how results refer to it)" }
                    input id={ "m" (i) "_name" } type="text" name={ "m" (i) "_name" } value=(posted.text(&format!("m{i}_name")));
                    label for={ "m" (i) "_subject" } { "Subject line (optional)" }
                    input id={ "m" (i) "_subject" } type="text" name={ "m" (i) "_subject" } value=(posted.text(&format!("m{i}_subject")));
                    label for={ "m" (i) "_body" } { "What it says" }
                    textarea id={ "m" (i) "_body" } name={ "m" (i) "_body" } rows="4" { (posted.text(&format!("m{i}_body"))) }
                    label for={ "m" (i) "_creative" } { "What its images or video show (optional)" }
                    input id={ "m" (i) "_creative" } type="text" name={ "m" (i) "_creative" } value=(posted.text(&format!("m{i}_creative")));
                }
            }
            fieldset {
                legend { "Channels" }
                @for channel in Channel::ALL {
                    label.check { input type="checkbox" name="channel" value=(channel.as_str()) checked[ticked.contains(channel.as_str())]; " " (channel.as_str().replace('_', " ")) }
                }
            }
            button.primary type="submit" { "Start the marketing test" }
        }
    }
}

fn marketing_request(posted: &Posted) -> Result<Value, Vec<String>> {
    let mut request = Map::new();
    let mut problems = Vec::new();
    panel_request(posted, &mut request, &mut problems);
    let mut materials = Vec::new();
    for i in 1..=SLOTS {
        let field = |part: &str| posted.text(&format!("m{i}_{part}")).to_owned();
        let (name, body) = (field("name"), field("body"));
        if name.is_empty() && body.is_empty() {
            continue;
        }
        if name.is_empty() || body.is_empty() {
            problems.push(format!(
                "Material {i}: give it both a name and what it says."
            ));
            continue;
        }
        let mut material = json!({ "name": name, "body": body });
        for (part, member) in [("subject", "subject"), ("creative", "creative_description")] {
            let text = field(part);
            if !text.is_empty() {
                material[member] = json!(text);
            }
        }
        materials.push(material);
    }
    if materials.is_empty() {
        problems.push("Write at least one material.".into());
    }
    let channels: Vec<&str> = posted.all("channel").collect();
    if channels.is_empty() {
        problems.push("Choose at least one channel.".into());
    }
    request.insert("materials".into(), json!(materials));
    request.insert("channels".into(), json!(channels));
    if problems.is_empty() {
        Ok(Value::Object(request))
    } else {
        Err(problems)
    }
}

fn defaults(pairs: &[(&str, &str)]) -> Posted {
    Posted::from_pairs(pairs)
}

#[handler]
pub async fn marketing(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let posted = defaults(&[("agents", "12"), ("iterations", "1"), ("channel", "email")]);
        let panel = panel_fields(&state, &me, &posted).await?;
        Ok(form_page(
            &me,
            "New marketing test",
            marketing_form(&me, &posted, panel),
            &[],
        ))
    })
    .await
}

#[handler]
pub async fn submit_marketing(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let problems = match marketing_request(&posted) {
            Ok(request) => {
                match start(&state, &me, &contract, SimulationKind::Marketing, request).await? {
                    Ok(started) => return Ok(started),
                    Err(problems) => problems,
                }
            }
            Err(problems) => problems,
        };
        let panel = panel_fields(&state, &me, &posted).await?;
        Ok(form_page(
            &me,
            "New marketing test",
            marketing_form(&me, &posted, panel),
            &problems,
        ))
    })
    .await
}

fn outreach_form(me: &SignedIn, posted: &Posted, panel: Markup) -> Markup {
    html! {
        form.stack method="post" action="/simulations/new/outreach" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            (panel)
            label for="goal" { "What the outreach is for (optional)" }
            input #goal type="text" name="goal" value=(posted.text("goal")) placeholder="Book a private viewing of the Aspen estate";
            p.muted #touches-hint { "One touch per line: the day it goes out, its channel (" (Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")) "), then the message — " code { "0 email A private preview before the market sees it" } "." }
            @for i in 1..=SLOTS {
                fieldset {
                    legend { "Sequence " (i) @if i > 1 { " (optional)" } }
                    label for={ "s" (i) "_name" } { "Name" }
                    input id={ "s" (i) "_name" } type="text" name={ "s" (i) "_name" } value=(posted.text(&format!("s{i}_name")));
                    label for={ "s" (i) "_touches" } { "Touches" }
                    textarea id={ "s" (i) "_touches" } name={ "s" (i) "_touches" } rows="4" aria-describedby="touches-hint" { (posted.text(&format!("s{i}_touches"))) }
                }
            }
            button.primary type="submit" { "Start the outreach test" }
        }
    }
}

/// A touch line: "7 phone A short call to offer a second viewing".
fn touch(line: &str) -> Result<Value, String> {
    let mut words = line.splitn(3, char::is_whitespace);
    let (day, channel, message) = (
        words.next().unwrap_or(""),
        words.next().unwrap_or(""),
        words.next().unwrap_or("").trim(),
    );
    let day: u32 = day
        .parse()
        .map_err(|_| format!("\"{line}\" does not start with the day it goes out (0 to 365)"))?;
    let channel = Channel::parse(&channel.to_lowercase()).ok_or_else(|| {
        format!(
            "\"{channel}\" is not a channel; use one of {}",
            Channel::ALL
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    if message.is_empty() {
        return Err(format!("\"{line}\" has no message after its channel"));
    }
    Ok(json!({ "day": day, "channel": channel.as_str(), "message": message }))
}

fn outreach_request(posted: &Posted) -> Result<Value, Vec<String>> {
    let mut request = Map::new();
    let mut problems = Vec::new();
    panel_request(posted, &mut request, &mut problems);
    if !posted.text("goal").is_empty() {
        request.insert("goal".into(), json!(posted.text("goal")));
    }
    let mut variants = Vec::new();
    for i in 1..=SLOTS {
        let name = posted.text(&format!("s{i}_name"));
        let lines = posted.lines(&format!("s{i}_touches"));
        if name.is_empty() && lines.is_empty() {
            continue;
        }
        if name.is_empty() || lines.is_empty() {
            problems.push(format!(
                "Sequence {i}: give it both a name and at least one touch."
            ));
            continue;
        }
        let mut touches = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            match touch(line) {
                Ok(t) => touches.push(t),
                Err(why) => problems.push(format!("Sequence {i}, touch {}: {why}.", n + 1)),
            }
        }
        variants.push(json!({ "name": name, "touches": touches }));
    }
    if variants.is_empty() {
        problems.push("Write at least one sequence.".into());
    }
    request.insert("variants".into(), json!(variants));
    if problems.is_empty() {
        Ok(Value::Object(request))
    } else {
        Err(problems)
    }
}

#[handler]
pub async fn outreach(req: &Request, state: Data<&ApiState>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let posted = defaults(&[("agents", "12"), ("iterations", "1")]);
        let panel = panel_fields(&state, &me, &posted).await?;
        Ok(form_page(
            &me,
            "New outreach test",
            outreach_form(&me, &posted, panel),
            &[],
        ))
    })
    .await
}

#[handler]
pub async fn submit_outreach(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let problems = match outreach_request(&posted) {
            Ok(request) => match start(
                &state,
                &me,
                &contract,
                SimulationKind::Intervention,
                request,
            )
            .await?
            {
                Ok(started) => return Ok(started),
                Err(problems) => problems,
            },
            Err(problems) => problems,
        };
        let panel = panel_fields(&state, &me, &posted).await?;
        Ok(form_page(
            &me,
            "New outreach test",
            outreach_form(&me, &posted, panel),
            &problems,
        ))
    })
    .await
}

#[derive(Deserialize)]
pub struct IndividualQuery {
    client: Option<String>,
}

async fn individual_form(
    state: &ApiState,
    me: &SignedIn,
    posted: &Posted,
) -> Result<Markup, PageError> {
    let listings = PropertyFilter {
        limit: OFFERED,
        ..PropertyFilter::default()
    };
    let (clients, listings) = tokio::try_join!(offered_clients(state, me), async {
        Ok::<_, PageError>(
            state
                .store
                .list_properties(me.principal.brokerage_id, &listings)
                .await?,
        )
    },)?;
    let (client, scenario, listing) = (
        posted.text("client"),
        posted.text("scenario"),
        posted.text("listing"),
    );
    Ok(html! {
        form.stack method="post" action="/simulations/new/individual" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label for="client" { "Client" }
            @if clients.is_empty() { p { "Your client book is empty: " a href="/clients/new" { "add a client" } " first." } }
            select #client name="client" required {
                option value="" { "Choose a client" }
                @for c in &clients { option value=(c.id) selected[c.id.to_string() == client] { (c.name) } }
            }
            label for="scenario" { "What happens" }
            select #scenario name="scenario" {
                @for kind in ScenarioType::ALL {
                    option value=(kind.as_str()) selected[kind.as_str() == scenario] { (match kind { ScenarioType::PropertyViewing => "A viewing", ScenarioType::EmailResponse => "An email to them", ScenarioType::Call => "A call" }) }
                }
            }
            label for="listing" { "The listing it is about (optional)" }
            select #listing name="listing" {
                option value="" { "None" }
                @for p in &listings { option value=(p.id) selected[p.id.to_string() == listing] { (p.details.title) " · " (money(p.details.price)) } }
            }
            label for="details" { "What is shown, written or said" }
            textarea #details name="details" rows="5" required { (posted.text("details")) }
            label for="notes" { "Notes for this run only (not stored on the client)" }
            textarea #notes name="notes" rows="3" { (posted.text("notes")) }
            button.primary type="submit" { "Simulate the reaction" }
        }
    })
}

#[handler]
pub async fn individual(
    req: &Request,
    state: Data<&ApiState>,
    Query(query): Query<IndividualQuery>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let client = id_param(query.client.as_deref(), "client")?
            .map(|id| id.to_string())
            .unwrap_or_default();
        let posted = defaults(&[("client", &client)]);
        let form = individual_form(&state, &me, &posted).await?;
        Ok(form_page(&me, "One client's reaction", form, &[]))
    })
    .await
}

/// The individual request the form stands for; `listing` is the listing it named, when that is
/// one of the brokerage's.
fn individual_request(posted: &Posted, listing: Option<&Property>) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let client = Uuid::try_parse(posted.text("client"));
    if client.is_err() {
        problems.push("Choose a client.".into());
    }
    let details = posted.text("details");
    if details.is_empty() {
        problems.push("Say what is shown, written or said.".into());
    }
    let mut context = Map::new();
    context.insert("details".into(), json!(details));
    match listing {
        Some(p) => {
            let d = &p.details;
            context.insert(
                "property".into(),
                json!({ "title": d.title, "price": d.price, "currency": d.currency,
                        "location": d.location.display(), "property_type": d.property_type,
                        "features": d.features, "description": d.description }),
            );
        }
        None if !posted.text("listing").is_empty() => {
            problems.push("The listing chosen is not one of your brokerage's.".into());
        }
        None => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut request = json!({
        "persona_id": client.expect("checked above"),
        "scenario": { "type": posted.text("scenario"), "context": context },
    });
    if !posted.text("notes").is_empty() {
        request["enrichment_data"] = json!({ "internal_notes": posted.text("notes") });
    }
    Ok(request)
}

#[handler]
pub async fn submit_individual(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let listing = match Uuid::try_parse(posted.text("listing")) {
            Ok(id) => {
                state
                    .store
                    .get_property(me.principal.brokerage_id, id)
                    .await?
            }
            Err(_) => None,
        };
        let problems = match individual_request(&posted, listing.as_ref()) {
            Ok(request) => {
                match start(&state, &me, &contract, SimulationKind::Individual, request).await? {
                    Ok(started) => return Ok(started),
                    Err(problems) => problems,
                }
            }
            Err(problems) => problems,
        };
        let form = individual_form(&state, &me, &posted).await?;
        Ok(form_page(&me, "One client's reaction", form, &problems))
    })
    .await
}
