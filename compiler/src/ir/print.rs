//! A readable listing of a lowered model, for snapshots and for people.
//!
//! Takes a [`Model`]; gives text (`Display`): the slot table (number, kind,
//! name, with the line between an instance's slots and those a fleet shares),
//! the interface (params with their defaults, sensors, alarms, actuators,
//! outputs), then the four programs (`init_sensors`, `init`, `tick`,
//! `integrate`) one statement a line. Slots are written by name (`$power`,
//! `$rk#k0[1]`), or by number (`%12`) where two slots share a name.
//! Constants are Rust's shortest round-trip form of the `f64`, so the text
//! pins every bit the engines compute with. Binary operations are fully
//! parenthesised: the listing shows the evaluation order, which is what
//! bit-for-bit agreement depends on.

use std::collections::HashMap;
use std::fmt::{self, Display, Formatter, Write as _};

use super::{BinOp, Expr, Format, MessagePiece, Model, Slot, SlotKind, Stmt, UnOp};

impl Display for Model {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        Listing::new(self).fmt(f)
    }
}

/// A model and how its slots are written.
struct Listing<'m> {
    model: &'m Model,
    /// Names used by more than one slot: those slots are written by number.
    shared_names: HashMap<&'m str, usize>,
}

impl<'m> Listing<'m> {
    fn new(model: &'m Model) -> Listing<'m> {
        let mut shared_names = HashMap::new();
        for s in &model.slots {
            *shared_names.entry(s.name.as_str()).or_insert(0) += 1;
        }
        shared_names.retain(|_, n| *n > 1);
        Listing {
            model,
            shared_names,
        }
    }

    fn slot(&self, s: Slot) -> String {
        match self.model.slots.get(s as usize) {
            Some(info) if !self.shared_names.contains_key(info.name.as_str()) => {
                format!("${}", info.name)
            }
            _ => format!("%{s}"),
        }
    }

    fn expr(&self, e: &Expr, out: &mut String) {
        match e {
            Expr::Const(v) => {
                let _ = write!(out, "{v:?}");
            }
            Expr::Load(s) => out.push_str(&self.slot(*s)),
            Expr::Unary(op, a) => {
                out.push_str(match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "not ",
                });
                self.expr(a, out);
            }
            Expr::Binary(op, a, b) => {
                if let Some(name) = function(*op) {
                    out.push_str(name);
                    out.push('(');
                    self.expr(a, out);
                    out.push_str(", ");
                    self.expr(b, out);
                    out.push(')');
                } else {
                    out.push('(');
                    self.expr(a, out);
                    let _ = write!(out, " {} ", operator(*op));
                    self.expr(b, out);
                    out.push(')');
                }
            }
            Expr::Call(func, args) => {
                let _ = write!(out, "{}(", format!("{func:?}").to_lowercase());
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.expr(a, out);
                }
                out.push(')');
            }
            Expr::Select(c, a, b) => {
                out.push_str("select(");
                self.expr(c, out);
                out.push_str(", ");
                self.expr(a, out);
                out.push_str(", ");
                self.expr(b, out);
                out.push(')');
            }
        }
    }

    fn block(&self, stmts: &[Stmt], depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        for s in stmts {
            match s {
                Stmt::Store(slot, e) => {
                    let _ = write!(out, "{pad}{} = ", self.slot(*slot));
                    self.expr(e, out);
                    out.push('\n');
                }
                Stmt::If(c, then, otherwise) => {
                    out.push_str(&pad);
                    out.push_str("if ");
                    self.expr(c, out);
                    out.push_str(" {\n");
                    self.block(then, depth + 1, out);
                    if !otherwise.is_empty() {
                        let _ = writeln!(out, "{pad}}} else {{");
                        self.block(otherwise, depth + 1, out);
                    }
                    let _ = writeln!(out, "{pad}}}");
                }
                Stmt::While(c, body) => {
                    out.push_str(&pad);
                    out.push_str("while ");
                    self.expr(c, out);
                    out.push_str(" {\n");
                    self.block(body, depth + 1, out);
                    let _ = writeln!(out, "{pad}}}");
                }
            }
        }
    }

    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let m = self.model;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "twin {}: step {:?} s, solver {:?}",
            m.name, m.step, m.solver
        );
        let _ = writeln!(
            out,
            "slots: {} per instance, {} shared",
            m.persistent,
            m.scratch_len()
        );
        for (i, s) in m.slots.iter().enumerate() {
            if i == m.persistent as usize {
                out.push_str("  -- shared --\n");
            }
            let _ = writeln!(out, "  %{i:<3} {:<15} {}", kind(&s.kind), s.name);
        }
        let _ = writeln!(
            out,
            "clock: t {}, dt {}, k {}",
            self.slot(m.time),
            self.slot(m.dt),
            self.slot(m.tick_index)
        );
        let states: Vec<String> = m.states.iter().map(|s| self.slot(*s)).collect();
        let _ = writeln!(out, "states: {}", states.join(", "));
        for p in &m.params {
            let _ = write!(out, "param {} [{}] = ", self.slot(p.slot), p.unit.text);
            self.expr(&p.default, &mut out);
            out.push('\n');
        }
        for s in &m.sensors {
            let _ = write!(
                out,
                "sensor {} [{}] {}, last sample {}",
                self.slot(s.slot),
                s.unit.text,
                format(&s.format),
                self.slot(s.last_sample)
            );
            if let Some((lo, hi)) = s.range {
                let _ = write!(out, ", range {lo:?} .. {hi:?}");
            }
            if let Some(after) = s.stale_after {
                let _ = write!(out, ", stale after {after:?} s");
            }
            out.push('\n');
        }
        for a in &m.alarms {
            let _ = write!(out, "alarm {} {}: \"", self.slot(a.slot), a.severity);
            for piece in &a.message {
                match piece {
                    MessagePiece::Text(t) => out.push_str(t),
                    MessagePiece::Value(s, unit, _) => {
                        let _ = write!(out, "{{{} in {}}}", self.slot(*s), unit.text);
                    }
                }
            }
            out.push_str("\"\n");
        }
        for a in &m.actuators {
            let _ = writeln!(
                out,
                "actuator {} [{}], clamps counted in {}",
                self.slot(a.slot),
                a.unit.text,
                self.slot(a.clamps)
            );
        }
        let outputs: Vec<String> = m
            .outputs
            .iter()
            .map(|o| {
                format!(
                    "  {} [{}] {} = {}\n",
                    o.name,
                    o.unit.text,
                    format(&o.format),
                    self.slot(o.slot)
                )
            })
            .collect();
        let _ = write!(out, "outputs:\n{}", outputs.concat());
        for (name, program) in [
            ("init_sensors", &m.init_sensors),
            ("init", &m.init),
            ("tick", &m.tick),
            ("integrate", &m.integrate),
        ] {
            let _ = writeln!(out, "{name}:");
            self.block(program, 1, &mut out);
        }
        f.write_str(&out)
    }
}

/// `Min` and `Max` are written as calls; the others are infix.
fn function(op: BinOp) -> Option<&'static str> {
    match op {
        BinOp::Min => Some("minimum"),
        BinOp::Max => Some("maximum"),
        _ => None,
    }
}

fn operator(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::And => "and",
        BinOp::Or => "or",
        BinOp::Min | BinOp::Max => "?",
    }
}

fn kind(k: &SlotKind) -> &'static str {
    match k {
        SlotKind::Param => "param",
        SlotKind::Sensor => "sensor",
        SlotKind::State => "state",
        SlotKind::Var => "var",
        SlotKind::Let => "let",
        SlotKind::Actuator => "actuator",
        SlotKind::ActuatorTarget => "actuator-target",
        SlotKind::Alarm => "alarm",
        SlotKind::Internal => "internal",
        SlotKind::SharedParam => "shared-param",
        SlotKind::Scratch => "scratch",
    }
}

fn format(f: &Format) -> String {
    match f {
        Format::Real => "real".into(),
        Format::Int => "int".into(),
        Format::Bool => "bool".into(),
        Format::Enum(names) => format!("enum({})", names.join("|")),
    }
}
