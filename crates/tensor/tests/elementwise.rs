//! Every elementwise and comparison kernel against the naive index-by-index reference of
//! `testing::naive`, on contiguous, permuted, step-sliced and broadcast layouts, in f64 and f32.
//!
//! Each proptest checks a whole family of kernels on one random input, so a failure names the
//! kernel and the layout in its message.

use proptest::prelude::*;
use std::f64::consts::SQRT_2;
use tapegrad_tensor::shape::broadcast_shapes;
use tapegrad_tensor::testing::{
    all_close, any_shape, any_view, broadcast_pair, indices, naive, view_of_shape,
};
use tapegrad_tensor::{Float, PARALLEL_THRESHOLD, Tensor};

type Check = Result<(), TestCaseError>;

/// `(rtol, atol)` against the f64 reference.
#[derive(Clone, Copy)]
struct Tol(f64, f64);

const F64: Tol = Tol(1e-12, 1e-12);
// f32 kernels round every intermediate; the reference rounds only its inputs.
const F32: Tol = Tol(1e-5, 1e-5);

/// The same logical values in another layout: 0 unchanged; 1 a reversed-axes copy permuted back
/// (every stride the wrong way round); 2 every other row of a buffer twice the size, whose other
/// rows are NaN so a wrong read shows; 3 the first row broadcast along axis 0 (values change).
fn relayout<T: Float>(x: &Tensor<T>, kind: usize) -> Tensor<T> {
    let rank = x.rank();
    match kind {
        1 if rank >= 2 => {
            let perm: Vec<isize> = (0..rank as isize).rev().collect();
            x.permute(&perm).contiguous().permute(&perm)
        }
        2 if rank >= 1 => {
            let mut big = x.shape().to_vec();
            big[0] = 2 * big[0] + 1;
            let padded = Tensor::from_fn(&big, |ix| {
                if ix[0] % 2 == 1 {
                    let mut own = ix.to_vec();
                    own[0] /= 2;
                    x.get(&own)
                } else {
                    T::from_f64(f64::NAN)
                }
            });
            padded.slice(0, 1, big[0], 2)
        }
        3 if rank >= 1 => x.narrow(0, 0, 1).broadcast_to(x.shape()),
        _ => x.clone(),
    }
}

/// An f32 tensor in a random layout (a cast alone would always be contiguous).
fn f32_view() -> impl Strategy<Value = Tensor<f32>> {
    (any_view(4, 5), 0..4usize).prop_map(|(x, kind)| relayout(&x.cast::<f32>(), kind))
}

/// Values in `[0.1, 3.1]` in a random layout, for `log`, `sqrt` and `powf`.
fn positive_view<T: Float>() -> impl Strategy<Value = Tensor<T>> {
    (any_view(4, 5), 0..4usize)
        .prop_map(|(x, kind)| relayout(&x.abs().add_scalar(0.1).cast::<T>(), kind))
}

/// Two tensors that broadcast together (the second broadcasts to the first), each in a random layout.
fn pair<T: Float>(round: bool) -> impl Strategy<Value = (Tensor<T>, Tensor<T>)> {
    (broadcast_pair(3, 4), 0..4usize, 0..4usize).prop_map(move |((a, b), ka, kb)| {
        // Rounded values make equal elements common, so `eq` and `le` see both outcomes.
        let prep = |x: &Tensor<f64>, kind| {
            let x = if round { x.map(f64::round) } else { x.clone() };
            relayout(&x.cast::<T>(), kind)
        };
        (prep(&a, ka), prep(&b, kb))
    })
}

