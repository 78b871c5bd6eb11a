"""A subscription: one handler attached to one pattern on one bus."""

from __future__ import annotations

import functools
import inspect
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._bus import EventBus

Handler = Callable[..., Any]


def is_async_callable(obj: object) -> bool:
    """Tell whether calling ``obj`` returns an awaitable coroutine.

    Sees through ``functools.partial`` and callable objects whose ``__call__`` is ``async``:
    the one place eventbus decides between awaiting a handler and calling it.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    if type(obj) is types.FunctionType and "_is_coroutine_marker" not in obj.__dict__:
        return bool(obj.__code__.co_flags & inspect.CO_COROUTINE)  # what inspect would say
    call = None if inspect.isroutine(obj) else type(obj).__dict__.get("__call__")
    return inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(call)


def check_one_argument(handler: Handler) -> None:
    """Refuse a handler that cannot be called with exactly one positional argument (the
    event), when its signature can be read, so the mistake shows where it is subscribed.

    :raises TypeError: naming the handler and its signature
    """
    if _takes_one_argument(handler):
        return
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return
    try:
        signature.bind(None)
    except TypeError:
        raise TypeError(
            f"handler {handler_qualname(handler)}{signature} cannot be called with one "
            "positional argument, the event; give it exactly one parameter without a default "
            "(more are fine when they have defaults)"
        ) from None


def _takes_one_argument(handler: Handler) -> bool:
    """The quick answer for plain functions and methods, read off their code object
    (``inspect.signature`` costs microseconds); ``False`` means "ask inspect"."""
    target: Any = handler
    bound = 0
    if type(target) is types.MethodType:
        target, bound = target.__func__, 1
    if type(target) is not types.FunctionType or "__wrapped__" in target.__dict__:
        return False
    code = target.__code__
    positional = code.co_argcount - bound
    required = positional - len(target.__defaults__ or ())
    required_keywords = code.co_kwonlyargcount - len(target.__kwdefaults__ or ())
    takes_one = positional >= 1 or bool(code.co_flags & inspect.CO_VARARGS)
    return takes_one and required <= 1 and required_keywords == 0


def handler_qualname(handler: Handler) -> str:
    """The base name a handler is known by when no ``name=`` is given."""
    target: Any = handler
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__qualname__", None)
    return name if isinstance(name, str) else type(target).__qualname__


class _Strong:
    """A reference that holds its handler strongly, with the same call shape as a weakref."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def __call__(self) -> Handler:
        return self.handler


def reference(
    handler: Handler, *, weak: bool, on_dead: Callable[[object], None] | None
) -> Callable[[], Handler | None]:
    """Hold ``handler`` strongly, or weakly calling ``on_dead`` once it is collected."""
    if not weak:
        return _Strong(handler)
    if inspect.ismethod(handler):
        return weakref.WeakMethod(handler, on_dead)
    try:
        return weakref.ref(handler, on_dead)
    except TypeError:
        raise TypeError(
            f"weak=True needs a handler that supports weak references; {handler!r} does not "
            "(pass weak=False to hold it strongly)"
        ) from None


@dataclass(frozen=True, eq=False, init=False)
class Subscription:
    """The handle :meth:`EventBus.subscribe` returns.

    Call :meth:`unsubscribe`, or use it as a context manager to subscribe for a block::

        with bus.subscribe("invoice.*", handler):
            ...

    :ivar pattern: the type or wildcard pattern subscribed to (``**`` for every event)
    :ivar name: the key for this subscription: the explicit ``name=``, else the handler's
        qualified name with ``#2``, ``#3``... for later subscriptions sharing it
    :ivar priority: higher runs first; equal priorities run in subscription order
    :ivar once: the subscription ends after its first delivery
    :ivar weak: the handler is held weakly and the subscription ends when it is collected
    :ivar is_async: the handler is awaited
    :ivar event_class: the typed class subscribed to, when subscribed by class
    """

    pattern: str
    name: str
    priority: int
    once: bool
    weak: bool
    is_async: bool
    event_class: type | None
    _ref: Callable[[], Handler | None]
    _bus_ref: Callable[[], EventBus | None]
    _seq: int

    def __init__(
        self,
        *,
        pattern: str,
        name: str,
        priority: int,
        once: bool,
        weak: bool,
        is_async: bool,
        event_class: type | None,
        _ref: Callable[[], Handler | None],
        _bus_ref: Callable[[], EventBus | None],
        _seq: int,
    ) -> None:
        # One store of every field: a frozen dataclass's own __init__ sets them one by one,
        # which is most of what subscribing costs when a bus takes many subscriptions.
        object.__setattr__(
            self,
            "__dict__",
            {
                "pattern": pattern,
                "name": name,
                "priority": priority,
                "once": once,
                "weak": weak,
                "is_async": is_async,
                "event_class": event_class,
                "_ref": _ref,
                "_bus_ref": _bus_ref,
                "_seq": _seq,
            },
        )

    @property
    def handler(self) -> Handler | None:
        """The handler, or ``None`` once a weakly held one has been collected."""
        return self._ref()

    @property
    def active(self) -> bool:
        """True until unsubscribed, delivered once (``once=True``) or collected (``weak=True``)."""
        bus = self._bus_ref()
        return bus is not None and bus.is_subscribed(self)

    def unsubscribe(self) -> None:
        """End this subscription; calling it again does nothing."""
        bus = self._bus_ref()
        if bus is not None:
            bus.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unsubscribe()

    def __repr__(self) -> str:
        return f"<Subscription {self.name!r} on {self.pattern!r} priority={self.priority}>"
