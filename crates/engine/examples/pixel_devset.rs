//! The +Pixel development set: real images of the corpus with their own header's
//! identifying values burned into the pixels, and the ground-truth box of every text.
//!
//! `cargo run --release -p dcmask-engine --example pixel_devset -- OUT_DIR [--seed N] [--per-image N]`
//!
//! Writes `OUT_DIR/images/NNNN.dcm` (native Explicit VR Little Endian, the source's own
//! header and window kept) and `OUT_DIR/truth.json`. Texts are the patient's name in
//! several orders and cases, the patient ID, birth and study dates in several formats
//! and the institution, in DejaVu and Liberation fonts (Debian `fonts-dejavu-core`,
//! `fonts-liberation`) at 9–20 px, drawn at the stored maximum or minimum (or at the
//! frame's own extreme), over anatomy or over black, in corners and mid-image, with and
//! without anti-aliasing; plus short safe annotations (laterality, view labels, units)
//! that the default policy keeps. The deid-data ultrasounds with real device text are
//! added unchanged with hand-placed boxes. The same seed gives the same set.
//! `bench/pixel_bench.sh` scores `dcmask anonymize --profile pixel` on it.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use std::path::{Path, PathBuf};

/// Corpus images the texts are drawn on, and how many variants of each.
const SOURCES: [(&str, u32); 16] = [
    ("pydicom-data/693_UNCR.dcm", 14),
    ("pydicom-data/eCT_Supplemental.dcm", 6),
    ("pydicom/test_files/CT_small.dcm", 4),
    ("deid-data/humans/ctbrain1.dcm", 4),
    ("pydicom-data/MR2_UNCR.dcm", 8),
    ("nibabel/1.dcm", 6),
    ("nibabel/0.dcm", 6),
    ("nibabel/siemens_dwi_0.dcm", 6),
    ("nibabel/philips_mprage.dcm", 3),
    ("pydicom-data/RG1_UNCR.dcm", 8),
    ("pydicom-data/RG3_UNCR.dcm", 8),
    ("deid-data/animals/cat.dcm", 8),
    ("pydicom-data/US1_UNCR.dcm", 4),
    ("pydicom-data/vlut_04.dcm", 4),
    ("pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm", 4),
    ("pydicom/test_files/examples_rgb_color.dcm", 3),
];

