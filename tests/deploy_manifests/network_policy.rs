//! Which connections the rendered NetworkPolicies admit, evaluated by the rules of
//! `networking.k8s.io/v1` NetworkPolicy: a pod selected by no policy of a direction is open
//! in that direction; otherwise a connection must match a rule of a policy that selects it
//! (`from`/`to` peers: `podSelector` in the policy's namespace, `namespaceSelector`, both
//! together, or `ipBlock`; `ports` by number or by the destination's port name), on the
//! sending side for egress and on the receiving side for ingress. Only `matchLabels`
//! selectors and IPv4 blocks are understood; anything else panics rather than guess.

use crate::render::{of_kind, str_at};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One end of a connection.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A pod: its namespace, its labels, and its containers' named ports.
    Pod {
        namespace: String,
        labels: Map<String, Value>,
        ports: BTreeMap<String, u16>,
    },
    /// An address outside the pod network (the API server, the internet).
    Address(Ipv4Addr),
}

/// The namespaces of a cluster (name -> labels, the API server's automatic
/// `kubernetes.io/metadata.name` included) and its NetworkPolicies.
pub struct Cluster {
    namespaces: BTreeMap<String, Map<String, Value>>,
    policies: Vec<Value>,
}

impl Cluster {
    /// The rendered objects' Namespaces and NetworkPolicies, plus `other_namespaces`
    /// (name, labels) that exist in any cluster or that a test adds.
    pub fn new(docs: &[Value], other_namespaces: &[(&str, &[(&str, &str)])]) -> Cluster {
        let mut namespaces = BTreeMap::new();
        for ns in of_kind(docs, "Namespace") {
            let labels = ns["metadata"]["labels"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            namespaces.insert(str_at(ns, "/metadata/name").to_owned(), labels);
        }
        for (name, labels) in other_namespaces {
            let labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect();
            namespaces.insert((*name).to_owned(), labels);
        }
        for (name, labels) in &mut namespaces {
            labels.insert("kubernetes.io/metadata.name".into(), name.clone().into());
        }
        let policies = of_kind(docs, "NetworkPolicy")
            .into_iter()
            .cloned()
            .collect();
        Cluster {
            namespaces,
            policies,
        }
    }

    /// Does a TCP or UDP connection from `from` to `to` on `port` get through?
    pub fn admits(&self, from: &Endpoint, to: &Endpoint, port: u16, protocol: &str) -> bool {
        let egress = match from {
            Endpoint::Pod { .. } => self.side(from, to, "Egress", "to", port, protocol, to),
            Endpoint::Address(_) => true,
        };
        let ingress = match to {
            Endpoint::Pod { .. } => self.side(to, from, "Ingress", "from", port, protocol, to),
            Endpoint::Address(_) => true,
        };
        egress && ingress
    }

    /// The policies of direction `kind` selecting `pod` admit `peer` (or none selects it).
    #[allow(clippy::too_many_arguments)]
    fn side(
        &self,
        pod: &Endpoint,
        peer: &Endpoint,
        kind: &str,
        peers_key: &str,
        port: u16,
        protocol: &str,
        destination: &Endpoint,
    ) -> bool {
        let Endpoint::Pod {
            namespace, labels, ..
        } = pod
        else {
            unreachable!("a policy selects pods only")
        };
        let selecting: Vec<&Value> = self
            .policies
            .iter()
            .filter(|p| p["metadata"]["namespace"] == namespace.as_str())
            .filter(|p| selects(&p["spec"]["podSelector"], labels))
            .filter(|p| types_of(p).iter().any(|t| t == kind))
            .collect();
        if selecting.is_empty() {
            return true;
        }
        let rules_key = kind.to_ascii_lowercase();
        selecting.iter().any(|policy| {
            policy["spec"][&rules_key]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| {
                    let peers_ok = match rule[peers_key].as_array() {
                        None => true,
                        Some(peers) if peers.is_empty() => true,
                        Some(peers) => peers.iter().any(|p| {
                            self.peer_matches(p, str_at(policy, "/metadata/namespace"), peer)
                        }),
                    };
                    peers_ok && ports_match(&rule["ports"], port, protocol, destination)
                })
        })
    }

