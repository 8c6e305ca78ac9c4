use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code};

const CREATE: &str = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id reference version } }";

/// Creates a product as `token` (a manager); returns its ID.
pub async fn product(app: &TestApp, token: &str, input: Value) -> String {
    let mut full =
        json!({ "name": "Product", "kind": "STANDARD", "unitPrice": "10", "vatRate": "20" });
    for (key, value) in input.as_object().unwrap() {
        full[key] = value.clone();
    }
    let data = app
        .data(Some(token), CREATE, json!({ "input": full }))
        .await;
    data["createProduct"]["id"].as_str().unwrap().to_owned()
}

pub async fn variant(app: &TestApp, token: &str, product_id: &str, input: Value) -> String {
    let data = app
        .data(
            Some(token),
            "mutation($p: ID!, $input: VariantInput!) { addProductVariant(productId: $p, input: $input) { id } }",
            json!({ "p": product_id, "input": input }),
        )
        .await;
    data["addProductVariant"]["id"].as_str().unwrap().to_owned()
}

/// A configurable banner: material (required: paper +0, vinyl +12.50), width 0.5–3 m at 10/m.
pub async fn banner(app: &TestApp, token: &str, reference: &str) -> String {
    let id = product(app, token, json!({ "reference": reference, "name": "Banner", "kind": "CONFIGURABLE", "unitPrice": "100" })).await;
    let add = "mutation($p: ID!, $input: ProductOptionInput!) { addProductOption(productId: $p, input: $input) { id } }";
    app.data(
        Some(token),
        add,
        json!({ "p": id, "input": { "code": "material", "name": "Material", "kind": "CHOICE", "required": true,
            "values": [{ "code": "paper", "label": "Paper" }, { "code": "vinyl", "label": "Vinyl", "priceModifier": "12.50" }] } }),
    )
    .await;
    app.data(
        Some(token),
        add,
        json!({ "p": id, "input": { "code": "width", "name": "Width", "kind": "NUMBER", "min": "0.5", "max": "3", "pricePerUnit": "10", "unit": "m", "position": 1 } }),
    )
    .await;
    id
}

fn references(data: &Value) -> Vec<String> {
    data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["reference"].as_str().unwrap().to_owned())
        .collect()
}

const LIST: &str =
    "query($filter: ProductFilterInput, $sort: ProductSort, $first: Int, $after: String) {
    products(filter: $filter, sort: $sort, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { reference } } } }";

db_test! {
    async fn the_public_sees_only_active_visible_products_and_staff_see_all(app) {
        let manager = app.user(Role::Manager).await;
        let shown = product(&app, &manager.access, json!({ "reference": "SHOWN" })).await;
        let inactive = product(&app, &manager.access, json!({ "reference": "INACTIVE", "active": false })).await;
        product(&app, &manager.access, json!({ "reference": "HIDDEN", "visible": false })).await;
        let archived = product(&app, &manager.access, json!({ "reference": "ARCHIVED" })).await;
        app.data(Some(&manager.access), "mutation($id: ID!) { archiveProduct(id: $id) { archived active } }", json!({ "id": archived })).await;

        let client = app.user(Role::AccountClient).await;
        for token in [None, Some(client.access.as_str())] {
            let data = app.data(token, LIST, json!({})).await;
            assert_eq!(references(&data), ["SHOWN"]);
            let one = app.data(token, "query($id: ID) { product(id: $id) { reference } }", json!({ "id": inactive })).await;
            assert!(one["product"].is_null());
            let by_ref = app.data(token, "{ product(reference: \"HIDDEN\") { id } }", json!({})).await;
            assert!(by_ref["product"].is_null());
        }
        let all = app.data(Some(&manager.access), LIST, json!({})).await;
        assert_eq!(all["products"]["totalCount"], 4);
        let inactive_only = app.data(Some(&manager.access), LIST, json!({ "filter": { "active": false } })).await;
        let mut inactive_refs = references(&inactive_only);
        inactive_refs.sort();
        assert_eq!(inactive_refs, ["ARCHIVED", "INACTIVE"]);
        let one = app.data(Some(&manager.access), "query($id: ID) { product(id: $id) { reference } }", json!({ "id": shown })).await;
        assert_eq!(one["product"]["reference"], "SHOWN");
    }
}

