"""Pairwise-covering answer sets for every template: `python tests/pairwise.py [TEMPLATE...]` rewrites them.

Every choice question (choices, bool, and each item of a multiselect as in/out) is a factor. A
set of cases covers a pair (factor A = a, factor B = b) when one case answers both. Pairs that
the template's validators refuse in every completion tried are recorded as infeasible, with the
validator's message, so the test can check that claim instead of trusting it.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litgen.catalog import TemplateInfo

CASES_DIR = Path(__file__).parent / "fixtures" / "pairwise"
# Free-form questions whose values decide what other answers are valid (e.g. slurm needs a fixed
# device count, several nodes need a distributed strategy): give them a second value to pair with.
EXTRA_VALUES: dict[str, list[Any]] = {"devices": ["auto", "2"], "num_nodes": [1, 2]}
SEARCH_ATTEMPTS = 80  # 40 misjudged valid pairs of a template with many interacting questions

Factor = tuple[str, str | None]  # (question, multiselect item or None)
Pair = tuple[tuple[Factor, Any], tuple[Factor, Any]]


def factors_of(info: TemplateInfo) -> dict[Factor, list[Any]]:
    """Each factor of the template's questions (as `litgen templates` lists them) with the values it takes."""
    factors: dict[Factor, list[Any]] = {}
    for name in info.questions:
        values = list(info.choices.get(name) or [])
        if name in info.multiselect:
            for item in values:
                factors[(name, item)] = [True, False]
        elif values:
            factors[(name, None)] = values
        elif info.types.get(name) == "bool":
            factors[(name, None)] = [True, False]
        elif name in EXTRA_VALUES:
            factors[(name, None)] = list(EXTRA_VALUES[name])
    return factors


def all_pairs(factors: dict[Factor, list[Any]]) -> set[Pair]:
    return {
        ((a, va), (b, vb))
        for a, b in itertools.combinations(sorted(factors, key=str), 2)
        for va in factors[a]
        for vb in factors[b]
    }


def pairs_of(case: dict[Factor, Any]) -> set[Pair]:
    ordered = sorted(case, key=str)
    return {((a, case[a]), (b, case[b])) for a, b in itertools.combinations(ordered, 2)}


def answers_of(case: dict[Factor, Any]) -> dict[str, Any]:
    """Copier answers for a case: multiselect items gathered back into one list."""
    answers: dict[str, Any] = {}
    for (name, item), value in sorted(case.items(), key=lambda kv: str(kv[0])):
        if item is None:
            answers[name] = value
        else:
            selected = answers.setdefault(name, [])
            if value:
                selected.append(item)
    return answers


def refusal(info: TemplateInfo, answers: dict[str, Any]) -> str | None:
    """None if the template accepts ANSWERS (rest at defaults), else the validator's message."""
    import copier

    with tempfile.TemporaryDirectory() as scratch:
        data = {**answers, **info.preset}
        try:
            copier.run_copy(
                str(info.path), scratch, data=data, defaults=True, quiet=True, pretend=True
            )
        except (ValueError, TypeError) as error:
            return " ".join(str(error).split())
    return None


def _complete(
    seed: dict[Factor, Any],
    factors: dict[Factor, list[Any]],
    uncovered: set[Pair],
    rng: random.Random,
    randomness: float,
) -> dict[Factor, Any]:
    """Fill the factors SEED leaves open: mostly the value covering most uncovered pairs, else a random one.

    Pure greed keeps walking into the same refused combination; RANDOMNESS (0..1) lets later
    attempts explore, which is what tells a truly infeasible pair from an unlucky completion.
    """
    case = dict(seed)
    for factor in rng.sample(sorted(factors, key=str), len(factors)):
        if factor in case:
            continue
        if rng.random() < randomness:
            case[factor] = rng.choice(factors[factor])
            continue

        def gain(value: Any, factor: Factor = factor) -> tuple[int, float]:
            trial = {**case, factor: value}
            return len(pairs_of(trial) & uncovered), rng.random()

        case[factor] = max(factors[factor], key=gain)
    return case


def generate(info: TemplateInfo, seed: int = 0) -> dict[str, Any]:
    """Greedy pairwise cases (AETG-style) for a template, with the pairs no valid case can hold."""
    rng = random.Random(seed)
    factors = factors_of(info)
    uncovered = all_pairs(factors)
    cases: list[dict[Factor, Any]] = []
    infeasible: dict[Pair, str] = {}
    while uncovered:
        target = sorted(uncovered, key=str)[0]
        seed_case = {target[0][0]: target[0][1], target[1][0]: target[1][1]}
        best, best_gain = None, 0
        for attempt in range(SEARCH_ATTEMPTS):
            candidate = _complete(
                seed_case, factors, uncovered, rng, randomness=attempt / SEARCH_ATTEMPTS
            )
            reason = refusal(info, answers_of(candidate))
            if reason is not None:
                continue
            new = len(pairs_of(candidate) & uncovered)
            if new > best_gain:
                best, best_gain = candidate, new
            if attempt >= SEARCH_ATTEMPTS // 4 and best is not None:
                break  # a good-enough valid case; more search buys little
        if best is None:
            # The message worth recording is the one for the pair itself, the rest at defaults.
            infeasible[target] = refusal(info, answers_of(seed_case)) or "no valid completion found"
            uncovered.discard(target)
            continue
        cases.append(best)
        uncovered -= pairs_of(best)
    return {
        "template": info.name,
        "cases": [answers_of(case) for case in cases],
        "infeasible": [
            {"pair": [[list(f1), v1], [list(f2), v2]], "reason": reason}
            for ((f1, v1), (f2, v2)), reason in sorted(infeasible.items(), key=str)
        ],
    }


def case_file(template_name: str) -> Path:
    return CASES_DIR / f"{template_name}.json"


def write(infos: Iterable[TemplateInfo]) -> None:
    CASES_DIR.mkdir(parents=True, exist_ok=True)
    for info in infos:
        result = generate(info)
        case_file(info.name).write_text(json.dumps(result, indent=1) + "\n")
        print(
            f"{info.name}: {len(result['cases'])} cases, {len(result['infeasible'])} infeasible pairs"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from litgen.new import find_template, list_templates

    names = sys.argv[1:]
    write([find_template(name) for name in names] if names else list_templates())
