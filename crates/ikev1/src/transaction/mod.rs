//! The transaction exchange (6, draft-dukes-ike-mode-cfg): XAUTH
//! (draft-beaulieu-ike-xauth-02) and mode config, both roles, after phase 1 and before the
//! client's first quick mode.
//!
//! ```text
//! Gateway                                   Client
//! REQUEST(XAUTH-TYPE, USER-NAME, USER-PASSWORD)  -->
//!                         <--  REPLY(USER-NAME=alice, USER-PASSWORD=...)
//! SET(XAUTH-STATUS=OK|FAIL)                      -->
//!                         <--  ACK(XAUTH-STATUS)                     IkeSaUp / XauthFailed
//!                         <--  REQUEST(INTERNAL_IP4_ADDRESS, ...)    mode config pull
//! REPLY(INTERNAL_IP4_ADDRESS=10.9.0.7, ...)      -->                 ConfigReceived
//!   or, pushed:  SET(...) -->  <-- ACK
//! ```
//!
//! Every message carries `HASH = prf(SKEYID_a, M-ID | attributes)`; a request and its answer
//! share a message ID. The side that asks resends until answered; the side that answers
//! resends its answer when the request comes again.

mod config;
#[cfg(test)]
mod kat_tests;
mod modecfg;
mod xauth;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_crypto::SecretBytes;
use ikeway_isakmp::{AttributeRepr, ConfigAttribute, ConfigType, ExchangeType, Payload};
use ikeway_sa::{AddressAllocator, CloseReason};

pub use config::{ModeConfigClient, ModeConfigServer, TransactionConfig, XauthCredentials};
pub use modecfg::ModeConfigNotes;

use crate::engine::{Ikev1Sa, Role};
use crate::informational::protected::Received;
use crate::quick::hash::hash_matches;

/// How long a client waits for the gateway to start XAUTH or push its mode config.
const PEER_START_WAIT: Duration = Duration::from_secs(30);

/// How often a request the peer refused after our resend is sent again as a new exchange
/// (see [`Ikev1Sa::transaction_refused`]).
const MAX_REQUEST_RESTARTS: u32 = 2;

/// Where the transaction exchanges of an ISAKMP SA stand.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Phase 1 is not complete.
    #[default]
    Idle,
    /// Client: waiting for the gateway's XAUTH REQUEST, then its SET with the status.
    ClientXauth,
    /// Client: XAUTH done (or none); mode config asked for or awaited.
    ClientModeConfig,
    /// Gateway: our XAUTH REQUEST is out.
    ServerXauth,
    /// Gateway: our XAUTH-STATUS is out, waiting for its ACK.
    ServerXauthStatus { ok: bool },
    /// Gateway: XAUTH done (or none); mode config pushed or awaited.
    ServerModeConfig,
    /// Nothing more to do here: quick mode may run.
    Done,
}

/// Our message waiting for its answer.
#[derive(Debug)]
struct Outstanding {
    message_id: u32,
    datagram: Vec<u8>,
    sends: u32,
    resend_at: Instant,
    /// What it carries, to send it again under a new message ID.
    kind: ConfigType,
    identifier: u16,
    attributes: Vec<ConfigAttribute>,
    /// How often it was sent again as a new exchange.
    restarts: u32,
}

/// Our last answer and the message it answered.
#[derive(Debug)]
struct Answered {
    message_id: u32,
    received: Vec<u8>,
    datagram: Vec<u8>,
}

/// A REQUEST waiting for the user's password.
#[derive(Debug)]
struct Prompt {
    message_id: u32,
    received: Vec<u8>,
    identifier: u16,
    asked: xauth::Asked,
}

/// The transaction state of an ISAKMP SA.
#[derive(Debug, Default)]
pub(crate) struct State {
    step: Step,
    outstanding: Option<Outstanding>,
    answered: Option<Answered>,
    prompt: Option<Prompt>,
    /// Client: the address mode config gave us. Gateway: the one we leased to the client.
    lease: Option<IpAddr>,
    /// Client: the networks behind the gateway that mode config named (Cisco UNITY split
    /// include, INTERNAL_IP4_SUBNET), of the lease's family, at most
    /// [`crate::quick::MAX_SPLIT_NETWORKS`]: one quick mode each.
    split: Vec<(IpAddr, u8)>,
    /// Gateway: the pool the lease goes back to.
    pool: Option<Arc<AddressAllocator>>,
    /// Client: until when we wait for the gateway to ask or push.
    wait_until: Option<Instant>,
    /// `IkeSaUp` was reported.
    up: bool,
    /// Client, renewing: the address the previous ISAKMP SA's mode config gave.
    inherited: Option<IpAddr>,
    /// Client, answering a phase 1 the gateway started: ask for the inherited address again
    /// (see [`Ikev1Sa::client_mode_config`]).
    reclaim: bool,
    /// Gateway: the user XAUTH authenticated.
    xauth_user: Option<String>,
}