db_test! {
    async fn products_filter_search_sort_and_paginate(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        product(&app, t, json!({ "reference": "PEN-1", "name": "Blue pen", "unitPrice": "1.20", "trackStock": true, "stock": 0 })).await;
        product(&app, t, json!({ "reference": "PAPER-A4", "name": "Paper 100% recycled", "unitPrice": "4.50", "description": "Ream of 500 sheets" })).await;
        let shirt = product(&app, t, json!({ "reference": "SHIRT", "name": "T-shirt", "unitPrice": "12", "trackStock": true, "stock": 0 })).await;
        variant(&app, t, &shirt, json!({ "reference": "SHIRT-XL", "name": "XL", "trackStock": true, "stock": 3 })).await;
        product(&app, t, json!({ "reference": "GEN-5KW", "name": "Generator 5 kW", "kind": "RENTAL", "unitPrice": "0", "rentalOwnedQuantity": 4, "rentalDailyPrice": "45" })).await;

        let search = |s: &str| json!({ "filter": { "search": s } });
        assert_eq!(references(&app.data(None, LIST, search("PEN")).await), ["PEN-1"]);
        assert_eq!(references(&app.data(None, LIST, search("ream of")).await), ["PAPER-A4"]);
        assert_eq!(references(&app.data(None, LIST, search("100%")).await), ["PAPER-A4"]);
        assert_eq!(references(&app.data(None, LIST, search("_")).await), Vec::<String>::new());
        let rental = app.data(None, LIST, json!({ "filter": { "kind": "RENTAL" } })).await;
        assert_eq!(references(&rental), ["GEN-5KW"]);
        // In stock: untracked, or units left on the product or one of its variants.
        let in_stock = app.data(None, LIST, json!({ "filter": { "inStock": true }, "sort": "PRICE_ASC" })).await;
        assert_eq!(references(&in_stock), ["GEN-5KW", "PAPER-A4", "SHIRT"]);
        let priced = app.data(None, LIST, json!({ "filter": { "minPrice": "1.20", "maxPrice": "5" }, "sort": "PRICE_DESC" })).await;
        assert_eq!(references(&priced), ["PAPER-A4", "PEN-1"]);
        let newest = app.data(None, LIST, json!({ "sort": "NEWEST" })).await;
        assert_eq!(references(&newest), ["GEN-5KW", "SHIRT", "PAPER-A4", "PEN-1"]);

        // Pages follow the sort: two by two by name.
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app.data(None, LIST, json!({ "sort": "NAME_ASC", "first": 2, "after": after })).await;
            assert_eq!(page["products"]["totalCount"], 4);
            seen.extend(references(&page));
            if page["products"]["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["products"]["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, ["PEN-1", "GEN-5KW", "PAPER-A4", "SHIRT"]);
        let bad = app.gql(None, LIST, json!({ "after": "bm9wZQ" })).await;
        assert_eq!(code(&bad), "VALIDATION");
    }
}

db_test! {
    async fn configurations_are_validated_and_priced_by_the_server(app) {
        let m = app.user(Role::Manager).await;
        let id = banner(&app, &m.access, "BANNER").await;
        let price = "query($p: ID!, $c: [ConfigurationInput!]!) { priceConfiguration(productId: $p, configuration: $c) {
            unitPrice { amount currencyCode } configuration { option optionName value valueLabel number unit } } }";
        let ok = app
            .data(None, price, json!({ "p": id, "c": [{ "option": "material", "value": "vinyl" }, { "option": "width", "number": "1.5" }] }))
            .await;
        assert_eq!(ok["priceConfiguration"]["unitPrice"], json!({ "amount": "127.50", "currencyCode": "EUR" }));
        assert_eq!(ok["priceConfiguration"]["configuration"][0]["valueLabel"], "Vinyl");
        assert_eq!(ok["priceConfiguration"]["configuration"][1]["unit"], "m");

        for (configuration, field) in [
            (json!([]), "configuration.material"),
            (json!([{ "option": "material", "value": "gold" }]), "configuration.material"),
            (json!([{ "option": "material", "value": "paper" }, { "option": "width", "number": "9" }]), "configuration.width"),
            (json!([{ "option": "material", "value": "paper" }, { "option": "colour", "value": "red" }]), "configuration.colour"),
        ] {
            let body = app.gql(None, price, json!({ "p": id, "c": configuration })).await;
            assert_eq!(code(&body), "VALIDATION");
            assert_eq!(body["errors"][0]["extensions"]["field"], field);
        }
        let options = app.data(None, "query($id: ID) { product(id: $id) { options { code required values { code priceModifier { amount } } } } }", json!({ "id": id })).await;
        assert_eq!(options["product"]["options"][0]["values"][1]["priceModifier"]["amount"], "12.50");
    }
}

