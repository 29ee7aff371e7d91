# KIM-Bot image. Build: docker build -t kimbot .
# One process, SQLite on a volume:  docker run --env-file .env -v kimbot-data:/data kimbot
# Several processes on PostgreSQL:   docker compose up -d --scale web=3   (compose.yaml)
# The entrypoint is `kimbot`: `docker run … kimbot migrate`, `… kimbot run --role worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/kimbot.db \
    KIMBOT_FILE_STORE=file:///data/files \
    KIMBOT_LISTEN=0.0.0.0:8080

WORKDIR /app

# Dependencies first, from pyproject.toml alone: a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY bot ./bot
COPY handlers ./handlers
COPY fakebotapi ./fakebotapi
COPY fakewa ./fakewa
COPY sop_steps ./sop_steps
COPY locales ./locales
# Editable: sop_steps/ and locales/ stay where the settings look for them.
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin kimbot \
    && mkdir -p /data/files && chown -R kimbot:kimbot /data

# The code stays root-owned and read-only to the bot; only /data is its to write.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# /healthz on KIMBOT_LISTEN's port (the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('KIMBOT_LISTEN', '0.0.0.0:8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

# `run` checks the SOPs and settings, waits for the database, migrates it (under a lock) and
# serves; SIGTERM (docker stop) drains what is under way.
ENTRYPOINT ["kimbot"]
CMD ["run"]
