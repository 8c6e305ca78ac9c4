//! Access tokens: HS256 JWTs, algorithm pinned. The `tv` claim is the user's token version at
//! issue time; a token whose version is no longer current is refused.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: String,
    pub tv: i32,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Signs short-lived download URLs (documents, files): derived from the same secret, so
    /// every instance that shares the secret accepts the others' URLs.
    url_key: [u8; 32],
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            url_key: derive_key(secret, b"comptoir signed download urls v1"),
        }
    }

    /// The key of signed download URLs.
    pub fn url_key(&self) -> &[u8; 32] {
        &self.url_key
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, AppError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(AppError::internal)
    }

    /// Decodes and verifies a token: signature, algorithm (HS256 only, so `none` is refused) and
    /// expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AppError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                tracing::debug!(%error, "access token refused");
                AppError::Unauthenticated("invalid or expired access token")
            })
    }
}

/// A key for one purpose, derived from the secret (HMAC-SHA256 of the purpose): a URL signature
/// can never pass for a token signature.
fn derive_key(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return [0; 32];
    };
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

pub fn claims(
    user_id: Uuid,
    role: &str,
    token_version: i32,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Claims {
    Claims {
        sub: user_id,
        role: role.to_owned(),
        tv: token_version,
        iat: now.timestamp(),
        exp: expires.timestamp(),
    }
}
