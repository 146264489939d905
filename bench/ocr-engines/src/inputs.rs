//! The benchmark's inputs, prepared as `crates/dcmask/src/ocr.rs` prepares them: real
//! images from the corpus read at their stored range into 8 bits, fictitious header-like
//! text drawn in at the image's maximum (as devices and PACS overlays draw it), then
//! normalised to [-1, 1] on three equal channels. The recogniser gets 48 px high crops of
//! the drawn lines, resized bilinearly as ocr.rs does.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use anyhow::{Context, Result};
use dicom_pixeldata::PixelDecoder;
use std::path::Path;

/// An 8-bit grey image.
pub struct Grey {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
}

/// A detector input: 1×3×h×w, sides multiples of 32.
pub struct DetInput {
    pub name: String,
    pub w: usize,
    pub h: usize,
    pub data: Vec<f32>,
}

/// A recogniser input: 1×3×48×w.
pub struct RecInput {
    pub name: String,
    pub w: usize,
    pub data: Vec<f32>,
    /// The text drawn there, when the crop is of a drawn line.
    pub truth: Option<String>,
}

pub const REC_HEIGHT: usize = 48;
const REC_MAX_WIDTH: usize = 960;

/// The first frame at its stored range (modality values, min to max) in 8 bits.
fn read_dicom(path: &Path) -> Result<Grey> {
    let obj = dicom_object::open_file(path).with_context(|| format!("{}", path.display()))?;
    let pix = obj.decode_pixel_data()?;
    let (w, h) = (pix.columns() as usize, pix.rows() as usize);
    let spp = pix.samples_per_pixel() as usize;
    let v: Vec<f32> = pix.to_vec_frame(0)?;
    let v: Vec<f32> = v.chunks(spp).map(|c| c[0]).collect();
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let span = (hi - lo).max(1.0);
    let px = v
        .iter()
        .map(|&x| ((x - lo) / span * 255.0).round() as u8)
        .collect();
    Ok(Grey { w, h, px })
}

fn crop(g: &Grey, x: usize, y: usize, w: usize, h: usize) -> Grey {
    let mut px = Vec::with_capacity(w * h);
    for r in y..y + h {
        px.extend_from_slice(&g.px[r * g.w + x..r * g.w + x + w]);
    }
    Grey { w, h, px }
}

/// Draws `text` with its top-left at (x, y) in white; returns its box (x0, y0, x1, y1).
fn draw(g: &mut Grey, font: &FontVec, px: f32, x: f32, y: f32, text: &str) -> [usize; 4] {
    let f = font.as_scaled(PxScale::from(px));
    let base = y + f.ascent();
    let mut pen = x;
    let mut prev = None;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for ch in text.chars() {
        let id = f.glyph_id(ch);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(px), ab_glyph::point(pen, base));
        pen += f.h_advance(id);
        prev = Some(id);
        if let Some(o) = font.outline_glyph(glyph) {
            let b = o.px_bounds();
            o.draw(|gx, gy, c| {
                let (xx, yy) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if xx >= 0 && yy >= 0 && (xx as usize) < g.w && (yy as usize) < g.h {
                    let (xx, yy) = (xx as usize, yy as usize);
                    let d = &mut g.px[yy * g.w + xx];
                    *d = (f32::from(*d) * (1.0 - c) + 255.0 * c).round() as u8;
                    (x0, y0, x1, y1) = (x0.min(xx), y0.min(yy), x1.max(xx + 1), y1.max(yy + 1));
                }
            });
        }
    }
    [x0, y0, x1, y1]
}

/// Fictitious overlay lines (none is a real person's).
const LINES: &[&str] = &[
    "DOE^JANE MARIE",
    "ID 4827193-X",
    "DOB 1961-03-14",
    "St. Elsewhere General Hospital",
    "2024/11/05 14:32:07",
    "SMITH, JOHN A  M 63Y",
    "Acc# A1209345",
    "Ref: Dr. K. Nakamura",
];

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
];

/// Draws four lines, two in the top corners and two at the bottom, sizes 10–16 px.
fn annotate(g: &mut Grey, fonts: &[FontVec], seed: usize, boxes: &mut Vec<(String, [usize; 4])>) {
    let sizes = [12.0, 16.0, 10.0, 14.0];
    for k in 0..4 {
        let text = LINES[(seed + k) % LINES.len()];
        let font = &fonts[(seed + k) % fonts.len()];
        let size = sizes[k];
        let x = if k % 2 == 0 { 8.0 } else { g.w as f32 * 0.55 };
        let y = if k < 2 { 8.0 } else { g.h as f32 - 30.0 };
        let b = draw(g, font, size, x, y, text);
        boxes.push((text.to_string(), b));
    }
    // One line mid-image, over anatomy.
    let text = LINES[(seed + 4) % LINES.len()];
    let b = draw(g, &fonts[0], 13.0, g.w as f32 * 0.3, g.h as f32 * 0.5, text);
    boxes.push((text.to_string(), b));
}

