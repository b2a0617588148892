//! Stored calibrations: each fit kept (so results can name the one behind their figures), the
//! latest of each kind, provider and model in force.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, parse_column, with_pool};
use crate::{
    accuracy::calibration::{self, Fit, METHOD},
    domain::{AccuracyKind, CalibrationFit, HeldOut},
};

#[derive(sqlx::FromRow)]
struct CalibrationRow {
    id: Uuid,
    kind: String,
    provider: String,
    model: String,
    of_what: String,
    method: String,
    fitted_at: DateTime<Utc>,
    trials: i64,
    points: Json<Vec<[f64; 2]>>,
    held_out: Option<Json<HeldOut>>,
    applied: bool,
    not_applied_because: Option<String>,
}

impl CalibrationRow {
    fn into_fit(self) -> StoreResult<CalibrationFit> {
        Ok(CalibrationFit {
            id: self.id,
            kind: parse_column(&self.kind, AccuracyKind::parse, "calibrations.kind")?,
            provider: self.provider,
            model: self.model,
            of: self.of_what,
            method: self.method,
            fitted_at: self.fitted_at,
            trials: self.trials.max(0) as u64,
            held_out: self.held_out.map(|h| h.0),
            applied: self.applied,
            not_applied_because: self.not_applied_because,
            points: self.points.0,
        })
    }
}

/// The latest row of each group: no later fit of the same kind, provider and model.
macro_rules! latest {
    () => {
        "SELECT c.id, c.kind, c.provider, c.model, c.of_what, c.method, c.fitted_at, c.trials,
        c.points, c.held_out, c.applied, c.not_applied_because
     FROM calibrations c
     WHERE c.brokerage_id = $1
       AND NOT EXISTS (SELECT 1 FROM calibrations later
                       WHERE later.brokerage_id = c.brokerage_id AND later.kind = c.kind
                         AND later.provider = c.provider AND later.model = c.model
                         AND later.fitted_at > c.fitted_at)"
    };
}

impl Store {
    /// Fits every group of the brokerage with at least `min_trials` trials on all its outcomes
    /// and stores the fits for `slot`; returns the calibrations in force afterwards.
    pub async fn refit_calibrations(
        &self,
        brokerage_id: Uuid,
        slot: DateTime<Utc>,
        min_trials: u64,
    ) -> StoreResult<Vec<CalibrationFit>> {
        let inputs = self.calibration_inputs(brokerage_id).await?;
        let fits = calibration::fit(&inputs, min_trials);
        self.save_calibrations(brokerage_id, slot, &fits).await
    }

    /// Stores the fits of `slot`; a slot another scheduler replica fitted already keeps its
    /// fits. Returns the brokerage's calibrations in force afterwards.
    pub async fn save_calibrations(
        &self,
        brokerage_id: Uuid,
        slot: DateTime<Utc>,
        fits: &[Fit],
    ) -> StoreResult<Vec<CalibrationFit>> {
        let fitted_at = Utc::now();
        for fit in fits {
            let points = Json(calibration::stored_points(&fit.map));
            let held_out = fit.held_out.clone().map(Json);
            let not_applied_because = fit.not_applied_because();
            with_pool!(self, pool => {
                sqlx::query("INSERT INTO calibrations (id, brokerage_id, kind, provider, model, of_what, method, slot,
                        fitted_at, trials, points, held_out, applied, not_applied_because)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     ON CONFLICT (brokerage_id, kind, provider, model, slot) DO NOTHING")
                    .bind(Uuid::now_v7()).bind(brokerage_id).bind(fit.kind.as_str())
                    .bind(&fit.provider).bind(&fit.model).bind(fit.of).bind(METHOD).bind(slot)
                    .bind(fitted_at).bind(i64::try_from(fit.trials).unwrap_or(i64::MAX))
                    .bind(&points).bind(&held_out).bind(not_applied_because.is_none())
                    .bind(&not_applied_because)
                    .execute(pool).await.map(|_| ())
            })?;
        }
        self.calibrations(brokerage_id).await
    }

    /// The brokerage's calibrations in force, by kind, provider and model.
    pub async fn calibrations(&self, brokerage_id: Uuid) -> StoreResult<Vec<CalibrationFit>> {
        let rows: Vec<CalibrationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(latest!(), " ORDER BY c.kind, c.provider, c.model"))
                .bind(brokerage_id)
                .fetch_all(pool).await
        })?;
        rows.into_iter().map(CalibrationRow::into_fit).collect()
    }

    /// The calibration in force for one kind, provider and model.
    pub async fn calibration_for(
        &self,
        brokerage_id: Uuid,
        kind: AccuracyKind,
        provider: &str,
        model: &str,
    ) -> StoreResult<Option<CalibrationFit>> {
        let row: Option<CalibrationRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(latest!(), " AND c.kind = $2 AND c.provider = $3 AND c.model = $4"))
                .bind(brokerage_id).bind(kind.as_str()).bind(provider).bind(model)
                .fetch_optional(pool).await
        })?;
        row.map(CalibrationRow::into_fit).transpose()
    }
}
