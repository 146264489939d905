//! Streaming de-identification: the header goes through [`deidentify`](crate::deidentify), the pixel data is
//! copied from the input as bytes, so memory does not grow with the size of the image.
//!
//! [`prepare`] reads the input only up to the top-level Pixel Data element (7FE0,0010).
//! `locate` finds the exact byte offset where that element starts with dicom-parser's
//! lazy reader (headers decoded, values skipped); the bytes before it are parsed with
//! dicom-object and de-identified; [`Prepared::write_to`] writes preamble,
//! meta group and de-identified header, then copies the pixel data element from the input
//! in chunks. Elements after the pixel data (Data Set Trailing Padding (FFFC,FFFC),
//! Digital Signatures (FFFA,FFFA), ...) are never copied: they are read, de-identified
//! with the header and written after the pixel data, as the in-memory path would.
//! Whenever anything is uncertain the whole object is processed in memory
//! instead, with the reason recorded in [`Mode::InMemory`]:
//!
//! - the file has no file meta group (an old bare data set);
//! - the transfer syntax is deflated, private or unknown, or encapsulates pixel data in
//!   something other than Explicit VR Little Endian;
//! - the plan cleans pixel data (the cleaner needs the decoded image);
//! - there is no top-level Pixel Data, or more than 16 MiB follow it;
//! - the structure is odd (items outside sequences, lengths past the end of the input,
//!   undefined-length items inside encapsulated pixel data), or dicom-parser cannot walk it;
//! - the header does not parse on its own;
//! - data follows the pixel data and the character set is not a single known term;
//! - the plan would do anything but keep the Pixel Data element.
//!
//! The streamed output is byte for byte the output of the in-memory path for well-formed
//! files: same header encoding, and the pixel data element in its original encoding.

use crate::actions::key::Key;
use crate::apply::{deidentify_with_related, Outcome};
use crate::decide::plan::Plan;
use crate::error::{Error, Result};
use crate::guard::Identifying;
use crate::io;
use crate::pixel::detect::PixelTools;
use crate::profile::options::ProfileOption;
use crate::profile::vocab::Action;
use crate::record::{Mappings, Record};
use dicom_core::header::Header as _;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag};
use dicom_dictionary_std::tags;
use dicom_encoding::text::SpecificCharacterSet;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use locate::{locate, Located, Recorded, Stop};
use std::io::{Read, Seek, SeekFrom, Write};

mod locate;

/// More than this after the pixel data is left to the in-memory path.
const MAX_TRAILER: u64 = 16 * 1024 * 1024;
/// Files without a file meta group up to this size are given whole to the engine.
const BARE_LIMIT: u64 = 64 * 1024 * 1024;
/// A value no rule produces from anything: stands in for the pixel data while the header
/// is de-identified, to learn what the plan does to the Pixel Data element.
const PLACEHOLDER: [u8; 6] = *b"dcmask";

/// How a [`Prepared`] object is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Header de-identified in memory, pixel data copied from the input as bytes.
    Streamed,
    /// The whole object was read into memory; the reason says why (no values in it).
    InMemory(&'static str),
}

impl Mode {
    /// Whether the pixel data is copied through instead of held in memory.
    pub fn is_streamed(self) -> bool {
        self == Mode::Streamed
    }

    /// `streamed`, or `in-memory: <reason>`.
    pub fn describe(self) -> String {
        match self {
            Mode::Streamed => "streamed".into(),
            Mode::InMemory(why) => format!("in-memory: {why}"),
        }
    }
}

/// A de-identified header (or whole object) waiting to be written.
pub struct Prepared {
    outcome: Outcome,
    tail: Option<Tail>,
    mode: Mode,
}

/// De-identified elements that follow the Pixel Data element, written after it.
struct Trailer {
    elements: InMemDicomObject,
    ts: &'static str,
    charset: SpecificCharacterSet,
}

