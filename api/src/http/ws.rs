//! GraphQL over WebSocket: `graphql-transport-ws` to the letter, and the legacy `graphql-ws`
//! (subscriptions-transport-ws) that Apollo Kotlin still speaks.
//!
//! The caller authenticates in the `connection_init` payload (`{"authorization": "Bearer …"}`);
//! the token is checked again on every `subscribe`, and again whenever the account changes (role,
//! password, blocking): a connection whose token died is closed with 4403 once in-flight events
//! are out, and one whose token expires is closed then too.
//!
//! Each operation runs in its own task and writes its frames to the socket itself, under the
//! socket's lock (one task wake-up per event and subscriber, not two). Control frames go into
//! a bounded queue, sent by a task that runs only while the queue holds some, and never wait: if
//! the client does not read and the queue is full, the connection is dropped, so a dead peer
//! cannot stall the read loop, pings or shutdown.
//!
//! Memory: thousands of connections sit idle, so what one holds while it waits counts (the
//! benchmark prints it per connection). A future is as large as the most it holds across any
//! one `.await`, and keeps what it captured, and an `async fn` its arguments, for its whole life.
//! So: the read loop's future is kept small (the rarely taken, large steps are boxed while they
//! run, and one timer serves every deadline); the connection's future is made by a plain
//! function, which sets up and moves only the connection into it; an operation's task captures
//! its response stream, not the request it was made from, and boxes each send; control frames
//! have no task of their own while none waits; finished operations are collected from their
//! tasks rather than through a channel of their own.
//!
//! A client's messages take effect in order: after a `subscribe`, the next message is read once
//! the subscription listens, so an event caused after it (by a mutation sent next, or after the
//! pong to a ping sent next) reaches the subscription.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{Request, Response};
use axum::{
    Extension,
    extract::{
        ConnectInfo, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket},
    },
    http::HeaderMap,
    response::{IntoResponse, Response as HttpResponse},
};
use futures_util::{
    SinkExt, Stream, StreamExt,
    stream::{SplitSink, SplitStream},
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::{AbortHandle, JoinSet};
use tokio_stream::wrappers::BroadcastStream;

use super::{HttpState, auth};
use crate::{
    auth::{Principal, service::USER_OBJECT},
    error::AppError,
    events::frames::Next,
    graphql::{context::ClientAddr, loaders},
};

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";
/// Small socket buffers: thousands of idle mobile clients must fit in memory. A connection's read
/// buffer starts at 256 bytes (1 KiB cost each idle subscriber of the benchmark about 0.45 KiB
/// more); a longer message grows it to its size, and tungstenite keeps it at that size.
const READ_BUFFER_BYTES: usize = 256;
const WRITE_BUFFER_BYTES: usize = 4 * 1024;
const OUTGOING_QUEUE: usize = 32;
/// Operations one connection may run at once.
const MAX_OPERATIONS: usize = 100;
/// A frame the peer does not take within this time means the peer is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a subscription to listen before the connection reads on.
const SETUP_WAIT: Duration = Duration::from_secs(10);
/// Time given to in-flight events after the connection's token died, before closing with 4403.
const REVOCATION_GRACE: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Transport,
    Legacy,
}

pub async fn upgrade(
    State(state): State<HttpState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
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
    let addr = auth::client_addr(
        &state.app.config,
        &headers,
        connect_info.map(|Extension(ConnectInfo(peer))| peer),
    );
    let max_message_size = state.app.config.max_body_bytes;
    // The callback below lives as long as the connection (axum keeps it in the connection's
    // task): it holds the state by a pointer.
    let state = Arc::new(state);
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(max_message_size)
        .on_upgrade(move |socket| {
            // A client that names no protocol gets the current one.
            let protocol = match socket.protocol().and_then(|p| p.to_str().ok()) {
                Some(LEGACY_WS) => Protocol::Legacy,
                _ => Protocol::Transport,
            };
            let sockets = state.sockets.clone();
            sockets.track_future(Connection::start(state, socket, protocol, ClientAddr(addr)))
        })
}

enum Outgoing {
    Frame(Message),
    Close(u16, String),
}

/// The socket's sending half, shared by the operations (their events) and the control frames.
type Sink = Arc<Socket>;

