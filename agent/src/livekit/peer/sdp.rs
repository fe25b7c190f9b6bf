//! The little SDP reading the room needs beyond what str0m does: which remote track each
//! m-line of a server offer carries.
//!
//! LiveKit reuses m-lines for new tracks, so the mapping is re-read on every offer. The
//! server's `mid_to_track_id` map is preferred; `a=msid:<PA_sid|TR_sid> <TR_sid>` is the
//! fallback.

use std::collections::HashMap;

/// One m-section of an SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `audio`, `video` or `application`.
    pub kind: String,
    /// The `a=mid` value.
    pub mid: String,
    /// Track id from `a=msid` (second token), if any.
    pub track_id: Option<String>,
    /// False when the offerer sends nothing on this m-line: rejected (port 0), `inactive`
    /// or `recvonly`.
    pub remote_sends: bool,
}

/// Parses the m-sections of `sdp`. Malformed lines are skipped: str0m already validated
/// the SDP as a whole, this only extracts labels.
pub fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut parts = rest.split_whitespace();
            let kind = parts.next().unwrap_or_default().to_owned();
            let port_open = parts.next().is_some_and(|p| p != "0");
            out.push(Section { kind, mid: String::new(), track_id: None, remote_sends: port_open });
            continue;
        }
        let Some(section) = out.last_mut() else { continue };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            section.mid = mid.trim().to_owned();
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            section.track_id = msid.split_whitespace().nth(1).map(str::to_owned);
        } else if line == "a=inactive" || line == "a=recvonly" {
            // The offerer (the server) is not sending on this m-line.
            section.remote_sends = false;
        }
    }
    out
}

/// Active audio m-lines of a server offer → remote track sid, preferring the server's map.
pub fn audio_tracks(sdp: &str, mid_to_track_id: &HashMap<String, String>) -> HashMap<String, String> {
    sections(sdp)
        .into_iter()
        .filter(|s| s.kind == "audio" && s.remote_sends && !s.mid.is_empty())
        .filter_map(|s| {
            let track = mid_to_track_id.get(&s.mid).cloned().or(s.track_id)?;
            Some((s.mid, track))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\na=msid:PA_a|TR_1 TR_1\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=inactive\r\n\
        m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:3\r\na=msid:PA_b|TR_3 TR_3\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:4\r\na=msid:PA_b|TR_4 TR_4\r\n";

    #[test]
    fn reads_mids_tracks_and_activity() {
        let s = sections(OFFER);
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].track_id.as_deref(), Some("TR_1"));
        assert!(s[0].remote_sends);
        assert!(!s[2].remote_sends, "inactive");
        assert!(!s[3].remote_sends, "port 0");
        assert_eq!(s[1].kind, "application");
    }

    #[test]
    fn only_active_audio_lines_map_to_tracks_and_the_server_map_wins() {
        let none = HashMap::new();
        let m = audio_tracks(OFFER, &none);
        assert_eq!(m.len(), 1);
        assert_eq!(m["0"], "TR_1");
        let server: HashMap<String, String> = [("0".to_string(), "TR_9".to_string())].into();
        assert_eq!(audio_tracks(OFFER, &server)["0"], "TR_9");
    }

    #[test]
    fn garbage_yields_nothing_rather_than_panicking() {
        assert!(sections("a=mid:0\r\nm=\r\nm=audio").iter().all(|s| s.mid.is_empty()));
        assert!(audio_tracks("\u{0}\u{ffff}", &HashMap::new()).is_empty());
    }
}
