use comptoir_api::auth::Role;
use serde_json::json;

use crate::helpers::code;

const ADMIN_OPERATIONS: [&str; 5] = [
    "{ users { totalCount } }",
    "mutation { createUser(input: { email: \"x@example.test\", password: \"long enough\", role: MANAGER }) { id } }",
    "mutation($id: ID!) { setUserRole(id: $id, role: MANAGER) { id } }",
    "mutation($id: ID!) { blockUser(id: $id, reason: \"r\") { id } }",
    "mutation($id: ID!) { unblockUser(id: $id) { id } }",
];

db_test! {
    async fn only_admins_manage_users(app) {
        let target = app.user(Role::Identified).await;
        let vars = json!({ "id": target.id });
        for op in ADMIN_OPERATIONS {
            let public = app.gql(None, op, vars.clone()).await;
            assert_eq!(code(&public), "UNAUTHENTICATED", "{op}");
            for role in [Role::Identified, Role::AccountClient, Role::Manager] {
                let caller = app.user(role).await;
                let body = app.gql(Some(&caller.access), op, vars.clone()).await;
                assert_eq!(code(&body), "FORBIDDEN", "{op} as {role:?}");
            }
        }
        // Nothing happened to the target.
        let me = app.data(Some(&target.access), "{ me { role blocked } }", json!({})).await;
        assert_eq!(me["me"], json!({ "role": "IDENTIFIED", "blocked": false }));
    }
}

db_test! {
    async fn an_admin_creates_users_changes_roles_and_the_old_tokens_die(app) {
        let admin = app.user(Role::Admin).await;
        let created = app
            .data(
                Some(&admin.access),
                "mutation { createUser(input: { email: \"Rep@Example.test\", password: \"long enough\", role: MANAGER }) { id email role } }",
                json!({}),
            )
            .await;
        assert_eq!(created["createUser"]["email"], "rep@example.test");
        assert_eq!(created["createUser"]["role"], "MANAGER");
        let public_role = app
            .gql(Some(&admin.access), "mutation { createUser(input: { email: \"p@example.test\", password: \"long enough\", role: PUBLIC }) { id } }", json!({}))
            .await;
        assert_eq!(code(&public_role), "VALIDATION");
        assert_eq!(public_role["errors"][0]["extensions"]["field"], "role");

        let rep = app.login("rep@example.test", "long enough").await;
        let promote = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { role } }";
        let promoted = app.data(Some(&admin.access), promote, json!({ "id": rep.id, "role": "ADMIN" })).await;
        assert_eq!(promoted["setUserRole"]["role"], "ADMIN");
        let stale = app.gql(Some(&rep.access), "{ me { role } }", json!({})).await;
        assert_eq!(code(&stale), "UNAUTHENTICATED");
        let fresh = app.login("rep@example.test", "long enough").await;
        let me = app.data(Some(&fresh.access), "{ me { role } }", json!({})).await;
        assert_eq!(me["me"]["role"], "ADMIN");

        let own = app.gql(Some(&admin.access), promote, json!({ "id": admin.id, "role": "MANAGER" })).await;
        assert_eq!(code(&own), "VALIDATION");
        let self_block = app.gql(Some(&admin.access), "mutation($id: ID!) { blockUser(id: $id, reason: \"x\") { id } }", json!({ "id": admin.id })).await;
        assert_eq!(code(&self_block), "VALIDATION");
    }
}

db_test! {
    async fn user_ids_are_opaque_and_checked(app) {
        let admin = app.user(Role::Admin).await;
        let block = "mutation($id: ID!) { blockUser(id: $id, reason: \"r\") { id } }";
        let garbage = app.gql(Some(&admin.access), block, json!({ "id": "12" })).await;
        assert_eq!(code(&garbage), "VALIDATION");
        assert_eq!(garbage["errors"][0]["extensions"]["field"], "id");
        let unknown = base64_id(&format!("User:{}", uuid::Uuid::now_v7().simple()));
        let missing = app.gql(Some(&admin.access), block, json!({ "id": unknown })).await;
        assert_eq!(code(&missing), "NOT_FOUND");
        let empty_reason = app.gql(Some(&admin.access), block, json!({ "id": admin.id })).await;
        assert_eq!(code(&empty_reason), "VALIDATION");
    }
}

fn base64_id(raw: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(raw)
}

db_test! {
    async fn users_is_a_relay_connection_with_filters(app) {
        let admin = app.user(Role::Admin).await;
        for _ in 0..3 {
            app.user(Role::Manager).await;
        }
        app.user(Role::Identified).await;
        let page = "query($after: String, $role: Role) { users(first: 2, after: $after, role: $role) {
            totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id role } } } }";
        let first = app.data(Some(&admin.access), page, json!({ "role": "MANAGER" })).await;
        assert_eq!(first["users"]["totalCount"], 3);
        assert_eq!(first["users"]["edges"].as_array().unwrap().len(), 2);
        assert_eq!(first["users"]["pageInfo"]["hasNextPage"], true);
        let cursor = first["users"]["pageInfo"]["endCursor"].clone();
        let second = app.data(Some(&admin.access), page, json!({ "role": "MANAGER", "after": cursor })).await;
        let edges = second["users"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 1);
        assert_eq!(second["users"]["pageInfo"]["hasNextPage"], false);
        assert!(edges.iter().all(|e| e["node"]["role"] == "MANAGER"));
        let all = app.data(Some(&admin.access), "{ users { totalCount } }", json!({})).await;
        assert_eq!(all["users"]["totalCount"], 5);

        let too_many = app.gql(Some(&admin.access), "{ users(first: 101) { totalCount } }", json!({})).await;
        assert_eq!(code(&too_many), "VALIDATION");
        assert_eq!(too_many["errors"][0]["extensions"]["field"], "first");
        let bad_cursor = app.gql(Some(&admin.access), "{ users(after: \"!!\") { totalCount } }", json!({})).await;
        assert_eq!(code(&bad_cursor), "VALIDATION");
    }
}
