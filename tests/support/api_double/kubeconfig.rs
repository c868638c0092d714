//! A kubeconfig that points the real kube client at the double over plain HTTP.

use std::path::{Path, PathBuf};

/// Write `kubeconfig` into `dir` for `server`; returns its path.
pub fn write(dir: &Path, server: &str) -> PathBuf {
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: double
  cluster:
    server: {server}
users:
- name: tester
  user:
    token: test-token
contexts:
- name: double
  context:
    cluster: double
    user: tester
    namespace: default
current-context: double
"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}