    fn peer_matches(&self, peer: &Value, policy_namespace: &str, endpoint: &Endpoint) -> bool {
        if let Some(block) = peer.get("ipBlock") {
            assert!(
                peer.get("podSelector").is_none() && peer.get("namespaceSelector").is_none(),
                "ipBlock stands alone: {peer}"
            );
            let Endpoint::Address(ip) = endpoint else {
                // Whether an ipBlock matches pod addresses depends on the network plugin:
                // rules must not count on it either way.
                return false;
            };
            let excepted = block["except"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| in_cidr(*ip, c.as_str().expect("a CIDR")));
            return in_cidr(*ip, str_at(block, "/cidr")) && !excepted;
        }
        let Endpoint::Pod {
            namespace, labels, ..
        } = endpoint
        else {
            return false;
        };
        let namespace_ok = match peer.get("namespaceSelector") {
            None => namespace == policy_namespace,
            Some(selector) => {
                let ns_labels = self
                    .namespaces
                    .get(namespace)
                    .unwrap_or_else(|| panic!("namespace {namespace} is not in the cluster"));
                selects(selector, ns_labels)
            }
        };
        let pod_ok = peer
            .get("podSelector")
            .is_none_or(|selector| selects(selector, labels));
        namespace_ok && pod_ok
    }
}

fn types_of(policy: &Value) -> Vec<String> {
    match policy["spec"]["policyTypes"].as_array() {
        Some(types) => types
            .iter()
            .map(|t| t.as_str().expect("a policy type").to_owned())
            .collect(),
        // The API server's default: Ingress, and Egress when egress rules are given.
        None => {
            let mut types = vec!["Ingress".to_owned()];
            if policy["spec"].get("egress").is_some() {
                types.push("Egress".to_owned());
            }
            types
        }
    }
}

/// A label selector (`matchLabels` only; empty selects everything) selects `labels`.
pub fn selects(selector: &Value, labels: &Map<String, Value>) -> bool {
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchExpressions are not evaluated here: {selector}"
    );
    selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
}

fn ports_match(ports: &Value, port: u16, protocol: &str, destination: &Endpoint) -> bool {
    let Some(ports) = ports.as_array() else {
        return true;
    };
    if ports.is_empty() {
        return true;
    }
    ports.iter().any(|p| {
        let proto = p["protocol"].as_str().unwrap_or("TCP");
        assert!(
            p.get("endPort").is_none(),
            "endPort is not evaluated here: {p}"
        );
        let number = match &p["port"] {
            Value::Null => return proto == protocol,
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            // A named port is the destination pod's container port of that name.
            Value::String(name) => match destination {
                Endpoint::Pod { ports, .. } => ports.get(name).copied(),
                Endpoint::Address(_) => None,
            },
            other => panic!("a port is a number or a name: {other}"),
        };
        proto == protocol && number == Some(port)
    })
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> bool {
    let (base, bits) = cidr.split_once('/').expect("a CIDR");
    let base: Ipv4Addr = base.parse().unwrap_or_else(|_| panic!("IPv4 CIDR {cidr}"));
    let bits: u32 = bits.parse().expect("prefix length");
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(base) & mask
}

/// The pods of a Deployment's template, as connection endpoints.
pub fn pod_of(deployment: &Value) -> Endpoint {
    let template = &deployment["spec"]["template"];
    let mut ports = BTreeMap::new();
    for c in template["spec"]["containers"]
        .as_array()
        .expect("containers")
    {
        for p in c["ports"].as_array().into_iter().flatten() {
            if let (Some(name), Some(number)) = (p["name"].as_str(), p["containerPort"].as_u64()) {
                ports.insert(name.to_owned(), u16::try_from(number).expect("a port"));
            }
        }
    }
    Endpoint::Pod {
        namespace: str_at(deployment, "/metadata/namespace").to_owned(),
        labels: template["metadata"]["labels"]
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ports,
    }
}

/// A pod that is not in the rendered objects (CoreDNS, a client in another namespace).
pub fn other_pod(namespace: &str, labels: &[(&str, &str)]) -> Endpoint {
    Endpoint::Pod {
        namespace: namespace.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect(),
        ports: BTreeMap::new(),
    }
}
