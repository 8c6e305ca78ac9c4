//! Production: files on order lines (upload, download, versions, comments, certification),
//! quality claims and their free reprint, and the orders made from orders; and what a customer
//! never reaches.

use comptoir_api::kernel::ids::{self, Kind};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use serde_json::{Value, json};

use crate::{
    catalog::product,
    documents::{Buyer, Shop, backend_pid, exec, statement, uuid, wait_until_blocked_by},
    helpers::{TestApp, code},
};

const PDF: &[u8] = b"%PDF-1.4\n% a visual\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a photo";

const FILE: &str = "id version filename contentType size current certified url
    versions { version current } comments { body }";

const UPLOAD: &str = "mutation($line: ID!, $file: Upload!) {
    uploadProductionFile(orderLineId: $line, file: $file) { id version filename size certified url } }";

const REPLACE: &str = "mutation($id: ID!, $file: Upload!) {
    replaceProductionFile(fileId: $id, file: $file) { id version filename } }";

/// Posts a GraphQL multipart request; `files` are (variable, file name, media type, bytes), the
/// variable being set to null in `variables` and mapped to its part.
pub async fn multipart(
    app: &TestApp,
    token: &str,
    query: &str,
    mut variables: Value,
    files: Vec<(&str, &str, &str, Vec<u8>)>,
) -> Value {
    let mut map = serde_json::Map::new();
    for (i, (path, ..)) in files.iter().enumerate() {
        map.insert(i.to_string(), json!([format!("variables.{path}")]));
        let mut at = &mut variables;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            at = match part.parse::<usize>() {
                Ok(index) => &mut at[index],
                Err(_) => &mut at[*part],
            };
        }
        let last = parts[parts.len() - 1];
        match last.parse::<usize>() {
            Ok(index) => at[index] = Value::Null,
            Err(_) => at[last] = Value::Null,
        }
    }
    let mut form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .text("map", Value::Object(map).to_string());
    for (i, (_, name, mime, bytes)) in files.into_iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        );
    }
    app.client
        .post(&app.url)
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn upload(
    app: &TestApp,
    token: &str,
    line: &Value,
    name: &str,
    mime: &str,
    bytes: &[u8],
) -> Value {
    multipart(
        app,
        token,
        UPLOAD,
        json!({ "line": line }),
        vec![("file", name, mime, bytes.to_vec())],
    )
    .await
}

async fn replace(app: &TestApp, token: &str, file: &Value, name: &str, bytes: &[u8]) -> Value {
    multipart(
        app,
        token,
        REPLACE,
        json!({ "id": file }),
        vec![("file", name, "application/pdf", bytes.to_vec())],
    )
    .await
}

/// The order as `token` reads it, with its files, links and timeline.
async fn read(app: &TestApp, token: &str, order: &Value) -> Value {
    let query = format!(
        "query($id: ID!) {{ order(id: $id) {{ id number status total {{ amount }} readyLineIds
            contact {{ name email }} billingAddress {{ line1 city }} deliveryAddress {{ line1 city }}
            lines {{ id name quantity unitPrice {{ amount }} discountPercent total {{ amount }} productionReady productionFiles {{ {FILE} }} }}
            copiedFrom {{ kind orderId claimId order {{ number }} }} copies {{ kind orderId }}
            qualityClaims {{ id status }} timeline {{ kind changes }} }} }}"
    );
    let body = app
        .gql(Some(token), &query, json!({ "id": order["id"] }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["order"].clone()
}

fn ok<'v>(body: &'v Value, field: &str) -> &'v Value {
    assert!(body.get("errors").is_none(), "{field}: {body}");
    &body["data"][field]
}

/// `order` moved along to `SHIPPED` by staff.
async fn shipped(shop: &Shop<'_>, order: &Value) -> Value {
    let order = shop
        .step("setOrderStatus", order, ", status: IN_PROGRESS")
        .await;
    shop.step("setOrderStatus", &order, ", status: SHIPPED")
        .await
}

