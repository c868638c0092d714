//! The generalized Cauchy point: the first local minimiser of the quadratic model along the
//! projected steepest-descent path `P(x - t g)` (Byrd, Lu, Nocedal & Zhu 1995, section 4),
//! examining the breakpoints where variables reach their bounds in increasing order.

use super::Bounds;
use super::memory::{Memory, dot};

/// Where a variable stands after the Cauchy search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Free to move in the subspace step.
    Free,
    /// Held at its lower bound.
    AtLower,
    /// Held at its upper bound.
    AtUpper,
}

/// The Cauchy point, `c = W'(xcp - x)` and each variable's status.
#[derive(Debug, Clone)]
pub struct CauchyPoint {
    /// The point.
    pub xcp: Vec<f64>,
    /// `W'(xcp - x)`, for the reduced gradient.
    pub c: Vec<f64>,
    /// Free or at a bound.
    pub status: Vec<Status>,
}

/// The Cauchy point from `x` with gradient `g`.
pub fn cauchy_point(x: &[f64], g: &[f64], bounds: &Bounds, memory: &Memory) -> CauchyPoint {
    let n = x.len();
    let col = memory.len();
    let theta = memory.theta;
    let mut xcp = x.to_vec();
    let mut status = vec![Status::Free; n];
    let mut c = vec![0.0; 2 * col];
    let mut d = vec![0.0; n];
    let mut p = vec![0.0; 2 * col];
    let mut f1 = 0.0;
    let mut breakpoints: Vec<(f64, usize)> = Vec::new();
    let mut bounded = true;
    let mut unbounded_free = 0;
    for i in 0..n {
        let neg_g = -g[i];
        let (lo, hi) = (bounds.lower[i], bounds.upper[i]);
        let has_lower = lo.is_finite();
        let has_upper = hi.is_finite();
        if has_lower && x[i] - lo <= 0.0 && neg_g <= 0.0 {
            status[i] = Status::AtLower;
            continue;
        }
        if !(has_lower && x[i] - lo <= 0.0) && has_upper && hi - x[i] <= 0.0 && neg_g >= 0.0 {
            status[i] = Status::AtUpper;
            continue;
        }
        d[i] = neg_g;
        f1 -= neg_g * neg_g;
        for (k, w) in memory.w_row(i).iter().enumerate() {
            p[k] += w * neg_g;
        }
        if has_lower && neg_g < 0.0 {
            breakpoints.push(((x[i] - lo) / -neg_g, i));
        } else if has_upper && neg_g > 0.0 {
            breakpoints.push(((hi - x[i]) / neg_g, i));
        } else {
            unbounded_free += 1;
            if neg_g.abs() > 0.0 {
                bounded = false;
            }
        }
    }
    if breakpoints.is_empty() && unbounded_free == 0 {
        return CauchyPoint { xcp, c, status };
    }
    let mut f2 = -theta * f1;
    let f2_org = f2;
    if col > 0 {
        f2 -= dot(&p, &memory.middle_times(&p));
    }
    let mut dtm = -f1 / f2;
    let mut tsum = 0.0;
    breakpoints.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let nbreak = breakpoints.len();
    let mut t_prev = 0.0;
    for (k, &(tj, ibp)) in breakpoints.iter().enumerate() {
        let dt = tj - t_prev;
        t_prev = tj;
        if dtm < dt {
            break;
        }
        tsum += dt;
        let left = nbreak - k - 1;
        let dibp = d[ibp];
        d[ibp] = 0.0;
        let zibp;
        if dibp > 0.0 {
            zibp = bounds.upper[ibp] - x[ibp];
            xcp[ibp] = bounds.upper[ibp];
            status[ibp] = Status::AtUpper;
        } else {
            zibp = bounds.lower[ibp] - x[ibp];
            xcp[ibp] = bounds.lower[ibp];
            status[ibp] = Status::AtLower;
        }
        if left == 0 && nbreak == n {
            // Every variable is at a bound.
            add_scaled(&mut c, dt, &p);
            return CauchyPoint { xcp, c, status };
        }
        let dibp2 = dibp * dibp;
        f1 = f1 + dt * f2 + dibp2 - theta * dibp * zibp;
        f2 -= theta * dibp2;
        if col > 0 {
            add_scaled(&mut c, dt, &p);
            let wbp = memory.w_row(ibp);
            let v = memory.middle_times(&wbp);
            let wmc = dot(&c, &v);
            let wmp = dot(&p, &v);
            let wmw = dot(&wbp, &v);
            add_scaled(&mut p, -dibp, &wbp);
            f1 += dibp * wmc;
            f2 += 2.0 * dibp * wmp - dibp2 * wmw;
        }
        f2 = f2.max(f64::EPSILON * f2_org);
        if left > 0 {
            dtm = -f1 / f2;
        } else if bounded {
            dtm = 0.0;
        } else {
            dtm = -f1 / f2;
        }
    }
    let dtm = dtm.max(0.0);
    tsum += dtm;
    add_scaled(&mut xcp, tsum, &d);
    add_scaled(&mut c, dtm, &p);
    CauchyPoint { xcp, c, status }
}

/// `a += s b`.
fn add_scaled(a: &mut [f64], s: f64, b: &[f64]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += s * y;
    }
}
