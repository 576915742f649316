import dataclasses
import math
import pickle

import pytest
import torch
from torch.utils.data import TensorDataset

from nas.data import DataError, DataSplits, fewer_train_images, load_data
from nas.evaluate import (
    LEGACY_RECIPE,
    PROXY_RECIPE,
    TrainingConfig,
    TrainingEvaluator,
    TrialError,
    make_scheduler,
    recipe_settings,
)
from search_spaces import NetworkSpec

TINY = NetworkSpec.from_dict(
    {
        "name": "tiny",
        "blocks": ["r1_k3_s11_e1_i16_o16_se0.25", "r1_k3_s22_e3_i16_o24"],
        "stem_channels": 16,
        "head_channels": 64,
        "activation": "swish",
        "resolution": 16,
        "num_classes": 10,
        "dropout": 0.0,
        "fix_stem_head": False,
        "in_channels": 1,
    }
)
# One thread: on a busy 2-core machine torch's second thread makes these runs ~40x slower.
# Small batches: 240 train images at batch 64 are only 12 steps in 3 epochs.
FAST = TrainingConfig(batch_size=16, optimizer="sgd", learning_rate=0.1, threads=1)


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_data("digits", resolution=16, max_samples=300, seed=0)


def test_learns_digits_well_above_chance(digits):
    result = TrainingEvaluator(data=digits, config=FAST).evaluate(TINY, seed=0)
    # Measured 0.82-0.88 over seeds 0-3; chance is 0.1.
    assert result.accuracy > 0.6
    assert result.metrics["epochs"] == 3.0
    assert result.metrics["truncated"] == 0.0
    assert result.metrics["train_seconds"] > 0
    # Well below the loss of a uniform guess over 10 classes.
    assert result.metrics["train_loss"] < 0.8 * math.log(10)


def test_rmsprop_with_label_smoothing_learns(digits):
    config = TrainingConfig(
        batch_size=32, optimizer="rmsprop", learning_rate=0.01, label_smoothing=0.1, threads=1
    )
    result = TrainingEvaluator(data=digits, config=config).evaluate(TINY, seed=0)
    assert result.accuracy > 0.6  # measured 0.80-0.88 over seeds 0-4


def test_same_seed_gives_identical_results_and_other_seeds_differ(digits):
    evaluator = TrainingEvaluator(data=digits, config=FAST)
    first = evaluator.evaluate(TINY, seed=7)
    again = evaluator.evaluate(TINY, seed=7)
    other = evaluator.evaluate(TINY, seed=8)
    assert again.accuracy == first.accuracy
    assert again.metrics["train_loss"] == first.metrics["train_loss"]
    assert other.metrics["train_loss"] != first.metrics["train_loss"]


def test_callers_random_state_is_left_alone(digits):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TrainingEvaluator(data=digits, config=TrainingConfig(epochs=1, threads=1)).evaluate(
        TINY, seed=0
    )
    assert torch.equal(torch.rand(3), expected)


@pytest.fixture
def two_threads():
    # The suite runs on one thread (tests/conftest.py): two make the switch to the
    # configured one, and its undoing, visible.
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_progress_is_called_after_every_epoch_under_the_configured_threads(digits, two_threads):
    calls = []
    threads_seen = []

    def progress(epoch: int, accuracy: float) -> None:
        calls.append((epoch, accuracy))
        threads_seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    config = TrainingConfig(epochs=4, batch_size=32, threads=1)
    result = TrainingEvaluator(data=digits, config=config).evaluate(TINY, seed=0, progress=progress)
    assert [epoch for epoch, _ in calls] == [1, 2, 3, 4]
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in calls)
    assert calls[-1][1] == result.accuracy
    assert threads_seen == [1, 1, 1, 1]
    assert torch.get_num_threads() == before == 2


class _Stop(Exception):
    pass


def test_an_exception_from_progress_stops_training(digits, two_threads):
    calls = []

    def progress(epoch: int, accuracy: float) -> None:
        calls.append(epoch)
        if epoch == 2:
            raise _Stop("pruned")

    before = torch.get_num_threads()
    config = TrainingConfig(epochs=5, batch_size=32, threads=1)
    with pytest.raises(_Stop, match="pruned"):
        TrainingEvaluator(data=digits, config=config).evaluate(TINY, seed=0, progress=progress)
    assert calls == [1, 2]
    assert torch.get_num_threads() == before == 2  # restored on the way out too


