use async_graphql::{Context, ID, Result, Subscription};
use futures_util::Stream;

use crate::{
    events::{self, Audience, Scope, graphql::EventObject},
    graphql::context::{principal, state},
    kernel::{
        ids::{self, Kind},
        pagination::parse_event_cursor,
    },
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
        let state = state(ctx);
        let principal = principal(ctx);
        let audience = Audience::of(principal)?;
        let after = after.map(|c| parse_event_cursor(&c, "after")).transpose()?;
        let object_id = match project_id {
            Some(id) => {
                let id = ids::decode(Kind::RentalProject, &id, "projectId")?;
                // Refuse at once a project the caller may not see.
                service::find_for(state.db.read(), principal, id).await?;
                Some(id)
            }
            None => None,
        };
        let scope = Scope {
            object_type: Some(PROJECT_OBJECT),
            object_id,
        };
        let stream = events::follow(state, audience, scope, after).await?;
        Ok(events::graphql::event_stream(ctx, stream))
    }
}