/// Real device text: (file, rough word regions x0,y0,x1,y1 and kind); the tight box is
/// the bright ink inside each region.
/// A region of a real image's text: x0, y0, x1, y1 and the kind of value.
type Region = (u32, u32, u32, u32, &'static str);

const DEVICE_TEXT: [(&str, &[Region]); 2] = [
    (
        "deid-data/ultrasounds/GREYSCALE_IMAGE.dcm",
        &[
            (0, 0, 152, 24, "name"),
            (155, 0, 295, 24, "id"),
            (430, 0, 530, 24, "date"),
            (555, 0, 700, 24, "institution"),
            (810, 0, 915, 24, "date"),
        ],
    ),
    (
        "deid-data/ultrasounds/GREYSCALE_CINE.dcm",
        &[
            (0, 0, 142, 18, "name"),
            (144, 0, 230, 18, "id"),
            (335, 0, 415, 18, "date"),
            (438, 0, 545, 18, "institution"),
            (685, 0, 755, 18, "date"),
        ],
    ),
];

const FONTS: [&str; 9] = [
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSans-Bold.ttf",
    "dejavu/DejaVuSansMono.ttf",
    "dejavu/DejaVuSerif.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "liberation/LiberationSans-Bold.ttf",
    "liberation/LiberationMono-Regular.ttf",
    "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationSansNarrow-Regular.ttf",
];

const FIRST: [&str; 10] = [
    "JOHN", "MARIA", "AHMED", "OLGA", "PEDRO", "AIKO", "FATIMA", "NILS", "GRACE", "KWAME",
];
const LAST: [&str; 10] = [
    "ABERNATHY",
    "KOWALSKI",
    "OKAFOR",
    "TANAKA",
    "MULLER",
    "SILVA",
    "NGUYEN",
    "DOUGLAS",
    "FITZGERALD",
    "BRANDT",
];
const INSTITUTIONS: [&str; 6] = [
    "ST MARY GENERAL HOSPITAL",
    "Riverside Medical Center",
    "CLINIQUE DU PARC",
    "Northfield Imaging",
    "UNIVERSITY HOSPITAL WEST",
    "Lakeside Radiology",
];
/// Annotations the default policy keeps (`data/pixel-safe-text.csv`).
const SAFE: [&str; 9] = [
    "L", "R", "AP", "PA", "PORTABLE", "SUPINE", "ERECT", "LAT", "cm",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(serde::Serialize)]
struct TruthBox {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    kind: String,
    identifying: bool,
}

#[derive(serde::Serialize)]
struct Truth {
    file: String,
    source: String,
    modality: String,
    rows: u32,
    cols: u32,
    frames: u32,
    photometric: String,
    bits_stored: u16,
    boxes: Vec<TruthBox>,
}

/// The decoded stored samples of every frame, one `i32` per sample, interleaved.
struct Samples {
    rows: usize,
    cols: usize,
    spp: usize,
    frames: usize,
    bits_stored: u16,
    signed: bool,
    data: Vec<i32>,
}

impl Samples {
    fn decode(obj: &DefaultDicomObject) -> Samples {
        let d = obj.decode_pixel_data().expect("decodable source");
        let (rows, cols) = (d.rows() as usize, d.columns() as usize);
        let spp = d.samples_per_pixel() as usize;
        let frames = d.number_of_frames().max(1) as usize;
        let signed = d.pixel_representation() as u16 == 1;
        let bits_stored = d.bits_stored();
        let raw = d.data();
        let n = rows * cols * spp * frames;
        let data: Vec<i32> = match (d.bits_allocated(), signed) {
            (8, _) => raw[..n].iter().map(|&b| i32::from(b)).collect(),
            (16, false) => raw[..2 * n]
                .chunks_exact(2)
                .map(|c| i32::from(u16::from_le_bytes([c[0], c[1]]) & mask(bits_stored)))
                .collect(),
            (16, true) => raw[..2 * n]
                .chunks_exact(2)
                .map(|c| {
                    let v = u16::from_le_bytes([c[0], c[1]]) & mask(bits_stored);
                    let shift = 16 - bits_stored;
                    i32::from(((v << shift) as i16) >> shift)
                })
                .collect(),
            (b, _) => panic!("bits allocated {b} not used in the dev set"),
        };
        let data = if spp > 1
            && d.planar_configuration() == dicom_pixeldata::PlanarConfiguration::PixelFirst
        {
            // Planar (R plane, G plane, B plane per frame) to interleaved.
            let plane = rows * cols;
            let mut v = vec![0; data.len()];
            for f in 0..frames {
                for s in 0..spp {
                    for i in 0..plane {
                        v[(f * plane + i) * spp + s] = data[(f * spp + s) * plane + i];
                    }
                }
            }
            v
        } else {
            data
        };
        Samples {
            rows,
            cols,
            spp,
            frames,
            bits_stored,
            signed,
            data,
        }
    }

    fn range(&self) -> (i32, i32) {
        if self.signed {
            let h = 1i32 << (self.bits_stored - 1);
            (-h, h - 1)
        } else {
            (0, (1i32 << self.bits_stored) - 1)
        }
    }

    fn frame_extremes(&self) -> (i32, i32) {
        let n = self.rows * self.cols * self.spp;
        let f = &self.data[..n];
        (*f.iter().min().unwrap(), *f.iter().max().unwrap())
    }

    /// Mean of the first sample over a box of frame 0.
    fn mean(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f64 {
        let mut s = 0f64;
        let mut n = 0f64;
        for y in y0..y1.min(self.rows) {
            for x in x0..x1.min(self.cols) {
                s += f64::from(self.data[(y * self.cols + x) * self.spp]);
                n += 1.0;
            }
        }
        s / n.max(1.0)
    }

    /// Writes the samples back as native pixel data (Bits Allocated 8 or 16).
    fn store(&self, obj: &mut DefaultDicomObject, bits_allocated: u16) {
        let value = if bits_allocated == 8 {
            let mut v: Vec<u8> = self.data.iter().map(|&s| s as u8).collect();
            if v.len() % 2 == 1 {
                v.push(0);
            }
            DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(v.into()))
        } else {
            let m = mask(self.bits_stored);
            let v: Vec<u16> = self.data.iter().map(|&s| (s as u16) & m).collect();
            DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(v.into()))
        };
        obj.put(value);
    }
}

