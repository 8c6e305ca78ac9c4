use std::time::Duration;

use chrono::{DateTime, Utc};
use comptoir_api::auth::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, PASSWORD, TestApp, code},
    mail::{MailSink, free_port, token_in},
};

/// A server sending to `sink`, with quick retries.
pub async fn app_with_smtp(backend: Backend, smtp_url: &str) -> Option<TestApp> {
    let url = smtp_url.to_owned();
    TestApp::spawn_with(backend, move |config| {
        config.smtp_url = Some(url.into());
        config.outbox_retry = Duration::from_secs(1);
    })
    .await
}

/// A server sending to `smtp_url` with no outbox worker of its own (messages wait in the
/// outbox until a worker starts), `setup` for the rest.
pub async fn app_without_worker(
    backend: Backend,
    smtp_url: &str,
    setup: impl FnOnce(&mut comptoir_api::config::Config) + Send + 'static,
) -> Option<TestApp> {
    let url = smtp_url.to_owned();
    TestApp::spawn_with(backend, move |config| {
        config.smtp_url = Some(url.into());
        config.outbox_worker = false;
        setup(config);
    })
    .await
}

/// Registers `count` accounts, `{prefix}0@example.test` and on: one verification email each.
pub async fn register_accounts(app: &TestApp, prefix: &str, count: usize) {
    for i in 0..count {
        let register = format!(
            "mutation {{ register(input: {{ email: \"{prefix}{i}@example.test\", password: \"long enough\" }}) {{ accessToken }} }}"
        );
        app.data(None, &register, json!({})).await;
    }
}

both_backends!(registration_sends_a_verification_link_that_works_once);
async fn registration_sends_a_verification_link_that_works_once(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let register = "mutation { register(input: { email: \"new@example.test\", password: \"long enough\" }) { accessToken user { emailVerified } } }";
    let data = app.data(None, register, json!({})).await;
    assert_eq!(data["register"]["user"]["emailVerified"], false);
    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.contains("To: new@example.test"), "{mail}");
    assert!(
        mail.contains("Subject: Confirm your email address"),
        "{mail}"
    );
    assert!(mail.contains("Message-ID: <"), "{mail}");
    let token = token_in(&mail);
    let verify = "mutation($t: String!) { verifyEmail(token: $t) { email emailVerified } }";
    let verified = app.data(None, verify, json!({ "t": token })).await;
    assert_eq!(verified["verifyEmail"]["emailVerified"], true);
    let again = app.gql(None, verify, json!({ "t": token })).await;
    assert_eq!(code(&again), "VALIDATION");
    assert_eq!(again["errors"][0]["extensions"]["field"], "token");
}

both_backends!(a_password_reset_link_sets_a_new_password_and_ends_every_session);
async fn a_password_reset_link_sets_a_new_password_and_ends_every_session(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let acme = app.customer("Acme").await;
    let admin = app.user(Role::Admin).await;
    // The customer speaks French: the French template is used.
    let acme_id = app
        .data(
            Some(&admin.access),
            "{ customers { edges { node { id } } } }",
            json!({}),
        )
        .await["customers"]["edges"][0]["node"]["id"]
        .clone();
    app.data(Some(&admin.access), "mutation($id: ID!) { updateCustomer(id: $id, version: 1, input: { language: \"fr\" }) { language } }", json!({ "id": acme_id })).await;
    let user = app.user_of(Role::AccountClient, Some(acme)).await;

    let request = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let unknown = app
        .data(None, request, json!({ "e": "nobody@example.test" }))
        .await;
    let known = app.data(None, request, json!({ "e": user.email })).await;
    assert_eq!(unknown, known, "the same answer either way");
    let mail = sink.wait_for(1).await.remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "nothing sent for an unknown address"
    );
    assert!(
        mail.contains("Subject: =?utf-8?") || mail.contains("Subject: Réinitialisez"),
        "{mail}"
    );

    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let token = token_in(&mail);
    let short = app
        .gql(None, reset, json!({ "t": token, "p": "short" }))
        .await;
    assert_eq!(code(&short), "VALIDATION");
    app.data(
        None,
        reset,
        json!({ "t": token, "p": "a brand new password" }),
    )
    .await;
    let old = app
        .gql(Some(&user.access), "{ me { id } }", json!({}))
        .await;
    assert_eq!(code(&old), "UNAUTHENTICATED");
    let old_password = app.gql(None, "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }", json!({ "e": user.email, "p": PASSWORD })).await;
    assert_eq!(code(&old_password), "INVALID_CREDENTIALS");
    app.login(&user.email, "a brand new password").await;
    let reused = app
        .gql(
            None,
            reset,
            json!({ "t": token, "p": "yet another password" }),
        )
        .await;
    assert_eq!(code(&reused), "VALIDATION");
}

