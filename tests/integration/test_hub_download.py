"""The real download code against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gfm.errors import CheckpointError, InputError, OutputError, WeightsNotFoundError
from gfm.hub import (
    RAW_255,
    WeightsEntry,
    download_weights,
    import_weights,
    register_weights,
    unregister_weights,
    weights_path,
)

NAME = "gfm-r34-tt"
FILE = "gfm_r34_tt.pth"
PAYLOAD = os.urandom(300_000)  # "a checkpoint": random bytes, a few chunks long
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(home: Path) -> list[str]:
    """Files in the cache other than the record and its lock."""
    folder = home / "weights"
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name not in ("known_hashes.json", ".known_hashes.lock"))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture()
def temp_entry() -> Iterator[list[str]]:
    """Register throw-away entries; unregister them afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        unregister_weights(name)


def _register(names: list[str], name: str, sha256: str | None, size: int | None = None) -> WeightsEntry:
    entry = WeightsEntry(
        name=name,
        backbone="r34",
        rosta="TT",
        normalization=RAW_255,
        licence="MIT",
        source="test",
        urls=("https://example.invalid/never-used",),
        file_name=f"{name.replace('-', '_')}.pth",
        size_bytes=size,
        sha256=sha256,
        training_set="none",
    )
    register_weights(entry)
    names.append(name)
    return entry


# ------------------------------------------------------------------ success


def test_download_records_hash_then_verifies(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD)
    path = download_weights(NAME, base_url=server.url(), progress=False)
    assert path == gfm_home / "weights" / FILE
    assert path.read_bytes() == PAYLOAD
    record = json.loads((gfm_home / "weights" / "known_hashes.json").read_text())["weights"][NAME]
    assert record["sha256"] == PAYLOAD_SHA and record["size"] == len(PAYLOAD)
    assert record["source"] == server.url(f"/{FILE}")
    assert _leftovers(gfm_home) == [FILE]

    # Cached: verified, not fetched again.
    assert download_weights(NAME, base_url=server.url(), progress=False) == path
    assert weights_path(NAME) == path
    assert len(server.hits(f"/{FILE}")) == 1

    # A changed file (same size) is caught against the recorded hash.
    tampered = bytearray(PAYLOAD)
    tampered[1000] ^= 0xFF
    path.write_bytes(bytes(tampered))
    with pytest.raises(CheckpointError) as caught:
        weights_path(NAME)
    message = str(caught.value)
    assert PAYLOAD_SHA in message and hashlib.sha256(tampered).hexdigest() in message
    assert f"gfm weights download {NAME} --force" in message


