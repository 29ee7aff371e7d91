"""The Docker image, compose file and .env.example, checked as far as can be without Docker.

Building the image and running compose need Docker and its registry; CI has neither. What
an operator relies on is checked from the files: compose's services, their order of start,
health checks, roles, volumes, that `web` can be scaled; the image's user, volume and
health check; what the build context leaves out; and that the settings of .env.example
work inside the image (the /app folder is not the bot's to write).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def env_file(path: Path) -> dict[str, str]:
    """A file as `docker run --env-file` reads it: VAR=value lines, the rest ignored."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not VAR=value: {line!r}"
            values[name.strip()] = value
    return values


# -- compose.yaml ------------------------------------------------------------------------


def test_compose_has_the_database_a_one_shot_migrate_web_and_worker(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == ["run", "--role", "web"]
    assert services["worker"]["command"] == ["run", "--role", "worker"]
    for name in ("migrate", "web", "worker"):
        assert services[name]["image"] == "kimbot"
        assert services[name]["build"] == "."


def test_the_bot_starts_after_a_healthy_database_and_a_finished_migration(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }
    check = services["db"]["healthcheck"]
    assert check["test"][0] == "CMD-SHELL"
    assert "pg_isready" in check["test"][1]


def test_postgres_keeps_its_data_in_a_named_volume_and_the_bot_its_files(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert set(compose["volumes"]) >= {"pgdata", "files"}
    for name in ("web", "worker"):
        assert "files:/data" in services[name]["volumes"]
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://kimbot:${POSTGRES_PASSWORD")
        assert env["DATABASE_URL"].endswith("@db:5432/kimbot")
        assert env["KIMBOT_FILE_STORE"].startswith("file:///data/")
        assert env["KIMBOT_LISTEN"] == "0.0.0.0:8080"
    password = "${POSTGRES_PASSWORD:?"  # required: no default password in production
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith(password)


def test_web_can_be_scaled(compose: dict[str, Any]) -> None:
    """`--scale web=3`: no fixed container name, and each replica a port of its own."""
    web = compose["services"]["web"]
    assert "container_name" not in web
    [port] = web["ports"]
    match = re.fullmatch(r"127\.0\.0\.1:(\d+)-(\d+):8080", port)
    assert match is not None, port
    first, last = map(int, match.groups())
    assert last - first + 1 >= 3
    assert "ports" not in compose["services"]["worker"]  # nothing to reach from outside
    assert all("container_name" not in s for s in compose["services"].values())


# -- Dockerfile --------------------------------------------------------------------------


def test_the_image_runs_as_a_non_root_user_with_a_writable_data_volume() -> None:
    steps = instructions()
    users = [args for word, args in steps if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert ("VOLUME", '["/data"]') in steps
    assert ("WORKDIR", "/app") in steps
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert "useradd" in runs
    assert re.search(r"chown -R \S+ /data", runs)
    # the volume is declared after /data is made the bot's: a new volume copies that owner
    assert steps.index(("VOLUME", '["/data"]')) > max(
        i for i, (word, _) in enumerate(steps) if word == "RUN")
    env = " ".join(args for word, args in steps if word == "ENV")
    assert "DATABASE_URL=sqlite:////data/kimbot.db" in env
    assert "KIMBOT_FILE_STORE=file:///data/files" in env


def test_the_health_check_asks_healthz_on_the_listen_port_without_curl() -> None:
    [check] = [args for word, args in instructions() if word == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + 3:].strip())
    assert command[:2] == ["python", "-c"]
    assert "KIMBOT_LISTEN" in command[2]
    assert "/healthz" in command[2]
    assert "curl" not in check
    compile(command[2], "healthcheck", "exec")  # valid Python


def test_the_entrypoint_is_kimbot_and_runs_the_bot_by_default() -> None:
    steps = instructions()
    assert ("ENTRYPOINT", '["kimbot"]') in steps
    assert ("CMD", '["run"]') in steps


def test_the_build_context_leaves_out_the_venv_git_data_and_secrets() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".env", "**/*.db", "kimbot-files", "tests", "bench",
            "**/__pycache__", ".mypy_cache", ".pytest_cache"} <= ignored
    copied = [args.split()[0] for word, args in instructions() if word == "COPY"]
    for source in copied:  # nothing the image needs is left out
        assert source not in ignored


# -- .env.example ------------------------------------------------------------------------


def test_env_example_works_in_the_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """`docker run --env-file .env.example -v kimbot-data:/data kimbot`: nothing in it points
    the database or the files into /app (root-owned), and every value is valid."""
    values = env_file(ROOT / ".env.example")
    for name in ("DATABASE_URL", "KIMBOT_FILE_STORE"):
        assert name not in values or "/data/" in values[name], values.get(name)
    assert all(not v.startswith(("'", '"')) for v in values.values())  # docker keeps quotes
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    try:
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
    except ValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f".env.example has invalid values: {exc}")
    assert settings.admin_ids == ("telegram:123456789",)
