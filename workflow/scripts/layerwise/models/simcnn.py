"""SimCNN of paper 003 section 3.1, built block by block for layer-wise training.

x_{j+1} = rho W_j P_j x_j (3x3 convs with bias; P_j a downsampling at the
configured blocks), z_{j+1} = C_j x_{j+1}. The auxiliary classifier C_j is,
for k = 1, spatial averaging A to 2x2 then a linear L; for k > 1, k-1 3x3
convs of constant width M~ (M~_f for the last layer), each with batch norm
and ReLU, before A and L. Widths: block 0 has M maps and a block doubles its
input width when it downsamples (section 4 "Naming conventions"), unless a
model gives explicit ``widths`` (VGG-11, see vgg.py). The same convention
sizes the auxiliary convs: M~ at block 0, times the block's own widening
(M~ 2^d after d downsamplings; ImageNet k=2,3: M~_f = 256 * 2^3 = 2048) with
``aux_growth: double``; ``constant`` keeps M~ everywhere (a documented
departure); ``block`` sets M~_j = 2 x the block's width (the authors' VGG-11 code,
aux_width unused). ``aux_width_final`` overrides the last layer's (Table 1's 512).
``aux_padding: 0`` makes the auxiliary convs unpadded and ``aux_pool_batchnorm``
adds a batch norm after the 2x2 average (both as the authors' VGG-11 code).

Block indices in this module are 0-based (the paper's j in P_j, W_j); the
pipeline's layer numbers (``layer{j}`` directories, 2^j ensemble weights) are
1-based: layer j is block j-1 plus its auxiliary head.
"""

from dataclasses import MISSING, asdict, dataclass, field, fields

from torch import nn

from layerwise.errors import InputError
from layerwise.models.downsampling import (
    InvertibleDownsampling,
    channel_factor,
    make_downsampling,
    output_size,
)


@dataclass
class ModelSpec:
    """Everything that fixes the architecture; built from one `layerwise` model preset."""

    num_classes: int
    in_channels: int
    image_size: int
    arch: str = "simcnn"
    k: int = 1
    layers: int = 3
    width: int = 32
    widths: list = field(default_factory=list)
    aux_width: int = 64
    aux_width_final: int = 0
    downsample_at: list = field(default_factory=list)
    downsample: str = "invertible"
    input_downsample: bool = True
    batchnorm: bool = False
    aux_batchnorm: bool = True
    aux_downsample: bool = False
    final_head: str = "aux"
    vgg_hidden: int = 4096
    vgg_pool: int = 7
    vgg_dropout: float = 0.5
    aux_growth: str = "double"
    aux_padding: int = 1
    aux_pool_batchnorm: bool = False
    prune_to: int = 0

    def to_dict(self):
        return asdict(self)


def spec_from_config(model_cfg, num_classes, in_channels, image_size, key="layerwise model"):
    """A :class:`ModelSpec` from a config preset (the architecture keys only)."""
    from layerwise.models.vgg import vgg11_layout  # vgg builds on this module

    known = set(ModelSpec.__dataclass_fields__)
    kwargs = {name: value for name, value in model_cfg.items() if name in known}
    spec = ModelSpec(
        num_classes=num_classes, in_channels=in_channels, image_size=image_size, **kwargs
    )
    if spec.arch == "vgg11":
        spec = vgg11_layout(spec)
    elif spec.arch != "simcnn":
        raise InputError(f"{key}.arch: unknown architecture {spec.arch!r}; use simcnn or vgg11")
    check_spec(spec, key)
    return spec


def block_widths(spec):
    """Trained output width of every block (before any pruning)."""
    if spec.widths:
        if len(spec.widths) != spec.layers:
            raise InputError(
                f"layerwise model widths has {len(spec.widths)} entries but layers is {spec.layers}"
            )
        return list(spec.widths)
    widths, width = [], spec.width
    for j in range(spec.layers):
        if j in spec.downsample_at and j > 0:
            width *= 2
        widths.append(width)
    return widths


