//! Lookup tables run: interpolation between points, clamping at both
//! ends, exact hits on points, arguments in another unit of the axis's
//! dimension, affine axes and NaN, in the interpreter and the JIT, which
//! must agree bit for bit; constant folding agrees with both; tables work
//! from components, functions and an imported module.

use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Program;
use twin_compiler::interp;
use twin_compiler::ir::{Model, lower};
use twin_compiler::source::Sources;
use twin_tests::differential::{assert_same, same};

const PUMP: &str = "
const head_curve = table(L/s -> m) { 0: 42, 5: 40, 10: 35, 15: 27 }
const warm = table(degC -> degC) { 10: -5, 20: 30, 100: 90 }
twin Pump {
    sensor raw: L/s
    sensor flow: m^3/h
    sensor temp: degC
    let head = head_curve(raw)
    let converted = head_curve(flow)
    let doubled = head_curve(2 * raw)
    let outlet = warm(temp)
}
";

/// Checks `src` (with `modules`, by path, available to `use`) and lowers
/// its first twin.
fn build(src: &str, modules: &[(&str, &str)]) -> (Program, Model) {
    let mut sources = Sources::new();
    for (path, text) in modules {
        sources.add(*path, *text);
    }
    let root = sources.add("model.twin", src);
    let checked = check(&mut sources, root);
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let model = match lower::lower(&checked.program, 0) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    (checked.program, model)
}

/// Runs one tick with the sensors at the given values (in their declared
/// units) in both engines; gives the interpreter's memory after checking
/// that the JIT left every slot with the same bits.
fn tick(model: &Model, compiled: &CompiledModel, inputs: &[(&str, f64)]) -> interp::Memory {
    let si: Vec<(&str, f64)> = inputs
        .iter()
        .map(|(name, v)| {
            let sensor = model
                .sensors
                .iter()
                .find(|s| s.name == *name)
                .unwrap_or_else(|| panic!("no sensor {name}"));
            (*name, sensor.unit.to_si(*v))
        })
        .collect();
    let mut want = twin_tests::ready_memory(model, &si);
    let mut got = want.clone();
    interp::exec(&model.tick, &mut want);
    compiled.tick(&mut got);
    assert_same(model, &want, &got, &format!("tick at {inputs:?}"));
    want
}

/// A recorded column's value (a let may share its slot with the value it
/// copies), or a slot's.
fn value(model: &Model, mem: &interp::Memory, name: &str) -> f64 {
    let slot = model
        .outputs
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.slot)
        .or_else(|| model.slot(name))
        .unwrap_or_else(|| panic!("no slot {name}"));
    mem.get(slot)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn lookups_interpolate_clamp_and_hit_points() {
    let (_, model) = build(PUMP, &[]);
    let compiled = CompiledModel::compile(&model).expect("the pump compiles");
    // Only `2 * raw`, of the four arguments, is worth a slot of its own.
    let bound: Vec<&str> = model
        .slots
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| n.contains('#') && (n.contains("head_curve") || n.contains("warm")))
        .collect();
    assert_eq!(bound, ["#head_curve0"]);
    // (raw in L/s, head in m, whether the value must be exact)
    let cases: [(f64, f64, bool); 10] = [
        (-3.0, 42.0, true),  // below the first point: the first y
        (0.0, 42.0, true),   // the first point
        (2.5, 41.0, false),  // halfway along the first segment
        (5.0, 40.0, true),   // an inner point, exactly
        (10.0, 35.0, true),  // another
        (12.0, 31.8, false), // inside the last segment
        (15.0, 27.0, true),  // the last point
        (1e6, 27.0, true),   // far above: the last y
        (f64::INFINITY, 27.0, true),
        (f64::NEG_INFINITY, 42.0, true),
    ];
    for (raw, head, exact) in cases {
        let mem = tick(
            &model,
            &compiled,
            &[("raw", raw), ("flow", 0.0), ("temp", 20.0)],
        );
        let got = value(&model, &mem, "head");
        if exact {
            assert_eq!(got.to_bits(), head.to_bits(), "head at {raw} L/s: {got}");
        } else {
            assert!(close(got, head), "head at {raw} L/s: {got}, want {head}");
        }
        let doubled = value(&model, &mem, "doubled");
        let want = value(
            &model,
            &tick(&model, &compiled, &[("raw", 2.0 * raw)]),
            "head",
        );
        assert!(same(doubled, want), "doubled at {raw}: {doubled} vs {want}");
    }
}

