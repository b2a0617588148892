//! The web workspace over real HTTP: invitations, sign-in, sessions, CSRF, throttling, and pages
//! that apply the API's visibility (404 for what the person may not see) and escape what clients
//! typed. The browser tests (tests/browser) drive the same pages in Chromium.

use std::time::Duration;

use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};
use troupe_shared::domain::Role;

use crate::helpers::{Shape, TestApp, both_shapes, persona, seed};

both_shapes!(
    an_invited_agent_signs_in_and_reads_a_focus_group,
    pages_hide_what_the_api_hides,
    sessions_end_and_forms_need_their_token,
    sign_in_is_throttled,
    the_focus_group_form_starts_a_run,
    admin_pages_are_for_admins,
    the_accuracy_page_reads_the_report,
    outcomes_are_recorded_on_a_listing_and_calibration_shows,
    a_crm_export_is_imported_from_the_clients_page
);

const PASSWORD: &str = "a long enough passphrase";

/// A browser-like client: keeps no cookies by itself and follows no redirects, so each test says
/// exactly what it sends.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

pub(crate) struct Person {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

/// Invites a user through the admin API and accepts the invitation: the signed-in session.
pub(crate) async fn invite_and_accept(
    app: &TestApp,
    admin: &str,
    user_id: &str,
    email: &str,
) -> Person {
    let reply = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/users/{user_id}/invite"),
            Some(admin),
            Some(&json!({ "email": email })),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let url = reply.body["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&app.base), "{url}");
    let http = browser();
    let form = http.get(&url).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains(&email.to_lowercase()));
    let accepted = http
        .post(&url)
        .form(&[("password", PASSWORD), ("confirm", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&accepted);
    // The link works once.
    let again = http
        .post(&url)
        .form(&[("password", PASSWORD), ("confirm", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let home = page(app, &cookie, "/simulations").await;
    Person {
        csrf: csrf_of(&home.1),
        cookie,
    }
}

fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    set.split(';').next().expect("name=value").to_owned()
}

pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + 64].to_owned()
}

/// GETs a page with the session cookie: its status and body.
pub(crate) async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

pub(crate) async fn user_named(app: &TestApp, admin: &str, name: &str) -> String {
    let users = app
        .request(reqwest::Method::GET, "/api/v1/users", Some(admin), None)
        .await;
    users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .expect("user exists")
}

async fn an_invited_agent_signs_in_and_reads_a_focus_group(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let property = seed(&app).await;
    // A client whose name is markup: it must show as text on every page.
    let hostile = "<script>alert(1)</script>";
    app.create_persona(&persona(hostile, "finance", &["wine cellar"], &[], 25e6))
        .await;
    let accepted = app
        .post(
            "/api/v1/simulations/focus-group",
            &json!({
                "property_id": property,
                "persona_segments": ["finance", "tech"],
                "questions": ["First impression?"],
                "simulation_params": { "num_agents": 5, "iterations": 2 }
            }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&id, Duration::from_secs(60)).await;

    let alice = user_named(&app, &admin, "alice").await;
    let me = invite_and_accept(&app, &admin, &alice, "Alice@Acme.example").await;

    // Signing in with the password works too (a fresh session).
    let signed_in = browser()
        .post(format!("{}/sign-in", app.base))
        .form(&[
            ("email", "alice@acme.example"),
            ("password", PASSWORD),
            ("next", "/clients"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_in.headers()["location"], "/clients");

    let (status, list) = page(&app, &me.cookie, "/simulations").await;
    assert_eq!(status, 200);
    assert!(
        list.contains(&format!("/simulations/{id}")),
        "the list links the run"
    );
    // The filter form as a browser sends it: "any" is an empty value.
    let (status, list) = page(&app, &me.cookie, "/simulations?kind=&status=&author=").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("/simulations/{id}")));
    let (status, list) = page(&app, &me.cookie, "/simulations?kind=marketing&status=").await;
    assert_eq!(status, 200);
    assert!(
        !list.contains(&format!("/simulations/{id}")),
        "filtered out"
    );
    let (status, refused) = page(&app, &me.cookie, "/simulations?author=nobody").await;
    assert_eq!(status, 400);
    assert!(refused.contains("is not the id of a person"), "{refused}");

    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    let (status, html) = page(&app, &me.cookie, &format!("/simulations/{id}")).await;
    assert_eq!(status, 200);
    // The run's provenance is shown; only the offline model's runs carry the baseline label
    // (these answers came from the mock provider over HTTP).
    let provider = results.body["metadata"]["provider"].as_str().unwrap();
    assert!(html.contains(&format!("<dd data-field=\"provider\">{provider}</dd>")));
    assert_eq!(html.contains("Offline baseline"), provider == "offline");
    // The chart's marks and its table carry the API's numbers.
    for segment in results.body["results"]["detailed_insights"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "segment")
    {
        let mean = segment["mean_intent"].as_f64().unwrap();
        assert!(
            html.contains(&format!("data-mean=\"{mean}\"")),
            "segment {} mean {mean} drawn",
            segment["segment"]
        );
        assert!(html.contains(&format!("<td>{mean:.2}</td>")));
    }
    assert!(!html.contains(hostile), "markup in a name is escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let csv = browser()
        .get(format!("{}/simulations/{id}/tables/segments.csv", app.base))
        .header("cookie", &me.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("segment,personas,responses,mean intent"));
    assert_eq!(rows.len(), 3, "a header and the two segments: {csv}");

    let (status, report) = page(&app, &me.cookie, &format!("/simulations/{id}/report")).await;
    assert_eq!(status, 200);
    assert!(report.contains("what buyers told us"));

    let (status, clients) = page(&app, &me.cookie, "/clients").await;
    assert_eq!(status, 200);
    assert!(clients.contains("Ada") && clients.contains("&lt;script&gt;"));
    let (status, listing) = page(&app, &me.cookie, &format!("/listings/{property}")).await;
    assert_eq!(status, 200);
    assert!(listing.contains("Ridgeline Estate") && listing.contains(&id));

    // The pages' reads are audited like the API's.
    let audit = app
        .request(
            reqwest::Method::GET,
            "/api/v1/audit?limit=200",
            Some(&admin),
            None,
        )
        .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["via"] == "web")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"simulation.results_read"), "{actions:?}");
    assert!(actions.contains(&"persona.listed"), "{actions:?}");
}

async fn pages_hide_what_the_api_hides(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let mut private = persona("Quiet Client", "finance", &["wine cellar"], &[], 20e6);
    private["visibility"] = json!("private");
    let private = app.create_persona(&private).await;
    let private_id = private["id"].as_str().unwrap();
    let accepted = app
        .post(
            "/api/v1/simulations/individual",
            &json!({
                "persona_id": private_id,
                "scenario": { "type": "email_response", "context": { "subject": "A first note about a new listing" } }
            }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let simulation = accepted.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&simulation, Duration::from_secs(60))
        .await;

    // Another team's agent of the same brokerage, and another brokerage's admin.
    app.key_for("Acme Realty", Some("East"), "eve", Role::Agent)
        .await;
    let eve_id = user_named(&app, &admin, "eve").await;
    let eve = invite_and_accept(&app, &admin, &eve_id, "eve@acme.example").await;
    let rival_admin = app
        .key_for("Rival Homes", None, "rival", Role::BrokerageAdmin)
        .await;
    let rival_id = user_named(&app, &rival_admin, "rival").await;
    let rival = invite_and_accept(&app, &rival_admin, &rival_id, "rival@rival.example").await;

    for person in [&eve, &rival] {
        for path in [
            format!("/clients/{private_id}"),
            format!("/simulations/{simulation}"),
            format!("/simulations/{simulation}/report"),
            format!("/simulations/{simulation}/tables/answers.csv"),
        ] {
            let (status, body) = page(&app, &person.cookie, &path).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert!(!body.contains("Quiet Client"));
        }
        let (_, clients) = page(&app, &person.cookie, "/clients").await;
        assert!(!clients.contains("Quiet Client"));
        let (_, simulations) = page(&app, &person.cookie, "/simulations").await;
        assert!(!simulations.contains(&simulation));
    }
    // An admin cannot invite another brokerage's user.
    let reply = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/users/{eve_id}/invite"),
            Some(&rival_admin),
            Some(&json!({ "email": "eve2@acme.example" })),
        )
        .await;
    reply.problem(404);
    // Nor may an agent invite anyone, and an email belongs to one person.
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/users/{eve_id}/invite"),
        Some(&app.key),
        Some(&json!({ "email": "x@acme.example" })),
    )
    .await
    .problem(403);
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/users/{rival_id}/invite"),
        Some(&rival_admin),
        Some(&json!({ "email": "EVE@acme.example" })),
    )
    .await
    .problem(409);
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/users/{eve_id}/invite"),
        Some(&admin),
        Some(&json!({ "email": "not an address" })),
    )
    .await
    .problem(422);
    // A field the invitation does not have is named, not ignored.
    let unknown = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/users/{eve_id}/invite"),
            Some(&admin),
            Some(&json!({ "email": "eve3@acme.example", "role": "brokerage_admin" })),
        )
        .await;
    assert!(unknown.problem(400).ends_with("invalid-body"));
    assert_eq!(
        unknown.body["errors"][0]["pointer"], "/role",
        "{}",
        unknown.body
    );
}

