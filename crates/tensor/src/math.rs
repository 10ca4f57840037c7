//! `f32` transcendentals written to vectorise: straight-line polynomial code, no calls, no
//! branches the compiler cannot turn into selects, and no fused multiply-add.
//!
//! The elementwise drivers compile their loops once per instruction set (see [`crate::simd`]);
//! with these functions inlined, a loop of `exp` or `gelu` becomes AVX-512 or AVX2 code. Every
//! step is a single IEEE operation (`+ − × ÷`, comparisons, bit moves), so each instruction set
//! gives the same bits as the portable path. Accuracy, in ulps of the result against `f64`
//! references, is in each function's doc: the bound the tests assert over a million inputs spread
//! over every exponent, and the worst error over all 2³² inputs (the ignored test
//! `every_f32_input`, run in release on 2026-12-08). Specials follow the C library: NaN in, NaN out;
//! `exp(−∞) = 0`, `exp(+∞) = +∞`, `tanh(±∞) = ±1`, `ln 0 = −∞`, `ln x = NaN` for `x < 0`.

// The coefficients are written in f64, as fitted, and rounded to f32 where they are declared.

/// `1.5 · 2²³`: adding it rounds an `f32` of magnitude below 2²² to an integer (ties to even),
/// and the integer is then in the low bits of the sum.
const ROUND_MAGIC: f32 = 12_582_912.0;
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split so that `n · LN2_HI` is exact for every exponent `n` an `f32` can have.
const LN2_HI: f32 = f32::from_bits(0x3f31_8000); // 0.693359375, 9 significant bits
const LN2_LO: f32 = -2.121_944_4e-4;

/// `(n, r)` with `x = n·ln 2 + r`, `|r| ≤ ½ ln 2` (a little more after rounding), `n` integral.
#[inline(always)]
fn reduce_ln2(x: f32) -> (i32, f32) {
    let t = x * LOG2_E + ROUND_MAGIC;
    let n = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let nf = t - ROUND_MAGIC;
    (n, (x - nf * LN2_HI) - nf * LN2_LO)
}

/// `2ⁿ` for `−126 ≤ n ≤ 127` from its bits.
#[inline(always)]
fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// `eʳ − 1 − r` for `|r| ≤ 0.6` (the reduced range plus a correction), to 1e-9 relative
/// (Taylor to r⁹).
#[inline(always)]
fn expm1_tail(r: f32) -> f32 {
    const C: [f32; 8] = [
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
    ];
    let p = C[6] + r * C[7];
    let p = C[5] + r * p;
    let p = C[4] + r * p;
    let p = C[3] + r * p;
    let p = C[2] + r * p;
    let p = C[1] + r * p;
    let p = C[0] + r * p;
    r * r * p
}

/// `eˣ`: at most 1 ulp (0.96 the worst over every `f32`); subnormal results are rounded once,
/// from an exact product.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    exp_plus(x, 0.0)
}

/// `e^{x + δ}` for a small correction `|δ| ≤ 0.22` that `x + δ` would lose to rounding.
#[inline(always)]
fn exp_plus(x: f32, delta: f32) -> f32 {
    // Beyond these e^x is ∞ or rounds to 0; the comparisons let NaN through.
    let x = if x > 88.8 { 88.8 } else { x };
    let x = if x < -104.0 { -104.0 } else { x };
    let (n, r) = reduce_ln2(x);
    let r = r + delta;
    let p = 1.0 + (r + expm1_tail(r));
    // 2ⁿ in two halves, each a normal number, so the one rounding happens in the last product.
    let n1 = n >> 1;
    p * pow2i(n1) * pow2i(n - n1)
}

/// `eˣ − 1` for `x ≤ 0`, accurate near 0 (used by `tanh`); `x` below −20 is taken as −20.
#[inline(always)]
fn expm1_nonpositive(x: f32) -> f32 {
    let x = if x < -20.0 { -20.0 } else { x };
    let (n, r) = reduce_ln2(x);
    let q = r + expm1_tail(r);
    let s = pow2i(n);
    s * q + (s - 1.0)
}

/// `tanh x`: at most 3 ulp (2.50 the worst over every `f32`).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    // tanh|x| = −d / (2 + d) with d = e^{−2|x|} − 1: no cancellation anywhere.
    let d = expm1_nonpositive(-2.0 * x.abs());
    (-d / (2.0 + d)).copysign(x)
}