db_test! {
    async fn files_are_uploaded_downloaded_commented_and_replaced_keeping_every_version(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Société Générale").await;
        let order = shop.order(&buyer).await;
        let line = &order["lines"][0]["id"];
        let first = upload(&app, &buyer.user.access, line, "visuel-salon.pdf", "application/pdf", PDF).await;
        let first = ok(&first, "uploadProductionFile").clone();
        assert_eq!(first["version"], 1);
        assert_eq!(first["size"], PDF.len());
        // The signed URL opens without headers; the bearer route works too.
        let (status, bytes) = shop.get(first["url"].as_str().unwrap(), None).await;
        assert_eq!((status, bytes.as_slice()), (200, PDF));
        let path = format!("/files/production-files/{}", first["id"].as_str().unwrap());
        assert_eq!(shop.get(&path, Some(&shop.manager.access)).await.1, PDF);
        assert_eq!(shop.get(&path, None).await.0, 401);

        let comment = app
            .gql(Some(&shop.manager.access), "mutation($id: ID!) { commentProductionFile(fileId: $id, body: \"Fond perdu manquant\") { body author { email } } }", json!({ "id": first["id"] }))
            .await;
        assert_eq!(ok(&comment, "commentProductionFile")["body"], "Fond perdu manquant");
        let second = replace(&app, &buyer.user.access, &first["id"], "visuel-salon-v2.pdf", b"%PDF-1.7\n% fixed").await;
        let second = ok(&second, "replaceProductionFile").clone();
        assert_eq!(second["version"], 2);
        let stale = replace(&app, &buyer.user.access, &first["id"], "again.pdf", PDF).await;
        assert_eq!(code(&stale), "INVALID_TRANSITION", "only the current version is replaced");

        let read = read(&app, &buyer.user.access, &order).await;
        let files = &read["lines"][0]["productionFiles"];
        assert_eq!(files.as_array().unwrap().len(), 1, "the current version only: {files}");
        assert_eq!(files[0]["filename"], "visuel-salon-v2.pdf");
        assert_eq!(files[0]["versions"], json!([{ "version": 1, "current": false }, { "version": 2, "current": true }]));
        assert_eq!(shop.get(&path, Some(&buyer.user.access)).await.1, PDF, "the first version is kept");
        let kinds: Vec<&str> = read["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        for kind in ["PRODUCTION_FILE_UPLOADED", "PRODUCTION_FILE_COMMENTED", "PRODUCTION_FILE_REPLACED"] {
            assert!(kinds.contains(&kind), "{kinds:?}");
        }
    }
}

db_test! {
    async fn uploads_over_the_limits_or_of_bad_types_are_refused(app) with |config| {
        config.max_upload_bytes = 1_000;
    } {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let line = &order["lines"][0]["id"];
        let token = &buyer.user.access;
        let cases: [(&str, &str, Vec<u8>); 4] = [
            ("big.pdf", "application/pdf", [PDF, &[b'x'; 1_000]].concat()),
            ("archive.zip", "application/zip", b"PK\x03\x04".to_vec()),
            ("fake.pdf", "application/pdf", PNG.to_vec()),
            ("empty.pdf", "application/pdf", Vec::new()),
        ];
        for (name, mime, bytes) in cases {
            let body = upload(&app, token, line, name, mime, &bytes).await;
            assert_eq!(code(&body), "VALIDATION", "{name}: {body}");
            if name == "big.pdf" {
                // Refused while the request is read (HTTP 413), before any resolver runs.
                assert!(body["errors"][0]["message"].as_str().unwrap().contains("too large"), "{body}");
            } else {
                assert_eq!(body["errors"][0]["extensions"]["field"], "file", "{name}: {body}");
            }
        }
        assert_eq!(read(&app, token, &order).await["lines"][0]["productionFiles"], json!([]));
        let stored = std::fs::read_dir(app.mail_dir().parent().unwrap().join("storage").join("production"));
        assert_eq!(stored.map_or(0, Iterator::count), 0, "nothing was stored");
        let not_an_id = upload(&app, token, &json!("nope"), "a.pdf", "application/pdf", PDF).await;
        assert_eq!(code(&not_an_id), "VALIDATION");
        assert_eq!(not_an_id["errors"][0]["extensions"]["field"], "orderLineId");
    }
}

db_test! {
    async fn a_certified_file_is_not_replaced_until_uncertified_and_the_order_shows_ready_lines(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let line = order["lines"][0]["id"].clone();
        let file = ok(&upload(&app, &buyer.user.access, &line, "a.pdf", "application/pdf", PDF).await, "uploadProductionFile").clone();
        let certify = "mutation($id: ID!) { certifyProductionFile(fileId: $id) { certified version } }";
        let uncertify = "mutation($id: ID!) { uncertifyProductionFile(fileId: $id) { certified } }";
        assert_eq!(code(&app.gql(Some(&buyer.user.access), certify, json!({ "id": file["id"] })).await), "FORBIDDEN");
        let before = read(&app, &shop.manager.access, &order).await;
        assert_eq!(before["readyLineIds"], json!([]));
        assert_eq!(before["lines"][0]["productionReady"], false);

        assert_eq!(ok(&app.gql(shop.staff(), certify, json!({ "id": file["id"] })).await, "certifyProductionFile")["certified"], true);
        assert_eq!(code(&app.gql(shop.staff(), certify, json!({ "id": file["id"] })).await), "INVALID_TRANSITION");
        let ready = read(&app, &buyer.user.access, &order).await;
        assert_eq!(ready["readyLineIds"], json!([line]));
        let sheet = shop.order_url(&shop.manager.access, &order, "WORK_SHEET").await;
        let (status, pdf) = shop.get(sheet["data"]["order"]["documentUrl"].as_str().unwrap(), None).await;
        assert_eq!(status, 200);
        let sheet = crate::documents::text(&pdf);
        assert!(sheet.contains("File: a.pdf (version 1, certified)"), "the work sheet names the file:\n{sheet}");
        assert_eq!(ready["lines"][0]["productionReady"], true);
        assert_eq!(ready["lines"][1]["productionReady"], false, "a line without files is not ready");

        let refused = replace(&app, &buyer.user.access, &file["id"], "b.pdf", PDF).await;
        assert_eq!(code(&refused), "INVALID_TRANSITION");
        ok(&app.gql(shop.staff(), uncertify, json!({ "id": file["id"] })).await, "uncertifyProductionFile");
        let replaced = replace(&app, &buyer.user.access, &file["id"], "b.pdf", PDF).await;
        assert_eq!(ok(&replaced, "replaceProductionFile")["version"], 2);
        let after = read(&app, &shop.manager.access, &order).await;
        assert_eq!(after["readyLineIds"], json!([]), "the new version waits for certification");
        assert_eq!(code(&app.gql(shop.staff(), certify, json!({ "id": file["id"] })).await), "INVALID_TRANSITION", "an old version is not certified");
    }
}

