use async_graphql::{Context, ID, Object, Result};

use super::types::{
    AddressInput, AddressObject, ContactInput, ContactObject, CustomerInput, CustomerObject,
};
use crate::{
    customers::service,
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
};

#[derive(Default)]
pub struct CustomersMutation;

fn customer_input(input: CustomerInput) -> Result<service::CustomerInput> {
    Ok(service::CustomerInput {
        name: input.name,
        code: input.code,
        kind: input.kind.map(Into::into),
        vat_id: input.vat_id,
        language: input.language,
        sales_rep_id: input
            .sales_rep_id
            .map(|id| ids::decode(Kind::User, &id, "salesRepId"))
            .transpose()?,
        notes: input.notes,
    })
}

fn contact_input(input: ContactInput) -> service::ContactInput {
    service::ContactInput {
        name: input.name,
        email: input.email,
        phone: input.phone,
        is_primary: input.is_primary,
    }
}

fn address_input(input: AddressInput) -> service::AddressInput {
    service::AddressInput {
        kind: input.kind.map(Into::into),
        label: input.label,
        line1: input.line1,
        line2: input.line2,
        postal_code: input.postal_code,
        city: input.city,
        country: input.country,
        is_default: input.is_default,
    }
}

fn customer_id(id: Option<ID>) -> Result<Option<uuid::Uuid>> {
    Ok(id
        .map(|id| ids::decode(Kind::Customer, &id, "customerId"))
        .transpose()?)
}

#[Object]
impl CustomersMutation {
    /// Staff: creates a customer (source BACKOFFICE).
    async fn create_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> Result<CustomerObject> {
        let input = customer_input(input)?;
        Ok(CustomerObject(
            service::create_customer(state(ctx), principal(ctx), input).await?,
        ))
    }

    /// An IDENTIFIED user without a customer creates their own and belongs to it.
    async fn create_my_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> Result<CustomerObject> {
        let input = customer_input(input)?;
        Ok(CustomerObject(
            service::create_my_customer(state(ctx), principal(ctx), input).await?,
        ))
    }

    /// Staff: changes a customer; `version` is the one read (`CONFLICT` when stale).
    async fn update_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: CustomerInput,
    ) -> Result<CustomerObject> {
        let id = ids::decode(Kind::Customer, &id, "id")?;
        let input = customer_input(input)?;
        Ok(CustomerObject(
            service::update_customer(state(ctx), principal(ctx), id, version, input).await?,
        ))
    }

    /// Staff: blocks a customer and all its users.
    async fn block_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<CustomerObject> {
        let id = ids::decode(Kind::Customer, &id, "id")?;
        Ok(CustomerObject(
            service::set_blocked(state(ctx), principal(ctx), id, true, Some(&reason)).await?,
        ))
    }

    /// Staff: unblocks a customer and its users.
    async fn unblock_customer(&self, ctx: &Context<'_>, id: ID) -> Result<CustomerObject> {
        let id = ids::decode(Kind::Customer, &id, "id")?;
        Ok(CustomerObject(
            service::set_blocked(state(ctx), principal(ctx), id, false, None).await?,
        ))
    }

    /// Adds a contact to a customer (default: the caller's own).
    async fn add_customer_contact(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<ID>,
        input: ContactInput,
    ) -> Result<ContactObject> {
        let customer_id = self::customer_id(customer_id)?;
        let contact = service::add_contact(
            state(ctx),
            principal(ctx),
            customer_id,
            contact_input(input),
        )
        .await?;
        Ok(ContactObject(contact))
    }

    async fn update_customer_contact(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ContactInput,
    ) -> Result<ContactObject> {
        let id = ids::decode(Kind::Contact, &id, "id")?;
        Ok(ContactObject(
            service::update_contact(state(ctx), principal(ctx), id, contact_input(input)).await?,
        ))
    }

    async fn remove_customer_contact(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = ids::decode(Kind::Contact, &id, "id")?;
        service::remove_contact(state(ctx), principal(ctx), id).await?;
        Ok(true)
    }

    /// Adds an address to a customer (default: the caller's own). One billing address per
    /// customer; the first delivery address becomes the default.
    async fn add_customer_address(
        &self,
        ctx: &Context<'_>,
        customer_id: Option<ID>,
        input: AddressInput,
    ) -> Result<AddressObject> {
        let customer_id = self::customer_id(customer_id)?;
        let address = service::add_address(
            state(ctx),
            principal(ctx),
            customer_id,
            address_input(input),
        )
        .await?;
        Ok(AddressObject(address))
    }

    async fn update_customer_address(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AddressInput,
    ) -> Result<AddressObject> {
        let id = ids::decode(Kind::Address, &id, "id")?;
        Ok(AddressObject(
            service::update_address(state(ctx), principal(ctx), id, address_input(input)).await?,
        ))
    }

    async fn remove_customer_address(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = ids::decode(Kind::Address, &id, "id")?;
        service::remove_address(state(ctx), principal(ctx), id).await?;
        Ok(true)
    }
}