/// The sending half of a connection's socket, and the control frames (acks, pongs, pings,
/// `complete`, the close) waiting for it.
///
/// Control frames never make the read loop wait: they are queued, and a task is started to send
/// them when there are some; it ends once it has sent them all. An idle connection thus holds no
/// task and no channel for them (a writer task and its channel, kept for the connection's life,
/// cost each idle subscriber of the benchmark about a kilobyte).
struct Socket {
    sink: tokio::sync::Mutex<SplitSink<WebSocket, Message>>,
    control: std::sync::Mutex<Control>,
}

#[derive(Default)]
struct Control {
    queue: std::collections::VecDeque<Outgoing>,
    /// The task sending the queue, while there is one.
    sender: Option<tokio::task::JoinHandle<()>>,
    /// The peer did not take a frame, or the close frame went out: nothing more is sent.
    done: bool,
}

impl Socket {
    fn new(sink: SplitSink<WebSocket, Message>) -> Sink {
        Arc::new(Self {
            sink: tokio::sync::Mutex::new(sink),
            control: std::sync::Mutex::default(),
        })
    }

    fn control(&self) -> std::sync::MutexGuard<'_, Control> {
        self.control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a control frame without waiting; `false` when the peer is gone, or when
    /// [`OUTGOING_QUEUE`] frames wait already and `bounded` (the client is not reading).
    fn queue(self: &Arc<Self>, frame: Outgoing, bounded: bool) -> bool {
        let mut control = self.control();
        if control.done || (bounded && control.queue.len() >= OUTGOING_QUEUE) {
            return false;
        }
        control.queue.push_back(frame);
        if control.sender.is_none() {
            // Started under the lock: the task finds its handle stored when it ends.
            control.sender = Some(tokio::spawn(Arc::clone(self).send_queued()));
        }
        true
    }

    /// Sends the queue until it is empty, the peer does not take a frame, or the close is out.
    async fn send_queued(self: Arc<Self>) {
        loop {
            let frame = {
                let mut control = self.control();
                let Some(frame) = control.queue.pop_front() else {
                    // Idle again: nothing kept, neither this task nor the queue's room.
                    control.sender = None;
                    control.queue = std::collections::VecDeque::new();
                    return;
                };
                frame
            };
            let (message, last) = match frame {
                Outgoing::Frame(message) => (message, false),
                Outgoing::Close(code, reason) => (close_message(code, &reason), true),
            };
            if !send_frame(&self, message).await || last {
                break;
            }
        }
        {
            let mut control = self.control();
            control.done = true;
            control.queue.clear();
        }
        let mut sink = self.sink.lock().await;
        drop(tokio::time::timeout(SEND_TIMEOUT, sink.close()).await);
    }

    /// Queues the close frame behind the control frames already waiting, and returns the task
    /// that will send it (`None` if the peer is gone).
    fn close(self: &Arc<Self>, code: u16, reason: String) -> Option<tokio::task::JoinHandle<()>> {
        if !self.queue(Outgoing::Close(code, reason), false) {
            return None;
        }
        self.control().sender.take()
    }

    /// The peer is gone: drop what waits, stop sending.
    fn abandon(&self) {
        let mut control = self.control();
        control.done = true;
        control.queue.clear();
        if let Some(sender) = control.sender.take() {
            sender.abort();
        }
    }
}

/// Sends one frame; `false` when the peer is gone or has not taken it within [`SEND_TIMEOUT`].
///
/// Nearly always the socket is free and takes the frame at once: that path neither queues for
/// the lock nor arms a timer (the lock's queueing and the deadline's clock read were about 3 % of
/// the server's time in a fan-out to 10,000 subscribers). The timer starts when the peer does not
/// take the frame at once.
async fn send_frame(socket: &Socket, message: Message) -> bool {
    let mut sink = match socket.sink.try_lock() {
        Ok(sink) => sink,
        Err(_) => socket.sink.lock().await,
    };
    let mut sending = std::pin::pin!(sink.send(message));
    let result = match futures_util::poll!(sending.as_mut()) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => match tokio::time::timeout(SEND_TIMEOUT, sending).await {
            Ok(result) => result,
            Err(_) => return false,
        },
    };
    result.is_ok()
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

/// What a connection waits for besides the client: see [`Connection::deadline`].
#[derive(Clone, Copy, Debug)]
enum Deadline {
    Init,
    Revoked,
    Expired,
}

