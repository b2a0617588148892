//! A client book in from a CRM and kept in step with it: CSV imports (HubSpot, Salesforce, a
//! custom mapping) that can be repeated, records written by their external ids, likely duplicates
//! reported and never merged, and `persona.deleted` for the CRM to follow an erasure.

use reqwest::Method;
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::{
    enrichment::{enrich, wait_for},
    erasure::tables_holding,
    helpers::{Reply, Shape, TestApp, both_shapes, persona},
};

both_shapes!(a_crm_export_loads_once_and_again_unchanged);
both_shapes!(records_are_written_and_found_by_their_external_ids);
both_shapes!(likely_duplicates_are_reported_and_never_merged);
both_shapes!(a_deleted_client_is_announced_by_its_ids_alone);
both_shapes!(two_records_of_one_client_merge_with_what_each_knew);

const HUBSPOT_CSV: &str = "Record ID,First Name,Last Name,Email,Phone Number,City,Contact owner,Lifecycle Stage,Notes\n\
    51,Harrison,Vale,H.Vale@Example.com,+1 (310) 555-0100,Malibu,Jane Agent,customer,Client: our budget is now up to $40M.\n\
    52,Ada,Stone,not-an-address,,Aspen,Jane Agent,lead,\n\
    53,Corinne,Ashby,c.ashby@example.com,,Palm Beach,Jane Agent,opportunity,\n";

async fn import_csv(app: &TestApp, key: &str, query: &str, csv: &str) -> Reply {
    let request = app
        .client()
        .post(format!("{}/api/v1/personas/import{query}", app.base))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv.to_owned());
    app.raw(request).await
}

/// The problem's type, its last segment (`not-found`).
fn problem(reply: &Reply, status: u16) -> String {
    let kind = reply.problem(status);
    kind.rsplit('/').next().unwrap_or_default().to_owned()
}

