//! Outcomes (what really happened) and predictions (what simulations said would): recorded,
//! listed by the visibility of what they are about, and read together for the accuracy report.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult, audit::record_audit,
    is_unique_violation, parse_column, simulations::visible_simulation, visible_persona, with_pool,
};
use crate::{
    accuracy::{
        AccuracyInputs, AccuracyQuery, InterestSignal, OutcomeRow, PredictionRow, RecommendationRow,
    },
    auth::Principal,
    crypto::Purpose,
    domain::{
        AccuracyKind, CampaignIn, Channel, OfferIn, Outcome, OutcomeBasis, OutcomeFilter,
        OutcomeIn, OutcomeKind, OutreachIn, SaleIn, ScenarioIn, ShowingIn, SimulationKind,
        SimulationPlan, SimulationStatus,
    },
};

/// One outcome of a request that cannot be recorded, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Its position in the request.
    pub index: usize,
    /// The field at fault.
    pub field: &'static str,
    pub detail: String,
    pub fault: Fault,
}

/// What kind of fault a rejection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It breaks a rule (counts that do not add up, a date in the future).
    Invalid,
    /// It names a listing, client or simulation the caller cannot see (or that does not exist:
    /// the two answer alike).
    Unknown,
    /// Its external id already names a different outcome.
    Conflict,
}

/// An outcome as recorded, and whether this request recorded it or an earlier one with the same
/// external id had.
pub struct Recorded {
    pub outcome: Outcome,
    pub replayed: bool,
}

macro_rules! outcome_columns {
    () => {
        "o.id, o.created_by, o.created_at, o.external_id, o.kind, o.occurred_on, o.property_id, o.persona_id, o.simulation_id, o.reaction, o.sealed_comment, o.amount, o.days_on_market, o.material, o.channel, o.segment, o.variant, o.sent, o.opened, o.clicked, o.replied, o.responded_touch, o.positive, o.interest"
    };
}

