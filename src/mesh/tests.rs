use super::budget::SenderLimits;
use super::notice::Notice;
use super::*;
use crate::protocol::peer::PeerMessageError;
use crate::protocol::signaling::HostCommand;

/// The status line as the English catalogue words it (`components::words::status` does it
/// from the catalogues, tested there in every language): the assertions here read as the
/// person reads them.
trait English {
    fn text(&self) -> String;
}

impl English for CallStatus {
    fn text(&self) -> String {
        let list = |names: &[String]| match names {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        let left = |who: &Option<String>| -> Vec<String> {
            who.iter().map(|n| format!("{n} left the call.")).collect()
        };
        match self {
            CallStatus::Starting => "Starting camera and microphone…".into(),
            CallStatus::Joining => "Joining the room…".into(),
            CallStatus::Waiting { left: who } => left(who)
                .into_iter()
                .chain(["Waiting for someone to join.".to_owned()])
                .collect::<Vec<_>>()
                .join(" "),
            CallStatus::InCall {
                left: who,
                connected,
                connecting,
                interrupted,
                failed,
            } => {
                let mut parts = left(who);
                if !connected.is_empty() {
                    parts.push(format!("Connected with {}.", list(connected)));
                }
                if !connecting.is_empty() {
                    parts.push(format!("Connecting to {}…", list(connecting)));
                }
                if !interrupted.is_empty() {
                    parts.push(format!(
                        "Connection to {} lost; reconnecting…",
                        list(interrupted)
                    ));
                }
                for (name, why) in failed {
                    parts.push(format!("Could not connect to {name} ({why})."));
                }
                parts.join(" ")
            }
            CallStatus::Busy => "Server busy, retrying…".into(),
            CallStatus::Removed(Some(by)) => format!("{by} removed you from the call."),
            CallStatus::Knocking(host) => format!("Waiting for {host} to let you in…"),
            CallStatus::RoomFull => "This room is full.".into(),
            CallStatus::OpenElsewhere => "This call is open in another tab or device.".into(),
            CallStatus::NotLetIn {
                why: ErrorCode::KnockDenied,
                host: Some(host),
            } => format!("{host} did not let you in."),
            other => format!("{other:?}"),
        }
    }
}

fn info(id: u64, name: &str) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        name: name.into(),
    }
}

fn joined(peers: Vec<PeerInfo>) -> ServerMessage {
    let peers_empty = peers.is_empty();
    ServerMessage::Joined {
        you: PeerId(100),
        name: "Me".into(),
        polite: !peers.is_empty(),
        peers,
        token: "token".into(),
        ice_servers: Vec::new(),
        ice_transport_policy: IceTransportPolicy::All,
        max_file_bytes: 1_000,
        upload_budget: 2_400_000,
        // The first there hosts the room.
        host: Some(PeerId(if peers_empty { 100 } else { 1 })),
        locked: false,
    }
}

/// A session that has its camera and socket (generation 1), before `joined`.
fn started() -> Session {
    let mut session = Session::new("Me".into(), "room".into(), 7);
    let effects = session.start(Millis(0));
    assert_eq!(effects[0], Effect::OpenSocket { generation: 1 });
    assert_eq!(
        effects[1],
        Effect::Send(ClientMessage::Join {
            room: "room".into(),
            name: "Me".into()
        })
    );
    session.handle(Input::MediaReady, Millis(0));
    assert_eq!(session.status(), CallStatus::Joining);
    session
}

fn server(session: &mut Session, message: ServerMessage) -> Vec<Effect> {
    session.handle(Input::Server(1, message), Millis(1))
}

fn peer(session: &mut Session, id: u64, event: PeerInput) -> Vec<Effect> {
    session.handle(Input::Peer(PeerId(id), event), Millis(1))
}

/// When `timer` fires, if it runs.
fn deadline(session: &Session, timer: Timer) -> Option<Millis> {
    session
        .timers()
        .find_map(|(t, at)| (t == timer).then_some(at))
}

/// Lets time pass until `until`, as the browser side does: each timer fires at its
/// deadline, earliest first. Returns what they caused.
fn run_until(session: &mut Session, until: Millis) -> Vec<Effect> {
    let mut effects = Vec::new();
    while let Some(at) = session.poll_timeout().filter(|at| *at <= until) {
        effects.extend(session.handle(Input::Timeout, at));
    }
    effects
}

/// Lets time pass until `timer`, which must be the next to fire, and returns what that
/// caused.
fn fire(session: &mut Session, timer: Timer) -> Vec<Effect> {
    let at = deadline(session, timer).unwrap_or_else(|| panic!("{timer:?} is not running"));
    assert_eq!(
        session.poll_timeout(),
        Some(at),
        "{timer:?} is the next to fire"
    );
    session.handle(Input::Timeout, at)
}

fn offer() -> Signal {
    Signal::Offer { sdp: "v=0".into() }
}

/// Us, seated with `names` already there (ids 1, 2, …), each connected.
fn in_call_with(names: &[&str]) -> Session {
    let mut session = started();
    let peers = names
        .iter()
        .enumerate()
        .map(|(i, n)| info(i as u64 + 1, n))
        .collect();
    server(&mut session, joined(peers));
    for i in 1..=names.len() as u64 {
        let effects = server(
            &mut session,
            ServerMessage::Signal {
                from: PeerId(i),
                signal: offer(),
            },
        );
        assert_eq!(
            effects[..2],
            [
                Effect::OpenPeer {
                    peer: PeerId(i),
                    polite: true,
                    screen: false
                },
                Effect::ApplySignal {
                    peer: PeerId(i),
                    signal: offer()
                }
            ]
        );
        peer(
            &mut session,
            i,
            PeerInput::State(ConnectionState::Connected),
        );
        peer(&mut session, i, PeerInput::ChatOpen);
    }
    session
}

fn opened(effects: &[Effect]) -> Vec<PeerId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::OpenPeer { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_in_a_room_waits_and_opens_to_each_newcomer() {
    let mut session = started();
    assert_eq!(
        server(&mut session, joined(vec![])),
        [Effect::KeepToken(Some("token".into()))],
        "the token is kept where a reload finds it"
    );
    assert_eq!(session.status().text(), "Waiting for someone to join.");
    let effects = server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(1, "Bob"),
            polite: false,
        },
    );
    assert_eq!(
        effects,
        [Effect::OpenPeer {
            peer: PeerId(1),
            polite: false,
            screen: false
        }]
    );
    assert_eq!(session.status().text(), "Connecting to Bob…");
    let effects = peer(
        &mut session,
        1,
        PeerInput::State(ConnectionState::Connected),
    );
    assert_eq!(session.status().text(), "Connected with Bob.");
    // One person to send to: the whole budget from `joined`.
    assert!(matches!(
        effects[..],
        [Effect::LimitSenders(SenderLimits {
            max_bitrate: 2_400_000,
            ..
        })]
    ));
}

#[test]
fn a_newcomer_waits_for_an_offer_from_everyone_present() {
    let mut session = started();
    let effects = server(
        &mut session,
        joined(vec![info(1, "Bob"), info(2, "Carol"), info(3, "Dave")]),
    );
    assert!(opened(&effects).is_empty(), "no connection before an offer");
    assert_eq!(
        session.status().text(),
        "Connecting to Bob, Carol and Dave…"
    );
    // Carol's offer comes first: only her connection opens.
    let effects = server(
        &mut session,
        ServerMessage::Signal {
            from: PeerId(2),
            signal: offer(),
        },
    );
    assert_eq!(opened(&effects), [PeerId(2)]);
    peer(
        &mut session,
        2,
        PeerInput::State(ConnectionState::Connected),
    );
    assert_eq!(
        session.status().text(),
        "Connected with Carol. Connecting to Bob and Dave…"
    );
    // A second signal from Carol goes to the same connection.
    let effects = server(
        &mut session,
        ServerMessage::Signal {
            from: PeerId(2),
            signal: offer(),
        },
    );
    assert!(opened(&effects).is_empty());
    // Signals from strangers are dropped.
    assert!(server(
        &mut session,
        ServerMessage::Signal {
            from: PeerId(99),
            signal: offer()
        }
    )
    .is_empty());
}

