//! The quote desk: managers price quotes (product lines with discounts, comment lines, footer
//! discount, shipping) to the cent, send them with a validity, revise them once sent, negotiate,
//! duplicate them and list them with filters, sorts and pages; every transition, legal or not;
//! expiry and retention by the background job; and what customers see of all this, live.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, Utc};
use comptoir_api::{
    auth::Role,
    kernel::ids::{self, Kind},
    quotes::maintenance::{self, Pass},
};
use serde_json::{Value, json};

use crate::{
    catalog::product,
    helpers::{Session, TestApp, code},
    websocket::Ws,
};

const FIELDS: &str = "id number revision isLatest status negotiation version validUntil sentAt
    transferredToOrder orderId message customerComment internalComment
    contactName contactEmail contactCompany shippingMethod paymentMethod discountPercent
    deliveryAddress { line1 city country }
    lines { id kind position reference name comment quantity unitPrice { amount } discountPercent
            discountAmount { amount } vatRate total { amount } }
    linesTotal { amount } discount { amount } shipping { amount } subtotal { amount }
    vat { rate base { amount } amount { amount } } vatTotal { amount } total { amount }
    revisions { number status }";

const MY_QUOTES: &str = "{ myQuotes(first: 50) { totalCount edges { node { number status } } } }";

const LIST: &str =
    "query($first: Int, $after: String, $filter: QuoteFilterInput, $sort: QuoteSortInput) {
    quotes(first: $first, after: $after, filter: $filter, sort: $sort) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { number } } } }";

const EVENTS: &str = "{ events(first: 100) { nodes { kind objectType status changes } } }";

const OUTBOX: &str = "{ outboxMessages(first: 50) { edges { node { recipient template } } } }";

const ADDRESS: &str =
    r#"{ line1: "1 rue de la Paix", postalCode: "75002", city: "Paris", country: "FR" }"#;

fn read_query() -> String {
    format!("query($id: ID!) {{ quote(id: $id) {{ {FIELDS} }} }}")
}

/// Runs `name(id, version…args)` on `quote` as `token`, with `decls` and `vars` for the extra
/// arguments; returns the whole response.
async fn call_with(
    app: &TestApp,
    token: &str,
    name: &str,
    quote: &Value,
    (decls, args): (&str, &str),
    vars: Value,
) -> Value {
    let selection = if name == "convertQuoteToOrder" {
        format!("quote {{ {FIELDS} }} order {{ id number total {{ amount }} }}")
    } else {
        FIELDS.to_owned()
    };
    let query = format!(
        "mutation($id: ID!, $v: Int!{decls}) {{ {name}(id: $id, version: $v{args}) {{ {selection} }} }}"
    );
    let mut variables = vars;
    variables["id"] = quote["id"].clone();
    variables["v"] = quote["version"].clone();
    app.gql(Some(token), &query, variables).await
}

/// Runs `name(id, version…args)` on `quote` as `token`; returns the whole response.
async fn call(app: &TestApp, token: &str, name: &str, quote: &Value, args: &str) -> Value {
    call_with(app, token, name, quote, ("", args), json!({})).await
}

/// Like [`call`], and it must succeed: what the mutation answers.
async fn step(app: &TestApp, token: &str, name: &str, quote: &Value, args: &str) -> Value {
    let body = call(app, token, name, quote, args).await;
    assert!(body.get("errors").is_none(), "{name}: {body}");
    body["data"][name].clone()
}

/// `body` failed with `expected`; returns its message.
fn refused<'a>(body: &'a Value, expected: &str) -> &'a str {
    assert_eq!(code(body), expected, "{body}");
    body["errors"][0]["message"].as_str().unwrap()
}

/// `body` is an `INVALID_TRANSITION` from `from` to `to`.
fn invalid(body: &Value, from: &str, to: &str) {
    assert_eq!(
        refused(body, "INVALID_TRANSITION"),
        format!("not allowed while {from} (requested: {to})"),
        "{body}"
    );
}

/// The quote numbers of a connection, in order.
fn numbers(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|e| e["node"]["number"].as_str().unwrap().to_owned())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("no time: {value}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// `value` is within a minute of `expected`.
fn about(value: &Value, expected: DateTime<Utc>) {
    let gap = (time(value) - expected).num_seconds().abs();
    assert!(gap < 60, "{value} is not about {expected}");
}

/// The first quote number of this year, plus `n - 1`.
fn number(n: u32) -> String {
    format!("Q-{}-{n:06}", Utc::now().year())
}

/// A manager at the quote desk, with a 10.00 pen (VAT 20 %) to put on quotes.
struct Desk<'a> {
    app: &'a TestApp,
    manager: Session,
    pen: String,
}

impl<'a> Desk<'a> {
    async fn open(app: &'a TestApp) -> Self {
        let manager = app.user(Role::Manager).await;
        let pen = product(
            app,
            &manager.access,
            json!({ "reference": "QD-PEN", "name": "Desk pen", "unitPrice": "10" }),
        )
        .await;
        Self { app, manager, pen }
    }

    fn token(&self) -> &str {
        &self.manager.access
    }

    /// A customer with a user of its own: its GraphQL ID and the user.
    async fn customer(&self, name: &str) -> (String, Session) {
        let uuid = self.app.customer(name).await;
        let client = self.app.user_of(Role::AccountClient, Some(uuid)).await;
        (ids::encode(Kind::Customer, uuid), client)
    }

    /// Gives `customer` a (primary, being the first) contact.
    async fn contact(&self, customer: &str, name: &str, email: &str) {
        self.app
            .data(
                Some(self.token()),
                "mutation($c: ID, $input: ContactInput!) { addCustomerContact(customerId: $c, input: $input) { id } }",
                json!({ "c": customer, "input": { "name": name, "email": email } }),
            )
            .await;
    }

    async fn create(&self, customer: &str) -> Value {
        let query = format!("mutation($c: ID!) {{ createQuote(customerId: $c) {{ {FIELDS} }} }}");
        let data = self
            .app
            .data(Some(self.token()), &query, json!({ "c": customer }))
            .await;
        data["createQuote"].clone()
    }

    /// Adds a line (the pen unless `input` names a product).
    async fn add_line(&self, quote: &Value, input: Value) -> Value {
        let mut full = json!({ "productId": self.pen, "quantity": 1 });
        for (key, value) in input.as_object().unwrap() {
            full[key] = value.clone();
        }
        let body = call_with(
            self.app,
            self.token(),
            "quoteAddLine",
            quote,
            (", $input: QuoteLineInput!", ", input: $input"),
            json!({ "input": full }),
        )
        .await;
        assert!(body.get("errors").is_none(), "quoteAddLine: {body}");
        body["data"]["quoteAddLine"].clone()
    }

    async fn terms(&self, quote: &Value, input: Value) -> Value {
        let body = call_with(
            self.app,
            self.token(),
            "updateQuoteTerms",
            quote,
            (", $input: QuoteTermsInput!", ", input: $input"),
            json!({ "input": input }),
        )
        .await;
        assert!(body.get("errors").is_none(), "updateQuoteTerms: {body}");
        body["data"]["updateQuoteTerms"].clone()
    }

    async fn step(&self, name: &str, quote: &Value, args: &str) -> Value {
        step(self.app, self.token(), name, quote, args).await
    }

    async fn call(&self, name: &str, quote: &Value, args: &str) -> Value {
        call(self.app, self.token(), name, quote, args).await
    }

    /// A quote for `customer`: `quantity` pens, delivered to Paris; ready to send.
    async fn ready(&self, customer: &str, quantity: i32) -> Value {
        let quote = self.create(customer).await;
        let quote = self.add_line(&quote, json!({ "quantity": quantity })).await;
        let address = format!("{{ deliveryAddress: {ADDRESS} }}");
        self.step("updateQuoteTerms", &quote, &format!(", input: {address}"))
            .await
    }

    /// Like [`ready`], and sent.
    async fn sent(&self, customer: &str, quantity: i32) -> Value {
        let quote = self.ready(customer, quantity).await;
        let quote = self.step("sendQuote", &quote, "").await;
        assert_eq!(quote["status"], "SENT", "{quote}");
        quote
    }

