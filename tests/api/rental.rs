//! Rental: availability over dates (peak, buffers, drafts never counting), the storefront's
//! quick checkout (customer, account, credentials by email), blocked customers, taking projects
//! into work without overbooking (also in parallel), the desk, the customers' view, live events
//! and isolation.

use base64::Engine as _;
use chrono::{DateTime, Duration, Timelike, Utc};
use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::{
    catalog::product,
    helpers::{Backend, Session, TestApp, code},
    mail::MailSink,
    websocket::Ws,
};

pub const PROJECT_FIELDS: &str = "id number status source version isShort isLate customerNote managerNote
    cancelReason periodStart periodEnd total { amount } subtotal { amount } repeatedFromId
    contact { name email phone company }
    items { id productId reference quantity status availableQuantity shortQuantity
            unitPrice { amount } dailyPrice { amount } lineTotal { amount } rentalPeriod { start end days } }
    changes { field oldValue newValue side itemId }";

/// Midnight UTC `days` from now, plus `hours`.
fn day(days: i64, hours: i64) -> DateTime<Utc> {
    let midnight = Utc::now()
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    midnight + Duration::days(days) + Duration::hours(hours)
}

fn at(days: i64, hours: i64) -> String {
    day(days, hours).to_rfc3339()
}

/// A rental product owning `owned` units at 45 a day (20 % VAT).
async fn equipment(
    app: &TestApp,
    staff: &str,
    reference: &str,
    owned: i32,
    extra: Value,
) -> String {
    let mut input = json!({ "reference": reference, "name": format!("Stage light {reference}"), "kind": "RENTAL",
        "unitPrice": "0", "rentalOwnedQuantity": owned, "rentalDailyPrice": "45" });
    for (key, value) in extra.as_object().unwrap() {
        input[key] = value.clone();
    }
    product(app, staff, input).await
}

async fn customer_gid(app: &TestApp, client: &Session) -> String {
    app.data(Some(&client.access), "{ myCustomer { id } }", json!({}))
        .await["myCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Staff: a `NEW` project for `customer` with `(product, quantity, from, to)` items.
async fn project(
    app: &TestApp,
    staff: &str,
    customer: &str,
    items: &[(&str, i32, String, String)],
) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(p, q, from, to)| json!({ "productId": p, "quantity": q, "start": from, "end": to }))
        .collect();
    let query = format!(
        "mutation($input: CreateRentalProjectInput!) {{ createRentalProject(input: $input) {{ {PROJECT_FIELDS} }} }}"
    );
    app.data(
        Some(staff),
        &query,
        json!({ "input": { "customerId": customer, "items": items } }),
    )
    .await["createRentalProject"]
        .clone()
}

/// Runs `name(id, version, …)` and returns the whole response.
async fn op(app: &TestApp, token: &str, name: &str, args: &str, project: &Value) -> Value {
    let query = format!(
        "mutation($id: ID!, $v: Int!) {{ {name}(id: $id, version: $v{args}) {{ {PROJECT_FIELDS} }} }}"
    );
    app.gql(
        Some(token),
        &query,
        json!({ "id": project["id"], "v": project["version"] }),
    )
    .await
}

/// Like [`op`], but it must succeed; returns the project.
async fn ok(app: &TestApp, token: &str, name: &str, args: &str, project: &Value) -> Value {
    let body = op(app, token, name, args, project).await;
    assert!(body.get("errors").is_none(), "{name}: {body}");
    body["data"][name].clone()
}

async fn available(app: &TestApp, product: &str, from: &str, to: &str) -> i64 {
    app.data(
        None,
        "query($p: [ID!]!, $from: DateTime!, $to: DateTime!) { rentalAvailability(productIds: $p, from: $from, to: $to) { ownedQuantity availableQuantity } }",
        json!({ "p": [product], "from": from, "to": to }),
    )
    .await["rentalAvailability"][0]["availableQuantity"]
        .as_i64()
        .unwrap()
}

db_test! {
    async fn availability_is_owned_minus_the_peak_of_what_projects_in_work_hold(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, m, "LIGHT", 10, json!({})).await;

        // Two back-to-back rentals of 3 and an overlapping one of 2, all drafts: nothing counts.
        let first = project(&app, m, &customer, &[(&light, 3, at(10, 8), at(12, 8))]).await;
        let second = project(&app, m, &customer, &[(&light, 3, at(12, 8), at(14, 8))]).await;
        let third = project(&app, m, &customer, &[(&light, 2, at(13, 0), at(13, 12))]).await;
        assert_eq!(available(&app, &light, &at(10, 0), &at(15, 0)).await, 10);

        ok(&app, m, "startRentalProject", "", &first).await;
        ok(&app, m, "startRentalProject", "", &second).await;
        // Back to back: the peak is 3, not the sum of 6.
        assert_eq!(available(&app, &light, &at(10, 0), &at(15, 0)).await, 7);
        ok(&app, m, "startRentalProject", "", &third).await;
        // On the 13th, 3 + 2 are out at once.
        assert_eq!(available(&app, &light, &at(10, 0), &at(15, 0)).await, 5);
        assert_eq!(available(&app, &light, &at(10, 0), &at(12, 0)).await, 7);
        assert_eq!(available(&app, &light, &at(20, 0), &at(21, 0)).await, 10);

        // The calendar, day by day.
        let calendar = app.data(None, "query($p: ID!, $from: NaiveDate!, $to: NaiveDate!) { availabilityCalendar(productId: $p, from: $from, to: $to) { product { reference } days { date availableQuantity } } }",
            json!({ "p": light, "from": day(9, 0).date_naive().to_string(), "to": day(14, 0).date_naive().to_string() })).await;
        let days: Vec<i64> = calendar["availabilityCalendar"]["days"].as_array().unwrap().iter().map(|d| d["availableQuantity"].as_i64().unwrap()).collect();
        assert_eq!(days, [10, 7, 7, 7, 5, 7]);

        // Cancelling the third frees its units.
        let third = app.data(Some(m), &format!("query($id: ID!) {{ rentalProject(id: $id) {{ {PROJECT_FIELDS} }} }}"), json!({ "id": third["id"] })).await["rentalProject"].clone();
        let cancelled = ok(&app, m, "cancelRentalProject", ", reason: \"Event moved\"", &third).await;
        assert_eq!(cancelled["status"], "CANCELLED");
        assert_eq!(cancelled["items"][0]["status"], "CANCELLED");
        assert_eq!(available(&app, &light, &at(10, 0), &at(15, 0)).await, 7);
    }
}