#[test]
fn someone_leaving_closes_only_their_connection() {
    let mut session = in_call_with(&["Bob", "Carol", "Dave"]);
    assert_eq!(
        session.status().text(),
        "Connected with Bob, Carol and Dave."
    );
    let effects = server(&mut session, ServerMessage::PeerLeft { peer: PeerId(2) });
    assert_eq!(effects[0], Effect::ClosePeer { peer: PeerId(2) });
    // Two people left to send to: the budget is shared by two now.
    assert!(matches!(
        effects[1],
        Effect::LimitSenders(SenderLimits { receivers: 2, .. })
    ));
    assert_eq!(
        session.status().text(),
        "Carol left the call. Connected with Bob and Dave."
    );
    assert_eq!(
        session
            .people()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["Bob", "Dave"]
    );
    // A second peer_left for the same person changes nothing.
    assert!(server(&mut session, ServerMessage::PeerLeft { peer: PeerId(2) }).is_empty());
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(1) });
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(3) });
    assert_eq!(
        session.status().text(),
        "Dave left the call. Waiting for someone to join."
    );
}

#[test]
fn chat_goes_to_everyone_whose_channel_is_open_and_is_shown_once() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    peer(&mut session, 2, PeerInput::ChatClosed);
    let effects = session.handle(Input::Command(Command::SendChat("hi".into())), Millis(2));
    let chat = PeerMessage::Chat { text: "hi".into() };
    assert_eq!(
        effects,
        [
            Effect::SendToPeer {
                peer: PeerId(1),
                message: chat
            },
            Effect::ShowChat(ChatLine {
                id: 1,
                from: "Me".into(),
                text: "hi".into(),
                mine: true
            })
        ]
    );
    let effects = peer(
        &mut session,
        2,
        PeerInput::Message(r#"{"type":"chat","text":"yo"}"#.into()),
    );
    assert_eq!(
        effects,
        [Effect::ShowChat(ChatLine {
            id: 2,
            from: "Carol".into(),
            text: "yo".into(),
            mine: false
        })]
    );
    // Garbage is dropped, counted, and warned about once.
    let effects = peer(&mut session, 2, PeerInput::Message("garbage".into()));
    assert!(matches!(effects[..], [Effect::Warn(_)]));
    assert!(peer(&mut session, 2, PeerInput::Message("garbage".into())).is_empty());
    let malformed = session
        .dropped()
        .find(|(kind, _)| *kind == PeerMessageError::Malformed);
    assert_eq!(malformed, Some((PeerMessageError::Malformed, 2)));
}

#[test]
fn a_peer_that_floods_or_sends_too_much_is_cut_short_with_one_notice() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let line = r#"{"type":"chat","text":"spam"}"#;
    let mut shown = 0;
    let mut notices = Vec::new();
    // 1,000 lines in one second from Bob.
    for i in 0..1_000 {
        for effect in session.handle(
            Input::Peer(PeerId(1), PeerInput::Message(line.into())),
            Millis(10 + i),
        ) {
            match effect {
                Effect::ShowChat(_) => shown += 1,
                Effect::Notice(text) => notices.push(text),
                other => panic!("{other:?}"),
            }
        }
    }
    assert!((30..=41).contains(&shown), "{shown} lines shown");
    assert_eq!(notices, [Notice::ChatTooFast("Bob".into())]);
    // Carol has a budget of her own.
    let effects = peer(&mut session, 2, PeerInput::Message(line.into()));
    assert!(matches!(effects[..], [Effect::ShowChat(_)]));
    // Over-long lines: dropped, said once per 10 s.
    let long = format!(r#"{{"type":"chat","text":"{}"}}"#, "x".repeat(5_000));
    let effects = session.handle(
        Input::Peer(PeerId(2), PeerInput::Message(long.clone())),
        Millis(2_000),
    );
    assert!(effects.contains(&Effect::Notice(Notice::TooLong("Carol".into()))));
    let effects = session.handle(
        Input::Peer(PeerId(2), PeerInput::Unreadable(PeerMessageError::TooLarge)),
        Millis(3_000),
    );
    assert!(!effects.iter().any(|e| matches!(e, Effect::Notice(_))));
    let effects = session.handle(
        Input::Peer(PeerId(2), PeerInput::Message(long)),
        Millis(12_500),
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Notice(_))));
    // Garbage descriptions once connected: said at most once per 10 s.
    let unusable = |session: &mut Session, at: Millis| {
        session
            .handle(
                Input::Peer(PeerId(1), PeerInput::NegotiationFailed("x".into())),
                at,
            )
            .len()
    };
    assert_eq!(unusable(&mut session, Millis(20_000)), 1);
    assert_eq!(unusable(&mut session, Millis(25_000)), 0);
    assert_eq!(unusable(&mut session, Millis(30_000)), 1);
    assert_eq!(session.people().next().unwrap().link, Link::Connected);
}

#[test]
fn media_state_goes_to_everyone_and_comes_back_per_person() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let no_microphone = MediaState {
        audio: false,
        video: true,
        screen: false,
    };
    let effects = session.handle(Input::LocalTracks(no_microphone), Millis(2));
    assert_eq!(effects.len(), 2);
    assert!(effects.iter().all(|e| matches!(
        e,
        Effect::SendToPeer {
            message: PeerMessage::Media { audio: false, .. },
            ..
        }
    )));
    peer(
        &mut session,
        2,
        PeerInput::Message(r#"{"type":"media","audio":true,"video":false,"screen":false}"#.into()),
    );
    let media: Vec<bool> = session.people().map(|p| p.media.video).collect();
    assert_eq!(media, [true, false]);
}

#[test]
fn one_pairs_ice_restart_leaves_the_others_untouched() {
    let mut session = in_call_with(&["Bob", "Carol", "Dave"]);
    let effects = peer(&mut session, 2, PeerInput::Ice(IceState::Failed));
    assert_eq!(effects, [Effect::RestartIce { peer: PeerId(2) }]);
    assert_eq!(
        session.status().text(),
        "Connected with Bob and Dave. Connection to Carol lost; reconnecting…"
    );
    // Connecting again during the restart still reads "reconnecting…".
    peer(
        &mut session,
        2,
        PeerInput::State(ConnectionState::Connecting),
    );
    let links: Vec<Link> = session.people().map(|p| p.link.clone()).collect();
    assert_eq!(links, [Link::Connected, Link::Interrupted, Link::Connected]);
    peer(
        &mut session,
        2,
        PeerInput::State(ConnectionState::Connected),
    );
    assert_eq!(
        session.status().text(),
        "Connected with Bob, Carol and Dave."
    );
    // A short `disconnected` only restarts if it lasts: healed, its grace is over.
    assert!(peer(&mut session, 3, PeerInput::Ice(IceState::Disconnected)).is_empty());
    assert_eq!(
        deadline(&session, Timer::IceGrace(PeerId(3))),
        Some(Millis(1) + ICE_GRACE_MS)
    );
    peer(&mut session, 3, PeerInput::Ice(IceState::Other));
    assert_eq!(deadline(&session, Timer::IceGrace(PeerId(3))), None);
    peer(&mut session, 1, PeerInput::Ice(IceState::Disconnected));
    assert_eq!(
        fire(&mut session, Timer::IceGrace(PeerId(1))),
        [Effect::RestartIce { peer: PeerId(1) }]
    );
    assert_eq!(
        session.people().next().map(|p| &p.link),
        Some(&Link::Interrupted)
    );
}

/// Issue 35: with fire-and-forget timers, the first outage's grace fired 100 ms into the
/// second one, and ICE restarted then instead of after the second outage's own grace.
#[test]
fn a_disconnect_that_heals_and_comes_back_gets_a_grace_of_its_own() {
    let mut session = in_call_with(&["Bob"]);
    let ice = |session: &mut Session, state, at| {
        session.handle(Input::Peer(PeerId(1), PeerInput::Ice(state)), Millis(at))
    };
    ice(&mut session, IceState::Disconnected, 0);
    ice(&mut session, IceState::Other, 1_000);
    ice(&mut session, IceState::Disconnected, 2_900);
    // Told again while it lasts: the grace still counts from when it began.
    ice(&mut session, IceState::Disconnected, 3_500);
    assert!(session.handle(Input::Timeout, Millis(3_000)).is_empty());
    assert_eq!(
        session.people().next().map(|p| &p.link),
        Some(&Link::Connected)
    );
    assert_eq!(
        session.poll_timeout(),
        Some(Millis(5_000)),
        "the heartbeat comes first"
    );
    let effects = session.handle(Input::Timeout, Millis(5_000));
    assert_eq!(effects, [Effect::Send(ClientMessage::Ping)]);
    assert!(session.handle(Input::Timeout, Millis(5_899)).is_empty());
    let restart_at = deadline(&session, Timer::IceGrace(PeerId(1)));
    assert_eq!(restart_at, Some(Millis(5_900)));
    assert_eq!(
        session.handle(Input::Timeout, Millis(5_900)),
        [Effect::RestartIce { peer: PeerId(1) }]
    );
    // A failure restarts at once, and no grace is left to restart it again.
    ice(&mut session, IceState::Disconnected, 7_000);
    assert_eq!(
        ice(&mut session, IceState::Failed, 7_100),
        [Effect::RestartIce { peer: PeerId(1) }]
    );
    assert_eq!(deadline(&session, Timer::IceGrace(PeerId(1))), None);
}

