//! The text detector behind Clean Pixel Data: Tesseract 5 (Debian's `libtesseract`,
//! language data `tesseract-ocr-eng`) through `tesseract-plumbing`, in-process.
//!
//! Small images are upscaled before recognition (Tesseract reads glyphs of 20–30 px best;
//! burned-in annotations are often 10–13 px) and the boxes mapped back. Page segmentation
//! is "sparse text" (PSM 11): annotations are scattered words, not paragraphs. Nothing
//! recognised is logged: words are patient data.

use dcmask_engine::pixel::{GrayImage, TextDetector, Word};
use dcmask_engine::{Error, Result};
use image::imageops::{resize, FilterType};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use tesseract_plumbing::tesseract_sys::TessPageSegMode_PSM_SPARSE_TEXT;
use tesseract_plumbing::TessBaseApi;

/// Tesseract with a pool of initialised engines, one per thread using it at a time.
pub struct Tesseract {
    language: CString,
    pool: Mutex<Vec<TessBaseApi>>,
}

impl Tesseract {
    /// Starts one engine to check that the library and the English data are there.
    pub fn new() -> Result<Tesseract> {
        let t = Tesseract {
            language: CString::new("eng").expect("no NUL"),
            pool: Mutex::new(Vec::new()),
        };
        let api = t.engine()?;
        t.pool.lock().expect("pool lock").push(api);
        Ok(t)
    }

    fn engine(&self) -> Result<TessBaseApi> {
        if let Some(api) = self.pool.lock().expect("pool lock").pop() {
            return Ok(api);
        }
        let mut api = TessBaseApi::create();
        api.init_2(None, Some(&self.language)).map_err(|_| {
            Error::pixel(
                "Tesseract could not start: is the English language data installed \
                 (Debian package tesseract-ocr-eng)?",
            )
        })?;
        // Tesseract's own diagnostics go nowhere; they never carry recognised text, but
        // they would clutter the user's terminal.
        let quiet = |api: &mut TessBaseApi, k: &str, v: &str| {
            let (k, v) = (
                CString::new(k).expect("no NUL"),
                CString::new(v).expect("no NUL"),
            );
            let _ = api.set_variable(&k, &v);
        };
        quiet(&mut api, "debug_file", "/dev/null");
        api.set_page_seg_mode(TessPageSegMode_PSM_SPARSE_TEXT);
        Ok(api)
    }

    fn recognise(&self, api: &mut TessBaseApi, image: &GrayImage) -> Result<Vec<Word>> {
        let scale = upscale_factor(image.width, image.height);
        let scaled;
        let (w, h, data) = if scale > 1 {
            let src = image::GrayImage::from_raw(image.width, image.height, image.pixels.clone())
                .ok_or_else(|| Error::pixel("grey image of the wrong size"))?;
            scaled = resize(
                &src,
                image.width * scale,
                image.height * scale,
                FilterType::Triangle,
            );
            (scaled.width(), scaled.height(), scaled.as_raw().as_slice())
        } else {
            (image.width, image.height, image.pixels.as_slice())
        };
        api.set_image(data, w as i32, h as i32, 1, w as i32)
            .map_err(|e| Error::pixel(format!("Tesseract refused the image: {e:?}")))?;
        api.set_source_resolution(300);
        api.recognize()
            .map_err(|_| Error::pixel("Tesseract could not recognise the image"))?;
        let tsv = api
            .get_tsv_text(0)
            .map_err(|_| Error::pixel("Tesseract gave no result"))?;
        let tsv = tsv.as_ref().to_string_lossy();
        Ok(parse_tsv(&tsv, scale, image.width, image.height))
    }
}

impl TextDetector for Tesseract {
    fn words(&self, image: &GrayImage) -> Result<Vec<Word>> {
        if image.width == 0 || image.height == 0 {
            return Ok(Vec::new());
        }
        let mut api = self.engine()?;
        let out = self.recognise(&mut api, image);
        self.pool.lock().expect("pool lock").push(api);
        out
    }
}

/// ×3 for small images, ×2 for ordinary ones, none for large ones (cost grows with area).
pub fn upscale_factor(width: u32, height: u32) -> u32 {
    match width.max(height) {
        0..=640 => 3,
        641..=1400 => 2,
        _ => 1,
    }
}

/// Words (level 5 rows) from Tesseract's TSV, boxes scaled back to the original image.
/// Columns: level page block par line word left top width height conf text.
pub fn parse_tsv(tsv: &str, scale: u32, width: u32, height: u32) -> Vec<Word> {
    let scale = scale.max(1);
    tsv.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 12 || f[0] != "5" {
                return None;
            }
            let n = |i: usize| f[i].trim().parse::<u32>().ok();
            let (left, top, w, h) = (n(6)?, n(7)?, n(8)?, n(9)?);
            let text = f[11..].join("\t");
            if text.trim().is_empty() {
                return None;
            }
            Some(Word {
                x0: left / scale,
                y0: top / scale,
                x1: (left + w).div_ceil(scale).min(width),
                y1: (top + h).div_ceil(scale).min(height),
                text: text.trim().to_string(),
                confidence: f[10].trim().parse().unwrap_or(0.0),
            })
        })
        .filter(|w| w.x1 > w.x0 && w.y1 > w.y0)
        .collect()
}

