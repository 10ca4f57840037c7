//! Exponentially weighted moving averages, of scalars and of tensors, with bias correction.

use crate::error::{OptimError, Result, or_panic};
use tapegrad_tensor::{Float, Tensor};

fn check_beta(what: &'static str, beta: f64) -> Result<()> {
    if (0.0..1.0).contains(&beta) {
        Ok(())
    } else {
        Err(OptimError::config(
            what,
            format!("beta must be in [0, 1), got {beta}"),
        ))
    }
}

/// An exponentially weighted moving average of scalars: `v₀ = 0`, `v_t = β·v_{t−1} + (1 − β)·x_t`.
///
/// It averages over roughly the last `1/(1 − β)` values: `β = 0.9` ≈ 10, `β = 0.98` ≈ 50.
/// Because `v₀ = 0`, early values are biased towards 0; [`Ewma::corrected`] returns
/// `v_t / (1 − βᵗ)`, which removes that bias (the same correction Adam applies to its moments).
///
/// ```
/// # use tapegrad_optim::Ewma;
/// let mut avg: Ewma = Ewma::new(0.9); // Ewma<f64>; Ewma::<f32> for f32
/// avg.update(10.0);
/// assert!((avg.value() - 1.0).abs() < 1e-12);      // 0.1 · 10
/// assert!((avg.corrected() - 10.0).abs() < 1e-12); // 1 / (1 − 0.9)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma<T = f64> {
    beta: f64,
    value: T,
    steps: u64,
}

impl<T: Float> Ewma<T> {
    /// An empty average with decay `beta`.
    ///
    /// # Panics
    /// If `beta ∉ [0, 1)`; [`Ewma::try_new`] returns the error instead.
    #[track_caller]
    pub fn new(beta: f64) -> Self {
        or_panic(Self::try_new(beta))
    }

    /// Fallible [`Ewma::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if `beta ∉ [0, 1)`.
    pub fn try_new(beta: f64) -> Result<Self> {
        check_beta("Ewma", beta)?;
        Ok(Ewma {
            beta,
            value: T::ZERO,
            steps: 0,
        })
    }

    /// Adds `x`: `v ← β·v + (1 − β)·x`.
    pub fn update(&mut self, x: T) {
        self.value = T::from_f64(self.beta) * self.value + T::from_f64(1.0 - self.beta) * x;
        self.steps += 1;
    }

    /// The raw average `v_t` (0 before any update).
    pub fn value(&self) -> T {
        self.value
    }

    /// The bias-corrected average `v_t / (1 − βᵗ)` (0 before any update).
    pub fn corrected(&self) -> T {
        if self.steps == 0 {
            return T::ZERO;
        }
        self.value / T::from_f64(1.0 - self.beta.powf(self.steps as f64))
    }

    /// The decay `β`.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Updates so far (`t`).
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

/// An elementwise exponentially weighted moving average of tensors of one shape:
/// `v₀ = 0`, `v_t = β·v_{t−1} + (1 − β)·x_t`, and [`EwmaTensor::corrected`] = `v_t / (1 − βᵗ)`.
///
/// Averages over roughly `1/(1 − β)` updates, like [`Ewma`]. The first update allocates the
/// average; later ones update it in place.
///
/// ```
/// # use tapegrad_optim::EwmaTensor;
/// # use tapegrad_tensor::Tensor;
/// let mut avg = EwmaTensor::new(0.5);
/// avg.update(&Tensor::from_vec(vec![2.0f64, 4.0], &[2]));
/// avg.update(&Tensor::from_vec(vec![2.0, 0.0], &[2]));
/// assert_eq!(avg.value().unwrap().to_vec(), vec![1.5, 1.0]);        // ¼·x₁ + ½·x₂
/// assert_eq!(avg.corrected().unwrap().to_vec(), vec![2.0, 4.0 / 3.0]); // ÷ (1 − ¼)
/// ```
#[derive(Debug, Clone)]
pub struct EwmaTensor<T: Float> {
    beta: f64,
    value: Option<Tensor<T>>,
    steps: u64,
}

impl<T: Float> EwmaTensor<T> {
    /// An empty average with decay `beta`.
    ///
    /// # Panics
    /// If `beta ∉ [0, 1)`; [`EwmaTensor::try_new`] returns the error instead.
    #[track_caller]
    pub fn new(beta: f64) -> Self {
        or_panic(Self::try_new(beta))
    }

