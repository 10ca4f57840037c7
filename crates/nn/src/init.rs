//! Weight initializers, each named for the variance it targets.
//!
//! For a layer with `fan_in` inputs and `fan_out` outputs, the schemes keep the variance of
//! activations (and of gradients) roughly constant from layer to layer:
//!
//! | scheme | Var(W) | suited to |
//! |---|---|---|
//! | Xavier/Glorot | `2 / (fan_in + fan_out)` | tanh, sigmoid, linear |
//! | LeCun | `1 / fan_in` (the course's "1/n") | tanh, SELU |
//! | He/Kaiming | `2 / fan_in` | ReLU and its variants |
//!
//! Each comes as a normal or a uniform draw with that variance (uniform on `[−b, b]` has variance
//! `b²/3`), times an optional `gain²`.
//!
//! [`fans`] reads `fan_in` and `fan_out` off a weight's shape, convolution kernels included.

use crate::error::{NnError, Result, or_panic};
use rand::Rng;
use tapegrad_tensor::{Float, Tensor};

/// An initialization scheme; combine with [`Init::gain`] to scale it.
///
/// ```
/// # use tapegrad_nn::Init;
/// assert_eq!(Init::He.variance(784, 512), 2.0 / 784.0);
/// assert_eq!(Init::Xavier.variance(784, 512), 2.0 / (784.0 + 512.0));
/// let scaled = Init::LeCun.gain(2.0); // standard deviation doubled
/// assert_eq!(scaled.gain, 2.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Xavier/Glorot normal: `N(0, 2/(fan_in + fan_out))`.
    Xavier,
    /// Xavier/Glorot uniform: `U[−b, b]`, `b = √(6/(fan_in + fan_out))`.
    XavierUniform,
    /// LeCun normal: `N(0, 1/fan_in)`.
    LeCun,
    /// LeCun uniform: `U[−b, b]`, `b = √(3/fan_in)`.
    LeCunUniform,
    /// He/Kaiming normal: `N(0, 2/fan_in)`.
    He,
    /// He/Kaiming uniform: `U[−b, b]`, `b = √(6/fan_in)`.
    HeUniform,
    /// `N(0, std²)` regardless of fan (the "too small" or "too large" inits of the depth demo).
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// All zeros (biases; never weights: every unit would stay identical).
    Zeros,
    /// Every element equal to a constant.
    Constant(f64),
}

/// An [`Init`] scaled by a gain: the standard deviation is multiplied by `gain`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Initializer {
    /// The scheme.
    pub init: Init,
    /// Multiplies the standard deviation (or the constant). Default 1.
    pub gain: f64,
}

impl From<Init> for Initializer {
    fn from(init: Init) -> Self {
        Initializer { init, gain: 1.0 }
    }
}

impl Init {
    /// This scheme with its standard deviation multiplied by `gain`.
    pub fn gain(self, gain: f64) -> Initializer {
        Initializer { init: self, gain }
    }

    /// The variance this scheme targets for the given fans (before any gain); 0 for constants.
    pub fn variance(self, fan_in: usize, fan_out: usize) -> f64 {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match self {
            Init::Xavier | Init::XavierUniform => 2.0 / (fi + fo),
            Init::LeCun | Init::LeCunUniform => 1.0 / fi,
            Init::He | Init::HeUniform => 2.0 / fi,
            Init::Normal { std } => std * std,
            Init::Zeros | Init::Constant(_) => 0.0,
        }
    }
}

impl Initializer {
    /// A tensor of `shape` drawn from this scheme, with fans `(fan_in, fan_out)`.
    pub fn sample<T: Float>(
        &self,
        shape: &[usize],
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl Rng,
    ) -> Tensor<T> {
        let std = self.gain * self.init.variance(fan_in, fan_out).sqrt();
        match self.init {
            Init::Xavier | Init::LeCun | Init::He | Init::Normal { .. } => {
                Tensor::rand_normal_with(shape, T::ZERO, T::from_f64(std), rng)
            }
            Init::XavierUniform | Init::LeCunUniform | Init::HeUniform => {
                let bound = T::from_f64(std * 3f64.sqrt());
                Tensor::rand_uniform(shape, -bound, bound, rng)
            }
            Init::Zeros => Tensor::zeros(shape),
            Init::Constant(c) => Tensor::full(shape, T::from_f64(c * self.gain)),
        }
    }
}

/// `(fan_in, fan_out)` of a weight of `shape`, by PyTorch's rule
/// (`_calculate_fan_in_and_fan_out`): a linear weight `[out, in]` gives `(in, out)`; a
/// convolution kernel `[out, in/groups, k₁, k₂, …]` gives
/// `(in/groups · k₁·k₂·…, out · k₁·k₂·…)`, each input and output unit seeing the whole
/// receptive field.
///
/// ```
/// # use tapegrad_nn::init;
/// assert_eq!(init::fans(&[512, 784]), (784, 512)); // Linear(784, 512)
/// assert_eq!(init::fans(&[64, 32, 3, 3]), (288, 576)); // Conv2d(32, 64, 3)
/// assert!(init::try_fans(&[10]).is_err());
/// ```
///
/// # Panics
/// If the shape has fewer than 2 axes; [`try_fans`] returns the error.
#[track_caller]
pub fn fans(shape: &[usize]) -> (usize, usize) {
    or_panic(try_fans(shape))
}

