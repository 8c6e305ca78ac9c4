//! The order desk: staff's list of orders (filters, sorts, pages), look-ups by reference,
//! recently viewed orders, payments, internal notes, calls and messages; and what a customer
//! never reads or changes.

use chrono::{Duration, Utc};
use comptoir_api::{
    auth::Role,
    kernel::ids::{self, Kind},
};
use serde_json::{Value, json};

use crate::{
    catalog::product,
    helpers::{Session, TestApp, code},
};

const ORDER_FIELDS: &str = "id number status version title customerReference deliveryDate createdAt
    total { amount } amountPaid { amount } balanceDue { amount } paid";

const LIST: &str =
    "query($first: Int, $after: String, $filter: OrderFilterInput, $sort: OrderSortInput) {
    orders(first: $first, after: $after, filter: $filter, sort: $sort) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } }";

const ORDER: &str = "query($id: ID!) { order(id: $id) { id number status version title } }";

/// The `extensions.field` of the first error.
fn field(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]["field"]
}

/// A day from today, as a GraphQL `Date`.
fn in_days(days: i64) -> String {
    (Utc::now() + Duration::days(days))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

/// A moment from now, as a GraphQL `DateTime`.
fn in_hours(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339()
}

/// A user of the customer whose GraphQL ID is `customer`.
async fn client_of(app: &TestApp, customer: &str) -> Session {
    let uuid = ids::decode(Kind::Customer, customer, "id").unwrap();
    app.user_of(Role::AccountClient, Some(uuid)).await
}

/// A manager at the order desk, with an untracked product to put on orders.
struct Desk<'a> {
    app: &'a TestApp,
    manager: Session,
    product: String,
}

impl<'a> Desk<'a> {
    async fn open(app: &'a TestApp) -> Self {
        let manager = app.user(Role::Manager).await;
        let product = product(
            app,
            &manager.access,
            json!({ "reference": "DESK-PEN", "name": "Desk pen" }),
        )
        .await;
        Self {
            app,
            manager,
            product,
        }
    }

    #[allow(clippy::unnecessary_wraps)] // what `TestApp::data` takes
    fn token(&self) -> Option<&str> {
        Some(&self.manager.access)
    }

    /// Creates a customer (with `code` when given); returns its GraphQL ID.
    async fn customer(&self, name: &str, code: Option<&str>) -> String {
        let data = self
            .app
            .data(
                self.token(),
                "mutation($input: CustomerInput!) { createCustomer(input: $input) { id } }",
                json!({ "input": { "name": name, "code": code } }),
            )
            .await;
        data["createCustomer"]["id"].as_str().unwrap().to_owned()
    }

    /// A new draft for `customer` with `header` (title, customerReference…).
    async fn draft(&self, customer: &str, header: Value) -> Value {
        let query = format!(
            "mutation($c: ID!, $input: CreateOrderInput!) {{ createOrder(customerId: $c, input: $input) {{ {ORDER_FIELDS} }} }}"
        );
        let data = self
            .app
            .data(
                self.token(),
                &query,
                json!({ "c": customer, "input": header }),
            )
            .await;
        data["createOrder"].clone()
    }

    async fn add_line(&self, order: &Value, line: Value) -> Value {
        let query = format!(
            "mutation($id: ID!, $v: Int!, $input: OrderLineInput!) {{
                orderAddLine(orderId: $id, version: $v, input: $input) {{ {ORDER_FIELDS} }} }}"
        );
        let data = self
            .app
            .data(
                self.token(),
                &query,
                json!({ "id": order["id"], "v": order["version"], "input": line }),
            )
            .await;
        data["orderAddLine"].clone()
    }

    /// Runs `name(id, version…)` on the order as the manager; returns the order it answers.
    async fn step(&self, name: &str, order: &Value, args: &str) -> Value {
        let query = format!(
            "mutation($id: ID!, $v: Int!) {{ {name}(id: $id, version: $v{args}) {{ {ORDER_FIELDS} }} }}"
        );
        let data = self
            .app
            .data(
                self.token(),
                &query,
                json!({ "id": order["id"], "v": order["version"] }),
            )
            .await;
        data[name].clone()
    }

    /// Moves a draft that has lines to `status` as staff would.
    async fn advance(&self, order: Value, status: &str) -> Value {
        let order = match status {
            "DRAFT" => order,
            "PROPOSED" => self.step("proposeOrder", &order, "").await,
            "CANCELLED" => self.step("cancelOrder", &order, "").await,
            "ON_HOLD" => self.step("holdOrder", &order, "").await,
            _ => {
                let mut order = self.step("confirmOrder", &order, "").await;
                for next in ["IN_PROGRESS", "SHIPPED", "COMPLETED"] {
                    if order["status"] == status {
                        break;
                    }
                    order = self
                        .step("setOrderStatus", &order, &format!(", status: {next}"))
                        .await;
                }
                order
            }
        };
        assert_eq!(order["status"], status, "{order}");
        order
    }

    /// An order for `customer` with `line` (the desk's product by default), moved to `status`.
    async fn order_with(&self, customer: &str, header: Value, line: Value, status: &str) -> Value {
        let order = self.draft(customer, header).await;
        let mut full = json!({ "productId": self.product, "quantity": 1 });
        for (key, value) in line.as_object().unwrap() {
            full[key] = value.clone();
        }
        let order = self.add_line(&order, full).await;
        self.advance(order, status).await
    }

    async fn order(&self, customer: &str, title: &str, status: &str) -> Value {
        self.order_with(customer, json!({ "title": title }), json!({}), status)
            .await
    }

    /// The titles the desk lists for `args` (one page), checking `totalCount` against them.
    async fn titles(&self, args: Value) -> Vec<String> {
        let data = self.app.data(self.token(), LIST, args).await;
        let titles = titles(&data);
        assert_eq!(data["orders"]["totalCount"], titles.len(), "{data}");
        titles
    }

    /// Every page of the desk for `args`, `first` at a time; checks `totalCount` on each.
    async fn pages(&self, args: &Value, first: usize) -> Vec<String> {
        let mut all = Vec::new();
        let mut after = Value::Null;
        let mut total = None;
        for _ in 0..50 {
            let mut vars = args.clone();
            vars["first"] = json!(first);
            vars["after"] = after.clone();
            let data = self.app.data(self.token(), LIST, vars).await;
            let page = titles(&data);
            assert!(page.len() <= first, "{data}");
            let count = data["orders"]["totalCount"].as_u64().unwrap();
            assert_eq!(
                *total.get_or_insert(count),
                count,
                "totalCount changes across pages"
            );
            all.extend(page);
            if data["orders"]["pageInfo"]["hasNextPage"] == false {
                assert_eq!(all.len() as u64, count, "{args}: {all:?}");
                return all;
            }
            after = data["orders"]["pageInfo"]["endCursor"].clone();
        }
        panic!("pages never end for {args}");
    }
}