fn mask(bits: u16) -> u16 {
    if bits >= 16 {
        u16::MAX
    } else {
        (1u16 << bits) - 1
    }
}

fn text(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_string())
        .filter(|s| s.len() >= 2 && !s.to_ascii_lowercase().contains("anonym"))
}

/// The identifying values of the variant: the header's where it has real-looking ones,
/// else fictitious ones written into the header, so that header and pixels agree.
fn identity(obj: &mut DefaultDicomObject, rng: &mut Rng) -> [String; 5] {
    let mut name = text(obj, tags::PATIENT_NAME).filter(|n| n.contains('^'));
    if name.is_none() || rng.chance(0.5) {
        name = Some(format!("{}^{}", rng.pick(&LAST), rng.pick(&FIRST)));
    }
    let id = text(obj, tags::PATIENT_ID)
        .filter(|i| i.len() >= 5 && !rng.chance(0.5))
        .unwrap_or_else(|| format!("{}", 10_000_000 + rng.below(89_999_999)));
    let birth = text(obj, tags::PATIENT_BIRTH_DATE)
        .filter(|d| d.len() == 8 && !rng.chance(0.3))
        .unwrap_or_else(|| {
            format!(
                "{}{:02}{:02}",
                1930 + rng.below(70),
                1 + rng.below(12),
                1 + rng.below(28)
            )
        });
    let study = text(obj, tags::STUDY_DATE)
        .filter(|d| d.len() == 8)
        .unwrap_or_else(|| {
            format!(
                "20{:02}{:02}{:02}",
                10 + rng.below(15),
                1 + rng.below(12),
                1 + rng.below(28)
            )
        });
    let inst = text(obj, tags::INSTITUTION_NAME)
        .filter(|_| rng.chance(0.3))
        .unwrap_or_else(|| rng.pick(&INSTITUTIONS).to_string());
    let put = |obj: &mut DefaultDicomObject, tag, vr, v: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    };
    put(obj, tags::PATIENT_NAME, VR::PN, name.as_deref().unwrap());
    put(obj, tags::PATIENT_ID, VR::LO, &id);
    put(obj, tags::PATIENT_BIRTH_DATE, VR::DA, &birth);
    put(obj, tags::STUDY_DATE, VR::DA, &study);
    put(obj, tags::INSTITUTION_NAME, VR::LO, &inst);
    [name.unwrap(), id, birth, study, inst]
}

