//! The Prometheus client's behaviour towards what sits in front of Prometheus in production
//! (an authenticating proxy such as kube-rbac-proxy, a multi-tenant gateway): bearer tokens,
//! tenant headers, proxy errors, slowness. Prometheus itself can neither check a bearer
//! token nor fail on demand, so a small proxy-like server stands in for that layer; it
//! answers queries the way Prometheus's API does.

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use prescale::metrics::prometheus::{PromApi, PromClient};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::prometheus_config;

#[derive(Debug, Default)]
struct Proxy {
    token: String,
    /// Answer this many requests with a proxy's 503 before serving again.
    fail_next: u32,
    delay: Duration,
    requests: u32,
    in_flight: u32,
    max_in_flight: u32,
    tenant_seen: Option<String>,
}

type Shared = Arc<Mutex<Proxy>>;

async fn query(
    State(proxy): State<Shared>,
    headers: HeaderMap,
    axum::extract::Query(params): axum::extract::Query<Vec<(String, String)>>,
) -> (StatusCode, String) {
    let delay = {
        let mut p = proxy.lock().unwrap();
        p.requests += 1;
        p.tenant_seen = headers
            .get("x-scope-orgid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let expected = format!("Bearer {}", p.token);
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&expected) {
            return (StatusCode::UNAUTHORIZED, "Unauthorized".into());
        }
        if p.fail_next > 0 {
            p.fail_next -= 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "<html>upstream connect error</html>".into(),
            );
        }
        p.in_flight += 1;
        p.max_in_flight = p.max_in_flight.max(p.in_flight);
        p.delay
    };
    tokio::time::sleep(delay).await;
    proxy.lock().unwrap().in_flight -= 1;
    let q = params
        .iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.as_str());
    if q == Some("sum(") {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"status":"error","errorType":"bad_data","error":"unexpected end of input"}"#.into(),
        );
    }
    (
        StatusCode::OK,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#
            .into(),
    )
}

async fn start_proxy(token: &str) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Proxy {
        token: token.into(),
        ..Proxy::default()
    }));
    let app = axum::Router::new()
        .route("/prom/api/v1/query", axum::routing::get(query))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/prom", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn token_file(dir: &tempfile::TempDir, token: &str) -> String {
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn bearer_token_is_re_read_when_the_secret_rotates_and_headers_are_sent() {
    let (url, proxy) = start_proxy("first").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = prometheus_config(&url);
    config.bearer_token_file = Some(token_file(&dir, "first"));
    config
        .headers
        .insert("X-Scope-OrgID".into(), "tenant-a".into());
    let client = PromClient::new(&config).unwrap();
    assert!(client.instant("up", SystemTime::now()).await.is_ok());
    assert_eq!(
        proxy.lock().unwrap().tenant_seen.as_deref(),
        Some("tenant-a")
    );

    proxy.lock().unwrap().token = "second".into();
    let e = client.instant("up", SystemTime::now()).await.unwrap_err();
    assert_eq!(e.reason(), "unauthorized");
    assert!(e.to_string().contains("bearerTokenFile"), "{e}");

    token_file(&dir, "second-rotated");
    proxy.lock().unwrap().token = "second-rotated".into();
    assert!(client.instant("up", SystemTime::now()).await.is_ok());
}

#[tokio::test]
async fn transient_failures_are_retried_a_bounded_number_of_times_and_bad_queries_are_not() {
    let (url, proxy) = start_proxy("t").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = prometheus_config(&url);
    config.bearer_token_file = Some(token_file(&dir, "t"));
    config.retries = 2;
    let client = PromClient::new(&config).unwrap();

    proxy.lock().unwrap().fail_next = 2;
    assert!(client.instant("up", SystemTime::now()).await.is_ok());
    assert_eq!(proxy.lock().unwrap().requests, 3, "two retries");

    proxy.lock().unwrap().fail_next = 10;
    let e = client.instant("up", SystemTime::now()).await.unwrap_err();
    assert_eq!(e.reason(), "http_status");
    assert!(e.to_string().contains("503"), "{e}");
    assert_eq!(
        proxy.lock().unwrap().requests,
        6,
        "gave up after 1 + 2 attempts"
    );

    proxy.lock().unwrap().fail_next = 0;
    let e = client.instant("sum(", SystemTime::now()).await.unwrap_err();
    assert_eq!(e.reason(), "query_failed");
    assert!(e.to_string().contains("unexpected end of input"), "{e}");
    assert_eq!(
        proxy.lock().unwrap().requests,
        7,
        "a bad query is not retried"
    );
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let (url, proxy) = start_proxy("t").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = prometheus_config(&url);
    config.bearer_token_file = Some(token_file(&dir, "t"));
    config.timeout = Duration::from_millis(200);
    proxy.lock().unwrap().delay = Duration::from_secs(3);
    let e = PromClient::new(&config)
        .unwrap()
        .instant("up", SystemTime::now())
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "timeout", "{e}");
    assert!(e.to_string().contains("prometheus.timeout"), "{e}");
}

#[tokio::test]
async fn queries_in_flight_are_limited() {
    let (url, proxy) = start_proxy("t").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = prometheus_config(&url);
    config.bearer_token_file = Some(token_file(&dir, "t"));
    config.max_concurrent_queries = 2;
    proxy.lock().unwrap().delay = Duration::from_millis(150);
    let client = PromClient::new(&config).unwrap();
    let now = SystemTime::now();
    let results = futures::future::join_all((0..6).map(|_| client.instant("up", now))).await;
    assert!(results.iter().all(Result::is_ok));
    let p = proxy.lock().unwrap();
    assert_eq!(p.requests, 6);
    assert_eq!(p.max_in_flight, 2);
}
