//! The knowledge graph: edges derived from each persona's `knowledge_graph` on every write, read
//! back with recursive SQL (the nodes within a depth of a persona), and only through personas the
//! caller may see.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Pool, Store, StoreResult, with_pool};
use crate::{
    auth::Principal,
    domain::{Graph, GraphEdge, GraphNode, GraphPath, KnowledgeGraph},
};

/// Edges read per statement when collecting a neighbourhood's.
const KEYS_PER_STATEMENT: usize = 400;

/// One edge as stored.
pub(super) struct NewEdge {
    pub target_key: String,
    pub kind: String,
    pub label: String,
    pub target_persona_id: Option<Uuid>,
    pub detail: Value,
}

pub(super) fn persona_key(id: Uuid) -> String {
    format!("persona:{id}")
}

fn text(value: &Value, fields: &[&str]) -> Option<String> {
    fields
        .iter()
        .find_map(|f| value[*f].as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(200).collect())
}

/// The edges a persona's knowledge graph describes: relationships to personas (`persona_id`) or
/// named people (`name`), interests, and past properties (`title`, `address` or `name`).
pub(super) fn edges_of(graph: &KnowledgeGraph) -> Vec<NewEdge> {
    let mut edges = Vec::new();
    for relationship in &graph.relationships {
        let kind = text(relationship, &["type", "relation", "kind"])
            .unwrap_or_else(|| "relationship".to_owned())
            .to_lowercase();
        let persona = relationship["persona_id"]
            .as_str()
            .and_then(|id| Uuid::try_parse(id).ok());
        let name = text(relationship, &["name"]);
        let (target_key, label) = match (persona, name) {
            (Some(id), name) => (persona_key(id), name.unwrap_or_default()),
            (None, Some(name)) => (format!("person:{}", name.to_lowercase()), name),
            (None, None) => continue,
        };
        edges.push(NewEdge {
            target_key,
            kind,
            label,
            target_persona_id: persona,
            detail: relationship.clone(),
        });
    }
    for interest in &graph.interests {
        let interest = interest.trim();
        if !interest.is_empty() {
            edges.push(NewEdge {
                target_key: format!("interest:{}", interest.to_lowercase()),
                kind: "interest".to_owned(),
                label: interest.to_owned(),
                target_persona_id: None,
                detail: Value::Null,
            });
        }
    }
    for property in &graph.past_properties {
        if let Some(title) = text(property, &["title", "address", "name"]) {
            edges.push(NewEdge {
                target_key: format!("property:{}", title.to_lowercase()),
                kind: "past_property".to_owned(),
                label: title,
                target_persona_id: None,
                detail: property.clone(),
            });
        }
    }
    edges
}

