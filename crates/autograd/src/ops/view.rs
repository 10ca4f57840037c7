//! Shape ops: reshape, transpose, permute, slicing, broadcasting, (un)squeeze. Their values are
//! views of the input; their gradients are the inverse views of `g`.

use crate::backward::Backward;
use crate::error::{Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor};

impl<T: Float> Var<T> {
    /// The same elements in `shape`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.reshape(&[3, 2]);
    /// assert_eq!(y.shape(), [3, 2]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().shape(), [2, 3]);
    /// assert!(x.try_reshape(&[4]).is_err());
    /// ```
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Var<T> {
        or_panic(self.try_reshape(shape))
    }

    /// Fallible [`Var::reshape`].
    pub fn try_reshape(&self, shape: &[usize]) -> Result<Var<T>> {
        let out = self.value().try_reshape(shape)?;
        Ok(self.record(
            out,
            &[self],
            ReshapeBackward {
                name: "reshape",
                input: self.shape().to_vec(),
            },
        ))
    }

    /// Collapses axes `start..` into one, e.g. images `[b, 28, 28]` → `[b, 784]` with `start = 1`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let images = tape.input(Tensor::<f32>::zeros(&[2, 1, 3, 3]));
    /// assert_eq!(images.flatten_from(1).shape(), [2, 9]);
    /// ```
    pub fn flatten_from(&self, start: isize) -> Var<T> {
        let out = self.value().flatten_from(start);
        self.record(
            out,
            &[self],
            ReshapeBackward {
                name: "reshape",
                input: self.shape().to_vec(),
            },
        )
    }

    /// Swaps two axes.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::<f32>::zeros(&[2, 3, 4]));
    /// assert_eq!(x.transpose(0, 2).shape(), [4, 3, 2]);
    /// assert!(x.try_transpose(0, 3).is_err());
    /// ```
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Var<T> {
        or_panic(self.try_transpose(a, b))
    }

    /// Fallible [`Var::transpose`].
    pub fn try_transpose(&self, a: isize, b: isize) -> Result<Var<T>> {
        let out = self.value().try_transpose(a, b)?;
        Ok(self.record(out, &[self], TransposeBackward { a, b }))
    }

