# KIM-Bot: long-polling Telegram bot. Build: docker build -t kimbot .
# Run:   docker run --env-file .env -v kimbot-data:/data kimbot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/kimbot.db \
    KIMBOT_FILE_STORE=file:///data/files

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY fakebotapi ./fakebotapi
COPY sop_steps ./sop_steps
COPY locales ./locales
# Editable install keeps sop_steps/ and locales/ where the settings look for them.
RUN pip install -e . && useradd --create-home kimbot && mkdir -p /data && chown kimbot /data
USER kimbot
VOLUME ["/data"]
# Validate the SOP files and migrate the schema before polling starts.
CMD ["sh", "-c", "kimbot sop check && kimbot migrate && exec kimbot run"]
