//! The engine's modules import each other without a cycle (issue 12), and so do its
//! folders: the actions' mechanics at the bottom, then the profile (with the shared
//! vocabulary), the record, the pixel code, the decision, the guard, the application
//! and input/output on top. A `use` that closes a loop fails here with the modules or
//! folders of the loop named.
//!
//! An import is a path through `crate::`, `super::` or `self::` in non-test code, use
//! groups included (`crate::profile::{tag::tag_id, vocab::Action}`), resolved to the
//! deepest module it names. A folder's `mod.rs` re-exporting its own children is the
//! folder's interface, not an import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// A module's path from the crate root (`io::stream::locate`), from its file's path.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every engine source file's module and its non-test code, comment lines left out.
fn sources() -> Vec<(Vec<String>, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let code: Vec<&str> = code
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                out.push((module_of(path.strip_prefix(&src).unwrap()), code.join("\n")));
            }
        }
    }
    out.sort();
    out
}

/// The paths of a use tree starting at `s[*i]` (`a::b::C`, `a::{b, c::D as E}`, `*`).
fn tree(s: &[char], i: &mut usize) -> Vec<Vec<String>> {
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && s[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip_ws(i);
    if *i < s.len() && s[*i] == '{' {
        *i += 1;
        let mut out = Vec::new();
        loop {
            skip_ws(i);
            if *i >= s.len() || s[*i] == '}' {
                *i += 1;
                return out;
            }
            out.extend(tree(s, i));
            // Past a rename (`as E`) to the next member or the group's end.
            while *i < s.len() && s[*i] != ',' && s[*i] != '}' {
                *i += 1;
            }
            if *i < s.len() && s[*i] == ',' {
                *i += 1;
            }
        }
    }
    let start = *i;
    while *i < s.len() && (s[*i].is_ascii_alphanumeric() || s[*i] == '_') {
        *i += 1;
    }
    let ident: String = s[start..*i].iter().collect();
    if ident.is_empty() {
        return vec![vec![]];
    }
    if s.get(*i) == Some(&':') && s.get(*i + 1) == Some(&':') {
        *i += 2;
        return tree(s, i)
            .into_iter()
            .map(|mut rest| {
                rest.insert(0, ident.clone());
                rest
            })
            .collect();
    }
    vec![vec![ident]]
}

/// The absolute paths a module's code names through `crate::`, `super::` and `self::`.
fn paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let s: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    for (start, base) in [("crate::", 0usize), ("super::", 1), ("self::", 2)] {
        let pattern: Vec<char> = start.chars().collect();
        let mut i = 0;
        while i + pattern.len() <= s.len() {
            let at_word = i == 0 || !(s[i - 1].is_ascii_alphanumeric() || s[i - 1] == '_');
            if !at_word || s[i..i + pattern.len()] != pattern[..] {
                i += 1;
                continue;
            }
            // `super::super::x` is read from its first `super`.
            let after_super = base == 1 && i >= 7 && s[i - 7..i] == pattern[..];
            let mut j = i + pattern.len();
            let found = tree(&s, &mut j);
            i = j.max(i + 1);
            if after_super {
                continue;
            }
            let mut prefix: Vec<String> = match base {
                0 => vec![],
                1 => module[..module.len().saturating_sub(1)].to_vec(),
                _ => module.to_vec(),
            };
            for mut path in found {
                while path.first().is_some_and(|p| p == "super") {
                    path.remove(0);
                    prefix.pop();
                }
                let mut full = prefix.clone();
                full.extend(path);
                out.push(full);
            }
        }
    }
    out
}

/// The deepest known module a path names (`profile::tag::tag_id` → `profile::tag`).
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// Module → the modules it imports (a path through the crate root's re-exports counts
/// as one to the module they come from); and the paths that name no module.
fn module_graph() -> (Graph, Vec<String>) {
    let sources = sources();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    let mut unknown = Vec::new();
    // The crate root's re-exports (`pub use decide::plan::Plan;`), by the name they give.
    let mut root: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, code) in sources.iter().filter(|(m, _)| m.is_empty()) {
        for line in code
            .split(';')
            .filter_map(|l| l.trim().strip_prefix("pub use "))
        {
            let s: Vec<char> = line.chars().collect();
            for path in tree(&s, &mut 0) {
                if let Some(last) = path.last() {
                    root.insert(last.clone(), path.clone());
                }
            }
        }
    }
    for (module, code) in &sources {
        if module.is_empty() {
            continue; // lib.rs: declarations and the public re-exports
        }
        let name = module.join("::");
        let deps = graph.entry(name.clone()).or_default();
        for mut path in paths(module, code) {
            if let Some(target) = path.first().and_then(|p| root.get(p)) {
                path.splice(..1, target.iter().cloned());
            }
            match resolve(&modules, &path) {
                Some(used) if used != *module => {
                    deps.insert(used.join("::"));
                }
                Some(_) => {}
                None => unknown.push(format!("{name}: crate::{}", path.join("::"))),
            }
        }
    }
    (graph, unknown)
}

