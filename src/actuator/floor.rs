//! The floor under another autoscaler: an HPA's `spec.minReplicas` or a KEDA ScaledObject's
//! `spec.minReplicaCount`, read fresh and written with a merge patch that carries the
//! object's `resourceVersion` (a concurrent change loses nothing: the write fails with 409).
//!
//! The owner's own value and the floor prescale set are remembered on the object itself, in
//! two annotations written in the same patch as the field, so any instance of prescale (a
//! new leader, a restarted pod) knows what to return to, and a change of the field by
//! anyone else is seen as the owner's new value.

use super::error::with_deadline;
use super::{ClusterError, FIELD_MANAGER, KubeCluster};
use crate::config::{Actuation, ScaleTargetRef};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// The owner's own minimum, remembered while prescale holds a floor (`unset` when the field
/// was not set).
pub const OWNER_MIN_ANNOTATION: &str = "prescale.io/owner-min-replicas";
/// The floor prescale set, so a different value in the field is known to be someone else's.
pub const FLOOR_ANNOTATION: &str = "prescale.io/floor-replicas";
/// How an unset owner's value is remembered.
const UNSET: &str = "unset";
/// KEDA labels the HPA it creates for a ScaledObject with the ScaledObject's name.
const KEDA_HPA_LABEL: &str = "scaledobject.keda.sh/name";

/// Which autoscaler's floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorKind {
    /// `autoscaling/v2` HorizontalPodAutoscaler, `spec.minReplicas`.
    Hpa,
    /// `keda.sh/v1alpha1` ScaledObject, `spec.minReplicaCount`.
    ScaledObject,
}

impl FloorKind {
    /// The floor kind of an actuation; `None` for `/scale` writes.
    pub fn of(actuation: Actuation) -> Option<Self> {
        match actuation {
            Actuation::Scale => None,
            Actuation::HpaMinReplicas => Some(Self::Hpa),
            Actuation::KedaMinReplicaCount => Some(Self::ScaledObject),
        }
    }

    /// The resource, for the dynamic API.
    pub fn api_resource(self) -> ApiResource {
        match self {
            Self::Hpa => ApiResource {
                group: "autoscaling".into(),
                version: "v2".into(),
                api_version: "autoscaling/v2".into(),
                kind: "HorizontalPodAutoscaler".into(),
                plural: "horizontalpodautoscalers".into(),
            },
            Self::ScaledObject => super::scaled_object_resource(),
        }
    }

    /// The Kubernetes kind.
    pub fn kind_name(self) -> &'static str {
        match self {
            Self::Hpa => "HorizontalPodAutoscaler",
            Self::ScaledObject => "ScaledObject",
        }
    }

    /// The field prescale raises.
    pub fn min_field(self) -> &'static str {
        match self {
            Self::Hpa => "minReplicas",
            Self::ScaledObject => "minReplicaCount",
        }
    }

    /// The field that bounds it.
    pub fn max_field(self) -> &'static str {
        match self {
            Self::Hpa => "maxReplicas",
            Self::ScaledObject => "maxReplicaCount",
        }
    }

    /// The value in force when the min field is not set (the API server defaults an HPA's
    /// to 1; KEDA reads an unset `minReplicaCount` as 0).
    pub fn default_min(self) -> u32 {
        match self {
            Self::Hpa => 1,
            Self::ScaledObject => 0,
        }
    }

    /// The value in force when the max field is not set (required on an HPA; KEDA's
    /// default is 100).
    pub fn default_max(self) -> u32 {
        match self {
            Self::Hpa => 1,
            Self::ScaledObject => 100,
        }
    }

    /// The least floor the kind accepts (an HPA's `minReplicas` is at least 1 without the
    /// `HPAScaleToZero` feature gate).
    pub fn least_min(self) -> u32 {
        match self {
            Self::Hpa => 1,
            Self::ScaledObject => 0,
        }
    }
}

/// What prescale remembers on the object about a floor it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// No floor held (no annotations).
    None,
    /// prescale set the field to `floor`; the owner's value was `owner` (`None`: unset).
    Holding {
        /// The owner's value, returned to when the floor falls back.
        owner: Option<u32>,
        /// The floor prescale set.
        floor: u32,
    },
    /// The annotations are there but cannot be read (someone edited them): treated as no
    /// floor held, and overwritten by the next floor written.
    Unreadable(String),
}

/// What a floor decision needs of an HPA or ScaledObject.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorObject {
    /// Which kind.
    pub kind: FloorKind,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Sent with the write.
    pub resource_version: String,
    /// The min field as set (`None`: unset).
    pub min: Option<u32>,
    /// The max field (or its default).
    pub max: u32,
    /// The floor prescale holds, from the annotations.
    pub held: Held,
    /// The field manager that last set the min field (from `managedFields`), when known.
    pub min_manager: Option<String>,
    /// For Events about the object.
    pub reference: std::sync::Arc<ObjectReference>,
}

