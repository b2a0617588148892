//! The focus-group form, on a stored listing or on one typed into it: choose the segments
//! (stored clients by their segment label, or a defined segment's synthetic population), the
//! questions and the modifications to test, the panel's size and the iterations; it is planned
//! and queued exactly as `POST /api/v1/simulations/focus-group`, then the live page opens.

use std::{collections::BTreeSet, sync::Arc};

use maud::{Markup, html};
use poem::{
    Request, Response,
    error::ResponseError,
    handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use serde::Deserialize;
use serde_json::{Value, json};
use troupe_shared::{
    domain::{AnswerType, Property, PropertyDetails, Question, TypedQuestion},
    numbers::money,
    store::PropertyFilter,
};
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    forms::{OFFERED, offered_clients, signed_post},
    layout::{self, Section},
    listing_form,
    session::{SignedIn, same_origin},
};
use crate::{
    ApiState,
    contract::Contract,
    simulations::{FocusGroupRequest, SimulationParams, submit_focus_group},
};

/// The listing a focus group is on: a stored one, or one typed into the form (not stored).
enum ListingRef {
    Stored(Uuid),
    Typed(Box<PropertyDetails>),
}

/// Where the form is: on a stored listing's page, or on its own with the listing typed in (what
/// was typed so far; stored listings are offered to choose from instead).
enum Target<'a> {
    Stored(&'a Property),
    Typed(&'a Value),
}

/// What the person typed, kept to show the form again with what was wrong.
#[derive(Default)]
struct Filled {
    csrf: String,
    segments: BTreeSet<String>,
    clients: BTreeSet<String>,
    questions: String,
    modifications: String,
    agents: String,
    iterations: String,
}

impl Filled {
    /// A new form: the usual questions, a panel of 12 and two iterations.
    fn fresh() -> Self {
        Filled {
            questions: DEFAULT_QUESTIONS.into(),
            agents: "12".into(),
            iterations: "2".into(),
            ..Filled::default()
        }
    }

    fn parse(body: &str) -> Self {
        let mut filled = Filled::default();
        for (name, value) in form_urlencoded::parse(body.as_bytes()) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf" => filled.csrf = value,
                "segment" => {
                    filled.segments.insert(value);
                }
                "client" => {
                    filled.clients.insert(value);
                }
                "questions" => filled.questions = value,
                "modifications" => filled.modifications = value,
                "agents" => filled.agents = value,
                "iterations" => filled.iterations = value,
                _ => {}
            }
        }
        filled
    }

    /// The API request this form asks for, or each thing wrong with it (`problems` holds what
    /// is wrong already, with a listing typed into the form).
    fn request(
        &self,
        listing: Option<ListingRef>,
        max_agents: u32,
        mut problems: Vec<String>,
    ) -> Result<FocusGroupRequest, Vec<String>> {
        let lines = |text: &str| -> Vec<String> {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let lines_asked = lines(&self.questions);
        let modifications = lines(&self.modifications);
        let persona_ids = chosen_clients(self.clients.iter().map(String::as_str), &mut problems);
        if self.segments.is_empty() && persona_ids.is_empty() {
            problems.push("Choose at least one segment or client.".to_owned());
        }
        if lines_asked.is_empty() || lines_asked.len() > 20 {
            problems.push("Ask 1 to 20 questions, one per line.".to_owned());
        }
        let mut questions = Vec::new();
        for (i, line) in lines_asked.iter().enumerate() {
            match question_line(line) {
                Ok(question) => questions.push(question),
                Err(problem) => problems.push(format!("Question {}: {problem}.", i + 1)),
            }
        }
        if modifications.len() > 20 || modifications.iter().any(|m| m.chars().count() > 500) {
            problems.push(
                "Test at most 20 modifications, one per line, each up to 500 characters."
                    .to_owned(),
            );
        }
        let number =
            |raw: &str, low: u32, high: u32, what: &str, problems: &mut Vec<String>| match raw
                .trim()
                .parse::<u32>()
            {
                Ok(n) if (low..=high).contains(&n) => Some(n),
                _ => {
                    problems.push(format!(
                        "{what} must be a whole number from {low} to {high}."
                    ));
                    None
                }
            };
        let agents = number(
            &self.agents,
            1,
            max_agents,
            "The panel's size",
            &mut problems,
        );
        let iterations = number(&self.iterations, 1, 10, "Iterations", &mut problems);
        let Some(listing) = listing.filter(|_| problems.is_empty()) else {
            return Err(problems);
        };
        let (property_id, property) = match listing {
            ListingRef::Stored(id) => (Some(id), None),
            ListingRef::Typed(details) => (None, Some(*details)),
        };
        Ok(FocusGroupRequest {
            simulation_type: None,
            property_id,
            property,
            persona_ids,
            persona_segments: self.segments.iter().cloned().collect(),
            questions: Some(questions),
            modifications_to_test: Some(modifications),
            discussion_rounds: None,
            simulation_params: SimulationParams {
                num_agents: agents,
                iterations,
                ..SimulationParams::default()
            },
        })
    }
}

