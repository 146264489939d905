//! Text detection: boxes of burned-in text found by a [`TextDetector`] (OCR), blanked by
//! the plan's [`TextMode`].
//!
//! The engine never runs OCR itself: the caller hands it a detector (the `dcmask` binary
//! runs learned text detection and recognition models). The engine renders frames to
//! 8-bit grey ([`super::render`]: as displayed, and at the stored range), asks the
//! detector for text lines, and decides per line: by default every line goes except
//! short annotations known to be safe (`data/pixel-safe-text.csv`); in identifying mode
//! only words that match the identifying values of the same header
//! (`actions::clean::Identifiers`) or the patterns of free-text cleaning (dates, phone
//! numbers, runs of digits). Recognised text is never written to a record, a log or an
//! error: only the category of an identifying word is.

use super::render::GrayImage;
use super::{is_text_prone_modality, RegionRules};
use crate::actions::clean::{pattern_category, pattern_spans, Category, Identifiers};
use crate::error::Result;
use crate::record::PixelBox;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use serde::{Deserialize, Serialize};

/// Modalities OCR always looks at, even when a region rule matched: those whose images
/// often carry text, and projection radiography whose overlays get burned in.
pub const OCR_MODALITIES: [&str; 7] = ["US", "SC", "OT", "XC", "ES", "DX", "CR"];

/// A line of text a detector found: its box (columns `x0..x1`, rows `y0..y1`, in the
/// image's pixels), its text (empty when it was not read), the detector's confidence
/// (0–100) and, when read, the columns `x0..x1` of each character of `text`.
///
/// `Debug` leaves the text out: it may be patient data.
#[derive(Clone, PartialEq)]
pub struct Word {
    /// First column of the box.
    pub x0: u32,
    /// First row of the box.
    pub y0: u32,
    /// Column just past the box.
    pub x1: u32,
    /// Row just past the box.
    pub y1: u32,
    /// What was read; empty when the line was found but not read (see [`Read`]). May be
    /// patient data: never logged or recorded.
    pub text: String,
    /// The detector's confidence, 0 to 100.
    pub confidence: f32,
    /// Columns `x0..x1` of each character of `text`, so that only the identifying words
    /// of a line need be blanked; empty when not known.
    pub columns: Vec<(u32, u32)>,
}

impl std::fmt::Debug for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Word([{},{})×[{},{}), {} chars, conf {:.0})",
            self.x0,
            self.x1,
            self.y0,
            self.y1,
            self.text.chars().count(),
            self.confidence
        )
    }
}

/// Which lines a detector should read (recognise) besides finding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Read {
    /// Every line.
    All,
    /// Only lines at most this many times as wide as high (the others come back with
    /// empty text): enough to tell a short safe annotation from the rest.
    Short(u32),
}

/// Finds lines of text in an image, given as one or more views of the same size (as
/// displayed, at the stored range, …): a line found in any view counts. Implementations
/// must not log the text they find.
pub trait TextDetector: Send + Sync {
    /// The lines found in `views` (all of one frame, the same size), read as `read` asks.
    fn words(&self, views: &[GrayImage], read: Read) -> Result<Vec<Word>>;
}

/// Which detected text is blanked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextMode {
    /// Every line found, except short annotations known to be safe
    /// (`data/pixel-safe-text.csv`): the default.
    #[default]
    Text,
    /// Only words that are, or may be, identifying, for experts who need measurements
    /// kept.
    Identifying,
    /// Every line found, safe annotations too.
    AllText,
}

impl TextMode {
    /// `text`, `identifying`, or `all` / `all_text`.
    pub fn from_id(s: &str) -> Option<TextMode> {
        match s {
            "text" => Some(TextMode::Text),
            "identifying" => Some(TextMode::Identifying),
            "all" | "all_text" => Some(TextMode::AllText),
            _ => None,
        }
    }

    /// The name plans and the workbench use, which [`TextMode::from_id`] reads back.
    pub fn id(self) -> &'static str {
        match self {
            TextMode::Text => "text",
            TextMode::Identifying => "identifying",
            TextMode::AllText => "all_text",
        }
    }

    /// Whether this is the default mode, which a serialised plan leaves out.
    pub fn is_default(&self) -> bool {
        *self == TextMode::Text
    }

    /// What the detector must read for this mode.
    pub fn read(self) -> Read {
        match self {
            TextMode::Identifying => Read::All,
            TextMode::Text | TextMode::AllText => Read::All,
        }
    }
}

