//! Reading objects from bytes and writing them to any writer, with clear typed errors.
//!
//! Beside it: the structural checks every header passes first ([`precheck`]), the
//! header-only path that copies pixel data through ([`stream`]) and the new DICOMDIR of
//! de-identified files ([`dicomdir`]).

pub mod dicomdir;
pub mod precheck;
pub mod stream;

use crate::error::{Error, Limit, Result};
use crate::io::precheck::{Refusal, Walk};
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::Codec;
use dicom_encoding::{TransferSyntax, TransferSyntaxIndex};
use dicom_object::file::ReadPreamble;
use dicom_object::meta::{FileMetaTable, FileMetaTableBuilder};
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_parser::dataset::lazy_read::LazyDataSetReader;
use dicom_parser::dataset::LazyDataToken;
use dicom_parser::stateful::decode::StatefulDecode;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::Cursor;

use dicom_dictionary_std::uids::{
    EXPLICIT_VR_LITTLE_ENDIAN as EXPLICIT_VR_LE, IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT_VR_LE,
};
/// Retired, so no longer among the dictionary's UID constants; still read.
const EXPLICIT_VR_BE: &str = dicom_transfer_syntax_registry::entries::EXPLICIT_VR_BIG_ENDIAN.uid();

/// Reads a DICOM object from a file's bytes: with or without the 128-byte preamble, and,
/// for old files with no file meta group, as a bare Implicit VR Little Endian data set.
/// Every data set passes [`crate::io::precheck`] before dicom-rs parses it.
pub fn read_object(bytes: &[u8]) -> Result<DefaultDicomObject> {
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else if bytes.starts_with(b"DICM") {
        bytes
    } else {
        return read_bare_dataset(bytes);
    };
    check_meta_lengths(&body[4..], body.len() as u64 - 4)
        .map_err(|r| refused(r, "file meta group: ", bytes.len()))?;
    let mut cursor = Cursor::new(body);
    if let Ok(meta) = FileMetaTable::from_reader(&mut cursor) {
        if let Some(ts) = TransferSyntaxRegistry.get(meta.transfer_syntax()) {
            let data = &body[cursor.position() as usize..];
            if matches!(ts.codec(), Codec::Dataset(Some(_))) {
                return read_deflated(meta, data);
            }
            check_lengths(data, ts, None, data.len() as u64)
                .map_err(|r| refused(r, "", bytes.len()))?;
        }
    }
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| Error::malformed(explain(describe(&e), bytes.len())))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    if TransferSyntaxRegistry.get(&ts).is_none() {
        return Err(Error::unsupported_transfer_syntax(&ts));
    }
    Ok(obj)
}

/// A deflated data set (Deflated Explicit VR Little Endian and the like) is inflated here,
/// within [`inflated_limit`] and to its end marker, then checked and parsed as the
/// Explicit VR Little Endian data set it is; the object keeps its transfer syntax, so it
/// is written deflated again.
fn read_deflated(meta: FileMetaTable, data: &[u8]) -> Result<DefaultDicomObject> {
    let inflated = inflate(data)?;
    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .expect("the uncompressed transfer syntaxes are built in");
    let what = "deflated data set: ";
    check_lengths(&inflated, ts, None, inflated.len() as u64)
        .map_err(|r| refused(r, what, inflated.len()))?;
    let ds = InMemDicomObject::read_dataset_with_ts(&inflated[..], ts).map_err(|e| {
        Error::malformed(format!("{what}{}", explain(describe(&e), inflated.len())))
    })?;
    Ok(ds.with_exact_meta(meta))
}

/// How far a deflated data set of `compressed` bytes may inflate: 64 times its size, at
/// least 16 MiB, at most 1 GiB. Real deflated objects (reports, small images) inflate a
/// few times; a deflate bomb of 1 MB holding a gigabyte of zeros is refused.
pub fn inflated_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(64).clamp(16 << 20, 1 << 30)
}

