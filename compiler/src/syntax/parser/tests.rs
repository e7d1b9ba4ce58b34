//! Parsing a file in runs of items on several threads gives what parsing
//! it whole gives, on every `.twin` file of the repository.

use super::*;
use crate::syntax::token::Kw;

/// Every `.twin` file under the repository's model folders, with its text.
fn repository_files() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending: Vec<_> = ["tests/data", "examples", "stdlib"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "twin")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

/// The items and the number of syntax errors of parsing `text` whole.
fn whole(
    tokens: &[(Token<'_>, Span)],
    end: usize,
) -> (Option<Vec<super::super::ast::Item>>, usize) {
    let eoi = Span::new(FileId(0), end..end);
    let input = tokens.map(eoi, |(t, s)| (t, s));
    let (items, errors) = decl::module_parser().parse(input).into_output_errors();
    (items, errors.len())
}

#[test]
fn runs_of_items_parse_as_the_whole_file() {
    let files = repository_files();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut split = 0;
    let mut clean = String::new();
    for (path, text) in &files {
        let lexed = lexer::lex(text, FileId(0));
        let (items, errors) = whole(&lexed.tokens, text.len());
        for chunks in 2..=4 {
            let runs = parse_in_parallel(&lexed.tokens, FileId(0), text.len(), chunks);
            if errors > 0 {
                assert!(
                    runs.is_none(),
                    "{}: runs parsed without the whole file's errors",
                    path.display()
                );
                continue;
            }
            if item_runs(&lexed.tokens, chunks).len() < 3 {
                assert!(runs.is_none());
                continue;
            }
            split += 1;
            assert_eq!(runs, items, "{} in {chunks} runs", path.display());
        }
        if errors == 0 && lexed.diagnostics.is_empty() {
            clean.push_str(text);
            clean.push('\n');
        }
    }
    assert!(split > 100, "only {split} files were split into runs");
    // All the clean files as one big file, cut in a few places.
    let lexed = lexer::lex(&clean, FileId(0));
    let (items, errors) = whole(&lexed.tokens, clean.len());
    assert_eq!(errors, 0);
    for chunks in [2, 3, 7] {
        let runs = parse_in_parallel(&lexed.tokens, FileId(0), clean.len(), chunks);
        assert!(runs.is_some());
        assert_eq!(runs, items, "all files in {chunks} runs");
    }
}

#[test]
fn runs_start_at_items_outside_brackets() {
    let text = "const a = 1\ntwin T {\n    fn x = 1\n}\nfn f(x: m) = (x)\nconst b = 2\n";
    let lexed = lexer::lex(text, FileId(0));
    let starts: Vec<_> = item_runs(&lexed.tokens, 8)
        .iter()
        .map(|&i| lexed.tokens.get(i).map(|(t, _)| *t))
        .collect();
    assert_eq!(
        starts,
        [
            Some(Token::Kw(Kw::Const)),
            Some(Token::Kw(Kw::Twin)),
            Some(Token::Kw(Kw::Fn)),
            Some(Token::Kw(Kw::Const)),
            None,
        ]
    );
    assert_eq!(item_runs(&lexed.tokens, 1), [0]);
}
