//! The integrators, written out as IR.
//!
//! Takes the states, their derivative expressions and the lets the
//! derivatives need; gives the statements of one step from t_k to t_k+1:
//! explicit Runge–Kutta methods from their Butcher tableaus (euler, rk4),
//! and Dormand–Prince 5(4) with adaptive sub-steps as an IR loop.
//!
//! Each stage (its time, its state values, the lets, the derivatives) is
//! put in demand order by [`super::schedule`]: the same values, computed
//! close to where they are used.

use super::schedule::schedule;
use super::{Lowerer, bin, c, load};
use crate::ir::{BinOp, Expr, Func, Slot, SlotKind, Stmt};

impl Lowerer<'_> {
    pub(super) fn scratch(&mut self, name: String) -> Slot {
        self.slot(name, SlotKind::Scratch)
    }
    /// An explicit Runge–Kutta step with a fixed tableau.
    pub(super) fn explicit_rk(
        &mut self,
        states: &[Slot],
        ders: &[(Slot, Expr)],
        stage_lets: &[Stmt],
        tab: &Tableau,
    ) -> Vec<Stmt> {
        let n = states.len();
        let mut out = Vec::new();
        let t0 = self.scratch("rk#t0".into());
        out.push(Stmt::Store(
            t0,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        let y0: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("rk#y0[{i}]")))
            .collect();
        for i in 0..n {
            out.push(Stmt::Store(y0[i], load(states[i])));
        }
        let mut ks: Vec<Vec<Slot>> = Vec::new();
        for (stage, (ci, row)) in tab.c.iter().zip(tab.a).enumerate() {
            let k: Vec<Slot> = (0..n)
                .map(|i| self.scratch(format!("rk#k{stage}[{i}]")))
                .collect();
            let mut stage_stmts = Vec::new();
            if stage > 0 {
                stage_stmts.push(Stmt::Store(
                    self.time,
                    bin(BinOp::Add, load(t0), bin(BinOp::Mul, c(*ci), load(self.dt))),
                ));
                for i in 0..n {
                    stage_stmts.push(Stmt::Store(
                        states[i],
                        stage_value(y0[i], row, &ks, i, load(self.dt)),
                    ));
                }
            }
            stage_stmts.extend(stage_lets.iter().cloned());
            for (i, (_, d)) in ders.iter().enumerate() {
                stage_stmts.push(Stmt::Store(k[i], d.clone()));
            }
            out.extend(schedule(stage_stmts));
            ks.push(k);
        }
        for i in 0..n {
            out.push(Stmt::Store(
                states[i],
                stage_value(y0[i], tab.b, &ks, i, load(self.dt)),
            ));
        }
        out
    }
    /// Dormand–Prince 5(4) with adaptive sub-steps inside the tick. Gives
    /// the statements and the persistent slot holding the step size.
    pub(super) fn dopri5(
        &mut self,
        states: &[Slot],
        ders: &[(Slot, Expr)],
        stage_lets: &[Stmt],
        rtol: f64,
        atol: f64,
    ) -> (Vec<Stmt>, Slot) {
        let n = states.len();
        let h_slot = self.slot("dopri5#h", SlotKind::Internal);
        let mut out = Vec::new();
        let tt = self.scratch("dp#t".into());
        let t_end = self.scratch("dp#t_end".into());
        let h = self.scratch("dp#h".into());
        let err = self.scratch("dp#err".into());
        let iters = self.scratch("dp#iters".into());
        let y0: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("dp#y0[{i}]")))
            .collect();
        let y5: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("dp#y5[{i}]")))
            .collect();
        let ks: Vec<Vec<Slot>> = (0..7)
            .map(|s| {
                (0..n)
                    .map(|i| self.scratch(format!("dp#k{s}[{i}]")))
                    .collect()
            })
            .collect();
        out.push(Stmt::Store(
            tt,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        out.push(Stmt::Store(t_end, bin(BinOp::Add, load(tt), load(self.dt))));
        out.push(Stmt::Store(h, bin(BinOp::Min, load(h_slot), load(self.dt))));
        out.push(Stmt::Store(iters, c(0.0)));
        let remaining = bin(BinOp::Sub, load(t_end), load(tt));
        let go_on = bin(
            BinOp::And,
            bin(
                BinOp::Gt,
                remaining.clone(),
                bin(BinOp::Mul, load(self.dt), c(1e-12)),
            ),
            bin(BinOp::Lt, load(iters), c(100_000.0)),
        );
        let mut body = Vec::new();
        body.push(Stmt::Store(h, bin(BinOp::Min, load(h), remaining)));
        for i in 0..n {
            body.push(Stmt::Store(y0[i], load(states[i])));
        }
        let mut done: Vec<Vec<Slot>> = Vec::new();
        for stage in 0..7 {
            let mut stage_stmts = vec![Stmt::Store(
                self.time,
                bin(
                    BinOp::Add,
                    load(tt),
                    bin(BinOp::Mul, c(DP_C[stage]), load(h)),
                ),
            )];
            for i in 0..n {
                let v = stage_value(y0[i], DP_A[stage], &done, i, load(h));
                stage_stmts.push(Stmt::Store(states[i], v));
            }
            stage_stmts.extend(stage_lets.iter().cloned());
            for (i, (_, d)) in ders.iter().enumerate() {
                stage_stmts.push(Stmt::Store(ks[stage][i], d.clone()));
            }
            body.extend(schedule(stage_stmts));
            done.push(ks[stage].clone());
        }
        // The 5th-order solution is the last stage's state (FSAL form:
        // DP_A[6] holds the b weights); the error uses b − b*.
        body.push(Stmt::Store(err, c(0.0)));
        for i in 0..n {
            body.push(Stmt::Store(y5[i], load(states[i])));
            let e = stage_value_diff(&done, i, load(h));
            let scale = bin(
                BinOp::Add,
                c(atol),
                bin(
                    BinOp::Mul,
                    c(rtol),
                    bin(
                        BinOp::Max,
                        Expr::Call(Func::Abs, vec![load(y0[i])]),
                        Expr::Call(Func::Abs, vec![load(y5[i])]),
                    ),
                ),
            );
            let r = bin(BinOp::Div, e, scale);
            body.push(Stmt::Store(
                err,
                bin(BinOp::Add, load(err), bin(BinOp::Mul, r.clone(), r)),
            ));
        }
        let denom = c(n.max(1) as f64);
        body.push(Stmt::Store(
            err,
            Expr::Call(Func::Sqrt, vec![bin(BinOp::Div, load(err), denom)]),
        ));
        // A NaN error estimate (NaN inputs reaching a derivative) cannot
        // steer the step size: take the step, as a fixed-step solver would,
        // and keep h, so the model still advances and recovers its pace.
        let error_is_nan = bin(BinOp::Ne, load(err), load(err));
        let accept = bin(
            BinOp::Or,
            bin(BinOp::Le, load(err), c(1.0)),
            error_is_nan.clone(),
        );
        let mut on_accept: Vec<Stmt> = (0..n)
            .map(|i| Stmt::Store(states[i], load(y5[i])))
            .collect();
        on_accept.push(Stmt::Store(tt, bin(BinOp::Add, load(tt), load(h))));
        let on_reject: Vec<Stmt> = (0..n)
            .map(|i| Stmt::Store(states[i], load(y0[i])))
            .collect();
        body.push(Stmt::If(accept, on_accept, on_reject));
        // h ← h · clamp(0.9 · err^(−1/5), 0.2, 5); err = 0 gives the 5.
        let growth = Expr::select(
            error_is_nan,
            c(1.0),
            Expr::select(
                bin(BinOp::Eq, load(err), c(0.0)),
                c(5.0),
                bin(
                    BinOp::Min,
                    c(5.0),
                    bin(
                        BinOp::Max,
                        c(0.2),
                        bin(
                            BinOp::Mul,
                            c(0.9),
                            Expr::Call(Func::Pow, vec![load(err), c(-0.2)]),
                        ),
                    ),
                ),
            ),
        );
        body.push(Stmt::Store(h, bin(BinOp::Mul, load(h), growth)));
        body.push(Stmt::Store(iters, bin(BinOp::Add, load(iters), c(1.0))));
        out.push(Stmt::While(go_on, body));
        // Never carry a step size that is not a positive number to the
        // next tick.
        out.push(Stmt::Store(
            h_slot,
            Expr::select(bin(BinOp::Gt, load(h), c(0.0)), load(h), load(self.dt)),
        ));
        (out, h_slot)
    }
}

