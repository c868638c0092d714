//! The manifests in `deploy/`, as `kubectl kustomize` renders them: RBAC equal to the API
//! calls the code makes (`prescale::permissions::API_CALLS`), a controller Deployment that
//! makes none of the classic deployment mistakes, and no secret material anywhere.
//!
//! Needs `kubectl` (`.ci/install-deploy.sh`); `PRESCALE_SKIP_DEPLOY_TESTS=1` skips loudly
//! (and fails under CI).

#[path = "deploy_manifests/network_policy.rs"]
mod network_policy;
#[path = "deploy_manifests/quantity.rs"]
mod quantity;
#[path = "deploy_manifests/rbac.rs"]
mod rbac;
#[path = "deploy_manifests/render.rs"]
mod render;
#[path = "support/skip.rs"]
mod skip;

use network_policy::{Cluster, Endpoint, other_pod, pod_of};
use prescale::permissions::{API_CALLS, Feature, Scope};
use rbac::{Access, Grants, granted, strings};
use render::{KUSTOMIZATIONS, named, of_kind, str_at};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

const NAMESPACE: &str = "prescale-system";
const SERVICE_ACCOUNT: &str = "prescale";

/// Three replicas on six shards (`--shards`).
const SHARDED: &str = "deploy/overlays/sharded";

/// The namespaced install (`--namespaces`, Roles instead of the ClusterRole).
const NAMESPACED: &str = "deploy/overlays/namespaced";

/// The features whose calls an install grants: every install the core ones, a feature's
/// overlay those of its feature too.
fn features_of(dir: &str) -> Vec<Feature> {
    let feature = match dir {
        "deploy/overlays/pod-metrics" => Some(Feature::PodMetrics),
        "deploy/overlays/pod-deletion-cost" => Some(Feature::PodDeletionCost),
        "deploy/overlays/autoscaler-floor" => Some(Feature::AutoscalerFloor),
        "deploy/overlays/statefulsets" => Some(Feature::StatefulSets),
        "deploy/overlays/argo-rollouts" => Some(Feature::ArgoRollouts),
        _ => None,
    };
    std::iter::once(Feature::Core).chain(feature).collect()
}

fn expected_grants(scope: Scope, features: &[Feature]) -> Grants {
    let mut grants = Grants::new();
    for call in API_CALLS
        .iter()
        .filter(|c| c.scope == scope && features.contains(&c.feature))
    {
        grants
            .entry((call.group.to_owned(), call.resource.to_owned()))
            .or_default()
            .extend(call.verbs.iter().map(|v| (*v).to_owned()));
    }
    grants
}

/// Asserts that `binding_kind` objects bind exactly `role` to prescale's ServiceAccount
/// (a RoleBinding in the Role's namespace).
fn assert_bound_to_service_account(docs: &[Value], binding_kind: &str, role: &Value) {
    let role_name = str_at(role, "/metadata/name");
    let bindings: Vec<&Value> = of_kind(docs, binding_kind)
        .into_iter()
        .filter(|b| {
            b["roleRef"]["name"] == role_name
                && b["metadata"]["namespace"] == role["metadata"]["namespace"]
        })
        .collect();
    assert_eq!(bindings.len(), 1, "one {binding_kind} for {role_name}");
    let binding = bindings[0];
    assert_eq!(binding["roleRef"]["kind"], role["kind"]);
    let subjects = binding["subjects"].as_array().expect("subjects");
    assert_eq!(subjects.len(), 1, "{role_name} is bound to prescale only");
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], SERVICE_ACCOUNT);
    assert_eq!(subjects[0]["namespace"], NAMESPACE);
}

fn controller(docs: &[Value]) -> &Value {
    named(docs, "Deployment", "prescale")
}

/// The namespaces the controller is told to watch (`--namespaces a,b`); `None`: the whole
/// cluster.
fn watched_namespaces(docs: &[Value]) -> Option<BTreeSet<String>> {
    let args = strings(&container(controller(docs))["args"], "args");
    let at = args.iter().position(|a| a == "--namespaces")?;
    let list = args.get(at + 1).expect("a value after --namespaces");
    Some(list.split(',').map(str::to_owned).collect())
}