async fn open_claim(
    app: &TestApp,
    token: &str,
    line: &Value,
    photos: Vec<(&str, &str, Vec<u8>)>,
) -> Value {
    let query = "mutation($line: ID!, $description: String!, $photos: [Upload!]) {
        openQualityClaim(orderLineId: $line, reason: WRONG_COLOURS, description: $description, photos: $photos) {
            id status reason photos { filename url } } }";
    let count = photos.len();
    let files: Vec<(String, &str, &str, Vec<u8>)> = photos
        .into_iter()
        .enumerate()
        .map(|(i, (name, mime, bytes))| (format!("photos.{i}"), name, mime, bytes))
        .collect();
    let input = json!({ "line": line, "description": "Les couleurs sont ternes",
        "photos": vec![Value::Null; count] });
    multipart(
        app,
        token,
        query,
        input,
        files
            .iter()
            .map(|(p, n, m, b)| (p.as_str(), *n, *m, b.clone()))
            .collect(),
    )
    .await
}

db_test! {
    async fn claims_open_only_on_custom_lines_of_shipped_orders_and_are_decided_once(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let (custom, standard) = (&order["lines"][0]["id"], &order["lines"][1]["id"]);
        let token = &buyer.user.access;
        assert_eq!(code(&open_claim(&app, token, custom, vec![]).await), "INVALID_TRANSITION", "not shipped yet");
        let order = shipped(&shop, &order).await;
        let on_standard = open_claim(&app, token, standard, vec![]).await;
        assert_eq!(code(&on_standard), "VALIDATION");
        assert_eq!(on_standard["errors"][0]["extensions"]["field"], "orderLineId");
        let bad_photo = open_claim(&app, token, custom, vec![("scan.pdf", "application/pdf", PDF.to_vec())]).await;
        assert_eq!(code(&bad_photo), "VALIDATION");
        assert_eq!(bad_photo["errors"][0]["extensions"]["field"], "photos.0");

        let claim = open_claim(&app, token, custom, vec![("photo.png", "image/png", PNG.to_vec())]).await;
        let claim = ok(&claim, "openQualityClaim").clone();
        assert_eq!(claim["status"], "OPEN");
        let (status, photo) = shop.get(claim["photos"][0]["url"].as_str().unwrap(), None).await;
        assert_eq!((status, photo.as_slice()), (200, PNG));

        let accept = "mutation($id: ID!) { acceptQualityClaim(claimId: $id, note: \"Nous réimprimons\") { status decisionNote } }";
        let reject = "mutation($id: ID!) { rejectQualityClaim(claimId: $id) { status } }";
        let reprint = "mutation($id: ID!) { createReprintAfterClaim(claimId: $id) { claim { status } order { id number } } }";
        assert_eq!(code(&app.gql(Some(token), accept, json!({ "id": claim["id"] })).await), "FORBIDDEN");
        assert_eq!(code(&app.gql(shop.staff(), reprint, json!({ "id": claim["id"] })).await), "INVALID_TRANSITION", "not accepted yet");
        assert_eq!(ok(&app.gql(shop.staff(), accept, json!({ "id": claim["id"] })).await, "acceptQualityClaim")["status"], "ACCEPTED");
        assert_eq!(code(&app.gql(shop.staff(), reject, json!({ "id": claim["id"] })).await), "INVALID_TRANSITION");

        let second = ok(&open_claim(&app, token, custom, vec![]).await, "openQualityClaim").clone();
        ok(&app.gql(shop.staff(), reject, json!({ "id": second["id"] })).await, "rejectQualityClaim");
        assert_eq!(code(&app.gql(shop.staff(), reprint, json!({ "id": second["id"] })).await), "INVALID_TRANSITION", "a rejected claim gets no reprint");
        let mine = app.data(Some(token), "{ qualityClaims(first: 10) { totalCount edges { node { status } } } }", json!({})).await;
        assert_eq!(mine["qualityClaims"]["totalCount"], 2);
        let timeline = read(&app, token, &order).await["timeline"].to_string();
        assert!(timeline.contains("CLAIM_OPENED") && timeline.contains("CLAIM_ACCEPTED") && timeline.contains("CLAIM_REJECTED"), "{timeline}");
    }
}

