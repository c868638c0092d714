//! A kubeconfig that points the real kube client at the double over plain HTTP.

use std::path::{Path, PathBuf};

/// Write a kubeconfig into `dir` for `server`, authenticating with `token`; returns its path.
pub fn write(dir: &Path, server: &str, token: &str) -> PathBuf {
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
    token: {token}
contexts:
- name: double
  context:
    cluster: double
    user: tester
    namespace: default
current-context: double
"
    );
    let path = dir.join(format!("kubeconfig-{token}"));
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}
