//! Limits and structural checks on a data set, applied to its headers before dicom-rs
//! parses it.
//!
//! dicom-rs allocates what a header declares before reading the value, builds nested
//! sequences by recursion, and takes an end of input inside encapsulated pixel data as the
//! end of the object. A hostile or damaged file could therefore cost gigabytes, overflow
//! the stack, or pass as whole while cut short. Every data set is first walked with
//! dicom-parser's lazy reader (headers decoded, values skipped unread), and `Walk` sees
//! each token: the real parse only runs on what passed. The walk and the parse use the
//! same decoder, so they read the same headers, provided every value is read exactly as
//! long as declared; where dicom-rs would read less (a US value of 3 bytes is read as one
//! number, leaving the parse one byte out of step), the file is refused.

use crate::error::Limit;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntax;
use dicom_parser::dataset::LazyDataToken;
use dicom_parser::stateful::decode::StatefulDecode;

/// Sequences nested in one another. Real objects rarely go past 10 (an SR content tree,
/// functional groups); the deepest in the test corpus has 5.
pub const MAX_DEPTH: usize = 64;
/// Data elements in one object, at every depth. The largest header in the test corpus
/// (an enhanced MR of 176 frames) has 18,675; a 10,000-frame enhanced MR about a million.
pub const MAX_ELEMENTS: u64 = 2_000_000;
/// Sequence items in one object (fragments of encapsulated pixel data not counted: they
/// cost little). The corpus's largest has 1,976; a 10,000-frame enhanced MR about 110,000.
pub const MAX_ITEMS: u64 = 500_000;

/// Binary VRs whose values dicom-rs reads as whole numbers: a length that is not a
/// multiple of the number's size is read short.
fn number_size(vr: VR) -> Option<u32> {
    match vr {
        VR::US | VR::SS | VR::OW => Some(2),
        VR::UL | VR::SL | VR::FL | VR::OF | VR::OL | VR::AT => Some(4),
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => Some(8),
        _ => None,
    }
}

/// Why a walk refused a data set.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Damaged, cut short or inconsistent; at the element and position when known.
    Broken {
        detail: String,
        tag: Option<Tag>,
        offset: Option<u64>,
    },
    /// Beyond one of the limits above.
    Limit(Limit, String),
}

impl Refusal {
    pub(crate) fn broken(detail: impl Into<String>) -> Refusal {
        Refusal::Broken {
            detail: detail.into(),
            tag: None,
            offset: None,
        }
    }

    fn at(detail: String, tag: Tag, offset: u64) -> Refusal {
        Refusal::Broken {
            detail,
            tag: Some(tag),
            offset: Some(offset),
        }
    }
}

/// The state of a walk over one data set's tokens. Positions are those of the walk's
/// decoder; `total` is the position where the input ends.
pub(crate) struct Walk {
    total: u64,
    ts_uid: &'static str,
    encapsulated: bool,
    depth: usize,
    /// The depth of the open encapsulated pixel data, when inside it.
    pixel_depth: Option<usize>,
    offset_table_next: bool,
    elements: u64,
    items: u64,
}

impl Walk {
    pub(crate) fn new(ts: &TransferSyntax, total: u64) -> Walk {
        Walk {
            total,
            ts_uid: ts.uid(),
            encapsulated: ts.is_encapsulated_pixel_data(),
            depth: 0,
            pixel_depth: None,
            offset_table_next: false,
            elements: 0,
            items: 0,
        }
    }

    /// Whether the walk is inside encapsulated pixel data.
    fn in_pixel_data(&self) -> bool {
        self.pixel_depth == Some(self.depth)
    }

