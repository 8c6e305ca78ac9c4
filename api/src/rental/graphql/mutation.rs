use async_graphql::{Context, ID, MaybeUndefined, Object, Result};
use chrono::{DateTime, Utc};

use super::types::{
    CreateRentalProjectInput, PlaceRentalOrderInput, PlaceRentalOrderPayload, RentalItemInput,
    RentalProjectObject, UpdateRentalItemInput, UpdateRentalProjectInput,
};
use crate::{
    graphql::context::{client_addr, principal, state},
    kernel::ids::{self, Kind},
    rental::{customer, desk, storefront},
};

fn project_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::RentalProject, id, "id")?)
}

fn item_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::RentalItem, id, "itemId")?)
}

fn item_input(input: &RentalItemInput, field: &str) -> Result<desk::ItemInput> {
    Ok(desk::ItemInput {
        product_id: ids::decode(
            Kind::Product,
            &input.product_id,
            &format!("{field}.productId"),
        )?,
        quantity: input.quantity,
        start: input.start,
        end: input.end,
        unit_price: input.unit_price,
    })
}

// Absent, cleared or set: the three cases of a partial update.
#[allow(clippy::option_option)]
fn optional(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Default)]
pub struct RentalMutation;

/// Every mutation that changes a project takes the `version` it was based on; a stale one gets
/// `CONFLICT` with `extensions.currentVersion`.
#[Object]
impl RentalMutation {
    /// Books the rental lines of a cart (other lines stay): a visitor gives a name, an email
    /// and a phone (a customer and an account are created, the login and password emailed; an
    /// email that has an account gets the project on it, no password), a customer orders as
    /// themselves. The project starts `NEW`: its items block nothing, each shows what is free.
    /// A blocked customer gets `CUSTOMER_BLOCKED` and nothing is stored.
    async fn place_rental_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceRentalOrderInput,
    ) -> Result<PlaceRentalOrderPayload> {
        let input = storefront::PlaceInput {
            cart_id: ids::decode(Kind::Cart, &input.cart_id, "cartId")?,
            cart_token: input.cart_token,
            contact: input.contact.map(|c| storefront::ContactInput {
                name: c.name,
                email: c.email,
                phone: c.phone,
                company: c.company,
            }),
            note: input.note,
            idempotency_key: input.idempotency_key,
        };
        let placed = storefront::place(state(ctx), principal(ctx), client_addr(ctx), input).await?;
        Ok(PlaceRentalOrderPayload {
            project: RentalProjectObject(placed.project),
            account_created: placed.account_created,
        })
    }

    /// Staff: a project for a customer (source `BACKOFFICE`), `NEW`, its items drafts.
    async fn create_rental_project(
        &self,
        ctx: &Context<'_>,
        input: CreateRentalProjectInput,
    ) -> Result<RentalProjectObject> {
        let items = input
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| item_input(&item, &format!("items.{i}")))
            .collect::<Result<Vec<_>>>()?;
        let input = desk::CreateInput {
            customer_id: ids::decode(Kind::Customer, &input.customer_id, "customerId")?,
            items,
            note: input.note,
        };
        Ok(RentalProjectObject(
            desk::create_project(state(ctx), principal(ctx), input).await?,
        ))
    }

    /// Staff: the note to the customer and the project's contact.
    async fn update_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: UpdateRentalProjectInput,
    ) -> Result<RentalProjectObject> {
        let changes = desk::ProjectChanges {
            note: input.note,
            contact_name: input.contact_name,
            contact_email: optional(input.contact_email),
            contact_phone: optional(input.contact_phone),
        };
        Ok(RentalProjectObject(
            desk::update_project(
                state(ctx),
                principal(ctx),
                project_id(&id)?,
                version,
                changes,
            )
            .await?,
        ))
    }

    /// Staff: adds equipment to a `NEW` or `IN_WORK` project. In work, the units are checked
    /// and reserved at once (`INSUFFICIENT_AVAILABILITY` unless `allowShortage`).
    async fn rental_project_add_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: RentalItemInput,
        #[graphql(default)] allow_shortage: bool,
    ) -> Result<RentalProjectObject> {
        let input = item_input(&input, "input")?;
        Ok(RentalProjectObject(
            desk::add_item(
                state(ctx),
                principal(ctx),
                project_id(&id)?,
                version,
                input,
                allow_shortage,
            )
            .await?,
        ))
    }

    /// Staff: changes an item's quantity, period or price (`version` is the project's).
    async fn rental_project_update_item(
        &self,
        ctx: &Context<'_>,
        item_id: ID,
        version: i32,
        input: UpdateRentalItemInput,
        #[graphql(default)] allow_shortage: bool,
    ) -> Result<RentalProjectObject> {
        let changes = desk::ItemChanges {
            quantity: input.quantity,
            start: input.start,
            end: input.end,
            unit_price: input.unit_price,
        };
        Ok(RentalProjectObject(
            desk::update_item(
                state(ctx),
                principal(ctx),
                self::item_id(&item_id)?,
                version,
                changes,
                allow_shortage,
            )
            .await?,
        ))
    }

    /// Staff: removes an item (`version` is the project's; a project keeps at least one).
    async fn rental_project_remove_item(
        &self,
        ctx: &Context<'_>,
        item_id: ID,
        version: i32,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::remove_item(
                state(ctx),
                principal(ctx),
                self::item_id(&item_id)?,
                version,
            )
            .await?,
        ))
    }

    /// Staff: takes a `NEW` project into work: its items are reserved and count against
    /// availability. If any would overbook, nothing changes and `INSUFFICIENT_AVAILABILITY`
    /// lists each in `extensions.shortages` (with the projects it clashes with), unless
    /// `allowShortage` (sub-renting): the shortage is then recorded on the project.
    async fn start_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] allow_shortage: bool,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::start(
                state(ctx),
                principal(ctx),
                project_id(&id)?,
                version,
                allow_shortage,
            )
            .await?,
        ))
    }

    /// Staff: cancels a `NEW` or `IN_WORK` project; its units are freed.
    async fn cancel_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::cancel(
                state(ctx),
                principal(ctx),
                project_id(&id)?,
                version,
                &reason,
            )
            .await?,
        ))
    }

    /// Staff: the equipment is handed out (`IN_WORK → ISSUED`).
    async fn issue_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::issue(state(ctx), principal(ctx), project_id(&id)?, version).await?,
        ))
    }

    /// Staff: the equipment is back (`ISSUED → RETURNED`); its units are free again.
    async fn return_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::mark_returned(state(ctx), principal(ctx), project_id(&id)?, version).await?,
        ))
    }

    /// Staff: closes a returned project (`RETURNED → COMPLETED`).
    async fn complete_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            desk::complete(state(ctx), principal(ctx), project_id(&id)?, version).await?,
        ))
    }

    /// A customer cancels their project: while `NEW`, or `IN_WORK` before its period starts.
    async fn cancel_my_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: Option<String>,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            customer::cancel_mine(
                state(ctx),
                principal(ctx),
                project_id(&id)?,
                version,
                reason.as_deref(),
            )
            .await?,
        ))
    }

    /// A new `NEW` project with the same equipment and quantities for `from`–`to`, priced from
    /// today's catalog.
    async fn repeat_rental_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<RentalProjectObject> {
        Ok(RentalProjectObject(
            customer::repeat(state(ctx), principal(ctx), project_id(&id)?, from, to).await?,
        ))
    }
}
