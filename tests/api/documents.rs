//! Documents: every PDF kind renders with the number, the customer, the lines and the total the
//! API shows (accents and Cyrillic intact); invoices and credit notes; gapless invoice numbers
//! under parallel issues; who may open a document, by bearer token or signed URL.

use chrono::Datelike;
use comptoir_api::{
    auth::Role,
    kernel::ids::{self, Kind},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::{
    catalog::product,
    helpers::{Session, TestApp, code, until_postgres_counts},
};

pub const ORDER_FIELDS: &str = "id number status version total { amount } transferredToInvoice
    lines { id name reference quantity unitPrice { amount } total { amount } }";

/// A print shop: an admin who set the seller's identity, a manager, a made-to-order banner and
/// a stocked sticker, and a customer with a user, an address and a contact.
pub struct Shop<'a> {
    pub app: &'a TestApp,
    pub admin: Session,
    pub manager: Session,
    /// `CUSTOM`, 45.50 excl. VAT at 20 %.
    pub banner: String,
    /// `STANDARD`, 2.10 at 5.5 %.
    pub sticker: String,
}

/// A customer of the shop: its GraphQL ID and a user of it.
pub struct Buyer {
    pub id: String,
    pub user: Session,
}

impl<'a> Shop<'a> {
    pub async fn open(app: &'a TestApp) -> Self {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let banner = product(
            app,
            &manager.access,
            json!({ "reference": "BACHE-1", "name": "Bâche imprimée œillets", "kind": "CUSTOM",
                    "unitPrice": "45.50", "vatRate": "20" }),
        )
        .await;
        let sticker = product(
            app,
            &manager.access,
            json!({ "reference": "STK-RU", "name": "Наклейка «Аренда»", "unitPrice": "2.10",
                    "vatRate": "5.5" }),
        )
        .await;
        let profile = app
            .data(
                Some(&admin.access),
                "{ sellerProfile { version } }",
                json!({}),
            )
            .await;
        app.data(
            Some(&admin.access),
            "mutation($v: Int!, $input: SellerProfileInput!) { updateSellerProfile(version: $v, input: $input) { version } }",
            json!({ "v": profile["sellerProfile"]["version"], "input": {
                "address": "12 rue de l'Épée\n75005 Paris", "vatId": "FR12345678901",
                "email": "atelier@imprimerie.test", "paymentTerms": "30 jours fin de mois" } }),
        )
        .await;
        Self {
            app,
            admin,
            manager,
            banner,
            sticker,
        }
    }

    #[allow(clippy::unnecessary_wraps)] // what `TestApp::data` takes
    pub fn staff(&self) -> Option<&str> {
        Some(&self.manager.access)
    }

    /// A customer named `name`, with a billing address, a primary contact and a user.
    pub async fn buyer(&self, name: &str) -> Buyer {
        let uuid = self.app.customer(name).await;
        let id = ids::encode(Kind::Customer, uuid);
        self.app
            .data(
                self.staff(),
                "mutation($c: ID, $input: AddressInput!) { addCustomerAddress(customerId: $c, input: $input) { id } }",
                json!({ "c": id, "input": { "kind": "BILLING", "line1": "29 boulevard Haussmann",
                        "postalCode": "75009", "city": "Paris", "country": "FR", "isDefault": true } }),
            )
            .await;
        self.app
            .data(
                self.staff(),
                "mutation($c: ID, $input: ContactInput!) { addCustomerContact(customerId: $c, input: $input) { id } }",
                json!({ "c": id, "input": { "name": "Élodie Бондаренко", "email": "elodie@client.test" } }),
            )
            .await;
        let user = self.app.user_of(Role::AccountClient, Some(uuid)).await;
        Buyer { id, user }
    }

    /// Runs a mutation as staff; it must succeed.
    pub async fn run(&self, query: &str, variables: Value) -> Value {
        self.app.data(self.staff(), query, variables).await
    }

    /// A confirmed order for `buyer`: 3 banners at 10 % off, 40 stickers, a footer discount.
    pub async fn order(&self, buyer: &Buyer) -> Value {
        let draft = self
            .run(
                &format!("mutation($c: ID!) {{ createOrder(customerId: $c, input: {{ title: \"Salon d'automne\", paymentMethod: \"Virement\" }}) {{ {ORDER_FIELDS} }} }}"),
                json!({ "c": buyer.id }),
            )
            .await["createOrder"]
            .clone();
        let add = format!(
            "mutation($id: ID!, $v: Int!, $input: OrderLineInput!) {{ orderAddLine(orderId: $id, version: $v, input: $input) {{ {ORDER_FIELDS} }} }}"
        );
        let order = self
            .run(
                &add,
                json!({ "id": draft["id"], "v": draft["version"], "input": { "productId": self.banner,
                        "quantity": 3, "discountPercent": "10", "instructions": "Œillets tous les 50 cm" } }),
            )
            .await["orderAddLine"]
            .clone();
        let order = self
            .run(
                &add,
                json!({ "id": order["id"], "v": order["version"], "input": { "productId": self.sticker, "quantity": 40 } }),
            )
            .await["orderAddLine"]
            .clone();
        let order = self
            .run(
                &format!("mutation($id: ID!, $v: Int!) {{ updateOrder(id: $id, version: $v, input: {{ discountPercent: \"5\", shipping: \"12\" }}) {{ {ORDER_FIELDS} }} }}"),
                json!({ "id": order["id"], "v": order["version"] }),
            )
            .await["updateOrder"]
            .clone();
        self.step("confirmOrder", &order, "").await
    }

    /// `name(id, version…)` as staff on `order`.
    pub async fn step(&self, name: &str, order: &Value, args: &str) -> Value {
        self.run(
            &format!("mutation($id: ID!, $v: Int!) {{ {name}(id: $id, version: $v{args}) {{ {ORDER_FIELDS} }} }}"),
            json!({ "id": order["id"], "v": order["version"] }),
        )
        .await[name]
            .clone()
    }

    /// Issues the invoice of `order` as staff (the whole response).
    pub async fn issue(&self, order: &Value) -> Value {
        self.app
            .gql(
                self.staff(),
                "mutation($o: ID!) { issueInvoice(orderId: $o) { id number kind total { amount } standing pdfUrl } }",
                json!({ "o": order["id"] }),
            )
            .await
    }

    /// A signed URL from `field` of the order, read as `token`.
    pub async fn order_url(&self, token: &str, order: &Value, kind: &str) -> Value {
        self.app
            .gql(
                Some(token),
                &format!("query($id: ID!) {{ order(id: $id) {{ documentUrl(kind: {kind}) }} }}"),
                json!({ "id": order["id"] }),
            )
            .await
    }

    /// GETs `url` (a path on the server) with an optional bearer token: status and body.
    pub async fn get(&self, url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
        let base = self.app.url.trim_end_matches("/graphql");
        let mut request = self.app.client.get(format!("{base}{url}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

/// The UUID behind an opaque GraphQL ID.
pub fn uuid(kind: Kind, id: &Value) -> uuid::Uuid {
    ids::decode(kind, id.as_str().unwrap(), "id").unwrap()
}

/// Runs `sql` (placeholders `$1`, `$2`…) on the app's database behind the API's back: what a
/// test needs to stage a state the API never produces, or to hold a lock.
pub async fn exec(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) {
    db.execute_raw(statement(db, sql, values)).await.unwrap();
}

/// A statement for `db`'s back end from `$n` placeholders (SQLite takes `?`).
pub fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let backend = db.get_database_backend();
    let mut sql = sql.to_owned();
    if backend == DbBackend::Sqlite {
        for n in (1..=values.len()).rev() {
            sql = sql.replace(&format!("${n}"), "?");
        }
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// PostgreSQL: the server process of `db`'s session (a transaction keeps one).
pub async fn backend_pid(db: &impl ConnectionTrait) -> i32 {
    let row = db
        .query_one_raw(statement(db, "SELECT pg_backend_pid() AS pid", vec![]))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i32>("", "pid").unwrap()
}

/// PostgreSQL: waits (up to 10 s) until another session waits for a lock that session `pid`
/// holds.
pub async fn wait_until_blocked_by(app: &TestApp, pid: i32) {
    until_postgres_counts(
        app,
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        vec![pid.into()],
        &format!("a session waiting for the locks of session {pid}"),
    )
    .await;
}

/// The text of a PDF, as a reader's copy-paste would give it.
pub fn text(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    pdf_extract::extract_text_from_mem(pdf).unwrap()
}

/// The document at a signed URL: it must open without headers.
async fn open(shop: &Shop<'_>, url: &Value) -> String {
    let url = url.as_str().unwrap_or_else(|| panic!("no URL: {url}"));
    let (status, body) = shop.get(url, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    text(&body)
}

/// The PDF at signed URL `url`.
async fn pdf_at(shop: &Shop<'_>, url: &Value) -> Vec<u8> {
    let url = url.as_str().unwrap_or_else(|| panic!("no URL: {url}"));
    let (status, body) = shop.get(url, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    body
}

/// `INV-2026-000001`: the `n`th number of this year's series.
fn series(prefix: &str, n: u32) -> String {
    format!("{prefix}-{}-{n:06}", chrono::Utc::now().year())
}

const QUOTE: &str = "id number version status total { amount } transferredToInvoice pdfUrl";

/// A sent quote for `buyer`: two banners, delivered to Paris.
async fn sent_quote(shop: &Shop<'_>, buyer: &Buyer) -> Value {
    let quote = shop
        .run(
            &format!("mutation($c: ID!) {{ createQuote(customerId: $c) {{ {QUOTE} }} }}"),
            json!({ "c": buyer.id }),
        )
        .await["createQuote"]
        .clone();
    let quote = shop
        .run(
            &format!("mutation($id: ID!, $v: Int!, $input: QuoteLineInput!) {{ quoteAddLine(id: $id, version: $v, input: $input) {{ {QUOTE} }} }}"),
            json!({ "id": quote["id"], "v": quote["version"], "input": { "productId": shop.banner, "quantity": 2 } }),
        )
        .await["quoteAddLine"]
        .clone();
    let quote = shop
        .run(
            &format!("mutation($id: ID!, $v: Int!) {{ updateQuoteTerms(id: $id, version: $v, input: {{ deliveryAddress: {{ line1: \"1 rue de la Paix\", postalCode: \"75002\", city: \"Paris\", country: \"FR\" }} }}) {{ {QUOTE} }} }}"),
            json!({ "id": quote["id"], "v": quote["version"] }),
        )
        .await["updateQuoteTerms"]
        .clone();
    shop.run(
        &format!(
            "mutation($id: ID!, $v: Int!) {{ sendQuote(id: $id, version: $v) {{ {QUOTE} }} }}"
        ),
        json!({ "id": quote["id"], "v": quote["version"] }),
    )
    .await["sendQuote"]
        .clone()
}

fn amount(value: &Value) -> String {
    value["amount"]
        .as_str()
        .unwrap_or_else(|| panic!("no amount: {value}"))
        .to_owned()
}

fn assert_has(text: &str, expected: &[&str]) {
    for expected in expected {
        assert!(text.contains(expected), "lacks {expected:?}:\n{text}");
    }
}

db_test! {
    async fn every_order_document_prints_its_number_customer_lines_and_total_with_accents_and_cyrillic(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Société Générale").await;
        let order = shop.order(&buyer).await;
        let total = amount(&order["total"]);
        assert_eq!(total, "238.64", "3 × 45.50 −10 %, 40 × 2.10, −5 %, +12 shipping, VAT per rate");
        let number = order["number"].as_str().unwrap();
        for kind in ["ORDER_CONFIRMATION", "PURCHASE_ORDER", "PRO_FORMA_INVOICE"] {
            let url = shop.order_url(&buyer.user.access, &order, kind).await;
            let text = open(&shop, &url["data"]["order"]["documentUrl"]).await;
            assert_has(&text, &[number, "Société Générale", "Élodie Бондаренко", "Bâche imprimée œillets",
                "Наклейка «Аренда»", "122.85", "84.00", &total, "VAT 5.5 %", "VAT 20 %",
                "FR12345678901", "12 rue de l'Épée", "30 jours fin de mois"]);
        }
    }
}

db_test! {
    async fn quotes_work_sheets_invoices_and_credit_notes_print_what_the_api_shows(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Арендная компания").await;
        let quote = sent_quote(&shop, &buyer).await;
        let quote_text = open(&shop, &quote["pdfUrl"]).await;
        assert_has(&quote_text, &[quote["number"].as_str().unwrap(), "Арендная компания",
            "Bâche imprimée œillets", &amount(&quote["total"]), "Valid until"]);

        let order = shop.order(&buyer).await;
        let number = order["number"].as_str().unwrap();
        let sheet = shop.order_url(&shop.manager.access, &order, "WORK_SHEET").await;
        let sheet = open(&shop, &sheet["data"]["order"]["documentUrl"]).await;
        assert_has(&sheet, &["Work sheet", number, "Арендная компания", "Bâche imprimée œillets",
            "Наклейка «Аренда»", "Œillets tous les 50 cm"]);
        assert!(!sheet.contains("45.50") && !sheet.contains(&amount(&order["total"])), "a work sheet has no prices:\n{sheet}");

        let invoice = shop.issue(&order).await["data"]["issueInvoice"].clone();
        assert_eq!(invoice["number"], series("INV", 1));
        assert_eq!(invoice["kind"], "INVOICE");
        assert_eq!(invoice["total"], order["total"]);
        let text = open(&shop, &invoice["pdfUrl"]).await;
        assert_has(&text, &["Invoice", &series("INV", 1), number, "Арендная компания",
            "Bâche imprimée œillets", "Наклейка «Аренда»", &amount(&order["total"])]);

        let note = shop
            .run(
                "mutation($i: ID!) { issueCreditNote(invoiceId: $i, reason: \"Quantité erronée\") { number kind total { amount } pdfUrl creditedInvoiceId } }",
                json!({ "i": invoice["id"] }),
            )
            .await["issueCreditNote"]
            .clone();
        assert_eq!(note["number"], series("CN", 1));
        assert_eq!(note["kind"], "CREDIT_NOTE");
        assert_eq!(note["creditedInvoiceId"], invoice["id"]);
        let credited = format!("-{}", amount(&order["total"]));
        assert_eq!(amount(&note["total"]), credited);
        let text = open(&shop, &note["pdfUrl"]).await;
        assert_has(&text, &["Credit note", &series("CN", 1), &series("INV", 1),
            "Арендная компания", "Bâche imprimée œillets", &credited, "Quantité erronée"]);
    }
}

db_test! {
    async fn an_invoice_is_issued_once_never_changes_and_a_credit_note_reopens_the_order(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Imprimerie Lumière").await;
        // An order converted from a quote: the quote follows the invoicing.
        let quote = sent_quote(&shop, &buyer).await;
        let converted = app
            .data(
                Some(&buyer.user.access),
                "mutation($id: ID!, $v: Int!) { convertQuoteToOrder(id: $id, version: $v) { order { id number version total { amount } } } }",
                json!({ "id": quote["id"], "v": quote["version"] }),
            )
            .await["convertQuoteToOrder"]["order"]
            .clone();
        let read_quote = format!("query($id: ID!) {{ quote(id: $id) {{ {QUOTE} }} }}");
        let read_order = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} invoices {{ number standing }} }} }}");

        let refused = app.gql(Some(&buyer.user.access), "mutation($o: ID!) { issueInvoice(orderId: $o) { id } }", json!({ "o": converted["id"] })).await;
        assert_eq!(code(&refused), "FORBIDDEN");
        let invoice = shop.issue(&converted).await["data"]["issueInvoice"].clone();
        assert_eq!(invoice["total"], converted["total"]);
        let again = shop.issue(&converted).await;
        assert_eq!(code(&again), "CONFLICT");
        assert_eq!(again["errors"][0]["extensions"]["field"], "orderId");
        let quote_now = app.data(shop.staff(), &read_quote, json!({ "id": quote["id"] })).await;
        assert_eq!(quote_now["quote"]["transferredToInvoice"], true);
        let order = app.data(shop.staff(), &read_order, json!({ "id": converted["id"] })).await["order"].clone();
        assert_eq!(order["transferredToInvoice"], true);

        // While the invoice stands, what it prints does not change: a credit note first.
        let edit = "mutation($id: ID!, $v: Int!) { updateOrder(id: $id, version: $v, input: { shipping: \"99\" }) { total { amount } } }";
        let frozen = app.gql(shop.staff(), edit, json!({ "id": order["id"], "v": order["version"] })).await;
        assert_eq!(code(&frozen), "INVALID_TRANSITION");
        assert!(frozen["errors"][0]["message"].as_str().unwrap().contains("credit note first"), "{frozen}");
        let read_invoice = "query($id: ID!) { invoice(id: $id) { number total { amount } standing } }";
        let stored = app.data(shop.staff(), read_invoice, json!({ "id": invoice["id"] })).await;
        assert_eq!(stored["invoice"]["total"], invoice["total"]);
        let path = format!("/documents/invoice/{}.pdf", invoice["id"].as_str().unwrap());
        let (status, pdf) = shop.get(&path, Some(&buyer.user.access)).await;
        assert_eq!(status, 200);
        assert!(text(&pdf).contains(&amount(&invoice["total"])));

        let credit = "mutation($i: ID!) { issueCreditNote(invoiceId: $i, reason: \"Port modifié\") { id number } }";
        let note = app.data(shop.staff(), credit, json!({ "i": invoice["id"] })).await["issueCreditNote"].clone();
        let twice = app.gql(shop.staff(), credit, json!({ "i": invoice["id"] })).await;
        assert_eq!(code(&twice), "INVALID_TRANSITION");
        let of_note = app.gql(shop.staff(), credit, json!({ "i": note["id"] })).await;
        assert_eq!(code(&of_note), "INVALID_TRANSITION");
        let quote_now = app.data(shop.staff(), &read_quote, json!({ "id": quote["id"] })).await;
        assert_eq!(quote_now["quote"]["transferredToInvoice"], false);
        let order = app.data(shop.staff(), &read_order, json!({ "id": converted["id"] })).await["order"].clone();
        assert_eq!(order["transferredToInvoice"], false);
        assert_eq!(order["invoices"], json!([
            { "number": series("INV", 1), "standing": false },
            { "number": series("CN", 1), "standing": false },
        ]));

        // Credited, the order is edited again (and the credited invoice still prints the old
        // amounts). Edited after confirmation, it waits for the customer: not invoiced meanwhile.
        let changed = shop.step("updateOrder", &order, ", input: { shipping: \"99\" }").await;
        assert_ne!(changed["total"], order["total"]);
        assert_eq!(changed["status"], "PROPOSED");
        let (_, pdf) = shop.get(&path, Some(&buyer.user.access)).await;
        assert!(!text(&pdf).contains(&amount(&changed["total"])));
        let order = app.data(shop.staff(), &read_order, json!({ "id": converted["id"] })).await["order"].clone();
        let proposed = shop.issue(&order).await;
        assert_eq!(code(&proposed), "INVALID_TRANSITION");
        let accepted = app
            .data(Some(&buyer.user.access), "mutation($id: ID!, $v: Int!) { acceptOrder(id: $id, version: $v) { id version total { amount } } }", json!({ "id": order["id"], "v": order["version"] }))
            .await["acceptOrder"]
            .clone();
        let reissued = shop.issue(&accepted).await["data"]["issueInvoice"].clone();
        assert_eq!(reissued["number"], series("INV", 2));
        assert_eq!(reissued["total"], accepted["total"]);
        let draft = shop
            .run("mutation($c: ID!) { createOrder(customerId: $c, input: {}) { id } }", json!({ "c": buyer.id }))
            .await["createOrder"]
            .clone();
        assert_eq!(code(&shop.issue(&draft).await), "INVALID_TRANSITION");
    }
}

db_test! {
    async fn invoice_numbers_stay_gapless_under_twenty_parallel_issues(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Atelier Parallèle").await;
        let mut orders = Vec::new();
        for _ in 0..20 {
            orders.push(shop.order(&buyer).await);
        }
        // 20 issues at once, and 5 more for orders already in the batch: those must fail
        // (one standing invoice per order) and give their number back.
        let attempts = orders.iter().chain(orders.iter().take(5));
        let answers = futures_util::future::join_all(attempts.map(|o| shop.issue(o))).await;
        let mut numbers: Vec<String> = answers
            .iter()
            .filter_map(|a| a["data"]["issueInvoice"]["number"].as_str().map(str::to_owned))
            .collect();
        let conflicts = answers.iter().filter(|a| a.get("errors").is_some()).count();
        assert_eq!(conflicts, 5, "{answers:?}");
        assert!(answers.iter().filter(|a| a.get("errors").is_some()).all(|a| code(a) == "CONFLICT"));
        numbers.sort();
        let expected: Vec<String> = (1..=20).map(|n| series("INV", n)).collect();
        assert_eq!(numbers, expected);
        let listed = app
            .data(shop.staff(), "{ invoices(first: 50) { totalCount edges { node { number } } } }", json!({}))
            .await;
        assert_eq!(listed["invoices"]["totalCount"], 20);
    }
}

db_test! {
    async fn a_document_link_opens_without_headers_only_for_its_document_and_until_it_expires(app) {
        let shop = Shop::open(&app).await;
        let mine = shop.buyer("Société Générale").await;
        let theirs = shop.buyer("Autre Client").await;
        let order = shop.order(&mine).await;
        let other = shop.order(&theirs).await;
        let url = shop.order_url(&mine.user.access, &order, "ORDER_CONFIRMATION").await["data"]["order"]["documentUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(url.starts_with("/documents/order-confirmation/"), "{url}");
        assert_eq!(shop.get(&url, None).await.0, 200);

        let tampered = format!("{}{}", &url[..url.len() - 1], if url.ends_with('0') { '1' } else { '0' });
        assert_eq!(shop.get(&tampered, None).await.0, 401);
        let query = &url[url.find('?').unwrap()..];
        let other_path = format!("/documents/order-confirmation/{}.pdf", other["id"].as_str().unwrap());
        assert_eq!(shop.get(&format!("{other_path}{query}"), None).await.0, 401, "a signature is for one document");
        let other_kind = url.replace("/order-confirmation/", "/pro-forma/");
        assert_eq!(shop.get(&other_kind, None).await.0, 401, "and one kind");
        assert_eq!(shop.get(url.split('?').next().unwrap(), None).await.0, 401, "no signature, no token");

        app.state.clock.advance(chrono::Duration::minutes(6));
        let (status, body) = shop.get(&url, None).await;
        assert_eq!(status, 401, "expired after the 5-minute default");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn customers_open_only_their_own_documents_and_never_work_sheets(app) {
        let shop = Shop::open(&app).await;
        let mine = shop.buyer("Société Générale").await;
        let theirs = shop.buyer("Autre Client").await;
        let order = shop.order(&mine).await;
        let invoice = shop.issue(&order).await["data"]["issueInvoice"].clone();
        let id = order["id"].as_str().unwrap();
        let invoice_path = format!("/documents/invoice/{}.pdf", invoice["id"].as_str().unwrap());

        for path in [format!("/documents/order-confirmation/{id}.pdf"), format!("/documents/pro-forma/{id}.pdf"), invoice_path.clone()] {
            assert_eq!(shop.get(&path, Some(&theirs.user.access)).await.0, 404, "{path}");
            assert_eq!(shop.get(&path, Some(&mine.user.access)).await.0, 200, "{path}");
        }
        let read = app.gql(Some(&theirs.user.access), "query($id: ID!) { invoice(id: $id) { number } }", json!({ "id": invoice["id"] })).await;
        assert_eq!(code(&read), "NOT_FOUND");
        let url = shop.order_url(&theirs.user.access, &order, "ORDER_CONFIRMATION").await;
        assert_eq!(code(&url), "NOT_FOUND");
        let list = "{ invoices(first: 10) { totalCount } }";
        assert_eq!(app.data(Some(&theirs.user.access), list, json!({})).await["invoices"]["totalCount"], 0);
        assert_eq!(app.data(Some(&mine.user.access), list, json!({})).await["invoices"]["totalCount"], 1);

        let sheet = shop.order_url(&mine.user.access, &order, "WORK_SHEET").await;
        assert_eq!(code(&sheet), "FORBIDDEN");
        assert_eq!(shop.get(&format!("/documents/work-sheet/{id}.pdf"), Some(&mine.user.access)).await.0, 403);
        assert_eq!(shop.get(&format!("/documents/work-sheet/{id}.pdf"), Some(&shop.manager.access)).await.0, 200);

        assert_eq!(shop.get(&format!("/documents/invoice/{id}.pdf"), Some(&shop.manager.access)).await.0, 404, "an order ID is no invoice ID");
        assert_eq!(shop.get(&format!("/documents/receipt/{id}.pdf"), Some(&shop.manager.access)).await.0, 404);
        assert_eq!(shop.get("/documents/quote/not-an-id.pdf", Some(&shop.manager.access)).await.0, 404);
    }
}

/// The emails written so far (no SMTP in tests: `.eml` files), waiting for `count` of them.
async fn emails(app: &TestApp, count: usize) -> Vec<String> {
    for _ in 0..200 {
        let mails: Vec<String> = std::fs::read_dir(app.mail_dir())
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} emails were written");
}

db_test! {
    async fn a_sent_quote_and_a_confirmed_order_are_emailed_with_their_pdf(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Société Générale").await;
        let quote = sent_quote(&shop, &buyer).await;
        let order = shop.order(&buyer).await;
        let mails = emails(&app, 2).await;
        let quote_mail = mails
            .iter()
            .find(|m| m.contains(&format!("{}.pdf", quote["number"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("no email carries the quote's PDF: {mails:?}"));
        assert!(quote_mail.contains("application/pdf") && quote_mail.contains("JVBERi0"), "{quote_mail}");
        let confirmation = format!("{}-confirmation.pdf", order["number"].as_str().unwrap());
        let order_mail = mails
            .iter()
            .find(|m| m.contains(&confirmation))
            .unwrap_or_else(|| panic!("no email carries the confirmation: {mails:?}"));
        assert!(order_mail.contains("application/pdf") && order_mail.contains("JVBERi0"), "{order_mail}");
    }
}

db_test! {
    async fn the_seller_profile_is_admin_only_and_its_logo_must_be_an_image(app) {
        let shop = Shop::open(&app).await;
        let read = "{ sellerProfile { name address vatId paymentTerms hasLogo version } }";
        let profile = app.data(Some(&shop.admin.access), read, json!({})).await["sellerProfile"].clone();
        assert_eq!(profile["vatId"], "FR12345678901");
        assert_eq!(profile["hasLogo"], false);
        let update = "mutation($v: Int!, $input: SellerProfileInput!) { updateSellerProfile(version: $v, input: $input) { version } }";
        let by_manager = app.gql(shop.staff(), update, json!({ "v": profile["version"], "input": { "vatId": "X" } })).await;
        assert_eq!(code(&by_manager), "FORBIDDEN");
        let stale = app.gql(Some(&shop.admin.access), update, json!({ "v": 0, "input": { "vatId": "X" } })).await;
        assert_eq!(code(&stale), "CONFLICT");
        let customer = shop.buyer("Client").await;
        let by_customer = app.gql(Some(&customer.user.access), read, json!({})).await;
        assert_eq!(code(&by_customer), "FORBIDDEN");
        let bad_email = app.gql(Some(&shop.admin.access), update, json!({ "v": profile["version"], "input": { "email": "not an email" } })).await;
        assert_eq!(code(&bad_email), "VALIDATION");
        assert_eq!(bad_email["errors"][0]["extensions"]["field"], "email");

        let not_an_image = crate::production::multipart(&app, &shop.admin.access, update,
            json!({ "v": profile["version"], "input": { "logo": null } }),
            vec![("input.logo", "logo.png", "image/png", b"\x89PNG but broken".to_vec())]).await;
        assert_eq!(code(&not_an_image), "VALIDATION");
        assert_eq!(not_an_image["errors"][0]["extensions"]["field"], "logo");
        let logo = base64::Engine::decode(&base64::engine::general_purpose::STANDARD,
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==").unwrap();
        let set = crate::production::multipart(&app, &shop.admin.access, update,
            json!({ "v": profile["version"], "input": { "logo": null } }),
            vec![("input.logo", "logo.png", "image/png", logo)]).await;
        assert!(set.get("errors").is_none(), "{set}");
        assert_eq!(app.data(Some(&shop.admin.access), read, json!({})).await["sellerProfile"]["hasLogo"], true);
        let order = shop.order(&customer).await;
        let url = shop.order_url(&customer.user.access, &order, "ORDER_CONFIRMATION").await;
        let (status, pdf) = shop.get(url["data"]["order"]["documentUrl"].as_str().unwrap(), None).await;
        assert_eq!(status, 200);
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/Subtype/Image"), "the logo is drawn");

        // An invoice prints the logo it was issued with, as does its credit note, whatever
        // the seller's logo becomes; documents made on demand print the current one.
        let has_image = |pdf: &[u8]| String::from_utf8_lossy(pdf).contains("/Subtype/Image");
        let with_logo = shop.issue(&order).await["data"]["issueInvoice"].clone();
        let other = shop.order(&customer).await;
        let version = app.data(Some(&shop.admin.access), read, json!({})).await["sellerProfile"]["version"].clone();
        let remove = "mutation($v: Int!) { updateSellerProfile(version: $v, input: { removeLogo: true }) { version } }";
        let removed = app.data(Some(&shop.admin.access), remove, json!({ "v": version })).await;
        assert!(has_image(&pdf_at(&shop, &with_logo["pdfUrl"]).await), "issued with the logo, printed with it");
        let url = shop.order_url(&customer.user.access, &other, "ORDER_CONFIRMATION").await;
        assert!(!has_image(&pdf_at(&shop, &url["data"]["order"]["documentUrl"]).await), "no logo now");
        let without_logo = shop.issue(&other).await["data"]["issueInvoice"].clone();
        let credit = "mutation($i: ID!) { issueCreditNote(invoiceId: $i, reason: \"Erreur\") { pdfUrl } }";
        let note = app.data(shop.staff(), credit, json!({ "i": with_logo["id"] })).await;
        assert!(has_image(&pdf_at(&shop, &note["issueCreditNote"]["pdfUrl"]).await), "as its invoice");
        let logo = base64::Engine::decode(&base64::engine::general_purpose::STANDARD,
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==").unwrap();
        let again = crate::production::multipart(&app, &shop.admin.access, update,
            json!({ "v": removed["updateSellerProfile"]["version"], "input": { "logo": null } }),
            vec![("input.logo", "logo.png", "image/png", logo)]).await;
        assert!(again.get("errors").is_none(), "{again}");
        assert!(!has_image(&pdf_at(&shop, &without_logo["pdfUrl"]).await), "issued without a logo, printed without");
        assert!(has_image(&pdf_at(&shop, &with_logo["pdfUrl"]).await));
    }
}

db_test! {
    async fn an_invoiced_order_is_neither_edited_nor_cancelled_until_its_credit_note(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Imprimerie Figée").await;
        let order = shop.order(&buyer).await;
        let invoice = shop.issue(&order).await["data"]["issueInvoice"].clone();
        let (id, version, line) = (&order["id"], &order["version"], &order["lines"][1]["id"]);
        let attempts = [
            ("mutation($id: ID!, $v: Int!, $line: ID!) { orderUpdateLine(orderId: $id, version: $v, lineId: $line, input: { quantity: 41 }) { id } }",
                json!({ "id": id, "v": version, "line": line })),
            ("mutation($id: ID!, $v: Int!, $line: ID!) { orderRemoveLine(orderId: $id, version: $v, lineId: $line) { id } }",
                json!({ "id": id, "v": version, "line": line })),
            ("mutation($id: ID!, $v: Int!, $p: ID!) { orderAddLine(orderId: $id, version: $v, input: { productId: $p, quantity: 1 }) { id } }",
                json!({ "id": id, "v": version, "p": shop.sticker })),
            ("mutation($id: ID!, $v: Int!) { updateOrder(id: $id, version: $v, input: { title: \"Autre\" }) { id } }",
                json!({ "id": id, "v": version })),
            ("mutation($id: ID!, $v: Int!) { proposeOrder(id: $id, version: $v, message: \"Nouvelle version\") { id } }",
                json!({ "id": id, "v": version })),
            ("mutation($id: ID!, $v: Int!) { cancelOrder(id: $id, version: $v, reason: \"Annulée\") { id } }",
                json!({ "id": id, "v": version })),
        ];
        for (query, variables) in &attempts {
            let refused = app.gql(shop.staff(), query, variables.clone()).await;
            assert_eq!(code(&refused), "INVALID_TRANSITION", "{query}: {refused}");
            assert!(refused["errors"][0]["message"].as_str().unwrap().contains("issue a credit note first"), "{refused}");
        }
        let read = format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}");
        let unchanged = app.data(shop.staff(), &read, json!({ "id": id })).await["order"].clone();
        assert_eq!((&unchanged["version"], &unchanged["status"]), (version, &json!("CONFIRMED")), "nothing changed");
        assert_eq!((&unchanged["lines"], &unchanged["total"]), (&order["lines"], &order["total"]));
        // Moving along production is not a change of what the invoice prints.
        let started = shop.step("setOrderStatus", &order, ", status: IN_PROGRESS").await;
        assert_eq!(started["status"], "IN_PROGRESS");
        let held = shop.step("holdOrder", &started, ", reason: \"Attente du BAT\"").await;
        let cancel = "mutation($id: ID!, $v: Int!) { cancelOrder(id: $id, version: $v, reason: \"Annulée\") { status } }";
        let on_hold = app.gql(shop.staff(), cancel, json!({ "id": id, "v": held["version"] })).await;
        assert_eq!(code(&on_hold), "INVALID_TRANSITION", "held, it is still invoiced: {on_hold}");
        let held = shop.step("releaseOrder", &held, "").await;

        app.data(shop.staff(), "mutation($i: ID!) { issueCreditNote(invoiceId: $i, reason: \"Commande annulée\") { id } }", json!({ "i": invoice["id"] })).await;
        let cancelled = app.data(shop.staff(), cancel, json!({ "id": id, "v": held["version"] })).await;
        assert_eq!(cancelled["cancelOrder"]["status"], "CANCELLED");
        let again = shop.issue(&order).await;
        assert_eq!(code(&again), "INVALID_TRANSITION", "a cancelled order is not invoiced");
    }
}

db_test! {
    async fn a_credit_note_lets_the_order_be_edited_again(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Atelier Souple").await;
        let order = shop.order(&buyer).await;
        let invoice = shop.issue(&order).await["data"]["issueInvoice"].clone();
        let line = &order["lines"][1]["id"];
        let update_line = format!("mutation($id: ID!, $v: Int!, $line: ID!) {{ orderUpdateLine(orderId: $id, version: $v, lineId: $line, input: {{ quantity: 41 }}) {{ {ORDER_FIELDS} }} }}");
        let refused = app.gql(shop.staff(), &update_line, json!({ "id": order["id"], "v": order["version"], "line": line })).await;
        assert_eq!(code(&refused), "INVALID_TRANSITION");
        app.data(shop.staff(), "mutation($i: ID!) { issueCreditNote(invoiceId: $i, reason: \"Quantité\") { id } }", json!({ "i": invoice["id"] })).await;
        let edited = app.data(shop.staff(), &update_line, json!({ "id": order["id"], "v": order["version"], "line": line })).await["orderUpdateLine"].clone();
        assert_eq!(edited["lines"][1]["quantity"], 41);
        assert_eq!(edited["status"], "PROPOSED", "back to the customer");
    }
}

db_test! {
    async fn an_invoice_waits_for_a_change_that_holds_the_order_and_then_sees_it(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client Pressé").await;
        let order = shop.order(&buyer).await;
        let cancel = "UPDATE sales_order SET status = 'CANCELLED' WHERE id = $1";
        let id = uuid(Kind::Order, &order["id"]);
        if app.state.db.backend() == DbBackend::Postgres {
            // A cancellation holds the order row when the invoice starts: the invoice reads the
            // row locked, so it waits, then sees the order cancelled. (A plain read would see
            // the order still confirmed and invoice it.)
            let change = app.state.db.read().begin().await.unwrap();
            exec(&change, cancel, vec![id.into()]).await;
            let pid = backend_pid(&change).await;
            let (issued, ()) = tokio::join!(shop.issue(&order), async {
                wait_until_blocked_by(&app, pid).await;
                change.commit().await.unwrap();
            });
            assert_eq!(code(&issued), "INVALID_TRANSITION", "{issued}");
        } else {
            // SQLite has one writer: the two run one after the other.
            exec(app.state.db.read(), cancel, vec![id.into()]).await;
            assert_eq!(code(&shop.issue(&order).await), "INVALID_TRANSITION");
        }
        let listed = app.data(shop.staff(), "{ invoices(first: 5) { totalCount } }", json!({})).await;
        assert_eq!(listed["invoices"]["totalCount"], 0);
    }
}

db_test! {
    async fn an_invoice_is_not_issued_when_its_customer_cannot_be_read(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client Illisible").await;
        let order = shop.order(&buyer).await;
        let customer = uuid(Kind::Customer, &Value::String(buyer.id.clone()));
        let db = app.state.db.read();
        let kind = db
            .query_one_raw(statement(db, "SELECT kind FROM customer WHERE id = $1", vec![customer.into()]))
            .await
            .unwrap()
            .unwrap()
            .try_get::<String>("", "kind")
            .unwrap();
        // A row the server cannot read (a fault, not the caller's): no invoice without its buyer.
        exec(db, "UPDATE customer SET kind = 'UNREADABLE' WHERE id = $1", vec![customer.into()]).await;
        let refused = shop.issue(&order).await;
        assert_eq!(code(&refused), "INTERNAL", "{refused}");
        exec(db, "UPDATE customer SET kind = $1 WHERE id = $2", vec![kind.into(), customer.into()]).await;
        let issued = shop.issue(&order).await["data"]["issueInvoice"].clone();
        assert_eq!(issued["number"], series("INV", 1), "the refused attempt used no number");
        let text = open(&shop, &issued["pdfUrl"]).await;
        assert_has(&text, &["Client Illisible"]);
    }
}

/// A PNG that declares `width` × `height` pixels (8-bit grey) in a few dozen bytes: the header
/// and an image data chunk far too short for it.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFF_u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(png: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    // A zlib stream holding one zero byte.
    chunk(
        &mut png,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
        ],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

db_test! {
    async fn a_logo_is_a_png_or_jpeg_by_its_content_and_at_most_4096_pixels_a_side(app) {
        let shop = Shop::open(&app).await;
        let read = "{ sellerProfile { hasLogo version } }";
        let profile = app.data(Some(&shop.admin.access), read, json!({})).await["sellerProfile"].clone();
        let update = "mutation($v: Int!, $input: SellerProfileInput!) { updateSellerProfile(version: $v, input: $input) { version } }";
        let send = |name: &'static str, mime: &'static str, bytes: Vec<u8>| {
            let (app, shop, version) = (&app, &shop, profile["version"].clone());
            async move {
                crate::production::multipart(app, &shop.admin.access, update,
                    json!({ "v": version, "input": { "logo": null } }),
                    vec![("input.logo", name, mime, bytes)]).await
            }
        };
        let huge = send("logo.png", "image/png", png_declaring(6_000, 6_000)).await;
        assert_eq!(code(&huge), "VALIDATION", "{huge}");
        assert_eq!(huge["errors"][0]["extensions"]["field"], "logo");
        assert!(huge["errors"][0]["message"].as_str().unwrap().contains("4096"), "{huge}");
        let wide = send("logo.png", "image/png", png_declaring(40_000, 10)).await;
        assert_eq!(code(&wide), "VALIDATION", "{wide}");
        let jpeg_as_png = send("logo.png", "image/png", b"\xFF\xD8\xFF\xE0 a JPEG".to_vec()).await;
        assert_eq!(code(&jpeg_as_png), "VALIDATION");
        assert_eq!(jpeg_as_png["errors"][0]["extensions"]["field"], "logo");
        let pixel = base64::Engine::decode(&base64::engine::general_purpose::STANDARD,
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==").unwrap();
        let small = send("logo.png", "image/png", pixel).await;
        assert!(small.get("errors").is_none(), "a real, small logo is fine: {small}");
        assert_eq!(app.data(Some(&shop.admin.access), read, json!({})).await["sellerProfile"]["hasLogo"], true);
    }
}
