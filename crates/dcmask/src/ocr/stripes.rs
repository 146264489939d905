//! Text over high-contrast stripes: a test pattern's bar gratings, a phantom's lines.
//! The detector learnt such stripes as background and gives no region over them, not
//! even over the plain part of a line that runs off a grating. Where the displayed view
//! has stripes, a further detector pass reads it with the stripes taken out: each pixel
//! less the median along the stripes (which is the stripe itself), on mid-grey. Text
//! breaks the stripes and stays; where it crosses a bar of its own value it is gone, so
//! the pieces left between bars are widened across the bars to join them again.
//! Elsewhere (no stripes) nothing is computed and no pass is added.

use dcmask_engine::pixel::GrayImage;

/// Steps one way in a block (of [`super::BLOCK`]² pixels) that make it striped: at least
/// three bars across each of its rows or columns. A line of text, a caliper or a banner's
/// rule has far fewer; on the development set only the test pattern and the MR phantoms
/// with line artefacts have such blocks.
const STRIPED_STEPS: u16 = 192;
/// ... and at least this many times the steps the other way: text and noise step both
/// ways alike.
const STRIPED_RATIO: u16 = 3;

/// Half the window of the median along the stripes: longer than any glyph, so that the
/// median is the stripe's own value under a line of text.
const MEDIAN: usize = 15;
/// Half the window over which the steps across and down are compared to tell the
/// stripes' direction.
const ACTIVITY: usize = 7;
/// Half the run across the stripes over which what is left of the text is widened: a
/// stroke crossing bars up to 6 px wide is whole again. On the development set's test
/// pattern 3 found the most boxes (2: 15 of 20, 3: 16, 4: 14; `bench/PIXEL.md`).
const FILL: usize = 3;

/// Whether a block with `across` steps between horizontal neighbours and `down` between
/// vertical ones is striped.
pub fn striped(across: u16, down: u16) -> bool {
    let (most, least) = (across.max(down), across.min(down));
    most >= STRIPED_STEPS && most >= STRIPED_RATIO.saturating_mul(least)
}

/// The part `(x, y, w, h)` of a view with its stripes taken out, as an image of the
/// part's size: 128 where the view follows its stripes (or is flat), brighter or darker
/// by what a pixel differs from the median along them.
pub fn destriped(v: &GrayImage, (px, py, pw, ph): (usize, usize, usize, usize)) -> GrayImage {
    let (iw, ih) = (v.width as usize, v.height as usize);
    // The part with the context its filters read.
    let margin = MEDIAN + FILL;
    let (ex, ey) = (px.saturating_sub(margin), py.saturating_sub(margin));
    let (ew, eh) = (
        (px + pw + margin).min(iw) - ex,
        (py + ph + margin).min(ih) - ey,
    );
    let at = |x: usize, y: usize| v.pixels[(ey + y) * iw + ex + x];

    // Summed steps across and down (integral images), for the stripes' direction.
    let mut across = vec![0u32; (ew + 1) * (eh + 1)];
    let mut down = vec![0u32; (ew + 1) * (eh + 1)];
    for y in 0..eh {
        let (mut ra, mut rd) = (0u32, 0u32);
        for x in 0..ew {
            let p = i16::from(at(x, y));
            if x + 1 < ew {
                ra += (p - i16::from(at(x + 1, y))).unsigned_abs() as u32;
            }
            if y + 1 < eh {
                rd += (p - i16::from(at(x, y + 1))).unsigned_abs() as u32;
            }
            let i = (y + 1) * (ew + 1) + x + 1;
            across[i] = across[i - ew - 1] + ra;
            down[i] = down[i - ew - 1] + rd;
        }
    }
    let window_sum = |s: &[u32], x: usize, y: usize| {
        let (x0, y0) = (x.saturating_sub(ACTIVITY), y.saturating_sub(ACTIVITY));
        let (x1, y1) = ((x + ACTIVITY + 1).min(ew), (y + ACTIVITY + 1).min(eh));
        let w = ew + 1;
        let sum = s[y1 * w + x1] + s[y0 * w + x0] - s[y0 * w + x1] - s[y1 * w + x0];
        (sum, ((x1 - x0) * (y1 - y0)) as u32)
    };
    // Per pixel: 1 for stripes that run across (values change down), 2 for stripes that
    // run down, 0 for neither clearly; and which median is the background.
    let mut direction = vec![0u8; ew * eh];
    let mut along_rows = vec![false; ew * eh];
    for y in 0..eh {
        for x in 0..ew {
            let (a, n) = window_sum(&across, x, y);
            let (d, _) = window_sum(&down, x, y);
            let i = y * ew + x;
            along_rows[i] = a < d;
            direction[i] = if d > 3 * a + n {
                1
            } else if a > 3 * d + n {
                2
            } else {
                0
            };
        }
    }

    // Each pixel less the median along its stripes: bright and dark residues apart.
    let mut row_median = vec![0u8; ew * eh];
    let mut window = Median::default();
    for y in 0..eh {
        running_median(
            &mut window,
            ew,
            |x| at(x, y),
            |x, m| row_median[y * ew + x] = m,
        );
    }
    let mut col_median = vec![0u8; ew * eh];
    for x in 0..ew {
        running_median(
            &mut window,
            eh,
            |y| at(x, y),
            |y, m| col_median[y * ew + x] = m,
        );
    }
    let mut bright = vec![0i16; ew * eh];
    let mut dark = vec![0i16; ew * eh];
    for y in 0..eh {
        for x in 0..ew {
            let i = y * ew + x;
            let bg = if along_rows[i] {
                row_median[i]
            } else {
                col_median[i]
            };
            let r = i16::from(at(x, y)) - i16::from(bg);
            bright[i] = r.max(0);
            dark[i] = (-r).max(0);
        }
    }

    // Widened across the stripes, on mid-grey: a pixel takes the residue of a neighbour
    // across the stripes only when it is at least as bright (for a bright residue) or as
    // dark (a dark one) as that neighbour, that is where the text can hide in a bar of its
    // own value; the bars of the other value between its strokes stay out.
    let mut out = vec![128u8; pw * ph];
    for y in 0..ph {
        for x in 0..pw {
            let (cx, cy) = (px + x - ex, py + y - ey);
            let i = cy * ew + cx;
            let me = at(cx, cy);
            let across = (0..=2 * FILL).filter_map(|k| {
                let (x, y) = match direction[i] {
                    1 => (cx, (cy + k).checked_sub(FILL)?),
                    2 => ((cx + k).checked_sub(FILL)?, cy),
                    _ if k == FILL => (cx, cy),
                    _ => return None,
                };
                (x < ew && y < eh).then_some((x, y))
            });
            let (mut b, mut d) = (0i16, 0i16);
            for (x, y) in across {
                let (j, them) = (y * ew + x, at(x, y));
                if me >= them {
                    b = b.max(bright[j]);
                }
                if me <= them {
                    d = d.max(dark[j]);
                }
            }
            let g = 128 + b - d;
            out[y * pw + x] = g.clamp(0, 255) as u8;
        }
    }
    GrayImage {
        width: pw as u32,
        height: ph as u32,
        pixels: out,
    }
}