impl Deadline {
    fn end(self) -> End {
        match self {
            Self::Init => End::close(4408, "Connection initialisation timeout"),
            Self::Revoked => End::close(4403, "Forbidden: the account's tokens were revoked"),
            Self::Expired => End::close(4403, "Forbidden: the access token expired"),
        }
    }
}

/// An operation's task has finished: `failed` when it was answered with `error` (no `complete`).
struct Finished {
    id: String,
    generation: u64,
    failed: bool,
}

/// An operation's task: what it needs besides its responses.
struct Operation {
    id: String,
    generation: u64,
    protocol: Protocol,
    fingerprint: u64,
    sink: Sink,
    frames: Arc<crate::events::frames::FrameCache>,
    feed: Arc<crate::events::frames::Feed>,
    marker: crate::events::frames::EventMarker,
}

impl Operation {
    /// Sends the operation's responses, and the events its resolver handed over, until they end
    /// or the peer is gone.
    ///
    /// What this task holds while it waits for the next event is what each idle subscription
    /// costs: a response ends with the arm that renders it, and the send, with its timer, is
    /// boxed while it runs.
    async fn run(self, mut responses: impl Stream<Item = Response> + Unpin) -> Finished {
        let mut first = true;
        let mut failed = false;
        let mut events = None;
        loop {
            let next =
                std::future::poll_fn(|cx| self.feed.poll_next(cx, &mut responses, &mut events));
            let message = match next.await {
                Next::Response(None) => break,
                Next::Response(Some(response)) => {
                    let event = self.marker.take();
                    if first && is_request_error(&response) {
                        failed = true;
                        error_message(self.protocol, &self.id, &response)
                    } else if let Some(event) = event.filter(|_| response.errors.is_empty()) {
                        // The same document gets the same bytes for the same event: render once.
                        let payload = self.frames.payload(self.fingerprint, event, || {
                            serde_json::to_string(&response).unwrap_or_default()
                        });
                        shared_next_message(self.protocol, &self.id, &payload)
                    } else {
                        next_message(self.protocol, &self.id, &response)
                    }
                }
                // An event another subscriber with the same document rendered goes out as it
                // is; any other goes back to the resolver, and comes back as a response.
                Next::Event(Some(Ok(event))) => {
                    let Some(payload) = self.frames.rendered(self.fingerprint, event.id) else {
                        self.feed.forward(Some(Ok(event)));
                        continue;
                    };
                    shared_next_message(self.protocol, &self.id, &payload)
                }
                Next::Event(other) => {
                    self.feed.forward(other);
                    continue;
                }
            };
            first = false;
            if !Box::pin(send_frame(&self.sink, message)).await || failed {
                break;
            }
        }
        Finished {
            id: self.id,
            generation: self.generation,
            failed,
        }
    }
}

struct Connection {
    /// Shared, not copied: the upgrade's callback holds it too for the connection's life.
    state: Arc<HttpState>,
    protocol: Protocol,
    addr: ClientAddr,
    sink: Sink,
    /// The operations' tasks; each ends with what [`Connection::finish`] needs.
    tasks: JoinSet<Finished>,
    /// The verified token's subject and version (not the token: it is checked once), for the
    /// checks against the account's current state.
    token: Option<(uuid::Uuid, i32)>,
    /// When the token stops being valid (its `exp`).
    token_expires: Option<tokio::time::Instant>,
    principal: Principal,
    initialised: bool,
    next_generation: u64,
    operations: HashMap<String, (u64, AbortHandle)>,
    /// Set when the token died: close with 4403 at this instant.
    revoked_at: Option<tokio::time::Instant>,
}

