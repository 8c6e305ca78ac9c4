use chrono::{Duration, Utc};
use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::{
    catalog::{banner, product, variant},
    helpers::{PASSWORD, TestApp, code},
};

const CART_FIELDS: &str = "id itemCount subtotal { amount } vatTotal { amount } total { amount currencyCode }
    vat { rate base { amount } amount { amount } }
    lines { id quantity product { reference } variant { reference } configuration { option value number }
            rentalPeriod { days } unitPrice { amount } lineTotal { amount } availableQuantity inStock warnings }";

fn add_line() -> String {
    format!(
        "mutation($t: String, $input: CartLineInput!) {{ cartAddLine(cartToken: $t, input: $input) {{ {CART_FIELDS} }} }}"
    )
}

fn quick_add() -> String {
    format!(
        "mutation($t: String, $r: String!, $q: Int!) {{ cartQuickAdd(cartToken: $t, reference: $r, quantity: $q) {{ {CART_FIELDS} }} }}"
    )
}

async fn anonymous_cart(app: &TestApp) -> String {
    let data = app
        .data(
            None,
            "mutation { cartCreate { cartToken cart { id } } }",
            json!({}),
        )
        .await;
    data["cartCreate"]["cartToken"].as_str().unwrap().to_owned()
}

fn line<'a>(cart: &'a Value, reference: &str) -> &'a Value {
    cart["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product"]["reference"] == reference)
        .unwrap()
}

/// A small catalog: a pen (20 % VAT, 3 in stock), a book (5.5 % VAT), a shirt with a variant,
/// the configurable banner, and a rental generator.
async fn catalog(app: &TestApp) -> (String, String) {
    let m = app.user(Role::Manager).await;
    let t = m.access.as_str();
    let pen = product(
        app,
        t,
        json!({ "reference": "PEN", "unitPrice": "0.333", "trackStock": true, "stock": 3 }),
    )
    .await;
    product(
        app,
        t,
        json!({ "reference": "BOOK", "unitPrice": "12.50", "vatRate": "5.5" }),
    )
    .await;
    let shirt = product(app, t, json!({ "reference": "SHIRT", "unitPrice": "10" })).await;
    variant(
        app,
        t,
        &shirt,
        json!({ "reference": "SHIRT-XL", "name": "XL", "unitPrice": "11" }),
    )
    .await;
    banner(app, t, "BANNER").await;
    product(app, t, json!({ "reference": "GEN", "kind": "RENTAL", "unitPrice": "0", "rentalOwnedQuantity": 2, "rentalDailyPrice": "45" })).await;
    (m.access.clone(), pen)
}

db_test! {
    async fn an_anonymous_cart_is_priced_by_the_server_to_the_cent(app) {
        let (_, pen) = catalog(&app).await;
        let token = anonymous_cart(&app).await;
        app.data(None, &add_line(), json!({ "t": token, "input": { "productId": pen, "quantity": 10 } })).await;
        let data = app.data(None, &quick_add(), json!({ "t": token, "r": "BOOK", "q": 1 })).await;
        let cart = &data["cartQuickAdd"];
        assert_eq!(line(cart, "PEN")["lineTotal"]["amount"], "3.33");
        assert_eq!(cart["subtotal"]["amount"], "15.83");
        assert_eq!(cart["vat"], json!([
            { "rate": "5.5", "base": { "amount": "12.50" }, "amount": { "amount": "0.69" } },
            { "rate": "20", "base": { "amount": "3.33" }, "amount": { "amount": "0.67" } }
        ]));
        assert_eq!(cart["vatTotal"]["amount"], "1.36");
        assert_eq!(cart["total"], json!({ "amount": "17.19", "currencyCode": "EUR" }));
        assert_eq!(cart["itemCount"], 11);
        // More than the stock is allowed in a cart, but flagged.
        assert_eq!(line(cart, "PEN")["availableQuantity"], 3);
        assert_eq!(line(cart, "PEN")["inStock"], false);
        assert_eq!(line(cart, "PEN")["warnings"], json!(["only 3 available"]));

        // Adding the same thing again adds up.
        let again = app.data(None, &quick_add(), json!({ "t": token, "r": "BOOK", "q": 2 })).await;
        assert_eq!(line(&again["cartQuickAdd"], "BOOK")["quantity"], 3);
        let read = app.data(None, &format!("query($t: String!) {{ cart(token: $t) {{ {CART_FIELDS} }} }}"), json!({ "t": token })).await;
        assert_eq!(read["cart"]["lines"].as_array().unwrap().len(), 2);

        let unknown = app.data(None, "{ cart(token: \"nope\") { id } }", json!({})).await;
        assert!(unknown["cart"].is_null());
        let wrong = app.gql(None, &quick_add(), json!({ "t": "nope", "r": "BOOK", "q": 1 })).await;
        assert_eq!(code(&wrong), "NOT_FOUND");
        let no_token = app.gql(None, &quick_add(), json!({ "r": "BOOK", "q": 1 })).await;
        assert_eq!(code(&no_token), "VALIDATION");
        assert_eq!(no_token["errors"][0]["extensions"]["field"], "cartToken");
    }
}

