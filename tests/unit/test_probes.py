from helpers.core import data
from helpers.metrics import probes


def rows():
    return data.load_empathy_pairs("test")


def test_probe_pairs_cover_every_trick():
    made = probes.probe_pairs(rows())
    kinds = {p["probe"] for p in made}
    assert kinds == {"length_padding", "warm_padding", "apology_spam", "polite_refusal",
                     "keywords_on_wrong_answer", "curt_but_right", "greeting_only"}
    assert all(p["better"] != p["worse"] for p in made)


def test_counter_examples_never_reuse_probe_wordings():
    probe_texts = {p["worse"] for p in probes.probe_pairs(rows())}
    made = probes.counter_examples(data.load_empathy_pairs("train"))
    assert not probe_texts & {c["rejected"] for c in made}
    for bank in (probes.PADDING, probes.WARM_PADDING, probes.APOLOGY_SPAM, probes.POLITE_REFUSAL, probes.FLUFF,
                 probes.GREETING_ONLY):
        assert not set(bank["probe"]) & set(bank["train"])
        for sentence in bank["probe"]:
            assert all(sentence not in c["rejected"] for c in made)


def test_counter_examples_limit():
    made = probes.counter_examples(data.load_empathy_pairs("train"), per_probe=5)
    counts = {}
    for c in made:
        counts[c["probe"]] = counts.get(c["probe"], 0) + 1
    assert set(counts.values()) == {5} and len(counts) == 7


def test_report_catches_a_length_loving_scorer_and_passes_an_oracle():
    made = probes.probe_pairs(rows())
    by_length = probes.probe_report(lambda p, r: [len(x) for x in r], made)
    assert by_length["length_padding"] == 0.0 and by_length["warm_padding"] == 0.0
    better = {p["better"] for p in made}
    oracle = probes.probe_report(lambda p, r: [1.0 if x in better and x not in {q["worse"] for q in made} else 0.0
                                               for x in r], made)
    assert oracle["all"] == 1.0
    assert set(oracle) == {p["probe"] for p in made} | {"all"}
