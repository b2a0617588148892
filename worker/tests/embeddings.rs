//! The gateway's embeddings call against the mock provider over HTTP.

use std::collections::HashMap;

use mock_llm::{MockConfig, MockLlm};
use troupe_shared::Config;
use troupe_worker::llm::{
    Endpoint, Gateway, Ledger, Limits, ProviderClient, RateLimiter, ResponseCache,
};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn texts_are_embedded_in_order_and_charged_to_the_ledger() {
    let mock = MockLlm::start(MockConfig::default()).await.unwrap();
    let config = Config::from_vars(HashMap::from([(
        "TROUPE_LLM_BASE_URL".to_owned(),
        mock.base_url(),
    )]))
    .unwrap();
    let endpoint = Endpoint::OpenAi {
        base_url: mock.base_url(),
        api_key: None,
    };
    let client = ProviderClient::new(endpoint, config.llm.timeout).unwrap();
    let limiter = RateLimiter::new(
        Limits {
            rpm: config.llm.rpm,
            tpm: config.llm.tpm,
        },
        None,
    );
    let gateway = Gateway::new(client, &config.llm, limiter, ResponseCache::Off);
    let ledger = Ledger::new(10_000);
    let texts = [
        "oceanfront estate with a wine cellar",
        "an estate on the ocean with a wine cellar and pool",
        "downtown loft near the stock exchange",
    ]
    .map(String::from);

    let vectors = gateway.embed(&texts, &ledger).await.unwrap();
    assert_eq!(vectors.len(), 3);
    assert!(vectors.iter().all(|v| v.len() == 64));
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    assert_eq!(ledger.spent(), mock.stats().prompt_tokens);
    assert!(ledger.spent() > 0);
}
