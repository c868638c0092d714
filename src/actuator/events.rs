//! Kubernetes Events (`events.k8s.io/v1`) on the scaled Deployment or on prescale's own Pod.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// One Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// `Warning` instead of `Normal`.
    pub warning: bool,
    /// PascalCase reason, e.g. `Recommendation`, `Rescaled`, `OtherAutoscaler`.
    pub reason: String,
    /// PascalCase action, e.g. `Recommend`, `Scale`, `HoldWrites`.
    pub action: String,
    /// Human-readable note (at most 1 kB).
    pub note: String,
}

/// Publishes Events; a failure is logged and never fails the caller, since an Event is
/// a report and the tick that produced it must go on.
///
/// Each Event is created afresh: kube's `Recorder` folds Events with the same reason into a
/// series and keeps the first note, which would hide a changed recommendation behind the
/// old text. prescale publishes only on changes, so a new Event each time is not spam.
#[derive(Clone)]
pub struct EventSink {
    client: Client,
    reporter: Reporter,
}

impl EventSink {
    /// Events reported as controller `prescale`, instance `instance` (the Pod name).
    pub fn new(client: Client, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: "prescale".into(),
            instance,
        };
        Self { client, reporter }
    }

    /// Publish `event` about `regarding`.
    pub async fn publish(&self, regarding: &ObjectReference, event: EventSpec) {
        let mut note = event.note;
        if note.len() > 1000 {
            let mut cut = 1000;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let ev = Event {
            type_: if event.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: event.reason.clone(),
            note: Some(note),
            action: event.action,
            secondary: None,
        };
        let recorder = Recorder::new(self.client.clone(), self.reporter.clone());
        let publish = recorder.publish(&ev, regarding);
        match tokio::time::timeout(std::time::Duration::from_secs(10), publish).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(reason = %event.reason, error = %e, "publishing Event failed")
            }
            Err(_) => {
                tracing::warn!(reason = %event.reason, "publishing Event timed out after 10s")
            }
        }
    }
}
