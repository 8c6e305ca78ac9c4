//! `comptoir seed-demo`: demo data for trying the API. Later contexts add their part here.

use crate::{
    auth::{AuthUser, Principal, Role, service},
    customers,
    error::AppError,
    kernel::secret_token,
    state::AppState,
};

/// The demo data set: a catalog of every kind, customers with contacts and addresses, template
/// carts, and one account per role (fresh passwords each run, printed for the operator). The
/// catalog and customers are created once; running again only resets the passwords.
pub async fn demo(state: &AppState) -> anyhow::Result<()> {
    catalog_and_customers(state).await?;
    let accounts = [
        ("admin@demo.comptoir.test", Role::Admin),
        ("manager@demo.comptoir.test", Role::Manager),
        ("client@demo.comptoir.test", Role::AccountClient),
        ("buyer@demo.comptoir.test", Role::Identified),
    ];
    println!("Demo accounts (passwords are new on every run):");
    let client_customer = demo_customer(state).await?;
    for (email, role) in accounts {
        let password = secret_token::generate()[..16].to_owned();
        let customer = (role == Role::AccountClient).then_some(client_customer);
        let created =
            service::create_user_unchecked(state, email, password.clone(), role, customer).await;
        let user = match created {
            Ok(user) => user,
            Err(AppError::Conflict { .. }) => {
                service::set_password_unchecked(state, email, password.clone())
                    .await
                    .map_err(|error| anyhow::anyhow!("{}", error.message()))?
            }
            Err(error) => anyhow::bail!("{}", error.message()),
        };
        println!("  {:<15} {:<30} {password}", user.role.as_str(), user.email);
    }
    Ok(())
}

/// The customer the demo `ACCOUNT_CLIENT` belongs to (created once).
async fn demo_customer(state: &AppState) -> anyhow::Result<uuid::Uuid> {
    let system = Principal::user(AuthUser {
        id: uuid::Uuid::nil(),
        role: Role::Admin,
        customer_id: None,
    });
    let filter = customers::service::CustomerListFilter {
        search: Some("DEMO-CLIENT".to_owned()),
        blocked: None,
        source: None,
        kind: None,
        sales_rep_id: None,
    };
    let page = crate::kernel::pagination::PageRequest::parse(Some(1), None)
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let existing = customers::service::customers(state, &system, filter, page)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    if let Some(customer) = existing.items.into_iter().next() {
        return Ok(customer.id);
    }
    let input = customers::service::CustomerInput {
        name: Some("Demo Client SARL".to_owned()),
        code: Some("DEMO-CLIENT".to_owned()),
        kind: Some(customers::model::CustomerKind::Professional),
        vat_id: None,
        language: Some("fr".to_owned()),
        sales_rep_id: None,
        notes: None,
    };
    let customer = customers::service::create_customer(state, &system, input)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    Ok(customer.id)
}

fn system() -> Principal {
    Principal::user(AuthUser {
        id: uuid::Uuid::nil(),
        role: Role::Admin,
        customer_id: None,
    })
}

fn err(error: &AppError) -> anyhow::Error {
    anyhow::anyhow!("{}", error.message())
}

fn dec(value: &str) -> rust_decimal::Decimal {
    value.parse().unwrap_or_default()
}

