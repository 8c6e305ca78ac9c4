//! `GET /documents/{kind}/{id}.pdf`: a document as PDF, for the bearer token's owner (the same
//! authorization as the object it prints) or for whoever holds a valid signed URL
//! (`?expires=…&signature=…`, from the object's GraphQL fields). The rendered PDF is sent as it
//! is (no copy); at most `documents::service::MAX_RENDERS` render at once, others wait.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::HttpState;
use crate::{
    documents::{DocumentKind, service, signing},
    error::AppError,
    kernel::ids,
};

#[derive(Deserialize)]
pub struct Signature {
    expires: Option<String>,
    signature: Option<String>,
}

pub async fn document(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path((kind, file)): Path<(String, String)>,
    Query(signature): Query<Signature>,
) -> Response {
    let result = async {
        let not_found = || AppError::not_found("document", "id");
        let kind = DocumentKind::parse(&kind).ok_or_else(not_found)?;
        let raw = file.strip_suffix(".pdf").ok_or_else(not_found)?;
        let id = ids::decode(service::id_kind(kind), raw, "id").map_err(|_| not_found())?;
        let path = format!("/documents/{}/{file}", kind.as_str());
        let principal = caller(&state, &headers, &path, &signature).await?;
        service::pdf(&state.app, &principal, kind, id).await
    }
    .await;
    match result {
        Ok((filename, bytes)) => pdf_response(&filename, bytes),
        Err(error) => error_response(&error),
    }
}

fn pdf_response(filename: &str, bytes: Vec<u8>) -> Response {
    let length = bytes.len();
    // The body takes the rendered buffer over: nothing is copied on the way out.
    let mut response = Body::from(bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(value) = HeaderValue::from_str(&length.to_string()) {
        headers.insert(header::CONTENT_LENGTH, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The coded JSON error of a file route: 401, 403, 404 (a foreign or malformed ID), or 500.
pub fn error_response(error: &AppError) -> Response {
    let status = match error {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::NotFound { .. } | AppError::Validation { .. } => StatusCode::NOT_FOUND,
        AppError::QuotesUnavailable | AppError::Forbidden | AppError::AccountBlocked => {
            StatusCode::FORBIDDEN
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        // Logs the cause.
        drop(error.to_graphql());
    }
    let body = serde_json::json!({ "errors": [{
        "message": error.message(),
        "extensions": { "code": error.code().as_str() },
    }] });
    (status, axum::Json(body)).into_response()
}

/// The caller of a file route: a verified signed URL of exactly this path, or the bearer token.
async fn caller(
    state: &HttpState,
    headers: &HeaderMap,
    path: &str,
    signature: &Signature,
) -> Result<crate::auth::Principal, AppError> {
    match (&signature.expires, &signature.signature) {
        (Some(expires), Some(sig)) => {
            signing::verify(
                state.app.jwt.url_key(),
                path,
                expires,
                sig,
                state.app.clock.now(),
            )?;
            Ok(service::SIGNED_URL)
        }
        _ => super::auth::principal(&state.app, headers).await,
    }
}

fn stream_response(
    filename: &str,
    content_type: &str,
    size: u64,
    stream: crate::production::storage::ByteStream,
) -> Response {
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, value);
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
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// `GET /files/production-files/{id}`: one version of a production file, streamed from the file
/// store, for staff and the order's customer (bearer token or signed URL); 404 for anyone else.
pub async fn production_file(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Response {
    let result = async {
        let path = format!("/files/production-files/{id}");
        let principal = caller(&state, &headers, &path, &signature).await?;
        let id = ids::decode(ids::Kind::ProductionFile, &id, "id")?;
        crate::production::files::download(&state.app, &principal, id).await
    }
    .await;
    match result {
        Ok((filename, content_type, size, stream)) => {
            stream_response(&filename, &content_type, size, stream)
        }
        Err(error) => error_response(&error),
    }
}

/// `GET /files/claim-photos/{id}`: a photo of a quality claim, for staff and the claim's
/// customer (bearer token or signed URL).
pub async fn claim_photo(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(signature): Query<Signature>,
) -> Response {
    let result = async {
        let path = format!("/files/claim-photos/{id}");
        let principal = caller(&state, &headers, &path, &signature).await?;
        let id = ids::decode(ids::Kind::ClaimPhoto, &id, "id")?;
        crate::production::claims::photo(&state.app, &principal, id).await
    }
    .await;
    match result {
        Ok((filename, content_type, size, stream)) => {
            stream_response(&filename, &content_type, size, stream)
        }
        Err(error) => error_response(&error),
    }
}
