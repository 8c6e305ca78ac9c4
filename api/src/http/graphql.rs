//! GraphQL over HTTP, following the GraphQL-over-HTTP specification (checked by the official
//! `graphql-http` audit in the test suite):
//! - `Accept` negotiates `application/graphql-response+json` or `application/json` (406 otherwise);
//! - POST bodies must be `application/json` (415), within the size limit (413);
//! - malformed requests get 400; documents that fail to parse or validate get 400 under
//!   `application/graphql-response+json` (and no `data`), 200 under `application/json`;
//! - mutations over GET get 405;
//! - batches (a JSON array) are capped; aliases are capped.

use std::{collections::HashMap, net::SocketAddr};

use async_graphql::{
    Request, Response, Variables,
    http::GraphiQLSource,
    parser::types::{OperationType, Selection},
};
use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response as HttpResponse},
};
use serde_json::{Map, Value, json};

use super::{HttpState, auth};
use crate::{
    catalog::snapshot::EarlyEpoch,
    error::{AppError, ErrorCode},
    graphql::{
        context::ClientAddr,
        documents::{Documents, selected_operation},
        loaders,
        response_cache::NotKept,
    },
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

/// The media type of the response, chosen from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    GraphqlResponseJson,
    Json,
}

impl Format {
    /// What the format is called in keys of kept responses.
    fn name(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "graphql-response+json",
            Self::Json => "json",
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }

    /// Picks the most preferred acceptable type; a missing `Accept` means `application/json`.
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Self::Json);
        };
        let mut ranges: Vec<(f32, usize, Option<Self>)> = accept
            .split(',')
            .enumerate()
            .filter_map(|(position, range)| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                let quality = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let format = match media.as_str() {
                    GRAPHQL_RESPONSE_JSON => Some(Self::GraphqlResponseJson),
                    APPLICATION_JSON | "application/*" | "*/*" => Some(Self::Json),
                    _ => None,
                };
                Some((quality, position, format))
            })
            .filter(|(quality, _, _)| *quality > 0.0)
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges.into_iter().find_map(|(_, _, format)| format)
    }
}

/// A request the server refuses before running anything.
struct Refusal {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE || status.is_client_error() {
            ErrorCode::Validation
        } else {
            ErrorCode::Internal
        };
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn from_auth(error: &AppError) -> Self {
        let status = match error.code() {
            ErrorCode::AccountBlocked => StatusCode::FORBIDDEN,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        };
        if let AppError::Internal(cause) = error {
            tracing::error!(error = ?cause, "authentication failed");
        }
        Self {
            status,
            code: error.code(),
            message: error.message(),
        }
    }

