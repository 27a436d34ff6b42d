//! The call's state machine under random event sequences: whatever the server, the
//! browsers and the person do, in whatever order, the session keeps its invariants:
//! - at most one connection per person;
//! - every `peer_left` closes that person's connection;
//! - no effect names a person who is not in the room;
//! - the status names exactly the people present;
//! - host commands go out only from the host, about someone present;
//! - once removed by the host, nobody is connected to again;
//! - while waiting at a locked room's door, nobody is connected to;
//! - the host answers only knocks that wait;
//! - nobody is told we send sound (or our camera) while that switch is off;
//! - files go to and come from people present and connected to, and nobody has more
//!   than `MAX_INCOMING_TRANSFERS` files in flight towards us;
//! - while a screen is shared, a newcomer is sent the screen, and a new camera stays off
//!   the wire;
//! - every timer running has its reason still (a connection still `disconnected`, a hand
//!   still held back, a socket still closed…), so none fires for a reason that is gone;
//!   time only passes as the browser side lets it (`Input::Timeout` at `poll_timeout`, or
//!   any later moment).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};
use tandem::mesh::budget::{LinkSample, FULL_SIZE_BPS};
use tandem::mesh::switches::TrackKind;
use tandem::protocol::file::MAX_INCOMING_TRANSFERS;
use tandem::mesh::{
    CallStatus, Command, ConnectionState, Effect, IceState, Input, MediaState, Millis, PeerInput,
    Session,
};
use tandem::protocol::peer::{PeerMessage, PeerMessageError, Reaction};
use tandem::mesh::meeting::MAX_REACTIONS_PER_TILE;
use tandem::protocol::signaling::{
    ClientMessage, ErrorCode, HostCommand, IceTransportPolicy, KnockId, PeerId, PeerInfo,
    ServerMessage, Signal,
};

#[derive(Arbitrary, Debug)]
enum Op {
    Joined(Vec<u8>),
    Resumed(Vec<u8>),
    PeerJoined(u8, bool),
    Signal(u8, u8),
    PeerLeft(u8),
    Error(u8),
    Pong,
    FromOldSocket(u8),
    SocketClosed,
    /// Time passes this long, and whatever is due fires.
    Wait(u16),
    /// Time passes to the next deadline.
    NextTimer,
    State(u8, u8),
    Ice(u8, u8),
    ChatOpen(u8),
    ChatClosed(u8),
    Message(u8, String),
    Unreadable(u8, bool),
    LocalSignal(u8),
    NegotiationFailed(u8),
    SendChat(String),
    HangUp,
    TakeBack,
    Token,
    SeatTaken,
    Leave,
    MediaReady,
    LocalTracks(bool, bool, bool),
    ToggleMicrophone,
    ToggleCamera,
    SendFile(Option<u8>),
    NewTrack(bool),
    FileOffered(u8),
    TransferEnded(u8),
    Estimate(Option<u32>),
    Host(u8),
    Removed(u8),
    MuteRequest(u8),
    HostCommand(u8, u8),
    Locked(bool),
    Waiting,
    Knock(u8),
    KnockEnded(u8),
    Lock(bool),
    Answer(u8, bool),
    NetworkChanged,
    Links(u8, bool, Option<u8>, Option<u16>),
    ToggleHand,
    LowerHand(u8),
    React(u8),
    HandFrom(u8, bool, u32, u32),
    ReactionFrom(u8, u8),
    LowerHandFrom(u8),
    Recording(bool),
    RecordingFrom(u8, bool),
}

fn reaction(n: u8) -> Reaction {
    Reaction::ALL[usize::from(n) % Reaction::ALL.len()]
}

/// Six possible people, so sequences often name the same ones again.
fn id(n: u8) -> PeerId {
    PeerId(u64::from(n % 6) + 1)
}

