//! Input normalisation with statistics measured on the training set.

use crate::error::{NnError, Result};
use tapegrad_tensor::{Float, Tensor};

/// Standardises features: `(x − μ) / √(σ² + ε)` with μ and σ² measured on the training data
/// (population statistics: `μ = 1/m Σ x⁽ⁱ⁾`, `σ² = 1/m Σ (x⁽ⁱ⁾ − μ)²`) and reused unchanged for
/// validation and test data.
///
/// A feature that is constant in the training set (σ² = 0) is only centred: dividing by `√ε`
/// would turn a rare nonzero test value into a huge input.
#[derive(Debug, Clone)]
pub struct Normalizer<T: Float> {
    mean: Tensor<T>,
    var: Tensor<T>,
    eps: f64,
}

impl<T: Float> Normalizer<T> {
    /// Per-feature statistics of `x` (`[samples, features]`).
    pub fn fit(x: &Tensor<T>) -> Result<Self> {
        check_rank(x)?;
        Ok(Normalizer {
            mean: x.try_mean(&[0], false)?,
            var: x.try_var(&[0], false)?,
            eps: 1e-8,
        })
    }

    /// One μ and σ² over every element of `x`, shared by all features (for pixels, where a
    /// per-pixel σ² is near 0 at the border and would blow up the rare stroke there).
    pub fn fit_global(x: &Tensor<T>) -> Result<Self> {
        check_rank(x)?;
        let features = x.shape()[1];
        let mean = Tensor::full(&[features], x.try_mean_all()?.item());
        let var = Tensor::full(&[features], x.try_var_all()?.item());
        Ok(Normalizer {
            mean,
            var,
            eps: 1e-8,
        })
    }

    /// A normaliser from saved statistics.
    pub fn from_stats(mean: Tensor<T>, var: Tensor<T>) -> Result<Self> {
        if mean.shape() != var.shape() || mean.rank() != 1 {
            return Err(NnError::Config {
                what: "Normalizer",
                why: format!(
                    "mean {:?} and var {:?} must be 1-D of one length",
                    mean.shape(),
                    var.shape()
                ),
            });
        }
        Ok(Normalizer {
            mean,
            var,
            eps: 1e-8,
        })
    }

    /// Per-feature means.
    pub fn mean(&self) -> &Tensor<T> {
        &self.mean
    }

    /// Per-feature population variances.
    pub fn var(&self) -> &Tensor<T> {
        &self.var
    }

    /// `(x − μ) / √(σ² + ε)` for each row of `x`, with constant features only centred.
    pub fn transform(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let eps = T::from_f64(self.eps);
        let scale = self.var.map(|v| {
            if v > T::ZERO {
                T::ONE / (v + eps).sqrt()
            } else {
                T::ONE
            }
        });
        Ok(x.try_sub(&self.mean)?.try_mul(&scale)?)
    }

    /// The statistics as named tensors (`{prefix}.mean`, `{prefix}.var`) for a checkpoint.
    pub fn to_named(&self, prefix: &str) -> Vec<(String, Tensor<T>)> {
        vec![
            (format!("{prefix}.mean"), self.mean.clone()),
            (format!("{prefix}.var"), self.var.clone()),
        ]
    }
}

fn check_rank<T: Float>(x: &Tensor<T>) -> Result<()> {
    if x.rank() != 2 || x.shape()[0] == 0 {
        return Err(NnError::Config {
            what: "Normalizer",
            why: format!(
                "fit needs a non-empty [samples, features] tensor, got shape {:?}",
                x.shape()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_with_training_statistics() {
        let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 3.0, 5.0], &[2, 2]);
        let n = Normalizer::fit(&x).unwrap();
        assert_eq!(n.mean().to_vec(), vec![2.0, 5.0]);
        assert_eq!(n.var().to_vec(), vec![1.0, 0.0]);
        let y = n.transform(&x).unwrap().to_vec();
        assert!((y[0] + 1.0).abs() < 1e-6 && (y[2] - 1.0).abs() < 1e-6);
        // The constant feature is only centred: finite, not blown up.
        let test = Tensor::<f64>::from_vec(vec![2.0, 6.0], &[1, 2]);
        assert_eq!(n.transform(&test).unwrap().to_vec()[1], 1.0);
        assert!(Normalizer::<f64>::fit(&Tensor::zeros(&[0, 3])).is_err());
    }

    #[test]
    fn global_statistics_share_one_scale() {
        let x = Tensor::<f64>::from_vec(vec![0.0, 0.0, 2.0, 2.0], &[2, 2]);
        let n = Normalizer::fit_global(&x).unwrap();
        assert_eq!(n.mean().to_vec(), vec![1.0, 1.0]);
        assert_eq!(n.var().to_vec(), vec![1.0, 1.0]);
    }
}
