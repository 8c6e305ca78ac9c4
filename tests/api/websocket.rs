use std::time::Duration;

use comptoir_api::auth::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::helpers::TestApp;

/// A `graphql-transport-ws` (or legacy) client, for any test that subscribes.
pub struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Ws {
    pub async fn connect(app: &TestApp, protocol: &str) -> Self {
        Self::connect_to(&app.ws_url, protocol).await
    }

    pub async fn connect_to(url: &str, protocol: &str) -> Self {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (stream, response) = connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        Self(stream)
    }

    pub async fn send(&mut self, value: Value) {
        self.0.send(Message::text(value.to_string())).await.unwrap();
    }

    /// The next JSON message, skipping pings and keep-alives.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("a message within 10 s")
                .expect("connection open")
                .expect("valid frame");
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] != "ka" {
                        return value;
                    }
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Waits for the server to close; returns the close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.0.next())
                .await
                .expect("closed within 10 s");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) | None => return u16::from(CloseCode::Status),
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("error before close: {error}"),
            }
        }
    }

    pub async fn init(&mut self, token: Option<&str>) {
        let payload = token.map_or(
            json!({}),
            |t| json!({ "authorization": format!("Bearer {t}") }),
        );
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(self.next().await["type"], "connection_ack");
    }
}

db_test! {
    async fn a_user_hears_live_that_an_admin_blocked_them(app) {
        let admin = app.user(Role::Admin).await;
        let user = app.user(Role::Identified).await;
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind role reason cursor } }" } })).await;
        // Let the subscription register before the change (a round trip over the socket).
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");

        let other = app.user(Role::Identified).await;
        app.data(Some(&admin.access), "mutation($id: ID!) { setUserRole(id: $id, role: MANAGER) { id } }", json!({ "id": other.id })).await;
        app.data(Some(&admin.access), "mutation($id: ID!) { blockUser(id: $id, reason: \"fraud\") { id } }", json!({ "id": user.id })).await;

        // Only the user's own event arrives (not the other user's role change), then the end.
        let event = ws.next().await;
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(event["id"], "1");
        assert_eq!(event["payload"]["data"]["myAccountEvents"]["kind"], "BLOCKED");
        assert_eq!(event["payload"]["data"]["myAccountEvents"]["reason"], "fraud");
        assert_eq!(ws.next().await, json!({ "type": "complete", "id": "1" }));

        // The connection's token is dead now: subscribing again closes with 4403.
        ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ me { id } }" } })).await;
        assert_eq!(ws.closed().await, 4403);

        // And a new connection with the old token is refused at init.
        let mut again = Ws::connect(&app, "graphql-transport-ws").await;
        again.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access) } })).await;
        assert_eq!(again.closed().await, 4403);
    }
}

db_test! {
    async fn account_events_need_a_logged_in_user(app) {
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(None).await;
        ws.send(json!({ "id": "a", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind } }" } })).await;
        let reply = ws.next().await;
        assert_eq!(reply["type"], "next", "{reply}");
        assert_eq!(reply["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
}

db_test! {
    async fn the_transport_protocol_is_enforced(app) with |config| {
        config.ws_init_timeout = Duration::from_millis(300);
    } {
        let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } });

        let mut early = Ws::connect(&app, "graphql-transport-ws").await;
        early.send(subscribe.clone()).await;
        assert_eq!(early.closed().await, 4401);

        let mut silent = Ws::connect(&app, "graphql-transport-ws").await;
        assert_eq!(silent.closed().await, 4408);

        let mut garbage = Ws::connect(&app, "graphql-transport-ws").await;
        garbage.init(None).await;
        garbage.send(json!({ "type": "nonsense" })).await;
        assert_eq!(garbage.closed().await, 4400);

        let mut twice = Ws::connect(&app, "graphql-transport-ws").await;
        twice.init(None).await;
        twice.send(json!({ "type": "connection_init" })).await;
        assert_eq!(twice.closed().await, 4429);

        // A duplicate id while the first operation still runs (a live subscription).
        let user = app.user(Role::Identified).await;
        let mut dup = Ws::connect(&app, "graphql-transport-ws").await;
        dup.init(Some(&user.access)).await;
        let live = json!({ "id": "s", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind } }" } });
        dup.send(live.clone()).await;
        dup.send(live).await;
        assert_eq!(dup.closed().await, 4409);

        let mut request = app.ws_url.as_str().into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "mqtt".parse().unwrap());
        let refused = connect_async(request).await.unwrap_err();
        assert!(refused.to_string().contains("400"), "{refused}");
    }
}

