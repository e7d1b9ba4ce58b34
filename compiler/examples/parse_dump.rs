//! Parses files and prints the tree and diagnostics (a debugging aid).
fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut sources = twin_compiler::source::Sources::new();
        let id = sources.add(path.clone(), text.clone());
        let parsed = twin_compiler::syntax::parse(&text, id);
        if std::env::var("DUMP").is_ok() {
            println!("{:#?}", parsed.module);
        }
        println!("{path}: {} items", parsed.module.items.len());
        print!(
            "{}",
            twin_compiler::diagnostic::render::render_all(&sources, &parsed.diagnostics, false)
        );
    }
}
