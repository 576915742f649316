import dataclasses
import itertools
import logging
import sys
import textwrap

import pytest
import torch
import torchvision

from nas.models import (
    RESNET_LAYERS,
    Backbone,
    BackboneError,
    CallableBackbone,
    ResNetBackbone,
    ScalableResNet,
    SpecBackbone,
    fvcore_count,
    load_backbone,
    torch_param_count,
)
from scaling import preset, scale_network
from search_spaces import (
    BASE_ARCHITECTURES,
    InputError,
    SpecError,
    count_flops,
    count_params,
    round_filters,
    round_repeats,
)

B0 = BASE_ARCHITECTURES["efficientnet-b0"]
IMAGENET = {"num_classes": 1000, "in_channels": 3}
UNIT = {"width_mult": 1.0, "depth_mult": 1.0}

# torchvision.models.resnet18's conv + linear multiply-adds at 224 as fvcore counts them
# (torchvision's own metadata says 1.81 GFLOPs); asserted below against fvcore itself.
RESNET18_MACS_224 = 1_814_073_344


def torchvision_resnet(depth: int) -> torch.nn.Module:
    with torch.device("meta"):
        return getattr(torchvision.models, f"resnet{depth}")(weights=None)


# --- ResNet -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "params"),
    [(18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160)],
)
def test_resnet_at_width_and_depth_1_is_torchvisions(depth, params):
    backbone = ResNetBackbone(depth=depth)
    reference = torchvision_resnet(depth)
    assert backbone.params(**UNIT, **IMAGENET) == torch_param_count(reference) == params
    # Same names and shapes, so torchvision's pretrained weights load into width 1, depth 1.
    with torch.device("meta"):
        model = backbone.build(**UNIT, **IMAGENET)
    ours = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    theirs = {key: tuple(value.shape) for key, value in reference.state_dict().items()}
    assert ours == theirs
    assert backbone.name == f"resnet{depth}"
    assert backbone.base_resolution == 224


@pytest.mark.parametrize("depth", [18, 50])
def test_resnet_width_and_depth_scale_in_the_expected_direction(depth):
    backbone = ResNetBackbone(depth=depth)
    base = backbone.params(**UNIT, **IMAGENET)
    assert backbone.params(width_mult=0.5, depth_mult=1.0, **IMAGENET) < base
    assert backbone.params(width_mult=1.0, depth_mult=2.0, **IMAGENET) > base
    assert backbone.params(width_mult=1.5, depth_mult=1.0, **IMAGENET) > base


@pytest.mark.parametrize(("depth", "depth_mult"), [(18, 1.5), (34, 0.5), (50, 1.5), (101, 1.2)])
def test_resnet_block_counts_are_round_repeats(depth, depth_mult):
    with torch.device("meta"):
        model = ResNetBackbone(depth=depth).build(width_mult=1.0, depth_mult=depth_mult, **IMAGENET)
    _, layers = RESNET_LAYERS[depth]
    assert [len(stage) for stage in model.stages] == [round_repeats(n, depth_mult) for n in layers]


def test_resnet_width_rounds_every_conv():
    with torch.device("meta"):
        model = ScalableResNet(depth=50, width_mult=0.3)
    assert model.conv1.out_channels == round_filters(64, 0.3) == 24
    first = model.layer1[0]
    assert first.conv1.out_channels == first.conv2.out_channels == round_filters(64, 0.3)
    assert first.conv3.out_channels == round_filters(256, 0.3) == 80
    assert model.layer4[0].conv2.out_channels == round_filters(512, 0.3)
    assert model.fc.in_features == round_filters(2048, 0.3)