/// `ln x`: at most 1.5 ulp (1.26 the worst over every `f32`); subnormal inputs included.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let tiny = x < f32::MIN_POSITIVE;
    let scaled = if tiny { x * 8_388_608.0 } else { x }; // 2²³ makes a subnormal normal
    let bits = scaled.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127 - if tiny { 23 } else { 0 };
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // in [1, 2)
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172: an odd series in s.
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let p = 2.0 / 9.0 + z * (2.0 / 11.0);
    let p = 2.0 / 7.0 + z * p;
    let p = 2.0 / 5.0 + z * p;
    let p = 2.0 / 3.0 + z * p;
    // f − s·f = 2s exactly in real arithmetic; writing it so keeps the leading term exact-ish.
    let lnm = (f - s * f) + s * (z * p);
    let ef = e as f32;
    let y = ef * LN2_HI + (lnm + ef * LN2_LO);
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    // Negative inputs and NaN (which fails every comparison) give NaN.
    if x >= 0.0 { y } else { f32::NAN }
}

/// `ln(1 + x)`: at most 3 ulp (2.85 the worst over every `f32`), as Goldberg's
/// `ln(u)·x/(u − 1)`, `u = 1 + x`.
#[inline(always)]
pub fn ln_1p(x: f32) -> f32 {
    let u = 1.0 + x;
    let d = u - 1.0;
    // ln(u)·x/(u−1) cancels the rounding of 1 + x; where u rounds to 1, ln(1+x) = x to an ulp.
    let y = ln(u) * (x / d);
    let y = if d == 0.0 { x } else { y };
    if x == f32::INFINITY { x } else { y }
}

/// `erf(z)/z` on `|z| < 1` as a polynomial in z² (fitted, 1.2e-9 relative).
const ERF_SMALL: [f64; 7] = [
    1.128_379_165_738_618_4,
    -0.376_126_258_575_016_36,
    0.112_835_854_124_229_22,
    -0.026_853_820_897_716_926,
    0.005_188_342_499_436_025,
    -0.000_801_031_127_227_211_5,
    7.854_221_044_298_215e-5,
];
/// `erfcx(z) = e^{z²}·erfc(z)` on `1 ≤ z ≤ 2.5`, a polynomial in `z − 1.75` (4.2e-9 relative).
const ERFCX_MID: [f64; 10] = [
    0.284_972_235_937_407_7,
    -0.130_976_343_945_588_96,
    0.055_763_522_079_948_454,
    -0.022_260_009_873_783_626,
    0.008_405_861_869_012_6,
    -0.003_021_125_053_058_54,
    0.001_031_556_891_817_979_8,
    -0.000_342_026_735_269_834_9,
    0.000_124_753_622_787_848_7,
    -3.760_776_639_517_205e-5,
];
/// `z·erfcx(z)` for `z ≥ 2.5` as a polynomial in `t = 1/z ≤ 0.4` (2.9e-9 relative).
const ERFCX_TAIL: [f64; 9] = [
    0.564_189_585_206_313_5,
    -4.931_322_633_988_655e-7,
    -0.282_072_167_371_326_07,
    -0.000_294_177_405_612_227_6,
    0.422_302_452_573_823_2,
    0.052_232_691_500_373_06,
    -1.569_325_531_817_339_8,
    2.348_754_130_101_009,
    -1.204_150_617_266_403_6,
];

/// Horner's rule with `f32` arithmetic on coefficients given in `f64` (rounded once each).
#[inline(always)]
fn horner<const N: usize>(c: &[f64; N], x: f32) -> f32 {
    let mut p = c[N - 1] as f32;
    let mut i = N - 1;
    while i > 0 {
        i -= 1;
        p = c[i] as f32 + x * p;
    }
    p
}

/// `erf(z)/z` for `|z| < 1`.
#[inline(always)]
fn erf_small_over_z(z: f32) -> f32 {
    horner(&ERF_SMALL, z * z)
}

/// `erfcx(a) = e^{a²}·erfc(a)` for `a ≥ 1` (any larger `a` is fine, `∞` included).
#[inline(always)]
fn erfcx_large(a: f32) -> f32 {
    let mid = horner(&ERFCX_MID, a - 1.75);
    let t = 1.0 / a;
    let tail = horner(&ERFCX_TAIL, t) * t;
    if a < 2.5 { mid } else { tail }
}

/// `e^{−a²/2}` (`half`) or `e^{−a²}` for `a ≥ 0`, without the rounding of `a²` spoiling the tail.
#[inline(always)]
fn exp_neg_square(a: f32, half: bool) -> f32 {
    // Past 15 the result is 0 either way; the clamp also keeps ∞ − ∞ out of the split.
    let a = if a > 15.0 { 15.0 } else { a };
    // a = hi + lo with hi of 12 bits, so hi² is exact and a² = hi² + lo·(a + hi), the second
    // part below a²·2⁻¹⁰ (at most 0.22 after the clamp).
    let hi = f32::from_bits(a.to_bits() & 0xffff_f000);
    let lo_part = (a - hi) * (a + hi);
    let k = if half { 0.5 } else { 1.0 };
    exp_plus(-(hi * hi) * k, -lo_part * k)
}

