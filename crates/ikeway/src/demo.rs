//! `ikeway demo`: both ends of an IKEv2/IPsec VPN in one process, no root and no server needed.
//! The demo itself is `ikeway_tunnel::netstack::demo` (shared with the C ABI); this prints it
//! and shows the transfer's progress.
// The demo's job is to print.
#![allow(clippy::print_stdout)]

use anyhow::Result;
use clap::Args;
use ikeway_tunnel::netstack::demo::{self, DemoEvent, DemoOptions};

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Megabytes to send through the tunnel.
    #[arg(long, default_value_t = 64)]
    megabytes: u64,
    /// Hide the progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    quiet: bool,
}

pub(crate) fn run(args: DemoArgs) -> Result<()> {
    println!("ikeway demo: an IKEv2 client and server in one process, over loopback UDP\n");
    let total = args.megabytes << 20;
    let bar = crate::progress::bytes(total, args.quiet);
    demo::run(DemoOptions { bytes: total }, &mut |event| match event {
        DemoEvent::Progress { received, .. } => bar.set_position(*received),
        DemoEvent::Transferred { .. } => {
            bar.finish_and_clear();
            println!("{event}");
        }
        other => println!("{other}"),
    })?;
    Ok(())
}
