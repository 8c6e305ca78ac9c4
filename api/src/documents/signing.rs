//! Signed download URLs: `path?expires=UNIX&signature=HEX`, where the signature is
//! HMAC-SHA256 of `path` and `expires` under a key derived from the JWT secret. The object's
//! authorization is checked when the URL is handed out (the field resolves only for callers who
//! may read the object); the URL then works without headers until it expires, so a mobile app
//! can open it in a viewer.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{error::AppError, state::AppState};

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32], path: &str, expires: i64) -> HmacSha256 {
    // A 32-byte key is always accepted; `new_from_slice` only fails for fixed-size MACs.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// The signed URL of `path` (`/documents/invoice/…pdf`), valid for the configured TTL.
pub fn sign(state: &AppState, path: &str) -> String {
    let expires = (state.clock.now()
        + crate::kernel::time::chrono_duration(state.config.signed_url_ttl))
    .timestamp();
    let signature = hex::encode(
        mac(state.jwt.url_key(), path, expires)
            .finalize()
            .into_bytes(),
    );
    let base = state
        .config
        .api_url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/');
    format!("{base}{path}?expires={expires}&signature={signature}")
}

/// Checks a signed URL's `expires` and `signature` for `path` at `now`: `UNAUTHENTICATED` when
/// either is wrong or the time has passed.
pub fn verify(
    key: &[u8; 32],
    path: &str,
    expires: &str,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let refused = || AppError::Unauthenticated("invalid or expired link");
    let expires: i64 = expires.parse().map_err(|_| refused())?;
    let signature = hex::decode(signature).map_err(|_| refused())?;
    // Constant-time comparison.
    mac(key, path, expires)
        .verify_slice(&signature)
        .map_err(|_| refused())?;
    if now.timestamp() > expires {
        return Err(refused());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_only_for_its_path_and_until_it_expires() {
        let key = [7_u8; 32];
        let now = Utc::now();
        let expires = now.timestamp() + 60;
        let signature = hex::encode(
            mac(&key, "/documents/quote/a.pdf", expires)
                .finalize()
                .into_bytes(),
        );
        let ok = |path: &str, at: DateTime<Utc>| {
            verify(&key, path, &expires.to_string(), &signature, at).is_ok()
        };
        assert!(ok("/documents/quote/a.pdf", now));
        assert!(!ok("/documents/quote/b.pdf", now));
        assert!(!ok(
            "/documents/quote/a.pdf",
            now + chrono::Duration::seconds(61)
        ));
        assert!(
            verify(
                &key,
                "/documents/quote/a.pdf",
                &(expires + 1).to_string(),
                &signature,
                now
            )
            .is_err()
        );
        assert!(
            verify(
                &[8; 32],
                "/documents/quote/a.pdf",
                &expires.to_string(),
                &signature,
                now
            )
            .is_err()
        );
    }
}
