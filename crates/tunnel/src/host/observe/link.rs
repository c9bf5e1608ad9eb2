//! The primary interface (the one carrying the default route, as Apple's "primary interface")
//! and its kind: Wi-Fi, cellular or wired.
//!
//! The kind comes from the kernel: `ARPHRD_*` over rtnetlink, and the device type sysfs
//! publishes (`uevent` `DEVTYPE=wlan` / `wwan`, a `wireless` or `phy80211` entry). sysfs shows
//! the network namespace it was mounted in, which need not be ours (a process moved into a
//! namespace without `ip netns exec`): its answer counts only when its `ifindex` is the
//! index rtnetlink gave for the name.

use std::io::{self, Read};
use std::path::Path;

use netlink_packet_route::link::LinkLayerType;

use crate::host::netlink::Rtnl;

/// The kind of network an interface is on (Apple's `NEOnDemandRuleInterfaceType`, less Any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceKind {
    /// Wired, and everything that is neither Wi-Fi nor cellular (a bridge, a veth, a
    /// tunnel of another VPN).
    Ethernet,
    /// An 802.11 station.
    WiFi,
    /// A WWAN modem (`DEVTYPE=wwan`, or raw-IP links as cellular modems make).
    Cellular,
}

/// The interface the host's traffic leaves by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryInterface {
    /// Its name (`eth0`, `wlp2s0`).
    pub name: String,
    /// Its index in this network namespace.
    pub index: u32,
    /// Wired, Wi-Fi or cellular.
    pub kind: InterfaceKind,
    /// Its addresses: a new one (a new DHCP lease, another network on the same link) is a
    /// change of network, after which probes run again.
    pub addresses: Vec<std::net::IpAddr>,
}

/// The interface of the best default route, links of ours (`ikeway*`, the tunnel itself)
/// not counting. `None`: no default route, no network.
pub(crate) fn primary_interface() -> io::Result<Option<PrimaryInterface>> {
    let mut rtnl = Rtnl::open()?;
    for index in rtnl.default_route_links()? {
        let (name, arphrd) = match rtnl.link_info(index) {
            Ok(info) => info,
            // The link went away between the two answers: the next change says more.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if crate::host::record::is_our_link(&name) {
            continue;
        }
        let sys = SysfsFacts::read(Path::new("/sys/class/net"), &name, index);
        let kind = classify(arphrd, sys.as_ref());
        let mut addresses = rtnl.link_addresses(index)?;
        addresses.sort_unstable();
        return Ok(Some(PrimaryInterface { name, index, kind, addresses }));
    }
    Ok(None)
}

/// What sysfs says of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SysfsFacts {
    /// `DEVTYPE=` of its `uevent`.
    pub(crate) devtype: Option<String>,
    /// A `wireless` or `phy80211` entry exists (cfg80211 or wireless-extensions device).
    pub(crate) wireless: bool,
}

/// sysfs files read here are a few lines; more is not sysfs.
const MAX_SYSFS_FILE: u64 = 4096;

impl SysfsFacts {
    /// The facts of link `name` under `root` (`/sys/class/net`), when `root` shows our
    /// namespace's link `index` under that name.
    pub(crate) fn read(root: &Path, name: &str, index: u32) -> Option<Self> {
        // A kernel link name is 1-15 bytes without '/'; anything else is not one to look up.
        if name.is_empty() || name.len() > 15 || name.contains('/') || name == "." || name == ".." {
            return None;
        }
        let dir = root.join(name);
        let ifindex = read_small(&dir.join("ifindex"))?;
        if ifindex.trim().parse::<u32>().ok()? != index {
            return None;
        }
        let devtype = read_small(&dir.join("uevent")).and_then(|u| {
            u.lines().find_map(|l| l.strip_prefix("DEVTYPE=")).map(|t| t.trim().to_owned())
        });
        let wireless = dir.join("wireless").is_dir() || dir.join("phy80211").exists();
        Some(Self { devtype, wireless })
    }
}

fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    std::fs::File::open(path).ok()?.take(MAX_SYSFS_FILE).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The kind of a link from its hardware type and what sysfs says (when it could be trusted).
pub(crate) fn classify(arphrd: LinkLayerType, sys: Option<&SysfsFacts>) -> InterfaceKind {
    if let Some(s) = sys {
        match s.devtype.as_deref() {
            Some("wlan") => return InterfaceKind::WiFi,
            Some("wwan") => return InterfaceKind::Cellular,
            _ if s.wireless => return InterfaceKind::WiFi,
            _ => {}
        }
    }
    match arphrd {
        // Cellular modems (qmi_wwan, mhi) give raw-IP links.
        LinkLayerType::Rawip => InterfaceKind::Cellular,
        _ => InterfaceKind::Ethernet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(devtype: Option<&str>, wireless: bool) -> SysfsFacts {
        SysfsFacts { devtype: devtype.map(str::to_owned), wireless }
    }

    #[test]
    fn classifies_by_devtype_then_wireless_entry_then_hardware_type() {
        use InterfaceKind::*;
        let ether = LinkLayerType::Ether;
        assert_eq!(classify(ether, Some(&facts(Some("wlan"), true))), WiFi);
        assert_eq!(classify(ether, Some(&facts(None, true))), WiFi);
        assert_eq!(classify(LinkLayerType::None, Some(&facts(Some("wwan"), false))), Cellular);
        assert_eq!(classify(LinkLayerType::Rawip, None), Cellular);
        assert_eq!(classify(ether, Some(&facts(Some("bridge"), false))), Ethernet);
        assert_eq!(classify(ether, None), Ethernet);
        assert_eq!(classify(LinkLayerType::None, None), Ethernet);
    }

    /// A sysfs tree as the kernel lays it out, written by the test.
    fn fake_sysfs(name: &str, ifindex: &str, uevent: &str, wireless: bool) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("ifindex"), ifindex).expect("write");
        std::fs::write(dir.join("uevent"), uevent).expect("write");
        if wireless {
            std::fs::create_dir(dir.join("wireless")).expect("mkdir");
        }
        root
    }

    #[test]
    fn reads_devtype_and_wireless_from_sysfs() {
        let root = fake_sysfs("wlp2s0", "3\n", "DEVTYPE=wlan\nINTERFACE=wlp2s0\nIFINDEX=3\n", true);
        assert_eq!(SysfsFacts::read(root.path(), "wlp2s0", 3), Some(facts(Some("wlan"), true)));
        let root = fake_sysfs("wwan0", "7\n", "INTERFACE=wwan0\nIFINDEX=7\nDEVTYPE=wwan\n", false);
        assert_eq!(SysfsFacts::read(root.path(), "wwan0", 7), Some(facts(Some("wwan"), false)));
        let root = fake_sysfs("eth0", "2\n", "INTERFACE=eth0\nIFINDEX=2\n", false);
        assert_eq!(SysfsFacts::read(root.path(), "eth0", 2), Some(facts(None, false)));
    }

    /// sysfs of another namespace (same name, other index) is not believed.
    #[test]
    fn sysfs_of_another_namespace_is_not_believed() {
        let root = fake_sysfs("wlan0", "9\n", "DEVTYPE=wlan\n", true);
        assert_eq!(SysfsFacts::read(root.path(), "wlan0", 4), None);
        let root = fake_sysfs("wlan0", "garbage", "DEVTYPE=wlan\n", true);
        assert_eq!(SysfsFacts::read(root.path(), "wlan0", 4), None);
    }

    #[test]
    fn names_that_are_no_link_names_are_not_looked_up() {
        let root = fake_sysfs("eth0", "2\n", "", false);
        for bad in ["", "..", ".", "../eth0", "eth0/../eth0", "a-name-far-too-long"] {
            assert_eq!(SysfsFacts::read(root.path(), bad, 2), None, "{bad:?}");
        }
    }
}