/// `y0 + h · Σ a_j k_j` with the terms summed in order.
pub(super) fn stage_value(y0: Slot, row: &[f64], ks: &[Vec<Slot>], i: usize, h: Expr) -> Expr {
    let mut sum: Option<Expr> = None;
    for (j, a) in row.iter().enumerate() {
        if *a == 0.0 || j >= ks.len() {
            continue;
        }
        let term = bin(BinOp::Mul, c(*a), load(ks[j][i]));
        sum = Some(match sum {
            Some(s) => bin(BinOp::Add, s, term),
            None => term,
        });
    }
    match sum {
        Some(s) => bin(BinOp::Add, load(y0), bin(BinOp::Mul, h, s)),
        None => load(y0),
    }
}

/// `h · Σ (b_j − b*_j) k_j`: dopri5's error estimate.
pub(super) fn stage_value_diff(ks: &[Vec<Slot>], i: usize, h: Expr) -> Expr {
    let mut sum = c(0.0);
    for (j, e) in DP_E.iter().enumerate() {
        if *e != 0.0 {
            sum = bin(BinOp::Add, sum, bin(BinOp::Mul, c(*e), load(ks[j][i])));
        }
    }
    bin(BinOp::Mul, h, sum)
}

/// A Butcher tableau for explicit methods.
pub(super) struct Tableau {
    c: &'static [f64],
    a: &'static [&'static [f64]],
    b: &'static [f64],
}

pub(super) const EULER: Tableau = Tableau {
    c: &[0.0],
    a: &[&[]],
    b: &[1.0],
};

pub(super) const RK4: Tableau = Tableau {
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 2.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0],
};

pub(super) const DP_C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];

pub(super) const DP_A: [&[f64]; 7] = [
    &[],
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];

/// b − b* (5th minus 4th order weights).
pub(super) const DP_E: [f64; 7] = [
    35.0 / 384.0 - 5179.0 / 57600.0,
    0.0,
    500.0 / 1113.0 - 7571.0 / 16695.0,
    125.0 / 192.0 - 393.0 / 640.0,
    -2187.0 / 6784.0 + 92097.0 / 339200.0,
    11.0 / 84.0 - 187.0 / 2100.0,
    -1.0 / 40.0,
];
