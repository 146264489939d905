//! Searching the dictionary in output objects, raw bytes and names.

use super::dictionary::{charset_of, effective_vr, is_text, text_value, Dictionary, Rule};
use super::fold::{is_printable, Folded};
use super::Category;
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_encoding::text::SpecificCharacterSet;
use dicom_object::InMemDicomObject;
use std::collections::HashSet;
use std::io::Read;

/// In raw bytes, an entry shorter than this (folded bytes) counts only inside a run of
/// [`TEXT_RUN`] printable bytes: in binary data, three to five letters in a row happen by
/// chance every few megabytes, sixteen printable bytes in a row almost never.
pub const BINARY_MIN_BYTES: usize = 6;
pub const TEXT_RUN: usize = 16;
/// Raw bytes are searched this many at a time...
const CHUNK: usize = 1 << 20;
/// ...each time with the last bytes of the previous chunk again in front, so a value cut
/// by a chunk border is still found whole (values longer than this, separators
/// included, could be missed there).
const OVERLAP: usize = 4096;
/// Matches ending this close to the end of a chunk wait for the next one, which sees what
/// follows them (word boundary, possessive `s`, printable run).
const MARGIN: usize = 256;

/// An identifying value found in a decoded element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// Element path: `0008,1032/0/0008,0104` (group,element / item index / ...).
    pub path: String,
    /// What kind of value it is.
    pub category: Category,
    /// Which dictionary entry matched (a number, not the value): lets a caller tell
    /// byte hits already explained by decoded findings from new ones.
    pub entry: usize,
}

/// An identifying value found in raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteHit {
    /// Offset of the match's first byte.
    pub offset: u64,
    /// What kind of value it is.
    pub category: Category,
    /// Which dictionary entry matched (a number, not the value).
    pub entry: usize,
}

/// An identifying value found in a file or folder name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameHit {
    /// What kind of value it is.
    pub category: Category,
    /// Which dictionary entry matched (a number, not the value).
    pub entry: usize,
}

/// One accepted match, in folded coordinates.
struct Hit {
    start: usize,
    end: usize,
    category: Category,
    entry: usize,
}

/// Elements holding image or signal samples, never text: their bytes would only give
/// chance matches.
fn is_bulk(tag: Tag) -> bool {
    matches!((tag.0, tag.1), (0x7FE0, 0x0008..=0x0010) | (0x5400, 0x1010))
        || (tag.0 & 0xFF01 == 0x6000 && tag.1 == 0x3000)
}

impl Dictionary {
    /// Every accepted match of the dictionary in `hay`. `raw` is the unfolded bytes for
    /// a raw haystack (binary-context rules), `None` for decoded text; `only` restricts
    /// the categories.
    fn hits(
        &self,
        hay: &Folded,
        raw: Option<&[u8]>,
        only: Option<Category>,
        on: &mut dyn FnMut(Hit),
    ) {
        let Some(ac) = &self.automaton else { return };
        for m in ac.find_overlapping_iter(&hay.bytes[..]) {
            let entry = self.pattern_entry[m.pattern().as_usize()] as usize;
            let e = &self.entries[entry];
            let (start, end) = (m.start(), m.end());
            if hay.digit_joined(start) || hay.digit_joined(end) {
                continue;
            }
            if let Some(data) = raw {
                if hay.broken(start, end) {
                    continue;
                }
                let span = (hay.origin(start), hay.origin(end - 1) + 1);
                if e.folded.len() < BINARY_MIN_BYTES && !in_text_run(data, span) {
                    continue;
                }
            }
            let word = hay.boundary(start) && hay.boundary(end);
            let possessive = !word
                && hay.boundary(start)
                && hay.bytes.get(end) == Some(&b's')
                && hay.boundary(end + 1);
            for &(category, rule) in &e.rules {
                if only.is_some_and(|o| o != category) {
                    continue;
                }
                let ok = match rule {
                    Rule::Word => word,
                    Rule::Possessive => word || possessive,
                    Rule::Embedded | Rule::Free => true,
                };
                if ok {
                    on(Hit {
                        start,
                        end,
                        category,
                        entry,
                    });
                }
            }
        }
    }

