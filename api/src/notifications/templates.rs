//! Message templates: shipped in the code, in English and French, and editable by admins (their
//! versions are stored; `reset` removes them). Rendering picks the recipient's language when a
//! version exists, else English.

use std::sync::Arc;

use chrono::Utc;
use comptoir_entity::message_template;
use minijinja::{Environment, UndefinedBehavior};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, ModelTrait, Set};
use serde_json::{Value, json};

use crate::{auth::Principal, error::AppError, kernel::kept::Kept, state::AppState};

/// A shipped template: name, language, subject, body.
struct Shipped {
    name: &'static str,
    language: &'static str,
    subject: &'static str,
    body: &'static str,
}

const SHIPPED: &[Shipped] = &[
    Shipped {
        name: "verify_email",
        language: "en",
        subject: "Confirm your email address",
        body: "Hello,\n\nPlease confirm your email address by opening this link:\n{{ link }}\n\nThe link works once and expires on {{ expires_at }}.\n",
    },
    Shipped {
        name: "verify_email",
        language: "fr",
        subject: "Confirmez votre adresse e-mail",
        body: "Bonjour,\n\nMerci de confirmer votre adresse e-mail en ouvrant ce lien :\n{{ link }}\n\nLe lien ne sert qu'une fois et expire le {{ expires_at }}.\n",
    },
    Shipped {
        name: "password_reset",
        language: "en",
        subject: "Reset your password",
        body: "Hello,\n\nSomeone asked to reset the password of {{ email }}. If it was you, open this link:\n{{ link }}\n\nThe link works once and expires on {{ expires_at }}. If it was not you, ignore this message.\n",
    },
    Shipped {
        name: "password_reset",
        language: "fr",
        subject: "Réinitialisez votre mot de passe",
        body: "Bonjour,\n\nUne réinitialisation du mot de passe de {{ email }} a été demandée. Si c'est vous, ouvrez ce lien :\n{{ link }}\n\nLe lien ne sert qu'une fois et expire le {{ expires_at }}. Sinon, ignorez ce message.\n",
    },
    Shipped {
        name: "customer_message",
        language: "en",
        subject: "{{ subject }}",
        body: "{{ body }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "customer_message",
        language: "fr",
        subject: "{{ subject }}",
        body: "{{ body }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_submitted",
        language: "en",
        subject: "New order {{ number }}{% if title %}: {{ title }}{% endif %}",
        body: "A new order was placed by {{ contact_name }}.\n\nOrder {{ number }}{% if customer_reference %} (their reference: {{ customer_reference }}){% endif %}\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n",
    },
    Shipped {
        name: "order_submitted",
        language: "fr",
        subject: "Nouvelle commande {{ number }}{% if title %} : {{ title }}{% endif %}",
        body: "{{ contact_name }} a passé une nouvelle commande.\n\nCommande {{ number }}{% if customer_reference %} (sa référence : {{ customer_reference }}){% endif %}\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n",
    },
    Shipped {
        name: "order_received",
        language: "en",
        subject: "We received your order {{ number }}",
        body: "Hello {{ contact_name }},\n\nThank you for your order {{ number }}. We will check it and confirm it shortly.\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_received",
        language: "fr",
        subject: "Nous avons reçu votre commande {{ number }}",
        body: "Bonjour {{ contact_name }},\n\nMerci pour votre commande {{ number }}. Nous la vérifions et vous la confirmons rapidement.\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_proposed",
        language: "en",
        subject: "Your order {{ number }} is ready for your approval",
        body: "Hello {{ contact_name }},\n\nWe prepared your order {{ number }}. Please review it and accept it in your account.\n{% if message %}\n{{ message }}\n{% endif %}\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_proposed",
        language: "fr",
        subject: "Votre commande {{ number }} attend votre accord",
        body: "Bonjour {{ contact_name }},\n\nNous avons préparé votre commande {{ number }}. Merci de la vérifier et de l'accepter depuis votre compte.\n{% if message %}\n{{ message }}\n{% endif %}\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_confirmed",
        language: "en",
        subject: "Order {{ number }} confirmed",
        body: "Hello {{ contact_name }},\n\nYour order {{ number }} is confirmed.\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_confirmed",
        language: "fr",
        subject: "Commande {{ number }} confirmée",
        body: "Bonjour {{ contact_name }},\n\nVotre commande {{ number }} est confirmée.\n\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}): {{ line.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_shipped",
        language: "en",
        subject: "Order {{ number }} has shipped",
        body: "Hello {{ contact_name }},\n\nYour order {{ number }} is on its way.\n{% if message %}\n{{ message }}\n{% endif %}\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "order_shipped",
        language: "fr",
        subject: "Votre commande {{ number }} est expédiée",
        body: "Bonjour {{ contact_name }},\n\nVotre commande {{ number }} est en route.\n{% if message %}\n{{ message }}\n{% endif %}\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "payment_reminder",
        language: "en",
        subject: "Payment reminder for order {{ number }}",
        body: "Hello {{ contact_name }},\n\n{{ balance_due }} {{ currency }} remain due on your order {{ number }}.\n{% if message %}\n{{ message }}\n{% endif %}\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "payment_reminder",
        language: "fr",
        subject: "Rappel de paiement pour la commande {{ number }}",
        body: "Bonjour {{ contact_name }},\n\nIl reste {{ balance_due }} {{ currency }} à régler sur votre commande {{ number }}.\n{% if message %}\n{{ message }}\n{% endif %}\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "quote_requested",
        language: "en",
        subject: "Quote request {{ number }} from {{ contact.name }}",
        body: "{{ contact.name }}{% if contact.company %} ({{ contact.company }}){% endif %} asks for a quote.\nEmail: {{ contact.email }}{% if contact.phone %}, phone: {{ contact.phone }}{% endif %}\n{% if message %}\nMessage:\n{{ message }}\n{% endif %}{% if modifications %}\nModifications:\n{{ modifications }}\n{% endif %}\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}){% for option in line.configuration %}, {{ option.name }}: {{ option.label or option.number or option.value }}{% endfor %}: {{ line.total }} {{ currency }}\n{% endfor %}\nTotal including VAT at catalog prices: {{ total }} {{ currency }}\n\nThe request is attached as JSON.\n",
    },
    Shipped {
        name: "quote_requested",
        language: "fr",
        subject: "Demande de devis {{ number }} de {{ contact.name }}",
        body: "{{ contact.name }}{% if contact.company %} ({{ contact.company }}){% endif %} demande un devis.\nE-mail : {{ contact.email }}{% if contact.phone %}, téléphone : {{ contact.phone }}{% endif %}\n{% if message %}\nMessage :\n{{ message }}\n{% endif %}{% if modifications %}\nModifications :\n{{ modifications }}\n{% endif %}\n{% for line in lines %}- {{ line.quantity }} × {{ line.name }} ({{ line.reference }}){% for option in line.configuration %}, {{ option.name }} : {{ option.label or option.number or option.value }}{% endfor %} : {{ line.total }} {{ currency }}\n{% endfor %}\nTotal TTC au prix catalogue : {{ total }} {{ currency }}\n\nLa demande est jointe au format JSON.\n",
    },
    Shipped {
        name: "quote_sent",
        language: "en",
        subject: "Your quote {{ number }}",
        body: "Hello {{ contact_name }},\n\nHere is your quote {{ number }}, valid until {{ valid_until }}.\n\n{% for line in lines %}{% if line.kind == \"COMMENT\" %}{{ line.comment }}\n{% else %}- {{ line.quantity }} × {{ line.name }}: {{ line.total }} {{ currency }}\n{% endif %}{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\nYou can accept it, ask for a negotiation or decline it in your account.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "quote_sent",
        language: "fr",
        subject: "Votre devis {{ number }}",
        body: "Bonjour {{ contact_name }},\n\nVoici votre devis {{ number }}, valable jusqu'au {{ valid_until }}.\n\n{% for line in lines %}{% if line.kind == \"COMMENT\" %}{{ line.comment }}\n{% else %}- {{ line.quantity }} × {{ line.name }} : {{ line.total }} {{ currency }}\n{% endif %}{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\nVous pouvez l'accepter, demander une négociation ou le refuser depuis votre compte.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "quote_negotiation",
        language: "en",
        subject: "{{ contact_name }} asks to negotiate quote {{ number }}",
        body: "{{ contact_name }} asks to negotiate quote {{ number }}:\n\n{{ message }}\n",
    },
    Shipped {
        name: "quote_negotiation",
        language: "fr",
        subject: "{{ contact_name }} demande à négocier le devis {{ number }}",
        body: "{{ contact_name }} demande à négocier le devis {{ number }} :\n\n{{ message }}\n",
    },
    Shipped {
        name: "rental_account_created",
        language: "en",
        subject: "Your account at {{ store_name }}",
        body: "Hello {{ contact_name }},\n\nWe created an account for you with your rental order {{ number }}, so that you can follow it.\n\nLogin: {{ login }}\nPassword: {{ password }}\n\nPlease change the password after your first login.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_account_created",
        language: "fr",
        subject: "Votre compte chez {{ store_name }}",
        body: "Bonjour {{ contact_name }},\n\nNous avons créé un compte pour vous avec votre commande de location {{ number }}, pour que vous puissiez la suivre.\n\nIdentifiant : {{ login }}\nMot de passe : {{ password }}\n\nMerci de changer le mot de passe après votre première connexion.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_order_received",
        language: "en",
        subject: "We received your rental order {{ number }}",
        body: "Hello {{ contact_name }},\n\nThank you for your rental order {{ number }}. A manager will check the availability of the equipment and confirm it.\n\n{% for item in items %}- {{ item.quantity }} × {{ item.name }} ({{ item.reference }}), {{ item.start }} to {{ item.end }} ({{ item.days }} days): {{ item.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_order_received",
        language: "fr",
        subject: "Nous avons reçu votre commande de location {{ number }}",
        body: "Bonjour {{ contact_name }},\n\nMerci pour votre commande de location {{ number }}. Un responsable va vérifier la disponibilité du matériel et vous la confirmer.\n\n{% for item in items %}- {{ item.quantity }} × {{ item.name }} ({{ item.reference }}), du {{ item.start }} au {{ item.end }} ({{ item.days }} jours) : {{ item.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_order_placed",
        language: "en",
        subject: "New rental order {{ number }} from {{ contact_name }}",
        body: "{{ contact_name }}{% if company %} ({{ company }}){% endif %} placed a rental order.\nEmail: {{ contact_email }}{% if contact_phone %}, phone: {{ contact_phone }}{% endif %}\n{% if note %}\nNote:\n{{ note }}\n{% endif %}\n{% for item in items %}- {{ item.quantity }} × {{ item.name }} ({{ item.reference }}), {{ item.start }} to {{ item.end }}: {{ item.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n",
    },
    Shipped {
        name: "rental_project_started",
        language: "en",
        subject: "Your rental {{ number }} is confirmed",
        body: "Hello {{ contact_name }},\n\nWe reserved the equipment of your rental {{ number }}.\n{% if manager_note %}\n{{ manager_note }}\n{% endif %}\n{% for item in items %}- {{ item.quantity }} × {{ item.name }}, {{ item.start }} to {{ item.end }}: {{ item.total }} {{ currency }}\n{% endfor %}\nTotal including VAT: {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_project_started",
        language: "fr",
        subject: "Votre location {{ number }} est confirmée",
        body: "Bonjour {{ contact_name }},\n\nNous avons réservé le matériel de votre location {{ number }}.\n{% if manager_note %}\n{{ manager_note }}\n{% endif %}\n{% for item in items %}- {{ item.quantity }} × {{ item.name }}, du {{ item.start }} au {{ item.end }} : {{ item.total }} {{ currency }}\n{% endfor %}\nTotal TTC : {{ total }} {{ currency }}\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_project_cancelled",
        language: "en",
        subject: "Your rental {{ number }} is cancelled",
        body: "Hello {{ contact_name }},\n\nYour rental {{ number }} is cancelled{% if reason %}: {{ reason }}{% endif %}.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_project_cancelled",
        language: "fr",
        subject: "Votre location {{ number }} est annulée",
        body: "Bonjour {{ contact_name }},\n\nVotre location {{ number }} est annulée{% if reason %} : {{ reason }}{% endif %}.\n\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_shortage",
        language: "en",
        subject: "Equipment of your rental order {{ number }} is no longer all available",
        body: "Hello {{ contact_name }},\n\nSome of the equipment of your rental order {{ number }} has been booked for the same dates in the meantime. We will contact you to find a solution; you can also change the dates.\n\n{% for item in items %}- {{ item.quantity }} × {{ item.name }}, {{ item.start }} to {{ item.end }}\n{% endfor %}\n-- \n{{ store_name }}\n",
    },
    Shipped {
        name: "rental_shortage",
        language: "fr",
        subject: "Le matériel de votre commande de location {{ number }} n'est plus entièrement disponible",
        body: "Bonjour {{ contact_name }},\n\nUne partie du matériel de votre commande de location {{ number }} a été réservée pour les mêmes dates entre-temps. Nous allons vous contacter pour trouver une solution ; vous pouvez aussi changer les dates.\n\n{% for item in items %}- {{ item.quantity }} × {{ item.name }}, du {{ item.start }} au {{ item.end }}\n{% endfor %}\n-- \n{{ store_name }}\n",
    },
];

