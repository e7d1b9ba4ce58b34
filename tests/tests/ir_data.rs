//! IR snapshots over `tests/data/ir/*.twin`: each file is checked and its
//! only twin lowered; the snapshot is the model's listing (slot table,
//! interface and the four programs), so a change in what the lowering
//! emits — a slot more, a statement moved, an operation reordered — shows
//! up in review.

#[test]
fn ir_data() {
    insta::glob!("../data/ir", "*.twin", |path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let listing = match twin_tests::lower_source(&text, None) {
            Ok(model) => model.to_string(),
            Err(diagnostics) => panic!("{}: {diagnostics}", path.display()),
        };
        insta::assert_snapshot!(listing);
    });
}

/// The benchmark Pump (`tests/data/bench/pump.twin`): its slot count is
/// the fleet's memory per instance in BENCHMARKS.md.
#[test]
fn ir_bench_pump() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/bench/pump.twin");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match twin_tests::lower_source(&text, None) {
        Ok(model) => insta::assert_snapshot!("bench_pump", model.to_string()),
        Err(diagnostics) => panic!("{path}: {diagnostics}"),
    }
}

/// The benchmark Pump laid out for a fleet whose instances override no
/// param (what `twinc run` compiles for such a fleet): the four params
/// move to the shared region, and the programs read them there.
#[test]
fn ir_bench_pump_fleet() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/bench/pump.twin");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match twin_tests::lower_source(&text, None) {
        Ok(mut model) => {
            assert_eq!(twin_compiler::ir::share::share_params(&mut model, &[]), 4);
            insta::assert_snapshot!("bench_pump_fleet", model.to_string())
        }
        Err(diagnostics) => panic!("{path}: {diagnostics}"),
    }
}