db_test! {
    async fn quick_add_names_an_unknown_reference_and_finds_variants(app) {
        catalog(&app).await;
        let token = anonymous_cart(&app).await;
        let unknown = app.gql(None, &quick_add(), json!({ "t": token, "r": "NOPE-42", "q": 1 })).await;
        assert_eq!(code(&unknown), "NOT_FOUND");
        assert_eq!(unknown["errors"][0]["extensions"]["field"], "reference");
        assert!(unknown["errors"][0]["message"].as_str().unwrap().contains("NOPE-42"));
        let xl = app.data(None, &quick_add(), json!({ "t": token, "r": "SHIRT-XL", "q": 2 })).await;
        let shirt = line(&xl["cartQuickAdd"], "SHIRT");
        assert_eq!(shirt["variant"]["reference"], "SHIRT-XL");
        assert_eq!(shirt["unitPrice"]["amount"], "11.00");
        // A product with variants needs one.
        let bare = app.gql(None, &quick_add(), json!({ "t": token, "r": "SHIRT", "q": 1 })).await;
        assert_eq!(code(&bare), "VALIDATION");
        assert_eq!(bare["errors"][0]["extensions"]["field"], "variantId");
        // Configurable products need their configuration.
        let banner = app.gql(None, &quick_add(), json!({ "t": token, "r": "BANNER", "q": 1 })).await;
        assert_eq!(code(&banner), "VALIDATION");
        assert_eq!(banner["errors"][0]["extensions"]["field"], "configuration.material");
        for q in [0, -1, 100_001] {
            let body = app.gql(None, &quick_add(), json!({ "t": token, "r": "BOOK", "q": q })).await;
            assert_eq!(code(&body), "VALIDATION", "{q}");
        }
    }
}

db_test! {
    async fn configured_and_rental_lines_are_checked_and_priced(app) {
        catalog(&app).await;
        let token = anonymous_cart(&app).await;
        let products = app.data(None, "{ products(first: 20) { edges { node { id reference } } } }", json!({})).await;
        let id = |r: &str| products["products"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["reference"] == r).unwrap()["node"]["id"].clone();
        let configured = app
            .data(None, &add_line(), json!({ "t": token, "input": { "productId": id("BANNER"), "quantity": 2,
                "configuration": [{ "option": "material", "value": "vinyl" }, { "option": "width", "number": "2" }] } }))
            .await;
        let banner = line(&configured["cartAddLine"], "BANNER");
        assert_eq!(banner["unitPrice"]["amount"], "132.50");
        assert_eq!(banner["lineTotal"]["amount"], "265.00");
        assert_eq!(banner["configuration"][1], json!({ "option": "width", "value": null, "number": "2" }));

        let start = (Utc::now() + Duration::days(2)).to_rfc3339();
        let end = (Utc::now() + Duration::days(5) + Duration::hours(1)).to_rfc3339();
        let rental = app
            .data(None, &add_line(), json!({ "t": token, "input": { "productId": id("GEN"), "quantity": 3, "rentalPeriod": { "start": start, "end": end } } }))
            .await;
        let generator = line(&rental["cartAddLine"], "GEN");
        assert_eq!(generator["rentalPeriod"]["days"], 4);
        assert_eq!(generator["unitPrice"]["amount"], "180.00");
        assert_eq!(generator["availableQuantity"], 2);
        assert_eq!(generator["inStock"], false);

        let missing = app.gql(None, &add_line(), json!({ "t": token, "input": { "productId": id("GEN") } })).await;
        assert_eq!(missing["errors"][0]["extensions"]["field"], "rentalPeriod");
        let past = (Utc::now() - Duration::days(3)).to_rfc3339();
        let in_past = app.gql(None, &add_line(), json!({ "t": token, "input": { "productId": id("GEN"), "rentalPeriod": { "start": past, "end": end } } })).await;
        assert_eq!(code(&in_past), "VALIDATION");
        let backwards = app.gql(None, &add_line(), json!({ "t": token, "input": { "productId": id("GEN"), "rentalPeriod": { "start": end, "end": start } } })).await;
        assert_eq!(code(&backwards), "VALIDATION");
        let not_rental = app.gql(None, &add_line(), json!({ "t": token, "input": { "productId": id("BOOK"), "rentalPeriod": { "start": start, "end": end } } })).await;
        assert_eq!(not_rental["errors"][0]["extensions"]["field"], "rentalPeriod");
    }
}

