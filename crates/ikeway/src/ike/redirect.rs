//! `serve`'s RFC 5685 options: where to send clients, and when.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use ikeway_codec::Gateway;
use ikeway_sa::{RedirectPhase, RedirectPolicy};

#[derive(Args, Debug, Default)]
pub(crate) struct RedirectArgs {
    /// Send new clients that announce redirect support (RFC 5685) to this gateway: an
    /// address or a name.
    #[arg(long, value_name = "ADDR|FQDN", value_parser = parse_gateway)]
    redirect_to: Option<Gateway>,
    /// Serve this many clients here (established IKE SAs), redirect the ones beyond.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "redirect_to")]
    redirect_above: usize,
    /// Redirect in IKE_SA_INIT (keeps nothing) or in IKE_AUTH (once the client authenticated).
    #[arg(long, value_enum, default_value_t = Phase::Init, requires = "redirect_to")]
    redirect_in: Phase,
    /// Send the first client's established IKE SA to GW after SECONDS (RFC 5685 §5, as
    /// `swanctl --redirect` does).
    #[arg(long, value_name = "GW@SECONDS", value_parser = parse_established)]
    redirect_established: Option<(Gateway, Duration)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Phase {
    #[default]
    Init,
    Auth,
}

impl RedirectArgs {
    /// The responder's policy for new clients, if any.
    pub(crate) fn policy(&self) -> Option<RedirectPolicy> {
        let phase = match self.redirect_in {
            Phase::Init => RedirectPhase::Init,
            Phase::Auth => RedirectPhase::Auth,
        };
        let gateway = self.redirect_to.clone()?;
        Some(RedirectPolicy { gateway, above: self.redirect_above, phase })
    }

    /// The first client's established SA goes to this gateway after this long.
    pub(crate) fn established(&self) -> Option<(Gateway, Duration)> {
        self.redirect_established.clone()
    }
}

/// An address, else a name the REDIRECT notify can carry (1-255 printable ASCII).
pub(crate) fn parse_gateway(s: &str) -> Result<Gateway> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Gateway::from(ip));
    }
    let gateway = Gateway::Fqdn(s.to_owned());
    if gateway.to_vec().is_err() {
        bail!("{s:?} is neither an address nor a name of 1-255 printable characters");
    }
    Ok(gateway)
}

fn parse_established(s: &str) -> Result<(Gateway, Duration)> {
    let (gateway, secs) =
        s.rsplit_once('@').with_context(|| format!("{s:?}: expected GATEWAY@SECONDS"))?;
    let secs: f64 = secs.parse().with_context(|| format!("{s:?}: bad seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        bail!("{s:?}: bad seconds");
    }
    Ok((parse_gateway(gateway)?, Duration::from_secs_f64(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RedirectArgs,
    }

    fn parse(args: &[&str]) -> Result<RedirectArgs, clap::Error> {
        Cli::try_parse_from([&["serve"], args].concat()).map(|c| c.args)
    }

    #[test]
    fn redirect_flags_become_the_policy() {
        let a = parse(&["--redirect-to", "192.0.2.7", "--redirect-above", "3"]).unwrap();
        assert_eq!(
            a.policy(),
            Some(RedirectPolicy {
                gateway: Gateway::V4([192, 0, 2, 7].into()),
                above: 3,
                phase: RedirectPhase::Init
            })
        );
        let a = parse(&["--redirect-to", "vpn2.example", "--redirect-in", "auth"]).unwrap();
        let p = a.policy().unwrap();
        assert_eq!(
            (p.gateway, p.above, p.phase),
            (Gateway::Fqdn("vpn2.example".into()), 0, RedirectPhase::Auth)
        );
        assert_eq!(parse(&[]).unwrap().policy(), None);
    }

    #[test]
    fn bad_redirect_flags_are_refused() {
        assert!(parse(&["--redirect-above", "2"]).is_err(), "needs --redirect-to");
        let e = parse(&["--redirect-to", "a b"]).unwrap_err().to_string();
        assert!(e.contains("neither an address nor a name"), "{e}");
        assert!(parse(&["--redirect-established", "192.0.2.7"]).is_err());
        assert!(parse(&["--redirect-established", "192.0.2.7@-1"]).is_err());
        let a = parse(&["--redirect-established", "2001:db8::7@1.5"]).unwrap();
        assert_eq!(
            a.established(),
            Some((Gateway::V6("2001:db8::7".parse().unwrap()), Duration::from_millis(1500)))
        );
    }
}
