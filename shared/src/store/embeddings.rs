//! Text embeddings of personas and listings, stored with a hash of the text they came from.

use std::collections::HashMap;

use uuid::Uuid;

use super::{BeginWrite, INSERT_BATCH, Store, StoreResult, fetch_by_ids, with_pool};

impl Store {
    /// Stored embeddings of these subjects under `model`: subject → (text hash, vector).
    pub async fn embeddings(
        &self,
        brokerage_id: Uuid,
        model: &str,
        subjects: &[Uuid],
    ) -> StoreResult<HashMap<Uuid, (String, Vec<f32>)>> {
        let rows: Vec<(Uuid, String, Vec<u8>)> = with_pool!(self, pool => fetch_by_ids!(
            pool, (Uuid, String, Vec<u8>), subjects,
            "SELECT subject_id, text_hash, vector FROM embeddings WHERE subject_id IN (",
            |q| {
                q.push(" AND brokerage_id = ").push_bind(brokerage_id);
                q.push(" AND model = ").push_bind(model);
            }
        ));
        Ok(rows
            .into_iter()
            .map(|(id, hash, bytes)| {
                let vector = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (id, (hash, vector))
            })
            .collect())
    }

    /// Stores (or replaces) embeddings: (subject, text hash, vector).
    pub async fn save_embeddings(
        &self,
        brokerage_id: Uuid,
        model: &str,
        embeddings: &[(Uuid, String, Vec<f32>)],
    ) -> StoreResult<()> {
        if embeddings.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in embeddings.chunks(INSERT_BATCH) {
                let mut upsert = sqlx::QueryBuilder::new(
                    "INSERT INTO embeddings (subject_id, brokerage_id, model, text_hash, vector) ");
                upsert.push_values(chunk, |mut row, (id, hash, vector)| {
                    let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                    row.push_bind(*id)
                        .push_bind(brokerage_id)
                        .push_bind(model)
                        .push_bind(hash)
                        .push_bind(bytes);
                });
                upsert.push(" ON CONFLICT (subject_id) DO UPDATE SET model = excluded.model, text_hash = excluded.text_hash, vector = excluded.vector");
                upsert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }
}