def test_scaled_resnet_runs_forward():
    model = ResNetBackbone(depth=18).build(
        width_mult=0.25, depth_mult=0.5, num_classes=10, in_channels=1
    )
    assert [len(stage) for stage in model.stages] == [1, 1, 1, 1]
    with torch.no_grad():
        out = model.eval()(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_resnet18_flops_equal_fvcore_on_torchvisions_model():
    backbone = ResNetBackbone(depth=18)
    ours = backbone.flops(**UNIT, resolution=224, **IMAGENET)
    reference = fvcore_count(torchvision_resnet(18).to_empty(device="cpu"), 224).conv_linear
    assert ours == reference == RESNET18_MACS_224


def test_resnet_flops_grow_with_width_depth_and_resolution():
    backbone = ResNetBackbone(depth=18)
    small = {"num_classes": 10, "in_channels": 3}
    base = backbone.flops(**UNIT, resolution=64, **small)
    assert backbone.flops(width_mult=1.5, depth_mult=1.0, resolution=64, **small) > base
    assert backbone.flops(width_mult=1.0, depth_mult=2.0, resolution=64, **small) > base
    assert backbone.flops(**UNIT, resolution=96, **small) > base


@pytest.mark.parametrize("depth", [0, 19, 152, True, "18"])
def test_resnet_depth_must_be_known(depth):
    with pytest.raises(BackboneError, match=r"^ResNet depth must be one of 18, 34, 50, 101"):
        ResNetBackbone(depth=depth)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width_mult": 0}, "width_mult must be a finite number > 0"),
        ({"depth_mult": float("inf")}, "depth_mult must be a finite number > 0"),
        ({"num_classes": 0}, "num_classes must be a whole number >= 1"),
        ({"in_channels": 1.5}, "in_channels must be a whole number >= 1"),
        ({"resolution": 0}, "resolution must be a whole number >= 1"),
    ],
)
@pytest.mark.parametrize("backbone", [ResNetBackbone(depth=18), SpecBackbone(B0)])
def test_counting_arguments_are_checked(backbone, kwargs, message):
    arguments = {**UNIT, "resolution": 64, **IMAGENET, **kwargs}
    with pytest.raises(BackboneError, match=f"^{message}"):
        backbone.flops(**arguments)


# --- specs ------------------------------------------------------------------------------------


def test_spec_backbone_counts_are_the_analytic_ones():
    backbone = SpecBackbone(B0)
    depth_mult, width_mult, resolution = 1.2, 1.1, 256
    scaled = scale_network(B0, width_mult=width_mult, depth_mult=depth_mult, resolution=256)
    arguments = {"width_mult": width_mult, "depth_mult": depth_mult, **IMAGENET}
    assert backbone.flops(resolution=resolution, **arguments) == count_flops(scaled, 256)
    assert backbone.params(**arguments) == count_params(scaled)
    with torch.device("meta"):
        model = backbone.build(**arguments)
    assert torch_param_count(model) == count_params(scaled)
    assert backbone.name == "efficientnet-b0" and backbone.base_resolution == 224


def test_spec_backbone_analytic_flops_match_fvcore():
    backbone = SpecBackbone(preset("mnasnet-a1"))
    arguments = {"width_mult": 0.75, "depth_mult": 0.5, "resolution": 64, **IMAGENET}
    # Backbone.flops is the generic fvcore count of the built model.
    assert backbone.flops(**arguments) == Backbone.flops(backbone, **arguments)


def test_spec_backbone_replaces_classes_and_channels():
    backbone = SpecBackbone(B0)
    with torch.device("meta"):
        model = backbone.build(width_mult=0.5, depth_mult=0.5, num_classes=10, in_channels=1)
    assert model.classifier[-1].out_features == 10
    assert model.stem[0].in_channels == 1
    spec = backbone.scaled_spec(width_mult=0.5, depth_mult=0.5, num_classes=10, in_channels=1)
    assert spec.resolution == B0.resolution and spec.num_classes == 10
    assert backbone.params(width_mult=0.5, depth_mult=0.5, num_classes=10, in_channels=1) == (
        count_params(spec)
    )


def test_spec_backbone_flops_use_the_resolution_as_given():
    # 250 is not a multiple of 4: the count must not silently round it.
    backbone = SpecBackbone(B0)
    assert backbone.flops(**UNIT, resolution=250, **IMAGENET) == count_flops(B0, 250)


def test_spec_backbone_needs_a_spec():
    with pytest.raises(BackboneError, match=r"^SpecBackbone needs a NetworkSpec, got str"):
        SpecBackbone("efficientnet-b0")


# --- user functions ---------------------------------------------------------------------------

