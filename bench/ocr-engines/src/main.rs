//! rten against tract-onnx on dcmask's PP-OCRv4 models (results: bench/OCR-ENGINES.md).
//!
//! ```text
//! ocr-engines load    --engine rten|tract [--tract-shapes declared|symbolic|symbolic32|fixed]
//! ocr-engines time    --engine rten|tract --threads 1|2|default [--reps N] [--tract-shapes ..]
//! ocr-engines compare [--tract-shapes ..]
//! ```
//! Every mode reads `DCMASK_CORPUS` (default /work/shared/corpus) and the models from
//! `crates/dcmask/models/`. Output is tab-separated, one measurement a line.

// Built without an engine only to measure the size of the program around the engines.
#![cfg_attr(not(any(feature = "rten", feature = "tract")), allow(unused))]

mod engines;
mod inputs;
mod post;

use anyhow::{bail, Context, Result};
use engines::Engine;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    mode: String,
    engine: String,
    threads: String,
    reps: usize,
    shapes: String,
}

fn args() -> Result<Args> {
    let mut a = Args {
        mode: String::new(),
        engine: "rten".into(),
        threads: "default".into(),
        reps: 5,
        shapes: "symbolic".into(),
    };
    let mut it = std::env::args().skip(1);
    a.mode = it.next().context("mode: load, time or compare")?;
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--engine" => a.engine = v,
            "--threads" => a.threads = v,
            "--reps" => a.reps = v.parse()?,
            "--tract-shapes" => a.shapes = v,
            _ => bail!("unknown option {k}"),
        }
    }
    Ok(a)
}

fn models() -> Result<(Vec<u8>, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/dcmask/models");
    Ok((
        std::fs::read(dir.join("ch_PP-OCRv4_det_infer.onnx"))?,
        std::fs::read(dir.join("ch_PP-OCRv4_rec_infer.onnx"))?,
    ))
}

/// `threads`: "1", "2" or "default" (rten: one per physical core; tract: one).
fn threads(s: &str) -> Result<Option<usize>> {
    Ok(match s {
        "default" => None,
        n => Some(n.parse()?),
    })
}

