//! From HTTP headers to the caller: the bearer token and the client address.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::{
    auth::{Principal, service},
    config::Config,
    error::AppError,
    state::AppState,
};

/// The caller named by an `Authorization: Bearer …` header; `PUBLIC` without one. A header that
/// is present but wrong is an error, never a silent downgrade to `PUBLIC`.
pub async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Principal::PUBLIC);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(bearer)
        .ok_or(AppError::Unauthenticated(
            "expected `Authorization: Bearer <token>`",
        ))?;
    service::authenticate(state, token).await
}

/// The token in `Bearer <token>` (scheme case-insensitive).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client address: the configured proxy header's first address, else the TCP peer.
pub fn client_addr(config: &Config, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    config
        .client_ip_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .and_then(|first| first.trim().parse().ok())
        .unwrap_or_else(|| peer.ip())
}
