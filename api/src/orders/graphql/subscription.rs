use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::graphql::{EventObject, boxed_setup, object_events},
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
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
        boxed_setup(ctx, async move {
            let id = match order_id {
                Some(id) => {
                    let id = ids::decode(Kind::Order, &id, "orderId")?;
                    // Refuse at once an order the caller may not see.
                    service::find_for(state(ctx).db.read(), principal(ctx), id).await?;
                    Some(id)
                }
                None => None,
            };
            object_events(ctx, ORDER_OBJECT, id, after).await
        })
        .await
    }
}
