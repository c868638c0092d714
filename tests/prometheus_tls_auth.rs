//! TLS and basic auth against a real Prometheus secured with `--web.config.file`.
//!
//! `tests/data/tls` holds a test-only CA and a server certificate for 127.0.0.1 (valid until
//! 2126); the basic-auth hash below is bcrypt of [`PASSWORD`].

mod support;

use prescale::config::BasicAuth;
use prescale::metrics::prometheus::{PromApi, PromClient};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use support::exporter::Exporter;
use support::prometheus::{Job, PrometheusServer, WebConfig, skip_without_binary};
use support::{eventually, prometheus_config};

const USER: &str = "prescale";
const PASSWORD: &str = "s3cret-password";
const PASSWORD_BCRYPT: &str = "$2b$04$Kp3VkFxKr7M6bShJ/BHt0O4aYX/s.P5M0Ox28GSGmPNvlu3X3df1q";

fn tls_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
        .display()
        .to_string()
}

async fn one(client: &PromClient) -> Result<f64, prescale::metrics::MetricError> {
    client
        .instant("vector(1)", SystemTime::now())
        .await
        .map(|r| r.series.first().map_or(f64::NAN, |s| s.value))
}

#[tokio::test]
async fn tls_is_verified_against_the_ca_file_and_the_password_file_is_re_read() {
    let exporter = Exporter::start();
    let web = WebConfig {
        yaml: format!(
            "tls_server_config:\n  cert_file: {:?}\n  key_file: {:?}\nbasic_auth_users:\n  {USER}: {PASSWORD_BCRYPT:?}\n",
            tls_file("server.pem"),
            tls_file("server-key.pem"),
        ),
        tls: true,
    };
    let jobs = [Job {
        name: "exporter".into(),
        target: exporter.host_port(),
    }];
    let Some(prometheus) =
        PrometheusServer::start_with(&jobs, Some(web)).unwrap_or_else(|e| panic!("{e}"))
    else {
        skip_without_binary("tls_is_verified_against_the_ca_file_and_the_password_file_is_re_read");
        return;
    };
    assert!(prometheus.url().starts_with("https://"));
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mut config = prometheus_config(&prometheus.url());
    config.ca_file = Some(tls_file("ca.pem"));
    config.basic_auth = Some(BasicAuth {
        username: USER.into(),
        password_file: password_file.display().to_string(),
    });
    let client = PromClient::new(&config).unwrap();
    let value = eventually(
        "an authenticated TLS query",
        Duration::from_secs(30),
        || async { one(&client).await },
    )
    .await;
    assert_eq!(value, 1.0);

    // The Secret is rotated to a wrong password: refused, with what to check.
    std::fs::write(&password_file, "wrong-password").unwrap();
    let e = one(&client).await.unwrap_err();
    assert_eq!(e.reason(), "unauthorized", "{e}");
    assert!(e.to_string().contains("basicAuth"), "{e}");
    // And back: the same client picks the file up again, no restart.
    std::fs::write(&password_file, PASSWORD).unwrap();
    assert_eq!(one(&client).await, Ok(1.0));

    // Verification is on by default: without the CA the certificate is refused.
    let mut no_ca = config.clone();
    no_ca.ca_file = None;
    let e = one(&PromClient::new(&no_ca).unwrap()).await.unwrap_err();
    assert_eq!(e.reason(), "unreachable", "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // Only an explicit opt-out skips it.
    no_ca.insecure_skip_verify = true;
    assert_eq!(one(&PromClient::new(&no_ca).unwrap()).await, Ok(1.0));

    // A CA file that is not PEM is a configuration error naming the file.
    let mut bad_ca = config.clone();
    bad_ca.ca_file = Some(password_file.display().to_string());
    let e = PromClient::new(&bad_ca).unwrap_err();
    assert_eq!(e.reason(), "client_config");
    assert!(e.to_string().contains("caFile"), "{e}");
}