    fn into_response(self, format: Format) -> HttpResponse {
        let body = json!({
            "errors": [{ "message": self.message, "extensions": { "code": self.code.as_str() } }]
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, format.content_type());
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub async fn post(
    State(state): State<HttpState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let peer = connect_info.map(|Extension(ConnectInfo(peer))| peer);
    match handle_post(&state, peer, &headers, body).await {
        Ok((caller, batched)) => execute(&state, caller, batched, format).await,
        Err(refusal) => refusal.into_response(format),
    }
}

async fn handle_post(
    state: &HttpState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Caller, bool), Refusal> {
    // A browser may post multipart forms cross-site without a CORS preflight: uploads must
    // carry a header that forces one (the convention of Apollo clients).
    let multipart = is_multipart(headers) && headers.contains_key("apollo-require-preflight");
    if !is_json(headers) && !multipart {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies must be `Content-Type: application/json` (or `multipart/form-data` with an `Apollo-Require-Preflight` header, for files)",
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        } else {
            Refusal::bad_request("cannot read the request body")
        }
    })?;
    if multipart {
        return receive_multipart(state, peer, headers, body).await;
    }
    if body.len() > state.app.config.max_body_bytes {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large",
        ));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| Refusal::bad_request("the body is not valid JSON"))?;
    let (params, batched) = match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(Refusal::bad_request("empty batch"));
            }
            if items.len() > state.app.config.max_batch {
                return Err(Refusal::bad_request(format!(
                    "at most {} operations per batch",
                    state.app.config.max_batch
                )));
            }
            (items, true)
        }
        other => (vec![other], false),
    };
    let requests = params
        .into_iter()
        .map(|params| match params {
            Value::Object(map) => parse_params(map, &state.documents),
            _ => Err(Refusal::bad_request("each request must be a JSON object")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let caller = attach_caller(state, headers, peer, requests).await?;
    Ok((caller, batched))
}

pub async fn get(
    State(state): State<HttpState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> HttpResponse {
    if !query.contains_key("query") && wants_html(&headers) {
        return Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .finish(),
        )
        .into_response();
    }
    let Some(format) = Format::negotiate(&headers) else {
        return not_acceptable();
    };
    let result = async {
        let mut map = Map::new();
        for (key, value) in query {
            let value = match key.as_str() {
                "variables" | "extensions" => serde_json::from_str(&value)
                    .map_err(|_| Refusal::bad_request(format!("`{key}` must be a JSON object")))?,
                _ => Value::String(value),
            };
            map.insert(key, value);
        }
        let mut request = parse_params(map, &state.documents)?;
        refuse_mutation_over_get(&mut request)?;
        attach_caller(
            &state,
            &headers,
            connect_info.map(|Extension(ConnectInfo(peer))| peer),
            vec![request],
        )
        .await
    }
    .await;
    match result {
        Ok(caller) => execute(&state, caller, false, format).await,
        Err(refusal) => refusal.into_response(format),
    }
}

/// Checks the shape of one request's parameters and builds it, with its document parsed (or
/// copied from the kept ones).
fn parse_params(mut map: Map<String, Value>, documents: &Documents) -> Result<Request, Refusal> {
    let query = match map.remove("query") {
        Some(Value::String(query)) => query,
        Some(_) => return Err(Refusal::bad_request("`query` must be a string")),
        None => return Err(Refusal::bad_request("missing `query`")),
    };
    let mut request = Request::new(query);
    match map.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err(Refusal::bad_request("`operationName` must be a string")),
    }
    match map.remove("variables") {
        None | Some(Value::Null) => {}
        Some(variables @ Value::Object(_)) => {
            request = request.variables(Variables::from_json(variables));
        }
        Some(_) => return Err(Refusal::bad_request("`variables` must be an object")),
    }
    match map.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(extensions)) => {
            for (key, value) in extensions {
                let value = async_graphql::Value::from_json(value)
                    .map_err(|_| Refusal::bad_request("`extensions` is not valid"))?;
                request.extensions.insert(key, value);
            }
        }
        Some(_) => return Err(Refusal::bad_request("`extensions` must be an object")),
    }
    documents.prepare(&mut request);
    Ok(request)
}

fn refuse_mutation_over_get(request: &mut Request) -> Result<(), Refusal> {
    // A document that does not parse is answered by the normal path, as a request error.
    match operation_shape(request) {
        Some((OperationType::Mutation | OperationType::Subscription, _)) => Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only queries may be sent with GET; use POST",
        )),
        _ => Ok(()),
    }
}

/// The type of the operation `request` runs and how many root selections it has, when its
/// document parses and names one.
fn operation_shape(request: &mut Request) -> Option<(OperationType, usize)> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    let operation = selected_operation(document, operation_name.as_deref())?;
    let roots = &operation.node.selection_set.node.items;
    let fields = roots
        .iter()
        .all(|root| matches!(root.node, Selection::Field(_)));
    // A fragment at the root may hold any number of fields: count it as many.
    let count = if fields { roots.len() } else { usize::MAX };
    Some((operation.node.ty, count))
}

/// Whether nothing `request` does can change the catalog before it reads it: a query, or a
/// mutation with one root field (see `catalog::snapshot::EarlyEpoch`).
fn reads_before_any_write(request: &mut Request) -> bool {
    matches!(
        operation_shape(request),
        Some((OperationType::Query, _) | (OperationType::Mutation, 1))
    )
}

async fn attach_caller(
    state: &HttpState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    requests: Vec<Request>,
) -> Result<Caller, Refusal> {
    let (principal, epoch) = auth::caller(&state.app, headers)
        .await
        .map_err(|error| Refusal::from_auth(&error))?;
    // In a batch, an earlier operation may have changed the catalog since.
    let early_epoch = epoch.filter(|_| requests.len() == 1);
    let addr = ClientAddr(auth::client_addr(&state.app.config, headers, peer));
    Ok(Caller {
        requests: requests
            .into_iter()
            .map(|mut request| {
                if let Some(epoch) = early_epoch
                    && reads_before_any_write(&mut request)
                {
                    request = request.data(epoch);
                }
                loaders::attach(request.data(principal).data(addr), &state.app, principal)
            })
            .collect(),
        staff: principal.is_staff(),
        early_epoch,
    })
}

/// A caller's requests, ready to run.
struct Caller {
    requests: Vec<Request>,
    /// Whether the caller is staff (what kept responses depend on).
    staff: bool,
    /// The catalog's epoch read with the caller's account, for a single operation.
    early_epoch: Option<EarlyEpoch>,
}

