//! The two engines behind one interface: load the two models from bytes, run the
//! detector on 1×3×H×W and the recogniser on 1×3×48×W, return the output's shape and
//! values.

use crate::inputs::{DetInput, RecInput, REC_HEIGHT};
use anyhow::Result;

/// An output tensor: shape and values (row-major).
pub type Out = (Vec<usize>, Vec<f32>);

pub trait Engine {
    fn det(&mut self, x: &DetInput) -> Result<Out>;
    fn rec(&mut self, x: &RecInput) -> Result<Out>;
    /// The recogniser's `character` metadata, as ocr.rs reads it.
    fn dictionary(&self) -> Option<String>;
    /// What the engine did besides inference (tract "fixed": plans optimised per shape).
    fn notes(&self) -> String {
        String::new()
    }
}

#[cfg(feature = "rten")]
pub mod rten_engine {
    use super::*;
    use rten::{Model, RunOptions, ThreadPool};
    use rten_tensor::prelude::*;
    use rten_tensor::NdTensor;
    use std::sync::Arc;

    pub struct Rten {
        det: Model,
        rec: Model,
        /// `None`: rten's default pool (one thread per physical core).
        pool: Option<Arc<ThreadPool>>,
    }

    impl Rten {
        pub fn load(det: &[u8], rec: &[u8], threads: Option<usize>) -> Result<Rten> {
            Ok(Rten {
                det: Model::load(det.to_vec())?,
                rec: Model::load(rec.to_vec())?,
                pool: threads.map(|n| Arc::new(ThreadPool::with_num_threads(n))),
            })
        }

        fn run(&self, model: &Model, shape: [usize; 4], data: &[f32]) -> Result<Out> {
            let input = NdTensor::from_data(shape, data.to_vec());
            let opts = self
                .pool
                .as_ref()
                .map(|p| RunOptions::default().with_thread_pool(Some(p.clone())));
            let out = model.run_one(input.view().into(), opts)?;
            let t: rten_tensor::Tensor<f32> = out
                .try_into()
                .map_err(|_| anyhow::anyhow!("output is not f32"))?;
            let t = t.to_contiguous();
            Ok((t.shape().to_vec(), t.data().to_vec()))
        }
    }

    impl Engine for Rten {
        fn det(&mut self, x: &DetInput) -> Result<Out> {
            self.run(&self.det, [1, 3, x.h, x.w], &x.data)
        }
        fn rec(&mut self, x: &RecInput) -> Result<Out> {
            self.run(&self.rec, [1, 3, REC_HEIGHT, x.w], &x.data)
        }
        fn dictionary(&self) -> Option<String> {
            self.rec
                .metadata()
                .fields()
                .find(|(k, _)| *k == "character")
                .map(|(_, v)| v.to_string())
        }
    }
}

#[cfg(feature = "tract")]
pub mod tract_engine {
    use super::*;
    use std::collections::HashMap;
    use std::time::Instant;
    use tract_onnx::prelude::*;

    type Plan = Arc<TypedRunnableModel>;