db_test! {
    async fn preparation_buffers_count_in_overlaps(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, m, "LIGHT", 4, json!({ "rentalBufferBeforeHours": 2, "rentalBufferAfterHours": 6 })).await;
        let p = project(&app, m, &customer, &[(&light, 3, at(10, 8), at(11, 8))]).await;
        ok(&app, m, "startRentalProject", "", &p).await;
        // Returned at 08:00, prepared until 14:00; the next rental is prepared 2 hours before
        // it starts: one from 15:00 still clashes, one from 16:00 does not…
        assert_eq!(available(&app, &light, &at(11, 15), &at(12, 0)).await, 1);
        assert_eq!(available(&app, &light, &at(11, 16), &at(12, 0)).await, 4);
        // …and a rental before it needs its own 6 hours after: ending at midnight fits the
        // 06:00 preparation, ending at 01:00 does not.
        assert_eq!(available(&app, &light, &at(9, 0), &at(10, 0)).await, 4);
        assert_eq!(available(&app, &light, &at(9, 0), &at(10, 1)).await, 1);

        // Whichever is approved first, two rentals whose preparations meet cannot both hold
        // the last unit.
        let single = equipment(&app, m, "SINGLE", 1, json!({ "rentalBufferAfterHours": 6 })).await;
        let early = project(&app, m, &customer, &[(&single, 1, at(20, 0), at(20, 10))]).await;
        let late = project(&app, m, &customer, &[(&single, 1, at(20, 12), at(20, 20))]).await;
        ok(&app, m, "startRentalProject", "", &late).await;
        let refused = op(&app, m, "startRentalProject", "", &early).await;
        assert_eq!(code(&refused), "INSUFFICIENT_AVAILABILITY", "{refused}");

        // Buffers are for rental products only, and bounded.
        let bad = app.gql(Some(m), "mutation { createProduct(input: { reference: \"PEN\", name: \"Pen\", kind: STANDARD, unitPrice: \"1\", vatRate: \"20\", rentalBufferAfterHours: 3 }) { id } }", json!({})).await;
        assert_eq!(code(&bad), "VALIDATION");
        assert_eq!(bad["errors"][0]["extensions"]["field"], "rentalBufferAfterHours");
    }
}

db_test! {
    async fn availability_questions_are_checked(app) {
        let manager = app.user(Role::Manager).await;
        let light = equipment(&app, &manager.access, "LIGHT", 4, json!({})).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let hidden = equipment(&app, &manager.access, "HIDDEN", 4, json!({ "visible": false })).await;
        let query = "query($p: [ID!]!, $from: DateTime!, $to: DateTime!) { rentalAvailability(productIds: $p, from: $from, to: $to) { availableQuantity } }";
        let backwards = app.gql(None, query, json!({ "p": [light], "from": at(5, 0), "to": at(4, 0) })).await;
        assert_eq!(code(&backwards), "VALIDATION");
        assert_eq!(backwards["errors"][0]["extensions"]["field"], "to");
        let too_long = app.gql(None, query, json!({ "p": [light], "from": at(5, 0), "to": at(500, 0) })).await;
        assert_eq!(code(&too_long), "VALIDATION");
        let not_rental = app.gql(None, query, json!({ "p": [light, pen], "from": at(5, 0), "to": at(6, 0) })).await;
        assert_eq!(code(&not_rental), "NOT_FOUND");
        assert_eq!(not_rental["errors"][0]["extensions"]["field"], "productIds.1");
        // The public does not see hidden equipment; staff do.
        let public = app.gql(None, query, json!({ "p": [hidden], "from": at(5, 0), "to": at(6, 0) })).await;
        assert_eq!(code(&public), "NOT_FOUND");
        let staff = app.data(Some(&manager.access), query, json!({ "p": [hidden], "from": at(5, 0), "to": at(6, 0) })).await;
        assert_eq!(staff["rentalAvailability"][0]["availableQuantity"], 4);
        let none = app.gql(None, query, json!({ "p": [], "from": at(5, 0), "to": at(6, 0) })).await;
        assert_eq!(none["errors"][0]["extensions"]["field"], "productIds");
        // Dates at the ends of the calendar are refused, never overflowed.
        let ancient = app.gql(None, query, json!({ "p": [light], "from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z" })).await;
        assert_eq!(ancient["errors"][0]["extensions"]["field"], "from", "{ancient}");
        let calendar = "query($p: ID!, $from: NaiveDate!, $to: NaiveDate!) { availabilityCalendar(productId: $p, from: $from, to: $to) { days { date } } }";
        let far = app.gql(None, calendar, json!({ "p": light, "from": "9999-12-30", "to": "9999-12-31" })).await;
        assert_eq!(code(&far), "VALIDATION", "{far}");
        // A forged cursor (a name where a date belongs) is refused, not sent to the database.
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            format!("{{\"sort\":\"rental:CreatedAt:false\",\"value\":{{\"Text\":\"x\"}},\"id\":\"{}\"}}", uuid::Uuid::nil()));
        let desk = app.gql(Some(&manager.access), "query($a: String) { rentalProjects(after: $a) { totalCount } }", json!({ "a": forged })).await;
        assert_eq!(desk["errors"][0]["extensions"]["field"], "after", "{desk}");
    }
}

/// An anonymous cart with `quantity` of `product` for day 10 08:00 to day 12 18:00 (3 days).
async fn visitor_cart(app: &TestApp, product: &str, quantity: i32) -> (String, String) {
    let created = app
        .data(
            None,
            "mutation { cartCreate { cartToken cart { id } } }",
            json!({}),
        )
        .await;
    let token = created["cartCreate"]["cartToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart = created["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        None,
        "mutation($t: String, $input: CartLineInput!) { cartAddLine(cartToken: $t, input: $input) { id } }",
        json!({ "t": token, "input": { "productId": product, "quantity": quantity, "rentalPeriod": { "start": at(10, 8), "end": at(12, 18) } } }),
    )
    .await;
    (cart, token)
}

