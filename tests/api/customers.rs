use comptoir_api::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, code};

const MY_CUSTOMER: &str = "{ myCustomer { id name version notes
    contacts { id name email phone isPrimary }
    addresses { id kind label line1 postalCode city country isDefault } } }";
const CUSTOMER: &str = "query($id: ID!) { customer(id: $id) { id name notes version } }";
const CREATE_CUSTOMER: &str = "mutation($input: CustomerInput!) {
    createCustomer(input: $input) { id code name kind source language blocked version notes } }";
const CREATE_MY_CUSTOMER: &str = "mutation($input: CustomerInput!) {
    createMyCustomer(input: $input) { id code name kind source } }";
const UPDATE_CUSTOMER: &str = "mutation($id: ID!, $version: Int!, $input: CustomerInput!) {
    updateCustomer(id: $id, version: $version, input: $input) { id code name version notes salesRep { id } } }";
const BLOCK_CUSTOMER: &str = "mutation($id: ID!, $reason: String!) {
    blockCustomer(id: $id, reason: $reason) { id blocked blockedReason } }";
const UNBLOCK_CUSTOMER: &str =
    "mutation($id: ID!) { unblockCustomer(id: $id) { id blocked blockedReason } }";
const SEARCH: &str = "query($filter: CustomerFilterInput!) {
    customers(filter: $filter) { totalCount edges { node { id code name } } } }";
const ADD_CONTACT: &str = "mutation($customerId: ID, $input: ContactInput!) {
    addCustomerContact(customerId: $customerId, input: $input) { id name email phone isPrimary } }";
const UPDATE_CONTACT: &str = "mutation($id: ID!, $input: ContactInput!) {
    updateCustomerContact(id: $id, input: $input) { id name email phone isPrimary } }";
const REMOVE_CONTACT: &str = "mutation($id: ID!) { removeCustomerContact(id: $id) }";
const ADD_ADDRESS: &str = "mutation($customerId: ID, $input: AddressInput!) {
    addCustomerAddress(customerId: $customerId, input: $input) { id kind line1 city country isDefault } }";
const UPDATE_ADDRESS: &str = "mutation($id: ID!, $input: AddressInput!) {
    updateCustomerAddress(id: $id, input: $input) { id kind line1 city country isDefault } }";
const REMOVE_ADDRESS: &str = "mutation($id: ID!) { removeCustomerAddress(id: $id) }";
const LOGIN: &str = "mutation($e: String!, $p: String!) {
    login(input: { email: $e, password: $p }) { accessToken } }";
const CREATE_USER: &str = "mutation($email: String!, $role: Role!, $customerId: ID) {
    createUser(input: { email: $email, password: \"long enough\", role: $role, customerId: $customerId }) {
        id role customer { id name } } }";
const SET_USER_CUSTOMER: &str = "mutation($id: ID!, $customerId: ID) {
    setUserCustomer(id: $id, customerId: $customerId) { id customer { id } } }";

