"""The contract of many hosts, in Redis: one Lua script per request spends the nonce and
counts the request atomically, so every host sees the same allowance and the same nonces.

Redis unreachable: `ContractUnavailable` (the request is answered 503, never unchecked), and
for a second after a failure no attempt is made (no request waits on a dead Redis); then the
next request tries again, and service resumes by itself when Redis is back.
"""

from __future__ import annotations

import time

import redis

from .. import spec
from . import REUSED, Admission, ContractUnavailable, minute_of

PREFIX = "engagement-api:"
RETRY_AFTER_FAILURE = 1.0  # seconds without attempts once Redis failed
TIMEOUT = 0.5  # seconds for one command, connecting included

# KEYS[1]: the app's count of this minute; KEYS[2] (optional): the nonce.
# ARGV: limit, seconds the count lives, seconds the nonce lives.
# Returns -1 (nonce seen before: nothing counted), -2 (over the allowance: not counted), or
# the count including this request.
_ADMIT = """
if #KEYS == 2 then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
    return -1
  end
end
local counted = tonumber(redis.call('GET', KEYS[1]) or '0')
if counted >= tonumber(ARGV[1]) then
  return -2
end
counted = redis.call('INCR', KEYS[1])
if counted == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return counted
"""


# KEYS[1]: how often a fault rule fired; ARGV[1]: its `times` (0: no bound). 1 if it fires.
_FIRE = """
local fired = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > 0 and fired >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[1])
return 1
"""


class RedisContract:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry_on_timeout=False
        )
        self._admit = self._client.register_script(_ADMIT)
        self._fire = self._client.register_script(_FIRE)
        self._failed_at = -RETRY_AFTER_FAILURE

    def admit(
        self, app_id: int, limit: int, wall_now: float, nonce: bytes | None = None
    ) -> Admission:
        minute, reset = minute_of(wall_now)
        if time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE:
            raise ContractUnavailable(f"{self.url}: unreachable a moment ago")
        keys = [f"{PREFIX}count:{app_id}:{minute}"]
        if nonce is not None:
            keys.append(f"{PREFIX}nonce:{nonce.hex()}")
        try:
            counted = int(
                self._admit(keys=keys, args=[limit, 2 * spec.RATE_WINDOW, spec.NONCE_TTL])
            )
        except redis.RedisError as error:
            self._failed_at = time.monotonic()
            raise ContractUnavailable(f"{self.url}: {error}") from error
        if counted == -1:
            return REUSED
        if counted == -2:
            return Admission(False, limit, 0, reset)
        return Admission(True, limit, limit - counted, reset)

    def spend_nonce(self, nonce: bytes, wall_now: float) -> bool:
        try:
            stored = self._client.set(
                f"{PREFIX}nonce:{nonce.hex()}", "1", ex=spec.NONCE_TTL, nx=True
            )
        except redis.RedisError as error:
            raise ContractUnavailable(f"{self.url}: {error}") from error
        return bool(stored)

    def attempts(self, key: str, window: int, add: bool) -> int:
        name = f"{PREFIX}attempts:{key}:{int(time.time()) // window}"
        if not add:
            return int(self._call("get", name) or 0)
        pipe = self._client.pipeline()
        pipe.incr(name)
        pipe.expire(name, window)
        try:
            return int(pipe.execute()[0])
        except redis.RedisError as error:
            raise ContractUnavailable(f"{self.url}: {error}") from error

    # -- the toolkit's shared state ----------------------------------------------------------
    def _call(self, method: str, *args):
        try:
            return getattr(self._client, method)(*args)
        except redis.RedisError as error:
            raise ContractUnavailable(f"{self.url}: {error}") from error

    def read_control(self) -> bytes | None:
        return self._call("get", PREFIX + "control")

    def write_control(self, document: bytes) -> None:
        self._call("set", PREFIX + "control", document)

    def fire(self, rule: str, times: int | None) -> bool:
        try:
            return bool(self._fire(keys=[PREFIX + "fired:" + rule], args=[times or 0]))
        except redis.RedisError as error:
            raise ContractUnavailable(f"{self.url}: {error}") from error

    def fired(self, rules: list[str]) -> dict[str, int]:
        if not rules:
            return {}
        found = self._call("mget", [PREFIX + "fired:" + r for r in rules])
        return {r: int(v or 0) for r, v in zip(rules, found, strict=True)}

    def add_entry(self, entry: bytes, keep: int) -> None:
        pipe = self._client.pipeline()
        pipe.lpush(PREFIX + "journal", entry)
        pipe.ltrim(PREFIX + "journal", 0, keep - 1)
        try:
            pipe.execute()
        except redis.RedisError as error:
            raise ContractUnavailable(f"{self.url}: {error}") from error

    def entries(self, limit: int) -> list[bytes]:
        return self._call("lrange", PREFIX + "journal", 0, limit - 1)

    def clear_entries(self) -> None:
        self._call("delete", PREFIX + "journal")

    def close(self) -> None:
        self._client.close()