fn place_query() -> String {
    format!(
        "mutation($input: PlaceRentalOrderInput!) {{ placeRentalOrder(input: $input) {{ accountCreated project {{ {PROJECT_FIELDS} }} }} }}"
    )
}

fn visitor(cart: &str, token: &str, email: &str, phone: &str) -> Value {
    json!({ "input": { "cartId": cart, "cartToken": token, "note": "Back door, please",
        "contact": { "name": "Jeanne Martin", "email": email, "phone": phone, "company": "Société Générale" } } })
}

/// Once sent, a generated password no longer rests in the outbox.
async fn assert_secret_wiped(app: &TestApp, password: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let db = app.state.db.read();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT body FROM outbox_message WHERE template = 'rental_account_created'",
        ))
        .await
        .unwrap();
    let body: String = rows[0].try_get("", "body").unwrap();
    assert!(!body.contains(password), "{body}");
}

both_backends!(a_visitor_checks_out_and_gets_a_customer_an_account_and_their_password);
async fn a_visitor_checks_out_and_gets_a_customer_an_account_and_their_password(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = crate::notifications::app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let admin = app.user(Role::Admin).await;
    app.data(Some(&admin.access), "mutation { updateStoreSettings(version: 0, input: { rentalEmail: \"rental-desk@seller.test\" }) { version rentalEmail } }", json!({})).await;
    let light = equipment(&app, &admin.access, "LIGHT", 2, json!({})).await;
    let (cart, token) = visitor_cart(&app, &light, 3).await;

    let body = app
        .gql(
            None,
            &place_query(),
            visitor(&cart, &token, "Jeanne@Example.test", "+33 6 12 34 56 78"),
        )
        .await;
    let placed = &body["data"]["placeRentalOrder"];
    assert_eq!(placed["accountCreated"], true, "{body}");
    let p = &placed["project"];
    assert_eq!(p["status"], "NEW");
    assert_eq!(p["source"], "STOREFRONT");
    assert!(p["number"].as_str().unwrap().starts_with("RP-"), "{p}");
    assert_eq!(p["customerNote"], "Back door, please");
    assert_eq!(
        p["contact"],
        json!({ "name": "Jeanne Martin", "email": "jeanne@example.test", "phone": "+33612345678", "company": "Société Générale" })
    );
    // 3 days × 45 = 135 a unit; 3 units = 405, + 20 % VAT.
    let item = &p["items"][0];
    assert_eq!(item["status"], "DRAFT");
    assert_eq!(item["rentalPeriod"]["days"], 3);
    assert_eq!(item["unitPrice"]["amount"], "135.00");
    assert_eq!(item["lineTotal"]["amount"], "405.00");
    assert_eq!(p["total"]["amount"], "486.00");
    // Drafts never fail for lack of units, but they show it.
    assert_eq!(item["availableQuantity"], 2);
    assert_eq!(item["shortQuantity"], 1);
    assert_eq!(p["isShort"], true);
    // The cart's rental lines are gone.
    let left = app
        .data(
            None,
            "query($t: String!) { cart(token: $t) { lines { id } } }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(left["cart"]["lines"], json!([]));

    // Three emails: the credentials, the confirmation, the rental desk's announcement.
    let mails = sink.wait_for(3).await;
    let credentials = mails
        .iter()
        .find(|m| m.contains("Subject: Your account at"))
        .expect("credentials sent");
    assert!(
        credentials.contains("To: jeanne@example.test"),
        "{credentials}"
    );
    let flat = credentials.replace("=\r\n", "");
    let password: String = flat
        .split("Password: ")
        .nth(1)
        .expect("a password in the email")
        .chars()
        .take(16)
        .collect();
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: rental-desk@seller.test")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("We received your rental order")),
        "{mails:?}"
    );

    assert_secret_wiped(&app, &password).await;
    // The password works, and the customer sees the project as theirs.
    let session = app.login("jeanne@example.test", &password).await;
    let mine = app
        .data(
            Some(&session.access),
            "{ myRentalProjects { totalCount edges { node { number customer { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myRentalProjects"]["totalCount"], 1);
    assert_eq!(
        mine["myRentalProjects"]["edges"][0]["node"]["number"],
        p["number"]
    );
    assert_eq!(
        mine["myRentalProjects"]["edges"][0]["node"]["customer"]["name"],
        "Société Générale"
    );

    // The desk finds the storefront's counterparties with their projects.
    let customers = app.data(Some(&admin.access), "{ customers(filter: { source: STOREFRONT }) { totalCount edges { node { name contacts { email phone } rentalProjects { totalCount edges { node { number } } } } } } }", json!({})).await;
    assert_eq!(customers["customers"]["totalCount"], 1);
    let node = &customers["customers"]["edges"][0]["node"];
    assert_eq!(node["contacts"][0]["phone"], "+33612345678");
    assert_eq!(
        node["rentalProjects"]["edges"][0]["node"]["number"],
        p["number"]
    );
}

