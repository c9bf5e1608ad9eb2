//! `NEVPNConnection`: start and stop the tunnel, watch its status.
//!
//! The tunnel itself (sockets, the IKE SA loop, the datapath) is a [`TunnelProvider`]:
//! [`crate::SessionProvider`] over an `ikeway_tunnel::Session`, or a fake network in tests;
//! nothing here does networking. The provider reports what happens through
//! the [`TunnelEvents`] handle it is given on start, from any thread; each report drives the
//! pure state machine [`crate::status::next`] and subscribers get a [`StatusChange`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};
use ikeway_crypto::SecretBytes;

use crate::convert::{ConfigError, Unsupported};
use crate::model::VpnConfiguration;
use crate::secrets::SecretSource;
use crate::status::{
    CloseCause, DisconnectError, Effect, StatusInput, TunnelEvent, VpnStatus, next,
};

/// The IKEv2 configuration a request for an IPSec connection carries unused.
fn ikev2_placeholder() -> ikeway_sa::Config {
    let id = ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn("ikev1"));
    ikeway_sa::Config::new(id, ikeway_crypto::SecretBytes::from_slice(b""))
}

/// `NEVPNConnectionStartOptionUsername` / `...Password`: for this start, the EAP user name
/// and password instead of the configured `username` and stored password.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub username: Option<String>,
    pub password: Option<SecretBytes>,
}

/// Everything a provider needs to bring a tunnel up.
#[derive(Debug)]
pub struct TunnelRequest {
    /// Where to connect: a host name or an address, as configured.
    pub server_address: String,
    /// The IKEv2 negotiation (for an IPSec configuration, `ikev1` is negotiated and this is
    /// an unused placeholder).
    pub config: ikeway_sa::Config,
    /// An IPSec configuration's IKEv1 negotiation: when set, the provider runs IKEv1.
    pub ikev1: Option<ikeway_ikev1::Config>,
    pub options: StartOptions,
    /// The saved configuration the request was made from (routing flags, MTU, ...).
    pub configuration: VpnConfiguration,
}

/// A provider's refusal to start, with the error to report as the disconnect reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub error: DisconnectError,
    pub message: String,
}

/// The tunnel: [`crate::SessionProvider`] (or a fake network in tests).
pub trait TunnelProvider: Send {
    /// Begins bringing the tunnel up and returns; progress is reported through `events`
    /// (possibly before this returns, possibly from another thread).
    fn start(&mut self, request: TunnelRequest, events: TunnelEvents) -> Result<(), ProviderError>;
    /// Begins tearing the tunnel down; the provider reports `Closed(LocalStop)` when done.
    fn stop(&mut self);
}

/// A provider for a connection that has none: every start fails with `PluginDisabled`.
#[derive(Debug, Default)]
pub struct NoProvider;

impl TunnelProvider for NoProvider {
    fn start(&mut self, _: TunnelRequest, _: TunnelEvents) -> Result<(), ProviderError> {
        Err(ProviderError {
            error: DisconnectError::PluginDisabled,
            message: "no tunnel provider is installed".into(),
        })
    }
    fn stop(&mut self) {}
}

/// A status change (`NEVPNStatusDidChangeNotification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: VpnStatus,
    pub to: VpnStatus,
    /// Set when the change ended a connection with an error.
    pub error: Option<DisconnectError>,
    /// The error's detail when there is one, e.g. why a certificate was refused.
    pub reason: Option<String>,
}

