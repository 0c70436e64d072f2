"""The experiments. Each protocol is a package (or module) that registers itself with
``autoalign.protocol.protocol`` and reads top to bottom like a paper's method section.

Protocols are found through ``autoalign.registry.protocols`` and imported only when a run names
them, so one protocol's dependencies cost nothing to another. A protocol never imports another.
"""

from __future__ import annotations

from ..protocol import get_protocol

__all__ = ["get_protocol"]
