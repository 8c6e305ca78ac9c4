//! Orders: checkout (stock, idempotency), the shared order loop with change tracking seen live,
//! versions, transitions, isolation.

use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::{
    catalog::product,
    documents::{backend_pid, wait_until_blocked_by},
    helpers::{Session, TestApp, code, until_postgres_counts},
    websocket::Ws,
};

pub const ORDER_FIELDS: &str = "id number status version title customerReference total { amount } balanceDue { amount }
    subtotal { amount } vatTotal { amount } linesTotal { amount } discount { amount } shipping { amount }
    deliveryAddress { line1 city country } contact { name email phone }
    lines { id reference name quantity unitPrice { amount } discountPercent total { amount } deliveryDate
            changedFields { field oldValue newValue } }
    changes { field oldValue newValue side lineId }";

const ADDRESS: &str =
    r#"{ line1: "1 rue de la Paix", postalCode: "75002", city: "Paris", country: "FR" }"#;

async fn add_to_cart(app: &TestApp, token: &str, product_id: &str, quantity: i32) {
    app.data(
        Some(token),
        "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }",
        json!({ "input": { "productId": product_id, "quantity": quantity } }),
    )
    .await;
}

async fn cart_id(app: &TestApp, token: &str) -> String {
    app.data(Some(token), "{ myCart { id } }", json!({})).await["myCart"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn checkout_query() -> String {
    format!(
        "mutation($cart: ID!, $key: String) {{ checkout(cartId: $cart, input: {{ deliveryAddress: {ADDRESS}, contact: {{ name: \"Jeanne Martin\", email: \"jeanne@example.test\" }}, customerReference: \"PO-77\", title: \"Spring fair\", idempotencyKey: $key }}) {{ {ORDER_FIELDS} }} }}"
    )
}

/// Checks out `token`'s cart.
pub async fn checkout(app: &TestApp, token: &str, key: Option<&str>) -> Value {
    let cart = cart_id(app, token).await;
    app.gql(
        Some(token),
        &checkout_query(),
        json!({ "cart": cart, "key": key }),
    )
    .await
}

async fn stock(app: &TestApp, staff: &str, product_id: &str) -> i64 {
    app.data(
        Some(staff),
        "query($id: ID!) { product(id: $id) { stock } }",
        json!({ "id": product_id }),
    )
    .await["product"]["stock"]
        .as_i64()
        .unwrap()
}

async fn customer_gid(app: &TestApp, client: &Session) -> String {
    app.data(Some(&client.access), "{ myCustomer { id } }", json!({}))
        .await["myCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs an order mutation `name(id, version, …extra)` and returns the order.
pub async fn order_op(
    app: &TestApp,
    token: &str,
    name: &str,
    args: &str,
    variables: Value,
) -> Value {
    let query = format!(
        "mutation($id: ID!, $v: Int!) {{ {name}(id: $id, version: $v{args}) {{ {ORDER_FIELDS} }} }}"
    );
    let body = app.gql(Some(token), &query, variables).await;
    assert!(body.get("errors").is_none(), "{name}: {body}");
    body["data"][name].clone()
}

db_test! {
    async fn checkout_reserves_stock_empties_the_cart_and_announces_the_order(app) {
        let manager = app.user(Role::Manager).await;
        let admin = app.user(Role::Admin).await;
        app.data(Some(&admin.access), "mutation { updateStoreSettings(version: 0, input: { ordersEmail: \"desk@seller.test\" }) { version } }", json!({})).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "unitPrice": "1.99", "trackStock": true, "stock": 10 })).await;
        let book = product(&app, &manager.access, json!({ "reference": "BOOK", "unitPrice": "12.50", "vatRate": "5.5" })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 3).await;
        add_to_cart(&app, &client.access, &book, 2).await;

        let body = checkout(&app, &client.access, None).await;
        let order = &body["data"]["checkout"];
        assert_eq!(order["status"], "SUBMITTED", "{body}");
        assert_eq!(order["number"], "ORD-000001");
        assert_eq!(order["customerReference"], "PO-77");
        assert_eq!(order["deliveryAddress"]["city"], "Paris");
        // 3 × 1.99 = 5.97 (VAT 1.19) + 2 × 12.50 = 25.00 (VAT 1.38).
        assert_eq!(order["subtotal"]["amount"], "30.97");
        assert_eq!(order["vatTotal"]["amount"], "2.57");
        assert_eq!(order["total"]["amount"], "33.54");
        assert_eq!(order["balanceDue"]["amount"], "33.54");
        assert_eq!(stock(&app, &manager.access, &pen).await, 7);
        let cart = app.data(Some(&client.access), "{ myCart { lines { id } } }", json!({})).await;
        assert_eq!(cart["myCart"]["lines"], json!([]));

        // The desk and the customer are emailed (through the outbox).
        let outbox = app.data(Some(&admin.access), "{ outboxMessages(first: 10) { edges { node { recipient template } } } }", json!({})).await;
        let sent: Vec<(String, String)> = outbox["outboxMessages"]["edges"].as_array().unwrap().iter()
            .map(|e| (e["node"]["recipient"].as_str().unwrap().to_owned(), e["node"]["template"].as_str().unwrap().to_owned()))
            .collect();
        assert!(sent.contains(&("desk@seller.test".to_owned(), "order_submitted".to_owned())), "{sent:?}");
        assert!(sent.contains(&("jeanne@example.test".to_owned(), "order_received".to_owned())), "{sent:?}");

        // An empty cart cannot be ordered.
        let again = checkout(&app, &client.access, None).await;
        assert_eq!(code(&again), "VALIDATION");
        assert_eq!(again["errors"][0]["extensions"]["field"], "cartId");
    }
}

db_test! {
    async fn a_retried_checkout_with_the_same_key_returns_the_first_order(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 2).await;
        let cart = cart_id(&app, &client.access).await;
        let query = checkout_query();
        let vars = json!({ "cart": cart, "key": "attempt-1" });
        // Two identical requests at once (a double click), then a late retry.
        let (a, b) = tokio::join!(
            app.gql(Some(&client.access), &query, vars.clone()),
            app.gql(Some(&client.access), &query, vars.clone()),
        );
        let c = app.gql(Some(&client.access), &query, vars).await;
        let ids: Vec<&Value> = [&a, &b, &c].iter().map(|r| &r["data"]["checkout"]["id"]).collect();
        assert!(ids[0].is_string(), "{a} {b}");
        assert_eq!(ids[0], ids[1], "{a} {b}");
        assert_eq!(ids[0], ids[2]);
        assert_eq!(stock(&app, &manager.access, &pen).await, 8, "stock taken once");
        let mine = app.data(Some(&client.access), "{ myOrders { totalCount } }", json!({})).await;
        assert_eq!(mine["myOrders"]["totalCount"], 1);
    }
}

db_test! {
    async fn parallel_checkouts_of_one_cart_place_one_order(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 2).await;
        // Without an idempotency key: the checkouts that waited for the first find its lines
        // gone (on PostgreSQL, the lines are locked with the cart and read again once it
        // commits).
        let results = futures_util::future::join_all((0..4).map(|_| checkout(&app, &client.access, None))).await;
        let placed = results.iter().filter(|r| r["data"]["checkout"]["id"].is_string()).count();
        assert_eq!(placed, 1, "{results:?}");
        for refused in results.iter().filter(|r| r.get("errors").is_some()) {
            assert_eq!(code(refused), "VALIDATION", "{refused}");
            assert_eq!(refused["errors"][0]["extensions"]["field"], "cartId", "{refused}");
        }
        assert_eq!(stock(&app, &manager.access, &pen).await, 8, "stock taken once");
        let mine = app.data(Some(&client.access), "{ myOrders { totalCount } }", json!({})).await;
        assert_eq!(mine["myOrders"]["totalCount"], 1);
    }
}