db_test! {
    async fn variants_carry_their_own_reference_price_and_stock(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        let shirt = product(&app, t, json!({ "reference": "TEE", "unitPrice": "9.90", "trackStock": true })).await;
        let xl = variant(&app, t, &shirt, json!({ "reference": "TEE-XL", "name": "XL", "characteristics": [{ "name": "size", "value": "XL" }], "unitPrice": "11", "stock": 2 })).await;
        variant(&app, t, &shirt, json!({ "reference": "TEE-S", "name": "S", "stock": 0 })).await;
        let clash = app.gql(Some(t), "mutation($p: ID!) { addProductVariant(productId: $p, input: { reference: \"TEE\", name: \"dup\" }) { id } }", json!({ "p": shirt })).await;
        assert_eq!(code(&clash), "CONFLICT");
        assert_eq!(clash["errors"][0]["extensions"]["field"], "reference");
        let dup_product = app.gql(Some(t), CREATE, json!({ "input": { "reference": "TEE-XL", "name": "x", "kind": "STANDARD", "unitPrice": "1", "vatRate": "20" } })).await;
        assert_eq!(code(&dup_product), "CONFLICT");

        let q = "query($id: ID) { product(id: $id) { inStock stock variants { reference unitPrice { amount } stock inStock characteristics { name value } } } }";
        let data = app.data(None, q, json!({ "id": shirt })).await;
        let variants = data["product"]["variants"].as_array().unwrap();
        assert_eq!(variants.len(), 2);
        let xl_row = variants.iter().find(|v| v["reference"] == "TEE-XL").unwrap();
        assert_eq!(xl_row["unitPrice"]["amount"], "11.00");
        assert_eq!(xl_row["characteristics"], json!([{ "name": "size", "value": "XL" }]));
        assert_eq!(data["product"]["inStock"], true, "a variant has stock");

        app.data(Some(t), "mutation($id: ID!) { updateProductVariant(id: $id, input: { stock: 0 }) { stock } }", json!({ "id": xl })).await;
        let data = app.data(None, q, json!({ "id": shirt })).await;
        assert_eq!(data["product"]["inStock"], false);
        // Archived variants disappear for the public.
        app.data(Some(t), "mutation($id: ID!) { updateProductVariant(id: $id, input: { active: false }) { active } }", json!({ "id": xl })).await;
        let data = app.data(None, q, json!({ "id": shirt })).await;
        assert_eq!(data["product"]["variants"].as_array().unwrap().len(), 1);
    }
}

db_test! {
    async fn product_edits_carry_a_version_and_stale_ones_conflict(app) {
        let m = app.user(Role::Manager).await;
        let id = product(&app, &m.access, json!({ "reference": "VER" })).await;
        let update = "mutation($id: ID!, $v: Int!, $name: String) { updateProduct(id: $id, version: $v, input: { name: $name }) { name version } }";
        let first = app.data(Some(&m.access), update, json!({ "id": id, "v": 1, "name": "First" })).await;
        assert_eq!(first["updateProduct"]["version"], 2);
        let stale = app.gql(Some(&m.access), update, json!({ "id": id, "v": 1, "name": "Lost" })).await;
        assert_eq!(code(&stale), "CONFLICT");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2);
        let data = app.data(None, "query($id: ID) { product(id: $id) { name } }", json!({ "id": id })).await;
        assert_eq!(data["product"]["name"], "First");
    }
}

