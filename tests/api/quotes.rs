//! Quotes as customers meet them: who may ask, requests from carts and configurations (files
//! included), the seller's email with the request as JSON, idempotency, stock rules, the claim of
//! a public request, conversion into an order, isolation.

use base64::Engine;
use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::{
    catalog::{banner, product},
    helpers::{Backend, TestApp, code},
    mail::MailSink,
};

pub const QUOTE_FIELDS: &str = "id number status negotiation version revision isLatest transferredToOrder
    contactName contactEmail paymentMethod deliveryAddress { line1 city }
    lines { id kind reference name quantity unitPrice { amount } total { amount } configuration { option value number } }
    attachments { filename contentType size }
    subtotal { amount } vatTotal { amount } total { amount } validUntil";

async fn add_to_cart(app: &TestApp, token: &str, product_id: &str, quantity: i32) -> String {
    app.data(
        Some(token),
        "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }",
        json!({ "input": { "productId": product_id, "quantity": quantity } }),
    )
    .await["cartAddLine"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn request_query() -> String {
    format!(
        "mutation($cart: ID!, $token: String, $message: String!, $contact: QuoteContactInput, $key: String) {{
            requestQuote(cartId: $cart, cartToken: $token, message: $message, contact: $contact, idempotencyKey: $key) {{ {QUOTE_FIELDS} }} }}"
    )
}

/// Requests a quote on `token`'s cart.
pub async fn request(app: &TestApp, token: &str, key: Option<&str>) -> Value {
    let cart = app.data(Some(token), "{ myCart { id } }", json!({})).await["myCart"]["id"].clone();
    app.gql(
        Some(token),
        &request_query(),
        json!({ "cart": cart, "message": "For the spring fair", "key": key }),
    )
    .await
}

async fn settings(app: &TestApp, admin: &str, input: Value) -> Value {
    let version = app
        .data(Some(admin), "{ quoteSettings { version } }", json!({}))
        .await["quoteSettings"]["version"]
        .clone();
    app.data(
        Some(admin),
        "mutation($v: Int!, $input: QuoteSettingsInput!) { updateQuoteSettings(version: $v, input: $input) { version visibleTo enabled } }",
        json!({ "v": version, "input": input }),
    )
    .await["updateQuoteSettings"]
        .clone()
}

/// Manager: sends quote `id` at `version` after setting its terms.
pub async fn price_and_send(app: &TestApp, manager: &str, quote: &Value) -> Value {
    let terms = app
        .data(
            Some(manager),
            &format!("mutation($id: ID!, $v: Int!) {{ updateQuoteTerms(id: $id, version: $v, input: {{ paymentMethod: \"bank transfer\", shippingMethod: \"carrier\", deliveryAddress: {{ line1: \"5 quai des Chartrons\", postalCode: \"33000\", city: \"Bordeaux\", country: \"FR\" }} }}) {{ {QUOTE_FIELDS} }} }}"),
            json!({ "id": quote["id"], "v": quote["version"] }),
        )
        .await["updateQuoteTerms"]
        .clone();
    app.data(
        Some(manager),
        &format!("mutation($id: ID!, $v: Int!) {{ sendQuote(id: $id, version: $v, validityDays: 15) {{ {QUOTE_FIELDS} }} }}"),
        json!({ "id": terms["id"], "v": terms["version"] }),
    )
    .await["sendQuote"]
        .clone()
}

