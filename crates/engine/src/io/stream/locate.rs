//! Finding the top-level Pixel Data element without reading it.
//!
//! dicom-object reads through its own buffer and cannot say where an element starts, so
//! the offsets come from dicom-rs's lower layers: the file meta group is read by
//! [`FileMetaTable::from_reader`], the data set is walked with dicom-parser's
//! [`LazyDataSetReader`] (element and item headers decoded, values skipped unread), and
//! the fragments of encapsulated pixel data are stepped over with the transfer syntax's
//! own item-header decoder and a seek, so a large image is never read here.
//!
//! Everything read from the start of the input is kept ([`Recorded`]): the header is then
//! parsed from those bytes without reading the input twice.

use crate::error::Error;
use crate::io::precheck::Walk;
use dicom_core::header::{DataElementHeader, Length, SequenceItemHeader};
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
use dicom_encoding::decode::Decode;
use dicom_encoding::encode::EncodeTo;
use dicom_encoding::transfer_syntax::Codec;
use dicom_encoding::{TransferSyntax, TransferSyntaxIndex};
use dicom_object::meta::FileMetaTable;
use dicom_parser::dataset::lazy_read::LazyDataSetReader;
use dicom_parser::dataset::LazyDataToken;
use dicom_parser::stateful::decode::StatefulDecode;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::{Read, Seek, SeekFrom};

/// Bytes read from the input at a time while looking for the Pixel Data element.
const CHUNK: u64 = 32 * 1024;
use dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT_VR_LE;

/// Why the pixel data was not located.
pub(super) enum Stop {
    /// Something the streaming path does not handle: the caller falls back to the
    /// in-memory path, which reads (or refuses) the file whole.
    Fallback(&'static str),
    /// The header is refused by [`crate::io::precheck`]: reading the file whole would not
    /// change that, only cost its size in memory.
    Refuse(Error),
}

impl From<&'static str> for Stop {
    fn from(why: &'static str) -> Stop {
        Stop::Fallback(why)
    }
}

pub(super) type Scan<T> = std::result::Result<T, Stop>;

/// A reader over the input that keeps every byte read sequentially from the start in
/// `buf`. Reads after a seek past the kept bytes (over pixel fragments) go straight to the
/// input and are not kept.
pub(super) struct Recorded<'a, R> {
    input: &'a mut R,
    pub(super) buf: Vec<u8>,
    /// Size of the input.
    pub(super) len: u64,
    /// Position of this reader.
    pos: u64,
    /// Position of the input's own cursor.
    input_pos: u64,
}

impl<'a, R: Read + Seek> Recorded<'a, R> {
    /// `input` must be at its start.
    pub(super) fn new(input: &'a mut R, len: u64) -> Self {
        Recorded {
            input,
            buf: Vec::new(),
            len,
            pos: 0,
            input_pos: 0,
        }
    }

