//! Edit mode: changing one value at a tag path, with VR validation; removing an element
//! or a sequence item. Values are set and elements removed by dicom-object's attribute
//! operations (`AttributeOp` through `ApplyOp::apply`) at the path's selector.

use super::ApiError;
use dcmask_engine::tag::tag_id;
use dicom_core::ops::{
    ApplyOp, AttributeAction, AttributeOp, AttributeSelector, AttributeSelectorStep,
};
use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;

/// Attributes an object cannot lose: emptying them would make it invalid.
const REQUIRED: &[(Tag, &str)] = &[
    (Tag(0x0008, 0x0016), "SOP Class UID"),
    (Tag(0x0008, 0x0018), "SOP Instance UID"),
    (Tag(0x0020, 0x000D), "Study Instance UID"),
    (Tag(0x0020, 0x000E), "Series Instance UID"),
];

/// Checks a value against its VR; the messages are what the edit dialog shows.
pub fn validate(tag: Tag, vr: VR, value: &str) -> Result<(), String> {
    if value.is_empty() {
        if let Some((_, name)) = REQUIRED.iter().find(|(t, _)| *t == tag) {
            return Err(format!("{name} is required and cannot be emptied"));
        }
        return Ok(());
    }
    let each = value.split('\\');
    let all = |ok: &dyn Fn(&str) -> bool| each.clone().all(ok);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let max = |n: usize| value.split('\\').all(|v| v.chars().count() <= n);
    let check = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
    match vr {
        VR::DA => check(
            all(&|s| digits(s, 8) && chrono::NaiveDate::parse_from_str(s, "%Y%m%d").is_ok()),
            "Must be exactly 8 digits: YYYYMMDD",
        ),
        VR::TM => check(
            all(&|s| {
                let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
                [2, 4, 6].contains(&hms.len())
                    && hms.bytes().all(|b| b.is_ascii_digit())
                    && frac.len() <= 6
                    && frac.bytes().all(|b| b.is_ascii_digit())
            }),
            "Must be a time: HHMMSS.FFFFFF (HH, HHMM or HHMMSS, optional fraction)",
        ),
        VR::DT => check(
            all(&|s| {
                s.len() >= 4
                    && s.len() <= 26
                    && s.bytes().all(|b| b.is_ascii_digit() || b"+-.".contains(&b))
            }),
            "Must be a date-time: YYYYMMDDHHMMSS.FFFFFF&ZZXX",
        ),
        VR::AS => check(
            all(&|s| s.len() == 4 && digits(&s[..3], 3) && "DWMY".contains(&s[3..])),
            "Must be an age: three digits and D, W, M or Y (e.g. 045Y)",
        ),
        VR::DS => check(
            all(&|s| s.trim().parse::<f64>().is_ok_and(f64::is_finite)) && max(16),
            "Must be a decimal number (at most 16 characters)",
        ),
        VR::IS => check(
            all(&|s| {
                s.trim()
                    .parse::<i64>()
                    .is_ok_and(|n| (-(1i64 << 31)..(1i64 << 31)).contains(&n))
            }),
            "Must be a whole number",
        ),
        VR::UI => check(
            all(&|s| {
                s.len() <= 64
                    && s.split('.').all(|c| {
                        !c.is_empty()
                            && c.bytes().all(|b| b.is_ascii_digit())
                            && (c == "0" || !c.starts_with('0'))
                    })
            }),
            "Must be a UID: digits separated by dots, at most 64 characters",
        ),
        VR::CS => check(
            all(&|s| {
                s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_')
            }) && max(16),
            "Must be upper-case letters, digits, space or _ (at most 16 characters)",
        ),
        VR::US | VR::SS | VR::UL | VR::SL => check(
            all(&|s| s.trim().parse::<i64>().is_ok()),
            "Must be a whole number",
        ),
        VR::FL | VR::FD => check(
            all(&|s| s.trim().parse::<f64>().is_ok()),
            "Must be a number",
        ),
        VR::AE | VR::SH => check(max(16), "At most 16 characters"),
        VR::LO => check(max(64), "At most 64 characters"),
        VR::PN => check(
            value
                .split('\\')
                .all(|v| v.split('=').all(|g| g.chars().count() <= 64)),
            "At most 64 characters per name group",
        ),
        VR::ST => check(value.chars().count() <= 1024, "At most 1024 characters"),
        VR::SQ | VR::OB | VR::OW | VR::OF | VR::OD | VR::OL | VR::OV | VR::UN => {
            Err("This value cannot be edited as text".into())
        }
        _ => Ok(()),
    }
}