    /// The quote as `token` reads it (the whole response).
    async fn read_as(&self, token: &str, quote: &Value) -> Value {
        self.app
            .gql(Some(token), &read_query(), json!({ "id": quote["id"] }))
            .await
    }

    /// The quote as `token` reads it; it must be readable.
    async fn read(&self, token: &str, quote: &Value) -> Value {
        let body = self.read_as(token, quote).await;
        assert!(body.get("errors").is_none(), "quote: {body}");
        body["data"]["quote"].clone()
    }

    async fn my_quotes(&self, client: &Session) -> Vec<String> {
        let data = self
            .app
            .data(Some(&client.access), MY_QUOTES, json!({}))
            .await;
        let list = numbers(&data["myQuotes"]);
        assert_eq!(data["myQuotes"]["totalCount"], list.len(), "{data}");
        list
    }

    /// The numbers the desk lists for `args` (one page), checking `totalCount` against them.
    async fn list(&self, args: Value) -> Vec<String> {
        let data = self.app.data(Some(self.token()), LIST, args).await;
        let list = numbers(&data["quotes"]);
        assert_eq!(data["quotes"]["totalCount"], list.len(), "{data}");
        assert_eq!(data["quotes"]["pageInfo"]["hasNextPage"], false, "{data}");
        list
    }

    /// Every page of the desk for `args`, `first` at a time; checks `totalCount` on each.
    async fn pages(&self, args: &Value, first: usize) -> Vec<String> {
        let mut all = Vec::new();
        let mut after = Value::Null;
        for _ in 0..50 {
            let mut vars = args.clone();
            vars["first"] = json!(first);
            vars["after"] = after.clone();
            let data = self.app.data(Some(self.token()), LIST, vars).await;
            let page = numbers(&data["quotes"]);
            assert!(page.len() <= first, "{data}");
            all.extend(page);
            let info = &data["quotes"]["pageInfo"];
            let total = data["quotes"]["totalCount"].as_u64().unwrap();
            if info["hasNextPage"] == false {
                assert_eq!(u64::try_from(all.len()).unwrap(), total, "{data}");
                return all;
            }
            after = info["endCursor"].clone();
        }
        panic!("more than 50 pages");
    }
}

/// The events `token` may read, oldest first.
async fn events(app: &TestApp, token: &str) -> Vec<Value> {
    let data = app.data(Some(token), EVENTS, json!({})).await;
    data["events"]["nodes"].as_array().unwrap().clone()
}

/// The cursor of the last event `token` may read: subscribing after it, a client hears only
/// what comes next (on PostgreSQL, an earlier event may otherwise still be on its way).
async fn last_cursor(app: &TestApp, token: &str) -> Value {
    let data = app
        .data(
            Some(token),
            "{ events(first: 100) { nodes { cursor } } }",
            json!({}),
        )
        .await;
    let nodes = data["events"]["nodes"].as_array().unwrap();
    assert!(nodes.len() < 100, "more events than one page");
    nodes.last().map_or(Value::Null, |n| n["cursor"].clone())
}