    /// Makes `buf` hold at least `end` bytes; false if the input is shorter or unreadable.
    pub(super) fn ensure(&mut self, end: u64) -> bool {
        while (self.buf.len() as u64) < end {
            match self.extend() {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        true
    }

    /// Appends the next chunk of the input to `buf`; returns how many bytes came.
    fn extend(&mut self) -> std::io::Result<usize> {
        let have = self.buf.len() as u64;
        if have >= self.len {
            return Ok(0);
        }
        if self.input_pos != have {
            self.input.seek(SeekFrom::Start(have))?;
            self.input_pos = have;
        }
        let want = CHUNK.min(self.len - have);
        // Room first, so read_to_end reads the chunk in one call instead of probing.
        self.buf.reserve(want as usize);
        let n = (&mut *self.input).take(want).read_to_end(&mut self.buf)?;
        self.input_pos += n as u64;
        Ok(n)
    }

    /// `len` bytes at `at`.
    pub(super) fn read_at(&mut self, at: u64, len: u64) -> Option<Vec<u8>> {
        let mut out = vec![0u8; usize::try_from(len).ok()?];
        self.seek(SeekFrom::Start(at)).ok()?;
        self.read_exact(&mut out).ok()?;
        Some(out)
    }
}

impl<R: Read + Seek> Read for Recorded<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() as u64 {
            self.extend()?;
        }
        let have = self.buf.len() as u64;
        if self.pos < have {
            let start = self.pos as usize;
            let n = out.len().min(self.buf.len() - start);
            out[..n].copy_from_slice(&self.buf[start..start + n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if self.input_pos != self.pos {
            self.input.seek(SeekFrom::Start(self.pos))?;
            self.input_pos = self.pos;
        }
        let n = self.input.read(out)?;
        self.pos += n as u64;
        self.input_pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Recorded<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

/// Where the top-level Pixel Data element is, and where it ends.
pub(super) struct Located {
    /// The transfer syntax of the data set, as the registry spells it.
    pub ts_uid: &'static str,
    /// Where the meta group starts (`DICM`).
    pub body_start: u64,
    pub pixel_vr: VR,
    /// The element header as dicom-object writes it.
    pub element: Vec<u8>,
    /// The value, or the items of encapsulated pixel data (without the delimiter).
    pub value_at: u64,
    pub value_len: u64,
    /// The sequence delimiter to write after the items.
    pub closing: Option<Vec<u8>>,
    /// End of the Pixel Data element in the input.
    pub pixel_end: u64,
}

/// Finds the top-level Pixel Data element of a file whose meta group starts at
/// `body_start` (with `DICM`).
pub(super) fn locate<R: Read + Seek>(rec: &mut Recorded<'_, R>, body_start: u64) -> Scan<Located> {
    // FileMetaTable allocates what an element declares: a damaged length is refused first.
    let meta_at = (body_start + 4) as usize;
    if !rec.ensure(meta_at as u64 + 1) {
        return Err("the file meta group declares more bytes than the file has".into());
    }
    crate::io::check_meta_lengths(&rec.buf[meta_at..], rec.len - meta_at as u64)
        .map_err(|r| Stop::Refuse(crate::io::refused_header(r, "file meta group: ", rec.len)))?;
    rec.seek(SeekFrom::Start(body_start))
        .map_err(|_| "the input could not be read")?;
    let meta =
        FileMetaTable::from_reader(&mut *rec).map_err(|_| "the file meta group does not parse")?;
    let ts = TransferSyntaxRegistry
        .get(meta.transfer_syntax())
        .ok_or("unknown transfer syntax")?;
    let ts_uid = ts.uid();
    if matches!(ts.codec(), Codec::Dataset(_)) || !ts.can_decode_dataset() {
        return Err("deflated or otherwise encoded data set".into());
    }
    let (header, value_at) = find_pixel_data(rec, ts)?;
    let encoder = ts
        .encoder_for::<Vec<u8>>()
        .ok_or("no encoder for the transfer syntax")?;
    let mut element = Vec::with_capacity(12);
    let (pixel_vr, value_len, closing, pixel_end);
    if let Some(len) = header.len.get() {
        if len % 2 != 0 {
            return Err("pixel data of odd length".into());
        }
        pixel_vr = match (ts.uid(), header.vr) {
            (IMPLICIT_VR_LE, _) => VR::OW,
            (_, vr @ (VR::OB | VR::OW)) => vr,
            _ => return Err("pixel data with a VR other than OB or OW".into()),
        };
        value_len = u64::from(len);
        pixel_end = value_at + value_len;
        closing = None;
        encoder
            .encode_element_header(
                &mut element,
                DataElementHeader::new(tags::PIXEL_DATA, pixel_vr, Length(len)),
            )
            .map_err(|_| "the pixel data header could not be encoded")?;
    } else {
        if ts.uid() == IMPLICIT_VR_LE
            || ts.endianness() != dicom_encoding::transfer_syntax::Endianness::Little
        {
            return Err("encapsulated pixel data outside Explicit VR Little Endian".into());
        }
        // dicom-object writes encapsulated pixel data as OB whatever the input said.
        pixel_vr = VR::OB;
        let delimiter = fragments_end(rec, value_at)?;
        value_len = delimiter - value_at;
        pixel_end = delimiter + 8;
        let mut end = Vec::with_capacity(8);
        encoder
            .encode_sequence_delimiter(&mut end)
            .map_err(|_| "the sequence delimiter could not be encoded")?;
        closing = Some(end);
        encoder
            .encode_element_header(
                &mut element,
                DataElementHeader::new(tags::PIXEL_DATA, VR::OB, Length::UNDEFINED),
            )
            .map_err(|_| "the pixel data header could not be encoded")?;
    }
    if pixel_end > rec.len {
        return Err("the pixel data runs past the end of the input".into());
    }
    Ok(Located {
        ts_uid,
        body_start,
        pixel_vr,
        element,
        value_at,
        value_len,
        closing,
        pixel_end,
    })
}

/// Walks the data set with dicom-parser, skipping values, to the top-level Pixel Data
/// element; returns its header and where its value (or its first item) starts.
fn find_pixel_data<R: Read + Seek>(
    rec: &mut Recorded<'_, R>,
    ts: &TransferSyntax,
) -> Scan<(DataElementHeader, u64)> {
    let file_len = rec.len;
    let mut reader =
        LazyDataSetReader::new_with_ts(&mut *rec, ts).map_err(|_| "the data set does not parse")?;
    // The same checks as the in-memory path's, on the same walk: the header parsed next
    // holds only what passed them.
    let mut walk = Walk::new(ts, file_len);
    // Sequences (and nested encapsulated pixel data) currently open.
    let mut depth = 0usize;
    let mut pixel_header = None;
    loop {
        let token = match reader.advance() {
            None => return Err("no pixel data".into()),
            Some(Err(_)) => return Err("the data set does not parse".into()),
            Some(Ok(token)) => token,
        };
        walk.observe(&token)
            .map_err(|r| Stop::Refuse(crate::io::refused_header(r, "", file_len)))?;
        match token {
            LazyDataToken::ElementHeader(h) if depth == 0 && h.tag == tags::PIXEL_DATA => {
                pixel_header = Some(h);
            }
            LazyDataToken::ElementHeader(h) if depth == 0 && h.tag > tags::PIXEL_DATA => {
                return Err("no pixel data (elements after its place)".into());
            }
            LazyDataToken::SequenceStart { tag, .. } if depth == 0 && tag > tags::PIXEL_DATA => {
                return Err("no pixel data (elements after its place)".into());
            }
            LazyDataToken::LazyValue { header, decoder } if pixel_header.is_some() => {
                // The value starts here; it is never read.
                return Ok((header, decoder.position()));
            }
            LazyDataToken::PixelSequenceStart if depth == 0 => break,
            LazyDataToken::SequenceStart { .. } | LazyDataToken::PixelSequenceStart => depth += 1,
            LazyDataToken::SequenceEnd => {
                depth = depth
                    .checked_sub(1)
                    .ok_or("a sequence delimiter outside a sequence")?;
            }
            LazyDataToken::ItemStart { .. } | LazyDataToken::ItemEnd if depth == 0 => {
                return Err("an item or delimiter outside a sequence".into());
            }
            LazyDataToken::LazyValue { header, decoder } => skip(decoder, header.len.0, file_len)?,
            LazyDataToken::LazyItemValue { len, decoder } => skip(decoder, len, file_len)?,
            _ => {}
        }
    }
    // Encapsulated pixel data: the reader has read the element header and stopped.
    drop(reader);
    let header = DataElementHeader::new(tags::PIXEL_DATA, VR::OB, Length::UNDEFINED);
    Ok((header, rec.pos))
}

/// Skips a value unread, unless its declared length runs past the end of the input (the
/// in-memory path then reports the damaged or cut file).
fn skip<D: StatefulDecode>(decoder: &mut D, len: u32, file_len: u64) -> Scan<()> {
    if decoder.position() + u64::from(len) > file_len {
        return Err("an element's value runs past the end of the input".into());
    }
    decoder
        .skip_bytes(len)
        .map_err(|_| "an element's value could not be read".into())
}

/// Steps over the items of encapsulated pixel data (each of defined length) to the
/// sequence delimiter, seeking past the fragments; returns the position of the delimiter.
fn fragments_end<R: Read + Seek>(rec: &mut Recorded<'_, R>, mut pos: u64) -> Scan<u64> {
    let decoder = ExplicitVRLittleEndianDecoder::default();
    rec.seek(SeekFrom::Start(pos))
        .map_err(|_| "the input could not be read")?;
    let mut first = true;
    loop {
        let item = decoder
            .decode_item_header(rec)
            .map_err(|_| "encapsulated pixel data holds something other than fragments")?;
        match item {
            SequenceItemHeader::SequenceDelimiter if !first => return Ok(pos),
            SequenceItemHeader::Item { len } => {
                let len = len
                    .get()
                    .ok_or("a pixel data fragment of undefined length")?;
                if first && len % 4 != 0 {
                    return Err("a basic offset table whose length is not a multiple of 4".into());
                }
                pos += 8 + u64::from(len);
                if pos > rec.len {
                    return Err("encapsulated pixel data runs past the end of the input".into());
                }
                rec.seek(SeekFrom::Start(pos))
                    .map_err(|_| "the input could not be read")?;
            }
            _ => return Err("encapsulated pixel data holds something other than fragments".into()),
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn recorded_keeps_what_it_reads_and_skips_what_it_seeks_over() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut cur = Cursor::new(data.clone());
        let mut rec = Recorded::new(&mut cur, data.len() as u64);
        let mut head = [0u8; 10];
        rec.read_exact(&mut head).unwrap();
        assert_eq!(&head, &data[..10]);
        assert_eq!(rec.buf.len() as u64, CHUNK, "one chunk kept");
        rec.seek(SeekFrom::Start(90_000)).unwrap();
        let mut far = [0u8; 8];
        rec.read_exact(&mut far).unwrap();
        assert_eq!(&far, &data[90_000..90_008]);
        assert_eq!(
            rec.buf.len() as u64,
            CHUNK,
            "reads past a seek are not kept"
        );
        assert_eq!(rec.read_at(5, 3).unwrap(), data[5..8].to_vec());
        assert!(rec.ensure(CHUNK + 1));
        assert_eq!(&rec.buf[..], &data[..rec.buf.len()]);
        assert!(!rec.ensure(200_000));
    }

    #[test]
    fn a_tag_before_pixel_data_that_sorts_after_it_means_no_pixel_data() {
        // A meta group and a data set with only (7FE1,0010): no pixel data.
        use dicom_core::value::PrimitiveValue;
        use dicom_core::DataElement;
        use dicom_object::meta::FileMetaTableBuilder;
        use dicom_object::InMemDicomObject;
        let mut ds = InMemDicomObject::new_empty();
        ds.put(DataElement::new(
            dicom_core::Tag(0x7FE1, 0x0010),
            VR::OB,
            PrimitiveValue::U8(vec![1, 2].into()),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax("1.2.840.10008.1.2.1")
            .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
            .media_storage_sop_instance_uid("1.2.3")
            .build()
            .unwrap();
        let bytes = crate::io::to_bytes(&ds.with_exact_meta(meta)).unwrap();
        let mut cur = Cursor::new(bytes.clone());
        let mut rec = Recorded::new(&mut cur, bytes.len() as u64);
        let Err(Stop::Fallback(why)) = locate(&mut rec, 128) else {
            panic!("not a fallback");
        };
        assert!(why.starts_with("no pixel data"), "{why}");
    }
}
