use std::path::Path;

/// `schema.graphql` is the SDL the server serves. Regenerate it with
/// `cargo run -- schema > schema.graphql`.
#[test]
fn the_checked_in_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let served = comptoir_api::sdl();
    assert!(
        on_disk == served,
        "schema.graphql is out of date; regenerate it with:\n\n    cargo run -- schema > schema.graphql\n"
    );
}
