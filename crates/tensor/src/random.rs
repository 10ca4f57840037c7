//! Random constructors. Each takes the generator explicitly, so a seed fixes the result.
//!
//! Values are drawn in `f64` and rounded, so an `f32` and an `f64` tensor from the same seed agree
//! to `f32` precision.

use crate::element::Float;
use crate::error::{Result, TensorError, or_panic};
use crate::shape::check_shape_of;
use crate::tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, Normal, StandardNormal, Uniform};

impl<T: Float> Tensor<T> {
    /// Samples from `U[low, high)`: every value is at least `low` and below `high` in `T`.
    ///
    /// When no `T` lies strictly between `low` and `high` (adjacent floats), every value is `low`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let x = Tensor::<f32>::rand_uniform(&[2, 3], -1.0, 1.0, &mut rng);
    /// assert!(x.to_vec().iter().all(|v| (-1.0..1.0).contains(v)));
    /// // The same seed gives the same tensor:
    /// let again = Tensor::<f32>::rand_uniform(&[2, 3], -1.0, 1.0, &mut StdRng::seed_from_u64(0));
    /// assert_eq!(x.to_vec(), again.to_vec());
    /// assert!(Tensor::<f32>::try_rand_uniform(&[2], 1.0, 1.0, &mut rng).is_err()); // low = high
    /// ```
    ///
    /// # Panics
    /// If `low >= high`, either is not finite, or the shape is too large;
    /// [`Tensor::try_rand_uniform`] returns the error.
    #[track_caller]
    pub fn rand_uniform(shape: &[usize], low: T, high: T, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_rand_uniform(shape, low, high, rng))
    }

    /// Fallible [`Tensor::rand_uniform`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `rand_uniform` if `low >= high` or either is not
    /// finite; [`TensorError::TooLarge`] for a shape too large to exist.
    pub fn try_rand_uniform(shape: &[usize], low: T, high: T, rng: &mut impl Rng) -> Result<Self> {
        const OP: &str = "rand_uniform";
        if !low.is_finite() || !high.is_finite() || low >= high {
            return Err(TensorError::arg(
                OP,
                format!("low {low} and high {high} must be finite with low < high"),
            ));
        }
        let n = check_shape_of::<T>(OP, shape)?;
        let (l, h) = (low.to_f64(), high.to_f64());
        // Draws are made in f64 and rounded to T, which can round up to `high` itself (half the
        // draws of U[1, 1 + ulp) in f32 did); those become the largest T below `high`.
        let top = high.next_below();
        let fit = |x: f64| {
            let x = T::from_f64(x);
            if x >= high {
                top
            } else if x < low {
                low
            } else {
                x
            }
        };
        let data = match Uniform::new(l, h) {
            Ok(dist) => (0..n).map(|_| fit(dist.sample(rng))).collect(),
            // rand rejects ranges whose width overflows f64 (f64::MIN..f64::MAX); interpolating
            // between the ends never forms that width.
            Err(_) => (0..n)
                .map(|_| {
                    let u: f64 = rng.random();
                    fit(l * (1.0 - u) + h * u)
                })
                .collect(),
        };
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// Samples from the standard normal `N(0, 1)`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let x = Tensor::<f64>::rand_normal(&[100], &mut rng);
    /// assert!(x.mean_all().item().abs() < 0.5);
    /// assert!(Tensor::<f64>::try_rand_normal(&[usize::MAX, 2], &mut rng).is_err());
    /// ```
    ///
    /// # Panics
    /// If the shape is too large; [`Tensor::try_rand_normal`] returns the error.
    #[track_caller]
    pub fn rand_normal(shape: &[usize], rng: &mut impl Rng) -> Self {
        or_panic(Self::try_rand_normal(shape, rng))
    }

    /// Fallible [`Tensor::rand_normal`].
    ///
    /// # Errors
    /// [`TensorError::TooLarge`] naming `rand_normal` for a shape too large to exist.
    pub fn try_rand_normal(shape: &[usize], rng: &mut impl Rng) -> Result<Self> {
        Self::sample("rand_normal", shape, StandardNormal, rng)
    }

    /// Samples from `N(mean, std²)`; `std = 0` gives `mean` everywhere.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let x = Tensor::<f32>::rand_normal_with(&[100], 10.0, 0.5, &mut rng);
    /// assert!((x.mean_all().item() - 10.0).abs() < 0.5);
    /// assert_eq!(Tensor::<f32>::rand_normal_with(&[2], 3.0, 0.0, &mut rng).to_vec(), [3.0, 3.0]);
    /// assert!(Tensor::<f32>::try_rand_normal_with(&[2], 0.0, -1.0, &mut rng).is_err());
    /// ```
    ///
    /// # Panics
    /// If `mean` is not finite, `std` is negative or not finite, or the shape is too large;
    /// [`Tensor::try_rand_normal_with`] returns the error.
    #[track_caller]
    pub fn rand_normal_with(shape: &[usize], mean: T, std: T, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_rand_normal_with(shape, mean, std, rng))
    }

    /// Fallible [`Tensor::rand_normal_with`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `rand_normal_with` if `mean` is not finite or
    /// `std` is negative, NaN or infinite; [`TensorError::TooLarge`] for a shape too large to exist.
    pub fn try_rand_normal_with(
        shape: &[usize],
        mean: T,
        std: T,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        const OP: &str = "rand_normal_with";
        // Checked here, not left to rand_distr, which takes a negative std as a mirrored one.
        if !mean.is_finite() || !std.is_finite() || std < T::ZERO {
            return Err(TensorError::arg(
                OP,
                format!("mean {mean} must be finite and std {std} finite and at least 0"),
            ));
        }
        let dist = Normal::new(mean.to_f64(), std.to_f64())
            .map_err(|e| TensorError::arg(OP, format!("mean {mean}, std {std}: {e}")))?;
        Self::sample(OP, shape, dist, rng)
    }

    /// Ones with probability `p`, zeros otherwise.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_tensor::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let mask = Tensor::<f32>::bernoulli(&[10], 0.5, &mut rng);
    /// assert!(mask.to_vec().iter().all(|&v| v == 0.0 || v == 1.0));
    /// assert_eq!(Tensor::<f32>::bernoulli(&[3], 1.0, &mut rng).to_vec(), [1.0; 3]);
    /// assert!(Tensor::<f32>::try_bernoulli(&[3], 1.5, &mut rng).is_err());
    /// ```
    ///
    /// # Panics
    /// If `p` is outside `[0, 1]` or NaN, or the shape is too large; [`Tensor::try_bernoulli`]
    /// returns the error.
    #[track_caller]
    pub fn bernoulli(shape: &[usize], p: f64, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_bernoulli(shape, p, rng))
    }

    /// Fallible [`Tensor::bernoulli`].
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] naming `bernoulli` if `p` is outside `[0, 1]` or NaN;
    /// [`TensorError::TooLarge`] for a shape too large to exist.
    pub fn try_bernoulli(shape: &[usize], p: f64, rng: &mut impl Rng) -> Result<Self> {
        const OP: &str = "bernoulli";
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::arg(
                OP,
                format!("probability {p} is outside [0, 1]"),
            ));
        }
        let n = check_shape_of::<T>(OP, shape)?;
        let data = (0..n)
            .map(|_| if rng.random_bool(p) { T::ONE } else { T::ZERO })
            .collect();
        Ok(Self::from_vec_unchecked(data, shape))
    }

    fn sample(
        op: &'static str,
        shape: &[usize],
        dist: impl Distribution<f64>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let n = check_shape_of::<T>(op, shape)?;
        let data = (0..n).map(|_| T::from_f64(dist.sample(rng))).collect();
        Ok(Self::from_vec_unchecked(data, shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn same_seed_same_values() {
        let a = Tensor::<f32>::rand_normal(&[100], &mut StdRng::seed_from_u64(3));
        let b = Tensor::<f32>::rand_normal(&[100], &mut StdRng::seed_from_u64(3));
        assert_eq!(a.to_vec(), b.to_vec());
    }

    #[test]
    fn moments_are_right() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 100_000;
        let u = Tensor::<f64>::rand_uniform(&[n], -1.0, 3.0, &mut rng).to_vec();
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "uniform mean {mean}");
        assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
        let g = Tensor::<f64>::rand_normal_with(&[n], 2.0, 0.5, &mut rng).to_vec();
        let m = g.iter().sum::<f64>() / n as f64;
        let v = g.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(
            (m - 2.0).abs() < 0.01 && (v - 0.25).abs() < 0.01,
            "normal mean {m} var {v}"
        );
        let b = Tensor::<f32>::bernoulli(&[n], 0.3, &mut rng).to_vec();
        let p = b.iter().sum::<f32>() / n as f32;
        assert!((p - 0.3).abs() < 0.01);
        assert!(Tensor::<f32>::try_bernoulli(&[2], 1.5, &mut rng).is_err());
        assert!(Tensor::<f32>::try_rand_uniform(&[2], 1.0, 1.0, &mut rng).is_err());
    }
}