fn container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "the controller runs one container");
    &containers[0]
}

fn pod_labels(deployment: &Value) -> &serde_json::Map<String, Value> {
    deployment["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .expect("pod template labels")
}

/// `selector` (a `matchLabels` map) selects pods labelled `labels`.
fn selects(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let wanted = selector.as_object().expect("matchLabels");
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Pod Security "restricted" for one Deployment's pods, every container included.
fn assert_restricted(deployment: &Value) {
    let name = str_at(deployment, "/metadata/name");
    let pod = &deployment["spec"]["template"]["spec"];
    let pod_sc = &pod["securityContext"];
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert_ne!(pod[host], true, "{name}: {host}");
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        assert!(volume.get("hostPath").is_none(), "{name}: hostPath volume");
    }
    let containers = pod["containers"].as_array().expect("containers");
    let init = pod["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in containers.iter().chain(&init) {
        let sc = &c["securityContext"];
        let what = format!("{name}/{}", c["name"]);
        let either = |key: &str| {
            if sc[key].is_null() {
                &pod_sc[key]
            } else {
                &sc[key]
            }
        };
        assert_eq!(either("runAsNonRoot"), true, "{what}: runAsNonRoot");
        assert_ne!(either("runAsUser"), 0, "{what}: runAsUser 0");
        assert_eq!(
            either("seccompProfile")["type"],
            "RuntimeDefault",
            "{what}: seccomp"
        );
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}: escalation");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}: read-only root");
        assert_ne!(sc["privileged"], true, "{what}: privileged");
        let drop = strings(&sc["capabilities"]["drop"], "capabilities.drop");
        assert!(drop.iter().any(|d| d == "ALL"), "{what}: drop ALL");
        assert!(
            sc["capabilities"].get("add").is_none(),
            "{what}: no added caps"
        );
    }
}

fn mode_of(config: &Value) -> &str {
    str_at(config, "/defaults/mode")
}

fn controller_config(docs: &[Value]) -> Value {
    let map = named(docs, "ConfigMap", "prescale-config");
    let text = str_at(map, "/data/prescale.yaml");
    serde_saphyr::from_str(text).expect("prescale.yaml in the ConfigMap is YAML")
}

#[test]
fn cluster_role_grants_exactly_the_cluster_scoped_api_calls() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        if watched_namespaces(docs).is_some() {
            // A namespaced install grants nothing cluster-wide.
            assert!(
                of_kind(docs, "ClusterRole").is_empty(),
                "{dir}: no ClusterRole"
            );
            assert!(
                of_kind(docs, "ClusterRoleBinding").is_empty(),
                "{dir}: no ClusterRoleBinding"
            );
            continue;
        }
        let roles = of_kind(docs, "ClusterRole");
        assert_eq!(roles.len(), 1, "{dir}: one ClusterRole");
        assert_eq!(
            granted(roles[0]),
            expected_grants(Scope::Cluster, &features_of(dir)),
            "{dir}: ClusterRole rules must equal the Cluster entries of API_CALLS for its features"
        );
        assert_bound_to_service_account(docs, "ClusterRoleBinding", roles[0]);
    }
}

#[test]
fn role_grants_exactly_the_own_namespace_api_calls_in_prescale_namespace() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let roles: Vec<&Value> = of_kind(docs, "Role")
            .into_iter()
            .filter(|r| r["metadata"]["namespace"] == NAMESPACE)
            .collect();
        assert_eq!(roles.len(), 1, "{dir}: one Role in {NAMESPACE}");
        // The Lease lives in POD_NAMESPACE: the Role must be where the controller runs.
        assert_eq!(controller(docs)["metadata"]["namespace"], NAMESPACE);
        assert_eq!(
            granted(roles[0]),
            expected_grants(Scope::OwnNamespace, &features_of(dir)),
            "{dir}: Role rules must equal the OwnNamespace entries of API_CALLS"
        );
        assert_bound_to_service_account(docs, "RoleBinding", roles[0]);
        let binding = named(docs, "RoleBinding", str_at(roles[0], "/metadata/name"));
        assert_eq!(binding["metadata"]["namespace"], NAMESPACE);
    }
}