/// Outcomes ($1 brokerage) the caller ($2 user, $3 team) may see: those about a client only if
/// they may see the client, those about a simulation only if they may see the simulation.
///
/// The clients the caller may see are read once per statement (an uncorrelated `IN`, which both
/// databases evaluate into a hash set) rather than once per outcome: a brokerage holds far more
/// outcomes than clients, and the report reads all of them.
macro_rules! visible_outcome {
    () => {
        concat!(
            "o.brokerage_id = $1
             AND (o.persona_id IS NULL OR o.persona_id IN (SELECT p.id FROM personas p WHERE p.brokerage_id = $1 AND ",
            visible_persona!(),
            "))
             AND (o.simulation_id IS NULL OR EXISTS (SELECT 1 FROM simulations WHERE simulations.id = o.simulation_id AND ",
            visible_simulation!(),
            "))"
        )
    };
}

#[derive(sqlx::FromRow)]
struct StoredOutcome {
    id: Uuid,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    external_id: Option<String>,
    kind: String,
    occurred_on: NaiveDate,
    property_id: Option<Uuid>,
    persona_id: Option<Uuid>,
    simulation_id: Option<Uuid>,
    reaction: Option<i32>,
    sealed_comment: Option<Vec<u8>>,
    amount: Option<f64>,
    days_on_market: Option<i32>,
    material: Option<String>,
    channel: Option<String>,
    segment: Option<String>,
    variant: Option<String>,
    sent: Option<i64>,
    opened: Option<i64>,
    clicked: Option<i64>,
    replied: Option<i64>,
    responded_touch: Option<i32>,
    positive: Option<bool>,
    interest: Option<i32>,
}

impl StoredOutcome {
    fn kind(&self) -> StoreResult<OutcomeKind> {
        parse_column(&self.kind, OutcomeKind::parse, "outcomes.kind")
    }

    fn missing(&self, column: &str) -> StoreError {
        StoreError::Corrupt(format!(
            "outcome {} ({}) has no {column}",
            self.id, self.kind
        ))
    }

    /// The outcome as it was recorded, its comment opened.
    async fn read(self, store: &Store) -> StoreResult<Outcome> {
        let basis = OutcomeBasis {
            occurred_on: self.occurred_on,
            external_id: self.external_id.clone(),
        };
        let property = || self.property_id.ok_or_else(|| self.missing("property_id"));
        let simulation = || {
            self.simulation_id
                .ok_or_else(|| self.missing("simulation_id"))
        };
        let persona = || self.persona_id.ok_or_else(|| self.missing("persona_id"));
        let text = |v: &Option<String>, column| v.clone().ok_or_else(|| self.missing(column));
        let count = |v: Option<i64>, column| {
            v.map(|n| n.max(0) as u64)
                .ok_or_else(|| self.missing(column))
        };
        let outcome = match self.kind()? {
            OutcomeKind::Showing => {
                let comment = match &self.sealed_comment {
                    Some(sealed) => Some(
                        String::from_utf8(
                            store.open(Purpose::OutcomeNotes, self.id, sealed).await?,
                        )
                        .map_err(|_| self.missing("readable comment"))?,
                    ),
                    None => None,
                };
                OutcomeIn::Showing(ShowingIn {
                    basis,
                    property_id: property()?,
                    persona_id: persona()?,
                    reaction: self
                        .reaction
                        .ok_or_else(|| self.missing("reaction"))?
                        .clamp(1, 5) as u8,
                    comment,
                })
            }
            OutcomeKind::Offer => OutcomeIn::Offer(OfferIn {
                basis,
                property_id: property()?,
                persona_id: self.persona_id,
                amount: self.amount.ok_or_else(|| self.missing("amount"))?,
            }),
            OutcomeKind::Sale => OutcomeIn::Sale(SaleIn {
                basis,
                property_id: property()?,
                price: self.amount.ok_or_else(|| self.missing("amount"))?,
                buyer_persona_id: self.persona_id,
                days_on_market: self.days_on_market.map(|d| d.max(0) as u32),
            }),
            OutcomeKind::Campaign => OutcomeIn::Campaign(CampaignIn {
                basis,
                simulation_id: simulation()?,
                material: text(&self.material, "material")?,
                channel: parse_column(
                    &text(&self.channel, "channel")?,
                    Channel::parse,
                    "outcomes.channel",
                )?,
                segment: self.segment.clone(),
                sent: count(self.sent, "sent")?,
                opened: count(self.opened, "opened")?,
                clicked: count(self.clicked, "clicked")?,
                replied: count(self.replied, "replied")?,
            }),
            OutcomeKind::Outreach => OutcomeIn::Outreach(OutreachIn {
                basis,
                simulation_id: simulation()?,
                variant: text(&self.variant, "variant")?,
                persona_id: persona()?,
                responded_at_touch: self.responded_touch.map(|t| t.max(1) as u32),
            }),
            OutcomeKind::Scenario => OutcomeIn::Scenario(ScenarioIn {
                basis,
                simulation_id: simulation()?,
                positive: self.positive.ok_or_else(|| self.missing("positive"))?,
                interest: self.interest.map(|i| i.clamp(1, 5) as u8),
            }),
        };
        Ok(Outcome {
            id: self.id,
            created_by: self.created_by,
            created_at: self.created_at,
            outcome,
        })
    }
}

/// The columns of an outcome the accuracy report and the calibration fits read: no comment, no
/// bookkeeping. `$id` wraps each id column: `""` reads it as it is, `"hex"` as SQLite packs it.
macro_rules! reported_outcome_columns {
    ($id:literal) => {
        concat!(
            $id, "(o.id), o.kind, o.occurred_on, ", $id, "(o.property_id), ", $id, "(o.persona_id), ",
            $id, "(o.simulation_id), o.reaction, o.amount, o.material, o.channel, o.segment, o.variant, ",
            "o.sent, o.opened, o.clicked, o.replied, o.responded_touch, o.positive, o.interest"
        )
    };
}

/// The outcomes the accuracy report and the calibration fits read: those of `FROM outcomes o
/// WHERE $filter`, with binds `$bind`.
///
/// SQLite's driver hands a statement's rows over one at a time from its own thread, a thread
/// wake-up each; for 50,000 outcomes that cost five times what SQLite took to find them
/// (bench/accuracy.sh). On SQLite they are packed into one JSON array by the database and
/// unpacked here; PostgreSQL streams rows cheaply and reads them as rows.
macro_rules! reported_outcomes {
    ($store:expr, $filter:expr, |$q:ident| $bind:expr) => {{
        match &$store.pool {
            super::Pool::Postgres(pool) => {
                let $q = sqlx::query_as(concat!(
                    "SELECT ",
                    reported_outcome_columns!(""),
                    " FROM outcomes o WHERE ",
                    $filter
                ));
                let rows: Vec<ReportedOutcome> = $bind.fetch_all(pool).await?;
                rows.into_iter()
                    .map(ReportedOutcome::into_row)
                    .collect::<StoreResult<Vec<_>>>()?
            }
            super::Pool::Sqlite(pool) => {
                let $q = sqlx::query_scalar(concat!(
                    "SELECT json_group_array(json_array(",
                    reported_outcome_columns!("hex"),
                    ")) FROM outcomes o WHERE ",
                    $filter
                ));
                let packed: String = $bind.fetch_one(pool).await?;
                unpack_outcomes(&packed)?
            }
        }
    }};
}

#[derive(sqlx::FromRow)]
struct ReportedOutcome {
    id: Uuid,
    kind: String,
    occurred_on: NaiveDate,
    property_id: Option<Uuid>,
    persona_id: Option<Uuid>,
    simulation_id: Option<Uuid>,
    reaction: Option<i32>,
    amount: Option<f64>,
    material: Option<String>,
    channel: Option<String>,
    segment: Option<String>,
    variant: Option<String>,
    sent: Option<i64>,
    opened: Option<i64>,
    clicked: Option<i64>,
    replied: Option<i64>,
    responded_touch: Option<i32>,
    positive: Option<bool>,
    interest: Option<i32>,
}

impl ReportedOutcome {
    fn into_row(self) -> StoreResult<OutcomeRow> {
        Ok(OutcomeRow {
            id: self.id,
            kind: parse_column(&self.kind, OutcomeKind::parse, "outcomes.kind")?,
            occurred_on: self.occurred_on,
            property_id: self.property_id,
            persona_id: self.persona_id,
            simulation_id: self.simulation_id,
            reaction: self.reaction,
            amount: self.amount,
            material: self.material,
            channel: self.channel,
            segment: self.segment,
            variant: self.variant,
            sent: self.sent,
            opened: self.opened,
            clicked: self.clicked,
            replied: self.replied,
            responded_touch: self.responded_touch,
            positive: self.positive,
            interest: self.interest,
        })
    }
}

/// One outcome as SQLite packs it ([`reported_outcomes!`]): the columns in the order
/// `reported_outcome_columns!` names them (about 150 bytes an outcome), ids in hex
/// (an absent one as `""`, which is what `hex(NULL)` gives), `positive` as 0 or 1.
#[derive(serde::Deserialize)]
struct PackedOutcome(
    String,
    String,
    NaiveDate,
    String,
    String,
    String,
    Option<i32>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i32>,
    Option<u8>,
    Option<i32>,
);

fn unpack_outcomes(packed: &str) -> StoreResult<Vec<OutcomeRow>> {
    let corrupt = |what: String| StoreError::Corrupt(format!("packed outcomes: {what}"));
    let id = |hex: &str| -> StoreResult<Option<Uuid>> {
        if hex.is_empty() {
            return Ok(None);
        }
        Uuid::try_parse(hex)
            .map(Some)
            .map_err(|e| corrupt(format!("id {hex:?}: {e}")))
    };
    let rows: Vec<PackedOutcome> =
        serde_json::from_str(packed).map_err(|e| corrupt(e.to_string()))?;
    rows.into_iter()
        .map(|r| {
            Ok(OutcomeRow {
                id: id(&r.0)?.ok_or_else(|| corrupt("an outcome without an id".into()))?,
                kind: parse_column(&r.1, OutcomeKind::parse, "outcomes.kind")?,
                occurred_on: r.2,
                property_id: id(&r.3)?,
                persona_id: id(&r.4)?,
                simulation_id: id(&r.5)?,
                reaction: r.6,
                amount: r.7,
                material: r.8,
                channel: r.9,
                segment: r.10,
                variant: r.11,
                sent: r.12,
                opened: r.13,
                clicked: r.14,
                replied: r.15,
                responded_touch: r.16,
                positive: r.17.map(|p| p != 0),
                interest: r.18,
            })
        })
        .collect()
}

/// What checking a request against the store found out, asked once per id.
#[derive(Default)]
struct Known {
    /// Listing → when it was added.
    properties: HashMap<Uuid, Option<DateTime<Utc>>>,
    /// Client → whether the caller may see them.
    personas: HashMap<Uuid, bool>,
    simulations: HashMap<Uuid, Option<KnownSimulation>>,
}

struct KnownSimulation {
    kind: SimulationKind,
    status: SimulationStatus,
    plan: SimulationPlan,
    /// The segments its marketing predictions were made for.
    segments: HashSet<String>,
    /// Its panel's stored clients.
    panel: HashSet<Uuid>,
}

impl Store {
    /// Records outcomes, all or none: each is checked (that what it names exists and the caller
    /// may see it, that its counts add up, that it did not happen before the listing was added
    /// or in the future) and every fault is returned; an external id already recorded with the
    /// same fields is returned as it was.
    pub async fn record_outcomes(
        &self,
        caller: &Principal,
        outcomes: &[OutcomeIn],
    ) -> StoreResult<Result<Vec<Recorded>, Vec<Rejection>>> {
        let mut known = Known::default();
        let mut rejections = Vec::new();
        let mut earlier: Vec<Option<Outcome>> = Vec::with_capacity(outcomes.len());
        let mut external_ids = HashSet::new();
        let today = Utc::now().date_naive();
        for (index, outcome) in outcomes.iter().enumerate() {
            let mut reject = |field, detail: String, fault| {
                rejections.push(Rejection {
                    index,
                    field,
                    detail,
                    fault,
                });
            };
            let basis = outcome.basis();
            if basis.occurred_on > today {
                reject(
                    "occurred_on",
                    format!("{} is in the future", basis.occurred_on),
                    Fault::Invalid,
                );
            }
            for (field, problem, fault) in self.check(caller, outcome, &mut known).await? {
                reject(field, problem, fault);
            }
            let mut replay = None;
            if let Some(external_id) = &basis.external_id {
                if !external_ids.insert(external_id.as_str()) {
                    reject(
                        "external_id",
                        format!("{external_id:?} is given to two outcomes of this request"),
                        Fault::Invalid,
                    );
                } else if let Some((id, hash)) =
                    self.outcome_by_external_id(caller, external_id).await?
                {
                    // One the caller may not see is not theirs to read back, nor to name.
                    let existing = self.outcome(caller, id).await?;
                    match existing {
                        Some(existing) if hash == request_hash(outcome) => replay = Some(existing),
                        seen => rejections.push(Rejection {
                            index,
                            field: "external_id",
                            detail: match seen {
                                Some(_) => format!(
                                    "{external_id:?} already names outcome {id}, recorded with other fields"
                                ),
                                None => format!("{external_id:?} already names another outcome"),
                            },
                            fault: Fault::Conflict,
                        }),
                    }
                }
            }
            earlier.push(replay);
        }
        if !rejections.is_empty() {
            return Ok(Err(rejections));
        }
        let key = self.sealing_key().await?;
        let now = Utc::now();
        let fresh: Vec<(usize, Uuid)> = earlier
            .iter()
            .enumerate()
            .filter(|(_, replay)| replay.is_none())
            .map(|(index, _)| (index, Uuid::now_v7()))
            .collect();
        let inserted = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            for &(index, id) in &fresh {
                let outcome = &outcomes[index];
                let columns = Columns::of(outcome);
                let sealed = columns.comment.map(|c| key.seal(Purpose::OutcomeNotes, id, c.as_bytes()));
                sqlx::query("INSERT INTO outcomes (id, brokerage_id, created_by, created_at, external_id, request_hash, kind, occurred_on,
                     property_id, persona_id, simulation_id, reaction, sealed_comment, amount, days_on_market, material, channel, segment,
                     variant, sent, opened, clicked, replied, responded_touch, positive, interest)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)")
                    .bind(id).bind(caller.brokerage_id).bind(caller.user_id).bind(now)
                    .bind(&outcome.basis().external_id).bind(request_hash(outcome))
                    .bind(outcome.kind().as_str()).bind(outcome.basis().occurred_on)
                    .bind(outcome.property_id()).bind(outcome.persona_id()).bind(outcome.simulation_id())
                    .bind(columns.reaction).bind(sealed).bind(columns.amount).bind(columns.days_on_market)
                    .bind(columns.material).bind(columns.channel).bind(columns.segment).bind(columns.variant)
                    .bind(columns.counts.map(|c| c[0])).bind(columns.counts.map(|c| c[1]))
                    .bind(columns.counts.map(|c| c[2])).bind(columns.counts.map(|c| c[3]))
                    .bind(columns.responded_touch).bind(columns.positive).bind(columns.interest)
                    .execute(&mut *tx)
                    .await?;
                let detail = serde_json::json!({
                    "type": outcome.kind().as_str(),
                    "occurred_on": outcome.basis().occurred_on,
                    "property_id": outcome.property_id(),
                    "simulation_id": outcome.simulation_id(),
                });
                let record = match outcome.persona_id() {
                    Some(persona) => AuditRecord::persona("outcome.recorded", persona, serde_json::json!({ "outcome_id": id, "outcome": detail })),
                    None => AuditRecord::admin("outcome.recorded", "outcome", id, detail),
                };
                record_audit!(tx, caller, record)?;
            }
            tx.commit().await
        }.await);
        match inserted {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Duplicate(
                    "another request recorded an outcome with one of these external ids at the same time; send it again to read what was recorded".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let mut fresh = fresh.into_iter().peekable();
        let mut recorded = Vec::with_capacity(outcomes.len());
        for (index, replay) in earlier.into_iter().enumerate() {
            recorded.push(match replay {
                Some(outcome) => Recorded {
                    outcome,
                    replayed: true,
                },
                None => {
                    let (_, id) = fresh.next().expect("an id for each new outcome");
                    Recorded {
                        outcome: Outcome {
                            id,
                            created_by: caller.user_id,
                            created_at: now,
                            outcome: outcomes[index].clone(),
                        },
                        replayed: false,
                    }
                }
            });
        }
        Ok(Ok(recorded))
    }

    /// What is wrong with one outcome, field by field.
    async fn check(
        &self,
        caller: &Principal,
        outcome: &OutcomeIn,
        known: &mut Known,
    ) -> StoreResult<Vec<(&'static str, String, Fault)>> {
        let mut problems = Vec::new();
        let occurred_on = outcome.basis().occurred_on;
        if let Some(property) = outcome.property_id() {
            match self.known_property(caller, property, known).await? {
                None => {
                    problems.push(("property_id", format!("listing {property}"), Fault::Unknown));
                }
                Some(added) if occurred_on < added.date_naive() => problems.push((
                    "occurred_on",
                    format!(
                        "{occurred_on} is before listing {property} was added ({})",
                        added.date_naive()
                    ),
                    Fault::Invalid,
                )),
                Some(_) => {}
            }
        }
        if let Some(persona) = outcome.persona_id()
            && !self.known_persona(caller, persona, known).await?
        {
            let field = match outcome {
                OutcomeIn::Sale(_) => "buyer_persona_id",
                _ => "persona_id",
            };
            problems.push((field, format!("client {persona}"), Fault::Unknown));
        }
        let Some(simulation_id) = outcome.simulation_id() else {
            return Ok(problems);
        };
        let Some(simulation) = self.known_simulation(caller, simulation_id, known).await? else {
            problems.push((
                "simulation_id",
                format!("simulation {simulation_id}"),
                Fault::Unknown,
            ));
            return Ok(problems);
        };
        let expected = match outcome {
            OutcomeIn::Campaign(_) => SimulationKind::Marketing,
            OutcomeIn::Outreach(_) => SimulationKind::Intervention,
            _ => SimulationKind::Individual,
        };
        if simulation.kind != expected {
            problems.push((
                "simulation_id",
                format!(
                    "simulation {simulation_id} is a {} simulation; a {} outcome answers a {} one",
                    simulation.kind.as_str(),
                    outcome.kind().as_str(),
                    expected.as_str()
                ),
                Fault::Invalid,
            ));
            return Ok(problems);
        }
        if simulation.status != SimulationStatus::Completed {
            problems.push((
                "simulation_id",
                format!(
                    "simulation {simulation_id} is {}: record outcomes once it has completed",
                    simulation.status.as_str()
                ),
                Fault::Invalid,
            ));
            return Ok(problems);
        }
        match (outcome, &simulation.plan) {
            (OutcomeIn::Campaign(c), SimulationPlan::Marketing(plan)) => {
                if !plan.materials.iter().any(|m| m.name == c.material) {
                    let names: Vec<&str> = plan.materials.iter().map(|m| m.name.as_str()).collect();
                    problems.push((
                        "material",
                        format!(
                            "the simulation tested no material {:?} (it tested {})",
                            c.material,
                            quoted(&names)
                        ),
                        Fault::Invalid,
                    ));
                }
                if !plan.channels.contains(&c.channel) {
                    let names: Vec<&str> = plan.channels.iter().map(|c| c.as_str()).collect();
                    problems.push((
                        "channel",
                        format!(
                            "the simulation tested no channel {} (it tested {})",
                            c.channel.as_str(),
                            quoted(&names)
                        ),
                        Fault::Invalid,
                    ));
                }
                if let Some(segment) = &c.segment
                    && !simulation.segments.contains(segment)
                {
                    let mut names: Vec<&str> = simulation
                        .segments
                        .iter()
                        .map(String::as_str)
                        .filter(|s| *s != "all")
                        .collect();
                    names.sort_unstable();
                    problems.push((
                        "segment",
                        format!(
                            "the simulation reported on no segment {segment:?} ({})",
                            if names.is_empty() {
                                "it reported on the whole audience only".to_owned()
                            } else {
                                format!("it reported on {}", quoted(&names))
                            }
                        ),
                        Fault::Invalid,
                    ));
                }
                if c.opened > c.sent {
                    problems.push((
                        "opened",
                        format!("{} opened of {} sent", c.opened, c.sent),
                        Fault::Invalid,
                    ));
                }
                if c.clicked > c.opened {
                    problems.push((
                        "clicked",
                        format!(
                            "{} clicked but {} opened: a click is counted of an opened material",
                            c.clicked, c.opened
                        ),
                        Fault::Invalid,
                    ));
                }
                if c.replied > c.opened {
                    problems.push((
                        "replied",
                        format!(
                            "{} replied but {} opened: a reply is counted of an opened material",
                            c.replied, c.opened
                        ),
                        Fault::Invalid,
                    ));
                }
            }
            (OutcomeIn::Outreach(o), SimulationPlan::Intervention(plan)) => {
                match plan.variants.iter().find(|v| v.name == o.variant) {
                    None => {
                        let names: Vec<&str> =
                            plan.variants.iter().map(|v| v.name.as_str()).collect();
                        problems.push((
                            "variant",
                            format!(
                                "the simulation tested no sequence {:?} (it tested {})",
                                o.variant,
                                quoted(&names)
                            ),
                            Fault::Invalid,
                        ));
                    }
                    Some(variant) => {
                        if let Some(touch) = o.responded_at_touch
                            && touch as usize > variant.touches.len()
                        {
                            problems.push((
                                "responded_at_touch",
                                format!(
                                    "{:?} has {} touches, not {touch}",
                                    o.variant,
                                    variant.touches.len()
                                ),
                                Fault::Invalid,
                            ));
                        }
                    }
                }
                if !simulation.panel.contains(&o.persona_id) {
                    problems.push((
                        "persona_id",
                        format!("client {} was not on the simulation's panel", o.persona_id),
                        Fault::Invalid,
                    ));
                }
            }
            _ => {}
        }
        Ok(problems)
    }

    async fn known_property(
        &self,
        caller: &Principal,
        id: Uuid,
        known: &mut Known,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        if let Some(added) = known.properties.get(&id) {
            return Ok(*added);
        }
        let added: Option<DateTime<Utc>> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT created_at FROM properties WHERE brokerage_id = $1 AND id = $2")
                .bind(caller.brokerage_id).bind(id).fetch_optional(pool).await
        })?;
        known.properties.insert(id, added);
        Ok(added)
    }

    async fn known_persona(
        &self,
        caller: &Principal,
        id: Uuid,
        known: &mut Known,
    ) -> StoreResult<bool> {
        if let Some(visible) = known.personas.get(&id) {
            return Ok(*visible);
        }
        let visible: Option<i32> = with_pool!(self, pool => {
            sqlx::query_scalar(concat!("SELECT 1 FROM personas p WHERE p.brokerage_id = $1 AND p.id = $4 AND ", visible_persona!()))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(id)
                .fetch_optional(pool).await
        })?;
        known.personas.insert(id, visible.is_some());
        Ok(visible.is_some())
    }

    async fn known_simulation<'k>(
        &self,
        caller: &Principal,
        id: Uuid,
        known: &'k mut Known,
    ) -> StoreResult<Option<&'k KnownSimulation>> {
        // Asked once per request and id (a batch names the same simulation many times).
        let asked = known.simulations.contains_key(&id);
        if !asked {
            let found = match self.simulation_record(caller, id).await? {
                None => None,
                Some(record) => {
                    let segments: Vec<Option<String>> = with_pool!(self, pool => {
                        sqlx::query_scalar("SELECT DISTINCT segment FROM predictions WHERE simulation_id = $1 AND kind = 'marketing'")
                            .bind(id).fetch_all(pool).await
                    })?;
                    let panel: Vec<Uuid> = with_pool!(self, pool => {
                        sqlx::query_scalar("SELECT persona_id FROM simulation_personas WHERE simulation_id = $1")
                            .bind(id).fetch_all(pool).await
                    })?;
                    Some(KnownSimulation {
                        kind: record.simulation.kind,
                        status: record.simulation.status,
                        plan: record.plan,
                        segments: segments.into_iter().flatten().collect(),
                        panel: panel.into_iter().collect(),
                    })
                }
            };
            known.simulations.insert(id, found);
        }
        Ok(known.simulations[&id].as_ref())
    }

    async fn outcome_by_external_id(
        &self,
        caller: &Principal,
        external_id: &str,
    ) -> StoreResult<Option<(Uuid, String)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT id, request_hash FROM outcomes WHERE brokerage_id = $1 AND external_id = $2")
                .bind(caller.brokerage_id).bind(external_id).fetch_optional(pool).await
        })?)
    }

    /// An outcome the caller may see.
    pub async fn outcome(&self, caller: &Principal, id: Uuid) -> StoreResult<Option<Outcome>> {
        let row: Option<StoredOutcome> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", outcome_columns!(), " FROM outcomes o WHERE ", visible_outcome!(), " AND o.id = $4"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(id)
                .fetch_optional(pool).await
        })?;
        match row {
            Some(row) => Ok(Some(row.read(self).await?)),
            None => Ok(None),
        }
    }

    /// The outcomes matching `filter` the caller may see, newest first; `limit + 1` rows.
    pub async fn list_outcomes(
        &self,
        caller: &Principal,
        filter: &OutcomeFilter,
    ) -> StoreResult<Vec<Outcome>> {
        let rows: Vec<StoredOutcome> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", outcome_columns!(), " FROM outcomes o WHERE ", visible_outcome!(), "
                 AND ($4 IS NULL OR o.id < $4) AND ($5 IS NULL OR o.kind = $5) AND ($6 IS NULL OR o.property_id = $6)
                 AND ($7 IS NULL OR o.persona_id = $7) AND ($8 IS NULL OR o.simulation_id = $8)
                 AND ($9 IS NULL OR o.occurred_on >= $9)
                 ORDER BY o.id DESC LIMIT $10"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id)
                .bind(filter.before).bind(filter.kind.map(OutcomeKind::as_str)).bind(filter.property_id)
                .bind(filter.persona_id).bind(filter.simulation_id).bind(filter.since)
                .bind(i64::from(filter.limit) + 1)
                .fetch_all(pool).await
        })?;
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(row.read(self).await?);
        }
        Ok(outcomes)
    }

    /// What the accuracy report is computed from: the brokerage's predictions and the outcomes,
    /// recommendations and feedback the caller may see.
    pub async fn accuracy_inputs(
        &self,
        caller: &Principal,
        query: &AccuracyQuery,
    ) -> StoreResult<AccuracyInputs> {
        let simulation_kind = query.kind.and_then(|k| SimulationKind::parse(k.as_str()));
        let wants_simulations = query.kind != Some(AccuracyKind::Matching);
        let wants_matching = query.kind.is_none_or(|k| k == AccuracyKind::Matching);
        let mut inputs = AccuracyInputs::default();
        if wants_simulations {
            let rows: Vec<StoredPrediction> = with_pool!(self, pool => {
                sqlx::query_as("SELECT simulation_id, kind, persona_id, property_id, segment, material, channel, variant, score,
                        probability, open_rate, click_rate, reply_rate, price, provider, model, predicted_at
                     FROM predictions WHERE brokerage_id = $1 AND ($2 IS NULL OR kind = $2)
                       AND ($3 IS NULL OR predicted_at >= $3) AND ($4 IS NULL OR model = $4)")
                    .bind(caller.brokerage_id).bind(simulation_kind.map(SimulationKind::as_str))
                    .bind(query.since).bind(&query.model)
                    .fetch_all(pool).await
            })?;
            inputs.predictions = rows
                .into_iter()
                .map(StoredPrediction::into_row)
                .collect::<StoreResult<_>>()?;
        }
        inputs.outcomes = reported_outcomes!(self, visible_outcome!(), |q| q
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id));
        if wants_matching {
            let recommendations: Vec<(Uuid, Uuid, Uuid, i32, DateTime<Utc>)> = with_pool!(self, pool => {
                sqlx::query_as(concat!("SELECT r.run_id, r.persona_id, r.property_id, r.rank, r.created_at
                     FROM match_recommendations r JOIN personas p ON p.id = r.persona_id
                     WHERE r.brokerage_id = $1 AND NOT r.near_miss AND ", visible_persona!()))
                    .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id)
                    .fetch_all(pool).await
            })?;
            inputs.recommendations = recommendations
                .into_iter()
                .map(
                    |(run_id, persona_id, property_id, rank, created_at)| RecommendationRow {
                        run_id,
                        persona_id,
                        property_id,
                        rank,
                        created_at,
                    },
                )
                .collect();
            let feedback: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = with_pool!(self, pool => {
                sqlx::query_as(concat!("SELECT f.persona_id, f.property_id, f.outcome, f.created_at
                     FROM match_feedback f JOIN personas p ON p.id = f.persona_id
                     WHERE f.brokerage_id = $1 AND f.outcome <> 'sent' AND ", visible_persona!()))
                    .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id)
                    .fetch_all(pool).await
            })?;
            inputs.signals = feedback
                .into_iter()
                .map(|(persona_id, property_id, outcome, at)| InterestSignal {
                    persona_id,
                    property_id,
                    interested: outcome != "not_interested",
                    on: at.date_naive(),
                })
                .collect();
            inputs
                .signals
                .extend(inputs.outcomes.iter().filter_map(|o| {
                    let interested = match o.kind {
                        // A viewing the client took badly is a miss, not interest.
                        OutcomeKind::Showing => o.reaction.is_some_and(|r| r >= 3),
                        OutcomeKind::Offer | OutcomeKind::Sale => true,
                        _ => return None,
                    };
                    Some(InterestSignal {
                        persona_id: o.persona_id?,
                        property_id: o.property_id?,
                        interested,
                        on: o.occurred_on,
                    })
                }));
        }
        Ok(inputs)
    }
}

impl Store {
    /// Every prediction of the brokerage and every outcome recorded in it, whoever may see them:
    /// what its calibrations are fitted on (a fit is a statistic of the brokerage, not a view of
    /// any client).
    pub async fn calibration_inputs(&self, brokerage_id: Uuid) -> StoreResult<AccuracyInputs> {
        let predictions: Vec<StoredPrediction> = with_pool!(self, pool => {
            sqlx::query_as("SELECT simulation_id, kind, persona_id, property_id, segment, material, channel, variant, score,
                    probability, open_rate, click_rate, reply_rate, price, provider, model, predicted_at
                 FROM predictions WHERE brokerage_id = $1")
                .bind(brokerage_id)
                .fetch_all(pool).await
        })?;
        let outcomes = reported_outcomes!(self, "o.brokerage_id = $1", |q| q.bind(brokerage_id));
        Ok(AccuracyInputs {
            predictions: predictions
                .into_iter()
                .map(StoredPrediction::into_row)
                .collect::<StoreResult<_>>()?,
            outcomes,
            ..AccuracyInputs::default()
        })
    }
}

/// `"a", "b"` for a message.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn request_hash(outcome: &OutcomeIn) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(
        serde_json::to_vec(outcome).unwrap_or_default(),
    ))
}

