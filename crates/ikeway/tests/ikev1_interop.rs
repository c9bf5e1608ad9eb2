//! IKEv1 ("Cisco IPSec") against strongSwan 5.9.8: our `ikeway connect` of a `config add --type
//! ipsec` configuration (group name as KEY_ID + group secret in Aggressive Mode, XAUTH, Mode
//! Config with the Cisco Unity attributes) pings a host behind strongSwan, `status` shows the
//! mode-config address, DNS and domain, the disconnect deletes both sides' SAs; a wrong group
//! secret and a wrong XAUTH password end with Apple's AuthenticationFailed and nothing left up.
//! The same through the NAT namespace, and from an Apple profile (`VPNType IPSec`) imported
//! with `profile import`. `testbeds/ikev1-interop.sh` (and `ikev1-interop-nat.sh`) drive the
//! namespaces (one run each, shared by the tests below); this judges what they recorded.
//!
//! Needs root, network namespaces, nftables and strongSwan (`testbeds/install-peers.sh`);
//! without them it says loudly that it was skipped.

// The loss figures are printed for the log; the assertions judge.
#![allow(clippy::print_stderr)]

mod testbed;

use std::path::Path;
use std::sync::OnceLock;

use testbed::{BedRun, assert_client_restored, read, status, swanctl_sas};

fn run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start("ikev1-interop.sh", "ikwv1", &["charon-systemd", "swanctl", "ping"], &[])
    })
}

fn dir(what: &str) -> Option<&'static Path> {
    run().folder(what)
}

fn nat_run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start("ikev1-interop-nat.sh", "ikwvn", &["charon-systemd", "swanctl", "ping"], &[])
    })
}

/// A case that connected, pinged and disconnected cleanly; strongSwan's view of it while up.
fn connected_case(dir: &Path, case: &str) -> testbed::SwSa {
    assert_eq!(read(dir, &format!("{case}.connect.rc")).trim(), "0", "{case}");
    assert_eq!(read(dir, &format!("{case}.ping.rc")).trim(), "0", "{case}");
    let s = status(dir, &format!("{case}.status.json"));
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["internal_addresses"].as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(read(dir, &format!("{case}.disconnect.out")), "disconnected\n");
    let end = read(dir, &format!("{case}.end.sas"));
    assert!(swanctl_sas(&end).is_empty(), "{case}: {end}");
    assert_client_restored(dir, case);
    let mut sas = swanctl_sas(&read(dir, &format!("{case}.sas")));
    assert_eq!(sas.len(), 1, "{case}");
    let sa = sas.remove(0);
    assert_eq!(sa.fields["remote-xauth-id"], "alice", "{case}");
    sa
}

#[test]
fn through_a_nat_our_ipsec_client_connects_floats_to_4500_and_pings() {
    let Some(dir) = nat_run().folder("IKEv1 interop through the NAT namespace") else { return };
    let sa = connected_case(dir, "aggr");
    // strongSwan sees the NAT's address, and both sides detected it (NAT-D).
    assert_eq!(sa.fields["remote-host"], "10.99.0.3");
    assert_eq!(sa.fields["remote-port"], "4500");
    assert_eq!(sa.fields["nat-remote"], "yes");
    assert_eq!(read(dir, "badpsk.connect.rc").trim(), "1");
    assert_eq!(read(dir, "badpw.connect.rc").trim(), "1");
}

#[test]
fn an_apple_ipsec_profile_imports_and_connects() {
    let Some(dir) = dir("IKEv1 interop: an Apple VPNType IPSec profile") else { return };
    assert_eq!(
        read(dir, "profile.import.out"),
        "installed \"profile\" from profile \"IKEv1 testbed\" (managed)\n"
    );
    let sa = connected_case(dir, "profile");
    assert_eq!(sa.fields["remote-id"], "ikeway-group");
    assert_eq!(sa.fields["version"], "1");
}