/// Three tensors whose shapes broadcast together, each with its own size-1 or dropped axes.
fn triple<T: Float>() -> impl Strategy<Value = [Tensor<T>; 3]> {
    (
        any_shape(3, 4),
        proptest::collection::vec(any::<bool>(), 9),
        0..3usize,
    )
        .prop_flat_map(|(shape, ones, drop)| {
            let derive = |k: usize, drop: usize| -> Vec<usize> {
                let own: Vec<usize> = (0..shape.len())
                    .map(|i| if ones[3 * k + i] { 1 } else { shape[i] })
                    .collect();
                own[drop.min(own.len())..].to_vec()
            };
            (
                view_of_shape(derive(0, 0)),
                view_of_shape(derive(1, drop)),
                view_of_shape(derive(2, 0)),
            )
        })
        .prop_map(|(c, a, b)| [c.map(f64::round).cast(), a.cast(), b.cast()])
}

fn expect<T: Float>(name: &str, got: &Tensor<T>, want: &[f64], shape: &[usize], tol: Tol) -> Check {
    prop_assert_eq!(got.shape(), shape, "{}: shape", name);
    prop_assert!(
        all_close(got, want, tol.0, tol.1),
        "{name}: got {:?}, want {want:?}",
        got.to_vec()
    );
    Ok(())
}

fn expect_unary<T: Float>(
    name: &str,
    got: &Tensor<T>,
    x: &Tensor<T>,
    f: impl Fn(f64) -> f64,
    tol: Tol,
) -> Check {
    expect(name, got, &naive::unary(x, f), x.shape(), tol)
}

fn expect_binary<T: Float>(
    name: &str,
    got: &Tensor<T>,
    (a, b): (&Tensor<T>, &Tensor<T>),
    f: impl Fn(f64, f64) -> f64,
    tol: Tol,
) -> Check {
    let (want, shape) = naive::binary(a, b, f);
    expect(name, got, &want, &shape, tol)
}

fn mask(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

fn check_unary<T: Float>(x: &Tensor<T>, tol: Tol) -> Check {
    let s = x.to_vec()[0];
    let sf = s.to_f64();
    let lo = s - T::ONE;
    let hi = s + T::from_f64(0.5);
    let (lof, hif) = (lo.to_f64(), hi.to_f64());
    expect_unary("neg", &x.neg(), x, |v| -v, tol)?;
    expect_unary("exp", &x.exp(), x, f64::exp, tol)?;
    expect_unary("abs", &x.abs(), x, f64::abs, tol)?;
    let sign = |v: f64| {
        if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            v
        }
    };
    expect_unary("sign", &x.sign(), x, sign, tol)?;
    expect_unary("recip", &x.recip(), x, f64::recip, tol)?;
    expect_unary("square", &x.square(), x, |v| v * v, tol)?;
    expect_unary("powi(3)", &x.powi(3), x, |v| v.powi(3), tol)?;
    expect_unary("powi(-2)", &x.powi(-2), x, |v| v.powi(-2), tol)?;
    expect_unary("tanh", &x.tanh(), x, f64::tanh, tol)?;
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    expect_unary("sigmoid", &x.sigmoid(), x, sigmoid, tol)?;
    expect_unary("relu", &x.relu(), x, |v| v.max(0.0), tol)?;
    let leaky = |v: f64| if v < 0.0 { 0.1 * v } else { v };
    let slope = T::from_f64(0.1);
    expect_unary("leaky_relu", &x.leaky_relu(slope), x, leaky, tol)?;
    let gelu = |v: f64| 0.5 * v * (1.0 + Float::erf(v / SQRT_2));
    expect_unary("gelu", &x.gelu(), x, gelu, tol)?;
    let softplus = |v: f64| v.exp().ln_1p();
    expect_unary("softplus", &x.softplus(), x, softplus, tol)?;
    let clamp = |v: f64| v.max(lof).min(hif);
    expect_unary("clamp", &x.clamp(lo, hi), x, clamp, tol)?;
    let cubic = |v: f64| v * v * v - 2.0 * v;
    let two = T::from_f64(2.0);
    expect_unary("map", &x.map(|v| v * v * v - two * v), x, cubic, tol)?;
    expect_unary("add_scalar", &x.add_scalar(s), x, |v| v + sf, tol)?;
    expect_unary("sub_scalar", &x.sub_scalar(s), x, |v| v - sf, tol)?;
    expect_unary("rsub_scalar", &x.rsub_scalar(s), x, |v| sf - v, tol)?;
    expect_unary("mul_scalar", &x.mul_scalar(s), x, |v| v * sf, tol)?;
    expect_unary("div_scalar", &x.div_scalar(s), x, |v| v / sf, tol)?;
    expect_unary("rdiv_scalar", &x.rdiv_scalar(s), x, |v| sf / v, tol)?;
    expect_unary("&x + s", &(x + s), x, |v| v + sf, tol)?;
    expect_unary("&x * s", &(x * s), x, |v| v * sf, tol)?;
    expect_unary("-&x", &(-x), x, |v| -v, tol)?;
    // `s` is one of x's elements, so every scalar comparison sees a tie.
    expect_unary("eq_scalar", &x.eq_scalar(s), x, |v| mask(v == sf), tol)?;
    expect_unary("ne_scalar", &x.ne_scalar(s), x, |v| mask(v != sf), tol)?;
    expect_unary("lt_scalar", &x.lt_scalar(s), x, |v| mask(v < sf), tol)?;
    expect_unary("le_scalar", &x.le_scalar(s), x, |v| mask(v <= sf), tol)?;
    expect_unary("gt_scalar", &x.gt_scalar(s), x, |v| mask(v > sf), tol)?;
    expect_unary("ge_scalar", &x.ge_scalar(s), x, |v| mask(v >= sf), tol)
}

