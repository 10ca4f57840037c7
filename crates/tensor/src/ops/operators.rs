//! The arithmetic operators `+ − · /` and unary `−`, as sugar for the named methods.
//!
//! Every combination of owned and borrowed tensors works, and so does a scalar of the element
//! type on the right (`&a * 2.0`) or, for `f32` and `f64`, on the left (`2.0 * &a`). Operators
//! panic like the short forms they call, at the caller's line.

use crate::element::Float;
use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Implements `$trait` for the four owned/borrowed tensor pairs and for a scalar rhs.
macro_rules! impl_binary_operator {
    ($trait:ident, $method:ident, $scalar:ident) => {
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, rhs)
            }
        }

        impl<T: Float> $trait<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(self, &rhs)
            }
        }

        impl<T: Float> $trait<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, rhs)
            }
        }

        impl<T: Float> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                Tensor::$method(&self, &rhs)
            }
        }

        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                Tensor::$scalar(self, rhs)
            }
        }

        impl<T: Float> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                Tensor::$scalar(&self, rhs)
            }
        }
    };
}

impl_binary_operator!(Add, add, add_scalar);
impl_binary_operator!(Sub, sub, sub_scalar);
impl_binary_operator!(Mul, mul, mul_scalar);
impl_binary_operator!(Div, div, div_scalar);

/// Implements `$trait` with a concrete scalar on the left and a tensor on the right.
macro_rules! impl_scalar_lhs_operator {
    ($t:ty, $trait:ident, $method:ident, $scalar:ident) => {
        impl $trait<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn $method(self, rhs: &Tensor<$t>) -> Tensor<$t> {
                rhs.$scalar(self)
            }
        }

        impl $trait<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            fn $method(self, rhs: Tensor<$t>) -> Tensor<$t> {
                rhs.$scalar(self)
            }
        }
    };
}

impl_scalar_lhs_operator!(f32, Add, add, add_scalar);
impl_scalar_lhs_operator!(f32, Sub, sub, rsub_scalar);
impl_scalar_lhs_operator!(f32, Mul, mul, mul_scalar);
impl_scalar_lhs_operator!(f32, Div, div, rdiv_scalar);
impl_scalar_lhs_operator!(f64, Add, add, add_scalar);
impl_scalar_lhs_operator!(f64, Sub, sub, rsub_scalar);
impl_scalar_lhs_operator!(f64, Mul, mul, mul_scalar);
impl_scalar_lhs_operator!(f64, Div, div, rdiv_scalar);

impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_match_methods() {
        // With `std::ops::Add` in scope, `a.add(&b)` would pick the by-value trait method and
        // move `a`; the path form names the inherent method.
        let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![2.0f64, 4.0], &[2]);
        assert_eq!((&a + &b).to_vec(), Tensor::add(&a, &b).to_vec());
        assert_eq!((&a - &b).to_vec(), Tensor::sub(&a, &b).to_vec());
        assert_eq!((&a * &b).to_vec(), Tensor::mul(&a, &b).to_vec());
        assert_eq!((&a / &b).to_vec(), Tensor::div(&a, &b).to_vec());
        assert_eq!((-&a).to_vec(), [-1.0, -2.0, -3.0, -4.0]);
        assert_eq!(
            (a.clone() + b.clone()).to_vec(),
            Tensor::add(&a, &b).to_vec()
        );
        assert_eq!((a.clone() - &b).to_vec(), Tensor::sub(&a, &b).to_vec());
        assert_eq!((&a * b.clone()).to_vec(), Tensor::mul(&a, &b).to_vec());
        assert_eq!((-a.clone()).to_vec(), Tensor::neg(&a).to_vec());
        // 3x² − 4x + 5, the expression that motivates panicking operators.
        let y = &(&a * &a) * 3.0 - &a * 4.0 + 5.0;
        assert_eq!(y.to_vec(), [4.0, 9.0, 20.0, 37.0]);
        assert_eq!((&a / 2.0).to_vec(), [0.5, 1.0, 1.5, 2.0]);
    }

    #[test]
    fn scalar_on_the_left() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 4.0], &[3]);
        assert_eq!((2.0f32 * &a).to_vec(), [2.0, 4.0, 8.0]);
        assert_eq!((1.0f32 + &a).to_vec(), [2.0, 3.0, 5.0]);
        assert_eq!((1.0f32 - &a).to_vec(), [0.0, -1.0, -3.0]);
        assert_eq!((4.0f32 / a.clone()).to_vec(), [4.0, 2.0, 1.0]);
        let b = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
        assert_eq!((2.0 * &b).to_vec(), [2.0, 4.0]);
        assert_eq!((2.0f64 - b).to_vec(), [1.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "sub: cannot combine [3] with [2]")]
    fn operators_panic_with_the_op_name() {
        let _ = &Tensor::<f32>::zeros(&[3]) - &Tensor::<f32>::zeros(&[2]);
    }
}