def test_env_base_url_is_used(server: Any, gfm_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[f"/mirror/{FILE}"] = server.Route(PAYLOAD)
    monkeypatch.setenv("GFM_WEIGHTS_BASE_URL", server.url("/mirror/"))
    assert download_weights(NAME, progress=True).read_bytes() == PAYLOAD


def test_redownload_is_checked_against_the_recorded_hash(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD)
    path = download_weights(NAME, base_url=server.url(), progress=False)
    other = os.urandom(1000)
    server.routes[f"/{FILE}"] = server.Route(other)
    with pytest.raises(CheckpointError) as caught:
        download_weights(NAME, base_url=server.url(), progress=False, force=True)
    assert PAYLOAD_SHA in str(caught.value) and hashlib.sha256(other).hexdigest() in str(caught.value)
    assert path.read_bytes() == PAYLOAD  # the good file is still there
    assert _leftovers(gfm_home) == [FILE]


def test_declared_checksum_and_size_are_enforced(server: Any, gfm_home: Path, temp_entry: list[str]) -> None:
    good = _register(temp_entry, "test-good", PAYLOAD_SHA, size=len(PAYLOAD))
    bad = _register(temp_entry, "test-bad", "ab" * 32)
    server.routes[f"/{good.file_name}"] = server.Route(PAYLOAD)
    server.routes[f"/{bad.file_name}"] = server.Route(PAYLOAD)
    assert download_weights(good.name, base_url=server.url(), progress=False).read_bytes() == PAYLOAD
    with pytest.raises(CheckpointError) as caught:
        download_weights(bad.name, base_url=server.url(), progress=False)
    message = str(caught.value)
    assert "ab" * 32 in message and PAYLOAD_SHA in message and "the downloaded copy was removed and nothing was installed" in message
    assert _leftovers(gfm_home) == [good.file_name]
    wrong_size = _register(temp_entry, "test-size", None, size=len(PAYLOAD) + 1)
    server.routes[f"/{wrong_size.file_name}"] = server.Route(PAYLOAD)
    with pytest.raises(CheckpointError, match="expected 300001 bytes, got 300000"):
        download_weights(wrong_size.name, base_url=server.url(), progress=False)
    assert _leftovers(gfm_home) == [good.file_name]


# ------------------------------------------------------- dropped connections


def test_dropped_connection_resumes_with_range(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, drop_after=100_000, drops=2)
    path = download_weights(NAME, base_url=server.url(), progress=False, retries=3)
    assert path.read_bytes() == PAYLOAD
    hits = server.hits(f"/{FILE}")
    assert [h.headers.get("Range") for h in hits] == [None, "bytes=100000-", "bytes=200000-"]


def test_dropped_connection_restarts_without_range(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, ranges=False, drop_after=50_000, drops=1)
    path = download_weights(NAME, base_url=server.url(), progress=False, retries=2)
    assert path.read_bytes() == PAYLOAD
    assert [h.headers.get("Range") for h in server.hits(f"/{FILE}")] == [None, None]
    assert json.loads((gfm_home / "weights" / "known_hashes.json").read_text())["weights"][NAME]["sha256"] == PAYLOAD_SHA


def test_partial_content_from_the_wrong_offset_is_not_spliced(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, drop_after=100_000, drops=1, wrong_ranges=True)
    assert download_weights(NAME, base_url=server.url(), progress=False).read_bytes() == PAYLOAD
    assert [h.headers.get("Range") for h in server.hits(f"/{FILE}")] == [None, "bytes=100000-", None]


def test_stalled_transfer_times_out_and_resumes(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, drop_after=70_000, drops=1, stall_s=1.0)
    path = download_weights(NAME, base_url=server.url(), progress=False, timeout=0.2)
    assert path.read_bytes() == PAYLOAD
    assert [h.headers.get("Range") for h in server.hits(f"/{FILE}")] == [None, "bytes=70000-"]


def test_connection_that_always_drops_is_a_clear_error(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, ranges=False, drop_after=10_000, drops=-1)
    with pytest.raises(WeightsNotFoundError) as caught:
        download_weights(NAME, base_url=server.url(), progress=False, retries=2)
    message = str(caught.value)
    assert "interrupted" in message and "10000 of 300000" in message and "2 retries" in message
    assert len(server.hits(f"/{FILE}")) == 3  # bounded: 1 + 2 retries
    assert _leftovers(gfm_home) == []  # no partial file, under any name


def test_server_error_is_retried_not_found_is_not(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD, fail_status=503, fails=1)
    assert download_weights(NAME, base_url=server.url(), progress=False).read_bytes() == PAYLOAD
    assert len(server.hits(f"/{FILE}")) == 2
    with pytest.raises(WeightsNotFoundError, match="HTTP 404"):
        download_weights("gfm-r34-ft", base_url=server.url(), progress=False)
    assert len(server.hits("/gfm_r34_ft.pth")) == 1


# -------------------------------------------------- Google Drive interstitials

_DRIVE_FORM = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>
<body><div class="uc-main"><p class="uc-warning-subcaption">Google Drive can't scan this file for viruses.
<span class="uc-name-size"><a href="/open?id=XYZ">gfm_r34_tt.zip</a> (210M)</span> is too large for Google to
scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" id="uc-download-link" class="goog-inline-block jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="XYZ"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="1234-abcd">
</form></div></body></html>"""


def test_drive_form_interstitial(server: Any, gfm_home: Path) -> None:
    page = _DRIVE_FORM.format(action=server.url("/download")).encode()
    server.routes["/uc"] = server.Route(page, content_type="text/html; charset=utf-8")
    server.routes["/download"] = server.Route(PAYLOAD)
    path = download_weights(NAME, url=server.url("/uc?export=download&id=XYZ"), progress=False)
    assert path.read_bytes() == PAYLOAD
    (final,) = server.hits("/download")
    assert final.query == {"id": "XYZ", "export": "download", "confirm": "t", "uuid": "1234-abcd"}


def test_drive_link_interstitial_with_zip(server: Any, gfm_home: Path) -> None:
    page = (
        b'<html><head><title>Google Drive - Virus scan warning</title></head><body>'
        b'<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbC1&amp;id=XYZ">Download anyway</a>'
        b"</body></html>"
    )
    archive = _zip({"gfm_r34_tt/gfm_r34_tt.pth": PAYLOAD, "__MACOSX/gfm_r34_tt/._gfm_r34_tt.pth": b"junk", "README.txt": b"hi"})

    def dispatch(query: dict[str, str], cookie: str) -> Any:
        return server.Route(archive, content_type="application/zip") if query.get("confirm") == "AbC1" else None

    server.routes["/uc"] = server.Route(page, content_type="text/html", dispatch=dispatch)
    path = download_weights(NAME, url=server.url("/uc?export=download&id=XYZ"), progress=False)
    assert path.read_bytes() == PAYLOAD  # the member, not the archive
    record = json.loads((gfm_home / "weights" / "known_hashes.json").read_text())["weights"][NAME]
    assert record["sha256"] == PAYLOAD_SHA
    assert _leftovers(gfm_home) == [FILE]


def test_drive_cookie_interstitial(server: Any, gfm_home: Path) -> None:
    page = b"<html><head><title>Google Drive - Virus scan warning</title></head><body>too large</body></html>"

    def dispatch(query: dict[str, str], cookie: str) -> Any:
        if query.get("confirm") == "Tok3n" and "download_warning_13058_XYZ=Tok3n" in cookie:
            return server.Route(PAYLOAD)
        return None

    server.routes["/uc"] = server.Route(
        page,
        content_type="text/html",
        headers={"Set-Cookie": "download_warning_13058_XYZ=Tok3n; Path=/"},
        dispatch=dispatch,
    )
    path = download_weights(NAME, url=server.url("/uc?export=download&id=XYZ"), progress=False)
    assert path.read_bytes() == PAYLOAD


def test_drive_quota_page_is_a_clear_error(server: Any, gfm_home: Path) -> None:
    page = b"<html><head><title>Google Drive - Quota exceeded</title></head><body>Too many users</body></html>"
    server.routes["/uc"] = server.Route(page, content_type="text/html")
    with pytest.raises(WeightsNotFoundError) as caught:
        download_weights(NAME, url=server.url("/uc?id=XYZ"), progress=False)
    message = str(caught.value)
    assert "Quota exceeded" in message and f"gfm weights import FILE --name {NAME}" in message
    assert _leftovers(gfm_home) == []


def test_interstitial_loop_is_bounded(server: Any, gfm_home: Path) -> None:
    page = b'<html><title>again</title><a href="/uc?confirm=x&amp;id=XYZ">again</a></html>'
    server.routes["/uc"] = server.Route(page, content_type="text/html")
    with pytest.raises(WeightsNotFoundError, match="web page"):
        download_weights(NAME, url=server.url("/uc?id=XYZ"), progress=False)
    assert len(server.hits("/uc")) == 4


# ------------------------------------------------------------------- archives


def test_zip_with_two_models_is_refused(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(_zip({"a.pth": b"1", "b.pth": b"2"}))
    with pytest.raises(CheckpointError, match="2 model files"):
        download_weights(NAME, base_url=server.url(), progress=False)
    assert _leftovers(gfm_home) == []


def test_zip_with_the_exact_name_wins_over_others(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(_zip({"old/gfm_r34_ft.pth": b"other", f"new/{FILE}": PAYLOAD}))
    assert download_weights(NAME, base_url=server.url(), progress=False).read_bytes() == PAYLOAD


def test_torch_zip_checkpoint_is_kept_whole(server: Any, gfm_home: Path) -> None:
    # torch.save writes a zip (archive/data.pkl, archive/data/0, ...): it is the model.
    checkpoint = _zip({"gfm_r34_tt/data.pkl": b"\x80\x02}q\x00.", "gfm_r34_tt/data/0": PAYLOAD[:1000], "gfm_r34_tt/version": b"3\n"})
    server.routes[f"/{FILE}"] = server.Route(checkpoint)
    assert download_weights(NAME, base_url=server.url(), progress=False).read_bytes() == checkpoint


# --------------------------------------------------------------- offline, hook


def test_offline_message_names_file_url_and_import_command(gfm_home: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WeightsNotFoundError) as caught:
        download_weights(NAME, base_url=f"http://127.0.0.1:{port}", progress=False, retries=1)
    message = str(caught.value)
    assert FILE in message
    assert str(gfm_home / "weights" / FILE) in message
    assert "https://drive.google.com/uc?export=download&id=1AdtoIdYTLsjXfVe_a50tin0cFwZMSz93" in message
    assert f"gfm weights import FILE --name {NAME}" in message
    assert _leftovers(gfm_home) == []


def test_validation_hook(server: Any, gfm_home: Path) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD)
    seen: list[bytes] = []

    def reject(path: Path) -> None:
        seen.append(path.read_bytes())
        raise ValueError("missing key glance_decoder.conv.weight")

    with pytest.raises(CheckpointError, match="missing key glance_decoder"):
        download_weights(NAME, base_url=server.url(), progress=False, validate_checkpoint=reject)
    assert seen == [PAYLOAD] and _leftovers(gfm_home) == []
    path = download_weights(NAME, base_url=server.url(), progress=False, validate_checkpoint=lambda p: seen.append(p.read_bytes()))
    assert path.read_bytes() == PAYLOAD and seen[-1] == PAYLOAD


# ------------------------------------------------------------------- imports


def test_import_records_then_enforces(tmp_path: Path, gfm_home: Path) -> None:
    source = tmp_path / "downloaded.pth"
    source.write_bytes(PAYLOAD)
    path = import_weights(source, NAME)
    assert path.read_bytes() == PAYLOAD and source.read_bytes() == PAYLOAD  # a copy
    record = json.loads((gfm_home / "weights" / "known_hashes.json").read_text())["weights"][NAME]
    assert record["sha256"] == PAYLOAD_SHA and record["source"] == f"import:{source.resolve()}"

    other = tmp_path / "other.pth"
    other.write_bytes(b"not the same weights")
    with pytest.raises(CheckpointError, match="--force"):
        import_weights(other, NAME)
    assert path.read_bytes() == PAYLOAD
    import_weights(other, NAME, force=True)  # the user vouches for the new file
    assert path.read_bytes() == b"not the same weights"
    assert weights_path(NAME) == path


def test_import_messages_speak_of_the_users_file(tmp_path: Path, gfm_home: Path) -> None:
    """A refused import removes only the cache's copy; a tampered imported file is imported again."""
    source = tmp_path / "mine.pth"
    source.write_bytes(PAYLOAD)
    path = import_weights(source, NAME)
    other = tmp_path / "other.pth"
    other.write_bytes(b"different")
    with pytest.raises(CheckpointError) as caught:
        import_weights(other, NAME)
    assert f"the cache's copy was removed and nothing was installed ({other.resolve()} itself is untouched)" in str(caught.value)
    assert other.read_bytes() == b"different"
    path.write_bytes(b"tampered" + PAYLOAD[8:])
    with pytest.raises(CheckpointError) as caught:
        weights_path(NAME)
    message = str(caught.value)
    assert f"import your copy again with `gfm weights import {source.resolve()} --name {NAME} --force`" in message
    assert message.index("gfm weights import") < message.index("gfm weights download")  # the offline fix first


def test_import_zip_and_declared_hash(tmp_path: Path, gfm_home: Path, temp_entry: list[str]) -> None:
    entry = _register(temp_entry, "test-declared", "cd" * 32)
    archive = tmp_path / "weights.zip"
    archive.write_bytes(_zip({entry.file_name: PAYLOAD}))
    with pytest.raises(CheckpointError, match="cd" * 32):
        import_weights(archive, entry.name, force=True)  # declared hashes are never overridden
    assert _leftovers(gfm_home) == []
    assert import_weights(archive, NAME).read_bytes() == PAYLOAD
    with pytest.raises(InputError, match="no such file"):
        import_weights(tmp_path / "missing.pth", NAME)


def test_unwritable_cache_is_an_output_error(server: Any, gfm_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[f"/{FILE}"] = server.Route(PAYLOAD)
    gfm_home.parent.joinpath("blocker").write_bytes(b"")
    monkeypatch.setenv("GFM_HOME", str(gfm_home.parent / "blocker"))  # a file, not a folder
    with pytest.raises(OutputError, match="GFM_HOME"):
        download_weights(NAME, base_url=server.url(), progress=False)


def test_concurrent_imports_under_one_name_cannot_both_win(tmp_path: Path, gfm_home: Path) -> None:
    """The second import waits for the first and is then refused by its recorded hash."""
    import threading

    first, second = tmp_path / "first.pth", tmp_path / "second.pth"
    first.write_bytes(PAYLOAD)
    second.write_bytes(b"other weights")
    inside, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def hold(_tmp: Path) -> None:  # the first import's validation: paused mid-installation
        inside.set()
        assert release.wait(10)

    def run(label: str, source: Path, validate: Any) -> None:
        try:
            outcome[label] = import_weights(source, NAME, validate_checkpoint=validate)
        except CheckpointError as error:
            outcome[label] = error

    one = threading.Thread(target=run, args=("first", first, hold))
    one.start()
    assert inside.wait(10)
    two = threading.Thread(target=run, args=("second", second, None))
    two.start()
    two.join(0.5)
    assert two.is_alive()  # waiting for the first installation, not racing it
    release.set()
    one.join(10)
    two.join(10)
    assert isinstance(outcome["first"], Path) and outcome["first"].read_bytes() == PAYLOAD
    assert isinstance(outcome["second"], CheckpointError) and "--force" in str(outcome["second"])


def test_temporaries_left_by_killed_imports_are_removed(tmp_path: Path, gfm_home: Path) -> None:
    folder = gfm_home / "weights"
    folder.mkdir(parents=True)
    stale = [folder / f".{FILE}.a1b2c3d4.tmp.pth", folder / f".{FILE}.x9y8z7w6.part"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
        os.utime(path, (1e9, 1e9))
    source = tmp_path / "w.pth"
    source.write_bytes(PAYLOAD)
    import_weights(source, NAME)
    assert _leftovers(gfm_home) == [FILE]
