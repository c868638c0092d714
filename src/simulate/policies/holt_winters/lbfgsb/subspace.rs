//! Subspace minimisation: from the Cauchy point, a Newton step of the quadratic model over
//! the free variables (direct primal method, Byrd et al. 1995 section 5.1, through the
//! Sherman-Morrison-Woodbury formula), projected on the bounds when that keeps a descent
//! direction, otherwise truncated at the first bound (Morales & Nocedal 2011, L-BFGS-B 3.0).

use super::Bounds;
use super::cauchy::{CauchyPoint, Status};
use super::memory::{Memory, Singular, solve_dense};

/// The subspace minimiser starting from `cp` (the Cauchy point from `x` with gradient `g`).
pub fn subspace_step(
    x: &[f64],
    g: &[f64],
    cp: &CauchyPoint,
    bounds: &Bounds,
    memory: &Memory,
) -> Result<Vec<f64>, Singular> {
    let theta = memory.theta;
    let free: Vec<usize> = (0..x.len())
        .filter(|&i| cp.status[i] == Status::Free)
        .collect();
    let mut z = cp.xcp.clone();
    if free.is_empty() || memory.len() == 0 {
        return Ok(z);
    }
    // r = -Z'(g + theta (xcp - x) - W M c): the negative reduced gradient at the Cauchy point.
    let mc = memory.middle_times(&cp.c);
    let mut r = vec![0.0; x.len()];
    for &i in &free {
        r[i] = -theta * (cp.xcp[i] - x[i]) - g[i] + memory.w_row_dot(i, &mc);
    }
    // d = B̂^-1 r = r / theta + W_F K^-1 W_F' r / theta², K = M^-1 - W_F' W_F / theta.
    let wr = memory.w_transpose_times(&r, &free);
    let gram = memory.w_gram(&free);
    let mut k = memory.middle_inverse();
    for (row, gram_row) in k.iter_mut().zip(&gram) {
        for (v, w) in row.iter_mut().zip(gram_row) {
            *v -= w / theta;
        }
    }
    let u = solve_dense(k, wr).ok_or(Singular)?;
    let mut d = vec![0.0; x.len()];
    for &i in &free {
        d[i] = r[i] / theta + memory.w_row_dot(i, &u) / (theta * theta);
    }
    // Try the projected Newton point.
    let mut hit_bound = false;
    for &i in &free {
        let target = cp.xcp[i] + d[i];
        let projected = target.max(bounds.lower[i]).min(bounds.upper[i]);
        if projected == bounds.lower[i] || projected == bounds.upper[i] {
            hit_bound = true;
        }
        z[i] = projected;
    }
    if !hit_bound {
        return Ok(z);
    }
    let slope: f64 = (0..x.len()).map(|i| (z[i] - x[i]) * g[i]).sum();
    if slope <= 0.0 {
        return Ok(z);
    }
    // Not a descent direction: step from the Cauchy point along d until the first bound.
    z = cp.xcp.clone();
    let mut alpha: f64 = 1.0;
    let mut limiting = None;
    for &i in &free {
        let di = d[i];
        let mut step = alpha;
        if di < 0.0 && bounds.lower[i].is_finite() {
            let room = bounds.lower[i] - z[i];
            if room >= 0.0 {
                step = 0.0;
            } else if di * alpha < room {
                step = room / di;
            }
        } else if di > 0.0 && bounds.upper[i].is_finite() {
            let room = bounds.upper[i] - z[i];
            if room <= 0.0 {
                step = 0.0;
            } else if di * alpha > room {
                step = room / di;
            }
        }
        if step < alpha {
            alpha = step;
            limiting = Some(i);
        }
    }
    if alpha < 1.0
        && let Some(i) = limiting
    {
        if d[i] > 0.0 {
            z[i] = bounds.upper[i];
        } else if d[i] < 0.0 {
            z[i] = bounds.lower[i];
        }
        d[i] = 0.0;
    }
    for &i in &free {
        z[i] += alpha * d[i];
    }
    Ok(z)
}
