//! Where a connection stands before it is up: what `ikeway connect` draws while it waits and
//! what the status snapshot's `phase` names. IKEv2 and IKEv1 ("Cisco IPSec") go through
//! different exchanges, and each is named as it is: a timed-out IKEv1 connect must not say
//! it sent IKE_SA_INIT.

use std::fmt::{self, Display, Formatter};

use serde_json::Value;

/// The phase 1 exchange of an IKEv1 connection (RFC 2409 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase1 {
    /// Main Mode (certificates: Apple's IPSec with a certificate).
    Main,
    /// Aggressive Mode (a group name and shared secret).
    Aggressive,
}

/// Where a connection stands before it is up, in the order it moves through them. IKEv2:
/// resolving, IKE_SA_INIT, IKE_AUTH, configuring, connected. IKEv1: resolving, phase 1, XAUTH,
/// mode config, quick mode, connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Finding the server's address (and ours toward it).
    Resolving,
    /// IKE_SA_INIT is out; the server has not answered it yet.
    InitSent,
    /// IKE_SA_INIT is done and IKE_AUTH is out: keys, but no authenticated peer yet.
    Authenticating,
    /// The IKE SA is authenticated; addresses, routes and DNS are being set.
    Configuring,
    /// IKEv1: the first phase 1 message is out, phase 1 not done.
    Phase1Sent(Phase1),
    /// IKEv1: phase 1 is done, the gateway's extended authentication (XAUTH) runs.
    Xauth,
    /// IKEv1: authenticated (phase 1 and any XAUTH); mode config (address, DNS) asked for.
    ModeConfig,
    /// IKEv1: mode config answered; quick mode (the ESP SAs) under way.
    QuickMode,
    Connected,
}

/// What the running connection knows, from which its [`Phase`] follows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The connection's status is connected.
    pub connected: bool,
    /// The server's address is known and the session started (IKE_SA_INIT, or IKEv1's first
    /// phase 1 message, sent).
    pub started: bool,
    /// IKE_SA_INIT completed (`authenticating` event); IKEv1: phase 1 done, XAUTH next.
    pub keyed: bool,
    /// IKE_AUTH completed (`ike_sa_up` event); IKEv1: phase 1 and XAUTH done.
    pub authenticated: bool,
    /// IKEv1: which phase 1 the connection runs; `None` for IKEv2.
    pub ikev1: Option<Phase1>,
    /// IKEv1: mode config answered (`config_received`).
    pub configured: bool,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Resolving,
        Phase::InitSent,
        Phase::Authenticating,
        Phase::Configuring,
        Phase::Phase1Sent(Phase1::Main),
        Phase::Phase1Sent(Phase1::Aggressive),
        Phase::Xauth,
        Phase::ModeConfig,
        Phase::QuickMode,
        Phase::Connected,
    ];

    /// Its place among its protocol's phases: 1 to [`Self::steps`].
    pub fn step(self) -> u64 {
        match self {
            Self::Resolving => 1,
            Self::InitSent | Self::Phase1Sent(_) => 2,
            Self::Authenticating | Self::Xauth => 3,
            Self::Configuring | Self::ModeConfig => 4,
            Self::QuickMode => 5,
            Self::Connected => self.steps(),
        }
    }

    /// How many phases its protocol has: 6 for IKEv1's own phases, else 5 (IKEv2's, also
    /// for `Resolving` and `Connected`, which both protocols share).
    pub fn steps(self) -> u64 {
        match self {
            Self::Phase1Sent(_) | Self::Xauth | Self::ModeConfig | Self::QuickMode => 6,
            _ => 5,
        }
    }

    /// The furthest phase the facts show.
    pub fn of(f: Facts) -> Self {
        if f.connected {
            return Self::Connected;
        }
        match f.ikev1 {
            None if f.authenticated => Self::Configuring,
            None if f.keyed => Self::Authenticating,
            None if f.started => Self::InitSent,
            Some(_) if f.configured => Self::QuickMode,
            Some(_) if f.authenticated => Self::ModeConfig,
            Some(_) if f.keyed => Self::Xauth,
            Some(mode) if f.started => Self::Phase1Sent(mode),
            _ => Self::Resolving,
        }
    }

    /// Its name in the status snapshot (`"phase"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Resolving => "resolving",
            Self::InitSent => "ike_sa_init",
            Self::Authenticating => "authenticating",
            Self::Configuring => "configuring",
            Self::Phase1Sent(Phase1::Main) => "main_mode",
            Self::Phase1Sent(Phase1::Aggressive) => "aggressive_mode",
            Self::Xauth => "xauth",
            Self::ModeConfig => "mode_config",
            Self::QuickMode => "quick_mode",
            Self::Connected => "connected",
        }
    }

    /// The phase a `status` snapshot (the control socket's answer) shows; `Resolving` while
    /// there is none yet. A snapshot without `phase` (an older running connection) is read
    /// from its other fields.
    pub fn of_snapshot(snapshot: Option<&Value>) -> Self {
        let Some(s) = snapshot else { return Self::Resolving };
        if let Some(p) = Self::ALL.into_iter().find(|p| s["phase"] == p.name()) {
            return p;
        }
        Self::of(Facts {
            connected: s["status"] == "connected",
            started: !s["server"].is_null(),
            authenticated: !s["ike_sa"].is_null(),
            ..Facts::default()
        })
    }
}

