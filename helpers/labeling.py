"""Labelling (lesson 2; lessons 7 and 9 send items to it): an append-only label file and labeller
objects that ipywidgets drive.

The logic lives in plain Python objects (``LikertLabeler``; lesson 2 adds the pairwise one), so
tests can click through them without a browser and headless runs can use a scripted rater
through the same path. Every action is appended to a JSONL file, never rewritten: an undo is
an event of its own, and reopening a labeller replays the file and resumes at the first item
that has no label yet.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: one labeller per file at a time
    fcntl = None

from helpers.core.data import DataError, one_of, read_jsonl, text, validate_row

EVENT_SCHEMA = {"item_id": text, "rater": text, "action": one_of("label", "skip", "undo")}
EVENT_FIELDS = {"trait": text, "item_key": text}  # written by every labeller; older files may lack them


class LabelStore:
    """An append-only JSONL file of labelling events, safe for several labellers at once.

    Every append happens under an exclusive lock on the file, after checking that the file ends
    well: a last line without its newline is completed first when it is a whole event, and a
    torn last line (cut off mid-write) stops the write with the one-line fix, so nothing already
    written is ever rewritten.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def events(self) -> list[dict]:
        """All events in file order; a corrupt line raises DataError naming file and line."""
        if not self.path.exists():
            return []
        hint = "; the file was left untouched, fix or remove that line"
        return [event for _, event in read_jsonl(self.path, EVENT_SCHEMA, EVENT_FIELDS, hint=hint)]

    @contextmanager
    def locked(self):
        """Hold an exclusive lock on the label file (no-op where ``fcntl`` is missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            if fcntl:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                if fcntl:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, event: dict) -> None:
        """Validate one event, then write it and flush it to disk before returning."""
        with self.locked() as handle:
            self._append_locked(handle, event)

    def _append_locked(self, handle, event: dict) -> None:
        """``append`` for a caller that holds the lock (it decided the event under it)."""
        problem = validate_row(event, EVENT_SCHEMA, EVENT_FIELDS)
        if problem:
            raise ValueError(f"label event not written: field {problem[0]!r} {problem[1]}")
        self._complete_last_line(handle)
        event = {**event, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        handle.write(json.dumps(event, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())

    def _complete_last_line(self, handle) -> None:
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        last = data.rsplit(b"\n", 1)[-1]
        try:
            json.loads(last)
        except ValueError:
            line = data.count(b"\n") + 1
            raise DataError(self.path, line, None, "the last line is cut off (a write was interrupted); "
                            "nothing was written: delete that line and label its item again") from None
        handle.write("\n")


def replay(events: list[dict], rater: str) -> dict[str, dict]:
    """The standing label/skip event per item for one rater, after undos."""
    stack = []
    for event in events:
        if event["rater"] != rater:
            continue
        if event["action"] == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(event)
    return {event["item_id"]: event for event in stack}


def item_key(item: dict) -> str:
    """A short digest of what the rater sees (every field but the id): a changed text is a new item."""
    shown = {k: v for k, v in item.items() if k != "item_id"}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


class LabelConflict(RuntimeError):
    """The item on screen was labelled meanwhile (another window or object on the same file)."""


class Labeler:
    """Shared bookkeeping: items in order, resume, skip, undo, progress.

    The label file is the only state: every question re-reads it and every action is decided and
    written under the file's lock, so two labellers on one file (two tabs, a re-run cell) see one
    history. Events count for an item only when rater, trait and the item's content all match.
    """

    def __init__(self, items: list[dict], store_path: str | Path, rater: str, trait: str):
        for name, value in (("rater", rater), ("trait", trait)):
            if text(value):
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        ids = [item.get("item_id") for item in items]
        bad = [i for i in ids if text(i)]
        if bad:
            raise ValueError(f"every item needs a non-empty string item_id, got {bad[0]!r}")
        if len(set(ids)) != len(ids):
            raise ValueError("item_id values must be unique")
        self.items, self.rater, self.trait, self.store = list(items), rater, trait, LabelStore(store_path)
        self.keys = {item["item_id"]: item_key(item) for item in self.items}
        self.store.events()  # a corrupt file is reported now, not at the first click

    def _mine(self, events: list[dict]) -> list[dict]:
        """This rater's events for this trait on these items as they are now."""
        return [e for e in events if e["rater"] == self.rater and e.get("trait", self.trait) == self.trait
                and e["item_id"] in self.keys and e.get("item_key", self.keys[e["item_id"]]) == self.keys[e["item_id"]]]

    def _standing(self) -> dict[str, dict]:
        """This rater's standing label or skip per item, read from the file now."""
        return replay(self._mine(self.store.events()), self.rater)

    def _next(self, standing: dict) -> dict | None:
        return next((item for item in self.items if item["item_id"] not in standing), None)

    def current(self) -> dict | None:
        """The first item without a label or skip from this rater (None when all are done)."""
        return self._next(self._standing())

    def progress(self) -> tuple[int, int]:
        standing = self._standing()
        return sum(item["item_id"] in standing for item in self.items), len(self.items)

    def _record(self, action: str, item_id: str | None = None, **fields) -> None:
        """Write an event for ``item_id`` (the item on screen; default the current one)."""
        with self.store.locked() as handle:
            standing = self._standing()
            if item_id is None:
                item = self._next(standing)
                if item is None:
                    raise RuntimeError("every item is already labelled")
                item_id = item["item_id"]
            elif item_id not in self.keys:
                raise ValueError(f"unknown item_id {item_id!r}")
            elif item_id in standing:
                raise LabelConflict(f"item {item_id!r} was labelled meanwhile (another window?); "
                                    "nothing was written, the next item is shown")
            self.store._append_locked(handle, {"item_id": item_id, "rater": self.rater, "action": action,
                                               "trait": self.trait, "item_key": self.keys[item_id], **fields})

    def skip(self, item_id: str | None = None) -> None:
        self._record("skip", item_id)

    def undo(self) -> bool:
        """Retract this rater's last standing label or skip; False when there is nothing to undo."""
        with self.store.locked() as handle:
            standing = self._standing()
            if not standing:
                return False
            last = list(standing.values())[-1]  # replay keeps the stack's order
            self.store._append_locked(handle, {"item_id": last["item_id"], "rater": self.rater, "action": "undo",
                                               "trait": self.trait, "item_key": self.keys[last["item_id"]]})
        return True