/// Replaces the persona's edges with those of `$graph`, on the transaction `$tx`.
macro_rules! sync_graph {
    ($tx:expr, $brokerage:expr, $persona:expr, $graph:expr) => {{
        let (brokerage_id, persona_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $persona);
        sqlx::query("DELETE FROM graph_edges WHERE persona_id = $1")
            .bind(persona_id)
            .execute(&mut *$tx)
            .await?;
        let edges = $crate::store::graph::edges_of($graph);
        for chunk in edges.chunks($crate::store::INSERT_BATCH) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO graph_edges (brokerage_id, persona_id, source_key, target_key, kind, label, target_persona_id, detail) ",
            );
            insert.push_values(chunk, |mut row, edge| {
                row.push_bind(brokerage_id)
                    .push_bind(persona_id)
                    .push_bind($crate::store::graph::persona_key(persona_id))
                    .push_bind(&edge.target_key)
                    .push_bind(&edge.kind)
                    .push_bind(&edge.label)
                    .push_bind(edge.target_persona_id)
                    .push_bind(sqlx::types::Json(&edge.detail));
            });
            insert.build().execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use sync_graph;

/// The edges the caller may see: from personas visible to them, to personas visible to them or
/// to other nodes. `$1` brokerage, `$2` user, `$3` team.
macro_rules! visible_edges {
    () => {
        concat!(
            "SELECT e.source_key, e.target_key, e.kind, e.label, e.detail FROM graph_edges e
             JOIN personas p ON p.id = e.persona_id
             WHERE e.brokerage_id = $1 AND ",
            super::visible_to!("p", user = "$2", team = "$3"),
            " AND (e.target_persona_id IS NULL OR EXISTS (
                   SELECT 1 FROM personas q WHERE q.id = e.target_persona_id AND q.brokerage_id = e.brokerage_id
                     AND ",
            super::visible_to!("q", user = "$2", team = "$3"),
            "))"
        )
    };
}

#[derive(sqlx::FromRow)]
struct EdgeRow {
    source_key: String,
    target_key: String,
    kind: String,
    label: String,
    detail: Json<Value>,
}

impl Store {
    /// The nodes within `depth` hops of `persona_id` (edges followed either way) and the edges
    /// among them, as the caller may see them.
    pub async fn persona_graph(
        &self,
        caller: &Principal,
        persona_id: Uuid,
        depth: u32,
    ) -> StoreResult<Graph> {
        let start = persona_key(persona_id);
        let reached: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(concat!(
                "WITH RECURSIVE visible AS (", visible_edges!(), "),
                 undirected AS (
                     SELECT source_key AS a, target_key AS b FROM visible
                     UNION SELECT target_key, source_key FROM visible),
                 reach (node, depth) AS (
                     SELECT CAST($4 AS TEXT), 0
                     UNION
                     SELECT u.b, r.depth + 1 FROM reach r JOIN undirected u ON u.a = r.node WHERE r.depth < $5)
                 SELECT DISTINCT node FROM reach"))
            .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id)
            .bind(&start).bind(i64::from(depth))
            .fetch_all(pool)
            .await
        })?;
        let rows = self.edges_among(caller, &reached).await?;
        let names = self.persona_names(caller.brokerage_id, &reached).await?;
        Ok(graph_of(&reached, rows, &names))
    }

    /// The names of the personas among `keys` (all reached through visible edges), by key.
    async fn persona_names(
        &self,
        brokerage_id: Uuid,
        keys: &[String],
    ) -> StoreResult<HashMap<String, String>> {
        let ids: Vec<Uuid> = keys
            .iter()
            .filter_map(|k| k.strip_prefix("persona:"))
            .filter_map(|id| Uuid::try_parse(id).ok())
            .collect();
        let mut names = HashMap::new();
        for chunk in ids.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<(Uuid, String)> = with_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new("SELECT id, profile ->> 'name' FROM personas WHERE brokerage_id = ");
                query.push_bind(brokerage_id).push(" AND id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await
            })?;
            names.extend(rows.into_iter().map(|(id, name)| (persona_key(id), name)));
        }
        Ok(names)
    }

    /// The shortest way from one persona to another within `max_depth` hops.
    pub async fn persona_path(
        &self,
        caller: &Principal,
        from: Uuid,
        to: Uuid,
        max_depth: u32,
    ) -> StoreResult<GraphPath> {
        let graph = self.persona_graph(caller, from, max_depth).await?;
        Ok(shortest_path(graph, &persona_key(from), &persona_key(to)))
    }

    async fn edges_among(&self, caller: &Principal, keys: &[String]) -> StoreResult<Vec<EdgeRow>> {
        let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
        // The keys travel as one JSON array, so the binds stay fixed ($1 brokerage, $2 user,
        // $3 team, $4 keys) and the visibility rule is the one fragment.
        macro_rules! edges_from {
            ($keys:literal) => {
                concat!(
                    "SELECT e.source_key, e.target_key, e.kind, e.label, e.detail FROM graph_edges e
                     JOIN personas p ON p.id = e.persona_id WHERE e.brokerage_id = $1 AND ",
                    super::visible_to!("p", user = "$2", team = "$3"),
                    " AND e.source_key IN (",
                    $keys,
                    ")"
                )
            };
        }
        let keys = serde_json::to_string(keys).expect("strings serialize");
        let mut rows: Vec<EdgeRow> = match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query_as(edges_from!("SELECT jsonb_array_elements_text($4::jsonb)"))
                    .bind(caller.brokerage_id)
                    .bind(caller.user_id)
                    .bind(caller.team_id)
                    .bind(&keys)
                    .fetch_all(pool)
                    .await?
            }
            Pool::Sqlite(pool) => {
                sqlx::query_as(edges_from!("SELECT value FROM json_each($4)"))
                    .bind(caller.brokerage_id)
                    .bind(caller.user_id)
                    .bind(caller.team_id)
                    .bind(&keys)
                    .fetch_all(pool)
                    .await?
            }
        };
        // Both ends must be in the neighbourhood (which already excludes invisible personas).
        rows.retain(|r| wanted.contains(r.target_key.as_str()));
        Ok(rows)
    }
}

