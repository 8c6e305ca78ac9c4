//! Kept responses to catalog reads: answered without rendering while the catalog is unchanged,
//! never stale after a committed change (on this instance or another), never shared between
//! staff and the public.

use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::{
    catalog::{banner, product, variant},
    helpers::TestApp,
    orders::checkout,
};

const PAGE: &str = "{ products(first: 20, sort: NAME_ASC) { totalCount edges { node {
    reference name unitPrice { amount currencyCode } stock inStock
    variants { reference unitPrice { amount } stock }
    options { code name values { code label priceModifier { amount } } } } } } }";

/// The page as `token` sees it, and the SQL statements it took.
async fn page(app: &TestApp, token: Option<&str>) -> (Value, u64) {
    let before = app.state.db.statements();
    let data = app.data(token, PAGE, json!({})).await;
    (data, app.state.db.statements() - before)
}

fn node<'a>(page: &'a Value, reference: &str) -> &'a Value {
    page["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .find(|node| node["reference"] == reference)
        .unwrap_or(&Value::Null)
}

db_test! {
    async fn a_kept_page_costs_one_statement_and_follows_every_catalog_change(app) {
        let manager = app.user(Role::Manager).await;
        let token = Some(manager.access.as_str());
        let id = product(&app, &manager.access, json!({ "reference": "MUG", "name": "Mug", "trackStock": true })).await;
        app.data(token, "mutation($id: ID!) { setProductStock(id: $id, stock: 5) { stock } }", json!({ "id": id })).await;

        let (first, _) = page(&app, None).await;
        assert_eq!(node(&first, "MUG")["stock"], 5);
        app.quiet_statements().await;
        let (again, statements) = page(&app, None).await;
        assert_eq!(again, first);
        assert_eq!(statements, 1, "a kept page only reads the catalog's epoch");
        // A logged-in caller's account is read with the epoch, in one statement.
        page(&app, token).await;
        let (_, statements) = page(&app, token).await;
        assert_eq!(statements, 1, "the caller's account and the epoch in one statement");

        // Each kind of catalog change shows at once.
        let version = app.data(token, "query($id: ID!) { product(id: $id) { version } }", json!({ "id": id })).await["product"]["version"].as_i64().unwrap();
        app.data(token, "mutation($id: ID!, $v: Int!) { updateProduct(id: $id, version: $v, input: { unitPrice: \"12.50\" }) { id } }", json!({ "id": id, "v": version })).await;
        assert_eq!(node(&page(&app, None).await.0, "MUG")["unitPrice"]["amount"], "12.50");

        let variant_id = variant(&app, &manager.access, &id, json!({ "reference": "MUG-RED", "name": "Red", "unitPrice": "13", "trackStock": true, "stock": 2 })).await;
        assert_eq!(node(&page(&app, None).await.0, "MUG")["variants"][0]["reference"], "MUG-RED");
        app.data(token, "mutation($id: ID!) { updateProductVariant(id: $id, input: { unitPrice: \"14\" }) { id } }", json!({ "id": variant_id })).await;
        assert_eq!(node(&page(&app, None).await.0, "MUG")["variants"][0]["unitPrice"]["amount"], "14.00");

        let banner = banner(&app, &manager.access, "BANNER").await;
        assert_eq!(node(&page(&app, None).await.0, "BANNER")["options"][0]["values"][1]["label"], "Vinyl");
        let option = app.data(token, "query($id: ID!) { product(id: $id) { options { id } } }", json!({ "id": banner })).await["product"]["options"][0]["id"].as_str().unwrap().to_owned();
        app.data(token, "mutation($id: ID!) { updateProductOption(id: $id, input: { code: \"material\", name: \"Material\", kind: CHOICE, required: true, values: [{ code: \"paper\", label: \"Paper\" }, { code: \"vinyl\", label: \"Vinyl 440 g\" }] }) { id } }", json!({ "id": option })).await;
        assert_eq!(node(&page(&app, None).await.0, "BANNER")["options"][0]["values"][1]["label"], "Vinyl 440 g");

        let admin = app.user(Role::Admin).await;
        let settings = app.data(Some(&admin.access), "{ storeSettings { version } }", json!({})).await;
        app.data(Some(&admin.access), "mutation($v: Int!) { updateStoreSettings(version: $v, input: { currencyCode: \"CHF\" }) { currencyCode } }", json!({ "v": settings["storeSettings"]["version"] })).await;
        assert_eq!(node(&page(&app, None).await.0, "MUG")["unitPrice"]["currencyCode"], "CHF");

        // A checkout takes stock: the page shows what is left.
        let client = app.user(Role::AccountClient).await;
        app.data(Some(&client.access), "mutation($input: CartLineInput!) { cartAddLine(input: $input) { id } }",
            json!({ "input": { "productId": id, "variantId": variant_id, "quantity": 1 } })).await;
        let order = checkout(&app, &client.access, None).await;
        assert!(order["errors"].is_null(), "{order}");
        assert_eq!(node(&page(&app, None).await.0, "MUG")["variants"][0]["stock"], 1);
    }
}

