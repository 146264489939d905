//! Downloads: one staged file, the export zip (files + report: what is safe to share),
//! and the linkage zip (original identifiers, apart). Files and the export zip are
//! written to the session's folder, then streamed from there: never whole in memory, and
//! an error is a proper answer, not a cut download.

use super::disk::{Charge, Dir, DiskFile};
use super::object::Stored;
use super::session::{lock, Session};
use super::{ApiError, Shared};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dcmask_engine::io;
use dcmask_engine::mapping_csv;
use dcmask_engine::report::to_html;
use dcmask_engine::Mappings;
use hyper::body::{Frame, SizeHint};
use std::io::{BufWriter, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

type ApiResult<T> = Result<T, ApiError>;

/// Entries this large are written with zip64 records.
const ZIP64_FROM: u64 = 1 << 31;
const CHUNK: usize = 256 * 1024;

/// A download of a file of the session's folder, removed from disk as it is opened.
fn download(file: DiskFile, mime: &'static str, filename: &str) -> ApiResult<Response> {
    let (file, charge) = file.into_reader().map_err(ApiError::from_io)?;
    let len = file.metadata().map_err(ApiError::from_io)?.len();
    let body = FileBody {
        file: tokio::fs::File::from_std(file),
        left: len,
        _charge: charge,
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::new(body),
    )
        .into_response())
}

/// A file sent in chunks; its disk space stays charged until it is sent.
struct FileBody {
    file: tokio::fs::File,
    left: u64,
    _charge: Charge,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let mut buf = vec![0u8; CHUNK.min(this.left as usize)];
        let mut read = ReadBuf::new(&mut buf);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())));
                }
                buf.truncate(n);
                this.left -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Writes `obj` whole (pixels read back from disk) to `w`.
fn write_full(obj: &Stored, w: &mut impl Write) -> ApiResult<()> {
    let full = obj.full()?;
    io::write_object(&full, w).map_err(|e| {
        tracing::warn!("cannot write a staged file: {e}");
        ApiError::internal()
    })
}

/// Runs `write` into a new file of `dir`, mapping a refused write to 503.
fn write_file(
    dir: &Arc<Dir>,
    write: impl FnOnce(&mut BufWriter<super::disk::ChargedWriter<'_>>) -> ApiResult<()>,
) -> ApiResult<DiskFile> {
    let mut file = dir.create("x").map_err(ApiError::from_io)?;
    let written = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, file.writer().map_err(ApiError::from_io)?);
        write(&mut w)?;
        w.flush().map_err(ApiError::from_io)
    })();
    match written {
        Err(_) if file.refused() => Err(ApiError::storage_full()),
        r => r.map(|()| file),
    }
}

