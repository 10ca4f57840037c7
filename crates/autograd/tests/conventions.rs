//! `Var` and `Tensor` spell `clamp` alike: the same arguments in the same order, giving the same
//! values and the same errors.

use tapegrad_autograd::Tape;
use tapegrad_tensor::testing::caught;
use tapegrad_tensor::{Float, Tensor};

fn clamp_agrees<T: Float>() {
    let x = Tensor::<T>::from_vec(
        [-2.0, -0.5, 0.25, 0.75, 3.0, f64::NAN]
            .map(T::from_f64)
            .to_vec(),
        &[2, 3],
    );
    let tape = Tape::<T>::new();
    let v = tape.input_with_grad(x.clone());
    // 0.1 is not exact in f32: the bound is the f32 value on both sides, not a rounded f64.
    let (min, max) = (T::from_f64(-1.0), T::from_f64(0.1));
    let bits = |t: &Tensor<T>| {
        t.to_vec()
            .iter()
            .map(|x| x.to_f64().to_bits())
            .collect::<Vec<_>>()
    };
    let y = v.clamp(min, max);
    assert_eq!(bits(y.value()), bits(&x.clamp(min, max)));
    let g = y.sum_all().backward().wrt(&v).unwrap().to_vec();
    let want: Vec<T> = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0].map(T::from_f64).to_vec();
    assert_eq!(g, want, "gradient 1 strictly inside (min, max) only");

    let bad = [(2.0, 1.0), (f64::NAN, 1.0), (0.0, f64::NAN)]
        .map(|(a, b)| (T::from_f64(a), T::from_f64(b)));
    for (lo, hi) in bad {
        let tensor = x.try_clamp(lo, hi).unwrap_err().to_string();
        let var = v.try_clamp(lo, hi).unwrap_err().to_string();
        assert_eq!(var, tensor);
        assert!(
            tensor.starts_with("clamp: invalid argument: min"),
            "{tensor}"
        );
        assert_eq!(caught(|| v.clamp(lo, hi)).unwrap_err(), tensor);
    }
}

#[test]
fn var_and_tensor_clamp_take_element_bounds_and_agree() {
    clamp_agrees::<f32>();
    clamp_agrees::<f64>();
}