/// A question as written on one line: plain text, or text ending in its type in brackets, with
/// the options (or a numeric question's unit) after a colon —
/// "Which matters most? [single_choice: Ocean view; Privacy; Schools]",
/// "What would you pay? [numeric: USD]", "Would you book a viewing? [yes_no]".
fn question_line(line: &str) -> Result<Question, String> {
    let Some(open) = line.rfind('[').filter(|_| line.ends_with(']')) else {
        return Ok(Question::Plain(line.to_owned()));
    };
    let inside = &line[open + 1..line.len() - 1];
    let (kind, rest) = match inside.split_once(':') {
        Some((kind, rest)) => (kind, Some(rest.trim()).filter(|r| !r.is_empty())),
        None => (inside, None),
    };
    let spelled = kind.trim().to_lowercase().replace([' ', '-'], "_");
    let answer = AnswerType::parse(&spelled).ok_or_else(|| {
        format!(
            "\"{}\" is not a question type; end the line with one of [likert], [yes_no], \
             [single_choice: A; B], [multi_choice: A; B], [ranking: A; B], [numeric: unit] or \
             [free_text]",
            kind.trim()
        )
    })?;
    let (options, unit) = match answer {
        AnswerType::Numeric => (None, rest.map(str::to_owned)),
        _ => (
            rest.map(|r| {
                r.split(';')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            None,
        ),
    };
    let question = Question::Typed(TypedQuestion {
        text: line[..open].trim().to_owned(),
        answer,
        options,
        unit,
    });
    match question.problem() {
        Some(problem) => Err(problem),
        None => Ok(question),
    }
}

/// The segments a panel can be drawn from: stored clients by their segment label, and defined
/// segments the factory fills with synthetic participants; `chosen` are ticked.
pub(super) async fn participants(
    state: &ApiState,
    me: &SignedIn,
    chosen: &BTreeSet<String>,
    chosen_clients: &BTreeSet<String>,
) -> Result<Markup, PageError> {
    let store = &state.store;
    let (labels, defined, clients) = tokio::try_join!(
        async { Ok::<_, PageError>(store.segment_labels(&me.principal).await?) },
        async { Ok(store.list_segments(me.principal.brokerage_id).await?) },
        offered_clients(state, me),
    )?;
    Ok(html! {
        fieldset {
            legend { "Who takes part" }
            @if labels.is_empty() && defined.is_empty() {
                p { "No clients carry a segment yet, and no segment is defined: " a href="/clients/new" { "add clients with a segment" } " first." }
            }
            @for (label, count) in &labels {
                label.check {
                    input type="checkbox" name="segment" value=(label) checked[chosen.contains(label)];
                    " " (label.replace('_', " ")) " (" (count) " stored clients)"
                }
            }
            @for segment in &defined {
                label.check {
                    input type="checkbox" name="segment" value=(segment.definition.name) checked[chosen.contains(&segment.definition.name)];
                    " " (segment.definition.name.replace('_', " ")) " (defined segment: synthetic participants fill it)"
                }
            }
            @if !clients.is_empty() {
                label for="clients" { "And these clients by name (optional; hold Ctrl or ⌘ to choose several)" }
                select #clients name="client" multiple size="6" {
                    @for c in &clients {
                        option value=(c.id) selected[chosen_clients.contains(&c.id.to_string())] { (c.name) @if let Some(s) = &c.segment { " · " (s.replace('_', " ")) } }
                    }
                }
            }
        }
    })
}

/// The stored clients a form chose by name, or what is wrong with one.
pub(super) fn chosen_clients<'a>(
    ids: impl Iterator<Item = &'a str>,
    problems: &mut Vec<String>,
) -> Vec<Uuid> {
    ids.filter_map(|raw| match Uuid::try_parse(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            problems.push(format!("\"{raw}\" is not one of your clients."));
            None
        }
    })
    .collect()
}