db_test! {
    async fn queries_run_over_the_socket_and_invalid_documents_get_an_error_message(app) {
        let user = app.user(Role::Manager).await;
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ me { email role } }" } })).await;
        let next = ws.next().await;
        assert_eq!(next["type"], "next");
        assert_eq!(next["payload"]["data"]["me"]["role"], "MANAGER");
        assert_eq!(ws.next().await, json!({ "type": "complete", "id": "q" }));

        ws.send(json!({ "id": "bad", "type": "subscribe", "payload": { "query": "{ nope }" } })).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["id"], "bad");
        assert_eq!(error["payload"][0]["extensions"]["code"], "VALIDATION");

        // The id is free again after an error, and the client can ping.
        ws.send(json!({ "type": "ping", "payload": { "t": 1 } })).await;
        assert_eq!(ws.next().await, json!({ "type": "pong", "payload": { "t": 1 } }));

        // A message many times the server's 256-byte read buffer arrives whole, and the next one too.
        let long = format!("# {}\n{{ me {{ email }} }}", "x".repeat(20_000));
        ws.send(json!({ "id": "long", "type": "subscribe", "payload": { "query": long } })).await;
        assert_eq!(ws.next().await["payload"]["data"]["me"]["email"], user.email.as_str());
        assert_eq!(ws.next().await, json!({ "type": "complete", "id": "long" }));
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");
    }
}

db_test! {
    async fn the_legacy_graphql_ws_protocol_still_works(app) {
        let user = app.user(Role::Identified).await;
        let mut ws = Ws::connect(&app, "graphql-ws").await;
        ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", user.access) } })).await;
        assert_eq!(ws.next().await["type"], "connection_ack");
        ws.send(json!({ "id": "1", "type": "start", "payload": { "query": "{ me { email } }" } })).await;
        let data = ws.next().await;
        assert_eq!(data["type"], "data");
        assert_eq!(data["payload"]["data"]["me"]["email"], user.email.as_str());
        assert_eq!(ws.next().await, json!({ "type": "complete", "id": "1" }));
        ws.send(json!({ "type": "connection_terminate" })).await;
        assert_eq!(ws.closed().await, 1000);
    }
}

db_test! {
    async fn shutting_down_closes_sockets_with_going_away(app) {
        let user = app.user(Role::Identified).await;
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind } }" } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");
        let stopping = tokio::spawn(app.stop());
        assert_eq!(ws.closed().await, 1001);
        stopping.await.unwrap();
    }
}

/// Two instances on one PostgreSQL database: a change made through the first reaches a
/// subscriber connected to the second (LISTEN/NOTIFY). SQLite is one process by design.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_crosses_instances_on_postgres() {
    let Some(first) = TestApp::on_postgres().await else {
        return;
    };
    let second = first.sibling().await;
    let admin = first.user(Role::Admin).await;
    let user = first.user(Role::Identified).await;

    let mut ws = Ws::connect(&second, "graphql-transport-ws").await;
    ws.init(Some(&user.access)).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind role } }" } })).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await["type"], "pong");

    first
        .data(
            Some(&admin.access),
            "mutation($id: ID!) { setUserRole(id: $id, role: MANAGER) { id } }",
            json!({ "id": user.id }),
        )
        .await;
    let event = ws.next().await;
    assert_eq!(
        event["payload"]["data"]["myAccountEvents"],
        json!({ "kind": "ROLE_CHANGED", "role": "MANAGER" })
    );
    drop(second);
}

/// An event of no object in particular, recorded straight into a transaction.
fn test_event(kind: &'static str) -> comptoir_api::events::NewEvent {
    comptoir_api::events::NewEvent {
        kind,
        object_type: "Test",
        object_id: uuid::Uuid::now_v7(),
        owner_user_id: None,
        owner_customer_id: None,
        internal: false,
        actor_id: None,
        status: None,
        changes: json!({}),
        at: chrono::Utc::now(),
    }
}

/// On PostgreSQL transactions commit in parallel: an event of a transaction that commits after
/// another's must come after it in the log, or a client that read the other's event (and kept
/// its cursor) would never see it, neither when it catches up nor in a subscription's replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_commits_late_comes_after_the_events_read_before_it() {
    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let admin = app.user(Role::Admin).await;
    let user = app.user(Role::Identified).await;
    let read =
        "query($a: String) { events(first: 100, after: $a) { edges { cursor node { kind } } } }";

    // A transaction records an event and is slow to commit...
    let mut slow = app.state.db.begin(&app.state.events).await.unwrap();
    slow.record(test_event("SLOW"));
    // ...while another commits, and a client reads the log up to it.
    app.data(
        Some(&admin.access),
        "mutation($id: ID!) { blockUser(id: $id, reason: \"audit\") { id } }",
        json!({ "id": user.id }),
    )
    .await;
    let seen = app
        .data(Some(&admin.access), read, json!({ "a": null }))
        .await;
    let edges = seen["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.last().unwrap()["node"]["kind"], "BLOCKED");
    assert!(edges.iter().all(|e| e["node"]["kind"] != "SLOW"));
    let cursor = edges.last().unwrap()["cursor"].as_str().unwrap().to_owned();

    // Once committed, the slow one is after that cursor.
    slow.commit().await.unwrap();
    let next = app
        .data(Some(&admin.access), read, json!({ "a": cursor }))
        .await;
    let kinds: Vec<&str> = next["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SLOW"]);
}

