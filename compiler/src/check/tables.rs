//! Lookup tables.
//!
//! Takes `const name = table(X -> Y) { x: y, ... }` items and the calls
//! `name(x)`; gives checked [`Table`]s and `Lookup` expressions. A point is
//! a plain number in its header unit; this file converts every point to SI,
//! so the IR never sees a unit. Affine units convert as literals do: on a
//! `degC` axis the points are absolute temperatures, the argument must be
//! one (a `K` axis takes anything in kelvin, absolute temperatures
//! included), and a `degC` result is an absolute temperature, exactly as
//! for a signal declared in that unit.
//!
//! Checks: the header's units exist and are units; a table has at least
//! two points, finite ones, with x strictly increasing and slopes that do
//! not overflow (`invalid-table`); a point with a unit of its own is
//! `unit-mismatch`; a call takes one argument of the x axis's dimension
//! (`argument-mismatch`, `unit-mismatch`, `affine-misuse`). A table used as
//! a value is reported where names are resolved.

use super::expr::{Scope, error_expr, texpr};
use super::types::{Affinity, Ty};
use super::units::Generic;
use super::{Checker, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{DisplayUnit, TExpr, TExprKind, Table};
use crate::span::Span;
use crate::syntax::ast::{Arg, Expr, ExprKind, ItemKind, TableDecl, TablePoint, TypeExpr};

/// One axis of a table as the header gives it.
struct Axis {
    ty: Ty,
    unit: DisplayUnit,
    /// The header's text for the unit, for messages.
    text: String,
}

/// Whether an expression holds a quantity literal (`5 L/s`, `50 %`).
fn has_quantity(e: &Expr) -> Option<Span> {
    match &e.kind {
        ExprKind::Quantity(..) => Some(e.span),
        ExprKind::Paren(x) | ExprKind::Unary(_, x) => has_quantity(x),
        ExprKind::Binary(_, a, b) => has_quantity(a).or_else(|| has_quantity(b)),
        ExprKind::If(c, a, b) => has_quantity(c)
            .or_else(|| has_quantity(a))
            .or_else(|| has_quantity(b)),
        ExprKind::Call(_, args) => args.iter().find_map(|a| has_quantity(&a.value)),
        _ => None,
    }
}

impl Checker {
    /// Makes sure table `i` is checked; false while it is being checked
    /// (a point that uses the table itself), after reporting that.
    pub(crate) fn ensure_table(&mut self, i: usize, span: Span) -> bool {
        match self.table_items[i].1 {
            Progress::Done => true,
            Progress::Started => {
                let name = self.program.tables[i].name.clone();
                self.error(
                    Diagnostic::new(
                        Kind::AlgebraicLoop,
                        span,
                        format!("table `{name}` is defined in terms of itself"),
                    )
                    .label("used while its own points are computed"),
                );
                false
            }
            Progress::Pending => {
                self.table_items[i].1 = Progress::Started;
                let at = self.table_items[i].0;
                let ItemKind::Table(decl) = &self.item(at).kind else {
                    return false;
                };
                let decl = decl.clone();
                let table = self.check_table(at.module, &decl);
                self.program.tables[i] = table;
                self.table_items[i].1 = Progress::Done;
                true
            }
        }
    }

    fn check_table(&mut self, m: usize, decl: &TableDecl) -> Table {
        let x = self.table_axis(m, &decl.x_unit);
        let y = self.table_axis(m, &decl.y_unit);
        let mut points = Vec::new();
        let mut ok = true;
        for p in &decl.points {
            let px = self.table_number(m, &p.x, &x, decl);
            let py = self.table_number(m, &p.y, &y, decl);
            match (px, py) {
                (Some(a), Some(b)) => points.push((a, b)),
                _ => ok = false,
            }
        }
        let name = &decl.name.name;
        if decl.points.len() < 2 {
            let n = decl.points.len();
            self.error(
                Diagnostic::new(
                    Kind::InvalidTable,
                    decl.body_span,
                    format!(
                        "table `{name}` needs at least two points, but has {}",
                        if n == 0 { "none".to_string() } else { n.to_string() }
                    ),
                )
                .label(format!("{n} point{}", if n == 1 { "" } else { "s" }))
                .with_help("a table interpolates between its points: give it at least two, e.g. `{ 0: 1, 10: 2 }`"),
            );
            ok = false;
        }
        ok = ok && !x.ty.is_error() && !y.ty.is_error() && self.check_order(decl, &points);
        Table {
            name: name.clone(),
            points: if ok { points } else { Vec::new() },
            arg: x.ty,
            x_unit: x.unit,
            ty: y.ty,
            y_unit: y.unit,
        }
    }

    /// A header unit: a unit (or `1`, `Real`), never `Int`, `Bool` or an
    /// enum.
    fn table_axis(&mut self, m: usize, te: &TypeExpr) -> Axis {
        let (ty, unit) = self.resolve_type(m, te, &[]);
        let text = self.text(te.span).to_string();
        if matches!(ty, Ty::Real(_) | Ty::Error) {
            return Axis { ty, unit, text };
        }
        self.error(
            Diagnostic::new(
                Kind::TypeMismatch,
                te.span,
                format!("a table's axes are numbers with units, not `{text}`"),
            )
            .label("not a unit")
            .with_help("write a unit such as `m` or `L/s`, or `1` for plain numbers"),
        );
        Axis {
            ty: Ty::Error,
            unit,
            text,
        }
    }

    /// One x or y of a point: a finite plain number, converted from the
    /// axis unit to SI. `None` after reporting why not.
    fn table_number(&mut self, m: usize, e: &Expr, axis: &Axis, decl: &TableDecl) -> Option<f64> {
        let header = format!(
            "table({} -> {})",
            self.text(decl.x_unit.span),
            self.text(decl.y_unit.span)
        );
        if let Some(span) = has_quantity(e) {
            let written = self.text(span).to_string();
            self.error(
                Diagnostic::new(
                    Kind::UnitMismatch,
                    span,
                    "the points of a table are plain numbers",
                )
                .label(format!("`{written}` has a unit"))
                .with_help(format!(
                    "write the number alone: the header `{header}` gives the units (here `{}`)",
                    axis.text
                )),
            );
            return None;
        }
        let te = self.expr(m, Scope::Const, e, &[]);
        match &te.ty {
            Ty::Error => return None,
            Ty::Int => {}
            Ty::Real(q) if q.dim.is_dimensionless() && q.affinity == Affinity::Neutral => {}
            Ty::Real(q) => {
                let found = self.describe_quantity(q, None, &[]);
                self.error(
                    Diagnostic::new(
                        Kind::UnitMismatch,
                        te.span,
                        format!("the points of a table are plain numbers, but this is {found}"),
                    )
                    .label(format!("this is {found}"))
                    .with_help(format!(
                        "divide by its unit, or write the number alone: the header `{header}` gives the units"
                    )),
                );
                return None;
            }
            other => {
                let found = self.type_name(other);
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        te.span,
                        format!("the points of a table are numbers, not `{found}`"),
                    )
                    .label(format!("this is `{found}`")),
                );
                return None;
            }
        }
        let v = self.constant_of(&te)?;
        if !v.is_finite() {
            self.error(
                Diagnostic::new(
                    Kind::InvalidTable,
                    te.span,
                    "the points of a table must be finite numbers",
                )
                .label(format!("this is {v}"))
                .with_help("clamping already extends the first and last points to either side: end the table at a finite x"),
            );
            return None;
        }
        // As a literal in that unit would be: an affine unit maps a point
        // on its scale to the absolute SI value.
        let si = if axis.unit.offset != 0.0 {
            axis.unit.to_si(v)
        } else {
            v * axis.unit.scale
        };
        Some(si)
    }

    /// Reports the first point whose x does not increase, or whose slope
    /// overflows; true when there is none.
    fn check_order(&mut self, decl: &TableDecl, points: &[(f64, f64)]) -> bool {
        let name = &decl.name.name;
        for (k, pair) in points.windows(2).enumerate() {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let (before, after) = (&decl.points[k], &decl.points[k + 1]);
            if x1 <= x0 {
                self.not_increasing(decl, points, before, after, x1 == x0);
                return false;
            }
            if !((y1 - y0) / (x1 - x0)).is_finite() {
                self.error(
                    Diagnostic::new(
                        Kind::InvalidTable,
                        after.span,
                        format!("table `{name}` rises too steeply here to compute"),
                    )
                    .label("the slope from the previous point overflows")
                    .with_secondary(before.span, "previous point")
                    .with_help("move the two x values further apart"),
                );
                return false;
            }
        }
        true
    }

    fn not_increasing(
        &mut self,
        decl: &TableDecl,
        points: &[(f64, f64)],
        before: &TablePoint,
        after: &TablePoint,
        equal: bool,
    ) {
        let name = &decl.name.name;
        let (a, b) = (
            self.text(before.x.span).to_string(),
            self.text(after.x.span).to_string(),
        );
        let descending = points.windows(2).all(|w| w[1].0 < w[0].0);
        let help = if descending {
            "the points run from high to low x: list them from the lowest x up"
        } else if equal {
            "two points cannot share an x; for a jump, use two x values close together"
        } else {
            "list the points in increasing order of x"
        };
        let message = if equal {
            format!("the x values of table `{name}` must increase, but `{b}` repeats `{a}`")
        } else {
            format!("the x values of table `{name}` must increase, but `{b}` follows `{a}`")
        };
        self.error(
            Diagnostic::new(Kind::InvalidTable, after.x.span, message)
                .label(if equal {
                    "the same x as the previous point"
                } else {
                    "below the previous x"
                })
                .with_secondary(before.x.span, "previous point")
                .with_help(help),
        );
    }

    /// A call of table `i`, `name(x)` or `name(x: x)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn table_call(
        &mut self,
        m: usize,
        scope: Scope,
        i: usize,
        name: &str,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let checked = self.ensure_table(i, span);
        let mut targs: Vec<TExpr> = args
            .iter()
            .map(|a| self.expr(m, scope, &a.value, g))
            .collect();
        let (arg_ty, x_text, ty, broken) = {
            let t = &self.program.tables[i];
            let broken = t.points.is_empty();
            (t.arg.clone(), t.x_unit.text.clone(), t.ty.clone(), broken)
        };
        if targs.len() != 1 {
            let n = targs.len();
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    span,
                    format!("table `{name}` takes one argument, not {n}"),
                )
                .label("wrong number of arguments")
                .with_help(format!("call it with one value in `{x_text}`: `{name}(x)`")),
            );
            return error_expr(span);
        }
        if let Some(n) = args[0].name.as_ref().filter(|n| n.name != "x") {
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    n.span,
                    format!("table `{name}` has no parameter `{}`", n.name),
                )
                .label("unknown parameter")
                .with_help(format!("leave the name out, `{name}(...)`, or call it `x`")),
            );
        }
        let arg = targs.remove(0);
        if !checked {
            return error_expr(span);
        }
        self.expect_type(
            &arg_ty,
            &arg,
            Some(&x_text),
            g,
            &format!("the argument of table `{name}`"),
        );
        // A table with errors (already reported) has no values to give.
        if broken {
            return error_expr(span);
        }
        texpr(TExprKind::Lookup(i, Box::new(arg)), ty, span)
    }
}