both_backends!(the_outbox_retries_until_the_mail_server_is_back);
async fn the_outbox_retries_until_the_mail_server_is_back(backend: Backend) {
    let port = free_port();
    let Some(app) = app_with_smtp(backend, &format!("smtp://127.0.0.1:{port}")).await else {
        return;
    };
    let admin = app.user(Role::Admin).await;
    app.data(None, "mutation { register(input: { email: \"late@example.test\", password: \"long enough\" }) { accessToken } }", json!({})).await;
    let outbox =
        "{ outboxMessages { totalCount edges { node { recipient status attempts lastError } } } }";
    // The server is down: attempts fail and are recorded.
    let mut failed = false;
    for _ in 0..50 {
        let data = app.data(Some(&admin.access), outbox, json!({})).await;
        let node = &data["outboxMessages"]["edges"][0]["node"];
        if node["attempts"].as_i64().unwrap_or(0) >= 1 {
            assert_eq!(node["status"], "PENDING");
            assert!(node["lastError"].is_string());
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "an attempt was made and failed");
    let sink = MailSink::start_on_port(port);
    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.contains("To: late@example.test"));
    let data = app.data(Some(&admin.access), outbox, json!({})).await;
    let node = &data["outboxMessages"]["edges"][0]["node"];
    assert_eq!(node["status"], "SENT");
    assert!(node["attempts"].as_i64().unwrap() >= 2);
    let client = app.user(Role::Identified).await;
    let forbidden = app.gql(Some(&client.access), outbox, json!({})).await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
}

both_backends!(messages_queued_while_no_worker_runs_are_sent_once_by_the_next_workers);
async fn messages_queued_while_no_worker_runs_are_sent_once_by_the_next_workers(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = app_without_worker(backend, &sink.url, |_| {}).await else {
        return;
    };
    register_accounts(&app, "q", 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "no worker, nothing sent");
    if backend == Backend::Postgres {
        // Two instances with workers on one database: each message still goes out once.
        let first = app.sibling_with(|config| config.outbox_worker = true).await;
        let second = app.sibling_with(|config| config.outbox_worker = true).await;
        sink.wait_for(6).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop((first, second));
    } else {
        let worker = app.sibling_with(|config| config.outbox_worker = true).await;
        sink.wait_for(6).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(worker);
    }
    let mut recipients: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| {
            m.lines()
                .find(|l| l.starts_with("To: "))
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(sink.messages().len(), 6, "each message once");
    assert_eq!(recipients.len(), 6);
    // Every attempt is recorded, those the worker wrote together as well.
    let admin = app.user(Role::Admin).await;
    let data = app
        .data(
            Some(&admin.access),
            "{ outboxMessages(first: 20) { edges { node { recipient status attempts lastError createdAt sentAt } } } }",
            json!({}),
        )
        .await;
    let nodes = data["outboxMessages"]["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), 6);
    for edge in nodes {
        let node = &edge["node"];
        assert_eq!(node["status"], "SENT", "{edge}");
        assert_eq!(node["attempts"], 1, "{edge}");
        assert_eq!(node["lastError"], Value::Null, "{edge}");
        let created = node["createdAt"].as_str().unwrap().parse::<DateTime<Utc>>();
        let sent = node["sentAt"].as_str().unwrap().parse::<DateTime<Utc>>();
        assert!(sent.unwrap() >= created.unwrap(), "{edge}");
    }
    // Marked sent together, each message keeps its own body (only secrets are wiped).
    let db = app.state.db.read();
    let bodies = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT body FROM outbox_message",
        ))
        .await
        .unwrap();
    assert_eq!(bodies.len(), 6);
    for row in bodies {
        let body: String = row.try_get("", "body").unwrap();
        assert!(
            !body.is_empty() && !body.contains("removed once sent"),
            "{body}"
        );
    }
}

