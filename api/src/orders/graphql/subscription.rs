use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::{self, Audience, Scope, graphql::EventObject},
    graphql::context::{principal, state},
    kernel::{
        ids::{self, Kind},
        pagination::parse_event_cursor,
    },
    orders::{ORDER_OBJECT, service},
};

#[derive(Default)]
pub struct OrdersSubscription;

#[Subscription]
impl OrdersSubscription {
    /// Events of one order (`orderId`), or of every order the caller may see: a customer's
    /// users their customer's, staff all. With `after` (an event's `cursor`), first what the
    /// client missed. Checked when subscribing and again for each event.
    async fn order_events(
        &self,
        ctx: &Context<'_>,
        order_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<EventObject>> + use<>> {
        let state = state(ctx);
        let principal = principal(ctx);
        let audience = Audience::of(principal)?;
        let after = after.map(|c| parse_event_cursor(&c, "after")).transpose()?;
        let object_id = match order_id {
            Some(id) => {
                let id = ids::decode(Kind::Order, &id, "orderId")?;
                // Refuse at once an order the caller may not see.
                service::find_for(state.db.read(), principal, id).await?;
                Some(id)
            }
            None => None,
        };
        let scope = Scope {
            object_type: Some(ORDER_OBJECT),
            object_id,
        };
        let stream = events::follow(state, audience, scope, after).await?;
        Ok(events::graphql::event_stream(ctx, stream))
    }
}
