//! all-MiniLM-L6-v2 run in process, held against an independent NumPy forward pass of the same
//! weights (`scripts/reference-embeddings.py`, which printed the figures below). The model's
//! files come from `scripts/fetch-embedding-model.sh`, which `scripts/test.sh` runs first.

use std::path::PathBuf;

use troupe_worker::sentence_model::{SentenceModel, SentenceModelError};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("TROUPE_EMBEDDING_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2"),
        PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "no model in {}: run scripts/fetch-embedding-model.sh",
        dir.display()
    );
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

const SURF: &str = "Oceanfront home steps from the surf";
const WAVES: &str = "A waterfront retreat where I can hear the waves";
const CELLAR: &str = "Temperature-controlled wine cellar";

#[test]
fn vectors_match_an_independent_reference() {
    let model = SentenceModel::load(&model_dir()).unwrap();
    let reference: [(&str, [f32; 6]); 3] = [
        (
            SURF,
            [0.03401, -0.01400, 0.04107, -0.08745, 0.05799, -0.01897],
        ),
        (
            WAVES,
            [0.06871, 0.02639, 0.04451, 0.00896, -0.01766, -0.00484],
        ),
        (
            CELLAR,
            [0.02909, 0.00721, -0.11645, 0.05045, -0.00805, 0.01563],
        ),
    ];
    let texts: Vec<String> = reference.iter().map(|(t, _)| (*t).to_owned()).collect();
    let vectors = model.embed(&texts).unwrap();
    for ((text, expected), vector) in reference.iter().zip(&vectors) {
        assert_eq!(vector.len(), 384);
        let norm = cosine(vector, vector).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text}: norm {norm}");
        for (got, want) in vector.iter().zip(expected) {
            assert!(
                (got - want).abs() < 2e-4,
                "{text}: {:?} against {expected:?}",
                &vector[..6]
            );
        }
    }
}

#[test]
fn padding_in_a_batch_changes_no_vector() {
    let model = SentenceModel::load(&model_dir()).unwrap();
    let texts: Vec<String> = [CELLAR, "Pool", WAVES, "A Georgian house of twelve bedrooms on forty acres of parkland with a lake, stables and a walled garden"]
        .map(str::to_owned)
        .to_vec();
    let together = model.embed(&texts).unwrap();
    for (text, vector) in texts.iter().zip(&together) {
        let alone = model.embed(std::slice::from_ref(text)).unwrap();
        assert!(cosine(vector, &alone[0]) > 0.99999, "{text}");
    }
}

#[test]
fn texts_alike_in_meaning_land_close_without_shared_words() {
    let model = SentenceModel::load(&model_dir()).unwrap();
    let v = model
        .embed(&[SURF.to_owned(), WAVES.to_owned(), CELLAR.to_owned()])
        .unwrap();
    let (alike, unlike) = (cosine(&v[0], &v[1]), cosine(&v[1], &v[2]));
    assert!(
        alike > unlike + 0.2,
        "surf–waves {alike}, waves–cellar {unlike}"
    );
}

#[test]
fn a_long_text_is_cut_at_the_model_length() {
    let model = SentenceModel::load(&model_dir()).unwrap();
    let long = "A quiet estate with ocean views and a wine cellar. ".repeat(300);
    let vectors = model.embed(&[long, String::new()]).unwrap();
    assert_eq!(vectors[0].len(), 384);
    assert_eq!(vectors[1].len(), 384, "an empty text still gets a vector");
}

#[test]
fn a_directory_without_the_model_is_refused_by_name() {
    let empty = tempfile::tempdir().unwrap();
    let Err(error) = SentenceModel::load(empty.path()) else {
        panic!("loaded a model from an empty directory");
    };
    assert!(
        matches!(error, SentenceModelError::Read { .. }),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains(&empty.path().display().to_string()),
        "{shown}"
    );
}
