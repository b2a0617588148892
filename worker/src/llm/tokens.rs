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
        assert_eq!(count_tokens("gpt-4o", "hello world"), 2);
        assert!(count_tokens("llama3.1:8b", "The penthouse has a wine cellar.") > 3);
    }
}