/// The namespaced install's Roles in each watched namespace grant exactly what the
/// ClusterRole grants elsewhere, there and nowhere else: `--namespaces` and the Roles agree.
fn assert_namespaced_roles(dir: &str, docs: &[Value], features: &[Feature]) {
    let watched = watched_namespaces(docs).unwrap_or_else(|| panic!("{dir}: no --namespaces"));
    assert!(!watched.is_empty() && !watched.contains(NAMESPACE), "{dir}");
    let roles: Vec<&Value> = of_kind(docs, "Role")
        .into_iter()
        .filter(|r| r["metadata"]["namespace"] != NAMESPACE)
        .collect();
    let role_namespaces: BTreeSet<String> = roles
        .iter()
        .map(|r| str_at(r, "/metadata/namespace").to_owned())
        .collect();
    assert_eq!(
        role_namespaces, watched,
        "{dir}: a Role in exactly the namespaces of --namespaces"
    );
    assert_eq!(roles.len(), watched.len(), "{dir}: one Role per namespace");
    for role in roles {
        assert_eq!(
            granted(role),
            expected_grants(Scope::Cluster, features),
            "{dir}: the Role in {} must grant the Cluster entries of API_CALLS for {features:?}",
            role["metadata"]["namespace"]
        );
        assert_bound_to_service_account(docs, "RoleBinding", role);
    }
    let access = Access::of(docs, NAMESPACE, SERVICE_ACCOUNT);
    assert!(access.at(None).is_empty(), "{dir}: nothing cluster-wide");
    let mut everywhere = watched.clone();
    everywhere.insert(NAMESPACE.to_owned());
    assert_eq!(
        access.namespaces(),
        everywhere,
        "{dir}: granted nowhere else"
    );
}

#[test]
fn the_namespaced_install_grants_roles_in_the_watched_namespaces_only() {
    let Some(docs) = render::one(NAMESPACED) else {
        return;
    };
    assert_namespaced_roles(NAMESPACED, docs, &[Feature::Core]);
    // Without a feature that needs them, pods are not readable anywhere.
    let access = Access::of(docs, NAMESPACE, SERVICE_ACCOUNT);
    assert!(
        access
            .each()
            .iter()
            .all(|(_, _, resource, _)| resource != "pods"),
        "{NAMESPACED}: no pod access by default"
    );
}

/// docs/deploy.md tells users to add a feature's component to their own overlay on top of
/// the namespaced one: the component must then extend each watched namespace's Role.
#[test]
fn feature_components_compose_with_the_namespaced_install() {
    if render::all().is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .canonicalize()
        .expect("the repository");
    let user = tempfile::tempdir().expect("temp dir");
    let user_dir = user.path().canonicalize().expect("temp dir");
    // kustomize takes only relative paths to other kustomizations.
    let up = "../".repeat(user_dir.components().count() - 1);
    let relative = format!(
        "{up}{}",
        root.strip_prefix("/").expect("absolute").display()
    );
    for (component, feature) in [
        ("pod-metrics", Feature::PodMetrics),
        ("pod-deletion-cost", Feature::PodDeletionCost),
        ("autoscaler-floor", Feature::AutoscalerFloor),
        ("statefulsets", Feature::StatefulSets),
        ("argo-rollouts", Feature::ArgoRollouts),
    ] {
        std::fs::write(
            user_dir.join("kustomization.yaml"),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
                 resources:\n  - {relative}/{NAMESPACED}\n\
                 components:\n  - {relative}/deploy/components/{component}\n"
            ),
        )
        .expect("write kustomization");
        let docs = render::render(&user_dir, ".");
        let what = format!("{NAMESPACED} with components/{component}");
        assert_namespaced_roles(&what, &docs, &[Feature::Core, feature]);
        let own = named(&docs, "Role", "prescale-leader-election");
        assert_eq!(
            granted(own),
            expected_grants(Scope::OwnNamespace, &[Feature::Core]),
            "{what}: the component leaves prescale's own Role alone"
        );
    }
}