pub async fn export_file(
    State(app): State<Shared>,
    Path((sid, fid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let s = app.sessions.get(&sid)?;
    let (obj, name, dir) = {
        let s = lock(&s);
        (
            s.staged(&fid)?.object.clone(),
            s.file(&fid)?.name.clone(),
            s.dir.clone(),
        )
    };
    let file = app
        .work
        .run(obj.cost(), move || {
            write_file(&dir, |w| write_full(&obj, w))
        })
        .await??;
    download(file, "application/dicom", &name)
}

/// The de-identified files and the determination report: what is safe to share. The
/// linkage (original identifiers) is never in it: see [`linkage_zip`].
pub async fn export_zip(State(app): State<Shared>, Path(sid): Path<String>) -> ApiResult<Response> {
    let mut report = super::evidence::evidence(&app, &sid).await?;
    let s = app.sessions.get(&sid)?;
    let (files, dir): (Vec<(String, Stored)>, Arc<Dir>) = {
        let s = lock(&s);
        let files = s
            .current()
            .files
            .iter()
            .map(|f| (s.name(&f.id), f.staged.object.clone()))
            .collect();
        (files, s.dir.clone())
    };
    // The trail gets the export before the report cites its head.
    let mut entry = crate::audit::entry("export");
    entry.subject = Some(report.decisions.profile.clone());
    entry.session = Some(super::evidence::session_digest(&sid));
    entry.config = Some(report.configuration_digest.clone());
    entry.outputs = report.dataset.content_digest.clone();
    entry.outputs_of = Some("the DICOM files of the export zip, by their names in it".into());
    entry.counts.insert("files".into(), files.len() as u64);
    let appended = app.audit.append(entry).map_err(|e| {
        tracing::warn!("the audit log could not be appended to: {e}");
        ApiError::busy("the audit log could not be written: nothing was exported")
    })?;
    report.audit = Some(
        app.audit
            .head(Some(format!("the export, entry {}", appended.0))),
    );
    // One file is in memory at a time.
    let cost = files.iter().map(|(_, o)| o.cost()).max().unwrap_or(0);
    let file = app
        .work
        .run(cost, move || {
            write_file(&dir, |w| {
                let mut zip = zip::ZipWriter::new(w);
                let err = |e: zip::result::ZipError| {
                    tracing::warn!("export zip: {e}");
                    ApiError::internal()
                };
                for (name, obj) in &files {
                    // DICOM files are often compressed already, and large: stored as is.
                    let opts = zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Stored)
                        .large_file(obj.cost() >= ZIP64_FROM);
                    zip.start_file(name, opts).map_err(err)?;
                    write_full(obj, &mut zip)?;
                }
                let json = serde_json::to_vec_pretty(&report).map_err(|_| ApiError::internal())?;
                let opts = zip::write::SimpleFileOptions::default();
                zip.start_file("report.json", opts).map_err(err)?;
                zip.write_all(&json).map_err(ApiError::from_io)?;
                zip.start_file("report.html", opts).map_err(err)?;
                zip.write_all(to_html(&report).as_bytes())
                    .map_err(ApiError::from_io)?;
                zip.finish().map_err(err)?;
                Ok(())
            })
        })
        .await??;
    download(file, "application/zip", "dcmask-export.zip")
}

const LINKAGE_README: &str = "\
dcmask linkage: CONTAINS ORIGINAL IDENTIFIERS

This archive pairs the original identifiers of the files de-identified in one dcmask
workbench session with the identifiers that replaced them:

  uid_mapping.csv    original UID -> replacement UID          (id_old,id_new)
  patid_mapping.csv  original Patient ID -> replacement ID    (id_old,id_new)

Anyone who holds it together with the de-identified data can re-identify the patients.
Keep it apart from the data: do not send it with the de-identified files, store it
where only the people entitled to re-identify can read it, and delete it when it is no
longer needed.
";

/// The identifier mappings of the current files: the re-identification key, a download
/// of its own so it never travels with the data. Small: made in memory.
pub async fn linkage_zip(
    State(app): State<Shared>,
    Path(sid): Path<String>,
) -> ApiResult<Response> {
    let s = app.sessions.get(&sid)?;
    let maps = mappings(&lock(&s))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let entries = [
        ("README.txt", LINKAGE_README.as_bytes().to_vec()),
        ("uid_mapping.csv", mapping_csv(&maps.uids)),
        ("patid_mapping.csv", mapping_csv(&maps.patient_ids)),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, opts)
            .map_err(|_| ApiError::internal())?;
        zip.write_all(&bytes).map_err(|_| ApiError::internal())?;
    }
    let bytes = zip.finish().map_err(|_| ApiError::internal())?.into_inner();
    tracing::info!("linkage downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"dcmask-linkage.zip\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response())
}

fn mappings(s: &Session) -> ApiResult<Mappings> {
    if s.current().files.iter().all(|f| f.staged.record.is_none()) {
        return Err(ApiError::bad(
            "nothing has been applied yet: there are no identifiers to link",
        ));
    }
    let mut maps = Mappings::default();
    for f in &s.current().files {
        maps.merge((*f.staged.mappings).clone());
    }
    Ok(maps)
}