TINY_NET = """
from torch import nn


def tiny_net(width_mult, depth_mult, num_classes):
    width = max(1, round(8 * width_mult))
    layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU()]
    for _ in range(max(1, round(depth_mult))):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers, *head)


tiny_net.base_resolution = 32


def with_kwargs(**kwargs):
    return tiny_net(**kwargs)


def with_defaults(width_mult, depth_mult=1.0, num_classes=10, *, bias=True):
    return tiny_net(width_mult, depth_mult, num_classes)


class Factory:
    @staticmethod
    def make(*, width_mult, depth_mult, num_classes):
        return tiny_net(width_mult, depth_mult, num_classes)


def renamed(width, depth, classes):
    return tiny_net(width, depth, classes)


def extra_required(width_mult, depth_mult, num_classes, pretrained):
    return tiny_net(width_mult, depth_mult, num_classes)


def positional_only(width_mult, depth_mult, num_classes, /):
    return tiny_net(width_mult, depth_mult, num_classes)


def raises(width_mult, depth_mult, num_classes):
    raise ValueError("width_mult 0.5 is not supported\\nuse 1.0")


def not_a_module(width_mult, depth_mult, num_classes):
    return 42


def bad_forward(width_mult, depth_mult, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(7, num_classes))


def features_only(width_mult, depth_mult, num_classes):
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def bad_resolution(width_mult, depth_mult, num_classes):
    return tiny_net(width_mult, depth_mult, num_classes)


bad_resolution.base_resolution = 0


class Squares(nn.Module):
    def forward(self, x):
        return x.pow(2)


def uses_pow(width_mult, depth_mult, num_classes):
    return nn.Sequential(Squares(), tiny_net(width_mult, depth_mult, num_classes))


uses_pow.base_resolution = 16

NOT_CALLABLE = 3
"""

_module_names = (f"cnas_test_backbone_{index}" for index in itertools.count())


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Write modules into tmp_path and make them importable; forget them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(source: str = TINY_NET) -> str:
        name = next(_module_names)
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_callable_backbone_builds_and_counts(user_module):
    module = user_module()
    backbone = CallableBackbone(f"{module}:tiny_net")
    assert backbone.name == "tiny_net"
    assert backbone.base_resolution == 32
    model = backbone.build(**UNIT, num_classes=5, in_channels=3)
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 5)
    counts = {"depth_mult": 1.0, "resolution": 32, "num_classes": 5, "in_channels": 3}
    narrow = backbone.flops(width_mult=1.0, **counts)
    wide = backbone.flops(width_mult=2.0, **counts)
    assert 0 < narrow < wide
    # 3x3 convs 3->8 and 8->8 at 32x32, then the 8->5 classifier.
    assert narrow == 32 * 32 * 9 * (3 * 8 + 8 * 8) + 8 * 5
    params = {"depth_mult": 1.0, "num_classes": 5, "in_channels": 3}
    assert 0 < backbone.params(width_mult=1.0, **params) < backbone.params(width_mult=2, **params)


@pytest.mark.parametrize("function", ["with_kwargs", "with_defaults", "Factory.make"])
def test_callable_backbone_accepts_keyword_compatible_signatures(user_module, function):
    backbone = CallableBackbone(f"{user_module()}:{function}")
    assert backbone.base_resolution == 224
    model = backbone.build(width_mult=0.5, depth_mult=2.0, num_classes=3, in_channels=3)
    assert isinstance(model, torch.nn.Module)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("renamed", "does not accept width_mult, depth_mult, num_classes as keywords"),
        ("extra_required", "also requires pretrained"),
        ("positional_only", "does not accept width_mult, depth_mult, num_classes as keywords"),
        ("missing", "has no function 'missing'; check the spelling"),
        ("Factory.missing", "has no function 'Factory.missing'"),
        ("NOT_CALLABLE", "is a int, not a function"),
        ("bad_resolution", "bad_resolution.base_resolution must be a whole number >= 1, got 0"),
    ],
)
def test_callable_backbone_load_errors(user_module, function, message):
    with pytest.raises(BackboneError, match=message) as info:
        CallableBackbone(f"{user_module()}:{function}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("raises", "raised ValueError: width_mult 0.5 is not supported use 1.0; fix the function"),
        ("not_a_module", "returned a int, not an nn.Module"),
        ("bad_forward", "fails on a 1x3x224x224 image \\(RuntimeError: "),
        ("features_only", "returns shape \\(1, 8\\) for one image; it must return logits"),
    ],
)
def test_callable_backbone_build_errors(user_module, function, message):
    backbone = CallableBackbone(f"{user_module()}:{function}")
    with pytest.raises(BackboneError, match=message) as info:
        backbone.build(width_mult=0.5, depth_mult=1.0, num_classes=10, in_channels=3)
    assert "\n" not in str(info.value)
    assert "width_mult=0.5, depth_mult=1.0, num_classes=10" in str(info.value)