/// The input's Pixel Data element, copied verbatim after the header.
/// The pixel data element's header is written as dicom-object writes it (encapsulated
/// pixel data always as OB), its value or items are copied, and the sequence delimiter of
/// encapsulated pixel data is written anew: the output is what the in-memory path writes.
struct Tail {
    /// The element header to write.
    element: Vec<u8>,
    /// Where the value (or the items of encapsulated pixel data) starts in the input.
    start: u64,
    len: u64,
    /// Sequence delimiter after the items of encapsulated pixel data.
    closing: Option<Vec<u8>>,
    /// The value bytes, when the scan read them anyway (small files).
    bytes: Option<Vec<u8>>,
    /// What followed the pixel data in the input, de-identified (e.g. trailing padding).
    trailer: Option<Trailer>,
}

/// What was done by [`deidentify_stream`].
pub struct Streamed {
    /// What was decided for each element.
    pub record: Record,
    /// The originals and replacements of UIDs and Patient IDs.
    pub mappings: Mappings,
    /// Whether the pixel data was copied through or the whole object held.
    pub mode: Mode,
    /// Bytes written to the output.
    pub bytes_written: u64,
}

impl Prepared {
    /// The de-identified object. When streamed it holds no Pixel Data element: that is
    /// copied from the input by [`Prepared::write_to`].
    pub fn object(&self) -> &DefaultDicomObject {
        &self.outcome.object
    }

    /// The object, to change further before writing (e.g. cleaning the pixels of an
    /// object prepared in memory). Pixel data added to a streamed object would be written
    /// twice: check [`Prepared::mode`] first.
    pub fn object_mut(&mut self) -> &mut DefaultDicomObject {
        &mut self.outcome.object
    }

    /// What was decided for each element.
    pub fn record(&self) -> &Record {
        &self.outcome.record
    }

    /// The originals and replacements of UIDs and Patient IDs.
    pub fn mappings(&self) -> &Mappings {
        &self.outcome.mappings
    }

    /// How the object will be written.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the guard across a patient's files needs once this object is written: the
    /// identifying values of the original, its Patient ID and the text its guard let
    /// through (see [`Outcome::guarded_text`]). Taken rather than copied: a batch notes
    /// them for every file. Originals: keep in memory or in the linkage only.
    pub fn take_identifying(&mut self) -> (Identifying, Option<String>, Option<String>) {
        let o = &mut self.outcome;
        (
            std::mem::take(&mut o.identifying),
            o.patient.take(),
            o.guarded_text.take(),
        )
    }

    /// Record and mappings, without writing (a dry run).
    pub fn into_parts(self) -> (Record, Mappings) {
        (self.outcome.record, self.outcome.mappings)
    }

    /// Writes the de-identified object: preamble, meta group, header, then (when streamed)
    /// the input's Pixel Data element copied in chunks. `input` must be the reader given to
    /// [`prepare`], unchanged. Returns the number of bytes written.
    pub fn write_to<R: Read + Seek, W: Write>(&self, input: &mut R, mut out: W) -> Result<u64> {
        let Some(tail) = &self.tail else {
            let mut counting = Counting {
                inner: &mut out,
                count: 0,
            };
            io::write_object(&self.outcome.object, &mut counting)?;
            let n = counting.count;
            out.flush().map_err(write_err)?;
            return Ok(n);
        };
        let mut counting = Counting {
            inner: &mut out,
            count: 0,
        };
        io::write_object(&self.outcome.object, &mut counting)?;
        let header_len = counting.count;
        out.write_all(&tail.element).map_err(write_err)?;
        match &tail.bytes {
            Some(bytes) => out.write_all(bytes).map_err(write_err)?,
            None => {
                input.seek(SeekFrom::Start(tail.start)).map_err(read_err)?;
                // For files, std turns this into copy_file_range: no user-space buffer.
                let copied = std::io::copy(&mut input.take(tail.len), &mut out)
                    .map_err(|e| Error::write(format!("copying pixel data: {}", e.kind())))?;
                if copied != tail.len {
                    return Err(Error::malformed(format!(
                        "the input ended {} bytes into its pixel data of {} bytes (changed while being read?)",
                        copied, tail.len
                    )));
                }
            }
        }
        let mut trailer_len = tail.element.len() as u64;
        if let Some(closing) = &tail.closing {
            out.write_all(closing).map_err(write_err)?;
            trailer_len += 8;
        }
        if let Some(t) = &tail.trailer {
            let ts = TransferSyntaxRegistry
                .get(t.ts)
                .ok_or_else(|| Error::write(format!("transfer syntax {}", t.ts)))?;
            let mut bytes = Vec::new();
            t.elements
                .write_dataset_with_ts_cs(&mut bytes, ts, t.charset.clone())
                .map_err(|e| Error::write(e.to_string()))?;
            out.write_all(&bytes).map_err(write_err)?;
            trailer_len += bytes.len() as u64;
        }
        out.flush().map_err(write_err)?;
        Ok(header_len + tail.len + trailer_len)
    }
}