fn spell_name(pn: &str, rng: &mut Rng) -> String {
    let mut parts = pn.split('^');
    let last = parts.next().unwrap_or_default().to_string();
    let first = parts.next().unwrap_or_default().to_string();
    let title = |s: &str| {
        let l = s.to_lowercase();
        let mut c = l.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    match rng.below(6) {
        0 => format!("{last}, {first}"),
        1 => format!("{} {}", title(&first), title(&last)),
        2 => format!("{last} {first}"),
        3 => format!("{}, {}", title(&last), title(&first)),
        4 => format!("{}^{}", last, first),
        _ => format!("{} {}", first.to_lowercase(), last.to_lowercase()),
    }
}

fn spell_date(da: &str, rng: &mut Rng) -> String {
    let (y, m, d) = (&da[0..4], &da[4..6], &da[6..8]);
    let mi: usize = m.parse::<usize>().unwrap_or(1).clamp(1, 12);
    match rng.below(6) {
        0 => format!("{y}-{m}-{d}"),
        1 => format!("{d}/{m}/{y}"),
        2 => format!("{m}/{d}/{y}"),
        3 => format!("{} {} {y}", d.trim_start_matches('0'), MONTHS[mi - 1]),
        4 => format!("{d}.{m}.{y}"),
        _ => da.to_string(),
    }
}

/// The texts of one variant: (text, kind, identifying).
fn texts(id: &[String; 5], rng: &mut Rng) -> Vec<(String, &'static str, bool)> {
    let mut v = vec![
        (spell_name(&id[0], rng), "name", true),
        (
            match rng.below(3) {
                0 => id[1].clone(),
                1 => format!("ID: {}", id[1]),
                _ => format!("MRN {}", id[1]),
            },
            "id",
            true,
        ),
        (
            match rng.below(2) {
                0 => format!("DOB: {}", spell_date(&id[2], rng)),
                _ => spell_date(&id[2], rng),
            },
            "date",
            true,
        ),
        (spell_date(&id[3], rng), "date", true),
    ];
    if rng.chance(0.7) {
        let inst = if rng.chance(0.3) {
            id[4].to_uppercase()
        } else {
            id[4].clone()
        };
        v.push((inst, "institution", true));
    }
    for _ in 0..1 + rng.below(2) {
        let s = *rng.pick(&SAFE);
        let s = if s == "cm" {
            format!("{} cm", 1 + rng.below(10))
        } else {
            s.to_string()
        };
        v.push((s, "safe", false));
    }
    v
}

/// Glyph coverage of a text line: (width, height, coverage row-major) with the ink's
/// tight box, or `None` when nothing is inked.
fn rasterize(font: &FontVec, size: f32, s: &str) -> (usize, usize, Vec<f32>) {
    let scale = PxScale::from(size);
    let sf = font.as_scaled(scale);
    let mut glyphs = Vec::new();
    let mut x = 0f32;
    let mut prev = None;
    for ch in s.chars() {
        let id = font.glyph_id(ch);
        if let Some(p) = prev {
            x += sf.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, ab_glyph::point(x, sf.ascent())));
        x += sf.h_advance(id);
        prev = Some(id);
    }
    let w = x.ceil() as usize + 2;
    let h = (sf.ascent() - sf.descent()).ceil() as usize + 2;
    let mut cov = vec![0f32; w * h];
    for g in glyphs {
        if let Some(o) = font.outline_glyph(g) {
            let b = o.px_bounds();
            o.draw(|gx, gy, c| {
                let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                    let i = py as usize * w + px as usize;
                    cov[i] = (cov[i] + c).min(1.0);
                }
            });
        }
    }
    (w, h, cov)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(args.get(1).expect("OUT_DIR"));
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let seed = flag("--seed", 1);
    let per_image_scale = flag("--per-image", 100);
    let corpus =
        PathBuf::from(std::env::var("DCMASK_CORPUS").unwrap_or_else(|_| "../shared/corpus".into()));
    let fonts: Vec<FontVec> = FONTS
        .iter()
        .map(|f| {
            let p = Path::new("/usr/share/fonts/truetype").join(f);
            let bytes = std::fs::read(&p).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (install fonts-dejavu-core and fonts-liberation)",
                    p.display()
                )
            });
            FontVec::try_from_vec(bytes).expect("a TrueType font")
        })
        .collect();
    std::fs::create_dir_all(out.join("images")).expect("output folder");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut truth = Vec::new();
    let mut n = 0u32;

    for (src, count) in SOURCES {
        let count = (count as u64 * per_image_scale).div_ceil(100) as u32;
        let path = corpus.join(src);
        let original = open_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for _ in 0..count {
            let mut obj = original.clone();
            let mut s = Samples::decode(&original);
            let bits_allocated = if s.bits_stored <= 8 { 8 } else { 16 };
            let id = identity(&mut obj, &mut rng);
            let (rmin, rmax) = s.range();
            let (fmin, fmax) = s.frame_extremes();
            let (rows, cols) = (s.rows, s.cols);
            let mut boxes: Vec<TruthBox> = Vec::new();
            let mut taken: Vec<(usize, usize, usize, usize)> = Vec::new();
            for (i, (t, kind, identifying)) in texts(&id, &mut rng).into_iter().enumerate() {
                let font = rng.pick(&fonts);
                let max_size = ((rows.min(cols) / 12) as u64).clamp(9, 20);
                let size = (9 + rng.below(max_size - 8)) as f32;
                let (w, h, cov) = rasterize(font, size, &t);
                if w + 4 >= cols || h + 4 >= rows {
                    continue;
                }
                // Corners for the first texts, then anywhere; a free place.
                let mut placed = None;
                for _ in 0..50 {
                    let corner = i < 4 && rng.chance(0.6);
                    let (x, y) = if corner {
                        let right = rng.chance(0.5);
                        let bottom = rng.chance(0.5);
                        let dx = 2 + rng.below(10) as usize;
                        let dy = 2 + rng.below((rows / 6).max(3) as u64) as usize;
                        (
                            if right { cols - w - dx } else { dx },
                            if bottom {
                                rows.saturating_sub(h + dy)
                            } else {
                                dy
                            },
                        )
                    } else {
                        (
                            rng.below((cols - w) as u64) as usize,
                            rng.below((rows - h) as u64) as usize,
                        )
                    };
                    let free = taken.iter().all(|&(a, b, c, d)| {
                        x + w + 6 <= a || x >= c + 6 || y + h + 4 <= b || y >= d + 4
                    });
                    if free {
                        placed = Some((x, y));
                        break;
                    }
                }
                let Some((x, y)) = placed else { continue };
                let bg = s.mean(x, y, x + w, y + h);
                let (lo, hi) = if rng.chance(0.5) {
                    (rmin, rmax)
                } else {
                    (fmin, fmax)
                };
                // The extreme farther from the background, so the text shows; the stored
                // range's when the frame's own extremes are too close to it (a frame that
                // is nearly uniform).
                let farther = |lo: i32, hi: i32| {
                    if (f64::from(hi) - bg).abs() >= (bg - f64::from(lo)).abs() {
                        hi
                    } else {
                        lo
                    }
                };
                let mut ink = farther(lo, hi);
                if (f64::from(ink) - bg).abs() < 0.25 * f64::from(rmax - rmin) {
                    ink = farther(rmin, rmax);
                }
                let hard = rng.chance(0.5);
                let (mut bx0, mut by0, mut bx1, mut by1) = (usize::MAX, usize::MAX, 0, 0);
                for f in 0..s.frames {
                    for gy in 0..h {
                        for gx in 0..w {
                            let c = cov[gy * w + gx];
                            let c = if hard {
                                f32::from(u8::from(c > 0.5))
                            } else {
                                c
                            };
                            if c <= 0.0 {
                                continue;
                            }
                            let (px, py) = (x + gx, y + gy);
                            for k in 0..s.spp {
                                let i = ((f * rows + py) * cols + px) * s.spp + k;
                                let v = s.data[i] as f32;
                                s.data[i] = (v + (ink as f32 - v) * c).round() as i32;
                            }
                            if c > 0.25 && f == 0 {
                                bx0 = bx0.min(px);
                                by0 = by0.min(py);
                                bx1 = bx1.max(px + 1);
                                by1 = by1.max(py + 1);
                            }
                        }
                    }
                }
                if bx1 == 0 {
                    continue;
                }
                taken.push((x, y, x + w, y + h));
                boxes.push(TruthBox {
                    x0: bx0 as u32,
                    y0: by0 as u32,
                    x1: bx1 as u32,
                    y1: by1 as u32,
                    kind: kind.to_string(),
                    identifying,
                });
            }
            s.store(&mut obj, bits_allocated);
            n += 1;
            let name = format!("{n:04}.dcm");
            write(
                &mut obj,
                &out.join("images").join(&name),
                bits_allocated,
                &s,
            );
            truth.push(Truth {
                file: name,
                source: src.to_string(),
                modality: text(&obj, tags::MODALITY).unwrap_or_default(),
                rows: rows as u32,
                cols: cols as u32,
                frames: s.frames as u32,
                photometric: photometric(&obj, s.spp),
                bits_stored: s.bits_stored,
                boxes,
            });
        }
    }

    for (src, regions) in DEVICE_TEXT {
        let path = corpus.join(src);
        let mut obj = open_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let s = Samples::decode(&obj);
        let boxes = regions
            .iter()
            .filter_map(|&(x0, y0, x1, y1, kind)| {
                ink_box(&s, x0 as usize, y0 as usize, x1 as usize, y1 as usize).map(
                    |(a, b, c, d)| TruthBox {
                        x0: a,
                        y0: b,
                        x1: c,
                        y1: d,
                        kind: kind.to_string(),
                        identifying: true,
                    },
                )
            })
            .collect();
        n += 1;
        let name = format!("{n:04}.dcm");
        let bits_allocated = if s.bits_stored <= 8 { 8 } else { 16 };
        write(
            &mut obj,
            &out.join("images").join(&name),
            bits_allocated,
            &s,
        );
        truth.push(Truth {
            file: name,
            source: src.to_string(),
            modality: text(&obj, tags::MODALITY).unwrap_or_default(),
            rows: s.rows as u32,
            cols: s.cols as u32,
            frames: s.frames as u32,
            photometric: photometric(&obj, s.spp),
            bits_stored: s.bits_stored,
            boxes,
        });
    }
    let json = serde_json::to_string_pretty(&truth).expect("json");
    std::fs::write(out.join("truth.json"), json).expect("truth.json");
    let total: usize = truth
        .iter()
        .map(|t| t.boxes.iter().filter(|b| b.identifying).count())
        .sum();
    eprintln!(
        "{n} images, {total} identifying boxes, in {}",
        out.display()
    );
}

