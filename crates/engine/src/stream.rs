//! Streaming de-identification: the header goes through [`deidentify`], the pixel data is
//! copied from the input as bytes, so memory does not grow with the size of the image.
//!
//! [`prepare`] reads the input only up to the top-level Pixel Data element (7FE0,0010). A
//! small scanner walks the element headers (lengths only, no values decoded) to find the
//! exact byte offset where that element starts; the bytes before it are parsed with
//! [`crate::io::read_object`] and de-identified; [`Prepared::write_to`] writes preamble,
//! meta group and de-identified header, then copies the pixel data element from the input
//! in chunks. Elements after the pixel data (Data Set Trailing Padding (FFFC,FFFC),
//! Digital Signatures (FFFA,FFFA), ...) are never copied: they are read, de-identified
//! with the header and written after the pixel data, as the in-memory path would.
//! Whenever anything is uncertain the whole object is processed in memory
//! instead, with the reason recorded in [`Mode::InMemory`]:
//!
//! - the file has no file meta group (an old bare data set);
//! - the transfer syntax is deflated, private or unknown, or not one whose element
//!   encoding the scanner knows (Implicit VR LE, Explicit VR LE/BE, encapsulated LE);
//! - the plan cleans pixel data (the cleaner needs the decoded image);
//! - there is no top-level Pixel Data, or more than 16 MiB follow it;
//! - the structure is odd (items outside sequences, lengths past the end of the input,
//!   undefined-length items inside encapsulated pixel data, deep nesting);
//! - the header does not parse on its own, or its transfer syntax differs from the scan;
//! - data follows the pixel data and the character set is not a single known term;
//! - the plan would do anything but keep the Pixel Data element.
//!
//! The streamed output is byte for byte the output of the in-memory path for well-formed
//! files: same header encoding, and the pixel data element in its original encoding.

use crate::apply::{deidentify, deidentify_with, Outcome};
use crate::decide::Action;
use crate::error::{Error, Result};
use crate::io;
use crate::key::Key;
use crate::options::ProfileOption;
use crate::pixel::detect::PixelTools;
use crate::plan::Plan;
use crate::record::{Mappings, Record};
use dicom_core::header::Header as _;
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::text::SpecificCharacterSet;
use dicom_encoding::transfer_syntax::{Codec, Endianness};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::{Read, Seek, SeekFrom, Write};

/// Bytes read at a time while looking for the Pixel Data element.
const CHUNK: u64 = 32 * 1024;
/// Sequences nested deeper than this are left to the in-memory path.
const MAX_DEPTH: usize = 32;
const UNDEFINED: u32 = 0xFFFF_FFFF;
/// More than this after the pixel data is left to the in-memory path.
const MAX_TRAILER: u64 = 16 * 1024 * 1024;
/// Files without a file meta group up to this size are given whole to the engine.
const BARE_LIMIT: u64 = 64 * 1024 * 1024;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";
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
    closing: Option<[u8; 8]>,
    /// The value bytes, when the scan read them anyway (small files).
    bytes: Option<Vec<u8>>,
    /// What followed the pixel data in the input, de-identified (e.g. trailing padding).
    trailer: Option<Trailer>,
}

/// What was done by [`deidentify_stream`].
pub struct Streamed {
    pub record: Record,
    pub mappings: Mappings,
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

    pub fn record(&self) -> &Record {
        &self.outcome.record
    }

    pub fn mappings(&self) -> &Mappings {
        &self.outcome.mappings
    }

