//! Snapshot tests over `tests/data/parse/**/*.twin`: the syntax tree and
//! syntax diagnostics of each file.

#[test]
fn parse_data() {
    insta::glob!("../data/parse", "**/*.twin", |path| {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        insta::assert_snapshot!(twin_tests::parse_snapshot(&name, &text));
    });
}