/// The detector's input for a whole image (ocr.rs: `detect_tile`).
pub fn det_input(name: &str, g: &Grey) -> DetInput {
    let (pw, ph) = (g.w.div_ceil(32) * 32, g.h.div_ceil(32) * 32);
    let mut data = vec![-1f32; 3 * ph * pw];
    for c in 0..3 {
        let plane = &mut data[c * ph * pw..(c + 1) * ph * pw];
        for y in 0..g.h {
            for x in 0..g.w {
                plane[y * pw + x] = f32::from(g.px[y * g.w + x]) / 127.5 - 1.0;
            }
        }
    }
    DetInput {
        name: name.into(),
        w: pw,
        h: ph,
        data,
    }
}

fn bilinear(g: &Grey, x: f32, y: f32) -> u8 {
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(g.w - 1), (y0 + 1).min(g.h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |x: usize, y: usize| f32::from(g.px[y * g.w + x]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    (top * (1.0 - fy) + bottom * fy).round() as u8
}

/// The recogniser's input for a box (ocr.rs: `recognise`; boxes here fit in one piece).
pub fn rec_input(name: String, g: &Grey, b: [usize; 4], truth: Option<String>) -> RecInput {
    let [x0, y0, x1, y1] = b;
    let (bw, bh) = (x1 - x0, y1 - y0);
    let scale = REC_HEIGHT as f32 / bh as f32;
    let width = ((bw as f32 * scale).ceil() as usize).clamp(REC_HEIGHT / 4, REC_MAX_WIDTH);
    let mut plane = vec![0f32; REC_HEIGHT * width];
    for y in 0..REC_HEIGHT {
        let sy = (y0 as f32 + (y as f32 + 0.5) / scale - 0.5).clamp(y0 as f32, (y1 - 1) as f32);
        for x in 0..width {
            let sx = (x0 as f32 + (x as f32 + 0.5) / scale - 0.5).clamp(x0 as f32, (x1 - 1) as f32);
            plane[y * width + x] = f32::from(bilinear(g, sx, sy)) / 127.5 - 1.0;
        }
    }
    RecInput {
        name,
        w: width,
        data: plane.repeat(3),
        truth,
    }
}

/// A drawn line's box grown as the DB detector's unclip grows it (ratio 1.5).
fn unclip(b: [usize; 4], g: &Grey) -> [usize; 4] {
    let (bw, bh) = ((b[2] - b[0]) as f32, (b[3] - b[1]) as f32);
    let d = (bw * bh * 1.5 / (2.0 * (bw + bh))).min(bh);
    [
        (b[0] as f32 - d).max(0.0) as usize,
        (b[1] as f32 - d).max(0.0) as usize,
        ((b[2] as f32 + d) as usize).min(g.w),
        ((b[3] as f32 + d) as usize).min(g.h),
    ]
}

/// The images (for later crops) and their detector and recogniser inputs.
pub struct Inputs {
    pub images: Vec<(String, Grey)>,
    pub det: Vec<DetInput>,
    pub rec: Vec<RecInput>,
}

pub fn build(corpus: &Path) -> Result<Inputs> {
    let fonts: Vec<FontVec> = FONTS
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| p.to_string())?;
            FontVec::try_from_vec(bytes).map_err(|e| anyhow::anyhow!("{p}: {e}"))
        })
        .collect::<Result<_>>()?;
    let ct = read_dicom(&corpus.join("pydicom-data/693_UNCR.dcm"))?;
    let cr = read_dicom(&corpus.join("pydicom-data/RG3_UNCR.dcm"))?;
    let cr = crop(&cr, (cr.w - 736) / 2, (cr.h - 736) / 2, 736, 736);
    let mr = read_dicom(&corpus.join("pydicom-data/MR2_UNCR.dcm"))?;
    let us = read_dicom(&corpus.join("deid-data/ultrasounds/GREYSCALE_IMAGE.dcm"))?;
    let mut images = Vec::new();
    let mut rec = Vec::new();
    for (i, (name, mut g)) in [("CT 512x512", ct), ("CR 736x736", cr), ("MR 1024x1024", mr)]
        .into_iter()
        .enumerate()
    {
        let mut boxes = Vec::new();
        annotate(&mut g, &fonts, i * 3, &mut boxes);
        for (k, (text, b)) in boxes.into_iter().enumerate() {
            let b = unclip(b, &g);
            rec.push(rec_input(format!("{name} line {k}"), &g, b, Some(text)));
        }
        images.push((name.to_string(), g));
    }
    // The ultrasound keeps its own device text (deid-data's fictitious patient).
    images.push(("US 1024x768 (real device text)".into(), us));
    let det = images.iter().map(|(n, g)| det_input(n, g)).collect();
    Ok(Inputs { images, det, rec })
}
