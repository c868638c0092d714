//! The limited-memory BFGS matrix in compact form (Byrd, Nocedal & Schnabel 1994):
//! `B = theta I - W M W'` with `W = [Y, theta S]` and
//! `M = [[-D, L'], [L, theta S'S]]^-1`, where `D` is the diagonal of `S'Y` and `L` its
//! strictly lower triangle. `M v` is computed from the Cholesky factor `J J'` of
//! `T = theta S'S + L D^-1 L'`.
//!
//! Small dense matrices (at most 20 × 20), indexed as the formulas write them.
#![allow(clippy::needless_range_loop)]

use std::collections::VecDeque;

/// At most this many correction pairs are kept (scipy's `maxcor`).
pub const PAIRS: usize = 10;

/// The correction pairs `(s, y)`, oldest first, and what the products need.
#[derive(Debug, Clone)]
pub struct Memory {
    pairs: VecDeque<(Vec<f64>, Vec<f64>)>,
    /// `y'y / s'y` of the newest pair (1 with no pairs).
    pub theta: f64,
    /// The lower triangle of `S'Y` (row `i` holds `s_i' y_k` for `k <= i`): `D` and `L`.
    sy: Vec<Vec<f64>>,
    /// The lower Cholesky factor `J` of `T`.
    j: Vec<Vec<f64>>,
}

impl Memory {
    /// No pairs: `B = I`.
    pub fn new() -> Self {
        Memory {
            pairs: VecDeque::new(),
            theta: 1.0,
            sy: Vec::new(),
            j: Vec::new(),
        }
    }

    /// Pairs held.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Forget every pair (after a failed line search or a singular `T`).
    pub fn reset(&mut self) {
        *self = Memory::new();
    }

    /// Row `i` of `W = [Y, theta S]` (length `2 * len`).
    pub fn w_row(&self, i: usize) -> Vec<f64> {
        let col = self.len();
        let mut row = vec![0.0; 2 * col];
        for (k, (s, y)) in self.pairs.iter().enumerate() {
            row[k] = y[i];
            row[col + k] = self.theta * s[i];
        }
        row
    }

    /// `W' v` summed over the variables `vars` only.
    pub fn w_transpose_times(&self, v: &[f64], vars: &[usize]) -> Vec<f64> {
        let col = self.len();
        let mut out = vec![0.0; 2 * col];
        for (k, (s, y)) in self.pairs.iter().enumerate() {
            let (mut ys, mut ss) = (0.0, 0.0);
            for &i in vars {
                ys += y[i] * v[i];
                ss += s[i] * v[i];
            }
            out[k] = ys;
            out[col + k] = self.theta * ss;
        }
        out
    }

    /// `W_i . u` for the variable `i`: the row of `W` times a `2 * len` vector.
    pub fn w_row_dot(&self, i: usize, u: &[f64]) -> f64 {
        let col = self.len();
        let mut sum = 0.0;
        for (k, (s, y)) in self.pairs.iter().enumerate() {
            sum += y[i] * u[k] + self.theta * s[i] * u[col + k];
        }
        sum
    }

    /// `W_F' W_F` over the variables `vars` (`2 len × 2 len`).
    pub fn w_gram(&self, vars: &[usize]) -> Vec<Vec<f64>> {
        let col = self.len();
        let rows: Vec<Vec<f64>> = vars.iter().map(|&i| self.w_row(i)).collect();
        let mut out = vec![vec![0.0; 2 * col]; 2 * col];
        for a in 0..2 * col {
            for b in a..2 * col {
                let v: f64 = rows.iter().map(|r| r[a] * r[b]).sum();
                out[a][b] = v;
                out[b][a] = v;
            }
        }
        out
    }

    /// `M^-1 = [[-D, L'], [L, theta S'S]]`, explicitly.
    pub fn middle_inverse(&self) -> Vec<Vec<f64>> {
        let col = self.len();
        let mut out = vec![vec![0.0; 2 * col]; 2 * col];
        for i in 0..col {
            out[i][i] = -self.sy[i][i];
            for k in 0..i {
                // L[i][k] = s_i' y_k for i > k.
                out[col + i][k] = self.sy[i][k];
                out[k][col + i] = self.sy[i][k];
            }
            for k in 0..col {
                out[col + i][col + k] = self.theta * dot(&self.pairs[i].0, &self.pairs[k].0);
            }
        }
        out
    }

