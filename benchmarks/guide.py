"""Guided matting against its guide and against rembg, on held-out real photos.

    python benchmarks/guide.py --guide isnet.onnx                       # the default model card's 12 held-out photos
    python benchmarks/guide.py --guide isnet.onnx --rembg-site /tmp/rembg-site --cache /tmp/guide-cache
    python benchmarks/guide.py --guide isnet.onnx --images HELD/original --alphas HELD/mask --model gfm-r34-tt

Methods, each on every photo (alpha against the reference matte; SAD and SAD-TRAN
in thousands as the paper's tables, MSE per pixel; SAD-TRAN on the 25 px trimap
``gfm evaluate`` makes from the reference):

* ``gfm-lite``: the default model alone, as ``gfm matte --guide none`` runs it;
* ``ISNet``: the guide's own mask as the alpha (rembg's ``isnet-general-use`` network);
* ``rembg`` and ``rembg -a`` (when rembg is importable, see ``rembg_baseline.py``):
  rembg's own pipeline on the same ISNet file, without and with its alpha matting;
* ``gfm-lite + guide``: ``gfm matte --guide FILE`` (its default strategy, ``guided``),
  and with each of ``--strategies`` for comparison;
* ``MODEL + guide`` for each ``--model`` (weights that are at hand).

Photos whose names match ``--portraits`` (P3M's ``p_*``) are averaged apart from
the others (animals); the last column is all photos. ``--cache DIR`` keeps each
method's alphas, so a rerun (or another ``--strategies``) reuses them.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gfm.inference import Predictor  # noqa: E402
from gfm.inference.guide import load_guide  # noqa: E402
from gfm.io import read_alpha, read_image, write_alpha  # noqa: E402
from gfm.metrics import mse, sad, sad_tran, trimap_from_alpha  # noqa: E402
from rembg_baseline import load_rembg  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def held_out_photos(shared: Path) -> list[tuple[Path, Path]]:
    """The default model's 12 held-out photos (its recipe's ``HELD_OUT``) from the shared data."""
    spec = importlib.util.spec_from_file_location("recipe", ROOT / "recipes" / "default-model" / "recipe.py")
    assert spec is not None and spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return [(shared / folder / f"{stem}.jpg", shared / folder / f"{stem}.png")
            for folder, stems in recipe.HELD_OUT.items() for stem in stems]


def folder_photos(images: Path, alphas: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for image in sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        alpha = alphas / f"{image.stem}.png"
        if alpha.is_file():
            pairs.append((image, alpha))
    return pairs


def scores(alpha: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    trimap = trimap_from_alpha(reference)
    return sad(alpha, reference), mse(alpha, reference), sad_tran(alpha, reference, trimap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guide", type=Path, required=True, help="the ISNet .onnx file (rembg's isnet-general-use, or the npm fp16 copy)")
    parser.add_argument("--images", type=Path, help="photos (with --alphas); default: the default model's 12 held-out photos")
    parser.add_argument("--alphas", type=Path, help="reference mattes NAME.png")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data", help="the shared photos (default ../shared/data)")
    parser.add_argument("--portraits", default="p_*", help="names averaged as portraits (default p_*, P3M's)")
    parser.add_argument("--strategies", default="single,hybrid", help="other strategies of gfm-lite + guide to compare")
    parser.add_argument("--model", action="append", default=[], help="other GFM weights to run with the guide")
    parser.add_argument("--rembg-site", type=Path, help="a folder rembg was pip-installed into (--target)")
    parser.add_argument("--cache", type=Path, help="keep each method's alphas here and reuse them")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-photo", action="store_true", help="also print every photo's SAD")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = folder_photos(args.images, args.alphas) if args.images else held_out_photos(args.shared)
    guide = load_guide(args.guide, threads=args.threads)
    assert guide is not None

    methods: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    lite = Predictor.from_name("gfm-lite", device="cpu")
    methods["gfm-lite"] = lambda image: lite.predict(image).alpha
    methods["ISNet (the guide's mask)"] = guide.mask
    with tempfile.TemporaryDirectory() as home:
        rembg = load_rembg(args.rembg_site, args.guide, Path(home))
        if rembg is not None:
            methods["rembg (ISNet, naive cutout)"] = lambda image: rembg(image, False)
            methods["rembg -a (ISNet + closed-form alpha matting)"] = lambda image: rembg(image, True)
        guided = Predictor.from_name("gfm-lite", device="cpu", guide=guide)
        methods[f"**gfm-lite + guide** ({guided.strategy.name}, the default)"] = lambda image: guided.predict(image).alpha
        for name in filter(None, args.strategies.split(",")):
            other = Predictor.from_name("gfm-lite", name, device="cpu", guide=guide)
            methods[f"gfm-lite + guide, {name}"] = lambda image, p=other: p.predict(image).alpha
        for model in args.model:
            predictor = Predictor.from_name(model, device="cpu", guide=guide)
            methods[f"{model} + guide ({predictor.strategy.name})"] = lambda image, p=predictor: p.predict(image).alpha

        results: dict[str, dict[str, tuple[float, float, float]]] = {name: {} for name in methods}
        for image_path, alpha_path in pairs:
            image, reference = read_image(image_path), read_alpha(alpha_path)
            for name, predict in methods.items():
                cached = args.cache / "".join(c if c.isalnum() else "_" for c in name) / f"{image_path.stem}.png" if args.cache else None
                if cached is not None and cached.is_file():
                    alpha = read_alpha(cached)
                else:
                    alpha = np.clip(predict(image), 0, 1).astype(np.float32)
                    if cached is not None:
                        cached.parent.mkdir(parents=True, exist_ok=True)
                        write_alpha(cached, alpha, bits=16)
                results[name][image_path.stem] = scores(alpha, reference)
            print(f"{image_path.stem}: done", file=sys.stderr, flush=True)

    stems = [p.stem for p, _ in pairs]
    portraits = [s for s in stems if fnmatch.fnmatch(s, args.portraits)]
    others = [s for s in stems if s not in portraits]
    groups = [(f"animals and others ({len(others)})", others), (f"portraits ({len(portraits)})", portraits), (f"all {len(stems)}", stems)]
    print(f"\n{len(stems)} held-out photos; SAD / MSE / SAD-TRAN (SAD in thousands; lower is better)\n")
    print("| method | " + " | ".join(title for title, members in groups if members) + " |")
    print("|---|" + "---|" * sum(1 for _, members in groups if members))
    for name, rows in results.items():
        cells = []
        for _, members in groups:
            if members:
                mean = np.mean([rows[s] for s in members], axis=0)
                cells.append(f"{mean[0]:.1f} / {mean[1]:.4f} / {mean[2]:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.per_photo:
        print("\n| photo | " + " | ".join(results) + " |")
        print("|---|" + "---:|" * len(results))
        for stem in stems:
            print(f"| {stem} | " + " | ".join(f"{results[name][stem][0]:.1f}" for name in results) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