const OFFICE: [&str; 20] = [
    "Ballpoint pen",
    "Gel pen",
    "Highlighter",
    "Notebook A5",
    "Notebook A4",
    "Stapler",
    "Staples (box of 5000)",
    "Paper clips (box of 100)",
    "Lever arch file",
    "Document folder",
    "Envelopes C5 (box of 500)",
    "Envelopes DL (box of 500)",
    "Sticky notes",
    "Copy paper A4 (ream)",
    "Copy paper A3 (ream)",
    "Permanent marker",
    "Whiteboard marker",
    "Eraser",
    "Ruler 30 cm",
    "Scissors",
];
const BRANDS: [&str; 4] = ["Atlas", "Bureau Plus", "Kontora", "Papeterie Royale"];
const PRINTED: [&str; 10] = [
    "Business cards",
    "Flyer A5",
    "Flyer A4",
    "Poster A2",
    "Banner",
    "Roll-up",
    "Stickers",
    "Brochure",
    "Letterhead",
    "Postcards",
];
const CUSTOM: [&str; 6] = [
    "Vehicle wrap",
    "Shop signage",
    "Window graphics",
    "Exhibition stand",
    "Wall mural",
    "Floor graphics",
];
const RENTAL: [(&str, &str, i32); 11] = [
    ("Scaffolding tower 6 m", "38", 12),
    ("Facade scaffolding (10 m²)", "22", 40),
    ("Generator 5 kW", "45", 6),
    ("Generator 20 kW", "120", 3),
    ("Scissor lift 8 m", "150", 4),
    ("Boom lift 16 m", "290", 2),
    ("Concrete mixer 160 l", "25", 10),
    ("Jackhammer", "35", 8),
    ("Plate compactor", "40", 5),
    ("Pressure washer", "30", 7),
    ("Construction heater", "28", 9),
];
const COMPANIES: [&str; 20] = [
    "Société Générale de Bureau",
    "Imprimerie du Centre",
    "Atelier Lumière",
    "BTP Rhône-Alpes",
    "Cabinet Martin & Associés",
    "Boulangerie Dupont",
    "Garage des Alpes",
    "Hôtel Belle Vue",
    "Clinique Saint-Louis",
    "École Montessori Lyon",
    "Арендная компания Восток",
    "ООО Стройматериалы",
    "ТехноСервис",
    "Агентство Реклама Плюс",
    "Кафе Уют",
    "Northwind Traders",
    "Contoso Events",
    "Fabrikam Signs",
    "Globex Logistics",
    "Initech Offices",
];
const PERSONS: [&str; 10] = [
    "Camille Bernard",
    "Louis Petit",
    "Chloé Moreau",
    "Hugo Laurent",
    "Léa Fournier",
    "Иван Петров",
    "Анна Смирнова",
    "Ольга Иванова",
    "John Carter",
    "Emma Wilson",
];

/// Creates the demo catalog, customers and template carts, unless they exist already.
async fn catalog_and_customers(state: &AppState) -> anyhow::Result<()> {
    let admin = system();
    let existing = crate::catalog::service::product(state, &admin, None, Some("OFF-0001"))
        .await
        .map_err(|e| err(&e))?;
    if existing.is_some() {
        return Ok(());
    }
    let (count, first_office) = seed_products(state, &admin).await?;
    let (customer_count, first_customer) = seed_customers(state, &admin).await?;
    seed_templates(state, &admin, &first_office, first_customer).await?;
    println!("Demo catalog: {count} products; {customer_count} customers; 2 template carts.");
    Ok(())
}

