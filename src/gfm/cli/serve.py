"""``gfm serve``: the matting web page and HTTP API on this machine."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import TYPE_CHECKING, Any

from gfm.cli._arguments import positive_int
from gfm.cli._model_options import add_model_options, build_predictor, load_guide_option, load_models, model_specs

if TYPE_CHECKING:
    from gfm.inference import Predictor
    from gfm.models import GFM


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="a web page and an HTTP API for matting, with guided corrections",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Serve the matting web page at http://HOST:PORT/ and the HTTP API under /api (OpenAPI\n"
            "description at /openapi.json). The model is loaded once; requests beyond --concurrency\n"
            "wait in a queue of --queue places, and beyond that get 503 with Retry-After.\n"
            "Binds to 127.0.0.1 (this machine only) unless --host says otherwise. Needs the `serve`\n"
            "extra: pip install 'gfm-matting[serve]'."
        ),
        epilog=(
            "examples:\n"
            "  gfm serve                                  # http://127.0.0.1:8000/\n"
            "  gfm serve --port 9000 --model runs/mine    # your own run's weights\n"
            "  curl -F image=@cat.jpg 'http://127.0.0.1:8000/api/matte?output=cutout' -o cat_cutout.png\n"
            "exposing it: --host 0.0.0.0 lets anyone who can reach this machine upload images and use its\n"
            "CPU/GPU; there is no authentication or TLS. Put it behind a reverse proxy that adds them."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    add_model_options(parser)
    parser.add_argument("--concurrency", type=positive_int, default=1, help="requests computed at once (default 1: the network already uses every core)")
    parser.add_argument("--queue", type=int, default=8, help="requests that may wait for a free slot before 503s (default 8)")
    parser.add_argument("--max-upload-mb", type=_positive_float, help="largest request body in MB (default 25)")
    parser.add_argument("--max-image-mp", type=_positive_float, help="largest image in megapixels, checked from its header before decoding (default 16.8: 4096x4096)")
    parser.add_argument("--sessions", type=positive_int, default=16, help="images kept for corrections (default 16)")
    parser.add_argument("--session-memory-mb", type=positive_int, default=1024, help="memory those images may hold together (default 1024)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no access log")
    parser.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    from gfm.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(f"--host {host}: cannot resolve it ({error.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        hint = "pick another with --port (0 picks a free one)" if error.errno in (98, 48, 10048) else "check --host"
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror}); {hint}") from None
    sock.listen(128)
    return sock


def _describe(specs: list[str], models: list[GFM], predictor: Predictor) -> dict[str, Any]:
    """What ``GET /api/model`` reports."""
    from gfm import __version__

    entries = [{"spec": spec, "variant": model.config.name, "parameters": sum(p.numel() for p in model.parameters())} for spec, model in zip(specs, models)]
    summary = " + ".join(f"{e['variant']} ({e['spec']})" for e in entries)
    guide = predictor.guide
    if guide is not None:
        summary += f", guided by {guide.name}"
    return {
        "summary": summary,
        "models": entries,
        "guide": None if guide is None else {"name": guide.name, "file": str(guide.path)},
        "strategy": predictor.strategy.name if len(models) == 1 else f"ensemble of {len(models)} ({predictor.strategy.name} each)",
        "device": str(predictor.device),
        "precision": predictor.precision,
        "gfm_version": __version__,
    }


def run(args: argparse.Namespace) -> int:
    from gfm.errors import ConfigError

    try:
        import uvicorn

        from gfm.serve.app import create_app
    except ImportError as error:
        raise ConfigError(f"gfm serve needs FastAPI and uvicorn ({error.name} is missing): pip install 'gfm-matting[serve]'") from None
    from gfm.data.foreground import load_pymatting
    from gfm.inference.band_solver import prepare as prepare_fast
    from gfm.inference.guided import GuidedPredictor
    from gfm.serve.service import MattingService
    from gfm.serve.settings import LOOPBACK_HOSTS, ServeSettings

    if args.queue < 0:
        raise ConfigError(f"--queue must be 0 or more, got {args.queue}")
    limits = {}
    if args.max_upload_mb is not None:
        limits["max_upload_bytes"] = int(args.max_upload_mb * 1e6)
    if args.max_image_mp is not None:
        limits["max_image_pixels"] = int(args.max_image_mp * 1e6)
    settings = ServeSettings(
        **limits,
        concurrency=args.concurrency,
        queue=args.queue,
        sessions=args.sessions,
        session_bytes=args.session_memory_mb * 1024 * 1024,
    )
    model_specs(args)  # refuse a bad --strategy ensemble before loading anything
    sock = _bind(args.host, args.port)  # fail fast on a taken port, before the model loads
    try:
        specs, models = load_models(args)
        predictor = build_predictor(args, models, guide=load_guide_option(args, quiet=args.quiet))
        describe = _describe(specs, models, predictor)
        del models  # the predictor holds its own (optimised) copies
        print("gfm serve: preparing the foreground estimation (compiled once after installation)...", file=sys.stderr, flush=True)
        prepare_fast()
        load_pymatting()  # --foreground ml is offered too
        app = create_app(MattingService(GuidedPredictor(predictor), settings, describe))
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"gfm serve: {describe['summary']} on {describe['device']}; open http://{shown}:{port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
        if args.host not in LOOPBACK_HOSTS:
            print(f"gfm serve: warning: listening on {args.host}: anyone who can reach this machine can use it (no authentication, no TLS)", file=sys.stderr, flush=True)
        config = uvicorn.Config(
            app,
            log_level="warning" if args.quiet else "info",
            access_log=not args.quiet,
            limit_concurrency=max(64, 4 * settings.capacity),  # connections beyond: a plain 503
            timeout_keep_alive=5,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0