/// On PostgreSQL an event reaches the instances once committed, carried whole by its
/// notification, or by its position when it is too long for one (and then read from the log);
/// a rolled-back one never does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_subscribers_with_their_commit_short_or_long_on_postgres() {
    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let mut heard = app.state.events.subscribe();
    let long = "x".repeat(10_000);

    let mut dropped = app.state.db.begin(&app.state.events).await.unwrap();
    dropped.record(test_event("ROLLED_BACK"));
    drop(dropped);
    let mut tx = app.state.db.begin(&app.state.events).await.unwrap();
    let mut short = test_event("SHORT");
    short.status = Some("OPEN".to_owned());
    short.changes = json!({ "note": { "old": null, "new": "é ☕ \"quoted\"" } });
    tx.record(short);
    let mut big = test_event("LONG");
    big.changes = json!({ "note": { "new": long } });
    tx.record(big);
    tx.commit().await.unwrap();

    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .unwrap()
            .unwrap()
    };
    let first = next().await;
    assert_eq!(
        first.kind, "SHORT",
        "in the order of the log, none rolled back"
    );
    assert_eq!(first.status.as_deref(), Some("OPEN"));
    assert_eq!(first.changes["note"]["new"], "é ☕ \"quoted\"");
    assert_eq!(first.object_type, "Test");
    let second = next().await;
    assert_eq!(second.kind, "LONG");
    assert_eq!(second.id, first.id + 1);
    assert_eq!(second.changes["note"]["new"], long.as_str());
}

/// A transaction holding the event log's lock, as one writing its events does.
async fn holding_the_event_log(app: &TestApp) -> comptoir_api::db::WriteTx {
    use sea_orm::ConnectionTrait;

    let tx = app.state.db.begin(&app.state.events).await.unwrap();
    tx.execute_unprepared(
        "SELECT pg_advisory_xact_lock(hashtext('comptoir_events.' || current_schema()))",
    )
    .await
    .unwrap();
    tx
}

/// Commits `first`, then waits (ten seconds at most) for `waiting`, a commit that waited for it.
async fn commit_then(
    first: comptoir_api::db::WriteTx,
    waiting: tokio::task::JoinHandle<Result<(), sea_orm::DbErr>>,
) {
    first.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Two transactions that write events commit one after the other from their first event
/// insert: the second's events cannot take positions before the first's and commit first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_that_write_events_commit_one_at_a_time_on_postgres() {
    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    // A transaction is writing its events (it holds the lock they take at commit)...
    let first = holding_the_event_log(&app).await;
    // ...so another one's commit waits for it.
    let mut second = app.state.db.begin(&app.state.events).await.unwrap();
    second.record(test_event("SECOND"));
    let commit = tokio::spawn(second.commit());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !commit.is_finished(),
        "the second commit waits for the first"
    );
    commit_then(first, commit).await;
}

/// Notifications sent while an instance's listener is cut off from PostgreSQL are lost: once it
/// listens again, it reads from the log what committed meanwhile, and delivers nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_while_the_listener_was_cut_off_arrive_once_it_listens_again() {
    use sea_orm::ConnectionTrait;

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let mut heard = app.state.events.subscribe();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .kind
            .clone()
    };
    let mut before = app.state.db.begin(&app.state.events).await.unwrap();
    before.record(test_event("BEFORE"));
    before.commit().await.unwrap();
    assert_eq!(next().await, "BEFORE");
    // An event whose notification never reaches this instance, as one sent while its listener
    // is cut off...
    comptoir_api::events::store::insert(app.state.db.write(), vec![test_event("MISSED")])
        .await
        .unwrap();
    // ...and the listener's connection cut.
    let cut = app
        .state
        .db
        .read()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN \"comptoir_events.' || current_schema() || '\"%'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cut.try_get::<i64>("", "n").unwrap(), 1, "one listener");
    assert_eq!(next().await, "MISSED");
    let mut after = app.state.db.begin(&app.state.events).await.unwrap();
    after.record(test_event("AFTER"));
    after.commit().await.unwrap();
    assert_eq!(next().await, "AFTER", "and nothing twice");
}

