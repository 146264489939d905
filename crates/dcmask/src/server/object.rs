//! Objects as a session holds them: the header in memory, the pixel data on disk.
//!
//! The header keeps every element; its Pixel Data value is a stand-in, unique to the
//! file on disk that holds the real one (the upload, or a file an Apply wrote when it
//! changed the pixels). Snapshots share these files instead of copies of the pixels;
//! comparing headers compares stand-ins, so Pixel Data counts as changed exactly when it
//! is another file's. Whatever reads or writes pixels asks for [`Stored::full`], which
//! reads them back from disk; nothing else is ever written out.

use super::disk::{Dir, DiskFile};
use super::ApiError;
use dcmask_engine::audit::Sha256Writer;
use dcmask_engine::io::{self, stream};
use dcmask_engine::Error;
use dcmask_engine::ErrorKind;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// Files the engine reads whole when it cannot locate their pixel data
/// ([`stream::read_header`]); larger ones are read whole here.
const READ_WHOLE: u64 = 64 * 1024 * 1024;
use dicom_dictionary_std::uids::IMPLICIT_VR_LITTLE_ENDIAN as IMPLICIT_VR_LE;

/// A file holding an object whose Pixel Data is the real value of a stand-in.
pub struct Blob {
    file: DiskFile,
    /// Where its `DICM` is: `Some(true)` after a preamble, `Some(false)` at the start;
    /// `None` for a bare data set (read back through the engine).
    preamble: Option<bool>,
    marker: PrimitiveValue,
    vr: VR,
    /// Bytes of the value (of the items, for encapsulated pixel data).
    value_len: u64,
    encapsulated: bool,
}

impl Blob {
    fn new(file: DiskFile, vr: VR, value_len: u64, encapsulated: bool) -> Result<Blob, Failure> {
        let mut raw = [0u8; 12];
        getrandom::fill(&mut raw).map_err(|_| Failure::Server(ApiError::internal()))?;
        let tag: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let marker = PrimitiveValue::U8(format!("dcmask pixel data {tag}").into_bytes().into());
        let mut start = Vec::with_capacity(132);
        std::fs::File::open(file.path())
            .and_then(|f| f.take(132).read_to_end(&mut start))
            .map_err(disk_error)?;
        let preamble = match &start[..] {
            s if s.len() == 132 && &s[128..] == b"DICM" => Some(true),
            s if s.starts_with(b"DICM") => Some(false),
            _ => None,
        };
        Ok(Blob {
            file,
            preamble,
            marker,
            vr,
            value_len,
            encapsulated,
        })
    }

    /// The whole object in the file. Its lengths were checked when it was opened (or it
    /// was written here): it is parsed straight from the file, never held as bytes too.
    fn read(&self) -> Result<DefaultDicomObject, Failure> {
        let Some(preamble) = self.preamble else {
            let bytes = std::fs::read(self.file.path()).map_err(disk_error)?;
            return io::read_object(&bytes).map_err(Failure::File);
        };
        let mode = match preamble {
            true => ReadPreamble::Always,
            false => ReadPreamble::Never,
        };
        OpenFileOptions::new()
            .read_preamble(mode)
            .open_file(self.file.path())
            .map_err(|_| {
                Failure::File(Error::malformed(
                    "the file could not be read again from the server's folder",
                ))
            })
    }

    fn stand_in(&self) -> DataElement<dicom_object::InMemDicomObject> {
        DataElement::new(tags::PIXEL_DATA, self.vr, self.marker.clone())
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.file.len()
    }
}

/// A header and, when its Pixel Data is a stand-in, the file with the real value.
#[derive(Clone)]
pub struct Stored {
    header: Arc<DefaultDicomObject>,
    pixels: Option<Arc<Blob>>,
    /// The SHA-256 of the object as Export writes it, once computed ([`Stored::digest`]):
    /// shared by the snapshots that hold this same version.
    digest: Arc<OnceLock<String>>,
}

impl Deref for Stored {
    type Target = DefaultDicomObject;
    fn deref(&self) -> &DefaultDicomObject {
        &self.header
    }
}

/// Why an object could not be opened or rebuilt.
#[derive(Debug)]
pub enum Failure {
    /// What the engine said of the file (never a value): the file's fault (422), except
    /// a failure to encode the result, which is ours (500).
    File(Error),
    /// Ours (disk, storage limit): answered 500 or 503.
    Server(ApiError),
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> ApiError {
        match f {
            Failure::File(e) if e.kind() == ErrorKind::Write => {
                tracing::error!("encoding a de-identified object: {}", e.kind());
                ApiError::internal()
            }
            Failure::File(e) => ApiError::unprocessable(e.to_string()),
            Failure::Server(e) => e,
        }
    }
}

fn disk_error(e: std::io::Error) -> Failure {
    Failure::Server(ApiError::from_io(e))
}

