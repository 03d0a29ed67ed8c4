"""core.follow.Follower in this process (no model): which files it hands out, once, and what survives a restart."""

from __future__ import annotations

import io
import os
import time

import numpy as np

from tui_tagger.core.follow import Follower, filesystem_type, is_network_fs


def tiff(seed: int = 0) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(seed).poisson(20, (16, 16)).astype(np.uint16))
    return buf.getvalue()


def collect(follower: Follower, seconds: float = 2.5) -> list[str]:
    """Everything handed out within ``seconds`` (longer than the 1 s settle time), each marked done."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for arrival in follower.next(0.1):
            out.append(arrival.ref)
            follower.done(arrival)
    return out


def test_images_once_not_tag_files_hidden_files_or_text(tmp_path):
    (tmp_path / "a.tif").write_bytes(tiff())
    (tmp_path / "a.tag").write_text("<tag_list/>")
    (tmp_path / ".partial.tif").write_bytes(tiff())
    (tmp_path / "notes.txt").write_text("hello")
    # partial files being written or copied, renamed when whole, and a backup: never frames of their own
    for partial in ("d.tif.part", "d.tif.partial", "d.tif.crdownload", "d.tif~"):
        (tmp_path / partial).write_bytes(tiff(2))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.tif").write_bytes(tiff())
    problems = []
    with Follower([tmp_path], report=problems.append) as follower:
        assert collect(follower) == [str(tmp_path / "a.tif")]
        (tmp_path / "c.tif").write_bytes(tiff(1))
        assert collect(follower) == [str(tmp_path / "c.tif")]
    assert problems == []


def test_a_restart_hands_out_only_what_is_new_or_changed(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("a.tif", "b.tif"):
        (folder / name).write_bytes(tiff())
    with Follower([folder]) as follower:
        assert sorted(collect(follower)) == [str(folder / "a.tif"), str(folder / "b.tif")]
    (folder / "b.tif").write_bytes(tiff(2))
    later = time.time_ns() + 3_000_000_000
    os.utime(folder / "b.tif", ns=(later, later))  # b written again: a new frame
    (folder / "c.tif").write_bytes(tiff(3))
    with Follower([folder]) as follower:
        assert sorted(collect(follower)) == [str(folder / "b.tif"), str(folder / "c.tif")]
    with Follower([folder], backlog="all") as follower:
        assert len(collect(follower)) == 3
    with Follower([folder], state=False, backlog="none") as follower:
        assert collect(follower, 1.5) == []


def test_eiger_data_files_are_followed_through_their_master(tmp_path):
    (tmp_path / "s_master.h5").write_bytes(b"")
    follower = Follower([tmp_path], state=False)
    assert follower._wanted(str(tmp_path / "s_data_000001.h5")) == str(tmp_path / "s_master.h5")
    assert follower._wanted(str(tmp_path / "t_data_000001.h5")) == str(tmp_path / "t_data_000001.h5")


def test_network_file_systems_are_polled():
    assert is_network_fs("nfs4") and is_network_fs("lustre") and is_network_fs("gpfs") and is_network_fs("fuse.sshfs")
    assert not is_network_fs("ext4") and not is_network_fs(None)
    assert filesystem_type("/") is not None


def test_an_eiger_master_waits_for_its_data_files_then_gives_their_frames(tmp_path):
    import h5py

    with h5py.File(tmp_path / "s_master.h5", "w") as f:  # the detector writes the master first
        f["entry/data/data_000001"] = h5py.ExternalLink("s_data_000001.h5", "/entry/data/data")
    problems = []
    with Follower([tmp_path], report=problems.append) as follower:
        assert collect(follower) == []
        assert len(problems) == 1 and "not all there yet" in problems[0] and "s_master.h5" in problems[0]
        with h5py.File(tmp_path / "s_data_000001.h5", "w") as d:  # then the data file, when it is full
            d.create_dataset("entry/data/data", data=np.random.default_rng(0).poisson(9, (3, 16, 16)).astype(np.uint16))
        refs = collect(follower)
    master = str(tmp_path / "s_master.h5")
    assert [r.split("#")[0] for r in refs] == [f"{master}::/entry/data"] * 3 and refs[-1].endswith("#2")
    assert len(problems) == 1


def test_frames_whose_events_were_lost_are_found_by_the_safety_walk(tmp_path, monkeypatch):
    """A flood of new files overflows the kernel's event queue and events are lost: the folders are walked
    again now and then, and what no watch recorded is handed out, once; what was handed out is not again."""
    import tui_tagger.core.follow as follow

    monkeypatch.setattr(follow, "RESCAN_S", 0.5)
    (tmp_path / "before.tif").write_bytes(tiff())
    with Follower([tmp_path]) as follower:
        if "events" not in follower.mode:
            import pytest

            pytest.skip(f"no file system events here ({follower.mode})")
        assert collect(follower) == [str(tmp_path / "before.tif")]
        follower._observer.stop()  # from now on every event is lost
        follower._observer.join(timeout=5)
        for i in range(3):
            (tmp_path / f"lost_{i}.tif").write_bytes(tiff(i))
        got = collect(follower, 4.0)
        assert sorted(got) == [str(tmp_path / f"lost_{i}.tif") for i in range(3)]
        assert collect(follower, 2.0) == []  # walked again: nothing twice


def test_a_deleted_or_replaced_file_is_forgotten_so_a_new_one_at_its_path_is_taken(tmp_path):
    """A detector's frames all have one size, and a coarse clock gives them one mtime: a frame deleted and written
    again at the same path (same size, same mtime) is a new frame, as is a container replaced by a rename."""
    import h5py

    def stack(path, frames):
        with h5py.File(path, "w") as f:
            f["entry/data/data"] = np.random.default_rng(frames).poisson(9, (frames, 16, 16)).astype(np.uint16)

    frame = tmp_path / "a.tif"
    frame.write_bytes(tiff())
    stamp = frame.stat().st_mtime_ns
    problems = []
    with Follower([tmp_path], report=problems.append, gone=True) as follower:
        if "events" not in follower.mode:
            import pytest

            pytest.skip(f"no file system events here ({follower.mode})")
        assert collect(follower) == [str(frame)]
        assert follower.gone() == []
        frame.unlink()
        assert collect(follower, 1.0) == []
        assert follower.gone() == [str(frame)] and follower.gone() == []  # said once, for a viewer to drop it
        frame.write_bytes(tiff())
        os.utime(frame, ns=(stamp, stamp))  # the same identity as the deleted one
        assert collect(follower) == [str(frame)]

        stack(tmp_path / "s.h5", 2)
        assert collect(follower) == [f"{tmp_path / 's.h5'}::/entry/data/data#{i}" for i in range(2)]
        stack(tmp_path / ".s.h5.part", 3)
        os.rename(tmp_path / ".s.h5.part", tmp_path / "s.h5")  # a new run's file put in its place
        assert collect(follower) == [f"{tmp_path / 's.h5'}::/entry/data/data#{i}" for i in range(3)]
    frame.unlink()
    frame.write_bytes(tiff())
    os.utime(frame, ns=(stamp, stamp))
    with Follower([tmp_path]) as follower:  # a restart goes by (path, size, mtime) alone: this one was predicted
        assert collect(follower, 1.5) == []
    assert problems == []


def test_frames_already_predicted_hold_no_memory_on_a_restart_or_a_safety_walk(tmp_path, monkeypatch):
    """Memory stays flat however many frames the folders hold: what was predicted is looked up in the store, not
    kept, when a restart's backlog or a safety walk meets it again."""
    import tui_tagger.core.follow as follow

    for i in range(20):
        (tmp_path / f"f{i:02d}.tif").write_bytes(tiff(i))
    with Follower([tmp_path]) as follower:
        assert len(collect(follower)) == 20
        assert follower._files == {}
    monkeypatch.setattr(follow, "RESCAN_S", 0.3)
    with Follower([tmp_path]) as follower:
        assert collect(follower, 2.0) == []  # the backlog and a few safety walks (with events) met all 20
        assert follower._files == {}