#[test]
fn a_network_change_restarts_every_connection_at_once_and_once() {
    let mut session = in_call_with(&["Bob", "Carol", "Dave"]);
    // Carol has left: her connection is closed and not restarted.
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(2) });
    let effects = session.handle(Input::NetworkChanged, Millis(10_000));
    assert_eq!(
        effects,
        [
            Effect::RestartIce { peer: PeerId(1) },
            Effect::RestartIce { peer: PeerId(3) },
            Effect::Send(ClientMessage::Ping),
        ]
    );
    // Nobody looks interrupted: the old paths stay in use until new ones are found.
    assert_eq!(
        session.status().text(),
        "Carol left the call. Connected with Bob and Dave."
    );
    // The same change reported again (online, then the connection's change) is one.
    assert!(session
        .handle(
            Input::NetworkChanged,
            Millis(10_000) + NETWORK_SETTLE_MS - 1
        )
        .is_empty());
    // A later change is another.
    assert_eq!(
        session
            .handle(
                Input::NetworkChanged,
                Millis(10_000) + NETWORK_SETTLE_MS + 1
            )
            .len(),
        3
    );
    // Alone in the room, a change restarts nothing.
    let mut alone = started();
    server(&mut alone, joined(vec![]));
    assert_eq!(
        alone.handle(Input::NetworkChanged, Millis(1)),
        [Effect::Send(ClientMessage::Ping)]
    );
}

#[test]
fn a_resume_restores_every_pair_without_reopening_any() {
    let mut session = in_call_with(&["Bob", "Carol", "Dave"]);
    let effects = session.handle(Input::SocketClosed(1), Millis(2));
    assert!(effects.is_empty());
    assert!(deadline(&session, Timer::Reconnect).is_some());
    assert!(session.server_lost());
    let effects = fire(&mut session, Timer::Reconnect);
    assert!(session.server_lost(), "lost until the server takes us back");
    assert_eq!(
        effects,
        [
            Effect::OpenSocket { generation: 2 },
            Effect::Send(ClientMessage::Resume {
                token: "token".into(),
                fresh: false
            })
        ]
    );
    // News from the old socket is ignored from now on.
    assert!(session
        .handle(
            Input::Server(1, ServerMessage::PeerLeft { peer: PeerId(1) }),
            Millis(4)
        )
        .is_empty());
    // After a server restart Carol has not resumed yet, and Dave left while we were away:
    // his `peer_left` waited for us and follows `resumed`.
    let effects = session.handle(
        Input::Server(
            2,
            ServerMessage::Resumed {
                you: PeerId(100),
                token: String::new(),
                peers: vec![info(1, "Bob"), info(3, "Dave")],
                ice_servers: Vec::new(),
                ice_transport_policy: IceTransportPolicy::All,
                max_file_bytes: 1_000,
                upload_budget: 2_400_000,
                host: None,
                locked: false,
            },
        ),
        Millis(5),
    );
    assert!(effects.is_empty(), "every pair goes on: {effects:?}");
    assert!(!session.server_lost());
    let effects = session.handle(
        Input::Server(2, ServerMessage::PeerLeft { peer: PeerId(3) }),
        Millis(6),
    );
    assert_eq!(effects[0], Effect::ClosePeer { peer: PeerId(3) });
    assert_eq!(
        session.status().text(),
        "Dave left the call. Connected with Bob and Carol."
    );
    // Someone we did not know of arrived while we were away: they were told of us and
    // wait for our offer. Their `peer_joined`, if it comes too, changes nothing.
    let effects = session.handle(
        Input::Server(
            2,
            ServerMessage::Resumed {
                you: PeerId(100),
                token: String::new(),
                peers: vec![info(7, "Eve")],
                ice_servers: Vec::new(),
                ice_transport_policy: IceTransportPolicy::All,
                max_file_bytes: 1_000,
                upload_budget: 2_400_000,
                host: None,
                locked: false,
            },
        ),
        Millis(7),
    );
    assert_eq!(
        opened(&effects),
        [PeerId(7)],
        "we offer to the newcomer: {effects:?}"
    );
    assert!(effects.contains(&Effect::OpenPeer {
        peer: PeerId(7),
        polite: false,
        screen: false
    }));
    let effects = session.handle(
        Input::Server(
            2,
            ServerMessage::PeerJoined {
                peer: info(7, "Eve"),
                polite: false,
            },
        ),
        Millis(8),
    );
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(session.people().count(), 3);
}

#[test]
fn a_lost_seat_closes_every_pair_and_joins_again() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let effects = server(
        &mut session,
        ServerMessage::Error {
            code: ErrorCode::ResumeExpired,
            message: String::new(),
            peer: None,
        },
    );
    assert_eq!(
        effects,
        [
            Effect::KeepToken(None),
            Effect::ClosePeer { peer: PeerId(1) },
            Effect::ClosePeer { peer: PeerId(2) },
            Effect::Send(ClientMessage::Join {
                room: "room".into(),
                name: "Me".into()
            })
        ]
    );
    assert_eq!(session.status(), CallStatus::Joining);
}

fn unavailable() -> ServerMessage {
    ServerMessage::Error {
        code: ErrorCode::Unavailable,
        message: "busy".into(),
        peer: None,
    }
}

/// How long after `since` the session reconnects.
fn reconnect_after(session: &Session, since: Millis) -> u64 {
    deadline(session, Timer::Reconnect)
        .expect("a reconnect is planned")
        .since(since)
}

#[test]
fn a_busy_server_is_asked_again_with_backoff_until_it_seats_us() {
    let mut session = started();
    let mut delays = Vec::new();
    let mut now = Millis(1);
    for attempt in 1..=6u32 {
        let effects = session.handle(Input::Server(attempt, unavailable()), now);
        assert_eq!(effects[0], Effect::CloseSocket);
        delays.push(reconnect_after(&session, now));
        now = deadline(&session, Timer::Reconnect).expect("a reconnect is planned");
        assert_eq!(session.status().text(), "Server busy, retrying…");
        // A new socket, and the same join again.
        let effects = session.handle(Input::Timeout, now);
        assert_eq!(
            effects,
            [
                Effect::OpenSocket {
                    generation: attempt + 1
                },
                Effect::Send(ClientMessage::Join {
                    room: "room".into(),
                    name: "Me".into()
                })
            ]
        );
    }
    // Backoff: each delay within the jitter of its doubling, up to the cap.
    for (attempt, delay) in delays.iter().enumerate() {
        let base = reconnect_delay_ms(attempt as u32, 0.5);
        assert!(
            (base / 2..base * 3 / 2).contains(delay),
            "try {attempt}: {delay} ms"
        );
    }
    session.handle(Input::Server(7, joined(vec![info(1, "Bob")])), now);
    assert_eq!(session.status().text(), "Connecting to Bob…");
    // Seated: the next busy spell (a resume refused) starts from the first delay.
    session.handle(Input::SocketClosed(7), now);
    assert!(reconnect_after(&session, now) < RECONNECT_FIRST_MS * 3 / 2);
    fire(&mut session, Timer::Reconnect);
    let now = deadline(&session, Timer::Heartbeat).expect("the heartbeat runs");
    session.handle(Input::Server(8, unavailable()), now);
    assert!(reconnect_after(&session, now) < RECONNECT_FIRST_MS * 2 * 3 / 2);
}

#[test]
fn a_busy_server_on_resume_keeps_every_pair_and_resumes_again() {
    let mut session = in_call_with(&["Bob"]);
    session.handle(Input::SocketClosed(1), Millis(2));
    let effects = fire(&mut session, Timer::Reconnect);
    let resume = Effect::Send(ClientMessage::Resume {
        token: "token".into(),
        fresh: false,
    });
    assert_eq!(effects[1], resume);
    let effects = session.handle(Input::Server(2, unavailable()), Millis(400));
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::ClosePeer { .. })));
    reconnect_after(&session, Millis(400));
    assert_eq!(session.status().text(), "Connected with Bob.");
    let effects = fire(&mut session, Timer::Reconnect);
    assert_eq!(effects[1], resume);
}

