//! Who is in the room and which of their audio tracks arrive on which m-line (sans-IO).
//!
//! Three inputs change the picture: participant snapshots/updates from signalling, and the
//! mid → track map of each subscriber offer. After each input the registry reconciles what
//! *should* be subscribed (an active audio m-line whose track belongs to a known remote
//! participant) with what *is*, and returns the differences as [`Change`]s for the room to
//! turn into events, decoders and streams.
//!
//! Only participants a user can be are tracked ([`is_user_kind`]: standard clients, SIP
//! callers, ingress streams, connectors). Agents (another voice agent in the room) and egress
//! recorders are ignored: no events, no decoded audio, no data from them — two agents that
//! listened to each other would answer each other forever. A participant that plays a user
//! (a load generator, a test client) listens to everyone instead ([`Listen::Everyone`]).

use std::collections::{HashMap, HashSet};

use livekit_protocol as proto;

/// A difference the room must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A remote participant appeared.
    Joined {
        /// Participant identity.
        identity: String,
        /// Display name.
        name: String,
    },
    /// A remote participant left.
    Left {
        /// Participant identity.
        identity: String,
    },
    /// A remote track was muted or unmuted.
    Muted {
        /// Owner's identity.
        identity: String,
        /// Track sid.
        track_sid: String,
        /// New state.
        muted: bool,
    },
    /// Audio for `track_sid` now arrives on `mid`.
    Subscribe {
        /// Subscriber-PC m-line.
        mid: String,
        /// Track sid.
        track_sid: String,
        /// Owner's identity.
        identity: String,
    },
    /// `mid` no longer carries `track_sid`.
    Unsubscribe {
        /// Subscriber-PC m-line.
        mid: String,
        /// Track sid.
        track_sid: String,
        /// Owner's identity.
        identity: String,
    },
}

/// Whether participants of this kind (`ParticipantInfo.kind`) are users the agent serves:
/// STANDARD, SIP, INGRESS and CONNECTOR. AGENT, EGRESS, BRIDGE and unknown kinds are not.
pub fn is_user_kind(kind: i32) -> bool {
    use proto::participant_info::Kind;
    matches!(Kind::try_from(kind), Ok(Kind::Standard | Kind::Sip | Kind::Ingress | Kind::Connector))
}

/// Whom this participant listens to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Listen {
    /// Users only ([`is_user_kind`]): what an agent does.
    #[default]
    Users,
    /// Every remote participant, agents included: what a user's front end does.
    Everyone,
}

#[derive(Debug, Clone)]
struct Participant {
    identity: String,
    version: u32,
    /// track sid → (is audio, muted)
    tracks: HashMap<String, (bool, bool)>,
    /// Audio tracks whose front end sends pre-connect audio (`TF_PRECONNECT_BUFFER`).
    preconnect: HashSet<String>,
}

/// The registry.
#[derive(Debug, Default)]
pub struct Registry {
    listen: Listen,
    local_sid: String,
    participants: HashMap<String, Participant>,
    offered: HashMap<String, String>,
    subscribed: HashMap<String, (String, String)>,
    /// Sids of participants present but not listened to, so each is logged once.
    ignored: HashSet<String>,
}

impl Registry {
    /// A registry that tracks the participants `listen` selects.
    pub fn new(listen: Listen) -> Self {
        Self { listen, ..Self::default() }
    }

    /// Replaces the participant list with a full snapshot (JoinResponse), e.g. after a
    /// reconnect: those missing from it have left.
    pub fn snapshot(&mut self, local_sid: &str, others: &[proto::ParticipantInfo]) -> Vec<Change> {
        self.local_sid = local_sid.to_owned();
        let mut changes = Vec::new();
        let present: Vec<&str> = others.iter().map(|p| p.sid.as_str()).collect();
        let gone: Vec<String> =
            self.participants.keys().filter(|sid| !present.contains(&sid.as_str())).cloned().collect();
        for sid in gone {
            if let Some(p) = self.participants.remove(&sid) {
                changes.push(Change::Left { identity: p.identity });
            }
        }
        self.ignored.retain(|sid| present.contains(&sid.as_str()));
        // A snapshot is authoritative: reset versions so it is not ignored as stale.
        for p in self.participants.values_mut() {
            p.version = 0;
        }
        changes.extend(self.update(others));
        ordered(changes)
    }