/// Inflates a raw deflate stream (PS3.5 A.5), refusing one that ends before its end
/// marker (a truncated file) or inflates beyond [`inflated_limit`].
fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let limit = inflated_limit(data.len() as u64);
    let mut z = Decompress::new(false);
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.len() as u64 > limit {
            return Err(Error::limit(
                Limit::Inflated,
                format!(
                    "the deflated data set of {} bytes inflates to more than {limit} bytes",
                    data.len()
                ),
            ));
        }
        if out.capacity() - out.len() < 64 * 1024 {
            let room = (limit + 1 - out.len() as u64).min(out.len().max(1 << 20) as u64);
            out.reserve(room as usize);
        }
        let (read, written) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(&data[read as usize..], &mut out, FlushDecompress::None)
            .map_err(|_| {
                Error::malformed(format!(
                    "the deflated data set is corrupt (after {read} of its {} bytes)",
                    data.len()
                ))
            })?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if z.total_in() == read && z.total_out() == written {
            return Err(Error::malformed(format!(
                "the deflated data set ends before its end marker (after {} of {} bytes \
                 inflated): it is truncated",
                out.len(),
                data.len()
            )));
        }
    }
}

/// The error for a data set the pre-check refused: a limit, or a damaged data set.
fn refused(r: Refusal, what: &str, file_len: usize) -> Error {
    match r {
        Refusal::Limit(limit, m) => Error::limit(limit, format!("{what}{m}")),
        Refusal::Broken {
            detail,
            tag,
            offset,
        } => Error::Malformed {
            detail: format!("{what}{}", explain(detail, file_len)),
            tag,
            offset,
        },
    }
}

/// Checks a data set (e.g. what follows the pixel data in a streamed file) as
/// [`read_object`] does before parsing it.
pub(crate) fn check_dataset(data: &[u8], ts: &TransferSyntax) -> Result<()> {
    check_lengths(data, ts, None, data.len() as u64).map_err(|r| refused(r, "", data.len()))
}

/// The error for a refusal of the walk over a file's header in [`crate::io::stream`], as
/// [`read_object`] words it.
pub(crate) fn refused_header(r: Refusal, what: &str, file_len: u64) -> Error {
    refused(r, what, usize::try_from(file_len).unwrap_or(usize::MAX))
}

/// Old ACR-NEMA style files and files saved without their file meta group: the data
/// set alone. Its encoding is recognised from the first element: a group of 0008 (or
/// 0002) read little or big endian, followed by a VR (explicit) or a length (implicit).
fn read_bare_dataset(bytes: &[u8]) -> Result<DefaultDicomObject> {
    let (le, be) = if bytes.len() >= 8 {
        (
            u16::from_le_bytes([bytes[0], bytes[1]]),
            u16::from_be_bytes([bytes[0], bytes[1]]),
        )
    } else {
        (0, 0)
    };
    let explicit = bytes.len() >= 8 && VR::from_binary([bytes[4], bytes[5]]).is_some();
    let ts_uid = match (le, be, explicit) {
        (0x0008 | 0x0002, _, false) => IMPLICIT_VR_LE,
        (0x0008 | 0x0002, _, true) => EXPLICIT_VR_LE,
        (_, 0x0008 | 0x0002, true) => EXPLICIT_VR_BE,
        _ => {
            return Err(Error::not_dicom(
                "no DICM marker and no data set at the start of the file",
            ))
        }
    };
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .expect("the uncompressed transfer syntaxes are built in");
    check_lengths(bytes, ts, None, bytes.len() as u64)
        .map_err(|r| refused(r, "no file meta group, and ", bytes.len()))?;
    let ds = InMemDicomObject::read_dataset_with_ts(bytes, ts).map_err(|e| {
        Error::malformed(format!(
            "no file meta group, and {}",
            explain(describe(&e), bytes.len())
        ))
    })?;
    let uid = |t| crate::value::text(&ds, t);
    let (Some(class), Some(instance)) = (uid(tags::SOP_CLASS_UID), uid(tags::SOP_INSTANCE_UID))
    else {
        return Err(Error::not_dicom(
            "no file meta group and no SOP Class/Instance UID",
        ));
    };
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts_uid)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(instance)
        .implementation_class_uid(crate::apply::IMPLEMENTATION_CLASS_UID)
        .build()
        .map_err(|e| Error::malformed(format!("file meta group: {e}")))?;
    Ok(ds.with_exact_meta(meta))
}

/// [`check_lengths`] for the file meta group, which starts after `DICM` (`data`) and is
/// always Explicit VR Little Endian; `total` is how many bytes the file has from there.
pub(crate) fn check_meta_lengths(data: &[u8], total: u64) -> std::result::Result<(), Refusal> {
    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .expect("the uncompressed transfer syntaxes are built in");
    check_lengths(data, ts, Some(0x0002), total)
}