    /// Checks one token. Values are not skipped here: the caller does that after.
    /// The messages name tags, lengths and positions, never a value.
    pub(crate) fn observe<D: StatefulDecode>(
        &mut self,
        token: &LazyDataToken<D>,
    ) -> Result<(), Refusal> {
        match token {
            LazyDataToken::ElementHeader(h) => {
                self.element()?;
                if self.depth == 0 && h.tag == tags::PIXEL_DATA && self.encapsulated {
                    return Err(Refusal::broken(format!(
                        "the transfer syntax {} says the pixel data is encapsulated \
                         (compressed), but Pixel Data (7FE0,0010) holds {} bytes of native \
                         pixel data: the transfer syntax does not match the pixel data",
                        self.ts_uid, h.len.0
                    )));
                }
            }
            LazyDataToken::LazyValue { header, decoder } => {
                let len = header.len.0;
                let what = format!("element tagged ({:04X},{:04X})", header.tag.0, header.tag.1);
                let position = decoder.position();
                self.fits(len, position, &what, Some(header.tag))?;
                if let Some(size) = number_size(header.vr) {
                    if len % size != 0 {
                        let detail = format!(
                            "{what} with VR {} has a length of {len} bytes, not a multiple of \
                             {size}: its value and everything after it would be misread",
                            header.vr
                        );
                        return Err(Refusal::at(detail, header.tag, position));
                    }
                }
            }
            LazyDataToken::SequenceStart { .. } => {
                self.element()?;
                self.open()?;
            }
            LazyDataToken::PixelSequenceStart => {
                self.element()?;
                if self.depth == 0 && !self.encapsulated {
                    return Err(Refusal::broken(format!(
                        "Pixel Data (7FE0,0010) is encapsulated (compressed fragments), but \
                         the transfer syntax {} is native: the transfer syntax does not match \
                         the pixel data",
                        self.ts_uid
                    )));
                }
                self.open()?;
                self.pixel_depth = Some(self.depth);
                self.offset_table_next = true;
            }
            LazyDataToken::ItemStart { len } if self.in_pixel_data() => {
                // dicom-rs reads the first item as the basic offset table, in 4-byte offsets.
                let offset_table = std::mem::take(&mut self.offset_table_next);
                if offset_table && len.0 % 4 != 0 {
                    return Err(Refusal::broken(format!(
                        "the basic offset table of the pixel data has a length of {} bytes, \
                         not a multiple of 4",
                        len.0
                    )));
                }
            }
            LazyDataToken::ItemStart { .. } => {
                self.items += 1;
                if self.items > MAX_ITEMS {
                    return Err(Refusal::Limit(
                        Limit::Items,
                        format!("more than {MAX_ITEMS} sequence items"),
                    ));
                }
            }
            LazyDataToken::LazyItemValue { len, decoder } => {
                self.fits(
                    *len,
                    decoder.position(),
                    "a pixel data fragment",
                    Some(tags::PIXEL_DATA),
                )?;
            }
            LazyDataToken::SequenceEnd => {
                if self.in_pixel_data() {
                    self.pixel_depth = None;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            _ => {}
        }
        Ok(())
    }

    /// After the last token: a data set that ends with sequences still open was cut short
    /// (dicom-rs would take the end of input as the end of the object).
    pub(crate) fn finish(&self) -> Result<(), Refusal> {
        match (self.depth, self.pixel_depth) {
            (0, _) => Ok(()),
            (_, Some(_)) => Err(Refusal::broken(
                "the file ends inside its encapsulated pixel data, before the sequence \
                 delimiter: it is truncated",
            )),
            (d, None) => Err(Refusal::broken(format!(
                "the file ends inside a sequence, {d} level(s) deep: it is truncated"
            ))),
        }
    }

    /// The message for a lazy reader error at `position`: near the end of input, the file
    /// is cut short; anywhere else, it is not readable as its transfer syntax says.
    pub(crate) fn reader_error(&self, e: &str, position: u64) -> String {
        let left = self.total.saturating_sub(position);
        let within = if self.in_pixel_data() {
            ", inside its encapsulated pixel data"
        } else {
            ""
        };
        match left {
            0 => format!("{e}: the file ends there{within}: it is truncated"),
            1..16 => format!("{e}: the file ends {left} bytes further{within}: it is truncated"),
            _ => format!("{e}{within}"),
        }
    }

    fn element(&mut self) -> Result<(), Refusal> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(Refusal::Limit(
                Limit::Elements,
                format!("more than {MAX_ELEMENTS} data elements"),
            ));
        }
        Ok(())
    }

    fn open(&mut self) -> Result<(), Refusal> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Refusal::Limit(
                Limit::Depth,
                format!("sequences nested more than {MAX_DEPTH} deep"),
            ));
        }
        Ok(())
    }

    /// A declared length must fit in what is left of the input; worded as dicom-rs words
    /// a short read, for [`crate::io`]'s explanation.
    fn fits(&self, len: u32, position: u64, what: &str, tag: Option<Tag>) -> Result<(), Refusal> {
        if u64::from(len) > self.total.saturating_sub(position) {
            return Err(Refusal::Broken {
                detail: format!("Could not read {len} value bytes for {what}"),
                tag,
                offset: Some(position),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_sizes_match_what_dicom_rs_reads() {
        assert_eq!(number_size(VR::US), Some(2));
        assert_eq!(number_size(VR::AT), Some(4));
        assert_eq!(number_size(VR::FD), Some(8));
        // Strings and bytes are read as long as declared.
        assert_eq!(number_size(VR::LO), None);
        assert_eq!(number_size(VR::OB), None);
        assert_eq!(number_size(VR::UN), None);
    }
}