/// De-identifies one object read from `input` into `output`, streaming the pixel data
/// whenever it safely can.
pub fn deidentify_stream<R: Read + Seek, W: Write>(
    mut input: R,
    output: W,
    plan: &Plan,
    key: &Key,
) -> Result<Streamed> {
    let prepared = prepare(&mut input, plan, key)?;
    let bytes_written = prepared.write_to(&mut input, output)?;
    let mode = prepared.mode;
    let (record, mappings) = prepared.into_parts();
    Ok(Streamed {
        record,
        mappings,
        mode,
        bytes_written,
    })
}

/// Reads the input up to its Pixel Data and de-identifies the header; or, when streaming
/// is not safe, reads and de-identifies the whole object in memory (see the module docs).
/// `input` may be at any position; it is read from its start.
pub fn prepare<R: Read + Seek>(input: &mut R, plan: &Plan, key: &Key) -> Result<Prepared> {
    let regions = crate::pixel::regions::RegionRules::shipped();
    prepare_with(input, plan, key, &PixelTools::rules(regions))
}

/// [`prepare`] with the pixel tools (region rules, text detector) Clean Pixel Data uses.
pub fn prepare_with<R: Read + Seek>(
    input: &mut R,
    plan: &Plan,
    key: &Key,
    tools: &PixelTools,
) -> Result<Prepared> {
    prepare_with_related(input, plan, key, tools, None)
}

