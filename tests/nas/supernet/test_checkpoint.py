"""A killed supernet training goes on from its last epoch to the weights an unbroken one has."""

from __future__ import annotations

import pytest
import torch

from nas.data import load_data
from nas.evaluate import TrainingConfig
from nas.supernet import (
    CHECKPOINT_FILE,
    SUPERNET_FILE,
    SandwichConfig,
    Supernet,
    SupernetError,
    SupernetEvaluator,
    TrainingCheckpoint,
    train_supernet,
)
from search_spaces import MBConvSpace, StageChoices


class Killed(Exception):
    """Stands for the kill: raised after an epoch, once its state is saved."""


@pytest.fixture(scope="module")
def space(proxy) -> MBConvSpace:
    # Narrower than the default space (expansion 1 or 3, no SE): resuming is about state,
    # not size. Three kernels keep the few-shot split at three parts.
    choices = StageChoices(
        kernels=(3, 5, 7), expand_ratios=(1, 3), se_ratios=(0.0,), width_mults=(0.75, 1.0),
        skips=(True,),
    )  # fmt: skip
    return MBConvSpace.uniform(proxy, choices)


@pytest.fixture(scope="module")
def few():
    return load_data("digits", resolution=16, max_samples=150, seed=0)


# Warm-up and stochastic depth on, so the schedule's and torch's random state both matter.
CONFIG = SandwichConfig(
    training=TrainingConfig(epochs=3, batch_size=60, warmup=0.2), random_subnets=1
)


def _kill_after(epoch: int):
    def progress(done: int, loss: float) -> None:
        if done == epoch:
            raise Killed

    return progress


def _trained(space, data, checkpoint=None, progress=None) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = Supernet(space)
    train_supernet(net, data, CONFIG, seed=7, checkpoint=checkpoint, progress=progress)
    return net.state_dict()


def test_a_killed_training_resumes_to_the_unbroken_weights(space, few, tmp_path):
    killed_after = 2
    unbroken = _trained(space, few)
    checkpoint = TrainingCheckpoint(tmp_path / "ckpt.pt", {"run": 1})
    with pytest.raises(Killed):
        _trained(space, few, checkpoint, _kill_after(killed_after))
    assert checkpoint.load()["epoch"] == killed_after
    epochs = []
    # A fresh network: everything comes from the checkpoint, not from the killed object.
    resumed = _trained(space, few, checkpoint, lambda epoch, loss: epochs.append(epoch))
    assert epochs == list(range(killed_after + 1, 4))  # the finished epochs are not repeated
    for name, value in unbroken.items():
        assert torch.equal(value, resumed[name]), name


def test_a_checkpoint_from_other_settings_or_damaged_is_refused_in_one_line(space, few, tmp_path):
    checkpoint = TrainingCheckpoint(tmp_path / "ckpt.pt", {"run": 1})
    with pytest.raises(Killed):
        _trained(space, few, checkpoint, _kill_after(1))
    other = TrainingCheckpoint(tmp_path / "ckpt.pt", {"run": 2})
    with pytest.raises(SupernetError, match="other settings") as error:
        _trained(space, few, other)
    assert "\n" not in str(error.value)
    (tmp_path / "ckpt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SupernetError, match=r"not a readable supernet checkpoint.*delete it"):
        _trained(space, few, checkpoint)


def test_the_evaluator_resumes_a_killed_preparation_and_then_drops_the_checkpoint(
    space, few, tmp_path
):
    def evaluator(on_epoch=None) -> SupernetEvaluator:
        return SupernetEvaluator(few, space=space, config=CONFIG, seed=3, on_epoch=on_epoch)

    whole = evaluator()
    whole.prepare(tmp_path / "whole")
    killed = tmp_path / "killed"
    with pytest.raises(Killed):
        evaluator(_kill_after(2)).prepare(killed)
    assert (killed / CHECKPOINT_FILE).exists() and not (killed / SUPERNET_FILE).exists()
    resumed = evaluator()
    resumed.prepare(killed)
    assert not (killed / CHECKPOINT_FILE).exists()
    assert resumed.training.epochs == 3 and resumed.training.seconds > 0
    for name, value in whole.supernet.state_dict().items():
        assert torch.equal(value, resumed.supernet.state_dict()[name]), name


def test_a_few_shot_supernet_resumes_part_by_part(space, few, tmp_path):
    import dataclasses

    config = dataclasses.replace(CONFIG, split_by="s3_kernel")  # 3 parts, 1 epoch each

    def evaluator(on_epoch=None) -> SupernetEvaluator:
        return SupernetEvaluator(few, space=space, config=config, seed=3, on_epoch=on_epoch)

    whole = evaluator()
    whole.prepare(tmp_path / "whole")
    calls = []

    def kill_in_second_part(epoch: int, loss: float) -> None:
        calls.append(epoch)
        if len(calls) == 2:
            raise Killed

    with pytest.raises(Killed):
        evaluator(kill_in_second_part).prepare(tmp_path / "killed")
    trained_again = []
    resumed = evaluator(lambda epoch, loss: trained_again.append(epoch))
    resumed.prepare(tmp_path / "killed")
    assert len(trained_again) == 1  # only the third part trains; the first two are kept
    assert not list((tmp_path / "killed").glob("*.part*"))
    for name, value in whole.supernet.state_dict().items():
        assert torch.equal(value, resumed.supernet.state_dict()[name]), name