both_backends!(admins_edit_preview_and_reset_templates);
async fn admins_edit_preview_and_reset_templates(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let admin = app.user(Role::Admin).await;
    let t = Some(admin.access.as_str());
    let list = app
        .data(
            t,
            "{ messageTemplates { name language customized } }",
            json!({}),
        )
        .await;
    assert!(
        list["messageTemplates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "password_reset" && m["language"] == "fr")
    );

    let update = "mutation($b: String!) { updateMessageTemplate(name: \"verify_email\", language: \"en\", subject: \"Welcome {{ email }}\", body: $b) { customized } }";
    let broken = app
        .gql(t, update, json!({ "b": "Hello\n{% if %}\n" }))
        .await;
    assert_eq!(code(&broken), "VALIDATION");
    assert_eq!(broken["errors"][0]["extensions"]["field"], "body");
    assert!(
        broken["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{broken}"
    );
    let unknown_variable = app
        .gql(t, update, json!({ "b": "Hi {{ nickname }}" }))
        .await;
    assert_eq!(code(&unknown_variable), "VALIDATION");
    let saved = app
        .data(t, update, json!({ "b": "Click {{ link }} to confirm." }))
        .await;
    assert_eq!(saved["updateMessageTemplate"]["customized"], true);

    let preview = app
        .data(
            t,
            "{ previewMessageTemplate(name: \"verify_email\", language: \"en\") { subject body } }",
            json!({}),
        )
        .await;
    assert_eq!(
        preview["previewMessageTemplate"]["subject"],
        "Welcome jeanne.martin@example.com"
    );
    assert!(
        preview["previewMessageTemplate"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Click https://")
    );

    app.data(None, "mutation { register(input: { email: \"t@example.test\", password: \"long enough\" }) { accessToken } }", json!({})).await;
    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.contains("Subject: Welcome t@example.test"), "{mail}");

    let reset = app.data(t, "mutation { resetMessageTemplate(name: \"verify_email\", language: \"en\") { customized subject } }", json!({})).await;
    assert_eq!(
        reset["resetMessageTemplate"],
        json!({ "customized": false, "subject": "Confirm your email address" })
    );
    let manager = app.user(Role::Manager).await;
    let forbidden = app
        .gql(
            Some(&manager.access),
            "{ messageTemplates { name } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
}

both_backends!(staff_message_a_customer_contact_by_email_or_sms);
async fn staff_message_a_customer_contact_by_email_or_sms(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let manager = app.user(Role::Manager).await;
    let t = Some(manager.access.as_str());
    let customer = app
        .data(
            t,
            "mutation { createCustomer(input: { name: \"Globex\" }) { id } }",
            json!({}),
        )
        .await["createCustomer"]["id"]
        .clone();
    let contact = "mutation($c: ID!, $phone: String) { addCustomerContact(customerId: $c, input: { name: \"Ann\", email: \"ann@globex.test\", phone: $phone }) { id } }";
    app.data(
        t,
        contact,
        json!({ "c": customer, "phone": "+33 6 11 22 33 44" }),
    )
    .await;
    let send = "mutation($c: ID!, $ch: MessageChannel!) { sendCustomerMessage(customerId: $c, channel: $ch, subject: \"Your order\", body: \"It is ready.\") }";
    app.data(t, send, json!({ "c": customer, "ch": "EMAIL" }))
        .await;
    let mail = sink.wait_for(1).await.remove(0);
    assert!(
        mail.contains("To: ann@globex.test") && mail.contains("It is ready."),
        "{mail}"
    );
    app.data(t, send, json!({ "c": customer, "ch": "SMS" }))
        .await;
    // No SMS provider configured: the SMS lands in the mail folder.
    let dir = app.mail_dir();
    let mut found = false;
    for _ in 0..50 {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if entry.path().to_string_lossy().ends_with(".sms.txt")
                    && text.contains("+33611223344")
                    && text.contains("It is ready.")
                {
                    found = true;
                }
            }
        }
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "SMS written to {}", dir.display());
    // Both messages are on the customer's timeline.
    let timeline = app
        .data(
            t,
            "query($c: ID!) { customer(id: $c) { timeline { kind changes } } }",
            json!({ "c": customer }),
        )
        .await;
    let entries = timeline["customer"]["timeline"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e["kind"] == "MESSAGE_SENT"));
    assert_eq!(entries[0]["changes"]["channel"], "SMS");
    assert_eq!(entries[1]["changes"]["to"], "ann@globex.test");
    let client = app.user(Role::AccountClient).await;
    let forbidden = app
        .gql(
            Some(&client.access),
            send,
            json!({ "c": customer, "ch": "EMAIL" }),
        )
        .await;
    assert_eq!(code(&forbidden), "FORBIDDEN");
    // An invalid phone never reaches the outbox: contacts refuse it first.
    let bad = app
        .gql(t, contact, json!({ "c": customer, "phone": "0612" }))
        .await;
    assert_eq!(code(&bad), "VALIDATION");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "phone");
}

both_backends!(the_worker_sends_as_many_messages_at_once_as_set);
async fn the_worker_sends_as_many_messages_at_once_as_set(backend: Backend) {
    let Some(most) = most_sent_at_once(backend, None).await else {
        return;
    };
    assert!(most >= 2, "sent one at a time ({most} at most)");
    let one = most_sent_at_once(backend, Some(1)).await;
    assert_eq!(one, Some(1), "COMPTOIR_OUTBOX_CONCURRENCY=1");
}

/// The most messages a slow mail server receives at once from a worker sending with
/// `concurrency` (the default when `None`): seven messages, two of them to one address.
async fn most_sent_at_once(backend: Backend, concurrency: Option<u32>) -> Option<usize> {
    // One at a time, seven would take two seconds.
    let sink = MailSink::start_slow(Duration::from_millis(300));
    // The messages are written with no worker running, then one worker claims them together.
    let app = app_without_worker(backend, &sink.url, move |config| {
        if let Some(concurrency) = concurrency {
            config.outbox_concurrency = concurrency;
        }
    })
    .await?;
    register_accounts(&app, "r", 6).await;
    // Two messages to one address go out at once too (the seller's order desk gets them all).
    let reset = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    app.data(None, reset, json!({ "e": "r0@example.test" }))
        .await;
    let _worker = app.sibling_with(|config| config.outbox_worker = true).await;

    let messages = sink.wait_for(7).await;
    let to_first = messages
        .iter()
        .filter(|m| m.contains("To: r0@example.test"))
        .count();
    assert_eq!(to_first, 2, "{messages:?}");
    Some(sink.most_at_once())
}
