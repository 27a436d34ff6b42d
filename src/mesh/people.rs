//! The other people in the call, one connection each: their connection's news, what
//! they send on the chat channel, and who is seated, connected and closed.

use super::*;

impl Session {
    pub(super) fn on_peer(&mut self, id: PeerId, event: PeerInput, now: Millis) {
        // News from a connection already closed is ignored.
        let noticed = self.unusable_noticed;
        let Some(remote) = self.remote(id).filter(|r| r.open) else {
            return;
        };
        match event {
            PeerInput::State(state) => {
                let was = remote.person.link.clone();
                remote.person.link = match (state, &was) {
                    (ConnectionState::Connected, _) => Link::Connected,
                    (ConnectionState::Disconnected | ConnectionState::Failed, _) => {
                        Link::Interrupted
                    }
                    // Restarting: still "reconnecting…" until it connects again.
                    (ConnectionState::Connecting, Link::Interrupted) => Link::Interrupted,
                    (ConnectionState::Connecting, _) => Link::Connecting,
                };
                if remote.person.link == Link::Connected {
                    remote.busy = 0;
                }
                if (was == Link::Connected) != (remote.person.link == Link::Connected) {
                    self.plan_upload(now);
                }
            }
            PeerInput::Ice(state) => {
                remote.ice = state;
                if state == IceState::Failed {
                    remote.person.link = Link::Interrupted;
                }
                self.time_ice_grace(id, state, now);
            }
            PeerInput::ChatOpen => {
                remote.person.chat_open = true;
                // What we send, whether our hand is up and whether we record: a newcomer
                // learns it all here.
                self.announce_to(id);
                self.effects.push(Effect::SendToPeer {
                    peer: id,
                    message: self.hand_message(now),
                });
                self.effects.push(Effect::SendToPeer {
                    peer: id,
                    message: PeerMessage::Recording { on: self.recording },
                });
            }
            PeerInput::ChatClosed => remote.person.chat_open = false,
            PeerInput::Message(text) => self.on_peer_message(id, &text, now),
            PeerInput::Unreadable(why) => self.drop_message(id, why, now),
            PeerInput::LocalSignal(signal) => {
                self.effects
                    .push(Effect::Send(ClientMessage::Signal { to: id, signal }));
            }
            PeerInput::FileOffered => self.on_file_offered(id),
            PeerInput::Code(code) => {
                let changed = remote
                    .verified_code
                    .as_ref()
                    .is_some_and(|verified| *verified != code);
                remote.code = Some(code);
                if changed {
                    remote.verified_code = None;
                    remote.person.verified = false;
                    let notice = Notice::CodeChanged(remote.person.name.clone());
                    self.effects.push(Effect::Notice(notice));
                }
            }
            PeerInput::NegotiationFailed(why) => {
                // Before the first connection nothing works without it; once connected,
                // a failed renegotiation leaves the pair as it was, and the person is
                // told (not too often: a peer can send garbage on purpose).
                if matches!(remote.person.link, Link::Awaiting | Link::Connecting) {
                    remote.person.link = Link::Failed(why);
                } else if noticed.is_none_or(|at| now.since(at) >= NOTICE_EVERY_MS) {
                    let notice = Notice::Unusable(remote.person.name.clone());
                    self.unusable_noticed = Some(now);
                    self.effects.push(Effect::Notice(notice));
                }
            }
        }
    }

    /// `id`'s ICE is `state` now: a `disconnected` has a grace before the restart, which
    /// ends (cancelled) if it heals or fails; a failure restarts at once.
    fn time_ice_grace(&mut self, id: PeerId, state: IceState, now: Millis) {
        let grace = Timer::IceGrace(id);
        match state {
            IceState::Failed => {
                self.timers.cancel(grace);
                self.effects.push(Effect::RestartIce { peer: id });
            }
            // Often a blip that heals by itself; restart only if it lasts, counted from when
            // it began (told again, it keeps its deadline).
            IceState::Disconnected if !self.timers.is_set(grace) => {
                self.timers.set(grace, now + ICE_GRACE_MS)
            }
            IceState::Disconnected => {}
            // Healed: this outage's grace is over; a new one gets a grace of its own.
            IceState::Other => self.timers.cancel(grace),
        }
    }