/// Sample data for previews, per template.
fn sample(name: &str) -> Value {
    match name {
        "verify_email" | "password_reset" => json!({
            "email": "jeanne.martin@example.com",
            "link": "https://shop.example.com/verify-email?token=SAMPLE",
            "expires_at": "2026-11-23 18:00 UTC",
        }),
        "quote_requested" => json!({
            "store_name": "Comptoir", "currency": "EUR", "number": "Q-2026-000123",
            "contact": { "name": "Jeanne Martin", "email": "jeanne@example.com", "phone": "+33612345678", "company": "Société Générale" },
            "message": "For our spring fair.", "modifications": "",
            "lines": [{ "reference": "BAN-1", "name": "Banner", "quantity": 2, "total": "250.00",
                        "configuration": [{ "name": "Material", "value": "vinyl", "label": "Vinyl", "number": null }] }],
            "total": "300.00",
        }),
        "quote_sent" => json!({
            "store_name": "Comptoir", "currency": "EUR", "number": "Q-2026-000123", "contact_name": "Jeanne Martin",
            "valid_until": "2026-12-22", "total": "300.00",
            "lines": [{ "kind": "PRODUCT", "name": "Banner", "reference": "BAN-1", "comment": "", "quantity": 2, "total": "250.00" },
                      { "kind": "COMMENT", "name": "", "reference": "", "comment": "Delivery in two weeks.", "quantity": 0, "total": "0.00" }],
        }),
        "quote_negotiation" => {
            json!({ "number": "Q-2026-000123", "contact_name": "Jeanne Martin", "message": "Could you do 10 % for 50 units?" })
        }
        name if name.starts_with("rental_") => json!({
            "store_name": "Comptoir", "currency": "EUR", "number": "RP-2026-000042", "status": "NEW",
            "contact_name": "Jeanne Martin", "contact_email": "jeanne@example.com", "contact_phone": "+33612345678",
            "company": "Société Générale", "note": "Delivery at the back door.", "manager_note": "We add two extension cords.",
            "reason": "The event was postponed.", "login": "jeanne@example.com", "password": "SAMPLEPASSWORD42", "total": "540.00",
            "items": [{ "reference": "LIGHT-1", "name": "Stage light", "quantity": 4, "start": "2026-12-05 08:00",
                        "end": "2026-12-07 18:00", "days": 3, "total": "450.00" }],
        }),
        "customer_message" => {
            json!({ "subject": "Your order", "body": "Your order is ready.", "store_name": "Comptoir" })
        }
        _ => json!({
            "store_name": "Comptoir",
            "currency": "EUR",
            "number": "ORD-000042",
            "title": "Spring catalogue",
            "status": "PROPOSED",
            "customer_reference": "PO-7781",
            "contact_name": "Jeanne Martin",
            "total": "1234.80",
            "subtotal": "1029.00",
            "vat_total": "205.80",
            "balance_due": "234.80",
            "subject": "About your order",
            "body": "Your proofs are ready.",
            "message": "We replaced the paper with a heavier one at the same price.",
            "lines": [
                { "reference": "FLY-A5", "name": "Flyer A5", "quantity": 1000, "unit_price": "0.089", "total": "89.00", "delivery_date": "2026-12-01" },
                { "reference": "CAT-24", "name": "Catalogue 24 pages", "quantity": 200, "unit_price": "4.70", "total": "940.00", "delivery_date": null }
            ],
        }),
    }
}