async fn sessions_end_and_forms_need_their_token(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let alice_id = user_named(&app, &admin, "alice").await;
    let alice = invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;

    let (status, _) = page(&app, &alice.cookie, "/clients").await;
    assert_eq!(status, 200);
    let headers = browser()
        .get(format!("{}/clients", app.base))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .unwrap();
    let csp = headers.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers.headers()["x-frame-options"], "DENY");

    // No page without a session: a redirect to sign in, back to where one was going.
    let anonymous = browser()
        .get(format!("{}/clients", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()["location"], "/sign-in?next=%2Fclients");

    // A sign-out without the form's token (a page elsewhere posting here) is refused.
    let forged = browser()
        .post(format!("{}/sign-out", app.base))
        .header("cookie", &alice.cookie)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let cross_site = browser()
        .post(format!("{}/sign-in", app.base))
        .header("origin", "https://evil.example")
        .form(&[("email", "alice@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let (status, _) = page(&app, &alice.cookie, "/clients").await;
    assert_eq!(status, 200, "the session survived the forgeries");

    let out = browser()
        .post(format!("{}/sign-out", app.base))
        .header("cookie", &alice.cookie)
        .form(&[("csrf", alice.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&app, &alice.cookie, "/clients").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed out");

    // Deactivating a user ends their sessions at once.
    let again = browser()
        .post(format!("{}/sign-in", app.base))
        .form(&[("email", "alice@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&again);
    assert_eq!(page(&app, &cookie, "/clients").await.0, 200);
    let deactivated = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/users/{alice_id}/deactivate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    assert_eq!(
        page(&app, &cookie, "/clients").await.0,
        StatusCode::SEE_OTHER
    );
    let user: Value = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/users/{alice_id}"),
            Some(&admin),
            None,
        )
        .await
        .body;
    assert_eq!(user["email"], "alice@acme.example");
    assert_eq!(user["can_sign_in"], true);
}

async fn sign_in_is_throttled(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let alice_id = user_named(&app, &admin, "alice").await;
    invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;
    let attempt = |password: &'static str| {
        browser()
            .post(format!("{}/sign-in", app.base))
            .form(&[("email", "alice@acme.example"), ("password", password)])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong guess").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = attempt(PASSWORD).await.unwrap();
    assert_eq!(
        throttled.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(throttled.headers().contains_key("retry-after"));
    // An unknown account answers exactly like a wrong password.
    let unknown = browser()
        .post(format!("{}/sign-in", app.base))
        .form(&[("email", "nobody@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
}

async fn the_focus_group_form_starts_a_run(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let property = seed(&app).await;
    let alice_id = user_named(&app, &admin, "alice").await;
    let alice = invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;
    let (status, form) = page(
        &app,
        &alice.cookie,
        &format!("/listings/{property}/focus-group"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"finance\"") && form.contains("Add a wellness spa"));
    let post = |fields: Vec<(&'static str, String)>| {
        browser()
            .post(format!("{}/listings/{property}/focus-group", app.base))
            .header("cookie", &alice.cookie)
            .form(&fields)
            .send()
    };
    let fields_asking = |csrf: &str, agents: &str, questions: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("segment", "finance".to_owned()),
            ("segment", "tech".to_owned()),
            ("questions", questions.to_owned()),
            ("modifications", "Add a wellness spa".to_owned()),
            ("agents", agents.to_owned()),
            ("iterations", "1".to_owned()),
        ]
    };
    let typed = "First impression?\nWould you buy it?\n\
                 Which matters most? [single_choice: Wine cellar; Heated pool; Ski room]";
    let fields = |csrf: &str, agents: &str| fields_asking(csrf, agents, typed);
    let mistyped = post(fields_asking(&alice.csrf, "4", "Rate it [scale: 1; 5]"))
        .await
        .unwrap();
    assert_eq!(mistyped.status(), StatusCode::BAD_REQUEST);
    let page_text = mistyped.text().await.unwrap();
    assert!(
        page_text.contains("Question 1: &quot;scale&quot; is not a question type")
            || page_text.contains("Question 1: \"scale\" is not a question type"),
        "{page_text}"
    );
    assert_eq!(
        post(fields("forged", "4")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let refused = post(fields(&alice.csrf, "100000")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("size must be a whole number from 1 to")
    );
    let listed = app.get("/api/v1/simulations").await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        0,
        "nothing was started"
    );

    let started = post(fields(&alice.csrf, "4")).await.unwrap();
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .strip_prefix("/simulations/")
        .expect("the live page");
    let status = app.wait_for_final(id, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["property_id"], property.as_str());
    let results = app.get(&format!("/api/v1/simulations/{id}/results")).await;
    let steps: Vec<&str> = results.body["results"]["raw_responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert!(steps.contains(&"question 2") && steps.iter().any(|s| s.starts_with("modification")));
    // The typed line became a single-choice question, shown with its shares and as a CSV.
    let (status, shown) = page(&app, &alice.cookie, &format!("/simulations/{id}")).await;
    assert_eq!(status, 200);
    assert!(shown.contains("Question 3: Which matters most?"), "{shown}");
    assert!(shown.contains("question-3.csv"), "{shown}");
    let (status, csv) = page(
        &app,
        &alice.cookie,
        &format!("/simulations/{id}/tables/question-3.csv"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("segment,option,share"), "{csv}");
    assert!(csv.contains("all,Wine cellar,"), "{csv}");
}

async fn admin_pages_are_for_admins(shape: Shape) {
    let app = TestApp::spawn_api_only(shape).await;
    let admin_key = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let boss_id = user_named(&app, &admin_key, "boss").await;
    let alice_id = user_named(&app, &admin_key, "alice").await;
    let boss = invite_and_accept(&app, &admin_key, &boss_id, "boss@acme.example").await;
    let alice = invite_and_accept(&app, &admin_key, &alice_id, "alice@acme.example").await;
    for path in [
        "/admin/users",
        "/admin/audit",
        "/admin/audit?action=&actor=",
    ] {
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
    let invite = |cookie: &str, csrf: &str| {
        browser()
            .post(format!("{}/admin/users/{alice_id}/invite", app.base))
            .header("cookie", cookie)
            .form(&[("csrf", csrf), ("email", "alice@acme.example")])
            .send()
    };
    assert_eq!(
        invite(&alice.cookie, &alice.csrf).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        invite(&boss.cookie, "forged").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let shown = invite(&boss.cookie, &boss.csrf).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let html = shown.text().await.unwrap();
    let link = format!("{}/invitations/inv_", app.base);
    assert!(html.contains(&link), "the new link is on the page");
    // Adding a person from the page, then finding them through the API.
    let added = browser()
        .post(format!("{}/admin/users", app.base))
        .header("cookie", &boss.cookie)
        .form(&[
            ("csrf", boss.csrf.as_str()),
            ("name", "carol"),
            ("role", "team_lead"),
            ("team", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    user_named(&app, &admin_key, "carol").await;
}

async fn the_accuracy_page_reads_the_report(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let alice_id = user_named(&app, &admin, "alice").await;
    let alice = invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;
    let (status, empty) = page(&app, &alice.cookie, "/accuracy").await;
    assert_eq!(status, 200, "{empty}");
    assert!(empty.contains("No prediction has an outcome"), "{empty}");

    let client = app
        .create_persona(&persona("Ada", "finance", &["wine cellar"], &[], 30e6))
        .await;
    let accepted = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": client["id"], "scenario": { "type": "property_viewing", "context": { "property": "Ridgeline" } } }),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let simulation = accepted.body["id"].as_str().unwrap();
    app.wait_for_final(simulation, Duration::from_secs(60))
        .await;
    let today = chrono::Utc::now().date_naive().to_string();
    let recorded = app
        .post(
            "/api/v1/outcomes",
            &json!({ "type": "scenario", "occurred_on": today, "simulation_id": simulation, "positive": true }),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let (status, html) = page(&app, &alice.cookie, "/accuracy").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Single-client reactions"), "{html}");
    assert!(
        html.contains("1 prediction held against 1 outcome"),
        "{html}"
    );
    assert!(html.contains("Brier score"), "{html}");
    assert!(html.contains(r#"aria-current="page">Accuracy"#), "{html}");
}

/// Posts a form with the session cookie: its status, `location` and body.
async fn submit(
    app: &TestApp,
    person: &Person,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut form: Vec<(&str, &str)> = vec![("csrf", &person.csrf)];
    form.extend_from_slice(fields);
    let response = browser()
        .post(format!("{}{path}", app.base))
        .header("cookie", &person.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), location, response.text().await.unwrap())
}

async fn outcomes_are_recorded_on_a_listing_and_calibration_shows(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", Some("West"), "boss", Role::BrokerageAdmin)
        .await;
    let alice_id = user_named(&app, &admin, "alice").await;
    let alice = invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;
    let boss_id = user_named(&app, &admin, "boss").await;
    let boss = invite_and_accept(&app, &admin, &boss_id, "boss@acme.example").await;
    let clients = crate::calibration::clients(&app).await;
    let property = app.create_property(&crate::helpers::listing()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listing_page = format!("/listings/{property}");
    let (status, html) = page(&app, &alice.cookie, &listing_page).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Nothing recorded yet"), "{html}");
    assert!(html.contains("Client 3"), "clients to choose from: {html}");

    // A showing, as an agent records it after the viewing.
    let today = chrono::Utc::now().date_naive().to_string();
    let action = format!("/listings/{property}/outcomes");
    let showing = [
        ("type", "showing"),
        ("occurred_on", today.as_str()),
        ("persona_id", clients[3].as_str()),
        ("reaction", "4"),
        ("comment", "<b>Loved</b> the cellar"),
    ];
    let (status, location, body) = submit(&app, &alice, &action, &showing).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, format!("{listing_page}#what-happened"));
    let (_, html) = page(&app, &alice.cookie, &listing_page).await;
    assert!(html.contains("reaction 4 of 5"), "{html}");
    assert!(
        html.contains("&lt;b&gt;Loved&lt;/b&gt; the cellar"),
        "escaped: {html}"
    );
    let recorded = app
        .get(&format!("/api/v1/outcomes?property_id={property}"))
        .await;
    assert_eq!(
        recorded.body["items"][0]["outcome"]["persona_id"],
        clients[3].as_str()
    );

    // What the form cannot record, it says, and records nothing.
    let no_reaction = [
        ("type", "showing"),
        ("occurred_on", today.as_str()),
        ("persona_id", clients[0].as_str()),
    ];
    let (status, _, body) = submit(&app, &alice, &action, &no_reaction).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("reaction, 1 to 5"), "{body}");
    let (status, _, body) = submit(
        &app,
        &alice,
        &action,
        &[
            ("type", "offer"),
            ("occurred_on", "2999-01-01"),
            ("amount", "21000000"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("is in the future"), "{body}");
    let (status, _, body) = submit(
        &app,
        &alice,
        &action,
        &[
            ("type", "sale"),
            ("occurred_on", today.as_str()),
            ("amount", "-5"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let forged = Person {
        cookie: alice.cookie.clone(),
        csrf: "0".repeat(64),
    };
    let (status, _, _) = submit(&app, &forged, &action, &showing).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let recorded = app
        .get(&format!("/api/v1/outcomes?property_id={property}"))
        .await;
    assert_eq!(
        recorded.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        recorded.body
    );

    // Calibration: none until an admin refits (or the night comes), then in force and shown.
    let (simulation, campaign) = crate::calibration::tested_campaign(&app, &clients).await;
    let batch = app
        .post("/api/v1/outcomes/batch", &json!({ "outcomes": campaign }))
        .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    let (_, html) = page(&app, &alice.cookie, "/accuracy").await;
    assert!(
        html.contains("Calibrations in force") && html.contains("None yet"),
        "{html}"
    );
    assert!(!html.contains("Refit now"), "agents do not refit: {html}");
    let (status, _, _) = submit(&app, &alice, "/accuracy/refit", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, html) = page(&app, &boss.cookie, "/accuracy").await;
    assert!(html.contains("Refit now"), "{html}");
    let (status, location, body) = submit(&app, &boss, "/accuracy/refit", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, "/accuracy");
    let fit = app.get("/api/v1/accuracy/calibrations").await.body["items"][0].clone();
    assert_eq!(fit["applied"], true, "{fit}");
    let (_, html) = page(&app, &alice.cookie, "/accuracy").await;
    assert!(html.contains("isotonic, fitted"), "{html}");
    let (_, html) = page(&app, &alice.cookie, &format!("/simulations/{simulation}")).await;
    assert!(html.contains("Calibrated by your outcomes"), "{html}");
    assert!(
        html.contains(&format!(
            "data-calibration=\"{}\"",
            fit["id"].as_str().unwrap()
        )),
        "{html}"
    );

    // The campaign's real counts, recorded from its page; counts that do not add up are refused.
    assert!(
        html.contains("Record how the campaign really did"),
        "{html}"
    );
    let action = format!("/simulations/{simulation}/outcomes");
    let counts = |opened: &'static str| {
        [
            ("cell", "sms:Price"),
            ("occurred_on", today.as_str()),
            ("sent", "200"),
            ("opened", opened),
            ("clicked", "9"),
            ("replied", "4"),
        ]
    };
    let (status, _, body) = submit(&app, &alice, &action, &counts("300")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("opened"), "{body}");
    let (status, location, body) = submit(&app, &alice, &action, &counts("120")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(location, format!("/simulations/{simulation}#what-happened"));
    let recorded = app
        .get(&format!(
            "/api/v1/outcomes?type=campaign&simulation_id={simulation}&limit=200"
        ))
        .await;
    let sms: Vec<&Value> = recorded.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["outcome"]["channel"] == "sms" && o["outcome"]["sent"] == 200)
        .collect();
    assert_eq!(sms.len(), 1, "{}", recorded.body);
    assert_eq!(sms[0]["outcome"]["material"], "Price");
    assert_eq!(sms[0]["outcome"]["opened"], 120);

    // How a one-to-one scenario went, from its page.
    let accepted = app
        .post(
            "/api/v1/simulations/individual",
            &json!({ "persona_id": clients[0], "scenario": { "type": "call", "context": { "property": "Ridgeline" } } }),
        )
        .await;
    let individual = accepted.body["id"].as_str().unwrap().to_owned();
    app.wait_for_final(&individual, Duration::from_secs(60))
        .await;
    let (_, html) = page(&app, &alice.cookie, &format!("/simulations/{individual}")).await;
    assert!(html.contains("Record how it went"), "{html}");
    let action = format!("/simulations/{individual}/outcomes");
    let went = [
        ("positive", "true"),
        ("interest", "4"),
        ("occurred_on", today.as_str()),
    ];
    let (status, _, body) = submit(&app, &alice, &action, &went).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (status, _, body) = submit(
        &app,
        &alice,
        &action,
        &[("positive", "maybe"), ("occurred_on", today.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let recorded = app
        .get(&format!("/api/v1/outcomes?simulation_id={individual}"))
        .await;
    let items = recorded.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", recorded.body);
    assert_eq!(items[0]["outcome"]["interest"], 4);
}

/// A `multipart/form-data` body of text fields (`filename` set: a file field): its content type
/// and bytes, as a browser sends a form with a file input.
pub(crate) fn multipart(fields: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "----troupe-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = String::new();
    for (name, filename, value) in fields {
        body.push_str(&format!("--{boundary}\r\n"));
        match filename {
            Some(file) => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n"
            )),
            None => body.push_str(&format!(
                "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"
            )),
        }
        body.push_str(value);
        body.push_str("\r\n");
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn a_crm_export_is_imported_from_the_clients_page(shape: Shape) {
    let app = TestApp::spawn(shape).await;
    let admin = app
        .key_for("Acme Realty", None, "boss", Role::BrokerageAdmin)
        .await;
    let alice_id = user_named(&app, &admin, "alice").await;
    let alice = invite_and_accept(&app, &admin, &alice_id, "alice@acme.example").await;
    let (status, book) = page(&app, &alice.cookie, "/clients").await;
    assert_eq!(status, 200);
    assert!(book.contains("href=\"/clients/import\""), "{book}");
    let (status, form) = page(&app, &alice.cookie, "/clients/import").await;
    assert_eq!(status, 200);
    assert!(form.contains("enctype=\"multipart/form-data\""));

    let csv = "Record ID,First Name,Last Name,Email,City,Lifecycle Stage\n\
               51,Harrison,Vale,h.vale@example.com,Malibu,customer\n\
               52,Ada,Stone,not-an-address,Aspen,lead\n\
               53,Corinne,Ashby,c.ashby@example.com,Palm Beach,lead\n";
    let upload = |csrf: String, file: &'static str| {
        let (content_type, body) = multipart(&[
            ("csrf", None, &csrf),
            ("mapping", None, ""),
            ("file", Some("hubspot-contacts.csv"), file),
            ("csv", None, ""),
        ]);
        browser()
            .post(format!("{}/clients/import", app.base))
            .header("cookie", &alice.cookie)
            .header("origin", &app.base)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let first = upload(alice.csrf.clone(), csv).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let report = first.text().await.unwrap();
    assert!(
        report.contains("Import: 2 new, 0 updated, 0 unchanged, 1 not imported"),
        "{report}"
    );
    assert!(report.contains("is not an email address"), "{report}");
    assert!(report.contains("Lifecycle Stage"), "{report}");
    assert_eq!(report.matches("data-outcome=\"created\"").count(), 2);
    let again = upload(alice.csrf.clone(), csv)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        again.contains("Import: 0 new, 0 updated, 2 unchanged, 1 not imported"),
        "{again}"
    );
    // The API sees what the page imported.
    let vale = app.get("/api/v1/personas/by-external-id/hubspot/51").await;
    assert_eq!(vale.body["name"], "Harrison Vale", "{}", vale.body);
    // A forged form imports nothing; an empty one says what to do.
    let forged = upload("0".repeat(64), csv).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let empty = upload(alice.csrf.clone(), "").await.unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    assert!(empty.text().await.unwrap().contains("choose a CSV file"));

    // A second record of one client shows on the duplicates page, with why.
    let copy =
        json!({ "name": "C. Ashby", "demographics": { "location": { "city": "Palm Beach" } } });
    let copy = app.post("/api/v1/personas", &copy).await;
    assert_eq!(copy.status, 201);
    let (status, duplicates) = page(&app, &alice.cookie, "/clients/duplicates").await;
    assert_eq!(status, 200);
    assert!(
        duplicates.contains("data-table=\"duplicates\""),
        "{duplicates}"
    );
    assert!(duplicates.contains("Corinne Ashby") && duplicates.contains("C. Ashby"));
    assert!(
        duplicates.contains("in the same city (Palm Beach)"),
        "{duplicates}"
    );
    assert!(duplicates.contains(">Keep Corinne Ashby<"), "{duplicates}");

    // Keeping the imported record folds the copy into it; a forged form merges nothing.
    let corinne = app
        .get("/api/v1/personas/by-external-id/hubspot/53")
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let copy_id = copy.body["id"].as_str().unwrap().to_owned();
    let forged = browser()
        .post(format!("{}/clients/merge", app.base))
        .header("cookie", &alice.cookie)
        .form(&[
            ("csrf", "0".repeat(64).as_str()),
            ("absorbed", copy_id.as_str()),
            ("into", corinne.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let fields = [("absorbed", copy_id.as_str()), ("into", corinne.as_str())];
    let (status, location, _) = submit(&app, &alice, "/clients/merge", &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/clients/{corinne}"));
    let (_, after) = page(&app, &alice.cookie, "/clients/duplicates").await;
    assert!(!after.contains("C. Ashby"), "{after}");
    assert_eq!(
        app.get(&format!("/api/v1/personas/{copy_id}")).await.status,
        404
    );
}
