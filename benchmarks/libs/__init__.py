"""One module per library behind the interface in :mod:`benchmarks._core`; floors last."""

from __future__ import annotations

from .._core import Contender
from . import blinker_, bubus_, eventbus_, floors, psygnal_, pyee_, pymitter_, pypubsub_

#: Every row source, eventbus first (ratios are to it), floors last.
CONTENDERS: list[Contender] = [
    *eventbus_.CONTENDERS,
    *blinker_.CONTENDERS,
    *pyee_.CONTENDERS,
    *psygnal_.CONTENDERS,
    *pymitter_.CONTENDERS,
    *pypubsub_.CONTENDERS,
    *bubus_.CONTENDERS,
    *floors.CONTENDERS,
]