#[test]
fn controller_runs_as_the_bound_service_account_with_its_token() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let pod = &controller(docs)["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], SERVICE_ACCOUNT, "{dir}");
        assert_eq!(pod["automountServiceAccountToken"], true, "{dir}");
        named(docs, "ServiceAccount", SERVICE_ACCOUNT);
    }
}

#[test]
fn every_pod_meets_restricted_pod_security() {
    let Some(all) = render::all() else { return };
    for dir in KUSTOMIZATIONS {
        for deployment in of_kind(&all[dir], "Deployment") {
            assert_restricted(deployment);
        }
        let ns = named(&all[dir], "Namespace", NAMESPACE);
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
            "{dir}: the namespace enforces it too"
        );
    }
}

#[test]
fn controller_has_two_replicas_rollback_history_spread_and_a_disruption_budget() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let deployment = controller(docs);
        let spec = &deployment["spec"];
        if *dir == SHARDED {
            assert_eq!(
                spec["replicas"], 3,
                "{dir}: three replicas share the shards"
            );
        } else {
            assert_eq!(spec["replicas"], 2, "{dir}: leader plus stand-by");
        }
        let history = spec["revisionHistoryLimit"].as_u64().expect("explicit");
        assert!(history >= 3, "{dir}: revisions kept for rollout undo");
        assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
        let labels = pod_labels(deployment);
        assert!(selects(&spec["selector"]["matchLabels"], labels));

        let spread = spec["template"]["spec"]["topologySpreadConstraints"]
            .as_array()
            .expect("topology spread");
        assert!(
            spread
                .iter()
                .any(|c| c["topologyKey"] == "kubernetes.io/hostname"
                    && selects(&c["labelSelector"]["matchLabels"], labels)),
            "{dir}: replicas spread over nodes"
        );

        let pdbs = of_kind(docs, "PodDisruptionBudget");
        assert_eq!(pdbs.len(), 1, "{dir}: one PDB");
        assert_eq!(pdbs[0]["metadata"]["namespace"], NAMESPACE);
        assert_eq!(pdbs[0]["spec"]["minAvailable"], 1, "{dir}");
        assert!(selects(&pdbs[0]["spec"]["selector"]["matchLabels"], labels));
    }
}

#[test]
fn controller_probes_hit_the_admin_endpoints() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let c = container(controller(docs));
        let ports = c["ports"].as_array().expect("ports");
        assert!(
            ports
                .iter()
                .any(|p| p["name"] == "admin" && p["containerPort"] == 8080),
            "{dir}: admin port 8080"
        );
        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            let get = &c[probe]["httpGet"];
            assert_eq!(get["path"], path, "{dir}: {probe}");
            assert_eq!(get["port"], "admin", "{dir}: {probe}");
        }
    }
}

#[test]
fn controller_has_requests_within_limits() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let resources = &container(controller(docs))["resources"];
        let cpu = |kind: &str| quantity::millicores(str_at(resources, &format!("/{kind}/cpu")));
        let mem = |kind: &str| quantity::bytes(str_at(resources, &format!("/{kind}/memory")));
        assert!(
            cpu("requests") > 0.0 && cpu("requests") <= cpu("limits"),
            "{dir}"
        );
        assert!(
            mem("requests") > 0.0 && mem("requests") <= mem("limits"),
            "{dir}"
        );
    }
}