/// Why `start_tunnel` failed (`NEVPNErrorDomain`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// `NEVPNErrorConfigurationInvalid` (1): nothing saved, or no protocol.
    #[error("the VPN configuration is invalid: {0}")]
    ConfigurationInvalid(&'static str),
    /// `NEVPNErrorConfigurationDisabled` (2).
    #[error("the VPN configuration is not enabled")]
    ConfigurationDisabled,
    /// The configuration could not be turned into an IKE configuration.
    #[error("the VPN configuration cannot be used: {0}")]
    Config(#[from] ConfigError),
    /// `NEVPNErrorConnectionFailed` (3): the provider refused.
    #[error("the VPN connection failed: {0}")]
    ConnectionFailed(ProviderError),
}

impl StartError {
    /// The `NEVPNErrorDomain` code.
    pub fn code(&self) -> i64 {
        match self {
            Self::ConfigurationInvalid(_) | Self::Config(_) => 1,
            Self::ConfigurationDisabled => 2,
            Self::ConnectionFailed(_) => 3,
        }
    }
}

#[derive(Debug)]
struct State {
    status: VpnStatus,
    connected_date: Option<SystemTime>,
    last_error: Option<DisconnectError>,
    last_reason: Option<String>,
    /// Which start the current provider events belong to; events of older starts are stale.
    session: u64,
    subscribers: Vec<Sender<StatusChange>>,
}

type Clock = dyn Fn() -> SystemTime + Send + Sync;

struct Shared {
    state: Mutex<State>,
    clock: Box<Clock>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("state", &self.state).finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a state that is still consistent: every
        // transition writes its fields after computing them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one transition; returns the provider effects for the caller to carry out (never
    /// under the lock, so a provider may report synchronously).
    ///
    /// `reason` is the detail of an error this input may set.
    fn apply(
        &self,
        input: &StatusInput,
        session: Option<u64>,
        reason: Option<String>,
    ) -> Vec<Effect> {
        let mut st = self.lock();
        if session.is_some_and(|s| s != st.session) {
            return Vec::new();
        }
        let from = st.status;
        let (to, effects) = next(from, input);
        let mut provider = Vec::new();
        let mut error = None;
        for e in effects {
            match e {
                Effect::SetConnectedDate => st.connected_date = Some((self.clock)()),
                Effect::ClearConnectedDate => st.connected_date = None,
                Effect::ClearError => {
                    st.last_error = None;
                    st.last_reason = None;
                }
                Effect::SetError(e) => {
                    st.last_error = Some(e);
                    st.last_reason.clone_from(&reason);
                    error = Some(e);
                }
                Effect::StartProvider | Effect::StopProvider => provider.push(e),
            }
        }
        st.status = to;
        if from != to {
            let reason = error.and(reason);
            let change = StatusChange { from, to, error, reason };
            st.subscribers.retain(|s| s.send(change.clone()).is_ok());
        }
        provider
    }
}

/// The handle a provider reports through. Cloneable and `Send`.
#[derive(Debug, Clone)]
pub struct TunnelEvents {
    shared: Arc<Shared>,
    session: u64,
}

impl TunnelEvents {
    /// Reports a tunnel event. Events from a tunnel that was since stopped and restarted are
    /// ignored.
    pub fn report(&self, event: TunnelEvent) {
        // Provider effects cannot arise from tunnel events (see the table in `status`).
        let reason = match &event {
            TunnelEvent::Closed(cause) => cause.reason(),
            _ => None,
        };
        let effects = self.shared.apply(&StatusInput::Tunnel(event), Some(self.session), reason);
        debug_assert!(effects.is_empty());
    }

    /// Reports the tunnel closed for `cause`, with `reason` in words when the cause itself
    /// has none (e.g. the notify a server refused the first child SA with).
    pub fn report_closed(&self, cause: CloseCause, reason: String) {
        let reason = cause.reason().or(Some(reason));
        let input = StatusInput::Tunnel(TunnelEvent::Closed(cause));
        let effects = self.shared.apply(&input, Some(self.session), reason);
        debug_assert!(effects.is_empty());
    }
}

/// The connection of one VPN configuration.
pub struct VpnConnection {
    provider: Box<dyn TunnelProvider>,
    secrets: Box<dyn SecretSource + Send>,
    shared: Arc<Shared>,
    configuration: Option<VpnConfiguration>,
}

impl std::fmt::Debug for VpnConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VpnConnection")
            .field("state", &self.shared)
            .field("configuration", &self.configuration)
            .finish_non_exhaustive()
    }
}

impl VpnConnection {
    /// A connection without a configuration (status `Invalid`).
    pub fn new(provider: Box<dyn TunnelProvider>, secrets: Box<dyn SecretSource + Send>) -> Self {
        Self::with_clock(provider, secrets, Box::new(SystemTime::now))
    }

    /// As [`Self::new`], reading the connected date from `clock`.
    pub fn with_clock(
        provider: Box<dyn TunnelProvider>,
        secrets: Box<dyn SecretSource + Send>,
        clock: Box<dyn Fn() -> SystemTime + Send + Sync>,
    ) -> Self {
        let state = State {
            status: VpnStatus::Invalid,
            connected_date: None,
            last_error: None,
            last_reason: None,
            session: 0,
            subscribers: Vec::new(),
        };
        Self {
            provider,
            secrets,
            shared: Arc::new(Shared { state: Mutex::new(state), clock }),
            configuration: None,
        }
    }