both_backends!(an_email_that_has_an_account_gets_the_project_and_no_password);
async fn an_email_that_has_an_account_gets_the_project_and_no_password(backend: Backend) {
    let sink = MailSink::start();
    let Some(app) = crate::notifications::app_with_smtp(backend, &sink.url).await else {
        return;
    };
    let manager = app.user(Role::Manager).await;
    let light = equipment(&app, &manager.access, "LIGHT", 5, json!({})).await;
    let client = app.user(Role::AccountClient).await;
    let (cart, token) = visitor_cart(&app, &light, 1).await;
    let body = app
        .data(
            None,
            &place_query(),
            visitor(&cart, &token, &client.email, "+33612345678"),
        )
        .await;
    assert_eq!(body["placeRentalOrder"]["accountCreated"], false);
    let mine = app
        .data(
            Some(&client.access),
            "{ myRentalProjects { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myRentalProjects"]["totalCount"], 1);
    let mails = sink.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        sink.messages().iter().all(|m| !m.contains("Password:")),
        "{mails:?}"
    );
    let customers = app
        .data(
            Some(&manager.access),
            "{ customers(filter: { source: STOREFRONT }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        customers["customers"]["totalCount"], 0,
        "no second customer"
    );

    // A logged-in customer orders as themselves.
    let created = app
        .data(
            Some(&client.access),
            "mutation { cartCreate { cart { id } } }",
            json!({}),
        )
        .await;
    let cart = created["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(Some(&client.access), "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }",
        json!({ "input": { "productId": light, "quantity": 2, "rentalPeriod": { "start": at(20, 8), "end": at(21, 8) } } })).await;
    let own = app
        .data(
            Some(&client.access),
            &place_query(),
            json!({ "input": { "cartId": cart, "idempotencyKey": "k-1" } }),
        )
        .await;
    assert_eq!(
        own["placeRentalOrder"]["project"]["items"][0]["quantity"],
        2
    );
    let again = app
        .data(
            Some(&client.access),
            &place_query(),
            json!({ "input": { "cartId": cart, "idempotencyKey": "k-1" } }),
        )
        .await;
    assert_eq!(
        again["placeRentalOrder"]["project"]["id"], own["placeRentalOrder"]["project"]["id"],
        "a retry returns the first project"
    );
    // Staff book on the desk, not on the storefront.
    let staff = app
        .gql(
            Some(&manager.access),
            &place_query(),
            json!({ "input": { "cartId": cart } }),
        )
        .await;
    assert_eq!(code(&staff), "FORBIDDEN");
}

db_test! {
    async fn a_visitors_key_or_email_never_reaches_someone_elses_booking_or_account(app) {
        let manager = app.user(Role::Manager).await;
        let light = equipment(&app, &manager.access, "LIGHT", 5, json!({})).await;
        // A visitor's key counts for their cart only: another visitor typing the same email and
        // key gets a project of their own, never the first one.
        let (cart_a, token_a) = visitor_cart(&app, &light, 1).await;
        let (cart_b, token_b) = visitor_cart(&app, &light, 1).await;
        let mut first = visitor(&cart_a, &token_a, "visitor@example.test", "+33612345678");
        first["input"]["idempotencyKey"] = json!("same-key");
        let mut second = visitor(&cart_b, &token_b, "visitor@example.test", "+33612345678");
        second["input"]["idempotencyKey"] = json!("same-key");
        let a = app.data(None, &place_query(), first).await;
        let b = app.data(None, &place_query(), second).await;
        assert_ne!(
            a["placeRentalOrder"]["project"]["id"],
            b["placeRentalOrder"]["project"]["id"]
        );
        // An account without a customer is not handed one by a visitor typing its email.
        let loner = app.user(Role::Identified).await;
        let (cart_c, token_c) = visitor_cart(&app, &light, 1).await;
        app.data(
            None,
            &place_query(),
            visitor(&cart_c, &token_c, &loner.email, "+33612345678"),
        )
        .await;
        let mine = app
            .data(Some(&loner.access), "{ myCustomer { id } }", json!({}))
            .await;
        assert_eq!(
            mine["myCustomer"],
            Value::Null,
            "the account stays free to choose its customer"
        );
    }
}

db_test! {
    async fn a_blocked_customer_is_refused_and_nothing_is_stored(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let light = equipment(&app, m, "LIGHT", 5, json!({})).await;
        let blocked = app.customer("Mauvais Payeur").await;
        let blocked_gid = comptoir_api::kernel::ids::encode(comptoir_api::kernel::ids::Kind::Customer, blocked);
        app.data(Some(m), "mutation($c: ID!) { addCustomerContact(customerId: $c, input: { name: \"Boris\", email: \"boris@bad.test\", phone: \"+79161234567\" }) { id } }", json!({ "c": blocked_gid })).await;
        app.data(Some(m), "mutation($id: ID!) { blockCustomer(id: $id, reason: \"Unpaid invoices\") { blocked } }", json!({ "id": blocked_gid })).await;

        let (cart, token) = visitor_cart(&app, &light, 1).await;
        // By email, and by phone with another email.
        for (email, phone) in [("BORIS@bad.test", "+33612345678"), ("other@new.test", "+7 916 123-45-67")] {
            let body = app.gql(None, &place_query(), visitor(&cart, &token, email, phone)).await;
            assert_eq!(code(&body), "CUSTOMER_BLOCKED", "{body}");
        }
        // Nothing stored: no project, no customer, no account; the cart is intact.
        let projects = app.data(Some(m), "{ rentalProjects { totalCount } }", json!({})).await;
        assert_eq!(projects["rentalProjects"]["totalCount"], 0);
        let customers = app.data(Some(m), "{ customers(filter: { source: STOREFRONT }) { totalCount } }", json!({})).await;
        assert_eq!(customers["customers"]["totalCount"], 0);
        let login = app.gql(None, "mutation { login(input: { email: \"other@new.test\", password: \"whatever it is\" }) { accessToken } }", json!({})).await;
        assert_eq!(code(&login), "INVALID_CREDENTIALS");
        let left = app.data(None, "query($t: String!) { cart(token: $t) { lines { id } } }", json!({ "t": token })).await;
        assert_eq!(left["cart"]["lines"].as_array().unwrap().len(), 1);
        // Managers cannot book for it either; its existing projects stay for them.
        let refused = app.gql(Some(m), "mutation($input: CreateRentalProjectInput!) { createRentalProject(input: $input) { id } }",
            json!({ "input": { "customerId": blocked_gid, "items": [{ "productId": light, "quantity": 1, "start": at(3, 0), "end": at(4, 0) }] } })).await;
        assert_eq!(code(&refused), "CUSTOMER_BLOCKED");
        // Bad input names the field.
        let bad_phone = app.gql(None, &place_query(), visitor(&cart, &token, "new@new.test", "0612")).await;
        assert_eq!(bad_phone["errors"][0]["extensions"]["field"], "contact.phone");
        let no_contact = app.gql(None, &place_query(), json!({ "input": { "cartId": cart, "cartToken": token } })).await;
        assert_eq!(no_contact["errors"][0]["extensions"]["field"], "contact");
    }
}

