//! Token counts before sending, with the encoding the model uses (o200k_base for unknown models:
//! what current OpenAI-class models use, and close enough for the rest).

use tiktoken_rs::{CoreBPE, bpe_for_model, o200k_base_singleton};

pub fn count_tokens(model: &str, text: &str) -> usize {
    encoding(model).encode_with_special_tokens(text).len()
}

fn encoding(model: &str) -> &'static CoreBPE {
    bpe_for_model(model).unwrap_or_else(|_| o200k_base_singleton())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_model_encoding() {
        let text = "Ca’ d’Oro: a 1,200 m² palazzo on the Grand Canal — 42 rooms, €48.5M.";
        let o200k = o200k_base_singleton()
            .encode_with_special_tokens(text)
            .len();
        let cl100k = tiktoken_rs::cl100k_base_singleton()
            .encode_with_special_tokens(text)
            .len();
        assert_ne!(o200k, cl100k, "the example must tell the encodings apart");
        for model in ["gpt-4o-mini", "gpt-4.1", "gpt-5-mini", "o3-mini"] {
            assert_eq!(count_tokens(model, text), o200k, "{model}");
        }
        for model in ["gpt-4", "gpt-3.5-turbo"] {
            assert_eq!(count_tokens(model, text), cl100k, "{model}");
        }
        // Models tiktoken does not know (Ollama, vLLM) are counted with o200k_base.
        assert_eq!(count_tokens("llama3.1:8b", text), o200k);
    }
}