/// Fallible [`fans`].
///
/// # Errors
/// [`NnError::Config`] naming `init::fans` and the shape if it has fewer than 2 axes (no fan is
/// defined), or if a fan overflows `usize`.
pub fn try_fans(shape: &[usize]) -> Result<(usize, usize)> {
    let error = |why: &str| NnError::Config {
        what: "init::fans",
        why: format!("{why}, got shape {shape:?}"),
    };
    let [out, inputs, kernel @ ..] = shape else {
        return Err(error(
            "needs a weight of at least 2 axes, [out, in, kernel..]",
        ));
    };
    let fans = kernel
        .iter()
        .try_fold(1usize, |n, &k| n.checked_mul(k))
        .and_then(|receptive| Some((inputs.checked_mul(receptive)?, out.checked_mul(receptive)?)));
    fans.ok_or_else(|| error("the fans overflow usize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    /// Sample variance of a 784×512 draw against the formula. With n = 401,408 samples the sample
    /// variance of a normal has relative standard error √(2/n) ≈ 0.22%; of a uniform, √(0.8/n) ≈ 0.14%.
    /// A 1.5% band is more than six standard errors, so a pass is no fluke and a wrong formula fails.
    #[test]
    fn empirical_variance_matches_each_formula() {
        let (fan_in, fan_out) = (784, 512);
        let schemes = [
            Init::Xavier,
            Init::XavierUniform,
            Init::LeCun,
            Init::LeCunUniform,
            Init::He,
            Init::HeUniform,
        ];
        for (seed, init) in schemes.into_iter().enumerate() {
            for gain in [1.0, 2.0] {
                let w: Tensor<f64> = init.gain(gain).sample(
                    &[fan_out, fan_in],
                    fan_in,
                    fan_out,
                    &mut StdRng::seed_from_u64(seed as u64),
                );
                let v = w.to_vec();
                let n = v.len() as f64;
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                let want = gain * gain * init.variance(fan_in, fan_out);
                assert!(
                    (var / want - 1.0).abs() < 0.015,
                    "{init:?} gain {gain}: variance {var:e}, formula {want:e}"
                );
                assert!(
                    mean.abs() < 4.0 * (want / n).sqrt(),
                    "{init:?}: mean {mean:e}"
                );
            }
        }
        // A 3×3 convolution from 32 to 64 channels: fan_in 32·9 = 288, fan_out 64·9 = 576.
        let shape = [64, 32, 3, 3];
        let (fan_in, fan_out) = fans(&shape);
        assert_eq!((fan_in, fan_out), (288, 576));
        let conv = [Init::He, Init::HeUniform, Init::Xavier, Init::XavierUniform];
        for (seed, init) in conv.into_iter().enumerate() {
            let w: Tensor<f64> = Initializer::from(init).sample(
                &shape,
                fan_in,
                fan_out,
                &mut StdRng::seed_from_u64(100 + seed as u64),
            );
            let v = w.to_vec();
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
            // n = 18,432: relative standard error ≤ √(2/n) ≈ 1.04%; 6% is about six of them.
            let want = match init {
                Init::He | Init::HeUniform => 2.0 / 288.0,
                _ => 2.0 / (288.0 + 576.0),
            };
            assert!(
                (var / want - 1.0).abs() < 0.06,
                "{init:?} on {shape:?}: variance {var:e}, want {want:e}"
            );
        }
        let z: Tensor<f32> =
            Initializer::from(Init::Zeros).sample(&[3, 2], 2, 3, &mut StdRng::seed_from_u64(0));
        assert!(z.to_vec().iter().all(|&x| x == 0.0));
        let c: Tensor<f32> =
            Init::Constant(0.5)
                .gain(2.0)
                .sample(&[2], 2, 3, &mut StdRng::seed_from_u64(0));
        assert_eq!(c.to_vec(), vec![1.0, 1.0]);
    }

    #[test]
    fn fans_follow_pytorchs_rule() {
        assert_eq!(fans(&[3, 5]), (5, 3));
        assert_eq!(fans(&[8, 4, 5]), (20, 40)); // Conv1d(4, 8, 5)
        assert_eq!(fans(&[16, 2, 3, 3, 3]), (54, 432)); // Conv3d(2, 16, 3)
        assert_eq!(fans(&[4, 0, 3, 3]), (0, 36));
        for bad in [&[][..], &[7]] {
            let msg = try_fans(bad).unwrap_err().to_string();
            assert!(
                msg.contains("init::fans") && msg.contains(&format!("{bad:?}")),
                "{msg}"
            );
        }
        let msg = try_fans(&[2, usize::MAX, 2]).unwrap_err().to_string();
        assert!(msg.contains("overflow"), "{msg}");
    }
}
