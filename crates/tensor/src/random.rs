//! Random constructors. Each takes the generator explicitly, so a seed fixes the result.
//!
//! Values are drawn in `f64` and rounded, so an `f32` and an `f64` tensor from the same seed agree
//! to `f32` precision.

use crate::element::Float;
use crate::error::{or_panic, Result, TensorError};
use crate::shape::numel;
use crate::tensor::Tensor;
use rand::Rng;
use rand_distr::{Distribution, Normal, StandardNormal, Uniform};

impl<T: Float> Tensor<T> {
    /// Samples from `U[low, high)`.
    ///
    /// # Panics
    /// If `low >= high` or either is not finite; [`Tensor::try_rand_uniform`] returns the error.
    #[track_caller]
    pub fn rand_uniform(shape: &[usize], low: T, high: T, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_rand_uniform(shape, low, high, rng))
    }

    /// Fallible [`Tensor::rand_uniform`].
    pub fn try_rand_uniform(shape: &[usize], low: T, high: T, rng: &mut impl Rng) -> Result<Self> {
        let dist = Uniform::new(low.to_f64(), high.to_f64()).map_err(|e| {
            TensorError::arg("rand_uniform", format!("low {low}, high {high}: {e}"))
        })?;
        Ok(Self::sample(shape, dist, rng))
    }

    /// Samples from the standard normal `N(0, 1)`.
    pub fn rand_normal(shape: &[usize], rng: &mut impl Rng) -> Self {
        Self::sample(shape, StandardNormal, rng)
    }

    /// Samples from `N(mean, std²)`.
    ///
    /// # Panics
    /// If `std` is negative or not finite; [`Tensor::try_rand_normal_with`] returns the error.
    #[track_caller]
    pub fn rand_normal_with(shape: &[usize], mean: T, std: T, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_rand_normal_with(shape, mean, std, rng))
    }

    /// Fallible [`Tensor::rand_normal_with`].
    pub fn try_rand_normal_with(
        shape: &[usize],
        mean: T,
        std: T,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let dist = Normal::new(mean.to_f64(), std.to_f64())
            .map_err(|e| TensorError::arg("rand_normal", format!("mean {mean}, std {std}: {e}")))?;
        Ok(Self::sample(shape, dist, rng))
    }

    /// Ones with probability `p`, zeros otherwise.
    ///
    /// # Panics
    /// If `p` is outside `[0, 1]`; [`Tensor::try_bernoulli`] returns the error.
    #[track_caller]
    pub fn bernoulli(shape: &[usize], p: f64, rng: &mut impl Rng) -> Self {
        or_panic(Self::try_bernoulli(shape, p, rng))
    }

    /// Fallible [`Tensor::bernoulli`].
    pub fn try_bernoulli(shape: &[usize], p: f64, rng: &mut impl Rng) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::arg(
                "bernoulli",
                format!("probability {p} is outside [0, 1]"),
            ));
        }
        let data = (0..numel(shape))
            .map(|_| if rng.random_bool(p) { T::ONE } else { T::ZERO })
            .collect();
        Ok(Self::from_vec_unchecked(data, shape))
    }

    fn sample(shape: &[usize], dist: impl Distribution<f64>, rng: &mut impl Rng) -> Self {
        let data = (0..numel(shape))
            .map(|_| T::from_f64(dist.sample(rng)))
            .collect();
        Self::from_vec_unchecked(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

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
