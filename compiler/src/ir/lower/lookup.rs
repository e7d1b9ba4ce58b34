//! Table lookups: a clamped piecewise-linear function as one branch-free
//! expression.
//!
//! Takes a checked table (points in SI, x strictly increasing) and the
//! lowered argument `x`; gives
//! `Select(x <= x0, y0, Select(x >= xn, yn, segments))`, where `segments`
//! is a balanced tree of `Select(x < x_mid, left, right)` over the n − 1
//! segments and each leaf is `y_i + slope_i * (x - x_i)` with the slope
//! computed here, once. Both engines evaluate every side of a `Select`, so
//! a lookup costs O(n) operations whatever `x` is, and both perform the
//! same operations, so they agree bit for bit; [`Table::lookup`] folds a
//! constant argument with those same operations. NaN fails every
//! comparison, lands in the last segment and comes out NaN.
//!
//! The tree reads `x` 2n − 1 times. An argument that is neither a slot nor
//! a constant therefore gets a slot of its own when the lookup is part of a
//! computed value (a node, ordered and recomputed like any let); elsewhere
//! (conditions, assignments, derivatives, initial values, `prev`) it is
//! repeated, which costs time but never changes the result.

use super::{LowerError, Lowerer, Result, bin, c, load};
use crate::hir::Table;
use crate::ir::{BinOp, Expr, SlotKind};

impl Lowerer<'_> {
    /// The lookup of table `t` at `x`, in instance `inst`.
    pub(super) fn lookup(&mut self, inst: usize, t: usize, x: Expr) -> Result<Expr> {
        let program = self.program;
        let table = program
            .tables
            .get(t)
            .ok_or_else(|| LowerError(format!("no table number {t}")))?;
        let n = table.points.len();
        if n < 2 {
            return Err(LowerError(format!("table `{}` has errors", table.name)));
        }
        let ((x0, y0), (xn, yn)) = (table.points[0], table.points[n - 1]);
        let x = match x {
            Expr::Const(v) => return Ok(c(table.lookup(v).unwrap_or(f64::NAN))),
            Expr::Load(_) => x,
            x if self.in_node => {
                let name = format!(
                    "{}#{}{}",
                    self.insts[inst].prefix, table.name, self.lookup_args
                );
                self.lookup_args += 1;
                let slot = self.slot(name, SlotKind::Internal);
                self.node(slot, x);
                load(slot)
            }
            x => x,
        };
        let inside = segments(table, &x, 0, n - 1);
        Ok(Expr::select(
            bin(BinOp::Le, x.clone(), c(x0)),
            c(y0),
            Expr::select(bin(BinOp::Ge, x, c(xn)), c(yn), inside),
        ))
    }
}

/// Segments `lo..hi` (segment i runs from point i to point i + 1) as a
/// balanced tree of selects.
fn segments(table: &Table, x: &Expr, lo: usize, hi: usize) -> Expr {
    if hi - lo == 1 {
        let (xi, yi) = table.points[lo];
        return bin(
            BinOp::Add,
            c(yi),
            bin(
                BinOp::Mul,
                c(table.slope(lo)),
                bin(BinOp::Sub, x.clone(), c(xi)),
            ),
        );
    }
    let mid = (lo + hi) / 2;
    Expr::select(
        bin(BinOp::Lt, x.clone(), c(table.points[mid].0)),
        segments(table, x, lo, mid),
        segments(table, x, mid, hi),
    )
}