impl Display for Phase {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Resolving => "resolving the server's address",
            Self::InitSent => "IKE_SA_INIT sent, waiting for the server",
            Self::Authenticating => "authenticating (IKE_AUTH sent)",
            Self::Configuring => "configuring addresses, routes and DNS",
            Self::Phase1Sent(Phase1::Main) => "Main Mode message sent, waiting for the server",
            Self::Phase1Sent(Phase1::Aggressive) => {
                "Aggressive Mode message sent, waiting for the server"
            }
            Self::Xauth => "phase 1 done, extended authentication (XAUTH) with the server",
            Self::ModeConfig => "authenticated, mode config (address, DNS) asked for",
            Self::QuickMode => "mode config received, quick mode (ESP SA) under way",
            Self::Connected => "connected",
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_furthest_fact_decides_the_phase() {
        let mut f = Facts::default();
        assert_eq!(Phase::of(f), Phase::Resolving);
        f.started = true;
        assert_eq!(Phase::of(f), Phase::InitSent);
        f.keyed = true;
        assert_eq!(Phase::of(f), Phase::Authenticating);
        f.authenticated = true;
        assert_eq!(Phase::of(f), Phase::Configuring);
        f.connected = true;
        assert_eq!(Phase::of(f), Phase::Connected);
    }

    #[test]
    fn an_ikev1_connection_goes_through_its_own_phases() {
        let mut f = Facts { ikev1: Some(Phase1::Aggressive), ..Facts::default() };
        assert_eq!(Phase::of(f), Phase::Resolving);
        f.started = true;
        assert_eq!(Phase::of(f), Phase::Phase1Sent(Phase1::Aggressive));
        f.keyed = true;
        assert_eq!(Phase::of(f), Phase::Xauth);
        f.authenticated = true;
        assert_eq!(Phase::of(f), Phase::ModeConfig);
        f.configured = true;
        assert_eq!(Phase::of(f), Phase::QuickMode);
        f.connected = true;
        assert_eq!(Phase::of(f), Phase::Connected);
        // Certificates without XAUTH: phase 1 goes straight to mode config.
        let main = Facts {
            ikev1: Some(Phase1::Main),
            started: true,
            authenticated: true,
            ..Facts::default()
        };
        assert_eq!(Phase::of(main), Phase::ModeConfig);
        assert_eq!(
            Phase::of(Facts { authenticated: false, ..main }),
            Phase::Phase1Sent(Phase1::Main)
        );
    }

    #[test]
    fn a_snapshot_shows_how_far_the_connection_got() {
        assert_eq!(Phase::of_snapshot(None), Phase::Resolving);
        for p in Phase::ALL {
            let s = json!({"status": "connecting", "phase": p.name()});
            assert_eq!(Phase::of_snapshot(Some(&s)), p);
        }
        // Without `phase`: from the other fields.
        let mut s = json!({"status": "connecting", "server": null, "ike_sa": null});
        assert_eq!(Phase::of_snapshot(Some(&s)), Phase::Resolving);
        s["server"] = json!("192.0.2.1:500");
        assert_eq!(Phase::of_snapshot(Some(&s)), Phase::InitSent);
        s["ike_sa"] = json!({"encryption": "AES-GCM-16-256"});
        assert_eq!(Phase::of_snapshot(Some(&s)), Phase::Configuring);
        s["status"] = json!("connected");
        assert_eq!(Phase::of_snapshot(Some(&s)), Phase::Connected);
    }

    #[test]
    fn phases_are_numbered_in_order_and_read_as_words() {
        let ikev2 = [
            Phase::Resolving,
            Phase::InitSent,
            Phase::Authenticating,
            Phase::Configuring,
            Phase::Connected,
        ];
        let steps: Vec<(u64, u64)> = ikev2.iter().map(|p| (p.step(), p.steps())).collect();
        assert_eq!(steps, [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
        let ikev1 = [
            Phase::Phase1Sent(Phase1::Aggressive),
            Phase::Xauth,
            Phase::ModeConfig,
            Phase::QuickMode,
        ];
        let steps: Vec<(u64, u64)> = ikev1.iter().map(|p| (p.step(), p.steps())).collect();
        assert_eq!(steps, [(2, 6), (3, 6), (4, 6), (5, 6)]);
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "resolving",
                "ike_sa_init",
                "authenticating",
                "configuring",
                "main_mode",
                "aggressive_mode",
                "xauth",
                "mode_config",
                "quick_mode",
                "connected"
            ]
        );
        let words: Vec<String> = Phase::ALL.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            words,
            [
                "resolving the server's address",
                "IKE_SA_INIT sent, waiting for the server",
                "authenticating (IKE_AUTH sent)",
                "configuring addresses, routes and DNS",
                "Main Mode message sent, waiting for the server",
                "Aggressive Mode message sent, waiting for the server",
                "phase 1 done, extended authentication (XAUTH) with the server",
                "authenticated, mode config (address, DNS) asked for",
                "mode config received, quick mode (ESP SA) under way",
                "connected",
            ]
        );
    }
}
