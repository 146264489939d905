//! Scores a +Pixel run on the development set of `pixel_devset`.
//!
//! `cargo run --release -p dcmask-engine --example pixel_score -- DEVSET OUT_DIR LINKAGE_DIR [SECONDS]`
//!
//! Pairs each input with its output through the linkage folder's `paths.csv`, then
//! prints, over all images and per modality:
//! - recall: identifying boxes fully blanked (every sample inside the box, in every
//!   frame, holds the same value, and at least one changed);
//! - collateral: share of pixels outside every text box (identifying or not) changed;
//! - safe kept: safe annotations (laterality, view labels, units) left untouched;
//! - with SECONDS (the run's wall time), seconds per image.
//!
//! With `MISSES=1` in the environment, each missed box is listed (file, kind, box,
//! share of its samples changed), and each image with more than 1 % collateral. An input that failed counts all its boxes as missed. Prints no recognised text: there
//! is none here, only boxes.

use dicom_pixeldata::PixelDecoder;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct TruthBox {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    kind: String,
    identifying: bool,
}

#[derive(serde::Deserialize)]
struct Truth {
    file: String,
    modality: String,
    rows: usize,
    cols: usize,
    boxes: Vec<TruthBox>,
}

#[derive(Default)]
struct Score {
    images: usize,
    boxes: usize,
    blanked: usize,
    outside: u64,
    changed: u64,
    safe: usize,
    safe_kept: usize,
    failed: usize,
}

impl Score {
    fn add(&mut self, o: &Score) {
        self.images += o.images;
        self.boxes += o.boxes;
        self.blanked += o.blanked;
        self.outside += o.outside;
        self.changed += o.changed;
        self.safe += o.safe;
        self.safe_kept += o.safe_kept;
        self.failed += o.failed;
    }

    fn line(&self, label: &str) -> String {
        format!(
            "{label:<8} images {:>4}  recall {:.3} ({}/{})  collateral {:.2} %  safe kept {}/{}{}",
            self.images,
            self.blanked as f64 / self.boxes.max(1) as f64,
            self.blanked,
            self.boxes,
            100.0 * self.changed as f64 / self.outside.max(1) as f64,
            self.safe_kept,
            self.safe,
            if self.failed > 0 {
                format!("  FAILED {}", self.failed)
            } else {
                String::new()
            }
        )
    }
}

