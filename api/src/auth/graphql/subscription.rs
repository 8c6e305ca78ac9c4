use async_graphql::{Context, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::types::AccountEventObject;
use crate::{
    auth::service,
    events::graphql::boxed_setup,
    graphql::context::{principal, state},
};

#[derive(Default)]
pub struct AuthSubscription;

#[Subscription]
impl AuthSubscription {
    /// Changes to the caller's own account (role changed, blocked, unblocked, password changed),
    /// sent once committed; with `after` (an event's `cursor`), first those the client missed.
    /// Ends after `BLOCKED`. Requires a logged-in user.
    async fn my_account_events(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<AccountEventObject>> + use<>> {
        boxed_setup(ctx, async move {
            let after = after
                .map(|c| crate::kernel::pagination::parse_event_cursor(&c, "after"))
                .transpose()?;
            let events = service::account_events(state(ctx), principal(ctx), after).await?;
            Ok(events.map(|event| event.map(AccountEventObject).map_err(Into::into)))
        })
        .await
    }
}