/// On PostgreSQL a checkout that waited for its cart does not see a line another transaction
/// inserted meanwhile: that line is not ordered, and it stays in the cart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_added_while_a_checkout_waits_for_the_cart_stays_in_the_cart() {
    use sea_orm::ConnectionTrait;

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let (manager, pen, client) = two_pens_in_a_cart(&app).await;
    // Another transaction holds the cart, as adding to it does, and adds a line...
    let adding = app.state.db.begin(&app.state.events).await.unwrap();
    adding
        .execute_unprepared(
            "UPDATE cart SET updated_at = now() WHERE id IN (SELECT cart_id FROM cart_line)",
        )
        .await
        .unwrap();
    adding
        .execute_unprepared(
            "INSERT INTO cart_line (id, cart_id, product_id, variant_id, configuration, line_key, quantity, created_at, updated_at) \
             SELECT gen_random_uuid(), cart_id, product_id, variant_id, configuration, 'added meanwhile', 3, now(), now() FROM cart_line",
        )
        .await
        .unwrap();
    // ...while the checkout waits for it (its read of the cart seen waiting for a lock).
    let (placed, ()) = tokio::join!(checkout(&app, &client.access, None), async {
        waits_for_a_lock(&app, "%FOR UPDATE OF \"cart\", \"cart_line\"%").await;
        adding.commit().await.unwrap();
    });
    let lines = placed["data"]["checkout"]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{placed}"));
    assert_eq!(
        lines
            .iter()
            .map(|l| l["quantity"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [2],
        "{placed}"
    );
    assert_eq!(stock(&app, &manager.access, &pen).await, 8);
    let cart = app
        .data(
            Some(&client.access),
            "{ myCart { lines { quantity } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        cart["myCart"]["lines"],
        json!([{ "quantity": 3 }]),
        "the line added meanwhile is kept"
    );
}

/// A manager, a tracked product with ten in stock (`PEN`), and a client with two in their cart.
async fn two_pens_in_a_cart(app: &TestApp) -> (Session, String, Session) {
    let manager = app.user(Role::Manager).await;
    let pen = product(
        app,
        &manager.access,
        json!({ "reference": "PEN", "trackStock": true, "stock": 10 }),
    )
    .await;
    let client = app.user(Role::AccountClient).await;
    add_to_cart(app, &client.access, &pen, 2).await;
    (manager, pen, client)
}

/// A transaction that holds the order number series, as one numbering an order does.
async fn numbering_an_order(app: &TestApp) -> comptoir_api::db::WriteTx {
    use sea_orm::ConnectionTrait;

    let numbering = app.state.db.begin(&app.state.events).await.unwrap();
    numbering
        .execute_unprepared(
            "INSERT INTO number_series (name, last_value) VALUES ('ORD', 0) \
             ON CONFLICT (name) DO UPDATE SET last_value = number_series.last_value",
        )
        .await
        .unwrap();
    numbering
}

/// Returns once a PostgreSQL statement whose text is `LIKE` `pattern` waits for a lock.
async fn waits_for_a_lock(app: &TestApp, pattern: &str) {
    until_postgres_counts(
        app,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
        vec![pattern.into()],
        &format!("a statement like {pattern} waiting for a lock"),
    )
    .await;
}

/// A checkout that waited for its order number takes what changed meanwhile into account: stock
/// added to a line short of it when its statement began, tracking switched off for another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_that_waited_for_its_number_sees_the_stock_as_it_is_on_postgres() {
    use sea_orm::ConnectionTrait;

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let manager = app.user(Role::Manager).await;
    let m = manager.access.as_str();
    let tracked = json!({ "trackStock": true, "stock": 10 });
    let client = app.user(Role::AccountClient).await;
    for reference in ["PEN", "INK", "PAD"] {
        let mut input = tracked.clone();
        input["reference"] = json!(reference);
        add_to_cart(&app, &client.access, &product(&app, m, input).await, 2).await;
    }
    let db = app.state.db.write();
    db.execute_unprepared("UPDATE product SET stock = 1 WHERE reference = 'PEN'")
        .await
        .unwrap();
    let numbering = numbering_an_order(&app).await;
    let (placed, ()) = tokio::join!(checkout(&app, &client.access, None), async {
        waits_for_a_lock(&app, "%take_0%").await;
        db.execute_unprepared(
            "UPDATE product SET stock = CASE reference WHEN 'PEN' THEN 10 ELSE stock END, \
             track_stock = reference <> 'INK'",
        )
        .await
        .unwrap();
        numbering.commit().await.unwrap();
    });
    let lines = placed["data"]["checkout"]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{placed}"));
    assert_eq!(lines.len(), 3, "{placed}");
    let left: Vec<i32> = app
        .state
        .db
        .read()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT stock FROM product ORDER BY reference DESC",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", "stock").unwrap())
        .collect();
    // PEN, PAD, INK.
    assert_eq!(left, [8, 8, 10], "the ink no longer counts");
}

/// On PostgreSQL a checkout takes its order's number, then its stock, in one statement: one
/// waiting for the number holds no product meanwhile, and when a line is then short it is told
/// what is left as the other orders left it, not as it was when its statement began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_waits_for_its_number_before_taking_stock_on_postgres() {
    use sea_orm::ConnectionTrait;

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let (manager, pen, client) = two_pens_in_a_cart(&app).await;
    // Another transaction is numbering an order...
    let numbering = numbering_an_order(&app).await;
    let (refused, ()) = tokio::join!(checkout(&app, &client.access, None), async {
        waits_for_a_lock(&app, "%take_0%").await;
        // ...the checkout waits for it, holding no pen: another order takes nine of the ten.
        let taking = app.state.db.begin(&app.state.events).await.unwrap();
        taking
            .execute_unprepared(
                "SELECT stock FROM product WHERE reference = 'PEN' FOR UPDATE NOWAIT",
            )
            .await
            .expect("the waiting checkout holds no product");
        taking
            .execute_unprepared("UPDATE product SET stock = stock - 9 WHERE reference = 'PEN'")
            .await
            .unwrap();
        taking.commit().await.unwrap();
        numbering.commit().await.unwrap();
    });
    assert_eq!(code(&refused), "OUT_OF_STOCK", "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["field"], "lines.0",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["available"], 1,
        "what the other order left: {refused}"
    );
    assert_eq!(stock(&app, &manager.access, &pen).await, 1);
    let placed = app
        .data(
            Some(&client.access),
            "{ myOrders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(placed["myOrders"]["totalCount"], 0, "{placed}");
}

/// On PostgreSQL a checkout's last writes run in its events' statement, whose foreign keys'
/// checks come after it takes the event log's lock. A transaction that holds the order's
/// customer, or an untracked product of it, `FOR UPDATE` (as editing them does) and then writes
/// an event must delay the checkout, not deadlock with it: the checkout locks both before it
/// takes the log's lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_waits_for_its_customer_and_products_before_the_event_log_on_postgres() {
    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let (manager, pen, client) = two_pens_in_a_cart(&app).await;
    let book = product(&app, &manager.access, json!({ "reference": "BOOK" })).await;
    add_to_cart(&app, &client.access, &book, 1).await;
    checkout_beside_an_edit(&app, &client, "SELECT id FROM customer FOR UPDATE").await;
    assert_eq!(stock(&app, &manager.access, &pen).await, 8);
    add_to_cart(&app, &client.access, &pen, 2).await;
    add_to_cart(&app, &client.access, &book, 1).await;
    checkout_beside_an_edit(
        &app,
        &client,
        "SELECT id FROM product WHERE reference = 'BOOK' FOR UPDATE",
    )
    .await;
    assert_eq!(stock(&app, &manager.access, &pen).await, 6);
}

/// Checks out the client's cart (a pen and a book) while another transaction holds the one row
/// `lock` selects and has an event to write; both must succeed.
async fn checkout_beside_an_edit(app: &TestApp, client: &Session, lock: &str) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let mut editing = app.state.db.begin(&app.state.events).await.unwrap();
    let held = editing
        .query_all_raw(Statement::from_string(DbBackend::Postgres, lock))
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "{lock}");
    let editor = backend_pid(&*editing).await;
    editing.record(comptoir_api::events::NewEvent::store_change(
        "EDITED",
        "Test",
        None,
        json!({}),
        chrono::Utc::now(),
    ));
    let (placed, committed) = tokio::join!(checkout(app, &client.access, None), async {
        wait_until_blocked_by(app, editor).await;
        editing.commit().await
    });
    assert!(committed.is_ok(), "{lock}: {committed:?}");
    let lines = placed["data"]["checkout"]["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{lock}: {placed}"));
    assert_eq!(lines.len(), 2, "{lock}: {placed}");
}

