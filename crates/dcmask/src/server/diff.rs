//! The metadata tree of a file compared with the file as opened (what Edit mode shows),
//! and the one definition of a changed element, with who changed it: the top bar
//! counter, the Apply result, Edit mode and the report all count [`FileChanges`].

use super::object::Stored;
use super::session::Staged;
use dcmask_engine::report::{Changed, ChangedBy};
use dcmask_engine::tag::{display_name, keyword, tag_id};
use dcmask_engine::ManualAction;
use dcmask_engine::{block_of, is_creator};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Unchanged,
    Modified,
    Added,
    Removed,
}

#[derive(Serialize)]
pub struct Node {
    pub path: String,
    pub tag: String,
    pub keyword: &'static str,
    pub name: String,
    pub vr: &'static str,
    pub value: String,
    pub status: Status,
    /// Who changed it, on the elements [`FileChanges`] counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<ChangedBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Vec<Node>>>,
}

const MAX_SHOWN: usize = 160;

/// The value as shown to the user: text, or a short description of binary content.
pub fn display(elem: &InMemElement) -> String {
    match elem.value() {
        Value::Sequence(s) => format!("{} items", s.items().len()),
        Value::PixelSequence(p) => format!(
            "(encapsulated pixel data, {} fragments)",
            p.fragments().len()
        ),
        Value::Primitive(p) => match elem.vr() {
            VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN => {
                format!("({} bytes)", p.calculate_byte_len())
            }
            _ => {
                let s = p.to_str();
                let s = s.trim_end_matches(['\0', ' ']);
                if s.chars().count() > MAX_SHOWN {
                    format!("{}…", s.chars().take(MAX_SHOWN).collect::<String>())
                } else {
                    s.to_string()
                }
            }
        },
    }
}

fn same(a: &InMemElement, b: &InMemElement) -> bool {
    match (a.value(), b.value()) {
        (Value::Primitive(x), Value::Primitive(y)) => a.vr() == b.vr() && x == y,
        (Value::PixelSequence(x), Value::PixelSequence(y)) => x.fragments() == y.fragments(),
        (Value::Sequence(_), Value::Sequence(_)) => true, // compared item by item
        _ => false,
    }
}

fn creators(ds: Option<&InMemDicomObject>) -> Vec<(u16, u16, String)> {
    ds.map(|d| {
        d.iter()
            .filter(|e| is_creator(e.tag()))
            .filter_map(|e| Some((e.tag().0, e.tag().1, e.to_str().ok()?.trim().to_string())))
            .collect()
    })
    .unwrap_or_default()
}

/// Compares two data sets (either may be absent) into tree nodes.
pub fn tree(
    original: Option<&InMemDicomObject>,
    current: Option<&InMemDicomObject>,
    prefix: &str,
) -> Vec<Node> {
    let mut tags: BTreeSet<Tag> = BTreeSet::new();
    tags.extend(original.iter().flat_map(|d| d.tags()));
    tags.extend(current.iter().flat_map(|d| d.tags()));
    let (oc, cc) = (creators(original), creators(current));
    tags.into_iter()
        .map(|tag| {
            let o = original.and_then(|d| d.get(tag));
            let c = current.and_then(|d| d.get(tag));
            let path = format!("{prefix}{:04X},{:04X}", tag.0, tag.1);
            let shown = c.or(o).expect("tag from one side");
            let status = match (o, c) {
                (Some(_), None) => Status::Removed,
                (None, Some(_)) => Status::Added,
                (Some(a), Some(b)) if !same(a, b) => Status::Modified,
                _ => Status::Unchanged,
            };
            let creator = block_of(tag).and_then(|b| {
                cc.iter()
                    .chain(&oc)
                    .find(|(g, e, _)| *g == tag.0 && *e == b)
                    .map(|(_, _, s)| s.clone())
            });
            let oi = o.and_then(|e| e.items()).unwrap_or(&[]);
            let ci = c.and_then(|e| e.items()).unwrap_or(&[]);
            let items = match (o.map(|e| e.value()), c.map(|e| e.value())) {
                (Some(Value::Sequence(_)), _) | (_, Some(Value::Sequence(_))) => {
                    let n = oi.len().max(ci.len());
                    Some(
                        (0..n)
                            .map(|i| tree(oi.get(i), ci.get(i), &format!("{path}/{i}/")))
                            .collect::<Vec<Vec<Node>>>(),
                    )
                }
                _ => None,
            };
            let status = match (&items, status) {
                (Some(items), Status::Unchanged)
                    if oi.len() != ci.len() || items.iter().flatten().any(Node::changed) =>
                {
                    Status::Modified
                }
                (_, s) => s,
            };
            Node {
                path,
                tag: tag_id(tag),
                keyword: keyword(tag),
                name: display_name(tag),
                vr: shown.vr().to_string(),
                value: c.map(display).unwrap_or_default(),
                status,
                by: None,
                original: if status == Status::Unchanged || o.is_none() {
                    None
                } else {
                    o.map(display)
                },
                creator,
                items,
            }
        })
        .collect()
}

