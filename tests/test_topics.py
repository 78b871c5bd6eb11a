"""Event type names and wildcard patterns: what is valid, and which types a pattern selects."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import eventbus
from eventbus import Event, EventBus, EventBusError, InvalidEventTypeError, InvalidPatternError
from eventbus._topics import compile_pattern, validate_event_type

# -- a slow, obviously correct reference ---------------------------------------------------

SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


def reference_is_type(text: str) -> bool:
    """A type is one or more dot-separated segments of letters, digits, '_' and '-'."""
    return all(SEGMENT.fullmatch(segment) for segment in text.split("."))


def reference_is_pattern(text: str) -> bool:
    """A pattern is a type in which whole segments may be '*' or '**'."""
    return all(segment in ("*", "**") or SEGMENT.fullmatch(segment) for segment in text.split("."))


def reference_match(pattern: list[str], segments: list[str]) -> bool:
    """Match segment lists recursively: '*' takes one segment, '**' takes zero or more."""
    if not pattern:
        return not segments
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(reference_match(rest, segments[i:]) for i in range(len(segments) + 1))
    if not segments:
        return False
    return (head in ("*", segments[0])) and reference_match(rest, segments[1:])


# -- event types ---------------------------------------------------------------------------

VALID_TYPES = [
    pytest.param("invoice.paid", id="two-segments"),
    pytest.param("customer.subscription.trial_will_end", id="underscore"),
    pytest.param("payment_intent.payment_failed", id="underscores-everywhere"),
    pytest.param("manual", id="one-segment"),
    pytest.param("A-1.b_2.C3", id="mixed-case-digits-dash"),
    pytest.param("123", id="digits-only"),
]

INVALID_TYPES = [
    pytest.param("", "empty", id="empty"),
    pytest.param("invoice..paid", "segment 2", id="two-dots"),
    pytest.param(".invoice", "segment 1", id="leading-dot"),
    pytest.param("invoice.", "segment 2", id="trailing-dot"),
    pytest.param("invoice.pa id", "'pa id'", id="space"),
    pytest.param("invoice/paid", "'invoice/paid'", id="slash"),
    pytest.param("invoice.paid!", "'paid!'", id="punctuation"),
    pytest.param("invoice.paid\n", "'paid\\n'", id="trailing-newline"),
    pytest.param("invoice.*", "'*'", id="star-wildcard"),
    pytest.param("customer.**.end", "'**'", id="double-star-wildcard"),
    pytest.param("customer.trial_*", "'trial_*'", id="partial-wildcard"),
]


@pytest.mark.parametrize("event_type", VALID_TYPES)
def test_valid_type_is_accepted(bus: EventBus, event_type: str) -> None:
    """A well-formed type builds an event and is delivered to its exact subscribers."""
    seen: list[str] = []
    bus.subscribe(event_type, lambda event: seen.append(event.type))
    assert bus.publish(event_type).event.type == event_type
    assert Event(type=event_type).type == event_type
    assert seen == [event_type]


@pytest.mark.parametrize(("event_type", "named_part"), INVALID_TYPES)
def test_invalid_type_raises_naming_the_part(event_type: str, named_part: str) -> None:
    """A malformed type raises InvalidEventTypeError, a ValueError naming the bad segment."""
    with pytest.raises(InvalidEventTypeError, match=re.escape(named_part)) as caught:
        validate_event_type(event_type)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, EventBusError)
    assert caught.value.event_type == event_type


@pytest.mark.parametrize(("event_type", "named_part"), INVALID_TYPES)
def test_invalid_type_is_rejected_by_the_envelope(event_type: str, named_part: str) -> None:
    """Building an Event with a malformed type raises a ValueError naming the bad segment."""
    with pytest.raises(ValueError, match=re.escape(named_part)):
        Event(type=event_type)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="none"),
        pytest.param(42, id="int"),
        pytest.param(b"invoice.paid", id="bytes"),
    ],
)
def test_non_string_type_is_rejected(value: object) -> None:
    """A type that is not a string raises InvalidEventTypeError saying what it got."""
    with pytest.raises(InvalidEventTypeError, match=type(value).__name__):
        validate_event_type(value)


# -- patterns ------------------------------------------------------------------------------

INVALID_PATTERNS = [
    pytest.param("trial_*", "'trial_*'", id="partial-star"),
    pytest.param("customer.trial_*", "'trial_*'", id="partial-star-last-segment"),
    pytest.param("customer.*end", "'*end'", id="star-prefix"),
    pytest.param("customer.***", "'***'", id="triple-star"),
    pytest.param("customer..paid", "segment 2", id="two-dots"),
    pytest.param("", "empty", id="empty"),
    pytest.param(".customer", "segment 1", id="leading-dot"),
    pytest.param("customer.", "segment 2", id="trailing-dot"),
    pytest.param("customer.sub scription", "'sub scription'", id="space"),
    pytest.param("invoice/paid", "'invoice/paid'", id="slash"),
]


@pytest.mark.parametrize(("pattern", "named_part"), INVALID_PATTERNS)
def test_invalid_pattern_raises_naming_the_part(
    bus: EventBus, pattern: str, named_part: str
) -> None:
    """A malformed pattern raises InvalidPatternError, a ValueError naming the bad segment."""
    with pytest.raises(InvalidPatternError, match=re.escape(named_part)) as caught:
        bus.subscribe(pattern, lambda event: None)
    assert isinstance(caught.value, ValueError)
    assert caught.value.pattern == pattern


@pytest.mark.parametrize(("pattern", "named_part"), INVALID_PATTERNS)
def test_invalid_pattern_subscribes_nothing(bus: EventBus, pattern: str, named_part: str) -> None:
    """A subscribe that raised for its pattern leaves no subscription behind."""
    with pytest.raises(InvalidPatternError):
        bus.subscribe(pattern, lambda event: None)
    assert bus.publish("customer.trial_end").handled == 0


def test_invalid_pattern_on_decorator(bus: EventBus) -> None:
    """The decorator form rejects a bad pattern as subscribe does."""
    with pytest.raises(InvalidPatternError, match="'trial_\\*'"):

        @bus.on("customer.trial_*")
        def handler(event: Event) -> None:
            """Never subscribed."""

    assert bus.publish("customer.trial_end").handled == 0


def test_non_string_pattern_is_rejected(bus: EventBus) -> None:
    """A pattern that is not a string raises InvalidPatternError."""
    with pytest.raises(InvalidPatternError):
        bus.subscribe(42, lambda event: None)  # type: ignore[call-overload]


MATCHES = [
    pytest.param("invoice.paid", "invoice.paid", True, id="exact"),
    pytest.param("invoice.paid", "invoice.paid.late", False, id="exact-is-not-a-prefix"),
    pytest.param("invoice", "invoice.paid", False, id="exact-one-segment-is-not-a-prefix"),
    pytest.param("invoice.pai", "invoice.paid", False, id="exact-partial-segment"),
    pytest.param("*", "invoice", True, id="star-alone-one-segment"),
    pytest.param("*", "invoice.paid", False, id="star-alone-not-two-segments"),
    pytest.param("*.paid", "invoice.paid", True, id="star-at-start"),
    pytest.param("*.paid", "paid", False, id="star-at-start-needs-a-segment"),
    pytest.param("*.paid", "a.invoice.paid", False, id="star-at-start-only-one-segment"),
    pytest.param("customer.*.end", "customer.trial.end", True, id="star-in-middle"),
    pytest.param("customer.*.end", "customer.end", False, id="star-in-middle-needs-a-segment"),
    pytest.param("customer.*.end", "customer.a.b.end", False, id="star-in-middle-only-one"),
    pytest.param(
        "customer.subscription.*", "customer.subscription.created", True, id="star-at-end"
    ),
    pytest.param("customer.subscription.*", "customer.subscription", False, id="star-at-end-zero"),
    pytest.param(
        "customer.subscription.*", "customer.subscription.a.b", False, id="star-at-end-two"
    ),
    pytest.param("customer.**", "customer", True, id="double-star-at-end-zero-segments"),
    pytest.param(
        "customer.**",
        "customer.subscription.trial_will_end",
        True,
        id="double-star-at-end-two-segments",
    ),
    pytest.param("customer.**", "customers", False, id="double-star-at-end-not-a-prefix"),
    pytest.param("customer.**", "x.customer", False, id="double-star-at-end-anchored"),
    pytest.param("**.paid", "paid", True, id="double-star-at-start-zero-segments"),
    pytest.param("**.paid", "a.b.paid", True, id="double-star-at-start-two-segments"),
    pytest.param("**.paid", "invoice.paid.late", False, id="double-star-at-start-anchored"),
    pytest.param("customer.**.end", "customer.end", True, id="double-star-in-middle-zero"),
    pytest.param("customer.**.end", "customer.a.b.end", True, id="double-star-in-middle-two"),
    pytest.param("customer.**.end", "customer.end.x", False, id="double-star-in-middle-anchored"),
    pytest.param("**", "manual", True, id="double-star-alone-one-segment"),
    pytest.param("**", "a.b.c.d", True, id="double-star-alone-many-segments"),
    pytest.param("*.**", "a", True, id="star-then-double-star"),
    pytest.param("**.*.**", "a.b", True, id="double-star-star-double-star"),
    pytest.param("*.*", "a", False, id="two-stars-need-two-segments"),
]


@pytest.mark.parametrize(("pattern", "event_type", "expected"), MATCHES)
def test_pattern_selects_types(
    bus: EventBus, pattern: str, event_type: str, expected: bool
) -> None:
    """A subscription receives exactly the types its pattern matches."""
    seen: list[str] = []
    bus.subscribe(pattern, lambda event: seen.append(event.type))
    result = bus.publish(event_type)
    assert (result.handled, seen) == ((1, [event_type]) if expected else (0, []))


@pytest.mark.parametrize(("pattern", "event_type", "expected"), MATCHES)
def test_compiled_pattern_agrees_with_table(pattern: str, event_type: str, expected: bool) -> None:
    """The compiled matcher gives the answers in the table."""
    assert compile_pattern(pattern)(event_type) is expected


# -- properties against the reference ------------------------------------------------------

# A small alphabet makes segments collide, so matches are frequent; the regex adds variety.
LITERALS = st.one_of(
    st.sampled_from(["a", "b", "a_b", "x-1", "A"]),
    st.from_regex(r"[A-Za-z0-9_-]{1,3}", fullmatch=True),
)
TYPE_SEGMENTS = st.lists(LITERALS, min_size=1, max_size=6)
PATTERN_SEGMENTS = st.lists(
    st.one_of(LITERALS, st.sampled_from(["*", "**"])), min_size=1, max_size=6
)


@given(pattern=PATTERN_SEGMENTS, segments=TYPE_SEGMENTS)
def test_compiled_pattern_matches_like_the_reference(
    pattern: list[str], segments: list[str]
) -> None:
    """compile_pattern(p)(t) agrees with a slow recursive matcher on every pattern and type."""
    expected = reference_match(pattern, segments)
    assert compile_pattern(".".join(pattern))(".".join(segments)) is expected


@given(pattern=PATTERN_SEGMENTS, suffix=TYPE_SEGMENTS)
def test_pattern_matches_its_own_instances(pattern: list[str], suffix: list[str]) -> None:
    """A type made by filling each wildcard of a pattern with segments is matched by it."""
    filled: list[str] = []
    for segment in pattern:
        if segment == "*":
            filled.append(suffix[0])
        elif segment == "**":
            filled.extend(suffix)
        else:
            filled.append(segment)
    assert compile_pattern(".".join(pattern))(".".join(filled))


@given(text=st.text(alphabet="ab_-.*/ 1", max_size=10))
def test_type_validation_agrees_with_the_reference(text: str) -> None:
    """A string is accepted as a type exactly when the reference grammar accepts it."""
    if reference_is_type(text):
        assert validate_event_type(text) == text
    else:
        with pytest.raises(InvalidEventTypeError):
            validate_event_type(text)


@given(text=st.text(alphabet="ab_-.*/ 1", max_size=10))
def test_pattern_validation_agrees_with_the_reference(text: str) -> None:
    """A string is accepted as a pattern exactly when the reference grammar accepts it."""
    if reference_is_pattern(text):
        compile_pattern(text)
    else:
        with pytest.raises(InvalidPatternError):
            compile_pattern(text)


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        pytest.param("a.*", "a.b", True, id="star"),
        pytest.param("a.*", "a.b.c", False, id="star-one-segment"),
        pytest.param("a.**", "a", True, id="double-star-empty"),
        pytest.param("a.b", "a.b", True, id="exact"),
    ],
)
def test_public_matches(pattern: str, event_type: str, expected: bool) -> None:
    """eventbus.matches answers for a pattern and a type, as the bus routes."""
    assert eventbus.matches(pattern, event_type) is expected


def test_public_matches_refuses_a_bad_pattern() -> None:
    """eventbus.matches raises InvalidPatternError for an invalid pattern."""
    with pytest.raises(eventbus.InvalidPatternError):
        eventbus.matches("a.b*", "a.b")


# -- issue 10: linear matching (bug 7), the route cache (bug 8), the segment index ----------


def count_comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the segments compiled patterns compare (the unit of matching work)."""
    import eventbus._topics as topics

    compared = [0]
    fits = topics._fits

    def counting(chunk: list[str], parts: list[str], start: int) -> bool:
        compared[0] += len(chunk) or 1
        return fits(chunk, parts, start)

    monkeypatch.setattr(topics, "_fits", counting)
    return compared