/// A transaction's last writes run before it waits for the event log's lock (on PostgreSQL
/// they are one statement with its events): what they lock is locked while it waits, as when
/// each was a statement of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_writes_are_written_before_the_event_logs_lock_on_postgres() {
    use sea_orm::{
        ConnectionTrait,
        sea_query::{Alias, Expr, ExprTrait, Query},
    };

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    app.state
        .db
        .write()
        .execute_unprepared("INSERT INTO number_series (name, last_value) VALUES ('TEST', 1)")
        .await
        .unwrap();
    let first = holding_the_event_log(&app).await;
    let mut events = app.state.events.subscribe();
    let mut second = app.state.db.begin(&app.state.events).await.unwrap();
    second.defer(
        Query::update()
            .table(Alias::new("number_series"))
            .value(Alias::new("last_value"), 2)
            .and_where(Expr::col(Alias::new("name")).eq("TEST"))
            .to_owned(),
    );
    second.record(test_event("SECOND"));
    let commit = tokio::spawn(second.commit());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!commit.is_finished(), "the second commit waits for the log");
    let locked = app
        .state
        .db
        .read()
        .execute_unprepared("SELECT 1 FROM number_series WHERE name = 'TEST' FOR UPDATE NOWAIT")
        .await;
    assert!(
        locked.is_err(),
        "the waiting transaction's update holds its row: {locked:?}"
    );
    commit_then(first, commit).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard.kind, "SECOND");
    let row = app
        .state
        .db
        .read()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT last_value FROM number_series WHERE name = 'TEST'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "last_value").unwrap(), 2);
}

db_test! {
    /// Messages take effect in order: a mutation sent right behind a `subscribe`, on the same
    /// socket and without waiting for anything, is heard by that subscription. Each round
    /// subscribes afresh, so each round races the subscription's setup against the mutation.
    async fn a_subscription_hears_what_the_next_message_causes(app) {
        let manager = app.user(Role::Manager).await;
        let client = app.user(Role::AccountClient).await;
        let customer = app.data(Some(&client.access), "{ myCustomer { id } }", json!({})).await["myCustomer"]["id"].clone();
        let order = app.data(Some(&manager.access), "mutation($c: ID!) { createOrder(customerId: $c, input: { title: \"Round 0\" }) { id } }",
            json!({ "c": customer })).await["createOrder"]["id"].clone();
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&manager.access)).await;
        for round in 1..=10 {
            let (listen, edit) = (format!("listen{round}"), format!("edit{round}"));
            ws.send(json!({ "id": listen, "type": "subscribe", "payload": {
                "query": "subscription($id: ID!) { orderEvents(orderId: $id) { kind changes } }", "variables": { "id": order } } })).await;
            ws.send(json!({ "id": edit, "type": "subscribe", "payload": {
                "query": "mutation($id: ID!, $v: Int!, $t: String!) { updateOrder(id: $id, version: $v, input: { title: $t }) { version } }",
                "variables": { "id": order, "v": round, "t": format!("Round {round}") } } })).await;
            let (mut heard, mut edited) = (None, None);
            while heard.is_none() || edited.is_none() {
                let message = ws.next().await;
                if message["type"] != "next" {
                    continue;
                }
                if message["id"] == listen.as_str() {
                    heard = Some(message["payload"]["data"]["orderEvents"].clone());
                } else if message["id"] == edit.as_str() {
                    edited = Some(message["payload"].clone());
                }
            }
            assert_eq!(edited.unwrap()["data"]["updateOrder"]["version"], round + 1);
            let heard = heard.unwrap();
            assert_eq!(heard["kind"], "ORDER_UPDATED", "round {round}: {heard}");
            assert_eq!(heard["changes"]["title"]["new"], format!("Round {round}"), "round {round}: {heard}");
            ws.send(json!({ "id": listen, "type": "complete" })).await;
        }
    }
}

db_test! {
    async fn an_id_can_be_reused_as_soon_as_its_operation_completed(app) {
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(None).await;
        for _ in 0..20 {
            ws.send(json!({ "id": "same", "type": "subscribe", "payload": { "query": "{ __typename }" } })).await;
            assert_eq!(ws.next().await["type"], "next");
            assert_eq!(ws.next().await, json!({ "type": "complete", "id": "same" }));
        }
    }
}