/// A detector that remembers the words of the images it saw, so that the workbench's box
/// list and its Apply read the same words without running OCR twice. Bounded; in memory
/// only, like the session's files.
pub struct Cached {
    inner: Arc<dyn TextDetector>,
    seen: Mutex<Seen>,
}

/// Words by image hash, and the hashes oldest first.
type Seen = (HashMap<u64, Vec<Word>>, VecDeque<u64>);

const CACHE_IMAGES: usize = 512;

impl Cached {
    pub fn new(inner: Arc<dyn TextDetector>) -> Cached {
        Cached {
            inner,
            seen: Mutex::default(),
        }
    }
}

impl TextDetector for Cached {
    fn words(&self, image: &GrayImage) -> Result<Vec<Word>> {
        let mut h = DefaultHasher::new();
        (image.width, image.height, &image.pixels).hash(&mut h);
        let key = h.finish();
        if let Some(w) = self.seen.lock().expect("cache lock").0.get(&key) {
            return Ok(w.clone());
        }
        let words = self.inner.words(image)?;
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

/// The detector to use, or why there is none (the caller warns and goes on with rules
/// and manual boxes only).
pub fn detector() -> std::result::Result<Arc<dyn TextDetector>, String> {
    static SHARED: std::sync::OnceLock<std::result::Result<Arc<Tesseract>, String>> =
        std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| Tesseract::new().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map(|t| t as Arc<dyn TextDetector>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_scaled_back() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   4\t1\t1\t1\t1\t0\t18\t12\t160\t26\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t18\t12\t52\t26\t96.5\tDOB:\n\
                   5\t1\t1\t1\t1\t2\t80\t12\t164\t26\t86.6\t08/29/1951\n\
                   5\t1\t1\t1\t1\t3\t300\t12\t10\t26\t10\t \n";
        let w = parse_tsv(tsv, 2, 100, 100);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].x0, w[0].y0, w[0].x1, w[0].y1), (9, 6, 35, 19));
        assert_eq!(w[1].text, "08/29/1951");
        assert_eq!(w[1].x1, 100, "clipped to the image");
        assert!((w[0].confidence - 96.5).abs() < 0.01);
    }

    fn corpus() -> std::path::PathBuf {
        std::env::var_os("DCMASK_CORPUS")
            .map(Into::into)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
            })
    }

    /// A real ultrasound with a fictitious patient burned in (`ZZZ TEST PATIENTFI..`,
    /// `DOB: 08/29/1951`, the study date): the identifying words are blanked, the
    /// technical labels and every pixel outside the boxes stay.
    #[test]
    fn tesseract_blanks_the_burned_in_patient() {
        use dcmask_engine::pixel::{PixelTools, RegionRules, TextMode};
        use dcmask_engine::{deidentify_with, Key, Plan, ProfileId};
        use dicom_pixeldata::PixelDecoder;
        let path = corpus().join("deid-data/ultrasounds/GREYSCALE_IMAGE.dcm");
        let original = dicom_object::open_file(&path).expect("corpus ultrasound");
        let before = original
            .decode_pixel_data()
            .unwrap()
            .to_vec::<u16>()
            .unwrap();
        let tess = Tesseract::new().expect("Tesseract installed");
        let tools = PixelTools {
            detector: Some(&tess),
            ..PixelTools::rules(RegionRules::shipped())
        };
        let key = Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap();
        let plan = Plan::builtin(ProfileId::Pixel);
        let out = deidentify_with(original.clone(), &plan, &key, &tools).unwrap();
        let boxes = &out.record.pixel_boxes;
        let has = |s: &str| boxes.iter().any(|b| b.source == s);
        assert!(has("ocr: identifying word (name)"), "{boxes:?}");
        assert!(has("ocr: identifying word (date)"), "{boxes:?}");
        assert!(boxes
            .iter()
            .all(|b| b.source.starts_with("ocr: identifying word (")));
        let after = out
            .object
            .decode_pixel_data()
            .unwrap()
            .to_vec::<u16>()
            .unwrap();
        let cols = 1024usize;
        let inside = |x: usize, y: usize| {
            boxes.iter().any(|b| {
                (b.x0 as usize..b.x1 as usize).contains(&x)
                    && (b.y0 as usize..b.y1 as usize).contains(&y)
            })
        };
        // The banner's name ("ZZZ TEST" at about x 9..80, y 6..19) is black.
        for (x, y) in [(20, 12), (50, 12)] {
            assert!(inside(x, y), "({x},{y}) not in a box: {boxes:?}");
            assert_eq!(after[y * cols + x], 0);
        }
        let mut changed_outside = 0;
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            if a != b && !inside(i % cols, i / cols) {
                changed_outside += 1;
            }
        }
        assert_eq!(changed_outside, 0);
        // "Adv Breast" (x 14..138, y 26..43) is not identifying: kept.
        assert!(!inside(100, 34), "{boxes:?}");

        // All text: the label goes too.
        let mut plan = plan;
        plan.pixel_text = TextMode::AllText;
        let out = deidentify_with(original, &plan, &key, &tools).unwrap();
        let all = &out.record.pixel_boxes;
        assert!(all.len() > boxes.len());
        assert!(all.iter().any(|b| b.source == "ocr: text"));
    }

    #[test]
    fn scale_by_size() {
        assert_eq!(upscale_factor(512, 512), 3);
        assert_eq!(upscale_factor(1024, 768), 2);
        assert_eq!(upscale_factor(3000, 2000), 1);
    }
}
