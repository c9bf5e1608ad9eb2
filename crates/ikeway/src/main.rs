//! `ikeway`: the command-line face of the ikeway crates.

mod config_file;
mod demo;
mod demo_certs;
mod ike;
mod password;
mod progress;
mod secret_file;
mod tls_keylog;
mod vpn;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ikeway_decode as decode;

#[derive(Parser, Debug)]
#[command(
    name = "ikeway",
    version,
    about = "IKEv2 Personal VPN client, responder and protocol toolbox",
    after_help = "Examples:\n  ikeway demo --megabytes 16             # both ends in this process, no root\n  ikeway config add office --server vpn.example.org --psk-file office.psk --yes\n  sudo ikeway connect office"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run both ends of an IKEv2 VPN in this process (no root, no server) and push a TCP
    /// transfer through the tunnel: negotiation step by step, then throughput and status.
    #[command(
        after_help = "Examples:\n  ikeway demo\n  ikeway demo --megabytes 512 --quiet      # no progress bar, for logs\n  ikeway demo --auth cert                  # certificates instead of the pre-shared key\n  ikeway demo --auth eap                   # server certificate, EAP-MSCHAPv2 user"
    )]
    Demo(demo::DemoArgs),
    /// Saved VPN configurations: list, show, add, edit, remove.
    #[command(
        subcommand,
        after_help = "Examples:\n  ikeway config list\n  ikeway config show office --json"
    )]
    Config(vpn::config::ConfigCmd),
    /// Apple configuration profiles (.mobileconfig): import, export.
    #[command(
        subcommand,
        after_help = "Examples:\n  ikeway profile import office.mobileconfig\n  ikeway profile export office --output office.mobileconfig"
    )]
    Profile(vpn::config::ProfileCmd),
    /// Connect a saved configuration: negotiate, bring up the TUN datapath, set addresses,
    /// routes and DNS from the server (needs root for the TUN device and routes).
    #[command(
        after_help = "Examples:\n  sudo ikeway connect office              # returns once connected\n  sudo ikeway connect office --foreground # stays attached; Ctrl-C disconnects"
    )]
    Connect(vpn::connect::ConnectArgs),
    /// The service that owns the VPN connection: `connect`, `disconnect` and `status` talk to
    /// it over its control socket (`connect` starts it when none runs). Runs as root, until
    /// SIGTERM or SIGINT, which disconnect cleanly.
    #[command(
        after_help = "Examples:\n  sudo ikeway daemon                      # what packaging/ikeway.service runs\n  sudo ikeway daemon --tun ikeway1"
    )]
    Daemon(vpn::daemon::DaemonArgs),
    /// Disconnect the running connection and restore routes and DNS.
    #[command(after_help = "Example:\n  sudo ikeway disconnect")]
    Disconnect,
    /// Status of the running connection: server, addresses, SAs, traffic.
    #[command(
        after_help = "Examples:\n  ikeway status\n  ikeway status --json | jq .status\n  ikeway status --watch                   # again on every change; Ctrl-C stops"
    )]
    Status(vpn::connect::StatusArgs),
    /// Decode the IKE messages (IKEv2 and IKEv1) of a capture as JSON, one object per line.
    ///
    /// FILE is a pcap or pcapng capture (UDP ports 500 and 4500; the non-ESP marker is
    /// removed, NAT keepalives and ESP are skipped) or a text file with one IKE message in hex
    /// per line (`#` starts a comment).
    ///
    /// Each object has `frame`, `exchange`, `message_id`, `initiator_spi`, `responder_spi`,
    /// `flags` and `payloads` (each with its `type` and decoded fields); an IKEv1 message has
    /// `version` "1.0" and `initiator_cookie`/`responder_cookie` instead of the SPIs. A malformed
    /// message gives an object with `error` (what and at which byte offset) and decoding
    /// continues.
    #[command(after_help = DECODE_EXAMPLES)]
    Decode {
        /// Capture or hex file.
        file: PathBuf,
        /// Wireshark `ikev2_decryption_table` file: one row per IKE SA,
        /// `SPIi,SPIr,SK_ei,SK_er,"encryption",SK_ai,SK_ar,"integrity"`, hex without `0x`,
        /// algorithm names as Wireshark writes them (e.g. "AES-GCM-256 with 16 octet ICV
        /// [RFC5282]", "AES-CBC-256 [RFC3602]" with "HMAC_SHA2_256_128 [RFC4868]").
        /// With it, SK and SKF payloads are verified, decrypted and reassembled, and their
        /// inner payloads follow the SK entry in `payloads`, marked `"encrypted": true`.
        /// Rows of Wireshark's `ikev1_decryption_table` (`initiator cookie,encryption key`)
        /// may be in the same file: encrypted IKEv1 messages are then decrypted too, with the
        /// cipher, hash and IVs taken from the capture (RFC 2409 Appendix B).
        #[arg(long, value_name = "TABLE")]
        keys: Option<PathBuf>,
    },
    /// Negotiate an IKE SA and child SA with a responder and report each step as JSON.
    ///
    /// Runs our sans-IO initiator over UDP 500/4500 (floating to 4500 when a NAT is detected)
    /// and prints one JSON object per event: IKE SA up, child SA installed (SPIs, algorithms,
    /// selectors), configuration received, rekeys, closure. The ESP datapath is not attached.
    #[command(
        after_help = "Example:\n  ikeway initiate --local 10.99.0.1 --remote 10.99.0.2 --id client@example.org \\\n    --remote-id vpn.example.org --psk-file psk.txt --ike aes256gcm16-prfsha256-x25519 \\\n    --esp aes128gcm16-noesn --request-config --then rekey-child@2 --then delete@4"
    )]
    Initiate(ike::InitiateArgs),
    /// Answer IKE SAs as a responder: PSK, address pool, DNS (a small server for tests).
    ///
    /// `--config FILE` reads the options from a TOML file instead: one key per option
    /// (`local = "10.99.0.2"`, `pool = "10.88.0.10/100"`, `dns = ["10.88.0.1"]`, `tun = "ikw0"`);
    /// options on the command line come after it and add to or override it.
    #[command(
        after_help = "Example:\n  ikeway serve --local 10.99.0.2 --id vpn.example.org --psk-file psk.txt \\\n    --pool 10.88.0.10/100 --dns 10.88.0.1 --domain corp.example.org --duration 600"
    )]
    Serve(ike::ServeArgs),
}

