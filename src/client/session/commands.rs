//! What the person asks for with the call screen's controls.

use super::on_screen::{play, show_stream};
use super::*;
use crate::call_state::Verifying;
use crate::client::recorder::Recorder;
use crate::mesh::notice::Notice;
use crate::mesh::verify::{verification_code, NoCode};
use crate::mesh::Command;

impl Session {
    pub(super) async fn on_command(&mut self, command: UiCommand) {
        match command {
            UiCommand::ToggleMicrophone => {
                self.input(Input::Command(Command::ToggleMicrophone)).await;
            }
            UiCommand::ToggleCamera => self.input(Input::Command(Command::ToggleCamera)).await,
            UiCommand::ShareScreen => self.pick_screen(),
            UiCommand::StopSharing => self.stop_sharing().await,
            UiCommand::SendFile(file) => self.send_file(file.take()).await,
            UiCommand::CancelTransfer(id) => {
                if let Some(transfer) = self.transfers.remove(&id) {
                    transfer.channel.close();
                }
            }
            UiCommand::SetSound(sound) => self.set_sound(sound).await,
            UiCommand::StartRecording => {
                if self.recorder.is_some() {
                    return;
                }
                // The same stream (a reference, not a copy): its tracks change in place.
                let local = self.media.stream.clone();
                match Recorder::start(local, self.machine.room(), self.view) {
                    Ok(recorder) => {
                        self.recorder = Some(recorder);
                        self.input(Input::Command(Command::Recording(true))).await;
                    }
                    Err(why) => self
                        .view
                        .notice
                        .set(Some(Notice::RecordingFailed(why.to_string()))),
                }
            }
            UiCommand::PauseRecording => self.recorder.iter().for_each(Recorder::pause),
            UiCommand::ResumeRecording => self.recorder.iter().for_each(Recorder::resume),
            UiCommand::StopRecording => {
                if let Some(recorder) = self.recorder.take() {
                    recorder.stop();
                    self.input(Input::Command(Command::Recording(false))).await;
                }
            }
            UiCommand::UseDevice(kind, id) => {
                let events = self.events.clone();
                let sound = self.view.sound.get_untracked();
                spawn_local(async move {
                    let opened = media::open_device(kind, &id, sound).await;
                    let _ = events.unbounded_send(Event::DeviceOpened(kind, opened));
                });
            }
            UiCommand::ShowVideo(id, video) => {
                let video = video.take();
                if let Some(remote) = self.peers.get(&id) {
                    show_stream(&video, remote.peer.remote_stream(), self.view);
                }
                self.tiles.insert(id, video);
            }
            UiCommand::PlayAudio => {
                self.view.needs_play.set(false);
                for video in self.tiles.values() {
                    play(video.clone(), self.view);
                }
            }
            UiCommand::SendChat(text) => self.input(Input::Command(Command::SendChat(text))).await,
            UiCommand::HangUp => self.input(Input::Command(Command::HangUp)).await,
            UiCommand::Leave => self.input(Input::Command(Command::Leave)).await,
            UiCommand::TakeBack => self.input(Input::Command(Command::TakeBack)).await,
            UiCommand::Verify(id) => self.show_code(id).await,
            UiCommand::MarkVerified(id) => {
                self.input(Input::Command(Command::MarkVerified(id))).await;
                self.view.verifying.set(None);
            }
            UiCommand::ToggleHand => self.input(Input::Command(Command::ToggleHand)).await,
            UiCommand::LowerHand(id) => self.input(Input::Command(Command::LowerHand(id))).await,
            UiCommand::React(reaction) => {
                self.input(Input::Command(Command::React(reaction))).await;
            }
            UiCommand::Host(command) => self.input(Input::Command(Command::Host(command))).await,
        }
    }

    /// Shows the verification code of the connection to `id`, and tells the machine (a
    /// mark of verification holds only while the code does).
    pub(super) async fn show_code(&mut self, id: PeerId) {
        let name = self
            .view
            .people
            .with_untracked(|people| people.iter().find(|p| p.id == id).map(|p| p.name.clone()))
            .unwrap_or_default();
        let code = self.code_of(id);
        self.view.verifying.set(Some(Verifying {
            id,
            name,
            code: code.clone(),
        }));
        if let Ok(code) = code {
            self.input(Input::Peer(id, PeerInput::Code(code))).await;
        }
    }

    /// The verification code of the connection to `id`, from the descriptions it was
    /// negotiated with.
    pub(super) fn code_of(&self, id: PeerId) -> Result<String, NoCode> {
        let remote = self.peers.get(&id).ok_or(NoCode::NotConnected)?;
        let pc = remote.peer.connection();
        match (
            pc.current_local_description(),
            pc.current_remote_description(),
        ) {
            (Some(local), Some(remote)) => verification_code(&local.sdp(), &remote.sdp())
                .map(|code| code.to_string())
                .map_err(NoCode::Unreadable),
            _ => Err(NoCode::SettingUp),
        }
    }
}