fn photometric(obj: &DefaultDicomObject, spp: usize) -> String {
    if spp == 3 {
        return "RGB".into();
    }
    obj.get(tags::PHOTOMETRIC_INTERPRETATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The tight box of bright ink (above the middle of the range) inside a region of frame 0.
fn ink_box(
    s: &Samples,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
) -> Option<(u32, u32, u32, u32)> {
    let thr = (1i32 << s.bits_stored) / 2;
    let (mut a, mut b, mut c, mut d) = (usize::MAX, usize::MAX, 0, 0);
    for y in y0..y1.min(s.rows) {
        for x in x0..x1.min(s.cols) {
            if s.data[(y * s.cols + x) * s.spp] > thr {
                a = a.min(x);
                b = b.min(y);
                c = c.max(x + 1);
                d = d.max(y + 1);
            }
        }
    }
    (c > 0).then_some((a as u32, b as u32, c as u32, d as u32))
}

/// Native Explicit VR Little Endian; colour decoded to RGB interleaved.
fn write(obj: &mut DefaultDicomObject, path: &Path, bits_allocated: u16, s: &Samples) {
    s.store(obj, bits_allocated);
    let us = |v: u16| PrimitiveValue::from(v);
    obj.put(DataElement::new(
        tags::BITS_ALLOCATED,
        VR::US,
        us(bits_allocated),
    ));
    obj.put(DataElement::new(
        tags::BITS_STORED,
        VR::US,
        us(s.bits_stored),
    ));
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        us(s.bits_stored - 1),
    ));
    if s.spp == 3 {
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("RGB"),
        ));
        obj.put(DataElement::new(tags::PLANAR_CONFIGURATION, VR::US, us(0)));
    }
    obj.remove_element(tags::EXTENDED_OFFSET_TABLE);
    obj.remove_element(tags::EXTENDED_OFFSET_TABLE_LENGTHS);
    obj.update_meta(|m| m.transfer_syntax = "1.2.840.10008.1.2.1".to_string());
    obj.write_to_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn open_file(path: &Path) -> dcmask_engine::Result<DefaultDicomObject> {
    let bytes = std::fs::read(path).map_err(|e| dcmask_engine::Error::pixel(e.to_string()))?;
    dcmask_engine::io::read_object(&bytes)
}
