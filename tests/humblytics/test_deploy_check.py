"""With production values, Django's deployment checklist has nothing to say."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_OURS = ("DEBUG", "SECRET_KEY", "ENCRYPTION_KEY", "API_KEY_PEPPER", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_")


def production_env(**overrides):
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OURS)}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ENCRYPTION_KEY=secrets.token_urlsafe(32),
        API_KEY_PEPPER=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="analytics.example.com",
        CSRF_TRUSTED_ORIGINS="https://analytics.example.com",
    )
    env.update(overrides)
    return env


def deploy_check(env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_passes_with_production_values():
    result = deploy_check(production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_the_deploy_check_catches_a_weakened_production_setting():
    result = deploy_check(production_env(SECURE_SSL_REDIRECT="false"))
    assert result.returncode == 1
    assert "security.W008" in result.stderr


def test_production_refuses_a_reused_secret():
    shared = secrets.token_urlsafe(50)
    result = deploy_check(production_env(SECRET_KEY=shared, ENCRYPTION_KEY=shared))
    assert result.returncode == 2
    assert result.stderr == (
        "Configuration error: SECRET_KEY, ENCRYPTION_KEY and API_KEY_PEPPER must be three different values\n"
    )


def test_production_requires_allowed_hosts():
    env = production_env()
    del env["ALLOWED_HOSTS"]
    result = deploy_check(env)
    assert result.returncode == 2
    assert (
        result.stderr
        == "Configuration error: ALLOWED_HOSTS is required when DEBUG is off (e.g. analytics.example.com)\n"
    )