/// Where a proposed box comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxKind {
    /// A region rule matched the original header.
    Rule,
    /// The text detector found text the text mode blanks.
    Ocr,
    /// The user drew it in the workbench.
    Manual,
}

/// A box that Clean Pixel Data would blank, unless disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedBox {
    /// `rule-N`, `ocr-N` or `manual-N`: stable for the same object, tools and detector.
    pub id: String,
    /// Where it comes from.
    pub kind: BoxKind,
    /// The rectangle and its source, as the record will hold it.
    #[serde(flatten)]
    pub bbox: PixelBox,
    /// False when the user chose to keep this box's pixels.
    pub enabled: bool,
}

/// What Clean Pixel Data works with besides the plan.
#[derive(Clone, Copy)]
pub struct PixelTools<'a> {
    /// Region rules (the shipped ones, possibly merged with a user's).
    pub regions: &'a RegionRules,
    /// The text detector; without one, images that may carry text get a warning.
    pub detector: Option<&'a dyn TextDetector>,
    /// Rectangles drawn by the user, blanked whatever the header says.
    pub manual_boxes: &'a [PixelBox],
    /// Ids of proposed boxes (`rule-0`, `ocr-3`, …) not to blank.
    pub disabled_boxes: &'a [String],
}

impl<'a> PixelTools<'a> {
    /// Region rules only: no detector, no manual boxes.
    pub fn rules(regions: &'a RegionRules) -> PixelTools<'a> {
        PixelTools {
            regions,
            detector: None,
            manual_boxes: &[],
            disabled_boxes: &[],
        }
    }
}

impl Default for PixelTools<'_> {
    fn default() -> Self {
        PixelTools::rules(RegionRules::shipped())
    }
}

/// The boxes proposed for one object, and why text may remain.
#[derive(Debug, Clone, Default)]
pub struct Proposal {
    /// Every box, enabled or not, rule boxes first, then OCR, then manual.
    pub boxes: Vec<ProposedBox>,
    /// Why text may remain in the pixels: an image likely to carry text with no rule and
    /// no detector, or a frame the detector failed on.
    pub warnings: Vec<String>,
    /// The frames (from 0) the detector looked at.
    pub ocr_frames: Vec<u32>,
}

impl Proposal {
    /// The boxes to blank.
    pub fn enabled(&self) -> Vec<PixelBox> {
        self.boxes
            .iter()
            .filter(|b| b.enabled)
            .map(|b| b.bbox.clone())
            .collect()
    }
}

fn text_of(ds: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    ds.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_ascii_uppercase())
}

/// Whether OCR should look at this image: no region rule covers it, Burned In Annotation
/// is YES, or its modality often carries text.
pub fn needs_ocr(ds: &InMemDicomObject, rule_boxes: usize) -> bool {
    if ds.get(tags::PIXEL_DATA).is_none() {
        return false;
    }
    rule_boxes == 0
        || text_of(ds, tags::BURNED_IN_ANNOTATION).as_deref() == Some("YES")
        || text_of(ds, tags::MODALITY).is_some_and(|m| OCR_MODALITIES.contains(&m.as_str()))
}

/// The frames OCR reads: all of up to three, else the first, middle and last. Burned-in
/// text of a cine loop is an overlay drawn by the device on every frame (the patient
/// banner, the date), so three samples find it at a third of the cost of reading ten
/// and at a fraction of reading hundreds; sampling both ends also catches text that
/// appears or changes during the loop (a timer is not identifying). The union of their
/// boxes is blanked in every frame.
pub fn ocr_frames(frames: u32) -> Vec<u32> {
    match frames {
        0 | 1 => vec![0],
        2 | 3 => (0..frames).collect(),
        n => vec![0, n / 2, n - 1],
    }
}

