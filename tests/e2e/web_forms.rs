//! The workspace's forms over real HTTP: listings and clients added, changed, imported, exported
//! and deleted, restored and erased; marketing, outreach and one-client simulations started; teams, keys and webhooks
//! managed; and pages that answer in HTML when there is nothing at an address. Each form goes
//! through the API's own checks, so what the API refuses the page refuses, in words.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, listing, persona, seed};
use crate::receiver::Receiver;
use crate::web::{Person, browser, invite_and_accept, multipart, page, user_named};

both_shapes!(
    listings_are_added_edited_and_imported_from_pages,
    clients_are_added_edited_exported_and_deleted_from_pages,
    every_kind_of_simulation_starts_from_its_form,
    admins_manage_teams_keys_and_webhooks_from_pages,
    addresses_without_a_page_answer_in_html,
    the_nightly_feed_lists_each_nights_new_matches
);

/// Posts a form as a browser on the workspace's own origin does.
async fn post_form(
    app: &TestApp,
    who: &Person,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, Option<String>) {
    let response = browser()
        .post(format!("{}{path}", app.base))
        .header("cookie", &who.cookie)
        .header("origin", &app.base)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), location)
}

async fn signed_in(app: &TestApp, name: &str, role: Role, team: Option<&str>) -> (String, Person) {
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let key = app.key_for("Acme Realty", team, name, role).await;
    let id = user_named(app, &admin, name).await;
    let person = invite_and_accept(app, &admin, &id, &format!("{name}@acme.example")).await;
    (key, person)
}

fn listing_fields<'a>(csrf: &'a str, price: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("title", "Carbon Beach Modern"),
        (
            "description",
            "Glass house on the sand with a screening room.",
        ),
        ("price", price),
        ("currency", "USD"),
        ("city", "Malibu"),
        ("region", "California"),
        ("country", "USA"),
        ("property_type", "single_family"),
        ("bedrooms", "6"),
        ("year_built", "2019"),
        ("features", "screening room\r\nwine cellar\r\n"),
        (
            "photos",
            "https://example.com/deck.jpg Deck over the Pacific at dusk\r\nhttps://example.com/2.jpg",
        ),
        ("status", "active"),
    ]
}