/// `erf z`: at most 3 ulp (2.58 the worst over every `f32`).
#[inline(always)]
pub fn erf(z: f32) -> f32 {
    let a = z.abs();
    let small = a * erf_small_over_z(a);
    let c = exp_neg_square(a, false) * erfcx_large(if a < 1.0 { 1.0 } else { a });
    let y = if a < 1.0 { small } else { 1.0 - c };
    y.copysign(z)
}

/// `erfcx(z)/u` for `z ≥ 0` as a polynomial in `u = 1/(1 + z/2) ∈ (0, 1]` (fitted, 1.1e-8
/// relative; 1.6e-7 once evaluated in `f32`): one formula from 0 to ∞.
const ERFCX_U: [f64; 11] = [
    0.282_094_794_798_243_6,
    0.282_093_852_320_619_07,
    0.246_880_601_253_294_75,
    0.175_376_595_970_323_6,
    0.093_002_399_771_430_88,
    -0.057_240_374_480_142_575,
    0.127_109_995_966_296_74,
    -0.447_009_996_581_214_1,
    0.486_209_638_051_712_9,
    -0.230_873_583_113_864_8,
    0.042_356_065_492_409_396,
];

/// `Φ(x)`, the standard normal CDF `½(1 + erf(x/√2))`, accurate in the lower tail too, where
/// the form `½(1 + erf)` loses every digit: at most 7 ulp (6.65 the worst over every `f32`, near
/// 0). One formula for every `x`: `t = ½·e^{−x²/2}·erfcx(|x|/√2)` is `Φ(−|x|)`, and `Φ(x)` is
/// `t` or `1 − t`, which never cancels because `t ≤ ½`.
#[inline(always)]
pub fn normal_cdf(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let u = 1.0 / (1.0 + 0.5 * z);
    let t = 0.5 * exp_neg_square(x.abs(), true) * (u * horner(&ERFCX_U, u));
    if x < 0.0 { t } else { 1.0 - t }
}

/// `φ(x) = e^{−x²/2}/√(2π)`, the standard normal density: at most 2.5 ulp (1.83 the worst of the
/// million-input sample).
#[inline(always)]
pub fn normal_pdf(x: f32) -> f32 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    exp_neg_square(x.abs(), true) * INV_SQRT_2PI as f32
}

