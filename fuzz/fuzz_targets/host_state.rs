//! The host-state loader (`ikeway_tunnel::host::record::parse`), which root runs on a file in the
//! runtime directory before undoing routes and DNS: arbitrary bytes never panic, and whatever
//! it accepts describes only what `connect` makes.
//!
//! Checks: an accepted record names one of our links, survives `to_json` -> `parse` unchanged,
//! and its resolv.conf backup passes the same check a fresh one does.
#![no_main]

use ikeway_tunnel::host::record::{DnsChange, ResolvBackup, check_resolv_conf, is_our_link, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = parse(data) else { return };
    assert!(is_our_link(state.tun()), "accepted a link that is not ours: {:?}", state.tun());
    assert_eq!(parse(&state.to_json()).as_ref(), Ok(&state), "to_json -> parse changed it");
    if let Some(DnsChange::ResolvConf(ResolvBackup::File(text))) = &state.dns {
        assert!(check_resolv_conf(text).is_ok(), "accepted a backup the checker refuses");
    }
});
