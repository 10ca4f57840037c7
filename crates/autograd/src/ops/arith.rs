//! Arithmetic: `+ − × ÷` with broadcasting, negation and scalar forms, and the operators.
//!
//! Binary rules return gradients in the output's (broadcast) shape; the tape reduces each to its
//! input's shape, so none of these ops undoes broadcasting itself.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// `a + b` with broadcasting; see [`Tensor::try_add`] for shapes.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![10.0], &[1])); // broadcast
    /// let y = x.add(&b);
    /// assert_eq!(y.value().to_vec(), [11.0, 12.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&b).unwrap().to_vec(), [2.0]); // summed back to b's shape
    /// assert!(x.try_add(&x.constant(Tensor::zeros(&[3]))).is_err());
    /// ```
    #[track_caller]
    pub fn add(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_add(rhs))
    }

    /// Fallible [`Var::add`].
    pub fn try_add(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_add(rhs.value())?;
        self.try_record(out, &[self, rhs], AddBackward)
    }

    /// `a − b` with broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![5.0f32, 7.0], &[2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![1.0, 2.0], &[2]));
    /// let y = a.sub(&b);
    /// assert_eq!(y.value().to_vec(), [4.0, 5.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&b).unwrap().to_vec(), [-1.0, -1.0]);
    /// assert!(a.try_sub(&a.constant(Tensor::zeros(&[3]))).is_err());
    /// ```
    #[track_caller]
    pub fn sub(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_sub(rhs))
    }

    /// Fallible [`Var::sub`].
    pub fn try_sub(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_sub(rhs.value())?;
        self.try_record(out, &[self, rhs], SubBackward)
    }

    /// `a ⊙ b` (elementwise) with broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![3.0, 4.0], &[2]));
    /// let y = a.mul(&b);
    /// assert_eq!(y.value().to_vec(), [3.0, 8.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&a).unwrap().to_vec(), [3.0, 4.0]); // ∂(a·b)/∂a = b
    /// assert!(a.try_mul(&a.constant(Tensor::zeros(&[3]))).is_err());
    /// ```
    #[track_caller]
    pub fn mul(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_mul(rhs))
    }

    /// Fallible [`Var::mul`].
    pub fn try_mul(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_mul(rhs.value())?;
        let saved = MulBackward {
            a: self.value().clone(),
            b: rhs.value().clone(),
        };
        self.try_record(out, &[self, rhs], saved)
    }

    /// `a / b` (elementwise) with broadcasting.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 3.0], &[2]));
    /// let b = tape.input_with_grad(Tensor::from_vec(vec![2.0, 4.0], &[2]));
    /// let y = a.div(&b);
    /// assert_eq!(y.value().to_vec(), [0.5, 0.75]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&a).unwrap().to_vec(), [0.5, 0.25]); // 1/b
    /// assert_eq!(g.wrt(&b).unwrap().to_vec(), [-0.25, -0.1875]); // −a/b²
    /// assert!(a.try_div(&a.constant(Tensor::zeros(&[3]))).is_err());
    /// ```
    #[track_caller]
    pub fn div(&self, rhs: &Var<T>) -> Var<T> {
        or_panic(self.try_div(rhs))
    }

    /// Fallible [`Var::div`].
    pub fn try_div(&self, rhs: &Var<T>) -> Result<Var<T>> {
        let out = self.value().try_div(rhs.value())?;
        let saved = DivBackward {
            b: rhs.value().clone(),
            out: out.clone(),
        };
        self.try_record(out, &[self, rhs], saved)
    }

    /// `−a`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, -2.0], &[2]));
    /// let y = x.neg();
    /// assert_eq!(y.value().to_vec(), [-1.0, 2.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [-1.0, -1.0]);
    /// ```
    pub fn neg(&self) -> Var<T> {
        self.record(self.value().neg(), &[self], NegBackward)
    }

    /// `a + s` for a scalar `s`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 4.0], &[2]));
    /// assert_eq!(x.add_scalar(1.0).value().to_vec(), [2.0, 5.0]);
    /// assert_eq!(x.sub_scalar(1.0).value().to_vec(), [0.0, 3.0]);
    /// assert_eq!(x.rsub_scalar(1.0).value().to_vec(), [0.0, -3.0]); // 1 − x
    /// assert_eq!(x.mul_scalar(2.0).value().to_vec(), [2.0, 8.0]);
    /// assert_eq!(x.div_scalar(2.0).value().to_vec(), [0.5, 2.0]);
    /// let g = x.mul_scalar(3.0).sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [3.0, 3.0]);
    /// ```
    pub fn add_scalar(&self, s: T) -> Var<T> {
        self.record(self.value().add_scalar(s), &[self], AddBackward)
    }

    /// `a − s` for a scalar `s`.
    ///
    /// Example: [`Var::add_scalar`].
    pub fn sub_scalar(&self, s: T) -> Var<T> {
        self.add_scalar(-s)
    }

    /// `s − a` for a scalar `s`.
    ///
    /// Example: [`Var::add_scalar`].
    pub fn rsub_scalar(&self, s: T) -> Var<T> {
        self.neg().add_scalar(s)
    }

    /// `a · s` for a scalar `s`.
    ///
    /// Example: [`Var::add_scalar`].
    pub fn mul_scalar(&self, s: T) -> Var<T> {
        self.record(self.value().mul_scalar(s), &[self], ScaleBackward { s })
    }

    /// `a / s` for a scalar `s`.
    ///
    /// Example: [`Var::add_scalar`].
    pub fn div_scalar(&self, s: T) -> Var<T> {
        self.record(
            self.value().div_scalar(s),
            &[self],
            ScaleBackward { s: T::ONE / s },
        )
    }
}