def aux_widths(spec):
    """M~_j of every block's auxiliary convs (before the final-layer override)."""
    if spec.aux_growth == "constant":
        return [spec.aux_width] * spec.layers
    widths = block_widths(spec)
    if spec.aux_growth == "block":
        return [2 * w for w in widths]
    return [spec.aux_width * w // widths[0] for w in widths]


def kept_widths(spec):
    """Output width of every block in the final model (after layer-wise pruning if any)."""
    return [spec.prune_to or w for w in block_widths(spec)]


def input_shape(spec):
    """(channels, size) of x_0, the input of block 0."""
    if spec.input_downsample:
        return spec.in_channels * 4, output_size(spec.image_size, "invertible")
    return spec.in_channels, spec.image_size


def block_shapes(spec):
    """[(in_channels, in_size, out_size)] per block, following the kept widths."""
    channels, size = input_shape(spec)
    shapes = []
    for j, width in enumerate(kept_widths(spec)):
        out = size
        if j in spec.downsample_at:
            out = output_size(size, spec.downsample)
        shapes.append((channels, size, out))
        channels, size = width, out
    return shapes


def check_spec(spec, key):
    if spec.k < 1:
        raise InputError(f"{key}.k must be >= 1 (got {spec.k})")
    if spec.layers < 1:
        raise InputError(f"{key}.layers must be >= 1 (got {spec.layers})")
    bad = [j for j in spec.downsample_at if not 0 <= j < spec.layers]
    if bad:
        raise InputError(f"{key}.downsample_at {bad}: blocks are numbered 0..{spec.layers - 1}")
    if spec.aux_growth not in ("double", "constant", "block"):
        raise InputError(f"{key}.aux_growth must be double, constant or block (got {spec.aux_growth!r})")
    if spec.aux_padding not in (0, 1):
        raise InputError(f"{key}.aux_padding must be 0 or 1 (got {spec.aux_padding})")
    if not 0 <= spec.vgg_dropout < 1:
        raise InputError(f"{key}.vgg_dropout must be in [0, 1) (got {spec.vgg_dropout})")
    if spec.final_head not in ("aux", "vgg"):
        raise InputError(f"{key}.final_head must be aux or vgg (got {spec.final_head!r})")
    for j, (_, _, out) in enumerate(block_shapes(spec)):
        if out < 1 or (spec.aux_downsample and out < 2):
            raise InputError(
                f"{key}: block {j} output is {out}x{out} for {spec.image_size}px inputs; "
                "remove downsample_at positions or use larger images"
            )
        if aux_conv_size(spec, out) < 1 and not (j == spec.layers - 1 and spec.final_head == "vgg"):
            raise InputError(
                f"{key}: block {j}'s auxiliary convs shrink its {out}x{out} output below 1x1 "
                "(aux_padding 0); set aux_padding 1 or use larger images"
            )


def aux_conv_size(spec, size):
    """Spatial size after the auxiliary's optional 2x average and its k-1 convs."""
    size = size // 2 if spec.aux_downsample else size
    return size - 2 * (1 - spec.aux_padding) * (spec.k - 1)


def make_stem(spec):
    """The operator applied to the image before block 0 (invertible downsampling or none)."""
    return InvertibleDownsampling() if spec.input_downsample else nn.Identity()


def make_block(spec, j, pruned=True):
    """Block j: P_j (if j is a downsampling block), 3x3 conv with bias, [BN], ReLU.

    ``pruned=False`` gives the block as trained, before layer-wise pruning.
    """
    in_channels = block_shapes(spec)[j][0]
    out = kept_widths(spec)[j] if pruned else block_widths(spec)[j]
    layers, stride = [], 1
    if j in spec.downsample_at:
        down, stride = make_downsampling(spec.downsample)
        layers.append(down)
        in_channels *= channel_factor(spec.downsample)
    layers.append(nn.Conv2d(in_channels, out, 3, stride=stride, padding=1, bias=True))
    if spec.batchnorm:
        layers.append(nn.BatchNorm2d(out))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class AuxClassifier(nn.Module):
    """C_gamma: [2x avg pool], k-1 convs (BN, ReLU), average to 2x2 (A), [BN], linear L."""

    def __init__(self, in_channels, num_classes, k, width, batchnorm, downsample, padding=1,
                 pool_batchnorm=False):
        super().__init__()
        layers = [nn.AvgPool2d(2)] if downsample else []
        for _ in range(k - 1):
            layers.append(nn.Conv2d(in_channels, width, 3, padding=padding, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            in_channels = width
        self.convs = nn.Sequential(*layers)
        average = [nn.AdaptiveAvgPool2d(2)] + ([nn.BatchNorm2d(in_channels)] if pool_batchnorm else [])
        self.average = nn.Sequential(*average)
        self.linear = nn.Linear(in_channels * 4, num_classes)

    def forward(self, x):
        return self.linear(self.average(self.convs(x)).flatten(1))


def make_head(spec, j, in_channels=None):
    """Auxiliary classifier of block j (0-based); the last block may take VGG's classifier."""
    from layerwise.models.vgg import VGGHead

    last = j == spec.layers - 1
    if in_channels is None:
        in_channels = kept_widths(spec)[j]
    if last and spec.final_head == "vgg":
        return VGGHead(in_channels, spec.num_classes, spec.vgg_hidden, spec.vgg_pool,
                       spec.vgg_dropout)
    width = spec.aux_width_final if last and spec.aux_width_final else aux_widths(spec)[j]
    return AuxClassifier(
        in_channels, spec.num_classes, spec.k, width, spec.aux_batchnorm, spec.aux_downsample,
        spec.aux_padding, spec.aux_pool_batchnorm,
    )


class LayeredCNN(nn.Module):
    """Stem, blocks 0..n-1 and one head: the model z_n, trainable end to end or layer by layer."""

    def __init__(self, spec, blocks=None, head=None):
        super().__init__()
        self.spec = spec
        self.stem = make_stem(spec)
        if blocks is None:
            blocks = [make_block(spec, j) for j in range(spec.layers)]
        self.blocks = nn.ModuleList(blocks)
        self.head = head if head is not None else make_head(spec, len(blocks) - 1)

    def features(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x):
        return self.head(self.features(x))


# Spec keys that shape only the last layer's head: a frozen earlier layer trained under one
# value serves a run with another (Table 1 retrains layer J alone with M~_f = 512).
LAST_HEAD_ONLY = ("aux_width_final",)


def frozen_compatible(trained, wanted):
    """True when blocks (and earlier heads) of spec dict ``trained`` are those of ``wanted``;
    a key missing from a file written before it existed counts as its default."""
    defaults = {f.name: f.default for f in fields(ModelSpec) if f.default is not MISSING}

    def strip(spec):
        return {k: v for k, v in {**defaults, **spec}.items() if k not in LAST_HEAD_ONLY}

    return strip(trained) == strip(wanted)


def count_params(module):
    return sum(p.numel() for p in module.parameters())