#[test]
fn controller_runs_the_contracted_command_with_downward_api_identity() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let c = container(controller(docs));
        let args = strings(&c["args"], "args");
        let (contracted, extra) = args.split_at(5.min(args.len()));
        assert_eq!(
            contracted,
            [
                "run",
                "--config",
                "/etc/prescale/config/prescale.yaml",
                "--admin-addr",
                "0.0.0.0:8080"
            ],
            "{dir}"
        );
        // Only the namespaced install adds to them (the namespaces it watches), and the
        // sharded one (its shard count, which must parse as `prescale run` does).
        if *dir == NAMESPACED {
            assert_eq!(extra.len(), 2, "{dir}: --namespaces LIST");
            assert_eq!(extra[0], "--namespaces", "{dir}");
        } else if *dir == SHARDED {
            assert_eq!(extra.len(), 2, "{dir}: --shards N");
            assert_eq!(extra[0], "--shards", "{dir}");
            let shards: u32 = extra[1].parse().expect("--shards is a number");
            assert!(
                (2..=prescale::leader::MAX_SHARDS).contains(&shards),
                "{dir}"
            );
        } else {
            assert!(extra.is_empty(), "{dir}: unexpected args {extra:?}");
        }
        let env = c["env"].as_array().expect("env");
        for (name, field) in [
            ("POD_NAME", "metadata.name"),
            ("POD_NAMESPACE", "metadata.namespace"),
        ] {
            let var = env.iter().find(|e| e["name"] == name).expect(name);
            assert_eq!(var["valueFrom"]["fieldRef"]["fieldPath"], field, "{dir}");
        }
    }
}

#[test]
fn config_is_a_whole_directory_mount_of_a_stable_configmap() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        let deployment = controller(docs);
        let mounts = container(deployment)["volumeMounts"]
            .as_array()
            .expect("mounts");
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == "/etc/prescale/config")
            .expect("config mount");
        // A subPath mount is never updated by the kubelet: hot reload would never fire.
        assert!(mount.get("subPath").is_none(), "{dir}: no subPath");
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("config volume");
        // Unhashed name (deploy/base/kustomization.yaml): apply updates it in place.
        assert_eq!(volume["configMap"]["name"], "prescale-config", "{dir}");
        controller_config(docs);
    }
}

#[test]
fn prometheus_token_is_referenced_never_contained() {
    for dir in KUSTOMIZATIONS {
        let Some(docs) = render::one(dir) else { return };
        for secret in of_kind(docs, "Secret") {
            assert!(
                secret.get("data").is_none() && secret.get("stringData").is_none(),
                "{dir}: Secret {} carries data",
                secret["metadata"]["name"]
            );
        }
        let deployment = controller(docs);
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .expect("volumes");
        let token = volumes
            .iter()
            .find(|v| v["secret"]["secretName"] == "prescale-prometheus")
            .expect("the token Secret is mounted");
        assert_eq!(
            token["secret"]["optional"], true,
            "{dir}: installs without auth"
        );
        let mounts = container(deployment)["volumeMounts"]
            .as_array()
            .expect("mounts");
        assert!(
            mounts.iter().any(|m| m["name"] == token["name"]
                && m["mountPath"] == "/var/run/secrets/prescale"
                && m.get("subPath").is_none()),
            "{dir}: token mounted where the config points"
        );
        for e in container(deployment)["env"].as_array().expect("env") {
            let name = str_at(e, "/name").to_ascii_uppercase();
            assert!(
                !(name.contains("TOKEN") || name.contains("PASSWORD")),
                "{dir}: secret-looking env var {name}"
            );
        }
    }
}

#[test]
fn overlays_set_the_mode_and_differ_in_nothing_else() {
    let Some(all) = render::all() else { return };
    let shadow = controller_config(&all["deploy/overlays/shadow"]);
    let mut active = controller_config(&all["deploy/overlays/active"]);
    assert_eq!(mode_of(&shadow), "shadow");
    assert_eq!(mode_of(&active), "active");
    assert_eq!(
        mode_of(&controller_config(&all["deploy/overlays/servicemonitor"])),
        "shadow"
    );
    active["defaults"]["mode"] = "shadow".into();
    assert_eq!(
        active, shadow,
        "deploy/overlays/active/prescale.yaml must equal deploy/base/prescale.yaml \
         apart from defaults.mode"
    );
}