/// A customer's reply changing several lines' quantities takes their stock in stock order,
/// whatever the order it lists them in: beside a transaction that holds the first product and
/// then wants the second, it waits instead of deadlocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_takes_stock_in_stock_order_on_postgres() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let (manager, _, client) = two_pens_in_a_cart(&app).await;
    // Created after the pen: its ID sorts after the pen's.
    let book = product(
        &app,
        &manager.access,
        json!({ "reference": "BOOK", "trackStock": true, "stock": 10 }),
    )
    .await;
    add_to_cart(&app, &client.access, &book, 1).await;
    let order = checkout(&app, &client.access, None).await["data"]["checkout"].clone();
    let line = |reference: &str| {
        order["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["reference"] == reference)
            .unwrap()["id"]
            .clone()
    };
    let (pen_line, book_line) = (line("PEN"), line("BOOK"));

    let sql = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_owned());
    let holding = app.state.db.write().begin().await.unwrap();
    holding
        .execute_raw(sql(
            "SELECT id FROM product WHERE reference = 'PEN' FOR UPDATE",
        ))
        .await
        .unwrap();
    let holder = backend_pid(&holding).await;
    // The book first, then the pen.
    let reply = "mutation($id: ID!, $v: Int!, $book: ID!, $pen: ID!) { replyToOrder(id: $id, version: $v, comment: \"More\",
        lines: [{ lineId: $book, quantity: 2 }, { lineId: $pen, quantity: 3 }]) { lines { reference quantity } } }";
    let variables =
        json!({ "id": order["id"], "v": order["version"], "book": book_line, "pen": pen_line });
    let (replied, held) = tokio::join!(app.gql(Some(&client.access), reply, variables), async {
        wait_until_blocked_by(&app, holder).await;
        // Had the reply taken the book first, this would close a cycle.
        holding
            .execute_raw(sql(
                "UPDATE product SET name = name WHERE reference = 'BOOK'",
            ))
            .await?;
        holding.commit().await
    });
    held.unwrap();
    assert!(replied["errors"].is_null(), "{replied}");
    assert_eq!(stock(&app, &manager.access, &book).await, 8);
}

/// On PostgreSQL a transaction that PostgreSQL fails to end a deadlock (`40P01`) reports
/// `CONFLICT`: nothing of it stays, and a retry may pass. Not an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_failed_to_end_a_deadlock_is_a_conflict_on_postgres() {
    use sea_orm::ConnectionTrait;

    let Some(app) = TestApp::on_postgres().await else {
        return;
    };
    let db = &app.state.db;
    db.write()
        .execute_unprepared(
            "INSERT INTO number_series (name, last_value) VALUES ('A', 0), ('B', 0)",
        )
        .await
        .unwrap();
    let take =
        |name: &str| format!("UPDATE number_series SET last_value = 1 WHERE name = '{name}'");
    let first = db.begin(&app.state.events).await.unwrap();
    let second = db.begin(&app.state.events).await.unwrap();
    first.execute_unprepared(&take("A")).await.unwrap();
    second.execute_unprepared(&take("B")).await.unwrap();
    // Each waits for the other's row: PostgreSQL fails one, and the other goes on once the
    // failed one is aborted.
    let (b, a) = (take("B"), take("A"));
    let (first_taken, second_taken) =
        tokio::join!(first.execute_unprepared(&b), second.execute_unprepared(&a));
    let error = match (first_taken, second_taken) {
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        other => panic!("one of the two fails: {other:?}"),
    };
    assert_eq!(
        comptoir_api::error::sql_state(&error).as_deref(),
        Some("40P01"),
        "{error}"
    );
    let error = comptoir_api::error::AppError::from(error);
    assert!(
        matches!(error, comptoir_api::error::AppError::Contended),
        "{error:?}"
    );
    assert_eq!(error.code().as_str(), "CONFLICT");
}

