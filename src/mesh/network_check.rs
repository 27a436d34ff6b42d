//! "Check my connection": what the candidates a browser gathered with the server's ICE
//! settings say about calls from this network, in plain words. The browser layer
//! (`client/network_check.rs`) gathers; this decides what to tell the person.

/// What one gathering found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    /// The server names a STUN server (or a TURN server, which answers STUN too).
    pub stun_configured: bool,
    /// The server names a TURN relay.
    pub relay_configured: bool,
    /// Candidates of each kind gathered.
    pub host: usize,
    pub server_reflexive: usize,
    pub relay: usize,
    /// A relay candidate was reached over UDP: the server answered UDP, so the network
    /// lets it out (a browser drops a reflexive candidate equal to its own address, as it
    /// is when no NAT stands between it and the server).
    pub relay_over_udp: bool,
    /// How long the first relay candidate took, from the start of gathering (two round
    /// trips to the relay: the challenge and the allocation).
    pub relay_ms: Option<f64>,
}

/// Whether a direct connection looks possible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direct {
    /// The network let a STUN request out and its answer back: direct calls work to most
    /// networks.
    Likely,
    /// Only this machine's own addresses: direct calls work with people on the same
    /// network; the server names no STUN server to test beyond it.
    LocalOnly,
    /// A STUN server was named but never answered: this network probably blocks UDP out.
    Blocked,
    /// No candidate at all: the browser found no network.
    Offline,
}

/// Whether the server's relay answered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Relay {
    /// Answered; the round trip to it, estimated.
    Answers { round_trip_ms: f64 },
    /// Named, but gave no relay candidate (unreachable, or the credentials were refused).
    Silent,
    /// The server names none.
    None,
}

/// What the person is told.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub direct: Direct,
    pub relay: Relay,
}

impl Report {
    pub fn from(findings: &Findings) -> Report {
        let direct = if findings.server_reflexive > 0 || findings.relay_over_udp {
            Direct::Likely
        } else if findings.host == 0 && findings.relay == 0 {
            Direct::Offline
        } else if findings.stun_configured {
            Direct::Blocked
        } else {
            Direct::LocalOnly
        };
        let relay = match (findings.relay_configured, findings.relay, findings.relay_ms) {
            (false, ..) => Relay::None,
            (true, 0, _) => Relay::Silent,
            // The relay candidate comes after two round trips (401, then the allocation).
            (true, _, ms) => Relay::Answers {
                round_trip_ms: ms.unwrap_or(0.0) / 2.0,
            },
        };
        Report { direct, relay }
    }

    /// Whether a call can get through at all.
    pub fn calls_work(&self) -> bool {
        matches!(self.direct, Direct::Likely | Direct::LocalOnly)
            || matches!(self.relay, Relay::Answers { .. })
    }

    /// What to try, when calls may not get through.
    pub fn advice(&self) -> Option<Advice> {
        match (self.direct, self.relay) {
            (Direct::Offline, _) => Some(Advice::GoOnline),
            (_, Relay::Answers { .. }) | (Direct::Likely, _) => None,
            (_, Relay::Silent) => Some(Advice::TryAnotherNetwork),
            (_, Relay::None) => Some(Advice::AskForARelay),
        }
    }
}

/// What the person is advised to try (the words are the catalogues', `home.advice_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    /// Check that they are online, then try again.
    GoOnline,
    /// Another network (a phone's hotspot), or tell whoever runs the server its relay is
    /// silent.
    TryAnotherNetwork,
    /// Another network if a call does not connect, or ask for the relay (`turn_listen`).
    AskForARelay,
}

/// Why the check could not run at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailed {
    #[error("the server did not answer GET /ice")]
    ServerUnreachable,
    #[error("this browser has no RTCPeerConnection")]
    NoWebRtc,
    #[error("the browser would not make an offer")]
    WouldNotStart,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(host: usize, srflx: usize, relay: usize) -> Findings {
        Findings {
            stun_configured: true,
            relay_configured: true,
            host,
            server_reflexive: srflx,
            relay,
            relay_over_udp: false,
            relay_ms: (relay > 0).then_some(84.0),
        }
    }

    #[test]
    fn a_reflexive_candidate_means_direct_calls_and_a_relay_candidate_a_working_relay() {
        let report = Report::from(&found(2, 1, 1));
        assert_eq!(report.direct, Direct::Likely);
        assert_eq!(
            report.relay,
            Relay::Answers {
                round_trip_ms: 42.0
            }
        );
        assert!(report.calls_work());
        assert_eq!(report.advice(), None);
    }

    #[test]
    fn a_silent_relay_on_a_blocked_network_says_what_to_try() {
        let report = Report::from(&found(2, 0, 0));
        assert_eq!(report.direct, Direct::Blocked);
        assert_eq!(report.relay, Relay::Silent);
        assert!(!report.calls_work());
        assert_eq!(report.advice(), Some(Advice::TryAnotherNetwork));
    }

    #[test]
    fn without_stun_host_candidates_mean_local_calls_and_no_relay_is_said_so() {
        let report = Report::from(&Findings {
            host: 1,
            ..Findings::default()
        });
        assert_eq!(report.direct, Direct::LocalOnly);
        assert_eq!(report.relay, Relay::None);
        assert!(report.calls_work());
        assert_eq!(report.advice(), Some(Advice::AskForARelay));
    }

    #[test]
    fn no_candidate_at_all_is_offline_whatever_the_server_names() {
        let report = Report::from(&found(0, 0, 0));
        assert_eq!(report.direct, Direct::Offline);
        assert!(!report.calls_work());
        assert_eq!(report.advice(), Some(Advice::GoOnline));
        // A relay that answers is a way through even with no direct path.
        let relayed = Report::from(&found(0, 0, 1));
        assert!(relayed.calls_work());
    }

    #[test]
    fn a_relay_reached_over_udp_shows_the_network_lets_udp_out() {
        let mut findings = found(1, 0, 1);
        assert_eq!(Report::from(&findings).direct, Direct::Blocked);
        findings.relay_over_udp = true;
        assert_eq!(Report::from(&findings).direct, Direct::Likely);
    }
}