db_test! {
    async fn taking_a_project_into_work_never_overbooks_and_names_what_clashes(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let alice = app.user(Role::AccountClient).await;
        let bob = app.user(Role::AccountClient).await;
        let (a, b) = (customer_gid(&app, &alice).await, customer_gid(&app, &bob).await);
        let light = equipment(&app, m, "LIGHT", 4, json!({})).await;
        let mixer = equipment(&app, m, "MIXER", 1, json!({})).await;

        let held = project(&app, m, &a, &[(&light, 3, at(10, 0), at(12, 0))]).await;
        let held = ok(&app, m, "startRentalProject", "", &held).await;
        assert_eq!(held["status"], "IN_WORK");
        assert_eq!(held["items"][0]["status"], "RESERVED");
        // Bob's draft wants 2 lights and the mixer: it was fine when placed? No: 3 of 4 are out.
        let wanted = project(&app, m, &b, &[(&light, 2, at(11, 0), at(13, 0)), (&mixer, 1, at(11, 0), at(13, 0))]).await;
        assert_eq!(wanted["isShort"], true);
        let refused = op(&app, m, "startRentalProject", "", &wanted).await;
        assert_eq!(code(&refused), "INSUFFICIENT_AVAILABILITY", "{refused}");
        let shortages = refused["errors"][0]["extensions"]["shortages"].as_array().unwrap().clone();
        assert_eq!(shortages.len(), 1, "{shortages:?}");
        assert_eq!(shortages[0]["field"], "items.0");
        assert_eq!(shortages[0]["requested"], 2);
        assert_eq!(shortages[0]["available"], 1);
        assert_eq!(shortages[0]["short"], 1);
        assert_eq!(shortages[0]["clashes"], json!([held["number"]]));
        // Nothing changed.
        let unchanged = app.data(Some(m), &format!("query($id: ID!) {{ rentalProject(id: $id) {{ {PROJECT_FIELDS} }} }}"), json!({ "id": wanted["id"] })).await["rentalProject"].clone();
        assert_eq!(unchanged["status"], "NEW");
        assert_eq!(unchanged["version"], wanted["version"]);
        assert_eq!(available(&app, &mixer, &at(11, 0), &at(13, 0)).await, 1);

        // Sub-renting: the manager accepts the shortage; it is recorded and listed.
        let started = ok(&app, m, "startRentalProject", ", allowShortage: true", &wanted).await;
        assert_eq!(started["status"], "IN_WORK");
        assert_eq!(started["isShort"], true);
        let accepted = app.data(Some(m), "query($id: ID!) { rentalProject(id: $id) { acceptedShortages { field short clashes } timeline { kind } } }", json!({ "id": wanted["id"] })).await;
        assert_eq!(accepted["rentalProject"]["acceptedShortages"][0]["short"], 1);
        let kinds: Vec<&str> = accepted["rentalProject"]["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"SHORTAGE_ACCEPTED"), "{kinds:?}");
        let short = app.data(Some(m), "{ rentalProjects(filter: { short: true }) { totalCount edges { node { number } } } }", json!({})).await;
        assert_eq!(short["rentalProjects"]["totalCount"], 1);
        // Bob sees neither the accepted shortage nor the clash with Alice's project.
        let bobs = app.data(Some(&bob.access), "query($id: ID!) { rentalProject(id: $id) { acceptedShortages { short } timeline { kind } } }", json!({ "id": wanted["id"] })).await;
        assert_eq!(bobs["rentalProject"]["acceptedShortages"], json!([]));
        assert!(!bobs["rentalProject"]["timeline"].to_string().contains("SHORTAGE_ACCEPTED"));
        // A stale version is refused.
        let stale = op(&app, m, "issueRentalProject", "", &wanted).await;
        assert_eq!(code(&stale), "CONFLICT");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], started["version"]);
    }
}

