//! What happened on a listing, recorded from its page: a showing (which client, how they took
//! it, what they said), an offer or the sale. The form goes through the same checks as
//! `POST /api/v1/outcomes`, and the page lists what is recorded.

use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use poem::{
    Request, Response, handler,
    web::{Data, Form, Path},
};
use serde::Deserialize;
use troupe_shared::{
    domain::{OfferIn, Outcome, OutcomeBasis, OutcomeFilter, OutcomeIn, SaleIn, ShowingIn},
    numbers::money,
};
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    forms::offered_clients,
    layout,
    session::SignedIn,
};
use crate::{
    ApiState,
    audit::{Listed, ReadVia, audit_listed},
    outcomes::record,
};

/// The listing page's section: the outcomes recorded, and the form to record one.
pub async fn section(
    state: &ApiState,
    me: &SignedIn,
    property_id: Uuid,
) -> Result<Markup, PageError> {
    let filter = OutcomeFilter {
        property_id: Some(property_id),
        limit: 50,
        ..OutcomeFilter::default()
    };
    let (recorded, clients) = tokio::try_join!(
        async {
            let recorded = state.store.list_outcomes(&me.principal, &filter).await?;
            let listed = recorded.iter().map(|o| o.id);
            audit_listed(state, &me.principal, Listed::Outcomes, listed, ReadVia::Web).await?;
            Ok::<_, PageError>(recorded)
        },
        offered_clients(state, me),
    )?;
    let names: std::collections::HashMap<Uuid, &str> =
        clients.iter().map(|c| (c.id, c.name.as_str())).collect();
    let client_name = |id: Option<Uuid>| match id {
        Some(id) => names.get(&id).copied().unwrap_or("a client").to_owned(),
        None => "—".to_owned(),
    };
    let today = Utc::now().date_naive().to_string();
    Ok(html! {
        section aria-labelledby="what-happened" {
            h2 #what-happened { "What happened" }
            p.muted { "Showings, offers and the sale, held against what this listing's focus groups predicted on the Accuracy page." }
            @if recorded.is_empty() {
                p { "Nothing recorded yet." }
            } @else {
                table data-table="outcomes" {
                    thead { tr { th scope="col" { "Day" } th scope="col" { "What" } th scope="col" { "Client" } th scope="col" { "Detail" } } }
                    tbody { @for o in &recorded { (row(o, &client_name)) } }
                }
            }
            form.record method="post" action={ "/listings/" (property_id) "/outcomes" } {
                input type="hidden" name="csrf" value=(me.csrf_token);
                fieldset {
                    legend { "Record what happened" }
                    label { "What " select name="type" required {
                        option value="showing" { "A showing" }
                        option value="offer" { "An offer" }
                        option value="sale" { "The sale" }
                    } }
                    label { "Day " input type="date" name="occurred_on" value=(today) max=(today) required; }
                    label { "Client (the buyer, for a sale; optional for offers and sales) "
                        select name="persona_id" {
                            option value="" { "—" }
                            @for c in &clients { option value=(c.id) { (c.name) } }
                        }
                    }
                    label { "Their reaction to the showing, 1 (not for them) to 5 (wants it) "
                        select name="reaction" {
                            option value="" { "—" }
                            @for r in 1..=5 { option value=(r) { (r) } }
                        }
                    }
                    label { "What they said " textarea name="comment" maxlength="2000" rows="2" {} }
                    label { "Amount (the offer, or the sale price) " input type="number" name="amount" min="1" step="any"; }
                    label { "Days on market (for a sale) " input type="number" name="days_on_market" min="0" max="10000"; }
                    button.primary type="submit" { "Record" }
                }
            }
        }
    })
}