fn check_positive_domain<T: Float>(x: &Tensor<T>, tol: Tol) -> Check {
    expect_unary("log", &x.log(), x, f64::ln, tol)?;
    expect_unary("sqrt", &x.sqrt(), x, f64::sqrt, tol)?;
    let p = T::from_f64(1.7);
    expect_unary("powf(1.7)", &x.powf(p), x, |v| v.powf(1.7), tol)?;
    let p = T::from_f64(-0.5);
    expect_unary("powf(-0.5)", &x.powf(p), x, |v| v.powf(-0.5), tol)
}

fn check_binary<T: Float>(a: &Tensor<T>, b: &Tensor<T>, tol: Tol) -> Check {
    let ab = (a, b);
    let ba = (b, a);
    expect_binary("add", &a.add(b), ab, |x, y| x + y, tol)?;
    expect_binary("sub", &a.sub(b), ab, |x, y| x - y, tol)?;
    expect_binary("sub, swapped", &b.sub(a), ba, |x, y| x - y, tol)?;
    expect_binary("mul", &a.mul(b), ab, |x, y| x * y, tol)?;
    expect_binary("div", &a.div(b), ab, |x, y| x / y, tol)?;
    expect_binary("div, swapped", &b.div(a), ba, |x, y| x / y, tol)?;
    expect_binary("maximum", &a.maximum(b), ab, f64::max, tol)?;
    expect_binary("minimum", &b.minimum(a), ba, f64::min, tol)?;
    expect_binary("&a + &b", &(a + b), ab, |x, y| x + y, tol)?;
    expect_binary("&a - &b", &(a - b), ab, |x, y| x - y, tol)?;
    expect_binary("&a * &b", &(a * b), ab, |x, y| x * y, tol)?;
    expect_binary("&a / &b", &(a / b), ab, |x, y| x / y, tol)?;
    let owned = a.clone() + b.clone();
    expect_binary("a + b", &owned, ab, |x, y| x + y, tol)
}