async fn execute(state: &HttpState, caller: Caller, batched: bool, format: Format) -> HttpResponse {
    let mut bodies = Vec::with_capacity(caller.requests.len());
    let mut all_request_errors = true;
    for mut request in caller.requests {
        let ticket = state
            .responses
            .ticket(
                state.app.db.read(),
                &mut request,
                caller.staff,
                format.name(),
                caller.early_epoch,
            )
            .await
            .unwrap_or_else(|error| {
                // Kept responses are only a shortcut: answer as if they were not there.
                tracing::warn!(%error, "cannot read the catalog epoch");
                None
            });
        let (body, request_error) = match ticket {
            None => {
                let rendered = render(state, request, format).await;
                (rendered.body, rendered.request_error)
            }
            Some(ticket) => {
                let kept = state.responses.get_or_render(ticket, async {
                    let rendered = render(state, request, format).await;
                    if rendered.clean {
                        Ok(rendered.body.into())
                    } else {
                        Err(NotKept {
                            body: rendered.body,
                            request_error: rendered.request_error,
                        })
                    }
                });
                match kept.await {
                    Ok(body) => (body.to_vec(), false),
                    Err(not_kept) => (not_kept.body.clone(), not_kept.request_error),
                }
            }
        };
        all_request_errors &= request_error;
        bodies.push(body);
    }
    let status = if format == Format::GraphqlResponseJson && all_request_errors {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if batched {
        let mut joined = b"[".to_vec();
        for (i, body) in bodies.iter().enumerate() {
            if i > 0 {
                joined.push(b',');
            }
            joined.extend_from_slice(body);
        }
        joined.push(b']');
        joined
    } else {
        bodies.pop().unwrap_or_else(|| b"null".to_vec())
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, format.content_type());
    response
}

/// A response as sent.
struct Rendered {
    body: Vec<u8>,
    /// The operation never ran (see [`is_request_error`]).
    request_error: bool,
    /// No error at all: the response may be kept.
    clean: bool,
}

async fn render(state: &HttpState, request: Request, format: Format) -> Rendered {
    let response = state.schema.execute(request).await;
    let request_error = is_request_error(&response);
    Rendered {
        body: response_body(&response, format, request_error),
        request_error,
        clean: response.errors.is_empty(),
    }
}

/// A request error: the operation never ran (it did not parse, validate or coerce its
/// variables), so there is no `data` and no error has a `path`.
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// A response as JSON bytes, written straight from the result (no intermediate tree: a catalog
/// page is large). A request error under `application/graphql-response+json` has no `data`.
fn response_body(response: &Response, format: Format, request_error: bool) -> Vec<u8> {
    if request_error && format == Format::GraphqlResponseJson {
        let mut body = serde_json::to_value(response).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut body {
            map.remove("data");
        }
        return serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    }
    serde_json::to_vec(response).unwrap_or_else(|_| b"{}".to_vec())
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim();
    let charset_ok = parts.all(|param| {
        let param = param.trim().to_ascii_lowercase();
        param
            .strip_prefix("charset=")
            .is_none_or(|charset| matches!(charset.trim_matches('"'), "utf-8" | "utf8"))
    });
    media.eq_ignore_ascii_case(APPLICATION_JSON) && charset_ok
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// A GraphQL multipart request (operations, map, files: the community spec), parsed by
/// async-graphql within the upload limits; files become `Upload` values.
async fn receive_multipart(
    state: &HttpState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(Caller, bool), Refusal> {
    let config = &state.app.config;
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(config.max_upload_bytes)
        .max_num_files(config.max_upload_files);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let batch = async_graphql::http::receive_batch_body(
        content_type,
        futures_util::io::Cursor::new(body),
        options,
    )
    .await
    .map_err(|error| match error {
        async_graphql::ParseRequestError::PayloadTooLarge => {
            Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "a file is too large")
        }
        _ => Refusal::bad_request("invalid multipart GraphQL request"),
    })?;
    let (mut requests, batched) = match batch {
        async_graphql::BatchRequest::Single(request) => (vec![request], false),
        async_graphql::BatchRequest::Batch(requests) => {
            if requests.len() > config.max_batch {
                return Err(Refusal::bad_request(format!(
                    "at most {} operations per batch",
                    config.max_batch
                )));
            }
            (requests, true)
        }
    };
    // The files may be large; the GraphQL document itself obeys the ordinary body limit.
    if requests
        .iter()
        .any(|r| r.query.len() > config.max_body_bytes)
    {
        return Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the GraphQL document is too large",
        ));
    }
    for request in &mut requests {
        state.documents.prepare(request);
    }
    let caller = attach_caller(state, headers, peer, requests).await?;
    Ok((caller, batched))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn not_acceptable() -> HttpResponse {
    Refusal::new(
        StatusCode::NOT_ACCEPTABLE,
        "accept application/graphql-response+json or application/json",
    )
    .into_response(Format::Json)
}
