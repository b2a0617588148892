//! The knowledge graph: relationships, interests and past properties become nodes and edges,
//! read with recursive SQL to a depth, and a path query finds how two clients are connected —
//! only ever through personas the caller may see.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona};

both_shapes!(
    clients_connect_through_referrals_and_shared_advisors,
    a_relationship_names_only_a_client_the_caller_can_see
);

fn with_graph(name: &str, visibility: &str, graph: Value) -> Value {
    let mut body = persona(name, "finance", &["wine cellar"], &[], 3e7);
    body["visibility"] = json!(visibility);
    body["knowledge_graph"] = graph;
    body
}

fn keys(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

async fn clients_connect_through_referrals_and_shared_advisors(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    // Cora and Ben share an advisor; Ben referred Ava; Ava keeps a private note of Dan.
    let cora = app
        .create_persona(&with_graph(
            "Cora",
            "brokerage",
            json!({
                "relationships": [{ "type": "advisor", "name": "Marta Ruiz" }],
                "interests": ["sailing"],
            }),
        ))
        .await;
    let ben = app
        .create_persona(&with_graph("Ben", "brokerage", json!({
            "relationships": [{ "type": "advisor", "name": "Marta Ruiz" }],
            "past_properties": [{ "title": "12 Ocean Drive", "relation": "bought", "date": "2019-05-01", "price": 18000000 }],
        })))
        .await;
    let dan = app
        .create_persona(&with_graph("Dan", "private", json!({})))
        .await;
    let ava = app
        .create_persona(&with_graph(
            "Ava",
            "brokerage",
            json!({
                "relationships": [
                    { "type": "referral", "persona_id": ben["id"], "name": "Ben" },
                    { "type": "spouse", "persona_id": dan["id"], "name": "Dan" }
                ],
            }),
        ))
        .await;
    let id = |p: &Value| p["id"].as_str().unwrap().to_owned();

    let near = app
        .get(&format!("/api/v1/personas/{}/graph?depth=1", id(&ava)))
        .await;
    assert_eq!(near.status, 200, "{}", near.body);
    let mut expected = vec![
        format!("persona:{}", id(&ava)),
        format!("persona:{}", id(&ben)),
        format!("persona:{}", id(&dan)),
    ];
    expected.sort();
    assert_eq!(keys(&near.body["nodes"]), expected);
    let far = app
        .get(&format!("/api/v1/personas/{}/graph?depth=3", id(&ava)))
        .await;
    let far_keys = keys(&far.body["nodes"]);
    for key in ["person:marta ruiz", "property:12 ocean drive"] {
        assert!(far_keys.contains(&key.to_owned()), "{far_keys:?}");
    }
    assert!(
        far_keys.contains(&format!("persona:{}", id(&cora))),
        "{far_keys:?}"
    );
    let ocean = far.body["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == "property:12 ocean drive")
        .unwrap();
    assert_eq!(ocean["detail"]["price"], 18000000);

    // Ava → (referral) Ben → (advisor) Marta Ruiz ← (advisor) Cora.
    let path = app
        .get(&format!("/api/v1/personas/{}/path/{}", id(&ava), id(&cora)))
        .await;
    assert_eq!(path.status, 200, "{}", path.body);
    let hops: Vec<&str> = path.body["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(hops, ["referral", "advisor", "advisor"]);
    let labels: Vec<&str> = path.body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Ava", "Ben", "Marta Ruiz", "Cora"]);
    let too_short = app
        .get(&format!(
            "/api/v1/personas/{}/path/{}?max_depth=2",
            id(&ava),
            id(&cora)
        ))
        .await;
    assert_eq!(too_short.body["edges"], json!([]));

    // Another agent sees the brokerage's graph but not the private Dan in it.
    let colleague = app
        .key_for("Acme Realty", Some("East"), "otto", Role::Agent)
        .await;
    let seen = app
        .request(
            Method::GET,
            &format!("/api/v1/personas/{}/graph?depth=2", id(&ava)),
            Some(&colleague),
            None,
        )
        .await;
    assert!(!keys(&seen.body["nodes"]).contains(&format!("persona:{}", id(&dan))));
    assert!(!seen.body.to_string().contains("spouse"));
    let hidden = app
        .request(
            Method::GET,
            &format!("/api/v1/personas/{}/path/{}", id(&ava), id(&dan)),
            Some(&colleague),
            None,
        )
        .await;
    assert_eq!(hidden.problem(404), "https://troupe.dev/problems/not-found");
    let too_deep = app
        .get(&format!("/api/v1/personas/{}/graph?depth=9", id(&ava)))
        .await;
    assert!(too_deep.status.is_client_error());

    // Editing the record re-derives the graph.
    let mut changed = ava.clone();
    changed["knowledge_graph"] = json!({ "interests": ["polo"] });
    let updated = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{}", id(&ava)),
            Some(&app.key),
            Some(&changed),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let after = app
        .get(&format!("/api/v1/personas/{}/graph?depth=1", id(&ava)))
        .await;
    assert_eq!(
        keys(&after.body["nodes"]),
        ["interest:polo".to_owned(), format!("persona:{}", id(&ava))]
    );
}

async fn a_relationship_names_only_a_client_the_caller_can_see(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let rival = app
        .key_for("Rival Estates", None, "mallory", Role::Agent)
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/personas",
            Some(&rival),
            Some(&with_graph("Their Client", "brokerage", json!({}))),
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let theirs = theirs.body["id"].as_str().unwrap().to_owned();
    let colleague = app
        .key_for("Acme Realty", Some("East"), "carol", Role::Agent)
        .await;
    let hidden = app
        .request(
            Method::POST,
            "/api/v1/personas",
            Some(&colleague),
            Some(&with_graph("Carol's Private Client", "private", json!({}))),
        )
        .await;
    let hidden = hidden.body["id"].as_str().unwrap().to_owned();
    let mine = app
        .create_persona(&with_graph("Odile Marsh", "brokerage", json!({})))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for (other, what) in [
        (&theirs, "another brokerage's"),
        (&hidden, "a colleague's private"),
    ] {
        let body = with_graph(
            "Zeb Vale",
            "brokerage",
            json!({ "relationships": [
                { "type": "spouse", "persona_id": mine },
                { "type": "referral", "persona_id": other }
            ] }),
        );
        let reply = app.post("/api/v1/personas", &body).await;
        reply.problem(422);
        let errors = reply.body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{what}: {}", reply.body);
        assert_eq!(
            errors[0]["pointer"], "/knowledge_graph/relationships/1/persona_id",
            "{what}"
        );
    }
    let fine = with_graph(
        "Zeb Vale",
        "brokerage",
        json!({ "relationships": [{ "type": "spouse", "persona_id": mine }] }),
    );
    let zeb = app.create_persona(&fine).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let graph = app.get(&format!("/api/v1/personas/{zeb}/graph")).await;
    assert!(
        keys(&graph.body["nodes"]).contains(&format!("persona:{mine}")),
        "{}",
        graph.body
    );
}
