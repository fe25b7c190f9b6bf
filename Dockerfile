# voice-agent: multi-stage build.
#
# The build stage runs the project's own scripts/setup (the same steps a developer runs) for
# what the image needs: Debian packages, the ONNX Runtime library, the Silero and Smart Turn models, each
# taken from its package and checksummed there. The runtime stage carries only the binary,
# the library, the models and libopus.

FROM rust:1.95-bookworm AS build
WORKDIR /src
ENV VOICE_AGENT_CACHE=/var/cache/voice-agent
COPY scripts/ scripts/
RUN bash scripts/setup --only apt,ort,silero,turn
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY agent/ agent/
COPY health/ health/
COPY tests/ tests/
RUN cargo build --release --locked -p voice-agent \
 && install -D target/release/voice-agent /out/bin/voice-agent \
 && install -D -m 0644 "$(readlink -f models/libonnxruntime.so.1.31.1)" /out/models/libonnxruntime.so.1.31.1 \
 && install -D -m 0644 "$(readlink -f models/silero_vad.onnx)" /out/models/silero_vad.onnx \
 && install -D -m 0644 "$(readlink -f models/smart-turn-v3.2-cpu.onnx)" /out/models/smart-turn-v3.2-cpu.onnx

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app agent
WORKDIR /app
COPY --from=build /out/bin/voice-agent /usr/local/bin/voice-agent
COPY --from=build /out/models/ /app/models/
ENV ORT_DYLIB_PATH=/app/models/libonnxruntime.so.1.31.1 \
    VAD_MODEL_PATH=/app/models/silero_vad.onnx \
    TURN_MODEL_PATH=/app/models/smart-turn-v3.2-cpu.onnx \
    HEALTH_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
USER agent
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["voice-agent", "healthcheck"]
ENTRYPOINT ["voice-agent"]
CMD ["run"]