db_test! {
    async fn parallel_approvals_for_the_last_units_never_overbook(app) {
        let manager = app.user(Role::Manager).await;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, &manager.access, "LIGHT", 3, json!({})).await;
        // Eight drafts of one unit each over overlapping dates; three units exist.
        let mut drafts = Vec::new();
        for i in 0..8 {
            drafts.push(project(&app, &manager.access, &customer, &[(&light, 1, at(10, i), at(12, i))]).await);
        }
        let tasks: Vec<_> = drafts
            .into_iter()
            .map(|draft| {
                let app_url = app.url.clone();
                let token = manager.access.clone();
                tokio::spawn(async move {
                    let query = "mutation($id: ID!, $v: Int!) { startRentalProject(id: $id, version: $v) { status } }";
                    let body: Value = reqwest::Client::new()
                        .post(app_url)
                        .bearer_auth(token)
                        .json(&json!({ "query": query, "variables": { "id": draft["id"], "v": draft["version"] } }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    body
                })
            })
            .collect();
        let mut started = 0;
        for task in tasks {
            let body = task.await.unwrap();
            if body.get("errors").is_none() {
                started += 1;
            } else {
                assert_eq!(code(&body), "INSUFFICIENT_AVAILABILITY", "{body}");
            }
        }
        assert_eq!(started, 3);
        assert_eq!(available(&app, &light, &at(11, 0), &at(11, 6)).await, 0);
        let in_work = app.data(Some(&manager.access), "{ rentalProjects(filter: { statuses: [IN_WORK] }) { totalCount } }", json!({})).await;
        assert_eq!(in_work["rentalProjects"]["totalCount"], 3);
    }
}

db_test! {
    async fn drafts_left_short_by_a_reservation_are_flagged_and_their_customers_told(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let alice = app.user(Role::AccountClient).await;
        let bob = app.user(Role::AccountClient).await;
        let (a, b) = (customer_gid(&app, &alice).await, customer_gid(&app, &bob).await);
        app.data(Some(m), "mutation($c: ID!) { addCustomerContact(customerId: $c, input: { name: \"Bob\", email: \"bob@client.test\" }) { id } }", json!({ "c": b })).await;
        let light = equipment(&app, m, "LIGHT", 4, json!({})).await;
        let alices = project(&app, m, &a, &[(&light, 3, at(10, 0), at(12, 0))]).await;
        let bobs = project(&app, m, &b, &[(&light, 2, at(11, 0), at(13, 0))]).await;
        let later = project(&app, m, &b, &[(&light, 2, at(20, 0), at(21, 0))]).await;
        assert_eq!(bobs["isShort"], false);

        let alices = ok(&app, m, "startRentalProject", "", &alices).await;
        let short = app.data(Some(m), "{ rentalProjects(filter: { short: true, statuses: [NEW] }) { edges { node { id isShort items { availableQuantity shortQuantity } } } } }", json!({})).await;
        let edges = short["rentalProjects"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 1, "only the draft over the same dates: {short}");
        assert_eq!(edges[0]["node"]["id"], bobs["id"]);
        assert_eq!(edges[0]["node"]["items"][0]["shortQuantity"], 1);
        assert_ne!(later["id"], bobs["id"]);
        // Bob is emailed, and sees it in the project's timeline.
        let admin = app.user(Role::Admin).await;
        let outbox = app.data(Some(&admin.access), "{ outboxMessages(first: 20) { edges { node { recipient template } } } }", json!({})).await;
        assert!(outbox.to_string().contains("rental_shortage"), "{outbox}");
        let timeline = app.data(Some(&bob.access), "query($id: ID!) { rentalProject(id: $id) { timeline { kind } } }", json!({ "id": bobs["id"] })).await;
        assert!(timeline.to_string().contains("\"SHORTAGE\""), "{timeline}");

        // Alice cancels: the units are free again and Bob's draft is no longer short.
        ok(&app, m, "cancelRentalProject", ", reason: \"Postponed\"", &alices).await;
        let bobs = app.data(Some(m), "query($id: ID!) { rentalProject(id: $id) { isShort items { shortQuantity } } }", json!({ "id": bobs["id"] })).await;
        assert_eq!(bobs["rentalProject"]["isShort"], false);
        assert_eq!(bobs["rentalProject"]["items"][0]["shortQuantity"], 0);
    }
}

db_test! {
    async fn the_customer_sees_every_manager_edit_live_with_old_and_new_values(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, m, "LIGHT", 10, json!({})).await;
        let mixer = equipment(&app, m, "MIXER", 2, json!({})).await;
        let p = project(&app, m, &customer, &[(&light, 4, at(10, 8), at(12, 8))]).await;

        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&client.access)).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($id: ID!) { rentalProjectEvents(projectId: $id) { kind status changes cursor } }", "variables": { "id": p["id"] } } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");

        let item = p["items"][0]["id"].as_str().unwrap().to_owned();
        let update = format!("mutation($i: ID!, $v: Int!, $input: UpdateRentalItemInput!) {{ rentalProjectUpdateItem(itemId: $i, version: $v, input: $input) {{ {PROJECT_FIELDS} }} }}");
        let edited = app.data(Some(m), &update, json!({ "i": item, "v": p["version"], "input": { "quantity": 6, "end": at(13, 8) } })).await["rentalProjectUpdateItem"].clone();
        // Re-priced for 3 days: 135 a unit.
        assert_eq!(edited["items"][0]["unitPrice"]["amount"], "135.00");
        let event = ws.next().await;
        let payload = &event["payload"]["data"]["rentalProjectEvents"];
        assert_eq!(payload["kind"], "RENTAL_PROJECT_EDITED", "{event}");
        assert_eq!(payload["changes"][format!("quantity@{item}")], json!({ "old": "4", "new": "6" }));

        let add = format!("mutation($id: ID!, $v: Int!, $input: RentalItemInput!) {{ rentalProjectAddItem(id: $id, version: $v, input: $input) {{ {PROJECT_FIELDS} }} }}");
        let edited = app.data(Some(m), &add, json!({ "id": p["id"], "v": edited["version"], "input": { "productId": mixer, "quantity": 1, "start": at(10, 8), "end": at(11, 8), "unitPrice": "99.90" } })).await["rentalProjectAddItem"].clone();
        let edited = ok(&app, m, "updateRentalProject", ", input: { note: \"We add a mixer at a friendly price.\" }", &edited).await;
        ws.next().await;
        ws.next().await;

        let seen = app.data(Some(&client.access), &format!("query($id: ID!) {{ rentalProject(id: $id) {{ {PROJECT_FIELDS} }} }}"), json!({ "id": p["id"] })).await["rentalProject"].clone();
        assert_eq!(seen["managerNote"], "We add a mixer at a friendly price.");
        assert_eq!(seen["items"][1]["lineTotal"]["amount"], "99.90");
        let changes = seen["changes"].as_array().unwrap();
        let quantity = changes.iter().find(|c| c["field"] == "quantity").unwrap();
        assert_eq!((&quantity["oldValue"], &quantity["newValue"], &quantity["side"]), (&json!("4"), &json!("6"), &json!("SELLER")));
        assert!(changes.iter().any(|c| c["field"] == "period"), "{changes:?}");
        assert!(changes.iter().any(|c| c["field"] == "added" && c["newValue"] == "1 × MIXER"), "{changes:?}");
        assert!(changes.iter().any(|c| c["field"] == "note"), "{changes:?}");
        // 6 × 135 + 99.90 = 909.90, + 20 % VAT.
        assert_eq!(seen["subtotal"]["amount"], "909.90");
        assert_eq!(seen["total"]["amount"], "1091.88");

        // Into work: the customer hears it, and gets an email.
        let started = ok(&app, m, "startRentalProject", "", &edited).await;
        let event = ws.next().await;
        assert_eq!(event["payload"]["data"]["rentalProjectEvents"]["status"], "IN_WORK", "{event}");
        assert_eq!(started["items"][1]["status"], "RESERVED");

        // Bad input gets a field.
        let zero = app.gql(Some(m), &update, json!({ "i": item, "v": started["version"], "input": { "quantity": 0 } })).await;
        assert_eq!(zero["errors"][0]["extensions"]["field"], "input.quantity");
        let last = app.gql(Some(m), "mutation($i: ID!, $v: Int!) { rentalProjectRemoveItem(itemId: $i, version: $v) { id } }", json!({ "i": item, "v": started["version"] })).await;
        assert!(last.get("errors").is_none(), "{last}");
        let version = app.data(Some(m), "query($id: ID!) { rentalProject(id: $id) { version items { id } } }", json!({ "id": p["id"] })).await;
        let only = version["rentalProject"]["items"][0]["id"].clone();
        let refused = app.gql(Some(m), "mutation($i: ID!, $v: Int!) { rentalProjectRemoveItem(itemId: $i, version: $v) { id } }", json!({ "i": only, "v": version["rentalProject"]["version"] })).await;
        assert_eq!(code(&refused), "VALIDATION");
    }
}

