//! What the namespace interop tests share: when the testbed can run, reading what a scenario
//! recorded, and strongSwan's view of its SAs. Each test file uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// A JSON file (e.g. `ikeway status --json` output).
pub(crate) fn status(dir: &Path, file: &str) -> Value {
    let text = read(dir, file);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}: {text}"))
}

/// What strongSwan logged while one case ran (`CASE.charon.log`).
pub(crate) fn charon_lines(dir: &Path, case: &str) -> Vec<String> {
    read(dir, &format!("{case}.charon.log")).lines().map(str::to_owned).collect()
}

/// After one case of `testbeds/lib/ourclient.sh` (`ikw_client_case`): our client is
/// disconnected and the client namespace's routes and links are as before the connect.
pub(crate) fn assert_client_restored(dir: &Path, case: &str) {
    let after = status(dir, &format!("{case}.status.after.json"));
    assert_eq!(after["status"], "disconnected", "{case}: {after}");
    assert_eq!(
        read(dir, &format!("{case}.routes.after")),
        read(dir, &format!("{case}.routes.before")),
        "{case}: routes"
    );
    let links = read(dir, &format!("{case}.links.after"));
    assert!(!links.contains("ikeway"), "{case}: a TUN link is left: {links}");
    assert_eq!(
        links.lines().count(),
        read(dir, &format!("{case}.links.before")).lines().count(),
        "{case}: links"
    );
}

/// Our responder's events during one case (`CASE.events.jsonl`).
pub(crate) fn case_events(dir: &Path, case: &str) -> Vec<Value> {
    events(dir, &format!("{case}.events.jsonl"))
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
            // The first pair of an SA follows its name's brace: "{uniqueid=1".
            let k = k.trim_start_matches('{');
            (k.to_owned(), v.trim_matches(|c| c == '[' || c == ']' || c == '}').to_owned())
        })
        .collect()
}

