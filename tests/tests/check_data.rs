//! Snapshot tests over `tests/data/check/**/*.twin`: each file is one
//! diagnostic situation; its snapshot shows the source and the rendered
//! diagnostics exactly as `twinc check` prints them.

#[test]
fn check_data() {
    insta::glob!("../data/check", "**/*.twin", |path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        insta::assert_snapshot!(twin_tests::check_snapshot(&name, &text));
    });
}