#[test]
fn a_signal_the_server_could_not_pass_on_changes_nothing() {
    let mut session = in_call_with(&["Bob"]);
    assert!(server(&mut session, unavailable()).is_empty());
    assert_eq!(session.status().text(), "Connected with Bob.");
}

fn peer_busy(id: u64) -> ServerMessage {
    ServerMessage::Error {
        code: ErrorCode::PeerBusy,
        message: "busy".into(),
        peer: Some(PeerId(id)),
    }
}

#[test]
fn a_peer_busy_renegotiates_that_pair_after_a_pause_that_grows_until_it_connects() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let carol = Timer::PeerBusy(PeerId(2));
    // Told at `at`: the pause it started, if it started one.
    let busy = |session: &mut Session, at: Millis| {
        let effects = session.handle(Input::Server(1, peer_busy(2)), at);
        assert!(effects.is_empty(), "{effects:?}");
        deadline(session, carol).map(|end| end.since(at))
    };
    // The pause is over: what it caused, with whatever else was due (the heartbeat).
    let pause_over = |session: &mut Session| {
        let at = deadline(session, carol).expect("a pause runs");
        (session.handle(Input::Timeout, at), at)
    };
    assert_eq!(busy(&mut session, Millis(10)), Some(1_000));
    // More refusals while the pause runs change nothing: one renegotiation is enough.
    assert_eq!(busy(&mut session, Millis(500)), Some(510));
    let (effects, at) = pause_over(&mut session);
    assert_eq!(effects, [Effect::RestartIce { peer: PeerId(2) }]);
    assert_eq!(busy(&mut session, at), Some(2_000));
    let (_, at) = pause_over(&mut session);
    assert_eq!(busy(&mut session, at), Some(4_000));
    let (effects, at) = pause_over(&mut session);
    assert!(effects.contains(&Effect::RestartIce { peer: PeerId(2) }));
    // Connected again: the next refusal starts over from the first pause.
    session.handle(
        Input::Peer(PeerId(2), PeerInput::State(ConnectionState::Connected)),
        at,
    );
    assert_eq!(busy(&mut session, at), Some(1_000));
    // Bob was never touched, and the call goes on.
    assert_eq!(session.status().text(), "Connected with Bob and Carol.");
    // Someone gone: their pause goes with them. Never there: nothing to renegotiate.
    session.handle(
        Input::Server(1, ServerMessage::PeerLeft { peer: PeerId(2) }),
        at,
    );
    assert_eq!(deadline(&session, carol), None);
    assert!(session
        .handle(Input::Server(1, peer_busy(7)), at)
        .is_empty());
    assert_eq!(deadline(&session, Timer::PeerBusy(PeerId(7))), None);
}

#[test]
fn a_silent_server_is_given_up_and_pings_go_out_meanwhile() {
    let mut session = in_call_with(&["Bob"]);
    // Last heard at 1 ms: pings at 5 s and 10 s, and at 15 s it has been silent too long.
    for _ in 0..2 {
        let effects = fire(&mut session, Timer::Heartbeat);
        assert_eq!(effects, [Effect::Send(ClientMessage::Ping)]);
    }
    let effects = fire(&mut session, Timer::Heartbeat);
    assert_eq!(effects, [Effect::CloseSocket]);
    assert!(deadline(&session, Timer::Reconnect).is_some());
    assert!(session.server_lost());
    assert_eq!(session.status().text(), "Connected with Bob.");
}

#[test]
fn a_seat_taken_by_another_tab_stops_sending_and_waits_until_taken_back() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let effects = server(
        &mut session,
        ServerMessage::SeatTaken {
            token: "take back".into(),
        },
    );
    assert_eq!(
        effects,
        [
            Effect::ClosePeer { peer: PeerId(1) },
            Effect::ClosePeer { peer: PeerId(2) },
            Effect::KeepToken(None),
            Effect::CloseSocket
        ]
    );
    assert_eq!(
        session.status().text(),
        "This call is open in another tab or device."
    );
    // The server closes the socket: nothing reconnects, the heartbeat keeps quiet.
    assert!(session.handle(Input::SocketClosed(1), Millis(2)).is_empty());
    let effects = fire(&mut session, Timer::Heartbeat);
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::OpenSocket { .. })));
    // "Use here": a new socket asks for the seat as a fresh page, under a new id.
    let effects = session.handle(Input::Command(Command::TakeBack), Millis(4));
    assert_eq!(
        effects,
        [
            Effect::OpenSocket { generation: 2 },
            Effect::Send(ClientMessage::Resume {
                token: "take back".into(),
                fresh: true
            })
        ]
    );
    let effects = session.handle(Input::Server(2, joined(vec![info(1, "Bob")])), Millis(5));
    assert_eq!(effects, [Effect::KeepToken(Some("token".into()))]);
    assert_eq!(session.status().text(), "Connecting to Bob…");
    // Taking back twice, or when nothing was taken, does nothing.
    assert!(session
        .handle(Input::Command(Command::TakeBack), Millis(6))
        .is_empty());
}

#[test]
fn a_reloaded_page_asks_for_its_seat_back_as_a_fresh_page() {
    let mut session = Session::new("Me".into(), "room".into(), 7);
    session.resume_with("kept".into());
    let effects = session.start(Millis(0));
    assert_eq!(
        effects[1],
        Effect::Send(ClientMessage::Resume {
            token: "kept".into(),
            fresh: true
        })
    );
    // A token that no longer works: forgotten, and a plain join instead.
    let effects = server(
        &mut session,
        ServerMessage::Error {
            code: ErrorCode::InvalidToken,
            message: String::new(),
            peer: None,
        },
    );
    assert_eq!(
        effects,
        [
            Effect::KeepToken(None),
            Effect::Send(ClientMessage::Join {
                room: "room".into(),
                name: "Me".into()
            })
        ]
    );
    // Fresh tokens replace the kept one as they come.
    let effects = server(&mut session, ServerMessage::Token { token: "t2".into() });
    assert_eq!(effects, [Effect::KeepToken(Some("t2".into()))]);
}

#[test]
fn hanging_up_closes_everything_and_gives_the_seat_back() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let effects = session.handle(Input::Command(Command::HangUp), Millis(2));
    assert_eq!(
        effects,
        [
            Effect::ClosePeer { peer: PeerId(1) },
            Effect::ClosePeer { peer: PeerId(2) },
            Effect::Send(ClientMessage::Leave),
            Effect::KeepToken(None),
            Effect::CloseSocket,
            Effect::Stop
        ]
    );
    assert_eq!(session.status(), CallStatus::Ended);
    assert_eq!(session.poll_timeout(), None, "nothing is left to time");
    assert!(session.handle(Input::Timeout, Millis(60_000)).is_empty());
}

#[test]
fn a_full_room_ends_the_call() {
    let mut session = started();
    let effects = server(
        &mut session,
        ServerMessage::Error {
            code: ErrorCode::RoomFull,
            message: String::new(),
            peer: None,
        },
    );
    assert_eq!(
        effects,
        [Effect::KeepToken(None), Effect::CloseSocket, Effect::Stop]
    );
    assert_eq!(session.status().text(), "This room is full.");
}

#[test]
fn a_failed_first_negotiation_marks_only_that_pair() {
    let mut session = in_call_with(&["Bob"]);
    server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(2, "Carol"),
            polite: false,
        },
    );
    peer(
        &mut session,
        2,
        PeerInput::NegotiationFailed("OperationError".into()),
    );
    assert_eq!(
        session.status().text(),
        "Connected with Bob. Could not connect to Carol (OperationError)."
    );
    // A failed renegotiation of a working pair changes nothing.
    peer(&mut session, 1, PeerInput::NegotiationFailed("x".into()));
    assert_eq!(session.people().next().unwrap().link, Link::Connected);
}

/// Two newcomers seated in one instant: the server seats one first, so each pair still
/// has exactly one side that offers. Played out with the server's rule for a room of
/// five, whatever order the announcements arrive in.
#[test]
fn two_simultaneous_newcomers_still_make_one_offerer_per_pair() {
    // Bob, Carol and Dave are connected; Eve and Fay join at once, Eve seated first.
    let mut eve = started();
    server(
        &mut eve,
        joined(vec![info(1, "Bob"), info(2, "Carol"), info(3, "Dave")]),
    );
    let mut fay = started();
    server(
        &mut fay,
        joined(vec![
            info(1, "Bob"),
            info(2, "Carol"),
            info(3, "Dave"),
            info(4, "Eve"),
        ]),
    );
    // Eve hears of Fay after Fay already knows of Eve.
    let effects = server(
        &mut eve,
        ServerMessage::PeerJoined {
            peer: info(5, "Fay"),
            polite: false,
        },
    );
    assert_eq!(
        effects,
        [Effect::OpenPeer {
            peer: PeerId(5),
            polite: false,
            screen: false
        }],
        "Eve, seated first, offers to Fay"
    );
    // Fay waits for Eve's offer, and answers it politely.
    let effects = server(
        &mut fay,
        ServerMessage::Signal {
            from: PeerId(4),
            signal: offer(),
        },
    );
    assert_eq!(
        effects[0],
        Effect::OpenPeer {
            peer: PeerId(4),
            polite: true,
            screen: false
        }
    );
    let names: Vec<&str> = fay.people().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Bob", "Carol", "Dave", "Eve"]);
}

