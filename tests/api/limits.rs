use comptoir_api::auth::Role;
use serde_json::json;

use crate::helpers::code;

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }";

db_test! {
    async fn logins_are_rate_limited_per_email(app) with |config| {
        config.login_max_per_email = 3;
    } {
        let user = app.user(Role::Identified).await; // one successful login, which resets the count
        for _ in 0..3 {
            let body = app.gql(None, LOGIN, json!({ "e": user.email, "p": "wrong password" })).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS");
        }
        // Even the right password is refused now: the limit is on attempts.
        let limited = app.gql(None, LOGIN, json!({ "e": user.email, "p": crate::helpers::PASSWORD })).await;
        assert_eq!(code(&limited), "RATE_LIMITED");
        let retry_after = limited["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
        assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
        // Another email is not affected.
        let other = app.user(Role::Identified).await;
        app.login(&other.email, crate::helpers::PASSWORD).await;
    }
}

db_test! {
    async fn logins_are_rate_limited_per_client_address(app) with |config| {
        config.login_max_per_address = 4;
    } {
        for i in 0..4 {
            let body = app.gql(None, LOGIN, json!({ "e": format!("n{i}@example.test"), "p": "whatever" })).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS");
        }
        let limited = app.gql(None, LOGIN, json!({ "e": "fresh@example.test", "p": "whatever" })).await;
        assert_eq!(code(&limited), "RATE_LIMITED");
    }
}

db_test! {
    async fn depth_aliases_and_batches_are_capped(app) with |config| {
        config.max_query_depth = 3;
        config.max_aliases = 3;
        config.max_batch = 2;
    } {

        // Twice each: the second time the document is a kept parse, and the limits still hold.
        for _ in 0..2 {
            let deep = app.gql(None, "{ __schema { types { fields { type { name } } } } }", json!({})).await;
            assert_eq!(code(&deep), "VALIDATION");
            assert!(deep.get("data").is_none());

            let aliased = app.gql(None, "{ a: __typename b: __typename c: __typename d: __typename }", json!({})).await;
            assert_eq!(code(&aliased), "VALIDATION");
        }
        let fine = app.data(None, "{ a: __typename b: __typename c: __typename }", json!({})).await;
        assert_eq!(fine["a"], "QueryRoot");

        let batch = |n: usize| json!(vec![json!({ "query": "{ __typename }" }); n]);
        let ok = app.client.post(&app.url).json(&batch(2)).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body.as_array().unwrap().len(), 2);
        let too_many = app.client.post(&app.url).json(&batch(3)).send().await.unwrap();
        assert_eq!(too_many.status(), 400);
        let body: serde_json::Value = too_many.json().await.unwrap();
        assert_eq!(code(&body), "VALIDATION");
    }
}

db_test! {
    async fn oversized_bodies_get_413(app) with |config| {
        config.max_body_bytes = 2048;
    } {
        let query = format!("{{ __typename }} # {}", "x".repeat(4096));
        let response = app.client.post(&app.url).json(&json!({ "query": query })).send().await.unwrap();
        assert_eq!(response.status(), 413);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(code(&body), "VALIDATION");
    }
}

db_test! {
    async fn page_size_counts_in_query_complexity(app) with |config| {
        config.max_query_complexity = 60;
    } {
        // Page size multiplies the cost of the nodes: 50 users × 2 fields is over budget.
        let big_page = app.gql(None, "{ users(first: 50) { edges { node { id email } } } }", json!({})).await;
        assert_eq!(code(&big_page), "VALIDATION");
        assert!(big_page["errors"][0]["message"].as_str().unwrap().contains("omplex"), "{big_page}");
        let small_page = app.gql(None, "{ users(first: 5) { edges { node { id email } } } }", json!({})).await;
        assert_eq!(code(&small_page), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn fragments_cannot_hide_aliases(app) with |config| {
        config.max_aliases = 10;
    } {
        // 3 aliases, spread 2 × 2 times: 12 aliased fields run.
        let nested = "query { ...F2 ...F2 } fragment F2 on QueryRoot { ...F1 ...F1 }
                      fragment F1 on QueryRoot { a: __typename b: __typename c: __typename }";
        let body = app.gql(None, nested, json!({})).await;
        assert_eq!(code(&body), "VALIDATION");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("aliases"), "{body}");
    }
}

db_test! {
    async fn registrations_are_rate_limited_per_address(app) with |config| {
        config.login_max_per_address = 2;
    } {
        let register = "mutation($e: String!) { register(input: { email: $e, password: \"long enough\" }) { accessToken } }";
        for i in 0..2 {
            app.data(None, register, json!({ "e": format!("r{i}@example.test") })).await;
        }
        let limited = app.gql(None, register, json!({ "e": "r9@example.test" })).await;
        assert_eq!(code(&limited), "RATE_LIMITED");
    }
}

db_test! {
    async fn behind_a_proxy_the_appended_address_counts_not_the_spoofed_one(app) with |config| {
        config.login_max_per_address = 3;
        config.client_ip_header = Some("x-forwarded-for".to_owned());
    } {
        for i in 0..4 {
            let response = app
                .client
                .post(&app.url)
                // The client writes the left part; the proxy appends the real address.
                .header("x-forwarded-for", format!("10.9.9.{i}, 203.0.113.7"))
                .json(&json!({ "query": LOGIN, "variables": { "e": format!("p{i}@example.test"), "p": "x" } }))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = response.json().await.unwrap();
            let expected = if i < 3 { "INVALID_CREDENTIALS" } else { "RATE_LIMITED" };
            assert_eq!(code(&body), expected, "attempt {i}");
        }
    }
}