/// A template as admins see it.
#[derive(Clone, Debug)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    /// Whether an admin changed it (reset restores the shipped version).
    pub customized: bool,
}

fn shipped(name: &str, language: &str) -> Option<&'static Shipped> {
    SHIPPED
        .iter()
        .find(|t| t.name == name && t.language == language)
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A variable the data does not have is an error, not a silent blank in a customer's email.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Checks a template's syntax; the error names the part, the line and the reason.
fn check(subject: &str, body: &str) -> Result<(), AppError> {
    let env = environment();
    for (field, source) in [("subject", subject), ("body", body)] {
        if let Err(error) = env.template_from_str(source) {
            let line = error
                .line()
                .map_or_else(String::new, |l| format!("line {l}: "));
            let detail = error.detail().unwrap_or("invalid template");
            return Err(AppError::validation(field, format!("{line}{detail}")));
        }
    }
    Ok(())
}

fn render_pair(subject: &str, body: &str, data: &Value) -> Result<(String, String), AppError> {
    let env = environment();
    Ok((
        rendered("subject", env.render_str(subject, data))?
            .trim()
            .to_owned(),
        rendered("body", env.render_str(body, data))?,
    ))
}

/// A rendered part, or its error naming the part, the line and the reason.
fn rendered(field: &str, result: Result<String, minijinja::Error>) -> Result<String, AppError> {
    result.map_err(|error| {
        let line = error
            .line()
            .map_or_else(String::new, |l| format!("line {l}: "));
        AppError::validation(
            field,
            format!("{line}{}", error.detail().unwrap_or("cannot render")),
        )
    })
}

