//! Answers larger than prescale reads are cut off while they stream: an endless body (a
//! wrong URL pointing at a download, a query selecting millions of series) fails with an
//! error naming the URL and the cap once the cap is passed, instead of filling memory or
//! running into the timeout; a `Content-Length` above the cap fails before the body is read.

use axum::body::{Body, Bytes};
use axum::http::{Request, header};
use axum::response::Response;
use prescale::metrics::prometheus::{MAX_ANSWER, PromApi, PromClient};
use prescale::metrics::scrape::{MAX_PAGE, ScrapeClient};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

mod support;

/// Chunks the endless body is made of.
const CHUNK: usize = 64 * 1024;

/// A server whose `/endless/...` paths stream zeros forever (no `Content-Length`), and whose
/// `/announced/...` paths announce a 1 GiB body. Returns its URL and the bytes it sent.
async fn start() -> (String, Arc<AtomicUsize>) {
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let sent = counter.clone();
        async move {
            let chunks = futures::stream::repeat_with(move || {
                sent.fetch_add(CHUNK, Ordering::Relaxed);
                Ok::<_, Infallible>(Bytes::from(vec![b'#'; CHUNK]))
            });
            let mut response = Response::builder();
            if request.uri().path().starts_with("/announced") {
                response = response.header(header::CONTENT_LENGTH, 1usize << 30);
            }
            response.body(Body::from_stream(chunks)).expect("response")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, sent)
}

/// The server sent little more than the cap: the client stopped reading there (socket
/// buffers on both sides hold a few MiB at most).
fn stopped_near_the_cap(sent: &AtomicUsize, cap: usize) {
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent < cap + 16 * 1024 * 1024,
        "{sent} bytes sent for a cap of {cap}"
    );
}

#[tokio::test]
async fn an_endless_prometheus_answer_is_cut_off_at_the_cap() {
    let (url, sent) = start().await;
    let mut config = support::prometheus_config(&format!("{url}/endless"));
    config.timeout = Duration::from_secs(60);
    let client = PromClient::new(&config).expect("client");
    let e = client
        .instant("up", SystemTime::now())
        .await
        .expect_err("too large");
    assert_eq!(e.reason(), "too_large", "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("{url}/endless/api/v1/query"))
            && text.contains(&MAX_ANSWER.bytes.to_string())
            && text.contains("aggregate"),
        "{text}"
    );
    stopped_near_the_cap(&sent, MAX_ANSWER.bytes);

    let announced = PromClient::new(&support::prometheus_config(&format!("{url}/announced")))
        .expect("client")
        .instant("up", SystemTime::now())
        .await
        .expect_err("too large");
    assert_eq!(announced.reason(), "too_large", "{announced}");
}

#[tokio::test]
async fn an_endless_metrics_page_is_cut_off_at_the_cap() {
    let (url, sent) = start().await;
    let client = ScrapeClient::new().expect("client");
    let page = format!("{url}/endless/metrics");
    let e = client.fetch(&page).await.expect_err("too large");
    assert_eq!(e.reason(), "too_large", "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&page) && text.contains(&MAX_PAGE.bytes.to_string()),
        "{text}"
    );
    stopped_near_the_cap(&sent, MAX_PAGE.bytes);

    let announced = client
        .fetch(&format!("{url}/announced/metrics"))
        .await
        .expect_err("too large");
    assert_eq!(announced.reason(), "too_large", "{announced}");
}
