//! Reading objects from bytes and writing them to any writer, with clear typed errors.

use crate::error::{Error, Result};
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

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

/// Reads a DICOM object from a file's bytes: with or without the 128-byte preamble, and,
/// for old files with no file meta group, as a bare Implicit VR Little Endian data set.
pub fn read_object(bytes: &[u8]) -> Result<DefaultDicomObject> {
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else if bytes.starts_with(b"DICM") {
        bytes
    } else {
        return read_bare_dataset(bytes);
    };
    check_meta_lengths(&body[4..], body.len() as u64 - 4)
        .map_err(|m| Error::Malformed(format!("file meta group: {}", explain(m, bytes.len()))))?;
    let mut cursor = Cursor::new(body);
    if let Ok(meta) = FileMetaTable::from_reader(&mut cursor) {
        if let Some(ts) = TransferSyntaxRegistry.get(meta.transfer_syntax()) {
            let data = &body[cursor.position() as usize..];
            check_lengths(data, ts, None, data.len() as u64)
                .map_err(|m| Error::Malformed(explain(m, bytes.len())))?;
        }
    }
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| Error::Malformed(explain(describe(&e), bytes.len())))?;
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    if TransferSyntaxRegistry.get(&ts).is_none() {
        return Err(Error::Unsupported(format!("transfer syntax {ts}")));
    }
    Ok(obj)
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
            return Err(Error::NotDicom(
                "no DICM marker and no data set at the start of the file".into(),
            ))
        }
    };
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .expect("the uncompressed transfer syntaxes are built in");
    check_lengths(bytes, ts, None, bytes.len() as u64).map_err(|m| {
        Error::Malformed(format!(
            "no file meta group, and {}",
            explain(m, bytes.len())
        ))
    })?;
    let ds = InMemDicomObject::read_dataset_with_ts(bytes, ts).map_err(|e| {
        Error::Malformed(format!(
            "no file meta group, and {}",
            explain(describe(&e), bytes.len())
        ))
    })?;
    let uid = |t| {
        ds.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches('\0').to_string())
    };
    let (Some(class), Some(instance)) = (uid(tags::SOP_CLASS_UID), uid(tags::SOP_INSTANCE_UID))
    else {
        return Err(Error::NotDicom(
            "no file meta group and no SOP Class/Instance UID".into(),
        ));
    };
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts_uid)
        .media_storage_sop_class_uid(class)
        .media_storage_sop_instance_uid(instance)
        .implementation_class_uid(crate::apply::IMPLEMENTATION_CLASS_UID)
        .build()
        .map_err(|e| Error::Malformed(format!("file meta group: {e}")))?;
    Ok(ds.with_exact_meta(meta))
}

/// [`check_lengths`] for the file meta group, which starts after `DICM` (`data`) and is
/// always Explicit VR Little Endian; `total` is how many bytes the file has from there.
pub(crate) fn check_meta_lengths(data: &[u8], total: u64) -> std::result::Result<(), String> {
    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .expect("the uncompressed transfer syntaxes are built in");
    check_lengths(data, ts, Some(0x0002), total)
}

/// dicom-rs allocates an element's declared length before reading its value: a damaged
/// length (hundreds of MB declared in a small file) would cost that much memory and time
/// before failing. Walking first with dicom-parser's lazy reader, skipping values, finds
/// such a length cheaply. `data` may be the start of what `total` bytes hold; with
/// `group`, the walk stops at the first element of another group. Anything else the walk
/// trips on is left to the real parse, which reports it. The error is worded as dicom-rs
/// words a short read, for [`explain`].
fn check_lengths(
    data: &[u8],
    ts: &TransferSyntax,
    group: Option<u16>,
    total: u64,
) -> std::result::Result<(), String> {
    // A deflated data set is not a walk of element headers until inflated.
    if matches!(ts.codec(), Codec::Dataset(_)) {
        return Ok(());
    }
    let Ok(mut reader) = LazyDataSetReader::new_with_ts(Cursor::new(data), ts) else {
        return Ok(());
    };
    loop {
        let token = match reader.advance() {
            Some(Ok(token)) => token,
            Some(Err(_)) => return Ok(()),
            None => break,
        };
        let (what, declared, decoder) = match token {
            LazyDataToken::ElementHeader(h) if group.is_some_and(|g| h.tag.0 != g) => return Ok(()),
            LazyDataToken::LazyValue { header, decoder } => (
                format!("element tagged ({:04X},{:04X})", header.tag.0, header.tag.1),
                header.len.0,
                decoder,
            ),
            LazyDataToken::LazyItemValue { len, decoder } => {
                ("a pixel data fragment".to_string(), len, decoder)
            }
            _ => continue,
        };
        let left = total.saturating_sub(decoder.position());
        if u64::from(declared) > left {
            return Err(format!("Could not read {declared} value bytes for {what}"));
        }
        if decoder.skip_bytes(declared).is_err() {
            return Ok(());
        }
    }
    // dicom-rs takes an end of input inside an element's tag as the end of the data set:
    // a file cut 1 to 3 bytes into its next element (often Pixel Data) would lose that
    // element without a word.
    let stray = total.saturating_sub(reader.into_decoder().position());
    if (1..4).contains(&stray) && data.len() as u64 == total {
        return Err(format!(
            "the file ends {stray} bytes into an element's tag: it is truncated"
        ));
    }
    Ok(())
}

/// Writes preamble, file meta group and data set.
pub fn write_object(obj: &DefaultDicomObject, to: impl std::io::Write) -> Result<()> {
    obj.write_all(to).map_err(|e| Error::Write(describe(&e)))
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
