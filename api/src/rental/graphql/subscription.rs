use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::graphql::{EventObject, boxed_setup, object_events},
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
    rental::{PROJECT_OBJECT, service},
};

#[derive(Default)]
pub struct RentalSubscription;

#[Subscription]
impl RentalSubscription {
    /// Events of one rental project (`projectId`), or of every project the caller may see: a
    /// customer's users their customer's, staff all. With `after` (an event's `cursor`), first
    /// what the client missed. Checked when subscribing and again for each event.
    async fn rental_project_events(
        &self,
        ctx: &Context<'_>,
        project_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<EventObject>> + use<>> {
        boxed_setup(ctx, async move {
            let id = match project_id {
                Some(id) => {
                    let id = ids::decode(Kind::RentalProject, &id, "projectId")?;
                    // Refuse at once a project the caller may not see.
                    service::find_for(state(ctx).db.read(), principal(ctx), id).await?;
                    Some(id)
                }
                None => None,
            };
            object_events(ctx, PROJECT_OBJECT, id, after).await
        })
        .await
    }
}
