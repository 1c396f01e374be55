//! Tests of the registry: the server-wide families in the text format, the
//! bounded method label, and the list of methods against the services'
//! own descriptors.

use prost::Message as _;

use super::*;

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn calls_are_timed_by_method_and_status_and_counted_in_flight() {
    let metrics = Metrics::new();
    let allocate = "/ipalloc.v1.IpAllocation/AllocateIp";
    let timer = metrics.call_started(allocate);
    let watch = metrics.call_started("/ipalloc.v1.IpAllocation/WatchAllocation");
    let text = metrics.encode().unwrap();
    for line in [
        r#"ipalloc_server_calls_in_flight{grpc_method="ipalloc.v1.IpAllocation/AllocateIp"} 1"#,
        r#"ipalloc_server_calls_in_flight{grpc_method="ipalloc.v1.IpAllocation/WatchAllocation"} 1"#,
        r#"ipalloc_server_calls_in_flight{grpc_method="other"} 0"#,
    ] {
        assert!(has_line(&text, line), "{line} missing:\n{text}");
    }
    timer.end("OK");
    // Dropped before it ended: the client went away.
    drop(watch);
    metrics
        .call_started("/no.such.Service/Method")
        .end("UNIMPLEMENTED");
    metrics.call_started(allocate).end("INVALID_ARGUMENT");
    let text = metrics.encode().unwrap();
    for line in [
        r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="OK"} 1"#,
        r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/AllocateIp",grpc_status="INVALID_ARGUMENT"} 1"#,
        r#"grpc_server_call_duration_seconds_count{grpc_method="ipalloc.v1.IpAllocation/WatchAllocation",grpc_status="CANCELLED"} 1"#,
        r#"grpc_server_call_duration_seconds_count{grpc_method="other",grpc_status="UNIMPLEMENTED"} 1"#,
        r#"ipalloc_server_calls_in_flight{grpc_method="ipalloc.v1.IpAllocation/AllocateIp"} 0"#,
        r#"ipalloc_server_calls_in_flight{grpc_method="ipalloc.v1.IpAllocation/WatchAllocation"} 0"#,
        "# TYPE grpc_server_call_duration_seconds histogram",
    ] {
        assert!(has_line(&text, line), "{line} missing:\n{text}");
    }
    assert!(
        !text.contains("no.such.Service"),
        "unknown paths are `other`"
    );
}

#[test]
fn watches_stores_and_the_build_are_exposed() {
    let metrics = Metrics::new();
    let open = metrics.watch_opened();
    assert!(has_line(
        &metrics.encode().unwrap(),
        "ipalloc_watches_open 1"
    ));
    drop(open);
    metrics.store_operation(STORE_LOCAL, "begin", Duration::from_micros(300), None);
    metrics.store_operation(
        STORE_POSTGRES,
        "claim",
        Duration::from_millis(2),
        Some("timeout"),
    );
    let text = metrics.encode().unwrap();
    let build = format!(
        r#"ipalloc_build_info{{version="{}",commit="{}"}} 1"#,
        env!("CARGO_PKG_VERSION"),
        env!("IPALLOC_GIT_COMMIT")
    );
    for line in [
        "ipalloc_watches_open 0",
        r#"ipalloc_store_operation_duration_seconds_count{store="local",operation="begin"} 1"#,
        r#"ipalloc_store_operation_duration_seconds_bucket{store="local",operation="begin",le="0.00025"} 0"#,
        r#"ipalloc_store_operation_duration_seconds_bucket{store="local",operation="begin",le="0.0005"} 1"#,
        r#"ipalloc_store_operation_duration_seconds_count{store="postgres",operation="claim"} 1"#,
        r#"ipalloc_store_operation_errors_total{store="postgres",operation="claim",error="timeout"} 1"#,
        "# TYPE ipalloc_build_info gauge",
        &build,
    ] {
        assert!(has_line(&text, line), "{line} missing:\n{text}");
    }
    assert!(!text.contains(r#"store="local",operation="begin",error"#));
}

/// The methods of every service the gateway registers, from the services'
/// own descriptors: each must have its label.
#[test]
fn every_served_method_has_its_label() {
    let sets = [
        crate::pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut served = Vec::new();
    for set in sets {
        let set = prost_types::FileDescriptorSet::decode(set).unwrap();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    served.push(format!(
                        "{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
    }
    served.sort();
    let mut known: Vec<String> = METHODS.iter().map(|m| (*m).to_owned()).collect();
    known.sort();
    assert_eq!(served, known);
    for method in METHODS {
        assert_eq!(method_index(&format!("/{method}")), method_index(method));
        assert!(method_index(method) < METHODS.len());
    }
    assert_eq!(method_index("/ipalloc.v1.IpAllocation/Nope"), METHODS.len());
}