    /// How tract is told the input shapes.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Shapes {
        /// As the ONNX file declares them (dynamic batch, height, width).
        Declared,
        /// Input fact 1×3×h×w with symbolic h and w, optimised once.
        Symbolic,
        /// Input fact 1×3×32a×32b (a, b symbolic: sides are multiples of 32), optimised once.
        Symbolic32,
        /// Input fact with the concrete shape, optimised once per shape (cached).
        Fixed,
    }

    pub struct Tract {
        det_bytes: Vec<u8>,
        rec_bytes: Vec<u8>,
        shapes: Shapes,
        det: Option<Plan>,
        rec: Option<Plan>,
        fixed: HashMap<(bool, usize, usize), Plan>,
        dictionary: Option<String>,
        /// Time spent optimising plans for new shapes (Fixed only), ms.
        pub reoptimise_ms: Vec<f64>,
    }

    /// Parses, sets the input fact `fact` makes in the model's symbol scope, optimises.
    fn plan(
        bytes: &[u8],
        fact: impl FnOnce(&SymbolScope) -> Option<InferenceFact>,
    ) -> TractResult<Plan> {
        let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..])?;
        if let Some(f) = fact(&model.symbols) {
            model = model.with_input_fact(0, f)?;
        }
        model.into_optimized()?.into_runnable()
    }

    /// 1×3×h×w with `w` (and `h` unless given) symbolic, or `m` times a symbol.
    fn symbolic_fact(scope: &SymbolScope, height: Option<usize>, m: i64) -> Option<InferenceFact> {
        let h: TDim = match height {
            Some(h) => h.into(),
            None => TDim::from(scope.sym("h")) * m,
        };
        let w: TDim = TDim::from(scope.sym("w")) * m;
        Some(f32::fact([1.into(), 3.into(), h, w]).into())
    }

    /// Both plans, or an error naming each model that failed and why.
    fn both(d: TractResult<Plan>, r: TractResult<Plan>) -> Result<(Option<Plan>, Option<Plan>)> {
        match (d, r) {
            (Ok(d), Ok(r)) => Ok((Some(d), Some(r))),
            (d, r) => {
                let why = |name: &str, x: &TractResult<Plan>| match x {
                    Ok(_) => format!("{name}: loaded"),
                    Err(e) => format!("{name}: {e:#}"),
                };
                anyhow::bail!("{}; {}", why("detector", &d), why("recogniser", &r))
            }
        }
    }

    impl Tract {
        pub fn load(det: &[u8], rec: &[u8], shapes: Shapes) -> Result<Tract> {
            let proto = tract_onnx::onnx().proto_model_for_read(&mut &rec[..])?;
            let dictionary = proto
                .metadata_props
                .iter()
                .find(|p| p.key == "character")
                .map(|p| p.value.clone());
            let (d, r) = match shapes {
                Shapes::Declared => both(plan(det, |_| None), plan(rec, |_| None))?,
                Shapes::Symbolic | Shapes::Symbolic32 => {
                    let m = if shapes == Shapes::Symbolic { 1 } else { 32 };
                    both(
                        plan(det, |s| symbolic_fact(s, None, m)),
                        plan(rec, |s| symbolic_fact(s, Some(REC_HEIGHT), 1)),
                    )?
                }
                // Parsing is checked now; plans are made per shape on first use.
                Shapes::Fixed => {
                    tract_onnx::onnx().model_for_read(&mut &det[..])?;
                    tract_onnx::onnx().model_for_read(&mut &rec[..])?;
                    (None, None)
                }
            };
            Ok(Tract {
                det_bytes: det.to_vec(),
                rec_bytes: rec.to_vec(),
                shapes,
                det: d,
                rec: r,
                fixed: HashMap::new(),
                dictionary,
                reoptimise_ms: Vec::new(),
            })
        }

        fn run(&mut self, is_det: bool, h: usize, w: usize, data: &[f32]) -> Result<Out> {
            let plan = if self.shapes == Shapes::Fixed {
                if !self.fixed.contains_key(&(is_det, h, w)) {
                    let t = Instant::now();
                    let bytes = if is_det {
                        &self.det_bytes
                    } else {
                        &self.rec_bytes
                    };
                    let p = plan(bytes, |_| Some(f32::fact([1, 3, h, w]).into()))?;
                    self.reoptimise_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    self.fixed.insert((is_det, h, w), p);
                }
                self.fixed[&(is_det, h, w)].clone()
            } else if is_det {
                self.det.clone().expect("loaded")
            } else {
                self.rec.clone().expect("loaded")
            };
            let input = Tensor::from_shape(&[1, 3, h, w], data)?;
            let out = plan.run(tvec!(input.into()))?;
            let view = out[0].to_plain_array_view::<f32>()?;
            Ok((view.shape().to_vec(), view.iter().copied().collect()))
        }
    }

    impl Engine for Tract {
        fn det(&mut self, x: &DetInput) -> Result<Out> {
            self.run(true, x.h, x.w, &x.data)
        }
        fn rec(&mut self, x: &RecInput) -> Result<Out> {
            self.run(false, REC_HEIGHT, x.w, &x.data)
        }
        fn dictionary(&self) -> Option<String> {
            self.dictionary.clone()
        }
        fn notes(&self) -> String {
            let mut v = self.reoptimise_ms.clone();
            if v.is_empty() {
                return String::new();
            }
            v.sort_by(f64::total_cmp);
            format!(
                "plans optimised for {} shapes: median {:.0} ms, max {:.0} ms, total {:.0} ms",
                v.len(),
                v[v.len() / 2],
                v[v.len() - 1],
                v.iter().sum::<f64>()
            )
        }
    }

    /// tract runs single-threaded unless a multithreaded executor is installed
    /// (tract-linalg's `multithread-mm`; it parallelises matrix products).
    pub fn set_threads(n: usize) {
        if n > 1 {
            tract_linalg::multithread::set_default_executor(
                tract_linalg::multithread::Executor::multithread(n),
            );
        }
    }
}
