"""Stop sequences over streamed text.

`stop` strings (OpenAI's parameter) end the reply and are not part of it. While streaming,
text that might be the beginning of a stop string is held back until the next piece shows
whether it is one, so a client never sees half a stop sequence. Written here because
transformers' `stop_strings` stops generation but leaves the stop string in the output and
knows nothing of what was already sent.
"""

from __future__ import annotations


class StopScanner:
    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""  # received, not yet released
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Text that is safe to release after `piece` arrived ("" once stopped)."""
        if self.stopped:
            return ""
        self.pending += piece
        hits = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            released, self.pending = self.pending[: min(hits)], ""
            return released
        keep = self.longest_partial_stop()
        released = self.pending[: len(self.pending) - keep]
        self.pending = self.pending[len(released):]
        return released

    def flush(self) -> str:
        """At the end of generation: whatever was held back was not a stop string after all."""
        released, self.pending = ("" if self.stopped else self.pending), ""
        return released

    def longest_partial_stop(self) -> int:
        """Length of the longest end of `pending` that is a proper prefix of a stop string."""
        best = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(self.pending)), best, -1):
                if self.pending.endswith(stop[:length]):
                    best = length
                    break
        return best
