//! A Prometheus HTTP API double for fault tests: answers `/api/v1/query` for the queue
//! depth (queries naming `queue_depth`) and the arrival rate (any other query) as the test
//! sets, and can be down (nothing listens on its port), slower than the client's timeout,
//! or answer garbage, an empty result or only part of the queries. `/api/v1/query_range`
//! answers an empty matrix. The real Prometheus (`prometheus.rs`) cannot be made to
//! answer garbage or half its queries; this double can, through prescale's real client.
#![allow(dead_code)]

use axum::extract::Query;
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How the double answers queries.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Both metrics, as these values.
    Values {
        /// The queue depth's value.
        queue_depth: f64,
        /// The arrival rate's value.
        arrival_rate: f64,
    },
    /// Both metrics as 0, but only after this delay.
    Slow(Duration),
    /// `200 OK` with an HTML page (a proxy's error page, a wrong URL).
    Garbage,
    /// A successful answer with no series (the metric is not exported, or a label typo).
    Empty,
    /// The queue depth is answered; the arrival rate comes back empty.
    Partial,
}

/// A running double; its port stays the same across [`PrometheusDouble::stop`] and
/// [`PrometheusDouble::restart`].
pub struct PrometheusDouble {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    server: Option<JoinHandle<()>>,
    /// While stopped: the port, bound but not listening (connections are refused), so that
    /// no other socket takes it before [`PrometheusDouble::restart`].
    held: Option<tokio::net::TcpSocket>,
}

impl PrometheusDouble {
    /// Start on a free port of 127.0.0.1, answering `answer`.
    pub async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let answer = Arc::new(Mutex::new(answer));
        let server = Some(serve(listener, answer.clone()));
        Self {
            addr,
            answer,
            server,
            held: None,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer `answer` from now on.
    pub fn set(&self, answer: Answer) {
        *self.answer.lock().expect("answer lock") = answer;
    }

    /// Stop listening: connections are refused (every answer closes its connection, so no
    /// pooled one outlives this).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
            let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
            // Answers closed their connections, which may linger in TIME_WAIT on this port.
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            socket.bind(self.addr).expect("hold the port while stopped");
            self.held = Some(socket);
        }
    }

    /// Listen again on the same port.
    pub async fn restart(&mut self) {
        let listener = match self.held.take() {
            Some(socket) => socket.listen(1024).expect("listen on the held port"),
            None => tokio::net::TcpListener::bind(self.addr)
                .await
                .expect("bind the same port again"),
        };
        self.server = Some(serve(listener, self.answer.clone()));
    }
}

fn serve(listener: tokio::net::TcpListener, answer: Arc<Mutex<Answer>>) -> JoinHandle<()> {
    let app = axum::Router::new().fallback(
        move |uri: Uri, Query(params): Query<HashMap<String, String>>| {
            let answer = answer.lock().expect("answer lock").clone();
            async move {
                let query = params.get("query").cloned().unwrap_or_default();
                let mut response = respond(uri.path(), &query, answer).await;
                response
                    .headers_mut()
                    .insert(header::CONNECTION, "close".parse().expect("header value"));
                response
            }
        },
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

async fn respond(path: &str, query: &str, answer: Answer) -> Response {
    if path.ends_with("/query_range") {
        return success(json!({ "resultType": "matrix", "result": [] }));
    }
    let is_depth = query.contains("queue_depth");
    let value = match answer {
        Answer::Values {
            queue_depth,
            arrival_rate,
        } => Some(if is_depth { queue_depth } else { arrival_rate }),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Some(0.0)
        }
        Answer::Garbage => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        Answer::Empty => None,
        Answer::Partial => is_depth.then_some(0.0),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let result: Vec<serde_json::Value> = value
        .map(|v| json!({ "metric": {}, "value": [now, v.to_string()] }))
        .into_iter()
        .collect();
    success(json!({ "resultType": "vector", "result": result }))
}

fn success(data: serde_json::Value) -> Response {
    axum::Json(json!({ "status": "success", "data": data })).into_response()
}
