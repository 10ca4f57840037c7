//! A user op written from outside the crates, through the public API only, passes gradcheck; a
//! wrong derivative written the same way fails it.

use tapegrad::autograd::{Backward, Check, Unary, Var, gradcheck};
use tapegrad::tensor::{Float, Tensor};

#[derive(Clone, Copy)]
struct Softsign;

impl Unary for Softsign {
    const NAME: &'static str = "softsign";
    fn f<T: Float>(self, x: T) -> T {
        x / (T::ONE + x.abs())
    }
    fn df<T: Float>(self, x: T, _y: T) -> T {
        let d = T::ONE + x.abs();
        T::ONE / (d * d)
    }
}

/// `a·b²` for two inputs, with its rule as a `Backward` value.
struct MulSquareBackward {
    a: Tensor<f64>,
    b: Tensor<f64>,
}

impl Backward<f64> for MulSquareBackward {
    fn name(&self) -> &'static str {
        "mul_square"
    }
    fn backward(&self, g: &Tensor<f64>, needs: &[bool]) -> Vec<Option<Tensor<f64>>> {
        vec![
            needs[0].then(|| g.mul(&self.b.square())),
            needs[1].then(|| g.mul(&self.a).mul(&self.b).mul_scalar(2.0)),
        ]
    }
}

fn mul_square(a: &Var<f64>, b: &Var<f64>) -> Var<f64> {
    let out = a.value().mul(&b.value().square());
    a.record(
        out,
        &[a, b],
        MulSquareBackward {
            a: a.value().clone(),
            b: b.value().clone(),
        },
    )
}

#[test]
fn user_ops_pass_gradcheck_through_the_public_api() {
    let x = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.7, -0.4, 1.1], &[2, 3]);
    gradcheck(
        "softsign",
        |v| v[0].unary(Softsign),
        &[x.t()],
        Check::default(),
    )
    .unwrap();
    let b = Tensor::from_vec(vec![0.5, -1.5, 2.0], &[3]);
    let report = gradcheck(
        "mul_square",
        |v| mul_square(&v[0], &v[1]),
        &[x, b],
        Check::default(),
    )
    .unwrap();
    assert_eq!(report.ops, vec!["mul_square"]);
}

#[test]
fn a_wrong_user_derivative_fails() {
    #[derive(Clone, Copy)]
    struct WrongSoftsign;
    impl Unary for WrongSoftsign {
        const NAME: &'static str = "wrong_softsign";
        fn f<T: Float>(self, x: T) -> T {
            x / (T::ONE + x.abs())
        }
        fn df<T: Float>(self, x: T, _y: T) -> T {
            T::ONE / (T::ONE + x.abs()) // forgot the square
        }
    }
    let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]);
    let err = gradcheck(
        "wrong_softsign",
        |v| v[0].unary(WrongSoftsign),
        &[x],
        Check::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("wrong_softsign"), "{err}");
}