impl FloorObject {
    /// The min value in force now.
    pub fn min_in_force(&self) -> u32 {
        self.min.unwrap_or(self.kind.default_min())
    }
}

impl std::fmt::Display for FloorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.kind.kind_name(),
            self.namespace,
            self.name
        )
    }
}

/// The write: the min field's new value (`None` removes it), and the annotations (`Some`:
/// a floor held over the owner's value; `None`: removed, the floor is returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorPatch {
    /// New value of the min field; `None` removes it (the owner had not set it).
    pub min: Option<u32>,
    /// `(owner's value, floor)` while holding; `None` when returning.
    pub hold: Option<(Option<u32>, u32)>,
}

impl FloorPatch {
    /// The merge patch body for `kind`, carrying `resource_version`.
    pub fn body(&self, kind: FloorKind, resource_version: &str) -> Value {
        let (owner, floor) = match self.hold {
            Some((owner, floor)) => (
                json!(owner.map_or_else(|| UNSET.to_string(), |o| o.to_string())),
                json!(floor.to_string()),
            ),
            None => (Value::Null, Value::Null),
        };
        json!({
            "metadata": {
                "resourceVersion": resource_version,
                "annotations": { OWNER_MIN_ANNOTATION: owner, FLOOR_ANNOTATION: floor },
            },
            "spec": { kind.min_field(): self.min },
        })
    }
}

fn annotation<'a>(obj: &'a DynamicObject, key: &str) -> Option<&'a str> {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn held(obj: &DynamicObject) -> Held {
    let owner = annotation(obj, OWNER_MIN_ANNOTATION);
    let floor = annotation(obj, FLOOR_ANNOTATION);
    match (owner, floor) {
        (None, None) => Held::None,
        (Some(owner_text), Some(floor_text)) => {
            let owner = match owner_text.trim() {
                UNSET => Ok(None),
                text => text.parse::<u32>().map(Some),
            };
            match (owner, floor_text.trim().parse::<u32>()) {
                (Ok(owner), Ok(floor)) => Held::Holding { owner, floor },
                _ => Held::Unreadable(format!(
                    "{OWNER_MIN_ANNOTATION}={owner_text:?}, {FLOOR_ANNOTATION}={floor_text:?} are not whole numbers"
                )),
            }
        }
        _ => Held::Unreadable(format!(
            "only one of {OWNER_MIN_ANNOTATION} and {FLOOR_ANNOTATION} is set"
        )),
    }
}

/// The manager owning `spec.<field>`: the most recent entry whose fields include it.
fn field_manager(entries: &[ManagedFieldsEntry], field: &str) -> Option<String> {
    let key = format!("f:{field}");
    entries
        .iter()
        .filter(|e| {
            e.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.get("f:spec").and_then(|s| s.get(&key)).is_some())
        })
        .max_by_key(|e| e.time.as_ref().map(|t| t.0))
        .and_then(|e| e.manager.clone())
}

fn count(v: &Value, what: &str) -> Result<Option<u32>, String> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{what} is {v}, not a whole number")),
    }
}

/// Read an HPA or ScaledObject (as the API server or the watch cache holds it).
pub fn floor_object(kind: FloorKind, obj: &DynamicObject) -> Result<FloorObject, String> {
    let spec = &obj.data["spec"];
    let min = count(
        &spec[kind.min_field()],
        &format!("spec.{}", kind.min_field()),
    )?;
    let max = count(
        &spec[kind.max_field()],
        &format!("spec.{}", kind.max_field()),
    )?
    .unwrap_or(kind.default_max());
    let namespace = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let ar = kind.api_resource();
    Ok(FloorObject {
        kind,
        resource_version: obj.metadata.resource_version.clone().unwrap_or_default(),
        min,
        max,
        held: held(obj),
        min_manager: obj
            .metadata
            .managed_fields
            .as_deref()
            .and_then(|e| field_manager(e, kind.min_field())),
        reference: std::sync::Arc::new(ObjectReference {
            api_version: Some(ar.api_version),
            kind: Some(ar.kind),
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            uid: obj.metadata.uid.clone(),
            resource_version: obj.metadata.resource_version.clone(),
            ..ObjectReference::default()
        }),
        name,
        namespace,
    })
}

/// Whether `obj` (an HPA or ScaledObject) scales `target`.
pub fn floor_targets(kind: FloorKind, obj: &DynamicObject, target: &ScaleTargetRef) -> bool {
    if obj.metadata.namespace.as_deref() != Some(target.namespace.as_str()) {
        return false;
    }
    let r = &obj.data["spec"]["scaleTargetRef"];
    let kind_ok = match kind {
        FloorKind::ScaledObject => super::autoscalers::keda_ref_matches(r, target),
        FloorKind::Hpa => r["kind"]
            .as_str()
            .is_some_and(|k| target.same_kind(k, r["apiVersion"].as_str())),
    };
    kind_ok && r["name"].as_str() == Some(target.name.as_str())
}

