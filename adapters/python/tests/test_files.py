"""Input files written into the work dir, and the files a run leaves there collected."""

import base64
import os

import pytest

from sandbox_harness.budget import Budget
from sandbox_harness.failures import Failure
from sandbox_harness.input_files import write_input_files
from sandbox_harness.output_files import OutputFiles
from sandbox_harness.protocol import MAX_PATH_BYTES


def budget(max_files=10, max_bytes=1 << 20):
    return Budget({"maxFiles": max_files, "maxBytes": max_bytes, "maxFigures": 0})


def collect(inputs=None, **limits):
    return OutputFiles(inputs or {}, budget(**limits)).collect()


def test_inputs_are_written_as_text_or_base64_into_new_directories(work_dir):
    written = write_input_files(
        [
            {"path": "data/in.csv", "content": "a,b\n1,é\n"},
            {"path": "blob.bin", "content": base64.b64encode(b"\x00\xff").decode(), "encoding": "base64"},
        ]
    )
    assert (work_dir / "data" / "in.csv").read_text() == "a,b\n1,é\n"
    assert (work_dir / "blob.bin").read_bytes() == b"\x00\xff"
    assert sorted(written) == ["blob.bin", "data/in.csv"]
    assert written["blob.bin"][0] == 2


@pytest.mark.parametrize("path", ["../escape", "/etc/passwd", "a//b", "a/./b", "a/", ""])
def test_a_path_that_is_not_safe_and_relative_is_refused(work_dir, path):
    with pytest.raises(Failure) as raised:
        write_input_files([{"path": path, "content": "x"}])
    assert raised.value.code == "INVALID_REQUEST"
    assert "is not a safe relative path" in raised.value.message
    assert list(work_dir.iterdir()) == []


def test_content_that_is_not_base64_or_not_unicode(work_dir):
    for spec, says in [
        ({"path": "a", "content": "not base64!", "encoding": "base64"}, "files[0].content is not valid base64"),
        ({"path": "a", "content": "\ud800"}, "files[0].content is not well-formed Unicode; send binary content as base64"),
    ]:
        with pytest.raises(Failure) as raised:
            write_input_files([spec])
        assert (raised.value.code, raised.value.message) == ("INVALID_REQUEST", says)


def test_a_symlink_in_the_work_dir_is_never_followed_when_writing(work_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (work_dir / "link").symlink_to(outside)
    with pytest.raises(Failure) as raised:
        write_input_files([{"path": "link/x", "content": "x"}])
    assert raised.value.message.startswith('files[0].path "link/x" cannot be written')
    assert list(outside.iterdir()) == []


def test_outputs_are_new_or_changed_files_in_path_order_unchanged_inputs_are_not(work_dir):
    inputs = write_input_files([{"path": "same.txt", "content": "s"}, {"path": "changed.txt", "content": "c"}])
    (work_dir / "changed.txt").write_text("C")
    (work_dir / "sub").mkdir()
    (work_dir / "sub" / "new.txt").write_text("new")
    (work_dir / "b.txt").write_text("b")
    entries, contents, truncated = collect(inputs)
    assert entries == [
        {"path": "b.txt", "size": 1, "contentBytes": 1},
        {"path": "changed.txt", "size": 1, "contentBytes": 1},
        {"path": "sub/new.txt", "size": 3, "contentBytes": 3},
    ]
    assert contents == [b"b", b"C", b"new"]
    assert truncated is False


def test_links_fifos_and_sockets_are_never_listed_or_opened(work_dir, tmp_path_factory):
    secret = tmp_path_factory.mktemp("host") / "secret"
    secret.write_text("host file")
    (work_dir / "link").symlink_to(secret)
    os.mkfifo(work_dir / "fifo")
    (work_dir / "real").write_text("r")
    entries, contents, _ = collect()
    assert [entry["path"] for entry in entries] == ["real"]
    assert contents == [b"r"]


def test_past_the_file_count_the_list_is_the_first_paths_and_truncated(work_dir):
    for name in "edcba":
        (work_dir / name).write_text(name)
    entries, _, truncated = collect(max_files=2)
    assert [entry["path"] for entry in entries] == ["a", "b"]
    assert truncated is True


def test_past_the_byte_budget_files_keep_their_size_but_not_their_content(work_dir):
    (work_dir / "a").write_text("1234")
    (work_dir / "b").write_text("12345678")
    (work_dir / "c").write_text("1")
    entries, contents, truncated = collect(max_bytes=6)
    assert entries == [{"path": "a", "size": 4, "contentBytes": 4}, {"path": "b", "size": 8}, {"path": "c", "size": 1}]
    assert contents == [b"1234"]
    assert truncated is True


def test_a_path_over_the_shared_length_limit_is_left_out_and_the_list_truncated(work_dir):
    # Made one level at a time, relative to the last: the whole path is too long for one call.
    fd, depth = os.open(".", os.O_RDONLY), 0
    while depth * 201 <= MAX_PATH_BYTES:
        os.mkdir("d" * 200, dir_fd=fd)
        fd, parent = os.open("d" * 200, os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
        depth += 1
    os.close(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    (work_dir / "short.txt").write_text("y")
    entries, _, truncated = collect()
    assert [entry["path"] for entry in entries] == ["short.txt"]
    assert truncated is True


def test_a_name_that_is_not_utf8_is_shown_with_replacement_characters(work_dir):
    with open(os.path.join(os.fsencode(work_dir), b"caf\xe9.txt"), "w") as file:
        file.write("x")
    entries, _, _ = collect()
    assert entries[0]["path"] == "caf\ufffd.txt"
