"""Released GFM weights, declared as data.

Each :class:`WeightsEntry` says what a checkpoint is (backbone, RoSTa, the
input normalisation it expects, training set, licence) and where it comes
from (URLs, file name, size and SHA-256 when known). The registry refuses
duplicate names and duplicate file names, so every entry owns one cache file.

The seven checkpoints released with the paper (github.com/JizhiziLi/GFM,
README "GFM" table and ``core/README.md`` "Pretrained Models") are registered
at import. Their sizes and hashes are not published: :mod:`gfm.hub.cache`
records the SHA-256 at first download or import and checks it afterwards.

Example::

    from gfm.hub import get_weights, list_weights
    entry = get_weights("gfm-r34-tt")
    entry.backbone, entry.rosta, entry.normalization.name   # 'r34', 'TT', 'raw255'
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from gfm.errors import ConfigError
from gfm.models.normalization import IMAGENET, RAW_255, Normalization
from gfm.segmentation.onnx_runner import SegmenterSpec

BACKBONES: tuple[str, ...] = ("r34", "r34_2b", "d121", "r101", "effl0", "effl2")
ROSTAS: tuple[str, ...] = ("TT", "FT", "BT", "RIM")
#: What an entry holds: GFM weights, or a guide (an ONNX segmentation model that steers GFM's glance).
KINDS: tuple[str, ...] = ("gfm", "guide")




_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable checkpoint.

    Attributes:
        name: registry key, lower case (``"gfm-r34-tt"``).
        backbone: one of :data:`BACKBONES`.
        rosta: one of :data:`ROSTAS`.
        normalization: the input the weights expect (:data:`RAW_255` for every
            released checkpoint).
        licence: SPDX-style licence of the weights (``"MIT"``).
        source: where the weights come from (paper and repository).
        urls: download URLs, tried in order (http or https).
        file_name: the model file's name in the cache (no folders). When a URL
            serves a zip archive, this is the member extracted from it.
        size_bytes: size of the model file, or None when not published.
        sha256: lower-case hex SHA-256 of the model file, or None when not
            published (then the hash seen at first download is recorded and
            enforced afterwards).
        training_set: the data the weights were trained on.
        notes: anything else a user should know.
        paper_metrics: ``(metric, value)`` pairs the paper reports for this
            variant (not measured on the released file by us).
        package_file: for weights shipped inside the package: the file's name
            under ``gfm/weights/`` (then ``urls`` may be empty and ``sha256`` is
            required: the file is checked at every load).
        strategy: the test-time strategy ``gfm matte`` uses with these weights when
            none is given: the one measured best for them (``"hybrid"``, the paper's
            best, unless measured otherwise).
        auto_bf16: ``--precision auto`` may run these weights in bf16 on CPUs with
            native bf16: their bf16 change was measured on held-out photos and stayed
            under :data:`gfm.inference.precision.VISIBLE_CHANGE`. False where unmeasured.
        guided_strategy: the strategy used with a guide when none is given (None:
            ``strategy``), measured like it.
        kind: ``"gfm"`` (GFM weights, the default) or ``"guide"``: an ONNX
            segmentation model whose mask steers GFM's glance (``gfm matte
            --guide``); a guide's ``backbone`` names its architecture (free text),
            its ``rosta`` is empty and ``segmenter`` says how to run it.
        segmenter: a guide's input size, normalisation and output scaling.
        md5: the MD5 its publisher gives (rembg publishes MD5s only); a downloaded
            or imported file must match it or one of ``accepted_sha256``.
        accepted_sha256: SHA-256 of other files accepted as these weights (the
            same network in another packaging, e.g. fp16): recognised by their hash.
    """

    name: str
    backbone: str
    rosta: str
    normalization: Normalization
    licence: str
    source: str
    urls: tuple[str, ...]
    file_name: str
    size_bytes: int | None
    sha256: str | None
    training_set: str
    notes: str = ""
    paper_metrics: tuple[tuple[str, float], ...] = ()
    package_file: str | None = None
    strategy: str = "hybrid"
    auto_bf16: bool = False
    guided_strategy: str | None = None
    kind: str = "gfm"
    segmenter: SegmenterSpec | None = None
    md5: str | None = None
    accepted_sha256: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"weights entry {self.name!r}"
        if not _NAME_RE.match(self.name):
            raise ConfigError(f"{where}: the name must be lower-case letters, digits, '-', '_' or '.'")
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "guide":
            if self.segmenter is None or self.rosta or not self.backbone:
                raise ConfigError(f"{where}: a guide needs a segmenter spec, its architecture as backbone, and no RoSTa")
        elif self.backbone not in BACKBONES:
            raise ConfigError(f"{where}: unknown backbone {self.backbone!r}; expected one of {', '.join(BACKBONES)}")
        elif self.rosta not in ROSTAS:
            raise ConfigError(f"{where}: unknown RoSTa {self.rosta!r}; expected one of {', '.join(ROSTAS)}")
        if self.md5 is not None and not _MD5_RE.match(self.md5):
            raise ConfigError(f"{where}: md5 must be 32 lower-case hex digits, got {self.md5!r}")
        if isinstance(self.accepted_sha256, str) or not all(_SHA256_RE.match(h) for h in self.accepted_sha256):
            raise ConfigError(f"{where}: accepted_sha256 must be a tuple of 64-digit lower-case hex SHA-256s")
        for strategy in (self.strategy, self.guided_strategy or self.strategy):
            if strategy not in ("hybrid", "single", "resize", "guided"):  # gfm.inference.strategies.STRATEGIES
                raise ConfigError(f"{where}: unknown strategy {strategy!r}; expected hybrid, single, resize or guided")
        if isinstance(self.urls, str) or not (self.urls or self.package_file):
            raise ConfigError(f"{where}: urls must be a non-empty tuple of URLs (or package_file set)")
        if self.package_file is not None and (self.sha256 is None or not _FILE_RE.match(self.package_file)):
            raise ConfigError(f"{where}: bundled weights need a plain package_file name and their sha256")
        for url in self.urls:
            if not url.startswith(("https://", "http://")):
                raise ConfigError(f"{where}: only http(s) URLs are allowed, got {url!r}")
        # The file name becomes a path in the cache: no folders, no '..'.
        if not _FILE_RE.match(self.file_name) or ".." in self.file_name:
            raise ConfigError(f"{where}: file_name must be a plain file name, got {self.file_name!r}")
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ConfigError(f"{where}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if self.size_bytes is not None and self.size_bytes <= 0:
            raise ConfigError(f"{where}: size_bytes must be positive or None, got {self.size_bytes}")

    @property
    def variant(self) -> str:
        """``"backbone-RoSTa"``, e.g. ``"r34-TT"``; for a guide ``"ISNet guide"``."""
        return f"{self.backbone} guide" if self.is_guide else f"{self.backbone}-{self.rosta}"

    @property
    def is_guide(self) -> bool:
        """A segmentation model for ``--guide``, not GFM weights."""
        return self.kind == "guide"

    @property
    def published_digests(self) -> bool:
        """Whether files are checked against an MD5 or a list of accepted SHA-256s
        (besides or instead of one declared SHA-256)."""
        return self.md5 is not None or bool(self.accepted_sha256)

    @property
    def url(self) -> str:
        """The first (preferred) download URL (empty for weights shipped in the package)."""
        return self.urls[0] if self.urls else ""

    @property
    def bundled(self) -> bool:
        """Shipped inside the package (no download, no cache)."""
        return self.package_file is not None


_REGISTRY: dict[str, WeightsEntry] = {}


def register_weights(entry: WeightsEntry) -> WeightsEntry:
    """Add ``entry`` to the registry.

    Raises:
        ConfigError: an entry of the same name, or one that uses the same
            cache file name, is already registered.
    """
    if entry.name in _REGISTRY:
        raise ConfigError(f"weights {entry.name!r} are already registered; pick another name")
    for other in _REGISTRY.values():
        if other.file_name == entry.file_name:
            raise ConfigError(
                f"weights {entry.name!r}: file name {entry.file_name!r} is already used by {other.name!r}"
            )
    _REGISTRY[entry.name] = entry
    return entry


def unregister_weights(name: str) -> None:
    """Remove an entry (for tests and plug-ins that register temporary weights)."""
    _REGISTRY.pop(name, None)


def list_weights(kind: str | None = None) -> list[WeightsEntry]:
    """Every registered entry (of ``kind``, ``"gfm"`` or ``"guide"``, when given), in registration order."""
    return [entry for entry in _REGISTRY.values() if kind is None or entry.kind == kind]


def get_weights(name: str) -> WeightsEntry:
    """The entry called ``name``.

    Raises:
        ConfigError: unknown name; the message lists close matches and every
            known name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
        f"unknown weights {name!r}.{hint} Known: {', '.join(_REGISTRY)} (see `gfm weights list`)"
    )


# --------------------------------------------------------------- the releases

DEFAULT_WEIGHTS = "gfm-lite"
"""The weights used when none are named: GFM-Lite, shipped in the package
(works offline, about 7 M parameters). The paper's checkpoints are one
``--model`` away: ``gfm-r34-tt`` (the paper's main configuration) and
``gfm-r34_2b-tt`` (more accurate, about 2.3x the parameters and far slower)."""

_PAPER = (
    "Li, Zhang, Maybank, Tao, 'Bridging Composite and Real: Towards End-to-end Deep "
    "Image Matting', IJCV 2022; released by the authors at github.com/JizhiziLi/GFM"
)
_AM2K_ORI = "AM-2k ORI-Track (1,800 real animal photos with alpha mattes, AM-2k train split)"
_DRIVE_NOTE = (
    "Google Drive serves it (large-file confirmation page; the README says to unzip the "
    "download: a zip holding the .pth is unpacked automatically). Also on Baidu Wangpan ({baidu})."
)


def _drive(file_id: str) -> tuple[str, ...]:
    return (f"https://drive.google.com/uc?export=download&id={file_id}",)


def _release(
    backbone: str,
    rosta: str,
    drive_id: str,
    baidu: str,
    notes: str = "",
    paper_metrics: tuple[tuple[str, float], ...] = (),
) -> WeightsEntry:
    return WeightsEntry(
        name=f"gfm-{backbone}-{rosta.lower()}",
        backbone=backbone,
        rosta=rosta,
        normalization=RAW_255,
        licence="MIT",
        source=_PAPER,
        urls=_drive(drive_id),
        file_name=f"gfm_{backbone}_{rosta.lower()}.pth",
        size_bytes=None,
        sha256=None,
        training_set=_AM2K_ORI,
        notes=" ".join(part for part in (notes, _DRIVE_NOTE.format(baidu=baidu)) if part),
        paper_metrics=paper_metrics,
    )


_RELEASES = (
    _release(
        "r34", "TT", "1AdtoIdYTLsjXfVe_a50tin0cFwZMSz93", "https://pan.baidu.com/s/14TfNWeDGzXm4w91eHWu28w pw svcv",
        notes="GFM(r)-TT: ResNet-34 encoder, glance trimap + focus alpha. The paper's main ResNet-34 model.",
        paper_metrics=(("AM-2k ORI SAD", 10.89),),
    ),
    _release(
        "r34", "FT", "1heWT3fodV5so--tG6hoytB11OHBfhd1_", "https://pan.baidu.com/s/1GmaXfiWbK09X4zhsRgooBg pw jfli",
        notes="GFM(r)-FT: glance foreground mask + focus residual, fused as clamp(glance + focus, max 1).",
    ),
    _release(
        "r34", "BT", "1vRWJtD8liZjb7GbNnmJCuO_xN4-bj-2l", "https://pan.baidu.com/s/1oaT5R8GnMW-zbbCwie1SlA pw 80k8",
        notes="GFM(r)-BT: glance background mask + focus residual, fused as clamp(glance - focus, min 0).",
    ),
    _release(
        "r34_2b", "TT", "1Y8dgOprcPWdUgHUPSdue0lkFAUVvW10Q", "https://pan.baidu.com/s/1yfRGgI9QFUW9jb878AXHTg pw 34hf",
        notes=(
            "GFM(r2b)-TT: ResNet-34 with a stride-1 3x3 first stage and two extra 512-channel "
            "stages (the paper's 'r2b' ablation, better on every metric than r34 but about "
            "125M parameters). The authors' README sample cut-outs use it with the hybrid test."
        ),
    ),
    _release(
        "d121", "TT", "1knbK5uU8AitE5OFpul9FXaQm47pZO0N8", "https://pan.baidu.com/s/1AzuMphkNtt5-fJh-VqPnCA pw l6bd",
        notes="GFM(d)-TT: DenseNet-121 encoder.",
        paper_metrics=(("AM-2k ORI SAD", 10.26),),
    ),
    _release(
        "r101", "TT", "1oQMOfVkuxLujgFEQReWJM95chPlQBTiM", "https://pan.baidu.com/s/1aKUEB1MYIDbt-8iOHq67zQ pw 7p8j",
        notes="GFM(r')-TT in the README, GFM(r-dagger) in the paper: ResNet-101 encoder (about 495M parameters).",
    ),
    _release(
        "d121", "RIM", "1aMY5tJQ79IB-0NJ9WzcTu6ZOQTowiFWv", "https://pan.baidu.com/s/1V-YjxUsyzUsTRO8m6JoR_Q pw mrf7",
        notes=(
            "GFM(d)-RIM: DenseNet-121 with TT, FT and BT heads merged by the RoSTa Integration "
            "Module (paper Sect. 5.5.3). Listed in the README's pretrained-model table after the "
            "AM-2k ORI-Track models; its training track is not stated separately."
        ),
    ),
)

for _entry in _RELEASES:
    register_weights(_entry)
del _entry


# ------------------------------------------------------------ shipped weights

_LITE_SHA256 = "2d0f347b03abc1387a5eb96c002772a0a050f9adf154faa22849dde515641c9e"
_LITE_SIZE = 13_836_495

register_weights(
    WeightsEntry(
        name="gfm-lite",
        backbone="effl0",
        rosta="TT",
        normalization=IMAGENET,
        licence="MIT (weights); trained from Apache-2.0 EfficientNet-Lite0 ImageNet weights",
        source="trained by the gfm project (recipes/default-model); model card: gfm/weights/gfm-lite.md",
        urls=(),
        file_name="gfm_lite_effl0_tt.pth",
        size_bytes=_LITE_SIZE,
        sha256=_LITE_SHA256,
        training_set=(
            "RSSN composites of photographic cutouts (Tux Paint stamps, GCompris) and matted photos on "
            "wallpapers, matted photos, and real animal photos labelled by an ISNet teacher"
        ),
        notes=(
            "GFM-Lite: EfficientNet-Lite0 encoder with compact glance and focus decoders (GFM-TT). "
            "Shipped inside the package: works offline. The paper's checkpoints are more accurate on "
            "AM-2k-like photos: --model gfm-r34-tt."
        ),
        package_file="gfm-lite-effl0-tt.pth",
        # Measured on the recipe's 12 held-out photos (model card): single SAD 111.3 against
        # hybrid 133.5, and faster; bf16 on CPU SAD 111.4 -> 111.9 (benchmarks/precision.py).
        strategy="single",
        auto_bf16=True,
        # With the ISNet guide (model card): SAD 60.2 / SAD-TRAN 18.9 against 60.8 / 19.7 with
        # single and 60.2 / 19.8 with hybrid; the guide makes the glance's scale matter less.
        guided_strategy="guided",
    )
)


# ------------------------------------------------------------------- guides

DEFAULT_GUIDE = "isnet-general-use"
"""The guide ``gfm matte`` uses when its file is in the cache (``--guide auto``):
ISNet (DIS), the model rembg serves as ``isnet-general-use``."""

#: SHA-256 of the fp16 ISNet inside npm ``@imgly/background-removal-data`` 1.4.5
#: (``/models/medium``, 88,188,479 bytes once its chunks are joined; the default
#: model's recipe assembles it): the same network as rembg's fp32 file.
IMGLY_ISNET_FP16_SHA256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"

register_weights(
    WeightsEntry(
        name=DEFAULT_GUIDE,
        backbone="ISNet",
        rosta="",
        normalization=RAW_255,  # unused for guides: the segmenter spec says how to feed it
        licence="MIT (xuebinqin/DIS)",
        source="ISNet from 'Highly Accurate Dichotomous Image Segmentation' (Qin et al., ECCV 2022), "
        "github.com/xuebinqin/DIS; the ONNX file rembg serves as isnet-general-use",
        urls=("https://github.com/danielgatis/rembg/releases/download/v0.0.0/isnet-general-use.onnx",),
        file_name="isnet-general-use.onnx",
        size_bytes=None,
        sha256=None,
        training_set="DIS5K (5,470 images with highly accurate masks)",
        notes=(
            "A salient-object segmentation model (about 44 M parameters, 1024x1024 input) used as a guide: "
            "its mask says what is subject, GFM's focus decoder draws the edge. fp32 as rembg serves it "
            "(checked by its MD5); the fp16 copy in npm @imgly/background-removal-data 1.4.5 is "
            "recognised by its SHA-256 and works the same."
        ),
        kind="guide",
        segmenter=SegmenterSpec(size=1024, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0), output="clip"),
        md5="fc16ebd8b0c10d971d3513d564d01e29",
        accepted_sha256=(IMGLY_ISNET_FP16_SHA256,),
    )
)