const DECODE_EXAMPLES: &str = "\
Examples:
  ikeway decode capture.pcapng
  ikeway decode capture.pcap --keys ~/.config/wireshark/ikev2_decryption_table | jq .payloads
  ikeway decode ikev1.pcapng --keys ~/.config/wireshark/ikev1_decryption_table
  ikeway decode messages.hex";

/// What a shell reports for a process ended by SIGPIPE (128 + 13).
const CLOSED_STDOUT: u8 = 141;

fn main() -> ExitCode {
    end_quietly_when_stdout_closes();
    let result = config_file::expand(std::env::args_os().collect())
        .and_then(|args| run(Cli::parse_from(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if closed_stdout(&e) => ExitCode::from(CLOSED_STDOUT),
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("ikeway: {}", user_message(&e));
            }
            ExitCode::FAILURE
        }
    }
}

/// A reader that stops early (`ikeway demo | head -3`) closes our stdout, and `println!`
/// turns the next write's EPIPE into a panic with a backtrace. Stopping is the reader's
/// choice, not a fault: end quietly, as `cat` does.
fn end_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_STDOUT.into());
        }
        default(info);
    }));
}

/// Whether `e` is our stdout closed by its reader (a command writing through a buffer, or
/// serde_json writing to it).
fn closed_stdout(e: &anyhow::Error) -> bool {
    let pipe = Some(std::io::ErrorKind::BrokenPipe);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == pipe
            || c.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                == pipe
    })
}