db_test! {
    async fn catalog_mutations_refuse_bad_input_and_non_staff(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        let base = json!({ "reference": "OK-1", "name": "ok", "kind": "STANDARD", "unitPrice": "1", "vatRate": "20" });
        for (change, field) in [
            (json!({ "unitPrice": "-1" }), "unitPrice"),
            (json!({ "unitPrice": "0.00001" }), "unitPrice"),
            (json!({ "vatRate": "150" }), "vatRate"),
            (json!({ "reference": "has space" }), "reference"),
            (json!({ "name": "  " }), "name"),
            (json!({ "stock": -5 }), "stock"),
            (json!({ "kind": "RENTAL" }), "rentalOwnedQuantity"),
            (json!({ "rentalDailyPrice": "3" }), "rentalDailyPrice"),
        ] {
            let mut input = base.clone();
            for (k, v) in change.as_object().unwrap() {
                input[k] = v.clone();
            }
            let body = app.gql(Some(t), CREATE, json!({ "input": input })).await;
            assert_eq!(code(&body), "VALIDATION", "{change}");
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{change}");
        }
        let standard = product(&app, t, json!({ "reference": "STD" })).await;
        let option = app.gql(Some(t), "mutation($p: ID!) { addProductOption(productId: $p, input: { code: \"x\", name: \"X\", kind: NUMBER }) { id } }", json!({ "p": standard })).await;
        assert_eq!(code(&option), "VALIDATION");
        let choice_without_values = app.gql(Some(t), "mutation($p: ID!) { addProductOption(productId: $p, input: { code: \"x\", name: \"X\", kind: CHOICE }) { id } }", json!({ "p": banner(&app, t, "BAN-2").await })).await;
        assert_eq!(code(&choice_without_values), "VALIDATION");

        for role in [Role::Identified, Role::AccountClient] {
            let user = app.user(role).await;
            let body = app.gql(Some(&user.access), CREATE, json!({ "input": base })).await;
            assert_eq!(code(&body), "FORBIDDEN");
        }
        let public = app.gql(None, CREATE, json!({ "input": base })).await;
        assert_eq!(code(&public), "UNAUTHENTICATED");
        let total = app.data(Some(t), "{ products { totalCount } }", json!({})).await;
        assert_eq!(total["products"]["totalCount"], 2, "nothing half-written");
    }
}

db_test! {
    async fn a_page_of_products_costs_the_same_statements_whatever_its_size(app) with |config| {
        // The outbox worker polls in the background; its statements would blur the count.
        config.outbox_worker = false;
        // What rendering a page costs (kept responses: `response_cache.rs`).
        config.response_cache_mb = 0;
    } {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        for i in 0..50 {
            let id = if i % 2 == 0 {
                let id = product(&app, t, json!({ "reference": format!("P-{i:02}") })).await;
                variant(&app, t, &id, json!({ "reference": format!("P-{i:02}-A"), "name": "A" })).await;
                variant(&app, t, &id, json!({ "reference": format!("P-{i:02}-B"), "name": "B" })).await;
                id
            } else {
                banner(&app, t, &format!("P-{i:02}")).await
            };
            assert!(!id.is_empty());
        }
        let page = "query($n: Int) { products(first: $n) { totalCount edges { node { reference unitPrice { amount currencyCode }
            variants { reference unitPrice { amount } inStock } options { code values { code priceModifier { amount } } } } } } }";
        // Once, for the store settings the process then keeps.
        app.data(None, page, json!({ "n": 1 })).await;
        let mut counts = Vec::new();
        for n in [5_usize, 50] {
            let before = app.state.db.statements();
            let data = app.data(None, page, json!({ "n": n })).await;
            counts.push(app.state.db.statements() - before);
            assert_eq!(data["products"]["edges"].as_array().unwrap().len(), n);
        }
        assert_eq!(counts[0], counts[1], "statements for 5 and 50 products: {counts:?}");
        // The page with its total, variants, options with their values (the store settings
        // are kept by the process).
        assert!(counts[1] <= 3, "{counts:?}");
    }
}