db_test! {
    async fn customers_cancel_while_they_may_and_repeat_for_new_dates(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let client = app.user(Role::AccountClient).await;
        let c = &client.access;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, m, "LIGHT", 10, json!({})).await;

        let draft = project(&app, m, &customer, &[(&light, 2, at(5, 0), at(6, 0))]).await;
        let cancelled = ok(&app, c, "cancelMyRentalProject", "", &draft).await;
        assert_eq!(cancelled["status"], "CANCELLED");
        assert_eq!(cancelled["cancelReason"], "cancelled by the customer");

        let soon = project(&app, m, &customer, &[(&light, 3, at(2, 0), at(4, 0))]).await;
        let soon = ok(&app, m, "startRentalProject", "", &soon).await;
        // In work and not started yet: still possible…
        let later = project(&app, m, &customer, &[(&light, 1, at(3, 0), at(4, 0))]).await;
        let later = ok(&app, m, "startRentalProject", "", &later).await;
        ok(&app, c, "cancelMyRentalProject", ", reason: \"Changed plans\"", &later).await;
        // …once its period started, no longer.
        app.state.clock.advance(Duration::days(2) + Duration::hours(1));
        let refused = op(&app, c, "cancelMyRentalProject", "", &soon).await;
        assert_eq!(code(&refused), "INVALID_TRANSITION", "{refused}");
        // Customers do not run the desk.
        let desk = op(&app, c, "startRentalProject", "", &soon).await;
        assert_eq!(code(&desk), "FORBIDDEN");

        // Repeat: the same equipment for new dates, a new draft linked to the first.
        let repeat = format!("mutation($id: ID!, $from: DateTime!, $to: DateTime!) {{ repeatRentalProject(id: $id, from: $from, to: $to) {{ {PROJECT_FIELDS} }} }}");
        let again = app.data(Some(c), &repeat, json!({ "id": soon["id"], "from": at(30, 8), "to": at(31, 8) })).await["repeatRentalProject"].clone();
        assert_eq!(again["status"], "NEW");
        assert_eq!(again["repeatedFromId"], soon["id"]);
        assert_eq!(again["items"][0]["quantity"], 3);
        assert_eq!(again["items"][0]["rentalPeriod"]["days"], 1);
        assert_eq!(again["items"][0]["unitPrice"]["amount"], "45.00");
        let past = app.gql(Some(c), &repeat, json!({ "id": soon["id"], "from": at(-5, 0), "to": at(-4, 0) })).await;
        assert_eq!(code(&past), "VALIDATION");
    }
}

db_test! {
    async fn the_lifecycle_flags_late_equipment_which_keeps_counting_until_returned(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let light = equipment(&app, m, "LIGHT", 5, json!({})).await;
        let p = project(&app, m, &customer, &[(&light, 4, at(1, 0), at(2, 0))]).await;
        let p = ok(&app, m, "startRentalProject", "", &p).await;
        let wrong = op(&app, m, "returnRentalProject", "", &p).await;
        assert_eq!(code(&wrong), "INVALID_TRANSITION");
        let p = ok(&app, m, "issueRentalProject", "", &p).await;
        assert_eq!(p["items"][0]["status"], "ISSUED");
        assert_eq!(p["isLate"], false);

        // Three days later it is not back: late, and still holding its units next week.
        app.state.clock.advance(Duration::days(3));
        let late = app.data(Some(m), "{ rentalProjects(filter: { late: true }) { totalCount edges { node { number isLate } } } }", json!({})).await;
        assert_eq!(late["rentalProjects"]["totalCount"], 1);
        assert_eq!(late["rentalProjects"]["edges"][0]["node"]["isLate"], true);
        assert_eq!(available(&app, &light, &at(10, 0), &at(11, 0)).await, 1);

        let p = ok(&app, m, "returnRentalProject", "", &p).await;
        assert_eq!(p["status"], "RETURNED");
        assert_eq!(available(&app, &light, &at(10, 0), &at(11, 0)).await, 5);
        let p = ok(&app, m, "completeRentalProject", "", &p).await;
        assert_eq!(p["status"], "COMPLETED");
        let cancel = op(&app, m, "cancelRentalProject", ", reason: \"x\"", &p).await;
        assert_eq!(code(&cancel), "INVALID_TRANSITION");
    }
}

