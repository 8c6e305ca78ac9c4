use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::graphql::UserObject,
    customers::model::{Address, Contact, Customer},
    events::graphql::EventObject,
    graphql::{
        context::principal,
        loaders::{
            AddressesOfCustomer, ContactsOfCustomer, ProjectsOfCustomer, TimelineOfCustomer,
            UserLoader, load_error, loader,
        },
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::{Page, PageRequest},
    },
    rental::graphql::types::RentalProjectObject,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "CustomerKind",
    remote = "crate::customers::model::CustomerKind"
)]
pub enum CustomerKindGql {
    /// A private person.
    Individual,
    /// A company.
    Professional,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "CustomerSource",
    remote = "crate::customers::model::CustomerSource"
)]
pub enum CustomerSourceGql {
    /// Created by staff.
    Backoffice,
    /// Created through the storefront (sign-up, quick checkout).
    Storefront,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "AddressKind", remote = "crate::customers::model::AddressKind")]
pub enum AddressKindGql {
    Billing,
    Delivery,
}

/// A customer: the company or person that buys.
pub struct CustomerObject(pub Customer);

#[Object(name = "Customer")]
impl CustomerObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Customer, self.0.id))
    }
    /// Unique customer code.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> CustomerKindGql {
        self.0.kind.into()
    }
    async fn vat_id(&self) -> Option<&str> {
        self.0.vat_id.as_deref()
    }
    async fn source(&self) -> CustomerSourceGql {
        self.0.source.into()
    }
    /// Language of messages to this customer (ISO 639-1).
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// A blocked customer's users cannot log in or order.
    async fn blocked(&self) -> bool {
        self.0.blocked
    }
    async fn blocked_reason(&self) -> Option<&str> {
        self.0.blocked_reason.as_deref()
    }
    /// Staff only: internal notes (null for customers).
    async fn notes(&self, ctx: &Context<'_>) -> Option<&str> {
        principal(ctx).is_staff().then_some(self.0.notes.as_str())
    }
    /// Staff only: the assigned sales representative's account (null for customers).
    async fn sales_rep(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.sales_rep_id.filter(|_| principal(ctx).is_staff()) else {
            return Ok(None);
        };
        let user = loader::<UserLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(user.map(|user| UserObject::seen_by(user, principal(ctx))))
    }
    /// Buyers and other people to reach, primary first.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<ContactObject>> {
        let contacts = loader::<ContactsOfCustomer>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(contacts
            .unwrap_or_default()
            .into_iter()
            .map(ContactObject)
            .collect())
    }
    /// Billing address first, then delivery addresses, default first.
    async fn addresses(&self, ctx: &Context<'_>) -> Result<Vec<AddressObject>> {
        let addresses = loader::<AddressesOfCustomer>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(addresses
            .unwrap_or_default()
            .into_iter()
            .map(AddressObject)
            .collect())
    }
    /// Staff only: what happened with this customer (messages sent…), newest first.
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<EventObject>> {
        if !principal(ctx).is_staff() {
            return Ok(Vec::new());
        }
        let events = loader::<TimelineOfCustomer>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(events
            .unwrap_or_default()
            .into_iter()
            .map(EventObject::new)
            .collect())
    }
    /// Its rental projects, newest first (the latest 100; `totalCount` counts them all).
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn rental_projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RelayConnection<RentalProjectObject>> {
        let page = PageRequest::parse(first, after)?;
        let loaded = loader::<ProjectsOfCustomer>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default();
        let mut page = Page::from_loaded(loaded.projects, &page)?;
        page.total_count = loaded.total;
        Ok(connection(
            page,
            |(offset, _)| offset.to_string(),
            |(_, p)| RentalProjectObject(p),
        ))
    }
    /// Edit version: send it back with `updateCustomer`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct ContactObject(pub Contact);

#[Object(name = "CustomerContact")]
impl ContactObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Contact, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// E.164 (`+33612345678`).
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The main buyer.
    async fn is_primary(&self) -> bool {
        self.0.is_primary
    }
}

pub struct AddressObject(pub Address);

#[Object(name = "CustomerAddress")]
impl AddressObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Address, self.0.id))
    }
    async fn kind(&self) -> AddressKindGql {
        self.0.kind.into()
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    async fn line1(&self) -> &str {
        &self.0.line1
    }
    async fn line2(&self) -> &str {
        &self.0.line2
    }
    async fn postal_code(&self) -> &str {
        &self.0.postal_code
    }
    async fn city(&self) -> &str {
        &self.0.city
    }
    /// ISO 3166-1 alpha-2.
    async fn country(&self) -> &str {
        &self.0.country
    }
    /// The default delivery address.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
}

#[derive(InputObject, Default)]
pub struct CustomerFilterInput {
    /// Text searched in name, code and contact emails.
    pub search: Option<String>,
    pub blocked: Option<bool>,
    pub source: Option<CustomerSourceGql>,
    pub kind: Option<CustomerKindGql>,
    pub sales_rep_id: Option<ID>,
}

/// A customer; on update, absent fields stay.
#[derive(InputObject)]
pub struct CustomerInput {
    pub name: Option<String>,
    /// Generated when not given; cannot change.
    pub code: Option<String>,
    pub kind: Option<CustomerKindGql>,
    pub vat_id: Option<String>,
    pub language: Option<String>,
    /// Staff only.
    pub sales_rep_id: Option<ID>,
    /// Staff only.
    pub notes: Option<String>,
}

/// A contact; on update, absent fields stay (an empty string clears email or phone).
#[derive(InputObject)]
pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+33612345678`).
    pub phone: Option<String>,
    pub is_primary: Option<bool>,
}

/// An address; on update, absent fields stay.
#[derive(InputObject)]
pub struct AddressInput {
    pub kind: Option<AddressKindGql>,
    pub label: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}
