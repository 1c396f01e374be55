//! Compiles `proto/` into Rust with tonic-prost-build, using a vendored protoc
//! so a fresh machine needs no system protoc, and writes the file descriptor
//! set that gRPC reflection serves. The service uses the gateway's codec
//! (`src/api/codec.rs`), so undecodable requests get INVALID_ARGUMENT with an
//! ErrorInfo.
//!
//! Also records the git commit the binary is built from, for `--version`:
//! `IPALLOC_GIT_COMMIT` (compile time only) is `git rev-parse --short=12 HEAD`,
//! with `-dirty` when the sources the binary is built from differ from it
//! (see [`BUILD_INPUTS`]); without git (a source archive, a container build
//! without `.git`) it is the `GIT_COMMIT` variable when that looks like a
//! commit (`docker build --build-arg GIT_COMMIT=...`), else `unknown`. Git
//! never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What the binary is built from: a change here makes the build `-dirty`
/// and reruns this script, so the suffix is never stale.
const BUILD_INPUTS: &[&str] = &[
    "src",
    "proto",
    "emulators",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .codec_path("crate::api::codec::GatewayCodec")
        .file_descriptor_set_path(out_dir.join("ipalloc_descriptor.bin"))
        .compile_with_config(
            config,
            &["proto/ipalloc/v1/ip_allocation.proto"],
            &["proto"],
        )?;
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rustc-env=IPALLOC_GIT_COMMIT={}", git_commit());
    Ok(())
}

/// The commit for `--version`, and the rerun-if-changed lines that keep it
/// right (HEAD, the branch it points to, the build inputs).
fn git_commit() -> String {
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return std::env::var("GIT_COMMIT")
            .ok()
            .and_then(|given| commit_shaped(&given))
            .unwrap_or_else(|| "unknown".to_owned());
    };
    for watched in git_files() {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    for input in BUILD_INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    // `--no-optional-locks`: status must not refresh the index, or the next
    // build would see a changed file and run this script again.
    let mut status = vec!["--no-optional-locks", "status", "--porcelain", "--"];
    status.extend_from_slice(BUILD_INPUTS);
    match git(&status) {
        Some(changes) if !changes.is_empty() => format!("{commit}-dirty"),
        _ => commit,
    }
}

/// The files whose change means another commit: HEAD, the ref it names (or
/// its directory while the ref is only packed) and `packed-refs`. Only
/// existing paths: Cargo reruns the script on every build for a missing one.
fn git_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut paths = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["rev-parse", "--symbolic-full-name", "HEAD"])
        && branch.starts_with("refs/")
    {
        paths.push(branch);
    }
    for path in paths {
        let Some(file) = git(&["rev-parse", "--git-path", &path]).map(PathBuf::from) else {
            continue;
        };
        if file.exists() {
            files.push(file);
        } else if let Some(dir) = file.parent().filter(|dir| dir.is_dir()) {
            files.push(dir.to_path_buf());
        }
    }
    files
}

/// `GIT_COMMIT` as given by a build without `.git`: a hex commit id (a full
/// one shortened to 12), optionally `-dirty`; anything else is ignored.
fn commit_shaped(given: &str) -> Option<String> {
    let given = given.trim();
    if given.is_empty() {
        return None;
    }
    let (id, dirty) = match given.strip_suffix("-dirty") {
        Some(id) => (id, "-dirty"),
        None => (given, ""),
    };
    let hex = (7..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        println!("cargo:warning=GIT_COMMIT is not a commit id; --version says unknown");
        return None;
    }
    Some(format!(
        "{}{dirty}",
        &id[..id.len().min(12)].to_ascii_lowercase()
    ))
}

/// A git command's trimmed output, run in the package's directory (read at
/// run time: a compiled build script may be reused for a moved copy of the
/// tree); `None` when git is missing, this is no repository, or the command
/// fails.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let output = Command::new("git")
        .args(args)
        .current_dir(Path::new(&dir))
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout)
        .ok()
        .map(|text| text.trim().to_owned())
}