impl Node {
    fn changed(&self) -> bool {
        self.status != Status::Unchanged
    }

    /// Marks the nodes of the changed elements with who changed them.
    pub fn mark(nodes: &mut [Node], changes: &FileChanges) {
        let by: HashMap<&str, ChangedBy> = changes
            .list
            .iter()
            .map(|c| (c.path.as_str(), c.by))
            .collect();
        fn walk(nodes: &mut [Node], by: &HashMap<&str, ChangedBy>) {
            for n in nodes {
                n.by = by.get(n.path.as_str()).copied();
                for item in n.items.iter_mut().flatten() {
                    walk(item, by);
                }
            }
        }
        walk(nodes, &by);
    }
}

/// The changed elements between two data sets, by path: one for an element removed or
/// added, one for a value that differs; a sequence in both counts by its items'
/// elements (itself when its items differ only by empty ones).
pub fn changed_paths(
    original: Option<&InMemDicomObject>,
    current: Option<&InMemDicomObject>,
    prefix: &str,
    out: &mut Vec<String>,
) {
    let mut tags: BTreeSet<Tag> = BTreeSet::new();
    tags.extend(original.iter().flat_map(|d| d.tags()));
    tags.extend(current.iter().flat_map(|d| d.tags()));
    for tag in tags {
        let path = format!("{prefix}{:04X},{:04X}", tag.0, tag.1);
        match (
            original.and_then(|d| d.get(tag)),
            current.and_then(|d| d.get(tag)),
        ) {
            (Some(a), Some(b)) => match (a.items(), b.items()) {
                (Some(ai), Some(bi)) => {
                    let before = out.len();
                    for i in 0..ai.len().max(bi.len()) {
                        changed_paths(ai.get(i), bi.get(i), &format!("{path}/{i}/"), out);
                    }
                    if out.len() == before && ai.len() != bi.len() {
                        out.push(path);
                    }
                }
                _ if !same(a, b) => out.push(path),
                _ => {}
            },
            (None, None) => {}
            _ => out.push(path),
        }
    }
}

/// The elements of a file that differ from the file as opened, each with who changed
/// it: the profile when the last Apply changed it and no later edit did, the hand
/// otherwise (edits before Apply, after it, and drawn boxes).
pub struct FileChanges {
    pub list: Vec<Changed>,
}

const PIXEL_DATA: &str = "7FE0,0010";

impl FileChanges {
    /// A file as opened: nothing changed.
    pub fn none() -> FileChanges {
        FileChanges { list: Vec::new() }
    }

    /// The changes of `staged` from `original`, with `source` (what the last Apply
    /// started from) telling the profile's from the hand's.
    pub fn of(original: &InMemDicomObject, source: &Stored, staged: &Staged) -> FileChanges {
        let paths = |a: &InMemDicomObject, b: &InMemDicomObject| {
            let mut out = Vec::new();
            changed_paths(Some(a), Some(b), "", &mut out);
            out
        };
        let by_profile: Box<dyn Fn(&str) -> bool> = match &staged.applied {
            None => Box::new(|_| false),
            Some(applied) => {
                let profile: HashSet<String> = paths(source, applied).into_iter().collect();
                let later: HashSet<String> = if applied.is(&staged.object) {
                    HashSet::new()
                } else {
                    paths(applied, &staged.object).into_iter().collect()
                };
                let drawn = staged
                    .manual
                    .iter()
                    .any(|m| m.action == ManualAction::BlankRegion);
                Box::new(move |p| {
                    profile.contains(p) && !later.contains(p) && !(drawn && p == PIXEL_DATA)
                })
            }
        };
        let list = paths(original, &staged.object)
            .into_iter()
            .map(|path| Changed {
                by: if by_profile(&path) {
                    ChangedBy::Profile
                } else {
                    ChangedBy::Hand
                },
                path,
            })
            .collect();
        FileChanges { list }
    }

    /// (by the profile, by hand).
    pub fn counts(&self) -> (usize, usize) {
        let hand = self.list.iter().filter(|c| c.by == ChangedBy::Hand).count();
        (self.list.len() - hand, hand)
    }
}
