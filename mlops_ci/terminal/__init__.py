"""What a person sees in a terminal: colour for the text summary and a live view of the checks.

The ``text`` format (:mod:`mlops_ci.formats.text`) stays plain; this package decides, from the
stream and the environment, whether colour and cursor movement are welcome (:mod:`.console`),
colours the summary, and shows the checks running and finished (:mod:`.live`). ``rich`` is
imported inside the functions that draw, so ``import mlops_ci.cli`` stays light.
"""

from __future__ import annotations

from mlops_ci.terminal.console import color_enabled, colorize, live_enabled
from mlops_ci.terminal.live import LiveView, live_view

__all__ = ["LiveView", "color_enabled", "colorize", "live_enabled", "live_view"]
