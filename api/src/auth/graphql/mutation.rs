use async_graphql::{Context, ID, Object, Result};

use super::types::{AuthPayload, CreateUserInput, LoginInput, RegisterInput, RoleGql, UserObject};
use crate::{
    auth::service,
    graphql::context::{client_addr, principal, state},
    kernel::ids::{self, Kind},
};

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates an `IDENTIFIED` account and logs it in. Rate-limited per client address.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let session = service::register(
            state(ctx),
            &input.email,
            input.password,
            client_addr(ctx),
            input.cart_token.as_deref(),
        )
        .await?;
        Ok(AuthPayload(session))
    }

    /// Logs in. Unknown email and wrong password give the same `INVALID_CREDENTIALS`; attempts are
    /// rate-limited per email and per client address (`RATE_LIMITED`, `extensions.retryAfter`).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let session = service::login(
            state(ctx),
            &input.email,
            input.password,
            client_addr(ctx),
            input.cart_token.as_deref(),
        )
        .await?;
        Ok(AuthPayload(session))
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once; presenting a used
    /// one again revokes the whole session.
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        Ok(AuthPayload(
            service::refresh(state(ctx), &refresh_token).await?,
        ))
    }

    /// Ends the session of this refresh token; with `everywhere`, every session of the account and
    /// every access token already issued.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
        #[graphql(default = false)] everywhere: bool,
    ) -> Result<bool> {
        service::logout(state(ctx), &refresh_token, everywhere).await?;
        Ok(true)
    }

    /// Changes the caller's password. Every other session and token is revoked; the returned
    /// tokens replace the caller's.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<AuthPayload> {
        let session =
            service::change_password(state(ctx), principal(ctx), current_password, new_password)
                .await?;
        Ok(AuthPayload(session))
    }

    /// ADMIN: creates an account with any role.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<UserObject> {
        let customer_id = input
            .customer_id
            .map(|id| ids::decode(Kind::Customer, &id, "customerId"))
            .transpose()?;
        let user = service::create_user(
            state(ctx),
            principal(ctx),
            &input.email,
            input.password,
            input.role.into(),
            customer_id,
        )
        .await?;
        Ok(UserObject::whole(user))
    }

    /// Staff: makes a user belong to a customer, or to none (`customerId: null`). An
    /// `ACCOUNT_CLIENT` always belongs to one.
    async fn set_user_customer(
        &self,
        ctx: &Context<'_>,
        id: ID,
        customer_id: Option<ID>,
    ) -> Result<UserObject> {
        let id = ids::decode(Kind::User, &id, "id")?;
        let customer_id = customer_id
            .map(|id| ids::decode(Kind::Customer, &id, "customerId"))
            .transpose()?;
        let user = service::set_user_customer(state(ctx), principal(ctx), id, customer_id).await?;
        Ok(UserObject::whole(user))
    }

    /// ADMIN: changes a user's role; their tokens are revoked.
    async fn set_user_role(&self, ctx: &Context<'_>, id: ID, role: RoleGql) -> Result<UserObject> {
        let id = ids::decode(Kind::User, &id, "id")?;
        let user = service::set_user_role(state(ctx), principal(ctx), id, role.into()).await?;
        Ok(UserObject::whole(user))
    }

    /// ADMIN: blocks a user: no login, no refresh, every token refused with `ACCOUNT_BLOCKED`.
    async fn block_user(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<UserObject> {
        let id = ids::decode(Kind::User, &id, "id")?;
        let user = service::block_user(state(ctx), principal(ctx), id, &reason).await?;
        Ok(UserObject::whole(user))
    }

    /// ADMIN: unblocks a user; they log in again.
    async fn unblock_user(&self, ctx: &Context<'_>, id: ID) -> Result<UserObject> {
        let id = ids::decode(Kind::User, &id, "id")?;
        let user = service::unblock_user(state(ctx), principal(ctx), id).await?;
        Ok(UserObject::whole(user))
    }

    /// Confirms an email address with the token from the verification email.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<UserObject> {
        Ok(UserObject::whole(
            service::verify_email(state(ctx), &token).await?,
        ))
    }

    /// Emails a password-reset link. Always answers `true`, whether or not the address exists.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        service::request_password_reset(state(ctx), &email, client_addr(ctx)).await?;
        Ok(true)
    }

    /// Sets a new password with the token from the reset email; every session ends.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<bool> {
        service::reset_password(state(ctx), &token, new_password).await?;
        Ok(true)
    }
}
