//! Post-processing as dcmask does it (its DB boxes and classes compiled in from
//! `crates/dcmask/src/ocr/post.rs`), to see whether a difference between the engines'
//! outputs changes what dcmask would blank or read.

/// dcmask's own post-processing, compiled in from its source.
#[path = "../../../crates/dcmask/src/ocr/post.rs"]
mod dcmask;

/// The recogniser's classes as dcmask makes them from the model's dictionary.
pub fn dictionary(meta: &str) -> Vec<String> {
    dcmask::dictionary(meta.lines())
}

/// (max, mean) absolute difference.
pub fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    let mut max = 0f32;
    let mut sum = 0f64;
    for (x, y) in a.iter().zip(b) {
        let d = (x - y).abs();
        max = max.max(d);
        sum += f64::from(d);
    }
    (max, (sum / a.len().max(1) as f64) as f32)
}

/// Greedy CTC decoding: best class per step, repeats and blanks dropped.
pub fn ctc(probs: &[f32], steps: usize, classes: usize, chars: &[String]) -> String {
    let mut out = String::new();
    let mut prev = 0;
    for s in 0..steps {
        let row = &probs[s * classes..(s + 1) * classes];
        let best = row
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (c, &v)| if v > b.1 { (c, v) } else { b })
            .0;
        if best != 0 && best != prev {
            out.push_str(chars.get(best).map(String::as_str).unwrap_or(" "));
        }
        prev = best;
    }
    out
}

/// DB boxes with dcmask's defaults (thresh 0.3, box_thresh 0.5, unclip 1.5), by
/// dcmask's own code.
pub fn db_boxes(prob: &[f32], w: usize, h: usize) -> Vec<[usize; 4]> {
    let t = dcmask::Thresholds {
        thresh: 0.3,
        box_thresh: 0.5,
        unclip: 1.5,
    };
    dcmask::db_boxes(prob, w, h, t)
        .into_iter()
        .map(|(x0, y0, x1, y1, _)| [x0 as usize, y0 as usize, x1 as usize, y1 as usize])
        .collect()
}
