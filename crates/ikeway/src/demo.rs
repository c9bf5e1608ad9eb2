//! `ikeway demo`: both ends of an IKEv2/IPsec VPN in one process, no root and no server needed.
//! The demo itself is `ikeway_tunnel::netstack::demo` (shared with the C ABI); this prints it
//! and shows the transfer's progress.
// The demo's job is to print.
#![allow(clippy::print_stdout)]

use anyhow::Result;
use clap::{Args, ValueEnum};
use ikeway_tunnel::netstack::demo::{self, DemoEvent, DemoOptions};

/// How both ends of the demo authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Auth {
    /// A pre-shared key (public: this is a demo).
    Psk,
    /// Certificates of a CA made in memory for this run.
    Cert,
    /// The server's certificate, and the client's user name and password over EAP-MSCHAPv2.
    Eap,
}

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Megabytes to send through the tunnel.
    #[arg(long, default_value_t = 64)]
    megabytes: u64,
    /// Hide the progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    quiet: bool,
    /// How both ends authenticate: psk; cert (RFC 7427 signatures with certificates of a CA
    /// made for this run; the demo says which certificate each end proved itself with); or eap
    /// (the server's certificate, the client's user name and password over EAP-MSCHAPv2, as
    /// most road-warrior VPNs do; the demo says which method ran and for whom).
    #[arg(long, value_enum, default_value_t = Auth::Psk)]
    auth: Auth,
}

pub(crate) fn run(args: DemoArgs) -> Result<()> {
    println!("ikeway demo: an IKEv2 client and server in one process, over loopback UDP\n");
    let total = args.megabytes << 20;
    let (configs, shown, eap) = match args.auth {
        Auth::Psk => (demo::configs(), None, None),
        Auth::Cert => {
            let demo = crate::demo_certs::configs(demo::configs())?;
            println!(
                "certificates: a CA and both ends' certificates, made in memory for this run\n"
            );
            (demo.configs, Some((demo.client_sees, demo.server_sees)), None)
        }
        Auth::Eap => {
            let demo = crate::demo_certs::eap_configs(demo::configs())?;
            println!(
                "EAP: the server's certificate from a CA made in memory for this run; the client \
                 signs in as {:?} with EAP-MSCHAPv2\n",
                crate::demo_certs::EAP_USER
            );
            (demo.configs, None, Some((demo.client_sees, demo.server_asked)))
        }
    };
    let bar = crate::progress::bytes(total, args.quiet);
    demo::run_with(configs, DemoOptions { bytes: total }, &mut |event| match event {
        DemoEvent::Progress { received, .. } => bar.set_position(*received),
        DemoEvent::Transferred { .. } => {
            bar.finish_and_clear();
            println!("{event}");
        }
        DemoEvent::Phase(demo::Phase::Negotiation) if shown.is_some() => println!(
            "1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with certificates (RFC 7427 \
             signatures) and CP"
        ),
        DemoEvent::Phase(demo::Phase::Negotiation) if eap.is_some() => println!(
            "1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with the server's certificate, \
             EAP-MSCHAPv2 (RFC 7296 §2.16) and CP"
        ),
        DemoEvent::Handshake { .. } => {
            if let Some((client_sees, server_asked)) = &eap {
                let none = || "nothing".to_owned();
                println!(
                    "  the server proved itself with {}",
                    client_sees.accepted().unwrap_or_else(none)
                );
                // The SA is up only after the server's EAP-Success and both MSK-keyed AUTH
                // payloads (the MSK itself is never shown).
                println!(
                    "  the client proved itself with EAP-MSCHAPv2 as {:?}; both AUTH payloads \
                     keyed by the MSK",
                    server_asked.user().unwrap_or_else(none)
                );
            }
            if let Some((client_sees, server_sees)) = &shown {
                let none = || "nothing".to_owned();
                let server = client_sees.accepted().unwrap_or_else(none);
                let client = server_sees.accepted().unwrap_or_else(none);
                println!("  the server proved itself with {server}");
                println!("  the client proved itself with {client}");
            }
            println!("{event}");
        }
        other => println!("{other}"),
    })?;
    Ok(())
}
