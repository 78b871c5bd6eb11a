"""Write ``_generated.py`` and ``__init__.py`` from the table in ``_table.py``.

Run ``python -m eventbus.paymentkit._codegen`` after changing the table; ``--check`` exits 1
when the committed files are not what the table generates.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ._table import FAMILIES, TYPES, EventSpec, Family

HERE = Path(__file__).parent
LINE = 100
HEADER = (
    '"""{doc}\n\nGenerated from ``_table.py`` by ``python -m eventbus.paymentkit._codegen``; '
    'do not\nedit it by hand.\n"""\n'
)

#: Names the package exports besides the generated ones, by module.
HANDWRITTEN = {
    "._catalogue": ("describe", "register"),
    "._deprecated": ("__getattr__",),
    "._models": (
        "CheckoutSession",
        "CustomerSubscription",
        "EventData",
        "Invoice",
        "Notification",
        "NotificationData",
        "NotificationSetting",
        "PaymentIntent",
        "PaymentKitModel",
        "Refund",
        "Setting",
        "SubscriptionData",
    ),
    "._errors": ("NotificationFailedError",),
    "._notifications": ("Decision", "NotificationPolicy"),
}


def generated_names() -> list[str]:
    """Every name ``_generated.py`` defines for export."""
    constants = [spec.constant for spec in TYPES]
    classes = [family.class_name for family in FAMILIES] + [spec.class_name for spec in TYPES]
    return [*constants, "DESCRIPTIONS", "EVENT_CLASSES", "EventType", *classes]


def render_generated() -> str:
    """The source of ``_generated.py``."""
    entities = sorted({f.entity for f in FAMILIES} | {s.entity for s in TYPES if s.entity})
    parts = [
        HEADER.format(doc="The Payment Kit catalogue: constants, descriptions, enum, classes."),
        "from __future__ import annotations\n",
        "from collections.abc import Mapping\nfrom enum import StrEnum\n"
        "from types import MappingProxyType\nfrom typing import ClassVar, Final, Literal\n",
        "from .._envelope import Event\nfrom .._registry import EventClass\n"
        + _import("._models", ["EventData", *entities]),
        "".join(f'{spec.constant}: Final = "{spec.type}"\n' for spec in TYPES),
        _descriptions(),
        _enum(),
        *(_family(family) for family in FAMILIES),
        _classes(),
        _event_classes(),
    ]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(parts))


def _import(module: str, names: list[str]) -> str:
    listed = "".join(f"    {name},\n" for name in sorted(names, key=_import_order))
    return f"from {module} import (\n{listed})\n"


def _descriptions() -> str:
    rows = "".join(_description(spec) for spec in TYPES)
    return (
        "#: Each documented type and its one-line description, in the documents' order.\n"
        "DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(\n    {\n"
        f"{rows}    }}\n)\n"
    )


def _description(spec: EventSpec) -> str:
    line = f"        {spec.constant}: {json.dumps(spec.description)},\n"
    if len(line) <= LINE + 1:
        return line
    return f"        {spec.constant}: (\n            {json.dumps(spec.description)}\n        ),\n"


def _enum() -> str:
    members = "".join(f"    {spec.constant} = {spec.constant}\n" for spec in TYPES)
    return (
        "\nclass EventType(StrEnum):\n"
        '    """The documented types as an enum; members compare equal to the plain '
        'strings."""\n\n'
        f"{members}\n"
        "    @property\n    def description(self) -> str:\n"
        '        """The documents\' one-line description of this type."""\n'
        "        return DESCRIPTIONS[self.value]\n"
    )


def _family(family: Family) -> str:
    article = "an" if family.entity[0] in "AEIOU" else "a"
    members = [spec for spec in TYPES if spec.family is family]
    doc = f"Every ``{family.pattern}`` event: its ``data.object`` is {article}"
    entity = f":class:`{family.entity}`."
    doc += f" {entity}" if len(doc) + len(entity) + 12 <= LINE else f"\n    {entity}\n    "
    return (
        f"\nclass {family.class_name}(Event[EventData[{family.entity}]]):\n"
        f'    """{doc}"""\n\n'
        f'    event_pattern: ClassVar[str] = "{family.pattern}"\n'
        + "".join(_member(spec, family.class_name) for spec in members)
    )


def _member(spec: EventSpec, base: str, doc: str = "") -> str:
    doc = doc or f"``{spec.type}``: {spec.description}"
    return (
        f"\n\nclass {spec.class_name}({base}):\n"
        f'    """{doc}"""\n\n'
        f'    type: Literal["{spec.type}"] = "{spec.type}"\n'
    )


def _classes() -> str:
    own = [spec for spec in TYPES if spec.family is None]
    return "".join(
        _member(spec, f"Event[EventData[{spec.entity}]]", _indent(spec.doc)) for spec in own
    )


def _indent(doc: str) -> str:
    """A multi-line docstring body, indented for a class, its closing quotes on their own line."""
    return doc.replace("\n", "\n    ").replace("\n    \n", "\n\n") + "\n    "


def _event_classes() -> str:
    order: list[str] = []
    for family in FAMILIES:
        order.append(family.class_name)
        order += [spec.class_name for spec in TYPES if spec.family is family]
    order += [spec.class_name for spec in TYPES if spec.family is None]
    rows = "".join(f"    {name},\n" for name in order)
    return (
        "\n\n#: Every class of the catalogue, families before their members.\n"
        f"EVENT_CLASSES: tuple[EventClass, ...] = (\n{rows})\n"
    )


def render_init() -> str:
    """The source of the package's ``__init__.py``."""
    modules = {"._generated": tuple(generated_names()), **HANDWRITTEN}
    imports = "".join(_import(module, list(names)) for module, names in sorted(modules.items()))
    imports = imports.replace("    __getattr__,", "    __getattr__ as __getattr__,")
    exported = sorted(
        name
        for names in [generated_names(), *HANDWRITTEN.values()]
        for name in names
        if not name.startswith("_")
    )
    rows = "".join(f'    "{name}",\n' for name in exported)
    doc = (
        "Payment Kit on eventbus: documented event types, typed payloads, self-handled "
        "notifications."
    )
    return f"{HEADER.format(doc=doc)}\n{imports}\n__all__ = [\n{rows}]\n"


def _import_order(name: str) -> tuple[int, str]:
    """isort's order inside one import: CONSTANTS, then Classes, then functions."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return 0, name
    return (1, name) if name[:1].isupper() else (2, name)


def main(argv: list[str]) -> int:
    files = {HERE / "_generated.py": render_generated(), HERE / "__init__.py": render_init()}
    stale = [path for path, text in files.items() if _read(path) != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path} is not what _table.py generates; run python -m {__spec__.name}")
        return 1 if stale else 0
    for path in stale:
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