fn outcomes(report: &Value) -> Vec<(u64, String)> {
    report["imported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["line"].as_u64().unwrap(),
                row["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_crm_export_loads_once_and_again_unchanged(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let first = import_csv(&app, &app.key, "", HUBSPOT_CSV).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let report = &first.body;
    assert_eq!(report["mapping"], "hubspot");
    assert_eq!(report["source"], "hubspot");
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        outcomes(report),
        [(2, "created".to_owned()), (4, "created".to_owned())]
    );
    assert_eq!(report["errors"][0]["line"], 3);
    let reason = report["errors"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("`/contact/email` is not an email address"),
        "{reason}"
    );
    assert_eq!(
        report["kept_as_public_info"],
        json!(["Contact owner", "Lifecycle Stage"])
    );

    // The row's client, found by their HubSpot id, with what the export said.
    let vale = app.get("/api/v1/personas/by-external-id/hubspot/51").await;
    assert_eq!(vale.status, 200, "{}", vale.body);
    let id = vale.body["id"].as_str().unwrap().to_owned();
    assert_eq!(vale.body["name"], "Harrison Vale");
    assert_eq!(vale.body["contact"]["phone"], "+1 (310) 555-0100");
    assert_eq!(vale.body["demographics"]["location"]["city"], "Malibu");
    assert_eq!(vale.body["external_ids"], json!({ "hubspot": "51" }));
    // The notes were learned from; the unmapped columns kept as public information.
    let run = report["imported"][0]["enrichment_id"].as_str().unwrap();
    let learned = wait_for(&app, &format!("/api/v1/personas/{id}/enrichments/{run}")).await;
    assert_eq!(learned["status"], "completed", "{learned}");
    let kinds: Vec<&str> = learned["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"note") && kinds.contains(&"public_info"),
        "{learned}"
    );
    let enriched = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(enriched["preferences"]["budget"]["max"], 4e7, "{enriched}");

    // The same file again: nothing changes, nothing is learned twice.
    let again = import_csv(&app, &app.key, "", HUBSPOT_CSV).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["created"], 0, "{}", again.body);
    assert_eq!(
        outcomes(&again.body),
        [(2, "unchanged".to_owned()), (4, "unchanged".to_owned())]
    );
    assert!(again.body["imported"][0]["enrichment_id"].is_null());
    let version = app.get(&format!("/api/v1/personas/{id}")).await.body["version"].clone();

    // A changed row updates its client: a new version, what enrichment learned kept.
    let moved = HUBSPOT_CSV.replace("Malibu", "Montecito");
    let updated = import_csv(&app, &app.key, "", &moved).await;
    assert_eq!(outcomes(&updated.body)[0], (2, "updated".to_owned()));
    let now = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(now["demographics"]["location"]["city"], "Montecito");
    assert_eq!(now["version"], version.as_i64().unwrap() + 1);
    assert_eq!(now["preferences"]["budget"]["max"], 4e7);

    // A Salesforce export: its ids under `salesforce`; the same email finds the stored client.
    let salesforce = "Contact ID,FirstName,LastName,Email,MailingCity,Title\n\
        003A000001,Harrison,Vale,h.vale@example.com,Montecito,Investor\n\
        003A000002,Ines,Marlow,,Gstaad,Collector\n";
    let sf = import_csv(&app, &app.key, "", salesforce).await;
    assert_eq!(sf.status, 200, "{}", sf.body);
    assert_eq!(sf.body["mapping"], "salesforce");
    assert_eq!(
        outcomes(&sf.body),
        [(2, "updated".to_owned()), (3, "created".to_owned())]
    );
    let both = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(
        both["external_ids"],
        json!({ "hubspot": "51", "salesforce": "003A000001" })
    );
    assert_eq!(both["demographics"]["occupation"], "Investor");

    // A custom mapping, and the mistakes a person makes with one.
    let custom = "Client,Town,E-mail\nOtto Brandt,Zurich,otto@example.ch\n";
    let mapped = import_csv(
        &app,
        &app.key,
        "?mapping=custom&columns=Client%3Dname,Town%3Dcity,E-mail%3Demail",
        custom,
    )
    .await;
    assert_eq!(mapped.status, 200, "{}", mapped.body);
    assert_eq!(mapped.body["created"], 1, "{}", mapped.body);
    let unmapped = import_csv(&app, &app.key, "", custom).await;
    assert_eq!(problem(&unmapped, 422), "validation-failed");
    assert!(
        unmapped.body["detail"]
            .as_str()
            .unwrap()
            .contains("its columns: Client, Town, E-mail")
    );
    let wrong_field = import_csv(&app, &app.key, "?columns=Client%3Dnom", custom).await;
    assert_eq!(problem(&wrong_field, 422), "validation-failed");
    let id_without_source =
        import_csv(&app, &app.key, "?mapping=troupe", "id,name\n7,Ann Lee\n").await;
    assert_eq!(
        id_without_source.body["failed"], 1,
        "{}",
        id_without_source.body
    );

    // A JSON import: personas as POST takes them; an unknown field fails its row only.
    let rows = json!([
        { "name": "Ines Marlow-Quay", "external_ids": { "crm": "77" }, "notes": "Prefers lake views." },
        { "name": "Bad Row", "budget": { "max": 1 } }
    ]);
    let json_import = app.post("/api/v1/personas/import", &rows).await;
    assert_eq!(json_import.status, 200, "{}", json_import.body);
    assert_eq!(json_import.body["created"], 1, "{}", json_import.body);
    assert_eq!(json_import.body["errors"][0]["line"], 2);
    let reason = json_import.body["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("`/budget` is not a field"), "{reason}");
    let mapped_json = app
        .post("/api/v1/personas/import?mapping=hubspot", &rows)
        .await;
    assert_eq!(problem(&mapped_json, 422), "validation-failed");

    // Contact details are stored only sealed.
    let holding = tables_holding(&app, shape, "h.vale@example.com", None).await;
    assert_eq!(
        holding,
        Vec::<String>::new(),
        "the email address in plaintext"
    );
    let holding = tables_holding(&app, shape, "555-0100", None).await;
    assert_eq!(
        holding,
        Vec::<String>::new(),
        "the phone number in plaintext"
    );
}

async fn records_are_written_and_found_by_their_external_ids(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let path = "/api/v1/personas/by-external-id/hubspot/901";
    let mut client = persona("Lucia Ferrand", "finance", &["wine cellar"], &[], 30e6);
    client["visibility"] = json!("private");
    let put = |key: String, path: String, body: Value| {
        let app = &app;
        async move {
            app.request(Method::PUT, &path, Some(&key), Some(&body))
                .await
        }
    };
    let created = put(app.key.clone(), path.into(), client.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["outcome"], "created");
    assert_eq!(created.body["external_ids"], json!({ "hubspot": "901" }));
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/api/v1/personas/{id}")
    );

    // A CRM's sync names a few fields: the rest stays as agents and enrichment left it.
    let renamed = put(
        app.key.clone(),
        path.into(),
        json!({ "name": "Lucia Ferrand-Okafor" }),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["outcome"], "updated");
    assert_eq!(renamed.body["version"], 2);
    assert_eq!(
        renamed.body["preferences"]["features"],
        json!(["wine cellar"])
    );
    let same = put(
        app.key.clone(),
        path.into(),
        json!({ "name": "Lucia Ferrand-Okafor" }),
    )
    .await;
    assert_eq!(
        (same.status.as_u16(), same.body["outcome"].as_str()),
        (200, Some("unchanged"))
    );
    // A CRM's blank fields ("" for a contact it has no number for) are no number, not a 422.
    let blanks = put(
        app.key.clone(),
        path.into(),
        json!({ "contact": { "email": "", "phone": " " } }),
    )
    .await;
    assert_eq!(blanks.body["outcome"], "unchanged", "{}", blanks.body);
    let found = app.get(path).await;
    assert_eq!(found.body["id"], id.as_str());

    // Bad input is named; nothing changes.
    let unknown = put(app.key.clone(), path.into(), json!({ "nmae": "x" })).await;
    assert_eq!(problem(&unknown, 400), "invalid-body");
    let bad_source = put(
        app.key.clone(),
        "/api/v1/personas/by-external-id/Hub%20Spot/1".into(),
        json!({}),
    )
    .await;
    assert_eq!(problem(&bad_source, 422), "validation-failed");
    let other_id = put(
        app.key.clone(),
        path.into(),
        json!({ "external_ids": { "hubspot": "902" } }),
    )
    .await;
    assert_eq!(problem(&other_id, 422), "validation-failed");
    let taken = app
        .post(
            "/api/v1/personas",
            &json!({ "name": "Copy", "external_ids": { "hubspot": "901" } }),
        )
        .await;
    assert_eq!(problem(&taken, 409), "conflict");
    assert!(
        taken.body["detail"]
            .as_str()
            .unwrap()
            .contains("hubspot id \"901\"")
    );

    // Another agent of the brokerage: the private client is not theirs to see or change.
    let colleague = app
        .key_for("Acme Realty", Some("West"), "other-agent", Role::Agent)
        .await;
    let hidden = app.request(Method::GET, path, Some(&colleague), None).await;
    assert_eq!(problem(&hidden, 404), "not-found");
    let refused = put(colleague.clone(), path.into(), json!({ "name": "Hijack" })).await;
    assert_eq!(problem(&refused, 409), "conflict");
    // Another brokerage has its own HubSpot: the same id is another client there.
    let rival = app
        .key_for("Rival Realty", None, "rival", Role::BrokerageAdmin)
        .await;
    let theirs = app.request(Method::GET, path, Some(&rival), None).await;
    assert_eq!(problem(&theirs, 404), "not-found");
    let own = put(
        rival.clone(),
        path.into(),
        json!({ "name": "Rival's client" }),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_ne!(own.body["id"], id.as_str());
    let mine = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(mine["name"], "Lucia Ferrand-Okafor");

    // Listings by their MLS number: created, unchanged, replaced, found.
    let listing_path = "/api/v1/properties/by-external-id/mls/A-77";
    let mut listing = crate::helpers::listing();
    let made = put(app.key.clone(), listing_path.into(), listing.clone()).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["external_ids"], json!({ "mls": "A-77" }));
    let again = put(app.key.clone(), listing_path.into(), listing.clone()).await;
    assert_eq!(again.body["outcome"], "unchanged", "{}", again.body);
    listing["price"] = json!(21_500_000);
    listing["external_ids"] = json!({ "salesforce": "a0B9" });
    let cut = put(app.key.clone(), listing_path.into(), listing).await;
    assert_eq!(cut.body["outcome"], "updated", "{}", cut.body);
    assert_eq!(
        cut.body["external_ids"],
        json!({ "mls": "A-77", "salesforce": "a0B9" })
    );
    let by_salesforce = app
        .get("/api/v1/properties/by-external-id/salesforce/a0B9")
        .await;
    assert_eq!(by_salesforce.body["price"], 21_500_000.0);
    let elsewhere = app
        .request(Method::GET, listing_path, Some(&rival), None)
        .await;
    assert_eq!(problem(&elsewhere, 404), "not-found");

    // A match names both records' ids in other systems, for a CRM flow to act on its own.
    let run = app
        .post(
            "/api/v1/matching/property-to-clients",
            &json!({ "property_id": made.body["id"], "min_score": 0.0 }),
        )
        .await;
    assert_eq!(run.status, 202, "{}", run.body);
    let run_id = run.body["id"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    while app.get(&format!("/api/v1/matching/{run_id}")).await.body["status"] != "completed" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the match run did not complete"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let events = app.events().await;
    let completed = events
        .iter()
        .find(|e| e.kind == "matching.completed" && e.payload["run_id"] == run_id.as_str())
        .expect("matching.completed");
    let ours = completed.payload["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["persona_id"] == id.as_str())
        .unwrap_or_else(|| panic!("the client matched: {}", completed.payload));
    assert_eq!(ours["persona_external_ids"], json!({ "hubspot": "901" }));
    assert_eq!(
        ours["property_external_ids"],
        json!({ "mls": "A-77", "salesforce": "a0B9" })
    );
}

async fn likely_duplicates_are_reported_and_never_merged(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    // Alice's own clients, private: no one else compares against them.
    let mut first = persona("Harrison Vale", "finance", &[], &[], 30e6);
    first["visibility"] = json!("private");
    first["contact"] = json!({ "email": "harrison@vale.example", "phone": "+1 310 555 0100" });
    first["demographics"]["location"] = json!({ "city": "Malibu" });
    let first = app.create_persona(&first).await;
    assert!(first.get("warnings").is_none(), "{first}");
    let first_id = first["id"].as_str().unwrap();

    let mut same_phone = persona("Someone Else", "finance", &[], &[], 30e6);
    same_phone["visibility"] = json!("private");
    same_phone["contact"] = json!({ "phone": "(310) 555-0100" });
    let second = app.create_persona(&same_phone).await;
    assert_eq!(second["warnings"][0]["persona_id"], first_id, "{second}");
    assert_eq!(
        second["warnings"][0]["reasons"],
        json!(["the same phone number"])
    );

    let mut close = persona("H. Vale", "finance", &[], &[], 30e6);
    close["visibility"] = json!("private");
    close["demographics"]["location"] = json!({ "city": "malibu" });
    let third = app.create_persona(&close).await;
    let reasons = third["warnings"][0]["reasons"][0].as_str().unwrap();
    assert!(
        reasons.starts_with("a close name (\"Harrison Vale\")"),
        "{third}"
    );

    // Found by email, in any case, though the address is stored only sealed.
    let by_email = app
        .get("/api/v1/personas?email=HARRISON@Vale.example")
        .await;
    assert_eq!(by_email.status, 200, "{}", by_email.body);
    assert_eq!(
        by_email.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        by_email.body
    );
    assert_eq!(by_email.body["items"][0]["id"], first_id);
    let not_an_address = app.get("/api/v1/personas?email=harrison").await;
    assert_eq!(problem(&not_an_address, 422), "validation-failed");

    let listed = app.get("/api/v1/personas/duplicates").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let pairs = listed.body["items"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "{}", listed.body);
    assert!(pairs.iter().all(|p| p["persona_ids"][0] == first_id));
    // Nothing was merged: three clients.
    assert_eq!(
        app.get("/api/v1/personas").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Agents who see none of them (private to other agents) are told of none.
    let private = json!({ "name": "Harrison Vale", "visibility": "private",
        "contact": { "email": "harrison@vale.example" } });
    let owner = app
        .key_for("Acme Realty", Some("East"), "owner", Role::Agent)
        .await;
    let hidden = app
        .request(
            Method::POST,
            "/api/v1/personas",
            Some(&owner),
            Some(&private),
        )
        .await;
    assert_eq!(hidden.status, 201, "{}", hidden.body);
    let outsider = app
        .key_for("Acme Realty", Some("West"), "outsider", Role::Agent)
        .await;
    let mine = app
        .request(Method::POST, "/api/v1/personas", Some(&outsider), Some(&json!({ "name": "Harrison Vale", "visibility": "private", "contact": { "email": "HARRISON@vale.example" } })))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    assert!(mine.body.get("warnings").is_none(), "{}", mine.body);
    let theirs = app
        .request(
            Method::GET,
            "/api/v1/personas/duplicates",
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(theirs.body["items"], json!([]), "{}", theirs.body);
    let bad = app
        .post(
            "/api/v1/personas",
            &json!({ "name": "X", "contact": { "phone": "12" } }),
        )
        .await;
    assert_eq!(problem(&bad, 422), "validation-failed");
}

async fn a_deleted_client_is_announced_by_its_ids_alone(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let created = app
        .request(
            Method::PUT,
            "/api/v1/personas/by-external-id/salesforce/003X",
            Some(&app.key),
            Some(
                &json!({ "name": "Zelda Marchetti", "contact": { "email": "zelda@example.com" } }),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // An admin answering an erasure request erases at once (a deletion waits for its window).
    let admin = app
        .key_for("Acme Realty", None, "root", Role::BrokerageAdmin)
        .await;
    let gone = app
        .request(
            Method::DELETE,
            &format!("/api/v1/personas/{id}?erase=now"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let events = app.events().await;
    let deleted: Vec<&Value> = events
        .iter()
        .filter(|e| e.kind == "persona.deleted")
        .map(|e| &e.payload)
        .collect();
    assert_eq!(
        deleted,
        [&json!({ "persona_id": id, "external_ids": { "salesforce": "003X" } })]
    );
    // The id is free for a new client; nothing else of the old one remains.
    let found = app
        .get("/api/v1/personas/by-external-id/salesforce/003X")
        .await;
    assert_eq!(problem(&found, 404), "not-found");
    assert_eq!(
        tables_holding(&app, shape, "Zelda", None).await,
        Vec::<String>::new()
    );
}

async fn two_records_of_one_client_merge_with_what_each_knew(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let kept = app
        .create_persona(&json!({
            "name": "Harrison Vale", "visibility": "team",
            "demographics": { "location": { "city": "Malibu" } },
            "preferences": { "features": ["wine cellar"] },
            "contact": { "email": "harrison@vale.example" },
            "external_ids": { "hubspot": "51" }
        }))
        .await;
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let other = app
        .create_persona(&json!({
            "name": "H. Vale", "visibility": "team",
            "biography": "Sold his fund in 2026.",
            "demographics": { "location": { "city": "Malibu" } },
            "preferences": { "features": ["ocean views"] },
            "contact": { "phone": "+1 310 555 0100" },
            "external_ids": { "salesforce": "003A" }
        }))
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    assert_eq!(other["warnings"][0]["persona_id"], kept_id.as_str());
    // What the second record learned, and what happened with them.
    let learned = enrich(
        &app,
        &other_id,
        &json!({ "internal_notes": "Client: our budget is now up to $40M." }),
    )
    .await;
    assert_eq!(learned["status"], "completed");
    let property = app.create_property(&crate::helpers::listing()).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let showing = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "showing", "occurred_on": today, "property_id": property["id"],
                     "persona_id": other_id, "reaction": 4 }),
        )
        .await;
    assert_eq!(showing.status, 201, "{}", showing.body);
    // A spouse's record names the second one.
    let spouse = app
        .create_persona(&json!({
            "name": "Eleanor Vale", "visibility": "team",
            "knowledge_graph": { "relationships": [{ "type": "spouse", "persona_id": other_id }] }
        }))
        .await;
    let spouse_id = spouse["id"].as_str().unwrap().to_owned();

    // Refusals first: nothing changes.
    let merge = |key: String, from: String, body: Value| {
        let app = &app;
        async move {
            app.request(
                Method::POST,
                &format!("/api/v1/personas/{from}/merge"),
                Some(&key),
                Some(&body),
            )
            .await
        }
    };
    let itself = merge(app.key.clone(), kept_id.clone(), json!({ "into": kept_id })).await;
    assert_eq!(problem(&itself, 422), "validation-failed");
    let typo = merge(app.key.clone(), other_id.clone(), json!({ "int": kept_id })).await;
    assert_eq!(problem(&typo, 400), "invalid-body");
    let teammate = app
        .key_for("Acme Realty", Some("West"), "bob", Role::Agent)
        .await;
    let not_theirs = merge(teammate, other_id.clone(), json!({ "into": kept_id })).await;
    assert_eq!(problem(&not_theirs, 403), "forbidden");
    let outsider = app
        .key_for("Acme Realty", Some("East"), "eve", Role::Agent)
        .await;
    let unseen = merge(outsider, other_id.clone(), json!({ "into": kept_id })).await;
    assert_eq!(problem(&unseen, 404), "not-found");
    let rival = app
        .key_for("Rival Realty", None, "mallory", Role::BrokerageAdmin)
        .await;
    let foreign = merge(rival, other_id.clone(), json!({ "into": kept_id })).await;
    assert_eq!(problem(&foreign, 404), "not-found");
    let clash = app
        .create_persona(&json!({ "name": "Harrison Vale", "external_ids": { "hubspot": "99" } }))
        .await;
    let clashing = merge(
        app.key.clone(),
        clash["id"].as_str().unwrap().into(),
        json!({ "into": kept_id }),
    )
    .await;
    assert_eq!(problem(&clashing, 409), "conflict");
    assert!(
        clashing.body["detail"]
            .as_str()
            .unwrap()
            .contains("both records hold a hubspot id")
    );

    let merged = merge(
        app.key.clone(),
        other_id.clone(),
        json!({ "into": kept_id }),
    )
    .await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    let body = &merged.body;
    assert_eq!(body["id"], kept_id.as_str());
    assert_eq!(body["name"], "Harrison Vale");
    assert_eq!(body["biography"], "Sold his fund in 2026.");
    assert_eq!(
        body["preferences"]["features"],
        json!(["wine cellar", "ocean views"])
    );
    assert_eq!(
        body["external_ids"],
        json!({ "hubspot": "51", "salesforce": "003A" })
    );
    assert_eq!(
        body["contact"],
        json!({ "email": "harrison@vale.example", "phone": "+1 310 555 0100" })
    );
    assert_eq!(body["version"], kept["version"].as_i64().unwrap() + 1);

    // The other record is gone; everything it held is the kept one's.
    let gone = app.get(&format!("/api/v1/personas/{other_id}")).await;
    assert_eq!(problem(&gone, 404), "not-found");
    let by_salesforce = app
        .get("/api/v1/personas/by-external-id/salesforce/003A")
        .await;
    assert_eq!(by_salesforce.body["id"], kept_id.as_str());
    let facts = app
        .get(&format!("/api/v1/personas/{kept_id}/facts"))
        .await
        .body;
    assert!(
        !facts.as_array().unwrap().is_empty(),
        "the facts learned about them moved: {facts}"
    );
    let history = app
        .get(&format!("/api/v1/personas/{kept_id}/history"))
        .await
        .body;
    assert_eq!(history[0]["change"], "merged", "{history}");
    let outcomes = app
        .get(&format!("/api/v1/outcomes?persona_id={kept_id}"))
        .await;
    assert_eq!(
        outcomes.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        outcomes.body
    );
    // The spouse's relationship names the kept record now, and their record still round-trips.
    let spouse = app.get(&format!("/api/v1/personas/{spouse_id}")).await.body;
    assert_eq!(
        spouse["knowledge_graph"]["relationships"][0]["persona_id"],
        kept_id.as_str(),
        "{spouse}"
    );
    let mut edited = spouse.clone();
    edited["biography"] = json!("Chairs the museum board.");
    edited.as_object_mut().unwrap().remove("conditions");
    let round_trip = app
        .request(
            Method::PUT,
            &format!("/api/v1/personas/{spouse_id}"),
            Some(&app.key),
            Some(&edited),
        )
        .await;
    assert_eq!(round_trip.status, 200, "{}", round_trip.body);
    let duplicates = app.get("/api/v1/personas/duplicates").await;
    let pairs = duplicates.body["items"].as_array().unwrap();
    assert!(
        pairs
            .iter()
            .all(|p| !p["persona_ids"].to_string().contains(&other_id)),
        "{}",
        duplicates.body
    );

    // Told to a CRM: the kept record changed, the other went into it. Audited.
    let events = app.events().await;
    let of = |kind: &str, subject: &str| {
        events
            .iter()
            .filter(|e| e.kind == kind && e.payload["persona_id"] == subject)
            .map(|e| e.payload.clone())
            .collect::<Vec<Value>>()
    };
    assert_eq!(
        of("persona.deleted", &other_id),
        [
            json!({ "persona_id": other_id, "external_ids": { "salesforce": "003A" }, "merged_into": kept_id })
        ]
    );
    let updated = of("persona.updated", &kept_id);
    assert_eq!(updated.last().unwrap()["merged"], other_id.as_str());
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let audit = app
        .request(
            Method::GET,
            "/api/v1/audit?action=persona.merged",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        audit.body["items"][0]["subject_id"],
        kept_id.as_str(),
        "{}",
        audit.body
    );
    assert_eq!(
        audit.body["items"][0]["detail"]["merged"],
        other_id.as_str()
    );
}