impl Stored {
    /// The same pixels under another header (an edit).
    pub fn with_header(&self, header: DefaultDicomObject) -> Stored {
        Stored {
            header: Arc::new(header),
            pixels: self.pixels.clone(),
            digest: Arc::default(),
        }
    }

    /// The header, to change (a copy).
    pub fn header_clone(&self) -> DefaultDicomObject {
        (*self.header).clone()
    }

    /// Whether both are the one same version (not merely equal).
    pub fn is(&self, other: &Stored) -> bool {
        Arc::ptr_eq(&self.header, &other.header)
    }

    /// The file holding this header's Pixel Data, when the header holds its stand-in.
    fn on_disk(&self) -> Option<&Blob> {
        let blob = self.pixels.as_deref()?;
        let value = self.header.get(tags::PIXEL_DATA)?.value().primitive()?;
        (value == &blob.marker).then_some(blob)
    }

    /// Whether the Pixel Data is in a file (reading it costs [`Stored::cost`]).
    pub fn pixels_on_disk(&self) -> bool {
        self.on_disk().is_some()
    }

    /// Bytes of memory working on the whole object may take: read from disk, parsed,
    /// decoded.
    pub fn cost(&self) -> u64 {
        self.on_disk().map_or(0, |b| b.size().saturating_mul(3)) + (1 << 20)
    }

    /// What Edit mode shows as the Pixel Data value, when it is on disk.
    pub fn pixel_text(&self) -> Option<String> {
        let b = self.on_disk()?;
        Some(match b.encapsulated {
            true => format!("(encapsulated pixel data, {} bytes)", b.value_len),
            false => format!("({} bytes)", b.value_len),
        })
    }

    /// The whole object: the header with its Pixel Data read back from disk. Run it as
    /// work ([`super::work::Work::run`] with [`Stored::cost`]).
    pub fn full(&self) -> Result<DefaultDicomObject, Failure> {
        let mut obj = (*self.header).clone();
        if let Some(blob) = self.on_disk() {
            let mut whole = blob.read()?;
            let pixels = whole.take_element(tags::PIXEL_DATA).map_err(|_| {
                Failure::File(Error::malformed("the Pixel Data could not be read again"))
            })?;
            obj.put(pixels);
        }
        Ok(obj)
    }

    /// The hex SHA-256 of the object exactly as Export writes it ([`io::write_object`] of
    /// [`Stored::full`]), computed once per version. Run it as work with [`Stored::cost`].
    pub fn digest(&self) -> Result<String, Failure> {
        if let Some(d) = self.digest.get() {
            return Ok(d.clone());
        }
        let mut h = Sha256Writer::default();
        let full = self.full()?;
        io::write_object(&full, &mut h).map_err(|e| {
            tracing::warn!("cannot digest a staged file: {e}");
            Failure::Server(ApiError::internal())
        })?;
        Ok(self.digest.get_or_init(|| h.hex()).clone())
    }

    /// The hex SHA-256 of the header as it is held, Pixel Data left out (its value is on
    /// disk, its stand-in unique to this server): what an Apply or edit produced, cheaply.
    pub fn header_digest(&self) -> String {
        let mut header = (*self.header).clone().into_inner();
        header.remove_element(tags::PIXEL_DATA);
        let mut h = Sha256Writer::default();
        let ts = dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN.erased();
        if header.write_dataset_with_ts(&mut h, &ts).is_err() {
            tracing::warn!("a staged header could not be written for its digest");
        }
        h.hex()
    }

    /// The Pixel Data element of this header as it is held (the stand-in when on disk).
    pub fn pixel_element(&self) -> Option<DataElement<dicom_object::InMemDicomObject>> {
        self.header.get(tags::PIXEL_DATA).cloned()
    }

    /// Keeps a de-identified object: a Pixel Data that is still `source`'s stand-in
    /// keeps pointing at `source`'s file; any other Pixel Data is written, with the
    /// whole object, to a new file of `dir` and replaced by its stand-in.
    pub fn keep(
        mut obj: DefaultDicomObject,
        source: &Stored,
        dir: &Arc<Dir>,
    ) -> Result<Stored, Failure> {
        let same = source.on_disk().is_some_and(|b| {
            obj.get(tags::PIXEL_DATA)
                .and_then(|e| e.value().primitive())
                .is_some_and(|v| v == &b.marker)
        });
        if same {
            return Ok(Stored {
                header: Arc::new(obj),
                pixels: source.pixels.clone(),
                digest: Arc::default(),
            });
        }
        let Some(info) = obj.get(tags::PIXEL_DATA).map(element_info) else {
            return Ok(Stored {
                header: Arc::new(obj),
                pixels: None,
                digest: Arc::default(),
            });
        };
        let mut file = dir.create("p").map_err(disk_error)?;
        let written = (|| {
            let mut w = BufWriter::with_capacity(1 << 20, file.writer()?);
            io::write_object(&obj, &mut w).map_err(std::io::Error::other)?;
            w.flush()
        })();
        if let Err(e) = written {
            if file.refused() {
                return Err(Failure::Server(ApiError::storage_full()));
            }
            tracing::warn!("cannot store the pixels of a de-identified file: {e}");
            return Err(Failure::Server(ApiError::internal()));
        }
        let (vr, len, encapsulated) = info;
        let blob = Blob::new(file, vr, len, encapsulated)?;
        obj.put(blob.stand_in());
        Ok(Stored {
            header: Arc::new(obj),
            pixels: Some(Arc::new(blob)),
            digest: Arc::default(),
        })
    }
}