db_test! {
    async fn an_accepted_claim_gets_one_free_reprint_of_its_line_and_files(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let custom = order["lines"][0]["id"].clone();
        let file = ok(&upload(&app, &buyer.user.access, &custom, "visuel.pdf", "application/pdf", PDF).await, "uploadProductionFile").clone();
        let order = shipped(&shop, &order).await;
        let claim = ok(&open_claim(&app, &buyer.user.access, &custom, vec![]).await, "openQualityClaim").clone();
        app.data(shop.staff(), "mutation($id: ID!) { acceptQualityClaim(claimId: $id) { status } }", json!({ "id": claim["id"] })).await;
        let reprint = "mutation($id: ID!) { createReprintAfterClaim(claimId: $id) { claim { status reprintOrder { id } } order { id number status } } }";
        let made = app.data(shop.staff(), reprint, json!({ "id": claim["id"] })).await["createReprintAfterClaim"].clone();
        assert_eq!(made["order"]["status"], "DRAFT");
        assert_eq!(made["claim"]["reprintOrder"]["id"], made["order"]["id"]);
        assert_eq!(code(&app.gql(shop.staff(), reprint, json!({ "id": claim["id"] })).await), "CONFLICT", "one reprint per claim");

        let copy = read(&app, &shop.manager.access, &made["order"]).await;
        let lines = copy["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "the claimed line only");
        assert_eq!(lines[0]["name"], order["lines"][0]["name"]);
        assert_eq!(lines[0]["quantity"], order["lines"][0]["quantity"]);
        assert_eq!(lines[0]["unitPrice"]["amount"], "0.00");
        assert_eq!(copy["total"]["amount"], "0.00");
        assert_eq!(lines[0]["productionFiles"][0]["filename"], "visuel.pdf");
        let (_, bytes) = shop.get(lines[0]["productionFiles"][0]["url"].as_str().unwrap(), None).await;
        assert_eq!(bytes, PDF, "the same visual");
        assert_ne!(lines[0]["productionFiles"][0]["id"], file["id"]);
        assert_eq!(copy["copiedFrom"]["kind"], "CLAIM_REPRINT");
        assert_eq!(copy["copiedFrom"]["claimId"], claim["id"]);
        assert_eq!(copy["copiedFrom"]["order"]["number"], order["number"]);
        let source = read(&app, &shop.manager.access, &order).await;
        assert_eq!(source["copies"], json!([{ "kind": "CLAIM_REPRINT", "orderId": made["order"]["id"] }]));
        assert!(source["timeline"].to_string().contains("ORDER_COPIED"));
        // The customer sees the link once the reprint is shown to them, not while it is a draft.
        assert_eq!(read(&app, &buyer.user.access, &order).await["copies"], json!([]));
    }
}

db_test! {
    async fn each_copy_kind_copies_exactly_what_it_should(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Société Générale").await;
        let order = shop.order(&buyer).await;
        let custom = order["lines"][0]["id"].clone();
        ok(&upload(&app, &buyer.user.access, &custom, "visuel.pdf", "application/pdf", PDF).await, "uploadProductionFile");
        let source = read(&app, &shop.manager.access, &order).await;
        let copy = |name: &'static str| {
            let app = &app;
            let shop = &shop;
            let order = order.clone();
            async move {
                let query = format!("mutation($id: ID!) {{ {name}(orderId: $id) {{ id status }} }}");
                let made = app.data(shop.staff(), &query, json!({ "id": order["id"] })).await[name].clone();
                assert_eq!(made["status"], "DRAFT");
                read(app, &shop.manager.access, &made).await
            }
        };
        let lines = |order: &Value| -> Vec<(Value, Value, Value, Value)> {
            order["lines"].as_array().unwrap().iter()
                .map(|l| (l["name"].clone(), l["quantity"].clone(), l["unitPrice"].clone(), l["discountPercent"].clone()))
                .collect()
        };
        let files = |order: &Value| -> Vec<Value> {
            order["lines"].as_array().unwrap().iter()
                .flat_map(|l| l["productionFiles"].as_array().unwrap().iter().map(|f| f["filename"].clone()))
                .collect()
        };

        let reprint = copy("reprintOrder").await;
        assert_eq!(lines(&reprint), lines(&source), "same lines, quantities, prices");
        assert_eq!(files(&reprint), vec![json!("visuel.pdf")], "same visuals");
        assert_eq!(reprint["total"], source["total"]);
        assert_eq!(reprint["copiedFrom"]["kind"], "REPRINT");

        let duplicate = copy("duplicateOrder").await;
        assert_eq!(lines(&duplicate), lines(&source));
        assert_eq!(files(&duplicate), Vec::<Value>::new(), "no files: the customer sends new ones");
        assert_eq!(duplicate["copiedFrom"]["kind"], "DUPLICATE");

        let fresh = copy("newOrderForCustomer").await;
        assert_eq!(fresh["lines"], json!([]));
        assert_eq!(fresh["total"]["amount"], "0.00");
        assert_eq!(fresh["contact"], source["contact"]);
        assert_eq!(fresh["billingAddress"], source["billingAddress"]);
        assert_eq!(fresh["deliveryAddress"], source["deliveryAddress"]);
        assert_eq!(fresh["copiedFrom"]["kind"], "NEW_FOR_CUSTOMER");

        for made in [&reprint, &duplicate, &fresh] {
            assert_eq!(made["copiedFrom"]["orderId"], order["id"]);
            assert!(made["timeline"].to_string().contains(order["number"].as_str().unwrap()), "{}", made["timeline"]);
        }
        let after = read(&app, &shop.manager.access, &order).await;
        let kinds: Vec<&Value> = after["copies"].as_array().unwrap().iter().map(|c| &c["kind"]).collect();
        assert_eq!(kinds, [&json!("REPRINT"), &json!("DUPLICATE"), &json!("NEW_FOR_CUSTOMER")]);
        let copied = after["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == "ORDER_COPIED").count();
        assert_eq!(copied, 3);
        let by_customer = app.gql(Some(&buyer.user.access), "mutation($id: ID!) { duplicateOrder(orderId: $id) { id } }", json!({ "id": order["id"] })).await;
        assert_eq!(code(&by_customer), "FORBIDDEN");
    }
}

db_test! {
    async fn customers_never_reach_another_customers_files_claims_or_photos(app) {
        let shop = Shop::open(&app).await;
        let mine = shop.buyer("Société Générale").await;
        let theirs: Buyer = shop.buyer("Autre Client").await;
        let order = shop.order(&mine).await;
        let custom = order["lines"][0]["id"].clone();
        let file = ok(&upload(&app, &mine.user.access, &custom, "a.pdf", "application/pdf", PDF).await, "uploadProductionFile").clone();
        shipped(&shop, &order).await;
        let claim = ok(&open_claim(&app, &mine.user.access, &custom, vec![("p.png", "image/png", PNG.to_vec())]).await, "openQualityClaim").clone();
        let other = &theirs.user.access;

        assert_eq!(code(&upload(&app, other, &custom, "x.pdf", "application/pdf", PDF).await), "NOT_FOUND");
        assert_eq!(code(&replace(&app, other, &file["id"], "x.pdf", PDF).await), "NOT_FOUND");
        let comment = app.gql(Some(other), "mutation($id: ID!) { commentProductionFile(fileId: $id, body: \"x\") { body } }", json!({ "id": file["id"] })).await;
        assert_eq!(code(&comment), "NOT_FOUND");
        assert_eq!(code(&open_claim(&app, other, &custom, vec![]).await), "NOT_FOUND");
        let read_claim = app.gql(Some(other), "query($id: ID!) { qualityClaim(id: $id) { id } }", json!({ "id": claim["id"] })).await;
        assert_eq!(code(&read_claim), "NOT_FOUND");
        let listed = app.data(Some(other), "{ qualityClaims(first: 10) { totalCount } }", json!({})).await;
        assert_eq!(listed["qualityClaims"]["totalCount"], 0);
        let file_path = format!("/files/production-files/{}", file["id"].as_str().unwrap());
        assert_eq!(shop.get(&file_path, Some(other)).await.0, 404);
        let photo_url = claim["photos"][0]["url"].as_str().unwrap();
        let photo_path = photo_url.split('?').next().unwrap();
        assert_eq!(shop.get(photo_path, Some(other)).await.0, 404);
        assert_eq!(shop.get(photo_path, Some(&mine.user.access)).await.0, 200);
        // A link signed for one file does not open another.
        let query = &photo_url[photo_url.find('?').unwrap()..];
        assert_eq!(shop.get(&format!("{file_path}{query}"), None).await.0, 401);
    }
}

db_test! {
    async fn a_page_of_orders_with_invoices_files_claims_and_copies_costs_no_statement_per_order(app) with |config| {
        // The outbox worker polls in the background; its statements would blur the count.
        config.outbox_worker = false;
    } {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        for _ in 0..6 {
            let order = shop.order(&buyer).await;
            let custom = order["lines"][0]["id"].clone();
            let file = ok(&upload(&app, &buyer.user.access, &custom, "a.pdf", "application/pdf", PDF).await, "uploadProductionFile").clone();
            app.data(shop.staff(), "mutation($id: ID!) { certifyProductionFile(fileId: $id) { id } }", json!({ "id": file["id"] })).await;
            app.data(shop.staff(), "mutation($id: ID!) { commentProductionFile(fileId: $id, body: \"ok\") { id } }", json!({ "id": file["id"] })).await;
            ok(&shop.issue(&order).await, "issueInvoice");
            shipped(&shop, &order).await;
            let claim = ok(&open_claim(&app, &buyer.user.access, &custom, vec![("p.png", "image/png", PNG.to_vec())]).await, "openQualityClaim").clone();
            app.data(shop.staff(), "mutation($id: ID!) { acceptQualityClaim(claimId: $id) { id } }", json!({ "id": claim["id"] })).await;
            app.data(shop.staff(), "mutation($id: ID!) { createReprintAfterClaim(claimId: $id) { order { id } } }", json!({ "id": claim["id"] })).await;
        }
        // Each field a page may ask for, on its own: the same statements for 2 orders as for 12.
        // (Loaders gather the keys asked for within a millisecond, so a busy machine may split a
        // batch in two: the fewest statements of a few runs is what a page costs.)
        for fields in [
            "transferredToInvoice",
            "invoices { number pdfUrl }",
            "invoices { order { number } }",
            "readyLineIds documentUrl(kind: ORDER_CONFIRMATION)",
            "lines { productionReady }",
            "lines { productionFiles { url certifiedBy { email } } }",
            "lines { productionFiles { versions { version } } }",
            "lines { productionFiles { comments { body author { email } } } }",
            "qualityClaims { photos { url } }",
            "qualityClaims { reprintOrder { number } }",
            "copiedFrom { kind order { number } }",
            "copies { kind order { number } }",
        ] {
            let page = format!(
                "query($n: Int) {{ orders(first: $n, filter: {{ includeCompleted: true }}, sort: {{ field: NUMBER }}) {{
                    edges {{ node {{ number {fields} }} }} }} }}"
            );
            let mut counts = Vec::new();
            // By number: each claim's order, then its reprint; two orders are one of each.
            for n in [2_usize, 12] {
                let mut fewest = u64::MAX;
                for _ in 0..5 {
                    let before = app.state.db.statements();
                    let data = app.data(shop.staff(), &page, json!({ "n": n })).await;
                    fewest = fewest.min(app.state.db.statements() - before);
                    assert_eq!(data["orders"]["edges"].as_array().unwrap().len(), n);
                }
                counts.push(fewest);
            }
            assert_eq!(counts[0], counts[1], "{fields}: statements for 2 and 12 orders: {counts:?}");
        }
    }
}