async fn listing(state: &ApiState, me: &SignedIn, id: Uuid) -> Result<Property, PageError> {
    state
        .store
        .get_property(me.principal.brokerage_id, id)
        .await?
        .ok_or_else(|| PageError::not_found(format!("listing {id}")))
}

async fn form_page(
    state: &ApiState,
    me: &SignedIn,
    target: Target<'_>,
    filled: &Filled,
    problems: &[String],
) -> Result<Response, PageError> {
    let (title, action, section) = match &target {
        Target::Stored(listing) => (
            format!("Focus group on {}", listing.details.title),
            format!("/listings/{}/focus-group", listing.id),
            Section::Listings,
        ),
        Target::Typed(_) => (
            "New focus group".to_owned(),
            "/simulations/new/focus-group".to_owned(),
            Section::Simulations,
        ),
    };
    // Only the typed-listing form offers stored listings instead; read when it is shown.
    let stored = match target {
        Target::Typed(_) => newest_listings(state, me).await?,
        Target::Stored(_) => Vec::new(),
    };
    let body = html! {
        @match &target {
            Target::Stored(listing) => {
                p.crumbs { a href="/listings" { "Listings" } " / " a href={ "/listings/" (listing.id) } { (listing.details.title) } " / focus group" }
            }
            Target::Typed(_) => {
                p.crumbs { a href="/simulations" { "Simulations" } " / " a href="/simulations/new" { "new" } " / focus group" }
            }
        }
        h1 { (title) }
        @if !problems.is_empty() {
            div.alert role="alert" { p { "The focus group was not started:" } ul { @for p in problems { li { (p) } } } }
        }
        @if let Target::Typed(_) = &target {
            @if !stored.is_empty() {
                form.stack method="get" action="/simulations/new/focus-group" {
                    label for="listing" { "On a stored listing" }
                    select #listing name="listing" {
                        @for p in stored.iter() { option value=(p.id) { (p.details.title) " · " (money(p.details.price)) } }
                    }
                    button type="submit" { "Continue with this listing" }
                }
                p { "Or type the listing here: it is used for this focus group only, not added to your listings." }
            }
        }
        form.stack method="post" action=(action) {
            input type="hidden" name="csrf" value=(me.csrf_token);
            @if let Target::Typed(listing) = &target {
                fieldset {
                    legend { "The listing" }
                    (listing_form::fields(listing, &["listing_id", "candidate_modifications", "status"]))
                }
            }
            (participants(state, me, &filled.segments, &filled.clients).await?)
            label for="questions" { "Questions, one per line" }
            p.muted #questions-hint {
                "A plain line is answered in words with a purchase intent. To type a question, end its line with "
                code { "[yes_no]" } ", " code { "[likert]" } ", " code { "[numeric: USD]" } ", " code { "[free_text]" }
                " or, with options separated by semicolons, " code { "[single_choice: Ocean view; Privacy]" } ", "
                code { "[multi_choice: …]" } " or " code { "[ranking: …]" } "."
            }
            textarea #questions name="questions" rows="5" aria-describedby="questions-hint" required { (filled.questions) }
            label for="modifications" { "Modifications to test, one per line (optional)" }
            textarea #modifications name="modifications" rows="3" { (filled.modifications) }
            label for="agents" { "Participants (1 to " (state.limits.max_agents) ")" }
            input #agents type="number" name="agents" min="1" max=(state.limits.max_agents) value=(filled.agents) required;
            label for="iterations" { "Iterations (1 to 10: repeats with other seeds, for tighter intervals)" }
            input #iterations type="number" name="iterations" min="1" max="10" value=(filled.iterations) required;
            button type="submit" { "Start the focus group" }
        }
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = layout::page(me, section, &title, body);
    response.set_status(status);
    Ok(response)
}

