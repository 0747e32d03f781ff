"""Ask URL every 20 ms, on a fresh connection each time, until terminated; after each answer
print [probes, failures, worst wait, quiet worst wait] as JSON (the waits in seconds; "quiet"
covers the first QUIET seconds, before the attack starts).

    python tests/health_probe.py URL QUIET

Run as a process of its own by tests/hostile.py and bench/bench_hostile.py, so that the
attacking client cannot delay the probe.
"""

import json
import sys
import time
import urllib.request

url, quiet_for = sys.argv[1], float(sys.argv[2])
worst = quiet = 0.0
probes = failures = 0
started = time.monotonic()
while True:
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            ok = answer.status == 200
    except Exception:
        ok = False
    wait = time.monotonic() - sent
    if sent - started < quiet_for:
        quiet = max(quiet, wait)
    else:
        worst = max(worst, wait)
        probes += 1
        failures += not ok
    print(json.dumps([probes, failures, worst, quiet]), flush=True)
    time.sleep(0.02)
