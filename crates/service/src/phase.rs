//! Where a connection stands before it is up: what `ikeway connect` draws while it waits and
//! what the status snapshot's `phase` names.

use std::fmt::{self, Display, Formatter};

use serde_json::Value;

/// Where a connection stands before it is up, in the order it moves through them.
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
    Connected,
}

/// What the running connection knows, from which its [`Phase`] follows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The connection's status is connected.
    pub connected: bool,
    /// The server's address is known and the session started (IKE_SA_INIT sent).
    pub started: bool,
    /// IKE_SA_INIT completed (`authenticating` event).
    pub keyed: bool,
    /// IKE_AUTH completed (`ike_sa_up` event).
    pub authenticated: bool,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Resolving,
        Phase::InitSent,
        Phase::Authenticating,
        Phase::Configuring,
        Phase::Connected,
    ];

    /// 1 to 5.
    pub fn step(self) -> u64 {
        self as u64 + 1
    }

    /// The furthest phase the facts show.
    pub fn of(f: Facts) -> Self {
        if f.connected {
            Self::Connected
        } else if f.authenticated {
            Self::Configuring
        } else if f.keyed {
            Self::Authenticating
        } else if f.started {
            Self::InitSent
        } else {
            Self::Resolving
        }
    }

    /// Its name in the status snapshot (`"phase"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Resolving => "resolving",
            Self::InitSent => "ike_sa_init",
            Self::Authenticating => "authenticating",
            Self::Configuring => "configuring",
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
            keyed: false,
            authenticated: !s["ike_sa"].is_null(),
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
        let steps: Vec<u64> = Phase::ALL.iter().map(|p| p.step()).collect();
        assert_eq!(steps, [1, 2, 3, 4, 5]);
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["resolving", "ike_sa_init", "authenticating", "configuring", "connected"]
        );
        assert_eq!(Phase::InitSent.to_string(), "IKE_SA_INIT sent, waiting for the server");
        assert_eq!(Phase::Authenticating.to_string(), "authenticating (IKE_AUTH sent)");
    }
}