db_test! {
    async fn a_copied_file_keeps_its_certification_as_it_happened(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let line = order["lines"][0]["id"].clone();
        let file = ok(&upload(&app, &buyer.user.access, &line, "a.pdf", "application/pdf", PDF).await, "uploadProductionFile").clone();
        app.data(shop.staff(), "mutation($id: ID!) { certifyProductionFile(fileId: $id) { id } }", json!({ "id": file["id"] })).await;
        let files = "query($id: ID!) { order(id: $id) { lines { productionFiles { id certified certifiedAt certifiedBy { email } } } } }";
        let original = app.data(shop.staff(), files, json!({ "id": order["id"] })).await["order"]["lines"][0]["productionFiles"][0].clone();
        assert_eq!(original["certifiedBy"]["email"], shop.manager.email.as_str());

        app.state.clock.advance(chrono::Duration::days(30));
        let copy = app.data(shop.staff(), "mutation($id: ID!) { reprintOrder(orderId: $id) { id } }", json!({ "id": order["id"] })).await["reprintOrder"].clone();
        let copied = app.data(shop.staff(), files, json!({ "id": copy["id"] })).await["order"]["lines"][0]["productionFiles"][0].clone();
        assert_ne!(copied["id"], original["id"]);
        assert_eq!(copied["certified"], true);
        assert_eq!(copied["certifiedAt"], original["certifiedAt"], "when it was checked, not when it was copied");
        assert_eq!(copied["certifiedBy"], original["certifiedBy"]);
    }
}

