use std::time::{SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use comptoir_api::auth::Role;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use crate::helpers::{TEST_JWT_SECRET, code, session};

const REFRESH: &str = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken user { id email } } }";

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The `sub` (UUID) of a user from their access token.
fn subject(access: &str) -> String {
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

db_test! {
    async fn refresh_tokens_rotate_and_reuse_revokes_the_family(app) {
        let user = app.user(Role::Identified).await;
        let first = app.data(None, REFRESH, json!({ "t": user.refresh })).await;
        let second = session(&first["refreshToken"]);
        assert_ne!(second.refresh, user.refresh);
        app.data(Some(&second.access), "{ me { id } }", json!({})).await;

        // The spent token comes back: someone copied it. Both it and its successor die.
        let reuse = app.gql(None, REFRESH, json!({ "t": user.refresh })).await;
        assert_eq!(code(&reuse), "UNAUTHENTICATED");
        let successor = app.gql(None, REFRESH, json!({ "t": second.refresh })).await;
        assert_eq!(code(&successor), "UNAUTHENTICATED");

        let garbage = app.gql(None, REFRESH, json!({ "t": "not-a-token" })).await;
        assert_eq!(code(&garbage), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn tampered_expired_and_foreign_tokens_are_refused(app) {
        let user = app.user(Role::Admin).await;
        let sub = subject(&user.access);
        let valid_claims = json!({ "sub": sub, "role": "ADMIN", "tv": 0, "iat": now(), "exp": now() + 600 });

        // Control: a token we sign like the server does is accepted.
        let forged_ok = sign(&valid_claims, TEST_JWT_SECRET);
        let body = app.gql(Some(&forged_ok), "{ me { id } }", json!({})).await;
        assert_eq!(body["data"]["me"]["id"], user.id.as_str());

        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(valid_claims.to_string());
        let alg_none = format!("{header}.{payload}.");
        let wrong_signature = sign(&valid_claims, "another-secret-another-secret-another-secret");
        let expired = sign(&json!({ "sub": sub, "role": "ADMIN", "tv": 0, "iat": now() - 7200, "exp": now() - 3600 }), TEST_JWT_SECRET);
        let unknown_user = sign(&json!({ "sub": uuid::Uuid::now_v7(), "role": "ADMIN", "tv": 0, "iat": now(), "exp": now() + 600 }), TEST_JWT_SECRET);
        let old_version = sign(&json!({ "sub": sub, "role": "ADMIN", "tv": -1, "iat": now(), "exp": now() + 600 }), TEST_JWT_SECRET);
        // Change one character in the middle of the signature (the last one may only carry
        // padding bits).
        let mut flipped: Vec<char> = user.access.chars().collect();
        let middle = flipped.len() - 10;
        flipped[middle] = if flipped[middle] == 'A' { 'B' } else { 'A' };
        let flipped: String = flipped.into_iter().collect();

        for (what, token) in [
            ("alg none", alg_none.as_str()),
            ("wrong signature", &wrong_signature),
            ("expired", &expired),
            ("unknown user", &unknown_user),
            ("revoked version", &old_version),
            ("flipped signature", &flipped),
            ("garbage", "garbage"),
        ] {
            let response = app
                .client
                .post(&app.url)
                .bearer_auth(token)
                .json(&json!({ "query": "{ me { id } }" }))
                .send()
                .await
                .unwrap();
            // The request runs as a public caller that remembers the refusal: whatever needs a
            // user says UNAUTHENTICATED.
            assert_eq!(response.status(), 200, "{what}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(code(&body), "UNAUTHENTICATED", "{what}");
            assert!(body["data"]["me"].is_null(), "{what}");
        }

        // A client that sends its expired token along can still refresh and log in.
        let refreshed = app
            .client
            .post(&app.url)
            .bearer_auth(&expired)
            .json(&json!({ "query": REFRESH, "variables": { "t": user.refresh } }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = refreshed.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");

        let not_bearer = app
            .client
            .post(&app.url)
            .header("authorization", format!("Basic {}", user.access))
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = not_bearer.json().await.unwrap();
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn a_blocked_user_is_refused_on_every_path(app) {
        let admin = app.user(Role::Admin).await;
        let user = app.user(Role::AccountClient).await;
        let block = "mutation($id: ID!) { blockUser(id: $id, reason: \"unpaid invoices\") { blocked blockedReason } }";
        let blocked = app.data(Some(&admin.access), block, json!({ "id": user.id })).await;
        assert_eq!(blocked["blockUser"]["blocked"], true);
        assert_eq!(blocked["blockUser"]["blockedReason"], "unpaid invoices");

        // An old access token, over HTTP POST and GET.
        let response = app.client.post(&app.url).bearer_auth(&user.access).json(&json!({ "query": "{ __typename }" })).send().await.unwrap();
        assert_eq!(response.status(), 403);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code(&body), "ACCOUNT_BLOCKED");
        let response = app.client.get(&app.url).query(&[("query", "{ __typename }")]).bearer_auth(&user.access).send().await.unwrap();
        assert_eq!(response.status(), 403);

        // Login with the right password, and refresh.
        let login = app.gql(None, "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }", json!({ "e": user.email, "p": crate::helpers::PASSWORD })).await;
        assert_eq!(code(&login), "ACCOUNT_BLOCKED");
        let refresh = app.gql(None, REFRESH, json!({ "t": user.refresh })).await;
        assert_eq!(code(&refresh), "ACCOUNT_BLOCKED");

        // Blocked users show up in the admin's filter.
        let list = app.data(Some(&admin.access), "{ users(blocked: true) { totalCount edges { node { id } } } }", json!({})).await;
        assert_eq!(list["users"]["totalCount"], 1);
        assert_eq!(list["users"]["edges"][0]["node"]["id"], user.id.as_str());

        // Unblocked, they log in again (old tokens stay dead).
        app.data(Some(&admin.access), "mutation($id: ID!) { unblockUser(id: $id) { blocked } }", json!({ "id": user.id })).await;
        let old = app.gql(Some(&user.access), "{ me { id } }", json!({})).await;
        assert_eq!(code(&old), "UNAUTHENTICATED");
        let again = app.login(&user.email, crate::helpers::PASSWORD).await;
        app.data(Some(&again.access), "{ me { id } }", json!({})).await;
    }
}
