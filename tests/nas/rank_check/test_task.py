"""run_rank_check and its report with fake evaluators: correlations, resumption, identity."""

import json

import pytest

from nas import Evaluation, Evaluator
from nas.rank_check import RankCheckConfig, run_rank_check, write_rank_report
from scaling import search_proxy
from search_spaces import InputError, MBConvSpace, count_flops

SPACE = MBConvSpace.uniform(
    search_proxy(resolution=16, in_channels=1, num_classes=10, width_mult=0.5, depth_mult=0.5)
)


class ByFlops(Evaluator):
    """A score that is a fixed function of FLOPs; counts its calls."""

    def __init__(self, name: str, sign: float = 1.0, epochs: int = 1) -> None:
        self.name, self.sign, self.epochs, self.calls = name, sign, epochs, 0

    def identity(self):
        return {"evaluator": self.name, "epochs": self.epochs}

    def evaluate(self, spec, *, seed, progress=None):
        self.calls += 1
        return Evaluation(accuracy=self.sign * count_flops(spec) / 1e7)


def check(run_dir, reference=None, networks=8, **scorers):
    reference = reference or ByFlops("reference")
    scorers = scorers or {"agrees": ByFlops("agrees"), "reverses": ByFlops("reverses", -1.0)}
    config = RankCheckConfig(networks=networks, seed=1)
    study = run_rank_check(
        space=SPACE, reference=reference, scorers=scorers, config=config, run_dir=run_dir
    )
    summary = write_rank_report(study, run_dir, reference="fake", settings={})
    return study, summary, reference


def test_correlations_verdict_and_files(tmp_path):
    study, summary, reference = check(tmp_path)
    assert reference.calls == 8 and len(study.trials) == 8
    found = summary["correlations"]
    assert found["agrees"]["kendall_tau"] == 1.0 and found["reverses"]["kendall_tau"] == -1.0
    assert found["flops"]["kendall_tau"] == 1.0  # the fake reference is FLOPs itself
    assert -1 <= found["params"]["kendall_tau"] <= 1
    assert summary["verdict"].startswith(("agrees ranks", "flops ranks"))
    assert {p.name for p in tmp_path.iterdir()} >= {"rank_check.csv", "rank_check.png"}
    assert json.loads((tmp_path / "summary.json").read_text()) == summary


def test_a_second_run_continues_and_a_different_check_is_refused(tmp_path):
    check(tmp_path)
    _, _, reference = check(tmp_path)
    assert reference.calls == 0  # every network was already trained
    _, summary, reference = check(tmp_path, networks=10)
    assert reference.calls == 2 and summary["networks"] == 10
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError, match="different search"):
        check(tmp_path, reference=ByFlops("reference", epochs=5), networks=10)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="networks must be a whole number >= 3"):
        RankCheckConfig(networks=2)
    with pytest.raises(InputError, match="taken"):
        check("unused", flops=ByFlops("flops"))


class Noisy(Evaluator):
    """FLOPs plus seed-dependent noise: two runs of a network differ, as real training's do."""

    def __init__(self) -> None:
        self.seeds = []

    def identity(self):
        return {"evaluator": "noisy"}

    def evaluate(self, spec, *, seed, progress=None):
        self.seeds.append(seed)
        return Evaluation(accuracy=count_flops(spec) / 1e7 + (seed * 7 % 11) / 10)


def test_reference_seeds_are_averaged_and_their_repeatability_reported(tmp_path):
    reference = Noisy()
    study = run_rank_check(
        space=SPACE,
        reference=reference,
        scorers={"agrees": ByFlops("agrees")},
        config=RankCheckConfig(networks=6, seed=1, reference_seeds=2),
        run_dir=tmp_path,
    )
    summary = write_rank_report(study, tmp_path, reference="fake", settings={})
    assert len(reference.seeds) == 12 and len(set(reference.seeds)) == 12
    for trial in study.trials:
        runs = [trial.user_attrs["scores"][f"reference_run{k}"] for k in (0, 1)]
        assert trial.user_attrs["reference_accuracy"] == pytest.approx(sum(runs) / 2)
    repeat = summary["reference_repeatability"]
    assert repeat["n"] == 6 and -1 <= repeat["kendall_tau"] <= 1
    assert "One reference run ranks like another with tau" in summary["verdict"]
    # With one seed the first run is the one a single-seed check trains: the same seed.
    single = Noisy()
    run_rank_check(
        space=SPACE,
        reference=single,
        scorers={"agrees": ByFlops("agrees")},
        config=RankCheckConfig(networks=6, seed=1),
        run_dir=tmp_path / "one",
    )
    assert single.seeds == reference.seeds[::2]


class ProxyWithLoss(Evaluator):
    """A short training whose loss sum falls as FLOPs grow: TSE ranks like FLOPs."""

    name = "train"

    def identity(self):
        return {"evaluator": "proxy-with-loss"}

    def evaluate(self, spec, *, seed, progress=None):
        flops = count_flops(spec) / 1e7
        return Evaluation(accuracy=0.5, metrics={"tse": 10.0 - flops})


def test_tse_is_read_off_the_proxy_and_a_lower_sum_ranks_higher(tmp_path):
    study, summary, _ = check(tmp_path, proxy=ProxyWithLoss())
    found = summary["correlations"]
    assert found["tse"]["kendall_tau"] == 1.0  # negated: the lowest loss sum ranks first
    for trial in study.trials:
        flops = trial.user_attrs["flops"] / 1e7
        assert trial.user_attrs["scores"]["tse"] == pytest.approx(10.0 - flops)
    with pytest.raises(InputError, match="tse"):
        check(tmp_path / "taken", tse=ByFlops("tse"))


def test_three_reference_seeds_give_the_ceiling_beside_each_score(tmp_path):
    study = run_rank_check(
        space=SPACE,
        reference=Noisy(),
        scorers={"agrees": ByFlops("agrees")},
        config=RankCheckConfig(networks=8, seed=1, reference_seeds=3),
        run_dir=tmp_path,
    )
    summary = write_rank_report(study, tmp_path, reference="fake", settings={})
    reliability = summary["reference_reliability"]
    assert (reliability["n"], reliability["runs"]) == (8, 3)
    assert 0 <= reliability["ceiling"] <= 1
    assert reliability["ceiling_low"] <= reliability["ceiling"] <= reliability["ceiling_high"]
    share = summary["correlations"]["agrees"]["share_of_ceiling"]
    tau = summary["correlations"]["agrees"]["kendall_tau"]
    assert share == pytest.approx(tau / reliability["ceiling"], rel=1e-3)  # of rounded values
    assert "reference runs allows at most tau" in summary["verdict"]


class StopsOnce(ByFlops):
    """Interrupted on its third network once, as a Ctrl-C or a killed worker would."""

    def evaluate(self, spec, *, seed, progress=None):
        if self.calls == 2 and not getattr(self, "stopped", False):
            self.stopped = True
            raise KeyboardInterrupt
        return super().evaluate(spec, seed=seed, progress=progress)


def test_an_interrupted_try_is_not_counted_as_another_network(tmp_path):
    reference = StopsOnce("reference")
    with pytest.raises(KeyboardInterrupt):
        check(tmp_path, reference=reference)
    study, summary, _ = check(tmp_path, reference=reference)
    assert len(study.trials) == 9  # the interrupted try, and its point run again
    assert summary["networks"] == 8 and summary["trials"] == {"complete": 8, "interrupted": 1}