def test_max_seconds_truncates_after_the_current_epoch(digits):
    calls = []
    config = TrainingConfig(epochs=3, batch_size=32, threads=1, max_seconds=1e-6)
    result = TrainingEvaluator(data=digits, config=config).evaluate(
        TINY, seed=0, progress=lambda epoch, accuracy: calls.append(epoch)
    )
    assert calls == [1]
    assert result.metrics["epochs"] == 1.0
    assert result.metrics["truncated"] == 1.0
    assert 0.0 <= result.accuracy <= 1.0


def test_divergent_learning_rate_raises_trial_error(digits):
    config = TrainingConfig(optimizer="sgd", learning_rate=1e6, batch_size=16, threads=1)
    with pytest.raises(TrialError, match=r"loss became (nan|inf) at epoch 1 step \d+ .*lower the"):
        TrainingEvaluator(data=digits, config=config).evaluate(TINY, seed=0)


def test_non_finite_loss_is_caught_at_the_first_step(digits):
    images, labels = digits.train.tensors
    poisoned = images.clone()
    poisoned[:, :, 0, 0] = math.inf  # every batch holds an infinite pixel
    data = DataSplits(
        name="poisoned",
        train=TensorDataset(poisoned, labels),
        valid=digits.valid,
        num_classes=digits.num_classes,
        in_channels=digits.in_channels,
        resolution=digits.resolution,
    )
    with pytest.raises(TrialError, match="loss became nan at epoch 1 step 1 "):
        TrainingEvaluator(data=data, config=FAST).evaluate(TINY, seed=0)


@pytest.mark.parametrize(
    ("field", "value"), [("in_channels", 3), ("num_classes", 5), ("resolution", 32)]
)
def test_spec_that_does_not_fit_the_data_is_rejected(digits, field, value):
    spec = NetworkSpec.from_dict({**TINY.to_dict(), field: value})
    want = getattr(digits, field)
    with pytest.raises(ValueError, match=f"{field}={value} .* set the spec's {field} to {want}"):
        TrainingEvaluator(data=digits, config=FAST).evaluate(spec, seed=0)


def test_empty_split_is_rejected(digits):
    images, labels = digits.valid.tensors
    empty = DataSplits(
        name="empty",
        train=TensorDataset(images[:0], labels[:0]),
        valid=digits.valid,
        num_classes=10,
        in_channels=1,
        resolution=16,
    )
    with pytest.raises(ValueError, match="0 train"):
        TrainingEvaluator(data=empty)


