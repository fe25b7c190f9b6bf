#!/usr/bin/env python3
"""A real LiveKit client (PyPI `livekit`, libwebrtc inside) that plays the human in tests.

Subcommands (all print one JSON object on stdout, logs go to stderr):

  create-room  --room NAME [--agents A,B] [--dispatch-agent A --dispatch-metadata M]
                                         create a room through the server API (this is what
                                         triggers automatic agent dispatch, or dispatches
                                         the named agents)
  delete-room  --room NAME               delete a room (the agent sees the room close)
  list-participants --room NAME          identities in a room
  remove-participant --room NAME --identity ID
                                         remove a participant (the server tells it to leave)
  scenario     --room NAME               join, publish a tone, mute, unmute, unpublish, leave
                                         (pauses between steps), to exercise room events
  echo         --room NAME --wav IN --out OUT
               join, wait for the agent's audio track, publish IN at real-time pace,
               record what the agent plays back into OUT (48 kHz mono s16), optionally send
               a reliable data packet and report what comes back.

  converse     --room NAME --say Q1.wav [--say Q2.wav …]
               join, wait for the agent's track, then ask each question (48 kHz mono WAV)
               at real-time pace: the next one once the agent has answered and gone quiet
               (--quiet-secs), or --barge-after SECS after the agent's answer starts
               (barge-in); a question with no answer within --answer-timeout ends the
               conversation, unless --continue-unanswered. Records the agent's audio as talk spurts and every text stream
               (lk.transcription, lk.chat); --leave-after SECS leaves that long after the
               agent's last answer starts instead of waiting for it to end;
               --chat-answers accepts a reply sent as text on lk.chat (no audio) as the
               answer ("chat_answer": its arrival time). Each question reports its
               start, end (last frame sent) and speech_end (last loud frame sent).
               --record-answers PREFIX writes what the agent played after each question
               (until the next one starts) to PREFIX-<i>.wav (48 kHz mono s16).
               --handshake DIR: writes DIR/answered-<i> once answer i is over (or missing)
               and waits for DIR/go-<i> before asking question i > 0, so a test can act
               between turns (kill a provider, restart it).

  frontend     --room NAME
               what a LiveKit front end does besides talking: join, publish a microphone, watch
               the agent's attributes (lk.agent.state), send a typed message on lk.chat, the
               same in the legacy chat packet (and one marked ignoreLegacy), a --big-text-bytes
               text stream, a text stream that never ends, and --preconnect-secs of a 24 kHz
               tone as pre-connect audio; stays --hold seconds; reports the attribute history.

               --type TEXT asks a typed question (lk.chat) after the spoken ones, answered
               like them; --big-text-bytes N and --never-ending send a huge typed message
               and one that never ends first; --open-streams N has a second participant
               (IDENTITY-flood) open N lk.chat streams that never end. "agents" reports each
               agent's attributes as they changed.

  create-dispatch --room NAME --agent-name NAME
               dispatch the named agent into the room (explicit dispatch)

  converse-many --room PREFIX --rooms N --say Q.wav …
               converse in N rooms at once from one process (rooms PREFIX-0 …, created
               here); {"rooms": [one converse result per room]}.

Common options: --url ws://127.0.0.1:PORT --api-key KEY --api-secret SECRET.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import wave

import numpy as np
from livekit import api, rtc

SAMPLE_RATE = 48000
FRAME_MS = 10
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def http_url(url: str) -> str:
    if url.startswith("ws://"):
        return "http://" + url[len("ws://"):]
    if url.startswith("wss://"):
        return "https://" + url[len("wss://"):]
    return url


def read_wav_48k_mono(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(f"{path}: need 48 kHz mono s16 (use sox to convert)")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def write_wav_48k_mono(path: str, samples: np.ndarray) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype(np.int16).tobytes())


async def publish_paced(source, samples: np.ndarray, frame_ms: int = FRAME_MS) -> tuple:
    """Captures `samples` in `frame_ms` frames at real-time pace (frame i at t0 + i*frame_ms);
    returns (t0, the moment the last frame was captured)."""
    frame_samples = SAMPLE_RATE * frame_ms // 1000
    t0 = time.monotonic()
    n_frames = (len(samples) + frame_samples - 1) // frame_samples
    padded = np.zeros(n_frames * frame_samples, dtype=np.int16)
    padded[: len(samples)] = samples
    for i in range(n_frames):
        frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, frame_samples)
        np.frombuffer(frame.data, dtype=np.int16)[:] = padded[i * frame_samples:(i + 1) * frame_samples]
        await source.capture_frame(frame)
        delay = t0 + (i + 1) * frame_ms / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    return t0, time.monotonic()


async def create_room(args) -> dict:
    async with api.LiveKitAPI(http_url(args.url), args.api_key, args.api_secret) as lk:
        # Named agents are dispatched explicitly (and then no automatic dispatch happens); the
        # one given with --dispatch-agent carries metadata (as CreateDispatch does).
        agents = [api.RoomAgentDispatch(agent_name=a) for a in args.agents.split(",") if a]
        if args.dispatch_agent:
            agents.append(api.RoomAgentDispatch(agent_name=args.dispatch_agent,
                                                metadata=args.dispatch_metadata))
        room = await lk.room.create_room(
            api.CreateRoomRequest(name=args.room, empty_timeout=args.empty_timeout,
                                  departure_timeout=args.departure_timeout, agents=agents))
        return {"room": room.name, "sid": room.sid}


async def create_dispatch(args) -> dict:
    async with api.LiveKitAPI(http_url(args.url), args.api_key, args.api_secret) as lk:
        d = await lk.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=args.agent_name, room=args.room))
        return {"dispatch": d.id, "agent_name": d.agent_name}


async def delete_room(args) -> dict:
    async with api.LiveKitAPI(http_url(args.url), args.api_key, args.api_secret) as lk:
        await lk.room.delete_room(api.DeleteRoomRequest(room=args.room))
        return {"deleted": args.room}


async def list_participants(args) -> dict:
    async with api.LiveKitAPI(http_url(args.url), args.api_key, args.api_secret) as lk:
        res = await lk.room.list_participants(api.ListParticipantsRequest(room=args.room))
        return {"identities": sorted(p.identity for p in res.participants)}


async def remove_participant(args) -> dict:
    async with api.LiveKitAPI(http_url(args.url), args.api_key, args.api_secret) as lk:
        await lk.room.remove_participant(api.RoomParticipantIdentity(room=args.room, identity=args.identity))
        return {"removed": args.identity}


async def scenario(args) -> dict:
    room = rtc.Room()
    await room.connect(args.url, user_token(args), rtc.RoomOptions(auto_subscribe=True))
    steps = []
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    pub = await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    steps.append("published")

    async def tone(seconds: float):
        t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
        t0 = time.monotonic()
        for i in range(int(seconds * 1000 / FRAME_MS)):
            frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, FRAME_SAMPLES)
            phase = i * FRAME_SAMPLES / SAMPLE_RATE
            np.frombuffer(frame.data, dtype=np.int16)[:] = (6000 * np.sin(2 * np.pi * 440 * (t + phase))).astype(np.int16)
            await source.capture_frame(frame)
            delay = t0 + (i + 1) * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    await tone(args.step_secs)
    track.mute()
    steps.append("muted")
    await asyncio.sleep(args.step_secs)
    track.unmute()
    steps.append("unmuted")
    await tone(args.step_secs)
    await room.local_participant.unpublish_track(pub.sid)
    steps.append("unpublished")
    await asyncio.sleep(args.step_secs)
    await room.disconnect()
    steps.append("left")
    return {"steps": steps, "track_sid": pub.sid}


def user_token(args) -> str:
    return (
        api.AccessToken(args.api_key, args.api_secret)
        .with_identity(args.identity)
        .with_name(args.identity)
        .with_grants(api.VideoGrants(room_join=True, room=args.room))
        .to_jwt()
    )


async def echo(args) -> dict:
    sent = read_wav_48k_mono(args.wav)
    if args.repeat > 1:
        sent = np.tile(sent, args.repeat)
    room = rtc.Room()
    agent_track: asyncio.Future = asyncio.get_running_loop().create_future()
    data_in: list = []

    @room.on("track_subscribed")
    def on_track(track, publication, participant):
        log(f"subscribed to {participant.identity}/{publication.sid} kind={track.kind}")
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.identity.startswith(args.agent_prefix):
            if not agent_track.done():
                agent_track.set_result((track, participant.identity))

    @room.on("data_received")
    def on_data(packet: rtc.DataPacket):
        who = packet.participant.identity if packet.participant else ""
        data_in.append({"from": who, "topic": packet.topic or "",
                        "payload": packet.data.decode("utf-8", "replace"),
                        "t": time.monotonic()})

    opts = rtc.RoomOptions(auto_subscribe=True)
    if args.two_pc:
        opts.single_peer_connection = False
    t_connect = time.monotonic()
    await room.connect(args.url, user_token(args), opts)
    log(f"connected to {args.room} as {args.identity}")

    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))

    track_in, agent_identity = await asyncio.wait_for(agent_track, args.agent_timeout)
    t_agent_track = time.monotonic()
    stream = rtc.AudioStream.from_track(track=track_in, sample_rate=SAMPLE_RATE, num_channels=1)

    received: list = []  # (arrival time, samples)

    async def record():
        async for ev in stream:
            f = ev.frame
            received.append((time.monotonic(), np.frombuffer(f.data, dtype=np.int16).copy()))

    rec_task = asyncio.create_task(record())

    # Give the agent's subscriber side a moment to be ready before the first word.
    await asyncio.sleep(args.lead_in)

    if args.send_data:
        await room.local_participant.publish_data(args.send_data.encode(), reliable=True,
                                                  topic="lk-test")

    t0, t_sent_end = await publish_paced(source, sent)

    await asyncio.sleep(args.tail)
    rec_task.cancel()
    try:
        await rec_task
    except asyncio.CancelledError:
        pass
    await stream.aclose()
    await room.disconnect()

    if received:
        samples = np.concatenate([s for _, s in received])
    else:
        samples = np.zeros(0, dtype=np.int16)
    write_wav_48k_mono(args.out, samples)

    # Arrival time of the first received frame whose level is clearly above silence, and
    # the send time of the first sent frame above the same threshold.
    thresh = args.onset_threshold
    t_recv_onset = None
    for t, s in received:
        if s.size and np.sqrt(np.mean(s.astype(np.float64) ** 2)) > thresh:
            t_recv_onset = t
            break
    t_send_onset = None
    for i in range((len(sent) + FRAME_SAMPLES - 1) // FRAME_SAMPLES):
        # The frame as published: a short last frame was padded with zeros.
        s = sent[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES].astype(np.float64)
        if np.sqrt(np.sum(s ** 2) / FRAME_SAMPLES) > thresh:
            t_send_onset = t0 + i * FRAME_MS / 1000
            break

    return {
        "agent_identity": agent_identity,
        "connect_to_agent_track_s": t_agent_track - t_connect,
        "sent_samples": int(len(sent)),
        "sent_secs": (t_sent_end - t0),
        "received_samples": int(samples.size),
        "recv_onset_minus_send_onset_s": (t_recv_onset - t_send_onset)
        if (t_recv_onset is not None and t_send_onset is not None) else None,
        "data": data_in,
    }


def speech_len(samples: np.ndarray, threshold: float) -> float:
    """Seconds from the start of `samples` to the end of its last loud 10 ms window (the real
    end of speech, before any trailing silence in the file)."""
    n = len(samples) // FRAME_SAMPLES
    if n == 0:
        return 0.0
    frames = samples[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    loud = np.nonzero(np.sqrt(np.mean(frames ** 2, axis=1)) > threshold)[0]
    return float(loud[-1] + 1) * FRAME_MS / 1000 if loud.size else 0.0


async def converse_many(args) -> dict:
    """`converse` in --rooms N rooms at once from this one process (rooms ROOM-0 …, users
    IDENTITY-0 …), each room created first; starts are spread over --stagger seconds each."""
    async def one(i):
        ns = argparse.Namespace(**vars(args))
        ns.room, ns.identity = f"{args.room}-{i}", f"{args.identity}-{i}"
        if args.record_answers:  # one set of answer files per room
            ns.record_answers = f"{args.record_answers}-{ns.room}"
        await create_room(ns)
        await asyncio.sleep(i * args.stagger)
        try:
            result = await converse(ns)
        except Exception as e:  # one failed room is reported, the others go on
            result = {"error": repr(e)}
        result["room"] = ns.room
        return result

    return {"rooms": await asyncio.gather(*(one(i) for i in range(args.rooms)))}


async def converse(args) -> dict:
    # Larger frames (--frame-ms) let one process drive many rooms.
    frame_ms = args.frame_ms
    frame_samples = SAMPLE_RATE * frame_ms // 1000
    questions = [read_wav_48k_mono(w) for w in args.say]
    room = rtc.Room()
    loop = asyncio.get_running_loop()
    agent_track: asyncio.Future = loop.create_future()
    texts: list = []
    pending = set()

    @room.on("track_subscribed")
    def on_track(track, publication, participant):
        if track.kind == rtc.TrackKind.KIND_AUDIO and participant.identity.startswith(args.agent_prefix):
            if not agent_track.done():
                agent_track.set_result((track, participant.identity))

    async def read_stream(reader, who):
        info = reader.info
        header = dict(info.attributes or {})  # as the header said (the trailer may add to it)
        chunks = []  # arrival times of the chunks
        text = ""
        try:
            async for chunk in reader:
                chunks.append(time.monotonic())
                text += chunk
            status = "complete"
        except Exception as e:  # an interrupted stream still says what it carried
            status = f"error: {e}"
        texts.append({"topic": info.topic, "from": who, "attributes": dict(reader.info.attributes or {}),
                      "header_attributes": header, "chunks": chunks,
                      "text": text, "status": status, "t": time.monotonic()})

    def on_text(reader, participant_identity):
        if participant_identity == f"{args.identity}-flood":
            return  # our own --open-streams participant: not what the test is about
        task = asyncio.ensure_future(read_stream(reader, participant_identity))
        pending.add(task)
        task.add_done_callback(pending.discard)

    room.register_text_stream_handler("lk.transcription", on_text)
    room.register_text_stream_handler("lk.chat", on_text)

    # Every agent's attributes as they change (lk.agent.state, lk.agent.name).
    agents: dict = {}

    def note_agent(participant):
        if participant.identity.startswith(args.agent_prefix):
            agents.setdefault(participant.identity, []).append(
                {"t": time.monotonic(), "attributes": dict(participant.attributes)})

    room.on("participant_connected", note_agent)
    room.on("participant_attributes_changed", lambda changed, p: note_agent(p))

    await room.connect(args.url, user_token(args), rtc.RoomOptions(auto_subscribe=True))
    for p in room.remote_participants.values():
        note_agent(p)
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    track_in, agent_identity = await asyncio.wait_for(agent_track, args.agent_timeout)
    frames = {} if frame_ms == FRAME_MS else {"frame_size_ms": frame_ms}
    stream = rtc.AudioStream.from_track(track=track_in, sample_rate=SAMPLE_RATE, num_channels=1, **frames)

    # Talk spurts of the agent: [start, end] of frames above the threshold, gaps < 0.3 s merged.
    spurts: list = []
    last_loud = [0.0]

    # (arrival time, samples) of every agent frame, kept only when answers are to be written.
    received: list = []

    async def record():
        async for ev in stream:
            s = np.frombuffer(ev.frame.data, dtype=np.int16)
            now = time.monotonic()
            if args.record_answers:
                received.append((now, s.copy()))
            if s.size and np.sqrt(np.mean(s.astype(np.float64) ** 2)) > args.onset_threshold:
                if spurts and now - spurts[-1][1] < 0.3:
                    spurts[-1][1] = now
                else:
                    spurts.append([now, now])
                last_loud[0] = now

    rec_task = asyncio.create_task(record())
    await asyncio.sleep(args.lead_in)

    async def speak(samples):
        return await publish_paced(source, samples, frame_ms)

    async def wait_answer_start(after, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if spurts and spurts[-1][0] > after:
                return spurts[-1][0]
            await asyncio.sleep(0.02)
        return None

    async def wait_chat(after, limit):
        # A reply sent as text (the agent's speech synthesis is down) instead of audio.
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if spurts and spurts[-1][0] > after:
                return None
            chat = [t for t in texts if t["topic"] == "lk.chat" and t["t"] > after]
            if chat:
                return chat[0]["t"]
            await asyncio.sleep(0.02)
        return None

    async def wait_quiet(after, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            now = time.monotonic()
            if last_loud[0] > after and now - last_loud[0] >= args.quiet_secs:
                return True
            await asyncio.sleep(0.05)
        return False

    # Keep the microphone open with silence between questions (a real mic never stops).
    silence_on = [True]

    async def silence_feeder():
        while True:
            if silence_on[0]:
                frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, frame_samples)
                await source.capture_frame(frame)
            await asyncio.sleep(frame_ms / 1000)

    feeder = asyncio.create_task(silence_feeder())
    asked = []
    async def handshake_go(i):
        if not args.handshake or i == 0:
            return
        go = os.path.join(args.handshake, f"go-{i}")
        deadline = time.monotonic() + args.handshake_timeout
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                raise SystemExit(f"no {go} within {args.handshake_timeout} s")
            await asyncio.sleep(0.05)

    def handshake_answered(i):
        if args.handshake:
            open(os.path.join(args.handshake, f"answered-{i}"), "w").close()

    lp = room.local_participant
    if args.big_text_bytes > 0:
        # A huge typed message and one that never ends, before talking normally.
        await lp.send_text("y" * args.big_text_bytes, topic="lk.chat")
    if args.never_ending:
        never = await lp.stream_text(topic="lk.chat")
        await never.write("this message never ends")
    flood = await open_streams(args) if args.open_streams > 0 else None
    # Typed messages come after the spoken questions, each answered like one.
    typed = [None] * len(questions) + list(args.type)
    for i, q in enumerate(questions + [None] * len(args.type)):
        await handshake_go(i)
        if q is None:
            t0 = time.monotonic()
            await lp.send_text(typed[i], topic="lk.chat")
            t1 = time.monotonic()
            asked.append({"start": t0, "end": t1, "speech_end": t1, "typed": typed[i]})
        else:
            silence_on[0] = False
            t0, t1 = await speak(q)
            silence_on[0] = True
            asked.append({"start": t0, "end": t1, "speech_end": t0 + speech_len(q, args.onset_threshold)})
        if args.chat_answers:
            # Whichever comes first: the agent's voice, or its reply as text on lk.chat.
            audio = asyncio.ensure_future(wait_answer_start(t1 - 0.2, args.answer_timeout))
            chat = asyncio.ensure_future(wait_chat(t1 - 0.2, args.answer_timeout))
            await asyncio.wait([audio, chat], return_when=asyncio.FIRST_COMPLETED)
            chat_at = chat.result() if chat.done() else None
            if chat_at is None:
                chat.cancel()
                start = await audio
            else:
                audio.cancel()
                start = None
            asked[-1]["chat_answer"] = chat_at
            asked[-1]["answer_start"] = start
            if start is None and asked[-1]["chat_answer"] is not None:
                await asyncio.sleep(args.quiet_secs)
                handshake_answered(i)
                continue
        else:
            start = await wait_answer_start(t1 - 0.2, args.answer_timeout)
            asked[-1]["answer_start"] = start
        if start is None:
            handshake_answered(i)
            if args.continue_unanswered:
                continue
            break
        last = i == len(questions) + len(args.type) - 1
        if last and args.leave_after is not None:
            await asyncio.sleep(args.leave_after)
            break
        if not last and args.barge_after is not None:
            await asyncio.sleep(args.barge_after)
            continue
        await wait_quiet(start, args.answer_timeout)
        handshake_answered(i)
    await asyncio.sleep(args.tail)
    feeder.cancel()
    rec_task.cancel()
    for t in (feeder, rec_task):
        try:
            await t
        except asyncio.CancelledError:
            pass
    await stream.aclose()
    await room.disconnect()
    if flood is not None:
        await flood[0].disconnect()
    answer_wavs = []
    if args.record_answers:
        for i, q in enumerate(asked):
            until = asked[i + 1]["start"] if i + 1 < len(asked) else float("inf")
            parts = [s for t, s in received if q["end"] <= t < until]
            path = f"{args.record_answers}-{i}.wav"
            write_wav_48k_mono(path, np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16))
            answer_wavs.append(path)
    return {"agent_identity": agent_identity, "identity": args.identity, "questions": asked,
            "spurts": spurts, "texts": texts, "answer_wavs": answer_wavs, "agents": agents,
            "flood": flood[1] if flood else None}


async def open_streams(args):
    """A second participant (IDENTITY-flood) opens --open-streams lk.chat text streams that
    never finish (a header and one chunk each) and stays; returns its room and what it sent."""
    ns = argparse.Namespace(**vars(args))
    ns.identity = f"{args.identity}-flood"
    room = rtc.Room()
    await room.connect(args.url, user_token(ns), rtc.RoomOptions(auto_subscribe=False))
    t0 = time.monotonic()
    writers = []
    for i in range(args.open_streams):
        w = await room.local_participant.stream_text(topic="lk.chat")
        await w.write(f"open stream {i} never ends")
        writers.append(w)
    log(f"{args.open_streams} open streams in {time.monotonic() - t0:.1f} s")
    return room, {"identity": ns.identity, "streams": len(writers), "secs": time.monotonic() - t0}


async def frontend(args) -> dict:
    room = rtc.Room()
    loop = asyncio.get_running_loop()
    agent_seen: asyncio.Future = loop.create_future()
    history: list = []  # (t, attributes) of the agent, as they change

    def note_agent(participant):
        if participant.identity.startswith(args.agent_prefix):
            history.append({"t": time.monotonic(), "attributes": dict(participant.attributes)})
            if not agent_seen.done():
                agent_seen.set_result(participant)

    room.on("participant_connected", note_agent)
    room.on("participant_attributes_changed", lambda changed, p: note_agent(p))
    await room.connect(args.url, user_token(args), rtc.RoomOptions(auto_subscribe=True))
    for p in room.remote_participants.values():
        note_agent(p)
    source = rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    pub = await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    agent = await asyncio.wait_for(agent_seen, args.agent_timeout)
    kind = rtc.ParticipantKind.Name(agent.kind)
    await asyncio.sleep(args.lead_in)
    lp = room.local_participant
    sent = []
    if args.preconnect_secs > 0:
        rate = 24_000
        n = int(rate * args.preconnect_secs)
        tone = (6000 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.int16)
        writer = await lp.stream_bytes(
            "preconnect-buffer", mime_type="audio/pcm", topic="lk.agent.pre-connect-audio-buffer",
            destination_identities=[agent.identity],
            attributes={"trackId": pub.sid, "sampleRate": str(rate), "channels": "1"})
        data = tone.tobytes()
        for i in range(0, len(data), 15_000):
            await writer.write(data[i:i + 15_000])
        await writer.aclose()
        sent.append("preconnect")
    await lp.send_text(args.text, topic="lk.chat")
    sent.append("text")
    legacy = {"id": "legacy-1", "timestamp": int(time.time() * 1000), "message": "legacy " + args.text}
    await lp.publish_data(json.dumps(legacy).encode(), reliable=True, topic="lk-chat-topic")
    legacy_dup = dict(legacy, id="legacy-2", message="ignored duplicate", ignoreLegacy=True)
    await lp.publish_data(json.dumps(legacy_dup).encode(), reliable=True, topic="lk-chat-topic")
    sent.append("legacy")
    # Let the agent react (its state may walk through a turn) before the large streams.
    t_sent = time.monotonic()
    deadline = t_sent + args.settle
    while time.monotonic() < deadline:
        after = [h["attributes"].get("lk.agent.state") for h in history if h["t"] > t_sent]
        if "speaking" in after and after[-1] == "listening":
            break
        await asyncio.sleep(0.05)
    if args.big_text_bytes > 0:
        await lp.send_text("y" * args.big_text_bytes, topic="lk.chat")
        sent.append("big")
    if args.never_ending:
        writer = await lp.stream_text(topic="lk.chat")
        await writer.write("this stream never ends")
        sent.append("never-ending")
    await asyncio.sleep(args.hold)
    await room.disconnect()
    return {"agent_identity": agent.identity, "agent_kind": kind, "attributes": history,
            "track_sid": pub.sid, "sent": sent}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["create-room", "delete-room", "list-participants",
                                       "remove-participant", "scenario", "echo", "converse",
                                       "converse-many", "frontend", "create-dispatch"])
    p.add_argument("--url", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("--api-secret", required=True)
    p.add_argument("--room", required=True)
    p.add_argument("--identity", default="user")
    p.add_argument("--agent-name", default="", help="create-dispatch: the agent to dispatch")
    p.add_argument("--agents", default="", help="create-room: agents to dispatch explicitly (a,b)")
    p.add_argument("--wav")
    p.add_argument("--out")
    p.add_argument("--agent-prefix", default="agent-")
    p.add_argument("--agent-timeout", type=float, default=20.0)
    p.add_argument("--lead-in", type=float, default=0.5)
    p.add_argument("--tail", type=float, default=1.5)
    p.add_argument("--onset-threshold", type=float, default=300.0)
    p.add_argument("--send-data", default="")
    p.add_argument("--step-secs", type=float, default=1.5)
    p.add_argument("--repeat", type=int, default=1, help="echo: publish the WAV this many times")
    p.add_argument("--two-pc", action="store_true", help="use the two-PeerConnection /rtc mode")
    p.add_argument("--say", action="append", default=[], help="converse: a question (repeatable)")
    p.add_argument("--barge-after", type=float, default=None)
    p.add_argument("--leave-after", type=float, default=None)
    p.add_argument("--quiet-secs", type=float, default=1.5)
    p.add_argument("--continue-unanswered", action="store_true",
                   help="converse: ask the next question even when one got no answer")
    p.add_argument("--frame-ms", type=int, default=FRAME_MS, help="converse: audio frame length")
    p.add_argument("--rooms", type=int, default=1, help="converse-many: rooms at once")
    p.add_argument("--stagger", type=float, default=0.2, help="converse-many: seconds between starts")
    p.add_argument("--chat-answers", action="store_true",
                   help="converse: a reply as text on lk.chat also answers a question")
    p.add_argument("--answer-timeout", type=float, default=20.0)
    p.add_argument("--dispatch-agent", default="", help="create-room: dispatch this named agent")
    p.add_argument("--dispatch-metadata", default="", help="create-room: the dispatch's metadata")
    p.add_argument("--empty-timeout", type=int, default=60)
    p.add_argument("--departure-timeout", type=int, default=5)
    p.add_argument("--record-answers", default=None, help="converse: write PREFIX-<i>.wav per answer")
    p.add_argument("--handshake", default=None, help="converse: a directory for answered-<i> / go-<i>")
    p.add_argument("--handshake-timeout", type=float, default=600.0)
    p.add_argument("--text", default="hello from the keyboard", help="frontend: the typed message")
    p.add_argument("--type", action="append", default=[],
                   help="converse: a typed message (lk.chat) after the spoken questions (repeatable)")
    p.add_argument("--big-text-bytes", type=int, default=0,
                   help="frontend, converse (before the questions): a text stream this long")
    p.add_argument("--open-streams", type=int, default=0,
                   help="converse: a second participant opens this many lk.chat streams that never end")
    p.add_argument("--never-ending", action="store_true",
                   help="frontend, converse (before the questions): a text stream left open")
    p.add_argument("--preconnect-secs", type=float, default=0.0, help="frontend: pre-connect audio")
    p.add_argument("--hold", type=float, default=3.0, help="frontend: seconds to stay after sending")
    p.add_argument("--settle", type=float, default=10.0,
                   help="frontend: longest wait for the agent to go speaking → listening after the typed message")
    args = p.parse_args()

    handlers = {"create-room": create_room, "delete-room": delete_room,
                "list-participants": list_participants, "remove-participant": remove_participant,
                "scenario": scenario, "echo": echo, "converse": converse,
                "converse-many": converse_many, "frontend": frontend,
                "create-dispatch": create_dispatch}
    if args.command == "echo" and not (args.wav and args.out):
        p.error("echo needs --wav and --out")
    result = asyncio.run(handlers[args.command](args))
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    # The result is out: leave without the interpreter's teardown, where the native LiveKit
    # library's runtime threads are stopped and have aborted the process (SIGABRT, "panic in a
    # function that cannot unwind") after a complete run, failing a test for a client bug.
    os._exit(0)


if __name__ == "__main__":
    main()