#[test]
fn our_ipsec_client_connects_with_group_psk_and_xauth_pings_and_disconnects_cleanly() {
    let Some(dir) = dir("IKEv1 interop: aggressive mode + PSK + XAUTH + mode config") else {
        return;
    };
    assert_eq!(read(dir, "aggr.add.out"), "saved \"aggr\"\n");
    assert_eq!(read(dir, "aggr.connect.rc").trim(), "0", "{}", read(dir, "aggr.connect.out"));
    assert_eq!(read(dir, "aggr.ping.rc").trim(), "0", "{}", read(dir, "aggr.ping.out"));
    assert!(read(dir, "aggr.ping.out").contains("2 packets transmitted, 2 received"));

    // Status while connected: the mode-config address from strongSwan's pool, its DNS and the
    // Cisco Unity default domain; the ISAKMP SA (cookies as SPIs) and the ESP SA.
    let s = status(dir, "aggr.status.json");
    assert_eq!(s["status"], "connected", "{s}");
    assert_eq!(s["internal_addresses"], serde_json::json!(["10.88.1.1/32"]), "{s}");
    assert_eq!(s["dns"], serde_json::json!(["10.77.0.53"]), "{s}");
    assert_eq!(s["domains"], serde_json::json!(["corp.ikeway.test"]), "{s}");
    assert_eq!(s["server"], "10.99.0.51:500", "{s}");
    assert_eq!(s["ike_sa"]["encryption"], "AES-CBC-256", "{s}");
    assert_eq!(s["ike_sa"]["group"], "MODP_2048", "{s}");
    let child = &s["child_sas"][0];
    assert_eq!(child["udp_encapsulation"], true, "{s}");

    // strongSwan's view while we were up: IKEv1, our group name, XAUTH as alice, the virtual
    // IP it leased, the cookies we reported, the ESP SA with traffic both ways.
    let sas = swanctl_sas(&read(dir, "aggr.sas"));
    assert_eq!(sas.len(), 1, "{}", read(dir, "aggr.sas"));
    let sa = &sas[0].fields;
    assert_eq!(sa["version"], "1");
    assert_eq!(sa["state"], "ESTABLISHED");
    assert_eq!(sa["remote-id"], "ikeway-group");
    assert_eq!(sa["remote-xauth-id"], "alice");
    assert_eq!(sa["remote-vips"], "10.88.1.1");
    assert_eq!(sa["initiator-spi"], s["ike_sa"]["spi_i"].as_str().unwrap());
    assert_eq!(sa["responder-spi"], s["ike_sa"]["spi_r"].as_str().unwrap());
    let esp = &sas[0].children[0];
    assert_eq!(esp["state"], "INSTALLED");
    assert_eq!(esp["spi-in"], child["spi_out"].as_str().unwrap());
    assert_eq!(esp["spi-out"], child["spi_in"].as_str().unwrap());
    assert_eq!(esp["local-ts"], "10.77.0.0/24");
    assert_eq!(esp["remote-ts"], "10.88.1.1/32");
    assert_ne!(esp["packets-in"], "0");
    assert_ne!(esp["packets-out"], "0");

    // A clean disconnect: Delete for the ESP SA and the ISAKMP SA, strongSwan holds nothing,
    // our side is as before the connect.
    assert_eq!(read(dir, "aggr.disconnect.out"), "disconnected\n");
    assert!(swanctl_sas(&read(dir, "aggr.end.sas")).is_empty(), "{}", read(dir, "aggr.end.sas"));
    let charon = read(dir, "aggr.charon.log");
    assert!(charon.contains("received DELETE for ESP CHILD_SA with SPI"), "{charon}");
    assert!(charon.contains("received DELETE for IKE_SA aggr-psk[1]"), "{charon}");
    assert_client_restored(dir, "aggr");
}

#[test]
fn a_wrong_group_secret_is_authentication_failed_and_nothing_comes_up() {
    let Some(dir) = dir("IKEv1 interop: wrong group secret") else { return };
    assert_eq!(read(dir, "badpsk.connect.rc").trim(), "1");
    assert_eq!(
        read(dir, "badpsk.connect.out"),
        "ikeway: badpsk: disconnected: AuthenticationFailed: authentication failed \
         (NEVPNConnectionError 8) (log: /run/ikeway/connection.log)\n"
    );
    let s = status(dir, "badpsk.status.json");
    assert_eq!(s["last_disconnect_error"], "AuthenticationFailed", "{s}");
    // strongSwan cannot read our encrypted AUTHENTICATION-FAILED (it never had the right key)
    // and keeps a half-open SA until its timeout; nothing was established.
    for sa in swanctl_sas(&read(dir, "badpsk.end.sas")) {
        assert_eq!(sa.fields["state"], "CONNECTING", "{:?}", sa.fields);
        assert!(sa.children.is_empty());
    }
    assert!(!read(dir, "badpsk.charon.log").contains("established"));
    assert_client_restored(dir, "badpsk");
}

