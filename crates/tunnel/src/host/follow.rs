//! A session's host changes, driven by its events: the plan is made and applied when the
//! first child SA is installed (after the server's configuration reply, which comes in the same
//! IKE_AUTH), never again on a rekey, and undone when the caller says the session ended. One
//! place for what the binary's `connect` and the manager's provider both need.

use std::net::IpAddr;

use ikeway_sa::ConfigReceived;

use super::{HostError, HostNetwork, RoutingSettings, TunnelPlan};
use crate::{EventKind, SessionEvent};

/// What applying the plan reported, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// What the plan does not do ([`TunnelPlan::not_applied`]).
    pub not_applied: Vec<String>,
    /// What the DNS check left out.
    pub dropped: Vec<String>,
}

/// Follows one session's events and changes the host through `H`.
#[derive(Debug)]
pub struct SessionHost<H> {
    host: H,
    settings: RoutingSettings,
    server: IpAddr,
    reply: Option<ConfigReceived>,
    plan: Option<TunnelPlan>,
}

impl<H: HostNetwork> SessionHost<H> {
    /// Host changes through `host` for a session to `server` with `settings`.
    pub fn new(host: H, settings: RoutingSettings, server: IpAddr) -> Self {
        Self { host, settings, server, reply: None, plan: None }
    }

    /// Takes one event; `Some` when it applied the plan. An error leaves what was done
    /// recorded for [`Self::undo`].
    pub fn on_event(&mut self, event: &SessionEvent) -> Result<Option<Applied>, HostError> {
        match &event.kind {
            kind @ EventKind::ConfigReceived { .. } => {
                self.reply = kind.config();
                Ok(None)
            }
            EventKind::ChildSaInstalled { replaces: None, remote_ts, .. }
                if self.plan.is_none() =>
            {
                let reply = self.reply.clone().unwrap_or_default();
                let plan = TunnelPlan::new(&self.settings, &reply, remote_ts, self.server)?;
                let not_applied = plan.not_applied().to_vec();
                let result = self.host.apply(&plan);
                self.plan = Some(plan);
                Ok(Some(Applied { not_applied, dropped: result? }))
            }
            // RFC 5685: the next IKE SA goes to another server, which the plan must pin
            // instead. A plan already applied (a redirect of an established SA) is undone: its
            // routes would carry the new handshake into the tunnel, whose SAs are gone.
            EventKind::Redirected { to, .. } => {
                self.server = *to;
                self.reply = None;
                if self.plan.take().is_some() {
                    self.host.undo()?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// The plan applied so far, if any.
    pub fn plan(&self) -> Option<&TunnelPlan> {
        self.plan.as_ref()
    }

    /// Undoes every change (also of a half-applied plan); nothing to do before the plan.
    pub fn undo(&mut self) -> Result<(), HostError> {
        self.host.undo()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cidr, Selector, Spi32};

    /// Records what it is asked to do.
    #[derive(Debug, Default)]
    struct Recorder {
        applied: Vec<TunnelPlan>,
        undone: usize,
    }

    impl HostNetwork for &mut Recorder {
        fn apply(&mut self, plan: &TunnelPlan) -> Result<Vec<String>, HostError> {
            self.applied.push(plan.clone());
            Ok(plan.dns().dropped.clone())
        }
        fn undo(&mut self) -> Result<(), HostError> {
            self.undone += 1;
            Ok(())
        }
    }

    fn child(replaces: Option<u32>) -> SessionEvent {
        SessionEvent::new(EventKind::ChildSaInstalled {
            spi_in: Spi32(replaces.map_or(1, |r| r + 1)),
            spi_out: Spi32(2),
            encryption: "ENCR_AES_GCM_16".into(),
            integrity: None,
            esn: false,
            pfs_group: None,
            local_ts: Vec::new(),
            remote_ts: vec![Selector::Range {
                start: "10.77.0.0".parse().unwrap(),
                end: "10.77.0.255".parse().unwrap(),
            }],
            udp_encapsulation: false,
            replaces: replaces.map(Spi32),
            cipher: "AES-GCM-16-128".into(),
            lifetime_s: 1800,
        })
    }

    /// The plan is made from the configuration reply and the first child's selectors,
    /// applied once (not again on a rekey), and undone on request.
    #[test]
    fn applies_at_the_first_child_once_and_undoes() {
        let mut rec = Recorder::default();
        let server = "192.0.2.1".parse().unwrap();
        let mut host = SessionHost::new(&mut rec, RoutingSettings::default(), server);
        let reply = SessionEvent::new(EventKind::ConfigReceived {
            addresses: vec![Cidr { addr: "10.88.0.2".parse().unwrap(), len: 32 }],
            dns: vec!["10.88.0.1".parse().unwrap(), "0.0.0.0".parse().unwrap()],
            domains: vec!["corp.example".into()],
            subnets: Vec::new(),
        });
        assert_eq!(host.on_event(&reply).unwrap(), None);
        assert!(host.plan().is_none());
        assert_eq!(
            host.on_event(&child(None)).unwrap(),
            Some(Applied { not_applied: Vec::new(), dropped: vec!["name server 0.0.0.0".into()] })
        );
        assert_eq!(host.on_event(&child(Some(1))).unwrap(), None);
        assert_eq!(host.on_event(&child(None)).unwrap(), None);
        let routes: Vec<String> =
            host.plan().unwrap().routes().iter().map(ToString::to_string).collect();
        assert_eq!(routes, ["10.77.0.0/24"]);
        host.undo().unwrap();
        assert_eq!(rec.applied.len(), 1);
        assert_eq!(rec.applied[0].dns().servers, ["10.88.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(rec.undone, 1);
    }

    /// A redirect before the first child makes the plan pin the new server; one after it
    /// undoes the applied plan, and the next first child applies one for the new server.
    #[test]
    fn a_redirect_moves_the_pinned_server() {
        let mut rec = Recorder::default();
        let settings = RoutingSettings { include_all_networks: true, ..RoutingSettings::default() };
        let mut host = SessionHost::new(&mut rec, settings, "192.0.2.1".parse().unwrap());
        let redirected = |to: &str| {
            SessionEvent::new(EventKind::Redirected {
                from: "192.0.2.1".parse().unwrap(),
                to: to.parse().unwrap(),
            })
        };
        assert_eq!(host.on_event(&redirected("192.0.2.2")).unwrap(), None);
        host.on_event(&child(None)).unwrap().expect("applied");
        assert_eq!(host.plan().unwrap().server_route(), "192.0.2.2".parse().ok());
        assert_eq!(host.on_event(&redirected("192.0.2.3")).unwrap(), None);
        assert!(host.plan().is_none());
        host.on_event(&child(None)).unwrap().expect("applied again");
        assert_eq!(host.plan().unwrap().server_route(), "192.0.2.3".parse().ok());
        drop(host);
        assert_eq!(rec.applied.len(), 2);
        assert_eq!(rec.undone, 1);
    }

    /// A plan that cannot be made (an MTU IPv6 does not take) is an error, and nothing is
    /// applied.
    #[test]
    fn a_plan_error_applies_nothing() {
        let mut rec = Recorder::default();
        let settings = RoutingSettings {
            include_all_networks: true,
            mtu: Some(1000),
            ..RoutingSettings::default()
        };
        let mut host = SessionHost::new(&mut rec, settings, "192.0.2.1".parse().unwrap());
        let err = host.on_event(&child(None)).unwrap_err();
        assert!(matches!(err, HostError::Plan(_)), "{err}");
        assert!(rec.applied.is_empty());
    }
}
