//! The knowledge graph as the API shows it: nodes (personas, named people, interests, past
//! properties) and the edges between them.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GraphNode {
    /// `persona:<id>`, `person:<name>`, `interest:<name>` or `property:<title>`.
    pub key: String,
    /// `persona`, `person`, `interest` or `property`.
    pub kind: String,
    pub label: String,
    pub persona_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// The relationship (`spouse`, `advisor`, `referral`, …), `interest` or `past_property`.
    pub kind: String,
    /// What the persona's record says about it (a past property's dates and price, say).
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// How one persona reaches another, hop by hop; empty when it does not within the depth.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct GraphPath {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}