db_test! {
    async fn lines_change_and_go_and_the_cart_clears(app) {
        catalog(&app).await;
        let user = app.user(Role::Identified).await;
        let t = Some(user.access.as_str());
        let data = app.data(t, &quick_add(), json!({ "r": "BOOK", "q": 2 })).await;
        let line_id = data["cartQuickAdd"]["lines"][0]["id"].clone();
        app.data(t, &quick_add(), json!({ "r": "PEN", "q": 1 })).await;
        let update = "mutation($l: ID!, $q: Int) { cartUpdateLine(lineId: $l, quantity: $q) { lines { quantity product { reference } } } }";
        let updated = app.data(t, update, json!({ "l": line_id, "q": 5 })).await;
        assert_eq!(line(&updated["cartUpdateLine"], "BOOK")["quantity"], 5);
        let negative = app.gql(t, update, json!({ "l": line_id, "q": -2 })).await;
        assert_eq!(code(&negative), "VALIDATION");
        let removed = app.data(t, update, json!({ "l": line_id, "q": 0 })).await;
        assert_eq!(removed["cartUpdateLine"]["lines"].as_array().unwrap().len(), 1);
        let gone = app.gql(t, update, json!({ "l": line_id, "q": 1 })).await;
        assert_eq!(code(&gone), "NOT_FOUND");
        let cleared = app.data(t, "mutation { cartClear { lines { id } total { amount } } }", json!({})).await;
        assert_eq!(cleared["cartClear"], json!({ "lines": [], "total": { "amount": "0.00" } }));
        let mine = app.data(t, "{ myCart { lines { id } } }", json!({})).await;
        assert_eq!(mine["myCart"]["lines"], json!([]));
    }
}