/// Proposes the boxes for an original (not yet de-identified) object: region-rule boxes,
/// OCR word boxes when [`needs_ocr`] and a detector is given, and the manual boxes;
/// boxes whose id is in `disabled_boxes` are proposed but not enabled.
pub fn propose(obj: &DefaultDicomObject, tools: &PixelTools, mode: TextMode) -> Proposal {
    let ds: &InMemDicomObject = obj;
    let mut p = Proposal::default();
    let dim = |t| ds.get(t).and_then(|e| e.to_int::<u32>().ok());
    let (rows, cols) = (
        dim(tags::ROWS).unwrap_or(0),
        dim(tags::COLUMNS).unwrap_or(0),
    );

    let rule_boxes = tools.regions.boxes(ds);
    let n_rules = rule_boxes.len();
    for (i, b) in rule_boxes.into_iter().enumerate() {
        p.boxes.push(ProposedBox {
            id: format!("rule-{i}"),
            kind: BoxKind::Rule,
            bbox: b,
            enabled: true,
        });
    }

    if needs_ocr(ds, n_rules) {
        match tools.detector {
            Some(detector) => {
                let frames = dim(tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
                let ids = Identifiers::collect(ds);
                let mut found: Vec<PixelBox> = Vec::new();
                for f in ocr_frames(frames) {
                    let views = super::render::text_views(obj, f);
                    let words = views.and_then(|views| detector.words(&views, mode.read()));
                    match words {
                        Ok(words) => {
                            p.ocr_frames.push(f);
                            for b in word_boxes(&words, &ids, mode, rows, cols) {
                                merge_box(&mut found, b);
                            }
                        }
                        Err(e) => p.warnings.push(format!(
                            "text detection failed on frame {f}, burned-in text may remain: {e}"
                        )),
                    }
                }
                for (i, b) in found.into_iter().enumerate() {
                    p.boxes.push(ProposedBox {
                        id: format!("ocr-{i}"),
                        kind: BoxKind::Ocr,
                        bbox: b,
                        enabled: true,
                    });
                }
            }
            None if n_rules == 0 => p.warnings.extend(super::text_risk(ds)),
            None => {
                if let Some(m) = text_of(ds, tags::MODALITY).filter(|m| is_text_prone_modality(m)) {
                    p.warnings.push(format!(
                        "burned-in text outside the region rules possible: modality {m} often \
                         carries text and no text detector was available"
                    ));
                }
            }
        }
    }

    for (i, b) in tools.manual_boxes.iter().enumerate() {
        p.boxes.push(ProposedBox {
            id: format!("manual-{i}"),
            kind: BoxKind::Manual,
            bbox: PixelBox {
                source: "manual".into(),
                ..b.clone()
            },
            enabled: true,
        });
    }
    for b in &mut p.boxes {
        b.enabled = !tools.disabled_boxes.contains(&b.id);
    }
    p
}

/// Adds a box, or widens an existing one with the same source it mostly overlaps (the
/// same word found on several frames or in both views of a frame).
fn merge_box(boxes: &mut Vec<PixelBox>, b: PixelBox) {
    let area = |b: &PixelBox| u64::from(b.x1 - b.x0) * u64::from(b.y1 - b.y0);
    for o in boxes.iter_mut() {
        let ix = o.x1.min(b.x1).saturating_sub(o.x0.max(b.x0));
        let iy = o.y1.min(b.y1).saturating_sub(o.y0.max(b.y0));
        let inter = u64::from(ix) * u64::from(iy);
        if o.source == b.source && inter * 2 > area(o).min(area(&b)) {
            o.x0 = o.x0.min(b.x0);
            o.y0 = o.y0.min(b.y0);
            o.x1 = o.x1.max(b.x1);
            o.y1 = o.y1.max(b.y1);
            return;
        }
    }
    boxes.push(b);
}

/// A line is trusted to be a safe annotation only when read at least this confidently.
pub const SAFE_CONFIDENCE: f32 = 85.0;

/// Short annotations the default mode keeps, with the reason for each
/// (`data/pixel-safe-text.csv`): exact texts (any case) and patterns.
const SAFE_TEXT_CSV: &str = include_str!("../../data/pixel-safe-text.csv");

#[derive(Deserialize)]
struct SafeRow {
    kind: String,
    text: String,
    #[allow(dead_code)] // read by people: the table says why each row is there
    reason: String,
}

struct SafeText {
    exact: std::collections::HashSet<String>,
    patterns: Vec<regex::Regex>,
}

fn safe_text() -> &'static SafeText {
    static SAFE: std::sync::OnceLock<SafeText> = std::sync::OnceLock::new();
    SAFE.get_or_init(|| {
        let rows: Vec<SafeRow> = csv::Reader::from_reader(SAFE_TEXT_CSV.as_bytes())
            .deserialize()
            .collect::<std::result::Result<_, _>>()
            .expect("data/pixel-safe-text.csv is valid");
        SafeText {
            exact: rows
                .iter()
                .filter(|r| r.kind == "exact")
                .map(|r| r.text.to_uppercase())
                .collect(),
            patterns: rows
                .iter()
                .filter(|r| r.kind == "pattern")
                .map(|r| regex::Regex::new(&format!("(?i){}", r.text)).expect("valid pattern"))
                .collect(),
        }
    })
}

