//! Write permission lives in the store: an agent's update or delete of a colleague's client
//! changes nothing even when no handler checked first; a team lead's update goes through, and
//! the deletion of a shared client follows the brokerage's setting.

use serde_json::json;
use troupe_shared::{auth::Principal, domain::Role, store::PersonaWrite};
use uuid::Uuid;

use crate::helpers::{Options, Shape, TestApp, both_shapes, persona};

both_shapes!(the_store_refuses_an_agent_s_write_to_a_colleague_s_client);

async fn the_store_refuses_an_agent_s_write_to_a_colleague_s_client(shape: Shape) {
    let options = Options {
        workers: 0,
        api_only: true,
        ..Options::default()
    };
    let app = TestApp::spawn_with(shape, options).await;
    let store = app.store().await;
    let principal = |name: &'static str, role: Role| {
        let store = store.clone();
        async move {
            let key = store
                .provision_key("Acme Realty", None, name, role)
                .await
                .unwrap();
            Principal {
                key_id: Uuid::nil(),
                user_id: key.user_id,
                brokerage_id: key.brokerage_id,
                team_id: None,
                role,
            }
        }
    };
    let mut shared = persona("Ada", "finance", &["wine cellar"], &[], 3e7);
    shared["visibility"] = json!("brokerage");
    let created = app.create_persona(&shared).await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();

    let colleague = principal("ann", Role::Agent).await;
    let seen = store.get_persona(&colleague, id).await.unwrap();
    let seen = seen.expect("a brokerage-wide client is visible to every agent");
    let mut profile = seen.profile.clone();
    profile.biography = Some("Rewritten by a colleague.".into());
    let write = || PersonaWrite {
        profile: profile.clone(),
        visibility: seen.visibility,
    };
    let updated = store
        .update_persona(&colleague, id, seen.version, write())
        .await
        .unwrap();
    assert!(updated.is_none(), "an agent changed a colleague's client");
    assert!(
        store
            .delete_persona(&colleague, id)
            .await
            .unwrap()
            .is_none()
    );

    let lead = principal("lee", Role::TeamLead).await;
    let updated = store
        .update_persona(&lead, id, seen.version, write())
        .await
        .unwrap()
        .expect("a team lead changes a client they see");
    assert_eq!(updated.version, seen.version + 1);
    let after = app.get(&format!("/api/v1/personas/{id}")).await;
    assert_eq!(after.body["biography"], "Rewritten by a colleague.");

    // Deleting a shared client is kept (by default) for a lead of their team or an admin: the
    // lead of no team of theirs deletes nothing, the admin does.
    assert!(store.delete_persona(&lead, id).await.unwrap().is_none());
    let admin = principal("ada", Role::BrokerageAdmin).await;
    assert!(store.delete_persona(&admin, id).await.unwrap().is_some());
    assert_eq!(app.get(&format!("/api/v1/personas/{id}")).await.status, 404);
}
