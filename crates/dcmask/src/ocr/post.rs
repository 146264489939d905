//! The detector's and recogniser's post-processing that needs no model: DB boxes from
//! the probability map and the recogniser's classes. Plain Rust over slices, so that
//! `bench/ocr-engines` compares inference engines through this very code.

/// A detected text box: columns `x0..x1`, rows `y0..y1`, mean probability.
pub type TextBox = (u32, u32, u32, u32, f32);

/// DB post-processing's thresholds: a pixel's probability for a region, a region's mean
/// probability to be kept, and how far a kept region is grown.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub thresh: f32,
    pub box_thresh: f32,
    pub unclip: f32,
}

/// DB post-processing: connected regions (4-neighbour) of `prob > thresh`, kept when
/// their mean probability reaches `box_thresh`, grown by the unclip offset.
pub fn db_boxes(prob: &[f32], w: usize, h: usize, p: Thresholds) -> Vec<TextBox> {
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if seen[start] || prob[start] <= p.thresh {
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
                if !seen[j] && prob[j] > p.thresh {
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
        if score < p.box_thresh || bw.min(bh) < 3.0 {
            continue;
        }
        let d = bw * bh * p.unclip / (2.0 * (bw + bh));
        out.push((
            (x0 as f32 - d).max(0.0) as u32,
            (y0 as f32 - d).max(0.0) as u32,
            ((x1 + 1) as f32 + d).min(w as f32) as u32,
            ((y1 + 1) as f32 + d).min(h as f32) as u32,
            score,
        ));
    }
    out
}

/// The recogniser's classes: blank, the dictionary, a space.
pub fn dictionary<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v = vec![String::new()];
    v.extend(lines.map(|l| l.trim_end_matches('\r').to_string()));
    v.push(" ".into());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Thresholds = Thresholds {
        thresh: 0.3,
        box_thresh: 0.5,
        unclip: 1.5,
    };

    #[test]
    fn db_boxes_unclip_and_score() {
        let (w, h) = (40, 20);
        let mut prob = vec![0f32; w * h];
        for y in 8..12 {
            for x in 5..25 {
                prob[y * w + x] = 0.9;
            }
        }
        // A faint blob below the box threshold.
        prob[18 * w + 35] = 0.35;
        let b = db_boxes(&prob, w, h, DEFAULTS);
        assert_eq!(b.len(), 1);
        // 20×4 region, offset 20·4·1.5/48 = 2.5.
        assert_eq!((b[0].0, b[0].1, b[0].2, b[0].3), (2, 5, 27, 14));
    }
}