/// The opaque ID of the customer `user` belongs to, as that user reads it.
async fn my_customer_id(app: &TestApp, user: &Session) -> String {
    let data = app
        .data(Some(&user.access), "{ myCustomer { id } }", json!({}))
        .await;
    data["myCustomer"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the user belongs to no customer: {data}"))
        .to_owned()
}

/// The `extensions.field` of the first error.
fn field(body: &Value) -> &Value {
    &body["errors"][0]["extensions"]["field"]
}

fn delivery(line1: &str) -> Value {
    json!({ "kind": "DELIVERY", "line1": line1, "postalCode": "75001", "city": "Paris", "country": "FR" })
}

/// Creates a customer through the API as `staff` and returns it.
async fn create_customer(app: &TestApp, staff: &Session, input: Value) -> Value {
    app.data(
        Some(&staff.access),
        CREATE_CUSTOMER,
        json!({ "input": input }),
    )
    .await["createCustomer"]
        .clone()
}

/// The names of the customers a search returns, sorted.
async fn search_names(app: &TestApp, staff: &Session, filter: Value) -> Vec<String> {
    let data = app
        .data(Some(&staff.access), SEARCH, json!({ "filter": filter }))
        .await;
    let mut names: Vec<String> = data["customers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(data["customers"]["totalCount"], names.len(), "{data}");
    names.sort();
    names
}

/// The first lines of the caller's default addresses.
async fn default_addresses(app: &TestApp, token: Option<&str>) -> Vec<String> {
    let data = app.data(token, MY_CUSTOMER, json!({})).await;
    data["myCustomer"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["isDefault"] == true)
        .map(|a| a["line1"].as_str().unwrap().to_owned())
        .collect()
}

/// The first field an operation selects (`customer` in `query($id: ID!) { customer(id: $id) … }`).
fn operation_name(op: &str) -> &str {
    let selection = op.split_once('{').map_or(op, |(_, rest)| rest).trim_start();
    let end = selection
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(selection.len());
    &selection[..end]
}

fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

db_test! {
    async fn a_customers_user_never_reads_or_changes_another_customers_data(app) {
        let alice = app.user_of(Role::AccountClient, Some(app.customer("Alpha SARL").await)).await;
        let bob = app.user_of(Role::AccountClient, Some(app.customer("Beta GmbH").await)).await;
        let alpha = my_customer_id(&app, &alice).await;
        let beta = my_customer_id(&app, &bob).await;
        assert_ne!(alpha, beta);
        let contact = app
            .data(Some(&bob.access), ADD_CONTACT, json!({ "input": { "name": "Bea", "email": "bea@beta.test" } }))
            .await["addCustomerContact"]["id"]
            .clone();
        let address = app
            .data(Some(&bob.access), ADD_ADDRESS, json!({ "input": delivery("1 Beta Street") }))
            .await["addCustomerAddress"]["id"]
            .clone();
        let before = app.data(Some(&bob.access), MY_CUSTOMER, json!({})).await;
        assert_eq!(before["myCustomer"]["contacts"].as_array().unwrap().len(), 1);
        assert_eq!(before["myCustomer"]["addresses"].as_array().unwrap().len(), 1);

        // Reading: the other company does not exist for Alice; her own does.
        let read = app.gql(Some(&alice.access), CUSTOMER, json!({ "id": beta })).await;
        assert_eq!(code(&read), "NOT_FOUND");
        assert!(!read.to_string().contains("Beta GmbH"), "{read}");
        let own = app.data(Some(&alice.access), CUSTOMER, json!({ "id": alpha })).await;
        assert_eq!(own["customer"]["name"], "Alpha SARL");
        let me = app.data(Some(&alice.access), "{ me { customer { id name } } }", json!({})).await;
        assert_eq!(me["me"]["customer"], json!({ "id": alpha, "name": "Alpha SARL" }));

        // Changing the other company's contacts and addresses: not found, whatever the ID.
        let attempts = [
            (UPDATE_CONTACT, json!({ "id": contact, "input": { "name": "Hacked", "email": "evil@alpha.test" } })),
            (UPDATE_CONTACT, json!({ "id": contact, "input": { "isPrimary": false } })),
            (REMOVE_CONTACT, json!({ "id": contact })),
            (UPDATE_ADDRESS, json!({ "id": address, "input": { "line1": "Hacked", "isDefault": true } })),
            (REMOVE_ADDRESS, json!({ "id": address })),
            (ADD_CONTACT, json!({ "customerId": beta, "input": { "name": "Intruder" } })),
            (ADD_ADDRESS, json!({ "customerId": beta, "input": delivery("Intruder Road") })),
        ];
        for (op, vars) in attempts {
            let body = app.gql(Some(&alice.access), op, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{op} {vars}");
        }
        // Company-level changes and the list are staff business.
        let staff_only = [
            ("{ customers { totalCount } }", json!({})),
            (CREATE_CUSTOMER, json!({ "input": { "name": "Mine now" } })),
            (UPDATE_CUSTOMER, json!({ "id": beta, "version": 1, "input": { "name": "Hacked" } })),
            (UPDATE_CUSTOMER, json!({ "id": alpha, "version": 1, "input": { "name": "Renamed" } })),
            (BLOCK_CUSTOMER, json!({ "id": beta, "reason": "spite" })),
            (UNBLOCK_CUSTOMER, json!({ "id": beta })),
        ];
        for (op, vars) in staff_only {
            let body = app.gql(Some(&alice.access), op, vars.clone()).await;
            assert_eq!(code(&body), "FORBIDDEN", "{op} {vars}");
        }

        // Beta is exactly as it was, and nothing leaked into Alpha.
        let after = app.data(Some(&bob.access), MY_CUSTOMER, json!({})).await;
        assert_eq!(after, before);
        let mine = app.data(Some(&alice.access), MY_CUSTOMER, json!({})).await;
        assert_eq!(mine["myCustomer"]["name"], "Alpha SARL");
        assert_eq!(mine["myCustomer"]["contacts"], json!([]));
        assert_eq!(mine["myCustomer"]["addresses"], json!([]));

        // Staff, by contrast, read both.
        let manager = app.user(Role::Manager).await;
        let seen = app.data(Some(&manager.access), CUSTOMER, json!({ "id": beta })).await;
        assert_eq!(seen["customer"]["name"], "Beta GmbH");
    }
}

db_test! {
    async fn a_user_without_a_customer_has_none_and_reaches_none(app) {
        let client = app.user_of(Role::AccountClient, Some(app.customer("Gamma Ltd").await)).await;
        let gamma = my_customer_id(&app, &client).await;
        let loner = app.user(Role::Identified).await;

        let mine = app.data(Some(&loner.access), "{ myCustomer { id } me { customer { id } } }", json!({})).await;
        assert!(mine["myCustomer"].is_null(), "{mine}");
        assert!(mine["me"]["customer"].is_null(), "{mine}");

        let read = app.gql(Some(&loner.access), CUSTOMER, json!({ "id": gamma })).await;
        assert_eq!(code(&read), "NOT_FOUND");
        let add = app.gql(Some(&loner.access), ADD_CONTACT, json!({ "customerId": gamma, "input": { "name": "Intruder" } })).await;
        assert_eq!(code(&add), "NOT_FOUND");
        let nowhere = app.gql(Some(&loner.access), ADD_CONTACT, json!({ "input": { "name": "Me" } })).await;
        assert_eq!(code(&nowhere), "VALIDATION");
        assert_eq!(field(&nowhere), "customerId");
        let nowhere = app.gql(Some(&loner.access), ADD_ADDRESS, json!({ "input": delivery("1 Nowhere") })).await;
        assert_eq!(code(&nowhere), "VALIDATION");
        assert_eq!(field(&nowhere), "customerId");
        let list = app.gql(Some(&loner.access), "{ customers { totalCount } }", json!({})).await;
        assert_eq!(code(&list), "FORBIDDEN");

        let gamma_now = app.data(Some(&client.access), MY_CUSTOMER, json!({})).await;
        assert_eq!(gamma_now["myCustomer"]["contacts"], json!([]));
    }
}

db_test! {
    async fn a_visitor_without_a_token_must_log_in_for_every_customer_operation(app) {
        let client = app.user_of(Role::AccountClient, Some(app.customer("Delta AG").await)).await;
        let delta = my_customer_id(&app, &client).await;
        let contact = app
            .data(Some(&client.access), ADD_CONTACT, json!({ "input": { "name": "Dora" } }))
            .await["addCustomerContact"]["id"]
            .clone();
        let address = app
            .data(Some(&client.access), ADD_ADDRESS, json!({ "input": delivery("1 Delta Way") }))
            .await["addCustomerAddress"]["id"]
            .clone();
        let before = app.data(Some(&client.access), MY_CUSTOMER, json!({})).await;

        let public = app.data(None, "{ myCustomer { id } }", json!({})).await;
        assert!(public["myCustomer"].is_null());

        let operations = [
            ("{ customers { totalCount } }", json!({})),
            (CUSTOMER, json!({ "id": delta })),
            (CREATE_CUSTOMER, json!({ "input": { "name": "Anon" } })),
            (CREATE_MY_CUSTOMER, json!({ "input": { "name": "Anon" } })),
            (UPDATE_CUSTOMER, json!({ "id": delta, "version": 1, "input": { "name": "Anon" } })),
            (BLOCK_CUSTOMER, json!({ "id": delta, "reason": "r" })),
            (UNBLOCK_CUSTOMER, json!({ "id": delta })),
            (ADD_CONTACT, json!({ "input": { "name": "Anon" } })),
            (ADD_CONTACT, json!({ "customerId": delta, "input": { "name": "Anon" } })),
            (UPDATE_CONTACT, json!({ "id": contact, "input": { "name": "Anon" } })),
            (REMOVE_CONTACT, json!({ "id": contact })),
            (ADD_ADDRESS, json!({ "customerId": delta, "input": delivery("Anon") })),
            (UPDATE_ADDRESS, json!({ "id": address, "input": { "line1": "Anon" } })),
            (REMOVE_ADDRESS, json!({ "id": address })),
        ];
        let mut wrong = Vec::new();
        for (op, vars) in operations {
            let body = app.gql(None, op, vars).await;
            if code(&body) != "UNAUTHENTICATED" {
                wrong.push(format!("{} -> {}", operation_name(op), code(&body)));
            }
        }
        assert!(wrong.is_empty(), "answered without UNAUTHENTICATED: {wrong:#?}");
        let after = app.data(Some(&client.access), MY_CUSTOMER, json!({})).await;
        assert_eq!(after, before);
    }
}

db_test! {
    async fn a_client_keeps_its_contacts_with_one_primary_and_e164_phones(app) {
        let client = app.user(Role::AccountClient).await;
        let token = Some(client.access.as_str());
        let add = |input: Value| app.gql(token, ADD_CONTACT, json!({ "input": input }));

        let ann = add(json!({ "name": "Ann", "email": " Ann@Example.TEST ", "phone": "+33 6 12 34 56 78" })).await;
        let ann = &ann["data"]["addCustomerContact"];
        assert_eq!(ann["isPrimary"], true, "the first contact is the primary one");
        assert_eq!(ann["phone"], "+33612345678");
        assert_eq!(ann["email"], "ann@example.test");

        let national = add(json!({ "name": "Bob", "phone": "0612345678" })).await;
        assert_eq!(code(&national), "VALIDATION");
        assert_eq!(field(&national), "phone");
        let bad_email = add(json!({ "name": "Bob", "email": "bob@" })).await;
        assert_eq!(code(&bad_email), "VALIDATION");
        assert_eq!(field(&bad_email), "email");
        let no_name = add(json!({ "name": "  ", "email": "bob@example.test" })).await;
        assert_eq!(code(&no_name), "VALIDATION");
        assert_eq!(field(&no_name), "name");

        let bob = add(json!({ "name": "Bob", "email": "bob@example.test", "phone": "+1 (415) 555-0100" })).await;
        let bob = &bob["data"]["addCustomerContact"];
        assert_eq!(bob["isPrimary"], false);
        assert_eq!(bob["phone"], "+14155550100");
        let carl = add(json!({ "name": "Carl", "isPrimary": true })).await;
        let carl = &carl["data"]["addCustomerContact"];
        assert_eq!(carl["isPrimary"], true);

        let primaries = |data: &Value| -> Vec<String> {
            data["myCustomer"]["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["isPrimary"] == true)
                .map(|c| c["name"].as_str().unwrap().to_owned())
                .collect()
        };
        let data = app.data(token, MY_CUSTOMER, json!({})).await;
        assert_eq!(data["myCustomer"]["contacts"].as_array().unwrap().len(), 3, "{data}");
        assert_eq!(primaries(&data), ["Carl"], "{data}");
        assert_eq!(data["myCustomer"]["contacts"][0]["name"], "Carl", "primary first");

        // Making Ann primary again moves the flag back.
        let moved = app.data(token, UPDATE_CONTACT, json!({ "id": ann["id"], "input": { "isPrimary": true } })).await;
        assert_eq!(moved["updateCustomerContact"]["isPrimary"], true);
        let data = app.data(token, MY_CUSTOMER, json!({})).await;
        assert_eq!(primaries(&data), ["Ann"], "{data}");
        assert_eq!(data["myCustomer"]["contacts"][0]["name"], "Ann");

        // Updates are validated the same way; an empty string clears email and phone.
        let bad = app.gql(token, UPDATE_CONTACT, json!({ "id": bob["id"], "input": { "phone": "0612345678" } })).await;
        assert_eq!(code(&bad), "VALIDATION");
        assert_eq!(field(&bad), "phone");
        let bad = app.gql(token, UPDATE_CONTACT, json!({ "id": bob["id"], "input": { "email": "not an email" } })).await;
        assert_eq!(code(&bad), "VALIDATION");
        assert_eq!(field(&bad), "email");
        let kept = app.data(token, UPDATE_CONTACT, json!({ "id": bob["id"], "input": { "name": "Robert" } })).await;
        assert_eq!(kept["updateCustomerContact"]["phone"], "+14155550100");
        assert_eq!(kept["updateCustomerContact"]["email"], "bob@example.test");
        let cleared = app.data(token, UPDATE_CONTACT, json!({ "id": bob["id"], "input": { "phone": "", "email": "" } })).await;
        assert_eq!(cleared["updateCustomerContact"]["name"], "Robert");
        assert!(cleared["updateCustomerContact"]["phone"].is_null());
        assert!(cleared["updateCustomerContact"]["email"].is_null());

        let removed = app.data(token, REMOVE_CONTACT, json!({ "id": carl["id"] })).await;
        assert_eq!(removed["removeCustomerContact"], true);
        let again = app.gql(token, REMOVE_CONTACT, json!({ "id": carl["id"] })).await;
        assert_eq!(code(&again), "NOT_FOUND");
        let data = app.data(token, MY_CUSTOMER, json!({})).await;
        let mut names: Vec<&str> = data["myCustomer"]["contacts"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        assert_eq!(names, ["Ann", "Robert"]);
    }
}

db_test! {
    async fn a_client_has_one_billing_address_and_one_default_delivery_address(app) {
        let client = app.user(Role::AccountClient).await;
        let token = Some(client.access.as_str());
        let add = |input: Value| app.gql(token, ADD_ADDRESS, json!({ "input": input }));

        let billing = add(json!({ "kind": "BILLING", "line1": "1 Rue de Rivoli", "postalCode": "75001", "city": "Paris", "country": " fr " })).await;
        let billing = billing["data"]["addCustomerAddress"].clone();
        assert_eq!(billing["country"], "FR");
        assert_eq!(billing["isDefault"], false);
        let second = add(json!({ "kind": "BILLING", "line1": "2 Rue de Rivoli", "postalCode": "75001", "city": "Paris", "country": "FR" })).await;
        assert_eq!(code(&second), "CONFLICT");
        let country = add(json!({ "kind": "DELIVERY", "line1": "1 Main St", "postalCode": "75001", "city": "Paris", "country": "FRA" })).await;
        assert_eq!(code(&country), "VALIDATION");
        assert_eq!(field(&country), "country");
        let no_city = add(json!({ "kind": "DELIVERY", "line1": "1 Main St", "postalCode": "75001", "country": "FR" })).await;
        assert_eq!(code(&no_city), "VALIDATION");
        assert_eq!(field(&no_city), "city");
        assert_eq!(default_addresses(&app, token).await, Vec::<String>::new(), "a billing address is never a default");

        let first = add(delivery("1 First Street")).await["data"]["addCustomerAddress"].clone();
        assert_eq!(first["isDefault"], true, "the first delivery address is the default");
        let second = add(delivery("2 Second Street")).await["data"]["addCustomerAddress"].clone();
        assert_eq!(second["isDefault"], false);
        let mut third = delivery("3 Third Street");
        third["isDefault"] = json!(true);
        let third = add(third).await["data"]["addCustomerAddress"].clone();
        assert_eq!(third["isDefault"], true);
        assert_eq!(default_addresses(&app, token).await, ["3 Third Street"]);

        let moved = app.data(token, UPDATE_ADDRESS, json!({ "id": second["id"], "input": { "isDefault": true } })).await;
        assert_eq!(moved["updateCustomerAddress"]["isDefault"], true);
        assert_eq!(default_addresses(&app, token).await, ["2 Second Street"]);
        let unset = app.gql(token, UPDATE_ADDRESS, json!({ "id": second["id"], "input": { "isDefault": false } })).await;
        assert_eq!(code(&unset), "VALIDATION");
        let billing_default = app.gql(token, UPDATE_ADDRESS, json!({ "id": billing["id"], "input": { "isDefault": true } })).await;
        assert_eq!(code(&billing_default), "VALIDATION");
        assert_eq!(default_addresses(&app, token).await, ["2 Second Street"]);

        let bad = app.gql(token, UPDATE_ADDRESS, json!({ "id": first["id"], "input": { "country": "France" } })).await;
        assert_eq!(code(&bad), "VALIDATION");
        assert_eq!(field(&bad), "country");
        let edited = app.data(token, UPDATE_ADDRESS, json!({ "id": first["id"], "input": { "city": "Lyon", "country": "be" } })).await;
        assert_eq!(edited["updateCustomerAddress"]["city"], "Lyon");
        assert_eq!(edited["updateCustomerAddress"]["country"], "BE");
        assert_eq!(edited["updateCustomerAddress"]["line1"], "1 First Street");

        let data = app.data(token, MY_CUSTOMER, json!({})).await;
        assert_eq!(data["myCustomer"]["addresses"][0]["kind"], "BILLING", "billing first: {data}");
        assert_eq!(data["myCustomer"]["addresses"][1]["line1"], "2 Second Street", "then the default: {data}");

        // Removing the default promotes the oldest other delivery address.
        app.data(token, REMOVE_ADDRESS, json!({ "id": second["id"] })).await;
        assert_eq!(default_addresses(&app, token).await, ["1 First Street"]);
        app.data(token, REMOVE_ADDRESS, json!({ "id": first["id"] })).await;
        assert_eq!(default_addresses(&app, token).await, ["3 Third Street"]);
        app.data(token, REMOVE_ADDRESS, json!({ "id": third["id"] })).await;
        assert_eq!(default_addresses(&app, token).await, Vec::<String>::new());
        let fresh = add(delivery("4 Fourth Street")).await;
        assert_eq!(fresh["data"]["addCustomerAddress"]["isDefault"], true);
        let data = app.data(token, MY_CUSTOMER, json!({})).await;
        assert_eq!(data["myCustomer"]["addresses"].as_array().unwrap().len(), 2, "{data}");
    }
}

db_test! {
    async fn internal_notes_are_visible_to_staff_only(app) {
        let manager = app.user(Role::Manager).await;
        let client = app.user(Role::AccountClient).await;
        let id = my_customer_id(&app, &client).await;
        let staff_view = app.data(Some(&manager.access), CUSTOMER, json!({ "id": id })).await;
        let version = staff_view["customer"]["version"].clone();
        let updated = app
            .data(Some(&manager.access), UPDATE_CUSTOMER, json!({ "id": id, "version": version, "input": { "notes": "pays late" } }))
            .await;
        assert_eq!(updated["updateCustomer"]["notes"], "pays late");
        let staff_view = app.data(Some(&manager.access), CUSTOMER, json!({ "id": id })).await;
        assert_eq!(staff_view["customer"]["notes"], "pays late");

        let own = app.data(Some(&client.access), MY_CUSTOMER, json!({})).await;
        assert!(own["myCustomer"]["notes"].is_null(), "{own}");
        let own = app.data(Some(&client.access), CUSTOMER, json!({ "id": id })).await;
        assert!(own["customer"]["notes"].is_null(), "{own}");
        let me = app.data(Some(&client.access), "{ me { customer { notes } } }", json!({})).await;
        assert!(me["me"]["customer"]["notes"].is_null(), "{me}");
    }
}

db_test! {
    async fn staff_create_customers_with_unique_upper_case_codes(app) {
        let manager = app.user(Role::Manager).await;
        let acme = create_customer(&app, &manager, json!({ "name": "  Acme Tools  " })).await;
        assert_eq!(acme["name"], "Acme Tools");
        let generated = acme["code"].as_str().unwrap();
        assert!(
            generated.len() == 10
                && generated.starts_with("C-")
                && generated[2..].chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "generated code {generated}"
        );
        assert_eq!(acme["source"], "BACKOFFICE");
        assert_eq!(acme["kind"], "PROFESSIONAL");
        assert_eq!(acme["blocked"], false);
        assert_eq!(acme["version"], 1);
        let other = create_customer(&app, &manager, json!({ "name": "Acme Tools" })).await;
        assert_ne!(other["code"], acme["code"], "generated codes differ");

        let zeta = create_customer(&app, &manager, json!({ "name": "Zeta", "code": " zeta-01 ", "kind": "INDIVIDUAL" })).await;
        assert_eq!(zeta["code"], "ZETA-01");
        assert_eq!(zeta["kind"], "INDIVIDUAL");
        for duplicate in ["ZETA-01", "Zeta-01"] {
            let body = app.gql(Some(&manager.access), CREATE_CUSTOMER, json!({ "input": { "name": "Copy", "code": duplicate } })).await;
            assert_eq!(code(&body), "CONFLICT", "{duplicate}");
            assert_eq!(field(&body), "code");
        }
        let bad_code = app.gql(Some(&manager.access), CREATE_CUSTOMER, json!({ "input": { "name": "Bad", "code": "no spaces" } })).await;
        assert_eq!(code(&bad_code), "VALIDATION");
        assert_eq!(field(&bad_code), "code");
        let no_name = app.gql(Some(&manager.access), CREATE_CUSTOMER, json!({ "input": { "code": "NONAME" } })).await;
        assert_eq!(code(&no_name), "VALIDATION");
        assert_eq!(field(&no_name), "name");

        let all = search_names(&app, &manager, json!({})).await;
        assert_eq!(all, ["Acme Tools", "Acme Tools", "Zeta"]);
    }
}

db_test! {
    async fn staff_find_customers_by_name_code_contact_email_and_filters(app) {
        let manager = app.user(Role::Manager).await;
        let acme = create_customer(&app, &manager, json!({ "name": "Acme Tools" })).await;
        create_customer(&app, &manager, json!({ "name": "Zeta Foods", "code": "ZF-42", "kind": "INDIVIDUAL" })).await;
        create_customer(&app, &manager, json!({ "name": "Omega Works" })).await;
        let shopper = app.user(Role::Identified).await;
        app.data(Some(&shopper.access), CREATE_MY_CUSTOMER, json!({ "input": { "name": "Jane Shopper" } })).await;
        let contact = app
            .data(Some(&manager.access), ADD_CONTACT, json!({ "customerId": acme["id"], "input": { "name": "Buyer", "email": "buyer@widgets.test" } }))
            .await["addCustomerContact"]["id"]
            .clone();

        assert_eq!(search_names(&app, &manager, json!({ "search": "acme" })).await, ["Acme Tools"]);
        assert_eq!(search_names(&app, &manager, json!({ "search": "WORKS" })).await, ["Omega Works"]);
        assert_eq!(search_names(&app, &manager, json!({ "search": "zf-42" })).await, ["Zeta Foods"]);
        let code_of_acme = acme["code"].as_str().unwrap();
        assert_eq!(search_names(&app, &manager, json!({ "search": code_of_acme })).await, ["Acme Tools"]);
        assert_eq!(search_names(&app, &manager, json!({ "search": "widgets.test" })).await, ["Acme Tools"]);
        assert_eq!(search_names(&app, &manager, json!({ "search": "nothing like it" })).await, Vec::<String>::new());
        assert_eq!(search_names(&app, &manager, json!({ "search": "%" })).await, Vec::<String>::new());

        // The search follows contact changes.
        app.data(Some(&manager.access), UPDATE_CONTACT, json!({ "id": contact, "input": { "email": "buyer@gadgets.test" } })).await;
        assert_eq!(search_names(&app, &manager, json!({ "search": "widgets" })).await, Vec::<String>::new());
        assert_eq!(search_names(&app, &manager, json!({ "search": "gadgets" })).await, ["Acme Tools"]);
        app.data(Some(&manager.access), REMOVE_CONTACT, json!({ "id": contact })).await;
        assert_eq!(search_names(&app, &manager, json!({ "search": "gadgets" })).await, Vec::<String>::new());

        assert_eq!(search_names(&app, &manager, json!({ "source": "STOREFRONT" })).await, ["Jane Shopper"]);
        assert_eq!(
            search_names(&app, &manager, json!({ "source": "BACKOFFICE" })).await,
            ["Acme Tools", "Omega Works", "Zeta Foods"]
        );
        assert_eq!(
            search_names(&app, &manager, json!({ "kind": "INDIVIDUAL" })).await,
            ["Jane Shopper", "Zeta Foods"]
        );
        assert_eq!(
            search_names(&app, &manager, json!({ "kind": "PROFESSIONAL", "search": "o" })).await,
            ["Acme Tools", "Omega Works"]
        );
        app.data(Some(&manager.access), BLOCK_CUSTOMER, json!({ "id": acme["id"], "reason": "unpaid" })).await;
        assert_eq!(search_names(&app, &manager, json!({ "blocked": true })).await, ["Acme Tools"]);
        assert_eq!(
            search_names(&app, &manager, json!({ "blocked": false })).await,
            ["Jane Shopper", "Omega Works", "Zeta Foods"]
        );
    }
}

db_test! {
    async fn the_customer_list_is_a_relay_connection_ordered_by_name(app) {
        let admin = app.user(Role::Admin).await;
        // Equal names too: the cursor must tell them apart.
        for name in ["Page B", "Page A", "Page C", "Page B", "Page A"] {
            create_customer(&app, &admin, json!({ "name": name })).await;
        }
        create_customer(&app, &admin, json!({ "name": "Not listed" })).await;
        let page = "query($after: String) { customers(first: 2, after: $after, filter: { search: \"page\" }) {
            totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id name } } } }";
        let mut after = Value::Null;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let data = app.data(Some(&admin.access), page, json!({ "after": after })).await;
            let connection = &data["customers"];
            assert_eq!(connection["totalCount"], 5, "{data}");
            assert_eq!(connection["pageInfo"]["hasPreviousPage"], pages > 0);
            let edges = connection["edges"].as_array().unwrap();
            pages += 1;
            seen.extend(edges.iter().map(|e| (e["node"]["name"].as_str().unwrap().to_owned(), id_of(&e["node"]))));
            if pages < 3 {
                assert_eq!(edges.len(), 2, "{data}");
                assert_eq!(connection["pageInfo"]["hasNextPage"], true, "{data}");
                after = connection["pageInfo"]["endCursor"].clone();
                assert_eq!(after, edges[1]["cursor"]);
            } else {
                assert_eq!(edges.len(), 1, "{data}");
                assert_eq!(connection["pageInfo"]["hasNextPage"], false, "{data}");
                break;
            }
        }
        let names: Vec<&str> = seen.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["Page A", "Page A", "Page B", "Page B", "Page C"]);
        let mut ids: Vec<&str> = seen.iter().map(|(_, id)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 5, "every customer exactly once: {seen:?}");

        let bad_cursor = app.gql(Some(&admin.access), "{ customers(after: \"!!\") { totalCount } }", json!({})).await;
        assert_eq!(code(&bad_cursor), "VALIDATION");
        let too_many = app.gql(Some(&admin.access), "{ customers(first: 101) { totalCount } }", json!({})).await;
        assert_eq!(code(&too_many), "VALIDATION");
        assert_eq!(field(&too_many), "first");
    }
}

