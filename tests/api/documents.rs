//! Documents: every PDF kind renders with the number, the customer, the lines and the total the
//! API shows (accents and Cyrillic intact); invoices and credit notes; gapless invoice numbers
//! under parallel issues; who may open a document, by bearer token or signed URL.

use chrono::Datelike;
use comptoir_api::{
    auth::Role,
    kernel::ids::{self, Kind},
};
use serde_json::{Value, json};

use crate::{
    catalog::product,
    helpers::{Session, TestApp, code},
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
            .data(Some(&admin.access), "{ sellerProfile { version } }", json!({}))
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

db_test! {
    async fn every_document_kind_prints_its_number_customer_lines_and_total_with_accents_and_cyrillic(app) {
        let shop = Shop::open(&app).await;
        let buyer = shop.buyer("Société Générale").await;
        let order = shop.order(&buyer).await;
        let total = order["total"]["amount"].as_str().unwrap().to_owned();
        let number = order["number"].as_str().unwrap();
        for kind in ["ORDER_CONFIRMATION", "PURCHASE_ORDER", "PRO_FORMA_INVOICE"] {
            let url = shop.order_url(&buyer.user.access, &order, kind).await;
            let text = open(&shop, &url["data"]["order"]["documentUrl"]).await;
            std::fs::write(format!("/tmp/pdfx/{kind}.txt"), &text).ok();
            for expected in [number, "Société Générale", "Bâche imprimée œillets", "Наклейка «Аренда»", &total, "FR12345678901", "12 rue de l'Épée", "30 jours fin de mois"] {
                assert!(text.contains(expected), "{kind} lacks {expected:?}:\n{text}");
            }
        }
        println!("{order}");
    }
}