fn people(ids: &[u8]) -> Vec<PeerInfo> {
    let mut seen = HashSet::new();
    ids.iter()
        .map(|&n| id(n))
        .filter(|id| seen.insert(*id))
        .map(|id| PeerInfo {
            id,
            name: format!("P{id}"),
        })
        .collect()
}

fn offer() -> Signal {
    Signal::Offer { sdp: "v=0".into() }
}

// `early`: the page's script opened the socket and joined before the app (early_media).
fuzz_target!(|input: (bool, Vec<Op>)| {
    let (early, ops) = input;
    let mut session = Session::new("Me".into(), "room".into(), 1);
    let mut generation = 0;
    let mut open: HashSet<PeerId> = HashSet::new();
    // Files in flight by transfer id: with whom, and whether towards us.
    let mut files: HashMap<u32, (PeerId, bool)> = HashMap::new();
    // Whether the last tracks given had a shared screen.
    let mut sharing = false;
    let mut now = Millis::ZERO;
    let mut effects = if early { session.start_on_early_socket(now) } else { session.start(now) };
    for op in ops {
        check(&session, &effects, &mut open, &mut generation, &mut files);
        now = now + 100;
        let server = |message| Input::Server(generation, message);
        let input = match op {
            Op::Joined(ids) => server(ServerMessage::Joined {
                you: PeerId(100),
                name: if ids.len() % 2 == 0 { "Me".into() } else { "Me (2)".into() },
                polite: !ids.is_empty(),
                peers: people(&ids),
                token: "t".into(),
                ice_servers: Vec::new(),
                ice_transport_policy: IceTransportPolicy::All,
                max_file_bytes: 1,
                upload_budget: 2_500_000,
                host: ids.first().map(|&n| id(n)),
                locked: false,
            }),
            Op::Resumed(ids) => server(ServerMessage::Resumed {
                you: PeerId(100),
                peers: people(&ids),
                token: "t2".into(),
                ice_servers: Vec::new(),
                ice_transport_policy: IceTransportPolicy::All,
                max_file_bytes: 1,
                upload_budget: 2_500_000,
                host: None,
                locked: false,
            }),
            Op::PeerJoined(n, polite) => server(ServerMessage::PeerJoined {
                peer: people(&[n]).remove(0),
                polite,
            }),
            Op::Signal(n, kind) => server(ServerMessage::Signal {
                from: id(n),
                signal: match kind % 3 {
                    0 => offer(),
                    1 => Signal::Answer { sdp: "v=0".into() },
                    _ => Signal::Candidate {
                        candidate: "c".into(),
                        sdp_mid: None,
                        sdp_m_line_index: None,
                    },
                },
            }),
            Op::PeerLeft(n) => {
                let peer = id(n);
                let was_open = open.contains(&peer);
                let left = session.handle(server(ServerMessage::PeerLeft { peer }), now);
                check(&session, &left, &mut open, &mut generation, &mut files);
                assert!(
                    !was_open || !open.contains(&peer),
                    "peer_left must close {peer}'s connection"
                );
                assert!(session.people().all(|p| p.id != peer));
                effects = Vec::new();
                continue;
            }
            Op::Error(n) => {
                let code = ErrorCode::ALL[usize::from(n) % ErrorCode::ALL.len()];
                server(ServerMessage::Error {
                    code,
                    message: String::new(),
                    peer: (n % 2 == 0).then(|| id(n / 2)),
                })
            }
            Op::Pong => server(ServerMessage::Pong),
            Op::FromOldSocket(n) => Input::Server(
                generation.wrapping_sub(1),
                ServerMessage::PeerLeft { peer: id(n) },
            ),
            Op::SocketClosed => Input::SocketClosed(generation),
            Op::Wait(after) => {
                now = now + u64::from(after);
                Input::Timeout
            }
            Op::NextTimer => {
                now = now.max(session.poll_timeout().unwrap_or(now));
                Input::Timeout
            }
            Op::State(n, s) => Input::Peer(
                id(n),
                PeerInput::State(match s % 4 {
                    0 => ConnectionState::Connecting,
                    1 => ConnectionState::Connected,
                    2 => ConnectionState::Disconnected,
                    _ => ConnectionState::Failed,
                }),
            ),
            Op::Ice(n, s) => Input::Peer(
                id(n),
                PeerInput::Ice(match s % 3 {
                    0 => IceState::Other,
                    1 => IceState::Disconnected,
                    _ => IceState::Failed,
                }),
            ),
            Op::ChatOpen(n) => Input::Peer(id(n), PeerInput::ChatOpen),
            Op::ChatClosed(n) => Input::Peer(id(n), PeerInput::ChatClosed),
            Op::Message(n, text) => Input::Peer(id(n), PeerInput::Message(text)),
            Op::Unreadable(n, binary) => Input::Peer(
                id(n),
                PeerInput::Unreadable(if binary {
                    PeerMessageError::Binary
                } else {
                    PeerMessageError::TooLarge
                }),
            ),
            Op::LocalSignal(n) => Input::Peer(id(n), PeerInput::LocalSignal(offer())),
            Op::NegotiationFailed(n) => {
                Input::Peer(id(n), PeerInput::NegotiationFailed("e".into()))
            }
            Op::SendChat(text) => Input::Command(Command::SendChat(text)),
            Op::HangUp => Input::Command(Command::HangUp),
            Op::TakeBack => Input::Command(Command::TakeBack),
            Op::Token => server(ServerMessage::Token { token: "t3".into() }),
            Op::SeatTaken => server(ServerMessage::SeatTaken { token: "t4".into() }),
            Op::Leave => Input::Command(Command::Leave),
            Op::MediaReady => Input::MediaReady,
            Op::SendFile(to) => Input::Command(Command::SendFile { to: to.map(id) }),
            Op::NetworkChanged => Input::NetworkChanged,
            Op::NewTrack(video) => Input::NewTrack(if video { TrackKind::Video } else { TrackKind::Audio }),
            Op::FileOffered(n) => Input::Peer(id(n), PeerInput::FileOffered),
            Op::TransferEnded(n) => {
                let ended = u32::from(n % 16) + 1;
                files.remove(&ended);
                Input::TransferEnded(ended)
            }
            Op::ToggleMicrophone => Input::Command(Command::ToggleMicrophone),
            Op::ToggleCamera => Input::Command(Command::ToggleCamera),
            Op::LocalTracks(audio, video, screen) => {
                sharing = screen;
                Input::LocalTracks(MediaState {
                    audio,
                    video,
                    screen,
                })
            }
            Op::Estimate(bps) => Input::UploadEstimate(bps.map(u64::from)),
            Op::Links(n, limited, loss, rtt) => Input::LinkSamples(vec![LinkSample {
                peer: id(n),
                bandwidth_limited: limited,
                loss: loss.map(|l| f64::from(l) / 255.0),
                rtt_ms: rtt.map(f64::from),
            }]),
            // Us (100) or one of the six.
            Op::Host(n) if n % 7 == 6 => server(ServerMessage::Host { peer: PeerId(100) }),
            Op::Host(n) => server(ServerMessage::Host { peer: id(n) }),
            Op::Removed(n) => server(ServerMessage::Removed { by: id(n) }),
            Op::MuteRequest(n) => server(ServerMessage::MuteRequest { by: id(n) }),
            Op::Locked(locked) => server(ServerMessage::Locked { locked }),
            Op::Waiting => server(ServerMessage::Waiting {
                host_name: "Host".into(),
            }),
            Op::Knock(n) => server(ServerMessage::Knock {
                knock: KnockId(u64::from(n % 4)),
                name: format!("K{n}"),
            }),
            Op::KnockEnded(n) => server(ServerMessage::KnockEnded {
                knock: KnockId(u64::from(n % 4)),
            }),
            Op::Lock(lock) => Input::Command(Command::Host(HostCommand::Lock(lock))),
            Op::Answer(n, admit) => {
                let knock = KnockId(u64::from(n % 4));
                Input::Command(if admit {
                    Command::Host(HostCommand::Admit(knock))
                } else {
                    Command::Host(HostCommand::Deny(knock))
                })
            }
            Op::ToggleHand => Input::Command(Command::ToggleHand),
            Op::LowerHand(n) => Input::Command(Command::LowerHand(id(n))),
            Op::React(n) => Input::Command(Command::React(reaction(n))),
            Op::HandFrom(n, up, for_ms, turn) => Input::Peer(
                id(n),
                PeerInput::Message(PeerMessage::Hand { up, for_ms, turn }.encode()),
            ),
            Op::ReactionFrom(n, r) => Input::Peer(
                id(n),
                PeerInput::Message(PeerMessage::React { reaction: reaction(r) }.encode()),
            ),
            Op::Recording(on) => Input::Command(Command::Recording(on)),
            Op::RecordingFrom(n, on) => Input::Peer(id(n), PeerInput::Message(PeerMessage::Recording { on }.encode())),
            Op::LowerHandFrom(n) => Input::Peer(id(n), PeerInput::Message(PeerMessage::LowerHand.encode())),
            Op::HostCommand(n, kind) => Input::Command(match kind % 3 {
                0 => Command::Host(HostCommand::MakeHost(id(n))),
                1 => Command::Host(HostCommand::Remove(id(n))),
                _ => Command::Host(HostCommand::AskToMute(id(n))),
            }),
        };
        effects = session.handle(input, now);
        for effect in &effects {
            match effect {
                Effect::OpenPeer { screen, .. } => assert_eq!(*screen, sharing, "{effect:?}"),
                Effect::PutOnWire(TrackKind::Video) => assert!(!sharing, "a new camera over a shared screen"),
                _ => {}
            }
        }
    }
    check(&session, &effects, &mut open, &mut generation, &mut files);
});

