//! A client's profile, and what simulations made of it, are stored only sealed; the book is still
//! searched, through keyed digests of the words of names and biographies, never by reading them.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::{
    enrichment::plaintext_found,
    helpers::{Shape, TestApp, both_shapes},
};

both_shapes!(a_client_profile_is_stored_only_sealed_and_found_by_its_words);
both_shapes!(a_profile_stored_in_the_clear_before_is_sealed_and_indexed_at_start);
both_shapes!(a_runs_answers_are_stored_only_sealed_and_read_back_whole);

/// What identifies or describes the client, each as it would show in a scan of the database.
const NEEDLES: [&str; 7] = [
    "Quillfeather",
    "$175M-$260M",
    "Montecito",
    "Thessaly",
    "Calloway Rhodes",
    "Larchmont Terrace",
    "87654321",
];

fn client(name: &str) -> Value {
    json!({
        "name": name,
        "segment": "tech_founders",
        "visibility": "private",
        "biography": "Collects Thessaly icons; sold his logistics firm in 2019.",
        "demographics": {
            "age_range": "55-60",
            "net_worth_range": "$175M-$260M",
            "location": { "city": "Montecito", "region": "California", "country": "USA" }
        },
        "preferences": { "features": ["wine cellar"], "budget": { "max": 87654321 } },
        "knowledge_graph": {
            "relationships": [{ "name": "Calloway Rhodes", "relation": "spouse" }],
            "past_properties": [{ "address": "12 Larchmont Terrace", "sold": 2021 }]
        },
        "contact": { "email": "harrison@quill.example" },
        "external_ids": { "hubspot": "4411" }
    })
}