fn row(o: &Outcome, client_name: &impl Fn(Option<Uuid>) -> String) -> Markup {
    let (what, client, detail) = match &o.outcome {
        OutcomeIn::Showing(s) => (
            "showing",
            Some(s.persona_id),
            format!(
                "reaction {} of 5{}",
                s.reaction,
                s.comment
                    .as_deref()
                    .map(|c| format!(": “{c}”"))
                    .unwrap_or_default()
            ),
        ),
        OutcomeIn::Offer(offer) => ("offer", offer.persona_id, money(offer.amount)),
        OutcomeIn::Sale(sale) => (
            "sale",
            sale.buyer_persona_id,
            match sale.days_on_market {
                Some(days) => format!("{} after {days} days on the market", money(sale.price)),
                None => money(sale.price),
            },
        ),
        _ => return html! {},
    };
    html! {
        tr { td { (o.outcome.basis().occurred_on) } td { (what) } td { (client_name(client)) } td { (detail) } }
    }
}

/// The form as sent: every field a string, empty when left blank.
#[derive(Deserialize)]
pub struct OutcomeForm {
    csrf: String,
    #[serde(rename = "type")]
    kind: String,
    occurred_on: String,
    #[serde(default)]
    persona_id: String,
    #[serde(default)]
    reaction: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    days_on_market: String,
}

impl OutcomeForm {
    /// The outcome it describes, or what is missing or malformed, in words.
    fn outcome(&self, property_id: Uuid) -> Result<OutcomeIn, PageError> {
        let bad = |detail: String| PageError::BadForm(detail);
        let occurred_on = NaiveDate::parse_from_str(self.occurred_on.trim(), "%Y-%m-%d")
            .map_err(|_| bad(format!("{:?} is not a day (YYYY-MM-DD)", self.occurred_on)))?;
        let basis = OutcomeBasis {
            occurred_on,
            external_id: None,
        };
        let persona_id = id_param(Some(&self.persona_id), "client")?;
        let filled = |value: &str| {
            Some(value.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        // The API's own limits, which its JSON validators check before the store sees a field.
        let amount = || -> Result<f64, PageError> {
            let raw = filled(&self.amount)
                .ok_or_else(|| bad(format!("the {} needs its amount", self.kind)))?;
            raw.parse::<f64>()
                .ok()
                .filter(|a| *a > 0.0 && *a <= 1e11)
                .ok_or_else(|| bad(format!("the amount {raw:?} is not a sum above 0")))
        };
        if self.comment.chars().count() > 2000 {
            return Err(bad("say what they said in up to 2,000 characters".into()));
        }
        Ok(match self.kind.as_str() {
            "showing" => OutcomeIn::Showing(ShowingIn {
                basis,
                property_id,
                persona_id: persona_id
                    .ok_or_else(|| bad("a showing needs the client who viewed it".into()))?,
                reaction: filled(&self.reaction)
                    .ok_or_else(|| bad("a showing needs the client's reaction, 1 to 5".into()))?
                    .parse()
                    .ok()
                    .filter(|r| (1..=5).contains(r))
                    .ok_or_else(|| {
                        bad(format!("the reaction {:?} is not 1 to 5", self.reaction))
                    })?,
                comment: filled(&self.comment),
            }),
            "offer" => OutcomeIn::Offer(OfferIn {
                basis,
                property_id,
                persona_id,
                amount: amount()?,
            }),
            "sale" => OutcomeIn::Sale(SaleIn {
                basis,
                property_id,
                price: amount()?,
                buyer_persona_id: persona_id,
                days_on_market: filled(&self.days_on_market)
                    .map(|d| {
                        d.parse()
                            .ok()
                            .filter(|days| *days <= 10_000)
                            .ok_or_else(|| bad(format!("{d:?} days on market is not 0 to 10,000")))
                    })
                    .transpose()?,
            }),
            other => {
                return Err(bad(format!(
                    "{other:?} is not a showing, an offer or a sale"
                )));
            }
        })
    }
}

/// `POST /listings/{id}/outcomes`: records the form's outcome, then shows the listing again.
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
        let outcome = form.outcome(id)?;
        // The store's checks make a large future: boxed, it stays off the handler's stack.
        Box::pin(record(&state, &me.principal, &[outcome], "")).await?;
        Ok(layout::see_other(&format!("/listings/{id}#what-happened")))
    })
    .await
}