    /// Identifying values in the decoded elements of an object, at every depth: text VRs
    /// (AE, CS, LO, LT, PN, SH, ST, UC, UR, UT), DA and DT for the birth date only, UI
    /// for the instance UIDs only,
    /// private elements too, and the printable text inside OB and UN values. Pixel,
    /// overlay and waveform samples are not searched. One finding per element path,
    /// category and entry.
    pub fn scan_object(&self, obj: &InMemDicomObject) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut hay = Folded::default();
        let cs = charset_of(obj, &SpecificCharacterSet::default());
        self.walk(obj, "", &cs, &mut hay, &mut |f| {
            if seen.insert(f.clone()) {
                out.push(f);
            }
        });
        out
    }

    fn walk(
        &self,
        ds: &InMemDicomObject,
        prefix: &str,
        cs: &SpecificCharacterSet,
        hay: &mut Folded,
        on: &mut dyn FnMut(Finding),
    ) {
        for elem in ds.iter() {
            let tag = elem.tag();
            let mut path = String::with_capacity(prefix.len() + 9);
            path.push_str(prefix);
            crate::profile::tag::push_tag_digits(&mut path, tag);
            match elem.value() {
                Value::Sequence(seq) => {
                    for (i, item) in seq.items().iter().enumerate() {
                        let inner = format!("{path}/{i}/");
                        self.walk(item, &inner, &charset_of(item, cs), hay, on);
                    }
                }
                Value::PixelSequence(_) => {}
                Value::Primitive(_) if is_bulk(tag) => {}
                Value::Primitive(p) => {
                    let vr = effective_vr(elem);
                    if let Some(text) = text_value(elem, vr, p, cs) {
                        let only = match vr {
                            VR::DA | VR::DT => Some(Category::DateOfBirth),
                            VR::UI => Some(Category::Uid),
                            _ => None,
                        };
                        hay.text(&text);
                        self.hits(hay, None, only, &mut |h| {
                            on(Finding {
                                path: path.clone(),
                                category: h.category,
                                entry: h.entry,
                            })
                        });
                    } else if matches!(elem.vr(), VR::OB | VR::UN) && !is_text(vr) {
                        let bytes = p.to_bytes();
                        self.scan_reader(&bytes[..], 0, |h| {
                            on(Finding {
                                path: path.clone(),
                                category: h.category,
                                entry: h.entry,
                            })
                        })
                        .expect("reading a slice does not fail");
                    }
                }
            }
        }
    }

    /// Identifying values in raw bytes (any file, or the parts of a DICOM file outside
    /// its pixel data), read in chunks of 1 MiB so memory stays bounded. Offsets are
    /// counted from `base`. Returns how many bytes were read.
    pub fn scan_reader<R: Read>(
        &self,
        mut input: R,
        base: u64,
        mut on: impl FnMut(ByteHit),
    ) -> std::io::Result<u64> {
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + OVERLAP);
        let mut hay = Folded::default();
        // Offset of buf[0] from base; matches ending at or before `done` (in buf) are
        // reported already.
        let (mut at, mut done) = (0u64, 0usize);
        loop {
            let before = buf.len();
            let eof = fill(&mut input, &mut buf, before + CHUNK)?;
            let safe = if eof { buf.len() } else { buf.len() - MARGIN };
            hay.raw(&buf);
            self.hits(&hay, Some(&buf), None, &mut |h| {
                let (start, end) = (hay.origin(h.start), hay.origin(h.end - 1) + 1);
                if end > done && end <= safe {
                    on(ByteHit {
                        offset: base + at + start as u64,
                        category: h.category,
                        entry: h.entry,
                    });
                }
            });
            if eof {
                return Ok(at + buf.len() as u64);
            }
            let keep_from = buf.len() - OVERLAP;
            buf.drain(..keep_from);
            at += keep_from as u64;
            done = safe - keep_from;
        }
    }

    /// Identifying values in one file or folder name (a path component). One hit per
    /// category and entry.
    pub fn scan_name(&self, name: &str) -> Vec<NameHit> {
        let mut hay = Folded::default();
        hay.text(name);
        let mut out: Vec<NameHit> = Vec::new();
        self.hits(&hay, None, None, &mut |h| {
            let hit = NameHit {
                category: h.category,
                entry: h.entry,
            };
            if !out.contains(&hit) {
                out.push(hit);
            }
        });
        out
    }
}

