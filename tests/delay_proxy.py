"""A TCP proxy that adds latency: ``python -m tests.delay_proxy LISTEN_HOST:PORT TARGET_HOST:PORT
DELAY_FILE``. Each chunk is passed on, in order, ``delay`` seconds after it arrived, in both
directions; the delay (seconds, a float) is read from DELAY_FILE twice a second, so a run can
turn 200 ms of latency on and off while connections stay open (this kernel has no netem)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path


class Delay:
    def __init__(self, path: Path):
        self.path, self.seconds = path, 0.0

    async def follow(self) -> None:
        while True:
            try:
                self.seconds = float(self.path.read_text() or 0)
            except (OSError, ValueError):
                self.seconds = 0.0
            await asyncio.sleep(0.5)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: Delay) -> None:
    queue: asyncio.Queue = asyncio.Queue()

    async def send() -> None:
        while (item := await queue.get()) is not None:
            due, data = item
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay.seconds, data))
    except OSError:
        pass
    queue.put_nowait(None)
    try:
        await sender
    except OSError:
        pass


async def main(listen: str, target: str, delay_file: str) -> None:
    delay = Delay(Path(delay_file))
    asyncio.ensure_future(delay.follow())
    target_host, target_port = target.rsplit(":", 1)

    async def serve(reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, int(target_port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer, delay), pipe(up_reader, writer, delay))

    host, port = listen.rsplit(":", 1)
    server = await asyncio.start_server(serve, host, int(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