db_test! {
    async fn staff_and_the_public_never_share_a_kept_page(app) {
        let manager = app.user(Role::Manager).await;
        product(&app, &manager.access, json!({ "reference": "SHOWN" })).await;
        product(&app, &manager.access, json!({ "reference": "HIDDEN", "visible": false })).await;
        let staff_view = page(&app, Some(&manager.access)).await.0;
        assert_eq!(staff_view["products"]["totalCount"], 2);
        for _ in 0..2 {
            let public_view = page(&app, None).await.0;
            assert_eq!(public_view["products"]["totalCount"], 1);
            assert!(node(&public_view, "HIDDEN").is_null());
        }
        assert_eq!(page(&app, Some(&manager.access)).await.0["products"]["totalCount"], 2);
    }
}

db_test! {
    async fn another_instance_sees_a_change_made_through_this_one(app) {
        let manager = app.user(Role::Manager).await;
        let id = product(&app, &manager.access, json!({ "reference": "LAMP", "name": "Lamp" })).await;
        let other = app.sibling().await;
        let (kept, _) = page(&other, None).await;
        assert_eq!(node(&kept, "LAMP")["name"], "Lamp");
        // The counter is the instance's: a background statement (the event log's poll, the
        // outbox) may fall inside one request, so the fewest of three. A page rendered again
        // costs at least three.
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            fewest = fewest.min(page(&other, None).await.1);
        }
        assert_eq!(fewest, 1, "kept on the other instance");

        let version = app.data(Some(&manager.access), "query($id: ID!) { product(id: $id) { version } }", json!({ "id": id })).await["product"]["version"].clone();
        app.data(Some(&manager.access), "mutation($id: ID!, $v: Int!) { updateProduct(id: $id, version: $v, input: { name: \"Desk lamp\" }) { id } }", json!({ "id": id, "v": version })).await;
        assert_eq!(node(&page(&other, None).await.0, "LAMP")["name"], "Desk lamp");
        other.stop().await;
    }
}

db_test! {
    async fn other_reads_are_never_kept(app) with |config| {
        config.metrics = true;
    } {
        let client = app.user(Role::AccountClient).await;
        let query = "{ products(first: 1) { totalCount } me { email } }";
        let mut statements = Vec::new();
        for _ in 0..2 {
            let before = app.state.db.statements();
            let data = app.data(Some(&client.access), query, json!({})).await;
            assert_eq!(data["me"]["email"], client.email.as_str());
            statements.push(app.state.db.statements() - before);
        }
        // A kept response costs one statement (the epoch); this document runs in full each time
        // (the count, the page, the user). Background jobs may add to the counter, never take.
        assert!(statements.iter().all(|&n| n >= 3), "each ran in full, not from the cache: {statements:?}");
    }
}

db_test! {
    async fn a_cache_of_zero_keeps_nothing(app) with |config| {
        config.response_cache_mb = 0;
    } {
        let manager = app.user(Role::Manager).await;
        product(&app, &manager.access, json!({ "reference": "CUP" })).await;
        page(&app, None).await;
        let (_, statements) = page(&app, None).await;
        assert!(statements >= 3, "rendered again: {statements} statements");
    }
}

db_test! {
    async fn parallel_requests_for_a_stale_page_wait_for_one_rendering(app) with |config| {
        // The outbox worker polls in the background; its statements would blur the count.
        config.outbox_worker = false;
    } {
        let manager = app.user(Role::Manager).await;
        for i in 0..5 {
            product(&app, &manager.access, json!({ "reference": format!("P-{i}") })).await;
        }
        // The store settings, which the process then keeps.
        app.data(None, "{ storeSettings { currencyCode } }", json!({})).await;
        let before = app.quiet_statements().await;
        let pages: Vec<_> = (0..16).map(|_| app.data(None, PAGE, json!({}))).collect();
        let pages = futures_util::future::join_all(pages).await;
        let statements = app.state.db.statements() - before;
        assert!(pages.iter().all(|page| page["products"]["totalCount"] == 5));
        // Each request reads the epoch; the page itself is rendered once (three statements).
        assert_eq!(statements, 16 + 3);
    }
}
