"""Runs the services as child processes with prefixed logs, and stops them all on Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from services.settings import Settings

STOP_GRACE_S = 20.0


class Supervisor:
    def __init__(
        self, settings: Settings, bootstrap: str, services: Sequence[str], child_env: Mapping[str, str]
    ) -> None:
        self._services = list(services)
        self._env = dict(
            os.environ,
            ACTORWATCH_BOOTSTRAP_SERVERS=bootstrap,
            ACTORWATCH_GROUP_PREFIX=settings.group_prefix,
            PYTHONUNBUFFERED="1",
            **child_env,
        )
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._pumps: list[asyncio.Task[None]] = []
        self.stop_requested = asyncio.Event()
        self.child_exited = asyncio.Event()
        self.exit_code = 0
        self._width = max(len(s) for s in self._services)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop_requested.set)

    async def start(self) -> None:
        for service in self._services:
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.cli",
                "run",
                service,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=self._env,
                # Own process group: Ctrl-C reaches the supervisor, which then stops children in order.
                start_new_session=True,
            )
            self._children[service] = child
            self._pumps.append(asyncio.create_task(self._pump(service, child)))

    async def _pump(self, service: str, child: asyncio.subprocess.Process) -> None:
        assert child.stdout is not None
        prefix = f"[{service:<{self._width}}] "
        async for raw in child.stdout:
            sys.stdout.write(prefix + raw.decode("utf-8", "replace").rstrip() + "\n")
            sys.stdout.flush()
        code = await child.wait()
        if not self.stop_requested.is_set():
            print(f"actorwatch: {service} exited with code {code}; stopping the others", flush=True)
            self.exit_code = code or 1
            self.child_exited.set()

    async def wait(self) -> None:
        """Until a stop is requested or a child exits on its own."""
        stop = asyncio.create_task(self.stop_requested.wait())
        died = asyncio.create_task(self.child_exited.wait())
        await asyncio.wait({stop, died}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stop, died):
            task.cancel()

    async def stop(self) -> None:
        self.stop_requested.set()
        for child in self._children.values():
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
        for service, child in self._children.items():
            try:
                await asyncio.wait_for(child.wait(), STOP_GRACE_S)
            except TimeoutError:
                print(f"actorwatch: {service} did not stop within {STOP_GRACE_S:g} s; killing it", flush=True)
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        for pump in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def run(self) -> int:
        self.install_signal_handlers()
        await self.start()
        try:
            await self.wait()
        finally:
            print("actorwatch: stopping services", flush=True)
            await self.stop()
        return self.exit_code