/// VR, value bytes and whether encapsulated, of a Pixel Data element.
fn element_info(e: &DataElement<dicom_object::InMemDicomObject>) -> (VR, u64, bool) {
    match e.value() {
        Value::PixelSequence(p) => {
            let frags: u64 = p.fragments().iter().map(|f| f.len() as u64).sum();
            (e.vr(), frags + 4 * p.offset_table().len() as u64, true)
        }
        Value::Primitive(v) => (e.vr(), v.calculate_byte_len() as u64, false),
        Value::Sequence(_) => (e.vr(), 0, false),
    }
}

/// An uploaded file, opened.
pub struct Opened {
    pub object: Stored,
    /// Bytes of the file that are not pixel data: what its header costs in memory.
    pub header_bytes: u64,
}

/// Opens an uploaded file: its header is read without its pixel data when the engine
/// can locate them (the file is then read whole only when pixels are needed); other
/// files are read whole once.
pub fn open(file: DiskFile) -> Result<Opened, Failure> {
    let len = file.len();
    let reader = std::fs::File::open(file.path()).map_err(disk_error)?;
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    match stream::read_header(&mut reader) {
        Ok(stream::Header {
            object,
            pixel_data: Some(range),
        }) if range.end == len => {
            let mut object = object;
            let (vr, encapsulated) = pixel_vr(&object);
            let value_len = range.end - range.start;
            let blob = Blob::new(file, vr, value_len, encapsulated)?;
            object.put(blob.stand_in());
            Ok(Opened {
                object: Stored {
                    header: Arc::new(object),
                    pixels: Some(Arc::new(blob)),
                    digest: Arc::default(),
                },
                header_bytes: len - value_len,
            })
        }
        Ok(stream::Header {
            object,
            pixel_data: None,
        }) => split(object, file),
        Err(e @ Error::NotDicom { .. }) => Err(Failure::File(e)),
        // Read whole by the engine already: its verdict stands.
        Err(e) if len <= READ_WHOLE => Err(Failure::File(e)),
        // Data after the pixel data, or a large file whose pixel data was not located.
        _ => {
            drop(reader);
            let bytes = std::fs::read(file.path()).map_err(disk_error)?;
            let object = io::read_object(&bytes).map_err(Failure::File)?;
            drop(bytes);
            split(object, file)
        }
    }
}

/// Moves the Pixel Data of an object read whole out to its file.
fn split(mut object: DefaultDicomObject, file: DiskFile) -> Result<Opened, Failure> {
    let len = file.len();
    Ok(match object.take_element(tags::PIXEL_DATA) {
        Ok(px) => {
            let (vr, value_len, encapsulated) = element_info(&px);
            drop(px);
            let blob = Blob::new(file, vr, value_len, encapsulated)?;
            object.put(blob.stand_in());
            Opened {
                object: Stored {
                    header: Arc::new(object),
                    pixels: Some(Arc::new(blob)),
                    digest: Arc::default(),
                },
                header_bytes: len.saturating_sub(value_len),
            }
        }
        // No pixels: the upload is not needed any more (dropping it deletes it).
        Err(_) => Opened {
            object: Stored {
                header: Arc::new(object),
                pixels: None,
                digest: Arc::default(),
            },
            header_bytes: len,
        },
    })
}

/// The VR of pixel data not read: OB when encapsulated, OW when implicit VR or wider
/// than a byte (as dicom-rs writes them), else OB. Only Edit mode shows it; the real
/// element, read back for any use, has its own.
fn pixel_vr(obj: &DefaultDicomObject) -> (VR, bool) {
    let uid = obj.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
    let encapsulated = TransferSyntaxRegistry
        .get(uid)
        .is_some_and(|ts| ts.is_encapsulated_pixel_data());
    let bits = obj
        .get(tags::BITS_ALLOCATED)
        .and_then(|e| e.to_int::<u16>().ok())
        .unwrap_or(8);
    let vr = match (encapsulated, uid == IMPLICIT_VR_LE || bits > 8) {
        (true, _) => VR::OB,
        (false, true) => VR::OW,
        (false, false) => VR::OB,
    };
    (vr, encapsulated)
}
