use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::{self, Audience, Scope, graphql::EventObject},
    graphql::context::{principal, state},
    kernel::{
        ids::{self, Kind},
        pagination::parse_event_cursor,
    },
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
        let state = state(ctx);
        let principal = principal(ctx);
        let audience = Audience::of(principal)?;
        if !principal.is_staff() {
            service::require_available(state.db.read(), principal).await?;
        }
        let after = after.map(|c| parse_event_cursor(&c, "after")).transpose()?;
        let object_id = match quote_id {
            Some(id) => {
                let id = ids::decode(Kind::Quote, &id, "quoteId")?;
                service::quote(state, principal, id).await?;
                Some(id)
            }
            None => None,
        };
        let scope = Scope {
            object_type: Some(QUOTE_OBJECT),
            object_id,
        };
        let stream = events::follow(state, audience, scope, after).await?;
        Ok(events::graphql::event_stream(ctx, stream))
    }
}
