//! The Moré-Thuente line search (MINPACK-2's `dcsrch`/`dcstep`, ACM TOMS 20, 1994), as
//! L-BFGS-B drives it: find a step satisfying the strong Wolfe conditions
//! `f(stp) <= f(0) + ftol stp f'(0)` and `|f'(stp)| <= gtol |f'(0)|` within
//! `[stpmin, stpmax]`, by safeguarded cubic and quadratic interpolation.

const XTRAPL: f64 = 1.1;
const XTRAPU: f64 = 4.0;

/// What the search asks for next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Evaluate the function and its slope at this step.
    Evaluate(f64),
    /// The step satisfies the conditions.
    Converged(f64),
    /// No better step can be found (rounding, interval too small, or a bound reached); the
    /// step is still usable.
    Warning(f64),
    /// The search cannot start (the direction is not a descent, or the step is outside
    /// `[stpmin, stpmax]`).
    Error,
}

/// One line search in progress.
#[derive(Debug, Clone)]
pub struct LineSearch {
    gtol: f64,
    xtol: f64,
    stpmin: f64,
    stpmax: f64,
    brackt: bool,
    stage: u8,
    finit: f64,
    ginit: f64,
    gtest: f64,
    width: f64,
    width1: f64,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    stmin: f64,
    stmax: f64,
}

/// One end of the interval, or the trial step: step, value, slope.
#[derive(Debug, Clone, Copy)]
struct Point {
    stp: f64,
    f: f64,
    g: f64,
}

