"""disk_cache.kept: a kept value is used, anything else at its path is computed again and replaced."""

from twin.model import disk_cache


def test_a_torn_or_foreign_entry_is_computed_again_and_the_next_call_uses_what_was_kept(tmp_path):
    path = disk_cache.entry_path(tmp_path, "v1", "key")
    calls = []

    def compute() -> bytes:
        calls.append(1)
        return b"picture"

    path.write_bytes(b"\x80\x05 torn")  # a pickle cut short, as a killed run leaves it
    assert disk_cache.kept(path, bytes, compute) == b"picture"
    assert disk_cache.kept(path, bytes, compute) == b"picture"
    assert len(calls) == 1
    # a value of another kind at the path (another version's layout) is not handed out
    assert disk_cache.kept(path, dict, lambda: {"fresh": True}) == {"fresh": True}
    assert disk_cache.load(path) == {"fresh": True}