fn node(key: &str, labels: &HashMap<&str, &str>, names: &HashMap<String, String>) -> GraphNode {
    let (kind, rest) = key.split_once(':').unwrap_or(("node", key));
    GraphNode {
        key: key.to_owned(),
        kind: kind.to_owned(),
        label: names
            .get(key)
            .map(String::as_str)
            .or_else(|| labels.get(key).copied())
            .unwrap_or(rest)
            .to_owned(),
        persona_id: (kind == "persona")
            .then(|| Uuid::try_parse(rest).ok())
            .flatten(),
    }
}

fn graph_of(reached: &[String], rows: Vec<EdgeRow>, names: &HashMap<String, String>) -> Graph {
    let labels: HashMap<&str, &str> = rows
        .iter()
        .filter(|r| !r.label.is_empty())
        .map(|r| (r.target_key.as_str(), r.label.as_str()))
        .collect();
    let mut nodes: Vec<GraphNode> = reached.iter().map(|k| node(k, &labels, names)).collect();
    nodes.sort_by(|a, b| a.key.cmp(&b.key));
    let edges = rows
        .iter()
        .map(|r| GraphEdge {
            from: r.source_key.clone(),
            to: r.target_key.clone(),
            kind: r.kind.clone(),
            detail: r.detail.0.clone(),
        })
        .collect();
    Graph { nodes, edges }
}

/// Breadth-first over the edges, either way.
fn shortest_path(graph: Graph, from: &str, to: &str) -> GraphPath {
    let mut next: HashMap<&str, Vec<&GraphEdge>> = HashMap::new();
    for edge in &graph.edges {
        next.entry(edge.from.as_str()).or_default().push(edge);
        next.entry(edge.to.as_str()).or_default().push(edge);
    }
    let mut came_from: HashMap<&str, &GraphEdge> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = HashSet::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            break;
        }
        for edge in next.get(at).into_iter().flatten() {
            let other = if edge.from == at {
                edge.to.as_str()
            } else {
                edge.from.as_str()
            };
            if seen.insert(other) {
                came_from.insert(other, edge);
                queue.push_back(other);
            }
        }
    }
    if !seen.contains(to) || from == to {
        return GraphPath {
            nodes: Vec::new(),
            edges: Vec::new(),
        };
    }
    let mut keys = vec![to];
    let mut edges = Vec::new();
    let mut at = to;
    while let Some(edge) = came_from.get(at) {
        edges.push((*edge).clone());
        at = if edge.from == at {
            edge.to.as_str()
        } else {
            edge.from.as_str()
        };
        keys.push(at);
    }
    keys.reverse();
    edges.reverse();
    let by_key: HashMap<&str, &GraphNode> =
        graph.nodes.iter().map(|n| (n.key.as_str(), n)).collect();
    GraphPath {
        nodes: keys
            .iter()
            .filter_map(|k| by_key.get(k).map(|n| (*n).clone()))
            .collect(),
        edges,
    }
}