impl LineSearch {
    /// Start at `stp` from a point with value `f` and slope `g` (must be negative).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        f: f64,
        g: f64,
        stp: f64,
        ftol: f64,
        gtol: f64,
        xtol: f64,
        stpmin: f64,
        stpmax: f64,
    ) -> (LineSearch, Next) {
        let width = stpmax - stpmin;
        let search = LineSearch {
            gtol,
            xtol,
            stpmin,
            stpmax,
            brackt: false,
            stage: 1,
            finit: f,
            ginit: g,
            gtest: ftol * g,
            width,
            width1: width / 0.5,
            stx: 0.0,
            fx: f,
            gx: g,
            sty: 0.0,
            fy: f,
            gy: g,
            stmin: 0.0,
            stmax: stp + XTRAPU * stp,
        };
        let next = if stp < stpmin || stp > stpmax || g >= 0.0 || !f.is_finite() {
            Next::Error
        } else {
            Next::Evaluate(stp)
        };
        (search, next)
    }

    /// The value `f` and slope `g` at the step `stp` last asked for.
    pub fn step(&mut self, stp: f64, f: f64, g: f64) -> Next {
        let ftest = self.finit + stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        if self.brackt && (stp <= self.stmin || stp >= self.stmax) {
            return Next::Warning(stp);
        }
        if self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax {
            return Next::Warning(stp);
        }
        if stp == self.stpmax && f <= ftest && g <= self.gtest {
            return Next::Warning(stp);
        }
        if stp == self.stpmin && (f > ftest || g >= self.gtest) {
            return Next::Warning(stp);
        }
        if f <= ftest && g.abs() <= self.gtol * (-self.ginit) {
            return Next::Converged(stp);
        }
        let mut trial = Point { stp, f, g };
        if self.stage == 1 && f <= self.fx && f > ftest {
            // The modified function psi(stp) = f(stp) - f(0) - ftol stp f'(0) until a step
            // with a lower value and a nonnegative slope is found.
            let gtest = self.gtest;
            let mut x = Point {
                stp: self.stx,
                f: self.fx - self.stx * gtest,
                g: self.gx - gtest,
            };
            let mut y = Point {
                stp: self.sty,
                f: self.fy - self.sty * gtest,
                g: self.gy - gtest,
            };
            trial.f = f - stp * gtest;
            trial.g = g - gtest;
            self.dcstep(&mut x, &mut y, &mut trial);
            self.set_ends(
                Point {
                    stp: x.stp,
                    f: x.f + x.stp * gtest,
                    g: x.g + gtest,
                },
                Point {
                    stp: y.stp,
                    f: y.f + y.stp * gtest,
                    g: y.g + gtest,
                },
            );
        } else {
            let mut x = self.x_end();
            let mut y = self.y_end();
            self.dcstep(&mut x, &mut y, &mut trial);
            self.set_ends(x, y);
        }
        let mut stp = trial.stp;
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = stp + XTRAPL * (stp - self.stx);
            self.stmax = stp + XTRAPU * (stp - self.stx);
        }
        stp = stp.max(self.stpmin).min(self.stpmax);
        if self.brackt
            && (stp <= self.stmin
                || stp >= self.stmax
                || self.stmax - self.stmin <= self.xtol * self.stmax)
        {
            stp = self.stx;
        }
        Next::Evaluate(stp)
    }

    fn x_end(&self) -> Point {
        Point {
            stp: self.stx,
            f: self.fx,
            g: self.gx,
        }
    }

    fn y_end(&self) -> Point {
        Point {
            stp: self.sty,
            f: self.fy,
            g: self.gy,
        }
    }

    fn set_ends(&mut self, x: Point, y: Point) {
        (self.stx, self.fx, self.gx) = (x.stp, x.f, x.g);
        (self.sty, self.fy, self.gy) = (y.stp, y.f, y.g);
    }

    /// `dcstep`: a safeguarded step from the interval ends `x` (best so far) and `y` and the
    /// trial `p`; updates the interval and puts the new step in `p.stp`.
    fn dcstep(&mut self, x: &mut Point, y: &mut Point, p: &mut Point) {
        let (stpmin, stpmax) = (self.stmin, self.stmax);
        let (stx, fx, dx) = (x.stp, x.f, x.g);
        let (sty, fy, dy) = (y.stp, y.f, y.g);
        let (stp, fp, dp) = (p.stp, p.f, p.g);
        let sgnd = dp * (dx / dx.abs());
        let cubic_gamma = |theta: f64, a: f64, b: f64, clamp: bool| {
            let s = theta.abs().max(a.abs()).max(b.abs());
            let disc = (theta / s).powi(2) - (a / s) * (b / s);
            s * if clamp { disc.max(0.0) } else { disc }.sqrt()
        };
        let stpf;
        if fp > fx {
            // A higher value: the minimum is bracketed.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let mut gamma = cubic_gamma(theta, dx, dp, false);
            if stp < stx {
                gamma = -gamma;
            }
            let pp = (gamma - dx) + theta;
            let q = ((gamma - dx) + gamma) + dp;
            let r = pp / q;
            let stpc = stx + r * (stp - stx);
            let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
            stpf = if (stpc - stx).abs() < (stpq - stx).abs() {
                stpc
            } else {
                stpc + (stpq - stpc) / 2.0
            };
            self.brackt = true;
        } else if sgnd < 0.0 {
            // Slopes of opposite sign: bracketed.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let mut gamma = cubic_gamma(theta, dx, dp, false);
            if stp > stx {
                gamma = -gamma;
            }
            let pp = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dx;
            let r = pp / q;
            let stpc = stp + r * (stx - stp);
            let stpq = stp + (dp / (dp - dx)) * (stx - stp);
            stpf = if (stpc - stp).abs() > (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            self.brackt = true;
        } else if dp.abs() < dx.abs() {
            // Same sign, the slope decreases in magnitude.
            let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
            let mut gamma = cubic_gamma(theta, dx, dp, true);
            if stp > stx {
                gamma = -gamma;
            }
            let pp = (gamma - dp) + theta;
            let q = (gamma + (dx - dp)) + gamma;
            let r = pp / q;
            let stpc = if r < 0.0 && gamma != 0.0 {
                stp + r * (stx - stp)
            } else if stp > stx {
                stpmax
            } else {
                stpmin
            };
            let stpq = stp + (dp / (dp - dx)) * (stx - stp);
            if self.brackt {
                let mut f = if (stpc - stp).abs() < (stpq - stp).abs() {
                    stpc
                } else {
                    stpq
                };
                f = if stp > stx {
                    f.min(stp + 0.66 * (sty - stp))
                } else {
                    f.max(stp + 0.66 * (sty - stp))
                };
                stpf = f;
            } else {
                let f = if (stpc - stp).abs() > (stpq - stp).abs() {
                    stpc
                } else {
                    stpq
                };
                stpf = f.min(stpmax).max(stpmin);
            }
        } else if self.brackt {
            // Same sign, the slope does not decrease: interpolate towards the other end.
            let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            let mut gamma = cubic_gamma(theta, dy, dp, false);
            if stp > sty {
                gamma = -gamma;
            }
            let pp = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dy;
            let r = pp / q;
            stpf = stp + r * (sty - stp);
        } else if stp > stx {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
        if fp > fx {
            *y = *p;
        } else {
            if sgnd < 0.0 {
                *y = *x;
            }
            *x = *p;
        }
        p.stp = stpf;
    }
}