def test_evaluator_identity():
    assert TrainingEvaluator.name == "train"
    assert TrainingEvaluator.gives_accuracy is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"epochs": True}, "epochs must be an integer"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"optimizer": "adam"}, "optimizer must be one of sgd, rmsprop, adamw"),
        ({"warmup": 1.0}, r"warmup must be a share of the steps in \[0, 1\)"),
        ({"zero_init_residual": 1}, "zero_init_residual must be True or False"),
        ({"augment": "flip"}, "augment must be a sequence of names"),
        ({"augment": ("mixup",)}, "unknown augmentation 'mixup'"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": math.nan}, "learning_rate"),
        ({"learning_rate": math.inf}, "learning_rate"),
        ({"weight_decay": -1e-5}, "weight_decay must be a finite number >= 0"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be a number in \[0, 1\)"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"threads": 0}, "threads must be an integer >= 1, or None"),
        ({"max_seconds": 0}, "max_seconds must be a number > 0, or None"),
        ({"max_seconds": math.nan}, "max_seconds"),
        ({"device": "tpu"}, "device must be 'cpu' or 'cuda"),
        ({"train_images": 0}, "train_images must be a whole number >= 1, or None"),
        ({"train_images": 10.0}, "train_images must be a whole number"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**kwargs)


def test_config_defaults_are_the_proxy_recipe():
    config = TrainingConfig()
    assert (config.epochs, config.batch_size, config.optimizer) == (3, 16, "adamw")
    assert (config.learning_rate, config.weight_decay) == (3e-3, 0.05)
    assert (config.warmup, config.zero_init_residual, config.augment) == (0.3, True, ())
    assert (config.threads, config.max_seconds) == (None, None)
    # An optimizer given alone takes its own peak rate and decay, not AdamW's.
    sgd = TrainingConfig(optimizer="sgd")
    assert (sgd.learning_rate, sgd.weight_decay) == (0.05, 1e-5)


def test_the_legacy_recipe_keeps_the_identity_runs_were_made_with():
    # TrainingConfig().identity() as it was before the recipe existed: every run directory
    # made then records exactly this, and continuing it must compare equal.
    before = {
        "epochs": 3,
        "batch_size": 64,
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "weight_decay": 1e-5,
        "label_smoothing": 0.0,
        "max_seconds": None,
        "channels_last": True,
    }
    assert TrainingConfig(**LEGACY_RECIPE).identity() == before


def test_the_recipe_enters_new_runs_identity():
    identity = TrainingConfig().identity()
    assert identity["warmup"] == 0.3 and identity["zero_init_residual"] is True
    assert identity["spec_regularization"] is False and "augment" not in identity
    assert identity["optimizer"] == "adamw" and identity["batch_size"] == 16
    # Each part moves the identity on its own.
    for change in ({"warmup": 0.0}, {"zero_init_residual": False}, {"augment": ("auto",)}):
        assert TrainingConfig(**change).identity() != identity
    assert TrainingConfig(augment=("flip", "crop")).identity()["augment"] == ["flip", "crop"]


def test_recipe_settings_continue_a_recorded_run_as_it_started():
    old = {
        "evaluator": {"evaluator": "train", "training": TrainingConfig(**LEGACY_RECIPE).identity()}
    }
    assert recipe_settings({}, recorded=old) == LEGACY_RECIPE
    # Options given still win (the run directory's check then says what differs).
    assert recipe_settings({"batch_size": 16}, recorded=old)["batch_size"] == 16
    new = {"reference": {"training": TrainingConfig().identity()}}
    assert recipe_settings({}, recorded=new) == PROXY_RECIPE
    assert recipe_settings({}) == PROXY_RECIPE
    assert recipe_settings({}, recipe="legacy", recorded=new) == LEGACY_RECIPE
    # Another optimizer than the recipe's, without a rate: the optimizer's own.
    chosen = recipe_settings({"optimizer": "rmsprop"})
    assert TrainingConfig(**chosen).learning_rate == 0.01


def _rates(config: TrainingConfig, steps_per_epoch: int) -> list[float]:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    rates = []
    for _ in range(config.epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_rises_linearly_to_the_peak_then_a_cosine_falls_to_zero():
    config = TrainingConfig(epochs=2, warmup=0.25, learning_rate=0.4)
    rates = _rates(config, steps_per_epoch=10)  # 20 steps, 5 of warm-up
    assert rates[:5] == pytest.approx([0.08, 0.16, 0.24, 0.32, 0.4])
    # Then a half cosine over the other 15 steps, from the peak towards 0.
    expected = [0.2 * (1 + math.cos(math.pi * k / 15)) for k in range(15)]
    assert rates[5:] == pytest.approx(expected)
    assert max(rates) == pytest.approx(0.4) and rates[-1] < 0.01


def test_without_warmup_the_schedule_is_the_old_cosine():
    config = TrainingConfig(epochs=2, warmup=0.0, learning_rate=0.4)
    expected = [0.2 * (1 + math.cos(math.pi * k / 20)) for k in range(20)]
    assert _rates(config, steps_per_epoch=10) == pytest.approx(expected)


def test_the_recipe_trains_digits_with_zero_init_and_shifts(digits):
    result = TrainingEvaluator(data=digits, config=TrainingConfig(threads=1)).evaluate(TINY, seed=0)
    assert result.accuracy > 0.6
    # TSE: the sum of the 3 epochs' mean losses, each below a uniform guess's.
    assert result.metrics["train_loss"] < result.metrics["tse"] < 3 * math.log(10)


def test_a_flip_on_digits_is_refused_when_the_evaluator_is_made(digits):
    with pytest.raises(ValueError, match="'flip' on 'digits'"):
        TrainingEvaluator(data=digits, config=TrainingConfig(augment=("flip",)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_learns_digits_on_the_gpu_too(digits):
    # What a Ray trial with --gpus-per-trial runs (not exercised on CPU-only machines).
    config = TrainingConfig(batch_size=16, optimizer="sgd", learning_rate=0.1, device="cuda")
    assert TrainingEvaluator(data=digits, config=config).evaluate(TINY, seed=0).accuracy > 0.6


def test_progressive_resizing_grows_the_image_and_the_dropout(digits):
    from nas.models import build_model

    spec = NetworkSpec.from_dict({**TINY.to_dict(), "dropout": 0.3})
    config = TrainingConfig(
        batch_size=16,
        optimizer="sgd",
        learning_rate=0.1,
        threads=1,
        epochs=4,
        progressive_resizing=(10, 16),
        spec_regularization=True,  # V2 grows the spec's dropout with the image
    )
    seen: list[tuple[int, float]] = []

    def build():
        model = build_model(spec)
        dropout = model.classifier[0]

        def record(module, inputs):
            if module.training:
                seen.append((inputs[0].shape[-1], dropout.p))

        model.register_forward_pre_hook(record)
        return model

    result = TrainingEvaluator(data=digits, config=config).evaluate_model(
        build, name="tiny", seed=0
    )
    by_epoch = sorted(set(seen))
    # Sides 10, 12, 14, 16 (linear over 4 epochs) with dropout 0.1 -> 0.3 alongside.
    assert [side for side, _ in by_epoch] == [10, 12, 14, 16]
    assert [round(p, 4) for _, p in by_epoch] == [0.1, 0.1667, 0.2333, 0.3]
    assert result.accuracy > 0.6  # validated at the full 16 px, after BN recalibration


def test_progressive_resizing_must_end_at_the_data_size(digits):
    with pytest.raises(ValueError, match="ends at 14 px but the data is at 16 px"):
        TrainingEvaluator(data=digits, config=TrainingConfig(progressive_resizing=(10, 14)))
    with pytest.raises(ValueError, match="shrinks"):
        TrainingConfig(progressive_resizing=(16, 10))
    with pytest.raises(ValueError, match="of 8 or more"):
        TrainingConfig(progressive_resizing=(4, 16))


def test_progressive_resizing_enters_the_identity_only_when_used():
    assert "progressive_resizing" not in TrainingConfig().identity()
    identity = TrainingConfig(progressive_resizing=(12, 16)).identity()
    assert identity["progressive_resizing"] == [12, 16] and identity["progressive_dropout"] == 0.1


def test_a_supernet_search_continues_with_its_retraining_recipe():
    # A supernet's training records zero-init off (it cannot use it); the winners'
    # stand-alone retraining records the recipe, and that is what a continued run repeats.
    supernet = TrainingConfig(zero_init_residual=False).identity()
    confirm = TrainingConfig().identity()
    recorded = {
        "evaluator": "supernet",
        "supernet": {"training": supernet},
        "confirm": {"evaluator": "train", "training": confirm},
    }
    assert recipe_settings({}, recorded=recorded) == PROXY_RECIPE
    assert (
        recipe_settings({}, recorded={"supernet": {"training": supernet}})["zero_init_residual"]
        is False
    )


@pytest.mark.filterwarnings("ignore:CUDA is not available")  # made, not entered, on a CPU
def test_bf16_autocast_is_for_cuda_only_and_not_part_of_the_identity():
    import contextlib
    import dataclasses

    from nas.evaluate._training import mixed_precision

    config = TrainingConfig()
    assert isinstance(mixed_precision(torch.device("cpu"), config), contextlib.nullcontext)
    on_gpu = mixed_precision(torch.device("cuda"), config)
    assert isinstance(on_gpu, torch.autocast) and on_gpu.fast_dtype == torch.bfloat16
    off = dataclasses.replace(config, cuda_bf16=False)
    assert isinstance(mixed_precision(torch.device("cuda"), off), contextlib.nullcontext)
    assert off.identity() == config.identity()


def test_fewer_train_images_train_on_the_subset_and_score_on_the_whole_split(digits):
    evaluator = TrainingEvaluator(data=digits, config=dataclasses.replace(FAST, train_images=60))
    assert len(evaluator.train_split) == 60 and evaluator.data is digits
    identity = evaluator.identity()
    assert identity["training"]["train_images"] == 60 and identity["data"] == digits.identity()
    assert "train_images" not in TrainingEvaluator(data=digits, config=FAST).identity()["training"]
    # The run is the one on splits that hold only those images: the same steps, the same
    # validation images.
    fewer = fewer_train_images(digits, 60)
    alone = TrainingEvaluator(data=fewer, config=FAST).evaluate(TINY, seed=1)
    result = evaluator.evaluate(TINY, seed=1)
    assert (result.accuracy, result.metrics["train_loss"]) == (
        alone.accuracy,
        alone.metrics["train_loss"],
    )
    # A quarter of the images in as many epochs: it learns, yet below the whole split
    # (measured 0.48-0.67 against 0.75-0.85 over seeds 0-4).
    assert (
        0.2
        < result.accuracy
        < TrainingEvaluator(data=digits, config=FAST).evaluate(TINY, seed=1).accuracy
    )


@pytest.mark.parametrize("train_images", [None, 60])
def test_the_evaluator_carries_its_images_once_to_a_worker(digits, train_images):
    # Ray and process pools pickle the evaluator: the subset is drawn there, not shipped.
    config = TrainingConfig(train_images=train_images)
    shipped = len(pickle.dumps(TrainingEvaluator(data=digits, config=config)))
    assert shipped < 1.05 * len(pickle.dumps(digits))


def test_more_train_images_than_the_split_holds_is_one_line(digits):
    with pytest.raises(DataError, match="training split's 240: pick a count in that range"):
        TrainingEvaluator(data=digits, config=TrainingConfig(train_images=241))