    /// Fallible [`EwmaTensor::new`].
    ///
    /// # Errors
    /// [`OptimError::Config`] if `beta ∉ [0, 1)`.
    pub fn try_new(beta: f64) -> Result<Self> {
        check_beta("EwmaTensor", beta)?;
        Ok(EwmaTensor {
            beta,
            value: None,
            steps: 0,
        })
    }

    /// Adds `x` elementwise: `v ← β·v + (1 − β)·x`.
    ///
    /// # Panics
    /// If `x`'s shape differs from earlier updates'.
    #[track_caller]
    pub fn update(&mut self, x: &Tensor<T>) {
        let beta = T::from_f64(self.beta);
        let weight = T::from_f64(1.0 - self.beta);
        let value = self.value.get_or_insert_with(|| x.zeros_like());
        if value.shape() != x.shape() {
            panic!(
                "EwmaTensor::update: shape {:?} differs from the average's {:?}",
                x.shape(),
                value.shape()
            );
        }
        let x = x.contiguous();
        let x = x.as_contiguous_slice().expect("contiguous");
        for (v, &x) in value.as_mut_slice().iter_mut().zip(x) {
            *v = beta * *v + weight * x;
        }
        self.steps += 1;
    }

    /// The raw average `v_t`, or `None` before the first update.
    pub fn value(&self) -> Option<&Tensor<T>> {
        self.value.as_ref()
    }

    /// The bias-corrected average `v_t / (1 − βᵗ)` (a new tensor), or `None` before the first update.
    pub fn corrected(&self) -> Option<Tensor<T>> {
        let value = self.value.as_ref()?;
        let scale = T::from_f64(1.0 / (1.0 - self.beta.powf(self.steps as f64)));
        let data = value.to_vec().into_iter().map(|v| v * scale).collect();
        Some(Tensor::from_vec(data, value.shape()))
    }

    /// The decay `β`.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Updates so far (`t`).
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_ewma_matches_hand_computed_values() {
        // β = 0.9, x = 1, 2, 3:
        // v₁ = 0.1·1 = 0.1
        // v₂ = 0.9·0.1 + 0.1·2 = 0.29
        // v₃ = 0.9·0.29 + 0.1·3 = 0.561
        // corrected v₃ = 0.561 / (1 − 0.729) = 0.561 / 0.271
        let mut avg = Ewma::<f64>::new(0.9);
        assert_eq!(avg.corrected(), 0.0);
        let want = [0.1, 0.29, 0.561];
        let bias = [0.1, 0.19, 0.271];
        for (t, x) in [1.0, 2.0, 3.0].into_iter().enumerate() {
            avg.update(x);
            assert!((avg.value() - want[t]).abs() < 1e-12, "step {t}");
            assert!(
                (avg.corrected() - want[t] / bias[t]).abs() < 1e-12,
                "step {t}"
            );
        }
        assert_eq!(avg.steps(), 3);
        // A constant input is recovered exactly by the correction at every step.
        let mut avg = Ewma::<f32>::new(0.98);
        for _ in 0..20 {
            avg.update(5.0);
            assert!((avg.corrected() - 5.0).abs() < 1e-4);
        }
    }

    #[test]
    fn tensor_ewma_matches_the_scalar_one_elementwise() {
        let mut avg = EwmaTensor::<f64>::new(0.8);
        let mut scalars = [Ewma::<f64>::new(0.8), Ewma::new(0.8)];
        for (a, b) in [(1.0, -2.0), (4.0, 0.5), (-3.0, 2.0)] {
            avg.update(&Tensor::from_vec(vec![a, b], &[2]));
            scalars[0].update(a);
            scalars[1].update(b);
        }
        let v = avg.value().unwrap().to_vec();
        let c = avg.corrected().unwrap().to_vec();
        for i in 0..2 {
            assert!((v[i] - scalars[i].value()).abs() < 1e-12);
            assert!((c[i] - scalars[i].corrected()).abs() < 1e-12);
        }
        // Hand value for element 0: v₃ = 0.2·(0.8²·1 + 0.8·4 − 3) = 0.2·0.84 = 0.168.
        assert!((v[0] - 0.168).abs() < 1e-12);
    }

    #[test]
    fn bad_beta_is_an_error() {
        assert!(Ewma::<f64>::try_new(1.0).is_err());
        assert!(EwmaTensor::<f32>::try_new(-0.1).is_err());
    }
}
