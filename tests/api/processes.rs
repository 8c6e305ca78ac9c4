//! Several server processes on one database: events cross them, and a worker killed in the
//! middle of a batch loses no message.

use std::time::Duration;

use comptoir_api::auth::Role;
use serde_json::json;

use crate::{
    catalog::product,
    helpers::{Backend, TestApp},
    mail::MailSink,
    notifications::{app_without_worker, register_accounts},
    orders::checkout,
    websocket::Ws,
};

/// A change made through this test's server reaches a subscriber connected to a second server
/// *process* on the same PostgreSQL database (LISTEN/NOTIFY after commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_event_crosses_from_one_process_to_another_on_postgres() {
    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let other = app.process(&[("COMPTOIR_OUTBOX_WORKER", "false")]).await;
    let manager = app.user(Role::Manager).await;
    let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
    let client = app.user(Role::AccountClient).await;

    let mut ws = Ws::connect_to(&other.ws_url, "graphql-transport-ws").await;
    ws.init(Some(&client.access)).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { orderEvents { kind status } }" } })).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await["type"], "pong");

    app.data(
        Some(&client.access),
        "mutation($p: ID!) { cartAddLine(input: { productId: $p, quantity: 1 }) { id } }",
        json!({ "p": pen }),
    )
    .await;
    let order = checkout(&app, &client.access, None).await;
    assert!(order["data"]["checkout"]["id"].is_string(), "{order}");
    let event = ws.next().await;
    assert_eq!(
        event["payload"]["data"]["orderEvents"],
        json!({ "kind": "ORDER_SUBMITTED", "status": "SUBMITTED" })
    );
}

mod a_worker_killed_in_the_middle_of_a_batch_loses_no_message {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_worker_killed_in_the_middle_of_a_batch_loses_no_message(super::Backend::Sqlite)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_worker_killed_in_the_middle_of_a_batch_loses_no_message(super::Backend::Postgres)
            .await;
    }
}
async fn a_worker_killed_in_the_middle_of_a_batch_loses_no_message(backend: Backend) {
    // A slow mail server: the worker is still sending its batch when it dies.
    let sink = MailSink::start_slow(Duration::from_millis(300));
    let lease = |config: &mut comptoir_api::config::Config| {
        config.outbox_lease = Duration::from_secs(2);
    };
    let Some(app) = app_without_worker(backend, &sink.url, lease).await else {
        return;
    };
    register_accounts(&app, "k", 20).await;
    let mut worker = app
        .process(&[
            ("COMPTOIR_SMTP_URL", sink.url.as_str()),
            ("COMPTOIR_OUTBOX_LEASE", "2s"),
        ])
        .await;
    sink.wait_for(2).await;
    worker.kill();
    let before = sink.messages().len();
    assert!(
        before < 20,
        "killed before the batch was done ({before} sent)"
    );

    // Another worker takes over once the dead one's lease ends.
    let _next = app.sibling_with(|config| config.outbox_worker = true).await;
    sink.wait_for(20).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let messages = sink.messages();
    let header = |m: &str, name: &str| {
        m.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    let mut recipients: Vec<String> = messages.iter().map(|m| header(m, "To: ")).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(
        recipients.len(),
        20,
        "every message arrived: {recipients:?}"
    );
    // At most the messages in flight at the kill (the worker sends 8 at a time) went twice, with
    // the same Message-ID.
    assert!(messages.len() <= 28, "{} deliveries", messages.len());
    let mut ids: Vec<String> = messages.iter().map(|m| header(m, "Message-ID: ")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "one Message-ID per message");
}

/// The server returns freed memory to the system at once (mimalloc's purge delay 0: it starts
/// itself again with the setting), unless the setting was given.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_returns_freed_memory_at_once_unless_told_otherwise() {
    let app = TestApp::spawn_with(Backend::Sqlite, |_| {})
        .await
        .expect("SQLite is always available");
    let default = app.process(&[]).await;
    assert_eq!(
        default.environment("MIMALLOC_PURGE_DELAY").as_deref(),
        Some("0")
    );
    let chosen = app.process(&[("MIMALLOC_PURGE_DELAY", "1000")]).await;
    assert_eq!(
        chosen.environment("MIMALLOC_PURGE_DELAY").as_deref(),
        Some("1000")
    );
}
