//! README.md publishes the error mapping tables; they must equal the code's.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn readme_error_tables_match_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let begin = "<!-- error-tables:begin -->\n";
    let end = "<!-- error-tables:end -->";
    let start = readme.find(begin).expect("begin marker") + begin.len();
    let stop = readme.find(end).expect("end marker");
    assert_eq!(
        &readme[start..stop],
        ipalloc_gateway::error_tables_markdown(),
        "regenerate with: cargo run -- error-tables"
    );
}

#[test]
fn readme_emulator_inventory_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let begin = "<!-- emulator-inventory:begin -->\n";
    let end = "<!-- emulator-inventory:end -->";
    let start = readme.find(begin).expect("begin marker") + begin.len();
    let stop = readme.find(end).expect("end marker");
    assert_eq!(
        &readme[start..stop],
        ipalloc_gateway::emulator_inventory_markdown(),
        "regenerate with: cargo run -- inventory"
    );
}

#[test]
fn readme_gateway_decisions_match_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let begin = "<!-- gateway-decisions:begin -->\n";
    let end = "<!-- gateway-decisions:end -->";
    let start = readme.find(begin).expect("begin marker") + begin.len();
    let stop = readme.find(end).expect("end marker");
    assert_eq!(
        &readme[start..stop],
        ipalloc_gateway::gateway_decisions_markdown(),
        "regenerate with: cargo run -- gateway-errors"
    );
}

#[test]
fn readme_api_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let begin = "<!-- api-table:begin -->\n";
    let end = "<!-- api-table:end -->";
    let start = readme.find(begin).expect("begin marker") + begin.len();
    let stop = readme.find(end).expect("end marker");
    assert_eq!(
        &readme[start..stop],
        ipalloc_gateway::api_table_markdown(),
        "regenerate with: cargo run -- api-table"
    );
}
