//! A real SMTP server on loopback (mailin-embedded), collecting what it receives.

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use mailin::{Handler, Response, response};

#[derive(Clone, Default)]
struct Collector {
    current: Vec<u8>,
    received: Arc<Mutex<Vec<String>>>,
    /// How long accepting each message takes (a slow server).
    delay: Duration,
    /// Messages being received now, and the most received at once.
    receiving: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Handler for Collector {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        let now = self.receiving.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        std::thread::sleep(self.delay);
        self.receiving.fetch_sub(1, Ordering::SeqCst);
        let text = String::from_utf8_lossy(&self.current).into_owned();
        self.received.lock().unwrap().push(text);
        response::OK
    }
}

/// An SMTP server that keeps every message it accepts.
pub struct MailSink {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
    most: Arc<AtomicUsize>,
}

impl MailSink {
    /// Starts a server on a free loopback port.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener, Duration::ZERO)
    }

    /// A server that takes `delay` to accept each message.
    pub fn start_slow(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::start_on(listener, delay)
    }

    /// Starts a server on `port` (for a server that comes up after its clients).
    pub fn start_on_port(port: u16) -> Self {
        Self::start_on(
            TcpListener::bind(("127.0.0.1", port)).unwrap(),
            Duration::ZERO,
        )
    }

    fn start_on(listener: TcpListener, delay: Duration) -> Self {
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let most = Arc::new(AtomicUsize::new(0));
        let handler = Collector {
            current: Vec::new(),
            received: Arc::clone(&received),
            delay,
            receiving: Arc::default(),
            most: Arc::clone(&most),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("sink.test")
            // As many sessions at once as the outbox worker sends messages (8), and more.
            .with_num_threads(16)
            .with_tcp_listener(listener);
        // The server runs until the test process ends.
        std::thread::spawn(move || drop(server.serve()));
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            received,
            most,
        }
    }

    /// The most messages this server was receiving at once.
    pub fn most_at_once(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }

    pub fn messages(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` messages arrived (at most 15 s).
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..150 {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {count} messages, got {:?}", self.messages());
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `token=` value of the first link in a message (quoted-printable soft breaks undone).
pub fn token_in(message: &str) -> String {
    let flat = message.replace("=\r\n", "").replace("=3D", "=");
    let start = flat.find("token=").expect("a link with a token") + "token=".len();
    flat[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