db_test! {
    async fn updating_a_customer_needs_the_current_version_and_a_staff_sales_rep(app) {
        let manager = app.user(Role::Manager).await;
        let admin = app.user(Role::Admin).await;
        let identified = app.user(Role::Identified).await;
        let acme = create_customer(&app, &manager, json!({ "name": "Acme Tools", "code": "ACME" })).await;
        let id = acme["id"].clone();

        let renamed = app
            .data(Some(&manager.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 1, "input": { "name": "Acme Tools SA" } }))
            .await;
        assert_eq!(renamed["updateCustomer"]["name"], "Acme Tools SA");
        assert_eq!(renamed["updateCustomer"]["version"], 2);
        assert_eq!(renamed["updateCustomer"]["code"], "ACME");

        let stale = app
            .gql(Some(&admin.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 1, "input": { "name": "Lost update" } }))
            .await;
        assert_eq!(code(&stale), "CONFLICT");
        assert_eq!(stale["errors"][0]["extensions"]["currentVersion"], 2);
        let current = app.data(Some(&admin.access), CUSTOMER, json!({ "id": id })).await;
        assert_eq!(current["customer"]["name"], "Acme Tools SA");
        assert_eq!(current["customer"]["version"], 2);

        let code_change = app
            .gql(Some(&manager.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 2, "input": { "code": "OTHER" } }))
            .await;
        assert_eq!(code(&code_change), "VALIDATION");
        assert_eq!(field(&code_change), "code");

        // A sales representative is staff.
        let not_staff = app
            .gql(Some(&manager.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 2, "input": { "salesRepId": identified.id } }))
            .await;
        assert_eq!(code(&not_staff), "VALIDATION");
        assert_eq!(field(&not_staff), "salesRepId");
        let not_staff = app
            .gql(Some(&manager.access), CREATE_CUSTOMER, json!({ "input": { "name": "Repless", "salesRepId": identified.id } }))
            .await;
        assert_eq!(code(&not_staff), "VALIDATION");
        assert_eq!(field(&not_staff), "salesRepId");
        let client = app.user(Role::AccountClient).await;
        let not_staff = app
            .gql(Some(&manager.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 2, "input": { "salesRepId": client.id } }))
            .await;
        assert_eq!(code(&not_staff), "VALIDATION");
        let with_rep = app
            .data(Some(&admin.access), UPDATE_CUSTOMER, json!({ "id": id, "version": 2, "input": { "salesRepId": manager.id } }))
            .await;
        assert_eq!(with_rep["updateCustomer"]["salesRep"]["id"], manager.id.as_str());
        assert_eq!(with_rep["updateCustomer"]["version"], 3);
        assert_eq!(with_rep["updateCustomer"]["name"], "Acme Tools SA", "absent fields stay");
        let mine = search_names(&app, &admin, json!({ "salesRepId": manager.id })).await;
        assert_eq!(mine, ["Acme Tools SA"]);
        let by_admin = create_customer(&app, &manager, json!({ "name": "Big Account", "salesRepId": admin.id })).await;
        assert_eq!(by_admin["name"], "Big Account");
        assert_eq!(search_names(&app, &admin, json!({ "salesRepId": admin.id })).await, ["Big Account"]);
    }
}

