use async_graphql::{Context, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::types::AccountEventObject;
use crate::{
    auth::service,
    graphql::context::{principal, state},
};

#[derive(Default)]
pub struct AuthSubscription;

#[Subscription]
impl AuthSubscription {
    /// Changes to the caller's own account (role changed, blocked, unblocked), sent once
    /// committed. Ends after `BLOCKED`. Requires a logged-in user.
    #[allow(clippy::unused_async)] // the macro requires `async fn`
    async fn my_account_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<AccountEventObject>> + use<>> {
        let events = service::account_events(state(ctx), principal(ctx))?;
        Ok(events.map(|event| event.map(AccountEventObject).map_err(Into::into)))
    }
}
