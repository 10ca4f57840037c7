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
        let z: Tensor<f32> =
            Initializer::from(Init::Zeros).sample(&[3, 2], 2, 3, &mut StdRng::seed_from_u64(0));
        assert!(z.to_vec().iter().all(|&x| x == 0.0));
        let c: Tensor<f32> =
            Init::Constant(0.5)
                .gain(2.0)
                .sample(&[2], 2, 3, &mut StdRng::seed_from_u64(0));
        assert_eq!(c.to_vec(), vec![1.0, 1.0]);
    }
}
