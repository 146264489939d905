//! Post-processing as `crates/dcmask/src/ocr.rs` does it, to see whether a difference
//! between the engines' outputs changes what dcmask would blank or read.

/// The recogniser's classes: blank, the dictionary, a space (ocr.rs `dictionary`).
pub fn dictionary(meta: &str) -> Vec<String> {
    let mut v = vec![String::new()];
    v.extend(meta.lines().map(|l| l.trim_end_matches('\r').to_string()));
    v.push(" ".into());
    v
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

/// DB boxes with dcmask's defaults (thresh 0.3, box_thresh 0.5, unclip 1.5):
/// 4-connected regions above the threshold, kept on mean probability, grown.
pub fn db_boxes(prob: &[f32], w: usize, h: usize) -> Vec<[usize; 4]> {
    let (thresh, box_thresh, unclip) = (0.3f32, 0.5f32, 1.5f32);
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || prob[start] <= thresh {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut sum, mut n) = (0f32, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            sum += prob[i];
            n += 1;
            let mut push = |j: usize| {
                if !seen[j] && prob[j] > thresh {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                push(i - 1);
            }
            if x + 1 < w {
                push(i + 1);
            }
            if y > 0 {
                push(i - w);
            }
            if y + 1 < h {
                push(i + w);
            }
        }
        let score = sum / n as f32;
        let (bw, bh) = ((x1 - x0 + 1) as f32, (y1 - y0 + 1) as f32);
        if score < box_thresh || bw.min(bh) < 3.0 {
            continue;
        }
        let d = bw * bh * unclip / (2.0 * (bw + bh));
        out.push([
            (x0 as f32 - d).max(0.0) as usize,
            (y0 as f32 - d).max(0.0) as usize,
            ((x1 + 1) as f32 + d).min(w as f32) as usize,
            ((y1 + 1) as f32 + d).min(h as f32) as usize,
        ]);
    }
    out
}