/// The same imports between folders (and the files at the top, `error`, `value`).
fn folder_graph(modules: &Graph) -> Graph {
    let top = |m: &str| m.split("::").next().unwrap().to_string();
    let mut graph = Graph::new();
    for (from, deps) in modules {
        let node = graph.entry(top(from)).or_default();
        node.extend(deps.iter().map(|d| top(d)).filter(|d| *d != top(from)));
    }
    graph
}

/// A cycle through `start`, if any (depth-first search over the import graph).
fn cycle_from(graph: &Graph, start: &str, path: &mut Vec<String>) -> Option<Vec<String>> {
    for next in graph.get(path.last().unwrap()).into_iter().flatten() {
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

fn assert_acyclic(graph: &Graph, what: &str) {
    for start in graph.keys() {
        let cycle = cycle_from(graph, start, &mut vec![start.clone()]);
        assert!(
            cycle.is_none(),
            "import cycle between {what}: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

#[test]
fn the_engine_modules_import_each_other_without_a_cycle() {
    let (graph, unknown) = module_graph();
    assert!(
        graph["decide"].contains("profile::vocab"),
        "the scan sees imports"
    );
    assert!(
        graph["io::stream::locate"].contains("io::precheck"),
        "the scan sees nested modules"
    );
    assert!(
        graph["verify::scan"].contains("verify::dictionary"),
        "the scan sees super::"
    );
    assert_acyclic(&graph, "modules");
    // Every path names a module the scan knows, so none is missed.
    assert!(unknown.is_empty(), "{unknown:?}");
    // The vocabulary is a leaf but for two value types that import nothing back.
    for below in &graph["profile::vocab"] {
        assert!(
            ["profile::options", "actions::generalize"].contains(&below.as_str()),
            "vocab imports {below}"
        );
    }
}

#[test]
fn the_engine_folders_import_each_other_without_a_cycle() {
    let (modules, _) = module_graph();
    let graph = folder_graph(&modules);
    for folder in [
        "actions", "profile", "decide", "apply", "io", "record", "pixel",
    ] {
        assert!(
            graph.contains_key(folder),
            "{folder} is a folder of the engine"
        );
    }
    assert_acyclic(&graph, "folders");
    // The actions' mechanics are the bottom, input/output the top.
    assert!(
        graph["actions"].is_empty(),
        "actions imports {:?}",
        graph["actions"]
    );
    assert!(graph.values().all(|deps| !deps.contains("io")));
}

#[test]
fn the_architecture_map_lists_the_folders_as_they_stack() {
    // ARCHITECTURE.md's map lists the engine's folders and top-level files from the
    // bottom of the import graph up: each imports only those listed before it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let listed: Vec<String> = map
        .lines()
        .filter_map(|l| l.strip_prefix("| `crates/engine/src/"))
        .filter_map(|l| l.split('`').next())
        .map(|p| p.trim_end_matches('/').trim_end_matches(".rs").to_string())
        .filter(|p| p != "lib")
        .collect();
    let (modules, _) = module_graph();
    let graph = folder_graph(&modules);
    for node in graph.keys() {
        assert!(
            listed.contains(node),
            "{node} is not in ARCHITECTURE.md's map"
        );
    }
    for (i, node) in listed.iter().enumerate() {
        let deps = graph
            .get(node)
            .unwrap_or_else(|| panic!("the map lists {node}: no such folder"));
        for dep in deps {
            assert!(
                listed[..i].contains(dep),
                "the map lists {node} before {dep}, which it imports"
            );
        }
    }
}

#[test]
fn a_cycle_would_be_seen() {
    let mut graph = Graph::new();
    for (from, code) in [
        ("a", "use crate::{b, vocab::Action};"),
        ("b", "use crate::c::{\n    d::X,\n    e as f,\n};"),
        ("c::d", "x: super::super::a::T"),
    ] {
        let module: Vec<String> = from.split("::").map(String::from).collect();
        let known: BTreeSet<Vec<String>> = [vec!["a"], vec!["b"], vec!["c", "d"], vec!["c"]]
            .into_iter()
            .map(|m| m.into_iter().map(String::from).collect())
            .collect();
        let deps = graph.entry(from.into()).or_default();
        for path in paths(&module, code) {
            if let Some(used) = resolve(&known, &path) {
                deps.insert(used.join("::"));
            }
        }
    }
    assert_eq!(graph["b"], BTreeSet::from(["c::d".to_string(), "c".into()]));
    assert_eq!(
        cycle_from(&graph, "a", &mut vec!["a".into()]),
        Some(vec!["a".to_string(), "b".into(), "c::d".into(), "a".into()])
    );
    let folders = folder_graph(&graph);
    assert_eq!(
        cycle_from(&folders, "a", &mut vec!["a".into()]),
        Some(vec!["a".to_string(), "b".into(), "c".into(), "a".into()])
    );
}