db_test! {
    async fn a_reprint_or_copy_that_finds_nothing_names_the_argument_it_was_given(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let custom = order["lines"][0]["id"].clone();
        shipped(&shop, &order).await;
        let claim = ok(&open_claim(&app, &buyer.user.access, &custom, vec![]).await, "openQualityClaim").clone();
        app.data(shop.staff(), "mutation($id: ID!) { acceptQualityClaim(claimId: $id) { id } }", json!({ "id": claim["id"] })).await;
        // The claimed line is no longer one a copy takes (staged behind the API's back: a line
        // with a rental period is never copied).
        let now = chrono::Utc::now();
        exec(app.state.db.read(), "UPDATE order_line SET rental_start = $1, rental_end = $2 WHERE id = $3",
            vec![now.into(), now.into(), uuid(Kind::OrderLine, &custom).into()]).await;
        let reprint = app.gql(shop.staff(), "mutation($id: ID!) { createReprintAfterClaim(claimId: $id) { order { id } } }", json!({ "id": claim["id"] })).await;
        assert_eq!(code(&reprint), "NOT_FOUND", "{reprint}");
        assert_eq!(reprint["errors"][0]["extensions"]["field"], "claimId");

        let unknown = ids::encode(Kind::Order, uuid::Uuid::now_v7());
        for name in ["reprintOrder", "duplicateOrder", "newOrderForCustomer"] {
            let copy = app.gql(shop.staff(), &format!("mutation($id: ID!) {{ {name}(orderId: $id) {{ id }} }}"), json!({ "id": unknown })).await;
            assert_eq!(code(&copy), "NOT_FOUND", "{name}: {copy}");
            assert_eq!(copy["errors"][0]["extensions"]["field"], "orderId", "{name}");
        }
    }
}

