//! A webhook receiver for the tests: a real HTTP server that records every request and answers
//! with the statuses it is told to (200 once those run out), optionally after a delay. It can be
//! started late on a reserved port, so that the first attempts find the port closed.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{
    EndpointExt, Request, Route, handler, http::StatusCode, listener::TcpAcceptor, post, web::Data,
};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn webhook_id(&self) -> &str {
        &self.headers["webhook-id"]
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    /// (status, delay) for the next requests.
    answers: VecDeque<(u16, Duration)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    server: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

#[handler]
async fn receive(req: &Request, body: String, script: Data<&Arc<Mutex<Script>>>) -> StatusCode {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let (status, delay) = {
        let mut script = script.lock().unwrap();
        script.received.push(Received { headers, body });
        script.answers.pop_front().unwrap_or((200, Duration::ZERO))
    };
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    /// Reserves a port and listens on it now.
    pub async fn start() -> Receiver {
        let receiver = Receiver::reserve().await;
        receiver.listen().await;
        receiver
    }

    /// Reserves a port without listening: connections are refused until [`listen`].
    pub async fn reserve() -> Receiver {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        Receiver {
            addr,
            script: Arc::default(),
            server: Arc::default(),
        }
    }

    pub async fn listen(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let app = Route::new()
            .at("/hook", post(receive))
            .data(self.script.clone());
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let handle = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
        });
        *self.server.lock().unwrap() = Some(handle);
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The next requests get these statuses, each after `delay`.
    pub fn answer(&self, statuses: &[u16], delay: Duration) {
        let mut script = self.script.lock().unwrap();
        script
            .answers
            .extend(statuses.iter().map(|status| (*status, delay)));
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Waits until `done` holds for what was received, or panics at the deadline.
    pub async fn wait_for(
        &self,
        deadline: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let started = std::time::Instant::now();
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                started.elapsed() < deadline,
                "receiver: condition not met after {deadline:?}; got {received:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1
            && let Some(server) = self.server.lock().unwrap().take()
        {
            server.abort();
        }
    }
}

/// Verifies the requests' signatures with the reference library (`tests/e2e/verify_webhooks.py`,
/// PyPI `standardwebhooks`) and returns how many it verified.
pub fn verify_with_reference_library(secret: &str, received: &[Received]) -> usize {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/verify_webhooks.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        let mut stdin = child.stdin.take().unwrap();
        for message in received {
            let line =
                json!({ "secret": secret, "headers": message.headers, "body": message.body });
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "reference verification failed: {printed}"
    );
    printed
        .trim()
        .strip_prefix("verified ")
        .and_then(|n| n.parse().ok())
        .expect("the verifier's count")
}