/// The error and its causes, each said once. Library errors often end with their cause
/// (`reading FILE: No such file or directory`) and also return it as `source()`, which a
/// plain `{:#}` would print a second time.
fn user_message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Config(cmd) => vpn::config::config(cmd),
        Command::Profile(cmd) => vpn::config::profile(cmd),
        Command::Connect(args) => vpn::connect::connect(args),
        Command::Daemon(args) => vpn::daemon::daemon(args),
        Command::Disconnect => vpn::connect::disconnect(),
        Command::Status(args) => vpn::connect::status(args),
        Command::Initiate(args) => ike::initiate(args),
        Command::Serve(args) => ike::serve(args),
        Command::Decode { file, keys } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let keys = match keys {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(
                        decode::KeyTable::parse(&text)
                            .with_context(|| format!("in {}", path.display()))?,
                    )
                }
                None => None,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = decode::run(&bytes, keys.as_ref(), &mut out)
                .with_context(|| format!("decoding {}", file.display()))?;
            out.flush()?;
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "ikeway decode: {} IKE messages ({} malformed), {} other frames skipped",
                    summary.messages, summary.malformed, summary.skipped_frames
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use anyhow::Context;
    use clap::{CommandFactory, Parser};

    use super::{Cli, user_message};

    #[test]
    fn a_cause_the_message_already_names_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        #[derive(Debug, thiserror::Error)]
        #[error("reading psk.txt: {source}")]
        struct Read {
            source: std::io::Error,
        }
        let e = anyhow::Error::new(Read { source: io }).context("adding \"office\"");
        assert_eq!(
            user_message(&e),
            "adding \"office\": reading psk.txt: No such file or directory"
        );
        let plain: anyhow::Result<()> =
            Err(std::io::Error::other("disk on fire")).context("writing out.txt");
        let plain = plain.expect_err("an error");
        assert_eq!(user_message(&plain), "writing out.txt: disk on fire");
    }

    /// Every command line an `after_help` shows: continuation lines joined, `sudo`, a
    /// trailing `# comment`, a pipe and an output redirection taken off.
    fn examples(help: &str) -> Vec<Vec<String>> {
        let joined = help.replace("\\\n", " ");
        joined
            .lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix("sudo ").or(Some(l)))
            .filter(|l| l.starts_with("ikeway "))
            .map(|l| {
                let l = l.split(" #").next().unwrap_or(l);
                let l = l.split(" | ").next().unwrap_or(l);
                let l = l.split(" > ").next().unwrap_or(l);
                l.split_whitespace().map(str::to_owned).collect()
            })
            .collect()
    }

    /// `--help` of every command ends with an example, and each example parses: a new
    /// command without one, or an example that went stale, fails here.
    #[test]
    fn every_command_ends_its_help_with_an_example_that_parses() {
        let mut stack = vec![(String::from("ikeway"), Cli::command())];
        let mut checked = 0;
        while let Some((path, mut cmd)) = stack.pop() {
            for sub in cmd.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
            let after = cmd.get_after_help().map(ToString::to_string).unwrap_or_default();
            let shown = examples(&after);
            assert!(
                after.starts_with("Example") && !shown.is_empty(),
                "`{path} --help` has no example: {after:?}"
            );
            let help = cmd.render_long_help().to_string();
            assert!(
                help.trim_end().ends_with(after.trim_end()),
                "`{path} --help` does not end with its examples:\n{help}"
            );
            for words in shown {
                let parsed = Cli::try_parse_from(&words);
                assert!(parsed.is_ok(), "{path}: example {words:?} does not parse: {parsed:?}");
                // An example of a subcommand runs that subcommand (or one of its own).
                assert!(
                    words.join(" ").starts_with(&path) || path == "ikeway",
                    "{path}: example {words:?} runs another command"
                );
            }
            checked += 1;
        }
        // The walk reached the whole tree: ikeway, its 10 commands, 5 under config, 2 under
        // profile (more as commands are added).
        assert!(checked >= 17, "only {checked} commands walked");
    }
}
