//! Customer queries. Only the customers service and its loaders call these.

use comptoir_entity::{customer, customer_address, customer_contact};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{Address, AddressKind, Contact, Customer, CustomerKind, CustomerSource};
use crate::error::AppError;

pub fn to_customer(row: customer::Model) -> Result<Customer, AppError> {
    let bad = |what: &str, value: &str| {
        AppError::internal(anyhow::anyhow!("unknown customer {what} {value:?}"))
    };
    Ok(Customer {
        kind: CustomerKind::parse(&row.kind).ok_or_else(|| bad("kind", &row.kind))?,
        source: CustomerSource::parse(&row.source).ok_or_else(|| bad("source", &row.source))?,
        id: row.id,
        code: row.code,
        name: row.name,
        vat_id: row.vat_id,
        language: row.language,
        sales_rep_id: row.sales_rep_id,
        blocked: row.blocked,
        blocked_reason: row.blocked_reason,
        notes: row.notes,
        version: row.version,
        created_at: row.created_at,
    })
}

pub fn to_contact(row: customer_contact::Model) -> Contact {
    Contact {
        id: row.id,
        customer_id: row.customer_id,
        name: row.name,
        email: row.email,
        phone: row.phone,
        is_primary: row.is_primary,
    }
}

pub fn to_address(row: customer_address::Model) -> Address {
    Address {
        id: row.id,
        customer_id: row.customer_id,
        kind: AddressKind::parse(&row.kind).unwrap_or(AddressKind::Delivery),
        label: row.label,
        line1: row.line1,
        line2: row.line2,
        postal_code: row.postal_code,
        city: row.city,
        country: row.country,
        is_default: row.is_default,
    }
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<customer::Model>, DbErr> {
    customer::Entity::find_by_id(id).one(db).await
}

/// Whether a blocked customer has a contact with `email` (or `phone`).
pub async fn blocked_contact(
    db: &impl ConnectionTrait,
    email: &str,
    phone: Option<&str>,
) -> Result<bool, DbErr> {
    let mut matches = Condition::any().add(customer_contact::Column::Email.eq(email));
    if let Some(phone) = phone {
        matches = matches.add(customer_contact::Column::Phone.eq(phone));
    }
    let blocked: Vec<Uuid> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::Blocked.eq(true))
        .filter(
            customer::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(customer_contact::Column::CustomerId)
                    .from(customer_contact::Entity)
                    .cond_where(matches)
                    .to_owned(),
            ),
        )
        .limit(1)
        .into_tuple()
        .all(db)
        .await?;
    Ok(!blocked.is_empty())
}

pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<customer::Model>, DbErr> {
    customer::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<customer::Model>, DbErr> {
    customer::Entity::find()
        .filter(customer::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

pub async fn contacts_of(
    db: &impl ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<Vec<customer_contact::Model>, DbErr> {
    customer_contact::Entity::find()
        .filter(customer_contact::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .order_by_desc(customer_contact::Column::IsPrimary)
        .order_by_asc(customer_contact::Column::CreatedAt)
        .order_by_asc(customer_contact::Column::Id)
        .all(db)
        .await
}

pub async fn addresses_of(
    db: &impl ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<Vec<customer_address::Model>, DbErr> {
    in_address_order(
        customer_address::Entity::find()
            .filter(customer_address::Column::CustomerId.is_in(customer_ids.iter().copied())),
    )
    .all(db)
    .await
}

/// Addresses by kind, the default first, then as they were added.
fn in_address_order<Q: QueryOrder>(query: Q) -> Q {
    query
        .order_by_asc(customer_address::Column::Kind)
        .order_by_desc(customer_address::Column::IsDefault)
        .order_by_asc(customer_address::Column::CreatedAt)
        .order_by_asc(customer_address::Column::Id)
}

/// A customer with their saved addresses (in [`addresses_of`]'s order), in one statement.
pub async fn find_with_addresses(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<(customer::Model, Vec<customer_address::Model>)>, DbErr> {
    let joined = customer::Entity::find_by_id(id)
        .select_also(customer_address::Entity)
        .join_rev(
            JoinType::LeftJoin,
            customer_address::Entity::belongs_to(customer::Entity)
                .from(customer_address::Column::CustomerId)
                .to(customer::Column::Id)
                .into(),
        );
    let rows = in_address_order(joined).all(db).await?;
    let mut rows = rows.into_iter();
    let Some((customer, first)) = rows.next() else {
        return Ok(None);
    };
    let addresses = first
        .into_iter()
        .chain(rows.filter_map(|(_, address)| address))
        .collect();
    Ok(Some((customer, addresses)))
}

pub async fn find_contact(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<customer_contact::Model>, DbErr> {
    customer_contact::Entity::find_by_id(id).one(db).await
}

pub async fn find_address(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<customer_address::Model>, DbErr> {
    customer_address::Entity::find_by_id(id).one(db).await
}

pub async fn code_taken(db: &impl ConnectionTrait, code: &str) -> Result<bool, DbErr> {
    Ok(customer::Entity::find()
        .filter(customer::Column::Code.eq(code))
        .count(db)
        .await?
        > 0)
}

#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    pub search: Option<String>,
    pub blocked: Option<bool>,
    pub source: Option<CustomerSource>,
    pub kind: Option<CustomerKind>,
    pub sales_rep_id: Option<Uuid>,
}

/// A page of customers by name (then ID) after `(name, id)`, and the total matching.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &CustomerFilter,
    after: Option<(String, Uuid)>,
    limit: u64,
) -> Result<(Vec<customer::Model>, u64), DbErr> {
    let mut query = customer::Entity::find();
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        query = query.filter(
            customer::Column::SearchText.like(crate::catalog::store::contains_pattern(search)),
        );
    }
    if let Some(blocked) = filter.blocked {
        query = query.filter(customer::Column::Blocked.eq(blocked));
    }
    if let Some(source) = filter.source {
        query = query.filter(customer::Column::Source.eq(source.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(customer::Column::Kind.eq(kind.as_str()));
    }
    if let Some(rep) = filter.sales_rep_id {
        query = query.filter(customer::Column::SalesRepId.eq(rep));
    }
    let total = query.clone().count(db).await?;
    if let Some((name, id)) = after {
        query = query.filter(
            sea_orm::Condition::any()
                .add(customer::Column::Name.gt(name.clone()))
                .add(
                    sea_orm::Condition::all()
                        .add(customer::Column::Name.eq(name))
                        .add(customer::Column::Id.gt(id)),
                ),
        );
    }
    let rows = query
        .order_by_asc(customer::Column::Name)
        .order_by_asc(customer::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}