    /// `id` opened a channel to send us a file: taken, or refused past the transfers one
    /// person may send at once.
    fn on_file_offered(&mut self, id: PeerId) {
        if self.transfers.may_receive(id) {
            let transfer = self.transfers.start(id, true);
            self.effects
                .push(Effect::ReceiveFile { peer: id, transfer });
        } else {
            self.effects.push(Effect::RefuseFile { peer: id });
            if !std::mem::replace(&mut self.refused_files_noted, true) {
                self.effects.push(Effect::Warn(
                    "refused a file beyond the transfers one person may send at once".into(),
                ));
            }
        }
    }

    /// A frame from `id`'s chat channel: decoded, limited, and shown or dropped.
    fn on_peer_message(&mut self, id: PeerId, text: &str, now: Millis) {
        let host = self.host;
        let Some(remote) = self.remote(id) else {
            return;
        };
        match PeerMessage::decode(text) {
            Ok(PeerMessage::Chat { text }) => match remote.chat_gate.admit(now) {
                Admit::Show => {
                    let from = remote.person.name.clone();
                    self.show_chat(from, text, false);
                }
                Admit::Drop { notify } => {
                    if notify {
                        let notice = Notice::ChatTooFast(remote.person.name.clone());
                        self.effects.push(Effect::Notice(notice));
                    }
                }
            },
            // Hints only: the screen shows the latest.
            Ok(PeerMessage::Media {
                audio,
                video,
                screen,
            }) => {
                remote.person.media = MediaState {
                    audio,
                    video,
                    screen,
                }
            }
            Ok(PeerMessage::Hand { up, for_ms, turn }) => {
                let told = up.then(|| UpHand::told(now, for_ms, turn));
                if remote.hand_pending.is_some() {
                    // Held back: only the latest counts, shown when the timer fires.
                    remote.hand_pending = Some(told);
                } else if remote.hand_gate.admit(now) == Admit::Show {
                    set_hand(remote, told);
                } else {
                    remote.hand_pending = Some(told);
                    self.timers
                        .set(Timer::HandSettled(id), now + HAND_SETTLE_MS);
                }
            }
            Ok(PeerMessage::Recording { on }) => remote.person.recording = on,
            Ok(PeerMessage::React { reaction }) => {
                if remote.reaction_gate.admit(now) == Admit::Show {
                    let name = remote.person.name.clone();
                    self.show_reaction(Some(id), name, reaction, now);
                }
            }
            Ok(PeerMessage::LowerHand) if host == Some(id) => {
                let host = remote.person.name.clone();
                if self.hand.take().is_some() {
                    self.tell_hand(now);
                    self.effects.push(Effect::Notice(Notice::HandLowered(host)));
                }
            }
            Ok(PeerMessage::LowerHand) => self.drop_message(id, PeerMessageError::NotFromHost, now),
            Err(why) => self.drop_message(id, why, now),
        }
    }

    /// A signal past a limit was dropped: counted, and warned about once.
    pub(super) fn drop_signal(&mut self) {
        self.dropped_candidates += 1;
        if self.dropped_candidates == 1 {
            self.effects.push(Effect::Warn(format!(
                "ignored ICE candidates past {MAX_REMOTE_CANDIDATES} from one peer (counted from now on)"
            )));
        }
    }

    /// A message from `id` was dropped: counted, warned about once per kind, and an
    /// over-long line is mentioned to the person (at most every 10 s per peer).
    pub(super) fn drop_message(&mut self, id: PeerId, why: PeerMessageError, now: Millis) {
        let kind = PeerMessageError::ALL
            .iter()
            .position(|k| *k == why)
            .unwrap_or(0);
        self.dropped[kind] += 1;
        if self.dropped[kind] == 1 {
            self.effects.push(Effect::Warn(format!(
                "ignored {why} from a peer (counted from now on)"
            )));
        }
        let too_long = matches!(
            why,
            PeerMessageError::TooLarge | PeerMessageError::ChatTooLong
        );
        if let Some(remote) = self.remote(id).filter(|_| too_long) {
            if remote
                .too_long_noticed
                .is_none_or(|at| now.since(at) >= NOTICE_EVERY_MS)
            {
                remote.too_long_noticed = Some(now);
                let notice = Notice::TooLong(remote.person.name.clone());
                self.effects.push(Effect::Notice(notice));
            }
        }
    }