fn value_for(vr: VR, value: &str) -> PrimitiveValue {
    if value.is_empty() {
        return PrimitiveValue::Empty;
    }
    let parts = value.split('\\');
    match vr {
        VR::US => PrimitiveValue::U16(parts.map(|s| s.trim().parse().unwrap_or(0)).collect()),
        VR::SS => PrimitiveValue::I16(parts.map(|s| s.trim().parse().unwrap_or(0)).collect()),
        VR::UL => PrimitiveValue::U32(parts.map(|s| s.trim().parse().unwrap_or(0)).collect()),
        VR::SL => PrimitiveValue::I32(parts.map(|s| s.trim().parse().unwrap_or(0)).collect()),
        VR::FL => PrimitiveValue::F32(parts.map(|s| s.trim().parse().unwrap_or(0.0)).collect()),
        VR::FD => PrimitiveValue::F64(parts.map(|s| s.trim().parse().unwrap_or(0.0)).collect()),
        _ => PrimitiveValue::Strs(parts.map(str::to_string).collect()),
    }
}

/// A tag path `gggg,eeee/item/gggg,eeee...` split into (tag, item) steps; the last step
/// may name an item (`gggg,eeee/1`).
fn parse_steps(path: &str) -> Result<Vec<(Tag, Option<usize>)>, ApiError> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut steps = Vec::new();
    let bad = || ApiError::bad("malformed element path");
    for chunk in parts.chunks(2) {
        let (g, e) = chunk[0].split_once(',').ok_or_else(bad)?;
        let tag = Tag(
            u16::from_str_radix(g, 16).map_err(|_| bad())?,
            u16::from_str_radix(e, 16).map_err(|_| bad())?,
        );
        let item = chunk
            .get(1)
            .map(|i| i.parse::<usize>().map_err(|_| bad()))
            .transpose()?;
        steps.push((tag, item));
    }
    if steps.is_empty() {
        return Err(bad());
    }
    Ok(steps)
}

/// The steps of an element path (not an item).
fn element_steps(path: &str) -> Result<Vec<(Tag, Option<usize>)>, ApiError> {
    let steps = parse_steps(path)?;
    if steps.last().is_some_and(|(_, i)| i.is_some()) {
        return Err(ApiError::bad("malformed element path"));
    }
    Ok(steps)
}

/// The tag an element or item path ends in (the sequence's, for an item).
pub fn path_tag(path: &str) -> Result<Tag, ApiError> {
    Ok(parse_steps(path)?.last().expect("non-empty").0)
}

/// The element the steps lead to, checked one step at a time through dicom-object's
/// selectors, so that a wrong path says which part is wrong: an element that is not
/// there, a step through something that is not a sequence, an item past the end.
fn locate<'a>(
    ds: &'a InMemDicomObject,
    steps: &[(Tag, Option<usize>)],
) -> Result<&'a InMemElement, ApiError> {
    let mut found = None;
    for k in 0..steps.len() {
        let (tag, item) = steps[k];
        let elem = ds
            .entry_at(selector(&steps[..k], tag)?)
            .map_err(|_| ApiError::not_found("element"))?;
        if let Some(i) = item {
            let items = elem
                .items()
                .ok_or_else(|| ApiError::bad(format!("{} is not a sequence", tag_id(tag))))?;
            if i >= items.len() {
                return Err(ApiError::not_found("sequence item"));
            }
        }
        found = Some(elem);
    }
    found.ok_or_else(|| ApiError::bad("malformed element path"))
}