#[test]
fn reconnect_delays_double_then_cap_and_spread() {
    let middle: Vec<u64> = (0..8).map(|n| reconnect_delay_ms(n, 0.5)).collect();
    assert_eq!(middle, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    assert_eq!(reconnect_delay_ms(0, 0.0), 125);
    assert!(reconnect_delay_ms(0, 0.999) < 375);
    assert_eq!(reconnect_delay_ms(u32::MAX, 1.0), 12_000);
    assert_eq!(
        reconnect_delay_ms(3, 2.0),
        3000,
        "jitter is clamped to [0, 1]"
    );
}

#[test]
fn a_candidate_flood_is_cut_at_the_cap_and_a_new_description_starts_over() {
    let mut session = in_call_with(&["Bob"]);
    let candidate = || ServerMessage::Signal {
        from: PeerId(1),
        signal: Signal::Candidate {
            candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host".into(),
            sdp_mid: None,
            sdp_m_line_index: None,
        },
    };
    let mut applied = 0;
    let mut warnings = 0;
    for _ in 0..200 {
        for effect in server(&mut session, candidate()) {
            match effect {
                Effect::ApplySignal { .. } => applied += 1,
                Effect::Warn(_) => warnings += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!((applied, warnings), (MAX_REMOTE_CANDIDATES, 1));
    server(
        &mut session,
        ServerMessage::Signal {
            from: PeerId(1),
            signal: offer(),
        },
    );
    assert!(matches!(
        server(&mut session, candidate())[..],
        [Effect::ApplySignal { .. }]
    ));
}

/// Found by the `session` fuzz target: a second `joined` naming someone already seated,
/// then `peer_left` for them, left a copy of them behind.
#[test]
fn nobody_is_seated_twice_and_peer_left_removes_them_for_good() {
    let mut session = started();
    server(&mut session, joined(vec![info(1, "Bob")]));
    server(&mut session, joined(vec![info(1, "Bob")]));
    server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(1, "Bob"),
            polite: false,
        },
    );
    assert_eq!(session.people().count(), 1);
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(1) });
    assert_eq!(session.people().count(), 0);
    assert_eq!(
        session.status().text(),
        "Bob left the call. Waiting for someone to join."
    );
}

#[test]
fn the_host_is_who_the_server_says_and_everyone_is_told_of_a_change() {
    let mut session = in_call_with(&["Alice", "Bob"]);
    assert_eq!(session.host(), Some(PeerId(1)));
    assert!(!session.is_host());
    let effects = server(&mut session, ServerMessage::Host { peer: PeerId(2) });
    assert_eq!(effects, [Effect::Notice(Notice::NewHost("Bob".into()))]);
    let again = server(&mut session, ServerMessage::Host { peer: PeerId(2) });
    assert!(again.is_empty(), "told once");
    let effects = server(&mut session, ServerMessage::Host { peer: PeerId(100) });
    assert_eq!(effects, [Effect::Notice(Notice::YouAreHost)]);
    assert!(session.is_host());
}

#[test]
fn host_commands_go_out_only_from_the_host_and_only_about_someone_present() {
    let mut session = in_call_with(&["Alice"]);
    let command =
        |session: &mut Session, command| session.handle(Input::Command(command), Millis(2));
    assert!(command(&mut session, Command::Host(HostCommand::Remove(PeerId(1)))).is_empty());
    server(&mut session, ServerMessage::Host { peer: PeerId(100) });
    for (given, sent) in [
        (
            Command::Host(HostCommand::AskToMute(PeerId(1))),
            ClientMessage::AskToMute { peer: PeerId(1) },
        ),
        (
            Command::Host(HostCommand::MakeHost(PeerId(1))),
            ClientMessage::MakeHost { peer: PeerId(1) },
        ),
        (
            Command::Host(HostCommand::Remove(PeerId(1))),
            ClientMessage::Remove { peer: PeerId(1) },
        ),
    ] {
        assert_eq!(command(&mut session, given), [Effect::Send(sent)]);
    }
    assert!(command(&mut session, Command::Host(HostCommand::Remove(PeerId(9)))).is_empty());
}

#[test]
fn removed_by_the_host_the_call_ends_for_good_and_nobody_is_connected_again() {
    let mut session = in_call_with(&["Alice", "Bob"]);
    let effects = server(&mut session, ServerMessage::Removed { by: PeerId(1) });
    for wanted in [
        Effect::ClosePeer { peer: PeerId(1) },
        Effect::ClosePeer { peer: PeerId(2) },
        Effect::KeepToken(None),
        Effect::CloseSocket,
        Effect::Stop,
    ] {
        assert!(effects.contains(&wanted), "{wanted:?} in {effects:?}");
    }
    assert!(
        !effects.contains(&Effect::Send(ClientMessage::Leave)),
        "the seat is gone already"
    );
    assert_eq!(session.status(), CallStatus::Removed(Some("Alice".into())));
    assert_eq!(session.status().text(), "Alice removed you from the call.");
    assert!(session.handle(Input::SocketClosed(1), Millis(3)).is_empty());
    let newcomer = ServerMessage::PeerJoined {
        peer: info(3, "Carol"),
        polite: false,
    };
    assert!(server(&mut session, newcomer).is_empty());
    assert_eq!(session.poll_timeout(), None, "no reconnect, no heartbeat");
    assert!(session.handle(Input::Timeout, Millis(60_000)).is_empty());
}

#[test]
fn a_request_to_mute_names_the_host_and_a_refused_command_is_said() {
    let mut session = in_call_with(&["Alice"]);
    let asked = server(&mut session, ServerMessage::MuteRequest { by: PeerId(1) });
    assert_eq!(asked, [Effect::MuteRequest("Alice".into())]);
    let refused = server(
        &mut session,
        ServerMessage::Error {
            code: ErrorCode::NotHost,
            message: "only the host can do that".into(),
            peer: None,
        },
    );
    assert_eq!(refused, [Effect::Notice(Notice::OnlyTheHost)]);
}

#[test]
fn at_a_locked_room_we_wait_for_the_host_and_connect_to_nobody_until_let_in() {
    let mut session = started();
    let waiting = server(
        &mut session,
        ServerMessage::Waiting {
            host_name: "Alice".into(),
        },
    );
    assert!(waiting.is_empty());
    assert_eq!(session.status(), CallStatus::Knocking("Alice".into()));
    assert_eq!(session.status().text(), "Waiting for Alice to let you in…");
    // Let in: `joined` as for anyone.
    let mut joined = joined(vec![info(1, "Alice")]);
    if let ServerMessage::Joined { locked, .. } = &mut joined {
        *locked = true;
    }
    server(&mut session, joined);
    assert!(session.locked());
    assert!(matches!(session.status(), CallStatus::InCall { .. }));
}

#[test]
fn turned_away_the_call_ends_and_giving_up_tells_the_server() {
    let mut session = started();
    let waiting = ServerMessage::Waiting {
        host_name: "Alice".into(),
    };
    server(&mut session, waiting.clone());
    let denied = server(
        &mut session,
        ServerMessage::Error {
            code: ErrorCode::KnockDenied,
            message: "Alice did not let you in".into(),
            peer: None,
        },
    );
    assert!(denied.contains(&Effect::Stop));
    assert_eq!(
        session.status(),
        CallStatus::NotLetIn {
            why: ErrorCode::KnockDenied,
            host: Some("Alice".into())
        }
    );
    assert_eq!(session.status().text(), "Alice did not let you in.");
    // Someone else gives up waiting (Cancel): the server hears it.
    let mut other = started();
    server(&mut other, waiting);
    let cancel = other.handle(Input::Command(Command::HangUp), Millis(2));
    assert!(
        cancel.contains(&Effect::Send(ClientMessage::Leave)),
        "{cancel:?}"
    );
}

