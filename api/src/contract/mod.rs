//! The published contract, enforced on the way in. The OpenAPI document poem-openapi derives from
//! the request types is the one source of every field and limit: this module patches the
//! service's configured limits into it (so `/openapi.json` advertises the limit the service
//! applies), serves it, and checks every JSON request body against its operation's schema before
//! the handler parses it. What breaks it is a 400 `invalid-body` problem whose `errors` name each
//! violation by JSON pointer, in words — an unknown field with the one probably meant, an enum
//! with its allowed values — instead of a parser's message.

mod validate;

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response, http::Method};
use serde_json::Value;
use troupe_shared::config::SimulationLimits;
use validate::Schemas;
pub use validate::Violation;

use crate::problem::ApiError;

/// One operation that takes a JSON body.
struct Operation {
    method: Method,
    /// The path under `/api/v1`, `None` where a parameter stands.
    segments: Vec<Option<String>>,
    schema: Value,
}

/// The document and the body schema of each operation.
pub struct Contract {
    spec: Value,
    operations: Vec<Operation>,
}

impl Contract {
    /// From poem-openapi's document, with the configured limits written into it.
    pub fn new(spec: &str, limits: &SimulationLimits) -> Contract {
        let mut spec: Value = serde_json::from_str(spec).expect("poem-openapi writes JSON");
        apply_limits(&mut spec, limits);
        let operations = operations(&spec);
        Contract { spec, operations }
    }

    /// The document `/openapi.json` serves.
    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// The violations of `body` for `method path` (a path under `/api/v1`); an operation this
    /// contract does not check passes.
    pub fn check(&self, method: &Method, path: &str, body: &[u8]) -> Result<(), ApiError> {
        let Some(operation) = self.operation(method, path) else {
            return Ok(());
        };
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::InvalidBody(vec![Violation {
                pointer: String::new(),
                detail: format!(
                    "the body is not valid JSON: {} (line {}, column {})",
                    json_error_words(&e),
                    e.line(),
                    e.column()
                ),
            }])
        })?;
        let violations = Schemas::new(&self.spec).check(&operation.schema, &value);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidBody(violations))
        }
    }

    /// The violations of `value` against the named component schema (a merged patch, say).
    pub fn check_against(&self, schema: &str, value: &Value) -> Result<(), ApiError> {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        let violations = Schemas::new(&self.spec).check(&schema, value);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidBody(violations))
        }
    }

    fn operation(&self, method: &Method, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.operations.iter().find(|op| {
            op.method == method
                && op.segments.len() == segments.len()
                && op
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
        })
    }
}

/// serde's message without its Rust vocabulary.
fn json_error_words(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "it ends before the JSON value does".to_owned();
    }
    let text = e.to_string();
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}

/// Every operation with an `application/json` body schema.
fn operations(spec: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let content = operation
                .pointer("/requestBody/content")
                .and_then(Value::as_object);
            let Some(schema) = content.and_then(|content| {
                content
                    .iter()
                    .find(|(media, _)| media.starts_with("application/json"))
                    .map(|(_, media)| media["schema"].clone())
            }) else {
                continue;
            };
            let segments = path
                .trim_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            found.push(Operation {
                method,
                segments,
                schema,
            });
        }
    }
    found
}

/// The configured limits, where the derived document has the type's own bounds.
fn apply_limits(spec: &mut Value, limits: &SimulationLimits) {
    let Some(schemas) = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas.values_mut() {
        if let Some(agents) = schema.pointer_mut("/properties/num_agents") {
            agents["maximum"] = Value::from(f64::from(limits.max_agents));
            agents["description"] = Value::from(format!(
                "Personas drawn from `persona_segments`, split evenly (default 20, at most {}: \
                 `TROUPE_SIMULATION_MAX_AGENTS`).",
                limits.max_agents
            ));
        }
    }
}

/// Checks the JSON request bodies of the API (nested under `/api/v1`) against the contract, after
/// the body-size limit has read the body.
pub async fn enforce<E: Endpoint>(
    endpoint: Arc<E>,
    req: Request,
    contract: Arc<Contract>,
) -> poem::Result<Response> {
    let is_json = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    // Nested under `/api/v1`, the path arrives without the prefix.
    let path = req.uri().path();
    let path = path.strip_prefix("/api/v1").unwrap_or(path).to_owned();
    if is_json {
        let mut req = req;
        let body = req.take_body().into_bytes().await?;
        if let Err(problem) = contract.check(req.method(), &path, &body) {
            return Ok(problem.into_response());
        }
        req.set_body(body);
        return endpoint.call(req).await.map(IntoResponse::into_response);
    }
    endpoint.call(req).await.map(IntoResponse::into_response)
}
