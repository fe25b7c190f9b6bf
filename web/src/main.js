// The playground: joins the dev room with a token from the page's own server, shows the
// agent's state (its `lk.agent.state` attribute), live captions of both sides (text streams on
// `lk.transcription`), sends typed messages (`sendText` on `lk.chat`) and plays the agent.
//
// Query options: `?mic=off` starts with the microphone off (the tests open it themselves).
// `window.playground` exposes what a test needs to read (states seen, captions, audio stats).
import { Room, RoomEvent, Track } from 'livekit-client';

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $('connection'),
  orb: $('orb'),
  state: $('agent-state'),
  mic: $('mic'),
  audio: $('audio'),
  captions: $('captions'),
  chat: $('chat'),
  message: $('message'),
  identity: $('identity'),
};
const params = new URLSearchParams(location.search);
const room = new Room({ adaptiveStream: false, dynacast: false });
/** Every agent state shown, in order (for tests). */
const states = [];
/** Caption entries by segment (or stream) id. */
const entries = new Map();
let micOn = false;
let dispatchTimer;

window.playground = {
  room,
  states,
  captions: () =>
    [...ui.captions.children].map((li) => ({
      speaker: li.dataset.speaker,
      final: li.dataset.final === 'true',
      text: li.querySelector('.text').textContent,
    })),
  audioStats,
};

function agentParticipant() {
  return [...room.remoteParticipants.values()].find((p) => p.isAgent);
}

function showAgentState() {
  const agent = agentParticipant();
  const state = agent ? agent.attributes['lk.agent.state'] || 'initializing' : 'absent';
  ui.state.textContent = agent ? state : 'waiting for the agent';
  ui.state.dataset.state = state;
  ui.orb.dataset.state = state;
  if (states[states.length - 1] !== state) states.push(state);
}

function setConnection(state, text) {
  ui.connection.dataset.connection = state;
  ui.connection.textContent = text;
}

function speakerOf(identity) {
  if (identity === room.localParticipant.identity) return ['user', 'You'];
  const p = room.remoteParticipants.get(identity);
  if (!p || p.isAgent) return ['agent', 'Agent'];
  return ['other', p.name || identity];
}

/** The caption bubble for `key`, created at the end of the list if new. */
function entry(key, identity) {
  let li = entries.get(key);
  if (!li) {
    const [speaker, label] = speakerOf(identity);
    li = document.createElement('li');
    li.dataset.speaker = speaker;
    li.dataset.final = 'false';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = label;
    const text = document.createElement('span');
    text.className = 'text';
    li.append(who, text);
    ui.captions.append(li);
    entries.set(key, li);
  }
  return li;
}

function setText(li, text, final) {
  li.querySelector('.text').textContent = text;
  li.dataset.final = String(final);
  ui.captions.scrollTop = ui.captions.scrollHeight;
}

/** Reads a text stream into a bubble as it arrives; a segment id keeps one bubble per reply. */
async function showStream(reader, participantInfo) {
  const key = reader.info.attributes?.['lk.segment_id'] || reader.info.id;
  const li = entry(key, participantInfo.identity);
  let text = '';
  try {
    for await (const chunk of reader) {
      text += chunk;
      setText(li, text, false);
    }
  } catch (e) {
    // A stream closed with an error reason still shows what it carried.
    console.debug('text stream ended abnormally', e);
  }
  setText(li, text, true);
}

async function setMic(on) {
  micOn = on;
  ui.mic.setAttribute('aria-pressed', String(on));
  ui.mic.textContent = on ? 'microphone on' : 'microphone off';
  // preConnectBuffer: what is said before the agent listens is sent to it once it joins.
  await room.localParticipant.setMicrophoneEnabled(on, undefined, { preConnectBuffer: true });
}

async function audioStats() {
  const agent = agentParticipant();
  for (const pub of agent ? agent.audioTrackPublications.values() : []) {
    const receiver = pub.track?.receiver;
    if (!receiver) continue;
    for (const s of (await receiver.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        return {
          packetsReceived: s.packetsReceived,
          bytesReceived: s.bytesReceived,
          totalAudioEnergy: s.totalAudioEnergy,
          totalSamplesReceived: s.totalSamplesReceived,
        };
      }
    }
  }
  return null;
}

/** Asks the page's server to send an agent if none is here (e.g. the room outlived one). */
function ensureAgentSoon(delayMs) {
  clearTimeout(dispatchTimer);
  dispatchTimer = setTimeout(async () => {
    if (agentParticipant() || room.state !== 'connected') return;
    try {
      await fetch('dispatch', { method: 'POST' });
    } catch (e) {
      console.warn('dispatch request failed', e);
    }
  }, delayMs);
}

room
  .on(RoomEvent.ParticipantConnected, showAgentState)
  .on(RoomEvent.ParticipantDisconnected, (p) => {
    showAgentState();
    if (p.isAgent) ensureAgentSoon(1500);
  })
  .on(RoomEvent.ParticipantAttributesChanged, showAgentState)
  .on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === Track.Kind.Audio) document.body.append(track.attach());
  })
  .on(RoomEvent.AudioPlaybackStatusChanged, () => {
    ui.audio.hidden = room.canPlaybackAudio;
  })
  .on(RoomEvent.Reconnecting, () => setConnection('connecting', 'reconnecting…'))
  .on(RoomEvent.Reconnected, () => setConnection('connected', 'connected'))
  .on(RoomEvent.Disconnected, () => {
    setConnection('disconnected', 'disconnected — reload to join again');
    showAgentState();
  });
room.registerTextStreamHandler('lk.transcription', showStream);
room.registerTextStreamHandler('lk.chat', showStream);

ui.mic.addEventListener('click', () => setMic(!micOn).catch((e) => console.error('microphone', e)));
ui.audio.addEventListener('click', () => room.startAudio());
ui.chat.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (!text || room.state !== 'connected') return;
  ui.message.value = '';
  const info = await room.localParticipant.sendText(text, { topic: 'lk.chat' });
  setText(entry(info.id, room.localParticipant.identity), text, true);
});

async function main() {
  showAgentState();
  const response = await fetch('token', { method: 'POST' });
  if (!response.ok) throw new Error(`token: ${response.status} ${await response.text()}`);
  const { url, token, identity, room: name } = await response.json();
  await room.connect(url, token);
  setConnection('connected', 'connected');
  ui.identity.textContent = `room ${name} · you are ${identity}`;
  ui.audio.hidden = room.canPlaybackAudio;
  showAgentState();
  ensureAgentSoon(4000);
  if (params.get('mic') !== 'off') await setMic(true);
}

main().catch((e) => {
  console.error(e);
  setConnection('disconnected', `cannot join: ${e.message}`);
});
