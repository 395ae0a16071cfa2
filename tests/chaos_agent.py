"""One client host of the chaos run: ``python -m tests.chaos_agent SPEC.json``, started on a
host of its own (``ip netns exec``). It runs the sessions the spec lists, each in a thread,
until the spec's stop file appears, and prints what happened as JSON lines on standard
output: frames' arrivals and gaps (``tests/chaos_viewers.py``), each chat message a sender
was told was accepted and each message a session showed, throws, and what refused clients
printed. The run (``tests/chaos_run.py``) reads these and checks its invariants.
"""

from __future__ import annotations

import json
import os
import random
import socket
import ssl
import subprocess
import sys
import threading
import time

from client.broadcaster import Broadcaster
from client.chat import ChatSession
from client.connection import use_tls
from client.errors import FramecastError
from client.masters import Masters
from client.sources import TestPattern
from client.turbo_broadcast import BroadcastTurbo
from cli.local_cluster import FRAMECAST
from common.messages.admission import AccessAnswer, Answer, Throw, ViewAsk
from common.messages.basic import Ok
from common.prefs import Turbo
from common.protocol import MAGIC, PROTOCOL_VERSION
from common.tls import client_context
from tests import chaos_viewers

_print_lock = threading.Lock()


def emit(record: dict) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


