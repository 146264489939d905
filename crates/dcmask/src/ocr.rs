//! The text detector behind Clean Pixel Data: PaddleOCR PP-OCRv4 mobile models (a DB text
//! detector and an SVTR/CTC recogniser, Apache-2.0, `models/README.md`) run in-process by
//! `rten`, a pure-Rust ONNX runtime. The models are embedded in the binary and loaded
//! from memory the first time pixels are read; `--ocr-models DIR` loads a site's own.
//!
//! Detection (DB): the grey image is processed at its own scale, in tiles of at most
//! [`TILE`] pixels a side (a multiple of 32, overlapping so a line cut by a tile edge is
//! whole in the next), each normalised with ImageNet's mean and deviation as PaddleOCR
//! trains the detector; the probability maps are joined, thresholded at `thresh`, and
//! each connected region whose mean probability reaches `box_thresh` becomes a box grown
//! by the DB "unclip" offset (area × ratio / perimeter). Burned-in annotation is
//! horizontal, so boxes are axis-aligned. Only the parts of a tile with sharp, strong
//! edges are run: uniform background and smooth anatomy cannot hold text. A view with
//! such edges over much of the image that no other view has (noise at the extremes) is
//! left out. Parts with high-contrast stripes (a test pattern's bar gratings), which the
//! detector takes for background with the text over them, get a further pass with the
//! stripes taken out (`stripes.rs`).
//!
//! Recognition (CTC): each box is cut out, resized to 48 px high, read by the recogniser,
//! and decoded greedily (best class per step, repeats and blanks dropped) with the
//! dictionary from the model's metadata. The step of each character gives its column, so
//! a line can be split into words. Nothing recognised is logged: text is patient data.

use dcmask_engine::pixel::{GrayImage, Read, TextDetector, Word};
use dcmask_engine::{Error, Result};
use rten::Model;
use rten_tensor::prelude::*;
use rten_tensor::NdTensor;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

mod post;
mod stripes;

/// The embedded models (`models/README.md`: package, version, sha256, licence).
static DET_ONNX: &[u8] = include_bytes!("../models/ch_PP-OCRv4_det_infer.onnx");
static REC_ONNX: &[u8] = include_bytes!("../models/ch_PP-OCRv4_rec_infer.onnx");

