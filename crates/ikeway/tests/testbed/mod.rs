//! What the namespace interop tests share: when the testbed can run, reading what a scenario
//! recorded, and strongSwan's view of its SAs. Each test file uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root (where `testbeds/` is).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Why the testbed cannot run here, if it cannot.
pub(crate) fn unavailable(needs: &[&str]) -> Option<String> {
    if !ikeway_testkit::is_root() {
        return Some("not root (network namespaces need root)".into());
    }
    ["ip", "nft"]
        .iter()
        .chain(needs)
        .find(|tool| !ikeway_testkit::have(tool))
        .map(|tool| format!("{tool} is not installed (run testbeds/install-peers.sh)"))
}

pub(crate) fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// The JSON lines of a file (other lines are skipped).
pub(crate) fn events(dir: &Path, file: &str) -> Vec<Value> {
    read(dir, file).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

pub(crate) fn find<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The IKE SAs of a `swanctl --list-sas --raw` snapshot as flat key=value maps, each with its
/// child SAs.
#[derive(Debug, Default)]
pub(crate) struct SwSa {
    pub(crate) fields: BTreeMap<String, String>,
    pub(crate) children: Vec<BTreeMap<String, String>>,
}

pub(crate) fn swanctl_sas(text: &str) -> Vec<SwSa> {
    let mut sas = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("list-sa event")) {
        let (head, children) = line.split_once("child-sas {").unwrap_or((line, ""));
        let mut sa = SwSa { fields: pairs(head), ..SwSa::default() };
        for child in children.split("}").filter(|c| c.contains("spi-in=")) {
            sa.children.push(pairs(child));
        }
        sas.push(sa);
    }
    sas
}

fn pairs(text: &str) -> BTreeMap<String, String> {
    text.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| {
            (k.to_owned(), v.trim_matches(|c| c == '[' || c == ']' || c == '}').to_owned())
        })
        .collect()
}