async fn listings_are_added_edited_and_imported_from_pages(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    let (status, form) = page(&app, &alice.cookie, "/listings/new").await;
    assert_eq!(status, 200);
    assert!(form.contains("name=\"price\""), "{form}");

    let (status, refused, _) = post_form(
        &app,
        &alice,
        "/listings/new",
        &listing_fields(&alice.csrf, "lots"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("List price: &quot;lots&quot; is not a number."),
        "{refused}"
    );
    assert!(
        refused.contains("Carbon Beach Modern"),
        "what was typed is kept"
    );
    let (status, refused, _) = post_form(
        &app,
        &alice,
        "/listings/new",
        &listing_fields(&alice.csrf, "-5"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("List price:"),
        "the schema's refusal names the field: {refused}"
    );
    let (status, _, _) = post_form(
        &app,
        &alice,
        "/listings/new",
        &listing_fields("forged", "1"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        app.get("/api/v1/properties").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (status, _, location) = post_form(
        &app,
        &alice,
        "/listings/new",
        &listing_fields(&alice.csrf, "$42,500,000"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id = location
        .unwrap()
        .strip_prefix("/listings/")
        .unwrap()
        .to_owned();
    let stored = app.get(&format!("/api/v1/properties/{id}")).await.body;
    assert_eq!(stored["price"], 42_500_000.0);
    assert_eq!(stored["features"], json!(["screening room", "wine cellar"]));
    assert_eq!(
        stored["photos"][0]["description"],
        "Deck over the Pacific at dusk"
    );
    assert_eq!(stored["photos"][1]["url"], "https://example.com/2.jpg");
    assert_eq!(stored["year_built"], 2019);

    // What the form does not show (ids in other systems) survives an edit through it.
    let mut details = stored.clone();
    for service_field in [
        "id",
        "brokerage_id",
        "created_by",
        "created_at",
        "updated_at",
    ] {
        details.as_object_mut().unwrap().remove(service_field);
    }
    details["external_ids"] = json!({ "mls": "CB-1" });
    let put = app
        .request(
            Method::PUT,
            &format!("/api/v1/properties/{id}"),
            Some(&app.key),
            Some(&details),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let (status, edit) = page(&app, &alice.cookie, &format!("/listings/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(
        edit.contains("value=\"42500000\""),
        "the stored price is shown: {edit}"
    );
    let mut fields = listing_fields(&alice.csrf, "39500000");
    fields.retain(|(name, _)| *name != "status" && *name != "year_built");
    fields.push(("status", "under_contract"));
    let (status, _, _) = post_form(&app, &alice, &format!("/listings/{id}/edit"), &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let edited = app.get(&format!("/api/v1/properties/{id}")).await.body;
    assert_eq!(edited["price"], 39_500_000.0);
    assert_eq!(edited["status"], "under_contract");
    assert_eq!(edited["external_ids"], json!({ "mls": "CB-1" }));
    assert!(
        edited.get("year_built").is_none(),
        "an emptied field is removed"
    );

    // Another brokerage's listing has no page here.
    let other = app
        .key_for("Other Realty", None, "eve", Role::BrokerageAdmin)
        .await;
    let theirs = app
        .request(
            Method::POST,
            "/api/v1/properties",
            Some(&other),
            Some(&json!({ "price": 1e6, "title": "Theirs" })),
        )
        .await;
    let theirs = theirs.body["id"].as_str().unwrap();
    let (status, body) = page(&app, &alice.cookie, &format!("/listings/{theirs}/edit")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, _) =
        post_form(&app, &alice, &format!("/listings/{theirs}/edit"), &fields).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A RESO CSV: the good rows load, the bad one is named by its line.
    let csv = "ListingId,ListPrice,City,StateOrProvince,PublicRemarks\n\
               A-1,12500000,Aspen,CO,Ski-in estate\n\
               A-2,not-a-price,Aspen,CO,Chalet\n\
               A-3,8000000,Vail,CO,Lodge\n";
    let (content_type, body) = multipart(&[
        ("csrf", None, &alice.csrf),
        ("file", Some("feed.csv"), csv),
        ("csv", None, ""),
    ]);
    let imported = browser()
        .post(format!("{}/listings/import", app.base))
        .header("cookie", &alice.cookie)
        .header("origin", &app.base)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    let report = imported.text().await.unwrap();
    assert!(
        report.contains("Import: 2 new, 0 updated, 0 unchanged, 1 not imported"),
        "{report}"
    );
    assert!(
        report.contains("<td>3</td>"),
        "the bad row's line: {report}"
    );
    let listed = app.get("/api/v1/properties").await.body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
}

fn client_fields<'a>(csrf: &'a str, max: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("name", "Harrison Vale"),
        ("segment", "tech_executive"),
        ("occupation", "Founder"),
        ("net_worth", "$100M-$250M"),
        ("email", "h.vale@example.com"),
        ("locations", "Malibu\r\nAspen"),
        ("features", "wine cellar\r\nocean views"),
        ("deal_breakers", "no garage"),
        ("interests", "sailing"),
        ("budget_min", "30,000,000"),
        ("budget_max", max),
        ("visibility", "team"),
    ]
}

async fn clients_are_added_edited_exported_and_deleted_from_pages(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    let (_, bob) = signed_in(&app, "bob", Role::Agent, Some("West")).await;

    let (status, refused, _) = post_form(
        &app,
        &alice,
        "/clients/new",
        &client_fields(&alice.csrf, "fifty"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Budget up to: &quot;fifty&quot; is not a number."),
        "{refused}"
    );
    let (status, refused, _) = post_form(
        &app,
        &alice,
        "/clients/new",
        &client_fields(&alice.csrf, "20000000"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Budget:") && refused.contains("cannot exceed"),
        "{refused}"
    );
    let mut unnamed = client_fields(&alice.csrf, "50000000");
    unnamed.retain(|(n, _)| *n != "name");
    let (status, refused, _) = post_form(&app, &alice, "/clients/new", &unnamed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("a client needs a name"), "{refused}");
    assert!(
        app.get("/api/v1/personas").await.body["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (status, _, location) = post_form(
        &app,
        &alice,
        "/clients/new",
        &client_fields(&alice.csrf, "$50,000,000"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id = location
        .unwrap()
        .strip_prefix("/clients/")
        .unwrap()
        .to_owned();
    let stored = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(stored["visibility"], "team");
    assert_eq!(stored["preferences"]["budget"]["max"], 50_000_000.0);
    assert_eq!(stored["preferences"]["deal_breakers"], json!(["no garage"]));
    assert_eq!(stored["contact"]["email"], "h.vale@example.com");

    // The same email again: added, with the likely duplicate named.
    let mut twin = client_fields(&alice.csrf, "");
    twin[1] = ("name", "H. Vale");
    let (status, warned, _) = post_form(&app, &alice, "/clients/new", &twin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        warned.contains("This may be a client you already have"),
        "{warned}"
    );
    assert!(warned.contains(&format!("/clients/{id}")), "{warned}");

    // The page shows the graph the interests made, and offers the changes to its owner only.
    let (status, shown) = page(&app, &alice.cookie, &format!("/clients/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        shown.contains("data-chart=\"graph\"") && shown.contains("sailing"),
        "{shown}"
    );
    assert!(shown.contains(&format!("/clients/{id}/edit")));
    let (status, seen_by_bob) = page(&app, &bob.cookie, &format!("/clients/{id}")).await;
    assert_eq!(status, 200, "a team client");
    assert!(!seen_by_bob.contains(&format!("/clients/{id}/edit")));
    assert_eq!(
        page(&app, &bob.cookie, &format!("/clients/{id}/edit"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, _, _) = post_form(
        &app,
        &bob,
        &format!("/clients/{id}/delete"),
        &[("csrf", &bob.csrf), ("confirm", "Harrison Vale")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // An edit through the form: what it shows changes, an emptied field goes, the rest stays.
    let mut edit = client_fields(&alice.csrf, "60000000");
    edit.retain(|(n, _)| *n != "segment");
    edit.push(("version", "1"));
    let (status, _, _) = post_form(&app, &alice, &format!("/clients/{id}/edit"), &edit).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let edited = app.get(&format!("/api/v1/personas/{id}")).await.body;
    assert_eq!(edited["version"], 2);
    assert_eq!(edited["preferences"]["budget"]["max"], 60_000_000.0);
    assert!(edited.get("segment").is_none(), "{edited}");
    // A form based on version 1 no longer applies.
    let (status, stale, _) = post_form(&app, &alice, &format!("/clients/{id}/edit"), &edit).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(stale.contains("no longer at version 1"), "{stale}");

    let export = browser()
        .get(format!("{}/clients/{id}/export", app.base))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let exported: serde_json::Value = export.json().await.unwrap();
    assert_eq!(exported["persona"]["name"], "Harrison Vale");
    assert_eq!(exported["versions"].as_array().unwrap().len(), 2);

    // A team client is deleted by the team's lead (the brokerage's default), behind a
    // confirmation; its owner is told who may.
    assert!(!shown.contains(&format!("/clients/{id}/delete")), "{shown}");
    let (status, refused) = page(&app, &alice.cookie, &format!("/clients/{id}/delete")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.contains("team lead"), "{refused}");
    let (_, tess) = signed_in(&app, "tess", Role::TeamLead, Some("West")).await;
    let (status, shown_to_lead) = page(&app, &tess.cookie, &format!("/clients/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown_to_lead.contains(&format!("/clients/{id}/delete")));
    let (status, confirm) = page(&app, &tess.cookie, &format!("/clients/{id}/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("restore them within 30 days"), "{confirm}");
    assert!(
        !confirm.contains("Erase them now"),
        "only admins erase at once"
    );
    let (status, _, _) = post_form(
        &app,
        &tess,
        &format!("/clients/{id}/delete"),
        &[("csrf", &tess.csrf)],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not confirmed: nothing deleted"
    );
    assert_eq!(app.get(&format!("/api/v1/personas/{id}")).await.status, 200);
    let (status, gone, _) = post_form(
        &app,
        &tess,
        &format!("/clients/{id}/delete"),
        &[("csrf", &tess.csrf), ("confirm", "Harrison Vale")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(gone.contains("Harrison Vale was deleted"), "{gone}");
    assert!(gone.contains("can restore them until"), "{gone}");
    assert_eq!(app.get(&format!("/api/v1/personas/{id}")).await.status, 404);

    // The admin's page lists it, restores it, and erases it at once.
    let (_, boss) = signed_in(&app, "boss", Role::BrokerageAdmin, None).await;
    let (status, trash) = page(&app, &boss.cookie, "/admin/deleted-clients").await;
    assert_eq!(status, 200);
    assert!(
        trash.contains("A client shared with another team"),
        "the admin never saw the team's client, so its name stays hidden: {trash}"
    );
    assert!(!trash.contains("Harrison Vale"), "{trash}");
    assert_eq!(
        page(&app, &alice.cookie, "/admin/deleted-clients").await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _, location) = post_form(
        &app,
        &boss,
        &format!("/admin/deleted-clients/{id}/restore"),
        &[("csrf", &boss.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/admin/deleted-clients"));
    assert_eq!(app.get(&format!("/api/v1/personas/{id}")).await.status, 200);
    let (status, _, _) = post_form(
        &app,
        &tess,
        &format!("/clients/{id}/delete"),
        &[("csrf", &tess.csrf), ("confirm", "Harrison Vale")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = post_form(
        &app,
        &boss,
        &format!("/admin/deleted-clients/{id}/erase"),
        &[("csrf", &boss.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, trash) = page(&app, &boss.cookie, "/admin/deleted-clients").await;
    assert!(trash.contains("No deleted clients"), "{trash}");
    // The setting, from the same page.
    let (status, _, _) = post_form(
        &app,
        &boss,
        "/admin/settings/deletion",
        &[("csrf", &boss.csrf), ("deletion", "owner")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let settings = app.get("/api/v1/settings").await;
    assert_eq!(settings.body["deletion"], "owner");
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let audit = app
        .request(
            Method::GET,
            "/api/v1/audit?action=persona.exported",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        audit.body
    );
}

async fn every_kind_of_simulation_starts_from_its_form(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    seed(&app).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    let (status, chooser) = page(&app, &alice.cookie, "/simulations/new").await;
    assert_eq!(status, 200);
    for form in [
        "/simulations/new/focus-group",
        "/simulations/new/marketing",
        "/simulations/new/outreach",
        "/simulations/new/individual",
    ] {
        assert!(chooser.contains(form), "{form}");
        assert_eq!(page(&app, &alice.cookie, form).await.0, 200, "{form}");
    }
    let started = |location: Option<String>| {
        location
            .and_then(|l| l.strip_prefix("/simulations/").map(str::to_owned))
            .expect("the live page")
    };

    let mut marketing = vec![
        ("csrf", alice.csrf.as_str()),
        ("segment", "finance"),
        ("agents", "2"),
        ("iterations", "1"),
        ("m1_name", "Private preview"),
        ("m1_subject", "Before the market sees it"),
        (
            "m1_body",
            "A private preview of an Aspen estate with a wine cellar.",
        ),
    ];
    let (status, refused, _) =
        post_form(&app, &alice, "/simulations/new/marketing", &marketing).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Choose at least one channel."),
        "{refused}"
    );
    assert!(
        refused.contains("Private preview"),
        "what was typed is kept"
    );
    marketing.push(("channel", "email"));
    marketing.push(("channel", "whatsapp"));
    let (status, _, location) =
        post_form(&app, &alice, "/simulations/new/marketing", &marketing).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let marketing_id = started(location);

    let clients = app.get("/api/v1/personas").await.body;
    let ada = clients["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Ada")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let di = clients["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Di")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut outreach = vec![
        ("csrf", alice.csrf.as_str()),
        ("client", di.as_str()),
        ("goal", "Book a private viewing"),
        ("s1_name", "Soft"),
        ("s1_touches", "first email hello"),
    ];
    let (status, refused, _) =
        post_form(&app, &alice, "/simulations/new/outreach", &outreach).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Sequence 1, touch 1:") && refused.contains("does not start with the day"),
        "{refused}"
    );
    outreach[4] = (
        "s1_touches",
        "0 email A private preview\r\n7 phone A short call to offer a viewing",
    );
    let (status, _, location) =
        post_form(&app, &alice, "/simulations/new/outreach", &outreach).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let outreach_id = started(location);

    let listing = app.get("/api/v1/properties").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A focus group on a stored listing chosen here opens that listing's form; on one typed in,
    // it runs on what was typed, which is not added to the listings.
    let chosen = browser()
        .get(format!(
            "{}/simulations/new/focus-group?listing={listing}",
            app.base
        ))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        chosen.headers()["location"],
        format!("/listings/{listing}/focus-group").as_str()
    );
    let mut typed = vec![
        ("csrf", alice.csrf.as_str()),
        ("title", "Cliffside villa, Big Sur"),
        (
            "description",
            "A glass villa on the cliffs above the Pacific.",
        ),
        ("price", "twelve million"),
        ("currency", "USD"),
        ("city", "Big Sur"),
        ("segment", "finance"),
        (
            "questions",
            "Would you buy it?\r\nWhich matters most? [single_choice: The view; The privacy]",
        ),
        ("modifications", "Add a funicular to the beach"),
        ("agents", "2"),
        ("iterations", "1"),
    ];
    let (status, refused, _) =
        post_form(&app, &alice, "/simulations/new/focus-group", &typed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("List price") && refused.contains("Cliffside villa, Big Sur"),
        "the price is refused and what was typed kept: {refused}"
    );
    typed[3] = ("price", "$12,000,000");
    let (status, refused, location) =
        post_form(&app, &alice, "/simulations/new/focus-group", &typed).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{refused}");
    let typed_id = started(location);
    let listings = app.get("/api/v1/properties").await.body;
    assert_eq!(listings["items"].as_array().unwrap().len(), 1, "{listings}");

    let (status, form) = page(
        &app,
        &alice.cookie,
        &format!("/simulations/new/individual?client={ada}"),
    )
    .await;
    assert_eq!(status, 200);
    // The names a form offers are a read of the client book, audited as one.
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let listed = app
        .request(
            Method::GET,
            "/api/v1/audit?action=persona.listed",
            Some(&admin),
            None,
        )
        .await;
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["detail"]["via"] == "web"),
        "{}",
        listed.body
    );
    assert!(
        form.contains(&format!("value=\"{ada}\" selected")),
        "the client is chosen: {form}"
    );
    let individual = [
        ("csrf", alice.csrf.as_str()),
        ("client", ada.as_str()),
        ("scenario", "property_viewing"),
        ("listing", listing.as_str()),
        (
            "details",
            "A private showing of the cellar and the ski room.",
        ),
        ("notes", "Prefers mornings."),
    ];
    let (status, _, location) =
        post_form(&app, &alice, "/simulations/new/individual", &individual).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let individual_id = started(location);

    for (id, kind) in [
        (typed_id, "focus_group"),
        (marketing_id, "marketing"),
        (outreach_id, "intervention"),
        (individual_id, "individual"),
    ] {
        let status = app.wait_for_final(&id, Duration::from_secs(90)).await;
        assert_eq!(status["status"], "completed", "{kind}: {status}");
        let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
        assert_eq!(results.body["type"], kind, "{}", results.body);
        if kind == "focus_group" {
            assert_eq!(
                results.body["input_params"]["property"]["title"], "Cliffside villa, Big Sur",
                "{}",
                results.body
            );
            assert_eq!(
                results.body["input_params"]["property"]["price"],
                12_000_000.0
            );
        }
        if kind == "intervention" {
            assert_eq!(
                results.body["input_params"]["persona_ids"],
                json!([di]),
                "the client chosen by name, alone"
            );
        }
        assert_eq!(
            page(&app, &alice.cookie, &format!("/simulations/{id}"))
                .await
                .0,
            200
        );
    }
}

async fn admins_manage_teams_keys_and_webhooks_from_pages(shape: Shape) {
    let app = TestApp::spawn_with(
        shape,
        crate::helpers::Options {
            vars: vec![("TROUPE_WEBHOOK_ALLOW_PRIVATE", "true".to_owned())],
            ..Default::default()
        },
    )
    .await;
    let (admin_key, boss) = signed_in(&app, "boss", Role::BrokerageAdmin, None).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    for path in ["/admin/teams", "/admin/keys", "/admin/webhooks"] {
        assert_eq!(
            page(&app, &alice.cookie, path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            page(&app, &boss.cookie, path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }

    let (status, _, _) = post_form(
        &app,
        &boss,
        "/admin/teams",
        &[("csrf", &boss.csrf), ("name", "Beach")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let teams = app
        .request(Method::GET, "/api/v1/teams", Some(&admin_key), None)
        .await;
    assert!(
        teams
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Beach"),
        "{}",
        teams.body
    );
    let (status, _, _) = post_form(
        &app,
        &alice,
        "/admin/teams",
        &[("csrf", &alice.csrf), ("name", "Mine")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A key made on the page works once copied, and stops when revoked there.
    let alice_id = user_named(&app, &admin_key, "alice").await;
    let active_keys = || {
        let (app, admin_key, alice_id) = (&app, &admin_key, &alice_id);
        async move {
            let keys = app
                .request(
                    Method::GET,
                    &format!("/api/v1/users/{alice_id}/keys"),
                    Some(admin_key),
                    None,
                )
                .await;
            keys.body
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["revoked_at"].is_null())
                .map(|k| k["id"].as_str().unwrap().to_owned())
                .collect::<std::collections::BTreeSet<_>>()
        }
    };
    let before = active_keys().await;
    let (status, shown, _) = post_form(
        &app,
        &boss,
        "/admin/keys",
        &[("csrf", &boss.csrf), ("user", &alice_id)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let at = shown
        .find("value=\"trp_")
        .expect("the new token is on the page")
        + 7;
    let token = shown[at..].split('"').next().unwrap().to_owned();
    let with_key = |key: String| {
        let app = &app;
        async move {
            app.request(Method::GET, "/api/v1/personas", Some(&key), None)
                .await
                .status
        }
    };
    assert_eq!(with_key(token.clone()).await, 200);
    let made: Vec<String> = active_keys().await.difference(&before).cloned().collect();
    assert_eq!(made.len(), 1, "one key was made");
    let (status, _, _) = post_form(
        &app,
        &boss,
        &format!("/admin/keys/{}/revoke", made[0]),
        &[("csrf", &boss.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(with_key(token).await, 401);

    // A webhook subscribed on the page delivers, and its log shows it.
    let receiver = Receiver::start().await;
    let (status, refused, _) = post_form(
        &app,
        &boss,
        "/admin/webhooks",
        &[("csrf", &boss.csrf), ("url", "not a url")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(refused.contains("The webhook was not added"), "{refused}");
    let url = receiver.url();
    let (status, subscribed, _) = post_form(
        &app,
        &boss,
        "/admin/webhooks",
        &[
            ("csrf", &boss.csrf),
            ("url", &url),
            ("event", "persona.created"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        subscribed.contains("value=\"whsec_"),
        "the secret is shown once: {subscribed}"
    );
    let hooks = app
        .request(Method::GET, "/api/v1/webhooks", Some(&admin_key), None)
        .await;
    let hook = hooks.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.create_persona(&persona("Ada", "finance", &[], &[], 1e7))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while receiver.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no delivery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut log = String::new();
    for _ in 0..100 {
        log = page(&app, &boss.cookie, &format!("/admin/webhooks/{hook}"))
            .await
            .1;
        if log.contains("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        log.contains("persona.created") && log.contains("succeeded"),
        "{log}"
    );
    let (status, _, _) = post_form(
        &app,
        &boss,
        &format!("/admin/webhooks/{hook}/toggle"),
        &[("csrf", &boss.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let toggled = app
        .request(
            Method::GET,
            &format!("/api/v1/webhooks/{hook}"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(toggled.body["enabled"], false);
    assert_eq!(
        page(&app, &alice.cookie, &format!("/admin/webhooks/{hook}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, _, _) = post_form(
        &app,
        &boss,
        &format!("/admin/webhooks/{hook}/delete"),
        &[("csrf", &boss.csrf)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.request(
            Method::GET,
            &format!("/api/v1/webhooks/{hook}"),
            Some(&admin_key),
            None
        )
        .await
        .status,
        404
    );
}

async fn addresses_without_a_page_answer_in_html(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    for path in ["/no-such-page", "/clients/not-a-uuid", "/listings/123/edit"] {
        let response = browser()
            .get(format!("{}{path}", app.base))
            .header("cookie", &alice.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            response.text().await.unwrap().contains("Page not found"),
            "{path}"
        );
    }
    // The API keeps answering problem+json.
    let api = browser()
        .get(format!("{}/api/v1/no-such-thing", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert!(
        api.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("problem+json")
    );
}

async fn the_nightly_feed_lists_each_nights_new_matches(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let (_, alice) = signed_in(&app, "alice", Role::Agent, Some("West")).await;
    let (status, feed) = page(&app, &alice.cookie, "/matching/nightly").await;
    assert_eq!(status, 200);
    assert!(feed.contains("No nightly run yet"), "{feed}");
    app.create_persona(&persona(
        "Ada Quinn",
        "finance",
        &["wine cellar"],
        &[],
        30e6,
    ))
    .await;
    let property = app.create_property(&listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, unmatched) = page(&app, &alice.cookie, &format!("/listings/{property}")).await;
    assert!(unmatched.contains("Not matched yet"), "{unmatched}");
    let config = troupe_shared::Config::from_vars(app.vars.clone()).unwrap();
    let night = troupe::run_nightly_now(&config, "Acme Realty")
        .await
        .unwrap();
    let (status, feed) = page(&app, &alice.cookie, "/matching/nightly").await;
    assert_eq!(status, 200);
    assert!(feed.contains(&format!("/matching/{}", night.id)), "{feed}");
    assert!(
        feed.contains("Ada Quinn") && feed.contains("Ridgeline Estate, Aspen"),
        "{feed}"
    );
    // Another team's agent sees the night, not a private client's match.
    let (_, bob) = signed_in(&app, "bob", Role::Agent, Some("East")).await;
    let private = persona("Private Pat", "finance", &["wine cellar"], &[], 30e6);
    let mut private = private;
    private["visibility"] = json!("private");
    app.create_persona(&private).await;
    troupe::run_nightly_now(&config, "Acme Realty")
        .await
        .unwrap();
    let (_, seen_by_bob) = page(&app, &bob.cookie, "/matching/nightly").await;
    assert!(!seen_by_bob.contains("Private Pat"), "{seen_by_bob}");
    let (_, seen_by_alice) = page(&app, &alice.cookie, "/matching/nightly").await;
    assert!(seen_by_alice.contains("Private Pat"), "{seen_by_alice}");

    // The listing's page shows its latest run's matches.
    let queued = app
        .post(
            "/api/v1/matching/property-to-clients",
            &json!({ "property_id": property, "min_score": 0 }),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let run = queued.body["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.get(&format!("/api/v1/matching/{run}")).await.body["status"] != "completed" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the match run did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, matched) = page(&app, &alice.cookie, &format!("/listings/{property}")).await;
    assert!(
        matched.contains(&format!("/matching/{run}")) && matched.contains("Ada Quinn"),
        "{matched}"
    );
}
