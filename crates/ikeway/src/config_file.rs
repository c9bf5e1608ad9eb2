//! `--config FILE` for `ikeway serve`: options from a TOML file, one key per long option, so a
//! server's setup lives in a file instead of a shell line.
//!
//! ```toml
//! local = "10.99.0.2"
//! id = "vpn.example.org"
//! psk_file = "/etc/ikeway/psk"
//! pool = "10.88.0.10/100"
//! dns = ["10.88.0.1"]
//! domain = ["corp.example.org"]
//! duration = 86400
//! ```

use std::ffi::OsString;

use anyhow::{Context, Result, bail};
use toml::Value;

/// Replaces `--config FILE` (after the `serve` subcommand) with the options the file holds:
/// strings and numbers become `--key value`, arrays repeat the option, `true` is a bare flag.
pub(crate) fn expand(args: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(serve) = args.iter().position(|a| a == "serve") else { return Ok(args) };
    let Some(at) = args.iter().skip(serve).position(|a| a == "--config").map(|i| i + serve) else {
        return Ok(args);
    };
    let path = args.get(at + 1).context("--config needs a file")?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.to_string_lossy()))?;
    let from_file = options(&text).with_context(|| format!("in {}", path.to_string_lossy()))?;
    let mut out: Vec<OsString> = args[..at].to_vec();
    out.extend(from_file.into_iter().map(OsString::from));
    out.extend(args[at + 2..].iter().cloned());
    Ok(out)
}

fn options(text: &str) -> Result<Vec<String>> {
    let table: toml::Table = text.parse().context("not TOML")?;
    let mut out = Vec::new();
    for (key, value) in table {
        let flag = format!("--{}", key.replace('_', "-"));
        let scalar = |v: &Value| -> Result<String> {
            Ok(match v {
                Value::String(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                other => bail!("{key}: {other} is not a string or number"),
            })
        };
        match &value {
            Value::Boolean(true) => out.push(flag),
            Value::Boolean(false) => {}
            Value::Array(items) => {
                for item in items {
                    out.push(flag.clone());
                    out.push(scalar(item)?);
                }
            }
            other => {
                out.push(flag);
                out.push(scalar(other)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_options_replace_the_config_flag() {
        let dir = std::env::temp_dir().join(format!("ikeway-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("serve.toml");
        std::fs::write(&file, "local = \"10.99.0.2\"\npsk_file = \"/p\"\ndns = [\"10.0.0.1\", \"10.0.0.2\"]\nduration = 5\n").unwrap();
        let args = os(&["ikeway", "serve", "--config", file.to_str().unwrap(), "--id", "vpn"]);
        let got = expand(args).unwrap();
        assert_eq!(
            got,
            os(&[
                "ikeway",
                "serve",
                "--dns",
                "10.0.0.1",
                "--dns",
                "10.0.0.2",
                "--duration",
                "5",
                "--local",
                "10.99.0.2",
                "--psk-file",
                "/p",
                "--id",
                "vpn"
            ])
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn other_commands_are_untouched() {
        let args = os(&["ikeway", "decode", "--config", "x"]);
        assert_eq!(expand(args.clone()).unwrap(), args);
    }

    #[test]
    fn rejects_tables_and_non_toml() {
        assert!(options("[section]\nx = 1\n").is_err());
        assert!(options("not toml at all").is_err());
    }
}