/// Two stocked products, `(low, high)` by ID: the order stock rows are locked in.
async fn two_stocked_products(shop: &Shop<'_>) -> ((String, uuid::Uuid), (String, uuid::Uuid)) {
    let mut products = Vec::new();
    for reference in ["INK-A", "INK-B"] {
        let id = product(
            shop.app,
            &shop.manager.access,
            json!({ "reference": reference, "name": reference,
            "trackStock": true, "stock": 100 }),
        )
        .await;
        let uuid = uuid(Kind::Product, &json!(id));
        products.push((id, uuid));
    }
    products.sort_by_key(|(_, uuid)| *uuid);
    let high = products.pop().unwrap();
    let low = products.pop().unwrap();
    (low, high)
}

/// Runs `request` while another transaction holds the stock row of `low`. On PostgreSQL the
/// request must wait for it *without* holding `high`'s row: the other transaction can then take
/// `high` at once (`NOWAIT`). A request taking stock in line order (`high` first) would hold it,
/// and the two would deadlock as soon as the other transaction wanted it.
async fn takes_stock_in_id_order(
    app: &TestApp,
    low: uuid::Uuid,
    high: uuid::Uuid,
    request: impl std::future::Future<Output = Value>,
) -> Value {
    if app.state.db.backend() != DbBackend::Postgres {
        return request.await; // one writer: nothing to order
    }
    let lock = "SELECT id FROM product WHERE id = $1 FOR UPDATE";
    let other = app.state.db.read().begin().await.unwrap();
    other
        .query_one_raw(statement(&other, lock, vec![low.into()]))
        .await
        .unwrap();
    let pid = backend_pid(&other).await;
    let (response, ()) = tokio::join!(request, async {
        wait_until_blocked_by(app, pid).await;
        let high_row = other
            .query_one_raw(statement(
                &other,
                &format!("{lock} NOWAIT"),
                vec![high.into()],
            ))
            .await;
        let free = high_row.is_ok();
        other.rollback().await.unwrap();
        assert!(
            free,
            "the request held the second product's stock while waiting for the first: {high_row:?}"
        );
    });
    response
}

db_test! {
    async fn copies_and_orders_from_quotes_take_stock_in_product_order(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let ((low_id, low), (high_id, high)) = two_stocked_products(&shop).await;
        // Lines in the opposite order from the products' IDs.
        let draft = shop.run("mutation($c: ID!) { createOrder(customerId: $c, input: {}) { id version } }", json!({ "c": buyer.id })).await["createOrder"].clone();
        let mut order = draft;
        for product in [&high_id, &low_id] {
            order = shop.run("mutation($id: ID!, $v: Int!, $p: ID!) { orderAddLine(orderId: $id, version: $v, input: { productId: $p, quantity: 1 }) { id version lines { name } } }",
                json!({ "id": order["id"], "v": order["version"], "p": product })).await["orderAddLine"].clone();
        }
        let duplicate = takes_stock_in_id_order(&app, low, high, app.gql(shop.staff(),
            "mutation($id: ID!) { duplicateOrder(orderId: $id) { lines { name } } }", json!({ "id": order["id"] }))).await;
        assert!(duplicate.get("errors").is_none(), "{duplicate}");
        assert_eq!(duplicate["data"]["duplicateOrder"]["lines"], order["lines"], "the copy keeps the lines' order");

        let quote = shop.run("mutation($c: ID!) { createQuote(customerId: $c) { id version } }", json!({ "c": buyer.id })).await["createQuote"].clone();
        let mut quote = quote;
        for product in [&high_id, &low_id] {
            quote = shop.run("mutation($id: ID!, $v: Int!, $p: ID!) { quoteAddLine(id: $id, version: $v, input: { productId: $p, quantity: 2 }) { id version } }",
                json!({ "id": quote["id"], "v": quote["version"], "p": product })).await["quoteAddLine"].clone();
        }
        let quote = shop.run("mutation($id: ID!, $v: Int!) { updateQuoteTerms(id: $id, version: $v, input: { deliveryAddress: { line1: \"1 rue de la Paix\", postalCode: \"75002\", city: \"Paris\", country: \"FR\" } }) { id version } }",
            json!({ "id": quote["id"], "v": quote["version"] })).await["updateQuoteTerms"].clone();
        let quote = shop.run("mutation($id: ID!, $v: Int!) { sendQuote(id: $id, version: $v) { id version } }",
            json!({ "id": quote["id"], "v": quote["version"] })).await["sendQuote"].clone();
        let converted = takes_stock_in_id_order(&app, low, high, app.gql(Some(&buyer.user.access),
            "mutation($id: ID!, $v: Int!) { convertQuoteToOrder(id: $id, version: $v) { order { status lines { quantity } } } }",
            json!({ "id": quote["id"], "v": quote["version"] }))).await;
        assert!(converted.get("errors").is_none(), "{converted}");
        assert_eq!(converted["data"]["convertQuoteToOrder"]["order"]["status"], "CONFIRMED");
        for id in [&low_id, &high_id] {
            let stock = app.data(shop.staff(), "query($id: ID!) { product(id: $id) { stock } }", json!({ "id": id })).await;
            assert_eq!(stock["product"]["stock"], 100 - 1 - 1 - 2, "the order, its copy and the quote's order");
        }
    }
}