/// The side of a detection tile: large enough for a whole banner line, small enough to
/// skip empty parts of a large radiograph.
pub const TILE: usize = 1024;
/// Overlap of neighbouring tiles: more than the height of any annotation line.
const OVERLAP: usize = 64;
/// The detector's input normalisation per channel, `(g / 255 - mean) / std`: the
/// ImageNet statistics PaddleOCR trains and runs its DB detectors with
/// (`NormalizeImage` of `DetResizeForTest`'s pipeline). The recogniser takes `[-1, 1]`.
const DET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const DET_STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Recognition input height (the model's).
const REC_HEIGHT: usize = 48;
/// Widest recognition input; longer lines are read in pieces of this width.
const REC_MAX_WIDTH: usize = 960;
/// A region taller than the recogniser's input that it reads with less mean confidence
/// than this is not text: on large radiographs the detector also marks bone edges and
/// trabeculae, hundreds of pixels high, which it reads as nothing or a stray glyph. On
/// the development set no region over an identifying or safe text was that tall and
/// unread (`bench/PIXEL.md`).
const NOT_TEXT_CONFIDENCE: f32 = 0.3;

/// Post-processing thresholds of the DB detector.
#[derive(Debug, Clone, Copy)]
pub struct DetParams {
    /// Probability above which a pixel is text.
    pub thresh: f32,
    /// Mean probability a region needs to be a box.
    pub box_thresh: f32,
    /// How far a region is grown back to the glyphs' extent (DB unclip ratio).
    pub unclip: f32,
    /// Up to three views of an image go through the detector in one pass, as its colour
    /// channels, instead of one pass each.
    pub combine: bool,
    /// Parts of the first view with high-contrast stripes get a further pass with the
    /// stripes taken out ([`stripes`]).
    pub stripes: bool,
}

impl DetParams {
    /// The DB post-processing's share of the parameters.
    fn thresholds(&self) -> post::Thresholds {
        post::Thresholds {
            thresh: self.thresh,
            box_thresh: self.box_thresh,
            unclip: self.unclip,
        }
    }
}

impl Default for DetParams {
    /// PaddleOCR's defaults except `box_thresh`, lowered from 0.6 because a missed name
    /// costs more than a blanked texture (`bench/PIXEL.md`).
    fn default() -> Self {
        DetParams {
            thresh: 0.3,
            box_thresh: 0.5,
            unclip: 1.5,
            combine: true,
            stripes: true,
        }
    }
}

pub use post::TextBox;
use post::{db_boxes, dictionary};

/// The detector and recogniser with their dictionary.
pub struct Ocr {
    det: Model,
    rec: Model,
    /// Index 0 is the CTC blank; then the dictionary; the last class is a space.
    chars: Vec<String>,
    pub params: DetParams,
}

impl Ocr {
    /// The embedded models.
    pub fn embedded() -> Result<Ocr> {
        Ocr::from_models(
            Model::load_static_slice(DET_ONNX),
            Model::load_static_slice(REC_ONNX),
        )
    }

    /// A site's models: `DIR/det.onnx` and `DIR/rec.onnx` (PP-OCR layout, the dictionary
    /// in the recogniser's `character` metadata or in `DIR/dict.txt`, one entry a line).
    pub fn from_dir(dir: &Path) -> Result<Ocr> {
        let load = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p)
                .map_err(|e| Error::pixel(format!("cannot read OCR model {}: {e}", p.display())))
                .map(Model::load)
        };
        let mut ocr = Ocr::from_models(load("det.onnx")?, load("rec.onnx")?);
        if let Ok(dict) = std::fs::read_to_string(dir.join("dict.txt")) {
            if let Ok(o) = &mut ocr {
                o.chars = dictionary(dict.lines());
            }
        }
        ocr
    }

    fn from_models(
        det: std::result::Result<Model, rten::LoadError>,
        rec: std::result::Result<Model, rten::LoadError>,
    ) -> Result<Ocr> {
        let bad = |e: rten::LoadError| Error::pixel(format!("cannot load an OCR model: {e}"));
        let (det, rec) = (det.map_err(bad)?, rec.map_err(bad)?);
        let chars = rec
            .metadata()
            .fields()
            .find(|(k, _)| *k == "character")
            .map(|(_, v)| dictionary(v.lines()))
            .unwrap_or_default();
        Ok(Ocr {
            det,
            rec,
            chars,
            params: DetParams::default(),
        })
    }

    /// Text boxes (x0, y0, x1, y1, score) of the views of one image (the same size), in
    /// its pixels. With `combine`, up to three views go through the detector together as
    /// its three colour channels (one pass); otherwise each view is a pass of its own and
    /// the probability maps are joined by their maximum.
    pub fn detect(&self, views: &[GrayImage]) -> Result<Vec<TextBox>> {
        let first = views.first().ok_or_else(|| Error::pixel("no image"))?;
        let (w, h) = (first.width as usize, first.height as usize);
        if views
            .iter()
            .any(|v| v.width as usize != w || v.height as usize != h)
        {
            return Err(Error::pixel("views of different sizes"));
        }
        let views = telling_views(views);
        let groups: Vec<Vec<&GrayImage>> = if self.params.combine {
            views.chunks(3).map(|c| c.to_vec()).collect()
        } else {
            views.iter().map(|&v| vec![v]).collect()
        };
        let mut prob = vec![0f32; w * h];
        let mut join = |map: &[f32], (px, py, pw, ph): (usize, usize, usize, usize)| {
            for y in 0..ph {
                let row = &mut prob[(py + y) * w + px..(py + y) * w + px + pw];
                for (p, &v) in row.iter_mut().zip(&map[y * pw..(y + 1) * pw]) {
                    *p = p.max(v);
                }
            }
        };
        for tile in tiles(w, h) {
            for group in &groups {
                for part in text_parts(group, tile) {
                    join(&self.detect_tile(group, part)?, part);
                }
            }
            if self.params.stripes {
                for part in striped_parts(views[0], tile) {
                    let flat = stripes::destriped(views[0], part);
                    let whole = (0, 0, part.2, part.3);
                    join(&self.detect_tile(&[&flat], whole)?, part);
                }
            }
        }
        Ok(db_boxes(&prob, w, h, self.params.thresholds()))
    }

    /// One detector pass over a tile of up to three views (as the R, G, B channels; one
    /// view fills all three): the tile's probabilities, row by row.
    fn detect_tile(
        &self,
        views: &[&GrayImage],
        (tx, ty, tw, th): (usize, usize, usize, usize),
    ) -> Result<Vec<f32>> {
        let w = views[0].width as usize;
        let (pw, ph) = (tw.div_ceil(32) * 32, th.div_ceil(32) * 32);
        let mut input = vec![0f32; 3 * ph * pw];
        for c in 0..3 {
            let v = views[c % views.len()];
            let (mean, std) = (DET_MEAN[c], DET_STD[c]);
            let plane = &mut input[c * ph * pw..(c + 1) * ph * pw];
            // The padding is black.
            plane.fill(-mean / std);
            for y in 0..th {
                let row = &v.pixels[(ty + y) * w + tx..(ty + y) * w + tx + tw];
                for (d, &g) in plane[y * pw..y * pw + tw].iter_mut().zip(row) {
                    *d = (f32::from(g) / 255.0 - mean) / std;
                }
            }
        }
        let input = NdTensor::from_data([1, 3, ph, pw], input);
        let out = self
            .det
            .run_one(input.view().into(), None)
            .map_err(|e| Error::pixel(format!("text detection failed: {e}")))?;
        let map: NdTensor<f32, 4> = out
            .try_into()
            .map_err(|_| Error::pixel("text detector gave no probability map"))?;
        let map = map.to_contiguous();
        let map = map.data();
        let mw = map.len() / ph;
        Ok((0..th)
            .flat_map(|y| map[y * mw..y * mw + tw].iter().copied())
            .collect())
    }

    /// Reads one line: its text, mean confidence (0–1) and, per character, its column
    /// span in the box's own pixels.
    fn recognise(&self, image: &GrayImage, b: (u32, u32, u32, u32)) -> Result<Line> {
        let (x0, y0, x1, y1) = (b.0 as usize, b.1 as usize, b.2 as usize, b.3 as usize);
        let (bw, bh) = (x1 - x0, y1 - y0);
        let scale = REC_HEIGHT as f32 / bh as f32;
        let full = ((bw as f32 * scale).ceil() as usize).max(REC_HEIGHT / 4);
        let mut line = Line::default();
        // Long lines in pieces, each read alone.
        let mut start = 0usize;
        while start < full {
            let width = (full - start).min(REC_MAX_WIDTH);
            let mut plane = vec![0f32; REC_HEIGHT * width];
            for y in 0..REC_HEIGHT {
                let sy =
                    (y0 as f32 + (y as f32 + 0.5) / scale - 0.5).clamp(y0 as f32, (y1 - 1) as f32);
                for x in 0..width {
                    let sx = (x0 as f32 + ((start + x) as f32 + 0.5) / scale - 0.5)
                        .clamp(x0 as f32, (x1 - 1) as f32);
                    plane[y * width + x] = f32::from(bilinear(image, sx, sy)) / 127.5 - 1.0;
                }
            }
            let input = NdTensor::from_data([1, 3, REC_HEIGHT, width], plane.repeat(3));
            let out = self
                .rec
                .run_one(input.view().into(), None)
                .map_err(|e| Error::pixel(format!("text recognition failed: {e}")))?;
            let probs: NdTensor<f32, 3> = out
                .try_into()
                .map_err(|_| Error::pixel("text recogniser gave no output"))?;
            let (steps, classes) = (probs.size(1), probs.size(2));
            let probs = probs.to_contiguous();
            let probs = probs.data();
            let step_px = width as f32 / steps.max(1) as f32 / scale;
            let mut prev = 0;
            for s in 0..steps {
                let (mut best, mut p) = (0, f32::MIN);
                for (c, &v) in probs[s * classes..(s + 1) * classes].iter().enumerate() {
                    if v > p {
                        (best, p) = (c, v);
                    }
                }
                if best != 0 && best != prev {
                    let ch = self.chars.get(best).map(String::as_str).unwrap_or(" ");
                    let cx = (start as f32 / scale + s as f32 * step_px) as u32;
                    line.text.push_str(ch);
                    for _ in ch.chars() {
                        line.columns.push((cx, cx + step_px.ceil() as u32));
                    }
                    line.conf.push(p);
                }
                prev = best;
            }
            start += width;
        }
        Ok(line)
    }
}