fn names(reply: &crate::helpers::Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_client_profile_is_stored_only_sealed_and_found_by_its_words(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let created = app
        .create_persona(&client("Harrison Quillfeather Vale"))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    app.create_persona(
        &json!({ "name": "Valerie Stone", "segment": "finance", "visibility": "private" }),
    )
    .await;
    // An update makes a second version, sealed like the first.
    let mut changed = client("Harrison Quillfeather Vale");
    changed["biography"] = json!("Collects Thessaly icons and Byzantine maps.");
    let put = app
        .raw(
            app.client()
                .put(format!("{}/api/v1/personas/{id}", app.base))
                .bearer_auth(&app.key)
                .header("if-match", "\"1\"")
                .json(&changed),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);

    for needle in NEEDLES {
        assert_eq!(
            plaintext_found(&app, shape, needle).await,
            Vec::<String>::new(),
            "{needle} is stored in the clear"
        );
    }
    // Read back whole, versions too.
    let read = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(read["demographics"]["net_worth_range"], "$175M-$260M");
    assert_eq!(
        read["knowledge_graph"]["relationships"][0]["name"],
        "Calloway Rhodes"
    );
    assert_eq!(read["external_ids"]["hubspot"], "4411");
    let first = app.get(&format!("/api/v1/personas/{id}/versions/1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["profile"]["name"], "Harrison Quillfeather Vale");

    // Found by the start of any word of the name, or a whole word of the biography, any case.
    let vale = ["Harrison Quillfeather Vale"];
    let both = ["Harrison Quillfeather Vale", "Valerie Stone"];
    assert_eq!(names(&app.get("/api/v1/personas?q=Vale").await), both);
    assert_eq!(names(&app.get("/api/v1/personas?q=quill").await), vale);
    assert_eq!(
        names(&app.get("/api/v1/personas?q=HARR%20vale").await),
        vale
    );
    assert_eq!(names(&app.get("/api/v1/personas?q=byzantine").await), vale);
    assert_eq!(
        names(&app.get("/api/v1/personas?q=val%20stone").await),
        ["Valerie Stone"]
    );
    // The biography's old words went with the update; a word must be whole in a biography.
    assert!(names(&app.get("/api/v1/personas?q=logistics").await).is_empty());
    assert!(names(&app.get("/api/v1/personas?q=byzan").await).is_empty());
    assert!(names(&app.get("/api/v1/personas?q=quill%20stone").await).is_empty());
    let long = app.get("/api/v1/personas?q=a%20b%20c%20d%20e").await;
    long.problem(422);
    assert!(
        long.body["detail"]
            .as_str()
            .unwrap()
            .contains("up to 4 words"),
        "{}",
        long.body
    );
    // Another agent's search does not find a private client.
    let other = app
        .key_for("Acme Realty", Some("Other team"), "olga", Role::Agent)
        .await;
    let theirs = app
        .request(Method::GET, "/api/v1/personas?q=vale", Some(&other), None)
        .await;
    assert!(names(&theirs).is_empty());
    // Nor does another brokerage's admin, with the same digest key but another scope.
    let elsewhere = app
        .key_for("Other Realty", None, "oscar", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(
            Method::GET,
            "/api/v1/personas?q=vale",
            Some(&elsewhere),
            None,
        )
        .await;
    assert!(names(&theirs).is_empty());

    // After a key rotation everything is still sealed, read and found.
    let rotation = app.store().await.rotate_encryption_key().await.unwrap();
    assert!(rotation.resealed >= 2, "{rotation:?}");
    for needle in NEEDLES {
        assert_eq!(
            plaintext_found(&app, shape, needle).await,
            Vec::<String>::new()
        );
    }
    assert_eq!(names(&app.get("/api/v1/personas?q=quill").await), vale);
}

async fn a_profile_stored_in_the_clear_before_is_sealed_and_indexed_at_start(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let id: uuid::Uuid = app
        .create_persona(&client("Harrison Quillfeather Vale"))
        .await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // The rows as the release before wrote them: every field in the column, the contact details
    // alone sealed (here: none), graph edges naming their targets, no search digests; and the
    // marker its migration leaves.
    let legacy = "UPDATE personas SET profile = $1, sealed = NULL WHERE id = $2";
    let unindexed = "DELETE FROM persona_terms";
    let plain_graph = "UPDATE graph_edges SET label = 'Calloway Rhodes', target_key = 'person:calloway rhodes' WHERE kind = 'relationship'";
    let marker = "INSERT INTO plaintext_to_seal (pending) VALUES (TRUE)";
    let mut body = client("Harrison Quillfeather Vale");
    body.as_object_mut().unwrap().remove("contact");
    match shape {
        Shape::Distributed => {
            let pool = app.postgres().await;
            sqlx::query(legacy)
                .bind(sqlx::types::Json(&body))
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(unindexed).execute(&pool).await.unwrap();
            sqlx::query(plain_graph).execute(&pool).await.unwrap();
            sqlx::query(marker).execute(&pool).await.unwrap();
        }
        Shape::Embedded => {
            let pool = sqlx::SqlitePool::connect(&app.vars["TROUPE_DATABASE_URL"])
                .await
                .unwrap();
            sqlx::query(legacy)
                .bind(sqlx::types::Json(&body))
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(unindexed).execute(&pool).await.unwrap();
            sqlx::query(plain_graph).execute(&pool).await.unwrap();
            sqlx::query(marker).execute(&pool).await.unwrap();
        }
    }
    // The scan sees what the old release stored (so it would see a leak), and search misses it.
    for needle in NEEDLES {
        assert!(
            !plaintext_found(&app, shape, needle).await.is_empty(),
            "the scan finds {needle} before sealing"
        );
    }
    assert!(names(&app.get("/api/v1/personas?q=quill").await).is_empty());

    app.store().await; // a process starting: migrations, then the sealing
    for needle in NEEDLES {
        assert_eq!(
            plaintext_found(&app, shape, needle).await,
            Vec::<String>::new(),
            "{needle} is still in the clear after the start"
        );
    }
    assert_eq!(
        names(&app.get("/api/v1/personas?q=quill").await),
        ["Harrison Quillfeather Vale"]
    );
    let read = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(read["preferences"]["budget"]["max"], 87654321.0);
    assert_eq!(read["segment"], "tech_founders");
    let graph = app.get(&format!("/api/v1/personas/{id}/graph")).await;
    assert_eq!(graph.status, 200, "{}", graph.body);
    assert_eq!(graph.body["edges"][0]["to"], "person:calloway rhodes");
}

async fn a_runs_answers_are_stored_only_sealed_and_read_back_whole(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let id = app.create_persona(&client("Zebulon Quist")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let individual = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": id, "scenario": { "type": "call", "context": { "purpose": "check in" } } }),
        )
        .await;
    assert_eq!(individual.status, 202, "{}", individual.body);
    let run = individual.body["id"].as_str().unwrap().to_owned();
    let status = app
        .wait_for_final(&run, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(status["status"], "completed", "{status}");

    // Read back whole: the results, and the progress event that carried the answer.
    let results = app.get(&format!("/api/v1/simulations/{run}/results")).await;
    assert_eq!(results.status, 200, "{}", results.body);
    let answer = results.body["results"]["raw_responses"][0].clone();
    assert_eq!(answer["persona_name"], "Zebulon Quist", "{}", results.body);
    let said = answer["answer"].as_str().unwrap().to_owned();
    let events = app.events().await;
    let progress = events
        .iter()
        .find(|e| e.kind == "simulation.progress")
        .expect("a progress event");
    assert_eq!(
        progress.payload["answers"][0]["persona_name"],
        "Zebulon Quist"
    );

    // A match explains itself by the client's name and wishes, read back whole.
    let listed = app
        .create_property(&json!({
            "title": "Cellar House", "price": 2e7, "description": "A wine cellar by the sea.",
            "location": { "city": "Montecito", "region": "California" }, "features": ["wine cellar"]
        }))
        .await;
    let matched = crate::matching::matched(
        &app,
        "/api/v1/matching/property-to-clients",
        json!({ "property_id": listed["id"], "min_score": 0.0 }),
    )
    .await;
    let explanation = matched["recommendations"][0]["explanation"]
        .as_str()
        .unwrap();
    assert!(explanation.starts_with("Zebulon Quist scores"), "{matched}");

    // Stored: neither the name nor what the persona said, anywhere.
    for needle in ["Zebulon", said.as_str()] {
        assert_eq!(
            plaintext_found(&app, shape, needle).await,
            Vec::<String>::new(),
            "{needle:?} is stored in the clear"
        );
    }
}