/// Whether a line's whole text is an annotation of the safe table. Spaces are collapsed
/// and surrounding punctuation of one character (`[L]`, `R:`) ignored.
pub fn is_safe_annotation(text: &str) -> bool {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let t = collapsed.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | ':' | '.' | '-'));
    if t.is_empty() || t.chars().count() > 12 {
        return false;
    }
    let safe = safe_text();
    safe.exact.contains(&t.to_uppercase()) || safe.patterns.iter().any(|p| p.is_match(t))
}

/// The boxes to blank among the lines, padded and clipped to the image, with their
/// source: `ocr: identifying word (CATEGORY)`, or `ocr: text` (a line blanked as text,
/// default and all-text modes).
pub fn word_boxes(
    lines: &[Word],
    ids: &Identifiers,
    mode: TextMode,
    rows: u32,
    cols: u32,
) -> Vec<PixelBox> {
    let (words, classes) = if mode == TextMode::Identifying {
        let words: Vec<Word> = lines.iter().flat_map(split_words).collect();
        let mut classes = classify(&words, ids);
        let mut words = words;
        for line in lines {
            for (w, c) in glued_values(line, ids) {
                words.push(w);
                classes.push(Some(c));
            }
        }
        (words, classes)
    } else {
        // A line is named by the most telling identifying value in it (a name before an
        // ID, a date or a long number), the glued ones included: OCR often reads a name
        // and an ID as one token, which alone would only be a long number.
        let classes = lines
            .iter()
            .map(|l| {
                let words = split_words(l);
                let found = classify(&words, ids).into_iter().flatten();
                found
                    .chain(glued_values(l, ids).into_iter().map(|(_, c)| c))
                    .min()
            })
            .collect();
        (lines.to_vec(), classes)
    };
    let mut out = Vec::new();
    for (w, class) in words.iter().zip(classes) {
        let source = match (mode, class) {
            (_, Some(c)) => format!("ocr: identifying word ({})", c.label()),
            (TextMode::Identifying, None) => continue,
            (TextMode::Text, None)
                if w.confidence >= SAFE_CONFIDENCE && is_safe_annotation(&w.text) =>
            {
                continue
            }
            (TextMode::Text | TextMode::AllText, None) => "ocr: text".to_string(),
        };
        // Padded so the whole glyphs go: a detector's box can end inside, or just
        // before, the first or last character, so the sides get about a character (the
        // line height) more.
        let h = w.y1.saturating_sub(w.y0);
        let pad = (h / 6).max(2);
        let side = pad + h;
        let b = PixelBox {
            x0: w.x0.saturating_sub(side),
            y0: w.y0.saturating_sub(pad),
            x1: (w.x1 + side).min(cols),
            y1: (w.y1 + pad).min(rows),
            source,
        };
        if b.x1 > b.x0 && b.y1 > b.y0 {
            out.push(b);
        }
    }
    out
}

/// Identifying values found inside a line's text even where OCR glued them to their
/// neighbours, each boxed from its characters' columns like [`split_words`].
fn glued_values(line: &Word, ids: &Identifiers) -> Vec<(Word, Category)> {
    if line.text.chars().count() != line.columns.len() {
        return Vec::new();
    }
    let slack = (line.y1 - line.y0) / 3;
    ids.spans_in(&line.text)
        .into_iter()
        .map(|(r, c)| {
            let w = Word {
                x0: line.columns[r.start].0.saturating_sub(slack).max(line.x0),
                x1: (line.columns[r.end - 1].1 + slack).min(line.x1),
                text: line.text.chars().skip(r.start).take(r.len()).collect(),
                columns: line.columns[r.clone()].to_vec(),
                ..line.clone()
            };
            (w, c)
        })
        .collect()
}