#[test]
fn the_host_hears_each_knock_once_and_answers_only_those_waiting() {
    let mut session = started();
    server(&mut session, joined(vec![]));
    assert!(session.is_host());
    let command =
        |session: &mut Session, command| session.handle(Input::Command(command), Millis(2));
    assert_eq!(
        command(&mut session, Command::Host(HostCommand::Lock(true))),
        [Effect::Send(ClientMessage::Lock)]
    );
    server(&mut session, ServerMessage::Locked { locked: true });
    assert!(
        command(&mut session, Command::Host(HostCommand::Lock(true))).is_empty(),
        "locked already"
    );
    let knock = ServerMessage::Knock {
        knock: KnockId(7),
        name: "Dave".into(),
    };
    assert_eq!(
        server(&mut session, knock.clone()),
        [Effect::Knocked("Dave".into())]
    );
    assert!(server(&mut session, knock).is_empty(), "heard once");
    assert_eq!(session.knocks(), [(KnockId(7), "Dave".to_owned())]);
    assert!(command(&mut session, Command::Host(HostCommand::Admit(KnockId(8)))).is_empty());
    assert_eq!(
        command(&mut session, Command::Host(HostCommand::Deny(KnockId(7)))),
        [Effect::Send(ClientMessage::Deny { knock: KnockId(7) })]
    );
    server(
        &mut session,
        ServerMessage::KnockEnded { knock: KnockId(7) },
    );
    assert!(session.knocks().is_empty());
    assert!(command(&mut session, Command::Host(HostCommand::Admit(KnockId(7)))).is_empty());
    // Not the host any more: nothing to answer with.
    server(&mut session, ServerMessage::Host { peer: PeerId(1) });
    assert!(command(&mut session, Command::Host(HostCommand::Lock(false))).is_empty());
}

#[test]
fn a_mark_of_verification_holds_while_the_code_does_and_the_page_says_when_it_goes() {
    let mut session = in_call_with(&["Bob"]);
    let verified = |session: &Session| session.people().next().is_some_and(|p| p.verified);
    let mark = Input::Command(Command::MarkVerified(PeerId(1)));
    session.handle(mark.clone(), Millis(2));
    assert!(!verified(&session), "no code read yet: nothing to mark");
    peer(&mut session, 1, PeerInput::Code("1111 2222".into()));
    session.handle(mark.clone(), Millis(2));
    assert!(verified(&session));
    assert!(peer(&mut session, 1, PeerInput::Code("1111 2222".into())).is_empty());
    assert!(verified(&session), "the same code: still verified");
    // The certificates changed (a connection made anew): the mark goes, and the page says so.
    let changed = peer(&mut session, 1, PeerInput::Code("3333 4444".into()));
    assert_eq!(changed, [Effect::Notice(Notice::CodeChanged("Bob".into()))]);
    assert!(!verified(&session));
    // Marked again, then Bob leaves: the mark goes with him (a newcomer is unverified).
    session.handle(mark, Millis(2));
    assert!(verified(&session));
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(1) });
    server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(1, "Bob"),
            polite: false,
        },
    );
    assert!(!verified(&session));
}

#[test]
fn waiting_at_the_door_we_connect_to_nobody_whatever_comes() {
    // Found by the `session` fuzz target: a `peer_joined` while waiting opened a connection.
    let mut session = started();
    server(
        &mut session,
        ServerMessage::Waiting {
            host_name: "Alice".into(),
        },
    );
    let newcomer = ServerMessage::PeerJoined {
        peer: info(4, "Dan"),
        polite: true,
    };
    assert!(opened(&server(&mut session, newcomer)).is_empty());
    let theirs = ServerMessage::Signal {
        from: PeerId(4),
        signal: offer(),
    };
    assert!(opened(&server(&mut session, theirs)).is_empty());
    assert_eq!(session.status(), CallStatus::Knocking("Alice".into()));
    // Let in, we connect as anyone does.
    server(&mut session, joined(vec![info(1, "Alice")]));
    let first = ServerMessage::Signal {
        from: PeerId(1),
        signal: offer(),
    };
    assert_eq!(opened(&server(&mut session, first)), [PeerId(1)]);
}

#[test]
fn mute_and_camera_off_disable_the_tracks_and_tell_everyone() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let effects = session.handle(Input::Command(Command::ToggleMicrophone), Millis(2));
    let off = Switches {
        microphone: false,
        camera: true,
    };
    assert_eq!(effects[0], Effect::EnableTracks(off));
    let told: Vec<_> = effects[1..]
        .iter()
        .map(|e| match e {
            Effect::SendToPeer {
                message: PeerMessage::Media { audio, video, .. },
                ..
            } => (*audio, *video),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(told, [(false, true), (false, true)]);
    assert_eq!(session.switches(), off);
    let effects = session.handle(Input::Command(Command::ToggleCamera), Millis(3));
    assert_eq!(
        effects[0],
        Effect::EnableTracks(Switches {
            microphone: false,
            camera: false
        })
    );
    assert!(effects[1..].iter().all(|e| matches!(
        e,
        Effect::SendToPeer {
            message: PeerMessage::Media {
                audio: false,
                video: false,
                ..
            },
            ..
        }
    )));
    // A shared screen goes out with the camera switched off.
    let effects = session.handle(
        Input::LocalTracks(MediaState {
            audio: true,
            video: true,
            screen: true,
        }),
        Millis(4),
    );
    assert!(effects.iter().all(|e| matches!(
        e,
        Effect::SendToPeer {
            message: PeerMessage::Media {
                audio: false,
                video: true,
                screen: true
            },
            ..
        }
    )));
}

#[test]
fn switches_turned_off_before_the_call_disable_the_tracks_once_they_are_there() {
    let mut session = Session::new("Alice".into(), "room".into(), 7);
    let off = Switches {
        microphone: false,
        camera: true,
    };
    session.with_switches(off);
    session.start(Millis(0));
    let effects = session.handle(Input::MediaReady, Millis(1));
    assert!(effects.contains(&Effect::EnableTracks(off)));
}

#[test]
fn a_file_goes_to_everyone_connected_in_arrival_order_or_to_the_one_picked() {
    let mut session = in_call_with(&["Bob", "Carol", "Dan"]);
    // Dan's connection is interrupted: he is not sent the file.
    peer(
        &mut session,
        3,
        PeerInput::State(ConnectionState::Disconnected),
    );
    let effects = session.handle(Input::Command(Command::SendFile { to: None }), Millis(2));
    assert_eq!(
        effects,
        [
            Effect::SendFile {
                peer: PeerId(1),
                transfer: 1
            },
            Effect::SendFile {
                peer: PeerId(2),
                transfer: 2
            }
        ]
    );
    let effects = session.handle(
        Input::Command(Command::SendFile {
            to: Some(PeerId(2)),
        }),
        Millis(3),
    );
    assert_eq!(
        effects,
        [Effect::SendFile {
            peer: PeerId(2),
            transfer: 3
        }]
    );
    let effects = session.handle(
        Input::Command(Command::SendFile {
            to: Some(PeerId(3)),
        }),
        Millis(4),
    );
    assert_eq!(effects, [Effect::Notice(Notice::FilesNeedAConnection)]);
}

#[test]
fn a_person_s_fifth_file_at_once_is_refused_until_one_of_theirs_ends_or_they_leave() {
    let mut session = in_call_with(&["Mallory", "Ben"]);
    let mut taken = Vec::new();
    for _ in 0..crate::protocol::file::MAX_INCOMING_TRANSFERS {
        match peer(&mut session, 1, PeerInput::FileOffered)[..] {
            [Effect::ReceiveFile {
                peer: PeerId(1),
                transfer,
            }] => taken.push(transfer),
            ref other => panic!("{other:?}"),
        }
    }
    let effects = peer(&mut session, 1, PeerInput::FileOffered);
    assert_eq!(effects[0], Effect::RefuseFile { peer: PeerId(1) });
    assert!(matches!(effects[1], Effect::Warn(_)));
    // Warned once; Ben's files are his own.
    assert_eq!(
        peer(&mut session, 1, PeerInput::FileOffered),
        [Effect::RefuseFile { peer: PeerId(1) }]
    );
    assert!(matches!(
        peer(&mut session, 2, PeerInput::FileOffered)[..],
        [Effect::ReceiveFile { .. }]
    ));
    session.handle(Input::TransferEnded(taken[0]), Millis(2));
    assert!(matches!(
        peer(&mut session, 1, PeerInput::FileOffered)[..],
        [Effect::ReceiveFile { .. }]
    ));
}

#[test]
fn a_newcomer_gets_the_shared_screen_and_a_new_camera_waits_until_sharing_stops() {
    let mut session = in_call_with(&["Bob"]);
    let sharing = MediaState {
        audio: true,
        video: true,
        screen: true,
    };
    session.handle(Input::LocalTracks(sharing), Millis(2));
    let effects = server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(7, "Zoe"),
            polite: false,
        },
    );
    assert!(effects.contains(&Effect::OpenPeer {
        peer: PeerId(7),
        polite: false,
        screen: true
    }));
    // A new camera while sharing: kept off the wire; a new microphone goes on it.
    let effects = session.handle(Input::NewTrack(TrackKind::Video), Millis(3));
    assert!(!effects.contains(&Effect::PutOnWire(TrackKind::Video)));
    let effects = session.handle(Input::NewTrack(TrackKind::Audio), Millis(3));
    assert!(effects.contains(&Effect::PutOnWire(TrackKind::Audio)));
    session.handle(
        Input::LocalTracks(MediaState {
            screen: false,
            ..sharing
        }),
        Millis(4),
    );
    let effects = session.handle(Input::NewTrack(TrackKind::Video), Millis(5));
    assert!(effects.contains(&Effect::PutOnWire(TrackKind::Video)));
}