fn check_compare<T: Float>(a: &Tensor<T>, b: &Tensor<T>, tol: Tol) -> Check {
    let ab = (a, b);
    expect_binary("eq", &a.eq(b), ab, |x, y| mask(x == y), tol)?;
    expect_binary("ne", &a.ne(b), ab, |x, y| mask(x != y), tol)?;
    expect_binary("lt", &a.lt(b), ab, |x, y| mask(x < y), tol)?;
    expect_binary("le", &a.le(b), ab, |x, y| mask(x <= y), tol)?;
    expect_binary("gt", &a.gt(b), ab, |x, y| mask(x > y), tol)?;
    expect_binary("ge", &a.ge(b), ab, |x, y| mask(x >= y), tol)?;
    let ba = (b, a);
    expect_binary("lt, swapped", &b.lt(a), ba, |x, y| mask(x < y), tol)
}

/// `cond ≠ 0 ? a : b` read index by index under three-way broadcasting.
fn naive_where<T: Float>([c, a, b]: &[Tensor<T>; 3]) -> (Vec<f64>, Vec<usize>) {
    let shape = broadcast_shapes("naive", c.shape(), a.shape()).unwrap();
    let shape = broadcast_shapes("naive", &shape, b.shape())
        .unwrap()
        .to_vec();
    let pick = |t: &Tensor<T>, ix: &[usize]| {
        let lead = ix.len() - t.rank();
        let own: Vec<usize> = (0..t.rank())
            .map(|i| if t.shape()[i] == 1 { 0 } else { ix[lead + i] })
            .collect();
        t.get(&own).to_f64()
    };
    let values = indices(&shape)
        .iter()
        .map(|ix| {
            if pick(c, ix) != 0.0 {
                pick(a, ix)
            } else {
                pick(b, ix)
            }
        })
        .collect();
    (values, shape)
}

fn check_where<T: Float>(ops: &[Tensor<T>; 3], kinds: [usize; 3]) -> Check {
    let [c, a, b] = [0, 1, 2].map(|k| relayout(&ops[k], kinds[k]));
    let (want, shape) = naive_where(&[c.clone(), a.clone(), b.clone()]);
    // Selection copies values, so the result is exact in either precision.
    expect("where_", &a.where_(&c, &b), &want, &shape, Tol(0.0, 0.0))?;
    expect(
        "select",
        &Tensor::select(&c, &a, &b),
        &want,
        &shape,
        Tol(0.0, 0.0),
    )?;
    let (want, shape) = naive_where(&[c.clone(), b.clone(), a.clone()]);
    expect(
        "where_, swapped",
        &b.where_(&c, &a),
        &want,
        &shape,
        Tol(0.0, 0.0),
    )
}