/// Reads until `buf` holds `want` bytes or the input ends; true at the end.
fn fill<R: Read>(input: &mut R, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let n = input
            .by_ref()
            .take((want - buf.len()) as u64)
            .read_to_end(buf)?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `span` of `data` lies in a run of at least [`TEXT_RUN`] printable bytes.
fn in_text_run(data: &[u8], (start, end): (usize, usize)) -> bool {
    if !data[start..end]
        .iter()
        .all(|&b| is_printable(b) || b >= 0x80)
    {
        return false;
    }
    let need = TEXT_RUN.saturating_sub(end - start);
    let left = data[..start]
        .iter()
        .rev()
        .take(need)
        .take_while(|&&b| is_printable(b))
        .count();
    let right = data[end..]
        .iter()
        .take(need - left)
        .take_while(|&&b| is_printable(b))
        .count();
    left + right >= need
}

#[cfg(test)]
mod tests {
    use super::super::DictionaryBuilder;
    use super::*;
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::DataElement;
    use dicom_dictionary_std::tags;

    fn original() -> InMemDicomObject {
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::PATIENT_NAME, VR::PN, "Abernathy-Jones^Douglas^Henry");
        ds.put_str(tags::PATIENT_ID, VR::LO, "51544914");
        ds.put_str(tags::STUDY_ID, VR::SH, "1");
        ds.put_str(tags::ACCESSION_NUMBER, VR::SH, "A77");
        ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19600412");
        ds.put_str(tags::STATION_NAME, VR::SH, "CTSCAN07");
        ds.put_str(tags::INSTITUTION_NAME, VR::LO, "Saint Elsewhere Hospital");
        ds.put_str(tags::MANUFACTURER, VR::LO, "TOSHIBA");
        ds.put_str(tags::INSTITUTIONAL_DEPARTMENT_NAME, VR::LO, "TOSHIBA");
        ds.put_str(tags::PATIENT_TELEPHONE_NUMBERS, VR::SH, "+1 (555) 123-4567");
        ds.put_str(
            tags::PATIENT_TELECOM_INFORMATION,
            VR::LT,
            "mailto:q.ott@example.org",
        );
        ds.put_str(
            tags::PATIENT_ADDRESS,
            VR::LO,
            "12 Larkspur Lane^Springfield^MA^01234",
        );
        ds.put_str(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Dr^X");
        ds.put_str(tags::OPERATORS_NAME, VR::PN, "Anonymous^Patient");
        // An ID and a name only inside sequence items.
        let mut other = InMemDicomObject::new_empty();
        other.put_str(tags::PATIENT_ID, VR::LO, "OTHER-998877");
        ds.put(DataElement::new(
            tags::OTHER_PATIENT_I_DS_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![other]),
        ));
        let mut person = InMemDicomObject::new_empty();
        person.put_str(tags::PERSON_NAME, VR::PN, "Quillfeather^Ottoline");
        ds.put(DataElement::new(
            tags::CONTENT_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![person]),
        ));
        ds
    }

    fn dict() -> Dictionary {
        let mut b = DictionaryBuilder::new();
        b.add_object(&original());
        b.build()
    }

    fn text_hits(d: &Dictionary, s: &str) -> Vec<Category> {
        let mut v: Vec<Category> = d.scan_name(s).into_iter().map(|h| h.category).collect();
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn names_in_their_spellings() {
        let d = dict();
        for s in [
            "ABERNATHY",
            "abernathy-jones",
            "Report for Mr Douglas",
            "Douglas_Davidson",
            "the Abernathys' car",
            "Abernathy's",
            "DOUGLASABERNATHYJONES",
            "DouglasHenry",
            "Henry Douglas",
            "quillfeather",
        ] {
            assert_eq!(text_hits(&d, s), [Category::Name], "{s}");
        }
        for s in [
            "Abernathyville",
            "Douglasville",
            "Dr",
            "X-ray",
            "Anonymous Patient",
            "patient",
        ] {
            assert!(text_hits(&d, s).is_empty(), "{s}");
        }
    }

    #[test]
    fn identifiers_inside_longer_strings_but_not_inside_numbers() {
        let d = dict();
        for s in [
            "MRN51544914",
            "PAT01_ABERNATHY_MRN51544914",
            "id 5154-4914",
            "other998877",
        ] {
            assert!(text_hits(&d, s).contains(&Category::Id), "{s}");
        }
        for s in [
            "1.2.840.51544914.1",
            "9515449140",
            "Study 1",
            "A77",
            "0.51544914",
        ] {
            assert!(!text_hits(&d, s).contains(&Category::Id), "{s}");
        }
    }

    #[test]
    fn birth_date_spellings() {
        let d = dict();
        for s in [
            "19600412",
            "1960-04-12",
            "12/04/1960",
            "04/12/1960",
            "12.04.1960",
            "12 Apr 1960",
            "April 12, 1960",
            "born 12-APR-1960.",
        ] {
            assert_eq!(text_hits(&d, s), [Category::DateOfBirth], "{s}");
        }
        assert!(text_hits(&d, "119600412").is_empty());
        assert!(text_hits(&d, "1.19600412").is_empty());
    }

    #[test]
    fn contacts_places_and_stations() {
        let d = dict();
        assert_eq!(text_hits(&d, "call 555-123-4567"), [Category::Phone]);
        assert_eq!(text_hits(&d, "tel 1234567"), [Category::Phone]);
        assert_eq!(text_hits(&d, "Q.Ott@Example.org"), [Category::Email]);
        assert_eq!(text_hits(&d, "lives in springfield"), [Category::Address]);
        assert_eq!(text_hits(&d, "12 LARKSPUR LANE"), [Category::Address]);
        assert_eq!(text_hits(&d, "zip 01234"), [Category::Address]);
        assert!(text_hits(&d, "MA").is_empty());
        assert_eq!(text_hits(&d, "CTSCAN07 head"), [Category::Station]);
        assert_eq!(
            text_hits(&d, "Saint-Elsewhere hospital"),
            [Category::Institution]
        );
        assert!(text_hits(&d, "TOSHIBA").is_empty(), "the maker's name");
    }

    #[test]
    fn objects_are_scanned_at_every_depth_with_paths() {
        let d = dict();
        let mut out = InMemDicomObject::new_empty();
        let code = |meaning: &str| {
            let mut c = InMemDicomObject::new_empty();
            c.put_str(tags::CODE_VALUE, VR::SH, "T-D1100");
            c.put_str(tags::CODE_MEANING, VR::LO, meaning);
            c
        };
        let mut inner = code("Head");
        inner.put(DataElement::new(
            tags::ANATOMIC_REGION_MODIFIER_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code("Smith"), code("Quillfeathers scan")]),
        ));
        out.put(DataElement::new(
            tags::PROCEDURE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code("CT"), inner]),
        ));
        out.put_str(tags::PROTOCOL_NAME, VR::LO, "CTSCAN07 routine");
        out.put_str(tags::STUDY_DATE, VR::DA, "19600412");
        out.put_str(tags::CONTENT_DATE, VR::DA, "20200102");
        out.put_str(tags::SERIES_DESCRIPTION, VR::LO, "20200102");
        out.put_str(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.51544914.3");
        out.put_str(dicom_core::Tag(0x0009, 0x0010), VR::LO, "ACME 1.0");
        out.put_str(dicom_core::Tag(0x0009, 0x1001), VR::LO, "for Abernathy");
        out.put(DataElement::new(
            dicom_core::Tag(0x0009, 0x1002),
            VR::UN,
            PrimitiveValue::U8(
                b"\x01\x02\x00\x00Patient DOUGLAS^HENRY\x00\x07"
                    .to_vec()
                    .into(),
            ),
        ));
        out.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(b"   Quillfeather    ".to_vec().into()),
        ));
        let mut found: Vec<(String, Category)> = d
            .scan_object(&out)
            .into_iter()
            .map(|f| (f.path, f.category))
            .collect();
        found.sort();
        found.dedup();
        let want = [
            ("0008,0020", Category::DateOfBirth),
            ("0009,1001", Category::Name),
            ("0009,1002", Category::Name),
            ("0008,1032/1/0008,2220/1/0008,0104", Category::Name),
            ("0018,1030", Category::Station),
        ];
        let mut want: Vec<(String, Category)> =
            want.iter().map(|(p, c)| (p.to_string(), *c)).collect();
        want.sort();
        assert_eq!(found, want);
        // "Smith" is no name of this set.
    }

    #[test]
    fn raw_bytes_across_chunks_and_binary_noise() {
        let d = dict();
        let mut data = vec![0u8; CHUNK - 3];
        data.extend_from_slice(b"ABERNATHY");
        data.extend(std::iter::repeat_n(0u8, CHUNK));
        data.extend_from_slice(b"x\x00\x13MRN51544914");
        let mut hits = Vec::new();
        let n = d.scan_reader(&data[..], 100, |h| hits.push(h)).unwrap();
        assert_eq!(n, data.len() as u64);
        let got: Vec<(u64, Category)> = hits.iter().map(|h| (h.offset, h.category)).collect();
        assert_eq!(
            got,
            [
                (100 + CHUNK as u64 - 3, Category::Name),
                (100 + 2 * CHUNK as u64 + 12, Category::Id)
            ]
        );
        // Short names count in text runs only; letters split by binary bytes never.
        let mut hits = 0;
        d.scan_reader(&b"\x00\x01henry\x02\x00 he\x00nry"[..], 0, |_| hits += 1)
            .unwrap();
        assert_eq!(hits, 0);
        d.scan_reader(&b"\x00\x01a report on henry today\x00"[..], 0, |_| {
            hits += 1
        })
        .unwrap();
        assert_eq!(hits, 1);
        // Latin-1 spelling of a non-ASCII name.
        let mut b = DictionaryBuilder::new();
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::PATIENT_NAME, VR::PN, "Müllerström^Jörg");
        b.add_object(&ds);
        let d = b.build();
        let mut hits = 0;
        d.scan_reader(&b"\x00M\xfcllerstr\xf6m\x00"[..], 0, |_| hits += 1)
            .unwrap();
        assert_eq!(hits, 1);
    }

    #[test]
    fn ideographic_and_phonetic_names() {
        let mut b = DictionaryBuilder::new();
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(
            tags::PATIENT_NAME,
            VR::PN,
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
        );
        b.add_object(&ds);
        let d = b.build();
        for s in ["山田さん", "たろう", "YAMADA"] {
            assert_eq!(text_hits(&d, s), [Category::Name], "{s}");
        }
        assert!(text_hits(&d, "山").is_empty(), "one character");
    }

    #[test]
    fn original_instance_uids_but_not_standard_ones() {
        let mut b = DictionaryBuilder::new();
        let mut ds = original();
        let sop = "1.2.826.0.1.3680043.2.1125.99.12345";
        ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, sop);
        ds.put_str(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
        ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4");
        b.add_object(&ds);
        let d = b.build();
        assert_eq!(text_hits(&d, &format!("{sop}.dcm")), [Category::Uid]);
        assert!(
            text_hits(&d, &format!("{sop}.1")).is_empty(),
            "a longer UID"
        );
        assert!(
            text_hits(&d, &format!("9.{sop}")).is_empty(),
            "a longer UID"
        );
        assert!(text_hits(&d, "1.2.840.10008.5.1.4.1.1.2").is_empty());
        assert!(text_hits(&d, "v1.2.3.4").is_empty(), "too short to enter");
        let mut out = InMemDicomObject::new_empty();
        let mut item = InMemDicomObject::new_empty();
        item.put_str(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, sop);
        out.put(DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ));
        out.put_str(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
        let found: Vec<(String, Category)> = d
            .scan_object(&out)
            .into_iter()
            .map(|f| (f.path, f.category))
            .collect();
        assert_eq!(
            found,
            [("0008,1140/0/0008,1155".to_string(), Category::Uid)]
        );
    }

    #[test]
    fn an_empty_dictionary_finds_nothing() {
        let d = DictionaryBuilder::new().build();
        assert!(d.is_empty());
        assert!(d.scan_name("Abernathy").is_empty());
        assert!(d.scan_object(&original()).is_empty());
    }
}