impl State {
    pub(crate) fn uses(&self, message_id: u32) -> bool {
        self.outstanding.as_ref().is_some_and(|o| o.message_id == message_id)
            || self.answered.as_ref().is_some_and(|a| a.message_id == message_id)
            || self.prompt.as_ref().is_some_and(|p| p.message_id == message_id)
    }

    pub(crate) fn answer_to_repeat(&self, message_id: u32, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let a = self.answered.as_ref()?;
        (a.message_id == message_id && a.received == ciphertext).then(|| a.datagram.clone())
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        [self.outstanding.as_ref().map(|o| o.resend_at), self.wait_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Our own quick modes wait for XAUTH and mode config.
    pub(crate) fn allows_quick(&self) -> bool {
        self.step == Step::Done
    }

    /// The peer's quick modes are answered once XAUTH succeeded (a client may skip mode
    /// config).
    pub(crate) fn allows_quick_from_peer(&self) -> bool {
        matches!(self.step, Step::Done | Step::ServerModeConfig | Step::ClientModeConfig)
    }

    /// Client: our mode config address. Gateway: the client's.
    pub(crate) fn leased_address(&self) -> Option<IpAddr> {
        self.lease
    }

    /// Client: the split networks mode config gave (empty: everything behind the gateway).
    pub(crate) fn split_networks(&self) -> &[(IpAddr, u8)] {
        &self.split
    }

    /// Gateway: the user XAUTH authenticated on this SA.
    pub(crate) fn xauth_user(&self) -> Option<&str> {
        self.xauth_user.as_deref()
    }

    /// Client, renewing: keep the predecessor's address instead of asking again.
    pub(crate) fn inherit_lease(&mut self, lease: Option<IpAddr>) {
        self.inherited = lease;
    }

    /// Client, answering the gateway's phase 1: keep the predecessor's address and ask the
    /// gateway for it again.
    pub(crate) fn reclaim_lease(&mut self, lease: Option<IpAddr>) {
        self.inherited = lease;
        self.reclaim = lease.is_some();
    }

    /// Gateway: the client's address and its pool, leaving this SA (for its successor).
    pub(crate) fn take_lease(&mut self) -> Option<(IpAddr, Option<Arc<AddressAllocator>>)> {
        let addr = self.lease.take()?;
        Some((addr, self.pool.take()))
    }

    /// Gateway: a predecessor's lease becomes this SA's (given back when this one ends). The
    /// client kept using that address (a renewing client does not take a pushed one), so an
    /// address this SA leased meanwhile goes back.
    pub(crate) fn adopt_lease(&mut self, addr: IpAddr, pool: Option<Arc<AddressAllocator>>) {
        self.release_lease();
        self.lease = Some(addr);
        self.pool = pool;
    }

    /// Gateway: the client's address goes back to the pool.
    pub(crate) fn release_lease(&mut self) {
        if let (Some(pool), Some(addr)) = (self.pool.take(), self.lease.take()) {
            pool.release(addr);
        }
    }
}

impl Ikev1Sa {
    /// After phase 1: the gateway starts XAUTH or mode config, the client waits for it or
    /// asks for its mode config; with none of them the SA is up and the client's first
    /// quick mode starts.
    pub(crate) fn start_transactions(&mut self, now: Instant) {
        match (self.role, self.config.xauth) {
            (Role::Client, true) => {
                // Phase 1 keys, the gateway's XAUTH next: what IKEv2 reports after IKE_SA_INIT
                // (a status display tells waiting for the server from authenticating by it).
                // A renewal runs behind a connected tunnel and reports nothing of the kind.
                if !self.quick.renewing {
                    let (spi_i, spi_r) = (self.cky_i, self.cky_r);
                    self.emit(ikeway_sa::Event::Authenticating { spi_i, spi_r });
                }
                self.transaction.step = Step::ClientXauth;
                self.transaction.wait_until = Some(now + PEER_START_WAIT);
            }
            (Role::Gateway, true) => {
                self.transaction.step = Step::ServerXauth;
                let identifier = self.identifier();
                self.send_request(now, ConfigType::REQUEST, identifier, xauth::request());
            }
            (Role::Client, false) => {
                self.report_up();
                self.client_mode_config(now);
            }
            (Role::Gateway, false) => {
                self.report_up();
                self.server_mode_config(now);
            }
        }
    }

    /// Answers the gateway's XAUTH request with a password the user typed in (after
    /// [`crate::Event::XauthPasswordRequired`]); `username` replaces the configured one if
    /// given.
    pub fn xauth_reply(&mut self, username: Option<String>, password: SecretBytes) {
        let Some(prompt) = self.transaction.prompt.take() else { return };
        let configured = self.config.transaction.xauth_client.as_ref().map(|c| c.username.clone());
        let Some(username) = username.or(configured) else { return };
        let attributes = xauth::reply(&prompt.asked, &username, &password);
        self.answer(
            prompt.message_id,
            prompt.received,
            ConfigType::REPLY,
            prompt.identifier,
            attributes,
        );
    }

    fn report_up(&mut self) {
        if self.transaction.up {
            return;
        }
        self.transaction.up = true;
        if let Some(suite) = self.ike_suite() {
            self.emit(ikeway_sa::Event::IkeSaUp { spi_i: self.cky_i, spi_r: self.cky_r, suite });
        }
    }

    fn identifier(&mut self) -> u16 {
        use rand_core::RngCore;
        // The identifier pairs an answer with its request; any value does.
        (self.rng.next_u32() >> 16) as u16
    }

    /// Sends a REQUEST or SET in a new exchange and resends it until answered.
    fn send_request(
        &mut self,
        now: Instant,
        kind: ConfigType,
        identifier: u16,
        attributes: Vec<ConfigAttribute>,
    ) {
        let message_id = self.new_message_id();
        let payload = Payload::Attribute(AttributeRepr::new(kind, identifier, attributes.clone()));
        let datagram =
            self.seal_protected(ExchangeType::TRANSACTION, message_id, vec![payload], |k, rest| {
                k.message(message_id, rest)
            });
        if let Some(d) = datagram {
            self.send(d.clone());
            let resend_at = now + self.config.retransmit.timeout(0);
            self.transaction.outstanding = Some(Outstanding {
                message_id,
                datagram: d,
                sends: 1,
                resend_at,
                kind,
                identifier,
                attributes,
                restarts: 0,
            });
        }
    }

    /// Answers the peer's request `message_id` (whose ciphertext was `received`) with a
    /// REPLY or ACK, kept to resend if the request comes again.
    fn answer(
        &mut self,
        message_id: u32,
        received: Vec<u8>,
        kind: ConfigType,
        identifier: u16,
        attributes: Vec<ConfigAttribute>,
    ) {
        let payload = Payload::Attribute(AttributeRepr::new(kind, identifier, attributes));
        let datagram =
            self.seal_protected(ExchangeType::TRANSACTION, message_id, vec![payload], |k, rest| {
                k.message(message_id, rest)
            });
        self.forget_chain(message_id);
        if let Some(d) = datagram {
            self.send(d.clone());
            self.transaction.answered = Some(Answered { message_id, received, datagram: d });
        }
    }

    /// The client's mode config: asked for (pull), awaited (push), or none.
    fn client_mode_config(&mut self, now: Instant) {
        self.transaction.step = Step::ClientModeConfig;
        if self.quick.renewing {
            // The address stays the predecessor's: asking again could give another one.
            self.transaction.lease = self.transaction.inherited;
            let pulls = self.config.transaction.mode_config == Some(ModeConfigClient::Pull);
            if let (true, true, Some(IpAddr::V4(addr))) =
                (self.transaction.reclaim, pulls, self.transaction.inherited)
            {
                // A gateway that started this SA (strongSwan's reauthentication) moved the
                // ESP SAs to it but not the client's virtual IP, and refuses our next quick
                // mode for that address (seen live: "no matching CHILD_SA config found for
                // 10.88.1.1/32 === 0.0.0.0/0"). Asking for the address we have binds it to
                // this SA; the answer is not applied (the tunnel keeps its address).
                let identifier = self.identifier();
                let attributes = modecfg::request_address(self.config.cisco_unity, addr);
                self.send_request(now, ConfigType::REQUEST, identifier, attributes);
                return;
            }
            return self.transactions_done(now);
        }
        match self.config.transaction.mode_config {
            Some(ModeConfigClient::Pull) => {
                let identifier = self.identifier();
                let attributes = modecfg::request(self.config.cisco_unity);
                self.send_request(now, ConfigType::REQUEST, identifier, attributes);
            }
            Some(ModeConfigClient::Push) => {
                self.transaction.wait_until = Some(now + PEER_START_WAIT)
            }
            None => self.transactions_done(now),
        }
    }

    /// The gateway's mode config: pushed, awaited, or none.
    fn server_mode_config(&mut self, now: Instant) {
        self.transaction.step = Step::ServerModeConfig;
        let Some(server) = self.config.transaction.mode_config_server.clone() else {
            return self.transactions_done(now);
        };
        if server.push {
            let offer = self.lease_for_client(&server, None);
            let identifier = self.identifier();
            self.send_request(now, ConfigType::SET, identifier, offer);
        }
    }

    /// Leases the client an address (once) and lists what it gets.
    fn lease_for_client(
        &mut self,
        server: &ModeConfigServer,
        asked: Option<&[ConfigAttribute]>,
    ) -> Vec<ConfigAttribute> {
        let pool = &server.pool;
        if self.transaction.lease.is_none() {
            self.transaction.lease = pool.lease_v4().map(IpAddr::V4);
            self.transaction.pool = Some(server.pool.clone());
        }
        let lease = match self.transaction.lease {
            Some(IpAddr::V4(a)) => Some(a),
            _ => None,
        };
        let offer = modecfg::Offer {
            lease,
            pool: pool.pool(),
            banner: server.banner.as_deref(),
            split_dns: &server.split_dns,
        };
        let mut attributes = offer.attributes(asked);
        attributes.extend(server.extra.iter().cloned());
        attributes
    }

    /// XAUTH and mode config are over: the client's quick modes may start.
    fn transactions_done(&mut self, now: Instant) {
        self.transaction.step = Step::Done;
        self.transaction.wait_until = None;
        let first =
            self.config.quick.first_child && self.quick.children.is_empty() && !self.quick.renewing;
        if self.role == Role::Client && first {
            for ids in self.first_client_ids() {
                self.start_quick_with(now, ids, None);
            }
        }
        self.start_queued_quick(now);
    }

    pub(crate) fn handle_transaction(&mut self, now: Instant, r: Received) {
        let Some((prf, skeyid_a)) = self.hash_key() else { return };
        let key = crate::quick::hash::HashKey { prf, skeyid_a: skeyid_a.expose() };
        if !hash_matches(&key.message(r.message_id, &r.rest), &r.hash) {
            self.stats.dropped_unauthenticated += 1;
            return;
        }
        let attr = match r.payloads.as_slice() {
            [Payload::Attribute(a)] => a.clone(),
            _ => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        // An answer pairs with our outstanding message by its message ID (authenticated by
        // the HASH). The identifier is not checked: it is meant to pair them too (draft-dukes
        // §3.2), but gateways that always send 0 exist, and it adds nothing to the ID.
        let answers_ours =
            self.transaction.outstanding.as_ref().is_some_and(|o| o.message_id == r.message_id);
        let step = self.transaction.step;
        let handled = match (step, attr.kind) {
            (Step::ClientXauth, ConfigType::REQUEST) => self.client_xauth_request(now, &r, &attr),
            (Step::ClientXauth, ConfigType::SET) if xauth::status(&attr.attributes).is_some() => {
                self.client_xauth_status(now, &r, &attr)
            }
            (Step::ClientModeConfig, ConfigType::REPLY) if answers_ours => {
                self.accept(&r, now);
                self.transaction.outstanding = None;
                self.forget_chain(r.message_id);
                if self.quick.renewing {
                    // The address asked for again: the tunnel keeps what it has.
                    self.transactions_done(now);
                } else {
                    self.client_config(now, &attr.attributes);
                }
                true
            }
            (Step::ClientModeConfig | Step::Done, ConfigType::SET)
                if self.role == Role::Client && xauth::status(&attr.attributes).is_none() =>
            {
                self.accept(&r, now);
                let ack =
                    attr.attributes.iter().map(|a| ConfigAttribute::request(a.kind)).collect();
                self.answer(
                    r.message_id,
                    r.ciphertext.clone(),
                    ConfigType::ACK,
                    attr.identifier,
                    ack,
                );
                // Once configured (or renewing with the predecessor's address) a pushed
                // configuration is acknowledged but not applied: the tunnel keeps its address.
                if step == Step::ClientModeConfig {
                    self.client_config(now, &attr.attributes);
                }
                true
            }
            (Step::ServerXauth, ConfigType::REPLY) if answers_ours => {
                self.accept(&r, now);
                self.transaction.outstanding = None;
                self.forget_chain(r.message_id);
                let ok = xauth::check_reply(&attr.attributes, &self.config.transaction.xauth_users);
                if ok {
                    self.transaction.xauth_user = xauth::user_name(&attr.attributes);
                }
                self.transaction.step = Step::ServerXauthStatus { ok };
                let identifier = self.identifier();
                self.send_request(now, ConfigType::SET, identifier, xauth::status_set(ok));
                true
            }
            (Step::ServerXauthStatus { ok }, ConfigType::ACK) if answers_ours => {
                self.accept(&r, now);
                self.transaction.outstanding = None;
                self.forget_chain(r.message_id);
                if ok {
                    self.report_up();
                    self.server_mode_config(now);
                } else {
                    self.delete_ike_unauthenticated(now);
                }
                true
            }
            // A REQUEST under a new message ID after one was answered is a client that sent
            // it again as a new exchange (see `transaction_refused`): it gets the same lease.
            (Step::ServerModeConfig | Step::Done, ConfigType::REQUEST)
                if self.config.transaction.mode_config_server.is_some() =>
            {
                self.accept(&r, now);
                let server = self.config.transaction.mode_config_server.clone();
                let reply = server
                    .map(|s| self.lease_for_client(&s, Some(&attr.attributes)))
                    .unwrap_or_default();
                self.answer(
                    r.message_id,
                    r.ciphertext.clone(),
                    ConfigType::REPLY,
                    attr.identifier,
                    reply,
                );
                if self.transaction.step == Step::ServerModeConfig {
                    self.transactions_done(now);
                }
                true
            }
            (Step::ServerModeConfig, ConfigType::ACK) if answers_ours => {
                self.accept(&r, now);
                self.transaction.outstanding = None;
                self.forget_chain(r.message_id);
                self.transactions_done(now);
                true
            }
            _ => false,
        };
        if !handled {
            self.stats.dropped_unexpected += 1;
        }
    }

    fn client_xauth_request(&mut self, now: Instant, r: &Received, attr: &AttributeRepr) -> bool {
        let Some(asked) = xauth::read_request(&attr.attributes) else { return false };
        self.accept(r, now);
        self.transaction.wait_until = None;
        let credentials = self.config.transaction.xauth_client.clone();
        match credentials {
            Some(XauthCredentials { username, password: Some(password) }) => {
                let attributes = xauth::reply(&asked, &username, &password);
                self.answer(
                    r.message_id,
                    r.ciphertext.clone(),
                    ConfigType::REPLY,
                    attr.identifier,
                    attributes,
                );
            }
            credentials => {
                // The REQUEST is answered once the user has typed the password in; the
                // gateway's resends of it meanwhile are not answered twice.
                self.events.push_back(crate::Event::XauthPasswordRequired {
                    username: credentials.map(|c| c.username),
                    message: asked.message.clone(),
                });
                self.transaction.prompt = Some(Prompt {
                    message_id: r.message_id,
                    received: r.ciphertext.clone(),
                    identifier: attr.identifier,
                    asked,
                });
            }
        }
        true
    }

    fn client_xauth_status(&mut self, now: Instant, r: &Received, attr: &AttributeRepr) -> bool {
        self.accept(r, now);
        let status = xauth::status(&attr.attributes);
        let ack = vec![ConfigAttribute::basic(
            ikeway_isakmp::ConfigAttributeType::XAUTH_STATUS,
            status.unwrap_or(xauth::STATUS_FAIL),
        )];
        self.answer(r.message_id, r.ciphertext.clone(), ConfigType::ACK, attr.identifier, ack);
        if status == Some(xauth::STATUS_OK) {
            self.report_up();
            self.client_mode_config(now);
        } else {
            // The gateway is told the ISAKMP SA is gone too: not every gateway ends it after
            // a FAIL (libreswan 4.10 stays in its XAUTH state, reads our ACK as a REPLY
            // without credentials, asks again and resends for a minute).
            let cookies = self.cookies_spi();
            self.send_delete_isakmp(cookies);
            self.shut_down(now, CloseReason::XauthFailed);
        }
        true
    }

    /// A client's mode config arrived: it is reported, and quick mode may start.
    fn client_config(&mut self, now: Instant, attributes: &[ConfigAttribute]) {
        let mut got = modecfg::read(attributes);
        self.transaction.lease = got.config.addresses.first().map(|(a, _)| *a);
        if let Some(lease) = self.transaction.lease {
            // Each split network gets its own quick mode (`quick::initiator`); the networks
            // reported (which the runtime routes) are exactly those, so nothing is routed
            // into the tunnel that no ESP SA carries.
            got.config.subnets.retain(|(net, _)| net.is_ipv4() == lease.is_ipv4());
            got.config.subnets.truncate(crate::quick::MAX_SPLIT_NETWORKS);
            self.transaction.split = got.config.subnets.clone();
        }
        self.emit(ikeway_sa::Event::ConfigReceived(got.config));
        if let Some(banner) = got.banner {
            self.events.push_back(crate::Event::Banner(banner));
        }
        if !got.notes.is_empty() {
            self.events.push_back(crate::Event::ModeConfigNotes(got.notes));
        }
        self.transactions_done(now);
    }

    /// Gateway: XAUTH failed; the client is told the ISAKMP SA is gone.
    fn delete_ike_unauthenticated(&mut self, now: Instant) {
        let cookies = self.cookies_spi();
        self.send_delete_isakmp(cookies);
        self.shut_down(now, CloseReason::XauthFailed);
    }

    /// The peer answered our transaction message with an error notify.
    ///
    /// A refusal after we resent the message is most likely the peer failing to decrypt the
    /// resend: strongSwan 5.9.8 recognises a retransmission only by the hash of the last
    /// request it answered, so any message of ours it took in between (an R-U-THERE-ACK to
    /// its DPD) makes it decrypt our byte-identical resend under the IV its lost answer moved
    /// the chain to, and it answers PAYLOAD-MALFORMED ("invalid HASH_V1 payload length").
    /// The request then goes again as a new exchange (a new message ID starts a fresh IV),
    /// at most [`MAX_REQUEST_RESTARTS`] times; a refusal of a message not resent ends the SA.
    pub(crate) fn transaction_refused(&mut self, now: Instant, _kind: ikeway_isakmp::NotifyType) {
        if self.transaction.step == Step::Done {
            return;
        }
        let Some(o) = self.transaction.outstanding.take() else { return };
        if o.sends < 2 || o.restarts >= MAX_REQUEST_RESTARTS {
            return self.shut_down(now, CloseReason::AuthenticationFailed);
        }
        self.forget_chain(o.message_id);
        self.stats.restarted_requests += 1;
        self.send_request(now, o.kind, o.identifier, o.attributes);
        if let Some(again) = self.transaction.outstanding.as_mut() {
            again.restarts = o.restarts + 1;
        }
    }

    /// Resends our outstanding message, or gives up on a peer that stopped answering or
    /// never started.
    pub(crate) fn handle_transaction_timeout(&mut self, now: Instant) {
        if self.transaction.wait_until.is_some_and(|t| now >= t) {
            self.transaction.wait_until = None;
            return self.shut_down(now, CloseReason::HandshakeTimeout);
        }
        let retransmit = self.config.retransmit;
        let Some(o) = self.transaction.outstanding.as_mut() else { return };
        if now < o.resend_at {
            return;
        }
        if o.sends >= retransmit.tries {
            return self.shut_down(now, CloseReason::PeerUnreachable);
        }
        o.resend_at = now + retransmit.timeout(o.sends);
        o.sends += 1;
        let datagram = o.datagram.clone();
        self.stats.retransmits += 1;
        self.send(datagram);
    }
}
