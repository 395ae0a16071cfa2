"""A camera URL's cost in the broadcaster: CPU per frame with JPEG pass-through and with
decoding and re-encoding (what ``--quality`` or a ``--size`` change asks for).

The camera is an MJPEG-over-HTTP server (tests/cameras.py) in a process of its own; this
process runs what the broadcaster runs per frame: the camera reader (HTTP, multipart
parsing) and the frame's payload (``Broadcaster._payload``). The upload after it is the same
bytes either way, so it is left out. CPU is this process's (user + system) over the frames
it handled.

    python bench/camera_cpu.py [--seconds 8] [--fps 30] [--sizes 640x480,1280x720]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from client.broadcaster import Broadcaster
from client.camera import open_camera
from client.frames import NO_FRAME

CAMERA = """
import sys, threading
from tests.cameras import HttpCamera, camera_jpegs
width, height = map(int, sys.argv[2].split("x"))
camera = HttpCamera(camera_jpegs(60, (width, height)), fps=float(sys.argv[1])).start()
print(camera.url, flush=True)
sys.stdin.read()
"""


def measure(url: str, pass_through: bool, seconds: float) -> tuple[int, float, int]:
    """(frames, CPU seconds, bytes of a frame) over ``seconds`` of the camera."""
    source = open_camera(url, interval=1 / 1000)
    broadcaster = Broadcaster(None, "", source, quality=7, pass_through=pass_through)
    frames, size = 0, 0
    cpu, end = time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        frame = source.read()
        if frame is NO_FRAME:
            time.sleep(0.001)
            continue
        size = len(broadcaster._payload(frame)[0])
        frames += 1
    cpu = time.process_time() - cpu
    source.close()
    return frames, cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--sizes", default="640x480,1280x720")
    args = parser.parse_args()
    print("| frame | path | frames | CPU ms per frame | CPU % of a core | bytes per frame |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for size in args.sizes.split(","):
        camera = subprocess.Popen(
            [sys.executable, "-c", CAMERA, str(args.fps), size], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        url = camera.stdout.readline().strip() + "/video.mjpg"
        try:
            for pass_through in (True, False):
                frames, cpu, nbytes = measure(url, pass_through, args.seconds)
                path = "pass-through" if pass_through else "decode + re-encode"
                print(
                    f"| {size} | {path} | {frames} | {cpu / frames * 1000:.2f} | "
                    f"{cpu / args.seconds * 100:.1f} | {nbytes:,} |",
                    flush=True,
                )
        finally:
            camera.stdin.close()
            camera.wait(10)


if __name__ == "__main__":
    main()