    /// The transpose of a matrix.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
    /// let y = x.t();
    /// assert_eq!(y.value().to_vec(), [1.0, 3.0, 2.0, 4.0]);
    /// let w = x.constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    /// let g = y.mul(&w).sum_all().backward(); // ∂/∂x[i][j] = w[j][i]
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [1.0, 3.0, 2.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn t(&self) -> Var<T> {
        let _ = self.value().t();
        self.transpose(0, 1)
    }

    /// Reorders axes: axis `i` of the result is axis `perm[i]` of the input.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::<f32>::zeros(&[1, 2, 3]));
    /// assert_eq!(x.permute(&[2, 0, 1]).shape(), [3, 1, 2]);
    /// assert!(x.try_permute(&[0, 0, 1]).is_err());
    /// ```
    #[track_caller]
    pub fn permute(&self, perm: &[isize]) -> Var<T> {
        or_panic(self.try_permute(perm))
    }

    /// Fallible [`Var::permute`].
    pub fn try_permute(&self, perm: &[isize]) -> Result<Var<T>> {
        let out = self.value().try_permute(perm)?;
        let rank = perm.len() as isize;
        let mut inverse = vec![0isize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[(if p < 0 { p + rank } else { p }) as usize] = i as isize;
        }
        Ok(self.record(out, &[self], PermuteBackward { inverse }))
    }

    /// Elements `start, start+step, …` below `end` along `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::arange(0.0f32, 6.0, 1.0));
    /// let y = x.slice(0, 1, 6, 2);
    /// assert_eq!(y.value().to_vec(), [1.0, 3.0, 5.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    /// assert!(x.try_slice(0, 0, 7, 1).is_err());
    /// ```
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Var<T> {
        or_panic(self.try_slice(axis, start, end, step))
    }

    /// Fallible [`Var::slice`].
    pub fn try_slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Var<T>> {
        let out = self.value().try_slice(axis, start, end, step)?;
        let ax = tapegrad_tensor::shape::normalize_axis("slice", axis, self.shape().len())?;
        let indices: Vec<usize> = (start..end).step_by(step).collect();
        let saved = SliceBackward {
            axis: ax,
            indices,
            size: self.shape()[ax],
        };
        Ok(self.record(out, &[self], saved))
    }

    /// `len` elements from `start` along `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::arange(0.0f32, 5.0, 1.0));
    /// let y = x.narrow(0, 1, 3);
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0, 3.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.0, 1.0, 1.0, 1.0, 0.0]);
    /// assert!(x.try_narrow(0, 3, 3).is_err());
    /// ```
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Var<T> {
        self.slice(axis, start, start + len, 1)
    }

    /// Fallible [`Var::narrow`].
    pub fn try_narrow(&self, axis: isize, start: usize, len: usize) -> Result<Var<T>> {
        self.try_slice(axis, start, start.saturating_add(len), 1)
    }

    /// Repeats size-1 axes (and adds leading ones) to reach `shape`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let y = x.broadcast_to(&[3, 2]);
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&x).unwrap().to_vec(), [3.0, 3.0]);
    /// assert!(x.try_broadcast_to(&[3]).is_err());
    /// ```
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Var<T> {
        or_panic(self.try_broadcast_to(shape))
    }

    /// Fallible [`Var::broadcast_to`].
    pub fn try_broadcast_to(&self, shape: &[usize]) -> Result<Var<T>> {
        let out = self.value().try_broadcast_to(shape)?;
        Ok(self.record(out, &[self], BroadcastBackward))
    }

    /// Inserts a size-1 axis.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::<f32>::zeros(&[2]));
    /// assert_eq!(x.unsqueeze(0).shape(), [1, 2]);
    /// assert_eq!(x.unsqueeze(-1).shape(), [2, 1]);
    /// assert!(x.try_unsqueeze(3).is_err());
    /// ```
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Var<T> {
        or_panic(self.try_unsqueeze(axis))
    }

    /// Fallible [`Var::unsqueeze`].
    pub fn try_unsqueeze(&self, axis: isize) -> Result<Var<T>> {
        let out = self.value().try_unsqueeze(axis)?;
        Ok(self.record(
            out,
            &[self],
            ReshapeBackward {
                name: "unsqueeze",
                input: self.shape().to_vec(),
            },
        ))
    }

    /// Removes a size-1 axis.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input(Tensor::<f32>::zeros(&[2, 1]));
    /// assert_eq!(x.squeeze(1).shape(), [2]);
    /// assert!(x.try_squeeze(0).is_err()); // axis 0 has size 2
    /// ```
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Var<T> {
        or_panic(self.try_squeeze(axis))
    }

    /// Fallible [`Var::squeeze`].
    pub fn try_squeeze(&self, axis: isize) -> Result<Var<T>> {
        let out = self.value().try_squeeze(axis)?;
        Ok(self.record(
            out,
            &[self],
            ReshapeBackward {
                name: "squeeze",
                input: self.shape().to_vec(),
            },
        ))
    }
}

/// Gradient of any op that only relabels the shape (reshape, (un)squeeze): `g` reshaped back.
struct ReshapeBackward {
    name: &'static str,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for ReshapeBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.reshape(&self.input))]
    }
}

/// Gradient of a transpose: the same transpose of `g`.
struct TransposeBackward {
    a: isize,
    b: isize,
}

impl<T: Float> Backward<T> for TransposeBackward {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.transpose(self.a, self.b))]
    }
}

/// Gradient of a permutation: `g` under the inverse permutation.
struct PermuteBackward {
    inverse: Vec<isize>,
}

impl<T: Float> Backward<T> for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.permute(&self.inverse))]
    }
}

/// Gradient of a (step) slice: `g` placed back at the sliced positions, zeros elsewhere.
struct SliceBackward {
    axis: usize,
    indices: Vec<usize>,
    size: usize,
}

impl<T: Float> Backward<T> for SliceBackward {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(Tensor::index_add(
            self.axis as isize,
            &self.indices,
            g,
            self.size,
        ))]
    }
}

/// Gradient of `broadcast_to`: `g` itself; the tape's `sum_to` sums the repeated axes.
struct BroadcastBackward;

impl<T: Float> Backward<T> for BroadcastBackward {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(g.clone())]
    }
}
