//! Finding the HPA or ScaledObject a floor goes under, from the watch caches (no API call):
//! the one autoscaler of that kind that targets the Deployment.

use super::floor::{FloorKind, FloorObject, floor_object, floor_targets, keda_owner};
use super::{AutoscalerCache, ClusterError};
use crate::config::ScaleTargetRef;
use kube::api::DynamicObject;

/// The autoscalers of one kind that target a Deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorCandidates {
    /// Those a floor may go under, as cached (HPAs made by KEDA are not among them).
    pub found: Vec<FloorObject>,
    /// HPAs that KEDA made for a ScaledObject (`hpaMinReplicas` cannot use them: KEDA
    /// resets their fields from the ScaledObject), as `(hpa, scaledobject)` names.
    pub keda_made: Vec<(String, String)>,
    /// Objects that target the Deployment but cannot be read (e.g. a negative field).
    pub unreadable: Vec<String>,
}

impl AutoscalerCache {
    /// The autoscalers of `kind` that target `target`, from the caches. Until the caches
    /// have synced, or while a watch has been failing for longer than its bound, the answer
    /// is unknown and an error says so.
    pub fn floor_candidates(
        &self,
        kind: FloorKind,
        target: &ScaleTargetRef,
    ) -> Result<FloorCandidates, ClusterError> {
        self.trusted()?;
        let objects: Vec<DynamicObject> = match kind {
            FloorKind::Hpa => self
                .hpas
                .iter()
                .flat_map(|store| store.state())
                // The typed HPA as the dynamic object the floor code reads both kinds as.
                .filter_map(|h| serde_json::to_value(h.as_ref()).ok())
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect(),
            FloorKind::ScaledObject => self
                .scaled_objects
                .iter()
                .flat_map(|store| store.state())
                .map(|o| o.as_ref().clone())
                .collect(),
        };
        let mut candidates = FloorCandidates {
            found: Vec::new(),
            keda_made: Vec::new(),
            unreadable: Vec::new(),
        };
        for obj in objects.iter().filter(|o| floor_targets(kind, o, target)) {
            let name = obj.metadata.name.clone().unwrap_or_default();
            if kind == FloorKind::Hpa
                && let Some(so) = keda_owner(obj)
            {
                candidates.keda_made.push((name, so));
                continue;
            }
            match floor_object(kind, obj) {
                Ok(o) => candidates.found.push(o),
                Err(e) => candidates.unreadable.push(format!("{name}: {e}")),
            }
        }
        // Stable order for messages.
        candidates.found.sort_by(|a, b| a.name.cmp(&b.name));
        candidates.keda_made.sort();
        Ok(candidates)
    }
}
