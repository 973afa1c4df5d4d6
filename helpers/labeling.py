"""Labelling: an append-only label file and labeller objects that ipywidgets drive.

The logic lives in plain Python objects (``LikertLabeler``; lesson 2 adds the pairwise one), so
tests can click through them without a browser and headless runs can use a scripted rater
through the same path. Every action is appended to a JSONL file, never rewritten: an undo is
an event of its own, and reopening a labeller replays the file and resumes at the first item
that has no label yet.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .data import one_of, read_jsonl, text

EVENT_SCHEMA = {"item_id": text, "rater": text, "action": one_of("label", "skip", "undo")}


class LabelStore:
    """An append-only JSONL file of labelling events."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def events(self) -> list[dict]:
        """All events in file order; a corrupt line raises DataError naming file and line."""
        if not self.path.exists():
            return []
        hint = "; the file was left untouched, fix or remove that line"
        return [event for _, event in read_jsonl(self.path, EVENT_SCHEMA, hint=hint)]

    def append(self, event: dict) -> None:
        """Write one event and flush it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        event = {**event, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


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


class Labeler:
    """Shared bookkeeping: items in order, resume, skip, undo, progress."""

    def __init__(self, items: list[dict], store_path: str | Path, rater: str):
        ids = [item["item_id"] for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError("item_id values must be unique")
        self.items, self.rater, self.store = list(items), rater, LabelStore(store_path)
        self._events = self.store.events()
        self._standing = replay(self._events, rater)

    def _record(self, item_id: str, action: str, **fields) -> None:
        event = {"item_id": item_id, "rater": self.rater, "action": action, **fields}
        self.store.append(event)
        self._events.append(event)
        self._standing = replay(self._events, self.rater)

    def current(self) -> dict | None:
        """The first item without a label or skip from this rater (None when all are done)."""
        return next((item for item in self.items if item["item_id"] not in self._standing), None)

    def progress(self) -> tuple[int, int]:
        done = sum(item["item_id"] in self._standing for item in self.items)
        return done, len(self.items)

    def skip(self) -> None:
        item = self._require_current()
        self._record(item["item_id"], "skip")

    def undo(self) -> bool:
        """Retract this rater's last label or skip; False when there is nothing to undo."""
        last = next((e for e in reversed(self._events) if e["rater"] == self.rater), None)
        if not self._standing or last is None:
            return False
        self._record(last["item_id"], "undo")
        return True

    def _require_current(self) -> dict:
        item = self.current()
        if item is None:
            raise RuntimeError("every item is already labelled")
        return item


class LikertLabeler(Labeler):
    """Rate each (prompt, response) item on a 1..scale Likert scale for one trait."""

    def __init__(self, items: list[dict], store_path: str | Path, rater: str, trait: str, scale: int = 5):
        super().__init__(items, store_path, rater)
        self.trait, self.scale = trait, scale

    def rate(self, score: int, reason: str = "") -> None:
        if not 1 <= int(score) <= self.scale:
            raise ValueError(f"score must be 1..{self.scale}, got {score}")
        item = self._require_current()
        self._record(item["item_id"], "label", trait=self.trait, score=int(score), reason=reason)

    def ratings(self) -> list[dict]:
        """One row per labelled item: ``item_id, rater, trait, score``."""
        return [{"item_id": e["item_id"], "rater": self.rater, "trait": e["trait"], "score": e["score"]}
                for e in self._standing.values() if e["action"] == "label"]


def likert_panel(labeler: LikertLabeler):
    """An ipywidgets panel over a LikertLabeler: buttons 1..scale, skip, undo, a reason box."""
    import html

    import ipywidgets as w

    shown, status, reason = w.HTML(), w.Label(), w.Text(placeholder="optional reason")

    def refresh():
        item, (done, total) = labeler.current(), labeler.progress()
        status.value = f"{done}/{total} rated for {labeler.trait}"
        if item is None:
            shown.value = "<b>All items are rated. Thank you!</b>"
        else:
            shown.value = (f"<p><b>Prompt</b><br>{html.escape(item['prompt'])}</p>"
                           f"<p><b>Response</b><br>{html.escape(item['response'])}</p>")

    def act(action):
        def handler(_button):
            if labeler.current() is not None or action == "undo":
                if action == "undo":
                    labeler.undo()
                elif action == "skip":
                    labeler.skip()
                else:
                    labeler.rate(action, reason.value)
            reason.value = ""
            refresh()
        return handler

    buttons = [w.Button(description=str(s), layout=w.Layout(width="48px")) for s in range(1, labeler.scale + 1)]
    for score, button in enumerate(buttons, start=1):
        button.on_click(act(score))
    skip, undo = w.Button(description="skip"), w.Button(description="undo")
    skip.on_click(act("skip"))
    undo.on_click(act("undo"))
    refresh()
    return w.VBox([shown, w.HBox(buttons + [skip, undo]), reason, status])


class PairwiseLabeler(Labeler):
    """Pick the better of two responses to a prompt: A (left), B (right), tie, or skip.

    Items are ``{item_id, prompt, response_a, response_b}``. Which response is shown on the
    left is random per item but fixed by (seed, rater, item), so a resumed session shows the same
    order, and position bias can be measured afterwards (each event records the left side).
    """

    def __init__(self, items: list[dict], store_path: str | Path, rater: str, trait: str, seed: int = 0):
        super().__init__(items, store_path, rater)
        self.trait, self.seed = trait, seed

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

    def choose(self, choice: str, reason: str = "") -> None:
        """Record ``"left"``, ``"right"`` or ``"tie"`` for the current item."""
        if choice not in ("left", "right", "tie"):
            raise ValueError(f"choice must be 'left', 'right' or 'tie', got {choice!r}")
        item = self._require_current()
        left, right = self.sides(item)
        winner = {"left": left, "right": right, "tie": "tie"}[choice]
        self._record(item["item_id"], "label", trait=self.trait, left=left, winner=winner, reason=reason)

    def labels(self) -> list[dict]:
        """Standing labels: ``item_id, rater, trait, left, winner`` (winner "a", "b" or "tie")."""
        return [{k: e[k] for k in ("item_id", "rater", "trait", "left", "winner")}
                for e in self._standing.values() if e["action"] == "label"]

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

    prompt, left, right = w.HTML(), w.HTML(), w.HTML()
    status, reason = w.Label(), w.Text(placeholder="optional reason")

    def refresh():
        shown, (done, total) = labeler.shown(), labeler.progress()
        status.value = f"{done}/{total} compared for {labeler.trait}"
        if shown is None:
            prompt.value, left.value, right.value = "<b>All pairs are labelled. Thank you!</b>", "", ""
        else:
            prompt.value = f"<p><b>Prompt</b><br>{html.escape(shown['prompt'])}</p>"
            left.value = f"<p><b>A</b><br>{html.escape(shown['left'])}</p>"
            right.value = f"<p><b>B</b><br>{html.escape(shown['right'])}</p>"

    def act(action):
        def handler(_button):
            if action == "undo":
                labeler.undo()
            elif labeler.current() is not None:
                labeler.skip() if action == "skip" else labeler.choose(action, reason.value)
            reason.value = ""
            refresh()
        return handler

    buttons = []
    for text_, action in (("A is better", "left"), ("B is better", "right"), ("tie", "tie"),
                          ("skip", "skip"), ("undo", "undo")):
        button = w.Button(description=text_)
        button.on_click(act(action))
        buttons.append(button)
    refresh()
    half = w.Layout(width="50%")
    left.layout, right.layout = half, half
    return w.VBox([prompt, w.HBox([left, right]), w.HBox(buttons), reason, status])


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