/// [`prepare_with`], the leak guard also looking for the identifying values of the same
/// patient seen in other files (see [`crate::deidentify_with_related`]).
pub fn prepare_with_related<R: Read + Seek>(
    input: &mut R,
    plan: &Plan,
    key: &Key,
    tools: &PixelTools,
    related: Option<&Identifying>,
) -> Result<Prepared> {
    plan.validate()?;
    let ctx = Ctx {
        plan,
        key,
        tools,
        related,
    };
    let file_len = input.seek(SeekFrom::End(0)).map_err(read_err)?;
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    if plan
        .effective_options()
        .contains(&ProfileOption::CleanPixelData)
    {
        return in_memory(input, &ctx, "clean pixel data needs the image");
    }
    let mut rec = Recorded::new(&mut *input, file_len);
    rec.ensure(132.min(file_len));
    let body_start = if rec.buf.len() >= 132 && &rec.buf[128..132] == b"DICM" {
        128
    } else if rec.buf.starts_with(b"DICM") {
        0
    } else {
        // No file meta group: an old bare data set, or not DICOM. The engine decides, on
        // the whole file when it is small, else on its first 64 KiB (so a large non-DICOM
        // file is not read into memory just to be refused).
        if file_len > BARE_LIMIT && rec.ensure(64 * 1024) {
            if let Err(e @ Error::NotDicom { .. }) = io::read_object(&rec.buf) {
                return Err(e);
            }
        }
        return in_memory(input, &ctx, "no file meta group");
    };
    let located = match locate(&mut rec, body_start) {
        Ok(l) if rec.buf.len() as u64 >= l.value_at => l,
        Ok(_) => return in_memory(input, &ctx, "the header was not read whole"),
        Err(Stop::Fallback(why)) => return in_memory(input, &ctx, why),
        Err(Stop::Refuse(e)) => return Err(e),
    };
    // What follows the pixel data (often Data Set Trailing Padding) goes through the
    // engine like the header: read it, small as it must be.
    let trailer_len = file_len - located.pixel_end;
    let trailer_bytes = if trailer_len == 0 {
        None
    } else if trailer_len > MAX_TRAILER {
        return in_memory(input, &ctx, "large data after the pixel data");
    } else {
        match rec.read_at(located.pixel_end, trailer_len) {
            Some(b) => Some(b),
            None => return in_memory(input, &ctx, "data after the pixel data unreadable"),
        }
    };
    let mut buf = std::mem::take(&mut rec.buf);
    drop(rec);
    match stream_header(&buf, &located, trailer_bytes.as_deref(), &ctx) {
        Ok((outcome, trailer)) => {
            let value_end = located.value_at + located.value_len;
            let bytes = (buf.len() as u64 >= value_end).then(|| {
                buf.truncate(value_end as usize);
                buf.split_off(located.value_at as usize)
            });
            Ok(Prepared {
                outcome,
                tail: Some(Tail {
                    element: located.element.clone(),
                    start: located.value_at,
                    len: located.value_len,
                    closing: located.closing,
                    bytes,
                    trailer,
                }),
                mode: Mode::Streamed,
            })
        }
        Err(StreamError::Fallback(why)) => {
            drop(buf);
            in_memory(input, &ctx, why)
        }
        Err(StreamError::Engine(e)) => Err(e),
    }
}

/// What de-identifying one input needs besides the bytes.
struct Ctx<'a> {
    plan: &'a Plan,
    key: &'a Key,
    tools: &'a PixelTools<'a>,
    related: Option<&'a Identifying>,
}

enum StreamError {
    Fallback(&'static str),
    Engine(Error),
}

/// The character set the value of (0008,0005) selects, when it is a single known term.
fn charset_of(obj: &InMemDicomObject) -> Option<SpecificCharacterSet> {
    match obj.get(tags::SPECIFIC_CHARACTER_SET) {
        None => Some(SpecificCharacterSet::default()),
        Some(e) => {
            let values = e.value().to_multi_str().ok()?;
            match values.iter().map(|v| v.trim()).collect::<Vec<_>>()[..] {
                [] | [""] => Some(SpecificCharacterSet::default()),
                [one] => SpecificCharacterSet::from_code(one),
                _ => None,
            }
        }
    }
}

/// Parses and de-identifies the bytes before the Pixel Data element, and those after it.
fn stream_header(
    buf: &[u8],
    located: &Located,
    trailer: Option<&[u8]>,
    ctx: &Ctx,
) -> std::result::Result<(Outcome, Option<Trailer>), StreamError> {
    // Read up to the Pixel Data element header and stop there, as dicom-object's
    // read_until does (reading to the end of a slice would make an error to stop).
    let parsed = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_until(tags::PIXEL_DATA)
        .from_reader(&buf[located.body_start as usize..located.value_at as usize])
        .map_err(|_| ());
    let mut obj =
        parsed.map_err(|()| StreamError::Fallback("the header does not parse on its own"))?;
    // The locator read the same meta group with the same reader: same transfer syntax.
    let registered = TransferSyntaxRegistry
        .get(located.ts_uid)
        .ok_or(StreamError::Fallback("unknown transfer syntax"))?;
    if let Some(bytes) = trailer {
        let cs = charset_of(&obj).ok_or(StreamError::Fallback(
            "data after the pixel data, and a character set other than one known term",
        ))?;
        io::check_dataset(bytes, registered).map_err(StreamError::Engine)?;
        let elements = InMemDicomObject::read_dataset_with_ts_cs(bytes, registered, cs)
            .map_err(|_| StreamError::Fallback("the data after the pixel data does not parse"))?;
        for e in elements {
            obj.put(e);
        }
    }
    let placeholder = PrimitiveValue::U8(PLACEHOLDER[..].into());
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        located.pixel_vr,
        placeholder.clone(),
    ));
    // Pixel tools are irrelevant here: a plan that cleans pixels never streams.
    let mut outcome = deidentify_with_related(obj, ctx.plan, ctx.key, ctx.tools, ctx.related)
        .map_err(StreamError::Engine)?;
    let kept = outcome
        .object
        .get(tags::PIXEL_DATA)
        .is_some_and(|e| e.value().primitive() == Some(&placeholder))
        && outcome
            .record
            .entries
            .iter()
            .filter(|e| e.path == "7FE0,0010")
            .all(|e| e.action == Action::Keep);
    if !kept {
        return Err(StreamError::Fallback(
            "the plan does not keep the Pixel Data element",
        ));
    }
    outcome.object.remove_element(tags::PIXEL_DATA);
    // Elements sorting after Pixel Data are written after the copied pixel data.
    let after: Vec<Tag> = outcome
        .object
        .iter()
        .map(|e| e.tag())
        .filter(|t| *t > tags::PIXEL_DATA)
        .collect();
    if after.is_empty() {
        return Ok((outcome, None));
    }
    let charset = charset_of(&outcome.object).ok_or(StreamError::Fallback(
        "data after the pixel data, and a character set other than one known term",
    ))?;
    let mut elements = InMemDicomObject::new_empty();
    for t in after {
        if let Ok(e) = outcome.object.take_element(t) {
            elements.put(e);
        }
    }
    Ok((
        outcome,
        Some(Trailer {
            elements,
            ts: registered.uid(),
            charset,
        }),
    ))
}