    /// Adds someone to the room (not yet connected), once: a second `joined` or `resumed`
    /// naming them again changes nothing.
    pub(super) fn seat(&mut self, peer: PeerInfo, polite: bool) {
        if self.remote(peer.id).is_some() {
            return;
        }
        self.left = None;
        self.remotes.push(Remote {
            person: Person {
                id: peer.id,
                name: peer.name,
                link: Link::Awaiting,
                media: MediaState::default(),
                chat_open: false,
                verified: false,
                recording: false,
            },
            polite,
            open: false,
            ice: IceState::Other,
            chat_gate: RateGate::chat(),
            reaction_gate: RateGate::reactions(),
            hand: None,
            hand_gate: RateGate::hand_changes(),
            hand_pending: None,
            too_long_noticed: None,
            candidates: 0,
            busy: 0,
            busy_pending: false,
            code: None,
            verified_code: None,
        });
    }

    pub(super) fn open(&mut self, id: PeerId) {
        if let Some(remote) = self.remote(id) {
            remote.open = true;
            remote.person.link = Link::Connecting;
            let polite = remote.polite;
            let screen = self.tracks.screen;
            self.effects.push(Effect::OpenPeer {
                peer: id,
                polite,
                screen,
            });
        }
    }

    /// Takes someone out of the room, closing our connection to them; returns their name.
    pub(super) fn remove(&mut self, id: PeerId) -> Option<String> {
        let index = self.remotes.iter().position(|r| r.person.id == id)?;
        let remote = self.remotes.remove(index);
        let name = remote.person.name.clone();
        self.drop_remote(remote);
        Some(name)
    }

    /// Someone no longer in the room (to us): their reactions leave the screen, their
    /// timers stop, and our connection to them closes.
    pub(super) fn drop_remote(&mut self, remote: Remote) {
        let id = remote.person.id;
        self.reactions.forget(id);
        self.time_reactions();
        self.timers.cancel_for(id);
        if remote.open {
            self.close_peer(id);
        }
    }

    /// Closes our connection to `peer`, and the transfers on it with it.
    pub(super) fn close_peer(&mut self, peer: PeerId) {
        self.transfers.forget(peer);
        self.effects.push(Effect::ClosePeer { peer });
    }

    /// Tells everyone whose chat channel is open what we send.
    pub(super) fn announce(&mut self) {
        let ids: Vec<PeerId> = self.chat_ready().collect();
        for peer in ids {
            self.announce_to(peer);
        }
    }

    /// Tells one person what we send, so they can show "muted" or a placeholder.
    pub(super) fn announce_to(&mut self, peer: PeerId) {
        let MediaState {
            audio,
            video,
            screen,
        } = self.switches.sending(self.tracks);
        self.effects.push(Effect::SendToPeer {
            peer,
            message: PeerMessage::Media {
                audio,
                video,
                screen,
            },
        });
    }

    /// Tells everyone whose chat channel is open whether our hand is up.
    pub(super) fn tell_hand(&mut self, now: Millis) {
        for peer in self.chat_ready().collect::<Vec<_>>() {
            self.effects.push(Effect::SendToPeer {
                peer,
                message: self.hand_message(now),
            });
        }
    }

    pub(super) fn hand_message(&self, now: Millis) -> PeerMessage {
        PeerMessage::Hand {
            up: self.hand.is_some(),
            for_ms: self.hand.map_or(0, |hand| meeting::up_for(hand.since, now)),
            turn: self.hand.map_or(0, |hand| hand.turn),
        }
    }

    pub(super) fn show_reaction(
        &mut self,
        from: Option<PeerId>,
        name: String,
        reaction: Reaction,
        now: Millis,
    ) {
        self.reactions.show(from, name, reaction, now);
        self.time_reactions();
    }

    pub(super) fn show_chat(&mut self, from: String, text: String, mine: bool) {
        self.chat_lines += 1;
        self.effects.push(Effect::ShowChat(ChatLine {
            id: self.chat_lines,
            from,
            text,
            mine,
        }));
    }

    /// Someone's name, for a sentence ("Alice removed you…"), if they are here.
    pub(super) fn name_of(&mut self, id: PeerId) -> Option<String> {
        self.remote(id).map(|r| r.person.name.clone())
    }
}
