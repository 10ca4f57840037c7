//! Input normalisation with statistics measured on the training set.

use crate::error::{NnError, Result, or_panic};
use crate::module::{Forward, Mode, Module, Named};
use tapegrad_autograd::{Param, Var};
use tapegrad_tensor::{Float, Tensor};

/// Standardises features: `(x − μ) / √(σ² + ε)` with μ and σ² measured on the training data
/// (population statistics: `μ = 1/m Σ x⁽ⁱ⁾`, `σ² = 1/m Σ (x⁽ⁱ⁾ − μ)²`) and reused unchanged for
/// validation and test data.
///
/// A feature that is constant in the training set (σ² = 0) is only centred: dividing by `√ε`
/// would turn a rare nonzero test value into a huge input.
///
/// [`Normalizer::into_layer`] turns it into a [`NormalizeLayer`], a [`Module`] whose statistics
/// are buffers (`mean`, `var`): put that first in a `Sequential` (or a field of a derived model)
/// and it normalises every input and is saved and loaded with the model's weights.
///
/// ```
/// # use tapegrad_nn::Normalizer;
/// # use tapegrad_tensor::Tensor;
/// let train = Tensor::from_vec(vec![0.0f64, 10.0, 2.0, 30.0], &[2, 2]);
/// let norm = Normalizer::fit(&train).unwrap();
/// let test = norm.transform(&Tensor::from_vec(vec![1.0, 20.0], &[1, 2])).unwrap();
/// assert!(test.to_vec().iter().all(|v| v.abs() < 1e-6)); // the training means map to 0
/// ```
#[derive(Debug, Clone)]
pub struct Normalizer<T: Float> {
    mean: Tensor<T>,
    var: Tensor<T>,
    eps: f64,
}

impl<T: Float> Normalizer<T> {
    /// Per-feature statistics of `x` (`[samples, features]`).
    ///
    /// # Errors
    /// [`NnError::Config`] unless `x` is `[samples, features]` with at least one sample.
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
    ///
    /// # Errors
    /// [`NnError::Config`] unless `x` is `[samples, features]` with at least one element.
    pub fn fit_global(x: &Tensor<T>) -> Result<Self> {
        check_rank(x)?;
        if x.numel() == 0 {
            return Err(NnError::Config {
                what: "Normalizer",
                why: format!(
                    "fit_global needs at least one element to measure, got shape {:?}",
                    x.shape()
                ),
            });
        }
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

    /// `(x − μ) / √(σ² + ε)` for each row of `x` (`[.., features]`), with constant features
    /// only centred.
    ///
    /// # Errors
    /// [`NnError::Input`] unless the last axis of `x` holds the fitted features.
    pub fn transform(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.check_input(x.shape())?;
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

    /// `Input` unless `shape` ends in the fitted feature count: a broadcast would otherwise
    /// stretch one feature, or one sample, silently over all.
    fn check_input(&self, shape: &[usize]) -> Result<()> {
        let features = self.mean.numel();
        if shape.last() != Some(&features) {
            return Err(NnError::Input {
                layer: "Normalizer",
                what: format!("expected input [.., {features}]"),
                got: shape.to_vec(),
            });
        }
        Ok(())
    }

    /// The statistics as named tensors (`{prefix}.mean`, `{prefix}.var`) for a checkpoint.
    pub fn to_named(&self, prefix: &str) -> Vec<(String, Tensor<T>)> {
        vec![
            (format!("{prefix}.mean"), self.mean.clone()),
            (format!("{prefix}.var"), self.var.clone()),
        ]
    }

    /// The normaliser as a layer whose statistics are saved with the model.
    pub fn into_layer(self) -> NormalizeLayer<T> {
        NormalizeLayer {
            mean: Param::new("mean", self.mean),
            var: Param::new("var", self.var),
            eps: self.eps,
        }
    }
}

/// A [`Normalizer`] as the first layer of a model: its μ and σ² are buffers, so checkpoints
/// carry them and a reloaded model normalises its inputs exactly as in training.
///
/// Cloning copies the statistics.
pub struct NormalizeLayer<T: Float> {
    mean: Param<T>,
    var: Param<T>,
    eps: f64,
}

impl<T: Float> Clone for NormalizeLayer<T> {
    fn clone(&self) -> Self {
        NormalizeLayer {
            mean: self.mean.duplicate(),
            var: self.var.duplicate(),
            eps: self.eps,
        }
    }
}

impl<T: Float> std::fmt::Debug for NormalizeLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormalizeLayer")
            .field("features", &self.mean.numel())
            .field("eps", &self.eps)
            .finish()
    }
}

impl<T: Float> NormalizeLayer<T> {
    /// The statistics as a [`Normalizer`] (for transforming a whole data set once).
    pub fn normalizer(&self) -> Normalizer<T> {
        Normalizer {
            mean: self.mean.value(),
            var: self.var.value(),
            eps: self.eps,
        }
    }
}

impl<T: Float> Forward<T> for NormalizeLayer<T> {
    #[track_caller]
    fn forward(&self, x: &Var<T>, mode: Mode) -> Var<T> {
        or_panic(self.try_forward(x, mode))
    }

    fn try_forward(&self, x: &Var<T>, _mode: Mode) -> Result<Var<T>> {
        let n = self.normalizer();
        n.check_input(x.shape())?;
        let eps = T::from_f64(n.eps);
        let scale = n.var.map(|v| {
            if v > T::ZERO {
                T::ONE / (v + eps).sqrt()
            } else {
                T::ONE
            }
        });
        let tape = x.tape();
        let out = x.try_sub(&tape.input(n.mean))?.try_mul(&tape.input(scale));
        crate::summary::observed(self, out.map_err(Into::into))
    }
}

impl<T: Float> Module<T> for NormalizeLayer<T> {
    fn buffers(&self) -> Vec<Named<T>> {
        vec![
            ("mean".into(), self.mean.clone()),
            ("var".into(), self.var.clone()),
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
    fn the_layer_form_matches_and_carries_its_statistics() {
        let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 3.0, 5.0], &[2, 2]);
        let n = Normalizer::fit(&x).unwrap();
        let want = n.transform(&x).unwrap().to_vec();
        let layer = n.into_layer();
        let got = layer
            .forward(&tapegrad_autograd::Tape::new().input(x), Mode::Eval)
            .value()
            .to_vec();
        assert_eq!(got, want);
        let names: Vec<String> = layer.buffers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["mean", "var"]);
    }

    #[test]
    fn global_statistics_share_one_scale() {
        let x = Tensor::<f64>::from_vec(vec![0.0, 0.0, 2.0, 2.0], &[2, 2]);
        let n = Normalizer::fit_global(&x).unwrap();
        assert_eq!(n.mean().to_vec(), vec![1.0, 1.0]);
        assert_eq!(n.var().to_vec(), vec![1.0, 1.0]);
    }
}