/// An object's header read without its pixel data, and where that pixel data lies.
pub struct Header {
    /// The object as read; only what precedes the pixel data when [`Header::pixel_data`] is known.
    pub object: DefaultDicomObject,
    /// Byte range of the top-level Pixel Data value (or its fragments) in the input, when
    /// it was located; the object then holds only the elements before it.
    pub pixel_data: Option<std::ops::Range<u64>>,
}

/// Reads a file's header (everything before the top-level Pixel Data element) without
/// reading the pixel data, with the same checks of declared lengths as [`prepare`], for
/// readers that only look at headers (`dcmask verify`). Files the locator cannot walk (no
/// pixel data, no file meta group, deflated) are read whole when at most 64 MiB, else
/// refused; a file that does not start like DICOM is refused from its first 64 KiB.
pub fn read_header<R: Read + Seek>(input: &mut R) -> Result<Header> {
    let file_len = input.seek(SeekFrom::End(0)).map_err(read_err)?;
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut rec = Recorded::new(&mut *input, file_len);
    rec.ensure(132.min(file_len));
    let body_start = if rec.buf.len() >= 132 && &rec.buf[128..132] == b"DICM" {
        Some(128)
    } else if rec.buf.starts_with(b"DICM") {
        Some(0)
    } else {
        None
    };
    match body_start {
        Some(body_start) => {
            let located = match locate(&mut rec, body_start) {
                Ok(l) => Some(l),
                Err(Stop::Refuse(e)) => return Err(e),
                Err(Stop::Fallback(_)) => None,
            };
            if let Some(l) = located {
                let parsed = (rec.buf.len() as u64 >= l.value_at)
                    .then(|| {
                        OpenFileOptions::new()
                            .read_preamble(ReadPreamble::Never)
                            .read_until(tags::PIXEL_DATA)
                            .from_reader(&rec.buf[body_start as usize..l.value_at as usize])
                            .ok()
                    })
                    .flatten();
                if let Some(object) = parsed {
                    return Ok(Header {
                        object,
                        pixel_data: Some(l.value_at..l.pixel_end),
                    });
                }
            }
        }
        None => {
            rec.ensure((64 * 1024).min(file_len));
            if let Err(e @ Error::NotDicom { .. }) = io::read_object(&rec.buf) {
                return Err(e);
            }
        }
    }
    drop(rec);
    if file_len > BARE_LIMIT {
        return Err(Error::unsupported(
            "a file over 64 MiB whose pixel data could not be located",
        ));
    }
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(read_err)?;
    Ok(Header {
        object: io::read_object(&bytes)?,
        pixel_data: None,
    })
}

