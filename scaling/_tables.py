"""Published scaling tables, as data.

EfficientNet: tensorflow/tpu models/official/efficientnet/efficientnet_builder.py.
EfficientNet-Lite: .../efficientnet/lite/efficientnet_lite_builder.py, whose
lite3 and lite4 resolutions are 280 and 300 (not 300 and 380, the input sizes
timm evaluates its ported lite weights at) and whose lite4 dropout is 0.3.
The B1..B7 multipliers do not follow alpha^phi exactly (B7 depth 3.1 vs
1.2^7 = 3.58), which is why a family can come from a table or from coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "ScalingTable", "TableRow"]


@dataclass(frozen=True)
class TableRow:
    suffix: str  # appended to the family prefix: efficientnet-b3
    phi: int | None  # compound coefficient the row stands for; None where the paper gives none
    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float
    # Parameter count of the reference implementation (torchvision, or timm's TF port).
    reference_params: int | None = None


@dataclass(frozen=True)
class ScalingTable:
    name: str
    base: str  # the architecture the multipliers apply to
    prefix: str
    rows: tuple[TableRow, ...]

    @property
    def base_resolution(self) -> int:
        return self.rows[0].resolution


TABLES: dict[str, ScalingTable] = {
    "efficientnet": ScalingTable(
        name="efficientnet",
        base="efficientnet-b0",
        prefix="efficientnet-",
        rows=(
            TableRow("b0", 0, 1.0, 1.0, 224, 0.2, 5_288_548),
            TableRow("b1", 1, 1.0, 1.1, 240, 0.2, 7_794_184),
            TableRow("b2", 2, 1.1, 1.2, 260, 0.3, 9_109_994),
            TableRow("b3", 3, 1.2, 1.4, 300, 0.3, 12_233_232),
            TableRow("b4", 4, 1.4, 1.8, 380, 0.4, 19_341_616),
            TableRow("b5", 5, 1.6, 2.2, 456, 0.4, 30_389_784),
            TableRow("b6", 6, 1.8, 2.6, 528, 0.5, 43_040_704),
            TableRow("b7", 7, 2.0, 3.1, 600, 0.5, 66_347_960),
            TableRow("b8", 8, 2.2, 3.6, 672, 0.5, 87_413_142),
            # Noisy Student's L2 is wider and deeper than any phi of the paper.
            TableRow("l2", None, 4.3, 5.3, 800, 0.5, 480_309_308),
        ),
    ),
    "lite": ScalingTable(
        name="lite",
        base="efficientnet-lite0",
        prefix="efficientnet-",
        rows=(
            TableRow("lite0", 0, 1.0, 1.0, 224, 0.2, 4_652_008),
            TableRow("lite1", 1, 1.0, 1.1, 240, 0.2, 5_416_680),
            TableRow("lite2", 2, 1.1, 1.2, 260, 0.3, 6_092_072),
            TableRow("lite3", 3, 1.2, 1.4, 280, 0.3, 8_197_096),
            TableRow("lite4", 4, 1.4, 1.8, 300, 0.3, 13_006_568),
        ),
    ),
    # automl efficientnetv2/effnetv2_configs.py (width, depth, train size, eval size,
    # dropout); the resolutions are the evaluation sizes. Widths round by V2's rule.
    "efficientnetv2": ScalingTable(
        name="efficientnetv2",
        base="efficientnetv2-b0",
        prefix="efficientnetv2-",
        rows=(
            TableRow("b0", 0, 1.0, 1.0, 224, 0.2, 7_139_704),
            TableRow("b1", 1, 1.0, 1.1, 240, 0.2, 8_141_052),
            TableRow("b2", 2, 1.1, 1.2, 260, 0.3, 10_096_086),
            TableRow("b3", 3, 1.2, 1.4, 300, 0.3, 14_358_406),
        ),
    ),
}