/// The version of a template a message uses, picked before it is rendered.
#[derive(Clone, Debug)]
pub struct Picked {
    name: String,
    language: String,
    version: Arc<Version>,
}

/// A template's subject and body, compiled once (a message renders only the compiled form).
#[derive(Debug)]
struct Version {
    subject: String,
    body: String,
    /// Both parts compiled, as "subject" and "body"; `None` if one does not compile (rendering
    /// then fails with the reason).
    compiled: Option<Environment<'static>>,
}

impl Version {
    fn new(subject: String, body: String) -> Self {
        let mut env = environment();
        let compiled = env
            .add_template_owned("subject", subject.clone())
            .and_then(|()| env.add_template_owned("body", body.clone()))
            .is_ok();
        Self {
            subject,
            body,
            compiled: compiled.then_some(env),
        }
    }

    fn render(&self, data: &Value) -> Result<(String, String), AppError> {
        let Some(env) = &self.compiled else {
            return render_pair(&self.subject, &self.body, data);
        };
        let part = |name: &str| env.get_template(name).and_then(|t| t.render(data));
        Ok((
            rendered("subject", part("subject"))?.trim().to_owned(),
            rendered("body", part("body"))?,
        ))
    }
}

impl Picked {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The language asked for (the version picked may be English).
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Subject and body for `data`.
    pub fn render(&self, data: &Value) -> Result<(String, String), AppError> {
        self.version.render(data).map_err(|error| {
            AppError::internal(anyhow::anyhow!(
                "template {}/{} failed: {}",
                self.name,
                self.language,
                error.message()
            ))
        })
    }
}