def test_callable_backbone_needs_rgb(user_module):
    backbone = CallableBackbone(f"{user_module()}:tiny_net")
    with pytest.raises(BackboneError, match="takes 3-channel images, not 1"):
        backbone.build(**UNIT, num_classes=10, in_channels=1)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tiny_net", "backbone 'tiny_net' has no ':'; give it as package.module:function"),
        (":tiny_net", "lacks a module or a function"),
        ("some.module:", "lacks a module or a function"),
        (
            "cnas_no_such_module:f",
            "cannot import module 'cnas_no_such_module' of backbone 'cnas_no_such_module:f' "
            "(ModuleNotFoundError: No module named 'cnas_no_such_module'); check the name",
        ),
    ],
)
def test_callable_backbone_target_errors(target, message):
    with pytest.raises(BackboneError) as info:
        CallableBackbone(target)
    assert message in str(info.value)


def test_callable_backbone_reports_a_module_that_fails_to_import(user_module):
    module = user_module("raise RuntimeError('needs a GPU')\n")
    with pytest.raises(BackboneError, match=r"\(RuntimeError: needs a GPU\); check the name"):
        CallableBackbone(f"{module}:f")


def test_fvcore_skipped_ops_are_logged_once(user_module, caplog):
    backbone = CallableBackbone(f"{user_module()}:uses_pow")
    counts = {**UNIT, "resolution": 16, "num_classes": 2, "in_channels": 3}
    with caplog.at_level(logging.WARNING, logger="nas.models._backbone"):
        backbone.flops(**counts)
        backbone.flops(**counts)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert "aten::pow (x1)" in messages[0] and "uses_pow" in messages[0]


def test_resnet_and_spec_counts_log_nothing(caplog):
    with caplog.at_level(logging.WARNING, logger="nas.models._backbone"):
        ResNetBackbone(depth=18).flops(**UNIT, resolution=32, num_classes=10, in_channels=3)
        Backbone.flops(SpecBackbone(B0), **UNIT, resolution=32, num_classes=10, in_channels=3)
    assert caplog.records == []


# --- dispatch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
def test_load_backbone_resnets(depth):
    backbone = load_backbone(f"resnet{depth}")
    assert isinstance(backbone, ResNetBackbone) and backbone.depth == depth


def test_load_backbone_callable(user_module):
    backbone = load_backbone(f"{user_module()}:tiny_net")
    assert isinstance(backbone, CallableBackbone) and backbone.name == "tiny_net"


def test_load_backbone_presets_and_spec_files(tmp_path, monkeypatch):
    assert load_backbone("efficientnet-b0").spec == preset("efficientnet-b0")
    # Only the exact ResNet names are ResNets: a spec file named like one is a spec.
    spec = dataclasses.replace(preset("efficientnet-b0"), name="resnet-like")
    spec.save(tmp_path / "resnet_x.json")
    monkeypatch.chdir(tmp_path)
    for text in ("resnet_x.json", str(tmp_path / "resnet_x.json")):
        backbone = load_backbone(text)
        assert isinstance(backbone, SpecBackbone) and backbone.spec == spec
    # An unknown name is the preset lookup's error, not a guess at a backbone.
    with pytest.raises(SpecError, match="unknown preset 'resnet152'"):
        load_backbone("resnet152")


def test_backbone_errors_are_input_errors():
    assert issubclass(BackboneError, InputError)
