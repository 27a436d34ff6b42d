//! The crate's layers, checked: protocol ← mesh ← call state ← client ← ui ← server. A
//! module may use its own layer and the ones below, never one above, and no two modules use
//! each other (directly or through others). Read from the source so that a new `use` that
//! breaks the rule fails here, with the file and the path it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a module, by its path under `src/` (first segment).
fn layer(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    Some(match top {
        // The wire contracts, and the two the server and the page share.
        "protocol" | "call_chunks" | "early_media" => 0,
        // The call's decisions, and pure arithmetic beside them.
        "mesh" | "stats" | "webm" => 1,
        "call_state" => 2,
        "client" | "browser" => 3,
        "app" | "pages" | "components" | "i18n" => 4,
        // The server renders the pages, so it stands on the ui; nothing uses it.
        "server" => 5,
        _ => return None,
    })
}

const LAYER_NAMES: [&str; 6] = ["protocol", "mesh", "call state", "client", "ui", "server"];

/// `src/client/peer.rs` → `client::peer`; `src/mesh/mod.rs` → `mesh`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// Every module a file names, as `crate::a::b` anywhere or as `super::b` in a file-level
/// `use` (the longest prefix that is a module).
fn uses(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
    let crate_paths = text
        .match_indices("crate::")
        .map(|(at, _)| (String::new(), &text[at + "crate::".len()..]));
    let super_paths = text
        .lines()
        .filter_map(|line| line.strip_prefix("use super::"))
        .map(|rest| (format!("{parent}::"), rest));
    let mut found = BTreeSet::new();
    for (base, rest) in crate_paths.chain(super_paths) {
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = format!("{base}{path}");
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        if let Some(module) = (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains(candidate))
        {
            found.insert(module);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).expect("a source file is readable");
            let module = module_of(&src, file);
            let mut used = uses(&module, &text, &modules);
            used.remove(&module);
            (module, used)
        })
        .collect()
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let mut wrong = Vec::new();
    for (module, used) in graph() {
        let Some(own) = layer(&module) else { continue };
        for target in used {
            if let Some(theirs) = layer(&target).filter(|&theirs| theirs > own) {
                wrong.push(format!(
                    "{module} ({}) uses {target} ({})",
                    LAYER_NAMES[own], LAYER_NAMES[theirs]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_module_has_a_layer() {
    let unplaced: Vec<String> = graph()
        .into_keys()
        .filter(|m| layer(m).is_none() && !matches!(m.as_str(), "lib" | "main"))
        .collect();
    assert!(unplaced.is_empty(), "give these a layer: {unplaced:?}");
}

#[test]
fn no_two_modules_use_each_other() {
    let graph = graph();
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit<'a>(
        module: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| *m == module) {
            let mut cycle: Vec<String> = path[start..].iter().map(|m| m.to_string()).collect();
            cycle.push(module.to_string());
            return Some(cycle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "a cycle: {}", cycle.unwrap().join(" → "));
    }
}

#[test]
fn src_never_reaches_into_tests() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let reaching: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).expect("a source file is readable");
            text.lines()
                .any(|line| line.trim_start().starts_with("#[path") && line.contains("tests/"))
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(reaching.is_empty(), "{reaching:?}");
}

#[test]
fn the_checks_see_a_use() {
    // The reader must find what it is meant to find, or the tests above prove nothing.
    let graph = graph();
    assert!(graph["client::session"].contains("mesh"));
    assert!(graph["mesh"].contains("protocol::signaling"));
    assert!(graph["call_state"].contains("mesh"));
    assert!(graph["server::connection"].contains("server::rooms"));
    assert!(graph["pages::call"].contains("call_state"));
}