    /// Add the pair `(s, y)` with `s'y = sy` as the line search measured it (dropping the
    /// oldest beyond [`PAIRS`]) and refactor. `Err` when `T` is not positive definite: the
    /// caller resets the memory.
    pub fn push(&mut self, s: Vec<f64>, y: Vec<f64>, sy: f64) -> Result<(), Singular> {
        let yy = dot(&y, &y);
        if self.pairs.len() == PAIRS {
            self.pairs.pop_front();
            // Only the lower triangle of S'Y is kept: shift it up and left.
            self.sy.remove(0);
            for row in &mut self.sy {
                row.remove(0);
            }
        }
        let row: Vec<f64> = self.pairs.iter().map(|(_, yk)| dot(&s, yk)).collect();
        self.pairs.push_back((s, y));
        self.theta = yy / sy;
        let mut row = row;
        row.push(sy);
        self.sy.push(row);
        let col = self.len();
        // T = theta S'S + L D^-1 L'.
        let mut t = vec![vec![0.0; col]; col];
        for i in 0..col {
            for k in 0..col {
                let mut sum = 0.0;
                for q in 0..i.min(k) {
                    sum += self.sy[i][q] * self.sy[k][q] / self.sy[q][q];
                }
                t[i][k] = sum + self.theta * dot(&self.pairs[i].0, &self.pairs[k].0);
            }
        }
        self.j = cholesky(&t).ok_or(Singular)?;
        Ok(())
    }

    /// `M v` for a `2 * len` vector.
    pub fn middle_times(&self, v: &[f64]) -> Vec<f64> {
        let col = self.len();
        if col == 0 {
            return Vec::new();
        }
        let d = |i: usize| self.sy[i][i];
        // [D^1/2, 0; -L D^-1/2, J] [q1; q2] = [v1; v2]: J q2 = v2 + L D^-1 v1.
        let mut rhs = vec![0.0; col];
        for i in 0..col {
            let mut sum = 0.0;
            for k in 0..i {
                sum += self.sy[i][k] * v[k] / d(k);
            }
            rhs[i] = v[col + i] + sum;
        }
        let q2 = solve_lower(&self.j, &rhs);
        // [-D^1/2, D^-1/2 L'; 0, J'] [p1; p2] = [q1; q2].
        let p2 = solve_upper_transposed(&self.j, &q2);
        let mut out = vec![0.0; 2 * col];
        for i in 0..col {
            let mut sum = 0.0;
            for k in i + 1..col {
                sum += self.sy[k][i] * p2[k] / d(i);
            }
            out[i] = -(v[i] / d(i).sqrt()) / d(i).sqrt() + sum;
            out[col + i] = p2[i];
        }
        out
    }
}

/// `T` (or the subspace matrix) is not usable: the memory must be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Singular;

/// The dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Lower Cholesky factor of a symmetric matrix; `None` if it is not positive definite.
fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for k in 0..=i {
            let mut sum = a[i][k];
            for q in 0..k {
                sum -= l[i][q] * l[k][q];
            }
            if i == k {
                if sum <= 0.0 || !sum.is_finite() {
                    return None;
                }
                l[i][i] = sum.sqrt();
            } else {
                l[i][k] = sum / l[k][k];
            }
        }
    }
    Some(l)
}

/// Solve `L x = b` for lower-triangular `L`.
fn solve_lower(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut x = vec![0.0; n];
    for i in 0..n {
        let mut sum = b[i];
        for k in 0..i {
            sum -= l[i][k] * x[k];
        }
        x[i] = sum / l[i][i];
    }
    x
}

/// Solve `L' x = b` for lower-triangular `L`.
fn solve_upper_transposed(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = b[i];
        for k in i + 1..n {
            sum -= l[k][i] * x[k];
        }
        x[i] = sum / l[i][i];
    }
    x
}

/// Solve the dense system `a x = b` by Gaussian elimination with partial pivoting; `None`
/// when `a` is singular.
pub fn solve_dense(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let pivot = (c..n).max_by(|&i, &k| a[i][c].abs().total_cmp(&a[k][c].abs()))?;
        if a[pivot][c] == 0.0 || !a[pivot][c].is_finite() {
            return None;
        }
        a.swap(c, pivot);
        b.swap(c, pivot);
        for r in c + 1..n {
            let factor = a[r][c] / a[c][c];
            if factor != 0.0 {
                for k in c..n {
                    a[r][k] -= factor * a[c][k];
                }
                b[r] -= factor * b[c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = b[i];
        for k in i + 1..n {
            sum -= a[i][k] * x[k];
        }
        x[i] = sum / a[i][i];
    }
    Some(x)
}
