//! The leak guard across files: identifying values of a patient seen in one file are
//! looked for in the outputs of the patient's other files.
//!
//! Files are de-identified in parallel, each guarded by its own identifying values, and
//! those values are pooled per patient (by original Patient ID). Once every file is
//! done, a file whose patient turned out to have identifying values the file itself did
//! not hold is checked against them: the text its guard let through was kept in memory
//! for this ([`dcmask_engine::io::stream::Prepared::take_identifying`]), so no output is read
//! again. Only a file whose text holds one of them, or whose text was too long to keep,
//! is de-identified again with the patient's values. Its journal line then carries a
//! keyed digest of those values, so that a resumed run does not do it a third time.
//!
//! What is kept here are originals, in memory only; the journal holds the digest alone.

use dcmask_engine::Key;
use dcmask_engine::{holds_any, Identifying, Pool};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the run learned of each patient and each file.
#[derive(Default)]
pub struct Patients {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Original Patient ID (trimmed) → index in `pools`. Originals, in memory only.
    patients: HashMap<String, usize>,
    /// Per patient, the values of all its files.
    pools: Vec<Pool>,
    /// Item index and what its de-identification showed, in the order they were noted.
    files: Vec<(usize, Seen)>,
}

struct Seen {
    /// Index of its patient's pool.
    patient: usize,
    /// How many identifying values the file held itself (a subset of its patient's).
    own: usize,
    /// The text its guard let through, when it was short enough to keep.
    text: Option<String>,
    /// The digest of the patient's values it was last de-identified with, if any.
    related: Option<String>,
}

/// A file to de-identify again, with its patient's identifying values.
pub struct Redo {
    pub idx: usize,
    /// The patient's pooled values, shared by all of that patient's files to redo.
    pub related: Arc<Identifying>,
    /// [`digest`] of `related`, for the journal line.
    pub digest: String,
}

impl Patients {
    /// Notes a de-identified (or resumed) file: its patient (`None` without a Patient ID,
    /// when there is nothing to group by), its own identifying values, the text its
    /// guard let through (`None`: unknown or too long) and the digest of the values of
    /// other files it was de-identified with.
    pub fn note(
        &self,
        idx: usize,
        patient: Option<&str>,
        own: Identifying,
        text: Option<String>,
        related: Option<String>,
    ) {
        let Some(patient) = patient else {
            return;
        };
        let mut state = self.state.lock().expect("lock");
        let state = &mut *state;
        let patient = match state.patients.get(patient.trim()) {
            Some(&i) => i,
            None => {
                state
                    .patients
                    .insert(patient.trim().to_string(), state.pools.len());
                state.pools.push(Pool::default());
                state.pools.len() - 1
            }
        };
        let own_len = own.len();
        state.pools[patient].add(own);
        state.files.push((
            idx,
            Seen {
                patient,
                own: own_len,
                text,
                related,
            },
        ));
    }

    /// The files whose output may hold an identifying value of their patient that only
    /// other files showed, in walk order. Patients are checked in parallel (this runs
    /// once every file is done, when nothing else is left to do); a patient's digest is
    /// made only when one of its files needs it.
    pub fn into_redo(self, key: &Key) -> Vec<Redo> {
        use rayon::prelude::*;
        let state = self.state.into_inner().expect("lock");
        let mut by_patient: Vec<Vec<(usize, Seen)>> =
            (0..state.pools.len()).map(|_| Vec::new()).collect();
        for (idx, seen) in state.files {
            by_patient[seen.patient].push((idx, seen));
        }
        let mut redo: Vec<Redo> = state
            .pools
            .into_par_iter()
            .zip(by_patient)
            .flat_map_iter(|(pool, files)| {
                let pool = Arc::new(pool.into_identifying());
                let mut digest_of = None;
                let mut holds: Option<Holds<'_>> = None;
                let mut redo = Vec::new();
                for (idx, seen) in &files {
                    if pool.len() <= seen.own {
                        continue;
                    }
                    if seen.related.is_some() {
                        let d: &String = digest_of.get_or_insert_with(|| digest(key, &pool));
                        if seen.related.as_ref() == Some(d) {
                            continue;
                        }
                    }
                    if let Some(text) = seen.text.as_deref() {
                        let holds = holds.get_or_insert_with(|| Box::new(holds_any(&pool)));
                        if !holds(text) {
                            continue;
                        }
                    }
                    redo.push(*idx);
                }
                drop(holds);
                let digest = match redo.is_empty() {
                    true => String::new(),
                    false => digest_of.unwrap_or_else(|| digest(key, &pool)),
                };
                redo.into_iter().map(move |idx| Redo {
                    idx,
                    related: Arc::clone(&pool),
                    digest: digest.clone(),
                })
            })
            .collect();
        redo.sort_by_key(|r| r.idx);
        redo
    }
}