def test_consecutive_double_stars_match_in_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug 7: `**.**.**.**.**.nomatch` on an 80-segment type does about the work of
    `**.nomatch`, instead of backtracking through every split of the type."""
    event_type = ".".join(f"s{i}" for i in range(80))
    compared = count_comparisons(monkeypatch)
    compile_pattern.cache_clear()
    assert compile_pattern("**.nomatch")(event_type) is False
    simple = compared[0]
    assert simple >= 1  # the last segment was compared: the counter counts
    compared[0] = 0
    assert compile_pattern("**.**.**.**.**.nomatch")(event_type) is False
    assert 1 <= compared[0] <= min(2 * simple, 80)  # no split of the type is retried
    compared[0] = 0
    assert compile_pattern("**.s1.**.s3.**.s5.**.nomatch")(event_type) is False
    assert 2 <= compared[0] <= 4 * 80  # at least the head and the tail


def test_exact_types_compile_no_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    import eventbus._topics as topics

    compiled: list[str] = []
    monkeypatch.setattr(topics.re, "compile", lambda *a, **k: compiled.append(a[0]))
    compile_pattern.cache_clear()
    assert compile_pattern("invoice.paid")("invoice.paid") is True
    assert compile_pattern("invoice.paid")("invoice.paid.x") is False
    assert compile_pattern("invoice.*")("invoice.paid") is True
    assert compile_pattern("invoice.**")("invoice") is True
    assert compiled == []


@given(
    patterns=st.lists(PATTERN_SEGMENTS, min_size=1, max_size=6),
    segments=TYPE_SEGMENTS,
)
def test_the_bus_routes_like_the_reference(patterns: list[list[str]], segments: list[str]) -> None:
    """The segment index finds exactly the subscriptions whose pattern matches, in order."""
    bus = EventBus()
    subs = [bus.subscribe(".".join(p), lambda event: None) for p in patterns]
    expected = [sub for sub, p in zip(subs, patterns, strict=True) if reference_match(p, segments)]
    assert bus.handlers_for(".".join(segments)) == tuple(expected)
    for sub in subs[::2]:
        sub.unsubscribe()
    left = [sub for sub in expected if sub.active]
    assert bus.handlers_for(".".join(segments)) == tuple(left)


def test_subscribing_recomputes_only_the_routes_it_changes(bus: EventBus) -> None:
    """Bug 8: a subscribe or unsubscribe drops only the cached routes it can affect."""
    bus.subscribe("a.b", lambda event: None)
    bus.subscribe("c.*", lambda event: None)
    for event_type in ("a.b", "c.d", "e.f"):
        bus.publish(event_type)
    before = dict(bus._routes)
    sub = bus.subscribe("c.*", lambda event: None)
    assert bus._routes.keys() == {"a.b", "e.f"}
    assert all(bus._routes[t] is before[t] for t in ("a.b", "e.f"))
    bus.publish("c.d")
    sub.unsubscribe()
    assert "c.d" not in bus._routes
    bus.subscribe("a.b", lambda event: None)
    assert bus._routes.keys() == {"e.f"}


def test_an_exact_subscribe_keeps_the_routes_shared_by_shape(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Subscribing or ending an exact type keeps the routes types share by shape (they
    hold wildcard subscriptions only); a wildcard pattern drops them."""
    wildcards = bus._table._wildcards
    walks: list[object] = []
    matching = wildcards.matching
    monkeypatch.setattr(wildcards, "matching", lambda s: walks.append(s) or matching(s))
    bus.subscribe("x.*", lambda event: None)
    bus.publish("x.y")
    bus.subscribe("q.r", lambda event: None).unsubscribe()
    assert bus.publish("x.z").handled == 1
    assert len(walks) == 1
    bus.subscribe("x.*.*", lambda event: None)
    bus.publish("x.w")
    assert len(walks) == 2