    /// Applies a ParticipantUpdate.
    pub fn update(&mut self, infos: &[proto::ParticipantInfo]) -> Vec<Change> {
        let mut changes = Vec::new();
        for info in infos {
            if info.sid == self.local_sid || info.sid.is_empty() {
                continue;
            }
            if info.state == proto::participant_info::State::Disconnected as i32 {
                if let Some(p) = self.participants.remove(&info.sid) {
                    changes.push(Change::Left { identity: p.identity });
                }
                self.ignored.remove(&info.sid);
                continue;
            }
            if self.listen == Listen::Users && !is_user_kind(info.kind) {
                if self.ignored.insert(info.sid.clone()) {
                    let kind = proto::participant_info::Kind::try_from(info.kind)
                        .map_or("unknown", |k| k.as_str_name());
                    tracing::info!(identity = %info.identity, kind, "not listening to a participant of this kind");
                }
                continue;
            }
            let tracks: HashMap<String, (bool, bool)> = info
                .tracks
                .iter()
                .map(|t| (t.sid.clone(), (t.r#type == proto::TrackType::Audio as i32, t.muted)))
                .collect();
            let feature = proto::AudioTrackFeature::TfPreconnectBuffer as i32;
            let preconnect: HashSet<String> = info
                .tracks
                .iter()
                .filter(|t| t.audio_features.contains(&feature))
                .map(|t| t.sid.clone())
                .collect();
            match self.participants.get_mut(&info.sid) {
                Some(p) if info.version != 0 && info.version < p.version => {}
                Some(p) => {
                    for (sid, (_, muted)) in &tracks {
                        if let Some((_, was)) = p.tracks.get(sid)
                            && was != muted
                        {
                            changes.push(Change::Muted {
                                identity: p.identity.clone(),
                                track_sid: sid.clone(),
                                muted: *muted,
                            });
                        }
                    }
                    p.tracks = tracks;
                    p.preconnect = preconnect;
                    p.version = info.version;
                }
                None => {
                    changes.push(Change::Joined { identity: info.identity.clone(), name: info.name.clone() });
                    self.participants.insert(
                        info.sid.clone(),
                        Participant {
                            identity: info.identity.clone(),
                            version: info.version,
                            tracks,
                            preconnect,
                        },
                    );
                }
            }
        }
        changes.extend(self.reconcile());
        ordered(changes)
    }

    /// Applies the audio mid → track map of a new subscriber offer.
    pub fn set_offered(&mut self, offered: HashMap<String, String>) -> Vec<Change> {
        self.offered = offered;
        self.reconcile()
    }

    /// Forgets all media (the PeerConnections are gone): unsubscribes everything.
    pub fn clear_media(&mut self) -> Vec<Change> {
        self.set_offered(HashMap::new())
    }

    /// Who owns the track subscribed on `mid`.
    pub fn subscription(&self, mid: &str) -> Option<(&str, &str)> {
        self.subscribed.get(mid).map(|(t, i)| (t.as_str(), i.as_str()))
    }

    /// Identities of the remote participants the agent serves (users, not other agents).
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.participants.values().map(|p| p.identity.as_str())
    }

    /// Whether `identity` is a user the agent serves (data from anyone else is dropped).
    pub fn is_user(&self, identity: &str) -> bool {
        self.participants.values().any(|p| p.identity == identity)
    }

    /// Whether `track_sid`'s front end sends pre-connect audio for it.
    pub fn has_preconnect(&self, track_sid: &str) -> bool {
        self.participants.values().any(|p| p.preconnect.contains(track_sid))
    }

    fn owner_of_audio(&self, track_sid: &str) -> Option<&str> {
        self.participants.values().find_map(|p| match p.tracks.get(track_sid) {
            Some((true, _)) => Some(p.identity.as_str()),
            _ => None,
        })
    }

    fn reconcile(&mut self) -> Vec<Change> {
        let desired: HashMap<String, (String, String)> = self
            .offered
            .iter()
            .filter_map(|(mid, track)| {
                let owner = self.owner_of_audio(track)?;
                Some((mid.clone(), (track.clone(), owner.to_owned())))
            })
            .collect();
        let mut changes = Vec::new();
        let mut mids: Vec<&String> = self.subscribed.keys().collect();
        mids.sort();
        for mid in mids {
            let current = &self.subscribed[mid];
            if desired.get(mid) != Some(current) {
                changes.push(Change::Unsubscribe {
                    mid: mid.clone(),
                    track_sid: current.0.clone(),
                    identity: current.1.clone(),
                });
            }
        }
        let mut mids: Vec<&String> = desired.keys().collect();
        mids.sort();
        for mid in mids {
            let wanted = &desired[mid];
            if self.subscribed.get(mid) != Some(wanted) {
                changes.push(Change::Subscribe {
                    mid: mid.clone(),
                    track_sid: wanted.0.clone(),
                    identity: wanted.1.clone(),
                });
            }
        }
        self.subscribed = desired;
        changes
    }
}

/// Streams end before their owner leaves; owners join before their streams start.
fn ordered(mut changes: Vec<Change>) -> Vec<Change> {
    changes.sort_by_key(|c| match c {
        Change::Unsubscribe { .. } => 0,
        Change::Subscribe { .. } => 2,
        _ => 1,
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(sid: &str, identity: &str, tracks: &[(&str, bool)]) -> proto::ParticipantInfo {
        proto::ParticipantInfo {
            sid: sid.into(),
            identity: identity.into(),
            state: proto::participant_info::State::Active as i32,
            tracks: tracks
                .iter()
                .map(|(t, muted)| proto::TrackInfo {
                    sid: (*t).into(),
                    r#type: proto::TrackType::Audio as i32,
                    muted: *muted,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn offered(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(m, t)| (m.to_string(), t.to_string())).collect()
    }

    #[test]
    fn join_then_offer_subscribes_and_skips_ourselves() {
        let mut r = Registry::default();
        let ch = r.snapshot(
            "PA_me",
            &[participant("PA_me", "agent", &[]), participant("PA_u", "user", &[("TR_1", false)])],
        );
        assert_eq!(ch, vec![Change::Joined { identity: "user".into(), name: "".into() }]);
        let ch = r.set_offered(offered(&[("0", "TR_1")]));
        assert_eq!(
            ch,
            vec![Change::Subscribe { mid: "0".into(), track_sid: "TR_1".into(), identity: "user".into() }]
        );
        assert_eq!(r.subscription("0"), Some(("TR_1", "user")));
    }

    #[test]
    fn offer_before_participant_update_subscribes_once_the_owner_is_known() {
        let mut r = Registry::default();
        r.snapshot("PA_me", &[]);
        assert!(r.set_offered(offered(&[("0", "TR_1")])).is_empty());
        let ch = r.update(&[participant("PA_u", "user", &[("TR_1", false)])]);
        assert_eq!(ch.len(), 2);
        assert!(matches!(&ch[1], Change::Subscribe { mid, .. } if mid == "0"));
    }

    #[test]
    fn reused_mline_unsubscribes_old_track_first() {
        let mut r = Registry::default();
        r.snapshot("PA_me", &[participant("PA_u", "u", &[("TR_1", false), ("TR_2", false)])]);
        r.set_offered(offered(&[("0", "TR_1")]));
        let ch = r.set_offered(offered(&[("0", "TR_2")]));
        assert!(matches!(&ch[0], Change::Unsubscribe { track_sid, .. } if track_sid == "TR_1"));
        assert!(matches!(&ch[1], Change::Subscribe { track_sid, .. } if track_sid == "TR_2"));
    }

    #[test]
    fn mute_leave_and_stale_versions() {
        let mut r = Registry::default();
        let mut u = participant("PA_u", "u", &[("TR_1", false)]);
        u.version = 3;
        r.snapshot("PA_me", &[u.clone()]);
        r.set_offered(offered(&[("0", "TR_1")]));
        let mut muted = participant("PA_u", "u", &[("TR_1", true)]);
        muted.version = 4;
        assert_eq!(
            r.update(&[muted]),
            vec![Change::Muted { identity: "u".into(), track_sid: "TR_1".into(), muted: true }]
        );
        // An older update arriving late is ignored.
        assert!(r.update(&[u]).is_empty());
        let mut gone = participant("PA_u", "u", &[]);
        gone.state = proto::participant_info::State::Disconnected as i32;
        let ch = r.update(&[gone]);
        assert!(matches!(&ch[0], Change::Unsubscribe { .. }));
        assert_eq!(ch[1], Change::Left { identity: "u".into() });
        assert_eq!(r.identities().count(), 0);
    }

    #[test]
    fn agents_and_egress_are_not_listened_to() {
        use proto::participant_info::Kind;
        let mut r = Registry::default();
        let with_kind = |sid: &str, id: &str, track: &str, kind: Kind| proto::ParticipantInfo {
            kind: kind as i32,
            ..participant(sid, id, &[(track, false)])
        };
        let ch = r.snapshot(
            "PA_me",
            &[
                with_kind("PA_a", "agent-2", "TR_a", Kind::Agent),
                with_kind("PA_e", "recorder", "TR_e", Kind::Egress),
                with_kind("PA_s", "caller", "TR_s", Kind::Sip),
            ],
        );
        assert_eq!(ch, vec![Change::Joined { identity: "caller".into(), name: "".into() }]);
        let ch = r.set_offered(offered(&[("0", "TR_a"), ("1", "TR_e"), ("2", "TR_s")]));
        assert_eq!(
            ch,
            vec![Change::Subscribe { mid: "2".into(), track_sid: "TR_s".into(), identity: "caller".into() }]
        );
        assert!(r.is_user("caller") && !r.is_user("agent-2") && !r.is_user("recorder"));
        for kind in [Kind::Standard, Kind::Sip, Kind::Ingress, Kind::Connector] {
            assert!(is_user_kind(kind as i32), "{kind:?}");
        }
        for kind in [Kind::Agent, Kind::Egress, Kind::Bridge] {
            assert!(!is_user_kind(kind as i32), "{kind:?}");
        }
        assert!(!is_user_kind(99));
        // A participant playing a user listens to the agent.
        let mut everyone = Registry::new(Listen::Everyone);
        let ch = everyone.snapshot("PA_me", &[with_kind("PA_a", "agent-2", "TR_a", Kind::Agent)]);
        assert_eq!(ch, vec![Change::Joined { identity: "agent-2".into(), name: "".into() }]);
        // An agent leaving is no event either.
        let mut gone = with_kind("PA_a", "agent-2", "TR_a", Kind::Agent);
        gone.state = proto::participant_info::State::Disconnected as i32;
        assert!(r.update(&[gone]).is_empty());
    }

    #[test]
    fn snapshot_after_reconnect_reports_who_left_meanwhile() {
        let mut r = Registry::default();
        r.snapshot("PA_me", &[participant("PA_a", "a", &[]), participant("PA_b", "b", &[])]);
        r.set_offered(offered(&[]));
        let ch = r.snapshot("PA_me2", &[participant("PA_b", "b", &[])]);
        assert_eq!(ch, vec![Change::Left { identity: "a".into() }]);
        assert!(r.clear_media().is_empty());
    }
}
