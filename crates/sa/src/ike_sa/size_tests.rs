//! What an IKE SA costs inline (issue 16: <= 4 KiB per established SA with one child, heap and
//! maps included; the `sa-memory` bench measures the whole). Run with `--nocapture` for the
//! breakdown docs/PERFORMANCE.md quotes; the bound catches a field that grows the SA by
//! accident (boxed handshake state is the way to add large ones).

use std::mem::size_of;

use super::*;

#[test]
#[cfg(target_pointer_width = "64")]
#[allow(clippy::print_stdout)] // the breakdown is this test's output (--nocapture)
fn ike_sa_stays_within_its_inline_budget() {
    let parts = [
        ("IkeSa", size_of::<IkeSa>()),
        ("  State", size_of::<State>()),
        ("  Option<IkeCrypto>", size_of::<Option<IkeCrypto>>()),
        ("  SaRng", size_of::<SaRng>()),
        ("  Stats", size_of::<Stats>()),
        ("  TimerTable", size_of::<TimerTable>()),
        ("  mobike::Mobility", size_of::<mobike::Mobility>()),
        ("  Reassembler", size_of::<Reassembler>()),
        ("  Option<Outstanding>", size_of::<Option<Outstanding>>()),
        ("  ppk::PpkState", size_of::<ppk::PpkState>()),
        ("  redirect::RedirectState", size_of::<redirect::RedirectState>()),
        ("Child (each, in a Vec)", size_of::<Child>()),
        ("OldSa (boxed, after an IKE rekey)", size_of::<OldSa>()),
    ];
    for (name, size) in parts {
        println!("{size:>6} {name}");
    }
    assert!(size_of::<IkeSa>() <= 1648, "IkeSa grew to {} bytes", size_of::<IkeSa>());
    assert!(size_of::<SaRng>() <= 48);
}
