//! A client's knowledge-graph neighbourhood drawn as SVG: the client in the middle, what is one
//! hop away on the first ring, two hops on the second; each edge named by its relation. The
//! same edges are listed in a table beside it, for reading without the picture.

use std::collections::{HashMap, VecDeque};
use std::f64::consts::TAU;

use maud::{Markup, html};
use troupe_shared::domain::{Graph, GraphNode};

/// The drawing's largest side, in its own units.
const SIZE: f64 = 720.0;
const RING: f64 = 150.0;
/// Room around the outer ring for the labels.
const MARGIN: f64 = 90.0;
/// More than this and the drawing stops being readable; the table still lists every edge.
const MAX_NODES: usize = 40;

/// Hops from `center` to each node it reaches (edges read both ways).
fn hops(graph: &Graph, center: &str) -> HashMap<String, usize> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for edge in &graph.edges {
        next.entry(&edge.from).or_default().push(&edge.to);
        next.entry(&edge.to).or_default().push(&edge.from);
    }
    let mut depth = HashMap::from([(center.to_owned(), 0)]);
    let mut queue = VecDeque::from([center]);
    while let Some(at) = queue.pop_front() {
        let d = depth[at];
        for &n in next.get(at).into_iter().flatten() {
            if !depth.contains_key(n) {
                depth.insert(n.to_owned(), d + 1);
                queue.push_back(n);
            }
        }
    }
    depth
}

/// The second ring sits a little closer than twice the first, leaving room for its labels.
fn ring_radius(ring: usize) -> f64 {
    match ring {
        0 => 0.0,
        1 => RING,
        _ => 1.7 * RING,
    }
}

fn colour(kind: &str) -> &'static str {
    match kind {
        "persona" => "#1f4e79",
        "person" => "#6b4f9c",
        "interest" => "#2e7d4f",
        _ => "#9a6a16",
    }
}

/// The drawing and its table; `center` is the client's node key (`persona:<id>`).
pub fn neighbourhood(graph: &Graph, center: &str) -> Markup {
    let depth = hops(graph, center);
    let mut placed: Vec<(&GraphNode, usize)> = graph
        .nodes
        .iter()
        .filter_map(|n| depth.get(&n.key).map(|d| (n, (*d).min(2))))
        .collect();
    placed.sort_by_key(|(n, d)| (*d, n.kind.clone(), n.label.clone()));
    placed.truncate(MAX_NODES);
    // As large as the rings drawn, so a client with three interests is not lost in white space.
    let rings = placed.iter().map(|(_, d)| *d).max().unwrap_or(0);
    let size = (2.0 * ring_radius(rings) + 2.0 * MARGIN).min(SIZE);
    let mid = size / 2.0;
    let mut at: HashMap<&str, (f64, f64)> = HashMap::new();
    for ring in 0..=2 {
        let on_ring: Vec<&GraphNode> = placed
            .iter()
            .filter(|(_, d)| *d == ring)
            .map(|(n, _)| *n)
            .collect();
        for (i, node) in on_ring.iter().enumerate() {
            let angle = TAU * i as f64 / on_ring.len().max(1) as f64 + ring as f64 * 0.4;
            let r = ring_radius(ring);
            at.insert(&node.key, (mid + r * angle.cos(), mid + r * angle.sin()));
        }
    }
    let drawn: Vec<_> = graph
        .edges
        .iter()
        .filter_map(|e| Some((e, *at.get(e.from.as_str())?, *at.get(e.to.as_str())?)))
        .collect();
    html! {
        figure.graph {
            svg viewBox={ "0 0 " (size) " " (size) } width=(size) height=(size) role="img" aria-labelledby="graph-title" data-chart="graph" {
                title #graph-title { "Knowledge graph: " (placed.len()) " people, interests and properties around this client" }
                @for (edge, (x1, y1), (x2, y2)) in &drawn {
                    line x1=(format!("{x1:.1}")) y1=(format!("{y1:.1}")) x2=(format!("{x2:.1}")) y2=(format!("{y2:.1}")) stroke="#9aa5b1" stroke-width="1.5" {}
                    text x=(format!("{:.1}", (x1 + x2) / 2.0)) y=(format!("{:.1}", (y1 + y2) / 2.0 - 3.0)) font-size="10" fill="#52606d" text-anchor="middle" { (edge.kind.replace('_', " ")) }
                }
                @for (node, _) in &placed {
                    @let (x, y) = at[node.key.as_str()];
                    g data-node=(node.key) {
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r=(if node.key == center { "14" } else { "9" }) fill=(colour(&node.kind)) {}
                        @if let (Some(id), true) = (node.persona_id, node.key != center) {
                            a href={ "/clients/" (id) } {
                                text x=(format!("{x:.1}")) y=(format!("{:.1}", y + 22.0)) font-size="12" text-anchor="middle" fill="#1f4e79" { (node.label) }
                            }
                        } @else {
                            text x=(format!("{x:.1}")) y=(format!("{:.1}", y + 22.0)) font-size="12" text-anchor="middle" { (node.label) }
                        }
                    }
                }
            }
            figcaption { "Blue: clients, purple: people they know, green: interests, gold: properties they owned." }
        }
        details {
            summary { "The edges as a table" }
            table data-table="graph" {
                thead { tr { th { "From" } th { "Relation" } th { "To" } } }
                tbody { @for edge in &graph.edges {
                    tr { td { (label(graph, &edge.from)) } td { (edge.kind.replace('_', " ")) } td { (label(graph, &edge.to)) } }
                } }
            }
        }
    }
}

fn label<'a>(graph: &'a Graph, key: &'a str) -> &'a str {
    graph
        .nodes
        .iter()
        .find(|n| n.key == key)
        .map_or(key, |n| n.label.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use troupe_shared::domain::GraphEdge;

    fn node(key: &str, kind: &str) -> GraphNode {
        GraphNode {
            key: key.into(),
            kind: kind.into(),
            label: key.into(),
            persona_id: None,
        }
    }

    fn edge(from: &str, to: &str) -> GraphEdge {
        GraphEdge {
            from: from.into(),
            to: to.into(),
            kind: "spouse".into(),
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn nodes_sit_on_the_ring_of_their_hops_from_the_client() {
        let graph = Graph {
            nodes: vec![
                node("persona:a", "persona"),
                node("person:b", "person"),
                node("interest:c", "interest"),
                node("person:far", "person"),
            ],
            edges: vec![
                edge("persona:a", "person:b"),
                edge("person:b", "interest:c"),
            ],
        };
        let depth = hops(&graph, "persona:a");
        assert_eq!(
            (depth["persona:a"], depth["person:b"], depth["interest:c"]),
            (0, 1, 2)
        );
        assert!(
            !depth.contains_key("person:far"),
            "an unconnected node is not drawn"
        );
        let svg = neighbourhood(&graph, "persona:a").into_string();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<line").count(), 2);
    }
}
