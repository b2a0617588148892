//! A small client of Troupe's HTTP API, as the demo, the benchmarks and the tests drive it.

use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::Method;
use serde_json::Value;

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl ApiClient {
    /// `base` is the service's root URL (`http://127.0.0.1:8080`); `key` a `trp_…` API key.
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Self {
        ApiClient {
            http: reqwest::Client::new(),
            base: base.into(),
            key: key.into(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Another key against the same service.
    pub fn with_key(&self, key: impl Into<String>) -> Self {
        ApiClient {
            key: key.into(),
            ..self.clone()
        }
    }

    /// The same key against another address (a restarted service).
    pub fn at(&self, base: impl Into<String>) -> Self {
        ApiClient {
            base: base.into(),
            ..self.clone()
        }
    }

    /// Sends a request; a non-2xx answer is an error carrying the problem body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.send(method, path, body).await?;
        if !status.is_success() {
            bail!("{path} answered {status}: {body}");
        }
        Ok(body)
    }

    /// Sends a request and returns whatever status and JSON body it answered with.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.json().await?))
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// Polls a simulation's status every `poll` until `done` holds, for at most `limit`.
    pub async fn wait_for(
        &self,
        id: &str,
        done: impl Fn(&Value) -> bool,
        poll: Duration,
        limit: Duration,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let status = self
                .get(&format!("/api/v1/simulations/{id}/status"))
                .await?;
            if done(&status) {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("simulation {id} still {} after {limit:?}", status["status"]);
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Whether a status is final: completed, failed or cancelled.
pub fn is_final(status: &Value) -> bool {
    matches!(
        status["status"].as_str(),
        Some("completed" | "failed" | "cancelled")
    )
}