/// Every sample of every frame as `i64`, pixel-interleaved, and samples per pixel.
fn samples(path: &Path) -> Option<(Vec<i64>, usize, usize)> {
    let bytes = std::fs::read(path).ok()?;
    let obj = dcmask_engine::io::read_object(&bytes).ok()?;
    let d = obj.decode_pixel_data().ok()?;
    let spp = d.samples_per_pixel() as usize;
    let frames = d.number_of_frames().max(1) as usize;
    let v: Vec<i64> = match d.bits_allocated() {
        8 => d.data().iter().map(|&b| i64::from(b)).collect(),
        16 => d
            .data()
            .chunks_exact(2)
            .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => return None,
    };
    Some((v, spp, frames))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let devset = PathBuf::from(&args[1]);
    let out = PathBuf::from(&args[2]);
    let linkage = PathBuf::from(&args[3]);
    let seconds: Option<f64> = args.get(4).map(|s| s.parse().expect("seconds"));
    let truth: Vec<Truth> =
        serde_json::from_slice(&std::fs::read(devset.join("truth.json")).expect("truth.json"))
            .expect("truth.json");
    let mut outputs: HashMap<String, String> = HashMap::new();
    let mut rdr = csv::Reader::from_path(linkage.join("paths.csv")).expect("paths.csv");
    for r in rdr.records() {
        let r = r.expect("paths.csv row");
        // ref,input,relative,output,status,reason
        if !r[3].is_empty() {
            outputs.insert(r[2].to_string(), r[3].to_string());
        }
    }

    let mut by: BTreeMap<String, Score> = BTreeMap::new();
    for t in &truth {
        let mut s = Score {
            images: 1,
            ..Score::default()
        };
        let ids: Vec<&TruthBox> = t.boxes.iter().filter(|b| b.identifying).collect();
        s.boxes = ids.len();
        s.safe = t.boxes.iter().filter(|b| b.kind == "safe").count();
        let before = samples(&devset.join("images").join(&t.file));
        let after = outputs.get(&t.file).and_then(|o| samples(&out.join(o)));
        match (before, after) {
            (Some((a, spp, frames)), Some((b, spp2, frames2)))
                if a.len() == b.len() && spp == spp2 && frames == frames2 =>
            {
                let frame = t.rows * t.cols * spp;
                let at = |v: &[i64], f: usize, x: usize, y: usize, k: usize| {
                    v[f * frame + (y * t.cols + x) * spp + k]
                };
                let inside = |b: &TruthBox, x: usize, y: usize| {
                    (b.x0..b.x1).contains(&x) && (b.y0..b.y1).contains(&y)
                };
                for bx in &ids {
                    let first = at(&b, 0, bx.x0, bx.y0, 0);
                    let mut uniform = true;
                    let mut changed = false;
                    for f in 0..frames {
                        for y in bx.y0..bx.y1 {
                            for x in bx.x0..bx.x1 {
                                for k in 0..spp {
                                    let v = at(&b, f, x, y, k);
                                    uniform &= k > 0 || v == first;
                                    changed |= v != at(&a, f, x, y, k);
                                }
                            }
                        }
                    }
                    if uniform && changed {
                        s.blanked += 1;
                    } else if std::env::var_os("MISSES").is_some() {
                        let total = (bx.y1 - bx.y0) * (bx.x1 - bx.x0);
                        let hit = (bx.y0..bx.y1)
                            .flat_map(|y| (bx.x0..bx.x1).map(move |x| (x, y)))
                            .filter(|&(x, y)| at(&b, 0, x, y, 0) != at(&a, 0, x, y, 0))
                            .count();
                        eprintln!(
                            "missed {} {} {} [{},{})x[{},{}) {}×{} changed {:.0} %",
                            t.file,
                            t.modality,
                            bx.kind,
                            bx.x0,
                            bx.x1,
                            bx.y0,
                            bx.y1,
                            bx.x1 - bx.x0,
                            bx.y1 - bx.y0,
                            100.0 * hit as f64 / total.max(1) as f64
                        );
                    }
                }
                for bx in t.boxes.iter().filter(|b| b.kind == "safe") {
                    let same = (bx.y0..bx.y1).all(|y| {
                        (bx.x0..bx.x1)
                            .all(|x| (0..spp).all(|k| at(&a, 0, x, y, k) == at(&b, 0, x, y, k)))
                    });
                    if same {
                        s.safe_kept += 1;
                    }
                }
                for y in 0..t.rows {
                    for x in 0..t.cols {
                        if t.boxes.iter().any(|b| inside(b, x, y)) {
                            continue;
                        }
                        s.outside += 1;
                        if (0..spp).any(|k| at(&a, 0, x, y, k) != at(&b, 0, x, y, k)) {
                            s.changed += 1;
                        }
                    }
                }
            }
            _ => s.failed = 1,
        }
        if std::env::var_os("MISSES").is_some() && s.changed * 100 > s.outside {
            eprintln!(
                "collateral {} {} {:.1} %",
                t.file,
                t.modality,
                100.0 * s.changed as f64 / s.outside.max(1) as f64
            );
        }
        by.entry(t.modality.clone()).or_default().add(&s);
    }
    let mut all = Score::default();
    for (m, s) in &by {
        println!("{}", s.line(m));
        all.add(s);
    }
    println!("{}", all.line("all"));
    if let Some(secs) = seconds {
        println!(
            "time     {:.2} s per image ({} images in {secs:.1} s, {:.2} images/s)",
            secs / all.images.max(1) as f64,
            all.images,
            all.images as f64 / secs
        );
    }
}
