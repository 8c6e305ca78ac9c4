//! From HTTP headers to the caller: the bearer token and the client address.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::{
    auth::{Principal, service},
    catalog::snapshot::EarlyEpoch,
    config::Config,
    error::AppError,
    state::AppState,
};

/// The caller named by an `Authorization: Bearer …` header; `PUBLIC` without one. A refused
/// token is never a silent downgrade: the caller is public but remembers the refusal, so anything
/// needing a user says `UNAUTHENTICATED` (while `login` and `refreshToken` still work for a
/// client that sends its expired token along). A blocked account fails the whole request.
pub async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, AppError> {
    Ok(caller(state, headers).await?.0)
}

/// The caller as [`principal`] finds them, and the catalog's epoch when it was read with their
/// account (see `catalog::snapshot::EarlyEpoch`).
pub async fn caller(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, Option<EarlyEpoch>), AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok((Principal::PUBLIC, None));
    };
    let Some(token) = value.to_str().ok().and_then(bearer) else {
        let refused = Principal::rejected("expected `Authorization: Bearer <token>`");
        return Ok((refused, None));
    };
    match service::authenticate(state, token).await {
        Ok((principal, epoch)) => Ok((principal, Some(epoch))),
        Err(AppError::Unauthenticated(reason)) => Ok((Principal::rejected(reason), None)),
        Err(other) => Err(other),
    }
}

/// The token in `Bearer <token>` (scheme case-insensitive).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client address: the right-most address of the configured proxy header (the one our
/// trusted proxy appended; entries to its left are whatever the client sent), else the TCP peer.
pub fn client_addr(
    config: &Config,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Option<IpAddr> {
    config
        .client_ip_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .or_else(|| peer.map(|peer| peer.ip()))
}
