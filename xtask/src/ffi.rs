//! The C ABI's checks: the checked-in header is what cbindgen makes of the sources, and the C
//! example compiles with the system C compiler, links against the library, and runs the
//! in-process handshake and transfer of `ikeway demo`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, run, say};

const HEADER: &str = "crates/ffi/include/ikeway.h";

/// What the C demo must print: the handshake and the transfer, as `ikeway demo` does (the
/// lines `crates/ikeway/tests/demo.rs` checks), then the C side's own summary.
const DEMO_EXPECTS: &str = include_str!("../../crates/ikeway/tests/data/demo.expected");
const C_DEMO_EXPECTS: &[&str] = &[
    "C: 2097152 bytes through the tunnel, 0 drops",
    "C: a second free is IKEWAY_RESULT_INVALID_HANDLE",
];

fn generate(root: &Path) -> Result<String> {
    let crate_dir = root.join("crates/ffi");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| anyhow::anyhow!("crates/ffi/cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .context("generating the C header with cbindgen")?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).context("cbindgen wrote non-UTF-8")
}

/// `cargo xtask ffi-header`.
pub(crate) fn write_header(root: &Path) -> Result<()> {
    let text = generate(root)?;
    std::fs::write(root.join(HEADER), text).with_context(|| format!("writing {HEADER}"))?;
    say(&format!("wrote {HEADER}"));
    Ok(())
}

/// Fails when the checked-in header differs from a fresh generation.
pub(crate) fn check_header(root: &Path) -> Result<()> {
    say(&format!("$ check {HEADER} against cbindgen"));
    let fresh = generate(root)?;
    let checked_in =
        std::fs::read_to_string(root.join(HEADER)).with_context(|| format!("reading {HEADER}"))?;
    if fresh != checked_in {
        let line = fresh
            .lines()
            .zip(checked_in.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "length".to_owned(), |i| format!("line {}", i + 1));
        bail!(
            "{HEADER} is stale (first difference at {line}): run `cargo xtask ffi-header` and commit it"
        );
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Builds the library, compiles `examples/demo.c` with `cc` against it, runs it, and checks
/// its exit code and output.
pub(crate) fn run_c_demo(root: &Path) -> Result<()> {
    run(cargo().args(["build", "-p", "ikeway-ffi"]))?;
    let lib_dir = target_dir(root).join("debug");
    let exe = lib_dir.join("ikeway-ffi-demo");
    run(Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(root.join("crates/ffi/examples/demo.c"))
        .arg("-I")
        .arg(root.join("crates/ffi/include"))
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-likeway_ffi"))?;
    say(&format!("$ {} 2", exe.display()));
    let out = Command::new(&exe)
        .arg("2")
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    say(&text);
    if !out.status.success() {
        bail!("the C demo failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    for expected in DEMO_EXPECTS.lines().chain(C_DEMO_EXPECTS.iter().copied()) {
        if !text.contains(expected) {
            bail!("the C demo's output lacks {expected:?}");
        }
    }
    Ok(())
}