/// Emails in the outbox: (recipient, template).
async fn outbox(app: &TestApp, admin: &Session) -> Vec<(String, String)> {
    let data = app.data(Some(&admin.access), OUTBOX, json!({})).await;
    data["outboxMessages"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["recipient"].as_str().unwrap().to_owned(),
                e["node"]["template"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How many rows `table` holds (to see what a purge leaves behind).
async fn rows(app: &TestApp, table: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.state.db.read();
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Polls the quote as `token` reads it until its status is `status` (up to about 10 s).
async fn wait_for_status(desk: &Desk<'_>, token: &str, quote: &Value, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = desk.read(token, quote).await;
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("still not {status} after 10 s: {last}");
}

db_test! {
    async fn a_manager_prices_a_quote_to_the_cent_and_comment_lines_count_for_nothing(app) {
        let desk = Desk::open(&app).await;
        let pen = product(&app, desk.token(), json!({ "reference": "QD-FOUNTAIN", "name": "Fountain pen", "unitPrice": "19.99", "vatRate": "20" })).await;
        let book = product(&app, desk.token(), json!({ "reference": "QD-BOOK", "name": "Ledger", "unitPrice": "12.50", "vatRate": "5.5" })).await;
        let (customer, _) = desk.customer("Pricing SARL").await;

        let quote = desk.create(&customer).await;
        assert_eq!(quote["number"], number(1));
        assert_eq!(quote["revision"], 1);
        assert_eq!(quote["status"], "IN_PREPARATION");
        assert_eq!(quote["contactCompany"], "Pricing SARL");
        assert_eq!(quote["total"]["amount"], "0.00");
        assert_eq!(quote["validUntil"], Value::Null);

        // 3 × 19.99 = 59.97, less 10 % (5.997) = 53.973 → 53.97.
        let quote = desk.add_line(&quote, json!({ "productId": pen, "quantity": 3, "discountPercent": "10" })).await;
        assert_eq!(quote["lines"][0]["total"]["amount"], "53.97");
        // 4 × 12.50 = 50.00, less 5.00 = 45.00.
        let quote = desk.add_line(&quote, json!({ "productId": book, "quantity": 4, "discountAmount": "5" })).await;
        assert_eq!(quote["lines"][1]["total"]["amount"], "45.00");
        // At a negotiated 7.333: 3 × 7.333 = 21.999, less 15 % (3.29985) = 18.69915, less 1.50
        // = 17.19915 → 17.20.
        let quote = desk.add_line(&quote, json!({ "productId": pen, "quantity": 3, "unitPrice": "7.333", "discountPercent": "15", "discountAmount": "1.50" })).await;
        let line = &quote["lines"][2];
        assert_eq!(line["unitPrice"]["amount"], "7.333");
        assert_eq!(line["discountPercent"], "15");
        assert_eq!(line["discountAmount"]["amount"], "1.50");
        assert_eq!(line["vatRate"], "20");
        assert_eq!(line["total"]["amount"], "17.20");
        let before_comment = quote["total"].clone();
        let quote = step(&app, desk.token(), "quoteAddCommentLine", &quote, ", text: \"Delivered in two batches\"").await;
        let comment = &quote["lines"][3];
        assert_eq!(comment["kind"], "COMMENT");
        assert_eq!(comment["comment"], "Delivered in two batches");
        assert_eq!(comment["total"]["amount"], "0.00");
        assert_eq!(quote["total"], before_comment, "a comment line costs nothing");

        let quote = desk.terms(&quote, json!({ "discountPercent": "5", "shipping": "15", "shippingVatRate": "20", "shippingMethod": "Courier", "paymentMethod": "Bank transfer" })).await;
        assert_eq!(quote["shippingMethod"], "Courier");
        assert_eq!(quote["paymentMethod"], "Bank transfer");
        assert_eq!(quote["discountPercent"], "5");
        // Lines: at 20 %, 53.97 + 17.20 = 71.17; at 5.5 %, 45.00; together 116.17.
        assert_eq!(quote["linesTotal"]["amount"], "116.17");
        // Footer 5 %: 71.17 × 5 % = 3.5585 → 3.56 and 45.00 × 5 % = 2.25; 5.81 in all.
        assert_eq!(quote["discount"]["amount"], "5.81");
        assert_eq!(quote["shipping"]["amount"], "15.00");
        // Bases: 20 %: 71.17 − 3.56 + 15.00 shipping = 82.61; 5.5 %: 45.00 − 2.25 = 42.75.
        // VAT: 82.61 × 20 % = 16.522 → 16.52; 42.75 × 5.5 % = 2.35125 → 2.35.
        assert_eq!(quote["vat"], json!([
            { "rate": "5.5", "base": { "amount": "42.75" }, "amount": { "amount": "2.35" } },
            { "rate": "20", "base": { "amount": "82.61" }, "amount": { "amount": "16.52" } },
        ]));
        assert_eq!(quote["subtotal"]["amount"], "125.36");
        assert_eq!(quote["vatTotal"]["amount"], "18.87");
        // 125.36 + 18.87.
        assert_eq!(quote["total"]["amount"], "144.23");
        let read = desk.read(desk.token(), &quote).await;
        assert_eq!(read["total"]["amount"], "144.23", "the stored total is the computed one");

        // Editing the comment changes nothing either; removing the ledger line leaves the 20 %
        // lines: 71.17 − 3.56 = 67.61, + 15.00 = 82.61, VAT 16.52, total 99.13.
        let comment_id = quote["lines"][3]["id"].clone();
        let body = call_with(&app, desk.token(), "quoteUpdateLine", &quote, (", $line: ID!, $input: QuoteLineChangesInput!", ", lineId: $line, input: $input"), json!({ "line": comment_id, "input": { "comment": "One batch" } })).await;
        let quote = body["data"]["quoteUpdateLine"].clone();
        assert_eq!(quote["lines"][3]["comment"], "One batch", "{body}");
        assert_eq!(quote["total"]["amount"], "144.23");
        let book_line = quote["lines"][1]["id"].clone();
        let body = call_with(&app, desk.token(), "quoteRemoveLine", &quote, (", $line: ID!", ", lineId: $line"), json!({ "line": book_line })).await;
        let quote = body["data"]["quoteRemoveLine"].clone();
        assert_eq!(quote["lines"].as_array().map(Vec::len), Some(3), "{body}");
        assert_eq!(quote["linesTotal"]["amount"], "71.17");
        assert_eq!(quote["discount"]["amount"], "3.56");
        assert_eq!(quote["subtotal"]["amount"], "82.61");
        assert_eq!(quote["vat"], json!([{ "rate": "20", "base": { "amount": "82.61" }, "amount": { "amount": "16.52" } }]));
        assert_eq!(quote["vatTotal"]["amount"], "16.52");
        assert_eq!(quote["total"]["amount"], "99.13");

        // A change based on an old version is refused, naming the current one.
        let stale = call(&app, desk.token(), "quoteAddCommentLine", &json!({ "id": quote["id"], "version": 1 }), ", text: \"late\"").await;
        assert_eq!(code(&stale), "CONFLICT", "{stale}");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], quote["version"]);
        // Discounts out of range are refused.
        for bad in [json!({ "discountPercent": "101" }), json!({ "discountPercent": "-1" }), json!({ "discountAmount": "-1" })] {
            let mut input = json!({ "productId": pen, "quantity": 1 });
            for (key, value) in bad.as_object().unwrap() {
                input[key] = value.clone();
            }
            let body = call_with(&app, desk.token(), "quoteAddLine", &quote, (", $input: QuoteLineInput!", ", input: $input"), json!({ "input": input })).await;
            assert_eq!(code(&body), "VALIDATION", "{bad}: {body}");
        }

        // Numbers follow each other.
        let next = desk.create(&customer).await;
        assert_eq!(next["number"], number(2));
    }
}

db_test! {
    async fn sending_a_quote_sets_its_validity_shows_it_to_the_customer_and_emails_the_contact(app) {
        let admin = app.user(Role::Admin).await;
        let desk = Desk::open(&app).await;
        let settings = app.data(Some(&admin.access), "mutation { updateQuoteSettings(version: 0, input: { validityDays: 14 }) { validityDays version } }", json!({})).await;
        assert_eq!(settings["updateQuoteSettings"]["validityDays"], 14);
        let (alpha, alice) = desk.customer("Alpha SARL").await;
        desk.contact(&alpha, "Alice Buyer", "alice@alpha.test").await;
        let (beta, bob) = desk.customer("Beta GmbH").await;

        let quote = desk.ready(&alpha, 2).await;
        assert_eq!(quote["contactName"], "Alice Buyer");
        assert_eq!(quote["contactEmail"], "alice@alpha.test");
        assert_eq!(quote["contactCompany"], "Alpha SARL");
        assert!(!outbox(&app, &admin).await.iter().any(|(_, t)| t == "quote_sent"), "nothing is emailed before sending");

        // Sent without a validity: the settings' 14 days.
        let sent = desk.step("sendQuote", &quote, "").await;
        assert_eq!(sent["status"], "SENT");
        about(&sent["validUntil"], Utc::now() + Duration::days(14));
        about(&sent["sentAt"], Utc::now());
        let mails = outbox(&app, &admin).await;
        assert!(mails.contains(&("alice@alpha.test".to_owned(), "quote_sent".to_owned())), "{mails:?}");

        // The customer sees it; another customer does not.
        assert_eq!(desk.my_quotes(&alice).await, [number(1)]);
        let seen = desk.read(&alice.access, &sent).await;
        assert_eq!(seen["status"], "SENT");
        assert_eq!(seen["validUntil"], sent["validUntil"]);
        assert_eq!(seen["total"]["amount"], "24.00");
        assert_eq!(seen["internalComment"], Value::Null);
        assert_eq!(code(&desk.read_as(&bob.access, &sent).await), "NOT_FOUND");
        assert!(desk.my_quotes(&bob).await.is_empty());

        // Sent with a validity of its own; no contact email, so no email.
        let other = desk.ready(&beta, 1).await;
        let other = desk.step("sendQuote", &other, ", validityDays: 3").await;
        about(&other["validUntil"], Utc::now() + Duration::days(3));
        assert_eq!(other["contactEmail"], Value::Null);
        let mails = outbox(&app, &admin).await;
        assert_eq!(mails.iter().filter(|(_, t)| t == "quote_sent").count(), 1, "{mails:?}");
        assert_eq!(desk.my_quotes(&bob).await, [number(2)]);

        // A validity must be 1 to 365 days, and a quote needs a product line to be sent.
        let third = desk.ready(&beta, 1).await;
        for days in [0, 366] {
            let body = desk.call("sendQuote", &third, &format!(", validityDays: {days}")).await;
            assert_eq!(refused(&body, "VALIDATION"), "validityDays: between 1 and 365 days");
        }
        let empty = desk.create(&beta).await;
        let empty = desk.step("quoteAddCommentLine", &empty, ", text: \"Just words\"").await;
        let body = desk.call("sendQuote", &empty, "").await;
        assert_eq!(code(&body), "VALIDATION", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
    }
}

db_test! {
    async fn editing_a_sent_quote_opens_a_revision_the_customer_sees_and_accepts_only_once_sent(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Revision SARL").await;
        let r1 = desk.sent(&customer, 3).await;
        let r1_number = r1["number"].as_str().unwrap().to_owned();
        let r2_number = format!("{r1_number}-R2");
        assert_eq!(desk.my_quotes(&client).await, [r1_number.as_str()]);

        // Changing a line of the sent quote makes a new revision; the sent one is untouched.
        let line = r1["lines"][0]["id"].clone();
        let body = call_with(&app, desk.token(), "quoteUpdateLine", &r1, (", $line: ID!, $input: QuoteLineChangesInput!", ", lineId: $line, input: $input"), json!({ "line": line, "input": { "quantity": 5 } })).await;
        let r2 = body["data"]["quoteUpdateLine"].clone();
        assert_eq!(r2["number"], r2_number.as_str(), "{body}");
        assert_eq!(r2["revision"], 2);
        assert_eq!(r2["status"], "IN_PREPARATION");
        assert_eq!(r2["isLatest"], true);
        assert_ne!(r2["id"], r1["id"]);
        assert_eq!(r2["lines"][0]["quantity"], 5);
        assert_eq!(r2["validUntil"], Value::Null);
        assert_eq!(r2["deliveryAddress"]["city"], "Paris", "terms are carried over");
        let staff_r1 = desk.read(desk.token(), &r1).await;
        assert_eq!(staff_r1["status"], "SENT");
        assert_eq!(staff_r1["lines"][0]["quantity"], 3);
        assert_eq!(staff_r1["total"]["amount"], "36.00");
        let family: Vec<&Value> = staff_r1["revisions"].as_array().unwrap().iter().map(|r| &r["number"]).collect();
        assert_eq!(family, [r1_number.as_str(), r2_number.as_str()], "staff see every revision");

        // Until R2 is sent the customer knows only R1.
        assert_eq!(desk.my_quotes(&client).await, [r1_number.as_str()]);
        assert_eq!(code(&desk.read_as(&client.access, &r2).await), "NOT_FOUND");
        let seen = desk.read(&client.access, &r1).await;
        assert_eq!(seen["isLatest"], true);
        assert_eq!(seen["revisions"], json!([{ "number": r1_number, "status": "SENT" }]));
        let on_r2 = call(&app, &client.access, "requestQuoteNegotiation", &r2, ", message: \"R2?\"").await;
        assert_eq!(code(&on_r2), "NOT_FOUND", "{on_r2}");
        // …and may still act on R1.
        let r1 = step(&app, &client.access, "requestQuoteNegotiation", &seen, ", message: \"A little less?\"").await;
        assert_eq!(r1["negotiation"], "UNTREATED");

        // R1 cannot be revised a second time while R2 is being prepared.
        let again = desk.call("quoteAddCommentLine", &r1, ", text: \"another\"").await;
        assert_eq!(code(&again), "CONFLICT", "{again}");
        assert!(refused(&again, "CONFLICT").contains(&r2_number), "{again}");

        // Once R2 is sent it replaces R1 for the customer.
        let r2 = desk.step("sendQuote", &r2, "").await;
        assert_eq!(r2["status"], "SENT");
        assert_eq!(desk.my_quotes(&client).await, [r2_number.as_str()]);
        let old = desk.read(&client.access, &r1).await;
        assert_eq!(old["isLatest"], false);
        assert_eq!(old["status"], "SENT");
        let family: Vec<&Value> = old["revisions"].as_array().unwrap().iter().map(|r| &r["number"]).collect();
        assert_eq!(family, [r1_number.as_str(), r2_number.as_str()]);

        // Only the latest can be accepted.
        let refused_r1 = call(&app, &client.access, "convertQuoteToOrder", &old, "").await;
        assert!(refused(&refused_r1, "CONFLICT").contains(&r2_number), "{refused_r1}");
        let seen_r2 = desk.read(&client.access, &r2).await;
        assert_eq!(seen_r2["isLatest"], true);
        let converted = step(&app, &client.access, "convertQuoteToOrder", &seen_r2, "").await;
        assert_eq!(converted["quote"]["status"], "ACCEPTED");
        assert_eq!(converted["quote"]["transferredToOrder"], true);
        assert_eq!(converted["quote"]["orderId"], converted["order"]["id"]);
        // 5 × 10.00 = 50.00 + 20 % VAT.
        assert_eq!(converted["quote"]["total"]["amount"], "60.00");
        assert_eq!(converted["order"]["total"]["amount"], "60.00");
        let staff_r1 = desk.read(desk.token(), &r1).await;
        assert_eq!(staff_r1["transferredToOrder"], false);
        // A superseded revision is not edited either.
        let edit_old = desk.call("quoteAddCommentLine", &staff_r1, ", text: \"late\"").await;
        assert!(matches!(code(&edit_old), "CONFLICT" | "INVALID_TRANSITION"), "{edit_old}");
    }
}

db_test! {
    async fn a_third_revision_is_numbered_r3_and_replaces_both_earlier_ones_once_sent(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Thrice SARL").await;
        let r1 = desk.sent(&customer, 1).await;
        let r2 = desk.step("quoteAddCommentLine", &r1, ", text: \"Second thoughts\"").await;
        let r2 = desk.step("sendQuote", &r2, "").await;
        let r3 = desk.step("quoteAddCommentLine", &r2, ", text: \"Third thoughts\"").await;
        assert_eq!(r3["number"], format!("{}-R3", number(1)));
        assert_eq!(r3["revision"], 3);
        assert_eq!(r3["lines"].as_array().map(Vec::len), Some(3), "R2's lines and the new one");
        assert_eq!(desk.my_quotes(&client).await, [format!("{}-R2", number(1))], "R3 is not sent yet");
        // R1 was replaced: it is no longer edited, whatever its version.
        let r1 = desk.read(desk.token(), &r1).await;
        let edit = desk.call("quoteAddCommentLine", &r1, ", text: \"x\"").await;
        assert!(matches!(code(&edit), "CONFLICT" | "INVALID_TRANSITION"), "{edit}");

        let r3 = desk.step("sendQuote", &r3, "").await;
        assert_eq!(desk.my_quotes(&client).await, [format!("{}-R3", number(1))]);
        for old in [&r1, &r2] {
            assert_eq!(desk.read(&client.access, old).await["isLatest"], false, "{}", old["number"]);
        }
        let family: Vec<String> = desk.read(&client.access, &r3).await["revisions"].as_array().unwrap().iter()
            .map(|r| r["number"].as_str().unwrap().to_owned()).collect();
        assert_eq!(family, [number(1), format!("{}-R2", number(1)), format!("{}-R3", number(1))]);
        let r2 = desk.read(&client.access, &r2).await;
        assert_eq!(code(&call(&app, &client.access, "convertQuoteToOrder", &r2, "").await), "CONFLICT");
        let r3 = desk.read(&client.access, &r3).await;
        assert_eq!(step(&app, &client.access, "convertQuoteToOrder", &r3, "").await["quote"]["status"], "ACCEPTED");
    }
}

db_test! {
    async fn a_revision_cannot_be_sent_once_the_customer_accepted_the_quote_it_revises(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Twice SARL").await;
        let r1 = desk.sent(&customer, 1).await;
        let line = r1["lines"][0]["id"].clone();
        let body = call_with(&app, desk.token(), "quoteUpdateLine", &r1, (", $line: ID!, $input: QuoteLineChangesInput!", ", lineId: $line, input: $input"), json!({ "line": line, "input": { "quantity": 2 } })).await;
        let r2 = body["data"]["quoteUpdateLine"].clone();
        assert_eq!(r2["status"], "IN_PREPARATION", "{body}");

        // R1 is still the latest the customer was sent: they accept it.
        let accepted = step(&app, &client.access, "convertQuoteToOrder", &r1, "").await;
        assert_eq!(accepted["quote"]["status"], "ACCEPTED");

        // The quote is an order now: its revision must not go out (and be accepted again).
        let send = desk.call("sendQuote", &r2, "").await;
        let blocked = send.get("errors").is_some();
        if !blocked {
            let r2 = desk.read(&client.access, &r2).await;
            let second = call(&app, &client.access, "convertQuoteToOrder", &r2, "").await;
            panic!("R2 was sent after R1 was accepted; converting it answered {second}");
        }
        assert!(matches!(code(&send), "INVALID_TRANSITION" | "CONFLICT"), "{send}");
    }
}

db_test! {
    async fn a_request_cannot_be_withdrawn_accepted_or_negotiated_before_it_is_sent(app) {
        let desk = Desk::open(&app).await;
        let (_, client) = desk.customer("Request SARL").await;
        let query = format!("mutation($p: ID!) {{ requestQuoteForConfiguration(productId: $p, quantity: 2) {{ {FIELDS} }} }}");
        let request = app.data(Some(&client.access), &query, json!({ "p": desk.pen })).await["requestQuoteForConfiguration"].clone();
        assert_eq!(request["status"], "REQUESTED");

        invalid(&desk.call("withdrawQuote", &request, ", reason: \"no\"").await, "REQUESTED", "WITHDRAWN");
        invalid(&call(&app, &client.access, "convertQuoteToOrder", &request, "").await, "REQUESTED", "ACCEPTED");
        invalid(&call(&app, &client.access, "requestQuoteNegotiation", &request, ", message: \"less?\"").await, "REQUESTED", "NEGOTIATION");

        // Pricing it moves it to IN_PREPARATION; it still cannot be withdrawn or accepted.
        let priced = desk.step("quoteAddCommentLine", &request, ", text: \"Priced by the desk\"").await;
        assert_eq!(priced["status"], "IN_PREPARATION");
        invalid(&desk.call("withdrawQuote", &priced, "").await, "IN_PREPARATION", "WITHDRAWN");
        invalid(&call(&app, &client.access, "convertQuoteToOrder", &priced, "").await, "IN_PREPARATION", "ACCEPTED");

        // Sent once, not twice.
        let sent = desk.step("sendQuote", &priced, "").await;
        assert_eq!(sent["status"], "SENT");
        invalid(&desk.call("sendQuote", &sent, "").await, "SENT", "SENT");
    }
}

db_test! {
    async fn an_accepted_quote_can_no_longer_be_declined_deleted_withdrawn_edited_or_sent(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Accepted SARL").await;
        let sent = desk.sent(&customer, 2).await;
        let converted = step(&app, &client.access, "convertQuoteToOrder", &sent, "").await;
        let accepted = converted["quote"].clone();
        assert_eq!(accepted["status"], "ACCEPTED");
        assert_eq!(accepted["transferredToOrder"], true);
        assert!(converted["order"]["number"].is_string(), "{converted}");

        invalid(&call(&app, &client.access, "declineQuote", &accepted, ", reason: \"changed my mind\"").await, "ACCEPTED", "DECLINED");
        invalid(&call(&app, &client.access, "deleteQuote", &accepted, "").await, "ACCEPTED", "DELETED");
        invalid(&call(&app, &client.access, "convertQuoteToOrder", &accepted, "").await, "ACCEPTED", "ACCEPTED");
        invalid(&call(&app, &client.access, "requestQuoteNegotiation", &accepted, ", message: \"less?\"").await, "ACCEPTED", "NEGOTIATION");
        invalid(&desk.call("withdrawQuote", &accepted, "").await, "ACCEPTED", "WITHDRAWN");
        invalid(&desk.call("sendQuote", &accepted, "").await, "ACCEPTED", "SENT");
        invalid(&desk.call("quoteAddCommentLine", &accepted, ", text: \"late\"").await, "ACCEPTED", "EDIT");
        let after = desk.read(desk.token(), &accepted).await;
        assert_eq!(after["status"], "ACCEPTED");
        assert_eq!(after["version"], accepted["version"], "nothing changed");
    }
}

db_test! {
    async fn withdrawn_and_declined_quotes_only_go_on_to_deleted(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Ending SARL").await;

        let withdrawn = desk.sent(&customer, 1).await;
        let withdrawn = desk.step("withdrawQuote", &withdrawn, ", reason: \"Prices changed\"").await;
        assert_eq!(withdrawn["status"], "WITHDRAWN");
        invalid(&desk.call("withdrawQuote", &withdrawn, "").await, "WITHDRAWN", "WITHDRAWN");
        invalid(&desk.call("sendQuote", &withdrawn, "").await, "WITHDRAWN", "SENT");
        invalid(&desk.call("quoteAddCommentLine", &withdrawn, ", text: \"x\"").await, "WITHDRAWN", "EDIT");
        invalid(&call(&app, &client.access, "convertQuoteToOrder", &withdrawn, "").await, "WITHDRAWN", "ACCEPTED");
        invalid(&call(&app, &client.access, "declineQuote", &withdrawn, "").await, "WITHDRAWN", "DECLINED");
        let deleted = step(&app, &client.access, "deleteQuote", &withdrawn, "").await;
        assert_eq!(deleted["status"], "DELETED");

        let declined = desk.sent(&customer, 1).await;
        let declined = step(&app, &client.access, "declineQuote", &declined, ", reason: \"Too dear\"").await;
        assert_eq!(declined["status"], "DECLINED");
        invalid(&call(&app, &client.access, "declineQuote", &declined, "").await, "DECLINED", "DECLINED");
        invalid(&call(&app, &client.access, "convertQuoteToOrder", &declined, "").await, "DECLINED", "ACCEPTED");
        invalid(&desk.call("withdrawQuote", &declined, "").await, "DECLINED", "WITHDRAWN");
        invalid(&desk.call("sendQuote", &declined, "").await, "DECLINED", "SENT");
        invalid(&desk.call("quoteAddCommentLine", &declined, ", text: \"x\"").await, "DECLINED", "EDIT");
        let deleted = step(&app, &client.access, "deleteQuote", &declined, "").await;
        assert_eq!(deleted["status"], "DELETED");
        invalid(&desk.call("sendQuote", &deleted, "").await, "DELETED", "SENT");
        invalid(&desk.call("quoteAddCommentLine", &deleted, ", text: \"x\"").await, "DELETED", "EDIT");
    }
}

db_test! {
    async fn a_quote_the_customer_deletes_disappears_for_them_and_stays_for_managers(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Tidy SARL").await;
        let kept = desk.sent(&customer, 1).await;
        let gone = desk.sent(&customer, 2).await;
        assert_eq!(desk.my_quotes(&client).await, [number(2), number(1)]);

        let deleted = step(&app, &client.access, "deleteQuote", &gone, "").await;
        assert_eq!(deleted["status"], "DELETED");
        assert_eq!(desk.my_quotes(&client).await, [number(1)]);
        assert_eq!(code(&desk.read_as(&client.access, &gone).await), "NOT_FOUND");
        assert_eq!(code(&call(&app, &client.access, "deleteQuote", &deleted, "").await), "NOT_FOUND");
        assert_eq!(code(&call(&app, &client.access, "convertQuoteToOrder", &deleted, "").await), "NOT_FOUND");

        let staff = desk.read(desk.token(), &gone).await;
        assert_eq!(staff["status"], "DELETED");
        assert_eq!(desk.list(json!({ "filter": { "statuses": ["DELETED"] } })).await, [number(2)]);
        assert_eq!(desk.list(json!({})).await, [number(2), number(1)]);
        assert_eq!(desk.read(&client.access, &kept).await["status"], "SENT");
    }
}

db_test! {
    async fn customers_and_managers_cannot_take_each_others_actions(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Roles SARL").await;
        let (_, stranger) = desk.customer("Stranger SARL").await;
        let sent = desk.sent(&customer, 1).await;
        let token = client.access.as_str();

        let create = app.gql(Some(token), "mutation($c: ID!) { createQuote(customerId: $c) { id } }", json!({ "c": customer })).await;
        assert_eq!(code(&create), "FORBIDDEN", "{create}");
        for (name, args) in [
            ("sendQuote", ""),
            ("withdrawQuote", ""),
            ("quoteAddCommentLine", ", text: \"mine\""),
            ("updateQuoteTerms", ", input: { shipping: \"0\" }"),
            ("setQuoteNegotiation", ", negotiation: FINALIZED"),
        ] {
            let body = call(&app, token, name, &sent, args).await;
            assert_eq!(code(&body), "FORBIDDEN", "{name}: {body}");
        }
        let duplicate = app.gql(Some(token), "mutation($id: ID!) { duplicateQuote(id: $id) { id } }", json!({ "id": sent["id"] })).await;
        assert_eq!(code(&duplicate), "FORBIDDEN", "{duplicate}");
        let list = app.gql(Some(token), LIST, json!({})).await;
        assert_eq!(code(&list), "FORBIDDEN", "{list}");

        for (name, args) in [
            ("declineQuote", ""),
            ("deleteQuote", ""),
            ("convertQuoteToOrder", ""),
            ("requestQuoteNegotiation", ", message: \"less?\""),
        ] {
            let body = desk.call(name, &sent, args).await;
            assert_eq!(code(&body), "FORBIDDEN", "{name}: {body}");
            let body = call(&app, &stranger.access, name, &sent, args).await;
            assert_eq!(code(&body), "NOT_FOUND", "a stranger's {name}: {body}");
        }
        assert_eq!(code(&desk.read_as(&stranger.access, &sent).await), "NOT_FOUND");
        assert_eq!(desk.read(desk.token(), &sent).await["status"], "SENT", "nothing changed");
    }
}

db_test! {
    async fn negotiation_comments_reach_the_customer_but_the_internal_comment_never_does(app) {
        const SECRET: &str = "margin-too-thin-7f3a";
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Haggle SARL").await;
        let sent = desk.sent(&customer, 4).await;
        assert_eq!(sent["negotiation"], "NONE");

        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&client.access)).await;
        let after = last_cursor(&app, &client.access).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($after: String) { quoteEvents(after: $after) { kind status changes } }", "variables": { "after": after } } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");

        let empty = call(&app, &client.access, "requestQuoteNegotiation", &sent, ", message: \"  \"").await;
        assert_eq!(code(&empty), "VALIDATION", "{empty}");
        let asked = step(&app, &client.access, "requestQuoteNegotiation", &sent, ", message: \"Could you do 10 % off?\"").await;
        assert_eq!(asked["negotiation"], "UNTREATED");
        assert_eq!(asked["status"], "SENT", "a negotiation does not change the status");
        assert_eq!(desk.list(json!({ "filter": { "negotiations": ["UNTREATED"] } })).await, [sent["number"].as_str().unwrap()]);

        let q = desk.read(desk.token(), &asked).await;
        let q = desk.step("setQuoteNegotiation", &q, ", negotiation: IN_PROGRESS, customerComment: \"Called: 10 % off wanted\"").await;
        assert_eq!(q["negotiation"], "IN_PROGRESS");
        assert_eq!(q["customerComment"], "Called: 10 % off wanted");
        let q = desk.step("setQuoteNegotiation", &q, &format!(", internalComment: \"Only 5 %: {SECRET}\"")).await;
        assert_eq!(q["internalComment"], format!("Only 5 %: {SECRET}"), "staff read it");
        let q = desk.step("setQuoteNegotiation", &q, ", negotiation: FINALIZED, customerComment: \"Agreed on 5 %\"").await;
        assert_eq!(q["negotiation"], "FINALIZED");
        assert_eq!(desk.list(json!({ "filter": { "negotiations": ["FINALIZED"] } })).await, [sent["number"].as_str().unwrap()]);
        assert!(desk.list(json!({ "filter": { "negotiations": ["UNTREATED", "IN_PROGRESS"] } })).await.is_empty());

        // The customer reads the outcome, never the internal comment.
        let seen = desk.read(&client.access, &q).await;
        assert_eq!(seen["negotiation"], "FINALIZED");
        assert_eq!(seen["customerComment"], "Agreed on 5 %");
        assert_eq!(seen["internalComment"], Value::Null);
        assert!(!seen.to_string().contains(SECRET), "{seen}");

        // Live: the request and the two visible changes, in order, and nothing internal (the
        // internal comment's own call may be heard as a change, but never with its text).
        let mut heard = Vec::new();
        for _ in 0..10 {
            let message = ws.next().await;
            assert_eq!(message["type"], "next", "{message}");
            assert!(!message.to_string().contains(SECRET), "{message}");
            let event = message["payload"]["data"]["quoteEvents"].clone();
            let done = event["changes"]["negotiation"]["new"] == "FINALIZED";
            heard.push(event);
            if done {
                break;
            }
        }
        let moves: Vec<(&Value, &Value)> = heard
            .iter()
            .filter(|e| e["changes"]["negotiation"].is_object())
            .map(|e| (&e["kind"], &e["changes"]["negotiation"]["new"]))
            .collect();
        assert_eq!(moves, [
            (&json!("QUOTE_NEGOTIATION_REQUESTED"), &json!("UNTREATED")),
            (&json!("QUOTE_NEGOTIATION_CHANGED"), &json!("IN_PROGRESS")),
            (&json!("QUOTE_NEGOTIATION_CHANGED"), &json!("FINALIZED")),
        ], "{heard:?}");
        assert_eq!(heard.last().unwrap()["changes"]["customerComment"]["new"], "Agreed on 5 %");

        // The log as the customer reads it: the same moves, without the secret.
        let log = events(&app, &client.access).await;
        let moves: Vec<&Value> = log.iter().filter_map(|e| e["changes"]["negotiation"].get("new")).collect();
        assert_eq!(moves, ["UNTREATED", "IN_PROGRESS", "FINALIZED"]);
        assert!(!Value::from(log).to_string().contains(SECRET));
        // Even the staff's log does not copy the text.
        let staff_log = events(&app, desk.token()).await;
        assert!(!Value::from(staff_log).to_string().contains(SECRET));
    }
}

