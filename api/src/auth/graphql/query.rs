use async_graphql::{Context, Object, Result};

use super::types::{RoleGql, UserObject};
use crate::{
    auth::service::{self, UserListFilter},
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::pagination::PageRequest,
};

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The logged-in user; null for a caller without a token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        Ok(service::me(state(ctx), principal(ctx))
            .await?
            .map(UserObject::whole))
    }

    /// ADMIN: user accounts in creation order.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        role: Option<RoleGql>,
        blocked: Option<bool>,
    ) -> Result<RelayConnection<UserObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = UserListFilter {
            role: role.map(Into::into),
            blocked,
        };
        let page = service::users(state(ctx), principal(ctx), filter, page).await?;
        Ok(connection(
            page,
            |user| user.id.to_string(),
            UserObject::whole,
        ))
    }
}
