"""The integrator's toolkit: faults on demand, a data clock that can be moved, a journal of
requests. Its settings live in the contract backend (`Contract.read_control`), so they hold
across every worker of a server, and across hosts on Redis; each worker reads them once per
request.

Faults act before any work: a faulted request is not authenticated, counted or answered from
the store. The clock moves every time rule of the API at once (windows, the 90 and 1800-day
lists, the usage month); OAuth timestamps stay on the wall clock (RULES.md D11).
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import asdict, dataclass

import orjson

from .. import spec
from ..clock import Clock, FrozenClock
from ..contract import Contract
from ..errors import ApiError
from ..times import format_instant, parse_instant

FAULT_STATUSES = (429, 500, 502, 503)
ENDPOINT_NAMES = tuple(e.name for e in spec.ENDPOINTS)
JOURNAL_SIZE = 1000  # requests kept in the journal (newest first)
MAX_RULES = 100


@dataclass(frozen=True, slots=True)
class FaultRule:
    id: str
    status: int | None  # None: only a delay (latency_ms) or a dropped connection (reset)
    probability: float
    endpoints: tuple[str, ...]
    latency_ms: int
    times: int | None  # exactly the next `times` matching requests, or None: every one
    reset: bool  # drop the connection instead of answering

    def matches(self, endpoint: str) -> bool:
        return endpoint in self.endpoints

    def document(self, fired: int) -> dict:
        return {**asdict(self), "endpoints": list(self.endpoints), "fired": fired}


def parse_rule(raw: object) -> FaultRule:
    """A rule from `POST /_control/faults` or `serve --fault`, or a 400 saying what is wrong."""
    if not isinstance(raw, dict):
        raise ApiError(400, "A fault rule is a JSON object")
    unknown = set(raw) - {"status", "probability", "endpoints", "latency_ms", "times", "reset"}
    if unknown:
        raise ApiError(400, f"Unknown fault rule fields: {', '.join(sorted(unknown))}")
    status = raw.get("status")
    if status is not None and (type(status) is not int or status not in FAULT_STATUSES):
        raise ApiError(400, f"status must be one of {', '.join(map(str, FAULT_STATUSES))}")
    probability = raw.get("probability", 1.0)
    if type(probability) not in (int, float) or not 0 <= probability <= 1:
        raise ApiError(400, "probability must be a number from 0 to 1")
    endpoints = raw.get("endpoints", list(ENDPOINT_NAMES))
    if (
        not isinstance(endpoints, list)
        or not endpoints
        or any(e not in ENDPOINT_NAMES for e in endpoints)
    ):
        raise ApiError(400, f"endpoints must be a non-empty list of {', '.join(ENDPOINT_NAMES)}")
    latency = raw.get("latency_ms", 0)
    if type(latency) is not int or not 0 <= latency <= 60_000:
        raise ApiError(400, "latency_ms must be an integer from 0 to 60000")
    times = raw.get("times")
    if times is not None and (type(times) is not int or times < 1):
        raise ApiError(400, "times must be a positive integer or null")
    reset = raw.get("reset", False)
    if type(reset) is not bool:
        raise ApiError(400, "reset must be true or false")
    if status is None and not reset and not latency:
        raise ApiError(400, "A fault rule needs a status, a latency_ms or reset")
    return FaultRule(
        secrets.token_hex(6),
        status,
        float(probability),
        tuple(dict.fromkeys(endpoints)),
        latency,
        times,
        reset,
    )


def parse_fault_option(text: str) -> FaultRule:
    """`STATUS:PROBABILITY` of `serve --fault` (e.g. `503:0.2`)."""
    status, _, probability = text.partition(":")
    try:
        return parse_rule({"status": int(status), "probability": float(probability or 1)})
    except ValueError:
        raise ApiError(
            400, f"--fault takes STATUS:PROBABILITY, e.g. 503:0.2, not {text!r}"
        ) from None


_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_SECONDS = {
    "weeks": 7 * spec.DAY, "days": spec.DAY, "hours": spec.HOUR, "minutes": 60, "seconds": 1,
}  # fmt: skip


def parse_duration(text: object) -> float:
    """Seconds of an ISO 8601 duration in weeks, days, hours, minutes and seconds, optionally
    negative (`-PT1H`). Years and months are refused: their length depends on the date."""
    if not isinstance(text, str):
        raise ApiError(400, "advance must be an ISO 8601 duration such as PT2H")
    sign = -1 if text.startswith("-") else 1
    found = _DURATION.fullmatch(text.lstrip("-+").upper())
    if found is None or text.lstrip("-+").upper() in ("P", "PT") or text.upper().endswith("T"):
        raise ApiError(
            400, f"advance must be an ISO 8601 duration in W, D, H, M, S (e.g. PT2H): {text[:40]}"
        )
    return sign * sum(float(v) * _SECONDS[k] for k, v in found.groupdict().items() if v)


_CLOCK_FORMS = 'Send one of {"now": instant}, {"now": null}, {"advance": duration}'


class ControlledClock:
    """The data clock as the toolkit sets it: frozen at an instant, the wall clock, or the
    clock the server was started with (`--now`, or the wall)."""

    def __init__(self, base: Clock, control: Control) -> None:
        self.base = base
        self._control = control

    def now(self) -> float:
        setting = self._control.clock_setting
        if setting is None:
            return self.base.now()
        if setting == "wall":
            return self._control.wall.now()
        return setting


class Control:
    """One worker's view of the toolkit's settings, brought up to date once per request."""

    def __init__(self, contract: Contract, base_clock: Clock, wall_clock: Clock) -> None:
        self.contract = contract
        self.wall = wall_clock
        self.clock = ControlledClock(base_clock, self)
        self._seen: bytes | None = None
        self.faults: tuple[FaultRule, ...] = ()
        self.clock_setting: float | str | None = None  # an instant, "wall", or the base clock

    # -- settings --------------------------------------------------------------------------
    def refresh(self) -> None:
        stored = self.contract.read_control()
        if stored == self._seen:
            return
        self._seen = stored
        settings = orjson.loads(stored) if stored else {}
        self.faults = tuple(
            FaultRule(**{**rule, "endpoints": tuple(rule["endpoints"])})
            for rule in settings.get("faults", [])
        )
        self.clock_setting = settings.get("clock")

    def _write(self, faults: tuple[FaultRule, ...], clock: float | str | None) -> None:
        document = {"faults": [asdict(rule) for rule in faults], "clock": clock}
        self.contract.write_control(orjson.dumps(document))
        self.refresh()

    def start(self, faults: list[FaultRule]) -> None:
        """A server starting: the settings of an earlier run are gone."""
        self._write(tuple(faults), None)

    # -- faults ----------------------------------------------------------------------------
    def fault_for(self, endpoint: str) -> FaultRule | None:
        """The rule that faults this request, if one does (each rule fires its `times` at
        most, across every worker)."""
        for rule in self.faults:
            if not rule.matches(endpoint):
                continue
            if rule.probability < 1 and random.random() >= rule.probability:
                continue
            if self.contract.fire(rule.id, rule.times):
                return rule
        return None

    def add_rule(self, rule: FaultRule) -> None:
        self.refresh()
        if len(self.faults) >= MAX_RULES:
            raise ApiError(400, f"At most {MAX_RULES} fault rules")
        self._write((*self.faults, rule), self.clock_setting)

    def clear_rules(self) -> None:
        self.refresh()
        self._write((), self.clock_setting)

    def rules(self) -> list[dict]:
        self.refresh()
        fired = self.contract.fired([rule.id for rule in self.faults])
        return [rule.document(fired[rule.id]) for rule in self.faults]

    # -- clock -----------------------------------------------------------------------------
    def set_clock(self, document: object) -> None:
        """`{"now": instant}` freezes the data clock, `{"now": null}` gives it back to the wall
        clock, `{"advance": duration}` moves a frozen one."""
        self.refresh()
        if not isinstance(document, dict) or len(document) != 1:
            raise ApiError(400, _CLOCK_FORMS)
        if "now" in document:
            value = document["now"]
            if value is None:
                self._write(self.faults, "wall")
                return
            try:
                instant = parse_instant(value) if isinstance(value, str) else None
            except ValueError:
                instant = None
            if instant is None:
                raise ApiError(400, "now must be an ISO 8601 date-time with a zone, or null")
            self._write(self.faults, instant)
        elif "advance" in document:
            if not self.frozen:
                raise ApiError(400, 'The data clock is not frozen: set {"now": instant} first')
            self._write(self.faults, self.clock.now() + parse_duration(document["advance"]))
        else:
            raise ApiError(400, _CLOCK_FORMS)

    @property
    def frozen(self) -> bool:
        setting = self.clock_setting
        if setting is None:
            return isinstance(self.clock.base, FrozenClock)
        return setting != "wall"

    def clock_document(self) -> dict:
        self.refresh()
        source = {None: "server", "wall": "wall"}.get(self.clock_setting, "control")
        return {"now": format_instant(self.clock.now()), "frozen": self.frozen, "source": source}

    # -- journal ---------------------------------------------------------------------------
    def record(self, entry: dict) -> None:
        self.contract.add_entry(orjson.dumps(entry), JOURNAL_SIZE)

    def journal(self, limit: int) -> list[dict]:
        return [orjson.loads(e) for e in self.contract.entries(limit)]