db_test! {
    async fn a_negotiation_outcome_given_with_an_internal_comment_still_reaches_the_customer(app) {
        const SECRET: &str = "internal-only-91c2";
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Outcome SARL").await;
        let sent = desk.sent(&customer, 1).await;
        let asked = step(&app, &client.access, "requestQuoteNegotiation", &sent, ", message: \"less?\"").await;
        let q = desk.read(desk.token(), &asked).await;
        let q = desk.step("setQuoteNegotiation", &q, &format!(", negotiation: FINALIZED, customerComment: \"No discount, sorry\", internalComment: \"{SECRET}\"")).await;
        assert_eq!(q["negotiation"], "FINALIZED");

        let log = events(&app, &client.access).await;
        assert!(!Value::from(log.clone()).to_string().contains(SECRET));
        let outcome = log.iter().find(|e| e["kind"] == "QUOTE_NEGOTIATION_CHANGED");
        let outcome = outcome.unwrap_or_else(|| panic!("the customer never hears the outcome: {log:?}"));
        assert_eq!(outcome["changes"]["negotiation"]["new"], "FINALIZED");
        assert_eq!(outcome["changes"]["customerComment"]["new"], "No discount, sorry");
    }
}

db_test! {
    // Quotes A to F, as the comments and assertions name them.
    #[allow(clippy::many_single_char_names)]
    async fn the_desk_filters_sorts_and_pages_quotes(app) {
        let desk = Desk::open(&app).await;
        let (alpha, alice) = desk.customer("Alpha SARL").await;
        desk.contact(&alpha, "Ann Archer", "ann@alpha.test").await;
        let (beta, _) = desk.customer("Beta GmbH").await;

        // Created in this order; totals are 12.00 per pen (10.00 + 20 % VAT).
        let a = desk.ready(&alpha, 1).await; // 12.00, IN_PREPARATION
        let b = desk.sent(&beta, 3).await; // 36.00, SENT
        let c = desk.sent(&alpha, 2).await; // 24.00, SENT, negotiation UNTREATED
        let c = step(&app, &alice.access, "requestQuoteNegotiation", &c, ", message: \"less?\"").await;
        let d = desk.sent(&beta, 5).await; // 60.00, ACCEPTED (an order)
        let client_of_beta = app.user_of(Role::AccountClient, Some(ids::decode(Kind::Customer, &beta, "id").unwrap())).await;
        step(&app, &client_of_beta.access, "convertQuoteToOrder", &d, "").await;
        let e = desk.ready(&beta, 3).await; // 36.00 (as much as B), IN_PREPARATION
        app.state.clock.advance(Duration::days(10));
        let f = desk.ready(&alpha, 4).await; // 48.00, IN_PREPARATION, ten days later
        let n = |q: &Value| q["number"].as_str().unwrap().to_owned();
        let (a, b, c, d, e, f) = (n(&a), n(&b), n(&c), n(&d), n(&e), n(&f));
        let (a, b, c, d, e, f) = (a.as_str(), b.as_str(), c.as_str(), d.as_str(), e.as_str(), f.as_str());
        assert_eq!([a, b, c, d, e, f], [1, 2, 3, 4, 5, 6].map(number));

        // Sorts: newest first by default.
        assert_eq!(desk.list(json!({})).await, [f, e, d, c, b, a]);
        assert_eq!(desk.list(json!({ "sort": { "field": "CREATED_AT" } })).await, [f, e, d, c, b, a]);
        assert_eq!(desk.list(json!({ "sort": { "field": "CREATED_AT", "descending": false } })).await, [a, b, c, d, e, f]);
        assert_eq!(desk.list(json!({ "sort": { "field": "NUMBER" } })).await, [a, b, c, d, e, f]);
        assert_eq!(desk.list(json!({ "sort": { "field": "NUMBER", "descending": true } })).await, [f, e, d, c, b, a]);
        let by_total = desk.list(json!({ "sort": { "field": "TOTAL" } })).await;
        assert_eq!(by_total[..2], [a, c]);
        assert_eq!(by_total[4..], [f, d]);
        let mut tied = by_total[2..4].to_vec();
        tied.sort();
        assert_eq!(tied, [b, e], "B and E tie at 36.00");
        let mut descending = desk.list(json!({ "sort": { "field": "TOTAL", "descending": true } })).await;
        descending.reverse();
        assert_eq!(descending, by_total, "descending is the exact reverse, ties included");

        // Pages: every quote once, in the order of the sort, for every sort and direction.
        for sort in [
            json!(null),
            json!({ "field": "CREATED_AT", "descending": false }),
            json!({ "field": "NUMBER" }),
            json!({ "field": "NUMBER", "descending": true }),
            json!({ "field": "TOTAL" }),
            json!({ "field": "TOTAL", "descending": true }),
        ] {
            let args = json!({ "sort": sort });
            let whole = desk.list(args.clone()).await;
            for first in [1, 2, 4] {
                assert_eq!(desk.pages(&args, first).await, whole, "{sort} by {first}");
            }
        }
        // A cursor is only good for the sort it came from.
        let page = app.data(Some(desk.token()), LIST, json!({ "first": 2, "sort": { "field": "TOTAL" } })).await;
        let cursor = page["quotes"]["pageInfo"]["endCursor"].clone();
        let mixed = app.gql(Some(desk.token()), LIST, json!({ "first": 2, "after": cursor, "sort": { "field": "NUMBER" } })).await;
        assert_eq!(code(&mixed), "VALIDATION", "{mixed}");

        // Filters.
        let filter = |filter: Value| desk.list(json!({ "filter": filter, "sort": { "field": "NUMBER" } }));
        assert_eq!(filter(json!({ "statuses": ["SENT"] })).await, [b, c]);
        assert_eq!(filter(json!({ "statuses": ["IN_PREPARATION", "ACCEPTED"] })).await, [a, d, e, f]);
        assert_eq!(filter(json!({ "negotiations": ["UNTREATED"] })).await, [c]);
        assert_eq!(filter(json!({ "negotiations": ["NONE"] })).await, [a, b, d, e, f]);
        assert_eq!(filter(json!({ "transferredToOrder": true })).await, [d]);
        assert_eq!(filter(json!({ "transferredToOrder": false })).await, [a, b, c, e, f]);
        assert_eq!(filter(json!({ "customerId": alpha })).await, [a, c, f]);
        assert_eq!(filter(json!({ "customerId": beta, "statuses": ["SENT"] })).await, [b]);
        assert_eq!(filter(json!({ "search": b })).await, [b]);
        assert_eq!(filter(json!({ "search": &b[b.len() - 3..] })).await, [b], "part of a number");
        assert_eq!(filter(json!({ "search": "ann archer" })).await, [a, c, f], "the contact's name");
        assert_eq!(filter(json!({ "search": "BETA" })).await, [b, d, e], "the customer's name, any case");
        assert!(filter(json!({ "search": "nobody" })).await.is_empty());
        let midway = (Utc::now() + Duration::days(5)).to_rfc3339();
        assert_eq!(filter(json!({ "createdFrom": midway })).await, [f]);
        assert_eq!(filter(json!({ "createdTo": midway })).await, [a, b, c, d, e]);
        assert_eq!(filter(json!({ "createdFrom": midway, "customerId": beta })).await, Vec::<String>::new());
        let paged = desk.pages(&json!({ "filter": { "customerId": alpha } }), 1).await;
        assert_eq!(paged, [f, c, a]);

        // Customers have their own list, not the desk's.
        let forbidden = app.gql(Some(&alice.access), LIST, json!({})).await;
        assert_eq!(code(&forbidden), "FORBIDDEN", "{forbidden}");
    }
}