impl Connection {
    /// Sets the connection up and returns its life as a future. Not an `async fn`: an async
    /// fn keeps its arguments for as long as it runs, beside the connection they moved into.
    fn start(
        state: Arc<HttpState>,
        socket: WebSocket,
        protocol: Protocol,
        addr: ClientAddr,
    ) -> impl Future<Output = ()> + Send + 'static {
        let (sink, stream) = socket.split();
        let sink = Socket::new(sink);
        let mut connection = Self {
            state,
            protocol,
            addr,
            sink,
            tasks: JoinSet::new(),
            token: None,
            token_expires: None,
            principal: Principal::PUBLIC,
            initialised: false,
            next_generation: 0,
            operations: HashMap::new(),
            revoked_at: None,
        };
        async move {
            let end = connection.read_loop(stream).await;
            connection.tasks.abort_all();
            match end {
                End::Close(code, reason) => {
                    let sending = connection.sink.close(code, reason);
                    drop(connection);
                    if let Some(sending) = sending {
                        drop(tokio::time::timeout(SEND_TIMEOUT, sending).await);
                    }
                }
                End::Gone => connection.sink.abandon(),
            }
        }
    }

    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>) -> End {
        let config = self.state.app.config.clone();
        let init_deadline = tokio::time::Instant::now() + config.ws_init_timeout;
        let mut ping = tokio::time::interval(config.ws_ping_interval);
        ping.tick().await;
        let mut last_seen = Instant::now();
        let shutdown = self.state.shutdown.clone();
        let mut account_events = BroadcastStream::new(self.state.app.events.subscribe_accounts());
        let far = tokio::time::Instant::now() + Duration::from_hours(365 * 24);
        loop {
            // One timer for the earliest of them: each timer is room in this future, which every
            // idle connection holds.
            let deadline = self.deadline(init_deadline);
            tokio::select! {
                () = shutdown.cancelled() => return End::close(1001, "Server shutting down"),
                () = tokio::time::sleep_until(deadline.map_or(far, |(at, _)| at)), if deadline.is_some() => {
                    if let Some((_, deadline)) = deadline {
                        return deadline.end();
                    }
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > config.ws_ping_interval * 2 {
                        return End::Gone;
                    }
                    if !self.control(Message::Ping(axum::body::Bytes::new())) {
                        return End::Gone;
                    }
                    if self.protocol == Protocol::Legacy && self.initialised && !self.control_json(&json!({ "type": "ka" })) {
                        return End::Gone;
                    }
                }
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    // An aborted task (the client completed it) has nothing more to say.
                    if let Ok(finished) = joined
                        && let Some(end) = self.finish(&finished)
                    {
                        return end;
                    }
                }
                Some(event) = account_events.next(), if self.principal.user_id().is_some() => {
                    // Any change to this account (or a lag that may have hidden one) is checked
                    // against the database: a dead token ends the connection.
                    let mine = match &event {
                        Ok(event) => event.object_type == USER_OBJECT && event.owner_user_id == self.principal.user_id(),
                        Err(_) => true,
                    };
                    if mine && self.revoked_at.is_none() && Box::pin(self.authenticate()).await.is_err() {
                        self.revoked_at = Some(tokio::time::Instant::now() + REVOCATION_GRACE);
                    }
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
                    // Boxed while it runs: the loop's own future stays small for idle connections.
                    if let Some(end) = Box::pin(self.on_text(text.as_str())).await {
                        return end;
                    }
                }
            }
        }
    }

    /// The earliest instant this connection must end at, and why: the client has not sent
    /// `connection_init` in time, its token died, or its token expires.
    fn deadline(&self, init: tokio::time::Instant) -> Option<(tokio::time::Instant, Deadline)> {
        [
            (!self.initialised).then_some((init, Deadline::Init)),
            self.revoked_at.map(|at| (at, Deadline::Revoked)),
            self.token_expires.map(|at| (at, Deadline::Expired)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
    }

    /// An operation ended: free its id (unless the id was reused since), then tell the client.
    /// The id is freed before `complete` goes out, so the client may reuse it at once.
    fn finish(&mut self, finished: &Finished) -> Option<End> {
        if self
            .operations
            .get(&finished.id)
            .is_some_and(|(generation, _)| *generation == finished.generation)
        {
            self.operations.remove(&finished.id);
        }
        if finished.failed {
            return None;
        }
        let complete = Message::text(json!({ "type": "complete", "id": finished.id }).to_string());
        // Behind the operation's own events, even when the queue is full: at most one per
        // operation.
        self.sink.queue(Outgoing::Frame(complete), false);
        None
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
                (!self.control_json(&json!({ "type": "connection_ack" }))).then_some(End::Gone)
            }
            TransportMessage::Ping { payload } => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload {
                    pong["payload"] = payload;
                }
                (!self.control_json(&pong)).then_some(End::Gone)
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
                self.subscribe(id, payload).await
            }
            TransportMessage::Complete { id } => {
                if let Some((_, handle)) = self.operations.remove(&id) {
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
                let reply = json!({ "type": "connection_error", "payload": { "message": format!("Invalid message: {error}") } });
                return (!self.control_json(&reply)).then_some(End::Gone);
            }
        };
        match message {
            LegacyMessage::ConnectionInit { payload } => {
                if self.initialised {
                    return None;
                }
                if let Err(end) = self.init(payload.as_ref()).await {
                    if let End::Close(_, reason) = &end {
                        self.control_json(&json!({ "type": "connection_error", "payload": { "message": reason } }));
                    }
                    return Some(end);
                }
                let acked = self.control_json(&json!({ "type": "connection_ack" }))
                    && self.control_json(&json!({ "type": "ka" }));
                (!acked).then_some(End::Gone)
            }
            LegacyMessage::Start { id, payload } => {
                if !self.initialised {
                    return Some(End::close(4401, "Unauthorized"));
                }
                if self.operations.contains_key(&id) {
                    let reply = json!({ "type": "error", "id": id, "payload": { "message": "operation id already in use" } });
                    return (!self.control_json(&reply)).then_some(End::Gone);
                }
                self.subscribe(id, payload).await
            }
            LegacyMessage::Stop { id } => {
                if let Some((_, handle)) = self.operations.remove(&id) {
                    handle.abort();
                }
                None
            }
            LegacyMessage::ConnectionTerminate {} => Some(End::close(1000, "Normal closure")),
        }
    }

    /// Accepts `connection_init`: the payload, if any, is an object that may carry
    /// `authorization: "Bearer …"`.
    async fn init(&mut self, payload: Option<&Value>) -> Result<(), End> {
        let payload = match payload {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                return Err(End::close(
                    4400,
                    "Invalid message: the payload must be an object",
                ));
            }
        };
        let authorization =
            payload.and_then(|p| p.get("authorization").or_else(|| p.get("Authorization")));
        match authorization {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) => {
                let token = auth::bearer(value)
                    .ok_or_else(|| End::close(4403, "Forbidden: expected `Bearer <token>`"))?;
                let claims = self.state.app.jwt.verify(token).map_err(refusal)?;
                let left = claims.exp - self.state.app.clock.now().timestamp();
                self.token_expires = Some(
                    tokio::time::Instant::now()
                        + Duration::from_secs(u64::try_from(left.max(0)).unwrap_or(0)),
                );
                self.token = Some((claims.sub, claims.tv));
            }
            Some(_) => {
                return Err(End::close(
                    4403,
                    "Forbidden: `authorization` must be a string",
                ));
            }
        }
        self.principal = self.authenticate().await?;
        self.initialised = true;
        Ok(())
    }

    /// The caller, checked against the account's current state (blocked, revoked): 4403 when
    /// refused, 1011 when the check itself failed. The token's expiry is the connection's
    /// [`Deadline::Expired`].
    async fn authenticate(&self) -> Result<Principal, End> {
        let Some((user_id, version)) = self.token else {
            return Ok(Principal::PUBLIC);
        };
        crate::auth::service::recheck(&self.state.app, user_id, version)
            .await
            .map_err(refusal)
    }

    async fn subscribe(&mut self, id: String, payload: OperationPayload) -> Option<End> {
        let principal = match self.authenticate().await {
            Ok(principal) => principal,
            Err(end) => return Some(end),
        };
        if self.operations.len() >= MAX_OPERATIONS {
            let reply = self.error_json(
                &id,
                &format!("at most {MAX_OPERATIONS} operations per connection"),
            );
            return (!self.control_json(&reply)).then_some(End::Gone);
        }
        let variables = match payload.variables {
            None | Some(Value::Null) => None,
            Some(variables @ Value::Object(_)) => Some(variables),
            Some(_) => {
                let reply = self.error_json(&id, "`variables` must be an object");
                return (!self.control_json(&reply)).then_some(End::Gone);
            }
        };
        self.principal = principal;
        let fingerprint = crate::events::frames::fingerprint(
            &payload.query,
            payload.operation_name.as_deref(),
            variables.as_ref(),
            principal.is_staff(),
        );
        let marker = crate::events::frames::EventMarker::default();
        let feed = Arc::new(crate::events::frames::Feed::default());
        let request = Request::new(payload.query)
            .data(principal)
            .data(self.addr)
            .data(marker.clone())
            .data(Arc::clone(&feed));
        let mut request = loaders::attach(request, &self.state.app, principal);
        if let Some(name) = payload.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = variables {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        self.state.documents.prepare(&mut request);
        let listening = if is_subscription(&mut request) {
            let (listening, receiver) = crate::events::graphql::Listening::new();
            request = request.data(listening);
            Some(receiver)
        } else {
            None
        };
        self.next_generation += 1;
        let generation = self.next_generation;
        // Made here, not in the task: what a task captures stays in it for its whole life, and
        // the request (with its query text and variables) is only needed to start the stream.
        let responses = self.state.schema.execute_stream(request);
        let operation = Operation {
            id: id.clone(),
            generation,
            protocol: self.protocol,
            fingerprint,
            sink: Arc::clone(&self.sink),
            frames: Arc::clone(&self.state.app.frames),
            feed,
            marker,
        };
        let handle = self.tasks.spawn(operation.run(responses));
        self.operations.insert(id, (generation, handle));
        if let Some(listening) = listening {
            // A client's messages take effect in order: once it has a reply to the next one
            // (a pong, a mutation's result), its subscription hears every later event.
            drop(tokio::time::timeout(SETUP_WAIT, listening).await);
        }
        None
    }

    fn error_json(&self, id: &str, message: &str) -> Value {
        let payload = match self.protocol {
            Protocol::Transport => {
                json!([{ "message": message, "extensions": { "code": "VALIDATION" } }])
            }
            Protocol::Legacy => {
                json!({ "message": message, "extensions": { "code": "VALIDATION" } })
            }
        };
        json!({ "type": "error", "id": id, "payload": payload })
    }

    /// Queues a control frame without waiting; `false` when the client is not reading.
    fn control(&self, message: Message) -> bool {
        self.sink.queue(Outgoing::Frame(message), true)
    }

    fn control_json(&self, value: &Value) -> bool {
        self.control(Message::text(value.to_string()))
    }
}