db_test! {
    async fn quotes_are_offered_only_to_the_customer_types_the_admin_chose(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        let identified = app.user(Role::Identified).await;
        let client = app.user(Role::AccountClient).await;
        let available = "{ quoteSettings { availableToMe visibleTo } }";

        // By default: logged-in customers, not the public.
        let public = app.data(None, available, json!({})).await;
        assert_eq!(public["quoteSettings"]["availableToMe"], false);
        assert_eq!(public["quoteSettings"]["visibleTo"], json!(["IDENTIFIED", "ACCOUNT_CLIENT"]));
        let anonymous = app.data(None, "mutation { cartCreate { cartToken cart { id } } }", json!({})).await["cartCreate"].clone();
        let body = app.gql(None, &request_query(), json!({ "cart": anonymous["cart"]["id"], "token": anonymous["cartToken"], "message": "", "contact": { "name": "Ann", "email": "ann@example.test" } })).await;
        assert_eq!(code(&body), "QUOTES_UNAVAILABLE");

        // Professional accounts only: identified users are refused everywhere.
        settings(&app, &admin.access, json!({ "visibleTo": ["ACCOUNT_CLIENT"] })).await;
        add_to_cart(&app, &identified.access, &pen, 1).await;
        assert_eq!(code(&request(&app, &identified.access, None).await), "QUOTES_UNAVAILABLE");
        let body = app.gql(Some(&identified.access), "{ myQuotes { totalCount } }", json!({})).await;
        assert_eq!(code(&body), "QUOTES_UNAVAILABLE");
        let mine = app.data(Some(&identified.access), available, json!({})).await;
        assert_eq!(mine["quoteSettings"]["availableToMe"], false);
        add_to_cart(&app, &client.access, &pen, 1).await;
        let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
        assert_eq!(quote["status"], "REQUESTED");

        // Switched off as a whole: nobody but staff.
        settings(&app, &admin.access, json!({ "enabled": false })).await;
        let body = app.gql(Some(&client.access), "query($id: ID!) { quote(id: $id) { id } }", json!({ "id": quote["id"] })).await;
        assert_eq!(code(&body), "QUOTES_UNAVAILABLE");
        let body = app.gql(Some(&client.access), "mutation($id: ID!) { deleteQuote(id: $id, version: 1) { id } }", json!({ "id": quote["id"] })).await;
        assert_eq!(code(&body), "QUOTES_UNAVAILABLE");
        let staff = app.data(Some(&manager.access), "query($id: ID!) { quote(id: $id) { status } }", json!({ "id": quote["id"] })).await;
        assert_eq!(staff["quote"]["status"], "REQUESTED");

        // Open to the public: a visitor's anonymous cart becomes a quote tied to their contact.
        settings(&app, &admin.access, json!({ "enabled": true, "visibleTo": ["PUBLIC", "IDENTIFIED", "ACCOUNT_CLIENT"] })).await;
        let anonymous = app.data(None, "mutation { cartCreate { cartToken cart { id } } }", json!({})).await["cartCreate"].clone();
        app.data(None, "mutation($t: String, $p: ID!) { cartAddLine(cartToken: $t, input: { productId: $p, quantity: 2 }) { id } }", json!({ "t": anonymous["cartToken"], "p": pen })).await;
        let body = app.gql(None, &request_query(), json!({ "cart": anonymous["cart"]["id"], "token": anonymous["cartToken"], "message": "" })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "contact", "a visitor says who they are");
        let quote = app.data(None, &request_query(), json!({ "cart": anonymous["cart"]["id"], "token": anonymous["cartToken"], "message": "Hello", "contact": { "name": "Ann Lee", "email": "ann@example.test", "company": "Société Générale" } })).await["requestQuote"].clone();
        assert_eq!(quote["contactEmail"], "ann@example.test");
        assert_eq!(quote["lines"][0]["quantity"], 2);
    }
}

db_test! {
    async fn a_quote_request_runs_the_same_statements_whatever_its_number_of_lines(app) with |config| {
        // The outbox worker and the quotes' upkeep run in the background; their statements
        // would blur the count.
        config.outbox_worker = false;
        config.maintenance_interval = std::time::Duration::from_hours(1);
    } {
        let manager = app.user(Role::Manager).await;
        let mut products = Vec::new();
        for reference in ["Q1", "Q2", "Q3"] {
            products.push(product(&app, &manager.access, json!({ "reference": reference })).await);
        }
        let (first, one, three) = (
            app.user(Role::AccountClient).await,
            app.user(Role::AccountClient).await,
            app.user(Role::AccountClient).await,
        );
        // A first request reads what is then kept (email templates, settings).
        add_to_cart(&app, &first.access, &products[0], 1).await;
        assert!(request(&app, &first.access, None).await["errors"].is_null());
        add_to_cart(&app, &one.access, &products[0], 1).await;
        for id in &products {
            add_to_cart(&app, &three.access, id, 2).await;
        }
        let counted = |token: String| {
            let app = &app;
            async move {
                let before = app.state.db.statements();
                let body = request(app, &token, None).await;
                assert!(body["errors"].is_null(), "{body}");
                let lines = body["data"]["requestQuote"]["lines"].as_array().unwrap().len();
                (lines, app.state.db.statements() - before)
            }
        };
        let (lines, of_one) = counted(one.access.clone()).await;
        assert_eq!(lines, 1);
        let (lines, of_three) = counted(three.access.clone()).await;
        assert_eq!(lines, 3);
        assert_eq!(of_one, of_three, "a request of one line, then of three");
    }
}

