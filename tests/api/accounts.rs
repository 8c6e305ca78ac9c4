use comptoir_api::auth::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, code, session};

const REGISTER: &str = "mutation($email: String!, $password: String!) {
    register(input: { email: $email, password: $password }) {
        accessToken refreshToken accessTokenExpiresAt user { id email role blocked }
    }
}";

const LOGIN: &str = "mutation($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { accessToken refreshToken user { id email } }
}";

db_test! {
    async fn a_visitor_registers_and_sees_themselves_as_identified(app) {
        let data = app
            .data(None, REGISTER, json!({ "email": " New.Person@Example.TEST ", "password": PASSWORD }))
            .await;
        let user = &data["register"]["user"];
        assert_eq!(user["email"], "new.person@example.test");
        assert_eq!(user["role"], "IDENTIFIED");
        assert_eq!(user["blocked"], false);
        let me = app
            .data(Some(data["register"]["accessToken"].as_str().unwrap()), "{ me { id email role } }", json!({}))
            .await;
        assert_eq!(me["me"]["id"], user["id"]);
        assert_eq!(me["me"]["role"], "IDENTIFIED");

        let public = app.data(None, "{ me { id } }", json!({})).await;
        assert!(public["me"].is_null());
    }
}

db_test! {
    async fn registration_refuses_bad_input_naming_the_field(app) {
        let bad_email = app.gql(None, REGISTER, json!({ "email": "nope", "password": PASSWORD })).await;
        assert_eq!(code(&bad_email), "VALIDATION");
        assert_eq!(bad_email["errors"][0]["extensions"]["field"], "email");

        let short = app.gql(None, REGISTER, json!({ "email": "a@example.test", "password": "short" })).await;
        assert_eq!(code(&short), "VALIDATION");
        assert_eq!(short["errors"][0]["extensions"]["field"], "password");

        app.data(None, REGISTER, json!({ "email": "taken@example.test", "password": PASSWORD })).await;
        let again = app.gql(None, REGISTER, json!({ "email": "TAKEN@example.test", "password": PASSWORD })).await;
        assert_eq!(code(&again), "CONFLICT");
        assert_eq!(again["errors"][0]["extensions"]["field"], "email");
        assert!(again.get("data").is_some_and(serde_json::Value::is_null));
    }
}

db_test! {
    async fn unknown_email_and_wrong_password_get_the_same_answer(app) {
        let user = app.user(Role::Identified).await;
        let wrong = app.gql(None, LOGIN, json!({ "email": user.email, "password": "wrong password" })).await;
        let unknown = app.gql(None, LOGIN, json!({ "email": "nobody@example.test", "password": "wrong password" })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        assert_eq!(code(&unknown), "INVALID_CREDENTIALS");
        assert_eq!(wrong["errors"][0]["message"], unknown["errors"][0]["message"]);
        let not_an_email = app.gql(None, LOGIN, json!({ "email": "nobody", "password": "x" })).await;
        assert_eq!(code(&not_an_email), "INVALID_CREDENTIALS");
    }
}

db_test! {
    async fn logout_ends_the_session_and_everywhere_revokes_access_tokens(app) {
        let user = app.user(Role::Identified).await;
        let other_device = app.login(&user.email, PASSWORD).await;
        let logout = "mutation($t: String!, $all: Boolean) { logout(refreshToken: $t, everywhere: $all) }";
        app.data(None, logout, json!({ "t": user.refresh, "all": false })).await;
        let refresh = app.gql(None, "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", json!({ "t": user.refresh })).await;
        assert_eq!(code(&refresh), "UNAUTHENTICATED");
        // The other device is untouched by a plain logout...
        app.data(Some(&other_device.access), "{ me { id } }", json!({})).await;
        // ...and logged out by `everywhere`, access token included.
        app.data(None, logout, json!({ "t": other_device.refresh, "all": true })).await;
        let me = app.gql(Some(&other_device.access), "{ me { id } }", json!({})).await;
        assert_eq!(code(&me), "UNAUTHENTICATED");
        // Logging out twice is harmless.
        app.data(None, logout, json!({ "t": other_device.refresh, "all": false })).await;
    }
}

db_test! {
    async fn changing_the_password_revokes_every_old_token(app) {
        let user = app.user(Role::AccountClient).await;
        let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken refreshToken user { id email } } }";
        let wrong = app.gql(Some(&user.access), change, json!({ "c": "not it", "n": "a new password" })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        let too_short = app.gql(Some(&user.access), change, json!({ "c": PASSWORD, "n": "short" })).await;
        assert_eq!(code(&too_short), "VALIDATION");
        assert_eq!(too_short["errors"][0]["extensions"]["field"], "newPassword");

        let data = app.data(Some(&user.access), change, json!({ "c": PASSWORD, "n": "a new password" })).await;
        let fresh = session(&data["changePassword"]);

        let old_access = app.gql(Some(&user.access), "{ me { id } }", json!({})).await;
        assert_eq!(code(&old_access), "UNAUTHENTICATED");
        let old_refresh = app.gql(None, "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", json!({ "t": user.refresh })).await;
        assert_eq!(code(&old_refresh), "UNAUTHENTICATED");
        app.data(Some(&fresh.access), "{ me { id } }", json!({})).await;

        let old_password = app.gql(None, LOGIN, json!({ "email": user.email, "password": PASSWORD })).await;
        assert_eq!(code(&old_password), "INVALID_CREDENTIALS");
        app.login(&user.email, "a new password").await;

        let anonymous = app.gql(None, change, json!({ "c": PASSWORD, "n": "a new password" })).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    }
}