fn load(engine: &str, a: &Args, det: &[u8], rec: &[u8]) -> Result<Box<dyn Engine>> {
    let t = threads(&a.threads)?;
    match engine {
        #[cfg(feature = "rten")]
        "rten" => Ok(Box::new(engines::rten_engine::Rten::load(det, rec, t)?)),
        #[cfg(feature = "tract")]
        "tract" => {
            use engines::tract_engine::{set_threads, Shapes, Tract};
            set_threads(t.unwrap_or(1));
            let shapes = match a.shapes.as_str() {
                "declared" => Shapes::Declared,
                "symbolic" => Shapes::Symbolic,
                "symbolic32" => Shapes::Symbolic32,
                "fixed" => Shapes::Fixed,
                s => bail!("unknown --tract-shapes {s}"),
            };
            Ok(Box::new(Tract::load(det, rec, shapes)?))
        }
        e => bail!("engine {e} is not built in (features: rten, tract)"),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` once to warm up (first-run allocation; tract "fixed" optimises here), then
/// `reps` times; (first, median, min) in ms.
fn timed(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64, f64)> {
    let t = Instant::now();
    f()?;
    let first = t.elapsed().as_secs_f64() * 1e3;
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let min = v.iter().copied().fold(f64::MAX, f64::min);
    Ok((first, median(v), min))
}

fn main() -> Result<()> {
    let a = args()?;
    let corpus =
        PathBuf::from(std::env::var("DCMASK_CORPUS").unwrap_or("/work/shared/corpus".into()));
    let (det, rec) = models()?;
    match a.mode.as_str() {
        "load" => {
            let t = Instant::now();
            let e = load(&a.engine, &a, &det, &rec)?;
            println!(
                "load\t{}\t{}\t{:.0} ms\tdictionary {} entries",
                a.engine,
                a.shapes,
                t.elapsed().as_secs_f64() * 1e3,
                e.dictionary().map_or(0, |d| d.lines().count())
            );
        }
        "time" => {
            let inputs = inputs::build(&corpus)?;
            let t = Instant::now();
            let mut e = load(&a.engine, &a, &det, &rec)?;
            let load_ms = t.elapsed().as_secs_f64() * 1e3;
            let tag = format!("{}\tthreads={}", a.engine, a.threads);
            println!("load\t{tag}\t{load_ms:.0} ms");
            for x in &inputs.det {
                let (first, med, min) = timed(a.reps, || e.det(x).map(|_| ()))?;
                println!(
                    "det\t{tag}\t{}\t{}x{}\tmedian {med:.1} ms\tmin {min:.1} ms\tfirst run {first:.0} ms",
                    x.name, x.w, x.h
                );
            }
            let mut per = Vec::new();
            for x in &inputs.rec {
                per.push((x.w, timed(a.reps, || e.rec(x).map(|_| ()))?));
            }
            let first: f64 = per.iter().map(|p| p.1 .0).sum();
            let total: f64 = per.iter().map(|p| p.1 .1).sum();
            let px: usize = per.iter().map(|p| p.0).sum();
            let (wmin, wmax) = (
                per.iter().map(|p| p.0).min().unwrap_or(0),
                per.iter().map(|p| p.0).max().unwrap_or(0),
            );
            println!(
                "rec\t{tag}\t{} crops 48x{wmin}..{wmax}\tmedian {:.1} ms/crop\tsum {total:.0} ms\t{:.2} ms per 100 px\tfirst runs sum {first:.0} ms",
                per.len(),
                median(per.iter().map(|p| p.1 .1).collect()),
                total / px as f64 * 100.0
            );
            let notes = e.notes();
            if !notes.is_empty() {
                println!("notes\t{tag}\t{notes}");
            }
        }
        "compare" => compare(&a, &corpus, &det, &rec)?,
        m => bail!("unknown mode {m}"),
    }
    Ok(())
}

/// Both engines on the same inputs: the detector's probability maps, the boxes DB
/// post-processing makes of them, and the recogniser's strings.
fn compare(a: &Args, corpus: &std::path::Path, det: &[u8], rec: &[u8]) -> Result<()> {
    let inputs = inputs::build(corpus)?;
    let mut r = load("rten", a, det, rec)?;
    let mut t = load("tract", a, det, rec)?;
    let dict_r = r.dictionary().context("rten: no character metadata")?;
    let dict_t = t.dictionary().context("tract: no character metadata")?;
    println!(
        "dictionary\trten {} entries\ttract {} entries\tsame {}",
        dict_r.lines().count(),
        dict_t.lines().count(),
        dict_r == dict_t
    );
    let chars = post::dictionary(&dict_r);
    let mut crops = Vec::new();
    for (x, (name, g)) in inputs.det.iter().zip(&inputs.images) {
        let (sr, pr) = r.det(x)?;
        let (st, pt) = t.det(x)?;
        if sr != st {
            println!("det\t{}\tshapes differ: rten {sr:?} tract {st:?}", x.name);
            continue;
        }
        let (max, mean) = post::diff(&pr, &pt);
        let flips = pr
            .iter()
            .zip(&pt)
            .filter(|(a, b)| (**a > 0.3) != (**b > 0.3))
            .count();
        let br = post::db_boxes(&pr, x.w, x.h);
        let bt = post::db_boxes(&pt, x.w, x.h);
        let same = br.iter().filter(|b| bt.contains(b)).count();
        println!(
            "det\t{}\tmax |diff| {max:.2e}\tmean |diff| {mean:.2e}\tpixels across 0.3: {flips} of {}\tboxes rten {} tract {} identical {same}",
            x.name,
            pr.len(),
            br.len(),
            bt.len()
        );
        // Boxes inside the image, for the recogniser.
        for (k, b) in br.iter().enumerate() {
            let b = [b[0], b[1], b[2].min(g.w), b[3].min(g.h)];
            if b[2] > b[0] + 2 && b[3] > b[1] + 2 {
                crops.push(inputs::rec_input(format!("{name} box {k}"), g, b, None));
            }
        }
    }
    let (mut same, mut n, mut right_r, mut right_t, mut truths) = (0, 0, 0, 0, 0);
    let mut worst = 0f32;
    for x in inputs.rec.iter().chain(&crops) {
        let (sr, lr) = r.rec(x)?;
        let (st, lt) = t.rec(x)?;
        if sr != st {
            println!("rec\t{}\tshapes differ: rten {sr:?} tract {st:?}", x.name);
            continue;
        }
        worst = worst.max(post::diff(&lr, &lt).0);
        let (classes, steps) = (sr[2], sr[1]);
        let a = post::ctc(&lr, steps, classes, &chars);
        let b = post::ctc(&lt, steps, classes, &chars);
        n += 1;
        same += usize::from(a == b);
        if let Some(truth) = &x.truth {
            truths += 1;
            right_r += usize::from(&a == truth);
            right_t += usize::from(&b == truth);
            println!("rec\t{}\trten {a:?}\ttract {b:?}\tdrawn {truth:?}", x.name);
        } else if a != b {
            // Detected boxes hold the corpus's (fictitious) text: compared, not shown.
            println!("rec\t{}\tstrings differ", x.name);
        }
    }
    println!(
        "rec\t{n} crops ({truths} drawn lines, {} detected boxes)\tsame string {same} of {n}\tmax |logit diff| {worst:.2e}\tdrawn lines read exactly: rten {right_r}, tract {right_t}",
        n - truths
    );
    Ok(())
}
