//! Files over plain HTTP, with the bearer token and the same authorization as their object.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::HttpState;
use crate::{error::AppError, kernel::ids};

/// `GET /files/quote-attachments/{id}`: a file sent with a quote request, for staff and for the
/// quote's customer; 404 for anyone else, whatever the ID.
pub async fn quote_attachment(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = ids::decode(ids::Kind::QuoteAttachment, &id, "id")?;
        let principal = super::auth::principal(&state.app, &headers).await?;
        crate::quotes::service::attachment(&state.app, &principal, id).await
    }
    .await;
    match result {
        Ok((filename, content_type, content)) => {
            let mut response = content.into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            let safe: String = filename
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(error) => {
            let status = match error {
                AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                AppError::NotFound { .. } | AppError::Validation { .. } => StatusCode::NOT_FOUND,
                AppError::QuotesUnavailable | AppError::Forbidden | AppError::AccountBlocked => {
                    StatusCode::FORBIDDEN
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = serde_json::json!({ "errors": [{
                "message": error.message(),
                "extensions": { "code": error.code().as_str() },
            }] });
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                drop(error.to_graphql());
            }
            (status, axum::Json(body)).into_response()
        }
    }
}
