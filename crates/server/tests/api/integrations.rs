use skybridge_testkit::{TestApp, backend_tests, json};

async fn registry_rules_and_privileges(app: TestApp) {
    let (_, catalog) = app.get(&app.token, "/api/v1/integrations/catalog").await;
    assert!(
        catalog
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["key"] == "zoom" && e["vendor"] == "third_party")
    );
    let a = app.create_account("Integrated").await;
    let aid = a["id"].as_str().unwrap();
    let path = format!("/api/v1/accounts/{aid}/integrations");
    let (_, reg) = app.get(&app.token, &path).await;
    assert_eq!(reg["chat"]["allow_editing_and_deleting_of_messages"], true);
    assert_eq!(reg["privileges"]["delegated_authentication"], false);

    let (status, reg) = app.post(&app.token, &path, &json!({ "key": "micc" })).await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["integrations"][0]["state"], "incomplete");
    assert_eq!(reg["privileges"]["delegated_authentication"], true);
    assert_eq!(reg["privileges"]["allow_guest_access"], true);
    let (status, reg) = app
        .post(&app.token, &path, &json!({ "key": "micollab" }))
        .await;
    assert_eq!(status, 201, "{reg}");
    let (status, _) = app
        .post(&app.token, &path, &json!({ "key": "micollab" }))
        .await;
    assert_eq!(status, 409);
    let (status, body) = app.post(&app.token, &path, &json!({ "key": "nope" })).await;
    assert_eq!(status, 400);
    assert_eq!(body["field"], "key");
    let (status, body) = app.post(&app.token, &path, &json!({ "key": "chat" })).await;
    assert_eq!(status, 422, "{body}");

    let (status, reg) = app
        .post(
            &app.token,
            &format!("{path}/micc/complete"),
            &json!({ "status_message": "Onboarding Complete" }),
        )
        .await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["integrations"][0]["state"], "complete");

    // Removing MiCC keeps Delegated Authentication (MiCollab still needs it) and drops Guest Access.
    let (status, _) = app.delete(&app.token, &format!("{path}/micc")).await;
    assert_eq!(status, 400, "removal must be confirmed");
    let (status, reg) = app
        .delete(&app.token, &format!("{path}/micc?confirm=remove"))
        .await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["privileges"]["delegated_authentication"], true);
    assert_eq!(reg["privileges"]["allow_guest_access"], false);
    let (_, reg) = app
        .delete(&app.token, &format!("{path}/micollab?confirm=remove"))
        .await;
    assert_eq!(reg["privileges"]["delegated_authentication"], false);
    let (status, _) = app
        .delete(&app.token, &format!("{path}/micollab?confirm=remove"))
        .await;
    assert_eq!(status, 404);

    // Privileges by hand, and the chat setting.
    let (status, reg) = app
        .patch(
            &app.token,
            &format!("/api/v1/accounts/{aid}/privileges"),
            &json!({ "allow_guest_access": true }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(reg["privileges"]["allow_guest_access"], true);
    let (status, reg) = app
        .patch(
            &app.token,
            &format!("{path}/chat"),
            &json!({ "allow_editing_and_deleting_of_messages": false }),
        )
        .await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["chat"]["allow_editing_and_deleting_of_messages"], false);

    // MiVoice Business and MiVoice 5000 exclude each other.
    app.post(&app.token, &path, &json!({ "key": "mivoice_5000" }))
        .await;
    let (status, body) = app
        .post(&app.token, &path, &json!({ "key": "mivoice_business" }))
        .await;
    assert_eq!(status, 422);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Not compatible with selected integrations")
    );

    // Partner accounts hold no integrations.
    let (status, body) = app
        .post(
            &app.token,
            &format!("/api/v1/accounts/{}/integrations", app.partner_id),
            &json!({ "key": "zoom" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"], "Partner accounts cannot hold integrations");
}

async fn integration_permissions(app: TestApp) {
    let a = app.create_account("Perms").await;
    let aid = a["id"].as_str().unwrap().to_string();
    let (_, role) = app
        .post(&app.token, "/api/v1/roles", &json!({ "name": "Viewer", "base": "account_admin", "permissions": ["integrations.view", "integrations.delete"] }))
        .await;
    let rid = role["id"].as_str().unwrap();
    app.put(&app.token, &format!("/api/v1/roles/{rid}/accounts/{aid}"))
        .await;
    let (_, viewer) = app.create_user(&aid, "viewer@perms.com", rid).await;
    let _ = viewer;
    let (_, tok) = app.create_user(&aid, "viewer2@perms.com", rid).await;
    let path = format!("/api/v1/accounts/{aid}/integrations");
    let (status, _) = app.get(&tok, &path).await;
    assert_eq!(status, 200);
    let (status, _) = app.post(&tok, &path, &json!({ "key": "zoom" })).await;
    assert_eq!(status, 403);
    // Configuring privileges needs Integrations ADD or EDIT.
    let (status, _) = app
        .patch(
            &tok,
            &format!("/api/v1/accounts/{aid}/privileges"),
            &json!({ "allow_guest_access": true }),
        )
        .await;
    assert_eq!(status, 403);
}

backend_tests!(registry_rules_and_privileges, integration_permissions);