/// The selector of the element `tag` inside the items `outer` lead to.
fn selector(outer: &[(Tag, Option<usize>)], tag: Tag) -> Result<AttributeSelector, ApiError> {
    let mut steps = Vec::with_capacity(outer.len() + 1);
    for &(t, item) in outer {
        let item = item
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| ApiError::not_found("sequence item"))?;
        steps.push(AttributeSelectorStep::Nested { tag: t, item });
    }
    steps.push(AttributeSelectorStep::Tag(tag));
    AttributeSelector::new(steps).ok_or_else(|| ApiError::bad("malformed element path"))
}

/// Carries out `action` on the element the steps lead to, found by [`locate`] first.
fn apply(
    ds: &mut InMemDicomObject,
    steps: &[(Tag, Option<usize>)],
    action: AttributeAction,
) -> Result<(), ApiError> {
    let (outer, last) = steps.split_at(steps.len() - 1);
    let op = AttributeOp::new(selector(outer, last[0].0)?, action);
    ds.apply(op).map_err(|e| {
        tracing::error!("edit could not be applied: {e}");
        ApiError::internal()
    })
}

/// Sets the value at `path`, validating it for the element's VR (which stays).
pub fn set_value(ds: &mut InMemDicomObject, path: &str, value: &str) -> Result<(), ApiError> {
    let steps = element_steps(path)?;
    let (tag, _) = *steps.last().expect("non-empty");
    let vr = locate(ds, &steps)?.vr();
    validate(tag, vr, value).map_err(ApiError::bad)?;
    apply(ds, &steps, AttributeAction::Replace(value_for(vr, value)))
}