/// `σ(x) = 1/(1 + e⁻ˣ)` without overflow (`e^{−|x|} ≤ 1` in both branches): at most 3 ulp
/// (2.40 the worst over every `f32`).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp(-x.abs());
    let num = if x < 0.0 { e } else { 1.0 };
    num / (1.0 + e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::Float;
    use crate::simd::{Isa, with_isa};
    use crate::tensor::Tensor;

    /// The spacing of `f32`s at the magnitude of `v` (the subnormal spacing below the normals).
    fn ulp(v: f64) -> f64 {
        let a = (v.abs() as f32).max(f32::MIN_POSITIVE);
        let e = (a.to_bits() >> 23) as i32 - 127;
        2f64.powi(e - 23)
    }

    /// Largest error in ulps of `f` against the `f64` reference `r` over `f32` inputs, visiting
    /// every `step`-th bit pattern (both signs), and the input where it happens.
    fn worst(step: usize, f: impl Fn(f32) -> f32, r: impl Fn(f64) -> f64) -> (f64, f32) {
        let mut worst = (0.0, 0.0);
        for bits in (0..=u32::MAX).step_by(step) {
            let x = f32::from_bits(bits);
            if !x.is_finite() {
                continue;
            }
            let want = r(x as f64);
            let got = f(x);
            let err = if want.is_nan() {
                if got.is_nan() { 0.0 } else { f64::INFINITY }
            } else if want.abs() > f32::MAX as f64 {
                if got as f64 == want.signum() * f64::INFINITY || got.is_infinite() {
                    0.0
                } else {
                    f64::INFINITY
                }
            } else {
                (got as f64 - want).abs() / ulp(want)
            };
            if err > worst.0 {
                worst = (err, x);
            }
        }
        worst
    }

    fn check(name: &str, step: usize, bound: f64, f: fn(f32) -> f32, r: fn(f64) -> f64) {
        let (err, at) = worst(step, f, r);
        println!("{name}: max {err:.3} ulp at {at:e}");
        assert!(err <= bound, "{name}: {err} ulp at {at:e} exceeds {bound}");
    }

    const STEP: usize = 4093; // about a million inputs spread over every exponent

    #[test]
    fn exp_is_within_one_ulp() {
        check("exp", STEP, 1.0, exp, f64::exp);
    }

    #[test]
    fn ln_and_ln_1p_are_within_their_bounds() {
        check("ln", STEP, 1.5, ln, f64::ln);
        check("ln_1p", STEP, 3.0, ln_1p, f64::ln_1p);
    }

    #[test]
    fn tanh_and_sigmoid_are_within_their_bounds() {
        check("tanh", STEP, 3.0, tanh, f64::tanh);
        check("sigmoid", STEP, 3.0, sigmoid, <f64 as Float>::sigmoid);
    }

    #[test]
    fn erf_and_the_normal_cdf_are_within_their_bounds() {
        check("erf", STEP, 3.0, erf, <f64 as Float>::erf);
        check(
            "normal_cdf",
            STEP,
            7.0,
            normal_cdf,
            <f64 as Float>::normal_cdf,
        );
        check(
            "normal_pdf",
            STEP,
            2.5,
            normal_pdf,
            <f64 as Float>::normal_pdf,
        );
    }

    /// Every finite f32, for the record (minutes in the dev profile): `cargo test -p
    /// tapegrad-tensor --release math -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn every_f32_input() {
        check("exp", 1, 1.0, exp, f64::exp);
        check("ln", 1, 1.5, ln, f64::ln);
        check("ln_1p", 1, 3.0, ln_1p, f64::ln_1p);
        check("tanh", 1, 3.0, tanh, f64::tanh);
        check("sigmoid", 1, 3.0, sigmoid, <f64 as Float>::sigmoid);
        check("erf", 1, 3.0, erf, <f64 as Float>::erf);
        check("normal_cdf", 1, 7.0, normal_cdf, <f64 as Float>::normal_cdf);
    }

    #[test]
    fn special_values_follow_the_c_library() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        assert_eq!(exp(-inf), 0.0);
        assert_eq!(exp(inf), inf);
        assert_eq!(exp(89.0), inf);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(-104.0), 0.0);
        assert!(exp(-100.0) > 0.0, "subnormal results are kept");
        assert_eq!((tanh(inf), tanh(-inf)), (1.0, -1.0));
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(1e-40), 1e-40);
        assert_eq!((ln(0.0), ln(-0.0), ln(inf)), (-inf, -inf, inf));
        assert!(ln(-1.0).is_nan() && ln(-inf).is_nan());
        assert_eq!(ln(1.0), 0.0);
        assert_eq!((ln_1p(-1.0), ln_1p(inf), ln_1p(1e-30)), (-inf, inf, 1e-30));
        assert!(ln_1p(-2.0).is_nan());
        assert_eq!(
            (erf(inf), erf(-inf), erf(-0.0).to_bits()),
            (1.0, -1.0, (-0.0f32).to_bits())
        );
        assert_eq!((normal_cdf(inf), normal_cdf(-inf)), (1.0, 0.0));
        assert_eq!((sigmoid(inf), sigmoid(-inf)), (1.0, 0.0));
        assert_eq!(normal_pdf(inf), 0.0);
        for f in [exp, ln, ln_1p, tanh, erf, normal_cdf, normal_pdf, sigmoid] {
            assert!(f(nan).is_nan());
        }
    }

    #[test]
    fn the_lower_tail_of_the_normal_cdf_keeps_its_digits() {
        // Φ(−5) = 2.866515718791939e-7 and Φ(−12) = 1.7764821120776e-33 (references in f64).
        for (x, want) in [
            (-5.0f32, 2.866_515_718_791_939e-7),
            (-12.0, 1.776_482_112_077_679e-33),
        ] {
            let got = normal_cdf(x) as f64;
            assert!(
                (got / want - 1.0).abs() < 1e-6,
                "Φ({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn tensor_kernels_give_the_same_bits_on_every_path() {
        let x = Tensor::<f32>::from_fn(&[4099], |ix| (ix[0] as f32 - 2049.0) * 0.013);
        type Op = fn(&Tensor<f32>) -> Tensor<f32>;
        let ops: [(&str, Op); 6] = [
            ("exp", Tensor::exp),
            ("tanh", Tensor::tanh),
            ("sigmoid", Tensor::sigmoid),
            ("gelu", Tensor::gelu),
            ("softplus", Tensor::softplus),
            ("log", |t| t.abs().log()),
        ];
        for (name, op) in ops {
            let portable = with_isa(Isa::Portable, || op(&x)).to_vec();
            for isa in [Isa::Avx2, Isa::Avx512] {
                if !isa.is_supported() {
                    println!("{name}: {isa:?} skipped (this CPU lacks it)");
                    continue;
                }
                let got = with_isa(isa, || op(&x)).to_vec();
                let same = got
                    .iter()
                    .zip(&portable)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{name}: {isa:?} differs from the portable path");
                println!("{name}: {isa:?} ran, bit-identical to portable");
            }
        }
    }
}
