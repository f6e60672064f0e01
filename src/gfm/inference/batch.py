"""Batch matting of files: input discovery, output naming, the checks before any work.

The command line (``gfm matte``) is a thin layer over these functions and
:mod:`gfm.inference.batch_writer` (writing the outputs).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gfm.data.layouts import is_image_file
from gfm.errors import GFMError, InputError, OutputError
from gfm.io.atomic import FileStamp
from gfm.io.images import broken_link_message, special_file_message

OUTPUT_KINDS = ("alpha", "cutout", "foreground", "composite", "trimap", "preview")
FOREGROUND_KINDS = ("cutout", "foreground", "composite", "preview")  # outputs that need foreground colours
OUTPUT_SUFFIX = {"alpha": ".png", "cutout": ".png", "foreground": ".png", "composite": ".png", "trimap": ".png", "preview": ".jpg"}


#: The input and output name meaning standard input / standard output.
STDIO = "-"
#: Suffixes that make ``--out`` a single output file rather than a folder.
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
_ALPHA_KINDS = ("alpha", "trimap")  # written as grayscale PNG whatever the suffix


#: Outputs whose file format ``--format`` chooses.
COLOUR_KINDS = ("cutout", "foreground", "composite")
#: ``--format`` values: the suffix of the colour outputs in a folder run.
IMAGE_FORMATS = {"png": ".png", "webp": ".webp"}


@dataclass(frozen=True)
class ImageFormat:
    """The file format of the colour outputs.

    Attributes:
        suffix: ``".png"`` or ``".webp"`` (``-o FILE``: the file's suffix).
        quality: WebP (and JPEG) quality 1..100; ``None``: lossless WebP. PNG is always lossless.
    """

    suffix: str = ".png"
    quality: int | None = None


@dataclass(frozen=True)
class MatteJob:
    """One input image and where its outputs go (``out_dir / relative_stem + _KIND.png``,
    or the one file ``target`` for ``gfm matte photo.jpg -o cutout.png``).

    ``source`` is ``Path("-")`` for an image read from standard input."""

    source: Path
    relative_stem: Path
    target: Path | None = None
    #: How the colour outputs (cutout, foreground, composite) are written; alphas and
    #: trimaps are always grayscale PNG, the preview JPEG.
    image_format: ImageFormat = ImageFormat()

    def output(self, out_dir: Path, kind: str) -> Path:
        if self.target is not None:
            return self.target
        suffix = self.image_format.suffix if kind in COLOUR_KINDS else OUTPUT_SUFFIX[kind]
        return out_dir / self.relative_stem.parent / f"{self.relative_stem.name}_{kind}{suffix}"

    @property
    def from_stdin(self) -> bool:
        return str(self.source) == STDIO

    @property
    def to_stdout(self) -> bool:
        """Its one output goes to standard output (``-o -``)."""
        return self.target is not None and str(self.target) == STDIO


def is_single_file_output(out: Path) -> bool:
    """``--out`` names one file (``-`` for standard output, or an image suffix
    such as ``cutout.png`` that is not an existing folder), not an output folder."""
    return str(out) == STDIO or (out.suffix.lower() in FILE_SUFFIXES and not out.is_dir())


def check_single_file_output(out: Path, kind: str) -> None:
    """Refuse, before any work, a single output file that cannot hold ``kind``.

    Raises:
        InputError: the suffix cannot store it (an alpha as JPEG, a cutout without
            transparency), naming a suffix that can.
    """
    if str(out) == STDIO:
        return
    suffix = out.suffix.lower()
    if kind in _ALPHA_KINDS and suffix != ".png":
        raise InputError(f"{out}: the {kind} is written as a grayscale PNG; name the file {out.with_suffix('.png').name}")
    if kind == "cutout" and suffix in (".jpg", ".jpeg", ".bmp"):
        raise InputError(f"{out}: {suffix} cannot store the cutout's transparency; use .png (or --outputs composite for a flat image)")


def stdout_suffix(kind: str) -> str:
    """The format written to standard output for ``kind`` (PNG; JPEG for the preview)."""
    return OUTPUT_SUFFIX[kind]


# Every output of gfm matte carries this mark (PNG "Software" text, JPEG comment):
# a rerun replaces such files by default and never takes them as inputs.
OUTPUT_MARK = "gfm matte"
_OUTPUT_NAME = re.compile(rf".+_({'|'.join(OUTPUT_KINDS)})\.(png|jpg|webp)")


def is_matte_output(path: Path) -> bool:
    """Whether ``path`` is a file gfm matte wrote (named ``*_KIND.png|jpg|webp`` and marked)."""
    from gfm.io.writers import read_mark

    return bool(_OUTPUT_NAME.fullmatch(path.name)) and read_mark(path) == OUTPUT_MARK


@dataclass
class CollectedInputs:
    """What :func:`collect_jobs` found.

    ``jobs`` are matted; ``problems`` are inputs that fail (matched nothing,
    broken links); ``skipped`` are inputs not matted, each with the reason
    (a second link to a file already listed); ``earlier_outputs`` counts the
    files of folder or glob inputs that are outputs of an earlier gfm matte
    run, which are never matted again.
    """

    jobs: list[MatteJob] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    earlier_outputs: int = 0


def collect_jobs(inputs: Sequence[str], recursive: bool = False) -> CollectedInputs:
    """Expand files, folders and globs into jobs.

    Every input ends up in exactly one of the result's lists: a job, a
    problem, or skipped with a reason, except the outputs of an earlier run
    found in folders or globs, which are counted apart (outputs are never
    inputs). Folder contents keep their sub-folders in the output names.
    ``"-"`` is an image read from standard input (outputs named ``stdin_KIND``).

    Raises:
        InputError: two inputs would write the same output files.
    """
    found = CollectedInputs()
    seen: dict[Path, Path] = {}

    def add(path: Path, relative: Path, explicit: bool = False) -> None:
        broken = broken_link_message(path)
        if broken:
            found.problems.append(broken)
            return
        if not explicit and is_matte_output(path):
            found.earlier_outputs += 1
            return
        resolved = path.resolve()
        if resolved in seen:
            found.skipped.append(f"{path}: the same file as {seen[resolved]} (a link to it); matted once")
            return
        seen[resolved] = path
        found.jobs.append(MatteJob(path, relative.with_suffix("")))

    for text in inputs:
        path = Path(text)
        if text == STDIO:
            found.jobs.append(MatteJob(path, Path("stdin")))
        elif path.is_dir():
            # links too: a broken one is reported, a second name of a listed file skipped with the reason
            candidates = sorted(
                p for p in path.glob("**/*" if recursive else "*") if is_image_file(p) and (p.is_file() or p.is_symlink())
            )
            for image in candidates:
                add(image, image.relative_to(path))
            if not candidates:
                found.problems.append(f"{path}: no images in this folder{'' if recursive else ' (use -r for sub-folders)'}")
        elif path.is_file() or broken_link_message(path):
            add(path, Path(path.name), explicit=True)
        elif special_file_message(path):
            found.problems.append(f"{special_file_message(path)} (or pipe a stream to standard input: gfm matte -)")
        else:
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file() or broken_link_message(Path(m)))
            if not matches:
                found.problems.append(f"{text}: no such file, folder or matching pattern")
            for match in matches:
                add(match, Path(match.name))
    stems: dict[Path, Path] = {}
    for job in found.jobs:
        other = stems.setdefault(job.relative_stem, job.source)
        if other != job.source:
            raise InputError(f"{other} and {job.source} would write the same outputs ({job.relative_stem}_*); rename one or run them separately")
    return found


@dataclass(frozen=True)
class OutputPlan:
    """What to do with one job, decided before any work starts (see :func:`plan_outputs`).

    ``action`` is ``"write"``, ``"skip"`` or ``"refuse"`` (with ``reason``);
    ``replace`` maps each output kind to what its final rename may replace:
    ``False`` (nothing: the file did not exist) or the :class:`FileStamp` of
    the file found at planning time.
    """

    action: str
    replace: dict[str, bool | FileStamp] = field(default_factory=dict)
    reason: str = ""


def plan_outputs(
    job: MatteJob, out_dir: Path, kinds: Sequence[str], *, overwrite: bool, skip_existing: bool, inputs: frozenset[Path]
) -> OutputPlan:
    """Decide whether a job may write its outputs, and what each may replace.

    The policy: an output path that holds an input file is refused always;
    a free path is created (and a file that appears there later is never
    replaced); an existing file is replaced only if it is an output of gfm
    matte (:func:`is_matte_output`; for ``-o FILE``, its mark) or ``overwrite`` is set, and then only
    that very file; with ``skip_existing`` a job whose outputs all exist is
    skipped.

    Args:
        inputs: the resolved paths of every input of the run.
    """
    if job.to_stdout:
        return OutputPlan("write", {kind: True for kind in kinds})
    targets = {kind: job.output(out_dir, kind) for kind in kinds}
    for target in targets.values():
        if target.resolve() in inputs:
            return OutputPlan("refuse", reason=f"{target} is an input of this run and would be overwritten; choose another --out folder")
    stamps = {kind: FileStamp.of(target) for kind, target in targets.items()}
    existing = [kind for kind, stamp in stamps.items() if stamp is not None]
    if skip_existing and len(existing) == len(targets):
        return OutputPlan("skip")
    for kind in existing:
        if not overwrite and not _written_by_matte(job, targets[kind]):
            alternative = "" if skip_existing else " or --skip-existing"
            return OutputPlan(
                "refuse",
                reason=f"{targets[kind]} already exists and was not written by gfm matte; pass --overwrite to replace it{alternative}",
            )
    return OutputPlan("write", {kind: stamps[kind] or False for kind in kinds})


def _written_by_matte(job: MatteJob, path: Path) -> bool:
    """Whether ``path``, an output of ``job``, is a file gfm matte wrote: named and
    marked as its outputs are, or, for the one file of ``-o FILE``, marked."""
    if job.target is not None:
        from gfm.io.writers import read_mark

        return read_mark(path) == OUTPUT_MARK
    return is_matte_output(path)


# A suffix that names a file type (".txt", ".json"), not a folder name such as "run.2024".
_FILE_TYPE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")


def check_output_folder(out_dir: Path) -> None:
    """Refuse, before any work, an ``--out`` folder that is not one and cannot become one.

    Raises:
        OutputError: ``out_dir`` is a device or FIFO (``/dev/null``: use ``-o -``), an
            existing file, or a new name with a file suffix gfm does not write (``x.txt``,
            which used to become a folder of that name).
    """
    import stat

    try:
        mode = os.stat(out_dir).st_mode
    except FileNotFoundError:
        if _FILE_TYPE_SUFFIX.fullmatch(out_dir.suffix):
            raise OutputError(
                f"{out_dir}: {out_dir.suffix} is not an image format gfm matte writes; for one output file name it "
                f"{out_dir.with_suffix('.png').name} ({', '.join(FILE_SUFFIXES)}), and for an output folder of that "
                "name create it first") from None
        return
    except OSError:
        return  # check_writable says what is wrong with the path
    if stat.S_ISDIR(mode):
        return
    if stat.S_ISREG(mode):
        raise OutputError(f"{out_dir}: is a file, not a folder; give an output folder, or for one output a file named "
                          f"NAME.png ({', '.join(FILE_SUFFIXES)})")
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
    raise OutputError(f"{out_dir}: is {kind}, not a folder or an image file; gfm matte writes files atomically (a "
                      "temporary file renamed), so to send the output to a stream use -o - (e.g. -o - > /dev/null)")


def check_writable(out_dir: Path) -> None:
    """Create ``out_dir`` and make sure files can be written there (after :func:`check_output_folder`)."""
    check_output_folder(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".gfm-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise GFMError(f"{out_dir}: cannot write outputs there ({error.strerror or error}); choose another --out folder") from None
