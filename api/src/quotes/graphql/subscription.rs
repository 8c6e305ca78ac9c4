use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::graphql::{EventObject, boxed_setup, object_events},
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
    quotes::{QUOTE_OBJECT, service},
};

#[derive(Default)]
pub struct QuotesSubscription;

#[Subscription]
impl QuotesSubscription {
    /// Events of one quote (`quoteId`), or of every quote the caller may see. With `after`
    /// (an event's `cursor`), first what the client missed. Checked when subscribing and again
    /// for each event.
    async fn quote_events(
        &self,
        ctx: &Context<'_>,
        quote_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<EventObject>> + use<>> {
        boxed_setup(ctx, async move {
            let (state, principal) = (state(ctx), principal(ctx));
            principal.require_user()?;
            if !principal.is_staff() {
                service::require_available(state.db.read(), principal).await?;
            }
            let id = match quote_id {
                Some(id) => {
                    let id = ids::decode(Kind::Quote, &id, "quoteId")?;
                    service::quote(state, principal, id).await?;
                    Some(id)
                }
                None => None,
            };
            object_events(ctx, QUOTE_OBJECT, id, after).await
        })
        .await
    }
}
