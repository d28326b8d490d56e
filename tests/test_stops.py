"""Stop sequences over streamed text: the same result however the text is split."""

from hypothesis import given
from hypothesis import strategies as st

from assistant.serve.stops import StopScanner


def run(pieces, stops):
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(p) for p in pieces) + scanner.flush()
    return out, scanner.stopped


def expected(text, stops):
    hits = [text.find(s) for s in stops if s and s in text]
    return (text[: min(hits)], True) if hits else (text, False)


def test_stop_string_split_across_pieces_is_never_sent():
    scanner = StopScanner(["\nUser:"])
    sent = [scanner.feed(p) for p in ["Hello", " there\nU", "se", "r: more"]]
    assert sent == ["Hello", " there", "", ""] and scanner.stopped


def test_held_back_prefix_is_released_when_it_is_not_a_stop():
    scanner = StopScanner(["END"])
    assert scanner.feed("the EN") == "the "
    assert scanner.feed("D") == "" and scanner.stopped
    other = StopScanner(["END"])
    assert other.feed("the EN") + other.feed("d of it") + other.flush() == "the ENd of it"


def test_earliest_of_several_stops_wins():
    assert run(["a b STOP c HALT"], ["HALT", "STOP"]) == ("a b ", True)


@given(st.text(alphabet="abc\n😀", max_size=40), st.lists(st.text(alphabet="abc\n😀", min_size=1, max_size=4), max_size=3),
       st.lists(st.integers(0, 40), max_size=6))
def test_any_split_gives_the_text_up_to_the_first_stop(text, stops, cuts):
    bounds = sorted({0, len(text), *[c for c in cuts if c <= len(text)]})
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    assert run(pieces, stops) == expected(text, stops)