db_test! {
    async fn the_desk_finds_quotes_by_sales_rep(app) {
        let desk = Desk::open(&app).await;
        let rep = app.user(Role::Manager).await;
        let followed = app.data(Some(desk.token()), "mutation($input: CustomerInput!) { createCustomer(input: $input) { id } }",
            json!({ "input": { "name": "Followed SARL", "salesRepId": rep.id } })).await["createCustomer"]["id"].as_str().unwrap().to_owned();
        let (alone, _) = desk.customer("Alone SARL").await;
        let theirs = desk.ready(&followed, 1).await;
        desk.ready(&alone, 1).await;
        let by_rep = desk.list(json!({ "filter": { "salesRepId": rep.id } })).await;
        assert_eq!(by_rep, [theirs["number"].as_str().unwrap()]);
        let by_other = desk.list(json!({ "filter": { "salesRepId": desk.manager.id } })).await;
        assert!(by_other.is_empty(), "{by_other:?}");
        // Nothing is invoiced yet.
        assert_eq!(desk.list(json!({ "filter": { "transferredToInvoice": false } })).await.len(), 2);
        assert!(desk.list(json!({ "filter": { "transferredToInvoice": true } })).await.is_empty());
    }
}

db_test! {
    async fn duplicating_a_quote_copies_its_lines_and_terms_under_a_new_number(app) {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Copy SARL").await;
        let source = desk.create(&customer).await;
        let source = desk.add_line(&source, json!({ "quantity": 3, "discountPercent": "12.5" })).await;
        let source = desk.add_line(&source, json!({ "quantity": 2, "unitPrice": "8.40", "discountAmount": "0.80" })).await;
        let source = desk.step("quoteAddCommentLine", &source, ", text: \"Engraved\"").await;
        let terms = format!(", input: {{ discountPercent: \"2\", shipping: \"9.90\", shippingMethod: \"Courier\", paymentMethod: \"Card\", deliveryAddress: {ADDRESS} }}");
        let source = desk.step("updateQuoteTerms", &source, &terms).await;
        let source = desk.step("sendQuote", &source, "").await;
        let accepted = step(&app, &client.access, "convertQuoteToOrder", &source, "").await["quote"].clone();

        let query = format!("mutation($id: ID!) {{ duplicateQuote(id: $id) {{ {FIELDS} }} }}");
        let copy = app.data(Some(desk.token()), &query, json!({ "id": source["id"] })).await["duplicateQuote"].clone();
        assert_eq!(copy["number"], number(2));
        assert_ne!(copy["id"], source["id"]);
        assert_eq!(copy["status"], "IN_PREPARATION");
        assert_eq!(copy["revision"], 1);
        assert_eq!(copy["negotiation"], "NONE");
        assert_eq!(copy["validUntil"], Value::Null);
        assert_eq!(copy["sentAt"], Value::Null);
        assert_eq!(copy["transferredToOrder"], false);
        assert_eq!(copy["orderId"], Value::Null);
        let strip = |lines: &Value| -> Vec<Value> {
            lines.as_array().unwrap().iter().map(|l| {
                let mut l = l.clone();
                l.as_object_mut().unwrap().remove("id");
                l
            }).collect()
        };
        assert_eq!(strip(&copy["lines"]), strip(&accepted["lines"]), "the same lines");
        for field in ["contactName", "contactCompany", "shippingMethod", "paymentMethod", "discountPercent", "deliveryAddress",
                      "linesTotal", "discount", "shipping", "subtotal", "vat", "vatTotal", "total"] {
            assert_eq!(copy[field], accepted[field], "{field}");
        }
        // 3 × 10.00 − 12.5 % = 26.25; 2 × 8.40 − 0.80 = 16.00; 42.25 − 2 % (0.85) = 41.40,
        // + 9.90 shipping = 51.30, + 20 % VAT 10.26 = 61.56.
        assert_eq!(copy["total"]["amount"], "61.56");
        assert_eq!(copy["revisions"], json!([{ "number": number(2), "status": "IN_PREPARATION" }]));
        // The source is untouched, and the copy goes its own way.
        assert_eq!(desk.read(desk.token(), &source).await["status"], "ACCEPTED");
        let sent = desk.step("sendQuote", &copy, "").await;
        assert_eq!(sent["status"], "SENT");
        assert_eq!(desk.my_quotes(&client).await, [number(2), number(1)]);
        let missing = app.gql(Some(desk.token()), &query, json!({ "id": ids::encode(Kind::Quote, uuid::Uuid::now_v7()) })).await;
        assert_eq!(code(&missing), "NOT_FOUND", "{missing}");
    }
}