/// Applies `effects` to the model of open connections and checks every invariant.
fn check(
    session: &Session,
    effects: &[Effect],
    open: &mut HashSet<PeerId>,
    generation: &mut u32,
    files: &mut HashMap<u32, (PeerId, bool)>,
) {
    let present: HashSet<PeerId> = session.people().map(|p| p.id).collect();
    for effect in effects {
        match effect {
            // The budget never goes below the server's default unless the link was seen to
            // be the limit; a share it gives is full size when it can carry it.
            Effect::LimitSenders(limits) => {
                assert!(
                    session.upload_link_limited() || session.upload_budget() >= session.default_upload_budget(),
                    "{limits:?} below the default with no evidence"
                );
                assert!(limits.max_bitrate * limits.receivers as u64 <= session.upload_budget());
                assert_eq!(limits.max_bitrate >= FULL_SIZE_BPS, limits.scale_down_by == 1.0, "{limits:?}");
            }
            Effect::OpenSocket { generation: g } | Effect::AdoptSocket { generation: g } => *generation = *g,
            Effect::OpenPeer { peer, .. } => {
                assert!(
                    !matches!(session.status(), CallStatus::Removed(_) | CallStatus::Knocking(_)),
                    "connected to {peer} after being removed, or while waiting at the door"
                );
                assert!(open.insert(*peer), "a second connection to {peer}");
                assert!(present.contains(peer), "opened {peer}, who is not here");
            }
            Effect::ClosePeer { peer } => {
                assert!(open.remove(peer), "closed {peer}, who had no connection");
                files.retain(|_, (with, _)| with != peer);
            }
            Effect::SendToPeer {
                message: PeerMessage::Media { audio, video, screen },
                ..
            } if (*audio && !session.switches().microphone)
                || (*video && !*screen && !session.switches().camera) =>
            {
                panic!("{effect:?} with the switches at {:?}", session.switches());
            }
            Effect::SendToPeer {
                message: PeerMessage::LowerHand,
                ..
            } if !session.is_host() => panic!("{effect:?} from someone not the host"),
            Effect::SendFile { peer, transfer } | Effect::ReceiveFile { peer, transfer } => {
                assert!(present.contains(peer), "{effect:?} names someone not here");
                assert!(open.contains(peer), "{effect:?} without a connection");
                let incoming = matches!(effect, Effect::ReceiveFile { .. });
                assert!(files.insert(*transfer, (*peer, incoming)).is_none(), "{effect:?} reuses an id in flight");
                let towards_us = files.values().filter(|(with, i)| with == peer && *i).count();
                assert!(towards_us <= MAX_INCOMING_TRANSFERS, "{towards_us} files from {peer} at once");
            }
            Effect::ApplySignal { peer, .. }
            | Effect::RestartIce { peer }
            | Effect::SendToPeer { peer, .. }
            | Effect::Send(ClientMessage::Signal { to: peer, .. }) => {
                assert!(present.contains(peer), "{effect:?} names someone not here");
                assert!(open.contains(peer), "{effect:?} without a connection");
            }
            Effect::Send(
                ClientMessage::MakeHost { peer }
                | ClientMessage::Remove { peer }
                | ClientMessage::AskToMute { peer },
            ) => {
                assert!(session.is_host(), "{effect:?} from someone not the host");
                assert!(present.contains(peer), "{effect:?} names someone not here");
            }
            Effect::Send(ClientMessage::Admit { knock } | ClientMessage::Deny { knock }) => {
                assert!(session.is_host(), "{effect:?} from someone not the host");
                assert!(
                    session.knocks().iter().any(|(id, _)| id == knock),
                    "{effect:?} answers a knock that does not wait"
                );
            }
            Effect::Send(ClientMessage::Lock | ClientMessage::Unlock) => {
                assert!(session.is_host(), "{effect:?} from someone not the host");
            }
            _ => {}
        }
    }
    assert!(open.is_subset(&present), "a connection to someone gone");
    for (timer, _) in session.timers() {
        assert!(session.timer_has_reason(timer), "{timer:?} runs with its reason gone");
    }
    // Hands and reactions are of people here (or our own), one hand each, a few
    // reactions per tile.
    let hands = session.hands();
    assert!(hands.iter().all(|h| h.who.is_none_or(|id| present.contains(&id))), "{hands:?}");
    let mut whose: Vec<_> = hands.iter().map(|h| h.who).collect();
    whose.dedup();
    assert_eq!(whose.len(), hands.len(), "a hand twice: {hands:?}");
    let recording = session.recording();
    assert!(recording.iter().all(|r| r.is_none_or(|id| present.contains(&id))), "{recording:?}");
    for reaction in session.reactions() {
        assert!(reaction.from.is_none_or(|id| present.contains(&id)), "{reaction:?} of someone gone");
        let over_tile = session.reactions().filter(|r| r.from == reaction.from).count();
        assert!(over_tile <= MAX_REACTIONS_PER_TILE, "{over_tile} reactions over one tile");
    }
    let mut named: Vec<String> = match session.status() {
        CallStatus::InCall {
            connected,
            connecting,
            interrupted,
            failed,
            ..
        } => connected
            .into_iter()
            .chain(connecting)
            .chain(interrupted)
            .chain(failed.into_iter().map(|(name, _)| name))
            .collect(),
        _ => Vec::new(),
    };
    let mut here: Vec<String> = session.people().map(|p| p.name.clone()).collect();
    match session.status() {
        CallStatus::InCall { .. } => {}
        CallStatus::Waiting { .. } => assert!(here.is_empty(), "waiting with people here"),
        // Before media, or once over, the status names nobody.
        _ => here.clear(),
    }
    named.sort();
    here.sort();
    assert_eq!(named, here, "the status names exactly the people present");
}
