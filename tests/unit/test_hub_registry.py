"""The weights registry, the cache layout and the Drive page parser (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from http.cookiejar import Cookie
from pathlib import Path

import pytest

from gfm.models.normalization import Normalization

from gfm.errors import CheckpointError, ConfigError, WeightsNotFoundError
from gfm.hub import (
    DEFAULT_WEIGHTS,
    IMAGENET,
    RAW_255,
    get_weights,
    gfm_home,
    list_weights,
    register_weights,
    weights_dir,
    weights_path,
)
from gfm.hub.gdrive import confirm_url, page_title

# The seven releases of github.com/JizhiziLi/GFM (README "GFM" table).
RELEASES = {
    "gfm-r34-tt": ("r34", "TT", "1AdtoIdYTLsjXfVe_a50tin0cFwZMSz93", "gfm_r34_tt.pth"),
    "gfm-r34-ft": ("r34", "FT", "1heWT3fodV5so--tG6hoytB11OHBfhd1_", "gfm_r34_ft.pth"),
    "gfm-r34-bt": ("r34", "BT", "1vRWJtD8liZjb7GbNnmJCuO_xN4-bj-2l", "gfm_r34_bt.pth"),
    "gfm-r34_2b-tt": ("r34_2b", "TT", "1Y8dgOprcPWdUgHUPSdue0lkFAUVvW10Q", "gfm_r34_2b_tt.pth"),
    "gfm-d121-tt": ("d121", "TT", "1knbK5uU8AitE5OFpul9FXaQm47pZO0N8", "gfm_d121_tt.pth"),
    "gfm-r101-tt": ("r101", "TT", "1oQMOfVkuxLujgFEQReWJM95chPlQBTiM", "gfm_r101_tt.pth"),
    "gfm-d121-rim": ("d121", "RIM", "1aMY5tJQ79IB-0NJ9WzcTu6ZOQTowiFWv", "gfm_d121_rim.pth"),
}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GFM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_seven_releases() -> None:
    entries = {entry.name: entry for entry in list_weights()}
    assert set(RELEASES) <= set(entries)
    for name, (backbone, rosta, drive_id, file_name) in RELEASES.items():
        entry = entries[name]
        assert (entry.backbone, entry.rosta, entry.file_name) == (backbone, rosta, file_name)
        assert entry.url == f"https://drive.google.com/uc?export=download&id={drive_id}"
        assert entry.normalization == RAW_255 and entry.normalization.name == "raw255"
        assert entry.licence == "MIT" and "AM-2k" in entry.training_set and "JizhiziLi/GFM" in entry.source
        assert entry.sha256 is None and entry.size_bytes is None  # not published: recorded at first download
    assert get_weights(DEFAULT_WEIGHTS).variant == "effl0-TT"  # the bundled GFM-Lite
    assert get_weights(DEFAULT_WEIGHTS).bundled and not any(get_weights(n).bundled for n in RELEASES)


def test_normalisations_are_explicit() -> None:
    assert (RAW_255.mean, RAW_255.std) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert IMAGENET.mean == (123.675, 116.28, 103.53)  # torchvision's statistics on 0..255 values
    with pytest.raises(ConfigError, match="3 RGB"):
        Normalization("odd", (0.5, 0.5), (1.0, 1.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="positive"):
        Normalization("odd", (0.5,) * 3, (0.0, 1.0, 1.0))


def test_entries_are_frozen_and_validated() -> None:
    entry = get_weights("gfm-r34-tt")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.sha256 = "0" * 64  # type: ignore[misc]
    for change, pattern in [
        ({"file_name": "../evil.pth"}, "plain file name"),
        ({"file_name": "sub/x.pth"}, "plain file name"),
        ({"sha256": "ABC"}, "64 lower-case hex"),
        ({"backbone": "r50"}, "unknown backbone"),
        ({"rosta": "XT"}, "unknown RoSTa"),
        ({"urls": ("ftp://x/y.pth",)}, "http"),
        ({"urls": ()}, "non-empty"),
        ({"name": "Bad Name"}, "lower-case"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            dataclasses.replace(entry, **change)


def test_registry_refuses_duplicates() -> None:
    entry = get_weights("gfm-r34-tt")
    with pytest.raises(ConfigError, match="already registered"):
        register_weights(entry)
    with pytest.raises(ConfigError, match="file name 'gfm_r34_tt.pth' is already used by 'gfm-r34-tt'"):
        register_weights(dataclasses.replace(entry, name="gfm-r34-tt-copy"))
    assert "gfm-r34-tt-copy" not in {e.name for e in list_weights()}


def test_unknown_name_suggests() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'gfm-r34-tt'") as caught:
        get_weights("gfm-r34-t")
    assert "gfm weights list" in str(caught.value)


def test_home_from_env_or_platform(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert gfm_home() == home and weights_dir() == home / "weights"
    monkeypatch.delenv("GFM_HOME")
    import platformdirs

    assert gfm_home() == Path(platformdirs.user_cache_dir("gfm"))


def test_missing_weights_message(home: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as caught:
        weights_path("gfm-d121-rim")
    message = str(caught.value)
    assert str(home / "weights" / "gfm_d121_rim.pth") in message
    assert "https://drive.google.com/uc?export=download&id=1aMY5tJQ79IB-0NJ9WzcTu6ZOQTowiFWv" in message
    assert "gfm weights import FILE --name gfm-d121-rim" in message
    assert "gfm weights download gfm-d121-rim" in message
    assert isinstance(caught.value, CheckpointError)


def test_file_found_in_cache_is_trusted_once_then_checked(home: Path) -> None:
    folder = home / "weights"
    folder.mkdir(parents=True)
    (folder / "gfm_r34_ft.pth").write_bytes(b"weights")
    assert weights_path("gfm-r34-ft") == folder / "gfm_r34_ft.pth"
    record = json.loads((folder / "known_hashes.json").read_text())["weights"]["gfm-r34-ft"]
    assert record["sha256"] == hashlib.sha256(b"weights").hexdigest() and record["source"] == "found in cache"
    (folder / "gfm_r34_ft.pth").write_bytes(b"WEIGHTS")
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        weights_path("gfm-r34-ft")
    assert weights_path("gfm-r34-ft", verify=False) == folder / "gfm_r34_ft.pth"


def test_corrupt_record_is_a_config_error(home: Path) -> None:
    folder = home / "weights"
    folder.mkdir(parents=True)
    (folder / "gfm_r34_ft.pth").write_bytes(b"weights")
    (folder / "known_hashes.json").write_text("{not json")
    with pytest.raises(ConfigError, match="known_hashes.json.*corrupt.*delete it"):
        weights_path("gfm-r34-ft")


# ------------------------------------------------------------ Drive pages


def test_confirm_url_from_the_download_form() -> None:
    page = b"""<html><head><title>Google Drive - Virus scan warning</title></head><body>
    <form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
    <input type="submit" id="uc-download-link" value="Download anyway"/>
    <input type="hidden" name="id" value="ID1"><input type="hidden" name="export" value="download">
    <input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1">
    </form></body></html>"""
    assert confirm_url(page, "https://drive.google.com/uc?export=download&id=ID1") == (
        "https://drive.usercontent.google.com/download?id=ID1&export=download&confirm=t&uuid=u-1"
    )
    assert page_title(page) == "Google Drive - Virus scan warning"


def test_confirm_url_from_a_link_or_a_cookie() -> None:
    page = b'<a href="/open?id=ID1">x</a><a id="uc-download-link" href="/uc?export=download&amp;confirm=Ab_1&amp;id=ID1">y</a>'
    assert confirm_url(page, "https://drive.google.com/uc?export=download&id=ID1") == (
        "https://drive.google.com/uc?export=download&confirm=Ab_1&id=ID1"
    )
    cookie = Cookie(0, "download_warning_1_ID1", "T0k", None, False, "drive.google.com", False, False, "/", True, False, None, False, None, None, {})
    assert confirm_url(b"<html></html>", "https://drive.google.com/uc?export=download&id=ID1", [cookie]) == (
        "https://drive.google.com/uc?export=download&id=ID1&confirm=T0k"
    )


def test_no_confirm_url_on_other_pages() -> None:
    page = b"<html><head><title>Google Drive - Quota exceeded</title></head><body><a href='/'>home</a></body></html>"
    assert confirm_url(page, "https://drive.google.com/uc?id=ID1") is None
    assert page_title(page) == "Google Drive - Quota exceeded"
    # A form posting elsewhere by another scheme is not followed.
    evil = b'<form id="download-form" action="file:///etc/passwd"><input type="hidden" name="confirm" value="t"></form>'
    assert confirm_url(evil, "https://drive.google.com/uc?id=ID1") is None