#[test]
fn only_the_prometheus_operator_overlays_need_the_prometheus_operator() {
    let Some(all) = render::all() else { return };
    for dir in ["deploy/overlays/shadow", "deploy/overlays/active"] {
        assert!(of_kind(&all[dir], "ServiceMonitor").is_empty(), "{dir}");
        assert!(of_kind(&all[dir], "PrometheusRule").is_empty(), "{dir}");
    }
    assert!(of_kind(&all["deploy/overlays/servicemonitor"], "PrometheusRule").is_empty());
    for dir in [
        "deploy/overlays/servicemonitor",
        "deploy/overlays/monitoring",
    ] {
        let docs = &all[dir];
        assert_eq!(
            mode_of(&controller_config(docs)),
            "shadow",
            "{dir} installs in shadow mode"
        );
        let monitor = named(docs, "ServiceMonitor", "prescale");
        let service = named(docs, "Service", "prescale");
        let service_labels = service["metadata"]["labels"].as_object().expect("labels");
        assert!(selects(
            &monitor["spec"]["selector"]["matchLabels"],
            service_labels
        ));
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["port"], "admin");
        assert_eq!(endpoint["path"], "/metrics");
        // Per-target series carry the target Deployment's `namespace`: kept, not renamed.
        assert_eq!(endpoint["honorLabels"], true, "{dir}");
        let ports = service["spec"]["ports"].as_array().expect("ports");
        assert!(ports.iter().any(|p| p["name"] == "admin"));
        assert!(selects(
            &service["spec"]["selector"],
            pod_labels(controller(docs))
        ));
    }
}