/// The median of a sliding window of 8-bit values: a histogram and the current median
/// with the count of values below it, moved by as much as the median moves.
struct Median {
    hist: [u16; 256],
    n: u16,
    median: usize,
    below: u16,
}

impl Default for Median {
    fn default() -> Self {
        Median {
            hist: [0; 256],
            n: 0,
            median: 0,
            below: 0,
        }
    }
}

impl Median {
    fn add(&mut self, v: u8) {
        self.hist[usize::from(v)] += 1;
        self.n += 1;
        if usize::from(v) < self.median {
            self.below += 1;
        }
    }

    fn remove(&mut self, v: u8) {
        self.hist[usize::from(v)] -= 1;
        self.n -= 1;
        if usize::from(v) < self.median {
            self.below -= 1;
        }
    }

    /// The lower median of the values in the window (at least one).
    fn get(&mut self) -> u8 {
        let rank = (self.n - 1) / 2;
        while self.below > rank {
            self.median -= 1;
            self.below -= self.hist[self.median];
        }
        while self.below + self.hist[self.median] <= rank {
            self.below += self.hist[self.median];
            self.median += 1;
        }
        self.median as u8
    }
}

/// The median of the values `value(i - MEDIAN ..= i + MEDIAN)` (clipped to `0..n`) for
/// every `i` in `0..n`, handed to `put`.
fn running_median(
    window: &mut Median,
    n: usize,
    value: impl Fn(usize) -> u8,
    mut put: impl FnMut(usize, u8),
) {
    *window = Median::default();
    for i in 0..MEDIAN.min(n) {
        window.add(value(i));
    }
    for i in 0..n {
        if i + MEDIAN < n {
            window.add(value(i + MEDIAN));
        }
        if i > MEDIAN {
            window.remove(value(i - MEDIAN - 1));
        }
        put(i, window.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_median_matches_sorting() {
        let values: Vec<u8> = (0..200u32).map(|i| (i * 97 % 251) as u8).collect();
        let mut got = vec![0u8; values.len()];
        running_median(
            &mut Median::default(),
            values.len(),
            |i| values[i],
            |i, m| got[i] = m,
        );
        for (i, &m) in got.iter().enumerate() {
            let mut w =
                values[i.saturating_sub(MEDIAN)..(i + MEDIAN + 1).min(values.len())].to_vec();
            w.sort_unstable();
            assert_eq!(m, w[(w.len() - 1) / 2], "at {i}");
        }
    }

    #[test]
    fn bars_go_text_across_them_stays() {
        // Vertical bars 2 px wide, black and white; a bright "stroke" across them: a
        // 3-px-high run at the maximum over columns 20..30 of rows 30..33.
        let (w, h) = (64usize, 64usize);
        let mut pixels: Vec<u8> = (0..w * h)
            .map(|i| if (i % w) / 2 % 2 == 0 { 0 } else { 255 })
            .collect();
        for y in 30..33 {
            for x in 20..30 {
                pixels[y * w + x] = 255;
            }
        }
        let v = GrayImage {
            width: w as u32,
            height: h as u32,
            pixels,
        };
        let d = destriped(&v, (0, 0, w, h));
        // Away from the stroke the bars are gone.
        assert!((0..w).all(|x| d.pixels[10 * w + x] == 128));
        assert!((0..w).all(|x| d.pixels[50 * w + x] == 128));
        // The stroke is white, also where it crossed a white bar (widened across).
        assert!((21..29).all(|x| d.pixels[31 * w + x] == 255));
        // Each block of the bars is striped; the blocks are counted as `edge_counts` does.
        assert!(striped(32 * 16, 0));
        assert!(!striped(64, 60), "text steps both ways");
    }
}