fn titles(data: &Value) -> Vec<String> {
    data["orders"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges in {data}"))
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

fn kinds(timeline: &Value) -> Vec<String> {
    timeline
        .as_array()
        .unwrap_or_else(|| panic!("no timeline: {timeline}"))
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn numbers(orders: &Value) -> Vec<String> {
    orders
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {orders}"))
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect()
}

const STATUSES: [&str; 8] = [
    "DRAFT",
    "PROPOSED",
    "CONFIRMED",
    "IN_PROGRESS",
    "SHIPPED",
    "COMPLETED",
    "CANCELLED",
    "ON_HOLD",
];

db_test! {
    async fn the_desk_lists_open_orders_newest_first_and_closed_ones_only_on_request(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        // One order per status, created in this order: the title is the status.
        for status in STATUSES {
            desk.order(&acme, status, status).await;
        }
        let newest_first = |skip: &[&str]| -> Vec<String> {
            STATUSES.iter().rev().filter(|s| !skip.contains(s)).map(|s| (*s).to_owned()).collect()
        };
        assert_eq!(desk.titles(json!({})).await, newest_first(&["COMPLETED", "CANCELLED"]));
        assert_eq!(
            desk.titles(json!({ "filter": { "includeCompleted": true } })).await,
            newest_first(&["CANCELLED"])
        );
        assert_eq!(
            desk.titles(json!({ "filter": { "includeCancelled": true } })).await,
            newest_first(&["COMPLETED"])
        );
        let everything = json!({ "filter": { "includeCompleted": true, "includeCancelled": true } });
        assert_eq!(desk.titles(everything).await, newest_first(&[]));

        let statuses = |list: Value| json!({ "filter": { "statuses": list } });
        assert_eq!(desk.titles(statuses(json!(["CONFIRMED", "DRAFT", "ON_HOLD"]))).await, ["ON_HOLD", "CONFIRMED", "DRAFT"]);
        assert_eq!(desk.titles(statuses(json!(["SHIPPED"]))).await, ["SHIPPED"]);
        let completed = json!({ "filter": { "statuses": ["COMPLETED", "SHIPPED"], "includeCompleted": true } });
        assert_eq!(desk.titles(completed).await, ["COMPLETED", "SHIPPED"]);

        // The desk is staff's: customers and visitors are turned away.
        let client = client_of(&app, &acme).await;
        let forbidden = app.gql(Some(&client.access), LIST, json!({})).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        assert!(forbidden["data"].is_null() || forbidden["data"]["orders"].is_null(), "{forbidden}");
        let identified = app.user(Role::Identified).await;
        assert_eq!(code(&app.gql(Some(&identified.access), LIST, json!({})).await), "FORBIDDEN");
        assert_eq!(code(&app.gql(None, LIST, json!({})).await), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn the_desk_filters_by_customer_creation_time_and_text(app) {
        let desk = Desk::open(&app).await;
        let t = desk.manager.access.as_str();
        let acme = desk.customer("Acme", Some("ACME-01")).await;
        let globex = desk.customer("Globex", Some("GLOBEX-02")).await;
        let drill = product(&app, t, json!({ "reference": "DRILL-18V", "name": "Cordless drill" })).await;

        let first = desk.order_with(&acme, json!({ "title": "Office chairs", "customerReference": "PO-1001" }), json!({}), "CONFIRMED").await;
        let second = desk.order_with(&globex, json!({ "title": "Workshop tools" }), json!({ "productId": drill }), "DRAFT").await;
        let third = desk.order_with(&acme, json!({ "title": "Spare parts" }), json!({ "productId": drill }), "PROPOSED").await;
        let fourth = desk.order_with(&globex, json!({ "title": "Desk lamps 50% off" }), json!({}), "COMPLETED").await;

        let by_customer = |id: &str| json!({ "filter": { "customerId": id, "includeCompleted": true } });
        assert_eq!(desk.titles(by_customer(&acme)).await, ["Spare parts", "Office chairs"]);
        assert_eq!(desk.titles(by_customer(&globex)).await, ["Desk lamps 50% off", "Workshop tools"]);
        let nobody = desk.customer("Nobody", None).await;
        assert_eq!(desk.titles(by_customer(&nobody)).await, Vec::<String>::new());
        let not_a_customer = app.gql(Some(t), LIST, json!({ "filter": { "customerId": first["id"] } })).await;
        assert_eq!(code(&not_a_customer), "VALIDATION");
        assert_eq!(field(&not_a_customer), "filter.customerId");

        // `createdFrom` is inclusive, `createdTo` exclusive.
        let window = json!({ "filter": { "createdFrom": second["createdAt"], "createdTo": fourth["createdAt"], "includeCompleted": true } });
        assert_eq!(desk.titles(window).await, ["Spare parts", "Workshop tools"]);
        let from = json!({ "filter": { "createdFrom": third["createdAt"], "includeCompleted": true } });
        assert_eq!(desk.titles(from).await, ["Desk lamps 50% off", "Spare parts"]);
        let to = json!({ "filter": { "createdTo": second["createdAt"] } });
        assert_eq!(desk.titles(to).await, ["Office chairs"]);

        // Text: in the number, title, customer reference, customer code and products, any case.
        let search = |s: &str| json!({ "filter": { "search": s, "includeCompleted": true } });
        assert_eq!(desk.titles(search("drill-18v")).await, ["Spare parts", "Workshop tools"]);
        assert_eq!(desk.titles(search("CORDLESS")).await, ["Spare parts", "Workshop tools"]);
        assert_eq!(desk.titles(search("chairs")).await, ["Office chairs"]);
        assert_eq!(desk.titles(search("po-1001")).await, ["Office chairs"]);
        assert_eq!(desk.titles(search("globex-02")).await, ["Desk lamps 50% off", "Workshop tools"]);
        let number = third["number"].as_str().unwrap().to_lowercase();
        assert_eq!(desk.titles(search(&number)).await, ["Spare parts"]);
        assert_eq!(desk.titles(search("50%")).await, ["Desk lamps 50% off"]);
        assert_eq!(desk.titles(search("%")).await, ["Desk lamps 50% off"]);
        assert_eq!(desk.titles(search("_")).await, Vec::<String>::new());
        assert_eq!(desk.titles(search("nothing like it")).await, Vec::<String>::new());
        // Filters add up.
        let both = json!({ "filter": { "search": "drill", "customerId": acme, "statuses": ["PROPOSED", "CONFIRMED"] } });
        assert_eq!(desk.titles(both).await, ["Spare parts"]);
    }
}

/// Five orders for the sorting tests: numbers follow creation (Echo first).
async fn sortable_orders(desk: &Desk<'_>) {
    let app = desk.app;
    let t = desk.manager.access.as_str();
    let bravo_co = desk.customer("Bravo Co", Some("BBB")).await;
    let alpha_co = desk.customer("Alpha Co", Some("AAA")).await;
    let charlie_co = desk.customer("Charlie Co", Some("CCC")).await;
    let anvil = product(app, t, json!({ "reference": "ANVIL", "name": "Anvil" })).await;
    let clamp = product(app, t, json!({ "reference": "CLAMP", "name": "Clamp" })).await;
    let bolt = product(app, t, json!({ "reference": "BOLT", "name": "Bolt" })).await;
    let orders = [
        ("Echo", &bravo_co, &clamp, Some(9)),
        ("Alpha", &charlie_co, &bolt, None),
        ("Delta", &alpha_co, &anvil, Some(3)),
        ("Charlie", &charlie_co, &clamp, None),
        ("Bravo", &bravo_co, &bolt, Some(6)),
    ];
    for (title, customer, product, days) in orders {
        let mut line = json!({ "productId": product, "quantity": 2 });
        if let Some(days) = days {
            line["deliveryDate"] = json!(in_days(days));
        }
        desk.order_with(customer, json!({ "title": title }), line, "CONFIRMED")
            .await;
    }
}

db_test! {
    async fn the_desk_sorts_by_number_title_customer_code_product_and_delivery_date(app) {
        let desk = Desk::open(&app).await;
        sortable_orders(&desk).await;
        let sorted = |field: &str, descending: Option<bool>| json!({ "sort": { "field": field, "descending": descending } });
        let creation = ["Echo", "Alpha", "Delta", "Charlie", "Bravo"];
        let mut newest_first = creation;
        newest_first.reverse();
        assert_eq!(desk.titles(json!({})).await, newest_first);
        assert_eq!(desk.titles(sorted("CREATED_AT", None)).await, newest_first, "CREATED_AT is newest first by default");
        assert_eq!(desk.titles(sorted("CREATED_AT", Some(false))).await, creation);
        assert_eq!(desk.titles(sorted("NUMBER", None)).await, creation, "other fields are ascending by default");
        assert_eq!(desk.titles(sorted("NUMBER", Some(false))).await, creation);
        assert_eq!(desk.titles(sorted("NUMBER", Some(true))).await, newest_first);
        assert_eq!(desk.titles(sorted("TITLE", None)).await, ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]);
        assert_eq!(desk.titles(sorted("TITLE", Some(true))).await, ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]);
        // Ties keep a stable order (by ID, that is by creation here).
        assert_eq!(desk.titles(sorted("CUSTOMER_CODE", None)).await, ["Delta", "Echo", "Bravo", "Alpha", "Charlie"]);
        assert_eq!(desk.titles(sorted("PRODUCT", None)).await, ["Delta", "Alpha", "Bravo", "Echo", "Charlie"]);
        assert_eq!(desk.titles(sorted("DELIVERY_DATE", None)).await, ["Delta", "Bravo", "Echo", "Alpha", "Charlie"]);

        // The order's delivery date is its lines' earliest.
        let data = app.data(desk.token(), "{ orders(sort: { field: DELIVERY_DATE }) { edges { node { deliveryDate } } } }", json!({})).await;
        let dates: Vec<Value> = data["orders"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["deliveryDate"].clone()).collect();
        assert_eq!(dates, [json!(in_days(3)), json!(in_days(6)), json!(in_days(9)), Value::Null, Value::Null]);
    }
}

db_test! {
    async fn orders_without_a_delivery_date_stay_last_when_sorting_by_delivery_date_descending(app) {
        let desk = Desk::open(&app).await;
        sortable_orders(&desk).await;
        let descending = json!({ "sort": { "field": "DELIVERY_DATE", "descending": true } });
        // The sort field promises "orders without one last"; paging must agree with one page.
        // Descending, ties come in reverse creation order (the ID breaks them, descending too).
        assert_eq!(desk.titles(descending.clone()).await, ["Echo", "Bravo", "Delta", "Charlie", "Alpha"]);
        assert_eq!(desk.pages(&descending, 2).await, ["Echo", "Bravo", "Delta", "Charlie", "Alpha"]);
    }
}

db_test! {
    async fn paging_through_the_desk_returns_every_order_once_in_every_sort(app) {
        let desk = Desk::open(&app).await;
        sortable_orders(&desk).await;
        // Two more orders that tie with others on every sort field but the number.
        let alpha_co = desk.customer("Alpha Co again", Some("AAA-2")).await;
        desk.order(&alpha_co, "Alpha", "CONFIRMED").await;
        desk.order(&alpha_co, "Alpha", "IN_PROGRESS").await;
        let mut sorts = vec![json!({})];
        for field in ["CREATED_AT", "NUMBER", "TITLE", "CUSTOMER_CODE", "PRODUCT", "DELIVERY_DATE"] {
            for descending in [false, true] {
                sorts.push(json!({ "sort": { "field": field, "descending": descending } }));
            }
        }
        for args in &sorts {
            let one_page = desk.titles(args.clone()).await;
            assert_eq!(one_page.len(), 7, "{args}");
            for first in [1, 2, 3] {
                assert_eq!(desk.pages(args, first).await, one_page, "{args} by {first}");
            }
        }
        // Paging with a filter counts the filtered orders only ("alpha" is also in the contact
        // name of Alpha Co's order, Delta).
        let filtered = json!({ "filter": { "search": "alpha" }, "sort": { "field": "TITLE" } });
        assert_eq!(desk.pages(&filtered, 2).await, ["Alpha", "Alpha", "Alpha", "Delta"]);

        // A cursor belongs to the sort it was made for.
        let data = app.data(desk.token(), LIST, json!({ "first": 2, "sort": { "field": "NUMBER" } })).await;
        let cursor = data["orders"]["pageInfo"]["endCursor"].clone();
        for other in [
            json!({ "field": "TITLE" }),
            json!({ "field": "NUMBER", "descending": true }),
            json!({ "field": "CREATED_AT" }),
        ] {
            let body = app.gql(desk.token(), LIST, json!({ "first": 2, "after": cursor, "sort": other })).await;
            assert_eq!(code(&body), "VALIDATION", "{other}: {body}");
            assert_eq!(field(&body), "after");
        }
        let default_cursor = app.data(desk.token(), LIST, json!({ "first": 2 })).await["orders"]["pageInfo"]["endCursor"].clone();
        let body = app.gql(desk.token(), LIST, json!({ "after": default_cursor, "sort": { "field": "NUMBER" } })).await;
        assert_eq!(code(&body), "VALIDATION");
        for garbage in ["not a cursor", "eyJzb3J0IjoiTnVtYmVyOnRydWUifQ"] {
            let body = app.gql(desk.token(), LIST, json!({ "after": garbage })).await;
            assert_eq!(code(&body), "VALIDATION", "{garbage}");
        }
        for first in [-1, 101] {
            let body = app.gql(desk.token(), LIST, json!({ "first": first })).await;
            assert_eq!(code(&body), "VALIDATION", "{first}");
        }
    }
}

const BY_REFERENCE: &str =
    "query($r: String!) { ordersByReference(reference: $r) { number title customerReference } }";

db_test! {
    async fn orders_are_found_by_number_and_by_customer_reference(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        let globex = desk.customer("Globex", None).await;
        let mine = desk.order_with(&acme, json!({ "title": "Acme's", "customerReference": "PO-77" }), json!({}), "PROPOSED").await;
        let theirs = desk.order_with(&globex, json!({ "title": "Globex's", "customerReference": "PO-77" }), json!({}), "CONFIRMED").await;
        let acme_draft = desk.order_with(&acme, json!({ "title": "Acme draft", "customerReference": "PO-78" }), json!({}), "DRAFT").await;
        let find = |token: String, reference: String| {
            let app = &app;
            async move {
                let data = app.data(Some(&token), BY_REFERENCE, json!({ "r": reference })).await;
                let mut found = numbers(&data["ordersByReference"]);
                found.sort();
                found
            }
        };
        let number = |order: &Value| order["number"].as_str().unwrap().to_owned();
        let m = desk.manager.access.clone();

        // Staff: across customers, drafts included; the number in any case and with spaces.
        let mut both = vec![number(&mine), number(&theirs)];
        both.sort();
        assert_eq!(find(m.clone(), "PO-77".into()).await, both);
        assert_eq!(find(m.clone(), number(&theirs)).await, [number(&theirs)]);
        assert_eq!(find(m.clone(), format!("  {}  ", number(&mine).to_lowercase())).await, [number(&mine)]);
        assert_eq!(find(m.clone(), "PO-78".into()).await, [number(&acme_draft)]);
        assert_eq!(find(m.clone(), "PO-7".into()).await, Vec::<String>::new(), "exact, not a prefix");
        let full = app.data(Some(&m), BY_REFERENCE, json!({ "r": number(&mine) })).await;
        assert_eq!(full["ordersByReference"], json!([{ "number": number(&mine), "title": "Acme's", "customerReference": "PO-77" }]));

        // A customer: their own orders only, never a draft.
        let alice = client_of(&app, &acme).await.access;
        assert_eq!(find(alice.clone(), "PO-77".into()).await, [number(&mine)]);
        assert_eq!(find(alice.clone(), number(&mine)).await, [number(&mine)]);
        assert_eq!(find(alice.clone(), number(&theirs)).await, Vec::<String>::new());
        assert_eq!(find(alice.clone(), number(&acme_draft)).await, Vec::<String>::new());
        assert_eq!(find(alice, "PO-78".into()).await, Vec::<String>::new());
        let bob = client_of(&app, &globex).await.access;
        assert_eq!(find(bob, "PO-77".into()).await, [number(&theirs)]);
        // A user without a customer finds nothing; a visitor must log in.
        let loner = app.user(Role::Identified).await.access;
        assert_eq!(find(loner, "PO-77".into()).await, Vec::<String>::new());
        let public = app.gql(None, BY_REFERENCE, json!({ "r": "PO-77" })).await;
        assert_eq!(code(&public), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn an_empty_reference_is_refused(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        desk.order(&acme, "No reference", "CONFIRMED").await;
        let alice = client_of(&app, &acme).await;
        for token in [&desk.manager.access, &alice.access] {
            for reference in ["", "   "] {
                let body = app.gql(Some(token), BY_REFERENCE, json!({ "r": reference })).await;
                assert_eq!(code(&body), "VALIDATION", "{reference:?}");
                assert_eq!(body["errors"][0]["extensions"]["field"], "reference");
            }
        }
    }
}

const RECENT: &str = "query($limit: Int! = 10) { recentlyViewedOrders(limit: $limit) { title } }";

db_test! {
    async fn recently_viewed_orders_are_each_managers_own_most_recent_first(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        let mut orders = Vec::new();
        for title in ["A", "B", "C", "D"] {
            orders.push(desk.order(&acme, title, "CONFIRMED").await);
        }
        let recent = |token: String, limit: u32| {
            let app = &app;
            async move {
                let data = app.data(Some(&token), RECENT, json!({ "limit": limit })).await;
                data["recentlyViewedOrders"].as_array().unwrap().iter().map(|o| o["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        let first = desk.manager.access.clone();
        assert_eq!(recent(first.clone(), 10).await, Vec::<String>::new(), "creating is not viewing");
        // Not the order of creation: what was opened last comes first, once.
        for index in [2, 0, 1, 0, 2] {
            app.data(Some(&first), ORDER, json!({ "id": orders[index]["id"] })).await;
        }
        assert_eq!(recent(first.clone(), 10).await, ["C", "A", "B"]);
        assert_eq!(recent(first.clone(), 2).await, ["C", "A"]);
        // Listing the desk or looking up a reference is not opening an order.
        app.data(Some(&first), LIST, json!({})).await;
        app.data(Some(&first), BY_REFERENCE, json!({ "r": orders[3]["number"] })).await;
        assert_eq!(recent(first.clone(), 10).await, ["C", "A", "B"]);

        let second = app.user(Role::Manager).await.access;
        assert_eq!(recent(second.clone(), 10).await, Vec::<String>::new());
        app.data(Some(&second), ORDER, json!({ "id": orders[2]["id"] })).await;
        app.data(Some(&second), ORDER, json!({ "id": orders[3]["id"] })).await;
        assert_eq!(recent(second, 10).await, ["D", "C"]);
        assert_eq!(recent(first.clone(), 10).await, ["C", "A", "B"], "the other manager's views are theirs");
        let admin = app.user(Role::Admin).await.access;
        app.data(Some(&admin), ORDER, json!({ "id": orders[1]["id"] })).await;
        assert_eq!(recent(admin, 10).await, ["B"]);

        // A customer reading their order records nothing, and has no such list.
        let alice = client_of(&app, &acme).await;
        app.data(Some(&alice.access), ORDER, json!({ "id": orders[3]["id"] })).await;
        assert_eq!(recent(first, 10).await, ["C", "A", "B"]);
        let forbidden = app.gql(Some(&alice.access), RECENT, json!({})).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        assert_eq!(code(&app.gql(None, RECENT, json!({})).await), "UNAUTHENTICATED");
    }
}

const PAY: &str = "mutation($id: ID!, $input: PaymentInput!) {
    recordPayment(orderId: $id, input: $input) { amountPaid { amount } balanceDue { amount } paid total { amount } } }";

const PAYMENTS: &str = "query($id: ID!) { order(id: $id) {
    amountPaid { amount } balanceDue { amount } paid
    payments { amount { amount } method paidOn reference }
    timeline { kind } } }";

db_test! {
    async fn payments_add_up_to_the_cent_and_never_exceed_the_balance(app) {
        let desk = Desk::open(&app).await;
        let t = desk.token();
        let acme = desk.customer("Acme", None).await;
        let thirds = product(&app, &desk.manager.access, json!({ "reference": "THIRD", "unitPrice": "33.33", "vatRate": "0" })).await;
        let order = desk.order_with(&acme, json!({ "title": "Paid in thirds" }), json!({ "productId": thirds, "quantity": 3 }), "CONFIRMED").await;
        assert_eq!(order["total"]["amount"], "99.99");
        assert_eq!(order["balanceDue"]["amount"], "99.99");
        assert_eq!(order["paid"], false);
        let id = order["id"].clone();
        let pay = |amount: &str, reference: &str| json!({ "id": id, "input": { "amount": amount, "method": "transfer", "paidOn": in_days(0), "reference": reference } });

        let once = app.data(t, PAY, pay("33.33", "T-1")).await;
        assert_eq!(once["recordPayment"], json!({ "amountPaid": { "amount": "33.33" }, "balanceDue": { "amount": "66.66" }, "paid": false, "total": { "amount": "99.99" } }));
        let twice = app.data(t, PAY, pay("33.33", "T-2")).await;
        assert_eq!(twice["recordPayment"]["balanceDue"]["amount"], "33.33");

        // More than is due, less than a cent, nothing or less: refused, nothing recorded.
        let over = app.gql(t, PAY, pay("33.34", "T-X")).await;
        assert_eq!(code(&over), "VALIDATION", "{over}");
        assert_eq!(field(&over), "amount");
        for amount in ["0", "-5", "0.001", "10.005"] {
            let body = app.gql(t, PAY, pay(amount, "T-X")).await;
            assert_eq!(code(&body), "VALIDATION", "{amount}");
            assert_eq!(field(&body), "amount", "{amount}");
        }
        let no_method = app.gql(t, PAY, json!({ "id": id, "input": { "amount": "1", "method": " ", "paidOn": in_days(0) } })).await;
        assert_eq!(code(&no_method), "VALIDATION");
        assert_eq!(field(&no_method), "method");

        let thrice = app.data(t, PAY, pay("33.33", "T-3")).await;
        assert_eq!(thrice["recordPayment"], json!({ "amountPaid": { "amount": "99.99" }, "balanceDue": { "amount": "0.00" }, "paid": true, "total": { "amount": "99.99" } }));
        let cent = app.gql(t, PAY, pay("0.01", "T-4")).await;
        assert_eq!(code(&cent), "VALIDATION");
        assert_eq!(field(&cent), "amount");

        let staff = app.data(t, PAYMENTS, json!({ "id": id })).await;
        let payments = staff["order"]["payments"].as_array().unwrap();
        assert_eq!(payments.len(), 3, "{staff}");
        let references: Vec<&str> = payments.iter().map(|p| p["reference"].as_str().unwrap()).collect();
        assert_eq!(references, ["T-1", "T-2", "T-3"]);
        assert!(payments.iter().all(|p| p["amount"]["amount"] == "33.33" && p["method"] == "transfer" && p["paidOn"] == json!(in_days(0))), "{staff}");
        assert_eq!(kinds(&staff["order"]["timeline"]).iter().filter(|k| *k == "PAYMENT_RECORDED").count(), 3);

        // The customer sees what they owe, not the payments, and cannot record one.
        let alice = client_of(&app, &acme).await;
        let own = app.data(Some(&alice.access), PAYMENTS, json!({ "id": id })).await;
        assert_eq!(own["order"]["payments"], json!([]));
        assert_eq!(own["order"]["balanceDue"]["amount"], "0.00");
        assert!(!kinds(&own["order"]["timeline"]).contains(&"PAYMENT_RECORDED".to_owned()), "{own}");
        let other = desk.order(&acme, "Unpaid", "CONFIRMED").await;
        let forbidden = app.gql(Some(&alice.access), PAY, json!({ "id": other["id"], "input": { "amount": "1", "method": "card", "paidOn": in_days(0) } })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        let untouched = app.data(t, PAYMENTS, json!({ "id": other["id"] })).await;
        assert_eq!(untouched["order"]["amountPaid"]["amount"], "0.00");
    }
}

db_test! {
    async fn payments_sent_at_once_never_exceed_the_total(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        let thirds = product(&app, &desk.manager.access, json!({ "reference": "THIRD", "unitPrice": "33.33", "vatRate": "0" })).await;
        let order = desk.order_with(&acme, json!({}), json!({ "productId": thirds, "quantity": 3 }), "CONFIRMED").await;
        let attempts = (0..6).map(|i| {
            let input = json!({ "amount": "33.33", "method": "card", "paidOn": in_days(0), "reference": format!("C-{i}") });
            app.gql(desk.token(), PAY, json!({ "id": order["id"], "input": input }))
        });
        let results = futures_util::future::join_all(attempts).await;
        let accepted = results.iter().filter(|r| r.get("errors").is_none()).count();
        assert_eq!(accepted, 3, "{results:?}");
        for refused in results.iter().filter(|r| r.get("errors").is_some()) {
            assert_eq!(code(refused), "VALIDATION", "{refused}");
        }
        let read = app.data(desk.token(), PAYMENTS, json!({ "id": order["id"] })).await;
        assert_eq!(read["order"]["amountPaid"]["amount"], "99.99");
        assert_eq!(read["order"]["payments"].as_array().unwrap().len(), 3);
        // A cancelled order takes no payment.
        let cancelled = desk.order(&acme, "Cancelled", "CANCELLED").await;
        let input = json!({ "amount": "1", "method": "card", "paidOn": in_days(0) });
        let refused = app.gql(desk.token(), PAY, json!({ "id": cancelled["id"], "input": input })).await;
        assert_eq!(code(&refused), "INVALID_TRANSITION", "{refused}");
    }
}

const NOTE: &str = "mutation($id: ID!, $kind: OrderNoteKind! = INTERNAL, $body: String!, $line: ID) {
    addOrderNote(orderId: $id, kind: $kind, body: $body, lineId: $line) { id kind body lineId author { id } } }";

const CALL: &str = "mutation($id: ID!, $at: DateTime!, $who: String!, $note: String! = \"\", $manager: ID) {
    scheduleCall(orderId: $id, at: $at, withWhom: $who, note: $note, managerId: $manager) { id orderId withWhom note manager { id } } }";

const DESK_VIEW: &str = "query($id: ID!) { order(id: $id) {
    notes { kind body lineId } scheduledCalls { withWhom note } timeline { kind } } }";

db_test! {
    async fn internal_notes_and_calls_are_for_staff_only(app) {
        let desk = Desk::open(&app).await;
        let t = desk.token();
        let acme = desk.customer("Acme", None).await;
        let order = desk.order(&acme, "Noted", "CONFIRMED").await;
        let id = order["id"].clone();
        let line = app.data(t, "query($id: ID!) { order(id: $id) { lines { id } } }", json!({ "id": id })).await["order"]["lines"][0]["id"].clone();

        let note = app.data(t, NOTE, json!({ "id": id, "body": "Slow payer: ask for a deposit" })).await;
        assert_eq!(note["addOrderNote"]["kind"], "INTERNAL");
        assert_eq!(note["addOrderNote"]["author"]["id"], desk.manager.id);
        let on_line = app.data(t, NOTE, json!({ "id": id, "kind": "PURCHASE_ORDER", "body": "PO covers 1 unit only", "line": line })).await;
        assert_eq!(on_line["addOrderNote"]["lineId"], line);
        let call = app.data(t, CALL, json!({ "id": id, "at": in_hours(26), "who": "Ann at Acme", "note": "Deposit" })).await;
        assert_eq!(call["scheduleCall"]["orderId"], id);
        assert_eq!(call["scheduleCall"]["manager"]["id"], desk.manager.id, "the caller by default");
        app.data(t, PAY, json!({ "id": id, "input": { "amount": "1", "method": "cash", "paidOn": in_days(0) } })).await;

        let staff = app.data(t, DESK_VIEW, json!({ "id": id })).await;
        assert_eq!(staff["order"]["notes"], json!([
            { "kind": "INTERNAL", "body": "Slow payer: ask for a deposit", "lineId": null },
            { "kind": "PURCHASE_ORDER", "body": "PO covers 1 unit only", "lineId": line },
        ]));
        assert_eq!(staff["order"]["scheduledCalls"], json!([{ "withWhom": "Ann at Acme", "note": "Deposit" }]));
        let staff_kinds = kinds(&staff["order"]["timeline"]);
        for kind in ["NOTE_ADDED", "CALL_SCHEDULED", "PAYMENT_RECORDED"] {
            assert!(staff_kinds.contains(&kind.to_owned()), "{kind} in {staff_kinds:?}");
        }
        assert_eq!(staff_kinds[0], "PAYMENT_RECORDED", "newest first: {staff_kinds:?}");

        let alice = client_of(&app, &acme).await;
        let a = Some(alice.access.as_str());
        let own = app.data(a, DESK_VIEW, json!({ "id": id })).await;
        assert_eq!(own["order"]["notes"], json!([]));
        assert_eq!(own["order"]["scheduledCalls"], json!([]));
        let own_kinds = kinds(&own["order"]["timeline"]);
        assert!(own_kinds.contains(&"ORDER_CONFIRMED".to_owned()), "{own_kinds:?}");
        for kind in ["NOTE_ADDED", "CALL_SCHEDULED", "PAYMENT_RECORDED"] {
            assert!(!own_kinds.contains(&kind.to_owned()), "{kind} in {own_kinds:?}");
        }
        // Nor in the customer's event log.
        let log = app.data(a, "{ events(first: 100) { edges { node { kind } } } }", json!({})).await;
        let logged: Vec<&str> = log["events"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["kind"].as_str().unwrap()).collect();
        assert!(logged.contains(&"ORDER_CONFIRMED"), "{logged:?}");
        for kind in ["NOTE_ADDED", "CALL_SCHEDULED", "PAYMENT_RECORDED"] {
            assert!(!logged.contains(&kind), "{kind} in {logged:?}");
        }
        // And they cannot write them.
        let forbidden = app.gql(a, NOTE, json!({ "id": id, "body": "Let me in" })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        let forbidden = app.gql(a, CALL, json!({ "id": id, "at": in_hours(30), "who": "Me" })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");

        // Notes need a body, calls a future time and someone to call; lines must be the order's.
        let empty = app.gql(t, NOTE, json!({ "id": id, "body": "  " })).await;
        assert_eq!((code(&empty), field(&empty)), ("VALIDATION", &json!("body")));
        let other = desk.order(&acme, "Other", "DRAFT").await;
        let other_line = app.data(t, "query($id: ID!) { order(id: $id) { lines { id } } }", json!({ "id": other["id"] })).await["order"]["lines"][0]["id"].clone();
        let wrong_line = app.gql(t, NOTE, json!({ "id": id, "body": "x", "line": other_line })).await;
        assert_eq!((code(&wrong_line), field(&wrong_line)), ("NOT_FOUND", &json!("lineId")));
        let past = app.gql(t, CALL, json!({ "id": id, "at": in_hours(-1), "who": "Ann" })).await;
        assert_eq!((code(&past), field(&past)), ("VALIDATION", &json!("at")));
        let nobody = app.gql(t, CALL, json!({ "id": id, "at": in_hours(5), "who": "" })).await;
        assert_eq!((code(&nobody), field(&nobody)), ("VALIDATION", &json!("withWhom")));
        let staff = app.data(t, DESK_VIEW, json!({ "id": id })).await;
        assert_eq!(staff["order"]["notes"].as_array().unwrap().len(), 2);
        assert_eq!(staff["order"]["scheduledCalls"].as_array().unwrap().len(), 1);
    }
}

const AGENDA: &str = "query($from: DateTime!, $to: DateTime!) { myAgenda(from: $from, to: $to) { withWhom orderId } }";

db_test! {
    async fn my_agenda_lists_the_callers_calls_soonest_first(app) {
        let desk = Desk::open(&app).await;
        let t = desk.token();
        let acme = desk.customer("Acme", None).await;
        let first = desk.order(&acme, "First", "CONFIRMED").await;
        let second = desk.order(&acme, "Second", "DRAFT").await;
        let colleague = app.user(Role::Manager).await;
        // One whole second to count from (PostgreSQL keeps microseconds), so that ranges can start
        // or end exactly on a call.
        let now = chrono::DateTime::from_timestamp(Utc::now().timestamp() + 1, 0).unwrap();
        let at = |hours: i64| (now + Duration::hours(hours)).to_rfc3339();
        let schedule = |order: &Value, hours: i64, who: &str, manager: Option<&str>| {
            json!({ "id": order["id"], "at": at(hours), "who": who, "manager": manager })
        };
        app.data(t, CALL, schedule(&first, 72, "in three days", None)).await;
        app.data(t, CALL, schedule(&second, 24, "tomorrow", None)).await;
        app.data(t, CALL, schedule(&first, 240, "in ten days", None)).await;
        app.data(t, CALL, schedule(&first, 48, "for my colleague", Some(&colleague.id))).await;
        app.data(Some(&colleague.access), CALL, schedule(&second, 2, "colleague's own", None)).await;

        let agenda = |token: String, from: i64, to: i64| {
            let app = &app;
            async move {
                let data = app.data(Some(&token), AGENDA, json!({ "from": at(from), "to": at(to) })).await;
                data["myAgenda"].as_array().unwrap().iter().map(|c| c["withWhom"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        let me = desk.manager.access.clone();
        assert_eq!(agenda(me.clone(), 0, 24 * 7).await, ["tomorrow", "in three days"]);
        assert_eq!(agenda(me.clone(), 0, 24 * 30).await, ["tomorrow", "in three days", "in ten days"]);
        assert_eq!(agenda(me.clone(), 48, 24 * 30).await, ["in three days", "in ten days"]);
        assert_eq!(agenda(colleague.access.clone(), 0, 24 * 7).await, ["colleague's own", "for my colleague"]);
        // `from` is inclusive, `to` exclusive.
        assert_eq!(agenda(colleague.access.clone(), 2, 48).await, ["colleague's own"]);
        assert_eq!(agenda(colleague.access.clone(), 48, 49).await, ["for my colleague"]);
        let data = app.data(t, AGENDA, json!({ "from": at(0), "to": at(30) })).await;
        assert_eq!(data["myAgenda"], json!([{ "withWhom": "tomorrow", "orderId": second["id"] }]));

        // A call for someone who is not staff is refused.
        let client = client_of(&app, &acme).await;
        let not_staff = app.gql(t, CALL, schedule(&first, 5, "x", Some(&client.id))).await;
        assert_eq!((code(&not_staff), field(&not_staff)), ("NOT_FOUND", &json!("managerId")));
        // The range must go forward, a year at most; customers have no agenda.
        for (from, to) in [(48, 24), (0, 0), (0, 24 * 400)] {
            let body = app.gql(t, AGENDA, json!({ "from": at(from), "to": at(to) })).await;
            assert_eq!(code(&body), "VALIDATION", "{from}..{to}");
        }
        let forbidden = app.gql(Some(&client.access), AGENDA, json!({ "from": at(0), "to": at(24) })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
    }
}

const SEND: &str = "mutation($id: ID!, $channel: MessageChannel!, $subject: String! = \"\", $body: String! = \"\") {
    sendOrderMessage(orderId: $id, channel: $channel, template: FREE, subject: $subject, body: $body) }";

const TIMELINE: &str = "query($id: ID!) { order(id: $id) { timeline { kind changes } } }";

db_test! {
    async fn messages_about_an_order_go_to_its_contact_and_show_on_both_timelines(app) {
        let desk = Desk::open(&app).await;
        let t = desk.token();
        let acme = desk.customer("Acme", None).await;
        app.data(
            t,
            "mutation($c: ID!) { addCustomerContact(customerId: $c, input: { name: \"Ann\", email: \"ann@acme.test\", isPrimary: true }) { id } }",
            json!({ "c": acme }),
        )
        .await;
        let order = desk.order(&acme, "Pallets", "CONFIRMED").await;
        let id = order["id"].clone();
        let contact = app.data(t, "query($id: ID!) { order(id: $id) { contact { name email phone } } }", json!({ "id": id })).await;
        assert_eq!(contact["order"]["contact"], json!({ "name": "Ann", "email": "ann@acme.test", "phone": null }));

        let sms = app.gql(t, SEND, json!({ "id": id, "channel": "SMS", "body": "Your pallets leave Monday" })).await;
        assert_eq!(code(&sms), "VALIDATION", "{sms}");
        assert_eq!(field(&sms), "channel");
        let no_subject = app.gql(t, SEND, json!({ "id": id, "channel": "EMAIL", "body": "Hello" })).await;
        assert_eq!((code(&no_subject), field(&no_subject)), ("VALIDATION", &json!("subject")));
        let no_body = app.gql(t, SEND, json!({ "id": id, "channel": "EMAIL", "subject": "Hello" })).await;
        assert_eq!((code(&no_body), field(&no_body)), ("VALIDATION", &json!("body")));

        let sent = app.data(t, SEND, json!({ "id": id, "channel": "EMAIL", "subject": "Delivery", "body": "Your pallets leave Monday" })).await;
        let message = sent["sendOrderMessage"].as_str().unwrap();
        assert!(ids::decode(Kind::OutboxMessage, message, "id").is_ok(), "{message}");

        let staff = app.data(t, TIMELINE, json!({ "id": id })).await;
        let entry = &staff["order"]["timeline"][0];
        assert_eq!(entry["kind"], "MESSAGE_SENT", "{staff}");
        assert_eq!(entry["changes"]["channel"], "EMAIL");
        assert_eq!(entry["changes"]["to"], "ann@acme.test");
        let alice = client_of(&app, &acme).await;
        let own = app.data(Some(&alice.access), TIMELINE, json!({ "id": id })).await;
        assert_eq!(kinds(&own["order"]["timeline"]).iter().filter(|k| *k == "MESSAGE_SENT").count(), 1, "{own}");
        assert_eq!(own["order"]["timeline"][0]["kind"], "MESSAGE_SENT");

        // The email leaves through the outbox (into the mail folder here).
        let dir = app.mail_dir();
        let mut delivered = false;
        for _ in 0..100 {
            delivered = std::fs::read_dir(&dir).into_iter().flatten().flatten().any(|entry| {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                text.contains("ann@acme.test") && text.contains("Your pallets leave Monday")
            });
            if delivered {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(delivered, "no email in {}", dir.display());

        // Customers do not send desk messages; a contact without an email gets none.
        let forbidden = app.gql(Some(&alice.access), SEND, json!({ "id": id, "channel": "EMAIL", "subject": "s", "body": "b" })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        let globex = desk.customer("Globex", None).await;
        let silent = desk.order(&globex, "No contact", "CONFIRMED").await;
        let no_email = app.gql(t, SEND, json!({ "id": silent["id"], "channel": "EMAIL", "subject": "s", "body": "b" })).await;
        assert_eq!((code(&no_email), field(&no_email)), ("VALIDATION", &json!("channel")));
    }
}

db_test! {
    async fn a_customer_never_reads_or_changes_another_customers_order(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        let globex = desk.customer("Globex", None).await;
        let alice = client_of(&app, &acme).await;
        let bob = client_of(&app, &globex).await;
        let theirs = desk.order(&globex, "Globex's", "PROPOSED").await;
        let line = app.data(desk.token(), "query($id: ID!) { order(id: $id) { lines { id } } }", json!({ "id": theirs["id"] })).await["order"]["lines"][0]["id"].clone();
        let vars = json!({ "id": theirs["id"], "v": theirs["version"], "line": line });

        let read = app.gql(Some(&alice.access), ORDER, vars.clone()).await;
        assert_eq!(code(&read), "NOT_FOUND", "{read}");
        for op in [
            "mutation($id: ID!, $v: Int!) { cancelOrder(id: $id, version: $v) { id } }",
            "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { id } }",
            "mutation($id: ID!, $v: Int!) { replyToOrder(id: $id, version: $v, comment: \"Cheaper please\") { id } }",
            "mutation($id: ID!, $v: Int!, $line: ID!) { replyToOrder(id: $id, version: $v, lines: [{ lineId: $line, quantity: 9 }]) { id } }",
            "mutation($id: ID!) { markOrderSeen(id: $id) { id } }",
        ] {
            let body = app.gql(Some(&alice.access), op, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{op}: {body}");
        }
        // Nothing happened to it: Globex still holds the proposal, at the same version.
        let own = app.data(Some(&bob.access), ORDER, vars.clone()).await;
        assert_eq!(own["order"]["status"], "PROPOSED");
        assert_eq!(own["order"]["version"], theirs["version"]);
        let lines = app.data(Some(&bob.access), "query($id: ID!) { order(id: $id) { lines { quantity } } }", vars.clone()).await;
        assert_eq!(lines["order"]["lines"], json!([{ "quantity": 1 }]));
        let mine = app.data(Some(&alice.access), "{ myOrders { totalCount } }", json!({})).await;
        assert_eq!(mine["myOrders"]["totalCount"], 0);
        // Bob can act on it.
        let accepted = app.data(Some(&bob.access), "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { status } }", vars).await;
        assert_eq!(accepted["acceptOrder"]["status"], "CONFIRMED");
    }
}

db_test! {
    async fn a_customer_sees_a_managers_draft_only_once_it_is_proposed(app) {
        let desk = Desk::open(&app).await;
        let acme = desk.customer("Acme", None).await;
        let alice = client_of(&app, &acme).await;
        let a = Some(alice.access.as_str());
        let draft = desk.order_with(&acme, json!({ "title": "Being composed", "customerReference": "PO-9" }), json!({}), "DRAFT").await;
        let vars = json!({ "id": draft["id"], "v": draft["version"] });

        let hidden = app.gql(a, ORDER, vars.clone()).await;
        assert_eq!(code(&hidden), "NOT_FOUND");
        for op in [
            "mutation($id: ID!, $v: Int!) { cancelOrder(id: $id, version: $v) { id } }",
            "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { id } }",
            "mutation($id: ID!, $v: Int!) { replyToOrder(id: $id, version: $v, comment: \"What is this?\") { id } }",
        ] {
            let body = app.gql(a, op, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{op}: {body}");
        }
        let listed = app.data(a, "{ myOrders { totalCount edges { node { title } } } }", json!({})).await;
        assert_eq!(listed["myOrders"]["totalCount"], 0);
        let found = app.data(a, BY_REFERENCE, json!({ "r": "PO-9" })).await;
        assert_eq!(found["ordersByReference"], json!([]));
        let timeline = app.data(a, "{ events(first: 100) { edges { node { kind objectType } } } }", json!({})).await;
        assert!(
            timeline["events"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["objectType"] != "Order"),
            "draft events stay with staff: {timeline}"
        );

        let proposed = desk.step("proposeOrder", &draft, "").await;
        let shown = app.data(a, ORDER, json!({ "id": draft["id"] })).await;
        assert_eq!(shown["order"]["status"], "PROPOSED");
        assert_eq!(shown["order"]["title"], "Being composed");
        let listed = app.data(a, "{ myOrders { totalCount edges { node { title } } } }", json!({})).await;
        assert_eq!(listed["myOrders"]["edges"], json!([{ "node": { "title": "Being composed" } }]));
        let found = app.data(a, BY_REFERENCE, json!({ "r": "PO-9" })).await;
        assert_eq!(numbers(&found["ordersByReference"]), [proposed["number"].as_str().unwrap()]);
        let accepted = app.data(a, "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { status } }", json!({ "id": draft["id"], "v": proposed["version"] })).await;
        assert_eq!(accepted["acceptOrder"]["status"], "CONFIRMED");
    }
}
