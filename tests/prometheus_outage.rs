//! Prometheus stopped mid-run: the readings go missing, the decision core holds replicas and
//! then applies the fallback after `failureThreshold` ticks, and everything recovers when
//! Prometheus comes back. Its own Prometheus, since the test stops it.

mod support;

use prescale::config::{Config, FallbackBehavior};
use prescale::core::{Reason, TargetState, decide};
use prescale::metrics::{Sources, TargetReadings, unix_seconds};
use std::time::{Duration, SystemTime};
use support::exporter::Exporter;
use support::prometheus::{Job, PrometheusServer, skip_without_binary};
use support::{eventually, prometheus_config, promql, target};

const FALLBACK_REPLICAS: u32 = 6;
const CURRENT: u32 = 2;

fn both_read(r: &TargetReadings) -> bool {
    matches!(r.queue_depth, Some(Ok(_))) && matches!(r.arrival_rate, Some(Ok(_)))
}

#[tokio::test]
async fn prometheus_outage_gives_missing_data_then_fallback_and_recovers() {
    let exporter = Exporter::start();
    exporter.set_queue_depth(3.0);
    exporter.set_enqueued(1000.0);
    exporter.set_arrival_rate(1.0);
    let jobs = [Job {
        name: "exporter".into(),
        target: exporter.host_port(),
    }];
    let Some(mut prometheus) = PrometheusServer::start(&jobs).unwrap_or_else(|e| panic!("{e}"))
    else {
        skip_without_binary("prometheus_outage_gives_missing_data_then_fallback_and_recovers");
        return;
    };
    let config = Config {
        prometheus: Some(prometheus_config(&prometheus.url())),
        targets: Vec::new(),
    };
    let sources = Sources::new(&config).unwrap();
    let mut t = target("docs", Duration::from_secs(1));
    t.metrics.queue_depth = Some(promql(r#"queue_depth{queue="docs"}"#));
    t.metrics.arrival_rate = Some(promql("sum(rate(documents_enqueued_total[5s]))"));
    t.fallback.failure_threshold = 3;
    t.fallback.behavior = FallbackBehavior::Static;
    t.fallback.replicas = FALLBACK_REPLICAS;
    let mut state = TargetState::new(&t);
    let tick = |readings: &TargetReadings, state: &mut TargetState| {
        let obs = readings.observation(unix_seconds(SystemTime::now()), CURRENT, CURRENT);
        decide(&t, state, &obs)
    };

    let readings = eventually(
        "both metrics in Prometheus",
        Duration::from_secs(30),
        || async {
            let r = sources.read_at(&t, SystemTime::now()).await;
            if both_read(&r) { Ok(r) } else { Err(r) }
        },
    )
    .await;
    assert_eq!(readings.queue_depth, Some(Ok(3.0)));
    let healthy = tick(&readings, &mut state);
    assert!(
        !healthy
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::MetricsMissing { .. }))
    );

    prometheus.stop();
    for failed_tick in 1..=t.fallback.failure_threshold {
        let readings = sources.read_at(&t, SystemTime::now()).await;
        for (metric, error) in readings.errors() {
            assert_eq!(error.reason(), "unreachable", "{metric}: {error}");
            assert!(error.to_string().contains(&prometheus.url()), "{error}");
        }
        assert_eq!(readings.errors().len(), 2);
        let decision = tick(&readings, &mut state);
        assert!(
            decision.reasons.contains(&Reason::MetricsMissing {
                metric: "queueDepth",
                failures: failed_tick
            }),
            "{:?}",
            decision.reasons
        );
        let fell_back = decision.reasons.contains(&Reason::Fallback {
            replicas: FALLBACK_REPLICAS,
        });
        if failed_tick < t.fallback.failure_threshold {
            assert!(!fell_back, "tick {failed_tick}: {:?}", decision.reasons);
            assert!(decision.replicas >= CURRENT, "never scale down blind");
        } else {
            assert!(fell_back, "tick {failed_tick}: {:?}", decision.reasons);
            assert_eq!(decision.replicas, FALLBACK_REPLICAS);
        }
    }

    prometheus.restart();
    let readings = eventually(
        "metrics after the restart",
        Duration::from_secs(30),
        || async {
            let r = sources.read_at(&t, SystemTime::now()).await;
            if both_read(&r) { Ok(r) } else { Err(r) }
        },
    )
    .await;
    let recovered = tick(&readings, &mut state);
    assert!(
        !recovered
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::Fallback { .. } | Reason::MetricsMissing { .. })),
        "{:?}",
        recovered.reasons
    );
}