/// 205 products over the four kinds; returns their number and the first office products.
#[allow(clippy::too_many_lines)] // a data set: it reads best top to bottom
async fn seed_products(
    state: &AppState,
    admin: &Principal,
) -> anyhow::Result<(usize, Vec<uuid::Uuid>)> {
    use crate::catalog::{
        model::{OptionKind, ProductKind},
        service as catalog,
    };
    let new = |reference: String, name: String, kind: ProductKind, price: &str, vat: &str| {
        catalog::NewProduct {
            reference,
            name,
            description: String::new(),
            kind,
            unit_price: dec(price),
            vat_rate: dec(vat),
            active: true,
            visible: true,
            track_stock: kind == ProductKind::Standard,
            stock: 0,
            rental_owned_quantity: None,
            rental_daily_price: None,
            rental_buffer_before_hours: None,
            rental_buffer_after_hours: None,
        }
    };
    let mut count = 0;
    let mut first_office = Vec::new();
    for (i, item) in OFFICE.iter().enumerate() {
        for (b, brand) in BRANDS.iter().enumerate() {
            let n = i * BRANDS.len() + b + 1;
            let price = format!("{}.{:02}", 1 + (n * 7) % 40, (n * 13) % 100);
            let mut product = new(
                format!("OFF-{n:04}"),
                format!("{item} {brand}"),
                ProductKind::Standard,
                &price,
                "20",
            );
            product.description = format!("{item} by {brand}, for the office.");
            product.stock = i32::try_from((n * 17) % 250).unwrap_or(0);
            let product = catalog::create_product(state, admin, product)
                .await
                .map_err(|e| err(&e))?;
            if first_office.len() < 3 {
                first_office.push(product.id);
            }
            if i < 3 {
                for colour in ["blue", "black", "red"] {
                    let variant = catalog::VariantInput {
                        reference: Some(format!("OFF-{n:04}-{}", colour.to_uppercase())),
                        name: Some(colour.to_owned()),
                        characteristics: Some(
                            [("colour".to_owned(), colour.to_owned())]
                                .into_iter()
                                .collect(),
                        ),
                        unit_price: None,
                        track_stock: Some(true),
                        stock: Some(i32::try_from((n * 31) % 90).unwrap_or(0)),
                        active: Some(true),
                        position: None,
                    };
                    catalog::add_variant(state, admin, product.id, variant)
                        .await
                        .map_err(|e| err(&e))?;
                }
            }
            count += 1;
        }
    }
    for (i, item) in PRINTED.iter().enumerate() {
        for (f, format_name) in ["Standard", "Premium", "Express", "Eco"].iter().enumerate() {
            let n = i * 4 + f + 1;
            let price = format!("{}.00", 20 + (n * 11) % 180);
            let product = new(
                format!("PRT-{n:04}"),
                format!("{item} — {format_name}"),
                ProductKind::Configurable,
                &price,
                "20",
            );
            let product = catalog::create_product(state, admin, product)
                .await
                .map_err(|e| err(&e))?;
            let value = |code: &str, label: &str, modifier: &str| catalog::OptionValueInput {
                code: code.to_owned(),
                label: label.to_owned(),
                price_modifier: dec(modifier),
            };
            let paper = catalog::OptionInput {
                code: "paper".to_owned(),
                name: "Paper".to_owned(),
                kind: OptionKind::Choice,
                required: true,
                min: None,
                max: None,
                price_per_unit: dec("0"),
                unit: None,
                position: 0,
                values: vec![
                    value("g135", "135 g/m²", "0"),
                    value("g250", "250 g/m²", "8"),
                    value("g350", "350 g/m²", "15"),
                ],
            };
            let finish = catalog::OptionInput {
                code: "finish".to_owned(),
                name: "Finish".to_owned(),
                kind: OptionKind::Choice,
                required: false,
                min: None,
                max: None,
                price_per_unit: dec("0"),
                unit: None,
                position: 1,
                values: vec![
                    value("matte", "Matte", "0"),
                    value("gloss", "Gloss", "5"),
                    value("soft", "Soft touch", "12"),
                ],
            };
            for option in [paper, finish] {
                catalog::add_option(state, admin, product.id, option)
                    .await
                    .map_err(|e| err(&e))?;
            }
            count += 1;
        }
    }
    for (i, item) in CUSTOM.iter().enumerate() {
        for size in 0..5 {
            let n = i * 5 + size + 1;
            let price = format!("{}.00", 150 + n * 25);
            let name = format!("{item} #{}", size + 1);
            let product = new(
                format!("CUS-{n:04}"),
                name,
                ProductKind::Custom,
                &price,
                "20",
            );
            let product = catalog::create_product(state, admin, product)
                .await
                .map_err(|e| err(&e))?;
            let area = catalog::OptionInput {
                code: "area".to_owned(),
                name: "Area".to_owned(),
                kind: OptionKind::Number,
                required: true,
                min: Some(dec("0.5")),
                max: Some(dec("200")),
                price_per_unit: dec("35"),
                unit: Some("m²".to_owned()),
                position: 0,
                values: Vec::new(),
            };
            catalog::add_option(state, admin, product.id, area)
                .await
                .map_err(|e| err(&e))?;
            count += 1;
        }
    }
    for (i, (item, daily, owned)) in RENTAL.iter().enumerate() {
        for unit in 0..5 {
            let n = i * 5 + unit + 1;
            let name = if unit == 0 {
                (*item).to_owned()
            } else {
                format!("{item} (depot {})", unit + 1)
            };
            let mut product = new(format!("RNT-{n:04}"), name, ProductKind::Rental, "0", "20");
            product.rental_owned_quantity = Some(*owned);
            product.rental_daily_price = Some(dec(daily));
            catalog::create_product(state, admin, product)
                .await
                .map_err(|e| err(&e))?;
            count += 1;
        }
    }

    Ok((count, first_office))
}