fn from(session: &mut Session, id: u64, json: &str, at: Millis) -> Vec<Effect> {
    session.handle(Input::Peer(PeerId(id), PeerInput::Message(json.into())), at)
}

fn hand_names(session: &Session) -> Vec<String> {
    session.hands().into_iter().map(|h| h.name).collect()
}

#[test]
fn hands_show_in_the_order_they_went_up_and_a_newcomer_learns_them() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":true}"#,
        Millis(1_000),
    );
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":true}"#,
        Millis(2_000),
    );
    let effects = session.handle(Input::Command(Command::ToggleHand), Millis(3_000));
    // Ours comes after the two we saw up.
    let up = PeerMessage::Hand {
        up: true,
        for_ms: 0,
        turn: 1,
    };
    assert_eq!(
        effects,
        [
            Effect::SendToPeer {
                peer: PeerId(1),
                message: up.clone()
            },
            Effect::SendToPeer {
                peer: PeerId(2),
                message: up
            }
        ]
    );
    assert_eq!(hand_names(&session), ["Bob", "Carol", "Me"]);
    assert_eq!(session.hands()[2].who, None, "our own hand");
    // Carol's channel opens again and she tells it again: her place in the order stays.
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":true,"for_ms":0}"#,
        Millis(4_000),
    );
    assert_eq!(hand_names(&session), ["Bob", "Carol", "Me"]);
    // Dave arrives; when his channel opens he learns how long our hand has been up.
    server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(3, "Dave"),
            polite: false,
        },
    );
    let effects = session.handle(Input::Peer(PeerId(3), PeerInput::ChatOpen), Millis(5_000));
    assert!(effects.contains(&Effect::SendToPeer {
        peer: PeerId(3),
        message: PeerMessage::Hand {
            up: true,
            for_ms: 2_000,
            turn: 1
        }
    }));
    // Bob lowers his; we lower ours, and say so.
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":false}"#,
        Millis(6_000),
    );
    assert_eq!(hand_names(&session), ["Carol", "Me"]);
    let effects = session.handle(Input::Command(Command::ToggleHand), Millis(7_000));
    assert_eq!(effects.len(), 3, "told to all three: {effects:?}");
    assert_eq!(hand_names(&session), ["Carol"]);
    // Carol leaves, and her hand with her.
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(2) });
    assert!(session.hands().is_empty());
}

#[test]
fn a_newcomer_orders_hands_by_how_long_each_was_up_not_by_who_told_first() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":true,"for_ms":1000}"#,
        Millis(10_000),
    );
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":true,"for_ms":5000}"#,
        Millis(10_050),
    );
    assert_eq!(hand_names(&session), ["Bob", "Carol"]);
    // Longer than a day is not believed, and not taken.
    let effects = from(
        &mut session,
        1,
        r#"{"type":"hand","up":false,"for_ms":86400001}"#,
        Millis(11_000),
    );
    assert!(matches!(effects[..], [Effect::Warn(_)]));
    assert_eq!(hand_names(&session), ["Bob", "Carol"]);
}

#[test]
fn a_hand_raised_after_seeing_another_comes_after_it_however_late_it_is_told() {
    // Bob and Carol tell a newcomer their hands. Carol raised hers after seeing Bob's
    // (turn 2), but her message was read first and says she has been up longer: the
    // half second between the two raises was lost on the way.
    let mut session = in_call_with(&["Bob", "Carol"]);
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":true,"for_ms":900,"turn":2}"#,
        Millis(10_000),
    );
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":true,"for_ms":400,"turn":1}"#,
        Millis(10_600),
    );
    assert_eq!(hand_names(&session), ["Bob", "Carol"]);
    // Ours goes up after both.
    let effects = session.handle(Input::Command(Command::ToggleHand), Millis(11_000));
    assert!(effects.contains(&Effect::SendToPeer {
        peer: PeerId(1),
        message: PeerMessage::Hand {
            up: true,
            for_ms: 0,
            turn: 3
        }
    }));
    assert_eq!(hand_names(&session), ["Bob", "Carol", "Me"]);
    // When every hand is down, the turns start again.
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":false}"#,
        Millis(12_000),
    );
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":false}"#,
        Millis(12_000),
    );
    session.handle(Input::Command(Command::ToggleHand), Millis(12_500));
    let effects = session.handle(Input::Command(Command::ToggleHand), Millis(13_000));
    assert!(effects.contains(&Effect::SendToPeer {
        peer: PeerId(2),
        message: PeerMessage::Hand {
            up: true,
            for_ms: 0,
            turn: 1
        }
    }));
}