db_test! {
    async fn a_line_short_of_stock_is_named_with_what_was_left_and_nothing_is_taken(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let banner = product(&app, m, json!({ "reference": "FLAG", "name": "Flag", "kind": "CONFIGURABLE", "unitPrice": "20", "trackStock": true, "stock": 3 })).await;
        app.data(
            Some(m),
            "mutation($p: ID!, $input: ProductOptionInput!) { addProductOption(productId: $p, input: $input) { id } }",
            json!({ "p": banner, "input": { "code": "material", "name": "Material", "kind": "CHOICE", "required": true,
                "values": [{ "code": "paper", "label": "Paper" }, { "code": "vinyl", "label": "Vinyl" }] } }),
        )
        .await;
        let pen = product(&app, m, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let book = product(&app, m, json!({ "reference": "BOOK" })).await;
        let client = app.user(Role::AccountClient).await;
        let add = "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }";
        for (material, quantity) in [("paper", 4), ("vinyl", 2)] {
            app.data(Some(&client.access), add, json!({ "input": { "productId": banner, "quantity": quantity,
                "configuration": [{ "option": "material", "value": material }] } })).await;
        }
        add_to_cart(&app, &client.access, &pen, 2).await;
        // Four flags of paper with three in stock: the refusal names that line with the three
        // left (the two of vinyl after it would fit), and nothing is taken.
        let refused = checkout(&app, &client.access, None).await;
        assert_eq!(code(&refused), "OUT_OF_STOCK", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "lines.0", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["available"], 3, "{refused}");
        assert_eq!(stock(&app, m, &banner).await, 3);
        assert_eq!(stock(&app, m, &pen).await, 10);
        let mine = app.data(Some(&client.access), "{ myCart { lines { quantity } } myOrders { totalCount } }", json!({})).await;
        assert_eq!(mine["myCart"]["lines"].as_array().unwrap().len(), 3, "{mine}");
        assert_eq!(mine["myOrders"]["totalCount"], 0, "{mine}");

        // Tracked and untracked lines together: each tracked one takes its units.
        let other = app.user(Role::AccountClient).await;
        add_to_cart(&app, &other.access, &pen, 2).await;
        add_to_cart(&app, &other.access, &book, 5).await;
        let placed = checkout(&app, &other.access, None).await;
        assert_eq!(placed["data"]["checkout"]["number"], "ORD-000001", "{placed}");
        assert_eq!(placed["data"]["checkout"]["lines"].as_array().unwrap().len(), 2, "{placed}");
        assert_eq!(stock(&app, m, &pen).await, 8);
    }
}

db_test! {
    /// Two lines of one product (two configurations) each take their units from its stock.
    async fn two_lines_of_one_product_take_its_stock_in_turn(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let flag = product(&app, m, json!({ "reference": "FLAG", "name": "Flag", "kind": "CONFIGURABLE", "unitPrice": "20", "trackStock": true, "stock": 5 })).await;
        app.data(
            Some(m),
            "mutation($p: ID!, $input: ProductOptionInput!) { addProductOption(productId: $p, input: $input) { id } }",
            json!({ "p": flag, "input": { "code": "material", "name": "Material", "kind": "CHOICE", "required": true,
                "values": [{ "code": "paper", "label": "Paper" }, { "code": "vinyl", "label": "Vinyl" }] } }),
        )
        .await;
        let client = app.user(Role::AccountClient).await;
        let add = "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }";
        for material in ["paper", "vinyl"] {
            app.data(Some(&client.access), add, json!({ "input": { "productId": flag, "quantity": 2,
                "configuration": [{ "option": "material", "value": material }] } })).await;
        }
        let placed = checkout(&app, &client.access, None).await;
        let lines = placed["data"]["checkout"]["lines"].as_array().unwrap_or_else(|| panic!("{placed}"));
        assert_eq!(lines.len(), 2, "{placed}");
        assert_eq!(stock(&app, m, &flag).await, 1);
    }
}

db_test! {
    async fn a_checkout_takes_a_variants_own_stock(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let shirt = product(&app, m, json!({ "reference": "SHIRT", "trackStock": true, "stock": 50 })).await;
        let variant = |reference: &str, stock: i32| {
            app.data(Some(m), "mutation($p: ID!, $input: VariantInput!) { addProductVariant(productId: $p, input: $input) { id } }",
                json!({ "p": shirt, "input": { "reference": reference, "name": reference, "trackStock": true, "stock": stock } }))
        };
        let small = variant("SHIRT-S", 2).await["addProductVariant"]["id"].as_str().unwrap().to_owned();
        let large = variant("SHIRT-L", 5).await["addProductVariant"]["id"].as_str().unwrap().to_owned();
        let variant_stock = async |id: &str| {
            app.data(Some(m), "query($id: ID!) { product(id: $id) { variants { id stock } } }", json!({ "id": shirt })).await["product"]["variants"]
                .as_array().unwrap().iter().find(|v| v["id"] == id).unwrap()["stock"].as_i64().unwrap()
        };
        // A product created after the shirt: its line comes last in the order stock is taken.
        let pen = product(&app, m, json!({ "reference": "PEN", "trackStock": true, "stock": 1 })).await;
        let client = app.user(Role::AccountClient).await;
        let add = "mutation($p: ID!, $v: ID!, $q: Int!) { cartAddLine(input: { productId: $p, variantId: $v, quantity: $q }) { id } }";
        app.data(Some(&client.access), add, json!({ "p": shirt, "v": large, "q": 4 })).await;
        app.data(Some(&client.access), add, json!({ "p": shirt, "v": small, "q": 3 })).await;
        add_to_cart(&app, &client.access, &pen, 2).await;
        // Three small ones with two left, two pens with one: the small ones' line is named (the
        // first short in the order stock is taken), with what is left, and nothing is taken.
        let refused = checkout(&app, &client.access, None).await;
        assert_eq!(code(&refused), "OUT_OF_STOCK", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "lines.1", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["available"], 2, "{refused}");
        assert_eq!(variant_stock(&large).await, 5);
        assert_eq!(stock(&app, m, &pen).await, 1);

        let cart = app.data(Some(&client.access), "{ myCart { lines { id quantity variant { id } } } }", json!({})).await;
        let lines = cart["myCart"]["lines"].as_array().unwrap().clone();
        let update = "mutation($id: ID!, $q: Int!) { cartUpdateLine(lineId: $id, quantity: $q) { id } }";
        app.data(Some(&client.access), update, json!({ "id": lines[1]["id"], "q": 2 })).await;
        // Now the pens' line alone is short.
        let refused = checkout(&app, &client.access, None).await;
        assert_eq!(code(&refused), "OUT_OF_STOCK", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "lines.2", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["available"], 1, "{refused}");
        assert_eq!(variant_stock(&small).await, 2);

        app.data(Some(&client.access), update, json!({ "id": lines[2]["id"], "q": 1 })).await;
        let placed = checkout(&app, &client.access, None).await;
        assert!(placed["data"]["checkout"]["id"].is_string(), "{placed}");
        assert_eq!(variant_stock(&small).await, 0);
        assert_eq!(variant_stock(&large).await, 1);
        assert_eq!(stock(&app, m, &pen).await, 0);
        assert_eq!(stock(&app, m, &shirt).await, 50, "the product's own stock is not the variants'");
    }
}

db_test! {
    async fn parallel_checkouts_never_oversell_the_last_units(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "LAST", "name": "Last pens", "trackStock": true, "stock": 3 })).await;
        let mut clients = Vec::new();
        for _ in 0..8 {
            let client = app.user(Role::AccountClient).await;
            add_to_cart(&app, &client.access, &pen, 1).await;
            clients.push(client);
        }
        let results = futures_util::future::join_all(
            clients.iter().map(|c| checkout(&app, &c.access, None)),
        )
        .await;
        let placed = results.iter().filter(|r| r["data"]["checkout"]["id"].is_string()).count();
        assert_eq!(placed, 3, "{results:?}");
        for refused in results.iter().filter(|r| r.get("errors").is_some()) {
            assert_eq!(code(refused), "OUT_OF_STOCK", "{refused}");
            assert_eq!(refused["errors"][0]["extensions"]["field"], "lines.0");
            assert_eq!(refused["errors"][0]["extensions"]["available"], 0);
        }
        assert_eq!(stock(&app, &manager.access, &pen).await, 0);

        // A refused checkout is undone whole: no order, no email, its cart as it was, and its
        // order number given back (numbers stay gapless).
        for (client, result) in clients.iter().zip(&results) {
            let mine = app.data(Some(&client.access), "{ myCart { lines { quantity } } myOrders { totalCount } }", json!({})).await;
            if result.get("errors").is_some() {
                assert_eq!(mine["myCart"]["lines"], json!([{ "quantity": 1 }]), "{mine}");
                assert_eq!(mine["myOrders"]["totalCount"], 0, "{mine}");
            } else {
                assert_eq!(mine["myCart"]["lines"], json!([]), "{mine}");
            }
        }
        let admin = app.user(Role::Admin).await;
        let outbox = app.data(Some(&admin.access), "{ outboxMessages(first: 50) { edges { node { template } } } }", json!({})).await;
        let received = outbox["outboxMessages"]["edges"].as_array().unwrap().iter()
            .filter(|e| e["node"]["template"] == "order_received")
            .count();
        assert_eq!(received, 3, "{outbox}");
        let mut numbers: Vec<&str> = results.iter().filter_map(|r| r["data"]["checkout"]["number"].as_str()).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, ["ORD-000001", "ORD-000002", "ORD-000003"], "{results:?}");
    }
}