db_test! {
    async fn a_user_never_touches_another_users_cart(app) {
        catalog(&app).await;
        let alice = app.user(Role::Identified).await;
        let bob = app.user(Role::Identified).await;
        let data = app.data(Some(&alice.access), &quick_add(), json!({ "r": "BOOK", "q": 1 })).await;
        let alice_line = data["cartQuickAdd"]["lines"][0]["id"].clone();
        for op in [
            "mutation($l: ID!) { cartUpdateLine(lineId: $l, quantity: 9) { id } }",
            "mutation($l: ID!) { cartRemoveLine(lineId: $l) { id } }",
        ] {
            let body = app.gql(Some(&bob.access), op, json!({ "l": alice_line })).await;
            assert_eq!(code(&body), "NOT_FOUND", "{op}");
        }
        let mine = app.data(Some(&alice.access), "{ myCart { lines { quantity } } }", json!({})).await;
        assert_eq!(mine["myCart"]["lines"], json!([{ "quantity": 1 }]));
        let bobs = app.data(Some(&bob.access), "{ myCart { id } }", json!({})).await;
        assert_ne!(bobs["myCart"]["id"], data["cartQuickAdd"]["id"]);
        let public = app.gql(None, "{ myCart { id } }", json!({})).await;
        assert_eq!(code(&public), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn an_anonymous_cart_merges_into_the_users_cart_at_login(app) {
        catalog(&app).await;
        let user = app.user(Role::Identified).await;
        app.data(Some(&user.access), &quick_add(), json!({ "r": "BOOK", "q": 1 })).await;
        let token = anonymous_cart(&app).await;
        app.data(None, &quick_add(), json!({ "t": token, "r": "BOOK", "q": 2 })).await;
        app.data(None, &quick_add(), json!({ "t": token, "r": "SHIRT-XL", "q": 1 })).await;

        let login = "mutation($e: String!, $p: String!, $t: String) { login(input: { email: $e, password: $p, cartToken: $t }) { accessToken } }";
        let data = app.data(None, login, json!({ "e": user.email, "p": PASSWORD, "t": token })).await;
        let access = data["login"]["accessToken"].as_str().unwrap();
        let mine = app.data(Some(access), &format!("{{ myCart {{ {CART_FIELDS} }} }}"), json!({})).await;
        assert_eq!(line(&mine["myCart"], "BOOK")["quantity"], 3);
        assert_eq!(line(&mine["myCart"], "SHIRT")["quantity"], 1);
        let old = app.data(None, "query($t: String!) { cart(token: $t) { id } }", json!({ "t": token })).await;
        assert!(old["cart"].is_null(), "the anonymous cart is gone");

        // Registering with a cart token takes the cart along too.
        let token = anonymous_cart(&app).await;
        app.data(None, &quick_add(), json!({ "t": token, "r": "PEN", "q": 2 })).await;
        let register = "mutation($t: String) { register(input: { email: \"new@example.test\", password: \"long enough\", cartToken: $t }) { accessToken } }";
        let data = app.data(None, register, json!({ "t": token })).await;
        let access = data["register"]["accessToken"].as_str().unwrap();
        let mine = app.data(Some(access), "{ myCart { lines { quantity product { reference } } } }", json!({})).await;
        assert_eq!(mine["myCart"]["lines"], json!([{ "quantity": 2, "product": { "reference": "PEN" } }]));
    }
}

db_test! {
    async fn a_cart_over_200_lines_after_a_merge_still_loads_a_template_of_lines_it_holds(app) {
        let (manager, pen) = catalog(&app).await;
        let user = app.user(Role::Identified).await;
        app.data(Some(&user.access), &quick_add(), json!({ "r": "BOOK", "q": 1 })).await;
        let token = anonymous_cart(&app).await;
        let ids = app.data(None, "{ book: product(reference: \"BOOK\") { id } banner: product(reference: \"BANNER\") { id } }", json!({})).await;
        // Each width is a line of its own: 200 lines in the anonymous cart.
        let mutation = "mutation($t: String, $input: CartLineInput!) { cartAddLine(cartToken: $t, input: $input) { id } }";
        for i in 0..200u32 {
            let cents = 50 + i;
            app.data(None, mutation, json!({ "t": token, "input": { "productId": ids["banner"]["id"], "quantity": 1,
                "configuration": [{ "option": "material", "value": "paper" }, { "option": "width", "number": format!("{}.{:02}", cents / 100, cents % 100) }] } })).await;
        }
        // Nothing is dropped at login: 201 lines.
        let login = "mutation($e: String!, $p: String!, $t: String) { login(input: { email: $e, password: $p, cartToken: $t }) { accessToken } }";
        let data = app.data(None, login, json!({ "e": user.email, "p": PASSWORD, "t": token })).await;
        let access = data["login"]["accessToken"].as_str().unwrap().to_owned();

        let create = "mutation($n: String!, $lines: [CartLineInput!]!) { createCartTemplate(name: $n, lines: $lines) { id } }";
        let held = app.data(Some(&manager), create, json!({ "n": "books", "lines": [{ "productId": ids["book"]["id"], "quantity": 2 }] })).await;
        let new = app.data(Some(&manager), create, json!({ "n": "pens", "lines": [{ "productId": ids["book"]["id"], "quantity": 1 }, { "productId": pen, "quantity": 1 }] })).await;
        let load = "mutation($id: ID!) { cartLoadTemplate(templateId: $id) { itemCount lines { id } } }";
        // Its lines merge into held ones: they go in.
        let loaded = app.data(Some(&access), load, json!({ "id": held["createCartTemplate"]["id"] })).await;
        assert_eq!(loaded["cartLoadTemplate"]["lines"].as_array().unwrap().len(), 201);
        assert_eq!(loaded["cartLoadTemplate"]["itemCount"], 203);
        // A new line would not fit: none of the template's lines goes in.
        let refused = app.gql(Some(&access), load, json!({ "id": new["createCartTemplate"]["id"] })).await;
        assert_eq!(code(&refused), "VALIDATION", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "cart");
        let mine = app.data(Some(&access), "{ myCart { itemCount } }", json!({})).await;
        assert_eq!(mine["myCart"]["itemCount"], 203);
    }
}

db_test! {
    async fn template_carts_are_published_saved_and_loaded(app) {
        let (manager, pen) = catalog(&app).await;
        let acme = app.customer("Acme").await;
        let globex = app.customer("Globex").await;
        let alice = app.user_of(Role::AccountClient, Some(acme)).await;
        let bob = app.user_of(Role::AccountClient, Some(globex)).await;
        let customer_id = |token: String| {
            let app = &app;
            async move { app.data(Some(&token), "{ myCustomer { id } }", json!({})).await["myCustomer"]["id"].clone() }
        };
        let acme_id = customer_id(alice.access.clone()).await;
        let create = "mutation($n: String!, $c: ID, $lines: [CartLineInput!]!) { createCartTemplate(name: $n, customerId: $c, lines: $lines) { id name lines { quantity product { reference } } } }";
        let everyone = app.data(Some(&manager), create, json!({ "n": "Office basics", "lines": [{ "productId": pen, "quantity": 10 }] })).await;
        let acme_only = app.data(Some(&manager), create, json!({ "n": "Acme monthly", "c": acme_id, "lines": [{ "productId": pen, "quantity": 4 }] })).await;
        assert_eq!(everyone["createCartTemplate"]["lines"], json!([{ "quantity": 10, "product": { "reference": "PEN" } }]));

        let names = |data: &Value| -> Vec<String> {
            data["cartTemplates"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
        };
        let list = "{ cartTemplates { id name } }";
        assert_eq!(names(&app.data(Some(&alice.access), list, json!({})).await), ["Acme monthly", "Office basics"]);
        assert_eq!(names(&app.data(Some(&bob.access), list, json!({})).await), ["Office basics"]);

        // Bob cannot load or delete Acme's template.
        let acme_template = acme_only["createCartTemplate"]["id"].clone();
        let load = "mutation($id: ID!) { cartLoadTemplate(templateId: $id) { lines { quantity product { reference } } } }";
        let refused = app.gql(Some(&bob.access), load, json!({ "id": acme_template })).await;
        assert_eq!(code(&refused), "NOT_FOUND");
        let refused = app.gql(Some(&bob.access), "mutation($id: ID!) { deleteCartTemplate(id: $id) }", json!({ "id": acme_template })).await;
        assert_eq!(code(&refused), "NOT_FOUND");

        let loaded = app.data(Some(&alice.access), load, json!({ "id": acme_template })).await;
        assert_eq!(loaded["cartLoadTemplate"]["lines"], json!([{ "quantity": 4, "product": { "reference": "PEN" } }]));
        app.data(Some(&alice.access), &quick_add(), json!({ "r": "BOOK", "q": 2 })).await;
        let saved = app
            .data(Some(&alice.access), "mutation { cartSaveAsTemplate(name: \"Alice's usual\") { name customer { name } lines { quantity } } }", json!({}))
            .await;
        assert_eq!(saved["cartSaveAsTemplate"]["customer"]["name"], "Acme");
        assert_eq!(saved["cartSaveAsTemplate"]["lines"].as_array().unwrap().len(), 2);
        assert_eq!(names(&app.data(Some(&bob.access), list, json!({})).await), ["Office basics"]);

        // Customers cannot publish for everyone, nor delete what staff published for everyone.
        let forbidden = app.gql(Some(&alice.access), create, json!({ "n": "x", "lines": [{ "productId": pen }] })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        let global = everyone["createCartTemplate"]["id"].clone();
        let forbidden = app.gql(Some(&alice.access), "mutation($id: ID!) { deleteCartTemplate(id: $id) }", json!({ "id": global })).await;
        assert_eq!(code(&forbidden), "FORBIDDEN");
        let empty = app.gql(Some(&manager), create, json!({ "n": "empty", "lines": [] })).await;
        assert_eq!(code(&empty), "VALIDATION");
    }
}

db_test! {
    async fn templates_are_written_and_loaded_in_the_same_statements_whatever_their_lines(app) with |config| {
        // The outbox worker and the quotes' upkeep run in the background; their statements
        // would blur the count.
        config.outbox_worker = false;
        config.maintenance_interval = std::time::Duration::from_hours(1);
    } {
        let (manager, pen) = catalog(&app).await;
        let ids = app
            .data(None, "{ book: product(reference: \"BOOK\") { id } shirt: product(reference: \"SHIRT\") { id variants { id } } banner: product(reference: \"BANNER\") { id } }", json!({}))
            .await;
        // Each with a variant's line: showing a template reads variants only then.
        let one = json!([{ "productId": ids["shirt"]["id"], "variantId": ids["shirt"]["variants"][0]["id"], "quantity": 1 }]);
        let four = json!([
            { "productId": pen, "quantity": 1 },
            { "productId": ids["book"]["id"], "quantity": 2 },
            { "productId": ids["shirt"]["id"], "variantId": ids["shirt"]["variants"][0]["id"], "quantity": 1 },
            { "productId": ids["banner"]["id"], "quantity": 1,
              "configuration": [{ "option": "material", "value": "paper" }, { "option": "width", "number": "0.50" }] },
        ]);
        let counted = |token: String, query: &'static str, variables: Value| {
            let app = &app;
            async move {
                let before = app.state.db.statements();
                let data = app.data(Some(&token), query, variables).await;
                (data, app.state.db.statements() - before)
            }
        };
        let create = "mutation($n: String!, $lines: [CartLineInput!]!) { createCartTemplate(name: $n, lines: $lines) { id } }";
        let (small, small_written) = counted(manager.clone(), create, json!({ "n": "one", "lines": one })).await;
        let (big, big_written) = counted(manager.clone(), create, json!({ "n": "four", "lines": four })).await;
        assert_eq!(small_written, big_written, "a template of one line, then of four");
        // No more lines than a cart holds: such a template could never be loaded.
        let too_many = vec![json!({ "productId": pen, "quantity": 1 }); 201];
        let refused = app.gql(Some(&manager), create, json!({ "n": "too many", "lines": too_many })).await;
        assert_eq!(code(&refused), "VALIDATION", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "lines");

        let load = "mutation($id: ID!) { cartLoadTemplate(templateId: $id) { lines { quantity product { reference } } } }";
        let (a, b) = (app.user(Role::AccountClient).await, app.user(Role::AccountClient).await);
        let (loaded, small_loaded) = counted(a.access.clone(), load, json!({ "id": small["createCartTemplate"]["id"] })).await;
        assert_eq!(loaded["cartLoadTemplate"]["lines"].as_array().unwrap().len(), 1);
        let (loaded, big_loaded) = counted(b.access.clone(), load, json!({ "id": big["createCartTemplate"]["id"] })).await;
        assert_eq!(loaded["cartLoadTemplate"]["lines"].as_array().unwrap().len(), 4);
        assert_eq!(small_loaded, big_loaded, "a template of one line, then of four");
        // Loaded again, its lines add up on those the cart holds.
        let again = app.data(Some(&b.access), load, json!({ "id": big["createCartTemplate"]["id"] })).await;
        assert_eq!(again["cartLoadTemplate"]["lines"].as_array().unwrap().len(), 4);
        assert_eq!(line(&again["cartLoadTemplate"], "BOOK")["quantity"], 4);
        assert_eq!(line(&again["cartLoadTemplate"], "PEN")["quantity"], 2);
    }
}

db_test! {
    async fn hidden_products_stay_out_of_templates_and_are_flagged_in_carts(app) {
        let (manager, pen) = catalog(&app).await;
        let client = app.user(Role::AccountClient).await;
        let hidden = product(&app, &manager, json!({ "reference": "SECRET", "visible": false })).await;
        let create = "mutation($lines: [CartLineInput!]!) { createCartTemplate(name: \"t\", lines: $lines) { id } }";
        let refused = app.gql(Some(&manager), create, json!({ "lines": [{ "productId": hidden }] })).await;
        assert_eq!(code(&refused), "VALIDATION");

        let template = app.data(Some(&manager), create, json!({ "lines": [{ "productId": pen, "quantity": 2 }] })).await;
        app.data(Some(&client.access), &quick_add(), json!({ "r": "PEN", "q": 1 })).await;
        // The pen leaves the storefront: the template no longer shows it, loading skips it, and
        // the cart line says why it cannot be ordered.
        let update = "mutation($id: ID!) { updateProduct(id: $id, version: 1, input: { visible: false }) { visible } }";
        app.data(Some(&manager), update, json!({ "id": pen })).await;
        let list = app.data(Some(&client.access), "{ cartTemplates { lines { quantity } } }", json!({})).await;
        assert_eq!(list["cartTemplates"][0]["lines"], json!([]));
        let loaded = app
            .data(Some(&client.access), "mutation($id: ID!) { cartLoadTemplate(templateId: $id) { lines { quantity warnings } } }",
                json!({ "id": template["createCartTemplate"]["id"] }))
            .await;
        assert_eq!(loaded["cartLoadTemplate"]["lines"], json!([{ "quantity": 1, "warnings": ["this product is no longer for sale"] }]));
        let public = app.gql(None, "mutation($id: ID!) { cartLoadTemplate(templateId: $id) { id } }", json!({ "id": template["createCartTemplate"]["id"] })).await;
        assert_eq!(code(&public), "UNAUTHENTICATED");
    }
}

db_test! {
    async fn anonymous_carts_are_rate_limited_per_address(app) with |config| {
        config.carts_max_per_address = 3;
    } {
        for _ in 0..3 {
            anonymous_cart(&app).await;
        }
        let limited = app.gql(None, "mutation { cartCreate { cartToken } }", json!({})).await;
        assert_eq!(code(&limited), "RATE_LIMITED");
        // A logged-in user's cart is not counted.
        let user = app.user(Role::Identified).await;
        app.data(Some(&user.access), "mutation { cartCreate { cart { id } } }", json!({})).await;
    }
}

db_test! {
    async fn adding_to_a_cart_reads_the_catalog_once_per_change_of_it(app) with |config| {
        // The outbox worker polls in the background; its statements would blur the count.
        config.outbox_worker = false;
    } {
        let (manager, pen) = catalog(&app).await;
        let client = app.user(Role::AccountClient).await;
        let add = |reference: &'static str| {
            let (app, token) = (&app, client.access.clone());
            async move { app.data(Some(&token), &quick_add(), json!({ "r": reference, "q": 1 })).await["cartQuickAdd"].clone() }
        };
        add("BOOK").await;
        add("PEN").await;
        // The cart's products (pen and book) are kept at this epoch: adding reads none of them.
        let before = app.state.db.statements();
        let cart = add("PEN").await;
        let statements = app.state.db.statements() - before;
        assert_eq!(line(&cart, "PEN")["quantity"], 2);
        assert_eq!(line(&cart, "PEN")["unitPrice"]["amount"], "0.333");
        // Caller with the catalog's epoch, reference, the line (one statement that finds the
        // cart, adds the line and marks the cart changed, no transaction), the cart's lines.
        assert!(statements <= 4, "{statements} statements");

        // A price change is a new epoch: the next change to the cart shows the new price.
        let update = "mutation($id: ID!) { updateProduct(id: $id, version: 1, input: { unitPrice: \"0.50\" }) { version } }";
        app.data(Some(&manager), update, json!({ "id": pen })).await;
        let cart = add("BOOK").await;
        assert_eq!(line(&cart, "PEN")["unitPrice"]["amount"], "0.50");
        assert_eq!(line(&cart, "BOOK")["quantity"], 2);
        assert_eq!(line(&cart, "PEN")["lineTotal"]["amount"], "1.00");
    }
}

db_test! {
    async fn carts_show_stock_as_it_is_now_and_stock_alone_leaves_their_catalog_rows_kept(app) with |config| {
        config.outbox_worker = false;
    } {
        catalog(&app).await;
        let (buyer, other) = (app.user(Role::AccountClient).await, app.user(Role::AccountClient).await);
        let add = |token: String, quantity: i64| {
            let app = &app;
            async move { app.data(Some(&token), &quick_add(), json!({ "r": "PEN", "q": quantity })).await["cartQuickAdd"].clone() }
        };
        // Three pens in stock: the buyer's two are available.
        let cart = add(buyer.access.clone(), 2).await;
        assert_eq!(line(&cart, "PEN")["availableQuantity"], 3);

        // Another customer orders two: only stock changed, so the pen's kept rows stay current,
        // and the buyer's cart shows the one left.
        add(other.access.clone(), 2).await;
        let order = crate::orders::checkout(&app, &other.access, None).await;
        assert!(order["errors"].is_null(), "{order}");
        let before = app.state.db.statements();
        let cart = add(buyer.access.clone(), 1).await;
        let statements = app.state.db.statements() - before;
        assert_eq!(line(&cart, "PEN")["quantity"], 3);
        assert_eq!(line(&cart, "PEN")["availableQuantity"], 1);
        assert_eq!(line(&cart, "PEN")["warnings"], json!(["only 1 available"]));
        let mine = app.data(Some(&buyer.access), "{ myCart { lines { availableQuantity product { stock } } } }", json!({})).await;
        assert_eq!(mine["myCart"]["lines"][0]["product"]["stock"], 1);
        // Caller with the epochs, reference, the line, the lines with their stock: no catalog
        // row read again.
        assert!(statements <= 4, "{statements} statements");
    }
}

db_test! {
    async fn a_request_that_changes_the_catalog_before_adding_to_a_cart_adds_at_the_new_price(app) with |config| {
        config.outbox_worker = false;
    } {
        let (manager, pen) = catalog(&app).await;
        let token = anonymous_cart(&app).await;
        let add = "cartAddLine(cartToken: $t, input: { productId: $p, quantity: 1 }) { lines { product { reference } unitPrice { amount } } }";
        // The pen's rows are kept at the current epoch.
        let first = app.data(None, &format!("mutation($t: String, $p: ID!) {{ {add} }}"), json!({ "t": token, "p": pen })).await;
        assert_eq!(line(&first["cartAddLine"], "PEN")["unitPrice"]["amount"], "0.333");

        // The manager's account is read with the epoch before the price changes: the add that
        // follows in the same document must not price the line at that epoch.
        let both = format!("mutation($t: String, $p: ID!, $v: Int!, $price: Decimal!) {{
            updateProduct(id: $p, version: $v, input: {{ unitPrice: $price }}) {{ version }} {add} }}");
        let cart = app.data(Some(&manager), &both, json!({ "t": token, "p": pen, "v": 1, "price": "0.50" })).await;
        assert_eq!(line(&cart["cartAddLine"], "PEN")["unitPrice"]["amount"], "0.50");

        // Nor in a batch, where the change is an operation of its own.
        let update = "mutation($p: ID!, $v: Int!, $price: Decimal!) { updateProduct(id: $p, version: $v, input: { unitPrice: $price }) { version } }";
        let batch = json!([
            { "query": update, "variables": { "p": pen, "v": 2, "price": "0.75" } },
            { "query": format!("mutation($t: String, $p: ID!) {{ {add} }}"), "variables": { "t": token, "p": pen } },
        ]);
        let answers: Value = app.client.post(&app.url).bearer_auth(&manager).json(&batch).send().await.unwrap().json().await.unwrap();
        assert!(answers[0]["errors"].is_null() && answers[1]["errors"].is_null(), "{answers}");
        assert_eq!(line(&answers[1]["data"]["cartAddLine"], "PEN")["unitPrice"]["amount"], "0.75");
    }
}

db_test! {
    async fn a_cart_holds_at_most_200_lines_and_a_full_cart_still_merges_what_it_holds(app) {
        catalog(&app).await;
        let token = anonymous_cart(&app).await;
        let products = app.data(None, "{ product(reference: \"BANNER\") { id } }", json!({})).await;
        let banner = products["product"]["id"].clone();
        // Each width (0.50 m, 0.51 m, …) is a line of its own.
        let add = |i: u32| {
            let cents = 50 + i;
            json!({ "t": token, "input": { "productId": banner, "quantity": 1,
                "configuration": [{ "option": "material", "value": "paper" }, { "option": "width", "number": format!("{}.{:02}", cents / 100, cents % 100) }] } })
        };
        let mutation = "mutation($t: String, $input: CartLineInput!) { cartAddLine(cartToken: $t, input: $input) { lines { id } } }";
        for i in 0..196 {
            app.data(None, mutation, add(i)).await;
        }
        // Eight new lines at once for the last four places: four get in, four are refused.
        let racing = futures_util::future::join_all((196..204).map(|i| app.gql(None, mutation, add(i)))).await;
        let refused: Vec<_> = racing.iter().filter(|r| r.get("errors").is_some()).collect();
        assert_eq!(refused.len(), 4, "{racing:?}");
        assert!(refused.iter().all(|r| code(r) == "VALIDATION"), "{refused:?}");
        let refused = app.gql(None, mutation, add(204)).await;
        assert_eq!(code(&refused), "VALIDATION", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "cart");
        // The same thing again adds up on its line.
        let merged = app.data(None, mutation, add(7)).await;
        assert_eq!(merged["cartAddLine"]["lines"].as_array().unwrap().len(), 200);
        let cart = app.data(None, "query($t: String!) { cart(token: $t) { itemCount lines { id } } }", json!({ "t": token })).await;
        assert_eq!(cart["cart"]["lines"].as_array().unwrap().len(), 200);
        assert_eq!(cart["cart"]["itemCount"], 201);
    }
}

/// On PostgreSQL an add to a cart is one statement outside a transaction; an add that waited
/// for another transaction holding the cart sees what that transaction did: it does not take a
/// place taken meanwhile, nor add to a cart merged meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_that_waited_for_the_cart_sees_what_was_done_meanwhile_on_postgres() {
    use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};

    let Some(app) = crate::helpers::TestApp::on_postgres().await else {
        return;
    };
    catalog(&app).await;
    let token = anonymous_cart(&app).await;
    let add = "mutation($t: String, $r: String!) { cartQuickAdd(cartToken: $t, reference: $r, quantity: 1) { id } }";
    app.data(None, add, json!({ "t": token, "r": "PEN" })).await;
    let db = app.state.db.write();
    let sql = |sql: &str| Statement::from_string(DbBackend::Postgres, sql.to_owned());
    let count = |query: &'static str| async move {
        db.query_one_raw(sql(query))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
    };
    // Commits `holding` once `adding` waits for it; what `adding` answered.
    let add_beside = |holding: DatabaseTransaction, token: String| {
        let app = &app;
        async move {
            let holder = crate::documents::backend_pid(&holding).await;
            let (added, committed) = tokio::join!(
                app.gql(None, add, json!({ "t": token, "r": "BOOK" })),
                async {
                    crate::documents::wait_until_blocked_by(app, holder).await;
                    holding.commit().await
                }
            );
            committed.unwrap();
            added
        }
    };
    let fill = |from: i32, to: i32| {
        format!(
            "INSERT INTO cart_line (id, cart_id, product_id, configuration, line_key, quantity, created_at, updated_at)
             SELECT gen_random_uuid(), cart_id, product_id, '[]', 'filler-' || n, 1, now(), now()
             FROM cart_line, generate_series({from}, {to}) AS n WHERE line_key NOT LIKE 'filler-%'"
        )
    };
    // One place left of 200; another transaction locks the cart and takes it.
    db.execute_raw(sql(&fill(1, 198))).await.unwrap();
    let holding = db.begin().await.unwrap();
    let held = holding
        .query_all_raw(sql("SELECT id FROM cart FOR UPDATE"))
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    holding.execute_raw(sql(&fill(199, 199))).await.unwrap();
    let added = add_beside(holding, token.clone()).await;
    assert_eq!(code(&added), "VALIDATION", "{added}");
    assert_eq!(added["errors"][0]["extensions"]["field"], "cart");
    assert_eq!(count("SELECT count(*) AS n FROM cart_line").await, 200);

    // Another cart, merged at login by a transaction the add waits for.
    let other = anonymous_cart(&app).await;
    app.data(None, add, json!({ "t": other, "r": "PEN" })).await;
    let merging = db.begin().await.unwrap();
    let merged = merging
        .execute_raw(sql("UPDATE cart SET status = 'MERGED' WHERE id NOT IN
             (SELECT cart_id FROM cart_line WHERE line_key LIKE 'filler-%')"))
        .await
        .unwrap();
    assert_eq!(merged.rows_affected(), 1);
    let added = add_beside(merging, other).await;
    assert_eq!(code(&added), "NOT_FOUND", "{added}");
    assert_eq!(
        count("SELECT count(*) AS n FROM cart_line JOIN cart ON cart.id = cart_id WHERE status = 'MERGED'").await,
        1
    );
}

db_test! {
    async fn each_line_change_marks_the_cart_changed(app) {
        catalog(&app).await;
        let user = app.user(Role::Identified).await;
        let t = Some(user.access.as_str());
        let updated = |cart: &Value| {
            chrono::DateTime::parse_from_rfc3339(cart["updatedAt"].as_str().unwrap()).unwrap()
        };
        let add = "mutation($r: String!) { cartQuickAdd(reference: $r, quantity: 1) { updatedAt lines { id quantity product { reference } } } }";
        // The first line creates the cart; the next ones go in with one statement each, the
        // cart marked changed by the line's trigger.
        let first = app.data(t, add, json!({ "r": "BOOK" })).await["cartQuickAdd"].clone();
        let mut last = updated(&first);
        let hour = Duration::hours(1);
        for (reference, pen) in [("PEN", 1), ("PEN", 2)] {
            app.state.clock.advance(hour);
            let cart = app.data(t, add, json!({ "r": reference })).await["cartQuickAdd"].clone();
            assert_eq!(line(&cart, "PEN")["quantity"], pen);
            assert!(updated(&cart) >= last + hour, "{cart}");
            last = updated(&cart);
        }
        app.state.clock.advance(hour);
        let update = "mutation($l: ID!) { cartUpdateLine(lineId: $l, quantity: 4) { updatedAt } }";
        let line_id = first["lines"][0]["id"].clone();
        let cart = app.data(t, update, json!({ "l": line_id })).await["cartUpdateLine"].clone();
        assert!(updated(&cart) >= last + hour, "{cart}");
        let mine = app.data(t, "{ myCart { updatedAt } }", json!({})).await;
        assert_eq!(mine["myCart"]["updatedAt"], cart["updatedAt"]);

        // A token that names no cart adds nothing anywhere.
        let add = "mutation($t: String, $r: String!) { cartQuickAdd(cartToken: $t, reference: $r, quantity: 1) { id } }";
        let unknown = app.gql(None, add, json!({ "t": "no-such-token", "r": "PEN" })).await;
        assert_eq!(code(&unknown), "NOT_FOUND", "{unknown}");
        assert_eq!(unknown["errors"][0]["extensions"]["field"], "cartToken");
        let mine = app.data(t, "{ myCart { itemCount } }", json!({})).await;
        assert_eq!(mine["myCart"]["itemCount"], 6);
    }
}