db_test! {
    async fn huge_numbers_and_negative_prices_are_refused_not_crashed_on(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        let huge = app.gql(None, LIST, json!({ "filter": { "minPrice": "79228162514264337593543950335" } })).await;
        assert_eq!(code(&huge), "VALIDATION");
        let id = banner(&app, t, "BAN-X").await;
        let price = "query($p: ID!, $c: [ConfigurationInput!]!) { priceConfiguration(productId: $p, configuration: $c) { unitPrice { amount } } }";
        for number in ["79228162514264337593543950335", "1.000000001"] {
            let body = app.gql(None, price, json!({ "p": id, "c": [{ "option": "material", "value": "paper" }, { "option": "width", "number": number }] })).await;
            assert_eq!(code(&body), "VALIDATION", "{number}");
            assert_eq!(body["errors"][0]["extensions"]["field"], "configuration.width");
        }
        // NUMBER options are bounded, from zero up.
        let add = "mutation($p: ID!, $input: ProductOptionInput!) { addProductOption(productId: $p, input: $input) { id } }";
        for (input, field) in [
            (json!({ "code": "len", "name": "Length", "kind": "NUMBER", "pricePerUnit": "1" }), "min"),
            (json!({ "code": "len", "name": "Length", "kind": "NUMBER", "min": "-5", "max": "5", "pricePerUnit": "1" }), "min"),
            (json!({ "code": "len", "name": "Length", "kind": "NUMBER", "min": "1", "pricePerUnit": "1" }), "max"),
        ] {
            let body = app.gql(Some(t), add, json!({ "p": id, "input": input })).await;
            assert_eq!(code(&body), "VALIDATION");
            assert_eq!(body["errors"][0]["extensions"]["field"], field);
        }
        // A discount larger than the price is not a negative price.
        let cheap = product(&app, t, json!({ "reference": "CHEAP", "kind": "CONFIGURABLE", "unitPrice": "1" })).await;
        app.data(Some(t), add, json!({ "p": cheap, "input": { "code": "promo", "name": "Promo", "kind": "CHOICE",
            "values": [{ "code": "big", "label": "Big", "priceModifier": "-5" }] } })).await;
        let body = app.gql(None, price, json!({ "p": cheap, "c": [{ "option": "promo", "value": "big" }] })).await;
        assert_eq!(code(&body), "VALIDATION");
        assert_eq!(body["errors"][0]["extensions"]["field"], "configuration");
    }
}

db_test! {
    async fn cursors_only_continue_their_own_sort_and_variants_decide_stock(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        product(&app, t, json!({ "reference": "A1" })).await;
        product(&app, t, json!({ "reference": "A2" })).await;
        let page = app.data(None, LIST, json!({ "first": 1, "sort": "NAME_ASC" })).await;
        let cursor = page["products"]["pageInfo"]["endCursor"].clone();
        let mixed = app.gql(None, LIST, json!({ "first": 1, "after": cursor, "sort": "PRICE_ASC" })).await;
        assert_eq!(code(&mixed), "VALIDATION");
        assert_eq!(mixed["errors"][0]["extensions"]["field"], "after");

        // Untracked product, every variant tracked and empty: not in stock.
        let tee = product(&app, t, json!({ "reference": "TEE-Z", "trackStock": false })).await;
        variant(&app, t, &tee, json!({ "reference": "TEE-Z-1", "name": "one", "trackStock": true, "stock": 0 })).await;
        let one = app.data(None, "query($id: ID) { product(id: $id) { inStock } }", json!({ "id": tee })).await;
        assert_eq!(one["product"]["inStock"], false);
        let listed = app.data(None, LIST, json!({ "filter": { "inStock": true } })).await;
        assert!(!references(&listed).contains(&"TEE-Z".to_owned()));
    }
}

db_test! {
    async fn a_reference_is_claimed_once_even_by_parallel_products_and_variants(app) {
        let m = app.user(Role::Manager).await;
        let t = m.access.as_str();
        let shirt = product(&app, t, json!({ "reference": "BASE" })).await;
        let attempts = (0..8).map(|i| {
            let app = &app;
            let shirt = shirt.clone();
            async move {
                if i % 2 == 0 {
                    app.gql(Some(t), CREATE, json!({ "input": { "reference": "SAME", "name": "p", "kind": "STANDARD", "unitPrice": "1", "vatRate": "20" } })).await
                } else {
                    app.gql(Some(t), "mutation($p: ID!) { addProductVariant(productId: $p, input: { reference: \"SAME\", name: \"v\" }) { id } }", json!({ "p": shirt })).await
                }
            }
        });
        let results = futures_util::future::join_all(attempts).await;
        let won = results.iter().filter(|r| r.get("errors").is_none()).count();
        assert_eq!(won, 1, "{results:?}");
        assert!(results.iter().filter(|r| r.get("errors").is_some()).all(|r| code(r) == "CONFLICT"), "{results:?}");
        // Renaming frees the old reference.
        let rename = "mutation($id: ID!) { updateProduct(id: $id, version: 1, input: { reference: \"BASE-2\" }) { reference } }";
        app.data(Some(t), rename, json!({ "id": shirt })).await;
        product(&app, t, json!({ "reference": "BASE" })).await;
    }
}