/// The output folders of a testbed script's scenarios, by scenario name.
pub(crate) struct Runs(BTreeMap<&'static str, PathBuf>);

impl Runs {
    pub(crate) fn dir(&self, scenario: &str) -> &Path {
        &self.0[scenario]
    }
}

/// What running a script's scenarios gave, kept (in a `OnceLock`) for every test of a file: a
/// failure is reported by each test rather than rerunning the scenarios.
pub(crate) enum Outcome {
    Ran(Runs),
    Skipped(String),
    Failed(String),
}

impl Outcome {
    /// The runs; `None` after saying loudly that `what` was skipped (a failure under CI);
    /// panics when the scenarios failed.
    pub(crate) fn runs(&self, what: &str) -> Option<&Runs> {
        match self {
            Outcome::Ran(r) => Some(r),
            Outcome::Skipped(why) => {
                ikeway_testkit::skip(what, why);
                None
            }
            Outcome::Failed(why) => panic!("{why}"),
        }
    }
}

/// Makes the certificates once with `pki_set` (a `testbeds/lib/pki.sh` function), runs
/// `testbeds/SCRIPT SCENARIO OUT IKEWAY` for every scenario side by side (each in its own
/// namespaces: prefix `TAG` + the scenario's first two letters + our PID), then removes the
/// keys.
pub(crate) fn run_scenarios(
    script: &str,
    tag: &str,
    pki_set: &str,
    scenarios: &[&'static str],
    needs: &[&str],
) -> Outcome {
    if let Some(why) = unavailable(needs) {
        return Outcome::Skipped(why);
    }
    let stem = script.trim_end_matches(".sh");
    let base = std::env::temp_dir().join(format!("ikeway-{stem}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let pki = base.join("pki");
    let made = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1/testbeds/lib/netns.sh" && . "$1/testbeds/lib/pki.sh" && "$2" "$3""#)
        .arg("bash")
        .arg(root())
        .arg(pki_set)
        .arg(&pki)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        return Outcome::Failed(format!("{pki_set} failed"));
    }
    let threads: Vec<_> = scenarios
        .iter()
        .map(|&name| {
            let out = base.join(name);
            let pki = pki.clone();
            let script = root().join("testbeds").join(script);
            let prefix = format!("{tag}{}{}", &name[..2], std::process::id() % 10000);
            std::thread::spawn(move || {
                let ok = Command::new("bash")
                    .arg(script)
                    .arg(name)
                    .arg(&out)
                    .arg(env!("CARGO_BIN_EXE_ikeway"))
                    .env("IKW_PKI_DIR", &pki)
                    .env("IKW_PREFIX", prefix)
                    .status()
                    .is_ok_and(|s| s.success());
                (name, ok, out)
            })
        })
        .collect();
    let mut runs = BTreeMap::new();
    let mut failed = Vec::new();
    for t in threads {
        let (name, ok, out) = t.join().expect("scenario thread");
        if !ok {
            failed.push(format!("testbeds/{script} {name} failed ({})", out.display()));
        }
        runs.insert(name, out);
    }
    // The keys are only needed while the peers run.
    let _ = std::fs::remove_dir_all(&pki);
    if failed.is_empty() { Outcome::Ran(Runs(runs)) } else { Outcome::Failed(failed.join("; ")) }
}

/// One run of a testbed script, shared by every test of a binary (each reads its own files of
/// the run's folder): it ran, was skipped (said loudly by [`BedRun::folder`]), or failed.
pub(crate) enum BedRun {
    Ran(PathBuf),
    Skipped(String),
    Failed(String),
}

impl BedRun {
    /// Runs `testbeds/SCRIPT OUT IKEWAY` as root with namespaces prefixed `PREFIX<pid>` and the
    /// extra `env`, when the tools in `needs` and `/dev/net/tun` are here.
    pub(crate) fn start(
        script: &str,
        prefix: &str,
        needs: &[&str],
        env: &[(&str, String)],
    ) -> Self {
        if let Some(why) = unavailable(needs) {
            return Self::Skipped(why);
        }
        if !Path::new("/dev/net/tun").exists() {
            return Self::Skipped("/dev/net/tun missing".into());
        }
        let name = script.trim_end_matches(".sh");
        let out = std::env::temp_dir().join(format!("ikeway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let ok = Command::new("bash")
            .arg(root().join("testbeds").join(script))
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_ikeway"))
            .env("IKW_PREFIX", format!("{prefix}{}", std::process::id() % 10000))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Self::Ran(out)
        } else {
            Self::Failed(format!("testbeds/{script} failed ({})", out.display()))
        }
    }

    /// The run's folder; `None` after a loud skip (`what` names the suite); a failed run fails
    /// the test.
    pub(crate) fn folder(&self, what: &str) -> Option<&Path> {
        match self {
            Self::Ran(out) => Some(out),
            Self::Skipped(why) => {
                ikeway_testkit::skip(what, why);
                None
            }
            Self::Failed(why) => panic!("{why}"),
        }
    }
}

/// After a bed whose client ran `ikeway connect` (its `connect.rc` / `connect.out`): the
/// connect succeeded.
pub(crate) fn assert_connected(dir: &Path) {
    assert_eq!(
        read(dir, "connect.rc").trim(),
        "0",
        "ikeway connect failed: {}",
        read(dir, "connect.out")
    );
}

/// The XAUTH failure's reason as our client reports it (status and the `connect` line).
pub(crate) const XAUTH_FAILED: &str =
    "extended authentication (XAUTH) failed: wrong user name or password";

/// A `connect` of `case` that ended in Apple's AuthenticationFailed (NEVPNConnectionError 8):
/// exit status 1, the exact line it printed (with `reason` when our client gave one), and the
/// error and reason kept in the status recorded in `status_file`.
pub(crate) fn assert_authentication_failed(
    dir: &Path,
    case: &str,
    status_file: &str,
    reason: Option<&str>,
) {
    assert_eq!(read(dir, &format!("{case}.connect.rc")).trim(), "1", "{case}");
    let because = reason.map(|r| format!(": {r}")).unwrap_or_default();
    assert_eq!(
        read(dir, &format!("{case}.connect.out")),
        format!(
            "ikeway: {case}: disconnected: AuthenticationFailed: authentication failed \
             (NEVPNConnectionError 8){because} (log: /run/ikeway/connection.log)\n"
        )
    );
    let s = status(dir, status_file);
    assert_eq!(s["last_disconnect_error"], "AuthenticationFailed", "{s}");
    if let Some(reason) = reason {
        assert_eq!(s["last_disconnect_reason"], reason, "{s}");
    }
}
