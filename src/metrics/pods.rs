//! The ready pods of a target, which the controller lists each tick for metrics scraped
//! from every pod (`scrape: {pods: ...}`), and the URLs scraped on them.

use super::MetricError;
use crate::config::ScrapeScheme;
use std::borrow::Cow;
use std::sync::Arc;

/// One ready pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEndpoint {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`: a pod re-created under the same name is another pod, whose counters
    /// start afresh.
    pub uid: String,
    /// `status.podIP`.
    pub ip: String,
}

/// The ready pods of one target this tick, or why they are unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct PodEndpoints {
    /// The Deployment the pods belong to, `namespace/name`, for messages.
    pub deployment: Arc<str>,
    /// The ready pods, or what went wrong listing them.
    pub listed: Result<Vec<PodEndpoint>, Cow<'static, str>>,
}

impl PodEndpoints {
    /// Pods of `deployment` (`namespace/name`) that nobody listed (outside `prescale run`,
    /// e.g. `prescale probe`).
    pub fn not_listed(deployment: impl Into<Arc<str>>) -> Self {
        Self {
            deployment: deployment.into(),
            listed: Err(
                "the target's pods are listed by the controller (`prescale run`) each tick, not here"
                    .into(),
            ),
        }
    }

    /// `(instance, URL)` of each ready pod's endpoint, the instance naming the pod (name and
    /// uid) so that what a rate remembers belongs to that pod only. No pods is an error:
    /// a sum over nothing would read as an idle queue.
    pub fn urls(
        &self,
        port: u16,
        path: &str,
        scheme: ScrapeScheme,
    ) -> Result<Vec<(String, String)>, MetricError> {
        let pods = self
            .listed
            .as_ref()
            .map_err(|detail| MetricError::PodList {
                deployment: self.deployment.to_string(),
                detail: detail.to_string(),
            })?;
        if pods.is_empty() {
            return Err(MetricError::NoReadyPods {
                deployment: self.deployment.to_string(),
            });
        }
        Ok(pods
            .iter()
            .map(|p| {
                // An IPv6 address is bracketed in a URL.
                let host = if p.ip.contains(':') {
                    format!("[{}]", p.ip)
                } else {
                    p.ip.clone()
                };
                (
                    format!("{}/{}", p.name, p.uid),
                    format!("{}://{host}:{port}{path}", scheme.as_str()),
                )
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(ips: &[&str]) -> PodEndpoints {
        PodEndpoints {
            deployment: "shop/worker".into(),
            listed: Ok(ips
                .iter()
                .enumerate()
                .map(|(i, ip)| PodEndpoint {
                    name: format!("worker-{i}"),
                    uid: format!("u{i}"),
                    ip: (*ip).into(),
                })
                .collect()),
        }
    }

    #[test]
    fn urls_name_each_pod() {
        let urls = pods(&["10.0.0.7", "fd00::1"])
            .urls(9100, "/metrics", ScrapeScheme::Https)
            .unwrap();
        assert_eq!(
            urls,
            vec![
                ("worker-0/u0".into(), "https://10.0.0.7:9100/metrics".into()),
                (
                    "worker-1/u1".into(),
                    "https://[fd00::1]:9100/metrics".into()
                ),
            ]
        );
    }

    #[test]
    fn no_pods_is_an_error() {
        let e = pods(&[])
            .urls(9100, "/metrics", ScrapeScheme::Http)
            .unwrap_err();
        assert_eq!(e.reason(), "no_ready_pods");
        let e = PodEndpoints::not_listed("shop/worker")
            .urls(9100, "/metrics", ScrapeScheme::Http)
            .unwrap_err();
        assert_eq!(e.reason(), "pod_list");
    }
}
