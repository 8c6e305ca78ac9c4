use std::{path::Path, process::Command};

use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::code;

db_test! {
    /// The official GraphQL-over-HTTP audit (npm `graphql-http`) passes with no error, warning or
    /// notice against the real server.
    async fn the_graphql_over_http_audit_passes(app) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphql-http-audit");
        install_audit(&dir).await;
        let url = app.url.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("node").arg("audit.mjs").arg(&url).current_dir(&dir).output().expect("node is installed")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "audit failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("0 warn, 0 error"), "{stdout}");
    }
}

/// Installs the audit's pinned npm packages once per test run (both back ends share them).
async fn install_audit(dir: &Path) {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let dir = dir.to_owned();
    INSTALLED
        .get_or_init(|| async move {
            if dir.join("node_modules/graphql-http").exists() {
                return;
            }
            let status = tokio::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir)
                .status()
                .await
                .expect("npm is installed");
            assert!(status.success(), "npm ci failed");
        })
        .await;
}

async fn post_raw(
    app: &crate::helpers::TestApp,
    accept: Option<&str>,
    content_type: &str,
    body: &str,
) -> (u16, String, Value) {
    let mut request = app
        .client
        .post(&app.url)
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, body)
}

db_test! {
    async fn responses_follow_the_accept_header_and_status_rules(app) {
        let ok = r#"{"query":"{ __typename }"}"#;
        let (status, ct, _) = post_raw(&app, Some("application/graphql-response+json"), "application/json", ok).await;
        assert_eq!((status, ct.starts_with("application/graphql-response+json")), (200, true));
        let (status, ct, _) = post_raw(&app, Some("application/json"), "application/json", ok).await;
        assert_eq!((status, ct.starts_with("application/json")), (200, true));
        let (status, ct, _) = post_raw(&app, None, "application/json", ok).await;
        assert_eq!((status, ct.starts_with("application/json")), (200, true));
        let (status, _, _) = post_raw(&app, Some("text/plain"), "application/json", ok).await;
        assert_eq!(status, 406);

        // Parse errors: 400 without `data` under the GraphQL media type, 200 under plain JSON.
        let broken = r#"{"query":"{ me {"}"#;
        let (status, _, body) = post_raw(&app, Some("application/graphql-response+json"), "application/json", broken).await;
        assert_eq!(status, 400);
        assert!(body.get("data").is_none());
        assert_eq!(code(&body), "VALIDATION");
        let (status, _, body) = post_raw(&app, Some("application/json"), "application/json", broken).await;
        assert_eq!(status, 200);
        assert_eq!(code(&body), "VALIDATION");

        // Unknown field: a validation error, with a code.
        let (status, _, body) = post_raw(&app, Some("application/graphql-response+json"), "application/json", r#"{"query":"{ nope }"}"#).await;
        assert_eq!(status, 400);
        assert_eq!(code(&body), "VALIDATION");

        // Bodies browsers can send cross-site without CORS are refused.
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let (status, _, _) = post_raw(&app, None, content_type, ok).await;
            assert_eq!(status, 415, "{content_type}");
        }
        let (status, _, _) = post_raw(&app, None, "application/json", "{ not json").await;
        assert_eq!(status, 400);
        let (status, _, _) = post_raw(&app, None, "application/json", r#"{"query": 1}"#).await;
        assert_eq!(status, 400);
        let (status, _, _) = post_raw(&app, None, "application/json", r#"{"query":"{ __typename }","variables":"x"}"#).await;
        assert_eq!(status, 400);
    }
}

db_test! {
    async fn get_serves_queries_graphiql_and_refuses_mutations(app) {
        let response = app.client.get(&app.url).query(&[("query", "{ __typename }")]).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "QueryRoot");

        // A named mutation alone in its document runs without being named: refused as well.
        for mutation in ["mutation { logout(refreshToken: \"x\") }", "mutation Out { logout(refreshToken: \"x\") }"] {
            let response = app.client.get(&app.url).query(&[("query", mutation)]).send().await.unwrap();
            assert_eq!(response.status(), 405, "{mutation}");
            assert_eq!(response.headers()["allow"], "POST", "{mutation}");
        }

        let response = app.client.get(&app.url).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(response.text().await.unwrap().contains("graphiql"));

        let response = app.client.put(&app.url).json(&json!({ "query": "{ __typename }" })).send().await.unwrap();
        assert_eq!(response.status(), 405);
    }
}

db_test! {
    async fn health_and_readiness_answer(app) {
        let base = format!("http://{}", app.addr);
        let alive = app.client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(alive.status(), 200);
        let ready = app.client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
    }
}

db_test! {
    async fn cors_allows_only_configured_origins(app) with |config| {
        config.cors_origins = vec!["https://shop.example".to_owned()];
    } {
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, &app.url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type,authorization")
                .send()
        };
        let allowed = preflight("https://shop.example").await.unwrap();
        assert_eq!(allowed.headers()["access-control-allow-origin"], "https://shop.example");
        let refused = preflight("https://evil.example").await.unwrap();
        assert!(refused.headers().get("access-control-allow-origin").is_none());
    }
}

db_test! {
    /// `GET /metrics` (when configured) exposes the statement count and the time write
    /// transactions were open; a mutation's transaction adds to both.
    async fn metrics_count_statements_and_write_time(app) with |config| {
        config.metrics = true;
    } {
        let admin = app.user(Role::Admin).await;
        let metric = |text: &str, name: &str| -> f64 {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
                .parse()
                .unwrap()
        };
        let read = || async {
            let response = app.client.get(format!("http://{}/metrics", app.addr)).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        };
        let before = read().await;
        app.data(Some(&admin.access), "mutation { updateStoreSettings(version: 0, input: { name: \"Metered\" }) { version } }", json!({})).await;
        let after = read().await;
        for name in ["comptoir_sql_statements_total", "comptoir_write_transaction_seconds_total"] {
            assert!(metric(&after, name) > metric(&before, name), "{name}:\n{before}\n{after}");
        }
        assert!(after.contains("\ncomptoir_websocket_connections 0\n"), "{after}");
    }
}

db_test! {
    async fn metrics_are_not_served_unless_configured(app) {
        let response = app.client.get(format!("http://{}/metrics", app.addr)).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
}
