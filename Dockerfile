# smartmeter-logger container image: small, non-root, pure-Python (amd64, arm64, armv7).
#
#   docker compose build          (or: docker build -t smartmeter-logger:local .)
#
# The build stage installs the project and its dependencies, every version pinned below,
# into a virtual environment; the final stage copies only that environment (no compilers,
# no pip caches). All dependencies are pure Python or have a pure-Python fallback (PyYAML),
# so no compiler is needed on any architecture.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The build tools, pinned too: pip, and setuptools + wheel for pyproject.toml's build backend
# (used below with --no-build-isolation, so pip fetches no unpinned backend of its own).
RUN pip install "pip==25.3" "setuptools==80.9.0" "wheel==0.45.1"
# Runtime dependencies, pinned (direct ones from pyproject.toml, then theirs; tzdata so the
# meter's time zone resolves even without the OS zone files).
RUN pip install \
      "pyserial==3.5" \
      "influxdb-client==1.50.0" \
        "reactivex==6.1.0" "typing_extensions==4.15.0" "certifi==2026.5.20" \
        "python-dateutil==2.9.0.post0" "six==1.17.0" "urllib3==2.7.0" \
      "PyYAML==6.0.3" \
      "python-dotenv==1.2.2" \
      "tzdata==2025.2"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY logger ./logger
RUN pip install --no-deps --no-build-isolation . \
 && pip uninstall -y -q setuptools wheel && pip check && python -m compileall -q /opt/venv

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="smartmeter-logger" \
      org.opencontainers.image.description="B-route logger for Japanese low-voltage smart meters (Wi-SUN SKSTACK-IP dongles)"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CSV_DIR=/data \
    STATE_DIR=/state
# uid 1000, primary group 20 (dialout on Debian: the group that owns /dev/ttyUSB*).
RUN useradd --uid 1000 --gid 20 --no-create-home --home-dir /state --shell /usr/sbin/nologin smartmeter \
 && mkdir -p /data /state /config \
 && chown 1000:20 /data /state \
 && chmod 0750 /data /state
COPY --from=build /opt/venv /opt/venv
# Default settings (every key at its default); docker-compose.yml mounts ./config over it.
COPY config/settings.yml /config/settings.yml
USER 1000:20
WORKDIR /state
VOLUME ["/data", "/state"]
# Same check as docker-compose.yml: the heartbeat "<unix time> <stale-after seconds>" the
# logger rewrites in $STATE_DIR/heartbeat after every successful read cycle.
HEALTHCHECK --interval=60s --timeout=10s --start-period=10m --retries=3 \
  CMD ["python", "-m", "logger.health", "/state/heartbeat"]
ENTRYPOINT ["smartmeter-logger"]
CMD ["run", "--config", "/config/settings.yml"]