class Agent:
    def __init__(self, spec: dict):
        self.spec = spec
        self.ca = spec["ca"]
        use_tls(client_context(self.ca))

    def running(self) -> bool:
        return not os.path.exists(self.spec["stop_file"])

    def masters(self) -> Masters:
        return Masters(self.spec["server"], timeout=5)

    def run(self) -> None:
        threads = [threading.Thread(target=self._guarded, args=(task,), daemon=True) for task in self.spec["tasks"]]
        for thread in threads:
            thread.start()
            time.sleep(0.05)  # not every session at the same instant
        for thread in threads:
            thread.join()
        emit({"event": "agent_end", "at": time.time()})

    def _guarded(self, task: dict) -> None:
        try:
            getattr(self, "task_" + task["kind"])(task)
        except Exception as exc:  # reported to the run, which counts it as a failure
            emit({"event": "task_crashed", "who": task.get("who", ""), "kind": task["kind"], "text": repr(exc)})

    # --- sessions ---------------------------------------------------------------------------
    def task_broadcast(self, task: dict) -> None:
        """Broadcasts until the end, answering every request to watch with yes, and throwing
        its ``victim`` (if any) every ``throw_every`` seconds, from another terminal (a thread
        of its own: ``framecast throw`` is another process, which waits for its answer)."""
        masters = self.masters()
        if task.get("victim"):
            threading.Thread(target=self._throw_now_and_then, args=(task,), daemon=True).start()

        def answer(event) -> None:
            if isinstance(event, ViewAsk):
                self._request(AccessAnswer(task["token"], event.viewer, Answer.ACCEPT), task["who"])

        def each_frame(broadcaster: Broadcaster) -> None:
            if not self.running():
                raise _Stop

        while self.running():
            broadcaster = Broadcaster(
                masters,
                task["token"],
                TestPattern(512, 64),
                quality=3,
                fps=task.get("fps", 5),
                reconnect_deadline=3600,
                each_frame=each_frame,
                on_push=answer,
            )
            if task.get("turbo"):
                broadcaster.turbo = BroadcastTurbo(task["who"], Turbo.ALWAYS, lambda text: None)
            try:
                broadcaster.run()
            except _Stop:
                return
            except FramecastError as exc:
                emit({"event": "broadcast_error", "who": task["who"], "at": time.time(), "text": str(exc)})
                time.sleep(1)

    def _throw_now_and_then(self, task: dict) -> None:
        while self.running():
            chaos_viewers.pause(self.running, task["throw_every"])
            if self.running() and self._request(Throw(task["token"], task["victim"]), task["who"]):
                emit({"event": "threw", "who": task["who"], "victim": task["victim"], "at": time.time()})

    def _request(self, message, who: str) -> bool:
        try:
            self.masters().request(message, Ok)
            return True
        except FramecastError as exc:
            emit({"event": "request_error", "who": who, "at": time.time(), "text": str(exc)})
            return False

    def task_view(self, task: dict) -> None:
        how = task["how"]
        if how == "native":
            chaos_viewers.native(task, self.masters, self.running, emit)
        elif how == "mjpeg":
            chaos_viewers.mjpeg(task, self.ca, self.spec["web"], self.running, emit)
        else:
            chaos_viewers.websocket(task, self.masters, self.ca, self.running, emit)

    def task_chat_send(self, task: dict) -> None:
        """``rate`` messages a second to ``to``, numbered; each accepted one reported."""
        chat, number = ChatSession(self.masters(), task["token"]), 0
        while self.running():
            number += 1
            try:
                accepted = chat.send(task["to"], f"chaos {task['who']} {number}")
                emit({"event": "accepted", "who": task["who"], "to": task["to"], "id": accepted.id, "n": number})
            except FramecastError as exc:
                emit({"event": "send_refused", "who": task["who"], "n": number, "text": str(exc), "at": time.time()})
            time.sleep(1 / task["rate"])

    def task_chat_read(self, task: dict) -> None:
        """An attached chat session: every message it shows, reported; keeps going a few
        seconds after the stop file so the last messages in flight arrive."""
        masters = self.masters()
        chat = ChatSession(masters, task["token"])
        masters.attach(task["token"])
        linger = None
        while linger is None or time.monotonic() < linger:
            if linger is None and not self.running():
                linger = time.monotonic() + task.get("linger", 10)
            for line in chat.new_lines(masters.poll(timeout=0.2)):
                emit({"event": "shown", "who": task["who"], "id": line.id, "sender": line.sender, "text": line.text})
            chat.report_shown()

    def task_intruder(self, task: dict) -> None:
        """``framecast view TARGET`` as a user the target's access rule refuses, every
        ``every`` seconds: it must end with one line and a non-zero status, never watching."""
        env = {**os.environ, "FRAMECAST_HOME": task["home"], "FRAMECAST_SERVER": self.spec["server"]}
        env["FRAMECAST_CA"] = self.ca
        while self.running():
            done = subprocess.run(
                [*FRAMECAST, "view", task["target"], "--frames", "1", "--duration", "20"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
            lines = (done.stdout + done.stderr).strip().splitlines()
            emit({"event": "refusal", "who": task["who"], "status": done.returncode, "lines": lines, "at": time.time()})
            chaos_viewers.pause(self.running, task.get("every", 10))


    def task_fuzz(self, task: dict) -> None:
        """Garbage at every port in ``targets`` (host:port), in turn, inside TLS and not: random
        bytes, half of them behind a framecast header; what the servers do is their logs'."""
        rng, context = random.Random(task.get("seed", 0)), ssl.create_default_context(cafile=self.ca)
        while self.running():
            for target in task["targets"]:
                host, port = target.rsplit(":", 1)
                garbage = os.urandom(rng.randrange(1, 2048))
                if rng.random() < 0.5:
                    garbage = MAGIC + bytes([PROTOCOL_VERSION, rng.randrange(256)]) + garbage
                try:
                    with socket.create_connection((host, int(port)), timeout=2) as raw:
                        sock = context.wrap_socket(raw, server_hostname=host) if rng.random() < 0.7 else raw
                        sock.sendall(garbage)
                        sock.recv(4096)
                except (OSError, ssl.SSLError):
                    pass
                time.sleep(task.get("every", 0.2))


class _Stop(Exception):
    """Ends a broadcaster's loop at the end of the run."""


if __name__ == "__main__":
    with open(sys.argv[1]) as file:
        Agent(json.load(file)).run()