/// Walks a data set with dicom-parser's lazy reader, skipping values, through
/// [`Walk`]: a damaged length (hundreds of MB declared in a small file), a structure
/// dicom-rs would misread, or one beyond the limits is refused before the real parse
/// allocates or recurses. `data` may be the start of what `total` bytes hold (the
/// streaming reader's first chunk): where it runs out first, the walk stops without a
/// verdict. With `group`, the walk stops at the first element of another group.
fn check_lengths(
    data: &[u8],
    ts: &TransferSyntax,
    group: Option<u16>,
    total: u64,
) -> std::result::Result<(), Refusal> {
    // A deflated data set is not a walk of element headers until inflated.
    if matches!(ts.codec(), Codec::Dataset(_)) {
        return Ok(());
    }
    let whole = data.len() as u64 == total;
    let mut reader = LazyDataSetReader::new_with_ts(Cursor::new(data), ts)
        .map_err(|e| Refusal::broken(describe(&e)))?;
    let mut walk = Walk::new(ts, total);
    let failed = loop {
        let token = match reader.advance() {
            Some(Ok(token)) => token,
            Some(Err(e)) => break Some(describe(&e)),
            None => break None,
        };
        if let LazyDataToken::ElementHeader(h) = &token {
            if group.is_some_and(|g| h.tag.0 != g) {
                return Ok(());
            }
        }
        walk.observe(&token)?;
        let skipped = match token {
            LazyDataToken::LazyValue { header, decoder } => decoder.skip_bytes(header.len.0),
            LazyDataToken::LazyItemValue { len, decoder } => decoder.skip_bytes(len),
            _ => Ok(()),
        };
        if let Err(e) = skipped {
            break Some(describe(&e));
        }
    };
    let end = reader.into_decoder().position();
    if !whole && end + 16 >= data.len() as u64 {
        return Ok(());
    }
    if let Some(msg) = failed {
        return Err(Refusal::broken(walk.reader_error(&msg, end)));
    }
    walk.finish()?;
    // dicom-rs takes an end of input inside an element's tag as the end of the data set:
    // a file cut 1 to 3 bytes into its next element (often Pixel Data) would lose that
    // element without a word.
    let stray = total.saturating_sub(end);
    if (1..4).contains(&stray) && whole {
        return Err(Refusal::broken(format!(
            "the file ends {stray} bytes into an element's tag: it is truncated"
        )));
    }
    Ok(())
}

/// Writes preamble, file meta group and data set.
pub fn write_object(obj: &DefaultDicomObject, to: impl std::io::Write) -> Result<()> {
    obj.write_all(to).map_err(|e| Error::write(describe(&e)))
}

/// Writes an object to a byte vector.
pub fn to_bytes(obj: &DefaultDicomObject) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_object(obj, &mut out)?;
    Ok(out)
}

/// Adds what dicom-rs's "Could not read N value bytes" means: the file ends inside
/// the element (truncated), or the length is absurd because the data set is not encoded
/// the way its transfer syntax says (or uses an encoding dicom-rs cannot read).
fn explain(msg: String, file_len: usize) -> String {
    let declared = msg
        .rsplit_once("Could not read ")
        .and_then(|(_, rest)| rest.split_once(" value bytes"))
        .map(|(n, _)| n)
        .and_then(|n| n.parse::<u64>().ok());
    match declared {
        Some(n) if n > file_len as u64 => format!(
            "{msg} (the declared length is larger than the whole file of {file_len} bytes: \
             the data set is not encoded as its transfer syntax says, or uses an encoding \
             that cannot be read, such as an undefined-length sequence with VR UN)"
        ),
        Some(_) => format!("{msg} (the file ends inside this element: it is truncated)"),
        None => msg,
    }
}

/// The outermost message of a dicom-rs error: it names the structure that failed
/// (tags, lengths, positions), never a decoded value.
fn describe(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    if let Some(src) = e.source() {
        let s = src.to_string();
        if s.len() < 160 && !s.contains('"') && !s.contains('\'') {
            msg = format!("{msg}: {s}");
        }
    }
    msg
}