db_test! {
    async fn a_retried_request_returns_the_first_quote_and_stock_rules_apply(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let scarce = product(&app, &manager.access, json!({ "reference": "SCARCE", "name": "Scarce", "trackStock": true, "stock": 2 })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &scarce, 5).await;
        let refused = request(&app, &client.access, Some("k1")).await;
        assert_eq!(code(&refused), "OUT_OF_STOCK");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "lines.0");
        assert_eq!(refused["errors"][0]["extensions"]["available"], 2);

        settings(&app, &admin.access, json!({ "allowOutOfStock": true })).await;
        let cart = app.data(Some(&client.access), "{ myCart { id } }", json!({})).await["myCart"]["id"].clone();
        let vars = json!({ "cart": cart, "message": "", "key": "k2" });
        let query = request_query();
        let (a, b) = tokio::join!(
            app.gql(Some(&client.access), &query, vars.clone()),
            app.gql(Some(&client.access), &query, vars.clone()),
        );
        assert!(a["data"]["requestQuote"]["id"].is_string(), "{a}");
        assert_eq!(a["data"]["requestQuote"]["id"], b["data"]["requestQuote"]["id"], "{a} {b}");
        let mine = app.data(Some(&client.access), "{ myQuotes { totalCount } }", json!({})).await;
        assert_eq!(mine["myQuotes"]["totalCount"], 1);
    }
}

/// Both back ends, with a loopback SMTP server.
macro_rules! with_smtp {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    };
}

/// The body of the MIME part named `filename` in a raw message, decoded.
fn attachment(mail: &str, filename: &str) -> Vec<u8> {
    let start = mail
        .find(filename)
        .unwrap_or_else(|| panic!("no {filename} in {mail}"));
    let part_start = mail[..start].rfind("\r\n--").unwrap_or(0);
    let part = &mail[part_start..];
    let header_end = part.find("\r\n\r\n").expect("part body");
    let headers = part[..header_end].to_ascii_lowercase();
    let body_end = part[header_end + 4..]
        .find("\r\n--")
        .map_or(part.len(), |e| header_end + 4 + e);
    let body = &part[header_end + 4..body_end];
    if headers.contains("content-transfer-encoding: base64") {
        let flat: String = body.lines().collect();
        base64::engine::general_purpose::STANDARD
            .decode(flat.trim())
            .expect("base64 attachment")
    } else if headers.contains("quoted-printable") {
        let soft = body.replace("=\r\n", "");
        let bytes = soft.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    } else {
        body.as_bytes().to_vec()
    }
}

with_smtp!(the_seller_receives_each_request_with_a_summary_and_the_request_as_json);
async fn the_seller_receives_each_request_with_a_summary_and_the_request_as_json(backend: Backend) {
    let sink = MailSink::start();
    let url = sink.url.clone();
    let Some(app) =
        TestApp::spawn_with(backend, move |config| config.smtp_url = Some(url.into())).await
    else {
        return;
    };
    let admin = app.user(Role::Admin).await;
    let manager = app.user(Role::Manager).await;
    settings(
        &app,
        &admin.access,
        json!({ "salesManagerEmail": "sales@seller.test" }),
    )
    .await;
    let banner_id = banner(&app, &manager.access, "BAN").await;
    let client = app.user(Role::AccountClient).await;
    app.data(
        Some(&client.access),
        "mutation($p: ID!) { cartAddLine(input: { productId: $p, quantity: 3, configuration: [{ option: \"material\", value: \"vinyl\" }, { option: \"width\", number: \"2\" }] }) { id } }",
        json!({ "p": banner_id }),
    )
    .await;
    let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
    // 100 + 12.50 (vinyl) + 2 m × 10 = 132.50 a banner; three of them.
    assert_eq!(
        quote["lines"][0]["unitPrice"]["amount"], "132.50",
        "{quote}"
    );
    assert_eq!(quote["subtotal"]["amount"], "397.50");
    let cart = app
        .data(
            Some(&client.access),
            "{ myCart { lines { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(cart["myCart"]["lines"], json!([]), "the cart was emptied");

    let mail = sink.wait_for(1).await.remove(0);
    assert!(mail.contains("To: sales@seller.test"), "{mail}");
    let number = quote["number"].as_str().unwrap();
    assert!(
        mail.contains(&format!("Subject: Quote request {number}")),
        "{mail}"
    );
    let raw = attachment(&mail, &format!("{number}.json"));
    let json: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&raw)));
    assert_eq!(json["number"], number);
    assert_eq!(json["message"], "For the spring fair");
    assert_eq!(json["lines"][0]["reference"], "BAN");
    assert_eq!(json["lines"][0]["quantity"], 3);
    assert_eq!(json["lines"][0]["total"], "397.50");
    assert_eq!(json["lines"][0]["configuration"][0]["value"], "vinyl");
}