/// The questions a new focus group starts with.
const DEFAULT_QUESTIONS: &str = "What is your first impression of this home?\nWould you buy it at the asking price? What would change your mind?\nWhat one change would make it a must-have for you? [free_text]";

#[handler]
pub async fn form(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let listing = listing(&state, &me, id).await?;
        let filled = Filled {
            modifications: listing.details.candidate_modifications.join("\n"),
            ..Filled::fresh()
        };
        form_page(&state, &me, Target::Stored(&listing), &filled, &[]).await
    })
    .await
}

#[handler]
pub async fn submit(
    req: &Request,
    state: Data<&ApiState>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        same_origin(req)?;
        let me = SignedIn::from_request(req).await?;
        let filled = Filled::parse(&body);
        me.check_csrf(&filled.csrf)?;
        let listing = listing(&state, &me, id).await?;
        let request = filled.request(
            Some(ListingRef::Stored(id)),
            state.limits.max_agents,
            Vec::new(),
        );
        start(&state, &me, request, Target::Stored(&listing), &filled).await
    })
    .await
}

/// Plans and queues the focus group: the live page, or the form again with why it was refused.
async fn start(
    state: &ApiState,
    me: &SignedIn,
    request: Result<FocusGroupRequest, Vec<String>>,
    target: Target<'_>,
    filled: &Filled,
) -> Result<Response, PageError> {
    let request = match request {
        Ok(request) => request,
        Err(problems) => return form_page(state, me, target, filled, &problems).await,
    };
    // Planning is a large future; boxed, the page's stays small.
    match Box::pin(submit_focus_group(state, &me.principal, request)).await {
        Ok(simulation) => Ok(layout::see_other(&format!(
            "/simulations/{}",
            simulation.id
        ))),
        // What planning refuses (too many steps, an unknown segment) is the person's to fix.
        Err(err) if err.status().is_client_error() => {
            form_page(state, me, target, filled, &[err.to_string()]).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize)]
pub struct ChosenListing {
    listing: Option<String>,
}

/// A focus group started from the simulations: on a stored listing chosen here (its form on the
/// listing's page), or on a listing typed in.
#[handler]
pub async fn typed_form(
    req: &Request,
    state: Data<&ApiState>,
    Query(chosen): Query<ChosenListing>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        if let Some(id) = id_param(chosen.listing.as_deref(), "listing")? {
            return Ok(layout::see_other(&format!("/listings/{id}/focus-group")));
        }
        let listing = json!({ "currency": "USD" });
        form_page(&state, &me, Target::Typed(&listing), &Filled::fresh(), &[]).await
    })
    .await
}

#[handler]
pub async fn submit_typed(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let filled = Filled::parse(&body);
        let (typed, checked) = listing_form::typed_listing(&contract, &posted);
        let (listing, problems) = match checked {
            Ok(details) => (Some(ListingRef::Typed(Box::new(details))), Vec::new()),
            Err(problems) => (None, problems),
        };
        let request = filled.request(listing, state.limits.max_agents, problems);
        start(&state, &me, request, Target::Typed(&typed), &filled).await
    })
    .await
}

async fn newest_listings(state: &ApiState, me: &SignedIn) -> Result<Vec<Property>, PageError> {
    let filter = PropertyFilter {
        limit: OFFERED,
        ..PropertyFilter::default()
    };
    Ok(state
        .store
        .list_properties(me.principal.brokerage_id, &filter)
        .await?)
}
