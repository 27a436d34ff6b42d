//! What the person asks for: chat, hang up, the switches, hands and reactions, files, and
//! the host's commands.

use super::*;

impl Session {
    pub(super) fn on_command(&mut self, command: Command, now: Millis) {
        match command {
            Command::SendChat(text) => self.send_chat(text),
            Command::HangUp => self.finish(CallStatus::Ended),
            Command::SendFile { to } => self.send_file(to),
            Command::ToggleMicrophone | Command::ToggleCamera => {
                if matches!(command, Command::ToggleMicrophone) {
                    self.switches.microphone = !self.switches.microphone;
                } else {
                    self.switches.camera = !self.switches.camera;
                }
                self.effects.push(Effect::EnableTracks(self.switches));
                self.announce();
            }
            Command::ToggleHand => self.toggle_hand(now),
            Command::LowerHand(peer) => {
                let up = self
                    .remote(peer)
                    .is_some_and(|r| r.hand.is_some() && r.person.chat_open);
                if self.is_host() && up {
                    self.effects.push(Effect::SendToPeer {
                        peer,
                        message: PeerMessage::LowerHand,
                    });
                }
            }
            Command::Recording(on) => {
                if std::mem::replace(&mut self.recording, on) != on {
                    for peer in self.chat_ready().collect::<Vec<_>>() {
                        self.effects.push(Effect::SendToPeer {
                            peer,
                            message: PeerMessage::Recording { on },
                        });
                    }
                }
            }
            Command::React(reaction) => {
                if self.reaction_gate.admit(now) == Admit::Show {
                    for peer in self.chat_ready().collect::<Vec<_>>() {
                        self.effects.push(Effect::SendToPeer {
                            peer,
                            message: PeerMessage::React { reaction },
                        });
                    }
                    self.show_reaction(None, self.own_name(), reaction, now);
                }
            }
            Command::TakeBack if self.link.elsewhere => {
                self.link.elsewhere = false;
                self.outcome = None;
                self.link.fresh = true;
                self.link.reconnects = 0;
                self.connect(now);
            }
            Command::TakeBack => {}
            Command::MarkVerified(id) => {
                if let Some(remote) = self.remote(id) {
                    if let Some(code) = remote.code.clone() {
                        remote.verified_code = Some(code);
                        remote.person.verified = true;
                    }
                }
            }
            Command::Host(command) => self.host_command(command),
            Command::Leave => {
                let status = self.status();
                self.finish(status);
            }
        }
    }

    /// A line of chat, to everyone whose channel is open (and shown here, if anyone gets it).
    fn send_chat(&mut self, text: String) {
        let ready: Vec<PeerId> = self.chat_ready().collect();
        if ready.is_empty() {
            return;
        }
        for peer in ready {
            self.effects.push(Effect::SendToPeer {
                peer,
                message: PeerMessage::Chat { text: text.clone() },
            });
        }
        self.show_chat(self.user.clone(), text, true);
    }

    /// The file the browser holds, to `to` or to everyone connected.
    fn send_file(&mut self, to: Option<PeerId>) {
        // In the order people arrived, so the progress rows read like the tiles.
        let to: Vec<PeerId> = self
            .remotes
            .iter()
            .filter(|r| r.person.link == Link::Connected)
            .map(|r| r.person.id)
            .filter(|id| to.is_none_or(|to| to == *id))
            .collect();
        if to.is_empty() {
            self.effects
                .push(Effect::Notice(Notice::FilesNeedAConnection));
        }
        for peer in to {
            let transfer = self.transfers.start(peer, false);
            self.effects.push(Effect::SendFile { peer, transfer });
        }
    }

    /// This person's hand goes up (after every hand up) or down, and everyone is told.
    fn toggle_hand(&mut self, now: Millis) {
        self.hand = match self.hand {
            Some(_) => None,
            None => Some(UpHand {
                turn: meeting::next_turn(self.remotes.iter().filter_map(|r| r.hand)),
                since: now,
            }),
        };
        self.tell_hand(now);
    }

    /// Sends a host command, if we host the room, the server can hear us, and it is about
    /// someone present, a knock that waits, or a lock that changes (the buttons are the
    /// host's; anything else has nothing to do).
    pub(super) fn host_command(&mut self, command: HostCommand) {
        if !(self.is_host() && self.link.socket_open) {
            return;
        }
        let applies = match command {
            HostCommand::MakeHost(peer)
            | HostCommand::Remove(peer)
            | HostCommand::AskToMute(peer) => self.remote(peer).is_some(),
            HostCommand::Lock(lock) => lock != self.locked,
            HostCommand::Admit(knock) | HostCommand::Deny(knock) => {
                self.knocks.iter().any(|(id, _)| *id == knock)
            }
        };
        if applies {
            self.effects.push(Effect::Send(command.message()));
        }
    }
}