/// Whether the operation the request runs is a subscription (`false` for a document that does
/// not parse: it gets its error at once).
fn is_subscription(request: &mut Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    crate::graphql::documents::selected_operation(document, name.as_deref())
        .is_some_and(|operation| operation.node.ty == OperationType::Subscription)
}

/// How a refused (4403) or failed (1011) authentication ends the connection.
fn refusal(error: AppError) -> End {
    match error {
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "WebSocket authentication failed");
            End::close(1011, "Internal error")
        }
        refused => End::close(4403, format!("Forbidden: {}", refused.code().as_str())),
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

/// A `next` frame around a payload rendered once for many subscribers.
fn shared_next_message(protocol: Protocol, id: &str, payload: &str) -> Message {
    let kind = match protocol {
        Protocol::Transport => "next",
        Protocol::Legacy => "data",
    };
    // Client ids are nearly always plain: those go out as they are, without a JSON escape.
    let plain = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    let mut frame = String::with_capacity(id.len() + payload.len() + 40);
    frame.push_str(r#"{"type":""#);
    frame.push_str(kind);
    frame.push_str(r#"","id":"#);
    if plain {
        frame.push('"');
        frame.push_str(id);
        frame.push('"');
    } else {
        frame.push_str(&serde_json::to_string(id).unwrap_or_default());
    }
    frame.push_str(r#","payload":"#);
    frame.push_str(payload);
    frame.push('}');
    Message::text(frame)
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
    ConnectionTerminate {},
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A shared payload goes out under the operation's id, escaped when the id needs it.
    #[test]
    fn a_shared_frame_carries_any_id_as_json() {
        for (protocol, kind) in [(Protocol::Transport, "next"), (Protocol::Legacy, "data")] {
            for id in ["1", "sub-2_a.b", "a\"b\\c", "é 1", ""] {
                let Message::Text(text) = shared_next_message(protocol, id, r#"{"data":1}"#) else {
                    panic!("not text");
                };
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(
                    frame,
                    json!({ "type": kind, "id": id, "payload": { "data": 1 } })
                );
            }
        }
    }
}