/// Posts a GraphQL multipart request (operations, map, files).
async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    files: Vec<(&str, &str, Vec<u8>)>,
) -> (u16, Value) {
    let map: serde_json::Map<String, Value> = files
        .iter()
        .enumerate()
        .map(|(i, _)| (i.to_string(), json!([format!("variables.files.{i}")])))
        .collect();
    let mut variables = variables;
    variables["files"] = json!(files.iter().map(|_| Value::Null).collect::<Vec<_>>());
    let mut form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .text("map", Value::Object(map).to_string());
    for (i, (name, mime, bytes)) in files.into_iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let response = app
        .client
        .post(&app.url)
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

db_test! {
    async fn a_configured_product_is_quoted_with_modifications_and_files(app) {
        let manager = app.user(Role::Manager).await;
        let banner_id = banner(&app, &manager.access, "BAN").await;
        let client = app.user(Role::AccountClient).await;
        let query = format!("mutation($p: ID!, $files: [Upload!]) {{ requestQuoteForConfiguration(productId: $p, quantity: 4,
            configuration: [{{ option: \"material\", value: \"paper\" }}, {{ option: \"width\", number: \"1.5\" }}],
            modifications: \"Rounded corners, eyelets every 50 cm\", attachments: $files) {{ {QUOTE_FIELDS} modifications }} }}");
        let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        let (status, body) = upload(&app, &client.access, &query, json!({ "p": banner_id }), vec![("artwork.pdf", "application/pdf", pdf.clone())]).await;
        assert_eq!(status, 200, "{body}");
        let quote = &body["data"]["requestQuoteForConfiguration"];
        assert_eq!(quote["modifications"], "Rounded corners, eyelets every 50 cm", "{body}");
        assert_eq!(quote["lines"][0]["quantity"], 4);
        assert_eq!(quote["lines"][0]["unitPrice"]["amount"], "115.00");
        assert_eq!(quote["attachments"], json!([{ "filename": "artwork.pdf", "contentType": "application/pdf", "size": pdf.len() }]));
        // The file comes back, to its customer and to staff only.
        let quote_id = quote["id"].clone();
        let url = app.data(Some(&client.access), "query($id: ID!) { quote(id: $id) { attachments { url } } }", json!({ "id": quote_id })).await["quote"]["attachments"][0]["url"].as_str().unwrap().to_owned();
        let file_url = format!("http://{}{url}", app.addr);
        let stranger = app.user(Role::AccountClient).await;
        for (token, status) in [(Some(&client.access), 200), (Some(&manager.access), 200), (Some(&stranger.access), 404), (None, 401)] {
            let mut request = app.client.get(&file_url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{token:?}");
            if status == 200 {
                assert_eq!(response.headers()["content-type"], "application/pdf");
                assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);
            }
        }

        // A file that is not what it claims, or of a type not accepted, is refused.
        let (_, body) = upload(&app, &client.access, &query, json!({ "p": banner_id }), vec![("fake.pdf", "application/pdf", b"MZ\x90\x00".to_vec())]).await;
        assert_eq!(code(&body), "VALIDATION");
        assert_eq!(body["errors"][0]["extensions"]["field"], "attachments.0");
        let (_, body) = upload(&app, &client.access, &query, json!({ "p": banner_id }), vec![("run.exe", "application/x-msdownload", b"MZ".to_vec())]).await;
        assert_eq!(code(&body), "VALIDATION");
        // An invalid configuration names the problem.
        let bad = query.replace("number: \\\"1.5\\\"", "number: \\\"9\\\"").replace("number: \"1.5\"", "number: \"9\"");
        let (_, body) = upload(&app, &client.access, &bad, json!({ "p": banner_id }), vec![]).await;
        assert_eq!(code(&body), "VALIDATION", "{body}");
        let mine = app.data(Some(&client.access), "{ myQuotes { totalCount } }", json!({})).await;
        assert_eq!(mine["myQuotes"]["totalCount"], 1, "nothing stored for refused requests");
    }
}

db_test! {
    async fn a_public_request_is_claimed_by_the_account_with_the_same_verified_email(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN" })).await;
        settings(&app, &admin.access, json!({ "visibleTo": ["PUBLIC", "IDENTIFIED", "ACCOUNT_CLIENT"] })).await;
        let anonymous = app.data(None, "mutation { cartCreate { cartToken cart { id } } }", json!({})).await["cartCreate"].clone();
        app.data(None, "mutation($t: String, $p: ID!) { cartAddLine(cartToken: $t, input: { productId: $p, quantity: 1 }) { id } }", json!({ "t": anonymous["cartToken"], "p": pen })).await;
        let quote = app.data(None, &request_query(), json!({ "cart": anonymous["cart"]["id"], "token": anonymous["cartToken"], "message": "", "contact": { "name": "Bea", "email": "bea@example.test" } })).await["requestQuote"].clone();

        let session = app.data(None, "mutation { register(input: { email: \"bea@example.test\", password: \"long enough\" }) { accessToken } }", json!({})).await;
        let token = session["register"]["accessToken"].as_str().unwrap().to_owned();
        let body = app.gql(Some(&token), "mutation { claimQuotes }", json!({})).await;
        assert_eq!(code(&body), "EMAIL_NOT_VERIFIED", "an unverified address claims nothing");

        // Verify through the link the outbox wrote to the mail folder.
        let link_token = loop_for_token(&app).await;
        app.data(None, "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }", json!({ "t": link_token })).await;
        let claimed = app.data(Some(&token), "mutation { claimQuotes }", json!({})).await;
        assert_eq!(claimed["claimQuotes"], 1);
        let mine = app.data(Some(&token), "{ myQuotes { edges { node { id } } } }", json!({})).await;
        assert_eq!(mine["myQuotes"]["edges"][0]["node"]["id"], quote["id"]);
        // Another account cannot claim it again.
        let again = app.data(Some(&token), "mutation { claimQuotes }", json!({})).await;
        assert_eq!(again["claimQuotes"], 0);
    }
}

async fn loop_for_token(app: &TestApp) -> String {
    for _ in 0..100 {
        if let Ok(entries) = std::fs::read_dir(app.mail_dir()) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if text.contains("verify-email?token=") {
                    return crate::mail::token_in(&text);
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no verification email in the mail folder");
}

const CONVERT: &str = "mutation($id: ID!, $v: Int!, $input: ConvertQuoteInput) {
    convertQuoteToOrder(id: $id, version: $v, input: $input) {
        quote { status transferredToOrder orderId }
        order { id status source total { amount } paymentMethod deliveryAddress { city } lines { quantity unitPrice { amount } } } } }";

db_test! {
    async fn a_sent_quote_becomes_an_order_with_its_terms(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let pen = product(&app, &manager.access, json!({ "reference": "PEN", "unitPrice": "2.50", "trackStock": true, "stock": 10 })).await;
        let client = app.user(Role::AccountClient).await;
        let stranger = app.user(Role::AccountClient).await;

        // Free conversion: the customer picks the delivery and the payment method.
        add_to_cart(&app, &client.access, &pen, 4).await;
        let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
        let sent = price_and_send(&app, &manager.access, &quote).await;
        assert_eq!(sent["status"], "SENT");
        // A stranger can neither read nor act on it.
        for mutation in ["declineQuote(id: $id, version: $v)", "deleteQuote(id: $id, version: $v)", "convertQuoteToOrder(id: $id, version: $v)", "requestQuoteNegotiation(id: $id, version: $v, message: \"x\")"] {
            let body = app.gql(Some(&stranger.access), &format!("mutation($id: ID!, $v: Int!) {{ {mutation} {{ __typename }} }}"), json!({ "id": sent["id"], "v": sent["version"] })).await;
            assert_eq!(code(&body), "NOT_FOUND", "{mutation}");
        }
        let body = app.gql(Some(&stranger.access), "query($id: ID!) { quote(id: $id) { id } }", json!({ "id": sent["id"] })).await;
        assert_eq!(code(&body), "NOT_FOUND");

        let input = json!({ "deliveryAddress": { "line1": "1 rue de Rivoli", "postalCode": "75001", "city": "Paris", "country": "FR" }, "paymentMethod": "card" });
        let converted = app.data(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"], "input": input })).await["convertQuoteToOrder"].clone();
        assert_eq!(converted["quote"]["status"], "ACCEPTED");
        assert_eq!(converted["quote"]["transferredToOrder"], true);
        assert_eq!(converted["quote"]["orderId"], converted["order"]["id"]);
        assert_eq!(converted["order"]["status"], "CONFIRMED");
        assert_eq!(converted["order"]["source"], "QUOTE");
        assert_eq!(converted["order"]["paymentMethod"], "card");
        assert_eq!(converted["order"]["deliveryAddress"]["city"], "Paris");
        assert_eq!(converted["order"]["total"]["amount"], sent["total"]["amount"]);
        let stock = app.data(Some(&manager.access), "query($id: ID!) { product(id: $id) { stock } }", json!({ "id": pen })).await;
        assert_eq!(stock["product"]["stock"], 6, "the order reserved its stock");
        let again = app.gql(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"] })).await;
        assert_eq!(code(&again), "CONFLICT", "stale version: {again}");

        // Minimal checkout and a locked payment method: the quote's terms are kept.
        settings(&app, &admin.access, json!({ "minimalCheckout": true, "lockPaymentMethod": true })).await;
        add_to_cart(&app, &client.access, &pen, 1).await;
        let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
        let sent = price_and_send(&app, &manager.access, &quote).await;
        let body = app.gql(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"], "input": input })).await;
        assert_eq!(code(&body), "VALIDATION");
        assert_eq!(body["errors"][0]["extensions"]["field"], "deliveryAddress");
        let body = app.gql(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"], "input": { "paymentMethod": "card" } })).await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "paymentMethod", "{body}");
        let converted = app.data(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"] })).await["convertQuoteToOrder"].clone();
        assert_eq!(converted["order"]["deliveryAddress"]["city"], "Bordeaux");
        assert_eq!(converted["order"]["paymentMethod"], "bank transfer");

        // Out of stock since it was sent: refused, unless the settings allow it.
        add_to_cart(&app, &client.access, &pen, 5).await;
        let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
        let sent = price_and_send(&app, &manager.access, &quote).await;
        app.data(Some(&manager.access), "mutation($id: ID!) { setProductStock(id: $id, stock: 1) { stock } }", json!({ "id": pen })).await;
        let body = app.gql(Some(&client.access), CONVERT, json!({ "id": sent["id"], "v": sent["version"] })).await;
        assert_eq!(code(&body), "OUT_OF_STOCK", "{body}");
        let still = app.data(Some(&client.access), "query($id: ID!) { quote(id: $id) { status } }", json!({ "id": sent["id"] })).await;
        assert_eq!(still["quote"]["status"], "SENT", "nothing changed");
    }
}

db_test! {
    async fn a_revision_cannot_be_sent_once_the_customer_accepted_the_one_it_replaces(app) {
        let manager = app.user(Role::Manager).await;
        let m = manager.access.as_str();
        let pen = product(&app, m, json!({ "reference": "PEN", "unitPrice": "3" })).await;
        let client = app.user(Role::AccountClient).await;
        add_to_cart(&app, &client.access, &pen, 10).await;
        let quote = request(&app, &client.access, None).await["data"]["requestQuote"].clone();
        let r1 = price_and_send(&app, m, &quote).await;
        // The manager starts a revision (a lower price)…
        let r2 = app.data(Some(m), &format!("mutation($id: ID!, $v: Int!, $l: ID!) {{ quoteUpdateLine(id: $id, version: $v, lineId: $l, input: {{ unitPrice: \"2.80\" }}) {{ {QUOTE_FIELDS} }} }}"), json!({ "id": r1["id"], "v": r1["version"], "l": r1["lines"][0]["id"] })).await["quoteUpdateLine"].clone();
        assert_eq!(r2["revision"], 2);
        assert_eq!(r2["status"], "IN_PREPARATION");
        // …while the customer accepts the quote they hold.
        let converted = app.data(Some(&client.access), CONVERT, json!({ "id": r1["id"], "v": r1["version"] })).await;
        assert_eq!(converted["convertQuoteToOrder"]["quote"]["status"], "ACCEPTED");
        let body = app.gql(Some(m), "mutation($id: ID!, $v: Int!) { sendQuote(id: $id, version: $v) { id } }", json!({ "id": r2["id"], "v": r2["version"] })).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        let orders = app.data(Some(&client.access), "{ myOrders { totalCount } }", json!({})).await;
        assert_eq!(orders["myOrders"]["totalCount"], 1, "one order, not two");
    }
}