/// Removes the element at `path`, or the item when the path ends in an item index.
/// Returns whether an item was removed.
pub fn remove(ds: &mut InMemDicomObject, path: &str) -> Result<bool, ApiError> {
    let mut steps = parse_steps(path)?;
    let (tag, item) = steps.pop().expect("non-empty");
    steps.push((tag, None));
    let elem = locate(ds, &steps)?;
    match item {
        None => {
            if let Some((_, name)) = REQUIRED.iter().find(|(t, _)| *t == tag) {
                return Err(ApiError::bad(format!(
                    "{name} is required and cannot be removed"
                )));
            }
            apply(ds, &steps, AttributeAction::Remove)?;
        }
        Some(i) => {
            let n = elem
                .items()
                .ok_or_else(|| ApiError::bad(format!("{} is not a sequence", tag_id(tag))))?
                .len();
            if i >= n {
                return Err(ApiError::not_found("sequence item"));
            }
            // No attribute action takes out one item of a sequence (Truncate drops the
            // last ones): the item goes through dicom-object's value access by selector.
            let (outer, _) = steps.split_at(steps.len() - 1);
            ds.update_value_at(selector(outer, tag)?, |v| {
                if let Some(items) = v.items_mut() {
                    items.remove(i);
                }
            })
            .map_err(|_| ApiError::not_found("element"))?;
        }
    }
    Ok(item.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, Length};

    #[test]
    fn validation_messages() {
        assert_eq!(
            validate(Tag(0x0008, 0x0020), VR::DA, "INVALID_DATE").unwrap_err(),
            "Must be exactly 8 digits: YYYYMMDD"
        );
        assert!(validate(Tag(0x0008, 0x0020), VR::DA, "20240229").is_ok());
        assert!(validate(Tag(0x0008, 0x0020), VR::DA, "20230229").is_err());
        assert!(validate(Tag(0x0008, 0x0018), VR::UI, "").is_err());
        assert!(validate(Tag(0x0010, 0x1010), VR::AS, "092Y").is_ok());
        assert!(validate(Tag(0x3004, 0x000E), VR::DS, "not-a-number").is_err());
        assert!(validate(Tag(0x3004, 0x000E), VR::DS, "2.5").is_ok());
    }

    #[test]
    fn sets_nested_values() {
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0008, 0x1155),
            VR::UI,
            "1.2.3",
        )]);
        let mut ds = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0008, 0x1115),
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        )]);
        set_value(&mut ds, "0008,1115/0/0008,1155", "1.2.4").unwrap();
        let got = ds.get(Tag(0x0008, 0x1115)).unwrap().items().unwrap()[0]
            .get(Tag(0x0008, 0x1155))
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(got, "1.2.4");
        assert!(set_value(&mut ds, "0008,1115/0/0008,1155", "1..2").is_err());
        assert!(set_value(&mut ds, "0008,1115/0", "x").is_err());
    }

    #[test]
    fn removes_nested_elements_and_items() {
        let item = |uid: &str| {
            InMemDicomObject::from_element_iter([
                DataElement::new(Tag(0x0008, 0x1150), VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
                DataElement::new(Tag(0x0008, 0x1155), VR::UI, uid),
            ])
        };
        let mut ds = InMemDicomObject::from_element_iter([
            DataElement::new(
                Tag(0x0008, 0x1115),
                VR::SQ,
                DataSetSequence::new(vec![item("1.1"), item("1.2")], Length::UNDEFINED),
            ),
            DataElement::new(Tag(0x0008, 0x0018), VR::UI, "1.3"),
        ]);
        let items = |ds: &InMemDicomObject| {
            ds.get(Tag(0x0008, 0x1115))
                .unwrap()
                .items()
                .unwrap()
                .to_vec()
        };
        assert!(!remove(&mut ds, "0008,1115/0/0008,1150").unwrap());
        assert!(items(&ds)[0].get(Tag(0x0008, 0x1150)).is_none());
        assert!(items(&ds)[1].get(Tag(0x0008, 0x1150)).is_some());
        assert!(remove(&mut ds, "0008,1115/0").unwrap());
        let left = items(&ds);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left[0].get(Tag(0x0008, 0x1155)).unwrap().to_str().unwrap(),
            "1.2"
        );
        assert!(remove(&mut ds, "0008,1115/5").is_err());
        assert!(
            remove(&mut ds, "0008,0018").is_err(),
            "SOP Instance UID stays"
        );
        assert_eq!(path_tag("0008,1115/0").unwrap(), Tag(0x0008, 0x1115));
    }

    #[test]
    fn a_wrong_path_says_which_part_is_wrong() {
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0008, 0x1155),
            VR::UI,
            "1.2.3",
        )]);
        let mut ds = InMemDicomObject::from_element_iter([
            DataElement::new(
                Tag(0x0008, 0x1115),
                VR::SQ,
                DataSetSequence::new(vec![item], Length::UNDEFINED),
            ),
            DataElement::new(Tag(0x0008, 0x0018), VR::UI, "1.3"),
        ]);
        // Compared as printed: an undefined Length never equals another.
        let before = format!("{ds:?}");
        let message = |r: Result<(), ApiError>| r.unwrap_err().1;
        assert_eq!(
            message(set_value(&mut ds, "0008,1115/0/0008,1150", "1.2")),
            "element not found"
        );
        assert_eq!(
            message(set_value(&mut ds, "0008,1115/3/0008,1155", "1.2")),
            "sequence item not found"
        );
        assert_eq!(
            message(set_value(&mut ds, "0008,0018/0/0008,1155", "1.2")),
            "(0008,0018) is not a sequence"
        );
        assert_eq!(
            message(remove(&mut ds, "0008,0018/0").map(|_| ())),
            "(0008,0018) is not a sequence"
        );
        assert_eq!(
            message(remove(&mut ds, "0010,0010").map(|_| ())),
            "element not found"
        );
        assert_eq!(
            format!("{ds:?}"),
            before,
            "nothing changed by a refused edit"
        );
        // The VR stays what it was, whatever the dictionary says.
        ds.put(DataElement::new(Tag(0x0010, 0x0010), VR::LO, "X"));
        set_value(&mut ds, "0010,0010", "Y").unwrap();
        assert_eq!(ds.get(Tag(0x0010, 0x0010)).unwrap().vr(), VR::LO);
    }
}
