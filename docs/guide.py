"""Keep the guides' shown output real: `python docs/guide.py [FILE ...]` runs every example of
each guide (by default all of `GUIDES`) in a fresh folder and writes what each printed back
under it; `python docs/guide.py --check` says (and exits 1) where a guide no longer matches.

Two kinds of blocks, each a fenced block right after an HTML comment:

    <!-- help: engagement-api serve -->      the command's --help, as it prints it now
    <!-- run -->                             "$ command" lines, run in order in one session,
                                            each followed by its output (a command ending
                                            in <<'EOF' takes the lines up to EOF as input)

The session is one bash in an empty folder with ENGAGEMENT_API_STORE=sqlite:///guide.db,
ENGAGEMENT_API_NOW=2026-11-20T12:30:00Z and a key file of its own; variables and background
jobs last for a guide's session. A command ending in " &" starts a server (waited for on the
port its line names, its output kept out of the guide, stopped at the end). A failing
command shows its exit status. Random values (keys, tokens, nonces, signatures) and
durations differ on every run: --check compares the output with them masked.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
GUIDES = [DOCS / name for name in ("user-guide.md", "integrators.md", "contracts.md", "client.md")]
NOW = "2026-11-20T12:30:00Z"
BLOCK = re.compile(r"<!-- (help: (?P<help>[^>]+?)|run) -->\n```[^\n]*\n(?P<body>.*?)```", re.S)
HEREDOC = re.compile(r"<<'?(\w+)'?$")  # a command whose next lines are its input
# What changes from run to run: long random strings, OAuth nonces, timestamps and signatures,
# the toolkit's rule ids, durations.
_RANDOM = re.compile(
    r'oauth_(?:nonce|timestamp|signature)="[^"]*"|"id":"[0-9a-f]{12}"'
    r"|[A-Za-z0-9_\-]{20,}|\b\d+(\.\d+)? ?(s|ms|µs)\b|\d+/\d+ \d+:\d+"
)


def mask(text: str) -> str:
    return _RANDOM.sub("…", text)


class Session:
    """One bash session: commands run in order in the same folder, variables and jobs kept."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="engagement-guide-"))
        bin_dir = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "ENGAGEMENT_API_STORE": "sqlite:///guide.db",
            "ENGAGEMENT_API_NOW": NOW,
            "ENGAGEMENT_API_KEY_FILE": str(self.folder / "secrets.key"),
            "COLUMNS": "100",
            "TERM": "dumb",
        }
        for name in ("ENGAGEMENT_API_REDIS", "ENGAGEMENT_API_READ_STORES"):
            env.pop(name, None)
        self.shell = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=self.folder, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._count = 0

    def run(self, command: str) -> str:
        """What `command` printed (stdout and stderr), and its exit status when not 0."""
        self._count += 1
        end = f"__guide_end_{self._count}__"
        sent = command
        if command.endswith(" &"):  # a server: what it prints would land anywhere in the guide
            sent = f"{command[:-2]} > server-{self._count}.log 2>&1 &"
        self.shell.stdin.write(f"{sent}\n__status=$?; echo; echo {end} $__status\n")
        self.shell.stdin.flush()
        lines = []
        while True:
            line = self.shell.stdout.readline()
            if not line:
                raise SystemExit(f"the guide's shell ended during `{command}`")
            if line.startswith(end):
                status = int(line.split()[1])
                break
            lines.append(line)
        output = "".join(lines)[:-1]  # the echo's newline
        if command.endswith(" &"):
            self._wait_for(command)
            return ""
        return output + (f"(exit status {status})\n" if status else "")

    def _wait_for(self, command: str) -> None:
        port = int(re.search(r"--port (\d+)", command).group(1))
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise SystemExit(f"the server of `{command}` did not start")
            time.sleep(0.1)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.shell.pid, signal.SIGTERM)
        self.shell.wait(15)
        shutil.rmtree(self.folder, ignore_errors=True)


def render(text: str) -> str:
    """The guide with every block's output made again."""
    session = Session()
    try:

        def block(match: re.Match) -> str:
            fence = match.group(0).split("\n", 2)[1]
            if match.group("help"):
                command = match.group("help").strip()
                shown = f"$ {command} --help\n" + session.run(f"{command} --help")
                head = f"<!-- help: {command} -->"
            else:
                lines, body = [], iter(match.group("body").splitlines())
                for line in body:
                    if line.startswith("$ "):
                        lines.append(line)
                        command = line[2:]
                        heredoc = HEREDOC.search(command)
                        if heredoc:  # its lines, up to the terminator, belong to the command
                            for text in body:
                                lines.append(text)
                                command += "\n" + text
                                if text == heredoc.group(1):
                                    break
                        output = session.run(command)
                        if output:
                            lines.append(output.rstrip("\n"))
                shown = "\n".join(lines) + "\n"
                head = "<!-- run -->"
            return f"{head}\n{fence}\n{shown}```"

        return BLOCK.sub(block, text)
    finally:
        session.close()


def differences(written: str, made: str) -> list[str]:
    """The blocks whose output differs, random values aside."""
    found = []
    for old, new in zip(BLOCK.finditer(written), BLOCK.finditer(made), strict=True):
        if mask(old.group("body")) != mask(new.group("body")):
            first = old.group("body").splitlines()[0] if old.group("body") else ""
            found.append(f"{first!r}: the guide shows\n{old.group('body')}\nbut it prints\n"
                         f"{new.group('body')}")  # fmt: skip
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="guides (default: all of them)")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args()
    stale = []
    for guide in args.files or GUIDES:
        written = guide.read_text()
        made = render(written)
        if args.check:
            stale += [f"{guide.name}: {d}" for d in differences(written, made)]
        else:
            guide.write_text(made)
    for difference in stale:
        print(difference, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
