//! Differential tests on generated `.twin` models: proptest writes twins
//! with random let DAGs, states, alarms (with hold times and clear
//! conditions), `on` and `every` handlers, vars, actuators and table
//! lookups; each is checked, lowered for a random solver, and run on the
//! JIT and on the interpreter, which must agree bit for bit after every
//! tick (NaN compared by class).

use proptest::prelude::*;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Solver;
use twin_compiler::interp::{self, Memory};

/// A random dimensionless expression over `names`, at most `depth` deep.
fn expr(names: Vec<String>, depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        prop::sample::select(names.clone()),
        (-30i32..30).prop_map(|n| format!("{}", n as f64 / 10.0)),
    ];
    if depth == 0 || names.is_empty() {
        return leaf.boxed();
    }
    let sub = expr(names, depth - 1);
    prop_oneof![
        2 => leaf,
        1 => (sub.clone(), sub.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
        1 => (sub.clone(), sub.clone()).prop_map(|(a, b)| format!("({a} - {b})")),
        1 => (sub.clone(), sub.clone()).prop_map(|(a, b)| format!("({a} * {b})")),
        1 => (sub.clone(), sub.clone()).prop_map(|(a, b)| format!("({a} / (1.5 + abs({b})))")),
        1 => sub.clone().prop_map(|a| format!("sin({a})")),
        1 => sub.clone().prop_map(|a| format!("exp(-abs({a}))")),
        1 => (sub.clone(), sub.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
        1 => (sub.clone(), sub.clone(), sub.clone()).prop_map(|(c, a, b)| format!("(if {c} > 0 then {a} else {b})")),
        1 => sub.clone().prop_map(|a| format!("prev({a}, 0)")),
        1 => sub.prop_map(|a| format!("curve({a})")),
    ]
    .boxed()
}

/// The lookup table generated expressions may call.
const CURVE: &str = "const curve = table(1 -> 1) { -1: 0.5, 0: -0.25, 0.5: 1, 2: 0 }\n";

/// A random twin, as source text.
fn twin() -> impl Strategy<Value = String> {
    (1usize..3, 1usize..4, 1usize..6).prop_flat_map(|(sensors, states, lets)| {
        let mut names: Vec<String> = (0..sensors).map(|i| format!("s{i}")).collect();
        names.extend((0..states).map(|i| format!("x{i}")));
        names.push("p".into());
        // Each let may read only what is declared before it: a DAG.
        let let_exprs: Vec<BoxedStrategy<String>> = (0..lets)
            .map(|i| {
                let mut visible = names.clone();
                visible.extend((0..i).map(|j| format!("l{j}")));
                expr(visible, 2)
            })
            .collect();
        let mut all = names.clone();
        all.extend((0..lets).map(|j| format!("l{j}")));
        let ders: Vec<BoxedStrategy<String>> = (0..states).map(|_| expr(all.clone(), 2)).collect();
        (
            Just((sensors, states, lets)),
            let_exprs,
            ders,
            expr(all.clone(), 1),
            expr(all.clone(), 1),
            0u32..40,
            prop::sample::select(vec!["euler", "rk4", "dopri5"]),
            expr(all, 1),
        )
    })
    .prop_map(|((sensors, states, lets), let_exprs, ders, when, clear, hold_ms, solver, cmd)| {
        let mut s = String::from(CURVE);
        s += &format!("twin Gen {{\n    step 10 ms\n    solver {solver}\n    param p = 0.7\n");
        for i in 0..sensors {
            s.push_str(&format!("    sensor s{i} = {}\n", 0.3 * (i as f64 + 1.0)));
        }
        for i in 0..states {
            s.push_str(&format!("    state x{i} = {}\n", 1.0 - 0.4 * i as f64));
        }
        for (i, e) in let_exprs.iter().enumerate().take(lets) {
            s.push_str(&format!("    let l{i} = {e}\n"));
        }
        for (i, e) in ders.iter().enumerate() {
            // Damping keeps most states bounded, so runs compare numbers.
            s.push_str(&format!("    der(x{i}) = ({e} - x{i}) / 1 s\n"));
        }
        s.push_str("    var count: Int = 0\n    var level = 0\n");
        s.push_str("    actuator valve range -1 .. 1 slew 20 1/s\n");
        s.push_str(&format!("    alarm a: warning when {when} > 0.2 for {hold_ms} ms clear when {clear} < 0\n"));
        s.push_str(&format!("    on a {{\n        count = count + 1\n        valve = {cmd}\n    }}\n"));
        s.push_str("    every 50 ms {\n        level = level + 0.5\n    }\n}\n");
        s
    })
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn run_both(src: &str) -> Result<(), TestCaseError> {
    let model = match twin_tests::lower_source(src, None::<Solver>) {
        Ok(m) => m,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "generated model does not check:\n{src}\n{e}"
            )));
        }
    };
    let jit = CompiledModel::compile(&model).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut a: Memory = twin_tests::ready_memory(&model, &[]);
    let mut b = a.clone();
    for k in 0..120u64 {
        interp::exec(&model.tick, &mut a);
        jit.tick(&mut b);
        interp::exec(&model.integrate, &mut a);
        jit.integrate(&mut b);
        for m in [&mut a, &mut b] {
            let next = k + 1;
            m.set(model.tick_index, next as f64);
            m.set(model.time, next as f64 * model.step);
        }
        for (i, (x, y)) in a.block.iter().zip(&b.block).enumerate() {
            if !same(*x, *y) {
                return Err(TestCaseError::fail(format!(
                    "tick {k}: slot `{}` differs: interp {x:?}, jit {y:?}\n{src}",
                    model.slots[i].name
                )));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn jit_and_interpreter_agree_on_generated_models(src in twin()) {
        run_both(&src)?;
    }
}