/// Gradient of `c = a + b` (and of `a + s`): `∂L/∂a = g`, `∂L/∂b = g`.
struct AddBackward;

impl<T: Float> Backward<T> for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        needs.iter().map(|&n| n.then(|| g.clone())).collect()
    }
}

/// Gradient of `c = a − b`: `∂L/∂a = g`, `∂L/∂b = −g`.
struct SubBackward;

impl<T: Float> Backward<T> for SubBackward {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![needs[0].then(|| g.clone()), needs[1].then(|| g.neg())]
    }
}

/// Gradient of `c = a ⊙ b`: `∂L/∂a = g ⊙ b`, `∂L/∂b = g ⊙ a`.
struct MulBackward<T> {
    a: Tensor<T>,
    b: Tensor<T>,
}

impl<T: Float> Backward<T> for MulBackward<T> {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![
            needs[0].then(|| g.mul(&self.b)),
            needs[1].then(|| g.mul(&self.a)),
        ]
    }
}

/// Gradient of `c = a / b`: `∂L/∂a = g / b`, `∂L/∂b = −g ⊙ c / b` (using the saved output `c = a/b`).
struct DivBackward<T> {
    b: Tensor<T>,
    out: Tensor<T>,
}

impl<T: Float> Backward<T> for DivBackward<T> {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let ga = g.div(&self.b);
        let gb = needs[1].then(|| ga.mul(&self.out).neg());
        vec![needs[0].then_some(ga), gb]
    }
}

/// Gradient of `c = −a`: `∂L/∂a = −g`.
struct NegBackward;

impl<T: Float> Backward<T> for NegBackward {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.neg())]
    }
}

/// Gradient of `c = s·a`: `∂L/∂a = s·g`.
struct ScaleBackward<T> {
    s: T,
}

impl<T: Float> Backward<T> for ScaleBackward<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.mul_scalar(self.s))]
    }
}

// Operators: macros only for the trait impls, never for public methods.
macro_rules! var_binary_operator {
    ($trait:ident, $method:ident) => {
        impl<T: Float> std::ops::$trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(&self, &rhs)
            }
        }
        impl<T: Float> std::ops::$trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(&self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(self, &rhs)
            }
        }
    };
}

var_binary_operator!(Add, add);
var_binary_operator!(Sub, sub);
var_binary_operator!(Mul, mul);
var_binary_operator!(Div, div);

macro_rules! var_scalar_operator {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl<T: Float> std::ops::$trait<T> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, s: T) -> Var<T> {
                self.$scalar_method(s)
            }
        }
        impl<T: Float> std::ops::$trait<T> for Var<T> {
            type Output = Var<T>;
            fn $method(self, s: T) -> Var<T> {
                self.$scalar_method(s)
            }
        }
    };
}

var_scalar_operator!(Add, add, add_scalar);
var_scalar_operator!(Sub, sub, sub_scalar);
var_scalar_operator!(Mul, mul, mul_scalar);
var_scalar_operator!(Div, div, div_scalar);

impl<T: Float> std::ops::Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}

impl<T: Float> std::ops::Neg for Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(&self)
    }
}

macro_rules! scalar_lhs_operator {
    ($t:ty) => {
        impl std::ops::Mul<&Var<$t>> for $t {
            type Output = Var<$t>;
            fn mul(self, v: &Var<$t>) -> Var<$t> {
                v.mul_scalar(self)
            }
        }
        impl std::ops::Mul<Var<$t>> for $t {
            type Output = Var<$t>;
            fn mul(self, v: Var<$t>) -> Var<$t> {
                v.mul_scalar(self)
            }
        }
    };
}

scalar_lhs_operator!(f32);
scalar_lhs_operator!(f64);