#[derive(Default)]
struct Line {
    text: String,
    conf: Vec<f32>,
    columns: Vec<(u32, u32)>,
}

fn bilinear(image: &GrayImage, x: f32, y: f32) -> u8 {
    let w = image.width as usize;
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(image.height as usize - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |x: usize, y: usize| f32::from(image.pixels[y * w + x]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    (top * (1.0 - fy) + bottom * fy).round() as u8
}

/// Tiles (x, y, width, height) covering the image, overlapping by [`OVERLAP`].
fn tiles(w: usize, h: usize) -> Vec<(usize, usize, usize, usize)> {
    let starts = |n: usize| -> Vec<usize> {
        if n <= TILE {
            return vec![0];
        }
        let step = TILE - OVERLAP;
        let mut v: Vec<usize> = (0..)
            .map(|i| i * step)
            .take_while(|&s| s + TILE < n)
            .collect();
        v.push(n - TILE);
        v
    };
    let mut out = Vec::new();
    for &y in &starts(h) {
        for &x in &starts(w) {
            out.push((x, y, TILE.min(w - x), TILE.min(h - y)));
        }
    }
    out
}

/// The side of the blocks a tile is sorted into before detection.
const BLOCK: usize = 32;
/// Blocks of context around those with edges: with one (32 px) a small name at the
/// edge of a part of a 3072² radiograph was lost.
const GROW: usize = 2;

/// The blocks of [`BLOCK`] pixels of a part of a view (row by row) with the step edges
/// glyphs make: neighbouring pixels differing by more than a fifth of the range, at
/// least four times across and four times down.
fn edge_blocks(v: &GrayImage, tile: (usize, usize, usize, usize)) -> Vec<bool> {
    const NEEDED: u16 = 4;
    let (across, down) = edge_counts(v, tile);
    across
        .iter()
        .zip(&down)
        .map(|(&a, &d)| a >= NEEDED && d >= NEEDED)
        .collect()
}

/// Per block of [`BLOCK`] pixels of a part of a view (row by row), the steps between
/// horizontal and between vertical neighbours: pixels differing by more than a fifth of
/// the range.
fn edge_counts(
    v: &GrayImage,
    (tx, ty, tw, th): (usize, usize, usize, usize),
) -> (Vec<u16>, Vec<u16>) {
    const STEP: i16 = 48;
    let w = v.width as usize;
    let (bw, bh) = (tw.div_ceil(BLOCK), th.div_ceil(BLOCK));
    let (mut across, mut down) = (vec![0u16; bw * bh], vec![0u16; bw * bh]);
    for y in 0..th {
        let row = &v.pixels[(ty + y) * w + tx..(ty + y) * w + tx + tw];
        let below =
            (y + 1 < th).then(|| &v.pixels[(ty + y + 1) * w + tx..(ty + y + 1) * w + tx + tw]);
        let brow = (y / BLOCK) * bw;
        for x in 0..tw {
            let p = i16::from(row[x]);
            let b = brow + x / BLOCK;
            if x + 1 < tw && (p - i16::from(row[x + 1])).abs() > STEP {
                across[b] = across[b].saturating_add(1);
            }
            if below.is_some_and(|r| (p - i16::from(r[x])).abs() > STEP) {
                down[b] = down[b].saturating_add(1);
            }
        }
    }
    (across, down)
}

/// A view whose edges no other view has cover more than this share of an image's
/// blocks and more than [`OWN_EDGES_PX`] pixels shows noise or texture, not text.
const OWN_EDGES: f64 = 0.1;
/// The area of a 256² corner full of annotation lines: on a small image (a 128² CT
/// without a window) the stored range's text may be most of what has edges.
const OWN_EDGES_PX: usize = 256 * 256;

/// The views worth detecting on: the first (as displayed) and each other whose edges
/// are mostly where another view has them too. Annotation covers a small part of an
/// image, so a view with sharp edges over a large part no other view has shows noise or
/// texture at its mapping, not text: the extremes view of a radiograph whose background
/// is noise around the minimum. As a detector channel such a view hid clear text in the
/// others, and its edges kept half of each radiograph in the detector
/// (`bench/PIXEL.md`).
fn telling_views(views: &[GrayImage]) -> Vec<&GrayImage> {
    let Some(first) = views.first() else {
        return Vec::new();
    };
    let whole = (0, 0, first.width as usize, first.height as usize);
    let marks: Vec<Vec<bool>> = views.iter().map(|v| edge_blocks(v, whole)).collect();
    let blocks = marks[0].len().max(1) as f64;
    views
        .iter()
        .enumerate()
        .filter(|&(i, _)| {
            let own = (0..marks[i].len())
                .filter(|&b| marks[i][b] && !marks.iter().enumerate().any(|(j, m)| j != i && m[b]))
                .count();
            i == 0 || (own as f64) <= OWN_EDGES * blocks || own * BLOCK * BLOCK <= OWN_EDGES_PX
        })
        .map(|(_, v)| v)
        .collect()
}

/// The parts of a tile worth a detector pass: blocks of [`BLOCK`] pixels with the step
/// edges glyphs make (neighbouring pixels differing by more than a fifth of the range,
/// in both directions, in any view), grown by [`GROW`] blocks on every side so that a
/// line has its context, joined into rectangles (the bounding boxes of connected blocks). Smooth
/// anatomy and flat background have no such edges; text at any contrast a reader can see
/// has many. On a large radiograph most of the image is skipped; when the parts would
/// cover most of the tile, the tile is one part.
fn text_parts(
    views: &[&GrayImage],
    (tx, ty, tw, th): (usize, usize, usize, usize),
) -> Vec<(usize, usize, usize, usize)> {
    let (bw, bh) = (tw.div_ceil(BLOCK), th.div_ceil(BLOCK));
    let mut marked = vec![false; bw * bh];
    for v in views {
        for (m, e) in marked.iter_mut().zip(edge_blocks(v, (tx, ty, tw, th))) {
            *m |= e;
        }
    }
    grown_parts(&marked, (tx, ty, tw, th))
}

/// The parts of a tile of a view with high-contrast stripes ([`stripes::striped`]
/// blocks), grown and joined as [`text_parts`] does.
fn striped_parts(
    v: &GrayImage,
    tile: (usize, usize, usize, usize),
) -> Vec<(usize, usize, usize, usize)> {
    let (across, down) = edge_counts(v, tile);
    let marked: Vec<bool> = across
        .iter()
        .zip(&down)
        .map(|(&a, &d)| stripes::striped(a, d))
        .collect();
    grown_parts(&marked, tile)
}

/// The marked blocks of a tile grown by [`GROW`] blocks on every side, joined into the
/// bounding rectangles of connected blocks, in pixels; the whole tile when they would
/// cover most of it.
fn grown_parts(
    marked: &[bool],
    (tx, ty, tw, th): (usize, usize, usize, usize),
) -> Vec<(usize, usize, usize, usize)> {
    let (bw, bh) = (tw.div_ceil(BLOCK), th.div_ceil(BLOCK));
    let mut grown = vec![false; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            if marked[by * bw + bx] {
                for y in by.saturating_sub(GROW)..(by + GROW + 1).min(bh) {
                    for x in bx.saturating_sub(GROW)..(bx + GROW + 1).min(bw) {
                        grown[y * bw + x] = true;
                    }
                }
            }
        }
    }
    // Connected blocks (8-neighbour) and their bounding rectangles, in blocks.
    let mut seen = vec![false; bw * bh];
    let mut rects = Vec::new();
    let mut stack = Vec::new();
    for start in 0..bw * bh {
        if !grown[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (bw, bh, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            for ny in y.saturating_sub(1)..(y + 2).min(bh) {
                for nx in x.saturating_sub(1)..(x + 2).min(bw) {
                    let j = ny * bw + nx;
                    if grown[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        rects.push((x0, y0, x1, y1));
    }
    let area: usize = rects.iter().map(|r| (r.2 - r.0) * (r.3 - r.1)).sum();
    if area * 4 >= bw * bh * 3 {
        return vec![(tx, ty, tw, th)];
    }
    rects
        .into_iter()
        .map(|(x0, y0, x1, y1)| {
            let (px, py) = (tx + x0 * BLOCK, ty + y0 * BLOCK);
            let pw = (x1 * BLOCK).min(tw) - x0 * BLOCK;
            let ph = (y1 * BLOCK).min(th) - y0 * BLOCK;
            (px, py, pw, ph)
        })
        .collect()
}

impl TextDetector for Ocr {
    /// Runs on a thread of its own: rten runs a model in its rayon pool, and a batch
    /// worker of another rayon pool that waits for it takes other files meanwhile (every
    /// file of a batch open at once: 3.8 GB on the dev set). A plain thread just waits.
    fn words(&self, views: &[GrayImage], read: Read) -> Result<Vec<Word>> {
        std::thread::scope(|s| {
            s.spawn(|| self.read_words(views, read))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Ocr {
    fn read_words(&self, views: &[GrayImage], read: Read) -> Result<Vec<Word>> {
        let Some(image) = views.first() else {
            return Ok(Vec::new());
        };
        if image.width < 8 || image.height < 8 {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let found = self.detect(views)?;
        let detected = started.elapsed();
        let mut words = Vec::new();
        for (x0, y0, x1, y1, score) in found {
            let want = match read {
                Read::All => true,
                Read::Short(max_aspect) => (x1 - x0) <= max_aspect * (y1 - y0),
            };
            if !want {
                words.push(Word {
                    x0,
                    y0,
                    x1,
                    y1,
                    text: String::new(),
                    confidence: score * 100.0,
                    columns: Vec::new(),
                });
                continue;
            }
            // Read from the view where the line stands out most.
            let view = clearest(views, (x0, y0, x1, y1));
            let line = self.recognise(view, (x0, y0, x1, y1))?;
            let conf = if line.conf.is_empty() {
                0.0
            } else {
                line.conf.iter().sum::<f32>() / line.conf.len() as f32
            };
            if y1 - y0 > REC_HEIGHT as u32 && conf < NOT_TEXT_CONFIDENCE {
                continue;
            }
            words.push(Word {
                x0,
                y0,
                x1,
                y1,
                text: line.text,
                confidence: conf * 100.0,
                columns: line
                    .columns
                    .iter()
                    .map(|&(a, b)| (x0 + a, (x0 + b).min(x1)))
                    .collect(),
            });
        }
        tracing::debug!(
            width = image.width,
            height = image.height,
            lines = words.len(),
            detect_ms = detected.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "text detection"
        );
        Ok(words)
    }
}

/// The view with the widest spread of grey values inside a box.
fn clearest(views: &[GrayImage], (x0, y0, x1, y1): (u32, u32, u32, u32)) -> &GrayImage {
    let spread = |v: &GrayImage| {
        let w = v.width as usize;
        let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
        for y in y0 as usize..y1 as usize {
            for &g in &v.pixels[y * w + x0 as usize..y * w + x1 as usize] {
                let g = f64::from(g);
                n += 1.0;
                sum += g;
                sq += g * g;
            }
        }
        let mean = sum / n.max(1.0);
        sq / n.max(1.0) - mean * mean
    };
    views
        .iter()
        .max_by(|a, b| spread(a).total_cmp(&spread(b)))
        .expect("at least one view")
}

/// A detector that remembers the words of the images it saw, so that the workbench's box
/// list and its Apply read the same words without running OCR twice. Bounded; in memory
/// only, like the session's files. Runs one image at a time: an inference's working
/// memory (tens of MiB for a 1024² tile) is outside the server's memory budget, and the
/// runtime already spreads one inference over the cores.
pub struct Cached {
    inner: Arc<dyn TextDetector>,
    seen: Mutex<Seen>,
    running: Mutex<()>,
}

/// Words by image hash and reading, and the keys oldest first.
type Seen = (HashMap<u64, Vec<Word>>, VecDeque<u64>);

const CACHE_IMAGES: usize = 512;

impl Cached {
    pub fn new(inner: Arc<dyn TextDetector>) -> Cached {
        Cached {
            inner,
            seen: Mutex::default(),
            running: Mutex::default(),
        }
    }
}

impl TextDetector for Cached {
    fn words(&self, views: &[GrayImage], read: Read) -> Result<Vec<Word>> {
        let mut h = DefaultHasher::new();
        for v in views {
            (v.width, v.height, &v.pixels).hash(&mut h);
        }
        read.hash(&mut h);
        let key = h.finish();
        let cached = |seen: &Mutex<Seen>| seen.lock().expect("cache lock").0.get(&key).cloned();
        if let Some(w) = cached(&self.seen) {
            return Ok(w);
        }
        // A panicking detector poisons nothing that matters: the guard only orders runs.
        let _running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        // The same image may have been read while this one waited.
        if let Some(w) = cached(&self.seen) {
            return Ok(w);
        }
        let words = self.inner.words(views, read)?;
        let mut seen = self.seen.lock().expect("cache lock");
        let (map, order) = &mut *seen;
        if map.insert(key, words.clone()).is_none() {
            order.push_back(key);
        }
        while order.len() > CACHE_IMAGES {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        Ok(words)
    }
}

/// A detector loaded on first use, so that a run that never reads pixels never loads the
/// models.
pub struct Lazy {
    dir: Option<std::path::PathBuf>,
    ocr: OnceLock<std::result::Result<Ocr, String>>,
}

impl Lazy {
    pub fn new(dir: Option<std::path::PathBuf>) -> Lazy {
        Lazy {
            dir,
            ocr: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&Ocr> {
        self.ocr
            .get_or_init(|| {
                match &self.dir {
                    Some(d) => Ocr::from_dir(d),
                    None => Ocr::embedded(),
                }
                .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Error::pixel(e.clone()))
    }
}

impl TextDetector for Lazy {
    fn words(&self, views: &[GrayImage], read: Read) -> Result<Vec<Word>> {
        self.get()?.words(views, read)
    }
}

/// The process's detector: the embedded models, or those of `--ocr-models DIR` when
/// [`use_models_from`] was called first. Loaded on first use.
pub fn detector() -> Arc<dyn TextDetector> {
    shared().clone()
}

/// Loads the process's detector now. The batch tool does so before its worker pool
/// starts: a worker waiting for inference may take another file, which must not find
/// the models half-loaded by its own thread.
pub fn preload() -> Result<()> {
    shared().get().map(|_| ())
}

fn shared() -> &'static Arc<Lazy> {
    static SHARED: OnceLock<Arc<Lazy>> = OnceLock::new();
    SHARED.get_or_init(|| Arc::new(Lazy::new(MODELS_DIR.get().cloned())))
}

static MODELS_DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

/// Makes [`detector`] load the models of `dir` instead of the embedded ones, checking
/// now that they load. Call before the first [`detector`].
pub fn use_models_from(dir: &Path) -> Result<()> {
    Ocr::from_dir(dir)?;
    MODELS_DIR
        .set(dir.to_path_buf())
        .map_err(|_| Error::pixel("the OCR models were already chosen"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_cover_with_overlap() {
        assert_eq!(tiles(512, 300), [(0, 0, 512, 300)]);
        let t = tiles(2000, 1100);
        assert!(t.iter().all(|&(_, _, w, h)| w <= TILE && h <= TILE));
        let xs: Vec<usize> = t.iter().filter(|t| t.1 == 0).map(|t| t.0).collect();
        assert_eq!(xs, [0, 960, 976]);
        assert_eq!(t.last(), Some(&(976, 76, 1024, 1024)));
    }

    #[test]
    fn a_view_of_noise_is_left_out_a_small_one_with_text_kept() {
        let (w, h) = (512usize, 512usize);
        let flat = |g: u8| GrayImage {
            width: w as u32,
            height: h as u32,
            pixels: vec![g; w * h],
        };
        let mut shown = flat(40);
        for y in 20..30 {
            for x in (20..80).step_by(3) {
                shown.pixels[y * w + x] = 255;
            }
        }
        // Salt and pepper over the lower half, as the extremes view of a radiograph
        // whose background is noise around the minimum.
        let mut noise = shown.clone();
        let mut state = 7u32;
        for p in &mut noise.pixels[w * h / 2..] {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *p = if state >> 16 & 1 == 1 { 0 } else { 128 };
        }
        let views = [shown.clone(), noise];
        let kept = telling_views(&views);
        assert_eq!(kept.len(), 1);
        assert!(std::ptr::eq(kept[0], &views[0]));
        // Text only in the second view of a small image: a third of its blocks, kept.
        let small = |pixels: Vec<u8>| GrayImage {
            width: 128,
            height: 128,
            pixels,
        };
        let mut text = vec![30u8; 128 * 128];
        for y in 10..40 {
            for x in (10..120).step_by(3) {
                text[y * 128 + x] = 255;
            }
        }
        let views = [small(vec![0; 128 * 128]), small(text)];
        assert_eq!(telling_views(&views).len(), 2);
    }

    #[test]
    fn only_parts_with_sharp_edges_are_detected() {
        let (w, h) = (320usize, 256usize);
        let smooth: Vec<u8> = (0..w * h).map(|i| ((i % w) * 3 / 4) as u8).collect();
        let img = GrayImage {
            width: w as u32,
            height: h as u32,
            pixels: smooth,
        };
        assert!(text_parts(&[&img], (0, 0, w, h)).is_empty());
        let mut text = img.clone();
        for y in 100..110 {
            for x in (200..230).step_by(4) {
                text.pixels[y * w + x] = 255;
            }
        }
        for x in 200..230 {
            text.pixels[100 * w + x] = 255;
        }
        // The blocks of the "glyphs" (x 192..256, y 96..128) and two blocks around them,
        // clipped to the image.
        assert_eq!(
            text_parts(&[&img, &text], (0, 0, w, h)),
            [(128, 32, 192, 160)]
        );
    }
}