db_test! {
    async fn a_running_subscription_ends_when_the_role_changes(app) {
        let admin = app.user(Role::Admin).await;
        let user = app.user(Role::Identified).await;
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind role } }" } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");
        app.data(Some(&admin.access), "mutation($id: ID!) { setUserRole(id: $id, role: MANAGER) { id } }", json!({ "id": user.id })).await;
        // The event still arrives, then the connection closes: its token is revoked.
        let event = ws.next().await;
        assert_eq!(event["payload"]["data"]["myAccountEvents"]["kind"], "ROLE_CHANGED");
        assert_eq!(ws.closed().await, 4403);
    }
}

db_test! {
    async fn malformed_init_and_variables_are_refused(app) {
        let mut bad_auth = Ws::connect(&app, "graphql-transport-ws").await;
        bad_auth.send(json!({ "type": "connection_init", "payload": { "authorization": 42 } })).await;
        assert_eq!(bad_auth.closed().await, 4403);

        let mut bad_payload = Ws::connect(&app, "graphql-transport-ws").await;
        bad_payload.send(json!({ "type": "connection_init", "payload": "hello" })).await;
        assert_eq!(bad_payload.closed().await, 4400);

        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(None).await;
        ws.send(json!({ "id": "v", "type": "subscribe", "payload": { "query": "{ __typename }", "variables": 5 } })).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["id"], "v");

        // Aliases are limited on this transport too.
        let many = (0..40).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" ");
        ws.send(json!({ "id": "x", "type": "subscribe", "payload": { "query": format!("{{ {many} }}") } })).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["payload"][0]["extensions"]["code"], "VALIDATION");
    }
}

db_test! {
    async fn a_client_back_online_catches_up_from_its_last_cursor(app) {
        let admin = app.user(Role::Admin).await;
        let user = app.user(Role::Identified).await;
        let other = app.user(Role::Identified).await;
        let set_role = "mutation($id: ID!, $r: Role!) { setUserRole(id: $id, role: $r) { id } }";

        // Online: an event arrives and the client keeps its cursor.
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind cursor } }" } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");
        app.data(Some(&admin.access), set_role, json!({ "id": user.id, "r": "MANAGER" })).await;
        let first = ws.next().await;
        let cursor = first["payload"]["data"]["myAccountEvents"]["cursor"].as_str().unwrap().to_owned();
        drop(ws);

        // Offline: two more changes to this account, one to another.
        app.data(Some(&admin.access), set_role, json!({ "id": user.id, "r": "IDENTIFIED" })).await;
        app.data(Some(&admin.access), set_role, json!({ "id": other.id, "r": "MANAGER" })).await;
        app.data(Some(&admin.access), "mutation($id: ID!) { blockUser(id: $id, reason: \"audit\") { id } }", json!({ "id": user.id })).await;
        app.data(Some(&admin.access), "mutation($id: ID!) { unblockUser(id: $id) { id } }", json!({ "id": user.id })).await;

        // Back online with a new session: the missed events first, in order, then live ones.
        let again = app.login(&user.email, crate::helpers::PASSWORD).await;
        let missed = app
            .data(Some(&again.access), "query($a: String) { events(after: $a) { totalCount edges { node { kind objectType } } } }", json!({ "a": cursor }))
            .await;
        let kinds: Vec<&str> = missed["events"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ROLE_CHANGED", "BLOCKED", "UNBLOCKED"]);
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&again.access)).await;
        ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": "subscription($a: String) { myAccountEvents(after: $a) { kind } }", "variables": { "a": cursor } } })).await;
        let replayed: Vec<String> = [ws.next().await, ws.next().await]
            .iter()
            .map(|m| m["payload"]["data"]["myAccountEvents"]["kind"].as_str().unwrap().to_owned())
            .collect();
        // The replay stops after BLOCKED, as the live stream does.
        assert_eq!(replayed, ["ROLE_CHANGED", "BLOCKED"]);
        assert_eq!(ws.next().await, json!({ "type": "complete", "id": "2" }));

        // Staff read the whole log; a visitor reads nothing.
        let all = app.data(Some(&admin.access), "{ events { totalCount } }", json!({})).await;
        assert!(all["events"]["totalCount"].as_u64().unwrap() >= 5);
        let public = app.gql(None, "{ events { totalCount } }", json!({})).await;
        assert_eq!(crate::helpers::code(&public), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn a_connection_closes_when_its_token_expires(app) with |config| {
        config.access_token_ttl = Duration::from_secs(4);
    } {
        let user = app.user(Role::Identified).await;
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&user.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { myAccountEvents { kind } }" } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");
        // Nothing happens to the account: the token's `exp` alone ends the connection.
        assert_eq!(ws.closed().await, 4403);
    }
}
