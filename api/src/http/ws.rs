//! GraphQL over WebSocket: `graphql-transport-ws` to the letter, and the legacy `graphql-ws`
//! (subscriptions-transport-ws) that Apollo Kotlin still speaks.
//!
//! The caller authenticates in the `connection_init` payload (`{"authorization": "Bearer …"}`);
//! the token is checked again on every `subscribe`, so a blocked account cannot start anything.
//! Each operation runs in its own task and writes through a bounded channel: a slow client only
//! slows its own operations.

use std::{collections::HashMap, net::SocketAddr, time::Instant};

use async_graphql::{Request, Response};
use axum::{
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    http::HeaderMap,
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::{SinkExt, StreamExt, stream::SplitStream};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::AbortHandle};

use super::{HttpState, auth};
use crate::{
    auth::Principal,
    error::AppError,
    graphql::{context::ClientAddr, loaders},
};

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";
/// Small socket buffers: thousands of idle mobile clients must fit in memory.
const SOCKET_BUFFER_BYTES: usize = 4 * 1024;
const OUTGOING_QUEUE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Transport,
    Legacy,
}

pub async fn upgrade(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    let offered: Vec<String> = upgrade
        .requested_protocols()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| {
            value
                .split(',')
                .map(|p| p.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    if !offered.is_empty() && !offered.iter().any(|p| p == TRANSPORT_WS || p == LEGACY_WS) {
        let body = format!("supported subprotocols: {TRANSPORT_WS}, {LEGACY_WS}");
        return (axum::http::StatusCode::BAD_REQUEST, body).into_response();
    }
    let addr = auth::client_addr(&state.app.config, &headers, peer);
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(SOCKET_BUFFER_BYTES)
        .write_buffer_size(SOCKET_BUFFER_BYTES)
        .max_message_size(state.app.config.max_body_bytes)
        .on_upgrade(move |socket| {
            let sockets = state.sockets.clone();
            sockets.track_future(async move {
                // A client that names no protocol gets the current one.
                let protocol = match socket.protocol().and_then(|p| p.to_str().ok()) {
                    Some(LEGACY_WS) => Protocol::Legacy,
                    _ => Protocol::Transport,
                };
                Connection::run(state, socket, protocol, ClientAddr(Some(addr))).await;
            })
        })
}

enum Outgoing {
    Frame(Message),
    Close(u16, String),
}

/// Why the read loop ended: a close code to send, or the peer is gone.
enum End {
    Close(u16, String),
    Gone,
}

impl End {
    fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close(code, reason.into())
    }
}

struct Connection {
    state: HttpState,
    protocol: Protocol,
    addr: ClientAddr,
    out: mpsc::Sender<Outgoing>,
    done_tx: mpsc::UnboundedSender<String>,
    token: Option<String>,
    initialised: bool,
    operations: HashMap<String, AbortHandle>,
}

impl Connection {
    async fn run(state: HttpState, socket: WebSocket, protocol: Protocol, addr: ClientAddr) {
        let (mut sink, stream) = socket.split();
        let (out, mut out_rx) = mpsc::channel::<Outgoing>(OUTGOING_QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(outgoing) = out_rx.recv().await {
                match outgoing {
                    Outgoing::Frame(message) => {
                        if sink.send(message).await.is_err() {
                            break;
                        }
                    }
                    Outgoing::Close(code, reason) => {
                        drop(sink.send(close_message(code, &reason)).await);
                        break;
                    }
                }
            }
            drop(sink.close().await);
        });
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut connection = Self {
            state,
            protocol,
            addr,
            out,
            done_tx,
            token: None,
            initialised: false,
            operations: HashMap::new(),
        };
        let end = connection.read_loop(stream, done_rx).await;
        for handle in connection.operations.values() {
            handle.abort();
        }
        if let End::Close(code, reason) = end {
            drop(connection.out.send(Outgoing::Close(code, reason)).await);
        }
        drop(connection);
        drop(writer.await);
    }

    async fn read_loop(
        &mut self,
        mut stream: SplitStream<WebSocket>,
        mut done_rx: mpsc::UnboundedReceiver<String>,
    ) -> End {
        let config = self.state.app.config.clone();
        let init_deadline = tokio::time::Instant::now() + config.ws_init_timeout;
        let mut ping = tokio::time::interval(config.ws_ping_interval);
        ping.tick().await;
        let mut last_seen = Instant::now();
        let shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return End::close(1001, "Server shutting down"),
                () = tokio::time::sleep_until(init_deadline), if !self.initialised => {
                    return End::close(4408, "Connection initialisation timeout");
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > config.ws_ping_interval * 2 {
                        return End::Gone;
                    }
                    self.send(Message::Ping(axum::body::Bytes::new())).await;
                    if self.protocol == Protocol::Legacy && self.initialised {
                        self.send_json(&json!({ "type": "ka" })).await;
                    }
                }
                Some(id) = done_rx.recv() => {
                    self.operations.remove(&id);
                }
                message = stream.next() => {
                    let Some(Ok(message)) = message else { return End::Gone };
                    last_seen = Instant::now();
                    let text = match message {
                        Message::Text(text) => text,
                        Message::Binary(_) => return End::close(4400, "Binary messages are not supported"),
                        Message::Close(_) => return End::Gone,
                        Message::Ping(_) | Message::Pong(_) => continue,
                    };
                    if let Some(end) = self.on_text(text.as_str()).await {
                        return end;
                    }
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Option<End> {
        match self.protocol {
            Protocol::Transport => self.on_transport_message(text).await,
            Protocol::Legacy => self.on_legacy_message(text).await,
        }
    }

    async fn on_transport_message(&mut self, text: &str) -> Option<End> {
        let message = match serde_json::from_str::<TransportMessage>(text) {
            Ok(message) => message,
            Err(error) => return Some(End::close(4400, format!("Invalid message: {error}"))),
        };
        match message {
            TransportMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return Some(End::close(4429, "Too many initialisation requests"));
                }
                if let Err(end) = self.init(payload.as_ref()).await {
                    return Some(end);
                }
                self.send_json(&json!({ "type": "connection_ack" })).await;
                None
            }
            TransportMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                self.send_json(&pong).await;
                None
            }
            TransportMessage::Pong {} => None,
            TransportMessage::Subscribe { id, payload } => {
                if !self.initialised {
                    return Some(End::close(4401, "Unauthorized"));
                }
                if self.operations.contains_key(&id) {
                    return Some(End::close(
                        4409,
                        format!("Subscriber for {id} already exists"),
                    ));
                }
                let principal = match self.principal().await {
                    Ok(principal) => principal,
                    Err(end) => return Some(end),
                };
                self.start(id, payload, principal);
                None
            }
            TransportMessage::Complete { id } => {
                if let Some(handle) = self.operations.remove(&id) {
                    handle.abort();
                }
                None
            }
        }
    }

    async fn on_legacy_message(&mut self, text: &str) -> Option<End> {
        let message = match serde_json::from_str::<LegacyMessage>(text) {
            Ok(message) => message,
            Err(error) => {
                self.send_json(&json!({ "type": "connection_error", "payload": { "message": format!("Invalid message: {error}") } }))
                    .await;
                return None;
            }
        };
        match message {
            LegacyMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return None;
                }
                if let Err(end) = self.init(payload.as_ref()).await {
                    if let End::Close(_, reason) = &end {
                        self.send_json(&json!({ "type": "connection_error", "payload": { "message": reason } }))
                            .await;
                    }
                    return Some(end);
                }
                self.send_json(&json!({ "type": "connection_ack" })).await;
                self.send_json(&json!({ "type": "ka" })).await;
                None
            }
            LegacyMessage::Start { id, payload } => {
                if !self.initialised {
                    return Some(End::close(4401, "Unauthorized"));
                }
                if self.operations.contains_key(&id) {
                    self.send_json(&json!({ "type": "error", "id": id, "payload": { "message": "operation id already in use" } }))
                        .await;
                    return None;
                }
                let principal = match self.principal().await {
                    Ok(principal) => principal,
                    Err(end) => return Some(end),
                };
                self.start(id, payload, principal);
                None
            }
            LegacyMessage::Stop { id } => {
                if let Some(handle) = self.operations.remove(&id) {
                    handle.abort();
                }
                None
            }
            LegacyMessage::ConnectionTerminate => Some(End::close(1000, "Normal closure")),
        }
    }

    /// Accepts `connection_init`: the payload may carry `authorization: "Bearer …"`.
    async fn init(&mut self, payload: Option<&Value>) -> Result<(), End> {
        let authorization = payload
            .and_then(|payload| {
                payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
            })
            .and_then(Value::as_str);
        if let Some(value) = authorization {
            let token = auth::bearer(value)
                .ok_or_else(|| End::close(4403, "Forbidden: expected `Bearer <token>`"))?;
            self.token = Some(token.to_owned());
        }
        self.principal().await?;
        self.initialised = true;
        Ok(())
    }

    /// The caller, checked against the account's current state (blocked, revoked): 4403 when
    /// refused, 1011 when the check itself failed.
    async fn principal(&self) -> Result<Principal, End> {
        let Some(token) = &self.token else {
            return Ok(Principal::PUBLIC);
        };
        crate::auth::service::authenticate(&self.state.app, token)
            .await
            .map_err(|error| match error {
                AppError::Internal(cause) => {
                    tracing::error!(error = ?cause, "WebSocket authentication failed");
                    End::close(1011, "Internal error")
                }
                refused => End::close(4403, format!("Forbidden: {}", refused.code().as_str())),
            })
    }

    fn start(&mut self, id: String, payload: OperationPayload, principal: Principal) {
        let request = Request::new(payload.query).data(principal).data(self.addr);
        let mut request = loaders::attach(request, &self.state.app, principal);
        if let Some(name) = payload.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = payload.variables {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        let schema = self.state.schema.clone();
        let out = self.out.clone();
        let done = self.done_tx.clone();
        let protocol = self.protocol;
        let task_id = id.clone();
        let handle = tokio::spawn(async move {
            let id = task_id;
            let mut responses = schema.execute_stream(request);
            let mut first = true;
            let mut failed = false;
            while let Some(response) = responses.next().await {
                let message = if first && is_request_error(&response) {
                    failed = true;
                    error_message(protocol, &id, &response)
                } else {
                    next_message(protocol, &id, &response)
                };
                first = false;
                if out.send(Outgoing::Frame(message)).await.is_err() || failed {
                    break;
                }
            }
            if !failed {
                let complete = json!({ "type": "complete", "id": id });
                drop(
                    out.send(Outgoing::Frame(Message::text(complete.to_string())))
                        .await,
                );
            }
            drop(done.send(id));
        });
        self.operations.insert(id, handle.abort_handle());
    }

    async fn send(&self, message: Message) {
        drop(self.out.send(Outgoing::Frame(message)).await);
    }

    async fn send_json(&self, value: &Value) {
        self.send(Message::text(value.to_string())).await;
    }
}

fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn next_message(protocol: Protocol, id: &str, response: &Response) -> Message {
    let kind = match protocol {
        Protocol::Transport => "next",
        Protocol::Legacy => "data",
    };
    Message::text(json!({ "type": kind, "id": id, "payload": response }).to_string())
}

/// An operation that could not start: `error` with the list of GraphQL errors (a single error
/// object in the legacy protocol).
fn error_message(protocol: Protocol, id: &str, response: &Response) -> Message {
    let payload = match protocol {
        Protocol::Transport => json!(response.errors),
        Protocol::Legacy => json!(response.errors.first()),
    };
    Message::text(json!({ "type": "error", "id": id, "payload": payload }).to_string())
}

fn close_message(code: u16, reason: &str) -> Message {
    // Close reasons are limited to 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationPayload {
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TransportMessage {
    ConnectionInit {
        payload: Option<Value>,
    },
    Ping {
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: OperationPayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LegacyMessage {
    ConnectionInit {
        payload: Option<Value>,
    },
    Start {
        id: String,
        payload: OperationPayload,
    },
    Stop {
        id: String,
    },
    ConnectionTerminate,
}