/// The kind-specific columns of an outcome.
#[derive(Default)]
struct Columns<'a> {
    reaction: Option<i32>,
    comment: Option<&'a str>,
    amount: Option<f64>,
    days_on_market: Option<i32>,
    material: Option<&'a str>,
    channel: Option<&'static str>,
    segment: Option<&'a str>,
    variant: Option<&'a str>,
    /// Sent, opened, clicked, replied.
    counts: Option<[i64; 4]>,
    responded_touch: Option<i32>,
    positive: Option<bool>,
    interest: Option<i32>,
}

impl<'a> Columns<'a> {
    fn of(outcome: &'a OutcomeIn) -> Self {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        match outcome {
            OutcomeIn::Showing(s) => Columns {
                reaction: Some(i32::from(s.reaction)),
                comment: s.comment.as_deref(),
                ..Columns::default()
            },
            OutcomeIn::Offer(o) => Columns {
                amount: Some(o.amount),
                ..Columns::default()
            },
            OutcomeIn::Sale(s) => Columns {
                amount: Some(s.price),
                days_on_market: s.days_on_market.map(|d| d as i32),
                ..Columns::default()
            },
            OutcomeIn::Campaign(c) => Columns {
                material: Some(&c.material),
                channel: Some(c.channel.as_str()),
                segment: c.segment.as_deref(),
                counts: Some([
                    count(c.sent),
                    count(c.opened),
                    count(c.clicked),
                    count(c.replied),
                ]),
                ..Columns::default()
            },
            OutcomeIn::Outreach(o) => Columns {
                variant: Some(&o.variant),
                responded_touch: o.responded_at_touch.map(|t| t as i32),
                ..Columns::default()
            },
            OutcomeIn::Scenario(s) => Columns {
                positive: Some(s.positive),
                interest: s.interest.map(i32::from),
                ..Columns::default()
            },
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredPrediction {
    simulation_id: Uuid,
    kind: String,
    persona_id: Option<Uuid>,
    property_id: Option<Uuid>,
    segment: Option<String>,
    material: Option<String>,
    channel: Option<String>,
    variant: Option<String>,
    score: Option<f64>,
    probability: Option<f64>,
    open_rate: Option<f64>,
    click_rate: Option<f64>,
    reply_rate: Option<f64>,
    price: Option<f64>,
    provider: String,
    model: String,
    predicted_at: DateTime<Utc>,
}

impl StoredPrediction {
    fn into_row(self) -> StoreResult<PredictionRow> {
        Ok(PredictionRow {
            simulation_id: self.simulation_id,
            kind: parse_column(&self.kind, SimulationKind::parse, "predictions.kind")?,
            persona_id: self.persona_id,
            property_id: self.property_id,
            segment: self.segment,
            material: self.material,
            channel: self.channel,
            variant: self.variant,
            score: self.score,
            probability: self.probability,
            open_rate: self.open_rate,
            click_rate: self.click_rate,
            reply_rate: self.reply_rate,
            price: self.price,
            provider: self.provider,
            model: self.model,
            predicted_at: self.predicted_at,
        })
    }
}

/// Writes what a completed simulation predicted (`&[Prediction]`) in `$tx`, the transaction that
/// stores its results; a macro so that one text serves both drivers' transactions.
macro_rules! insert_predictions {
    ($tx:expr, $brokerage_id:expr, $simulation_id:expr, $metadata:expr, $predictions:expr) => {{
        let tx = &mut $tx;
        let metadata: &$crate::domain::RunMetadata = $metadata;
        let predictions: &[$crate::domain::Prediction] = $predictions;
        let (brokerage_id, simulation_id): (Uuid, Uuid) = ($brokerage_id, $simulation_id);
        async move {
            let now = chrono::Utc::now();
            for chunk in predictions.chunks($crate::store::outcomes::PREDICTION_BATCH) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO predictions (id, brokerage_id, simulation_id, kind, persona_id, property_id, segment, material,
                        channel, variant, score, probability, open_rate, click_rate, reply_rate, price, provider, model, predicted_at) ",
                );
                insert.push_values(chunk, |mut row, p| {
                    row.push_bind(Uuid::now_v7())
                        .push_bind(brokerage_id)
                        .push_bind(simulation_id)
                        .push_bind(p.kind.as_str())
                        .push_bind(p.persona_id)
                        .push_bind(p.property_id)
                        .push_bind(p.segment.clone())
                        .push_bind(p.material.clone())
                        .push_bind(p.channel.map($crate::domain::Channel::as_str))
                        .push_bind(p.variant.clone())
                        .push_bind(p.score)
                        .push_bind(p.probability)
                        .push_bind(p.rates.map(|r| r[0]))
                        .push_bind(p.rates.map(|r| r[1]))
                        .push_bind(p.rates.map(|r| r[2]))
                        .push_bind(p.price)
                        .push_bind(metadata.provider.clone())
                        .push_bind(metadata.model_version.clone())
                        .push_bind(now);
                });
                insert.build().execute(&mut **tx).await?;
            }
            Ok::<(), sqlx::Error>(())
        }
    }};
}
pub(crate) use insert_predictions;

/// Prediction rows per multi-row INSERT: 18 parameters a row stays inside both databases' limits.
pub(crate) const PREDICTION_BATCH: usize = 200;
