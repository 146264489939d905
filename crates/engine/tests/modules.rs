//! The engine's top-level modules import each other without a cycle (issue 12): the
//! shared vocabulary sits below the decider, the pixel code, the guard and the record,
//! and the rule listing above them. A `use crate::…` that closes a loop fails here with
//! the modules of the loop named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its non-test code names through `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let first = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = first.trim_end_matches(".rs").to_string();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let deps = graph.entry(module.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for used in referenced(line) {
                    if used != module {
                        deps.insert(used);
                    }
                }
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// The module names after each `crate::` of a line (`crate::a::B`, `crate::{a, b::C}`).
fn referenced(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or_default();
            out.extend(inner.split(',').map(|p| ident(p.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// A cycle through `start`, if any (depth-first search over the import graph).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in &graph[path.last().unwrap()] {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(start.to_string());
            return Some(cycle);
        }
        if !path.contains(next) && next.as_str() > start {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn the_engine_modules_import_each_other_without_a_cycle() {
    let graph = imports();
    assert!(graph.contains_key("decide") && graph.contains_key("vocab"));
    assert!(graph["decide"].contains("vocab"), "the scan sees imports");
    for start in graph.keys() {
        let cycle = cycle_from(&graph, start, &mut vec![start.clone()]);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
    // The vocabulary is a leaf but for two value types that import nothing back.
    let below: BTreeSet<&str> = graph["vocab"].iter().map(String::as_str).collect();
    assert!(below.iter().all(|m| ["options", "generalize"].contains(m)));
}

#[test]
fn a_cycle_would_be_seen() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, uses) in [
        ("a", "use crate::{b, vocab::Action};"),
        ("b", "x: crate::a::T"),
    ] {
        graph
            .entry(from.into())
            .or_default()
            .extend(referenced(uses).into_iter().filter(|m| m != "vocab"));
    }
    assert_eq!(
        cycle_from(&graph, "a", &mut vec!["a".into()]),
        Some(vec!["a".to_string(), "b".into(), "a".into()])
    );
}
