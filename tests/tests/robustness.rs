//! Fuzz-style robustness: arbitrary and mutated-valid sources thrown at the
//! lexer, parser and checker. Guards the invariants the editor and the
//! renderers rely on: no panic, every diagnostic span inside its file and
//! on `char` boundaries, and rendering never fails.

use proptest::prelude::*;
use twin_compiler::check::check;
use twin_compiler::diagnostic::{json, render};
use twin_compiler::source::Sources;

/// Valid models to mutate: the shipped ones plus a few inline.
const SEEDS: &[&str] = &[
    include_str!("../data/bench/pump.twin"),
    include_str!("../../stdlib/std/filters.twin"),
    r#"
component Lag<U>(x: U, tau: s) -> U {
    state y: U = x
    der(y) = (x - y) / tau
    return y
}
enum Mode { Off, Idle, Running }
const g = 9.81 m/s^2
unit lpm = L/min
fn area(d: m) -> m^2 = pi * (d / 2)^2
twin Tank {
    step 1 s
    solver dopri5(rtol: 1e-6, atol: 1e-9)
    sensor inflow: lpm = 0 lpm
    sensor 温度: degC = 20 degC
    param d: m = 1.2 m
    var mode: Mode = Mode::Idle
    var count: Int = 0
    state level: m = 1 m
    der(level) = (inflow - 0.5 L/s) / area(d: d)
    let smooth = Lag(x: level, tau: 10 s)
    let hot = 温度 > 30 degC
    actuator valve: % range 0 % .. 100 % slew 10 %/s
    alarm high: warning when level > 2 m for 5 s clear when level < 1.8 m message "level {level} 🚰"
    on high { valve = 0 %  mode = Mode::Off }
    every 1 min { count = count + 1 }
}
scenario fill for Tank { duration 1 h  set d = 2 m  sensor inflow = 20 lpm  report level }
test "fills" for Tank { sensor inflow = 30 lpm  run 10 min  expect eventually high within 10 min  expect always level >= 0 m  expect level > 1 m at 5 min }
"#,
];

/// Checks a source and asserts every invariant; gives nothing.
fn assert_robust(text: &str) {
    let mut sources = Sources::new();
    let root = sources.add("fuzz.twin", text);
    let checked = check(&mut sources, root);
    for d in &checked.diagnostics {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            let file = sources
                .try_get(label.span.file)
                .unwrap_or_else(|| panic!("span in unknown file: {d:?}"));
            let (s, e) = (label.span.start as usize, label.span.end as usize);
            assert!(
                s <= e && e <= file.text.len(),
                "span {s}..{e} outside {} bytes: {d:?}",
                file.text.len()
            );
            assert!(
                file.text.is_char_boundary(s) && file.text.is_char_boundary(e),
                "span {s}..{e} not on char boundaries: {d:?}"
            );
        }
    }
    let _ = render::render_all(&sources, &checked.diagnostics, false);
    let _ = json::to_json(&sources, &checked.diagnostics);
}

/// Pieces of the language, so random sources look like code often enough
/// to get past the lexer.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "twin",
            "component",
            "fn",
            "enum",
            "use",
            "const",
            "unit",
            "scenario",
            "test",
            "sensor",
            "actuator",
            "param",
            "state",
            "var",
            "let",
            "out",
            "return",
            "der",
            "alarm",
            "when",
            "for",
            "clear",
            "on",
            "every",
            "if",
            "then",
            "else",
            "and",
            "or",
            "not",
            "range",
            "stale",
            "after",
            "slew",
            "step",
            "solver",
            "message",
            "critical",
            "run",
            "expect",
            "always",
            "eventually",
            "within",
            "at",
            "{",
            "}",
            "(",
            ")",
            "<",
            ">",
            "=",
            "==",
            "+",
            "-",
            "*",
            "/",
            "^",
            "%",
            ",",
            ":",
            "::",
            ".",
            "..",
            "->",
            "\n",
            " ",
            "12 A",
            "3.5 kW",
            "9.81 m/s^2",
            "1.2 W/(m^2*K)",
            "20 degC",
            "x",
            "y",
            "T",
            "U",
            "Lag",
            "µA",
            "温度",
            "🚀",
            "\"s {x}\"",
            "\"",
            "///",
            "//!",
            "// c\n",
            "/*",
            "*/",
            "1e-3",
            "1_000",
            "std",
        ])
        .prop_map(String::from),
        "[a-zA-Z_µ温][a-zA-Z0-9_]{0,6}",
        "[0-9]{1,4}(\\.[0-9]{1,3})?",
    ]
}

/// A mutation of a seed: delete, duplicate or replace a byte range, or
/// insert a token.
fn mutated() -> impl Strategy<Value = String> {
    (
        0..SEEDS.len(),
        prop::collection::vec(
            (0usize..4, any::<prop::sample::Index>(), 0usize..40, token()),
            1..6,
        ),
    )
        .prop_map(|(seed, edits)| {
            let mut text = SEEDS[seed].to_string();
            for (op, at, len, tok) in edits {
                if text.is_empty() {
                    text.push_str(&tok);
                    continue;
                }
                let mut start = at.index(text.len());
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (start + len).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                match op {
                    0 => text.replace_range(start..end, ""),
                    1 => {
                        let piece = text[start..end].to_string();
                        text.insert_str(start, &piece);
                    }
                    2 => text.replace_range(start..end, &tok),
                    _ => text.insert_str(start, &format!(" {tok} ")),
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_breaks_the_front_end(text in "\\PC{0,200}") {
        assert_robust(&text);
    }

    #[test]
    fn token_soup_never_breaks_the_front_end(tokens in prop::collection::vec(token(), 0..80)) {
        assert_robust(&tokens.join(" "));
    }

    #[test]
    fn mutated_models_never_break_the_front_end(text in mutated()) {
        assert_robust(&text);
    }
}

#[test]
fn seeds_are_valid_models() {
    for seed in SEEDS {
        let mut sources = Sources::new();
        let root = sources.add("seed.twin", *seed);
        let checked = check(&mut sources, root);
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| &d.message)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 2000;
    let text = format!(
        "twin D {{ let x = {}1{} }}",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    // Run on a thread with a known stack so the test means the same
    // everywhere; deeper inputs than the parser accepts must still end in
    // a diagnostic, not a crash.
    let handle = std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || assert_robust(&text));
    assert!(handle.map(|h| h.join().is_ok()).unwrap_or(false));
}