#[test]
fn the_monitoring_overlay_ships_the_alerts_and_a_dashboard_for_grafanas_sidecar() {
    let Some(docs) = render::one("deploy/overlays/monitoring") else {
        return;
    };
    let rule = named(docs, "PrometheusRule", "prescale");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["namespace"], NAMESPACE);
    let alerts: BTreeSet<&str> = rule["spec"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules"))
        .filter_map(|r| r["alert"].as_str())
        .collect();
    for alert in [
        "PrescaleDown",
        "PrescaleTargetMetricsFailing",
        "PrescaleFallbackActive",
        "PrescaleScaleWritesFailing",
        "PrescaleForecastErrorHigh",
    ] {
        assert!(alerts.contains(alert), "{alert} missing from {alerts:?}");
    }
    let dashboard = named(docs, "ConfigMap", "prescale-dashboard");
    assert_eq!(dashboard["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped = str_at(dashboard, "/data/prescale-dashboard.json");
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/components/monitoring/prescale-dashboard.json"),
    )
    .expect("the dashboard's source");
    assert_eq!(
        shipped, source,
        "the ConfigMap carries the dashboard unchanged"
    );
    let json: Value = serde_json::from_str(shipped).expect("the dashboard is JSON");
    assert_eq!(json["uid"], "prescale");
    // ConfigMap values are capped at 1 MiB, and `kubectl apply` keeps a copy in an
    // annotation capped at 256 KiB.
    assert!(shipped.len() < 200 * 1024, "{} bytes", shipped.len());
}

#[test]
fn example_config_targets_the_example_deployment() {
    let Some(docs) = render::one("deploy/examples") else {
        return;
    };
    let config = controller_config(docs);
    assert_eq!(mode_of(&config), "shadow", "the demo starts in shadow mode");
    let targets = config["targets"].as_array().expect("targets");
    assert!(!targets.is_empty());
    for target in targets {
        let namespace = str_at(target, "/scaleTargetRef/namespace");
        let name = str_at(target, "/scaleTargetRef/name");
        assert!(
            of_kind(docs, "Deployment").iter().any(|d| {
                d["metadata"]["namespace"] == namespace && d["metadata"]["name"] == name
            }),
            "example target {namespace}/{name} is not a Deployment of the example"
        );
    }
}

/// The config each kustomization deploys passes the controller's own validation
/// (`prescale check`), so an install never starts with a config it rejects.
#[test]
fn deployed_configs_pass_prescale_check() {
    let Some(all) = render::all() else { return };
    let prescale = env!("CARGO_BIN_EXE_prescale");
    let dir = tempfile::tempdir().expect("temp dir");
    for kustomization in KUSTOMIZATIONS {
        let map = named(&all[kustomization], "ConfigMap", "prescale-config");
        let path = dir.path().join("prescale.yaml");
        std::fs::write(&path, str_at(map, "/data/prescale.yaml")).expect("write config");
        let output = std::process::Command::new(prescale)
            .arg("check")
            .arg("--config")
            .arg(&path)
            .output()
            .expect("run prescale check");
        assert!(
            output.status.success(),
            "the config deployed by {kustomization} fails `prescale check`:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `.ci/check-deploy.sh` validates (schemas, checkov) the same kustomizations these tests
/// check, so a new overlay cannot miss either.
#[test]
fn check_deploy_validates_every_kustomization() {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/check-deploy.sh"))
            .expect(".ci/check-deploy.sh");
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("for dir in "))
        .expect("check-deploy.sh's `for dir in ...` loop");
    let checked: BTreeSet<&str> = line
        .split("; do")
        .next()
        .expect("the list")
        .split_whitespace()
        .collect();
    assert_eq!(checked, KUSTOMIZATIONS.iter().copied().collect());
}

/// The Prometheus pod the config's `prometheus.url` reaches through its Service, and the
/// pod's port the Service sends it to.
fn prometheus_of(docs: &[Value]) -> (Endpoint, u16) {
    let url = str_at(&controller_config(docs), "/prometheus/url").to_owned();
    let authority = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("prometheus.url {url}"));
    let (host, port) = authority.split_once(':').expect("an explicit port");
    let port: u64 = port.parse().expect("a port number");
    let mut labels = host.split('.');
    let (service_name, namespace) = (
        labels.next().expect("a Service"),
        labels.next().expect("its namespace"),
    );
    let service = of_kind(docs, "Service")
        .into_iter()
        .find(|s| s["metadata"]["name"] == service_name && s["metadata"]["namespace"] == namespace)
        .unwrap_or_else(|| panic!("{url}: no Service {namespace}/{service_name}"));
    let service_port = service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["port"] == port)
        .unwrap_or_else(|| panic!("{url}: the Service has no port {port}"));
    let backends: Vec<&Value> = of_kind(docs, "Deployment")
        .into_iter()
        .filter(|d| {
            d["metadata"]["namespace"] == namespace
                && network_policy::selects(
                    &serde_json::json!({"matchLabels": service["spec"]["selector"]}),
                    pod_labels(d),
                )
        })
        .collect();
    assert_eq!(backends.len(), 1, "{url}: one Prometheus Deployment");
    let pod = pod_of(backends[0]);
    let target = match (&service_port["targetPort"], &pod) {
        (Value::String(name), Endpoint::Pod { ports, .. }) => ports[name.as_str()],
        (Value::Number(n), _) => u16::try_from(n.as_u64().expect("a port")).expect("a port"),
        (Value::Null, _) => u16::try_from(port).expect("a port"),
        (other, _) => panic!("targetPort {other}"),
    };
    (pod, target)
}

fn admin_port(prescale: &Endpoint) -> u16 {
    match prescale {
        Endpoint::Pod { ports, .. } => ports["admin"],
        Endpoint::Address(_) => unreachable!("the controller is a pod"),
    }
}

/// The examples' NetworkPolicy (deploy/components/network-policy): prescale's admin port
/// (/metrics, /report) admits the labelled monitoring namespace only, and prescale reaches
/// DNS, the API server and the Prometheus its config names, and nothing else of the demo.
#[test]
fn the_examples_network_policy_admits_monitoring_and_reaches_only_dns_api_server_and_prometheus() {
    let Some(docs) = render::one("deploy/examples") else {
        return;
    };
    let cluster = Cluster::new(docs, &[("kube-system", &[]), ("monitoring", &[])]);
    let prescale = pod_of(controller(docs));
    let admin = admin_port(&prescale);
    let (prometheus, prometheus_port) = prometheus_of(docs);

    // Ingress: the demo's Prometheus (its namespace carries prescale.io/monitoring=true)
    // scrapes /metrics; a Prometheus in an unlabelled namespace, or any other port, is refused.
    assert!(
        cluster.admits(&prometheus, &prescale, admin, "TCP"),
        "the monitoring namespace scrapes prescale"
    );
    let unlabelled = other_pod("monitoring", &[("app.kubernetes.io/name", "prometheus")]);
    assert!(
        !cluster.admits(&unlabelled, &prescale, admin, "TCP"),
        "an unlabelled namespace is refused"
    );
    assert!(
        !cluster.admits(&prometheus, &prescale, admin + 1, "TCP"),
        "only the admin port"
    );

    // Egress: DNS, the API server (kind's 6443, minikube's 8443, a managed cluster's 443)
    // and the Prometheus of prometheus.url.
    let dns = other_pod("kube-system", &[("k8s-app", "kube-dns")]);
    for protocol in ["UDP", "TCP"] {
        assert!(
            cluster.admits(&prescale, &dns, 53, protocol),
            "DNS over {protocol}"
        );
    }
    assert!(!cluster.admits(&prescale, &dns, 9153, "TCP"), "DNS only");
    for (ip, port) in [
        ([172, 18, 0, 2], 6443),
        ([192, 168, 49, 2], 8443),
        ([10, 0, 0, 1], 443),
    ] {
        let api_server = Endpoint::Address(Ipv4Addr::from(ip));
        assert!(
            cluster.admits(&prescale, &api_server, port, "TCP"),
            "the API server on {port}"
        );
    }
    assert!(
        !cluster.admits(
            &prescale,
            &Endpoint::Address(Ipv4Addr::new(203, 0, 113, 7)),
            80,
            "TCP"
        ),
        "no other egress"
    );
    assert!(
        cluster.admits(&prescale, &prometheus, prometheus_port, "TCP"),
        "prescale reaches the Prometheus of its config (port {prometheus_port})"
    );
    // Nothing else of the demo: Redis, the exporter, the workers.
    for deployment in of_kind(docs, "Deployment") {
        let pod = pod_of(deployment);
        let Endpoint::Pod {
            ports, namespace, ..
        } = &pod
        else {
            unreachable!()
        };
        if namespace == NAMESPACE
            || pod_labels(deployment)["app.kubernetes.io/name"] == "prometheus"
        {
            continue;
        }
        for (name, port) in ports {
            assert!(
                !cluster.admits(&prescale, &pod, *port, "TCP"),
                "prescale must not reach {}:{name}",
                deployment["metadata"]["name"]
            );
        }
    }
}

/// The default install needs no labels: its NetworkPolicy admits the admin port from any
/// namespace and leaves egress open (the strict one is the opt-in component).
#[test]
fn the_default_network_policy_admits_any_scraper_and_leaves_egress_open() {
    let Some(docs) = render::one("deploy/overlays/shadow") else {
        return;
    };
    let cluster = Cluster::new(docs, &[("monitoring", &[])]);
    let prescale = pod_of(controller(docs));
    let scraper = other_pod("monitoring", &[("app.kubernetes.io/name", "prometheus")]);
    assert!(cluster.admits(&scraper, &prescale, admin_port(&prescale), "TCP"));
    assert!(!cluster.admits(&scraper, &prescale, admin_port(&prescale) + 1, "TCP"));
    let anywhere = Endpoint::Address(Ipv4Addr::new(203, 0, 113, 7));
    assert!(cluster.admits(&prescale, &anywhere, 9090, "TCP"));
}