    pub fn mode(&self) -> Mode {
        self.mode
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
                    .map_err(|e| Error::Write(format!("copying pixel data: {}", e.kind())))?;
                if copied != tail.len {
                    return Err(Error::Malformed(format!(
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
                .ok_or_else(|| Error::Write(format!("transfer syntax {}", t.ts)))?;
            let mut bytes = Vec::new();
            t.elements
                .write_dataset_with_ts_cs(&mut bytes, ts, t.charset.clone())
                .map_err(|e| Error::Write(e.to_string()))?;
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

/// Whether an error from [`prepare`] or [`deidentify`] means the input is a DICOMDIR
/// (never copied: it must be regenerated from the de-identified files).
pub fn is_dicomdir_error(e: &Error) -> bool {
    matches!(e, Error::Unsupported(m) if m.starts_with("DICOMDIR"))
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
    plan.validate()?;
    let file_len = input.seek(SeekFrom::End(0)).map_err(read_err)?;
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    if plan
        .effective_options()
        .contains(&ProfileOption::CleanPixelData)
    {
        return in_memory(input, plan, key, tools, "clean pixel data needs the image");
    }
    let mut head = Head {
        input: &mut *input,
        buf: Vec::new(),
        len: file_len,
        moved: false,
    };
    head.ensure(132.min(file_len));
    let dicm =
        (head.buf.len() >= 132 && &head.buf[128..132] == b"DICM") || head.buf.starts_with(b"DICM");
    if !dicm {
        // No file meta group: an old bare data set, or not DICOM. The engine decides, on
        // the whole file when it is small, else on its first 64 KiB (so a large non-DICOM
        // file is not read into memory just to be refused).
        if file_len > BARE_LIMIT && head.ensure(64 * 1024) {
            if let Err(e @ Error::NotDicom(_)) = io::read_object(&head.buf) {
                return Err(e);
            }
        }
        return in_memory(input, plan, key, tools, "no file meta group");
    }
    let located = match locate(&mut head) {
        Ok(l) => l,
        Err(why) => return in_memory(input, plan, key, tools, why),
    };
    // What follows the pixel data (often Data Set Trailing Padding) goes through the
    // engine like the header: read it, small as it must be.
    let trailer_len = file_len - located.pixel_end;
    let trailer_bytes = if trailer_len == 0 {
        None
    } else if trailer_len > MAX_TRAILER {
        return in_memory(input, plan, key, tools, "large data after the pixel data");
    } else {
        match head.bytes(located.pixel_end, trailer_len) {
            Some(b) => Some(b),
            None => {
                return in_memory(
                    input,
                    plan,
                    key,
                    tools,
                    "data after the pixel data unreadable",
                )
            }
        }
    };
    let Head { mut buf, .. } = head;
    match stream_header(&buf, &located, trailer_bytes.as_deref(), plan, key) {
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
            in_memory(input, plan, key, tools, why)
        }
        Err(StreamError::Engine(e)) => Err(e),
    }
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
    plan: &Plan,
    key: &Key,
) -> std::result::Result<(Outcome, Option<Trailer>), StreamError> {
    let parsed = match located.body_start {
        // Read up to the Pixel Data element header and stop there, as dicom-object's
        // read_until does (reading to the end of a slice would make an error to stop).
        Some(start) => OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .read_until(tags::PIXEL_DATA)
            .from_reader(&buf[start as usize..located.value_at as usize])
            .map_err(|_| ()),
        None => io::read_object(&buf[..located.pixel_at as usize]).map_err(|_| ()),
    };
    let mut obj =
        parsed.map_err(|()| StreamError::Fallback("the header does not parse on its own"))?;
    let ts = obj.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
    if ts != located.ts_uid {
        return Err(StreamError::Fallback(
            "the header's transfer syntax differs from the scan",
        ));
    }
    let registered = TransferSyntaxRegistry
        .get(ts)
        .ok_or(StreamError::Fallback("unknown transfer syntax"))?;
    if let Some(bytes) = trailer {
        let cs = charset_of(&obj).ok_or(StreamError::Fallback(
            "data after the pixel data, and a character set other than one known term",
        ))?;
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
    let mut outcome = deidentify(obj, plan, key).map_err(StreamError::Engine)?;
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

/// Reads, parses and de-identifies the whole object.
fn in_memory<R: Read + Seek>(
    input: &mut R,
    plan: &Plan,
    key: &Key,
    tools: &PixelTools,
    why: &'static str,
) -> Result<Prepared> {
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(read_err)?;
    let obj = io::read_object(&bytes)?;
    drop(bytes);
    let outcome = deidentify_with(obj, plan, key, tools)?;
    Ok(Prepared {
        outcome,
        tail: None,
        mode: Mode::InMemory(why),
    })
}

fn read_err(e: std::io::Error) -> Error {
    Error::Malformed(format!("reading the input: {}", e.kind()))
}

fn write_err(e: std::io::Error) -> Error {
    Error::Write(e.kind().to_string())
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

/// The start of the input, read on demand into `buf`.
struct Head<'a, R> {
    input: &'a mut R,
    buf: Vec<u8>,
    len: u64,
    /// The input was read elsewhere than at `buf.len()`.
    moved: bool,
}

impl<R: Read + Seek> Head<'_, R> {
    /// Makes `buf` hold at least `end` bytes; false if the input is shorter or unreadable.
    fn ensure(&mut self, end: u64) -> bool {
        if end > self.len {
            return false;
        }
        let have = self.buf.len() as u64;
        if have >= end {
            return true;
        }
        let want = (end - have).max(CHUNK).min(self.len - have);
        self.buf.reserve(want as usize);
        if self.moved {
            if self.input.seek(SeekFrom::Start(have)).is_err() {
                return false;
            }
            self.moved = false;
        }
        match (&mut *self.input).take(want).read_to_end(&mut self.buf) {
            Ok(_) => self.buf.len() as u64 >= end,
            Err(_) => false,
        }
    }

    /// `len` bytes at `at`, from the buffer or read from the input (which must then not be
    /// read on through `ensure`).
    fn bytes(&mut self, at: u64, len: u64) -> Option<Vec<u8>> {
        if at + len <= self.buf.len() as u64 {
            return Some(self.buf[at as usize..(at + len) as usize].to_vec());
        }
        let mut out = vec![0u8; len as usize];
        self.moved = true;
        self.input.seek(SeekFrom::Start(at)).ok()?;
        self.input.read_exact(&mut out).ok()?;
        Some(out)
    }

    fn u16_at(&self, pos: u64, big: bool) -> u16 {
        let b = [self.buf[pos as usize], self.buf[pos as usize + 1]];
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32_at(&self, pos: u64, big: bool) -> u32 {
        let p = pos as usize;
        let b = [
            self.buf[p],
            self.buf[p + 1],
            self.buf[p + 2],
            self.buf[p + 3],
        ];
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn tag_at(&self, pos: u64, big: bool) -> Tag {
        Tag(self.u16_at(pos, big), self.u16_at(pos + 2, big))
    }

    /// Reads the element header at `pos`.
    fn header(&mut self, pos: u64, syntax: Syntax) -> Scan<Header> {
        let big = syntax == Syntax::ExplicitBe;
        if !self.ensure(pos + 8) {
            return Err("an element header runs past the end of the input");
        }
        let tag = self.tag_at(pos, big);
        if syntax == Syntax::ImplicitLe || tag.0 == 0xFFFE {
            return Ok(Header {
                tag,
                vr: None,
                len: self.u32_at(pos + 4, big),
                size: 8,
            });
        }
        let vr = [self.buf[pos as usize + 4], self.buf[pos as usize + 5]];
        if !vr.iter().all(u8::is_ascii_uppercase) {
            return Err("an explicit VR is not two capital letters");
        }
        if is_long_vr(vr) {
            if !self.ensure(pos + 12) {
                return Err("an element header runs past the end of the input");
            }
            Ok(Header {
                tag,
                vr: Some(vr),
                len: self.u32_at(pos + 8, big),
                size: 12,
            })
        } else {
            Ok(Header {
                tag,
                vr: Some(vr),
                len: u32::from(self.u16_at(pos + 6, big)),
                size: 8,
            })
        }
    }

    /// The position after the value of the element whose header is `h`, at `pos`.
    fn skip(&mut self, pos: u64, h: &Header, syntax: Syntax, depth: usize) -> Scan<u64> {
        let start = pos + h.size;
        if h.len != UNDEFINED {
            let end = start + u64::from(h.len);
            return if end <= self.len {
                Ok(end)
            } else {
                Err("an element's length runs past the end of the input")
            };
        }
        // Undefined length: a sequence, or encapsulated pixel data (items of fragments).
        // UN of undefined length holds an Implicit VR Little Endian sequence (PS3.5 6.2.2).
        let inner = if h.vr == Some(*b"UN") {
            Syntax::ImplicitLe
        } else {
            syntax
        };
        self.skip_items(start, inner, depth + 1)
    }

    /// Walks items up to and including the sequence delimiter; returns the position after it.
    fn skip_items(&mut self, mut pos: u64, syntax: Syntax, depth: usize) -> Scan<u64> {
        if depth > MAX_DEPTH {
            return Err("sequences nest too deep");
        }
        let big = syntax == Syntax::ExplicitBe;
        loop {
            if !self.ensure(pos + 8) {
                return Err("a sequence runs past the end of the input");
            }
            let tag = self.tag_at(pos, big);
            let len = self.u32_at(pos + 4, big);
            match tag {
                SEQUENCE_END => return Ok(pos + 8),
                ITEM if len != UNDEFINED => {
                    pos += 8 + u64::from(len);
                    if pos > self.len {
                        return Err("an item's length runs past the end of the input");
                    }
                }
                ITEM => {
                    pos += 8;
                    loop {
                        let h = self.header(pos, syntax)?;
                        if h.tag == ITEM_END {
                            pos += 8;
                            break;
                        }
                        if h.tag.0 == 0xFFFE {
                            return Err("a delimiter out of place inside an item");
                        }
                        pos = self.skip(pos, &h, syntax, depth)?;
                    }
                }
                _ => return Err("a sequence holds something other than items"),
            }
        }
    }
}

type Scan<T> = std::result::Result<T, &'static str>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

struct Header {
    tag: Tag,
    vr: Option<[u8; 2]>,
    len: u32,
    /// Header size in bytes: 8 or 12.
    size: u64,
}

fn is_long_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"SV"
            | b"UV"
    )
}

/// Where the top-level Pixel Data element is, and where it ends.
struct Located {
    ts_uid: String,
    /// Where the meta group starts (`DICM`), or `None` for a bare data set.
    body_start: Option<u64>,
    pixel_at: u64,
    pixel_vr: VR,
    /// The element header as dicom-object writes it.
    element: Vec<u8>,
    /// The value, or the items of encapsulated pixel data (without the delimiter).
    value_at: u64,
    value_len: u64,
    /// The sequence delimiter to write after the items.
    closing: Option<[u8; 8]>,
    /// End of the Pixel Data element in the input.
    pixel_end: u64,
}

/// Finds the top-level Pixel Data element and checks that nothing follows it.
fn locate<R: Read + Seek>(head: &mut Head<'_, R>) -> Scan<Located> {
    let (ts_uid, start, body_start) = if head.buf.len() >= 132 && &head.buf[128..132] == b"DICM" {
        let (ts, start) = meta_group(head, 132)?;
        (ts, start, Some(128))
    } else if head.buf.starts_with(b"DICM") {
        let (ts, start) = meta_group(head, 4)?;
        (ts, start, Some(0))
    } else {
        return Err("no file meta group");
    };
    let syntax = syntax_of(&ts_uid)?;
    let mut pos = start;
    let pixel = loop {
        if pos == head.len {
            return Err("no pixel data");
        }
        let h = head.header(pos, syntax)?;
        if h.tag == tags::PIXEL_DATA {
            break h;
        }
        if h.tag > tags::PIXEL_DATA {
            return Err("no pixel data (elements after its place)");
        }
        if h.tag.0 == 0xFFFE {
            return Err("an item or delimiter outside a sequence");
        }
        pos = head.skip(pos, &h, syntax, 0)?;
    };
    let pixel_at = pos;
    let mut pixel_vr = match pixel.vr {
        None => VR::OW,
        Some(vr) if &vr == b"OB" => VR::OB,
        Some(vr) if &vr == b"OW" => VR::OW,
        Some(_) => return Err("pixel data with a VR other than OB or OW"),
    };
    let value_at = pixel_at + pixel.size;
    let (element, value_len, closing, end);
    if pixel.len != UNDEFINED {
        if !pixel.len.is_multiple_of(2) {
            return Err("pixel data of odd length");
        }
        value_len = u64::from(pixel.len);
        end = value_at + value_len;
        closing = None;
        let big = syntax == Syntax::ExplicitBe;
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut h = Vec::with_capacity(12);
        h.extend_from_slice(&u16b(0x7FE0));
        h.extend_from_slice(&u16b(0x0010));
        if let Some(vr) = pixel.vr {
            h.extend_from_slice(&vr);
            h.extend_from_slice(&[0, 0]);
        }
        h.extend_from_slice(&u32b(pixel.len));
        element = h;
    } else {
        if syntax != Syntax::ExplicitLe {
            return Err("encapsulated pixel data outside Explicit VR Little Endian");
        }
        let delimiter = fragments_end(head, value_at)?;
        value_len = delimiter - value_at;
        end = delimiter + 8;
        closing = Some([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        element = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        pixel_vr = VR::OB;
    }
    if end > head.len {
        return Err("the pixel data runs past the end of the input");
    }
    Ok(Located {
        ts_uid,
        body_start,
        pixel_at,
        pixel_vr,
        element,
        value_at,
        value_len,
        closing,
        pixel_end: end,
    })
}

/// Walks the items of encapsulated pixel data (each of defined length) to the sequence
/// delimiter, without reading the fragments; returns the position of the delimiter.
fn fragments_end<R: Read + Seek>(head: &mut Head<'_, R>, mut pos: u64) -> Scan<u64> {
    let mut item = [0u8; 8];
    let mut first = true;
    loop {
        if pos + 8 > head.len {
            return Err("encapsulated pixel data runs past the end of the input");
        }
        if (head.buf.len() as u64) >= pos + 8 {
            item.copy_from_slice(&head.buf[pos as usize..pos as usize + 8]);
        } else {
            // Past what was read: look at the 8 bytes without reading the fragments.
            head.moved = true;
            head.input
                .seek(SeekFrom::Start(pos))
                .and_then(|_| head.input.read_exact(&mut item))
                .map_err(|_| "encapsulated pixel data could not be read")?;
        }
        let tag = Tag(
            u16::from_le_bytes([item[0], item[1]]),
            u16::from_le_bytes([item[2], item[3]]),
        );
        let len = u32::from_le_bytes([item[4], item[5], item[6], item[7]]);
        match tag {
            SEQUENCE_END if !first => return Ok(pos),
            ITEM if first && !len.is_multiple_of(4) => {
                return Err("a basic offset table whose length is not a multiple of 4")
            }
            ITEM if len != UNDEFINED => pos += 8 + u64::from(len),
            _ => return Err("encapsulated pixel data holds something other than fragments"),
        }
        first = false;
    }
}

/// Reads the file meta group at `pos` (just after `DICM`) the way dicom-object does: a
/// group length first, then elements until that many bytes are read. Returns the transfer
/// syntax UID and the position where the data set starts.
fn meta_group<R: Read + Seek>(head: &mut Head<'_, R>, mut pos: u64) -> Scan<(String, u64)> {
    let h = head.header(pos, Syntax::ExplicitLe)?;
    if h.tag != Tag(0x0002, 0x0000) || h.len != 4 || !head.ensure(pos + 12) {
        return Err("the meta group does not start with its group length");
    }
    let group_len = u64::from(head.u32_at(pos + 8, false));
    pos += 12;
    let end_at_least = pos + group_len;
    let mut ts = None;
    while pos < end_at_least {
        let h = head.header(pos, Syntax::ExplicitLe)?;
        if h.len == UNDEFINED || h.tag.0 != 0x0002 {
            return Err("the meta group has an unexpected element");
        }
        let value_at = pos + h.size;
        let value_end = value_at + u64::from(h.len);
        if !head.ensure(value_end) {
            return Err("the meta group runs past the end of the input");
        }
        if h.tag == tags::TRANSFER_SYNTAX_UID {
            let raw = &head.buf[value_at as usize..value_end as usize];
            let text = std::str::from_utf8(raw).map_err(|_| "the transfer syntax is not text")?;
            ts = Some(text.trim_end_matches(['\0', ' ']).to_string());
        }
        pos = value_end;
    }
    Ok((ts.ok_or("the meta group has no transfer syntax")?, pos))
}

/// The element encoding of a transfer syntax, when the scanner knows it.
fn syntax_of(uid: &str) -> Scan<Syntax> {
    let Some(ts) = TransferSyntaxRegistry.get(uid) else {
        return Err("unknown transfer syntax");
    };
    if matches!(ts.codec(), Codec::Dataset(_)) {
        return Err("deflated or otherwise encoded data set");
    }
    match (uid, ts.endianness()) {
        (IMPLICIT_VR_LE, _) => Ok(Syntax::ImplicitLe),
        (EXPLICIT_VR_BE, _) => Ok(Syntax::ExplicitBe),
        (_, Endianness::Little) => Ok(Syntax::ExplicitLe),
        (_, Endianness::Big) => Err("big endian transfer syntax other than Explicit VR Big Endian"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ProfileId;
    use dicom_core::value::PixelFragmentSequence;
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
        ds.put_str(tags::PATIENT_NAME, VR::PN, "Doe^Jane");
        ds.put_str(tags::PATIENT_ID, VR::LO, "PID-1234");
        ds.put_str(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101");
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
        assert!(matches!(err, Error::NotDicom(_)));
    }
}