db_test! {
    async fn a_sent_quote_expires_on_its_own_once_its_validity_has_passed(app) with |config| {
        config.maintenance_interval = StdDuration::from_secs(1);
    } {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Late SARL").await;
        let short = desk.ready(&customer, 1).await;
        let short = desk.step("sendQuote", &short, ", validityDays: 2").await;
        let long = desk.ready(&customer, 1).await;
        let long = desk.step("sendQuote", &long, ", validityDays: 30").await;

        // Nobody asks anything: the job notices the time has come.
        app.state.clock.advance(Duration::days(3));
        let expired = wait_for_status(&desk, &client.access, &short, "EXPIRED").await;
        assert_eq!(expired["validUntil"], short["validUntil"]);
        assert_eq!(desk.read(&client.access, &long).await["status"], "SENT");

        let convert = call(&app, &client.access, "convertQuoteToOrder", &expired, "").await;
        invalid(&convert, "EXPIRED", "ACCEPTED");
        let heard = events(&app, &client.access).await;
        assert!(heard.iter().any(|e| e["kind"] == "QUOTE_EXPIRED" && e["status"] == "EXPIRED"), "{heard:?}");
        assert_eq!(desk.list(json!({ "filter": { "statuses": ["EXPIRED"] } })).await, [short["number"].as_str().unwrap()]);
    }
}