/// The event an admin's change of a template records (staff only).
pub const TEMPLATE_OBJECT: &str = "MessageTemplate";

/// The versions picked for the hot paths (an order's emails), compiled and kept (see
/// [`Kept`]).
#[derive(Clone, Debug)]
pub struct Cache(Kept<(String, String), Picked>);

impl Default for Cache {
    fn default() -> Self {
        Self(Kept::new(256))
    }
}

impl Cache {
    /// [`pick`], read from the database when not held.
    pub async fn pick(
        &self,
        db: &impl ConnectionTrait,
        name: &str,
        language: &str,
    ) -> Result<Picked, AppError> {
        let key = (name.to_owned(), language.to_owned());
        self.0.get_or_read(key, || pick(db, name, language)).await
    }

    pub fn invalidate(&self) {
        self.0.invalidate();
    }

    /// Drops every version whenever an event says a template changed, on any instance.
    pub fn follow(&self, bus: &crate::events::EventBus) {
        self.0.follow(bus, TEMPLATE_OBJECT);
    }
}

/// The version of `name` to use for `language`: an admin's, the shipped one, then English.
pub async fn pick(
    db: &impl ConnectionTrait,
    name: &str,
    language: &str,
) -> Result<Picked, AppError> {
    for lang in [language, "en"] {
        let (subject, body) = if let Some(row) =
            message_template::Entity::find_by_id((name.to_owned(), lang.to_owned()))
                .one(db)
                .await?
        {
            (row.subject, row.body)
        } else if let Some(t) = shipped(name, lang) {
            (t.subject.to_owned(), t.body.to_owned())
        } else {
            continue;
        };
        return Ok(Picked {
            name: name.to_owned(),
            language: language.to_owned(),
            version: Arc::new(Version::new(subject, body)),
        });
    }
    Err(AppError::internal(anyhow::anyhow!(
        "no template named {name}"
    )))
}

