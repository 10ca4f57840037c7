//! Indexing ops: concat, stack, index_select, gather.

use crate::backward::Backward;
use crate::error::{AutogradError, Result, or_panic};
use crate::var::Var;
use tapegrad_tensor::{Float, Tensor, TensorError};

impl<T: Float> Var<T> {
    /// Joins vars along an existing `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let b = tape.input(Tensor::from_vec(vec![3.0], &[1]));
    /// let y = Var::concat(&[&a, &b], 0);
    /// assert_eq!(y.value().to_vec(), [1.0, 2.0, 3.0]);
    /// assert_eq!(y.sum_all().backward().wrt(&a).unwrap().to_vec(), [1.0, 1.0]);
    /// assert!(Var::try_concat(&[&a, &a.constant(Tensor::zeros(&[1, 1]))], 0).is_err());
    /// ```
    ///
    /// # Panics
    /// On an empty list or mismatched shapes; [`Var::try_concat`] returns the error.
    #[track_caller]
    pub fn concat(vars: &[&Var<T>], axis: isize) -> Var<T> {
        or_panic(Self::try_concat(vars, axis))
    }

    /// Fallible [`Var::concat`].
    pub fn try_concat(vars: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let first = vars
            .first()
            .ok_or(AutogradError::Tensor(TensorError::InvalidArgument {
                op: "concat",
                what: "needs at least one var".into(),
            }))?;
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        let out = Tensor::try_concat(&values, axis)?;
        let ax = tapegrad_tensor::shape::normalize_axis("concat", axis, first.shape().len())?;
        let sizes = vars.iter().map(|v| v.shape()[ax]).collect();
        first.try_record(out, vars, ConcatBackward { axis: ax, sizes })
    }

    /// Stacks same-shaped vars along a new `axis`: unsqueeze each, then concat.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let a = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0], &[2]));
    /// let b = tape.input(Tensor::from_vec(vec![3.0, 4.0], &[2]));
    /// let y = Var::stack(&[&a, &b], 1);
    /// assert_eq!((y.shape(), y.value().to_vec()), (&[2, 2][..], vec![1.0, 3.0, 2.0, 4.0]));
    /// assert_eq!(y.sum_all().backward().wrt(&a).unwrap().to_vec(), [1.0, 1.0]);
    /// assert!(Var::try_stack(&[&a, &a.constant(Tensor::zeros(&[3]))], 0).is_err());
    /// ```
    #[track_caller]
    pub fn stack(vars: &[&Var<T>], axis: isize) -> Var<T> {
        or_panic(Self::try_stack(vars, axis))
    }

    /// Fallible [`Var::stack`].
    pub fn try_stack(vars: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let values: Vec<&Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        Tensor::try_stack(&values, axis)?; // validates shapes and axis with stack's own message
        let expanded = vars
            .iter()
            .map(|v| v.try_unsqueeze(axis))
            .collect::<Result<Vec<_>>>()?;
        Self::try_concat(&expanded.iter().collect::<Vec<_>>(), axis)
    }

    /// Whole slices along `axis` at `indices` (repeats allowed).
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
    /// let y = x.index_select(0, &[2, 0, 2]);
    /// assert_eq!(y.value().to_vec(), [5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [1.0, 1.0, 0.0, 0.0, 2.0, 2.0]); // row 2 twice
    /// assert!(x.try_index_select(0, &[3]).is_err());
    /// ```
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Var<T> {
        or_panic(self.try_index_select(axis, indices))
    }

    /// Fallible [`Var::index_select`].
    pub fn try_index_select(&self, axis: isize, indices: &[usize]) -> Result<Var<T>> {
        let out = self.value().try_index_select(axis, indices)?;
        let ax = tapegrad_tensor::shape::normalize_axis("index_select", axis, self.shape().len())?;
        let saved = IndexSelectBackward {
            axis: ax,
            indices: indices.to_vec(),
            size: self.shape()[ax],
        };
        Ok(self.record(out, &[self], saved))
    }

    /// PyTorch's `gather`: `out[…, i, …] = self[…, index[…, i, …], …]` along `axis`.
    ///
    /// ```
    /// # mod tapegrad { pub use tapegrad_autograd::doc_prelude as prelude; }
    /// use tapegrad::prelude::*;
    /// let tape = Tape::new();
    /// let x = tape.input_with_grad(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    /// let y = x.gather(1, &[2, 0], &[2, 1]); // x[0][2] and x[1][0]
    /// assert_eq!(y.value().to_vec(), [3.0, 4.0]);
    /// let g = y.sum_all().backward();
    /// assert_eq!(g.wrt(&x).unwrap().to_vec(), [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// assert!(x.try_gather(1, &[3, 0], &[2, 1]).is_err());
    /// ```
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Var<T> {
        or_panic(self.try_gather(axis, index, index_shape))
    }

    /// Fallible [`Var::gather`].
    pub fn try_gather(
        &self,
        axis: isize,
        index: &[usize],
        index_shape: &[usize],
    ) -> Result<Var<T>> {
        let out = self.value().try_gather(axis, index, index_shape)?;
        let saved = GatherBackward {
            axis,
            index: index.to_vec(),
            index_shape: index_shape.to_vec(),
            input: self.shape().to_vec(),
        };
        Ok(self.record(out, &[self], saved))
    }
}

/// Gradient of concat: `g` split back into each input's extent along the axis.
struct ConcatBackward {
    axis: usize,
    sizes: Vec<usize>,
}

impl<T: Float> Backward<T> for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, g: &Tensor<T>, needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        let mut start = 0;
        self.sizes
            .iter()
            .zip(needs)
            .map(|(&len, &need)| {
                let piece = need.then(|| g.narrow(self.axis as isize, start, len));
                start += len;
                piece
            })
            .collect()
    }
}

/// Gradient of index_select: each slice of `g` added back at its index (repeats accumulate).
struct IndexSelectBackward {
    axis: usize,
    indices: Vec<usize>,
    size: usize,
}

impl<T: Float> Backward<T> for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "index_select"
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

/// Gradient of gather: `g` scattered (added) back to the gathered positions.
struct GatherBackward {
    axis: isize,
    index: Vec<usize>,
    index_shape: Vec<usize>,
    input: Vec<usize>,
}

impl<T: Float> Backward<T> for GatherBackward {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, g: &Tensor<T>, _needs: &[bool]) -> Vec<Option<Tensor<T>>> {
        vec![Some(Tensor::scatter_add(
            self.axis,
            &self.index,
            &self.index_shape,
            g,
            &self.input,
        ))]
    }
}
