//! The published contract, enforced on the way in. The OpenAPI document poem-openapi derives from
//! the request types is the one source of every field and limit: this module patches the
//! service's configured limits into it (so `/openapi.json` advertises the limit the service
//! applies), serves it, and checks every JSON request body, query parameter and path parameter
//! against its operation's schema before the handler parses it. What breaks it is a 400
//! `invalid-body` (or `invalid-query`) problem whose `errors` name each violation by JSON pointer
//! (or parameter), in words — an unknown field with the one probably meant, an enum with its
//! allowed values — instead of a parser's message. A 405 gets the path's methods in `Allow`.

mod validate;

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{Method, StatusCode, header},
};
use serde_json::Value;
use troupe_shared::config::SimulationLimits;
use validate::Schemas;
pub use validate::Violation;

use crate::problem::ApiError;

/// One operation: what its JSON body and its query parameters must be.
struct Operation {
    method: Method,
    /// The path under `/api/v1`, `None` where a parameter stands.
    segments: Vec<Option<String>>,
    body: Option<Value>,
    query: Vec<(String, Value)>,
    /// Each path parameter's segment position, name and schema.
    path: Vec<(usize, String, Value)>,
}

impl Operation {
    fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(&segments)
                .all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
    }
}

/// The document, and what each operation takes.
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
        let Some(schema) = self.operation(method, path).and_then(|op| op.body.as_ref()) else {
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
        let violations = Schemas::new(&self.spec).check(schema, &value);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidBody(violations))
        }
    }

    /// The violations of the path's and the query string's parameters (numbers, ids, enums,
    /// ranges).
    pub fn check_query(&self, method: &Method, path: &str, query: &str) -> Result<(), ApiError> {
        let Some(operation) = self.operation(method, path) else {
            return Ok(());
        };
        let schemas = Schemas::new(&self.spec);
        let mut violations = Vec::new();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        for (position, name, schema) in &operation.path {
            let segment = segments.get(*position).copied().unwrap_or_default();
            let raw = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            for found in schemas.check(schema, &typed(&raw, schema)) {
                violations.push(Violation {
                    detail: found
                        .detail
                        .replacen("the body", &format!("the path's `{name}`"), 1),
                    pointer: name.clone(),
                });
            }
        }
        for (name, raw) in form_urlencoded::parse(query.as_bytes()) {
            let Some((_, schema)) = operation.query.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            for found in schemas.check(schema, &typed(&raw, schema)) {
                violations.push(Violation {
                    detail: found.detail.replacen(
                        "the body",
                        &format!("the query parameter `{name}`"),
                        1,
                    ),
                    pointer: name.to_string(),
                });
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidQuery(violations))
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

    /// The methods a path takes, for a 405's `Allow`.
    fn methods_of(&self, path: &str) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .operations
            .iter()
            .filter(|op| op.matches(path))
            .map(|op| op.method.as_str())
            .collect();
        methods.dedup();
        methods
    }

    fn operation(&self, method: &Method, path: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.method == method && op.matches(path))
    }
}

/// A query value as the JSON its schema expects, where it reads as one (`"20"` as 20); left as
/// text otherwise, for the check to say what it should have been.
fn typed(raw: &str, schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("integer") => raw
            .parse::<i64>()
            .map_or_else(|_| Value::from(raw), Value::from),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::from(raw), Value::Number),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::from(raw),
        },
        _ => Value::from(raw),
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

/// Every operation, with its JSON body schema and its query parameters' schemas.
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
            let body = content.and_then(|content| {
                content
                    .iter()
                    .find(|(media, _)| media.starts_with("application/json"))
                    .map(|(_, media)| media["schema"].clone())
            });
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| Some((p["name"].as_str()?.to_owned(), p["schema"].clone())))
                .collect();
            let segments: Vec<Option<String>> = path
                .trim_matches('/')
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let path_params = path
                .trim_matches('/')
                .split('/')
                .enumerate()
                .filter_map(|(position, segment)| {
                    let name = segment.strip_prefix('{')?.strip_suffix('}')?;
                    let schema = operation["parameters"]
                        .as_array()?
                        .iter()
                        .find(|p| p["in"] == "path" && p["name"] == name)?["schema"]
                        .clone();
                    Some((position, name.to_owned(), schema))
                })
                .collect();
            found.push(Operation {
                method,
                segments,
                body,
                query,
                path: path_params,
            });
        }
    }
    // A fixed segment wins over a parameter: `/personas/duplicates` is not `/personas/{id}`.
    found.sort_by_key(|op| op.segments.iter().filter(|s| s.is_none()).count());
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
    let query = req.uri().query().unwrap_or("");
    if let Err(problem) = contract.check_query(req.method(), &path, query) {
        return Ok(problem.into_response());
    }
    let mut req = req;
    if is_json {
        let body = req.take_body().into_bytes().await?;
        if let Err(problem) = contract.check(req.method(), &path, &body) {
            return Ok(problem.into_response());
        }
        req.set_body(body);
    }
    match endpoint.call(req).await {
        Ok(response) => Ok(response.into_response()),
        // RFC 9110: a 405 says which methods the resource takes.
        Err(e) if e.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let allow = contract.methods_of(&path).join(", ");
            let mut response = crate::problem::render(e);
            if let Ok(value) = allow.parse() {
                response.headers_mut().insert(header::ALLOW, value);
            }
            Ok(response)
        }
        Err(e) => Err(e),
    }
}
