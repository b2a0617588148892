//! Text embeddings for matching: the provider's embeddings endpoint when a model is configured,
//! else a sentence-embedding model run in process when one is installed
//! (`TROUPE_EMBEDDING_MODEL_DIR`), else a hashing vectorizer that needs no file at all. Stored
//! per persona or listing with a hash of the text they came from, and recomputed only when that
//! text changes or the embedder does.

use std::{collections::HashMap, sync::Arc};

use sha2::{Digest, Sha256};
use troupe_shared::Store;
use uuid::Uuid;

use super::{MatchError, prepared::word_hash};
use crate::{
    engine::{Responder, text::words},
    llm::{Gateway, Ledger},
    sentence_model::SentenceModel,
};

/// Dimensions of the local vectorizer.
const DIMENSIONS: usize = 256;
/// The hashing vectorizer's name, stored beside each vector so a change of embedder recomputes.
const HASHING: &str = "troupe-hashing-256";
/// Texts per call to the provider.
const PROVIDER_BATCH: usize = 64;
/// Texts the local model embeds between saves: a first run over 20,000 clients takes minutes on
/// two cores, and a worker stopped part-way keeps what it finished.
const MODEL_BATCH: usize = 512;
/// Tokens matching may spend on embeddings in one run.
const EMBEDDING_TOKEN_BUDGET: u64 = 50_000_000;

/// Words and their character trigrams hashed into a fixed number of signed buckets, then
/// L2-normalised: texts sharing words or word stems ("cellar", "cellars") land close.
pub fn local_embedding(text: &str) -> Vec<f32> {
    let mut vector = vec![0f32; DIMENSIONS];
    let mut add = |feature: &str, weight: f32| {
        let hash = word_hash(feature);
        let bucket = (hash % DIMENSIONS as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[bucket] += sign * weight;
    };
    for word in words(text) {
        add(&word, 1.0);
        let padded: Vec<char> = format!("<{word}>").chars().collect();
        for trigram in padded.windows(3) {
            add(&trigram.iter().collect::<String>(), 0.3);
        }
    }
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|v| *v /= norm);
    }
    vector
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

fn text_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where a run's vectors come from.
pub enum Embedder {
    /// The provider's embeddings endpoint, under the configured model.
    Provider(Arc<Gateway>),
    /// A sentence-embedding model run in this process.
    Model(Arc<SentenceModel>),
    /// Words and trigrams hashed: shared words, not meaning.
    Hashing,
}

impl Embedder {
    /// The provider when one is configured, else the local model when one is loaded.
    pub fn choose(responder: &Responder, model: Option<Arc<SentenceModel>>) -> Embedder {
        match (responder, model) {
            (Responder::Llm(gateway), _) => Embedder::Provider(Arc::clone(gateway)),
            (Responder::Offline, Some(model)) => Embedder::Model(model),
            (Responder::Offline, None) => Embedder::Hashing,
        }
    }

    /// Stored beside each vector: vectors of two embedders are never compared.
    fn storage_key(&self) -> &str {
        match self {
            Embedder::Provider(gateway) => gateway.embedding_model(),
            Embedder::Model(model) => model.storage_key(),
            Embedder::Hashing => HASHING,
        }
    }

    /// How the similarity was measured, in an explanation's words.
    pub fn describe(&self) -> String {
        match self {
            Embedder::Provider(gateway) => {
                format!("meaning similarity ({})", gateway.embedding_model())
            }
            Embedder::Model(model) => format!("meaning similarity ({}, local)", model.name()),
            Embedder::Hashing => {
                "shared words and word stems (no embedding model installed)".to_owned()
            }
        }
    }
}

/// Embeds `texts` (subject → text), reusing stored vectors whose text is unchanged and storing
/// the new ones.
pub async fn embed_all(
    store: &Store,
    embedder: &Embedder,
    brokerage_id: Uuid,
    texts: Vec<(Uuid, String)>,
) -> Result<HashMap<Uuid, Vec<f32>>, MatchError> {
    if texts.is_empty() {
        return Ok(HashMap::new());
    }
    let key = embedder.storage_key();
    let subjects: Vec<Uuid> = texts.iter().map(|(id, _)| *id).collect();
    let mut stored = store.embeddings(brokerage_id, key, &subjects).await?;
    let mut vectors = HashMap::with_capacity(texts.len());
    let mut missing: Vec<(Uuid, String, String)> = Vec::new();
    for (id, text) in texts {
        let hash = text_hash(&text);
        match stored.remove(&id) {
            Some((stored_hash, vector)) if stored_hash == hash => {
                vectors.insert(id, vector);
            }
            _ => missing.push((id, hash, text)),
        }
    }
    let mut computed: Vec<(Uuid, String, Vec<f32>)> = Vec::with_capacity(missing.len());
    match embedder {
        Embedder::Hashing => {
            for (id, hash, text) in missing {
                computed.push((id, hash, local_embedding(&text)));
            }
        }
        Embedder::Model(model) => {
            for batch in missing.chunks(MODEL_BATCH) {
                let model = Arc::clone(model);
                let inputs: Vec<String> = batch.iter().map(|(_, _, text)| text.clone()).collect();
                let batch_vectors =
                    tokio::task::spawn_blocking(move || model.embed(&inputs)).await??;
                let done: Vec<(Uuid, String, Vec<f32>)> = batch
                    .iter()
                    .zip(batch_vectors)
                    .map(|((id, hash, _), vector)| (*id, hash.clone(), vector))
                    .collect();
                store.save_embeddings(brokerage_id, key, &done).await?;
                vectors.extend(done.into_iter().map(|(id, _, vector)| (id, vector)));
            }
        }
        Embedder::Provider(gateway) => {
            let ledger = Ledger::new(EMBEDDING_TOKEN_BUDGET);
            for batch in missing.chunks(PROVIDER_BATCH) {
                let inputs: Vec<String> = batch.iter().map(|(_, _, text)| text.clone()).collect();
                let batch_vectors = gateway.embed(&inputs, &ledger).await?;
                for ((id, hash, _), vector) in batch.iter().zip(batch_vectors) {
                    computed.push((*id, hash.clone(), vector));
                }
            }
        }
    }
    store.save_embeddings(brokerage_id, key, &computed).await?;
    vectors.extend(computed.into_iter().map(|(id, _, vector)| (id, vector)));
    Ok(vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_texts_land_closer_than_unrelated_ones() {
        let cellar = local_embedding("Temperature-controlled wine cellar and tasting room");
        let cellars = local_embedding("A house with two wine cellars");
        let ranch = local_embedding("Equestrian ranch with horse stables and riding arena");
        assert!(cosine(&cellar, &cellars) > cosine(&cellar, &ranch) + 0.2);
        assert_eq!(local_embedding("same text"), local_embedding("same text"));
        let norm: f32 = cellar.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