    /// Replaces the tunnel provider (stopping the tunnel first if one is active).
    pub fn set_provider(&mut self, provider: Box<dyn TunnelProvider>) {
        if matches!(
            self.status(),
            VpnStatus::Connecting | VpnStatus::Connected | VpnStatus::Reasserting
        ) {
            self.stop_tunnel();
        }
        self.provider = provider;
    }

    /// The configuration this connection starts from.
    pub fn configuration(&self) -> Option<&VpnConfiguration> {
        self.configuration.as_ref()
    }

    /// The saved configuration changed (`Some`) or was removed (`None`).
    pub fn set_configuration(&mut self, configuration: Option<VpnConfiguration>) {
        let input =
            if configuration.is_some() { StatusInput::Configured } else { StatusInput::Removed };
        self.configuration = configuration;
        self.run(&input);
    }

    fn run(&mut self, input: &StatusInput) -> Vec<Effect> {
        self.run_with_reason(input, None)
    }

    fn run_with_reason(&mut self, input: &StatusInput, reason: Option<String>) -> Vec<Effect> {
        let effects = self.shared.apply(input, None, reason);
        if effects.contains(&Effect::StopProvider) {
            self.provider.stop();
        }
        effects
    }

    /// `startVPNTunnel`: starts connecting. Returns the configured features the tunnel will
    /// not honour. Starting while already active does nothing.
    pub fn start_tunnel(&mut self) -> Result<Vec<Unsupported>, StartError> {
        self.start_tunnel_with_options(StartOptions::default())
    }

    /// `startVPNTunnelWithOptions`: as [`Self::start_tunnel`], with a username and password
    /// for extended authentication.
    pub fn start_tunnel_with_options(
        &mut self,
        options: StartOptions,
    ) -> Result<Vec<Unsupported>, StartError> {
        let Some(configuration) = self.configuration.clone() else {
            return Err(StartError::ConfigurationInvalid("no configuration is saved"));
        };
        let Some(server_address) = configuration.server_address().map(str::to_owned) else {
            return Err(StartError::ConfigurationInvalid("the configuration has no protocol"));
        };
        if !configuration.enabled {
            return Err(StartError::ConfigurationDisabled);
        }
        if !self.run(&StatusInput::Start).contains(&Effect::StartProvider) {
            return Ok(Vec::new());
        }
        let converted = match (&configuration.protocol, &configuration.ipsec) {
            (Some(p), _) => {
                p.to_sa_config_for_start(&*self.secrets, &options).map(|(c, u)| (c, None, u))
            }
            (None, Some(p)) => p
                .to_ikev1_config(&*self.secrets, &options)
                .map(|(c, u)| (ikev2_placeholder(), Some(c), u)),
            (None, None) => unreachable!("server_address() is set only with a protocol"),
        };
        let (config, ikev1, unsupported) = match converted {
            Ok(c) => c,
            Err(e) => {
                // Our own certificate's problems have codes of their own (9-11).
                let failed = StatusInput::StartFailed(e.disconnect_error());
                self.run_with_reason(&failed, Some(e.to_string()));
                return Err(e.into());
            }
        };
        let session = {
            let mut st = self.shared.lock();
            st.session += 1;
            st.session
        };
        let events = TunnelEvents { shared: Arc::clone(&self.shared), session };
        let request = TunnelRequest {
            server_address,
            config,
            ikev1,
            options,
            configuration: configuration.clone(),
        };
        if let Err(e) = self.provider.start(request, events) {
            self.run_with_reason(&StatusInput::StartFailed(e.error), Some(e.message.clone()));
            return Err(StartError::ConnectionFailed(e));
        }
        Ok(unsupported)
    }

    /// `stopVPNTunnel`.
    pub fn stop_tunnel(&mut self) {
        self.run(&StatusInput::Stop);
    }

    pub fn status(&self) -> VpnStatus {
        self.shared.lock().status
    }

    /// When the tunnel last came up; kept while reasserting, cleared on disconnect.
    pub fn connected_date(&self) -> Option<SystemTime> {
        self.shared.lock().connected_date
    }

    /// Why the last connection ended, if not at the user's request.
    pub fn last_disconnect_error(&self) -> Option<DisconnectError> {
        self.shared.lock().last_error
    }

    /// The detail of [`Self::last_disconnect_error`] when there is one (a refused
    /// certificate's reason, what the configuration lacks, why the provider failed).
    pub fn last_disconnect_reason(&self) -> Option<String> {
        self.shared.lock().last_reason.clone()
    }

    /// Status changes from now on. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<StatusChange> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared.lock().subscribers.push(tx);
        rx
    }
}
