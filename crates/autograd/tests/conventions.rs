//! `Var` and `Tensor` spell `clamp` and `where_` alike: the same arguments in the same order,
//! giving the same values and the same errors.

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

#[test]
fn var_and_tensor_where_are_methods_on_the_true_branch() {
    let mask = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], &[2, 2]);
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = Tensor::from_vec(vec![-1.0, -2.0], &[2, 1]);
    let want = [1.0, -1.0, 3.0, -2.0];
    assert_eq!(a.where_(&mask, &b).to_vec(), want);
    assert_eq!(Tensor::select(&mask, &a, &b).to_vec(), want);
    let tape = Tape::<f64>::new();
    let (va, vb) = (
        tape.input_with_grad(a.clone()),
        tape.input_with_grad(b.clone()),
    );
    let y = va.where_(&mask, &vb);
    assert_eq!(y.value().to_vec(), want);
    let grads = y.sum_all().backward();
    assert_eq!(grads.wrt(&va).unwrap().to_vec(), [1.0, 0.0, 1.0, 0.0]);
    assert_eq!(grads.wrt(&vb).unwrap().to_vec(), [1.0, 1.0]);

    let wrong = Tensor::zeros(&[3]);
    let tensor = a.try_where_(&mask, &wrong).unwrap_err().to_string();
    assert_eq!(
        va.try_where_(&mask, &tape.input(wrong.clone()))
            .unwrap_err()
            .to_string(),
        tensor
    );
    assert!(
        tensor.starts_with("where_: cannot combine [2, 2] with [3]"),
        "{tensor}"
    );
    let select = Tensor::try_select(&mask, &a, &wrong)
        .unwrap_err()
        .to_string();
    assert_eq!(select, tensor.replacen("where_", "select", 1));
}
