//! The generated benchmark model is a valid model, so the benchmark
//! measures checking real code rather than error recovery.

#[test]
fn generated_model_checks_clean() {
    let text = twin_tests::generated_model(2_000);
    assert!(text.lines().count() >= 2_000);
    let rendered = twin_tests::diagnostics_text("gen.twin", &text);
    assert!(!rendered.contains("Error"), "{rendered}");
}