#[test]
fn a_held_back_hand_keeps_the_time_it_arrived() {
    // Bob flips his hand faster than it is shown; where it ends up (up) is shown when the
    // settle timer fires, as up since it arrived, not since the timer fired. Carol's,
    // raised after the held-back message arrived but before the timer, comes after.
    let mut session = in_call_with(&["Bob", "Carol"]);
    for (i, up) in [true, false, true, false, true].into_iter().enumerate() {
        let text = format!(r#"{{"type":"hand","up":{up}}}"#);
        from(&mut session, 1, &text, Millis(1_000 + i as i64));
    }
    from(
        &mut session,
        2,
        r#"{"type":"hand","up":true}"#,
        Millis(1_100),
    );
    assert_eq!(
        deadline(&session, Timer::HandSettled(PeerId(1))),
        Some(Millis(1_004) + HAND_SETTLE_MS)
    );
    run_until(&mut session, Millis(1_504));
    assert_eq!(hand_names(&session), ["Bob", "Carol"]);
}

#[test]
fn only_the_host_lowers_someone_elses_hand() {
    // Bob (1) hosts.
    let mut session = in_call_with(&["Bob", "Carol"]);
    session.handle(Input::Command(Command::ToggleHand), Millis(2));
    let effects = from(&mut session, 2, r#"{"type":"lower_hand"}"#, Millis(3));
    assert!(matches!(effects[..], [Effect::Warn(_)]), "{effects:?}");
    assert_eq!(hand_names(&session), ["Me"]);
    let dropped = session
        .dropped()
        .find(|(kind, _)| *kind == PeerMessageError::NotFromHost);
    assert_eq!(dropped, Some((PeerMessageError::NotFromHost, 1)));
    let effects = from(&mut session, 1, r#"{"type":"lower_hand"}"#, Millis(4));
    let down = PeerMessage::Hand {
        up: false,
        for_ms: 0,
        turn: 0,
    };
    assert_eq!(
        effects,
        [
            Effect::SendToPeer {
                peer: PeerId(1),
                message: down.clone()
            },
            Effect::SendToPeer {
                peer: PeerId(2),
                message: down
            },
            Effect::Notice(Notice::HandLowered("Bob".into()))
        ]
    );
    assert!(session.hands().is_empty());
    assert!(from(&mut session, 1, r#"{"type":"lower_hand"}"#, Millis(5)).is_empty());
    // As the host we ask only someone whose hand is up.
    let lower = |session: &mut Session, id| {
        session.handle(Input::Command(Command::LowerHand(PeerId(id))), Millis(6))
    };
    from(&mut session, 2, r#"{"type":"hand","up":true}"#, Millis(6));
    assert!(lower(&mut session, 2).is_empty(), "not the host yet");
    server(&mut session, ServerMessage::Host { peer: PeerId(100) });
    assert!(lower(&mut session, 1).is_empty(), "Bob's hand is down");
    assert_eq!(
        lower(&mut session, 2),
        [Effect::SendToPeer {
            peer: PeerId(2),
            message: PeerMessage::LowerHand
        }]
    );
}

#[test]
fn a_reaction_flood_shows_a_few_and_each_leaves_after_three_seconds() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    let clap = r#"{"type":"react","reaction":"clap"}"#;
    // 1,000 from Carol in one second: nothing to do but show a few.
    for i in 0..1_000 {
        assert!(from(&mut session, 2, clap, Millis(10_000 + i)).is_empty());
    }
    // One timer for all of them, set for the oldest still on screen (pushed off by
    // newer ones over the same tile, the first few went early).
    let first = deadline(&session, Timer::Reactions).expect("the reactions are timed");
    let expiry = Millis(10_000) + meeting::REACTION_SHOWN_MS;
    assert!((expiry..expiry + 10).contains(&first), "{first:?}");
    let shown: Vec<&ShownReaction> = session.reactions().collect();
    assert_eq!(shown.len(), meeting::MAX_REACTIONS_PER_TILE);
    assert!(shown
        .iter()
        .all(|r| r.from == Some(PeerId(2)) && r.name == "Carol"));
    let last_id = shown[2].id;
    assert!(
        last_id <= 7,
        "{last_id} admitted: 5 at once, then 2 a second"
    );
    // Ours goes to everyone and floats over our own tile.
    let effects = session.handle(
        Input::Command(Command::React(Reaction::Heart)),
        Millis(11_000),
    );
    assert_eq!(effects.len(), 2);
    assert_eq!(session.reactions().last().map(|r| r.from), Some(None));
    // The timer takes off what is due and runs again for the rest: ours, at 14 s.
    assert!(run_until(&mut session, Millis(13_999))
        .iter()
        .all(|e| *e == Effect::Send(ClientMessage::Ping)));
    assert_eq!(session.reactions().count(), 1);
    assert_eq!(deadline(&session, Timer::Reactions), Some(Millis(14_000)));
    run_until(&mut session, Millis(14_000));
    assert_eq!(session.reactions().count(), 0);
    assert_eq!(
        deadline(&session, Timer::Reactions),
        None,
        "nothing left to time"
    );
    // Someone leaving takes their reactions with them, and their timer.
    from(&mut session, 1, clap, Millis(20_000));
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(1) });
    assert_eq!(session.reactions().count(), 0);
    assert_eq!(deadline(&session, Timer::Reactions), None);
}

#[test]
fn everyone_is_told_who_records_a_newcomer_at_once_and_it_ends_when_they_leave() {
    let mut session = in_call_with(&["Bob", "Carol"]);
    from(
        &mut session,
        2,
        r#"{"type":"recording","on":true}"#,
        Millis(1_000),
    );
    assert_eq!(session.recording(), [Some(PeerId(2))]);
    let effects = session.handle(Input::Command(Command::Recording(true)), Millis(2_000));
    let on = PeerMessage::Recording { on: true };
    assert_eq!(
        effects,
        [
            Effect::SendToPeer {
                peer: PeerId(1),
                message: on.clone()
            },
            Effect::SendToPeer {
                peer: PeerId(2),
                message: on.clone()
            }
        ]
    );
    assert_eq!(session.recording(), [None, Some(PeerId(2))]);
    // Said once: the same again changes nothing.
    assert!(session
        .handle(Input::Command(Command::Recording(true)), Millis(2_100))
        .is_empty());
    // Dave learns it when his channel opens.
    server(
        &mut session,
        ServerMessage::PeerJoined {
            peer: info(3, "Dave"),
            polite: false,
        },
    );
    let effects = session.handle(Input::Peer(PeerId(3), PeerInput::ChatOpen), Millis(3_000));
    assert!(effects.contains(&Effect::SendToPeer {
        peer: PeerId(3),
        message: on
    }));
    // Carol leaves while recording: nobody but us records now.
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(2) });
    assert_eq!(session.recording(), [None]);
    session.handle(Input::Command(Command::Recording(false)), Millis(4_000));
    assert!(session.recording().is_empty());
}

#[test]
fn a_hand_flipped_faster_than_shown_ends_where_its_owner_left_it() {
    let mut session = in_call_with(&["Bob"]);
    let settle = Timer::HandSettled(PeerId(1));
    let mut settlings = 0;
    // 1,000 ups and downs in a second, ending up, with time passing between them.
    for i in 0..1_000 {
        let at = Millis(1_000 + i);
        run_until(&mut session, at);
        let up = i % 2 == 1;
        let json = format!(r#"{{"type":"hand","up":{up}}}"#);
        let settling = deadline(&session, settle).is_some();
        assert!(from(&mut session, 1, &json, at).is_empty());
        settlings += usize::from(!settling && deadline(&session, settle).is_some());
    }
    assert!(
        (1..=3).contains(&settlings),
        "{settlings}: at most one settling per half second"
    );
    // A few changes were shown at once; the rest waits for the timer.
    run_until(&mut session, Millis(2_500));
    assert_eq!(hand_names(&session), ["Bob"]);
    assert_eq!(deadline(&session, settle), None);
    // Later, a single change shows at once.
    from(
        &mut session,
        1,
        r#"{"type":"hand","up":false}"#,
        Millis(10_000),
    );
    assert!(session.hands().is_empty());
    // Held back, then gone: the settling goes with Bob and never fires.
    for i in 0..10 {
        from(
            &mut session,
            1,
            r#"{"type":"hand","up":true}"#,
            Millis(11_000 + i),
        );
    }
    assert!(deadline(&session, settle).is_some());
    server(&mut session, ServerMessage::PeerLeft { peer: PeerId(1) });
    assert_eq!(deadline(&session, settle), None);
}

#[test]
fn reactions_go_with_everyone_when_the_seat_is_taken_elsewhere() {
    // Found by fuzzing: a reaction outlived its sender's tile.
    let mut session = in_call_with(&["Bob"]);
    from(
        &mut session,
        1,
        r#"{"type":"react","reaction":"heart"}"#,
        Millis(1_000),
    );
    assert_eq!(session.reactions().count(), 1);
    server(
        &mut session,
        ServerMessage::SeatTaken { token: "t2".into() },
    );
    assert_eq!(session.people().count(), 0);
    assert_eq!(session.reactions().count(), 0);
}

#[test]
fn a_session_on_the_pages_early_socket_adopts_it_and_does_not_join_twice() {
    let mut session = Session::new("Me".into(), "room".into(), 7);
    let effects = session.start_on_early_socket(Millis(0));
    assert_eq!(effects[0], Effect::AdoptSocket { generation: 1 });
    // The app speaks at once, so the server holds the seat from now on like any other.
    assert_eq!(effects[1], Effect::Send(ClientMessage::Ping));
    assert!(
        !effects.iter().any(|e| matches!(
            e,
            Effect::Send(ClientMessage::Join { .. }) | Effect::OpenSocket { .. }
        )),
        "the script sent join already: {effects:?}"
    );
    session.handle(Input::MediaReady, Millis(0));
    assert_eq!(session.status(), CallStatus::Joining);
    // What the server answered the script, and Bob's offer after it, are news of that
    // socket like any other.
    server(&mut session, joined(vec![info(1, "Bob")]));
    let effects = server(
        &mut session,
        ServerMessage::Signal {
            from: PeerId(1),
            signal: offer(),
        },
    );
    assert_eq!(
        effects[..2],
        [
            Effect::OpenPeer {
                peer: PeerId(1),
                polite: true,
                screen: false
            },
            Effect::ApplySignal {
                peer: PeerId(1),
                signal: offer()
            }
        ]
    );
}

#[test]
fn an_early_socket_lost_before_the_answer_is_replaced_by_one_that_joins() {
    let mut session = Session::new("Me".into(), "room".into(), 7);
    session.start_on_early_socket(Millis(0));
    session.handle(Input::SocketClosed(1), Millis(1));
    assert_eq!(
        fire(&mut session, Timer::Reconnect),
        [
            Effect::OpenSocket { generation: 2 },
            Effect::Send(ClientMessage::Join {
                room: "room".into(),
                name: "Me".into()
            })
        ]
    );
}

#[test]
fn a_page_asking_for_its_seat_back_opens_its_own_socket_even_with_an_early_one() {
    let mut session = Session::new("Me".into(), "room".into(), 7);
    session.resume_with("token".into());
    let effects = session.start_on_early_socket(Millis(0));
    assert_eq!(effects[0], Effect::OpenSocket { generation: 1 });
    assert_eq!(
        effects[1],
        Effect::Send(ClientMessage::Resume {
            token: "token".into(),
            fresh: true
        })
    );
}