def _button_actions(labeler, label, on_screen: dict, reason, run):
    """``act(action)`` -> a button callback: undo, skip, or ``label(action, reason, item_id=...)``
    for the item on screen (never the next one: see :class:`LabelConflict`)."""
    def act(action):
        def do():
            if action == "undo":
                labeler.undo()
            elif on_screen["item_id"] is not None:
                if action == "skip":
                    labeler.skip(on_screen["item_id"])
                else:
                    label(action, reason.value, item_id=on_screen["item_id"])
            reason.value = ""
        return lambda _button: run(do)
    return act


def _panel_runner(refresh, error):
    """Wrap a button action: show its error in the panel (a callback's exception is otherwise
    only logged), then refresh what is on screen."""
    def run(action):
        import html

        error.value = ""
        try:
            action()
            refresh()
        except Exception as err:  # noqa: BLE001 - shown to the rater, who can act on it
            error.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
            try:
                refresh()
            except Exception:  # noqa: BLE001 - the file itself is unreadable: keep the screen as it was
                pass
    return run


class LikertLabeler(Labeler):
    """Rate each (prompt, response) item on a 1..scale Likert scale for one trait."""

    def __init__(self, items: list[dict], store_path: str | Path, rater: str, trait: str, scale: int = 5):
        super().__init__(items, store_path, rater, trait)
        self.scale = scale

    def rate(self, score: int, reason: str = "", item_id: str | None = None) -> None:
        """Score the current item (or ``item_id``, the one on screen) from 1 to ``scale``."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= self.scale:
            raise ValueError(f"score must be an integer from 1 to {self.scale}, got {score!r}")
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, got {reason!r}")
        self._record("label", item_id, score=score, reason=reason)

    def ratings(self) -> list[dict]:
        """One row per labelled item: ``item_id, rater, trait, score``."""
        return [{"item_id": e["item_id"], "rater": self.rater, "trait": self.trait, "score": e["score"]}
                for e in self._standing().values() if e["action"] == "label"]


def likert_panel(labeler: LikertLabeler):
    """An ipywidgets panel over a LikertLabeler: buttons 1..scale, skip, undo, a reason box."""
    import html

    import ipywidgets as w

    shown, status, reason, error = w.HTML(), w.Label(), w.Text(placeholder="optional reason"), w.HTML()
    on_screen = {"item_id": None}

    def refresh():
        item, (done, total) = labeler.current(), labeler.progress()
        on_screen["item_id"] = item and item["item_id"]
        status.value = f"{done}/{total} rated for {labeler.trait}"
        if item is None:
            shown.value = "<b>All items are rated. Thank you!</b>"
        else:
            shown.value = (f"<p><b>Prompt</b><br>{html.escape(item['prompt'])}</p>"
                           f"<p><b>Response</b><br>{html.escape(item['response'])}</p>")

    act = _button_actions(labeler, labeler.rate, on_screen, reason, _panel_runner(refresh, error))

    buttons = [w.Button(description=str(s), layout=w.Layout(width="48px")) for s in range(1, labeler.scale + 1)]
    for score, button in enumerate(buttons, start=1):
        button.on_click(act(score))
    skip, undo = w.Button(description="skip"), w.Button(description="undo")
    skip.on_click(act("skip"))
    undo.on_click(act("undo"))
    refresh()
    return w.VBox([shown, w.HBox(buttons + [skip, undo]), reason, status, error])


class PairwiseLabeler(Labeler):
    """Pick the better of two responses to a prompt: A (left), B (right), tie, or skip.

    Items are ``{item_id, prompt, response_a, response_b}``. Which response is shown on the
    left is random per item but fixed by (seed, rater, item), so a resumed session shows the same
    order, and position bias can be measured afterwards (each event records the left side).
    """

    def __init__(self, items: list[dict], store_path: str | Path, rater: str, trait: str, seed: int = 0):
        super().__init__(items, store_path, rater, trait)
        self.seed = seed

    def sides(self, item: dict) -> tuple[str, str]:
        """("a", "b") or ("b", "a"): which response is on the left and which on the right."""
        import random

        swap = random.Random(f"{self.seed}/{self.rater}/{item['item_id']}").random() < 0.5
        return ("b", "a") if swap else ("a", "b")

    def shown(self) -> dict | None:
        """The current item as displayed: prompt, left and right text."""
        item = self.current()
        if item is None:
            return None
        left, right = self.sides(item)
        return {"item_id": item["item_id"], "prompt": item["prompt"],
                "left": item[f"response_{left}"], "right": item[f"response_{right}"]}

    def choose(self, choice: str, reason: str = "", item_id: str | None = None) -> None:
        """Record ``"left"``, ``"right"`` or ``"tie"`` for the current item (or ``item_id``, the
        one on screen)."""
        if choice not in ("left", "right", "tie"):
            raise ValueError(f"choice must be 'left', 'right' or 'tie', got {choice!r}")
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, got {reason!r}")
        item = self.current() if item_id is None else {"item_id": item_id}
        if item is None:
            raise RuntimeError("every item is already labelled")
        left, right = self.sides(item)
        winner = {"left": left, "right": right, "tie": "tie"}[choice]
        self._record("label", item["item_id"], left=left, winner=winner, reason=reason)

    def labels(self) -> list[dict]:
        """Standing labels: ``item_id, rater, trait, left, winner`` (winner "a", "b" or "tie")."""
        return [{"item_id": e["item_id"], "rater": self.rater, "trait": self.trait, "left": e["left"],
                 "winner": e["winner"]} for e in self._standing().values() if e["action"] == "label"]

    def preference_pairs(self) -> list[dict]:
        """Non-tie labels as TRL preference rows: ``prompt, chosen, rejected`` (+ rater, trait)."""
        by_id = {item["item_id"]: item for item in self.items}
        pairs = []
        for label in self.labels():
            if label["winner"] == "tie":
                continue
            item, loser = by_id[label["item_id"]], "b" if label["winner"] == "a" else "a"
            pairs.append({"prompt": item["prompt"], "chosen": item[f"response_{label['winner']}"],
                          "rejected": item[f"response_{loser}"], "item_id": item["item_id"],
                          "rater": self.rater, "trait": self.trait})
        return pairs


def pairwise_panel(labeler: PairwiseLabeler):
    """An ipywidgets panel over a PairwiseLabeler: A / B / tie / skip / undo, a reason box, progress."""
    import html

    import ipywidgets as w

    prompt, left, right, error = w.HTML(), w.HTML(), w.HTML(), w.HTML()
    status, reason = w.Label(), w.Text(placeholder="optional reason")
    on_screen = {"item_id": None}

    def refresh():
        shown, (done, total) = labeler.shown(), labeler.progress()
        on_screen["item_id"] = shown and shown["item_id"]
        status.value = f"{done}/{total} compared for {labeler.trait}"
        if shown is None:
            prompt.value, left.value, right.value = "<b>All pairs are labelled. Thank you!</b>", "", ""
        else:
            prompt.value = f"<p><b>Prompt</b><br>{html.escape(shown['prompt'])}</p>"
            left.value = f"<p><b>A</b><br>{html.escape(shown['left'])}</p>"
            right.value = f"<p><b>B</b><br>{html.escape(shown['right'])}</p>"

    act = _button_actions(labeler, labeler.choose, on_screen, reason, _panel_runner(refresh, error))

    buttons = []
    for text_, action in (("A is better", "left"), ("B is better", "right"), ("tie", "tie"),
                          ("skip", "skip"), ("undo", "undo")):
        button = w.Button(description=text_)
        button.on_click(act(action))
        buttons.append(button)
    refresh()
    half = w.Layout(width="50%")
    left.layout, right.layout = half, half
    return w.VBox([prompt, w.HBox([left, right]), w.HBox(buttons), reason, status, error])


def scripted_pairwise_rater(labeler: PairwiseLabeler, score_fn, noise: float = 0.0, tie_margin: float = 0.0,
                            seed: int = 0, limit: int | None = None) -> int:
    """Label headless through the same path as the buttons: prefer the side ``score_fn`` rates
    higher, after adding Gaussian noise; a gap under ``tie_margin`` is a tie. Returns labels made."""
    import random

    rng = random.Random(seed)
    made = 0
    while labeler.current() is not None and (limit is None or made < limit):
        shown = labeler.shown()
        left_score, right_score = score_fn(shown["prompt"], [shown["left"], shown["right"]])
        gap = (left_score - right_score) + rng.gauss(0, noise)
        labeler.choose("tie" if abs(gap) < tie_margin else "left" if gap > 0 else "right")
        made += 1
    return made
