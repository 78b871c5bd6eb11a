"""Self-handled notifications: Payment Kit's "custom notification processing", in process.

For each event, :class:`NotificationPolicy` finds the notification settings that apply and
either publishes ``manual.notification`` (the application sends its own notification) or calls
the application's default notifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from .._bus import EventBus
from .._envelope import Event
from .._subscription import Subscription, is_async_callable
from ..inbox import Delivery, Inbox, current
from ._errors import NotificationFailedError
from ._generated import MANUAL_NOTIFICATION, ManualNotification
from ._models import EventData, Notification, NotificationData, NotificationSetting, Setting

Notifier = Callable[[Event[Any]], Any]
Action = Literal["self_handle", "default", "ignore"]
Level = Literal["subscription", "global"]

_USER_KEYS = ("customer_did", "user_did", "userDid")


@dataclass(frozen=True, slots=True)
class Decision:
    """What :class:`NotificationPolicy` decided for one event.

    :ivar event_type: the event's type
    :ivar action: ``"self_handle"`` (``manual.notification`` is published), ``"default"`` (the
        default notifier is called, if any) or ``"ignore"`` (the event is a
        ``manual.notification`` itself)
    :ivar level: where the applying settings came from, ``None`` when none apply
    :ivar setting: the applying settings, ``None`` when none apply
    """

    event_type: str
    action: Action
    level: Level | None = None
    setting: NotificationSetting | None = None


def _field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` otherwise (pydantic extras included); or None."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _entity_of(event: Event[Any], /) -> Any:
    """The entity an event is about: its ``data.object``, or ``None`` when it has none."""
    return _field(event.data, "object")


def _default_user(event: Event[Any]) -> str | None:
    entity = _entity_of(event)
    for holder in (entity, _field(entity, "metadata")):
        for key in _USER_KEYS:
            value = _field(holder, key)
            if isinstance(value, str) and value:
                return value
    return None


def _as_setting(value: Any) -> NotificationSetting:
    if isinstance(value, NotificationSetting):
        return value
    return NotificationSetting.model_validate(value)


class NotificationPolicy:
    """Decide, per event, whether the application sends the notification itself.

    Settings ``{self_handle, include_events, exclude_events}`` come from two levels, as on the
    platform:

    - **subscription level**: settings carried on the subscription, found at
      ``notification_settings``, or at ``subscription_data.notification_settings`` on a
      checkout session;
    - **global level**: a named :class:`Setting` given in ``settings``, referenced from the
      subscription's ``metadata.setting_id`` by its ``id`` or, failing that, its
      ``mount_location``. Only active settings of type ``notification`` count.

    The subscription level wins whenever present, even when it does not self-handle. A
    setting self-handles a type when ``self_handle`` is true, the type matches no
    ``exclude_events`` pattern, and ``include_events`` is absent or has a pattern matching it.

    A self-handled event makes the policy publish ``manual.notification`` on the bus, its
    ``data.object`` being ``{type: <trigger type>, data: {entity, userDid, context}}``, its
    ``parent_id`` the trigger's id and its id ``<trigger id>:manual.notification``. Any other
    event goes to ``default_notifier``, when given. ``manual.notification`` events themselves
    are ignored, so the policy never feeds itself.

    When an :class:`~eventbus.inbox.Inbox` on the policy's bus is delivering the trigger (a
    :class:`WebhookReceiver`, a stream consumer), the follow-up is delivered through that
    inbox (:func:`eventbus.inbox.current`) instead of a plain publish: each of its handlers
    runs to success once, and if any fails the policy's handler raises
    :class:`NotificationFailedError`, so the trigger's delivery fails and its retry runs the
    follow-up's failed handlers again (only those). Nothing needs setting up for this.

    :param bus: where ``manual.notification`` is published
    :param settings: the global settings (:class:`Setting` or mappings of its fields)
    :param default_notifier: called with each event that is not self-handled (sync or async)
    :param subscription_of: returns what carries an event's subscription-level settings and
        ``metadata.setting_id``; defaults to the event's ``data.object`` (an invoice's event
        needs its subscription looked up to follow subscription-level settings)
    :param user_of: returns the user's DID for an event; defaults to ``customer_did``,
        ``user_did`` or ``userDid`` on the entity or in its ``metadata``, else ``None``
    :param context_of: returns the notification's ``context``; defaults to ``{}``
    :raises pydantic.ValidationError: a setting does not fit :class:`Setting`
    """

    def __init__(
        self,
        bus: EventBus,
        /,
        *,
        settings: Iterable[Setting | Mapping[str, Any]] = (),
        default_notifier: Notifier | None = None,
        subscription_of: Callable[[Event[Any]], Any] = _entity_of,
        user_of: Callable[[Event[Any]], str | None] = _default_user,
        context_of: Callable[[Event[Any]], Mapping[str, Any]] | None = None,
    ) -> None:
        self.bus = bus
        self.default_notifier = default_notifier
        self._subscription_of = subscription_of
        self._user_of = user_of
        self._context_of = context_of
        self.settings = tuple(
            s if isinstance(s, Setting) else Setting.model_validate(s) for s in settings
        )
        usable = [s for s in self.settings if s.active and s.type == "notification"]
        self._by_id = {s.id: s.settings for s in usable}
        self._by_mount = {s.mount_location: s.settings for s in usable if s.mount_location}

    def decide(self, event: Event[Any], /) -> Decision:
        """Decide for ``event`` without acting on it.

        :raises pydantic.ValidationError: subscription-level settings are malformed
        """
        if event.type == MANUAL_NOTIFICATION:
            return Decision(event.type, "ignore")
        found = self._settings_for(event)
        if found is None:
            return Decision(event.type, "default")
        level, setting = found
        action: Action = "self_handle" if setting.covers(event.type) else "default"
        return Decision(event.type, action, level, setting)

    def _settings_for(self, event: Event[Any]) -> tuple[Level, NotificationSetting] | None:
        holder = self._subscription_of(event)
        own = _field(holder, "notification_settings")
        if own is None:
            own = _field(_field(holder, "subscription_data"), "notification_settings")
        if own is not None:
            return "subscription", _as_setting(own)
        setting_id = _field(_field(holder, "metadata"), "setting_id")
        if not isinstance(setting_id, str):
            return None
        named = self._by_id.get(setting_id) or self._by_mount.get(setting_id)
        return None if named is None else ("global", named)

    def build_notification(self, event: Event[Any], /) -> ManualNotification:
        """The ``manual.notification`` that self-handling ``event`` publishes."""
        entity = _entity_of(event)
        if isinstance(entity, BaseModel):
            entity = entity.model_dump()
        context = {} if self._context_of is None else dict(self._context_of(event))
        payload = NotificationData(entity=entity, user_did=self._user_of(event), context=context)
        notification = Notification(type=event.type, data=payload)
        return ManualNotification(
            id=f"{event.id}:{MANUAL_NOTIFICATION}",
            data=EventData[Notification](object=notification),
            parent_id=event.id,
        )

    def handle(self, event: Event[Any], /) -> Decision:
        """Decide for ``event`` and act: publish ``manual.notification`` or notify by default.

        The notification is delivered through the inbox delivering ``event``, if any, else
        published with :meth:`EventBus.publish` (its handlers' failures are then in that
        publish's result, or raised if the bus raises errors).

        :raises NotificationFailedError: delivered through an inbox, a handler of the
            notification failed
        :raises TypeError: the default notifier is async; use :meth:`handle_async`
        """
        decision = self.decide(event)
        if decision.action == "self_handle":
            notification = self.build_notification(event)
            inbox = self._inbox()
            if inbox is None:
                self.bus.publish(notification)
            else:
                _check(inbox.deliver_sync(notification))
        elif decision.action == "default" and self.default_notifier is not None:
            if is_async_callable(self.default_notifier):
                raise TypeError(
                    "the default notifier is async; call 'await policy.handle_async(event)' "
                    "or attach the policy with asynchronous=True"
                )
            self.default_notifier(event)
        return decision

    async def handle_async(self, event: Event[Any], /) -> Decision:
        """As :meth:`handle`, from async code: publishes with :meth:`EventBus.publish_async`
        and awaits an async default notifier (a sync one is called)."""
        decision = self.decide(event)
        if decision.action == "self_handle":
            notification = self.build_notification(event)
            inbox = self._inbox()
            if inbox is None:
                await self.bus.publish_async(notification)
            else:
                _check(await inbox.deliver(notification))
        elif decision.action == "default" and self.default_notifier is not None:
            outcome = self.default_notifier(event)
            if is_async_callable(self.default_notifier):
                await outcome
        return decision

    def _inbox(self) -> Inbox | None:
        """The inbox delivering the current trigger, when it delivers to this bus."""
        inbox = current()
        return inbox if inbox is not None and inbox.bus is self.bus else None

    def attach(
        self, pattern: str, /, *, priority: int = 0, asynchronous: bool | None = None
    ) -> Subscription:
        """Subscribe the policy to ``pattern`` on its bus; return the subscription.

        :param priority: as for :meth:`EventBus.subscribe`
        :param asynchronous: subscribe :meth:`handle_async` rather than :meth:`handle`;
            defaults to whether the default notifier is async. Choose it when
            ``manual.notification`` has async handlers and events are published with
            ``publish_async`` (a sync handler cannot publish to async handlers inside a
            running loop)
        :raises InvalidPatternError: the pattern is malformed
        """
        if asynchronous is None:
            asynchronous = is_async_callable(self.default_notifier)
        handler = self.handle_async if asynchronous else self.handle
        return self.bus.subscribe(pattern, handler, priority=priority)

    def __repr__(self) -> str:
        return f"<NotificationPolicy settings={len(self.settings)}>"


def _check(delivery: Delivery) -> None:
    """Fail the trigger's handler unless every follow-up handler has succeeded.

    :raises NotificationFailedError: the follow-up failed, was given up, or is in flight
    """
    if delivery.status not in ("handled", "duplicate"):
        raise NotificationFailedError(delivery.event_id, delivery.status, delivery.failed)
