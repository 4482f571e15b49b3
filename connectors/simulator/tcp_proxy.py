"""A TCP proxy we control, to make a half-open link on demand: `pause()` stops forwarding in both directions
while every socket stays open (what a dead switch, a pulled cable behind a NAT or a hung server looks like to a
client: no FIN, no RST, just silence); `resume()` forwards again. `drop_connections()` resets every link.
No Django import."""
from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, listen_host: str, listen_port: int, target_host: str, target_port: int):
        self.listen_host, self.listen_port = listen_host, listen_port
        self.target_host, self.target_port = target_host, target_port
        self._server: asyncio.Server | None = None
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task] = set()
        self.connections = 0

    @property
    def paused(self) -> bool:
        return not self._forwarding.is_set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def pause(self) -> None:
        self._forwarding.clear()

    def resume(self) -> None:
        self._forwarding.set()

    def drop_connections(self) -> None:
        for client_writer, server_writer in list(self._links):
            for writer in (client_writer, server_writer):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
        self._links.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # A paused proxy still accepts (the kernel would anyway), but forwards nothing: a half-open link.
        await self._forwarding.wait()
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        link = (client_writer, server_writer)
        self._links.add(link)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pipe(reader, writer, link))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._forwarding.wait()     # paused: hold the bytes (never deliver them), keep the socket
                if link not in self._links:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            for w in link:
                with contextlib.suppress(Exception):
                    w.transport.abort()
            self._links.discard(link)