/// Renders `name` for a recipient speaking `language`: subject and body.
pub async fn render(
    db: &impl ConnectionTrait,
    name: &str,
    language: &str,
    data: &Value,
) -> Result<(String, String), AppError> {
    pick(db, name, language).await?.render(data)
}

/// ADMIN: every template in every shipped language, with the admins' changes.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<Template>, AppError> {
    principal.require_admin()?;
    let stored = message_template::Entity::find()
        .all(state.db.read())
        .await?;
    Ok(SHIPPED
        .iter()
        .map(|t| {
            match stored
                .iter()
                .find(|s| s.name == t.name && s.language == t.language)
            {
                Some(s) => Template {
                    name: s.name.clone(),
                    language: s.language.clone(),
                    subject: s.subject.clone(),
                    body: s.body.clone(),
                    customized: true,
                },
                None => Template {
                    name: t.name.to_owned(),
                    language: t.language.to_owned(),
                    subject: t.subject.to_owned(),
                    body: t.body.to_owned(),
                    customized: false,
                },
            }
        })
        .collect())
}

fn known(name: &str, language: &str) -> Result<(), AppError> {
    if !SHIPPED.iter().any(|t| t.name == name) {
        return Err(AppError::not_found("template", "name"));
    }
    if shipped(name, language).is_none() {
        return Err(AppError::validation(
            "language",
            "no shipped version in this language",
        ));
    }
    Ok(())
}

/// ADMIN: saves a version of a template; an invalid one is refused with the line and reason.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    name: &str,
    language: &str,
    subject: &str,
    body: &str,
) -> Result<Template, AppError> {
    principal.require_admin()?;
    known(name, language)?;
    check(subject, body)?;
    // It must also render with the data it will get.
    Version::new(subject.to_owned(), body.to_owned()).render(&sample(name))?;
    let mut tx = state.db.begin(&state.events).await?;
    let key = (name.to_owned(), language.to_owned());
    if let Some(existing) = message_template::Entity::find_by_id(key).one(&*tx).await? {
        existing.delete(&*tx).await?;
    }
    message_template::ActiveModel {
        name: Set(name.to_owned()),
        language: Set(language.to_owned()),
        subject: Set(subject.to_owned()),
        body: Set(body.to_owned()),
        updated_at: Set(Utc::now()),
    }
    .insert(&*tx)
    .await?;
    record_change(&mut tx, state, principal, name, language);
    tx.commit().await?;
    state.templates.invalidate();
    Ok(Template {
        name: name.to_owned(),
        language: language.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        customized: true,
    })
}

/// ADMIN: restores the shipped version.
pub async fn reset(
    state: &AppState,
    principal: &Principal,
    name: &str,
    language: &str,
) -> Result<Template, AppError> {
    principal.require_admin()?;
    known(name, language)?;
    let mut tx = state.db.begin(&state.events).await?;
    if let Some(existing) =
        message_template::Entity::find_by_id((name.to_owned(), language.to_owned()))
            .one(&*tx)
            .await?
    {
        existing.delete(&*tx).await?;
    }
    record_change(&mut tx, state, principal, name, language);
    tx.commit().await?;
    state.templates.invalidate();
    let t = shipped(name, language).ok_or_else(|| AppError::not_found("template", "name"))?;
    Ok(Template {
        name: t.name.to_owned(),
        language: t.language.to_owned(),
        subject: t.subject.to_owned(),
        body: t.body.to_owned(),
        customized: false,
    })
}