/// The words of a read line, each boxed from the columns of its first and last
/// character, widened by a third of the line height on each side (the recogniser places
/// a character by the step it was read at, not by its ink). An unread line stays whole.
fn split_words(line: &Word) -> Vec<Word> {
    let chars: Vec<char> = line.text.chars().collect();
    if chars.len() != line.columns.len() || chars.is_empty() {
        return vec![line.clone()];
    }
    let slack = (line.y1 - line.y0) / 3;
    let mut out = Vec::new();
    let mut start = None;
    for i in 0..=chars.len() {
        let space = i == chars.len() || chars[i].is_whitespace();
        match (start, space) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                out.push(Word {
                    x0: line.columns[s].0.saturating_sub(slack).max(line.x0),
                    x1: (line.columns[i - 1].1 + slack).min(line.x1),
                    text: chars[s..i].iter().collect(),
                    columns: line.columns[s..i].to_vec(),
                    ..line.clone()
                });
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Words that introduce a patient value on the same line (`Name:`, `DOB:`, `ID:`).
const LABELS: [(&str, Category); 11] = [
    ("name", Category::Name),
    ("patient", Category::Name),
    ("pt", Category::Name),
    ("dob", Category::Date),
    ("born", Category::Date),
    ("birth", Category::Date),
    ("id", Category::Identifier),
    ("mrn", Category::Identifier),
    ("pid", Category::Identifier),
    ("acc", Category::Identifier),
    ("accession", Category::Identifier),
];

/// For each word, the category that makes it identifying, if any: it equals (or is a
/// truncation or one-letter misreading of) an identifying header value; it matches a
/// date, phone, e-mail or long-number pattern, alone or with its neighbours on the line
/// (`12 / 04 / 1960`); or it follows a label such as `DOB:` on the same line.
pub fn classify(words: &[Word], ids: &Identifiers) -> Vec<Option<Category>> {
    let mut out: Vec<Option<Category>> = words
        .iter()
        .map(|w| {
            let core = w.text.trim_matches(|c: char| !c.is_alphanumeric());
            if core.is_empty() {
                return None;
            }
            ids.approx_category_of(w.text.trim())
                .or_else(|| pattern_category(&w.text))
        })
        .collect();
    for line in lines(words) {
        // Neighbouring words read as one: a date or phone number split by spaces, a name
        // written without its separator.
        for n in 2..=5.min(line.len()) {
            for win in line.windows(n) {
                let texts: Vec<&str> = win.iter().map(|&i| words[i].text.trim()).collect();
                let cat = spanning_pattern(&texts, " ")
                    .or_else(|| {
                        spanning_pattern(&texts, "")
                            .filter(|c| matches!(c, Category::Date | Category::Phone))
                    })
                    .or_else(|| ids.category_of(&texts.concat()));
                if let Some(c) = cat {
                    for &i in win {
                        out[i].get_or_insert(c);
                    }
                }
            }
        }
        // Values after a label: up to three words, until the next label.
        for (k, &i) in line.iter().enumerate() {
            let t = words[i].text.trim();
            let Some(stem) = t.strip_suffix(':') else {
                continue;
            };
            let stem = stem.to_lowercase();
            let Some((_, cat)) = LABELS.iter().find(|(l, _)| stem.ends_with(l)) else {
                continue;
            };
            for &j in line.iter().skip(k + 1).take(3) {
                if words[j].text.trim().ends_with(':') {
                    break;
                }
                if words[j].text.chars().any(char::is_alphanumeric) {
                    out[j].get_or_insert(*cat);
                }
            }
        }
    }
    out
}

/// A pattern that matches the words joined by `sep` from within the first word to within
/// the last one (so that a date next to a word does not take the word along).
fn spanning_pattern(texts: &[&str], sep: &str) -> Option<Category> {
    let joined = texts.join(sep);
    let first_end = texts[0].len();
    let last_start = joined.len() - texts[texts.len() - 1].len();
    pattern_spans(&joined)
        .into_iter()
        .find(|(r, _)| r.start < first_end && r.end > last_start)
        .map(|(_, c)| c)
}

/// Groups words into lines: indices sorted left to right, words whose rows overlap by
/// half the smaller height and that are at most two heights apart.
fn lines(words: &[Word]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..words.len()).collect();
    order.sort_by_key(|&i| (words[i].x0, words[i].y0));
    let mut lines: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let w = &words[i];
        let h = w.y1.saturating_sub(w.y0).max(1);
        let found = lines.iter_mut().find(|line| {
            let last = &words[*line.last().expect("lines are never empty")];
            let lh = last.y1.saturating_sub(last.y0).max(1);
            let overlap = w.y1.min(last.y1).saturating_sub(w.y0.max(last.y0));
            let gap = w.x0.saturating_sub(last.x1);
            overlap * 2 >= h.min(lh) && gap <= 2 * h.max(lh)
        });
        match found {
            Some(line) => line.push(i),
            None => lines.push(vec![i]),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, Tag, VR};
    use dicom_pixeldata::PixelDecoder;

    fn word(x0: u32, y0: u32, text: &str) -> Word {
        Word {
            x0,
            y0,
            x1: x0 + 8 * text.len() as u32,
            y1: y0 + 12,
            text: text.into(),
            confidence: 90.0,
            columns: (0..text.chars().count() as u32)
                .map(|i| (x0 + 8 * i, x0 + 8 * i + 8))
                .collect(),
        }
    }

    fn ids() -> Identifiers {
        Identifiers::collect(&InMemDicomObject::from_element_iter([
            DataElement::new(Tag(0x0010, 0x0010), VR::PN, "ZZZ TEST PATIENTFIVE^NEW^P^"),
            DataElement::new(Tag(0x0010, 0x0020), VR::LO, "MRN778899"),
            DataElement::new(Tag(0x0010, 0x0030), VR::DA, "19510829"),
        ]))
    }

    fn cats(words: &[Word]) -> Vec<Option<&'static str>> {
        classify(words, &ids())
            .into_iter()
            .map(|c| c.map(Category::label))
            .collect()
    }

    #[test]
    fn header_values_in_any_spelling() {
        let words = [
            word(0, 0, "Patientfive,"),
            word(120, 0, "new"),
            word(0, 40, "mrn778899"),
            word(0, 80, "PATIENTFI.."),
            word(0, 120, "PATIENTFIVF"),
            word(0, 160, "1951-08-29"),
            word(0, 200, "Breast"),
        ];
        assert_eq!(
            cats(&words),
            [
                Some("name"),
                Some("name"),
                Some("identifier"),
                Some("name"),
                Some("name"),
                Some("date"),
                None
            ]
        );
    }

    #[test]
    fn patterns_alone_and_across_words() {
        let words = [
            word(0, 0, "03/02/2017"),
            word(0, 40, "00079241539"),
            word(0, 80, "12"),
            word(24, 80, "/"),
            word(40, 80, "04"),
            word(64, 80, "/"),
            word(80, 80, "1960"),
            word(0, 120, "L12-5"),
            word(0, 160, "36Hz"),
        ];
        let c = cats(&words);
        assert_eq!(c[0], Some("date"));
        assert_eq!(c[1], Some("number"));
        assert!(c[2..7].iter().all(|c| *c == Some("date")), "{c:?}");
        assert_eq!(&c[7..], [None, None]);
    }

    #[test]
    fn values_after_labels() {
        let words = [
            word(0, 0, "DOB:"),
            word(40, 0, "Aug"),
            word(72, 0, "nineteen"),
            word(200, 0, "Gain:"),
            word(250, 0, "60%"),
        ];
        let c = cats(&words);
        assert_eq!(c, [None, Some("date"), Some("date"), None, None]);
    }

    #[test]
    fn modes_and_sources() {
        let words = [
            word(10, 10, "ZZZ"),
            word(200, 10, "Breast"),
            Word {
                confidence: 20.0,
                ..word(10, 100, "ee")
            },
        ];
        let b = word_boxes(&words, &ids(), TextMode::Identifying, 300, 400);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].source, "ocr: identifying word (name)");
        // Padded by two pixels, and the line height more on the sides.
        assert_eq!((b[0].x0, b[0].y0, b[0].x1, b[0].y1), (0, 8, 48, 24));
        let all = word_boxes(&words, &ids(), TextMode::AllText, 300, 400);
        let sources: Vec<&str> = all.iter().map(|b| b.source.as_str()).collect();
        assert_eq!(
            sources,
            ["ocr: identifying word (name)", "ocr: text", "ocr: text"]
        );
        for b in &all {
            assert!(!b.source.to_lowercase().contains("zzz"));
            assert!(!b.source.contains("Breast"));
        }
    }

    #[test]
    fn default_mode_keeps_only_confident_safe_annotations() {
        let lines = [
            word(10, 10, "ZZZ TEST 00079241539"),
            word(10, 40, "L"),
            word(10, 60, "PORTABLE"),
            word(10, 80, "5 cm"),
            Word {
                confidence: 60.0,
                ..word(10, 100, "R")
            },
            word(10, 120, "Adv Breast"),
            Word {
                text: String::new(),
                columns: Vec::new(),
                ..word(10, 140, "unread line")
            },
        ];
        let b = word_boxes(&lines, &ids(), TextMode::Text, 300, 400);
        let at: Vec<(u32, &str)> = b.iter().map(|b| (b.y0 + 2, b.source.as_str())).collect();
        assert_eq!(
            at,
            [
                (10, "ocr: identifying word (name)"),
                (100, "ocr: text"),
                (120, "ocr: text"),
                (140, "ocr: text")
            ]
        );
        assert_eq!(
            word_boxes(&lines, &ids(), TextMode::AllText, 300, 400).len(),
            7
        );
    }

    #[test]
    fn safe_table() {
        for t in [
            "L", "r", "[R]", "PORTABLE", "Supine", "5 cm", "10mm", "RCC", "L MLO", "cm",
        ] {
            assert!(is_safe_annotation(t), "{t}");
        }
        for t in [
            "",
            "LX",
            "DOE",
            "1960 cm",
            "12/04",
            "PORTABLE CHEST ROOM 4",
            "1234 mm",
        ] {
            assert!(!is_safe_annotation(t), "{t}");
        }
    }

    #[test]
    fn glued_words_found_inside_a_line() {
        // OCR read the banner without its spaces; the name is still found, boxed on its
        // own characters.
        let line = word(0, 0, "XXPATIENTFIVEGain");
        let b = word_boxes(&[line], &ids(), TextMode::Identifying, 300, 400);
        let spans: Vec<(u32, u32, &str)> =
            b.iter().map(|b| (b.x0, b.x1, b.source.as_str())).collect();
        // Characters 2..13, 8 px each, widened by 4 and padded by 2 + 12 on the sides.
        assert_eq!(spans, [(0, 122, "ocr: identifying word (name)")]);
    }

    #[test]
    fn a_line_is_named_by_its_most_telling_value() {
        // The ultrasound banner read as one token: a name glued to a long number is
        // named a name, not a number.
        let line = word(0, 0, "ZZZTESTPATIENTFI..00079241539");
        let b = word_boxes(&[line], &ids(), TextMode::Text, 300, 400);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].source, "ocr: identifying word (name)");
        let date = word(0, 20, "03/02/2017");
        let b = word_boxes(&[date], &ids(), TextMode::Text, 300, 400);
        assert_eq!(b[0].source, "ocr: identifying word (date)");
    }

    #[test]
    fn frames_sampled() {
        assert_eq!(ocr_frames(1), [0]);
        assert_eq!(ocr_frames(3), [0, 1, 2]);
        assert_eq!(ocr_frames(27), [0, 13, 26]);
    }

    #[test]
    fn merges_the_same_word_on_several_frames() {
        let mut v = Vec::new();
        let b = |x0, x1| PixelBox {
            x0,
            y0: 0,
            x1,
            y1: 10,
            source: "ocr: identifying word (name)".into(),
        };
        merge_box(&mut v, b(0, 20));
        merge_box(&mut v, b(2, 22));
        merge_box(&mut v, b(100, 120));
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].x0, v[0].x1), (0, 22));
    }

    /// Finds the same words in every image, and counts the frames it was shown.
    struct Fake(Vec<Word>, std::sync::Mutex<Vec<(u32, u32)>>);

    impl TextDetector for Fake {
        fn words(&self, views: &[GrayImage], _read: Read) -> Result<Vec<Word>> {
            let image = &views[0];
            assert_eq!(image.pixels.len(), (image.width * image.height) as usize);
            self.1.lock().unwrap().push((image.width, image.height));
            Ok(self.0.clone())
        }
    }

    /// A 64×48 US image of value 100, three frames, Patient's Name `Doe^Jane`.
    fn us_image() -> DefaultDicomObject {
        use dicom_core::PrimitiveValue;
        let e = |t, vr, v: &str| DataElement::new(t, vr, PrimitiveValue::from(v));
        let u = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
        let ds = InMemDicomObject::from_element_iter([
            e(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.3.1"),
            e(tags::SOP_INSTANCE_UID, VR::UI, "2.25.99"),
            e(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.98"),
            e(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.97"),
            e(tags::MODALITY, VR::CS, "US"),
            e(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
            e(tags::NUMBER_OF_FRAMES, VR::IS, "3"),
            u(tags::SAMPLES_PER_PIXEL, 1),
            e(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            u(tags::ROWS, 48),
            u(tags::COLUMNS, 64),
            u(tags::BITS_ALLOCATED, 8),
            u(tags::BITS_STORED, 8),
            u(tags::HIGH_BIT, 7),
            u(tags::PIXEL_REPRESENTATION, 0),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PrimitiveValue::U8(vec![100u8; 64 * 48 * 3].into()),
            ),
        ]);
        let meta = dicom_object::meta::FileMetaTableBuilder::new()
            .transfer_syntax(super::super::EXPLICIT_VR_LE)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.3.1")
            .media_storage_sop_instance_uid("2.25.99")
            .implementation_class_uid("2.25.1")
            .build()
            .unwrap();
        ds.with_exact_meta(meta)
    }

    #[test]
    fn deidentify_with_a_detector_by_mode() {
        use crate::{deidentify_with, Key, Plan, ProfileId};
        let fake = Fake(
            vec![
                Word {
                    x0: 10,
                    y0: 10,
                    x1: 30,
                    y1: 22,
                    text: "DOE".into(),
                    confidence: 95.0,
                    columns: Vec::new(),
                },
                Word {
                    x0: 40,
                    y0: 30,
                    x1: 60,
                    y1: 42,
                    text: "Gain".into(),
                    confidence: 95.0,
                    columns: Vec::new(),
                },
            ],
            Default::default(),
        );
        let manual = [PixelBox {
            x0: 0,
            y0: 44,
            x1: 4,
            y1: 48,
            source: String::new(),
        }];
        let tools = PixelTools {
            regions: RegionRules::shipped(),
            detector: Some(&fake),
            manual_boxes: &manual,
            disabled_boxes: &[],
        };
        let proposal = propose(&us_image(), &tools, TextMode::Identifying);
        let kinds: Vec<(&str, BoxKind, &str)> = proposal
            .boxes
            .iter()
            .map(|b| (b.id.as_str(), b.kind, b.bbox.source.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("ocr-0", BoxKind::Ocr, "ocr: identifying word (name)"),
                ("manual-0", BoxKind::Manual, "manual")
            ]
        );
        assert_eq!(proposal.ocr_frames, [0, 1, 2]);
        assert_eq!(fake.1.lock().unwrap()[0], (64, 48));

        let key = Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap();
        let mut plan = Plan::builtin(ProfileId::Pixel);
        plan.pixel_text = TextMode::Identifying;
        let out = deidentify_with(us_image(), &plan, &key, &tools).unwrap();
        let sources: Vec<&str> = out
            .record
            .pixel_boxes
            .iter()
            .map(|b| b.source.as_str())
            .collect();
        assert_eq!(sources, ["ocr: identifying word (name)", "manual"]);
        assert!(out.record.pixel_warnings.is_empty());
        let px = out
            .object
            .decode_pixel_data()
            .unwrap()
            .to_vec::<u8>()
            .unwrap();
        let at = |f: usize, x: usize, y: usize| px[f * 64 * 48 + y * 64 + x];
        for f in 0..3 {
            assert_eq!(at(f, 20, 15), 0, "name blanked in frame {f}");
            assert_eq!(at(f, 50, 35), 100, "other text kept in frame {f}");
            assert_eq!(at(f, 1, 46), 0, "manual box blanked in frame {f}");
        }
        let json = serde_json::to_string(&out.record).unwrap();
        assert!(!json.contains("DOE") && !json.contains("Gain"));

        // The default: all text, here with the manual box switched off.
        plan.pixel_text = TextMode::Text;
        let disabled = ["manual-0".to_string()];
        let tools = PixelTools {
            disabled_boxes: &disabled,
            ..tools
        };
        let out = deidentify_with(us_image(), &plan, &key, &tools).unwrap();
        let px = out
            .object
            .decode_pixel_data()
            .unwrap()
            .to_vec::<u8>()
            .unwrap();
        assert_eq!(px[35 * 64 + 50], 0);
        assert_eq!(px[46 * 64 + 1], 100);

        // Without a detector: a warning, and nothing blanked.
        let out = deidentify_with(us_image(), &plan, &key, &PixelTools::default()).unwrap();
        assert!(out.record.pixel_boxes.is_empty());
        assert_eq!(out.record.pixel_warnings.len(), 1);
    }

    #[test]
    fn debug_hides_text() {
        let w = word(0, 0, "PATIENTFIVE");
        assert!(!format!("{w:?}").contains("PATIENT"));
    }
}
