//! `troupe doctor`: what the configured model provider can do, found by asking it — before a
//! simulation finds out the hard way. Three small calls: a plain answer (reachability, the model
//! that answered, the rate limits its headers report), an answer held to a strict JSON schema,
//! and one with an image.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use troupe_shared::Config;
use troupe_worker::llm::{LlmError, Operation, ProviderClient};

/// A 1×1 PNG, as a data URL: an image any vision model can take, fetched from nowhere.
const PIXEL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// One finding, as printed.
pub struct Finding {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Runs the checks; `Err` only when the configuration names no usable client.
pub async fn examine(config: &Config) -> anyhow::Result<Vec<Finding>> {
    let Some(endpoint) = troupe_worker::endpoint(&config.llm.provider) else {
        return Ok(vec![Finding {
            check: "provider",
            ok: true,
            detail: "offline: the rule-based baseline answers, no model is called (set \
                     TROUPE_LLM_BASE_URL, TROUPE_LLM_API_KEY and TROUPE_LLM_MODEL for one)"
                .into(),
        }]);
    };
    let model = config.llm.model.clone();
    let provider = endpoint.provider();
    let client = ProviderClient::new(endpoint, config.llm.timeout.min(Duration::from_secs(30)))?;
    let mut findings = vec![Finding {
        check: "provider",
        ok: true,
        detail: format!("{provider}, model {model}"),
    }];
    let ask = |content: Value, format: Option<Value>| {
        let mut body = json!({
            "model": model,
            "messages": [{ "role": "user", "content": content }],
            "max_tokens": 20,
            "temperature": 0,
        });
        if let Some(format) = format {
            body["response_format"] = format;
        }
        body
    };

    let started = Instant::now();
    let plain = client
        .send(
            Operation::Chat,
            &ask(json!("Reply with the word ready."), None),
        )
        .await;
    let elapsed = started.elapsed().as_millis();
    match &plain {
        Ok(attempt) => {
            let answered_by = attempt.reply["model"]
                .as_str()
                .unwrap_or("an unnamed model");
            findings.push(Finding {
                check: "reachable",
                ok: true,
                detail: format!("answered in {elapsed} ms, by {answered_by}"),
            });
            let signal = &attempt.signal;
            let limits = match (signal.limit_requests, signal.limit_tokens) {
                (None, None) => {
                    "not reported (the service's TROUPE_LLM_RPM and TROUPE_LLM_TPM apply)"
                        .to_owned()
                }
                (requests, tokens) => format!(
                    "{} requests/min, {} tokens/min (x-ratelimit-* headers)",
                    requests.map_or("?".into(), |r| r.to_string()),
                    tokens.map_or("?".into(), |t| t.to_string())
                ),
            };
            findings.push(Finding {
                check: "rate limits",
                ok: true,
                detail: limits,
            });
        }
        Err(e) => {
            findings.push(Finding {
                check: "reachable",
                ok: false,
                detail: failure(e),
            });
            return Ok(findings);
        }
    }

    let schema = json!({
        "type": "json_schema",
        "json_schema": { "name": "doctor", "strict": true, "schema": {
            "type": "object", "additionalProperties": false,
            "required": ["ready"], "properties": { "ready": { "type": "boolean" } } } }
    });
    let structured = client
        .send(
            Operation::Chat,
            &ask(
                json!("Are you ready? Answer in the JSON asked for."),
                Some(schema),
            ),
        )
        .await;
    findings.push(match structured {
        Ok(attempt) => {
            let content = attempt.reply["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or_default();
            match serde_json::from_str::<Value>(content) {
                Ok(v) if v["ready"].is_boolean() => Finding {
                    check: "json schema",
                    ok: true,
                    detail: "follows a strict JSON schema".into(),
                },
                Ok(_) => Finding {
                    check: "json schema",
                    ok: false,
                    detail: "answers JSON, but not the schema asked for: replies will be \
                             repaired or rejected step by step"
                        .into(),
                },
                Err(_) => Finding {
                    check: "json schema",
                    ok: false,
                    detail: "does not answer JSON when asked to".into(),
                },
            }
        }
        Err(e) => Finding {
            check: "json schema",
            ok: false,
            detail: format!("refuses response_format json_schema: {}", failure(&e)),
        },
    });

    let image = json!([
        { "type": "text", "text": "What colour is this pixel?" },
        { "type": "image_url", "image_url": { "url": PIXEL } }
    ]);
    findings.push(
        match client.send(Operation::Chat, &ask(image, None)).await {
            Ok(_) => Finding {
                check: "vision",
                ok: true,
                detail: "accepts image input".into(),
            },
            Err(e) => Finding {
                check: "vision",
                ok: false,
                detail: format!("refuses image input: {}", failure(&e)),
            },
        },
    );
    Ok(findings)
}

fn failure(e: &LlmError) -> String {
    match e {
        LlmError::Status { status, body, .. } => {
            let said = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| body.chars().take(160).collect());
            format!("HTTP {status}: {said}")
        }
        other => other.to_string(),
    }
}