/// 30 customers of both kinds, each with a contact and billing and delivery addresses.
async fn seed_customers(
    state: &AppState,
    admin: &Principal,
) -> anyhow::Result<(usize, Option<uuid::Uuid>)> {
    let mut customer_count = 0;
    let mut first_customer = None;
    for (i, name) in COMPANIES.iter().chain(PERSONS.iter()).enumerate() {
        let professional = i < COMPANIES.len();
        let russian = name.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
        let input = customers::service::CustomerInput {
            name: Some((*name).to_owned()),
            code: Some(format!("DEMO-{:03}", i + 1)),
            kind: Some(if professional {
                customers::model::CustomerKind::Professional
            } else {
                customers::model::CustomerKind::Individual
            }),
            vat_id: professional
                .then(|| format!("FR{:011}", 40_000_000_000_u64 + i as u64 * 7_919)),
            language: Some(if russian { "ru" } else { "fr" }.to_owned()),
            sales_rep_id: None,
            notes: None,
        };
        let customer = customers::service::create_customer(state, admin, input)
            .await
            .map_err(|e| err(&e))?;
        first_customer.get_or_insert(customer.id);
        let contact = customers::service::ContactInput {
            name: Some(if professional {
                format!("Buyer {}", i + 1)
            } else {
                (*name).to_owned()
            }),
            email: Some(format!("buyer{}@demo-customer.test", i + 1)),
            phone: Some(format!("+336{:08}", 10_000_000 + i * 137)),
            is_primary: Some(true),
        };
        customers::service::add_contact(state, admin, Some(customer.id), contact)
            .await
            .map_err(|e| err(&e))?;
        for kind in [
            customers::model::AddressKind::Billing,
            customers::model::AddressKind::Delivery,
        ] {
            let address = customers::service::AddressInput {
                kind: Some(kind),
                label: Some(
                    if kind == customers::model::AddressKind::Billing {
                        "Head office"
                    } else {
                        "Site"
                    }
                    .to_owned(),
                ),
                line1: Some(format!("{} rue de la République", 1 + i * 3)),
                line2: None,
                postal_code: Some(format!("69{:03}", i % 10)),
                city: Some(if russian { "Moscou" } else { "Lyon" }.to_owned()),
                country: Some(if russian { "RU" } else { "FR" }.to_owned()),
                is_default: None,
            };
            customers::service::add_address(state, admin, Some(customer.id), address)
                .await
                .map_err(|e| err(&e))?;
        }
        customer_count += 1;
    }

    Ok((customer_count, first_customer))
}

/// A template cart for everyone and one for the first customer.
async fn seed_templates(
    state: &AppState,
    admin: &Principal,
    first_office: &[uuid::Uuid],
    first_customer: Option<uuid::Uuid>,
) -> anyhow::Result<()> {
    // The first office products have colour variants: templates hold the first one.
    let mut chosen = Vec::new();
    for product_id in first_office {
        let variants = crate::catalog::service::variants_of(state.db.read(), &[*product_id], true)
            .await
            .map_err(|e| err(&e))?;
        chosen.push((*product_id, variants.first().map(|v| v.id)));
    }
    let lines = |quantity: i32| {
        chosen
            .iter()
            .map(
                |(product_id, variant_id)| crate::carts::service::LineInput {
                    product_id: *product_id,
                    variant_id: *variant_id,
                    configuration: Vec::new(),
                    quantity,
                    rental_period: None,
                },
            )
            .collect::<Vec<_>>()
    };
    crate::carts::templates::create(state, admin, "Office basics", None, lines(10))
        .await
        .map_err(|e| err(&e))?;
    crate::carts::templates::create(state, admin, "Monthly restock", first_customer, lines(50))
        .await
        .map_err(|e| err(&e))?;
    Ok(())
}
