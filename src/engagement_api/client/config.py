"""Where credentials come from: arguments, the environment, or a TOML file of named profiles.

# ~/.config/engagement-api/profiles.toml (or $ENGAGEMENT_API_PROFILES)
[local]
base_url = "http://127.0.0.1:8080"
consumer_key = "..."
consumer_secret = "..."
access_token = "..."          # optional: user context
access_token_secret = "..."
[x]
bearer_token = "..."          # base_url defaults to X's host
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .api import X_HOST

ENV = {
    "base_url": "ENGAGEMENT_API_BASE_URL",
    "consumer_key": "ENGAGEMENT_API_CONSUMER_KEY",
    "consumer_secret": "ENGAGEMENT_API_CONSUMER_SECRET",
    "access_token": "ENGAGEMENT_API_ACCESS_TOKEN",
    "access_token_secret": "ENGAGEMENT_API_ACCESS_TOKEN_SECRET",
    "bearer_token": "ENGAGEMENT_API_BEARER_TOKEN",
}
PROFILES_ENV = "ENGAGEMENT_API_PROFILES"


@dataclass(frozen=True)
class Credentials:
    base_url: str = X_HOST
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None
    bearer_token: str | None = None

    def overlay(self, values: Mapping[str, str | None]) -> Credentials:
        """These credentials with every given (not None, not empty) value replaced."""
        given = {k: v for k, v in values.items() if v and k in ENV}
        return replace(self, **given)

    def client_kwargs(self) -> dict[str, str | None]:
        """The keyword arguments of a client built with these credentials."""
        return asdict(self)

    def describe(self) -> str:
        if self.access_token:
            return "OAuth 1.0a user context"
        if self.bearer_token:
            return "OAuth 2.0 bearer token (app-only)"
        if self.consumer_key:
            return "OAuth 1.0a consumer key (app-only)"
        return "no credentials"


def from_env(environ: Mapping[str, str] | None = None) -> Credentials:
    environ = os.environ if environ is None else environ
    return Credentials().overlay({name: environ.get(var) for name, var in ENV.items()})


def default_profiles_path() -> Path:
    if os.environ.get(PROFILES_ENV):
        return Path(os.environ[PROFILES_ENV])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "engagement-api" / "profiles.toml"


def from_profile(name: str, path: str | os.PathLike[str] | None = None) -> Credentials:
    """The profile `name` of a TOML file (`[name]` tables of the keys above)."""
    file = Path(path) if path is not None else default_profiles_path()
    try:
        with file.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"no profiles file at {file}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{file}: not valid TOML: {error}") from None
    profile = document.get(name)
    if not isinstance(profile, dict):
        known = ", ".join(k for k, v in document.items() if isinstance(v, dict)) or "none"
        raise ValueError(f"{file}: no profile [{name}] (profiles: {known})")
    allowed = {f.name for f in fields(Credentials)}
    unknown = sorted(set(profile) - allowed)
    if unknown:
        raise ValueError(f"{file}: profile [{name}]: unknown keys {', '.join(unknown)}")
    if any(not isinstance(v, str) for v in profile.values()):
        raise ValueError(f"{file}: profile [{name}]: every value must be a string")
    return Credentials().overlay(profile)


def resolve(
    flags: Mapping[str, str | None],
    profile: str | None = None,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Flags over a named profile; without a profile, flags over the environment."""
    base = from_profile(profile, path) if profile else from_env(environ)
    return base.overlay(flags)
