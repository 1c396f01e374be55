//! Compiles `proto/` into Rust with tonic-prost-build, using a vendored protoc
//! so a fresh machine needs no system protoc, and writes the file descriptor
//! set that gRPC reflection serves. The service uses the gateway's codec
//! (`src/api/codec.rs`), so undecodable requests get INVALID_ARGUMENT with an
//! ErrorInfo.

use std::path::PathBuf;

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
    Ok(())
}