/// Whether a text holds any identifying value of one patient ([`holds_any`]).
type Holds<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// A keyed digest of a set of identifying values: names the set in the journal without
/// holding it.
fn digest(key: &Key, ids: &Identifying) -> String {
    let bytes = serde_json::to_vec(ids).expect("identifying values serialise");
    super::journal::hex(&key.mac_in("dcmask batch related", &bytes)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcmask_engine::{Decider, Plan, ProfileId};
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;

    fn ids(name: &str) -> Identifying {
        let obj = InMemDicomObject::from_element_iter([DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            name,
        )]);
        Identifying::collect(&obj, &Decider::new(&Plan::builtin(ProfileId::Basic)))
    }

    #[test]
    fn only_files_whose_text_holds_another_files_values_are_redone() {
        let key = Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap();
        let p = Patients::default();
        // Same patient: file 0 knew only the name, file 1 also the birth name. Texts are
        // as a guard keeps them: normalised (lower case, words one space apart).
        p.note(
            0,
            Some("P1"),
            ids("Doe^Jane"),
            Some("ct of roe".into()),
            None,
        );
        p.note(
            1,
            Some("P1"),
            ids("Doe^Jane\\Roe^Jane"),
            Some("".into()),
            None,
        );
        p.note(2, Some("P1"), ids("Doe^Jane"), Some("ct head".into()), None);
        p.note(3, Some("P1"), ids("Doe^Jane"), None, None);
        // Another patient with one file, and a file without a Patient ID.
        p.note(4, Some("P2"), ids("Poe^Ed"), Some("roe".into()), None);
        p.note(5, None, ids("Roe^Ann"), Some("doe".into()), None);
        let redo: Vec<usize> = p.into_redo(&key).iter().map(|r| r.idx).collect();
        // 0 holds "Roe"; 3's text is unknown; 2 holds nothing of the pool.
        assert_eq!(redo, [0, 3]);
    }

    #[test]
    fn a_pool_of_many_differing_files_holds_all_their_values() {
        let key = Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap();
        let p = Patients::default();
        let mut union = Identifying::default();
        for i in 0..1000 {
            let own = ids(&format!("Doe^Jane^N{i:04}x"));
            union.merge(&own);
            // Every file's text holds the name of the file after it.
            let text = format!("note for n{:04}x", (i + 1) % 1000);
            p.note(i, Some("P1"), own, Some(text), None);
        }
        let redo = p.into_redo(&key);
        assert_eq!(redo.len(), 1000);
        assert_eq!(*redo[0].related, union);
        assert_eq!(redo[0].digest, digest(&key, &union));
    }

    #[test]
    fn a_file_redone_with_these_values_is_not_redone_again() {
        let key = Key::from_file_contents(b"00112233445566778899aabbccddeeff").unwrap();
        let first = Patients::default();
        first.note(0, Some("P1"), ids("Doe^Jane"), None, None);
        first.note(1, Some("P1"), ids("Roe^Jane"), None, None);
        let redo = first.into_redo(&key);
        assert_eq!(redo.len(), 2);
        let again = Patients::default();
        again.note(
            0,
            Some("P1"),
            ids("Doe^Jane"),
            None,
            Some(redo[0].digest.clone()),
        );
        again.note(
            1,
            Some("P1"),
            ids("Roe^Jane"),
            None,
            Some(redo[1].digest.clone()),
        );
        assert!(again.into_redo(&key).is_empty());
    }
}
