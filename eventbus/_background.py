"""The asyncio loop a bus runs async handlers on when published to from sync code.

Started on first need in a daemon thread and kept for the life of the bus, so a loop-bound
object one handler makes (an ``httpx.AsyncClient``, a database pool) still works on the next
publish. :meth:`BackgroundLoop.stop` ends it; a later :meth:`BackgroundLoop.run` starts a new one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """One asyncio event loop in a daemon thread, started lazily."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the loop with a copy of the caller's context variables, block
        until it finishes, and return its result or raise what it raised (as itself, be it a
        ``KeyboardInterrupt``). If the caller is interrupted, the work is cancelled."""
        loop = self._running_loop()
        context = contextvars.copy_context()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[None]] = []

        async def body() -> None:
            try:
                done.set_result(await work())
            except BaseException as exc:  # handed to the caller, never to the loop
                done.set_exception(exc)

        def start() -> None:
            tasks.append(loop.create_task(body(), context=context))

        loop.call_soon_threadsafe(start)
        try:
            return done.result()
        except BaseException:
            if not done.done():  # the caller was interrupted (Ctrl-C): stop the work
                loop.call_soon_threadsafe(lambda: [task.cancel() for task in tasks])
            raise

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(loop, ready), name=self._name, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(asyncio.sleep(0))  # start work handed over meanwhile
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop the loop and wait for its thread (tasks still running there are cancelled)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():  # a handler on the loop may close the bus
            thread.join()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
