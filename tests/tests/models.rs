//! Every model the project ships or is held to checks as expected: the
//! stdlib and examples without errors, and each conformance case as its
//! `case.toml` says (check-ok cases clean; check-error cases with their
//! named error on their line).

use std::path::Path;

use twin_compiler::check::check;
use twin_compiler::source::Sources;

fn errors_of(path: &Path) -> Vec<(String, usize)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut sources = Sources::new();
    let root = sources.add(path.display().to_string(), text);
    let checked = check(&mut sources, root);
    checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (line, _) = sources
                .get(d.primary.span.file)
                .line_col(d.primary.span.start);
            (d.kind.name().to_string(), line)
        })
        .collect()
}

fn twin_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            twin_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "twin") {
            out.push(p);
        }
    }
}

#[test]
fn stdlib_and_examples_are_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    twin_files(&root.join("stdlib"), &mut files);
    twin_files(&root.join("examples"), &mut files);
    assert!(
        !files.is_empty(),
        "no models found under stdlib/ and examples/"
    );
    for f in files {
        let errors = errors_of(&f);
        assert!(errors.is_empty(), "{}: {errors:?}", f.display());
    }
}

#[test]
fn conformance_models_check_as_their_cases_say() {
    let Some(cases) = twin_tests::conformance_cases() else {
        eprintln!("shared/conformance not found; skipping");
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&cases).into_iter().flatten().flatten() {
        let dir = entry.path();
        let Ok(case) = std::fs::read_to_string(dir.join("case.toml")) else {
            continue;
        };
        let errors = errors_of(&dir.join("model.twin"));
        seen += 1;
        if case.contains("kind = \"check-error\"") {
            let name = case
                .lines()
                .find_map(|l| l.strip_prefix("name = "))
                .map(|n| n.trim_matches('"').to_string())
                .unwrap_or_default();
            assert!(
                errors.iter().any(|(n, _)| *n == name),
                "{}: expected {name}, got {errors:?}",
                dir.display()
            );
        } else {
            assert!(errors.is_empty(), "{}: {errors:?}", dir.display());
        }
    }
    assert!(seen > 0);
}
