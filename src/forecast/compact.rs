//! Sixteen-bit numbers for what every target keeps thousands of: the arrival-rate history
//! (days of 5-minute buckets) and the forecast errors of each model (a day's).
//!
//! Both are floats with an `f32`'s exponent cut to a window and its mantissa cut to 10
//! bits, rounded to nearest: a relative error of at most 2⁻¹¹ (0.05 %), far below the noise
//! of a 5-minute mean of a counter's rate, at half the memory of an `f32`. Decoding is a
//! shift and an add (no table, no `exp`): a backfill reads hundreds of buckets per sample.
//! Values that have a short `f32` form (integers up to 2,048, halves, quarters, ...) are
//! kept exactly.

/// The `f32` exponent of a rate's smallest normal value kept: rates from 2⁻³² (2.3e-10/s,
/// then 0) to just under 2³² (4.3e9/s, then that) are kept.
const RATE_MIN_EXP: u32 = 127 - 32;
/// A rate code that marks no data.
pub const RATE_NONE: u16 = u16::MAX;

/// Bits of the `f32` mantissa dropped.
const DROPPED: u32 = 13;

/// The rate `v` (documents/s, not negative) in 16 bits; `None` (no data) as [`RATE_NONE`].
pub fn encode_rate(v: Option<f32>) -> u16 {
    let Some(v) = v else { return RATE_NONE };
    magnitude_code(v.max(0.0), RATE_MIN_EXP, u32::from(RATE_NONE) - 1) as u16
}

/// The code of `|v|` with exponents from `min_exp` up, at most `max_code`: the mantissa
/// rounded to nearest (a carry moves to the next exponent, as it should); 0 for zero, NaN and
/// what is below the window, so codes of normal values start at 1.
fn magnitude_code(v: f32, min_exp: u32, max_code: u32) -> u32 {
    let rounded = (v.abs().to_bits() + (1 << (DROPPED - 1))) >> DROPPED;
    let low = min_exp << (23 - DROPPED);
    if v.is_nan() || rounded < low {
        0
    } else {
        (rounded - low + 1).min(max_code)
    }
}

/// The magnitude of a code from [`magnitude_code`] (not 0) with exponents from `min_exp` up.
fn code_magnitude(code: u32, min_exp: u32) -> f32 {
    f32::from_bits((code - 1 + (min_exp << (23 - DROPPED))) << DROPPED)
}

/// The rate of `code`; `None` for [`RATE_NONE`].
pub fn decode_rate(code: u16) -> Option<f32> {
    match code {
        RATE_NONE => None,
        0 => Some(0.0),
        c => Some(code_magnitude(u32::from(c), RATE_MIN_EXP)),
    }
}

/// The `f32` exponent of the smallest magnitude of a signed value kept (2⁻¹⁶, then 0); the
/// largest is just under 2¹⁶ (65,536, then that): forecast errors are differences of
/// square roots of rates.
const SIGNED_MIN_EXP: u32 = 127 - 16;

/// The signed value `v` in 16 bits: a sign and 15 bits of magnitude as [`encode_rate`]'s.
pub fn encode_signed(v: f32) -> u16 {
    let code = magnitude_code(v, SIGNED_MIN_EXP, 0x7fff);
    // The sign of a zero is kept (an error of -0.0 is not above a margin of 0).
    (code | (u32::from(v.is_sign_negative()) << 15)) as u16
}

/// The value of a code from [`encode_signed`].
pub fn decode_signed(code: u16) -> f32 {
    let magnitude = match u32::from(code & 0x7fff) {
        0 => 0.0,
        c => code_magnitude(c, SIGNED_MIN_EXP),
    };
    if code & 0x8000 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_to_within_a_two_thousandth_and_short_values_are_exact() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..100_000 {
            let v = 10f32.powf(rng.f32() * 18.0 - 9.0);
            let back = decode_rate(encode_rate(Some(v))).unwrap_or(f32::NAN);
            assert!(((back - v) / v).abs() <= 1.0 / 2048.0, "{v} -> {back}");
        }
        for v in [0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 1000.0, 2048.0] {
            assert_eq!(decode_rate(encode_rate(Some(v))), Some(v));
        }
        assert_eq!(decode_rate(encode_rate(None)), None);
        assert_eq!(decode_rate(encode_rate(Some(1e-12))), Some(0.0));
        assert_eq!(decode_rate(encode_rate(Some(-1.0))), Some(0.0));
        let huge = decode_rate(encode_rate(Some(1e12))).unwrap_or(0.0);
        assert!(huge > 4.0e9 && huge < 4.3e9, "{huge}");
    }

    #[test]
    fn order_is_kept_so_comparisons_of_codes_match_comparisons_of_values() {
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..100_000 {
            let (a, b) = (rng.f32() * 100.0 - 50.0, rng.f32() * 100.0 - 50.0);
            let (da, db) = (
                decode_signed(encode_signed(a)),
                decode_signed(encode_signed(b)),
            );
            if a < b {
                assert!(da <= db, "{a} {b}");
            }
            let bound = if a.abs() < 1.0 / 65536.0 {
                1.0 / 65536.0
            } else {
                a.abs() / 2048.0
            };
            assert!((da - a).abs() <= bound, "{a} -> {da}");
        }
        for v in [0.0, -0.0, 1.0, -1.0, 0.5, -2.25] {
            assert_eq!(decode_signed(encode_signed(v)).to_bits(), v.to_bits());
        }
    }
}