def test_a_type_in_steady_use_stays_cached_past_the_limit(bus: EventBus) -> None:
    """Bug 8: new types passing through do not push out a type published all along."""
    from eventbus._routing import MAX_ROUTES

    bus.subscribe("hot.type", lambda event: None)
    bus.subscribe("**", lambda event: None)
    hot = bus.build("hot.type")
    bus.publish(hot)
    route = bus._routes["hot.type"]
    for i in range(3 * MAX_ROUTES):
        bus.publish(f"new.t{i}")
        if i % 100 == 0:
            bus.publish(hot)
    assert len(bus._routes) <= MAX_ROUTES
    bus.publish(hot)
    assert bus._routes["hot.type"] is route  # never recomputed


def test_valid_types_in_steady_use_stay_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug 8: the cache of valid types keeps a type in steady use, and stays bounded."""
    import eventbus._topics as topics

    checked: list[str] = []
    fullmatch = topics._VALID_TYPE.fullmatch

    class Counting:
        def fullmatch(self, text: str) -> object:
            checked.append(text)
            return fullmatch(text)

    monkeypatch.setattr(topics, "_VALID_TYPE", Counting())
    validate_event_type("hot.type")
    for i in range(3 * topics._MAX_VALID_TYPES):
        validate_event_type(f"other.t{i}")
        if i % 100 == 0:
            validate_event_type("hot.type")
    assert len(topics._valid_types) <= topics._MAX_VALID_TYPES
    assert checked.count("hot.type") == 1


def test_non_ascii_letters_are_refused() -> None:
    """Bug 9: only ASCII letters make a type (the README says so)."""
    with pytest.raises(InvalidEventTypeError, match="segment 1"):
        validate_event_type("café.paid")
    with pytest.raises(InvalidPatternError, match="segment 2"):
        compile_pattern("invoice.payé")


def test_family_classes_route_by_shape_with_their_literals(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Types without exact subscriptions share routes by shape; a registered family's
    literal segments count in the shape, so each type still gets its own class."""
    from typing import ClassVar

    import eventbus._routing as routing

    class Family(Event[dict[str, int]]):
        event_pattern: ClassVar[str] = "customer.subscription.*"

    monkeypatch.setattr(routing, "MAX_ROUTES", 2)  # shapes forgotten and recomputed too
    bus.register(Family)
    seen: list[type] = []
    bus.subscribe("**", lambda event: seen.append(type(event)))
    for _ in range(2):
        bus.publish("customer.subscription.created", {"n": 1})
        bus.publish("invoice.created")
        bus.publish("customer.created")
        bus.publish("a.b.c.d")
    assert seen == [Family, Event, Event, Event] * 2
    assert bus.event_class_for("customer.subscription.renewed") is Family