db_test! {
    async fn a_customer_never_reaches_another_customers_project(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let alice = app.user(Role::AccountClient).await;
        let bob = app.user(Role::AccountClient).await;
        let light = equipment(&app, m, "LIGHT", 5, json!({})).await;
        let alices = project(&app, m, &customer_gid(&app, &alice).await, &[(&light, 1, at(3, 0), at(4, 0))]).await;
        let b = &bob.access;

        let read = app.gql(Some(b), "query($id: ID!) { rentalProject(id: $id) { id } }", json!({ "id": alices["id"] })).await;
        assert_eq!(code(&read), "NOT_FOUND");
        let cancel = op(&app, b, "cancelMyRentalProject", "", &alices).await;
        assert_eq!(code(&cancel), "NOT_FOUND");
        let repeat = app.gql(Some(b), "mutation($id: ID!, $from: DateTime!, $to: DateTime!) { repeatRentalProject(id: $id, from: $from, to: $to) { id } }",
            json!({ "id": alices["id"], "from": at(10, 0), "to": at(11, 0) })).await;
        assert_eq!(code(&repeat), "NOT_FOUND");
        let mine = app.data(Some(b), "{ myRentalProjects { totalCount } }", json!({})).await;
        assert_eq!(mine["myRentalProjects"]["totalCount"], 0);
        let desk = app.gql(Some(b), "{ rentalProjects { totalCount } }", json!({})).await;
        assert_eq!(code(&desk), "FORBIDDEN");
        let public = app.gql(None, "{ myRentalProjects { totalCount } }", json!({})).await;
        assert_eq!(code(&public), "UNAUTHENTICATED");

        // Subscriptions: refused for Alice's project; Bob's "all mine" hears nothing of it.
        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(b)).await;
        ws.send(json!({ "id": "x", "type": "subscribe", "payload": { "query": "subscription($id: ID!) { rentalProjectEvents(projectId: $id) { kind } }", "variables": { "id": alices["id"] } } })).await;
        let refused = ws.next().await;
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
        assert_eq!(ws.next().await["type"], "complete");
        ws.send(json!({ "id": "all", "type": "subscribe", "payload": { "query": "subscription { rentalProjectEvents { kind } }" } })).await;
        let mut hers = Ws::connect(&app, "graphql-transport-ws").await;
        hers.init(Some(&alice.access)).await;
        hers.send(json!({ "id": "all", "type": "subscribe", "payload": { "query": "subscription { rentalProjectEvents { kind } }" } })).await;
        for socket in [&mut ws, &mut hers] {
            socket.send(json!({ "type": "ping" })).await;
            assert_eq!(socket.next().await["type"], "pong");
        }
        ok(&app, m, "startRentalProject", "", &alices).await;
        let heard = hers.next().await;
        assert_eq!(heard["payload"]["data"]["rentalProjectEvents"]["kind"], "RENTAL_PROJECT_STARTED", "{heard}");
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong", "Bob heard nothing before his pong");
        // The public hears nothing at all.
        let mut anonymous = Ws::connect(&app, "graphql-transport-ws").await;
        anonymous.init(None).await;
        anonymous.send(json!({ "id": "p", "type": "subscribe", "payload": { "query": "subscription { rentalProjectEvents { kind } }" } })).await;
        let denied = anonymous.next().await;
        assert_eq!(denied["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{denied}");
    }
}

db_test! {
    async fn the_rental_confirmation_prints_the_project_for_its_customer_only(app) {
        let manager = app.user(Role::Manager).await;
        let m = &manager.access;
        let customer = app.customer("Арендная компания").await;
        let alice = app.user_of(Role::AccountClient, Some(customer)).await;
        let bob = app.user(Role::AccountClient).await;
        let light = equipment(&app, m, "PROJ", 10, json!({ "name": "Прожектор «Сцена» éclairage" })).await;
        let p = project(&app, m, &customer_gid(&app, &alice).await, &[(&light, 2, at(5, 8), at(7, 8))]).await;
        let p = ok(&app, m, "startRentalProject", "", &p).await;

        let url = app.data(Some(&alice.access), "query($id: ID!) { rentalProject(id: $id) { pdfUrl } }", json!({ "id": p["id"] })).await["rentalProject"]["pdfUrl"]
            .as_str().unwrap().to_owned();
        let base = app.url.trim_end_matches("/graphql");
        let response = app.client.get(format!("{base}{url}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = crate::documents::text(&response.bytes().await.unwrap());
        // 2 units × 2 days × 45 = 180, + 20 % VAT.
        for expected in [p["number"].as_str().unwrap(), "Арендная компания", "Прожектор «Сцена» éclairage", "180.00", "216.00", "Rental confirmation"] {
            assert!(text.contains(expected), "lacks {expected:?}:\n{text}");
        }
        // Another customer gets nothing, with a token or without.
        let path = format!("{base}/documents/rental-confirmation/{}.pdf", p["id"].as_str().unwrap());
        let foreign = app.client.get(&path).bearer_auth(&bob.access).send().await.unwrap();
        assert_eq!(foreign.status(), 404);
        let anonymous = app.client.get(&path).send().await.unwrap();
        assert_ne!(anonymous.status(), 200);
        let bobs_url = app.gql(Some(&bob.access), "query($id: ID!) { rentalProject(id: $id) { pdfUrl } }", json!({ "id": p["id"] })).await;
        assert_eq!(code(&bobs_url), "NOT_FOUND");
    }
}

db_test! {
    async fn reservations_and_new_bookings_of_the_same_products_run_in_parallel_without_deadlock(app) {
        let manager = app.user(Role::Manager).await;
        let client = app.user(Role::AccountClient).await;
        let customer = customer_gid(&app, &client).await;
        let first = equipment(&app, &manager.access, "FIRST", 100, json!({})).await;
        let second = equipment(&app, &manager.access, "SECOND", 100, json!({})).await;
        // Drafts list the products in the opposite order to the one reservations lock them in.
        // (A smoke check: the deadlock this guards against, foreign-key share locks of new
        // items against the reservation's product locks, depends on timing; the lock mode
        // chosen in `catalog::store::lock_products` is what rules it out.)
        let mut drafts = Vec::new();
        for i in 0..4 {
            drafts.push(project(&app, &manager.access, &customer, &[(&second, 1, at(10, i), at(12, 0)), (&first, 1, at(10, i), at(12, 0))]).await);
        }
        let query = "mutation($id: ID!, $v: Int!) { startRentalProject(id: $id, version: $v) { status } }";
        let create = "mutation($input: CreateRentalProjectInput!) { createRentalProject(input: $input) { id } }".to_owned();
        let mut tasks = Vec::new();
        for (i, draft) in drafts.into_iter().enumerate() {
            for (query, variables) in [
                (query.to_owned(), json!({ "id": draft["id"], "v": draft["version"] })),
                (create.clone(), json!({ "input": { "customerId": customer, "items": [
                    { "productId": second, "quantity": 1, "start": at(11, i64::try_from(i).unwrap()), "end": at(13, 0) },
                    { "productId": first, "quantity": 1, "start": at(11, 0), "end": at(13, 0) }] } })),
            ] {
                let url = app.url.clone();
                let token = manager.access.clone();
                tasks.push(tokio::spawn(async move {
                    reqwest::Client::new().post(url).bearer_auth(token)
                        .json(&json!({ "query": query, "variables": variables }))
                        .send().await.unwrap().json::<Value>().await.unwrap()
                }));
            }
        }
        for task in tasks {
            let body = task.await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
        }
        assert_eq!(available(&app, &first, &at(11, 0), &at(11, 6)).await, 96);
    }
}
