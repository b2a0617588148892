//! The knowledge graph: edges derived from each persona's `knowledge_graph` on every write, read
//! back with recursive SQL (the nodes within a depth of a persona), and only through personas the
//! caller may see.
//!
//! The graph is part of the sealed profile, so the table holds its shape only: an edge's target
//! is a persona's id, or a keyed digest of what it names (a person, an interest, a past property:
//! two clients' edges to "Marta Ruiz" still meet), and its kind is the coarse class. Names,
//! relationship kinds and details are taken from the reached personas' opened profiles when the
//! graph is read.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;
use uuid::Uuid;

use super::{
    Pool, Store, StoreResult,
    personas::{PersonaRow, columns},
    with_pool,
};
use crate::{
    auth::Principal,
    crypto::BlindIndex,
    domain::{Graph, GraphEdge, GraphNode, GraphPath, KnowledgeGraph, Persona},
};

/// Edges read per statement when collecting a neighbourhood's.
const KEYS_PER_STATEMENT: usize = 400;

/// One edge as a persona's profile describes it.
pub(super) struct NewEdge {
    /// What it leads to, readable: `persona:<id>`, `person:<name>`, `interest:<x>`,
    /// `property:<title>`.
    pub target_key: String,
    pub kind: String,
    pub label: String,
    pub target_persona_id: Option<Uuid>,
    pub detail: Value,
}

impl NewEdge {
    /// The kind the table keeps: `relationship` for every relationship, whose own kind
    /// (`spouse`, `lawyer`) is part of the sealed profile.
    pub(super) fn class(&self) -> &str {
        if self.target_key.starts_with("persona:") || self.target_key.starts_with("person:") {
            "relationship"
        } else {
            &self.kind
        }
    }
}

/// How an edge's target is stored: a persona by its id, anything else by a keyed digest of its
/// readable key, so edges to the same node meet in SQL without naming it.
pub(super) fn stored_key(index: &BlindIndex, brokerage_id: Uuid, key: &str) -> String {
    if key.starts_with("persona:") {
        return key.to_owned();
    }
    let (kind, _) = key.split_once(':').unwrap_or(("node", key));
    let digest = index.digest(brokerage_id, "graph-node", key);
    format!("{kind}:#{}", hex::encode(&digest[..16]))
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

/// Replaces the persona's edges with those of `$graph`, on the transaction `$tx`, their targets
/// digested under `$index` (a [`BlindIndex`]).
macro_rules! sync_graph {
    ($tx:expr, $index:expr, $brokerage:expr, $persona:expr, $graph:expr) => {{
        let (brokerage_id, persona_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $persona);
        let index: &$crate::crypto::BlindIndex = $index;
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
                    .push_bind($crate::store::graph::stored_key(index, brokerage_id, &edge.target_key))
                    .push_bind(edge.class().to_owned())
                    .push_bind("")
                    .push_bind(edge.target_persona_id)
                    .push_bind(sqlx::types::Json(serde_json::Value::Null));
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
            "SELECT e.source_key, e.target_key FROM graph_edges e
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
        let personas = self.reached_personas(caller.brokerage_id, &reached).await?;
        let readable = Readable::of(self.blind_index(), caller.brokerage_id, &personas);
        Ok(readable.graph(&reached, rows))
    }

    /// The personas among `keys` (all reached through visible edges), profiles opened, by key.
    async fn reached_personas(
        &self,
        brokerage_id: Uuid,
        keys: &[String],
    ) -> StoreResult<Vec<(String, Persona)>> {
        let ids: Vec<Uuid> = keys
            .iter()
            .filter_map(|k| k.strip_prefix("persona:"))
            .filter_map(|id| Uuid::try_parse(id).ok())
            .collect();
        let mut personas = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(KEYS_PER_STATEMENT) {
            let rows: Vec<PersonaRow> = with_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(concat!("SELECT ", columns!(), " FROM personas WHERE brokerage_id = "));
                query.push_bind(brokerage_id).push(" AND id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await
            })?;
            for row in rows {
                let persona = self.unseal(row).await?;
                personas.push((persona_key(persona.id), persona));
            }
        }
        Ok(personas)
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
                    "SELECT e.source_key, e.target_key, e.kind FROM graph_edges e
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

/// What the stored keys of a neighbourhood stand for, from its personas' opened profiles.
struct Readable {
    /// A stored key's readable key and label.
    nodes: HashMap<String, (String, String)>,
    /// The edges each (source, stored target) pair stands for, in the profile's order.
    edges: HashMap<(String, String), VecDeque<NewEdge>>,
}

impl Readable {
    fn of(index: &BlindIndex, brokerage_id: Uuid, personas: &[(String, Persona)]) -> Readable {
        let mut nodes: HashMap<String, (String, String)> = personas
            .iter()
            .map(|(key, p)| (key.clone(), (key.clone(), p.profile.name.clone())))
            .collect();
        let mut edges: HashMap<(String, String), VecDeque<NewEdge>> = HashMap::new();
        for (source, persona) in personas {
            for edge in edges_of(&persona.profile.knowledge_graph) {
                let stored = stored_key(index, brokerage_id, &edge.target_key);
                nodes
                    .entry(stored.clone())
                    .or_insert_with(|| (edge.target_key.clone(), edge.label.clone()));
                edges
                    .entry((source.clone(), stored))
                    .or_default()
                    .push_back(edge);
            }
        }
        Readable { nodes, edges }
    }

    fn key(&self, stored: &str) -> String {
        self.nodes
            .get(stored)
            .map_or_else(|| stored.to_owned(), |(key, _)| key.clone())
    }

    fn node(&self, stored: &str) -> GraphNode {
        let key = self.key(stored);
        let (kind, rest) = key.split_once(':').unwrap_or(("node", &key));
        let label = match self.nodes.get(stored) {
            Some((_, label)) if !label.is_empty() => label.clone(),
            _ => rest.to_owned(),
        };
        GraphNode {
            kind: kind.to_owned(),
            label,
            persona_id: (kind == "persona")
                .then(|| Uuid::try_parse(rest).ok())
                .flatten(),
            key,
        }
    }

    fn graph(mut self, reached: &[String], rows: Vec<EdgeRow>) -> Graph {
        let mut nodes: Vec<GraphNode> = reached.iter().map(|k| self.node(k)).collect();
        nodes.sort_by(|a, b| a.key.cmp(&b.key));
        let mut edges = Vec::with_capacity(rows.len());
        for row in rows {
            let (from, to) = (self.key(&row.source_key), self.key(&row.target_key));
            let described = self
                .edges
                .get_mut(&(row.source_key, row.target_key))
                .and_then(VecDeque::pop_front);
            edges.push(match described {
                Some(edge) => GraphEdge {
                    from,
                    to,
                    kind: edge.kind,
                    detail: edge.detail,
                },
                // The profile changed between the two reads: the stored shape alone.
                None => GraphEdge {
                    from,
                    to,
                    kind: row.kind,
                    detail: Value::Null,
                },
            });
        }
        Graph { nodes, edges }
    }
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
