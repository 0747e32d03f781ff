"""Consumer secrets and access-token secrets, encrypted at rest.

HMAC-SHA1 needs the secrets themselves, so they cannot be hashed like bearer and admin tokens;
they are stored as Fernet tokens (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a
key file that the operator keeps apart from the data: `--key-file`, `ENGAGEMENT_API_KEY_FILE`,
or `~/.config/engagement-api/secrets.key`, created (0600) on first use. A key file holds one
key per line, the newest first: `db rotate-key` adds one, re-encrypts every secret with it and
drops the others.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE_ENV = "ENGAGEMENT_API_KEY_FILE"
PREFIX = "fernet:"  # stored values without it are plain (written before encryption)


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "engagement-api" / "secrets.key"


class SecretsKeyError(RuntimeError):
    """The key file is missing, unreadable, or does not open the stored secrets."""


class SecretBox:
    def __init__(self, keys: list[bytes], path: Path | None = None) -> None:
        if not keys:
            raise SecretsKeyError(f"{path}: no key in the key file")
        self.path = path
        self.keys = keys
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_file(cls, path: str | os.PathLike | None = None) -> SecretBox:
        """The key file at `path` (or the default), created with a new key when absent."""
        path = Path(path or os.environ.get(KEY_FILE_ENV) or default_key_file())
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_keys(path, [Fernet.generate_key()])
        try:
            keys = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
            return cls(keys, path)
        except (OSError, ValueError) as error:
            raise SecretsKeyError(f"cannot read the key file {path}: {error}") from None

    def seal(self, plain: str) -> str:
        return PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretsKeyError(
                f"the key file {self.path} does not open the stored secrets: "
                "use the key file the store was written with"
            ) from None

    def reseal(self, stored: str) -> str:
        """`stored` encrypted with the newest key (plain values encrypted)."""
        return self.seal(self.open(stored))


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, readable by its owner only."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("".join(key.decode() + "\n" for key in keys))
    os.replace(partial, path)