db_test! {
    async fn production_files_and_claims_are_listed_through_indexes(app) {
        let db = app.state.db.read();
        let sql = if app.state.db.backend() == DbBackend::Postgres {
            "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1"
        };
        for (table, index) in [("production_file", "idx_production_file_order"), ("quality_claim", "idx_quality_claim_status")] {
            let names: Vec<String> = db.query_all_raw(statement(db, sql, vec![table.into()])).await.unwrap()
                .iter().map(|row| row.try_get::<String>("", "name").unwrap()).collect();
            assert!(names.iter().any(|n| n == index), "{table}: {names:?}");
        }
        if app.state.db.backend() == DbBackend::Sqlite {
            // What an order page asks (`Order.lines.productionFiles`): found by index, not a scan.
            let plan = "EXPLAIN QUERY PLAN SELECT id FROM production_file WHERE order_id IN ($1, $2) ORDER BY created_at, version";
            let rows = db.query_all_raw(statement(db, plan, vec![uuid::Uuid::now_v7().into(), uuid::Uuid::now_v7().into()])).await.unwrap();
            let detail: Vec<String> = rows.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect();
            assert!(detail.iter().any(|d| d.contains("idx_production_file_order")), "{detail:?}");
        }
    }
}

db_test! {
    async fn uploaded_files_and_photos_must_start_with_their_formats_signature(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Client").await;
        let order = shop.order(&buyer).await;
        let line = order["lines"][0]["id"].clone();
        let token = &buyer.user.access;
        let refused: [(&str, &str, &[u8]); 4] = [
            ("scan.tif", "image/tiff", b"not a TIFF at all"),
            ("scan.tif", "image/tiff", b"II\0*swapped"),
            ("visual.pdf", "application/pdf", b"%PDF without its dash"),
            ("visual.png", "image/png", b"\x89PNG but no signature"),
        ];
        for (name, mime, bytes) in refused {
            let body = upload(&app, token, &line, name, mime, bytes).await;
            assert_eq!(code(&body), "VALIDATION", "{name}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["field"], "file");
        }
        for (name, bytes) in [("intel.tif", &b"II*\0\x08\0\0\0"[..]), ("motorola.tif", &b"MM\0*\0\0\0\x08"[..])] {
            let body = upload(&app, token, &line, name, "image/tiff", bytes).await;
            assert_eq!(ok(&body, "uploadProductionFile")["size"], bytes.len(), "{name}");
        }

        shipped(&shop, &order).await;
        let fake_png = open_claim(&app, token, &line, vec![("photo.png", "image/png", b"\x89PNG, or so it says".to_vec())]).await;
        assert_eq!(code(&fake_png), "VALIDATION", "{fake_png}");
        assert_eq!(fake_png["errors"][0]["extensions"]["field"], "photos.0");
        let png_as_jpeg = open_claim(&app, token, &line, vec![("photo.jpg", "image/jpeg", PNG.to_vec())]).await;
        assert_eq!(code(&png_as_jpeg), "VALIDATION");
        assert_eq!(png_as_jpeg["errors"][0]["extensions"]["field"], "photos.0");
        let jpeg = open_claim(&app, token, &line, vec![("photo.jpg", "image/jpeg", b"\xFF\xD8\xFF\xE0 a photo".to_vec())]).await;
        ok(&jpeg, "openQualityClaim");
    }
}