/// The ScaledObject that manages `hpa` (KEDA creates one HPA per ScaledObject and resets
/// its fields from the ScaledObject), if any.
pub fn keda_owner(hpa: &DynamicObject) -> Option<String> {
    if let Some(name) = hpa
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(KEDA_HPA_LABEL))
    {
        return Some(name.clone());
    }
    hpa.metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|o| o.kind == "ScaledObject")
        .map(|o| o.name.clone())
}

impl KubeCluster {
    /// Read the HPA or ScaledObject `name` in `namespace` fresh from the API server.
    pub async fn read_floor_object(
        &self,
        kind: FloorKind,
        namespace: &str,
        name: &str,
    ) -> Result<FloorObject, ClusterError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client().clone(), namespace, &kind.api_resource());
        let what = format!("{} {namespace}/{name}", kind.kind_name());
        let obj = with_deadline(what.clone(), self.deadline(), api.get(name)).await?;
        floor_object(kind, &obj).map_err(|detail| ClusterError::Rejected {
            what,
            code: 200,
            message: format!("cannot read it: {detail}"),
        })
    }

    /// Write `patch` to `obj` with a merge patch carrying its `resourceVersion`; returns
    /// the object as written.
    pub async fn patch_floor(
        &self,
        obj: &FloorObject,
        patch: &FloorPatch,
    ) -> Result<FloorObject, ClusterError> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client().clone(),
            &obj.namespace,
            &obj.kind.api_resource(),
        );
        let pp = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PatchParams::default()
        };
        let body = patch.body(obj.kind, &obj.resource_version);
        let what = format!("{obj} spec.{}", obj.kind.min_field());
        let written = with_deadline(
            what.clone(),
            self.deadline(),
            api.patch(&obj.name, &pp, &Patch::Merge(&body)),
        )
        .await?;
        floor_object(obj.kind, &written).map_err(|detail| ClusterError::Rejected {
            what,
            code: 200,
            message: format!("cannot read the answer: {detail}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hpa(annotations: Value, min: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": { "name": "web", "namespace": "shop", "resourceVersion": "7",
                          "annotations": annotations },
            "spec": { "minReplicas": min, "maxReplicas": 10,
                      "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web" } },
        }))
        .expect("hpa")
    }

    #[test]
    fn the_remembered_floor_is_read_from_the_annotations() {
        let o = floor_object(
            FloorKind::Hpa,
            &hpa(
                json!({ OWNER_MIN_ANNOTATION: "2", FLOOR_ANNOTATION: "8" }),
                json!(8),
            ),
        )
        .expect("read");
        assert_eq!(
            o.held,
            Held::Holding {
                owner: Some(2),
                floor: 8
            }
        );
        assert_eq!((o.min, o.max, o.min_in_force()), (Some(8), 10, 8));
        let unset = floor_object(
            FloorKind::ScaledObject,
            &hpa(
                json!({ OWNER_MIN_ANNOTATION: "unset", FLOOR_ANNOTATION: "3" }),
                Value::Null,
            ),
        )
        .expect("read");
        assert_eq!(
            unset.held,
            Held::Holding {
                owner: None,
                floor: 3
            }
        );
        let broken = floor_object(
            FloorKind::Hpa,
            &hpa(json!({ FLOOR_ANNOTATION: "x" }), json!(1)),
        )
        .expect("read");
        assert!(matches!(broken.held, Held::Unreadable(_)));
    }

    #[test]
    fn a_patch_sets_the_field_and_the_annotations_together_or_removes_them_together() {
        let hold = FloorPatch {
            min: Some(6),
            hold: Some((None, 6)),
        };
        assert_eq!(
            hold.body(FloorKind::ScaledObject, "9"),
            json!({
                "metadata": { "resourceVersion": "9",
                              "annotations": { OWNER_MIN_ANNOTATION: "unset", FLOOR_ANNOTATION: "6" } },
                "spec": { "minReplicaCount": 6 },
            })
        );
        let back = FloorPatch {
            min: None,
            hold: None,
        };
        assert_eq!(
            back.body(FloorKind::ScaledObject, "9")["spec"]["minReplicaCount"],
            Value::Null
        );
        assert_eq!(
            back.body(FloorKind::Hpa, "9")["metadata"]["annotations"][FLOOR_ANNOTATION],
            Value::Null
        );
    }

    #[test]
    fn an_hpa_made_by_keda_is_known_by_its_label() {
        let mut h = hpa(Value::Null, json!(1));
        assert_eq!(keda_owner(&h), None);
        h.metadata.labels = Some([(KEDA_HPA_LABEL.to_string(), "so".to_string())].into());
        assert_eq!(keda_owner(&h), Some("so".into()));
    }
}