#[test]
fn a_wrong_xauth_password_is_authentication_failed_with_the_reason() {
    let Some(dir) = dir("IKEv1 interop: wrong XAUTH password") else { return };
    assert_eq!(read(dir, "badpw.connect.rc").trim(), "1");
    assert_eq!(
        read(dir, "badpw.connect.out"),
        "ikeway: badpw: disconnected: AuthenticationFailed: authentication failed \
         (NEVPNConnectionError 8): extended authentication (XAUTH) failed: wrong user name or \
         password (log: /run/ikeway/connection.log)\n"
    );
    let s = status(dir, "badpw.status.json");
    assert_eq!(s["last_disconnect_error"], "AuthenticationFailed", "{s}");
    assert_eq!(
        s["last_disconnect_reason"],
        "extended authentication (XAUTH) failed: wrong user name or password"
    );
    let charon = read(dir, "badpw.charon.log");
    assert!(charon.contains("XAuth authentication of 'alice' failed"), "{charon}");
    assert!(swanctl_sas(&read(dir, "badpw.end.sas")).is_empty(), "{}", read(dir, "badpw.end.sas"));
    assert_client_restored(dir, "badpw");
}

#[test]
fn our_ipsec_client_answers_strongswans_rekey_and_dpd_and_its_delete_ends_the_connection() {
    let Some(dir) = dir("IKEv1 interop: rekey, DPD and a delete from the gateway") else {
        return;
    };
    assert_eq!(read(dir, "life.connect.rc").trim(), "0", "{}", read(dir, "life.connect.out"));
    let charon = read(dir, "life.charon.log");
    // strongSwan's dpd_delay is 2 s: idle, it asks R-U-THERE and reads our R-U-THERE-ACK.
    let asked = charon.matches("generating INFORMATIONAL_V1 request").count();
    let acks = charon.lines().filter(|l| l.contains("[ HASH N(DPD_ACK) ]")).count();
    assert!(charon.contains("sending DPD request"), "{charon}");
    assert!(acks >= 1 && acks <= asked, "{acks} acks to {asked} requests:\n{charon}");
    assert!(!charon.contains("giving up"), "{charon}");
    // strongSwan's quick mode rekey: a new ESP SA installed, the old one REKEYED, and the
    // tunnel carries traffic after it.
    let before = swanctl_sas(&read(dir, "life.sas1"));
    let after = swanctl_sas(&read(dir, "life.sas2"));
    let old_spi = &before[0].children[0]["spi-in"];
    let installed: Vec<_> =
        after[0].children.iter().filter(|c| c["state"] == "INSTALLED").collect();
    assert_eq!(installed.len(), 1, "{}", read(dir, "life.sas2"));
    assert_ne!(&installed[0]["spi-in"], old_spi, "{}", read(dir, "life.sas2"));
    assert!(!charon.contains("INVAL_ID"), "{charon}");
    assert_eq!(read(dir, "life.ping2.rc").trim(), "0", "{}", read(dir, "life.ping2.out"));
    // `swanctl --terminate`: strongSwan sends Delete, our side ends as Apple's
    // ServerDisconnected.
    let s = status(dir, "life.status.after.json");
    assert_eq!(s["status"], "disconnected", "{s}");
    assert_eq!(s["last_disconnect_error"], "ServerDisconnected", "{s}");
    assert!(charon.contains("sending DELETE for IKE_SA aggr-psk"), "{charon}");
}

/// "N received" of a ping summary.
fn received(ping: &str) -> u32 {
    ping.lines()
        .find_map(|l| l.split(" received").next().filter(|_| l.contains(" received")))
        .and_then(|l| l.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary in {ping}"))
}

#[test]
fn under_20_percent_loss_our_ipsec_client_connects_and_carries_traffic() {
    let Some(dir) = dir("IKEv1 interop under 20% loss") else { return };
    assert_eq!(read(dir, "lossy.connect.rc").trim(), "0", "{}", read(dir, "lossy.connect.out"));
    // The loss was real: the rules dropped datagrams both ways.
    let drops = read(dir, "lossy.drops");
    let counted: Vec<u64> = drops
        .split("counter packets ")
        .skip(1)
        .map(|s| s.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(counted.len(), 2, "{drops}");
    assert!(counted.iter().sum::<u64>() > 0, "nothing was dropped: {drops}");
    let s = status(dir, "lossy.status.json");
    assert_eq!(s["internal_addresses"].as_array().map(Vec::len), Some(1), "{s}");
    // About 36% of round trips are lost (20% each way); of 20 pings some must cross.
    let ping = read(dir, "lossy.ping.out");
    let got = received(&ping);
    eprintln!(
        "under 20% loss: connect {} ms, {got}/20 pings answered",
        read(dir, "lossy.connect.ms").trim()
    );
    assert!(got >= 1, "{ping}");
    assert_eq!(status(dir, "lossy.status.after.json")["status"], "disconnected");
    assert_eq!(read(dir, "lossy.routes.after"), read(dir, "lossy.routes.before"));
}