#[test]
fn arguments_in_other_units_are_converted() {
    let (_, model) = build(PUMP, &[]);
    let compiled = CompiledModel::compile(&model).expect("the pump compiles");
    // 18 m^3/h is 5 L/s (a point); 27 m^3/h is 7.5 L/s, halfway to 10 L/s.
    for (flow, head) in [(18.0, 40.0), (27.0, 37.5), (0.0, 42.0), (90.0, 27.0)] {
        let mem = tick(&model, &compiled, &[("flow", flow)]);
        let got = value(&model, &mem, "converted");
        assert!(close(got, head), "head at {flow} m^3/h: {got}, want {head}");
    }
    // A `degC` axis holds absolute temperatures; the result is one too and
    // is reported in `degC`.
    let unit = model
        .outputs
        .iter()
        .find(|o| o.name == "outlet")
        .map(|o| o.unit.clone())
        .expect("outlet is recorded");
    assert_eq!(unit.text, "degC");
    for (temp, outlet) in [
        (0.0, -5.0),
        (15.0, 12.5),
        (20.0, 30.0),
        (60.0, 60.0),
        (200.0, 90.0),
    ] {
        let mem = tick(&model, &compiled, &[("temp", temp)]);
        let got = unit.from_si(value(&model, &mem, "outlet"));
        assert!(
            close(got, outlet),
            "warm({temp} degC) = {got} degC, want {outlet}"
        );
    }
}

#[test]
fn nan_in_gives_nan_out() {
    let (_, model) = build(PUMP, &[]);
    let compiled = CompiledModel::compile(&model).expect("the pump compiles");
    let mem = tick(
        &model,
        &compiled,
        &[("raw", f64::NAN), ("flow", f64::NAN), ("temp", f64::NAN)],
    );
    for name in ["head", "converted", "doubled", "outlet"] {
        assert!(value(&model, &mem, name).is_nan(), "{name} is not NaN");
    }
}

#[test]
fn constant_folding_gives_the_engines_bits() {
    let (program, model) = build(PUMP, &[]);
    let compiled = CompiledModel::compile(&model).expect("the pump compiles");
    let table = &program.tables[0];
    // A sweep that crosses every point, with values just beside them.
    let mut raws: Vec<f64> = (-40..=200).map(|k| k as f64 * 0.1).collect();
    for p in [0.0, 5.0, 10.0, 15.0] {
        raws.extend([
            p,
            p * (1.0 + f64::EPSILON),
            p * (1.0 - f64::EPSILON),
            p + 1e-9,
        ]);
    }
    for raw in raws {
        let mem = tick(&model, &compiled, &[("raw", raw)]);
        let engine = value(&model, &mem, "head");
        let x = model.sensors[0].unit.to_si(raw);
        let folded = table.lookup(x).expect("the table is valid");
        assert!(
            same(engine, folded),
            "at {raw} L/s: engines {engine}, folded {folded}"
        );
    }
}

#[test]
fn tables_work_in_functions_components_and_imported_modules() {
    let module = "
/// Head of the standard pump.
const standard_head = table(L/s -> m) { 0: 42, 5: 40, 10: 35, 15: 27 }
/// The pump's lift to a tank `rise` above it.
component Lift(flow: L/s, rise: m) -> m {
    return standard_head(flow) - rise
}
";
    let src = "
use std::pumps::standard_head
use std::pumps::Lift
fn net(q: L/s) -> m = standard_head(q) - 1 m
twin Station {
    sensor flow: L/s = 5 L/s
    let lifted = Lift(flow: flow, rise: 2 m)
    let direct = standard_head(flow)
    let through_fn = net(flow)
}
";
    let (_, model) = build(src, &[("std::pumps", module)]);
    let compiled = CompiledModel::compile(&model).expect("the station compiles");
    let mem = tick(&model, &compiled, &[("flow", 5.0)]);
    assert_eq!(value(&model, &mem, "direct"), 40.0);
    assert_eq!(value(&model, &mem, "through_fn"), 39.0);
    assert_eq!(value(&model, &mem, "lifted"), 38.0);
}