db_test! {
    async fn the_shared_order_loop_tracks_every_change_for_the_other_side_live(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let pen = product(&app, m, json!({ "reference": "PEN", "name": "Pen", "unitPrice": "2", "trackStock": true, "stock": 100 })).await;
        let book = product(&app, m, json!({ "reference": "BOOK", "name": "Book", "unitPrice": "10" })).await;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;

        // The manager composes a draft: the customer does not see it.
        let created = app.data(Some(m), &format!("mutation($c: ID!) {{ createOrder(customerId: $c, input: {{ title: \"Fair\" }}) {{ {ORDER_FIELDS} }} }}"), json!({ "c": customer })).await;
        let id = created["createOrder"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created["createOrder"]["status"], "DRAFT");
        let add = format!("mutation($id: ID!, $v: Int!, $p: ID!, $q: Int!) {{ orderAddLine(orderId: $id, version: $v, input: {{ productId: $p, quantity: $q }}) {{ {ORDER_FIELDS} }} }}");
        let order = app.data(Some(m), &add, json!({ "id": id, "v": 1, "p": pen, "q": 10 })).await["orderAddLine"].clone();
        let order = app.data(Some(m), &add, json!({ "id": id, "v": order["version"], "p": book, "q": 2 })).await["orderAddLine"].clone();
        let hidden = app.gql(Some(&client.access), "query($id: ID!) { order(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(code(&hidden), "NOT_FOUND");

        // The customer listens to their orders' events.
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&client.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { orderEvents { kind status changes cursor } }" } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");

        let proposed = order_op(&app, m, "proposeOrder", ", message: \"As discussed\"", json!({ "id": id, "v": order["version"] })).await;
        assert_eq!(proposed["status"], "PROPOSED");
        let event = ws.next().await;
        assert_eq!(event["payload"]["data"]["orderEvents"]["kind"], "ORDER_PROPOSED", "{event}");
        // What the seller did while composing is not news: no line shows a change.
        let seen = app.data(Some(&client.access), &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"), json!({ "id": id })).await["order"].clone();
        assert!(seen["lines"].as_array().unwrap().iter().all(|l| l["changedFields"] == json!([])), "{seen}");

        // A stock-out: the manager lowers the pens and changes the book's price and date.
        let pen_line = seen["lines"][0]["id"].as_str().unwrap().to_owned();
        let book_line = seen["lines"][1]["id"].as_str().unwrap().to_owned();
        let update = format!("mutation($id: ID!, $v: Int!, $l: ID!, $input: OrderLineChangesInput!) {{ orderUpdateLine(orderId: $id, version: $v, lineId: $l, input: $input) {{ {ORDER_FIELDS} }} }}");
        let order = app.data(Some(m), &update, json!({ "id": id, "v": proposed["version"], "l": pen_line, "input": { "quantity": 6 } })).await["orderUpdateLine"].clone();
        let order = app.data(Some(m), &update, json!({ "id": id, "v": order["version"], "l": pen_line, "input": { "quantity": 4 } })).await["orderUpdateLine"].clone();
        let order = app.data(Some(m), &update, json!({ "id": id, "v": order["version"], "l": book_line, "input": { "unitPrice": "9.50", "deliveryDate": "2099-01-15" } })).await["orderUpdateLine"].clone();
        assert_eq!(order["status"], "PROPOSED");
        let live = ws.next().await;
        assert_eq!(live["payload"]["data"]["orderEvents"]["kind"], "ORDER_UPDATED", "{live}");
        let changes = &live["payload"]["data"]["orderEvents"]["changes"];
        assert_eq!(changes[format!("quantity@{pen_line}")], json!({ "old": "10", "new": "6" }), "{changes}");

        // The customer sees per line what changed since they last looked, with the old value.
        let seen = app.data(Some(&client.access), &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"), json!({ "id": id })).await["order"].clone();
        assert_eq!(seen["lines"][0]["quantity"], 4);
        assert_eq!(seen["lines"][0]["changedFields"], json!([{ "field": "quantity", "oldValue": "10", "newValue": "4" }]));
        let book_fields = seen["lines"][1]["changedFields"].as_array().unwrap();
        assert!(book_fields.contains(&json!({ "field": "unitPrice", "oldValue": "10", "newValue": "9.5" })), "{book_fields:?}");
        assert!(book_fields.contains(&json!({ "field": "deliveryDate", "oldValue": null, "newValue": "2099-01-15" })), "{book_fields:?}");
        assert_eq!(stock(&app, m, &pen).await, 96, "6 units went back to stock");

        // The customer replies with their own quantity; the order returns to the seller, who
        // sees the customer's change.
        ws.next().await;
        ws.next().await;
        let reply = "mutation($id: ID!, $v: Int!, $l: ID!) { replyToOrder(id: $id, version: $v, comment: \"We need 5\", lines: [{ lineId: $l, quantity: 5 }]) { status version } }";
        let replied = app.data(Some(&client.access), reply, json!({ "id": id, "v": seen["version"], "l": pen_line })).await["replyToOrder"].clone();
        assert_eq!(replied["status"], "SUBMITTED");
        let desk = app.data(Some(m), &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"), json!({ "id": id })).await["order"].clone();
        assert_eq!(desk["lines"][0]["changedFields"], json!([{ "field": "quantity", "oldValue": "4", "newValue": "5" }]));
        assert!(desk["changes"].as_array().unwrap().iter().any(|c| c["field"] == "comment" && c["newValue"] == "We need 5" && c["side"] == "CUSTOMER"), "{desk}");

        // Two people at once: a stale version is refused with the current one.
        let stale = app.gql(Some(m), &update, json!({ "id": id, "v": proposed["version"], "l": pen_line, "input": { "quantity": 1 } })).await;
        assert_eq!(code(&stale), "CONFLICT");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], desk["version"]);

        // Proposed again, accepted: green, and nothing shows as changed any more.
        let proposed = order_op(&app, m, "proposeOrder", "", json!({ "id": id, "v": desk["version"] })).await;
        let accepted = order_op(&app, &client.access, "acceptOrder", "", json!({ "id": id, "v": proposed["version"] })).await;
        assert_eq!(accepted["status"], "CONFIRMED");
        assert!(accepted["lines"].as_array().unwrap().iter().all(|l| l["changedFields"] == json!([])), "{accepted}");
        assert_eq!(accepted["changes"], json!([]));
        // Accepting again is an illegal transition.
        let again = app.gql(Some(&client.access), "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { id } }", json!({ "id": id, "v": accepted["version"] })).await;
        assert_eq!(code(&again), "INVALID_TRANSITION");
    }
}

db_test! {
    async fn illegal_transitions_are_refused_and_cancelling_returns_the_stock(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let pen = product(&app, m, json!({ "reference": "PEN", "trackStock": true, "stock": 5 })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 2).await;
        let order = checkout(&app, &client.access, None).await["data"]["checkout"].clone();
        let id = order["id"].as_str().unwrap().to_owned();
        let status = |s: &str| format!("mutation($id: ID!, $v: Int!) {{ setOrderStatus(id: $id, version: $v, status: {s}) {{ status version }} }}");

        // SUBMITTED cannot ship, nor be released when not held.
        let body = app.gql(Some(m), &status("SHIPPED"), json!({ "id": id, "v": order["version"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION");
        let body = app.gql(Some(m), "mutation($id: ID!, $v: Int!) { releaseOrder(id: $id, version: $v) { id } }", json!({ "id": id, "v": order["version"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION");
        // A customer may not advance an order.
        let body = app.gql(Some(&client.access), &status("IN_PROGRESS"), json!({ "id": id, "v": order["version"] })).await;
        assert_eq!(code(&body), "FORBIDDEN");

        // Hold remembers where it was; release goes back there.
        let held = order_op(&app, m, "holdOrder", ", reason: \"waiting for artwork\"", json!({ "id": id, "v": order["version"] })).await;
        assert_eq!(held["status"], "ON_HOLD");
        let body = app.gql(Some(m), "mutation($id: ID!, $v: Int!) { confirmOrder(id: $id, version: $v) { id } }", json!({ "id": id, "v": held["version"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION", "a held order is released first");
        let released = order_op(&app, m, "releaseOrder", "", json!({ "id": id, "v": held["version"] })).await;
        assert_eq!(released["status"], "SUBMITTED");

        let confirmed = order_op(&app, m, "confirmOrder", "", json!({ "id": id, "v": released["version"] })).await;
        assert_eq!(confirmed["status"], "CONFIRMED");
        // Once confirmed, the customer can no longer cancel.
        let body = app.gql(Some(&client.access), "mutation($id: ID!, $v: Int!) { cancelOrder(id: $id, version: $v) { id } }", json!({ "id": id, "v": confirmed["version"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION");
        let started = app.data(Some(m), &status("IN_PROGRESS"), json!({ "id": id, "v": confirmed["version"] })).await["setOrderStatus"].clone();
        // Production started: lines are frozen.
        let body = app.gql(Some(m), "mutation($id: ID!, $v: Int!, $l: ID!) { orderRemoveLine(orderId: $id, version: $v, lineId: $l) { id } }", json!({ "id": id, "v": started["version"], "l": order["lines"][0]["id"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION");

        assert_eq!(stock(&app, m, &pen).await, 3);
        let cancelled = order_op(&app, m, "cancelOrder", ", reason: \"customer asked\"", json!({ "id": id, "v": started["version"] })).await;
        assert_eq!(cancelled["status"], "CANCELLED");
        assert_eq!(stock(&app, m, &pen).await, 5, "the reserved units are back");
        let body = app.gql(Some(m), &status("IN_PROGRESS"), json!({ "id": id, "v": cancelled["version"] })).await;
        assert_eq!(code(&body), "INVALID_TRANSITION");
    }
}

db_test! {
    async fn a_customer_receives_only_their_own_order_events(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let alice = app.user(Role::AccountClient).await;
        let bob = app.user(Role::AccountClient).await;
        add_to_cart(&app, &alice.access, &pen, 1).await;
        let alices = checkout(&app, &alice.access, None).await["data"]["checkout"].clone();

        // Bob cannot subscribe to Alice's order…
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&bob.access)).await;
        ws.send(json!({ "id": "x", "type": "subscribe", "payload": { "query": "subscription($id: ID!) { orderEvents(orderId: $id) { kind } }", "variables": { "id": alices["id"] } } })).await;
        let refused = ws.next().await;
        assert_eq!(refused["type"], "next", "{refused}");
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND");
        // …and his "all my orders" subscription hears nothing of it, while Alice's does.
        ws.send(json!({ "id": "all", "type": "subscribe", "payload": { "query": "subscription { orderEvents { kind } }" } })).await;
        let mut mine = Ws::connect(&app, "graphql-transport-ws").await;
        mine.init(Some(&alice.access)).await;
        mine.send(json!({ "id": "all", "type": "subscribe", "payload": { "query": "subscription($id: ID!) { orderEvents(orderId: $id) { kind status } }", "variables": { "id": alices["id"] } } })).await;
        for socket in [&mut ws, &mut mine] {
            socket.send(json!({ "type": "ping" })).await;
        }
        let _ = ws.next().await; // complete for "x" or pong
        mine.next().await;

        order_op(&app, &manager.access, "confirmOrder", "", json!({ "id": alices["id"], "v": alices["version"] })).await;
        let event = mine.next().await;
        assert_eq!(event["payload"]["data"]["orderEvents"], json!({ "kind": "ORDER_CONFIRMED", "status": "CONFIRMED" }));
        // An event of Bob's own arrives after: nothing of Alice's came before it.
        add_to_cart(&app, &bob.access, &pen, 1).await;
        checkout(&app, &bob.access, None).await;
        loop {
            let message = ws.next().await;
            if message["type"] == "next" && message["id"] == "all" {
                assert_eq!(message["payload"]["data"]["orderEvents"]["kind"], "ORDER_SUBMITTED", "{message}");
                break;
            }
        }

        // A public caller has no order events at all.
        let mut public = Ws::connect(&app, "graphql-transport-ws").await;
        public.init(None).await;
        public.send(json!({ "id": "p", "type": "subscribe", "payload": { "query": "subscription { orderEvents { kind } }" } })).await;
        let refused = public.next().await;
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
    }
}

db_test! {
    async fn a_store_can_require_a_verified_email_before_ordering(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        app.data(Some(&admin.access), "mutation { updateStoreSettings(version: 0, input: { requireVerifiedEmail: true }) { requireVerifiedEmail } }", json!({})).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 1).await;
        let body = checkout(&app, &client.access, None).await;
        assert_eq!(code(&body), "EMAIL_NOT_VERIFIED");
        let cart = app.data(Some(&client.access), "{ myCart { lines { id } } }", json!({})).await;
        assert_eq!(cart["myCart"]["lines"].as_array().unwrap().len(), 1, "nothing was changed");
    }
}

db_test! {
    async fn a_first_checkout_creates_the_customer_of_an_identified_user(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let user = app.user(Role::Identified).await;
        add_to_cart(&app, &user.access, &pen, 1).await;
        let order = checkout(&app, &user.access, None).await;
        assert_eq!(order["data"]["checkout"]["status"], "SUBMITTED", "{order}");
        let me = app.data(Some(&user.access), "{ myCustomer { name source } myOrders { totalCount } }", json!({})).await;
        assert_eq!(me["myCustomer"], json!({ "name": "Jeanne Martin", "source": "STOREFRONT" }));
        assert_eq!(me["myOrders"]["totalCount"], 1);
        // Staff check out through the desk, not a cart.
        add_to_cart(&app, &manager.access, &pen, 1).await;
        let body = checkout(&app, &manager.access, None).await;
        assert_eq!(code(&body), "FORBIDDEN");
    }
}

db_test! {
    async fn the_desk_search_finds_orders_customers_and_products_in_one_call(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let gizmo = product(&app, m, json!({ "reference": "GIZ-1", "name": "Gizmo Deluxe" })).await;
        product(&app, m, json!({ "reference": "OTHER", "name": "Unrelated" })).await;
        let customer = app.customer("Gizmo Industries").await;
        let client = app.user_of(Role::AccountClient, Some(customer)).await;
        add_to_cart(&app, &client.access, &gizmo, 1).await;
        let order = checkout(&app, &client.access, None).await["data"]["checkout"].clone();
        add_to_cart(&app, &client.access, &gizmo, 2).await;
        let quote = crate::quotes::request(&app, &client.access, None).await["data"]["requestQuote"].clone();

        let query = "query($t: String!) { search(text: $t) { __typename ... on Order { number } ... on Quote { number } ... on Customer { name } ... on Product { reference } } }";
        let hits = app.data(Some(m), query, json!({ "t": "gizmo" })).await["search"].clone();
        assert_eq!(hits, json!([
            { "__typename": "Order", "number": order["number"] },
            { "__typename": "Quote", "number": quote["number"] },
            { "__typename": "Customer", "name": "Gizmo Industries" },
            { "__typename": "Product", "reference": "GIZ-1" },
        ]));
        // By the customer's reference.
        let hits = app.data(Some(m), query, json!({ "t": "po-77" })).await["search"].clone();
        assert_eq!(hits, json!([{ "__typename": "Order", "number": order["number"] }]));
        let body = app.gql(Some(&client.access), query, json!({ "t": "gizmo" })).await;
        assert_eq!(code(&body), "FORBIDDEN");
        let body = app.gql(Some(m), query, json!({ "t": "g" })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "text");
    }
}

db_test! {
    async fn an_order_event_is_rendered_once_for_every_subscriber_of_the_same_document(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let client = app.user(Role::AccountClient).await;
        let query = "subscription { orderEvents { kind status cursor changes } }";
        let mut sockets = Vec::new();
        for n in 0..3 {
            let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
            ws.init(Some(&manager.access)).await;
            ws.send(json!({ "id": format!("desk-{n}"), "type": "subscribe", "payload": { "query": query } })).await;
            ws.send(json!({ "type": "ping" })).await;
            assert_eq!(ws.next().await["type"], "pong");
            sockets.push(ws);
        }
        let before = app.state.frames.stats();
        add_to_cart(&app, &client.access, &pen, 1).await;
        checkout(&app, &client.access, None).await;
        let mut payloads = Vec::new();
        for (n, ws) in sockets.iter_mut().enumerate() {
            let message = ws.next().await;
            assert_eq!(message["id"], format!("desk-{n}"), "{message}");
            assert_eq!(message["type"], "next", "{message}");
            assert_eq!(message["payload"]["data"]["orderEvents"]["kind"], "ORDER_SUBMITTED", "{message}");
            payloads.push(message["payload"].to_string());
        }
        assert!(payloads.windows(2).all(|w| w[0] == w[1]), "{payloads:?}");
        let after = app.state.frames.stats();
        assert_eq!((after.reused - before.reused, after.rendered - before.rendered), (2, 1), "rendered once, reused twice");
    }
}

db_test! {
    async fn a_subscriber_whose_document_already_rendered_an_event_gets_it_without_resolving_it(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 1).await;
        checkout(&app, &client.access, None).await;
        let log = app.data(Some(&manager.access), "{ events(first: 100) { edges { node { cursor } } } }", json!({})).await;
        let cursor = log["events"]["edges"].as_array().and_then(|e| e.last()).expect("an event")["node"]["cursor"].clone();
        let query = "subscription($after: String) { orderEvents(after: $after) { kind status cursor changes } }";
        let subscribe = |id: &str| json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": { "after": cursor } } });

        let mut first = Ws::connect(&app, "graphql-transport-ws").await;
        first.init(Some(&manager.access)).await;
        first.send(subscribe("first")).await;
        first.send(json!({ "type": "ping" })).await;
        assert_eq!(first.next().await["type"], "pong");
        add_to_cart(&app, &client.access, &pen, 1).await;
        checkout(&app, &client.access, None).await;
        let rendered = first.next().await;
        assert_eq!(rendered["payload"]["data"]["orderEvents"]["kind"], "ORDER_SUBMITTED", "{rendered}");

        // The second subscriber replays the same event from the log: its document's rendering is
        // there, so the event is sent as it is, under the second operation's ID.
        let before = app.state.frames.stats();
        let mut second = Ws::connect(&app, "graphql-transport-ws").await;
        second.init(Some(&manager.access)).await;
        second.send(subscribe("second")).await;
        let replayed = second.next().await;
        assert_eq!(replayed["type"], "next", "{replayed}");
        assert_eq!(replayed["id"], "second", "{replayed}");
        assert_eq!(replayed["payload"], rendered["payload"]);
        let after = app.state.frames.stats();
        assert_eq!((after.unresolved - before.unresolved, after.rendered - before.rendered), (1, 0));

        // Another document still resolves the event itself.
        let mut third = Ws::connect(&app, "graphql-transport-ws").await;
        third.init(Some(&manager.access)).await;
        third.send(json!({ "id": "third", "type": "subscribe", "payload": { "query": "subscription($after: String) { orderEvents(after: $after) { kind } }", "variables": { "after": cursor } } })).await;
        let own = third.next().await;
        assert_eq!(own["payload"], json!({ "data": { "orderEvents": { "kind": "ORDER_SUBMITTED" } } }), "{own}");
        assert_eq!(app.state.frames.stats().rendered - after.rendered, 1);
    }
}

db_test! {
    async fn a_draft_stays_hidden_until_proposed_even_on_hold_or_cancelled(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let pen = product(&app, m, json!({ "reference": "PEN" })).await;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let create = format!("mutation($c: ID!) {{ createOrder(customerId: $c) {{ {ORDER_FIELDS} }} }}");
        let add = format!("mutation($id: ID!, $v: Int!, $p: ID!) {{ orderAddLine(orderId: $id, version: $v, input: {{ productId: $p, quantity: 2, unitPrice: \"7\" }}) {{ {ORDER_FIELDS} }} }}");
        let seen = "query($id: ID!) { order(id: $id) { id } }";

        let draft = app.data(Some(m), &create, json!({ "c": customer })).await["createOrder"].clone();
        let held = order_op(&app, m, "holdOrder", "", json!({ "id": draft["id"], "v": draft["version"] })).await;
        assert_eq!(code(&app.gql(Some(&client.access), seen, json!({ "id": draft["id"] })).await), "NOT_FOUND");
        order_op(&app, m, "cancelOrder", "", json!({ "id": held["id"], "v": held["version"] })).await;
        assert_eq!(code(&app.gql(Some(&client.access), seen, json!({ "id": draft["id"] })).await), "NOT_FOUND");
        let mine = app.data(Some(&client.access), "{ myOrders(includeCancelled: true) { totalCount } }", json!({})).await;
        assert_eq!(mine["myOrders"]["totalCount"], 0);

        // Confirmed straight from the draft: shown now, with nothing flagged as changed.
        let draft = app.data(Some(m), &create, json!({ "c": customer })).await["createOrder"].clone();
        let draft = app.data(Some(m), &add, json!({ "id": draft["id"], "v": draft["version"], "p": pen })).await["orderAddLine"].clone();
        let confirmed = order_op(&app, m, "confirmOrder", "", json!({ "id": draft["id"], "v": draft["version"] })).await;
        let shown = app.data(Some(&client.access), &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"), json!({ "id": confirmed["id"] })).await["order"].clone();
        assert_eq!(shown["lines"][0]["changedFields"], json!([]), "{shown}");
        assert!(shown["changes"].as_array().unwrap().iter().all(|c| c["field"] == "status"), "{shown}");
    }
}

db_test! {
    async fn no_edit_brings_the_total_below_what_was_paid(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let pen = product(&app, m, json!({ "reference": "PEN", "unitPrice": "10", "vatRate": "0" })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 3).await;
        let order = checkout(&app, &client.access, None).await["data"]["checkout"].clone();
        app.data(Some(m), "mutation($id: ID!) { recordPayment(orderId: $id, input: { amount: \"25\", method: \"card\", paidOn: \"2026-11-23\" }) { balanceDue { amount } } }", json!({ "id": order["id"] })).await;
        let update = "mutation($id: ID!, $v: Int!, $l: ID!, $q: Int!) { orderUpdateLine(orderId: $id, version: $v, lineId: $l, input: { quantity: $q }) { total { amount } version } }";
        let body = app.gql(Some(m), update, json!({ "id": order["id"], "v": order["version"], "l": order["lines"][0]["id"], "q": 2 })).await;
        assert_eq!(code(&body), "VALIDATION", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "total");
        let body = app.data(Some(m), update, json!({ "id": order["id"], "v": order["version"], "l": order["lines"][0]["id"], "q": 4 })).await;
        assert_eq!(body["orderUpdateLine"]["total"]["amount"], "40.00");
    }
}

db_test! {
    async fn a_checkout_without_a_contact_reaches_the_account_email(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 1).await;
        let cart = cart_id(&app, &client.access).await;
        let query = format!("mutation($cart: ID!) {{ checkout(cartId: $cart, input: {{ deliveryAddress: {ADDRESS} }}) {{ {ORDER_FIELDS} }} }}");
        let placed = app.data(Some(&client.access), &query, json!({ "cart": cart })).await;
        assert_eq!(placed["checkout"]["contact"]["email"], client.email.as_str(), "{placed}");
    }
}

db_test! {
    async fn a_checkout_copies_the_saved_contact_and_addresses_and_never_another_customers(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        let other = app.user(Role::AccountClient).await;
        let add_contact = "mutation($input: ContactInput!) { addCustomerContact(input: $input) { id } }";
        let add_address = "mutation($input: AddressInput!) { addCustomerAddress(input: $input) { id } }";
        let address = |kind: &str, line1: &str, city: &str, default: bool| {
            json!({ "input": { "kind": kind, "line1": line1, "postalCode": "69001", "city": city, "country": "FR", "isDefault": default } })
        };
        app.data(Some(&client.access), add_contact, json!({ "input": { "name": "Paul Durand", "email": "paul@example.test", "isPrimary": true } })).await;
        app.data(Some(&client.access), add_address, address("BILLING", "9 quai de Saône", "Lyon", true)).await;
        app.data(Some(&client.access), add_address, address("DELIVERY", "2 rue du Dépôt", "Bordeaux", true)).await;
        let site = app.data(Some(&client.access), add_address, address("DELIVERY", "5 avenue du Chantier", "Marseille", false)).await["addCustomerAddress"]["id"].clone();
        let foreign = app.data(Some(&other.access), add_address, address("DELIVERY", "7 Other Street", "Nantes", true)).await["addCustomerAddress"]["id"].clone();
        let query = "mutation($cart: ID!, $input: CheckoutInput) { checkout(cartId: $cart, input: $input) {
            contact { name email } deliveryAddress { line1 city } billingAddress { line1 city } } }";

        // Another customer's saved address is not found, and the cart keeps its line.
        add_to_cart(&app, &client.access, &pen, 1).await;
        let cart = cart_id(&app, &client.access).await;
        let refused = app.gql(Some(&client.access), query, json!({ "cart": cart, "input": { "deliveryAddressId": foreign } })).await;
        assert_eq!(code(&refused), "NOT_FOUND", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "deliveryAddressId");
        let kept = app.data(Some(&client.access), "{ myCart { lines { id } } }", json!({})).await;
        assert_eq!(kept["myCart"]["lines"].as_array().unwrap().len(), 1);

        // Nothing typed: the primary contact, the default delivery address, the billing address.
        let placed = app.data(Some(&client.access), query, json!({ "cart": cart })).await["checkout"].clone();
        assert_eq!(placed["contact"], json!({ "name": "Paul Durand", "email": "paul@example.test" }));
        assert_eq!(placed["deliveryAddress"]["city"], "Bordeaux");
        assert_eq!(placed["billingAddress"]["city"], "Lyon");

        // A saved address chosen by its id.
        add_to_cart(&app, &client.access, &pen, 1).await;
        let cart = cart_id(&app, &client.access).await;
        let placed = app.data(Some(&client.access), query, json!({ "cart": cart, "input": { "deliveryAddressId": site } })).await["checkout"].clone();
        assert_eq!(placed["deliveryAddress"], json!({ "line1": "5 avenue du Chantier", "city": "Marseille" }));
        assert_eq!(placed["billingAddress"]["city"], "Lyon");
    }
}

db_test! {
    async fn a_checkout_reads_no_catalog_row_kept_since_an_earlier_checkout(app) with |config| {
        // The outbox worker polls in the background; its statements would blur the count.
        config.outbox_worker = false;
    } {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "trackStock": true, "stock": 10 })).await;
        let ink = product(&app, &manager.access, json!({ "reference": "INK", "trackStock": true, "stock": 10 })).await;
        let pad = product(&app, &manager.access, json!({ "reference": "PAD", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        // The order's ID only: the fields of a full answer load through DataLoaders, whose
        // batches (one statement or two) depend on timing.
        let query = format!(
            "mutation($cart: ID!) {{ checkout(cartId: $cart, input: {{ deliveryAddress: {ADDRESS}, contact: {{ name: \"Jeanne Martin\", email: \"jeanne@example.test\" }} }}) {{ id }} }}"
        );
        let place = async |products: &[&str]| {
            for product in products {
                add_to_cart(&app, &client.access, product, 1).await;
            }
            let cart = cart_id(&app, &client.access).await;
            let before = app.state.db.statements();
            app.data(Some(&client.access), &query, json!({ "cart": cart })).await;
            // With what comes after the answer.
            app.quiet_statements().await - before
        };
        place(&[&pen, &ink, &pad]).await;
        // The first checkout took stock: the products' kept rows stay current, so the second reads
        // the caller with the epochs and the customer with their addresses (the email's
        // template is kept since the first), then in its transaction the cart with its lines
        // and their stock, the order number with the stock (one round trip); then the emptied
        // cart, the order, its lines, the email and the event are written at commit: in one
        // round trip on SQLite; on PostgreSQL in one statement too, then the `NOTIFY` that
        // carries the event to every instance. (`BEGIN` and `COMMIT` are not counted.)
        let statements = place(&[&pen]).await;
        let sqlite = app.state.db.backend() == sea_orm::DbBackend::Sqlite;
        assert_eq!(statements, if sqlite { 5 } else { 6 }, "{statements} statements");
        // Three lines: in as many statements as one.
        let statements = place(&[&pen, &ink, &pad]).await;
        assert_eq!(statements, if sqlite { 5 } else { 6 }, "{statements} statements");
    }
}

db_test! {
    async fn a_customer_sees_who_changed_their_order_by_email_and_nothing_else_of_the_account(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let pen = product(&app, m, json!({ "reference": "PEN" })).await;
        let draft = app.data(Some(m), &format!("mutation($c: ID!) {{ createOrder(customerId: $c) {{ {ORDER_FIELDS} }} }}"), json!({ "c": customer })).await["createOrder"].clone();
        let draft = app.data(Some(m), &format!("mutation($id: ID!, $v: Int!, $p: ID!) {{ orderAddLine(orderId: $id, version: $v, input: {{ productId: $p, quantity: 2 }}) {{ {ORDER_FIELDS} }} }}"),
            json!({ "id": draft["id"], "v": draft["version"], "p": pen })).await["orderAddLine"].clone();
        let order = order_op(&app, m, "proposeOrder", "", json!({ "id": draft["id"], "v": draft["version"] })).await;
        let by = |fields: &str| format!("query($id: ID!) {{ order(id: $id) {{ changes(all: true) {{ side by {{ {fields} }} }} }} }}");

        // The customer sees the seller's ID and email.
        let seen = app.data(Some(&client.access), &by("id email"), json!({ "id": order["id"] })).await;
        let change = &seen["order"]["changes"][0];
        assert_eq!(change["side"], "SELLER", "{seen}");
        assert_eq!(change["by"], json!({ "id": manager.id, "email": manager.email }), "{seen}");
        // Not the rest of the seller's account.
        for field in ["role", "blocked", "blockedReason", "blockedAt", "emailVerified", "createdAt"] {
            let refused = app.gql(Some(&client.access), &by(field), json!({ "id": order["id"] })).await;
            assert_eq!(code(&refused), "FORBIDDEN", "{field}: {refused}");
        }
        // Staff see it all; the user sees their own account whole.
        let desk = app.data(Some(m), &by("role blocked blockedReason"), json!({ "id": order["id"] })).await;
        assert_eq!(desk["order"]["changes"][0]["by"], json!({ "role": "MANAGER", "blocked": false, "blockedReason": null }), "{desk}");
        let me = app.data(Some(&client.access), "{ me { role blocked createdAt } }", json!({})).await;
        assert_eq!(me["me"]["role"], "ACCOUNT_CLIENT");
    }
}

/// The subjects of the order emails to the checkout contact, sorted.
async fn order_email_subjects(app: &TestApp, admin: &str) -> Vec<String> {
    let outbox = app
        .data(
            Some(admin),
            "{ outboxMessages(first: 50) { edges { node { template subject } } } }",
            json!({}),
        )
        .await;
    let mut subjects: Vec<String> = outbox["outboxMessages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["template"] == "order_received")
        .map(|e| e["node"]["subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort_unstable();
    subjects
}

db_test! {
    async fn an_admins_version_of_the_order_email_serves_from_the_next_order_on_every_instance(app) {
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "name": "Pen" })).await;
        let admin = app.user(Role::Admin).await;
        // Another instance on PostgreSQL, whose instances share events (one instance serves a
        // SQLite database).
        let other = if app.state.db.backend() == sea_orm::DbBackend::Postgres {
            Some(app.sibling().await)
        } else {
            None
        };
        let client = app.user(Role::AccountClient).await;
        let order = async |on: &TestApp| {
            add_to_cart(on, &client.access, &pen, 1).await;
            let placed = checkout(on, &client.access, None).await;
            placed["data"]["checkout"]["number"].as_str().unwrap_or_else(|| panic!("{placed}")).to_owned()
        };
        // Every instance has used the shipped version (and keeps it).
        assert_eq!(order(other.as_ref().unwrap_or(&app)).await, "ORD-000001");
        assert_eq!(order(&app).await, "ORD-000002");

        let update = "mutation { updateMessageTemplate(name: \"order_received\", language: \"en\", subject: \"Order {{ number }} is in\", body: \"Hello {{ contact_name }}\") { customized } }";
        assert_eq!(app.data(Some(&admin.access), update, json!({})).await["updateMessageTemplate"]["customized"], true);
        // This instance uses the new version from its next order on.
        assert_eq!(order(&app).await, "ORD-000003");
        assert_eq!(order_email_subjects(&app, &admin.access).await, [
            "Order ORD-000003 is in",
            "We received your order ORD-000001",
            "We received your order ORD-000002",
        ]);
        // So does a first order, whose customer (and language) the checkout creates.
        let newcomer = app.user(Role::Identified).await;
        add_to_cart(&app, &newcomer.access, &pen, 1).await;
        let first = checkout(&app, &newcomer.access, None).await;
        assert_eq!(first["data"]["checkout"]["number"], "ORD-000004", "{first}");
        assert!(order_email_subjects(&app, &admin.access).await.contains(&"Order ORD-000004 is in".to_owned()));

        // The other instance drops its version when the change's event reaches it.
        if let Some(other) = &other {
            let mut changed = false;
            for attempt in 5..40 {
                let number = order(other).await;
                assert_eq!(number, format!("ORD-{attempt:06}"));
                if order_email_subjects(&app, &admin.access).await.contains(&format!("Order {number} is in")) {
                    changed = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(changed, "{:?}", order_email_subjects(&app, &admin.access).await);
        }

        // Reset: the shipped version again, here at once.
        let reset = "mutation { resetMessageTemplate(name: \"order_received\", language: \"en\") { customized } }";
        assert_eq!(app.data(Some(&admin.access), reset, json!({})).await["resetMessageTemplate"]["customized"], false);
        let number = order(&app).await;
        assert!(order_email_subjects(&app, &admin.access).await.contains(&format!("We received your order {number}")), "{number}");
        if let Some(other) = other {
            other.stop().await;
        }
    }
}
