# tradeloop in a container: the bot runs as an unprivileged user in /bot, where its settings are;
# its files (the journal, the simulator's paper account) live in /bot/data, a volume. docs/deploy.md
#
#   docker build -t tradeloop .
#   docker run -d --name bot -v tradeloop-data:/bot/data tradeloop
#   docker run -d --name bot -v tradeloop-data:/bot/data \
#     -v "$PWD/settings.yaml:/bot/settings.yaml:ro" -v "$PWD/.secrets.yaml:/bot/.secrets.yaml:ro" \
#     -e TRADELOOP_ENV=production tradeloop
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY framework framework
COPY plugins plugins
COPY strategies strategies
RUN pip install . && rm -rf /src \
    && useradd --system --create-home --home-dir /bot bot \
    && mkdir -p /bot/data /bot/reports && chown bot:bot /bot/data /bot/reports

WORKDIR /bot
COPY --chown=bot:bot settings.yaml settings.yaml
USER bot
VOLUME ["/bot/data"]

# SIGTERM (docker stop) stops the bot cleanly within runtime.shutdown_timeout (5 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["tradeloop"]
CMD ["run"]
