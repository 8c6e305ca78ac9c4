//! What resolvers may take from the request context.

use std::net::IpAddr;

use async_graphql::Context;

use crate::{auth::Principal, catalog::snapshot::EarlyEpoch, state::AppState};

/// The client's address, attached to each HTTP request and WebSocket connection.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

/// The caller; `PUBLIC` when the request carried no token.
pub fn principal<'a>(ctx: &Context<'a>) -> &'a Principal {
    ctx.data_opt::<Principal>().unwrap_or(&Principal::PUBLIC)
}

pub fn client_addr(ctx: &Context<'_>) -> Option<IpAddr> {
    ctx.data_opt::<ClientAddr>().and_then(|addr| addr.0)
}

/// The catalog's epoch read with the caller's account, when the request may use it (see
/// [`EarlyEpoch`]): take it only before the resolver's first write.
pub fn early_epoch(ctx: &Context<'_>) -> Option<EarlyEpoch> {
    ctx.data_opt::<EarlyEpoch>().copied()
}
