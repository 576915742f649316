"""The proxy-training recipe: how a candidate is trained in a few short epochs.

Measured on real images where architectures differ (``benchmarks/proxy_recipe.py``,
BENCHMARKS.md "Proxy recipe"); ``LEGACY_RECIPE`` is how candidates were trained before,
which a continued run directory made then repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "LEGACY_RECIPE",
    "PEAK_RATES",
    "PROXY_RECIPE",
    "RECIPES",
    "RECIPE_FIELDS",
    "WEIGHT_DECAYS",
    "find_training_identity",
    "recipe_settings",
    "recorded_recipe",
]

# Peak learning rate and weight decay per optimizer when none is given. AdamW's decay is
# decoupled (a share of the weight per step), SGD's and RMSprop's an L2 term.
PEAK_RATES: dict[str, float] = {"adamw": 3e-3, "sgd": 0.05, "rmsprop": 0.01}
WEIGHT_DECAYS: dict[str, float] = {"adamw": 0.05, "sgd": 1e-5, "rmsprop": 1e-5}

PROXY_RECIPE: dict[str, Any] = {
    "optimizer": "adamw",
    "learning_rate": PEAK_RATES["adamw"],
    "weight_decay": WEIGHT_DECAYS["adamw"],
    "label_smoothing": 0.1,
    # Batch 16 and a 30% warm-up: at 3 epochs on a few thousand images, twice the steps
    # learn more, and the longer warm-up steadies them (+3.8 points on CIFAR-10, +1.2 on
    # Fashion-MNIST over batch 32 with 15%, 5 paired seeds; BENCHMARKS.md).
    "batch_size": 16,
    "warmup": 0.3,
    "zero_init_residual": True,
    # At 3 epochs augmentation costs 2-4 points on CIFAR-10 (BENCHMARKS.md): the network
    # has not yet fit the plain images. "auto" is there for longer trainings.
    "augment": (),
    "spec_regularization": False,
}

LEGACY_RECIPE: dict[str, Any] = {
    "optimizer": "sgd",
    "learning_rate": 0.05,
    "weight_decay": 1e-5,
    "label_smoothing": 0.0,
    "batch_size": 64,
    "warmup": 0.0,
    "zero_init_residual": False,
    "augment": (),
    "spec_regularization": True,
}

RECIPES: dict[str, dict[str, Any]] = {"proxy": PROXY_RECIPE, "legacy": LEGACY_RECIPE}
RECIPE_FIELDS: tuple[str, ...] = tuple(PROXY_RECIPE)
# The fields added with the recipe; runs made before have none of them in their identity.
ADDED_FIELDS: tuple[str, ...] = ("warmup", "zero_init_residual", "augment", "spec_regularization")


def recorded_recipe(training_identity: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe a recorded run trained with, from its training identity.

    A field missing from it was added after the run was made: the run trained as
    ``LEGACY_RECIPE`` says.
    """
    found = {key: training_identity.get(key, LEGACY_RECIPE[key]) for key in RECIPE_FIELDS}
    found["augment"] = tuple(found["augment"])
    return found


def find_training_identity(identity: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The training identity (``TrainingConfig.identity()``) inside a run's identity,
    wherever the command nested it: a stand-alone trainer's first (a search's evaluator
    or its winners' retraining, a rank check's reference), else any (a supernet's)."""
    found: list[tuple[bool, Mapping[str, Any]]] = []
    stack: list[Any] = [identity]
    while stack:  # breadth first: the shallowest of each kind wins
        node = stack.pop(0)
        if isinstance(node, Mapping):
            training = node.get("training")
            if isinstance(training, Mapping) and "optimizer" in training:
                found.append((node.get("evaluator") == "train", training))
            stack.extend(node.values())
    standalone = [training for alone, training in found if alone]
    return (standalone or [training for _, training in found] or [None])[0]


def recipe_settings(
    given: Mapping[str, Any],
    *,
    recipe: str | None = None,
    recorded: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The recipe's fields for a run, as ``TrainingConfig`` keywords.

    ``given`` (the options a user set) come first; the rest from the named ``recipe``, or,
    when no recipe is named and a run directory is continued, from what its ``recorded``
    identity says (so a run made before a default changed resumes as it started); else
    :data:`PROXY_RECIPE`. A given optimizer without a rate or decay takes its own
    (``PEAK_RATES``, ``WEIGHT_DECAYS``), not another optimizer's.
    """
    if recipe is not None and recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: choose from {', '.join(RECIPES)}")
    training = None if recorded is None else find_training_identity(recorded)
    if recipe is None and training is not None:
        base = recorded_recipe(training)
    else:
        base = dict(RECIPES[recipe or "proxy"])
    settings = {**base, **{key: value for key, value in given.items() if value is not None}}
    if given.get("optimizer") is not None and given["optimizer"] != base["optimizer"]:
        for key in ("learning_rate", "weight_decay"):
            if given.get(key) is None:
                settings[key] = None  # TrainingConfig picks the optimizer's own
    return settings