/// Reads, parses and de-identifies the whole object.
fn in_memory<R: Read + Seek>(input: &mut R, ctx: &Ctx, why: &'static str) -> Result<Prepared> {
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(read_err)?;
    let obj = io::read_object(&bytes)?;
    drop(bytes);
    let outcome = deidentify_with_related(obj, ctx.plan, ctx.key, ctx.tools, ctx.related)?;
    Ok(Prepared {
        outcome,
        tail: None,
        mode: Mode::InMemory(why),
    })
}

fn read_err(e: std::io::Error) -> Error {
    Error::malformed(format!("reading the input: {}", e.kind()))
}

fn write_err(e: std::io::Error) -> Error {
    Error::write(e.kind().to_string())
}

struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::deidentify;
    use crate::decide::plan::ProfileId;
    use dicom_core::value::PixelFragmentSequence;
    use dicom_core::VR;
    use dicom_object::meta::FileMetaTableBuilder;
    use dicom_object::InMemDicomObject;
    use std::io::Cursor;

    fn key() -> Key {
        Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap()
    }

    fn object(ts: &str, encapsulated: bool) -> Vec<u8> {
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
        ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6");
        ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5");
        ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.1");
        ds.put_str(tags::PATIENT_NAME, VR::PN, "Doe^Jane");
        ds.put_str(tags::PATIENT_ID, VR::LO, "PID-1234");
        ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101");
        // Sequences two deep before the pixel data: the walk must step over them.
        let mut code = InMemDicomObject::new_empty();
        code.put_str(tags::CODE_VALUE, VR::SH, "T-D1100");
        code.put_str(tags::CODE_MEANING, VR::LO, "Jane's head");
        let mut item = InMemDicomObject::new_empty();
        item.put_str(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.4.9");
        item.put(DataElement::new(
            tags::ANATOMIC_REGION_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![code]),
        ));
        ds.put(DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![item]),
        ));
        ds.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(4u16),
        ));
        ds.put(DataElement::new(
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(4u16),
        ));
        if encapsulated {
            let seq = PixelFragmentSequence::new(vec![0u32], vec![vec![7u8; 16], vec![9u8; 8]]);
            ds.put(DataElement::new(tags::PIXEL_DATA, VR::OB, seq));
        } else {
            ds.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16((0..16u16).collect()),
            ));
        }
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
            .media_storage_sop_instance_uid("1.2.3.4.5.6")
            .build()
            .unwrap();
        io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
    }

    #[test]
    fn read_header_stops_before_the_pixel_data_and_says_where_it_is() {
        for encapsulated in [false, true] {
            let ts = if encapsulated {
                "1.2.840.10008.1.2.5"
            } else {
                "1.2.840.10008.1.2.1"
            };
            let bytes = object(ts, encapsulated);
            let h = read_header(&mut Cursor::new(&bytes)).unwrap();
            assert!(h.object.get(tags::PIXEL_DATA).is_none());
            assert_eq!(
                h.object
                    .element(tags::PATIENT_NAME)
                    .unwrap()
                    .to_str()
                    .unwrap(),
                "Doe^Jane"
            );
            let px = h.pixel_data.expect("located");
            assert_eq!(px.end, bytes.len() as u64);
            let value = &bytes[px.start as usize..px.end as usize];
            if encapsulated {
                // Offset table item (one offset), two fragments, delimiter.
                assert_eq!(value.len(), 8 + 4 + 8 + 16 + 8 + 8 + 8);
            } else {
                assert_eq!(
                    value,
                    (0..16u16).flat_map(u16::to_le_bytes).collect::<Vec<_>>()
                );
            }
        }
        // Not DICOM: refused as such, from its first bytes.
        let text = b"id_old,id_new\n".repeat(10_000);
        assert!(matches!(
            read_header(&mut Cursor::new(&text)),
            Err(Error::NotDicom { .. })
        ));
    }

    fn both(bytes: &[u8], plan: &Plan) -> (Vec<u8>, Vec<u8>, Mode) {
        let full = io::to_bytes(
            &deidentify(io::read_object(bytes).unwrap(), plan, &key())
                .unwrap()
                .object,
        )
        .unwrap();
        let mut out = Vec::new();
        let s = deidentify_stream(Cursor::new(bytes), &mut out, plan, &key()).unwrap();
        assert_eq!(s.bytes_written, out.len() as u64);
        (full, out, s.mode)
    }

    #[test]
    fn streamed_equals_in_memory() {
        let plan = Plan::builtin(ProfileId::Basic);
        for (ts, enc) in [
            ("1.2.840.10008.1.2", false),
            ("1.2.840.10008.1.2.1", false),
            ("1.2.840.10008.1.2.2", false),
            ("1.2.840.10008.1.2.4.50", true),
            ("1.2.840.10008.1.2.5", true),
        ] {
            let bytes = object(ts, enc);
            let (full, streamed, mode) = both(&bytes, &plan);
            assert_eq!(mode, Mode::Streamed, "{ts}");
            assert!(full == streamed, "{ts}: streamed output differs");
        }
    }

    #[test]
    fn large_tail_is_copied_from_the_reader() {
        let plan = Plan::builtin(ProfileId::Basic);
        let mut ds = InMemDicomObject::new_empty();
        ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3");
        ds.put_str(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
        ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.1");
        ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.2");
        ds.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(vec![5u8; 200_000].into()),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax("1.2.840.10008.1.2.1")
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
            .media_storage_sop_instance_uid("1.2.3")
            .build()
            .unwrap();
        let bytes = io::to_bytes(&ds.with_exact_meta(meta)).unwrap();
        let mut cur = Cursor::new(&bytes);
        let p = prepare(&mut cur, &plan, &key()).unwrap();
        assert_eq!(p.mode(), Mode::Streamed);
        assert!(p.tail.as_ref().unwrap().bytes.is_none());
        let (full, streamed, _) = both(&bytes, &plan);
        assert!(full == streamed);
    }

    #[test]
    fn trailing_elements_go_through_the_engine() {
        let plan = Plan::builtin(ProfileId::Basic);
        let mut bytes = object("1.2.840.10008.1.2.1", false);
        // (FFFA,FFFA) Digital Signatures Sequence, empty, then (FFFC,FFFC) Data Set
        // Trailing Padding, OB, 4 bytes.
        bytes.extend_from_slice(&[0xFA, 0xFF, 0xFA, 0xFF, b'S', b'Q', 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 4, 0, 0, 0]);
        bytes.extend_from_slice(b"PHI!");
        let (full, streamed, mode) = both(&bytes, &plan);
        assert_eq!(mode, Mode::Streamed);
        assert!(full == streamed);
    }

    #[test]
    fn pixel_plan_uses_memory() {
        let bytes = object("1.2.840.10008.1.2.1", false);
        let mut cur = Cursor::new(&bytes);
        let p = prepare(&mut cur, &Plan::builtin(ProfileId::Pixel), &key()).unwrap();
        assert!(matches!(p.mode(), Mode::InMemory(_)));
    }

    #[test]
    fn not_dicom_is_refused_early() {
        let junk = vec![0x41u8; 1000];
        let err = prepare(
            &mut Cursor::new(&junk),
            &Plan::builtin(ProfileId::Basic),
            &key(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, Error::NotDicom { .. }));
    }
}