fn check_in_place<T: Float>(a: &Tensor<T>, b: &Tensor<T>, tol: Tol) -> Check {
    let before = a.to_vec();
    let ab = (a, b);
    let mut y = a.clone();
    y.add_assign(b);
    expect_binary("add_assign", &y, ab, |x, y| x + y, tol)?;
    let mut y = a.clone();
    y -= b;
    expect_binary("sub_assign", &y, ab, |x, y| x - y, tol)?;
    let mut y = a.clone();
    y.mul_assign(b);
    expect_binary("mul_assign", &y, ab, |x, y| x * y, tol)?;
    let mut y = a.clone();
    let half = T::from_f64(0.5);
    y.zip_map_assign(b, |s, x| half * s + x * x);
    expect_binary("zip_map_assign", &y, ab, |s, x| 0.5 * s + x * x, tol)?;
    let mut y = a.clone();
    let alpha = T::from_f64(-0.7);
    y.scaled_add(alpha, &b.broadcast_to(a.shape()));
    expect_binary("scaled_add", &y, ab, |s, x| s - 0.7 * x, tol)?;
    let mut y = a.clone();
    y.scale_assign(alpha);
    expect_unary("scale_assign", &y, a, |s| -0.7 * s, tol)?;
    let mut y = a.clone();
    y.map_assign(|s| s * s - half);
    expect_unary("map_assign", &y, a, |s| s * s - 0.5, tol)?;
    // Every target above shared `a`'s buffer; none of the writes may show through it.
    prop_assert_eq!(a.to_vec(), before);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn unary_kernels_match_naive_f64(x in any_view(4, 5)) {
        check_unary(&x, F64)?;
    }

    #[test]
    fn unary_kernels_match_naive_f32(x in f32_view()) {
        check_unary(&x, F32)?;
    }

    #[test]
    fn positive_domain_kernels_match_naive_f64(x in positive_view::<f64>()) {
        check_positive_domain(&x, F64)?;
    }

    #[test]
    fn positive_domain_kernels_match_naive_f32(x in positive_view::<f32>()) {
        check_positive_domain(&x, F32)?;
    }

    #[test]
    fn binary_kernels_match_naive_f64((a, b) in pair::<f64>(false)) {
        check_binary(&a, &b, F64)?;
    }

    #[test]
    fn binary_kernels_match_naive_f32((a, b) in pair::<f32>(false)) {
        check_binary(&a, &b, F32)?;
    }

    #[test]
    fn comparisons_match_naive_f64((a, b) in pair::<f64>(true)) {
        check_compare(&a, &b, F64)?;
    }

    #[test]
    fn comparisons_match_naive_f32((a, b) in pair::<f32>(true)) {
        check_compare(&a, &b, F32)?;
    }

    #[test]
    fn where_matches_naive_f64(ops in triple::<f64>(), kinds in proptest::array::uniform3(0..4usize)) {
        check_where(&ops, kinds)?;
    }

    #[test]
    fn where_matches_naive_f32(ops in triple::<f32>(), kinds in proptest::array::uniform3(0..4usize)) {
        check_where(&ops, kinds)?;
    }

    #[test]
    fn in_place_forms_match_naive_f64((a, b) in pair::<f64>(false)) {
        check_in_place(&a, &b, F64)?;
    }

    #[test]
    fn in_place_forms_match_naive_f32((a, b) in pair::<f32>(false)) {
        check_in_place(&a, &b, F32)?;
    }
}

/// Above `PARALLEL_THRESHOLD` the drivers split rows into blocks for rayon; the proptests above
/// are far smaller, so the parallel strided paths are checked here once, on each layout kind.
#[test]
fn parallel_paths_match_naive() {
    let (rows, cols) = (600, 260);
    assert!(rows * cols > PARALLEL_THRESHOLD);
    let x = Tensor::<f32>::from_fn(&[rows, cols], |ix| {
        ((ix[0] * 31 + ix[1] * 7) % 23) as f32 / 4.0 - 3.0
    });
    let row = Tensor::<f32>::from_fn(&[cols], |ix| ix[0] as f32 / 50.0 - 1.0);
    let tol = F32;
    let check = |r: Check| r.unwrap();
    for kind in 0..4 {
        let v = relayout(&x, kind);
        check(expect_unary("tanh", &v.tanh(), &v, f64::tanh, tol));
        check(expect_binary(
            "add",
            &v.add(&row),
            (&v, &row),
            |a, b| a + b,
            tol,
        ));
        let vt = v.t();
        let col = row.narrow(0, 0, 1);
        check(expect_binary(
            "mul",
            &vt.mul(&col),
            (&vt, &col),
            |a, b| a * b,
            tol,
        ));
        let cond = v.gt_scalar(0.0);
        let (want, shape) = naive_where(&[cond.clone(), v.clone(), row.clone()]);
        check(expect("where_", &v.where_(&cond, &row), &want, &shape, tol));
        let mut y = v.clone();
        y += &row;
        check(expect_binary(
            "add_assign",
            &y,
            (&v, &row),
            |a, b| a + b,
            tol,
        ));
        let mut y = v.clone();
        y.scaled_add(2.0, &v);
        check(expect_binary(
            "scaled_add",
            &y,
            (&v, &v),
            |a, b| a + 2.0 * b,
            tol,
        ));
    }
}