db_test! {
    async fn blocking_a_customer_blocks_its_users_until_it_is_unblocked(app) {
        let manager = app.user(Role::Manager).await;
        let blocked_company = app.customer("Late Payer Ltd").await;
        let first = app.user_of(Role::AccountClient, Some(blocked_company)).await;
        let second = app.user_of(Role::Identified, Some(blocked_company)).await;
        let bystander = app.user(Role::AccountClient).await;
        let id = my_customer_id(&app, &first).await;

        let by_client = app.gql(Some(&bystander.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": "spite" })).await;
        assert_eq!(code(&by_client), "FORBIDDEN");
        let by_own_user = app.gql(Some(&first.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": "oops" })).await;
        assert_eq!(code(&by_own_user), "FORBIDDEN");
        let no_reason = app.gql(Some(&manager.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": " " })).await;
        assert_eq!(code(&no_reason), "VALIDATION");
        assert_eq!(field(&no_reason), "reason");
        app.data(Some(&first.access), "{ me { id } }", json!({})).await;

        let blocked = app
            .data(Some(&manager.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": "unpaid invoices" }))
            .await;
        assert_eq!(blocked["blockCustomer"]["blocked"], true);
        assert_eq!(blocked["blockCustomer"]["blockedReason"], "unpaid invoices");

        for user in [&first, &second] {
            let response = app
                .client
                .post(&app.url)
                .bearer_auth(&user.access)
                .json(&json!({ "query": "{ myCustomer { id } }" }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403);
            let body: Value = response.json().await.unwrap();
            assert_eq!(code(&body), "ACCOUNT_BLOCKED");
            let login = app.gql(None, LOGIN, json!({ "e": user.email, "p": PASSWORD })).await;
            assert_eq!(code(&login), "ACCOUNT_BLOCKED");
        }
        // Other customers' users are untouched.
        app.data(Some(&bystander.access), "{ myCustomer { id } }", json!({})).await;

        let list = app
            .data(Some(&manager.access), "{ customers(filter: { blocked: true }) { totalCount edges { node { id blocked blockedReason } } } }", json!({}))
            .await;
        assert_eq!(list["customers"]["totalCount"], 1);
        assert_eq!(
            list["customers"]["edges"][0]["node"],
            json!({ "id": id, "blocked": true, "blockedReason": "unpaid invoices" })
        );
        let admin = app.user(Role::Admin).await;
        let users = app.data(Some(&admin.access), "{ users(blocked: true) { totalCount } }", json!({})).await;
        assert_eq!(users["users"]["totalCount"], 2);

        let by_client = app.gql(Some(&bystander.access), UNBLOCK_CUSTOMER, json!({ "id": id })).await;
        assert_eq!(code(&by_client), "FORBIDDEN");
        let unblocked = app.data(Some(&manager.access), UNBLOCK_CUSTOMER, json!({ "id": id })).await;
        assert_eq!(unblocked["unblockCustomer"], json!({ "id": id, "blocked": false, "blockedReason": null }));
        for user in [&first, &second] {
            let again = app.login(&user.email, PASSWORD).await;
            let mine = app.data(Some(&again.access), "{ myCustomer { id blocked } }", json!({})).await;
            assert_eq!(mine["myCustomer"], json!({ "id": id, "blocked": false }));
        }
        let list = app.data(Some(&manager.access), "{ customers(filter: { blocked: true }) { totalCount } }", json!({})).await;
        assert_eq!(list["customers"]["totalCount"], 0);
    }
}

db_test! {
    async fn a_user_who_joins_a_blocked_customer_cannot_log_in_either(app) {
        let admin = app.user(Role::Admin).await;
        let customer = create_customer(&app, &admin, json!({ "name": "Blocked Before" })).await;
        let id = customer["id"].clone();
        app.data(Some(&admin.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": "fraud" })).await;

        // A new account for the blocked customer: refused, or created blocked.
        let created = app
            .gql(Some(&admin.access), CREATE_USER, json!({ "email": "new.buyer@example.test", "role": "ACCOUNT_CLIENT", "customerId": id }))
            .await;
        if created.get("errors").is_none() {
            let login = app.gql(None, LOGIN, json!({ "e": "new.buyer@example.test", "p": "long enough" })).await;
            assert_eq!(login["errors"][0]["extensions"]["code"], "ACCOUNT_BLOCKED", "a blocked customer's new user logged in: {login}");
        }

        // An existing account moved into the blocked customer: cut off as well.
        let mover = app.user(Role::Identified).await;
        let linked = app.gql(Some(&admin.access), SET_USER_CUSTOMER, json!({ "id": mover.id, "customerId": id })).await;
        if linked.get("errors").is_none() {
            let body = app.gql(Some(&mover.access), "{ me { id } }", json!({})).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "ACCOUNT_BLOCKED", "a user moved into a blocked customer still works: {body}");
        }
    }
}

db_test! {
    async fn an_account_client_always_belongs_to_a_customer(app) {
        let admin = app.user(Role::Admin).await;
        let customer = create_customer(&app, &admin, json!({ "name": "Linked Co" })).await;
        let id = customer["id"].clone();

        let orphan = app.gql(Some(&admin.access), CREATE_USER, json!({ "email": "orphan@example.test", "role": "ACCOUNT_CLIENT" })).await;
        assert_eq!(code(&orphan), "VALIDATION");
        assert_eq!(field(&orphan), "customerId");
        let staff_linked = app.gql(Some(&admin.access), CREATE_USER, json!({ "email": "rep@example.test", "role": "MANAGER", "customerId": id })).await;
        assert_eq!(code(&staff_linked), "VALIDATION");
        assert_eq!(field(&staff_linked), "customerId");

        let created = app
            .data(Some(&admin.access), CREATE_USER, json!({ "email": "buyer@example.test", "role": "ACCOUNT_CLIENT", "customerId": id }))
            .await;
        assert_eq!(created["createUser"]["role"], "ACCOUNT_CLIENT");
        assert_eq!(created["createUser"]["customer"], json!({ "id": id, "name": "Linked Co" }));
        let buyer = app.login("buyer@example.test", "long enough").await;
        assert_eq!(my_customer_id(&app, &buyer).await, id.as_str().unwrap());

        // An IDENTIFIED user is linked by staff, then may become an ACCOUNT_CLIENT.
        let manager = app.user(Role::Manager).await;
        let identified = app.user(Role::Identified).await;
        let set_role = "mutation($id: ID!, $role: Role!) { setUserRole(id: $id, role: $role) { id role customer { id } } }";
        let unlinked = app.gql(Some(&admin.access), set_role, json!({ "id": identified.id, "role": "ACCOUNT_CLIENT" })).await;
        assert_eq!(code(&unlinked), "VALIDATION");
        assert_eq!(field(&unlinked), "customerId");
        let by_client = app.gql(Some(&buyer.access), SET_USER_CUSTOMER, json!({ "id": identified.id, "customerId": id })).await;
        assert_eq!(code(&by_client), "FORBIDDEN");
        let linked = app
            .data(Some(&manager.access), SET_USER_CUSTOMER, json!({ "id": identified.id, "customerId": id }))
            .await;
        assert_eq!(linked["setUserCustomer"]["customer"]["id"], id);
        assert_eq!(my_customer_id(&app, &identified).await, id.as_str().unwrap());
        let promoted = app.data(Some(&admin.access), set_role, json!({ "id": identified.id, "role": "ACCOUNT_CLIENT" })).await;
        assert_eq!(promoted["setUserRole"]["role"], "ACCOUNT_CLIENT");
        assert_eq!(promoted["setUserRole"]["customer"]["id"], id);

        // An ACCOUNT_CLIENT cannot be left without a customer; staff cannot get one.
        let detach = app.gql(Some(&manager.access), SET_USER_CUSTOMER, json!({ "id": buyer.id, "customerId": null })).await;
        assert_eq!(code(&detach), "VALIDATION");
        assert_eq!(field(&detach), "customerId");
        assert_eq!(my_customer_id(&app, &buyer).await, id.as_str().unwrap());
        let staff = app.gql(Some(&admin.access), SET_USER_CUSTOMER, json!({ "id": manager.id, "customerId": id })).await;
        assert_eq!(code(&staff), "VALIDATION");
    }
}

db_test! {
    async fn an_identified_user_creates_its_own_customer_once(app) {
        let shopper = app.user(Role::Identified).await;
        let token = Some(shopper.access.as_str());
        let none = app.data(token, "{ myCustomer { id } }", json!({})).await;
        assert!(none["myCustomer"].is_null());

        let no_name = app.gql(token, CREATE_MY_CUSTOMER, json!({ "input": { "vatId": "FR12345678901" } })).await;
        assert_eq!(code(&no_name), "VALIDATION");
        assert_eq!(field(&no_name), "name");

        let created = app.data(token, CREATE_MY_CUSTOMER, json!({ "input": { "name": "Jane Doe", "language": "FR" } })).await;
        let customer = &created["createMyCustomer"];
        assert_eq!(customer["name"], "Jane Doe");
        assert_eq!(customer["source"], "STOREFRONT");
        assert_eq!(customer["kind"], "INDIVIDUAL");
        let mine = app.data(token, "{ myCustomer { id name language } me { role customer { id } } }", json!({})).await;
        assert_eq!(mine["myCustomer"], json!({ "id": customer["id"], "name": "Jane Doe", "language": "fr" }));
        assert_eq!(mine["me"]["customer"]["id"], customer["id"]);
        assert_eq!(mine["me"]["role"], "IDENTIFIED");

        // They now edit it like any customer's user.
        let contact = app.data(token, ADD_CONTACT, json!({ "input": { "name": "Jane", "email": "jane@example.test" } })).await;
        assert_eq!(contact["addCustomerContact"]["isPrimary"], true);

        let again = app.gql(token, CREATE_MY_CUSTOMER, json!({ "input": { "name": "Second" } })).await;
        assert_eq!(code(&again), "CONFLICT");
        let client = app.user(Role::AccountClient).await;
        let by_client = app.gql(Some(&client.access), CREATE_MY_CUSTOMER, json!({ "input": { "name": "Another" } })).await;
        assert!(matches!(code(&by_client), "FORBIDDEN" | "CONFLICT"), "{by_client}");
        let manager = app.user(Role::Manager).await;
        let by_staff = app.gql(Some(&manager.access), CREATE_MY_CUSTOMER, json!({ "input": { "name": "Staff Own" } })).await;
        assert_eq!(code(&by_staff), "FORBIDDEN");

        assert_eq!(search_names(&app, &manager, json!({ "source": "STOREFRONT" })).await, ["Jane Doe"]);
    }
}

db_test! {
    async fn unblocking_a_customer_keeps_a_user_blocked_on_their_own_account(app) {
        let admin = app.user(Role::Admin).await;
        let manager = app.user(Role::Manager).await;
        let company = app.customer("Mixed Record Ltd").await;
        let honest = app.user_of(Role::AccountClient, Some(company)).await;
        let fraudster = app.user_of(Role::AccountClient, Some(company)).await;
        let id = my_customer_id(&app, &honest).await;
        let block_user = "mutation($id: ID!) { blockUser(id: $id, reason: \"stolen card\") { blocked } }";
        app.data(Some(&admin.access), block_user, json!({ "id": fraudster.id })).await;

        app.data(Some(&manager.access), BLOCK_CUSTOMER, json!({ "id": id, "reason": "unpaid invoices" })).await;
        app.data(Some(&manager.access), UNBLOCK_CUSTOMER, json!({ "id": id })).await;

        // The customer's block is lifted for the users it blocked...
        app.login(&honest.email, PASSWORD).await;
        // ...not for one an admin had blocked for reasons of their own (only an admin unblocks users).
        let login = app.gql(None, LOGIN, json!({ "e": fraudster.email, "p": PASSWORD })).await;
        assert_eq!(login["errors"][0]["extensions"]["code"], "ACCOUNT_BLOCKED", "{login}");
        let users = app.data(Some(&admin.access), "{ users(blocked: true) { edges { node { id blockedReason } } } }", json!({})).await;
        assert_eq!(
            users["users"]["edges"],
            json!([{ "node": { "id": fraudster.id, "blockedReason": "stolen card" } }])
        );
    }
}

db_test! {
    async fn an_overlong_search_does_not_list_every_customer(app) {
        let manager = app.user(Role::Manager).await;
        create_customer(&app, &manager, json!({ "name": "Acme Tools" })).await;
        create_customer(&app, &manager, json!({ "name": "Zeta Foods" })).await;
        let long = "x".repeat(201);
        let body = app.gql(Some(&manager.access), SEARCH, json!({ "filter": { "search": long } })).await;
        // Refused, or matching nothing: never ignored.
        if body.get("errors").is_none() {
            assert_eq!(body["data"]["customers"]["totalCount"], 0, "{body}");
        } else {
            assert_eq!(code(&body), "VALIDATION");
            assert_eq!(field(&body), "search");
        }
    }
}