/// Records an admin's change of a template: other instances drop the versions they keep.
fn record_change(
    tx: &mut crate::db::WriteTx,
    state: &AppState,
    principal: &Principal,
    name: &str,
    language: &str,
) {
    tx.record(crate::events::NewEvent::store_change(
        "MESSAGE_TEMPLATE_CHANGED",
        TEMPLATE_OBJECT,
        principal.user_id(),
        json!({ "name": name, "language": language }),
        state.clock.now(),
    ));
}

/// ADMIN: renders a template (the stored one, or the given draft) with sample data.
pub async fn preview(
    state: &AppState,
    principal: &Principal,
    name: &str,
    language: &str,
    draft: Option<(&str, &str)>,
) -> Result<(String, String), AppError> {
    principal.require_admin()?;
    known(name, language)?;
    let version = if let Some((subject, body)) = draft {
        check(subject, body)?;
        Arc::new(Version::new(subject.to_owned(), body.to_owned()))
    } else {
        pick(state.db.read(), name, language).await?.version
    };
    // Rendered as a message renders it.
    version.render(&sample(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_template_renders_with_its_sample() {
        for t in SHIPPED {
            assert!(
                render_pair(t.subject, t.body, &sample(t.name)).is_ok(),
                "{}/{}",
                t.name,
                t.language
            );
        }
    }

    /// A message renders from the compiled version exactly what the admins' preview renders
    /// from the text, and a version that does not compile fails to render instead.
    #[test]
    fn a_compiled_version_renders_as_its_text_does() {
        for t in SHIPPED {
            let version = Version::new(t.subject.to_owned(), t.body.to_owned());
            assert!(version.compiled.is_some(), "{}/{}", t.name, t.language);
            let data = sample(t.name);
            let (subject, body) = version.render(&data).unwrap_or_else(|e| panic!("{e:?}"));
            let (text_subject, text_body) =
                render_pair(t.subject, t.body, &data).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(
                (subject, body),
                (text_subject, text_body),
                "{}/{}",
                t.name,
                t.language
            );
        }
        let broken = Version::new("Hi".to_owned(), "{% if %}".to_owned());
        assert!(broken.compiled.is_none());
        assert!(broken.render(&json!({})).is_err());
        let strict = Version::new("Hi {{ nobody }}".to_owned(), "x".to_owned());
        assert!(
            matches!(strict.render(&json!({})), Err(AppError::Validation { ref field, .. }) if field == "subject")
        );
    }

    /// A kept version serves until dropped; one read before a drop is never served after it.
    #[tokio::test]
    async fn a_kept_version_serves_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(&dir).await;
        let db = state.db.read();
        // Not following the bus: only its own drops count.
        let cache = Cache::default();
        let subject = |p: &Picked| p.render(&sample("order_received")).unwrap().0;
        let shipped = subject(&cache.pick(db, "order_received", "en").await.unwrap());
        assert!(shipped.starts_with("We received your order"), "{shipped}");
        message_template::ActiveModel {
            name: Set("order_received".to_owned()),
            language: Set("en".to_owned()),
            subject: Set("Order {{ number }} is in".to_owned()),
            body: Set("Hello".to_owned()),
            updated_at: Set(Utc::now()),
        }
        .insert(state.db.write())
        .await
        .unwrap();
        assert_eq!(
            subject(&cache.pick(db, "order_received", "en").await.unwrap()),
            shipped,
            "kept"
        );
        cache.invalidate();
        let changed = subject(&cache.pick(db, "order_received", "en").await.unwrap());
        assert!(changed.starts_with("Order "), "{changed}");

        // A version read while a drop happened (an admin's change committed meanwhile) is
        // given once and read again next time.
        let key = ("verify_email".to_owned(), "en".to_owned());
        let during = cache.0.get_or_read(key, || async {
            let mut marked = pick(db, "verify_email", "en").await?;
            marked.language = "marked".to_owned();
            cache.invalidate();
            Ok::<_, AppError>(marked)
        });
        assert_eq!(during.await.unwrap().language(), "marked");
        assert_eq!(
            cache
                .pick(db, "verify_email", "en")
                .await
                .unwrap()
                .language(),
            "en"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let error = check("ok", "line one\n{% if %}\n");
        assert!(
            matches!(error, Err(AppError::Validation { ref field, ref message }) if field == "body" && message.starts_with("line 2"))
        );
        let unknown = render_pair("Hi {{ nobody }}", "x", &json!({}));
        assert!(unknown.is_err());
    }
}