db_test! {
    async fn a_quote_past_its_validity_cannot_be_accepted_even_before_the_job_runs(app) with |config| {
        config.maintenance_interval = StdDuration::from_hours(1);
    } {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Later SARL").await;
        let quote = desk.ready(&customer, 1).await;
        let quote = desk.step("sendQuote", &quote, ", validityDays: 1").await;
        app.state.clock.advance(Duration::days(1) + Duration::minutes(1));
        assert_eq!(desk.read(&client.access, &quote).await["status"], "SENT", "the job has not run yet");
        let convert = call(&app, &client.access, "convertQuoteToOrder", &quote, "").await;
        invalid(&convert, "EXPIRED", "ACCEPTED");
        assert_eq!(desk.read(desk.token(), &quote).await["transferredToOrder"], false);

        // The next pass expires it.
        let pass = maintenance::run_once(&app.state).await.unwrap();
        assert_eq!(pass, Pass { expired: 1, purged: 0 });
        assert_eq!(desk.read(&client.access, &quote).await["status"], "EXPIRED");
    }
}

db_test! {
    async fn requests_never_sent_are_purged_after_the_retention_period_and_sent_ones_are_kept(app) with |config| {
        config.maintenance_interval = StdDuration::from_hours(1);
    } {
        let admin = app.user(Role::Admin).await;
        let desk = Desk::open(&app).await;
        app.data(Some(&admin.access), "mutation { updateQuoteSettings(version: 0, input: { retentionDays: 10 }) { retentionDays } }", json!({})).await;
        let (customer, client) = desk.customer("Forgetful SARL").await;

        let priced = desk.ready(&customer, 1).await; // never sent
        let query = format!("mutation($p: ID!) {{ requestQuoteForConfiguration(productId: $p, quantity: 2) {{ {FIELDS} }} }}");
        let requested = app.data(Some(&client.access), &query, json!({ "p": desk.pen })).await["requestQuoteForConfiguration"].clone();
        assert_eq!(requested["status"], "REQUESTED");
        let sent = desk.sent(&customer, 1).await; // valid 30 days (the default)
        let short = desk.ready(&customer, 1).await;
        let short = desk.step("sendQuote", &short, ", validityDays: 5").await;
        // A revision being prepared belongs to a quote that was sent: it is not a request.
        let revision = desk.step("quoteAddCommentLine", &sent, ", text: \"R2\"").await;
        assert_eq!(revision["revision"], 2);

        app.state.clock.advance(Duration::days(6));
        let recent = desk.ready(&customer, 1).await; // five days old at the purge
        app.state.clock.advance(Duration::days(5));
        // One line each, two on the revision (its pen and the comment).
        assert_eq!(rows(&app, "quote_line").await, 7);

        let pass = maintenance::run_once(&app.state).await.unwrap();
        assert_eq!(pass, Pass { expired: 1, purged: 2 });
        assert_eq!(rows(&app, "quote_line").await, 5, "the purged quotes' lines go with them");
        for gone in [&priced, &requested] {
            assert_eq!(code(&desk.read_as(desk.token(), gone).await), "NOT_FOUND", "{}", gone["number"]);
            assert_eq!(code(&desk.read_as(&client.access, gone).await), "NOT_FOUND");
        }
        assert_eq!(desk.read(desk.token(), &sent).await["status"], "SENT");
        assert_eq!(desk.read(desk.token(), &short).await["status"], "EXPIRED");
        assert_eq!(desk.read(desk.token(), &revision).await["status"], "IN_PREPARATION");
        assert_eq!(desk.read(desk.token(), &recent).await["status"], "IN_PREPARATION");
        let listed = desk.list(json!({ "sort": { "field": "NUMBER" } })).await;
        assert_eq!(listed, [sent["number"].clone(), revision["number"].clone(), short["number"].clone(), recent["number"].clone()].map(|n| n.as_str().unwrap().to_owned()));

        // A second pass finds nothing more; numbers are never reused.
        assert_eq!(maintenance::run_once(&app.state).await.unwrap(), Pass::default());
        let next = desk.create(&customer).await;
        assert_eq!(next["number"], number(6));
    }
}

