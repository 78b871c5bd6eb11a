"""Benchmarks of eventbus against its peer libraries and the physical floors (issue 7).

A program, not tests: run ``python -m benchmarks`` (``--help`` for options). Nothing here is
named ``test_*``, and pytest only collects ``tests/``.
"""