db_test! {
    async fn two_instances_running_the_job_at_once_expire_each_quote_once(app) with |config| {
        config.maintenance_interval = StdDuration::from_hours(1);
    } {
        let desk = Desk::open(&app).await;
        let (customer, client) = desk.customer("Raced SARL").await;
        let mut quotes = Vec::new();
        for _ in 0..6 {
            let quote = desk.ready(&customer, 1).await;
            quotes.push(desk.step("sendQuote", &quote, ", validityDays: 1").await);
        }
        let sibling = app.sibling().await;
        app.state.clock.advance(Duration::days(2));
        sibling.state.clock.advance(Duration::days(2));

        // Both instances' passes, and the sibling's own first pass (it starts with one), race.
        let (first, second) = tokio::join!(maintenance::run_once(&app.state), maintenance::run_once(&sibling.state));
        // A pass that loses a race may give up (the next one finishes the work); no quote is
        // expired twice.
        let done: usize = [first, second].into_iter().filter_map(Result::ok).map(|p| p.expired).sum();
        assert!(done <= 6, "{done}");
        // Later passes finish the work (on SQLite a pass that overlaps the sibling's may still
        // give up with "database is locked": try again, as the job's next tick would).
        let mut settled = false;
        for _ in 0..50 {
            if let (Ok(_), Ok(rest)) = (maintenance::run_once(&app.state).await, maintenance::run_once(&sibling.state).await)
                && rest == Pass::default()
            {
                settled = true;
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        assert!(settled, "the passes never settled");
        for quote in &quotes {
            assert_eq!(desk.read(&client.access, quote).await["status"], "EXPIRED");
        }
        let log = events(&app, desk.token()).await;
        assert_eq!(log.iter().filter(|e| e["kind"] == "QUOTE_EXPIRED").count(), 6, "one event per quote");
        sibling.stop().await;
    }
}

db_test! {
    async fn a_customer_hears_live_that_their_quote_was_sent_and_nothing_of_another_customers(app) {
        let desk = Desk::open(&app).await;
        let (mine, client) = desk.customer("Listener SARL").await;
        let (theirs, other) = desk.customer("Other SARL").await;
        let my_quote = desk.ready(&mine, 1).await;
        let their_quote = desk.ready(&theirs, 1).await;

        let mut ws = Ws::connect(&app, "graphql-transport-ws").await;
        ws.init(Some(&client.access)).await;
        let after = last_cursor(&app, &client.access).await;
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($after: String) { quoteEvents(after: $after) { kind objectType status changes } }", "variables": { "after": after } } })).await;
        ws.send(json!({ "type": "ping" })).await;
        assert_eq!(ws.next().await["type"], "pong");

        // The other customer's quote goes first, then the listener's (with another validity).
        let their_quote = desk.step("sendQuote", &their_quote, ", validityDays: 5").await;
        let my_quote = desk.step("sendQuote", &my_quote, ", validityDays: 20").await;
        let event = ws.next().await;
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(event["id"], "1");
        let event = &event["payload"]["data"]["quoteEvents"];
        assert_eq!(event["kind"], "QUOTE_SENT", "{event}");
        assert_eq!(event["objectType"], "Quote");
        assert_eq!(event["status"], "SENT");
        // The listener's own quote (valid 20 days, not 5).
        about(&event["changes"]["validUntil"]["new"], time(&my_quote["validUntil"]));

        // The other customer's next step is not heard either; the listener's own is.
        step(&app, &other.access, "declineQuote", &their_quote, ", reason: \"no\"").await;
        desk.step("withdrawQuote", &my_quote, ", reason: \"Typo\"").await;
        let event = ws.next().await;
        assert_eq!(event["payload"]["data"]["quoteEvents"]["kind"], "QUOTE_WITHDRAWN", "{event}");
        assert_eq!(event["payload"]["data"]["quoteEvents"]["status"], "WITHDRAWN");

        // Following the other customer's quote is not allowed.
        ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": "subscription($q: ID) { quoteEvents(quoteId: $q) { kind } }", "variables": { "q": their_quote["id"] } } })).await;
        let refused = ws.next().await;
        assert_eq!(refused["id"], "2", "{refused}");
        assert!(refused.to_string().contains("NOT_FOUND"), "{refused}");
    }
}
